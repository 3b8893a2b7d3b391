/*
 * billing_world.h — the dated-scenario world of the billing suites: a fresh
 * migrated database whose handle reads the clock `now` (injected), helpers
 * that make customers, products and paid instances through the public API,
 * and scenario tables (`step`) played row by row: each row moves the clock,
 * does one thing (a pass, a recharge, a payment by hand) and states what
 * must hold afterwards.
 */
#ifndef BILL_TEST_BILLING_WORLD_H
#define BILL_TEST_BILLING_WORLD_H

#include <bill/bill.h>
#include <stddef.h>
#include <stdint.h>

extern const bill_actor cli;

typedef struct world {
    char *url;
    bill_db *db;
    int64_t now;
    bill_provision *prov;
    bill_events *ev;
    const bill_billing_options *opts; /* the passes play() runs (NULL: defaults) */
} world;

/* The world's clock (bill_db_set_clock callback; user = the world). */
int64_t clock_of(void *user);
/* An RFC 3339 instant in microseconds (the test fails on a bad one). */
int64_t at(const char *rfc3339);
void world_open(world *w);
void world_close(world *w);
/* Run the event queue dry (provisioning, provider actions, notifications). */
void run_events(world *w);

/* A customer with `amount` on the balance (ledger recharge). */
char *mk_customer(world *w, bill_money amount, bill_money credit_limit);
/* Credit `amount` to cust's balance (ledger recharge "topup"). */
void recharge(world *w, const char *cust, bill_money amount);
/* A product without a provider; a negative price: no price for that cycle. */
char *mk_product(world *w, bill_money monthly, bill_money quarterly, bill_money yearly);
/* An order paid from the balance at `when`; returns the running instance. */
char *mk_instance(world *w, const char *cust, const char *prod, const char *cycle,
                  const char *when);

/* The world most scenarios start from: world_open, then one customer (with
 * `recharge` and `credit_limit`), one product (prices as mk_product) and one
 * instance of it of `cycle`, paid at `paid_at`. book_close frees them and
 * closes the world. */
typedef struct book {
    char *cust, *prod, *inst;
} book;
void book_open(world *w, book *b, bill_money recharge, bill_money credit_limit,
               bill_money monthly, bill_money quarterly, bill_money yearly, const char *cycle,
               const char *paid_at);
void book_close(world *w, book *b);

/* Set the clock to `when` and run one pass with w->opts (must succeed). */
void pass_at(world *w, const char *when, bill_billing_report *r);

/* For each due date dues[k] but the last: next_due_date is dues[k]; a pass
 * at 00:00:00Z that day issues one renewal of `amount` for `cycle` and pays
 * it from the balance, for [dues[k], dues[k + 1]). */
void walk_dues(world *w, const char *inst, const char *const *dues, size_t n, bill_money amount,
               const char *cycle);

/* One integer / one text value (first row, first column) of a query run on
 * a scratch connection. */
long long one(world *w, const char *fmt, ...) BILL_PRINTF(2, 3);
char *text(world *w, const char *fmt, ...) BILL_PRINTF(2, 3);
/* Run one SQL command on a scratch connection; the test fails if it fails. */
void sql_ok(world *w, const char *fmt, ...) BILL_PRINTF(2, 3);

enum { PASS = 1, RECHARGE, PAY_BY_HAND };

typedef struct step {
    const char *at;        /* the clock for this step */
    int op;                /* PASS | RECHARGE (arg: amount) | PAY_BY_HAND (latest renewal) */
    const char *arg;
    /* the pass's report (PASS rows): counts always checked */
    int issued, paid, failed, overdue, suspended, unsuspended, terminated;
    /* state afterwards (NULL: not checked) */
    const char *status;    /* instance */
    const char *next_due;
    const char *number;    /* latest renewal's invoice number */
    const char *inv;       /* latest renewal's status */
    const char *balance;
} step;

void play(world *w, const char *cust, const char *inst, const step *s, size_t n);

#define PLAY(w, c, i, table) play((w), (c), (i), (table), sizeof(table) / sizeof((table)[0]))

#endif
