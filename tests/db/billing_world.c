/*
 * billing_world.c — the dated-scenario world the billing suites share
 * (test_billing.c, test_billing_rules.c): a migrated database with the
 * handle's clock injected, customers/products/instances made through the
 * public API, and scenario tables played step by step (billing.md).
 */
#include "billing_world.h"

#include "pg_harness.h"

#include <check.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

/* ---- world ------------------------------------------------------------------ */

int64_t clock_of(void *user)
{
    return ((world *)user)->now;
}

int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    ck_assert_msg(bill_time_parse_rfc3339(rfc3339, &t) == BILL_OK, "bad instant %s", rfc3339);
    return t;
}

void world_open(world *w)
{
    memset(w, 0, sizeof *w);
    w->db = bill_test_db_new_url(&w->url);
    w->now = at("2027-01-01T00:00:00Z");
    bill_db_set_clock(w->db, clock_of, w);
    ck_assert_int_eq(bill_provision_new(&w->prov, w->db, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_new(&w->ev, w->db, NULL), BILL_OK);
    ck_assert_int_eq(bill_provision_register(w->prov, w->ev), BILL_OK);
}

void world_close(world *w)
{
    bill_events_free(w->ev);
    bill_provision_free(w->prov);
    bill_db_close(w->db);
    free(w->url);
}

void run_events(world *w)
{
    int n = 0;
    do
        ck_assert_int_eq(bill_events_run_once(w->ev, 100, &n), BILL_OK);
    while (n > 0);
}

void recharge(world *w, const char *cust, bill_money amount)
{
    ck_assert_int_eq(bill_balance_change(w->db, &cli, cust, BILL_BALANCE_RECHARGE, amount, NULL,
                                         "topup", NULL),
                     BILL_OK);
}

char *mk_customer(world *w, bill_money amount, bill_money credit_limit)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "Billed", .credit_limit = credit_limit};
    bill_customer *c = NULL;
    ck_assert_int_eq(bill_customer_create(w->db, &cli, &in, &c), BILL_OK);
    char *id = strdup(c->id);
    bill_customer_free(c);
    if (amount > 0)
        recharge(w, id, amount);
    return id;
}

/* A product without a provider (manual provisioning). */
char *mk_product(world *w, bill_money monthly, bill_money quarterly, bill_money yearly)
{
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION, .name = "VPS", .active = true};
    bill_product *p = NULL;
    in.has_price[BILL_CYCLE_MONTHLY] = monthly >= 0;
    in.prices[BILL_CYCLE_MONTHLY] = monthly;
    in.has_price[BILL_CYCLE_QUARTERLY] = quarterly >= 0;
    in.prices[BILL_CYCLE_QUARTERLY] = quarterly;
    in.has_price[BILL_CYCLE_YEARLY] = yearly >= 0;
    in.prices[BILL_CYCLE_YEARLY] = yearly;
    ck_assert_int_eq(bill_product_create(w->db, &cli, &in, &p), BILL_OK);
    char *id = strdup(p->id);
    bill_product_free(p);
    return id;
}

/* Order + payment from the balance at `when`; the instance runs at once
 * (no provider). Returns the instance id. */
char *mk_instance(world *w, const char *cust, const char *prod, const char *cycle,
                         const char *when)
{
    bill_order_input oi = {.version = BILL_ORDER_INPUT_VERSION, .customer_id = cust, .product_id = prod, .billing_cycle = cycle};
    bill_order *o = NULL;
    char sql[256];
    w->now = at(when);
    ck_assert_int_eq(bill_order_create(w->db, NULL, &cli, &oi, &o), BILL_OK);
    int rc = bill_order_pay(w->db, NULL, &cli, o->id, NULL, NULL);
    ck_assert_msg(rc == BILL_OK, "pay: %s", bill_error_last()->message);
    run_events(w);
    bill_instances l = {0};
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION, .customer_id = cust};
    ck_assert_int_eq(bill_instance_list(w->db, &cli, &f, NULL, &l), BILL_OK);
    char *id = NULL;
    for (size_t i = 0; i < l.count; i++)
        if (strcmp(l.items[i].order_id, o->id) == 0)
            id = strdup(l.items[i].id);
    ck_assert_msg(id != NULL, "no instance for order %s", o->id);
    bill_instances_clear(&l);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                              "'running'", id);
    ck_assert_int_eq(bill_test_pg_query_ll(w->url, sql), 1);
    bill_order_free(o);
    return id;
}

#define FORMAT_SQL(sql, fmt)                                                               \
    do {                                                                                   \
        va_list ap;                                                                        \
        va_start(ap, fmt);                                                                 \
        vsnprintf((sql), sizeof(sql), (fmt), ap);                                          \
        va_end(ap);                                                                        \
    } while (0)

long long one(world *w, const char *fmt, ...)
{
    char sql[1024];
    FORMAT_SQL(sql, fmt);
    return bill_test_pg_query_ll(w->url, sql);
}

void sql_ok(world *w, const char *fmt, ...)
{
    char sql[1024];
    FORMAT_SQL(sql, fmt);
    ck_assert_msg(bill_test_pg_exec(w->url, sql) == 0, "%s", sql);
}

