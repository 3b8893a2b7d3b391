/*
 * bill.h — umbrella header for libbill. Include this one.
 *
 * libbill is thread-safe per handle: a bill_db may be shared by any number
 * of threads. The library never prints to stdout and never exits the
 * process; failures come back as negative codes with a detail record
 * (see error.h).
 */
#ifndef BILL_BILL_H
#define BILL_BILL_H

#include "common.h"
#include "error.h"
#include "actor.h"
#include "db.h"
#include "config.h"
#include "page.h"
#include "money.h"
#include "uuid.h"
#include "time.h"
#include "log.h"
#include "auth.h"
#include "ratelimit.h"
#include "customer_user.h"
#include "apikey.h"
#include "password.h"
#include "admin_user.h"
#include "customer.h"
#include "balance.h"
#include "product.h"
#include "oplog.h"
#include "payment.h"
#include "gateway.h"
#include "order.h"
#include "invoice.h"
#include "ticket.h"
#include "instance.h"
#include "provision.h"
#include "notify.h"
#include "html.h"
#include "billing.h"
#include "catcache.h"
#include "dashboard.h"
#include "cluster.h"
#include "redis.h"
#include "backup.h"

#endif
