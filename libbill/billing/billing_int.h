/*
 * billing_int.h — private glue of the billing engine (libbill/billing/):
 * the pass context, the text-array builder the set-based statements take
 * their batches in, and the entry points other parts of libbill call inside
 * their own transactions (a paid renewal moves its instance's due date).
 */
#ifndef BILL_BILLING_INT_H
#define BILL_BILLING_INT_H

#include "domain/domain_int.h"
#include "bill/billing.h"

/* Provider actions retry "until they succeed": hourly after the backoff
 * reaches its cap, for years. */
#define BILL__ACTION_MAX_ATTEMPTS 100000

/* The predicate of invoices_instance_period_uq (migration 017): one live
 * invoice per instance and period start, issued by the pass (renewal) or by
 * hand (bill_invoice_generate, manual). ON CONFLICT clauses name it whole. */
#define BILL__INVOICE_PERIOD_KEY                                                          \
    "instance_id IS NOT NULL AND kind IN ('manual', 'renewal') AND status <> 'cancelled'"

/* ---- a growable text buffer (PostgreSQL array literals) ------------------ */

typedef struct bill__sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} bill__sbuf;

void bill__sbuf_free(bill__sbuf *b);
void bill__sbuf_add(bill__sbuf *b, const char *s);
/* Start an array literal "{" (after reset). */
void bill__sbuf_array_begin(bill__sbuf *b);
/* Append one element (unquoted: uuids, numbers, dates). */
void bill__sbuf_array_item(bill__sbuf *b, const char *v);
/* Close it: "}" ; returns the text or NULL on OOM. */
const char *bill__sbuf_array_end(bill__sbuf *b);

/* ---- an index of report entries by their customer id ---------------------- */

/* Open addressing over an array the caller owns: the key of entry i is the
 * string at (const char *)base + i * stride (pass &arr[0].customer_id and
 * sizeof arr[0]; the array may move between calls). */
typedef struct bill__idmap {
    size_t *slot; /* 1 + entry index, 0 = empty */
    size_t cap, n;
} bill__idmap;

/* The entry whose key is `key`, or -1. */
long bill__idmap_find(const bill__idmap *m, const void *base, size_t stride, const char *key);
/* Index entry idx (its key must not be there yet). */
int bill__idmap_put(bill__idmap *m, const void *base, size_t stride, size_t idx);
void bill__idmap_free(bill__idmap *m);

/* Add one customer's shortfall to r's list indexed by m: a customer already
 * there adds its unpaid amount (balance and limit stay those of the first). */
int bill__report_merge_shortfall(bill_billing_report *r, bill__idmap *m,
                                 const bill_billing_shortfall *s);

/* ---- instants as SQL text ------------------------------------------------- */

/* "2026-11-22T09:17:31.123456Z" (microseconds kept). */
int bill__ts_text(int64_t usec, char buf[BILL_TIME_BUFSZ + 8]);

/* ---- the pass ----------------------------------------------------------------- */

typedef struct bill__pass {
    bill_conn *c;
    bill_billing_options o;
    int64_t T;
    char ts[BILL_TIME_BUFSZ + 8];
    bill_date today;
    char today_s[BILL_DATE_BUFSZ];
    char lead_cut[BILL_DATE_BUFSZ];   /* today + invoice_days_before */
    char susp_cut[BILL_DATE_BUFSZ];   /* today - suspend_after_days */
    char term_cut[BILL_DATE_BUFSZ];   /* today - terminate_after_days */
    bool sandbox;                     /* inside the rolled-back copies */
    bill_billing_report *r;           /* the batch's report while a batch runs */
    bill_billing_report *total;       /* the pass's report */
    bill__idmap shortfall_ix;         /* total->shortfalls by customer */
    int part, parts;                  /* renewals of customers whose id hashes to
                                       * part mod parts (parts 1: all) */
} bill__pass;

#define BILL__PASS_MAX_WORKERS 8

/* Prepare p for a pass at T on c (options normalized). */
int bill__pass_init(bill__pass *p, bill_conn *c, const bill_billing_options *o, int64_t T,
                    bool sandbox, bill_billing_report *r);
/* Every step of one pass, in order (billing.md §2-§4). Renewals are
 * issued on p's connection and, once more than one batch is due, on the
 * nextra connections of `extra` too (each a worker thread over its own
 * customers). Frees what bill__pass_init allocated, whatever it returns. */
int bill__pass_run(bill__pass *p, bill_conn **extra, int nextra);

/* The figures of bill_billing_summary_get read on c, inside the caller's
 * transaction (the dashboard's consistent read uses it). */
int bill__billing_summary_read(bill_conn *c, int days, bill_billing_summary *out);

/* Copy the tables a pass writes into temporary tables of the same names
 * (they shadow the real ones for this session) inside an open transaction;
 * everything done afterwards is thrown away with the rollback. */
int bill__sandbox_begin(bill_conn *c, int64_t *statements);

/* Renewal invoices among `ids` (array literal) just became paid at `ts`:
 * next_due_date moves to their period end, the period is recorded as paid,
 * a suspended instance runs again (unsuspend queued, customer told). Caller's
 * transaction. Counts/details go to r when non-NULL. */
int bill__billing_renewals_paid(bill_conn *c, const char *ids, const char *ts,
                                bill_billing_report *r, bool details);

/* Report list helpers. */
int bill__report_add_action(bill_billing_report *r, const char *instance_id,
                            const char *customer_id, const char *action, const char *reason);
int bill__report_add_invoice(bill_billing_report *r, const bill_billing_invoice *inv);

/* The "provider.action" event handler (registered with the provisioning
 * handlers by bill_provision_register, provision.c). */
struct bill_event;
int bill__billing_provider_action(bill_db *db, bill_plugins *plugins,
                                  const struct bill_event *ev);

#endif
