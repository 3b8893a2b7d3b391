/*
 * tables.h — bill-server's services, routes and layers (tables.c), the
 * three tables main hands the server.
 */
#ifndef BILL_SRV_TABLES_H
#define BILL_SRV_TABLES_H

#include "transport/server.h"

/* NULL-terminated. */
extern const bill_srv_service *const bill_srv_service_table[];
/* Ends with an all-NULL row. */
extern const bill_srv_route bill_srv_route_table[];
/* NULL-terminated, in chain order. */
extern const bill_srv_layer *const bill_srv_layer_table[];

#endif
