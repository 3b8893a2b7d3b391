/*
 * test_payment.c — payments against a real PostgreSQL: paying through a
 * gateway plugin (pending payment + instructions, order stays pending),
 * confirmation idempotent under 16 concurrent callbacks (credited once, one
 * event), amount mismatch refused, full and partial refunds to the balance,
 * scoping and list filters.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

static const char *mk_product(void)
{
    return bill_test_product_monthly(db, "Box", 1250);
}

static const char *mk_order(const char *cid, const char *pid)
{
    bill_order_input in = {.version = BILL_ORDER_INPUT_VERSION,
                           .customer_id = cid, .product_id = pid};
    return bill_test_order(db, &cli, &in);
}

START_TEST(test_payment__gateway_pay_then_confirm)
{
    char dir[] = "/tmp/bill-orders-gw-XXXXXX", path[1100], gw[37], sql[300];
    bill_plugins_options po;
    bill_plugins *plugins = NULL;
    bill_plugin_scan_stats st;
    bill_payment_info pi;
    bill_payment *p = NULL;
    bool already = true;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gateway-example.so", dir);
    bill_test_copy_file(EXAMPLE_PLUGIN_DIR "/example_v1.so", path);
    bill_plugins_options_init(&po);
    po.plugins_dir = dir;
    po.db = db;
    ck_assert_int_eq(bill_plugins_new(&plugins, &po), BILL_OK);
    ck_assert_int_eq(bill_plugins_scan(plugins, &st), BILL_OK);
    ck_assert_int_eq(bill_plugin_interface_create(plugins, NULL, BILL_PLUGIN_GATEWAY,
                                                  "gateway-example", "bank",
                                                  "{\"account\":\"6222\"}", true, gw), BILL_OK);

    const char *cid = bill_test_customer_named(db, "Gw"), *pid = mk_product();
    const char *oid = mk_order(cid, pid);
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    ck_assert_int_eq(bill_order_pay(db, plugins, &me, oid, gw, &pi), BILL_OK);
    ck_assert_str_eq(pi.gateway_id, gw);
    ck_assert_ptr_nonnull(strstr(pi.instructions, "transfer 12.50 to account 6222"));
    ck_assert_ptr_nonnull(strstr(pi.instructions, pi.payment_id));
    ck_assert_int_eq(bill_payment_get(db, &me, pi.payment_id, &p), BILL_OK);
    ck_assert_str_eq(p->status, "pending");
    ck_assert_str_eq(p->order_id, oid);
    ck_assert_str_eq(p->gateway_payment_id, pi.payment_id);
    ck_assert_int_eq(p->amount, 1250);
    bill_payment_free(p);
    /* Unknown gateway id: not found; order untouched, nothing charged. */
    ck_assert_int_eq(bill_order_pay(db, plugins, &me, oid, "00000000-0000-4000-8000-0000000000aa",
                                    NULL), BILL_ENOTFOUND);

    /* Customers cannot confirm; wrong amount is refused; the right one by
     * (gateway, gateway_payment_id) pays the order once. */
    ck_assert_int_eq(bill_payment_confirm(db, &me, pi.payment_id, NULL, NULL, 1250, "tx", NULL),
                     BILL_EDENIED);
    ck_assert_int_eq(bill_payment_confirm(db, NULL, pi.payment_id, NULL, NULL, 1249, "tx", NULL),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "amount");
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, gw, pi.payment_id, 1250, "bank-77",
                                          &already), BILL_OK);
    ck_assert(!already);
    ck_assert_int_eq(bill_payment_confirm(db, NULL, pi.payment_id, NULL, NULL, 1250, "bank-77",
                                          &already), BILL_OK);
    ck_assert(already);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND status = 'paid' "
             "AND paid_at IS NOT NULL", oid);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events "
                                                "WHERE kind = 'order.paid'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments WHERE "
                                                "status = 'success' AND gateway_tx_id = "
                                                "'bank-77'"), 1);
    /* A gateway payment does not touch the balance. */
    ck_assert_int_eq(bill_test_balance(db, cid), 0);

    bill_payment_info_clear(&pi);
    bill_plugins_free(plugins);
    unlink(path);
    rmdir(dir);
}
END_TEST

