/*
 * billing.h — the recurring billing engine (its rules, with worked
 * examples, in docs/billing.md).
 *
 * A pass at instant T (the handle's clock, bill_db_now):
 *   1. retries open renewals from the balance, oldest due date first, then
 *      instance creation order (all or nothing: paid in full when
 *      balance - total >= -credit_limit, else nothing is deducted);
 *   2. dunning, counted from the due date: late >= terminate_after_days ->
 *      instance terminated and the renewal cancelled (checked first);
 *      late >= suspend_after_days -> suspended; late >= 1 -> overdue;
 *   3. terminates instances cancelled at period end whose next_due_date has
 *      come;
 *   4. issues the renewal of every running/stopped instance whose
 *      next_due_date D has D - date(T) <= invoice_days_before (at most one
 *      open renewal per instance, at most one issued per pass), priced at
 *      the product's price for the instance's cycle now, numbered
 *      INV-<year>-<6 digits> gapless per year, and auto-pays it as in 1.
 * Every state change commits with its invoice number, ledger row, payment,
 * provider action (durable "provider.action" event) and notification.
 * Set-based SQL in batches; idempotent (a unique key per instance and
 * renewal period); any number of passes may run at once: rows are claimed
 * with SKIP LOCKED and customer rows are locked in id order before balance
 * is spent.
 *
 * Dry run and forecast run the same code on private copies of the tables a
 * pass writes (temporary tables inside a transaction that is rolled back):
 * nothing is written, no invoice number is consumed, no row is locked.
 */
#ifndef BILL_BILLING_H
#define BILL_BILLING_H

#include "common.h"
#include "actor.h"
#include "config.h"
#include "db.h"
#include "money.h"
#include "page.h"
#include "plugin_host.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_BILLING_OPTIONS_VERSION 2u

/* Progress of a long forecast: day (1-based) of days done. */
typedef void (*bill_billing_progress_fn)(void *user, int day, int days);

typedef struct bill_billing_options {
    unsigned int version;         /* BILL_BILLING_OPTIONS_VERSION */
    int invoice_days_before;      /* 7  ([billing] invoice_days_before) */
    int suspend_after_days;       /* 3  ([billing] suspend_after_days) */
    int terminate_after_days;     /* 14 ([billing] terminate_after_days) */
    const char *currency;         /* "CNY" ([billing] currency) */
    int batch_size;               /* instances / invoices per transaction: 1000 */
    bool dry_run;                 /* bill_billing_run: report, write nothing */
    bool details;                 /* fill the report's lists (not only counts) */
    bill_billing_progress_fn progress; /* forecast only; may be NULL */
    void *progress_user;
    /* fields above exist since version 1 */
    int workers;                  /* connections issuing renewals at once: 2 (1..8; a
                                   * dry run and the forecast use 1). Extra ones are
                                   * taken only if the pool has them free. */
    /* fields above exist since version 2 */
} bill_billing_options;

BILL_API void bill_billing_options_init(bill_billing_options *o);
/* Defaults, then the [billing] section of cfg (NULL: defaults only). */
BILL_API void bill_billing_options_from_config(bill_billing_options *o, const bill_config *cfg);

/* One renewal a pass issued or tried to pay. */
typedef struct bill_billing_invoice {
    char invoice_id[40];
    char invoice_number[32];
    char customer_id[40];
    char instance_id[40];
    char period_start[12];        /* YYYY-MM-DD, inclusive */
    char period_end[12];          /* YYYY-MM-DD, exclusive */
    char due_date[12];
    bill_money amount;
    bool issued;                  /* issued by this pass (else an open one retried) */
    bool paid;                    /* paid from the balance by this pass */
    bill_money shortfall;         /* > 0: balance + credit limit was this much short */
} bill_billing_invoice;

/* One provider action queued by a pass. */
typedef struct bill_billing_action {
    char instance_id[40];
    char customer_id[40];
    char action[16];              /* suspend | unsuspend | terminate | change_plan */
    char reason[24];              /* overdue | paid | terminate_after | period_end | ... */
} bill_billing_action;

