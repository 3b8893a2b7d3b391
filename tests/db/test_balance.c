/*
 * test_balance.c — the balance ledger against a real PostgreSQL: each
 * transaction type and its sign rule, the floor at -credit_limit exact to the
 * cent, refused amounts change nothing, scoping of reads, and the ledger
 * invariant under 8 threads x 1,000 random changes on 3 customers, and the
 * in-transaction variant committing or rolling back with its caller.
 */
#include "db_fixture.h"
/* White-box: the in-transaction variant that orders and payments use. */
#include "domain/balance_int.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

static const char *mk(const char *name, bill_money credit_limit)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = name, .credit_limit = credit_limit};
    return bill_test_customer(db, &cli, &in);
}

START_TEST(test_balance__each_type)
{
    const char *id = mk("Typed", 0);
    bill_balance_tx tx;

    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_RECHARGE, 10000, "r-1",
                                         "bank transfer", &tx), BILL_OK);
    ck_assert_int_eq(tx.amount, 10000);
    ck_assert_int_eq(tx.balance_before, 0);
    ck_assert_int_eq(tx.balance_after, 10000);
    ck_assert_int_eq(tx.type, BILL_BALANCE_RECHARGE);
    ck_assert_str_eq(tx.reference_id, "r-1");
    ck_assert_str_eq(tx.description, "bank transfer");
    ck_assert_str_eq(tx.created_by, "ops");
    bill_balance_tx_clear(&tx);

    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_DEDUCT, 3050, NULL, NULL, &tx),
                     BILL_OK);
    ck_assert_int_eq(tx.amount, -3050);
    ck_assert_int_eq(tx.balance_after, 6950);
    bill_balance_tx_clear(&tx);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_PAYMENT, 950, "order-1", NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_REFUND, 450, "order-1", NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_ADJUSTMENT, -1, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_ADJUSTMENT, 2, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, id), 10000 - 3050 - 950 + 450 - 1 + 2);
    ck_assert_int_eq(bill_balance_verify(db, id), BILL_OK);

    bill_balance_txs l;
    ck_assert_int_eq(bill_balance_tx_list(db, &cli, id, 0, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 6);
    ck_assert_int_eq(l.items[0].amount, 2); /* newest first */
    ck_assert_int_eq(l.items[5].type, BILL_BALANCE_RECHARGE);
    bill_balance_txs_clear(&l);
    ck_assert_int_eq(bill_balance_tx_list(db, &cli, id, BILL_BALANCE_ADJUSTMENT, NULL, &l),
                     BILL_OK);
    ck_assert_uint_eq(l.meta.total, 2);
    bill_balance_txs_clear(&l);
    /* the customer is not an optional filter: without one, no ledger at all */
    ck_assert_int_eq(bill_balance_tx_list(db, &cli, NULL, 0, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "customer_id");
    ck_assert_uint_eq(l.count, 0);
    ck_assert_int_eq(bill_balance_tx_list(db, &cli, "", 0, NULL, &l), BILL_EINVALID);

    bill_balance_tx_type t;
    ck_assert_int_eq(bill_balance_tx_type_parse("refund", &t), BILL_OK);
    ck_assert_int_eq(t, BILL_BALANCE_REFUND);
    ck_assert_int_eq(bill_balance_tx_type_parse("gift", &t), BILL_EINVALID);
    ck_assert_str_eq(bill_balance_tx_type_name(BILL_BALANCE_PAYMENT), "payment");
}
END_TEST

START_TEST(test_balance__floor_is_exact_to_the_cent)
{
    const char *id = mk("Floor", 500); /* may go down to -5.00 */
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_RECHARGE, 1000, NULL, NULL,
                                         NULL), BILL_OK);
    /* 10.00 + 5.00 credit = 15.00 available; 15.01 is one cent too many */
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_DEDUCT, 1501, NULL, NULL,
                                         NULL), BILL_EFUNDS);
    ck_assert_str_eq(bill_error_last()->message,
                     "balance 10.00 with credit limit 5.00 cannot cover 15.01");
    ck_assert_int_eq(bill_test_balance(db, id), 1000);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_PAYMENT, 1500, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, id), -500);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_ADJUSTMENT, -1, NULL, NULL,
                                         NULL), BILL_EFUNDS);
    ck_assert_int_eq(bill_test_balance(db, id), -500);

    /* the credit limit cannot be lowered below the debt */
    ck_assert_int_eq(bill_customer_set_credit_limit(db, &cli, id, 499), BILL_ESTATE);
    ck_assert_int_eq(bill_customer_set_credit_limit(db, &cli, id, 500), BILL_OK);
    ck_assert_int_eq(bill_balance_verify(db, id), BILL_OK);

    const char *zero = mk("Zero", 0);
    ck_assert_int_eq(bill_balance_change(db, &cli, zero, BILL_BALANCE_RECHARGE, 1000, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &cli, zero, BILL_BALANCE_DEDUCT, 1250, NULL, NULL,
                                         NULL), BILL_EFUNDS);
    ck_assert_str_eq(bill_error_last()->message,
                     "balance 10.00 with credit limit 0.00 cannot cover 12.50");
    ck_assert_int_eq(bill_balance_change(db, &cli, zero, BILL_BALANCE_DEDUCT, 1000, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_test_balance(db, zero), 0);
}
END_TEST