typedef struct {
    bill_db *db;
    const char *pid;
    bool already;
    int rc;
} confirm_arg;

static void *confirm_thread(void *p)
{
    confirm_arg *a = p;
    a->rc = bill_payment_confirm(a->db, NULL, a->pid, NULL, NULL, 1250, "cb-1", &a->already);
    return NULL;
}

/* A pending gateway payment for an order, as pay_gateway leaves it. */
static void pending_payment(const char *cid, const char *oid)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO payments (customer_id, order_id, amount, gateway_id, "
             "gateway_payment_id, status) VALUES ('%s', '%s', 12.50, 'gw', 'gp-%s', 'pending')",
             cid, oid, oid);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
}

START_TEST(test_payment__confirm_idempotent_under_concurrency)
{
    const char *cid = bill_test_customer_named(db, "Cb"), *pid = mk_product();
    const char *oid = mk_order(cid, pid);
    pending_payment(cid, oid);
    bill_payments l;
    bill_payment_filter f = {.version = BILL_PAYMENT_FILTER_VERSION, .order_id = oid};
    ck_assert_int_eq(bill_payment_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    char *pay = strdup(l.items[0].id);
    bill_payments_clear(&l);
    /* filters combine: each one asked for narrows, none asked for is applied */
    f.status = "pending";
    f.gateway_id = "gw";
    BILL_TEST_LIST_TOTAL(bill_payment_list(db, &cli, &f, NULL, &l), l, bill_payments_clear, 1);
    f.gateway_id = "balance";
    BILL_TEST_LIST_TOTAL(bill_payment_list(db, &cli, &f, NULL, &l), l, bill_payments_clear, 0);
    f.gateway_id = NULL;
    f.status = "success";
    BILL_TEST_LIST_TOTAL(bill_payment_list(db, &cli, &f, NULL, &l), l, bill_payments_clear, 0);
    f = (bill_payment_filter){.version = BILL_PAYMENT_FILTER_VERSION, .order_id = oid};

    pthread_t th[16];
    confirm_arg args[16];
    int fresh = 0;
    for (int i = 0; i < 16; i++) {
        args[i] = (confirm_arg){.db = db, .pid = pay};
        ck_assert_int_eq(pthread_create(&th[i], NULL, confirm_thread, &args[i]), 0);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].rc, BILL_OK);
        fresh += !args[i].already;
    }
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events "
                                                "WHERE kind = 'order.paid'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM orders "
                                                "WHERE status = 'paid'"), 1);
    /* Failing a confirmed payment is refused; unknown ids are not found. */
    ck_assert_int_eq(bill_payment_fail(db, &cli, pay), BILL_ESTATE);
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, "gw", "nope", 1250, "x", NULL),
                     BILL_ENOTFOUND);
    free(pay);
}
END_TEST