/* A customer whose balance + credit limit could not pay a renewal. */
typedef struct bill_billing_shortfall {
    char customer_id[40];
    bill_money balance;           /* when the pass tried */
    bill_money credit_limit;
    bill_money unpaid;            /* renewals it could not pay */
    bill_money shortfall;         /* what it would take to pay them all */
} bill_billing_shortfall;

typedef struct bill_billing_report {
    int64_t at;                   /* the pass's instant (usec) */
    char date[12];                /* its UTC date */
    bool dry_run;
    int64_t issued;               /* renewals issued */
    bill_money issued_amount;
    int64_t paid;                 /* renewals paid from the balance */
    bill_money paid_amount;       /* = the expected cash of the day in a forecast */
    int64_t payment_failed;       /* renewals the balance could not pay */
    bill_money shortfall_amount;
    int64_t overdue;              /* invoices that became overdue */
    int64_t suspended;
    int64_t unsuspended;
    int64_t terminated;           /* by dunning or at period end */
    int64_t cancelled;            /* renewals cancelled with a termination */
    int64_t actions;              /* provider actions queued */
    int64_t unpriced;             /* due instances whose product has no price for their cycle */
    int64_t statements;           /* SQL statements the pass ran */
    /* details (opts->details): */
    bill_billing_invoice *invoices;
    size_t invoice_count;
    bill_billing_action *action_list;
    size_t action_count;
    bill_billing_shortfall *shortfalls;
    size_t shortfall_count;
    /* added after the fields above, so kept last: they keep the offsets
     * they had before it existed */
    int64_t hand_invoiced;        /* due instances whose next period a live manual invoice
                                   * (bill_invoice_generate) already bills: not renewed */
} bill_billing_report;

BILL_API void bill_billing_report_clear(bill_billing_report *r);

/* Run one pass at the handle's clock. plugins may be NULL (actions are
 * queued, never called here: the event workers call the providers).
 * *report is filled (clear it with bill_billing_report_clear) even when the
 * pass stops on an error half-way: what committed is counted. */
BILL_API int bill_billing_run(bill_db *db, bill_plugins *plugins,
                              const bill_billing_options *opts, bill_billing_report *report);

/* ---- forecast ------------------------------------------------------------ */

typedef struct bill_billing_forecast_report {
    int days;
    bill_billing_report *day;     /* days entries: day 0 at the clock's instant,
                                   * day i > 0 at 00:00:00Z of today + i */
    /* totals over every day */
    int64_t issued, paid, payment_failed, overdue, suspended, unsuspended, terminated;
    bill_money issued_amount, paid_amount, shortfall_amount;
    /* customers short on some day (the largest shortfall seen per customer) */
    bill_billing_shortfall *shortfalls;
    size_t shortfall_count;
} bill_billing_forecast_report;

BILL_API void bill_billing_forecast_free(bill_billing_forecast_report *f);

/* Dry-run every daily pass of the next `days` days (1..366) for the whole
 * book, with the same code as bill_billing_run, on private copies rolled
 * back at the end. opts->details fills each day's lists. */
BILL_API int bill_billing_forecast(bill_db *db, const bill_billing_options *opts, int days,
                                   bill_billing_forecast_report **out);

/* ---- dashboard figures ---------------------------------------------------- */

typedef struct bill_billing_summary {
    int64_t due_soon;             /* open invoices due within `days` days (today included) */
    bill_money due_soon_amount;
    int64_t overdue;              /* overdue invoices */
    bill_money overdue_amount;
    int64_t suspended_instances;
    int64_t failing_actions;      /* provider actions that failed at least once and are not done */
} bill_billing_summary;

/* Figures for dashboards (bill-tui): open invoices due within `days` days
 * of the handle's clock (0 -> 7), overdue totals. Staff. */
BILL_API int bill_billing_summary_get(bill_db *db, const bill_actor *actor, int days,
                                      bill_billing_summary *out);

/* ---- plan changes and cancellation (billing.md §5) -------------------------- */