/* Text of one value (first row, first column) via a scratch connection. */
char *text(world *w, const char *fmt, ...)
{
    char sql[1024], full[1200];
    FORMAT_SQL(sql, fmt);
    snprintf(full, sizeof full, "SELECT coalesce((%s)::text, '')", sql);
    PGconn *pg = PQconnectdb(w->url);
    PGresult *r = PQexec(pg, full);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", full, PQerrorMessage(pg));
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(pg);
    return v;
}

/* ---- scenario tables --------------------------------------------------------------- */

void play(world *w, const char *cust, const char *inst, const step *s, size_t n)
{
    for (size_t i = 0; i < n; i++, s++) {
        w->now = at(s->at);
        if (s->op == PASS) {
            bill_billing_report r;
            pass_at(w, s->at, &r);
#define CNT(f)                                                                               \
    ck_assert_msg(r.f == s->f, "step %zu (%s): " #f " %lld, expected %d", i, s->at,          \
                  (long long)r.f, s->f)
            CNT(issued);
            CNT(paid);
            ck_assert_msg(r.payment_failed == s->failed, "step %zu (%s): failed %lld, expected %d",
                          i, s->at, (long long)r.payment_failed, s->failed);
            CNT(overdue);
            CNT(suspended);
            CNT(unsuspended);
            CNT(terminated);
#undef CNT
            bill_billing_report_clear(&r);
        } else if (s->op == RECHARGE) {
            bill_money m = 0;
            ck_assert_int_eq(bill_money_parse(s->arg, &m), BILL_OK);
            recharge(w, cust, m);
        } else if (s->op == PAY_BY_HAND) {
            char *id = text(w, "SELECT id FROM invoices WHERE instance_id = '%s' AND kind = "
                               "'renewal' ORDER BY billing_period_start DESC LIMIT 1", inst);
            int rc = bill_invoice_mark_paid(w->db, &cli, id, false, NULL);
            ck_assert_msg(rc == BILL_OK, "step %zu: pay: %s", i, bill_error_last()->message);
            free(id);
        }
        if (s->status) {
            char *v = text(w, "SELECT status FROM instances WHERE id = '%s'", inst);
            ck_assert_msg(strcmp(v, s->status) == 0, "step %zu (%s): instance %s, expected %s", i,
                          s->at, v, s->status);
            free(v);
        }
        if (s->next_due) {
            char *v = text(w, "SELECT next_due_date FROM instances WHERE id = '%s'", inst);
            ck_assert_msg(strcmp(v, s->next_due) == 0, "step %zu (%s): next due %s, expected %s",
                          i, s->at, v, s->next_due);
            free(v);
        }
        if (s->number || s->inv) {
            char *num = text(w, "SELECT invoice_number FROM invoices WHERE instance_id = '%s' AND "
                                "kind = 'renewal' ORDER BY billing_period_start DESC LIMIT 1",
                             inst);
            char *st = text(w, "SELECT status FROM invoices WHERE instance_id = '%s' AND kind = "
                               "'renewal' ORDER BY billing_period_start DESC LIMIT 1", inst);
            if (s->number)
                ck_assert_msg(strcmp(num, s->number) == 0, "step %zu (%s): invoice %s, expected %s",
                              i, s->at, num, s->number);
            if (s->inv)
                ck_assert_msg(strcmp(st, s->inv) == 0, "step %zu (%s): invoice %s, expected %s", i,
                              s->at, st, s->inv);
            free(num);
            free(st);
        }
        if (s->balance) {
            char *v = text(w, "SELECT balance FROM customers WHERE id = '%s'", cust);
            ck_assert_msg(strcmp(v, s->balance) == 0, "step %zu (%s): balance %s, expected %s", i,
                          s->at, v, s->balance);
            free(v);
        }
    }
}


/* ---- the one-instance book ----------------------------------------------------------- */

void book_open(world *w, book *b, bill_money recharge, bill_money credit_limit,
               bill_money monthly, bill_money quarterly, bill_money yearly, const char *cycle,
               const char *paid_at)
{
    world_open(w);
    b->cust = mk_customer(w, recharge, credit_limit);
    b->prod = mk_product(w, monthly, quarterly, yearly);
    b->inst = mk_instance(w, b->cust, b->prod, cycle, paid_at);
}

void book_close(world *w, book *b)
{
    free(b->inst);
    free(b->prod);
    free(b->cust);
    world_close(w);
}

void walk_dues(world *w, const char *inst, const char *const *dues, size_t n, bill_money amount,
               const char *cycle)
{
    for (size_t k = 0; k + 1 < n; k++) {
        char *nd = text(w, "SELECT next_due_date FROM instances WHERE id = '%s'", inst);
        ck_assert_str_eq(nd, dues[k]);
        free(nd);
        char when[32];
        snprintf(when, sizeof when, "%sT00:00:00Z", dues[k]);
        bill_billing_report r;
        pass_at(w, when, &r);
        ck_assert_int_eq(r.issued, 1);
        ck_assert_int_eq(r.paid, 1);
        ck_assert_int_eq(r.issued_amount, amount);
        bill_billing_report_clear(&r);
        ck_assert_int_eq(one(w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                                "billing_period_start = '%s' AND billing_period_end = '%s' AND "
                                "billing_cycle = '%s'", inst, dues[k], dues[k + 1], cycle),
                         1);
    }
}

void pass_at(world *w, const char *when, bill_billing_report *r)
{
    w->now = at(when);
    int rc = bill_billing_run(w->db, NULL, w->opts, r);
    ck_assert_msg(rc == BILL_OK, "pass at %s: %s", when, bill_error_last()->message);
}