START_TEST(test_balance__bad_amounts_change_nothing)
{
    const char *id = mk("Bad", 0);
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_RECHARGE, 100, NULL, NULL,
                                         NULL), BILL_OK);
    struct { bill_balance_tx_type t; bill_money a; } bad[] = {
        {BILL_BALANCE_RECHARGE, 0},   {BILL_BALANCE_RECHARGE, -5},
        {BILL_BALANCE_DEDUCT, 0},     {BILL_BALANCE_DEDUCT, -5},
        {BILL_BALANCE_PAYMENT, -1},   {BILL_BALANCE_REFUND, -1},
        {BILL_BALANCE_ADJUSTMENT, 0}, {BILL_BALANCE_RECHARGE, BILL_MONEY_MAX + 1},
        {(bill_balance_tx_type)99, 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(bill_balance_change(db, &cli, id, bad[i].t, bad[i].a, NULL, NULL, NULL) ==
                          BILL_EINVALID, "case %zu", i);
    }
    ck_assert_str_eq(bill_error_last()->field, "transaction_type");
    /* result beyond NUMERIC(12,2) */
    ck_assert_int_eq(bill_balance_change(db, &cli, id, BILL_BALANCE_RECHARGE, BILL_MONEY_MAX, NULL,
                                         NULL, NULL), BILL_ELIMIT);
    ck_assert_int_eq(bill_balance_change(db, &cli, "00000000-0000-4000-8000-000000000000",
                                         BILL_BALANCE_RECHARGE, 5, NULL, NULL, NULL),
                     BILL_ENOTFOUND);
    ck_assert_int_eq(bill_test_balance(db, id), 100);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), 1);
    ck_assert_int_eq(bill_balance_verify(db, id), BILL_OK);

    /* the verifier notices a ledger that does not add up */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE customers SET balance = balance + 1"), 0);
    ck_assert_int_eq(bill_balance_verify(db, id), BILL_ESTATE);
}
END_TEST

START_TEST(test_balance__scoping_and_permissions)
{
    const char *mine = mk("Mine", 0), *other = mk("Other", 0);
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = mine};
    bill_money b = -1, l = -1;
    bill_balance_txs txs;
    ck_assert_int_eq(bill_balance_get(db, &me, mine, &b, &l), BILL_OK);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(l, 0);
    ck_assert_int_eq(bill_balance_get(db, &me, other, &b, NULL), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_balance_tx_list(db, &me, other, 0, NULL, &txs), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_balance_tx_list(db, &me, mine, 0, NULL, &txs), BILL_OK);
    bill_balance_txs_clear(&txs);
    ck_assert_int_eq(bill_balance_change(db, &me, mine, BILL_BALANCE_RECHARGE, 100, NULL, NULL,
                                         NULL), BILL_EDENIED);
    ck_assert_int_eq(bill_test_balance(db, mine), 0);
}
END_TEST