START_TEST(test_payment__refunds_full_and_partial)
{
    const char *cid = bill_test_customer_named(db, "Ref"), *pid = mk_product();
    const char *o1 = mk_order(cid, pid), *o2 = mk_order(cid, pid);
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    bill_payment_info p1, p2;
    bill_payment *p = NULL;

    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 2500, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, o1, NULL, &p1), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, o2, NULL, &p2), BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, cid), 0);

    /* Customers cannot refund; more than paid is refused and changes nothing. */
    ck_assert_int_eq(bill_payment_refund(db, &me, p1.payment_id, 100, NULL, NULL), BILL_EDENIED);
    ck_assert_int_eq(bill_payment_refund(db, &cli, p1.payment_id, 1251, NULL, NULL),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "amount");
    ck_assert_int_eq(bill_test_balance(db, cid), 0);

    /* Partial 5.00, then 7.50 more = everything: refunded; order refunded. */
    ck_assert_int_eq(bill_payment_refund(db, &cli, p1.payment_id, 500, "downgrade", &p), BILL_OK);
    ck_assert_str_eq(p->status, "refunded");
    ck_assert_int_eq(p->refunded_amount, 500);
    bill_payment_free(p);
    ck_assert_int_eq(bill_test_balance(db, cid), 500);
    ck_assert_int_eq(bill_payment_refund(db, &cli, p1.payment_id, 751, NULL, NULL),
                     BILL_EINVALID);
    ck_assert_int_eq(bill_payment_refund(db, &cli, p1.payment_id, 750, NULL, &p), BILL_OK);
    ck_assert_str_eq(p->status, "refunded");
    bill_payment_free(p);
    ck_assert_int_eq(bill_payment_refund(db, &cli, p1.payment_id, 1, NULL, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);
    bill_order *o = NULL;
    ck_assert_int_eq(bill_order_get(db, &cli, o1, &o), BILL_OK);
    ck_assert_str_eq(o->status, "refunded");
    bill_order_free(o);
    /* amount 0 = the whole rest. */
    ck_assert_int_eq(bill_payment_refund(db, &cli, p2.payment_id, 0, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, cid), 2500);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions "
                                                "WHERE transaction_type = 'refund'"), 3);

    /* Scoping and filters. */
    const char *other = bill_test_customer_named(db, "Other");
    bill_actor b = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = other};
    ck_assert_int_eq(bill_payment_get(db, &b, p1.payment_id, &p), BILL_ENOTFOUND);
    bill_payments l;
    BILL_TEST_LIST_TOTAL(bill_payment_list(db, &b, NULL, NULL, &l), l, bill_payments_clear, 0);
    bill_payment_filter f = {.version = BILL_PAYMENT_FILTER_VERSION, .status = "refunded"};
    BILL_TEST_LIST_TOTAL(bill_payment_list(db, &me, &f, NULL, &l), l, bill_payments_clear, 2);
    f = (bill_payment_filter){.version = BILL_PAYMENT_FILTER_VERSION, .status = "done"};
    ck_assert_int_eq(bill_payment_list(db, &me, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");

    bill_payment_info_clear(&p1);
    bill_payment_info_clear(&p2);
}
END_TEST

/* ---- money a gateway says it received is never lost (issue 8) ---------- */

/* A plugin registry with one gateway interface of the example plugin. */
typedef struct {
    char dir[64], path[1100], gw[37];
    bill_plugins *plugins;
} gw_env;

static void gw_env_open(gw_env *e)
{
    bill_plugins_options po;
    bill_plugin_scan_stats st;
    snprintf(e->dir, sizeof e->dir, "/tmp/bill-pay-gw-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->dir));
    snprintf(e->path, sizeof e->path, "%s/gateway-example.so", e->dir);
    bill_test_copy_file(EXAMPLE_PLUGIN_DIR "/example_v1.so", e->path);
    bill_plugins_options_init(&po);
    po.plugins_dir = e->dir;
    po.db = db;
    ck_assert_int_eq(bill_plugins_new(&e->plugins, &po), BILL_OK);
    ck_assert_int_eq(bill_plugins_scan(e->plugins, &st), BILL_OK);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL, BILL_PLUGIN_GATEWAY,
                                                  "gateway-example", "bank",
                                                  "{\"account\":\"6222\"}", true, e->gw), BILL_OK);
}

static void gw_env_close(gw_env *e)
{
    bill_plugins_free(e->plugins);
    unlink(e->path);
    rmdir(e->dir);
}

/* Start a gateway payment of order `oid` as its customer; returns its id. */
static char *gw_pay(gw_env *e, const char *cid, const char *oid)
{
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    bill_payment_info pi;
    ck_assert_int_eq(bill_order_pay(db, e->plugins, &me, oid, e->gw, &pi), BILL_OK);
    char *id = strdup(pi.payment_id);
    bill_payment_info_clear(&pi);
    return id;
}

