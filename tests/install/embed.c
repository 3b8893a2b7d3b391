/*
 * embed.c — R-SHAPE-5: a program outside the tree that embeds libbill.
 *
 * It is compiled by tests/install/install_test.sh against an installed copy
 * of libbill (headers, libbill.pc, libbill.so.0 from `meson install
 * --destdir`), so it can only use what a real embedder gets: <bill/bill.h>
 * and the exported symbols. Given a database URL it migrates the schema,
 * creates a customer, recharges and deducts, checks the ledger, and makes
 * sure a refused deduction changes nothing. Prints one line per step; exits 0
 * only when every step behaved.
 */
#include <bill/bill.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *step, int rc)
{
    const bill_error *e = bill_error_last();
    fprintf(stderr, "embed: %s failed: %s (%s)\n", step, e->message, bill_error_name(rc));
    return 1;
}

int main(int argc, char **argv)
{
    bill_db *db = NULL;
    bill_customer *c = NULL;
    bill_db_options o;
    bill_money amount, balance = 0, limit = 0;
    char buf[BILL_MONEY_BUFSZ];
    int rc, status = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: embed DATABASE_URL\n");
        return 2;
    }
    bill_db_options_init(&o);
    o.url = argv[1];
    o.min_connections = 1;
    o.max_connections = 2;
    o.application_name = "libbill-embed-test";
    if ((rc = bill_db_open(&db, &o)) != BILL_OK)
        return fail("bill_db_open", rc);
    if ((rc = bill_db_migrate(db, NULL)) != BILL_OK) {
        status = fail("bill_db_migrate", rc);
        goto done;
    }

    /* An embedder acts as the system (NULL actor) or names itself. */
    bill_actor me = {.kind = BILL_ACTOR_SYSTEM, .username = "embed-test"};
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "Embedded Co", .email = "ops@embedded.test",
                              .credit_limit = 1000};
    if ((rc = bill_customer_create(db, &me, &in, &c)) != BILL_OK) {
        status = fail("bill_customer_create", rc);
        goto done;
    }
    printf("customer %s\n", c->id);

    if ((rc = bill_money_parse("100.00", &amount)) != BILL_OK ||
        (rc = bill_balance_change(db, &me, c->id, BILL_BALANCE_RECHARGE, amount, "embed-1",
                                  "first recharge", NULL)) != BILL_OK) {
        status = fail("recharge", rc);
        goto done;
    }
    if ((rc = bill_balance_change(db, &me, c->id, BILL_BALANCE_DEDUCT, 3050, NULL, "usage",
                                  NULL)) != BILL_OK) {
        status = fail("deduct", rc);
        goto done;
    }
    /* 69.50 + 10.00 credit cannot cover 80.00: refused, nothing changes */
    rc = bill_balance_change(db, &me, c->id, BILL_BALANCE_DEDUCT, 8000, NULL, NULL, NULL);
    if (rc != BILL_EFUNDS) {
        fprintf(stderr, "embed: deduct past the floor gave %s, want BILL_EFUNDS\n",
                bill_error_name(rc));
        goto done;
    }
    printf("refused: %s\n", bill_error_last()->message);
    if ((rc = bill_balance_get(db, &me, c->id, &balance, &limit)) != BILL_OK) {
        status = fail("bill_balance_get", rc);
        goto done;
    }
    if ((rc = bill_balance_verify(db, c->id)) != BILL_OK) {
        status = fail("bill_balance_verify", rc);
        goto done;
    }
    printf("balance %s\n", bill_money_format(balance, buf));
    if (balance != 6950 || limit != 1000) {
        fprintf(stderr, "embed: balance %lld / limit %lld, want 6950 / 1000\n",
                (long long)balance, (long long)limit);
        goto done;
    }
    status = 0;
done:
    bill_customer_free(c);
    bill_db_close(db);
    return status;
}
