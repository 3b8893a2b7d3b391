/*
 * invoice.h — invoices: draft -> issued -> paid | overdue |
 * cancelled (overdue -> paid | cancelled as well; draft -> cancelled).
 *
 * Numbers: a draft carries a placeholder ("DRAFT-<id>"); issuing assigns the
 * next number of the issue year, "INV-2026-000001", from the
 * invoice_number_counters row of that year, locked by the issuing
 * transaction — numbers are gapless and strictly sequential per year even
 * under concurrent issuing (a rolled-back issue gives its number back).
 *
 * Amounts: each item's amount = quantity × unit_price; invoice amount = sum
 * of items; total = amount + tax_amount. All in exact cents.
 *
 * Batch generation (bill_invoice_generate) writes one ISSUED invoice per
 * billable instance (status running or stopped) and period, priced from the
 * instance's product for its billing cycle; one live invoice per
 * (instance_id, billing_period_start), renewals included (migration 017),
 * makes reruns create nothing new and keeps generate and the billing pass
 * from billing one period twice.
 *
 * Scoping: CUSTOMER actors read their own invoices only (BILL_ENOTFOUND
 * otherwise); every change is staff only.
 */
#ifndef BILL_INVOICE_H
#define BILL_INVOICE_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_invoice_item {
    char *id;
    char *description;
    uint32_t quantity;
    bill_money unit_price;
    bill_money amount;            /* signed: credit lines of a change are negative */
    /* billing engine lines (billing.h); manual items: kind "manual", rest empty */
    char *kind;                   /* manual | renewal | charge | credit */
    char *period_start;           /* the segment it covers, "" when none */
    char *period_end;             /* exclusive */
    int proration_days;           /* r of r/L; 0 when not prorated */
    int period_days;              /* L; 0 when not prorated */
    bill_money basis;             /* what r/L applies to */
    char *why;                    /* "16/31 days of 10.00" */
} bill_invoice_item;

typedef struct bill_invoice {
    char *id;
    char *invoice_number;
    char *customer_id;
    char *instance_id;            /* "" for manual invoices */
    char *kind;                   /* manual | order | renewal | upgrade | cycle_change */
    char *billing_period_start;   /* "YYYY-MM-DD" or "" */
    char *billing_period_end;     /* "YYYY-MM-DD" (exclusive: periods are [start, end)) or "" */
    bill_money amount;
    bill_money tax_amount;
    bill_money total_amount;
    bill_money paid_amount;
    char *status;
    int64_t issued_at;            /* usec; 0 = not issued */
    int64_t paid_at;              /* usec; 0 = not paid */
    char *due_date;               /* "YYYY-MM-DD" or "" */
    char *notes;
    int64_t created_at;
    int64_t updated_at;
    bill_invoice_item *items;     /* filled by get; lists leave it empty */
    size_t item_count;
} bill_invoice;

typedef struct bill_invoices {
    BILL_LIST_OF(bill_invoice);
} bill_invoices;

BILL_API void bill_invoice_free(bill_invoice *inv);
BILL_API void bill_invoices_clear(bill_invoices *l);

/* "draft" issued paid overdue cancelled; BILL_EINVALID naming "status". */
BILL_API int bill_invoice_status_check(const char *status);

typedef struct bill_invoice_item_input {
    const char *description;  /* required, at most 500 characters */
    uint32_t quantity;        /* 1..100000 */
    bill_money unit_price;    /* >= 0 */
} bill_invoice_item_input;

#define BILL_INVOICE_INPUT_VERSION 1u
typedef struct bill_invoice_input {
    unsigned int version; /* BILL_INVOICE_INPUT_VERSION */
    const char *customer_id;               /* required */
    const bill_invoice_item_input *items;  /* at least one */
    size_t item_count;                     /* 1..200 */
    bill_money tax_amount;                 /* >= 0 */
    const char *period_start;              /* NULL/"" or YYYY-MM-DD */
    const char *period_end;                /* NULL/"" or YYYY-MM-DD, >= start */
    const char *due_date;                  /* NULL/"" or YYYY-MM-DD (used on issue) */
    const char *notes;
    /* fields above exist since version 1 */
} bill_invoice_input;

/* Manual draft invoice (staff). Field-named BILL_EINVALID for bad input;
 * unknown customer: BILL_ENOTFOUND. */
BILL_API int bill_invoice_create(bill_db *db, const bill_actor *actor,
                                 const bill_invoice_input *in, bill_invoice **out);

/* draft -> issued: number, issued_at, and due_date (kept when the draft has
 * one, else issue date + BILL_INVOICE_DUE_DAYS). Staff. */
#define BILL_INVOICE_DUE_DAYS 7
BILL_API int bill_invoice_issue(bill_db *db, const bill_actor *actor, const char *id,
                                bill_invoice **out);

/* issued|overdue -> paid. from_balance: the open amount is taken from the
 * customer's balance (ledger type "payment", reference the invoice id;
 * BILL_EFUNDS changes nothing); otherwise it was paid outside (manual).
 * Either way a success payment row (gateway "balance" / "manual") records
 * it, in the same transaction. Staff. */
BILL_API int bill_invoice_mark_paid(bill_db *db, const bill_actor *actor, const char *id,
                                    bool from_balance, bill_invoice **out);

/* draft|issued|overdue -> cancelled. Staff. */
BILL_API int bill_invoice_cancel(bill_db *db, const bill_actor *actor, const char *id);

/* issued -> overdue for every invoice whose due_date is before the UTC date
 * of now_usec (0 = the handle's clock, bill_db_now). Set-based; *count may be NULL. */
BILL_API int bill_invoice_mark_overdue(bill_db *db, int64_t now_usec, int64_t *count);

BILL_API int bill_invoice_get(bill_db *db, const bill_actor *actor, const char *id,
                              bill_invoice **out);

#define BILL_INVOICE_FILTER_VERSION 2u
typedef struct bill_invoice_filter {
    unsigned int version; /* BILL_INVOICE_FILTER_VERSION */
    const char *customer_id;  /* scoping rule in actor.h */
    const char *status;
    /* fields above exist since version 1 */
    const char *kind;         /* NULL/"" any; manual order renewal upgrade cycle_change */
    const char *instance_id;  /* NULL/"" any */
    /* fields above exist since version 2 */
} bill_invoice_filter;
/* Newest first; items are not loaded. */
BILL_API int bill_invoice_list(bill_db *db, const bill_actor *actor,
                               const bill_invoice_filter *filter, const bill_page *page,
                               bill_invoices *out);

/* Issue one invoice per billable instance (of customer_id, or of every
 * customer when NULL) for [period_start, period_end] ("YYYY-MM-DD").
 * Instances already invoiced for that period_start are skipped; *created
 * (may be NULL) receives how many were written. An instance whose renewal
 * (the billing pass) bills any day of the period is not invoiced again: the
 * others are, then BILL_ECONFLICT names it (and how many there were).
 * Staff / SYSTEM. */
BILL_API int bill_invoice_generate(bill_db *db, const bill_actor *actor, const char *customer_id,
                                   const char *period_start, const char *period_end,
                                   int64_t *created);

#ifdef __cplusplus
}
#endif
#endif