static const char *pay_status(const char *pid, char *buf, size_t n)
{
    bill_payment *p = NULL;
    ck_assert_int_eq(bill_payment_get(db, &cli, pid, &p), BILL_OK);
    snprintf(buf, n, "%s", p->status);
    bill_payment_free(p);
    return buf;
}

START_TEST(test_payment__notify_for_cancelled_order_credits_balance)
{
    gw_env e;
    char st[32];
    bool already = true;
    gw_env_open(&e);
    const char *cid = bill_test_customer_named(db, "Late"), *pid = mk_product();
    const char *oid = mk_order(cid, pid);
    char *pay = gw_pay(&e, cid, oid);

    /* The customer pays at the gateway, but the order is cancelled first
     * (by the customer, an admin or the 24 h expiry). */
    ck_assert_int_eq(bill_order_cancel(db, &cli, oid), BILL_OK);
    ck_assert_str_eq(pay_status(pay, st, sizeof st), "failed");
    /* The signed notify still arrives: confirmed, credited, not refused. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, pay, 1250, "T-1", &already),
                     BILL_OK);
    ck_assert(!already);
    bill_payment *p = NULL;
    ck_assert_int_eq(bill_payment_get(db, &cli, pay, &p), BILL_OK);
    ck_assert_str_eq(p->status, "success");
    ck_assert_str_eq(p->gateway_tx_id, "T-1");
    ck_assert(p->credited_to_balance);
    ck_assert(p->paid_at > 0);
    bill_payment_free(p);
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
    /* A recharge naming the payment and why. */
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM balance_transactions WHERE transaction_type = "
                            "'recharge' AND amount = 12.50 AND reference_id = '%s' AND "
                            "description LIKE '%%' || '%s' || '%% is cancelled%%'", pay, oid), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM balance_transactions WHERE description "
                            "LIKE 'payment %s arrived%%'", pay), 1);
    /* The order stays cancelled; the customer is told. */
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM orders WHERE id = '%s' AND status = "
                            "'cancelled'", oid), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events WHERE kind = "
                                                "'order.paid'"), 0);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                            "payload->>'kind' = 'payment.received' AND payload->>'customer_id' "
                            "= '%s'", cid), 1);
    /* Replays credit nothing twice and say nothing twice. */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, pay, 1250, "T-1", &already),
                         BILL_OK);
        ck_assert(already);
    }
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events WHERE kind = "
                                                "'notify'"), 1);
    /* Its money is already in the balance: refunding it there again would
     * pay twice. */
    ck_assert_int_eq(bill_payment_refund(db, &cli, pay, 0, NULL, NULL), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "credited"));
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);

    gw_env_close(&e);
    free(pay);
}
END_TEST

