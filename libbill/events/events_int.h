/*
 * events_int.h — enqueueing an event inside the caller's transaction, so
 * "order paid" and its event commit (or roll back) together.
 */
#ifndef BILL_EVENTS_INT_H
#define BILL_EVENTS_INT_H

#include "store/store.h"
#include "bill/events.h"

int bill__event_enqueue_conn(bill_conn *c, const char *kind, const char *payload_json,
                             int64_t run_after_usec, int max_attempts, int64_t *id_out);

#endif