START_TEST(test_balance__inside_caller_transaction)
{
    const char *id = mk("Caller", 0);
    bill_conn *c = NULL;
    bill_balance_tx tx;

    /* rolled back by the caller: nothing happened */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__balance_change_tx(c, NULL, id, BILL_BALANCE_RECHARGE, 500, "order-x",
                                             NULL, &tx), BILL_OK);
    ck_assert_int_eq(tx.balance_after, 500);
    bill_balance_tx_clear(&tx);
    bill__tx_rollback(c);
    ck_assert_int_eq(bill_test_balance(db, id), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), 0);

    /* committed by the caller: ledger and balance move together */
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__balance_change_tx(c, NULL, id, BILL_BALANCE_RECHARGE, 500, NULL, NULL,
                                             NULL), BILL_OK);
    ck_assert_int_eq(bill__balance_change_tx(c, NULL, id, BILL_BALANCE_PAYMENT, 501, NULL, NULL,
                                             NULL), BILL_EFUNDS);
    bill__tx_rollback(c);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__balance_change_tx(c, NULL, id, BILL_BALANCE_RECHARGE, 500, NULL, NULL,
                                             NULL), BILL_OK);
    ck_assert_int_eq(bill__balance_change_tx(c, NULL, id, BILL_BALANCE_PAYMENT, 200, "order-y",
                                             NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill__tx_commit(c), BILL_OK);
    bill__conn_release(c);
    ck_assert_int_eq(bill_test_balance(db, id), 300);
    ck_assert_int_eq(bill_balance_verify(db, id), BILL_OK);
}
END_TEST

/* ---- concurrency --------------------------------------------------------- */

#define THREADS 8
#define OPS 1000
#define CUSTOMERS 3
#define CREDIT 2000 /* 20.00 */

typedef struct {
    bill_db *db;
    const char **ids;
    unsigned seed;
    int ok, funds, other;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        const char *id = w->ids[rand_r(&w->seed) % CUSTOMERS];
        bill_balance_tx_type t = (bill_balance_tx_type)(1 + rand_r(&w->seed) % 5);
        bill_money a = 1 + rand_r(&w->seed) % 3000;
        /* Bias towards spending, so the floor is hit often. */
        if (t == BILL_BALANCE_REFUND && rand_r(&w->seed) % 2)
            t = BILL_BALANCE_DEDUCT;
        if (t == BILL_BALANCE_ADJUSTMENT && rand_r(&w->seed) % 2)
            a = -a;
        int rc = bill_balance_change(w->db, NULL, id, t, a, NULL, "stress", NULL);
        if (rc == BILL_OK)
            w->ok++;
        else if (rc == BILL_EFUNDS)
            w->funds++;
        else {
            w->other++;
            fprintf(stderr, "unexpected %d: %s\n", rc, bill_error_last()->message);
        }
    }
    return NULL;
}

START_TEST(test_balance__concurrent_changes_keep_the_invariant)
{
    const char *ids[CUSTOMERS];
    for (int i = 0; i < CUSTOMERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "Stress %d", i);
        ids[i] = mk(name, CREDIT);
    }
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.db = db, .ids = ids, .seed = 1234u + (unsigned)i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    int ok = 0, funds = 0, other = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        funds += w[i].funds;
        other += w[i].other;
    }
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(ok + funds, THREADS * OPS);
    ck_assert_int_gt(funds, 0); /* the floor was really exercised */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), ok);
    for (int i = 0; i < CUSTOMERS; i++) {
        ck_assert_int_eq(bill_balance_verify(db, ids[i]), BILL_OK);
        ck_assert_int_ge(bill_test_balance(db, ids[i]), -CREDIT);
    }
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions "
                                                "WHERE balance_after < -20.00"), 0);
}
END_TEST

BILL_TEST_MAIN("balance", 300, setup, teardown,
               test_balance__each_type, test_balance__floor_is_exact_to_the_cent,
               test_balance__bad_amounts_change_nothing, test_balance__scoping_and_permissions,
               test_balance__inside_caller_transaction,
               test_balance__concurrent_changes_keep_the_invariant);