START_TEST(test_payment__second_pay_order_supersedes_and_late_money_is_kept)
{
    gw_env e;
    char st[32];
    bool already;
    gw_env_open(&e);
    const char *cid = bill_test_customer_named(db, "Twice"), *pid = mk_product();
    const char *oid = mk_order(cid, pid);

    /* The rule: the newest gateway attempt is the one payable payment. */
    char *p1 = gw_pay(&e, cid, oid), *p2 = gw_pay(&e, cid, oid);
    ck_assert_str_ne(p1, p2);
    ck_assert_str_eq(pay_status(p1, st, sizeof st), "failed");
    ck_assert_str_eq(pay_status(p2, st, sizeof st), "pending");
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM payments WHERE order_id = '%s' AND status = "
                            "'pending'", oid), 1);
    /* Money arrives on the superseded one anyway: it pays the order, and
     * the other attempt is no longer payable. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, p1, 1250, "A-1", &already),
                     BILL_OK);
    ck_assert(!already);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM orders WHERE id = '%s' AND status = 'paid'",
                       oid), 1);
    ck_assert_str_eq(pay_status(p2, st, sizeof st), "failed");
    ck_assert_int_eq(bill_test_balance(db, cid), 0);
    /* ...and the second one as well: the order is paid, so the balance. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, p2, 1250, "A-2", &already),
                     BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM balance_transactions WHERE reference_id = '%s' "
                            "AND description LIKE '%%already paid (status paid)%%'", p2),
                     1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events WHERE kind = "
                                                "'order.paid'"), 1);

    /* Paying a third time is refused: the order is paid. */
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    ck_assert_int_eq(bill_order_pay(db, e.plugins, &me, oid, e.gw, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_order_pay(db, e.plugins, &me, oid, NULL, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_test_balance(db, cid), 1250);

    gw_env_close(&e);
    free(p1);
    free(p2);
}
END_TEST

START_TEST(test_payment__trade_no_confirms_one_payment_only)
{
    gw_env e;
    char st[32];
    bool already;
    gw_env_open(&e);
    const char *cid = bill_test_customer_named(db, "Trade"), *pid = mk_product();
    const char *o1 = mk_order(cid, pid), *o2 = mk_order(cid, pid);
    char *p1 = gw_pay(&e, cid, o1), *p2 = gw_pay(&e, cid, o2);

    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, p1, 1250, "T-9", &already),
                     BILL_OK);
    /* The same gateway transaction cannot confirm another payment. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, p2, 1250, "T-9", &already),
                     BILL_ECONFLICT);
    ck_assert_str_eq(bill_error_last()->field, "gateway_tx_id");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, p1));
    ck_assert_str_eq(pay_status(p2, st, sizeof st), "pending");
    /* Nor does a paid payment take a second, different transaction. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, e.gw, p1, 1250, "T-10", &already),
                     BILL_ECONFLICT);
    /* A replay without a transaction id is a replay. */
    ck_assert_int_eq(bill_payment_confirm(db, NULL, p1, NULL, NULL, 1250, NULL, &already),
                     BILL_OK);
    ck_assert(already);
    ck_assert_int_eq(bill_test_balance(db, cid), 0);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM orders WHERE id = '%s' AND status = "
                            "'pending'", o2), 1);
    /* The schema itself refuses it too (the race the check cannot see). */
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE payments SET gateway_tx_id = 'T-9' WHERE id = '%s'", p2);
    ck_assert_int_ne(bill_test_pg_exec(url, sql), 0);
    /* Another interface may reuse the number (trade_no is per gateway). */
    snprintf(sql, sizeof sql, "UPDATE payments SET gateway_id = 'other', gateway_tx_id = 'T-9' "
             "WHERE id = '%s'", p2);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);

    gw_env_close(&e);
    free(p1);
    free(p2);
}
END_TEST

typedef struct {
    bill_db *db;
    bill_plugins *plugins;
    const char *gw, *pay, *tx, *cid, *oid;
    bool balance_pay;
    pthread_barrier_t *go;
    int rc;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    pthread_barrier_wait(a->go);
    if (a->balance_pay) {
        bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = a->cid};
        a->rc = bill_order_pay(a->db, NULL, &me, a->oid, NULL, NULL);
    } else {
        a->rc = bill_payment_confirm(a->db, NULL, NULL, a->gw, a->pay, 1250, a->tx, NULL);
    }
    return NULL;
}

/* Two notifies for two payments of one order, and a notify against a
 * balance PayOrder, at the same instant, many times: the order is paid
 * once, every cent that arrived is either on the order or in the balance. */