/* One line of a proration: a credit of unused paid time or a charge of the
 * new plan, for one segment of paid time. */
typedef struct bill_billing_line {
    char kind[8];                 /* "credit" | "charge" */
    char description[200];
    char period_start[12];        /* the segment [start, end) */
    char period_end[12];
    int proration_days;           /* r */
    int period_days;              /* L */
    bill_money basis;             /* what the fraction applies to */
    bill_money amount;            /* signed: credits are negative */
    char why[64];                 /* "16/31 days of 10.00" */
} bill_billing_line;

typedef struct bill_billing_change {
    char instance_id[40];
    char customer_id[40];
    char kind[16];                /* "product" | "cycle" | "cancel" */
    char change_date[12];         /* X = date(T) */
    bill_billing_line *lines;
    size_t line_count;
    bill_money net;               /* sum of lines: > 0 charged, < 0 credited */
    bool applied;                 /* false for a preview */
    char invoice_id[40];          /* net > 0: the change invoice */
    char invoice_number[32];
    char credit_note_id[40];      /* net < 0: the credit note */
    char credit_number[32];
    char next_due_date[12];       /* after the change */
    char anchor_date[12];
    char billing_cycle[12];
    char product_id[40];
    bill_money balance_after;     /* applied changes: the customer's balance */
} bill_billing_change;

BILL_API void bill_billing_change_clear(bill_billing_change *c);

/* Change an instance's product now (upgrade or downgrade), prorated by day.
 * preview: compute the lines and write nothing. Refused (BILL_ESTATE) while
 * a renewal is unpaid or the instance is not running/stopped; BILL_EFUNDS
 * when balance + credit limit cannot pay a positive net. */
BILL_API int bill_instance_change_product(bill_db *db, bill_plugins *plugins,
                                          const bill_actor *actor, const char *instance_id,
                                          const char *product_id, bool preview,
                                          bill_billing_change *out);
/* Change the billing cycle now: unused time credited, the new cycle charged
 * in full from today, anchor = today. */
BILL_API int bill_instance_change_cycle(bill_db *db, bill_plugins *plugins,
                                        const bill_actor *actor, const char *instance_id,
                                        const char *cycle, bool preview,
                                        bill_billing_change *out);

typedef enum bill_cancel_mode {
    BILL_CANCEL_AT_PERIOD_END = 1, /* no more renewals; terminated at next_due_date */
    BILL_CANCEL_IMMEDIATELY = 2,   /* unused paid time refunded; terminated now */
} bill_cancel_mode;

BILL_API int bill_instance_cancel(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                                  const char *instance_id, bill_cancel_mode mode, bool preview,
                                  bill_billing_change *out);

/* ---- credit notes ------------------------------------------------------------ */

typedef struct bill_credit_note {
    char id[40];
    char customer_id[40];
    char instance_id[40];         /* "" when the instance is gone */
    char credit_number[32];       /* CN-<year>-<6 digits> */
    char kind[16];                /* downgrade | cycle_change | cancellation */
    bill_money amount;            /* credited to the balance (> 0) */
    char currency[4];
    char reason[64];
    char balance_tx_id[40];       /* the ledger row that credited it */
    int64_t issued_at;
    bill_billing_line *lines;     /* get only */
    size_t line_count;
} bill_credit_note;

typedef struct bill_credit_notes {
    BILL_LIST_OF(bill_credit_note);
} bill_credit_notes;

BILL_API void bill_credit_note_clear(bill_credit_note *n);
BILL_API void bill_credit_notes_clear(bill_credit_notes *l);

/* Newest first; customer_id NULL/"" = all (staff); CUSTOMER actors see
 * their own only (scoping rule in actor.h). Lines are not loaded. */
BILL_API int bill_credit_note_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                                   const bill_page *page, bill_credit_notes *out);
/* One credit note with its lines (by id or by CN- number). */
BILL_API int bill_credit_note_get(bill_db *db, const bill_actor *actor, const char *id_or_number,
                                  bill_credit_note *out);

#ifdef __cplusplus
}
#endif
#endif
