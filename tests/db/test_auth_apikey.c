/*
 * test_auth_apikey.c — customer API keys against a real PostgreSQL: the
 * can_create_api_keys gate, format and hashing, listing without secrets,
 * scoping between customers, immediate revocation, last_used_at throttling.
 */
#include "pg_harness.h"

#include <bill/bill.h>
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 (1800000000LL * 1000000LL)
#define SEC 1000000LL
#define C1 "cccccccc-0000-4000-8000-000000000001"
#define C2 "cccccccc-0000-4000-8000-000000000002"

static bill_db *db;
static char *url;
static const bill_actor cust1 = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = C1, .user_id = "u1"};
static const bill_actor cust2 = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = C2, .user_id = "u2"};
static const bill_actor admin = {.kind = BILL_ACTOR_ADMIN, .user_id = NULL, .username = "root"};

static void setup(void)
{
    db = bill_test_db_new_url(&url);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO customers (id, name, can_create_api_keys) VALUES"
        " ('" C1 "', 'one', true), ('" C2 "', 'two', false)"), 0);
}

static void teardown(void)
{
    bill_db_close(db);
    free(url);
}

START_TEST(test_apikey__create_resolve_list)
{
    char *key = NULL;
    bill_apikey_info k, r;
    ck_assert_int_eq(bill_apikey_create(db, &cust1, NULL, "ci", T0, &key, &k), BILL_OK);
    ck_assert_int_eq(strncmp(key, "rb_", 3), 0);
    ck_assert_int_eq(key[11], '_');
    ck_assert_int_eq(strncmp(key + 3, k.key_prefix, 8), 0);
    ck_assert_uint_eq(strlen(key), 3 + 8 + 1 + 43);
    ck_assert_str_eq(k.customer_id, C1);
    ck_assert(k.enabled);
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM api_keys WHERE key_hash = '%s' OR key_prefix = '%s'"
             " AND key_hash <> '%s'", key, key, key);
    ck_assert_int_eq(bill_test_pg_query_ll(url, q), 0);

    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + SEC, &r), BILL_OK);
    ck_assert_str_eq(r.id, k.id);
    bill_actor a;
    bill_apikey_actor(&r, &a);
    ck_assert_int_eq(a.kind, BILL_ACTOR_CUSTOMER);
    ck_assert_str_eq(a.customer_id, C1);
    ck_assert_str_eq(a.api_key_id, k.id);

    bill_apikeys list = {0};
    ck_assert_int_eq(bill_apikey_list(db, &cust1, NULL, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_uint_eq(list.meta.total, 1);
    ck_assert_str_eq(list.items[0].name, "ci");
    ck_assert_int_eq(list.items[0].last_used_at_us, T0 + SEC);
    bill_apikeys_clear(&list);
    ck_assert_int_eq(bill_apikey_list(db, &cust2, NULL, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 0);
    bill_apikeys_clear(&list);
    ck_assert_int_eq(bill_apikey_list(db, &cust2, C1, &list), BILL_ENOTFOUND);
    ck_assert_uint_eq(list.count, 0);

    /* wrong / malformed keys */
    key[strlen(key) - 1] ^= 1;
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0, &r), BILL_EUNAUTH);
    ck_assert_int_eq(bill_apikey_resolve(db, "garbage", T0, &r), BILL_EUNAUTH);
    ck_assert_int_eq(bill_apikey_resolve(db, "", T0, &r), BILL_EUNAUTH);
    free(key);
}
END_TEST

START_TEST(test_apikey__flag_required)
{
    char *key = NULL;
    ck_assert_int_eq(bill_apikey_create(db, &cust2, NULL, "x", T0, &key, NULL), BILL_EDENIED);
    ck_assert_ptr_null(key);
    ck_assert_int_eq(bill_apikey_create(db, &admin, C2, "x", T0, &key, NULL), BILL_EDENIED);
    /* customers cannot create for another customer */
    ck_assert_int_eq(bill_apikey_create(db, &cust2, C1, "x", T0, &key, NULL), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM api_keys"), 0);
    /* admin for a customer with the flag: allowed and audited */
    ck_assert_int_eq(bill_apikey_create(db, &admin, C1, "by admin", T0, &key, NULL), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM operation_logs WHERE action = 'apikey.create'"), 1);
    free(key);
}
END_TEST

START_TEST(test_apikey__revoke_is_immediate)
{
    char *key = NULL;
    bill_apikey_info k, r;
    ck_assert_int_eq(bill_apikey_create(db, &cust1, NULL, "ci", T0, &key, &k), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0, &r), BILL_OK);
    /* another customer cannot revoke it, and learns nothing */
    ck_assert_int_eq(bill_apikey_revoke(db, &cust2, k.id, T0), BILL_ENOTFOUND);
    /* a key cannot revoke keys */
    bill_actor by_key;
    bill_apikey_actor(&r, &by_key);
    ck_assert_int_eq(bill_apikey_revoke(db, &by_key, k.id, T0), BILL_EDENIED);
    char *k2 = NULL;
    ck_assert_int_eq(bill_apikey_create(db, &by_key, NULL, "minted", T0, &k2, NULL), BILL_EDENIED);

    ck_assert_int_eq(bill_apikey_revoke(db, &cust1, k.id, T0 + SEC), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + SEC, &r), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "revoked"));
    ck_assert_ptr_null(strstr(bill_error_last()->message, key));
    ck_assert_int_eq(bill_apikey_revoke(db, &cust1, k.id, T0 + 2 * SEC), BILL_OK); /* idempotent */
    bill_apikeys list = {0};
    ck_assert_int_eq(bill_apikey_list(db, &cust1, NULL, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert(!list.items[0].enabled);
    bill_apikeys_clear(&list);
    free(key);
}
END_TEST

START_TEST(test_apikey__last_used_throttled_and_expiry)
{
    char *key = NULL;
    bill_apikey_info k, r;
    ck_assert_int_eq(bill_apikey_create(db, &cust1, NULL, "ci", T0, &key, &k), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0, &r), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + 30 * SEC, &r), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT extract(epoch from last_used_at)::bigint FROM api_keys"), T0 / SEC);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + 61 * SEC, &r), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT extract(epoch from last_used_at)::bigint FROM api_keys"), T0 / SEC + 61);
    char q[200];
    snprintf(q, sizeof q, "UPDATE api_keys SET expires_at = to_timestamp(%lld)", (long long)(T0 / SEC + 100));
    ck_assert_int_eq(bill_test_pg_exec(url, q), 0);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + 99 * SEC, &r), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0 + 100 * SEC, &r), BILL_EUNAUTH);
    free(key);
}
END_TEST

BILL_TEST_MAIN("auth_apikey", 60, setup, teardown,
               test_apikey__create_resolve_list, test_apikey__flag_required,
               test_apikey__revoke_is_immediate, test_apikey__last_used_throttled_and_expiry);