START_TEST(test_payment__races_lose_no_money)
{
    gw_env e;
    gw_env_open(&e);
    const char *cid = bill_test_customer_named(db, "Race"), *pid = mk_product();
    pthread_barrier_t go;
    enum { ROUNDS = 8 };

    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 1250 * ROUNDS,
                                         NULL, NULL, NULL), BILL_OK);
    for (int round = 0; round < ROUNDS; round++) {
        const char *oid = mk_order(cid, pid);
        char *p1 = gw_pay(&e, cid, oid), *p2 = gw_pay(&e, cid, oid);
        char tx1[32], tx2[32];
        snprintf(tx1, sizeof tx1, "R%d-a", round);
        snprintf(tx2, sizeof tx2, "R%d-b", round);
        race_arg a[3] = {
            {.db = db, .gw = e.gw, .pay = p1, .tx = tx1, .go = &go},
            {.db = db, .gw = e.gw, .pay = p2, .tx = tx2, .go = &go},
            {.db = db, .cid = cid, .oid = oid, .balance_pay = true, .go = &go},
        };
        pthread_t th[3];
        ck_assert_int_eq(pthread_barrier_init(&go, NULL, 3), 0);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, &a[i]), 0);
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        /* Both notifies are accepted whatever the interleaving. */
        ck_assert_int_eq(a[0].rc, BILL_OK);
        ck_assert_int_eq(a[1].rc, BILL_OK);
        ck_assert(a[2].rc == BILL_OK || a[2].rc == BILL_ESTATE);
        ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM orders WHERE id = '%s' AND status = "
                                "'paid'", oid), 1);
        ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE kind = 'order.paid' AND "
                                "payload->>'order_id' = '%s'", oid), 1);
        ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM payments WHERE order_id = '%s' AND "
                                "status = 'success' AND NOT credited_to_balance", oid),
                         1);
        free(p1);
        free(p2);
    }
    /* Each round: 12.50 arrived twice from the gateway and the order cost
     * 12.50 once, whoever paid it; the balance started at 8 x 12.50. */
    ck_assert_int_eq(bill_test_balance(db, cid), 1250 * ROUNDS + 1250 * ROUNDS);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);

    gw_env_close(&e);
}
END_TEST

/* An invoice payment larger than what the invoice still needs: the invoice
 * is paid, the rest goes to the balance (it was silently cut before). */
START_TEST(test_payment__invoice_overpayment_and_paid_invoice_credit_the_rest)
{
    const char *cid = bill_test_customer_named(db, "Inv");
    bill_invoice_item_input it = {.description = "VPS", .quantity = 1, .unit_price = 1000};
    bill_invoice_input in = {.version = BILL_INVOICE_INPUT_VERSION, .customer_id = cid, .items = &it, .item_count = 1};
    bill_invoice *inv = NULL, *drf = NULL;
    char sql[500];
    ck_assert_int_eq(bill_invoice_create(db, &cli, &in, &drf), BILL_OK);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, drf->id, &inv), BILL_OK);
    bill_invoice_free(drf);
    snprintf(sql, sizeof sql,
             "INSERT INTO payments (customer_id, invoice_id, amount, gateway_id, "
             "gateway_payment_id, status) VALUES ('%s', '%s', 12.50, 'gw', 'i-1', 'pending'), "
             "('%s', '%s', 3.00, 'gw', 'i-2', 'pending')",
             cid, inv->id, cid, inv->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, "gw", "i-1", 1250, "I-1", NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM invoices WHERE id = '%s' AND status = 'paid' "
                            "AND paid_amount = 10.00", inv->id), 1);
    ck_assert_int_eq(bill_test_balance(db, cid), 250);
    ck_assert_int_eq(bill_payment_confirm(db, NULL, NULL, "gw", "i-2", 300, "I-2", NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, cid), 550);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM balance_transactions WHERE description LIKE "
                            "'%%invoice %s, which is paid%%'", inv->id), 1);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
    bill_invoice_free(inv);
}
END_TEST

BILL_TEST_MAIN("payment", 120, setup, teardown,
               test_payment__gateway_pay_then_confirm,
               test_payment__confirm_idempotent_under_concurrency,
               test_payment__refunds_full_and_partial,
               test_payment__notify_for_cancelled_order_credits_balance,
               test_payment__second_pay_order_supersedes_and_late_money_is_kept,
               test_payment__trade_no_confirms_one_payment_only, test_payment__races_lose_no_money,
               test_payment__invoice_overpayment_and_paid_invoice_credit_the_rest);
