/*
 * test_auth_customer.c — customer users against a real PostgreSQL:
 * registration (customer + user in one transaction, validation, conflicts),
 * verification codes (TTL, cooldown, attempts, event row), login, password
 * change, and refresh-token rotation with reuse detection.
 */
#include "pg_harness.h"
#include "check_main.h"

#include <bill/bill.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 (1800000000LL * 1000000LL)
#define SEC 1000000LL

static bill_db *db;
static char *url;

static void setup(void)
{
    db = bill_test_db_new_url(&url);
    ck_assert_ptr_nonnull(db);
}

static void teardown(void)
{
    bill_db_close(db);
    free(url);
}

static bill_register_params params(const char *user, const char *email)
{
    bill_register_params p = {.version = BILL_REGISTER_PARAMS_VERSION,
                              .username = user,
                              .email = email,
                              .display_name = "Alice A.",
                              .password = "correct horse"};
    return p;
}

static bill_customer_user *reg(const char *user, const char *email)
{
    bill_register_params p = params(user, email);
    bill_customer_user *u = NULL;
    ck_assert_int_eq(bill_customer_register(db, &p, T0, &u), BILL_OK);
    return u;
}

START_TEST(test_register__creates_customer_and_user)
{
    bill_customer_user *u = reg("alice", "Alice@Example.com");
    ck_assert_str_eq(u->username, "alice");
    ck_assert_str_eq(u->display_name, "Alice A.");
    ck_assert_str_eq(u->role, "owner");
    ck_assert(u->is_active);
    ck_assert(!u->email_verified);
    ck_assert_int_eq(u->created_at_us, T0);
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM customers WHERE id = '%s' AND balance = 0.00"
             " AND name = 'Alice A.' AND NOT can_create_api_keys", u->customer_id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, q), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM customer_users WHERE password_hash LIKE '$argon2id$%'"), 1);
    bill_customer_user_free(u);
}
END_TEST

START_TEST(test_register__conflicts_and_validation)
{
    bill_customer_user_free(reg("alice", "alice@example.com"));
    bill_register_params p = params("alice", "other@example.com");
    ck_assert_int_eq(bill_customer_register(db, &p, T0, NULL), BILL_ECONFLICT);
    ck_assert_str_eq(bill_error_last()->message, "username already taken");
    p = params("alice2", "ALICE@example.com");
    ck_assert_int_eq(bill_customer_register(db, &p, T0, NULL), BILL_ECONFLICT);
    ck_assert_str_eq(bill_error_last()->field, "email");

    struct { const char *user, *email, *pw, *field; } bad[] = {
        {"al", "a@b.co", "correct horse", "username"},
        {"al ice", "a@b.co", "correct horse", "username"},
        {"bob", "not-an-email", "correct horse", "email"},
        {"bob", "", "correct horse", "email"},
        {"bob", "a@b.co", "short", "password"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = params(bad[i].user, bad[i].email);
        p.password = bad[i].pw;
        ck_assert_int_eq(bill_customer_register(db, &p, T0, NULL), BILL_EINVALID);
        ck_assert_str_eq(bill_error_last()->field, bad[i].field);
    }
    /* nothing half-created */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM customers"), 1);
}
END_TEST

START_TEST(test_register__with_verification_code)
{
    char *code = NULL;
    int retry = -1;
    bill_register_params p = params("carol", "carol@example.com");
    p.require_verification = true;
    ck_assert_int_eq(bill_customer_register(db, &p, T0, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "verification_code");

    ck_assert_int_eq(bill_verification_code_send(db, "carol@example.com", "register", 600, 60, T0,
                                                 &retry, &code), BILL_OK);
    ck_assert_int_eq(retry, 0);
    ck_assert_uint_eq(strlen(code), 6);
    /* a durable notification event carries it to the notifier */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE kind = 'notify.verification_code'"
        " AND payload->>'email' = 'carol@example.com' AND length(payload->>'code') = 6"), 1);
    /* the code is not stored in clear */
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM verification_codes WHERE code_hash LIKE '%%%s%%'", code);
    ck_assert_int_eq(bill_test_pg_query_ll(url, q), 0);

    char wrong[7];
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    p.verification_code = wrong;
    ck_assert_int_eq(bill_customer_register(db, &p, T0, NULL), BILL_EINVALID);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "wrong"));
    p.verification_code = code;
    bill_customer_user *u = NULL;
    ck_assert_int_eq(bill_customer_register(db, &p, T0 + SEC, &u), BILL_OK);
    ck_assert(u->email_verified);
    bill_customer_user_free(u);
    /* used up */
    ck_assert_int_eq(bill_verification_code_check(db, "carol@example.com", "register", code, T0), BILL_EINVALID);
    free(code);
}
END_TEST

START_TEST(test_verification__cooldown_ttl_attempts)
{
    char *code = NULL;
    int retry = 0;
    ck_assert_int_eq(bill_verification_code_send(db, "d@example.com", "register", 600, 60, T0, &retry, &code), BILL_OK);
    free(code);
    code = NULL;
    ck_assert_int_eq(bill_verification_code_send(db, "D@example.com", "register", 600, 60, T0 + 20 * SEC, &retry, &code),
                     BILL_ELIMIT);
    ck_assert_int_eq(retry, 40);
    ck_assert_ptr_null(code);
    /* other purpose is independent */
    ck_assert_int_eq(bill_verification_code_send(db, "d@example.com", "reset_password", 600, 60, T0, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_verification_code_send(db, "d@example.com", "register", 600, 60, T0 + 60 * SEC, &retry, &code),
                     BILL_OK);
    /* TTL: 600 s after sending it is dead */
    ck_assert_int_eq(bill_verification_code_check(db, "d@example.com", "register", code, T0 + 660 * SEC), BILL_EINVALID);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "expired"));
    free(code);

    /* attempts: 5 wrong tries kill the code even for the right value after */
    ck_assert_int_eq(bill_verification_code_send(db, "e@example.com", "register", 600, 60, T0, NULL, &code), BILL_OK);
    char wrong[7];
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 7) % 1000000);
    for (int i = 0; i < BILL_VERIFICATION_MAX_ATTEMPTS; i++)
        ck_assert_int_eq(bill_verification_code_check(db, "e@example.com", "register", wrong, T0), BILL_EINVALID);
    ck_assert_int_eq(bill_verification_code_check(db, "e@example.com", "register", code, T0), BILL_EINVALID);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "too many"));
    free(code);

    ck_assert_int_eq(bill_verification_code_send(db, "bad", "register", 600, 60, T0, NULL, NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_verification_code_send(db, "x@example.com", "other", 600, 60, T0, NULL, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "purpose");
}
END_TEST

START_TEST(test_login__verify_and_uniform_failures)
{
    bill_customer_user *u = reg("alice", "alice@example.com"), *v = NULL;
    ck_assert_int_eq(bill_customer_user_verify(db, "alice", "correct horse", T0, &v), BILL_OK);
    ck_assert_str_eq(v->id, u->id);
    bill_customer_user_free(v);
    v = NULL;
    ck_assert_int_eq(bill_customer_user_verify(db, "ALICE@example.com", "correct horse", T0, &v), BILL_OK);
    bill_customer_user_free(v);
    v = NULL;
    ck_assert_int_eq(bill_customer_user_verify(db, "alice", "wrong horse", T0, &v), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "invalid username or password");
    ck_assert_int_eq(bill_customer_user_verify(db, "nobody", "correct horse", T0, &v), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "invalid username or password");
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE customer_users SET is_active = false"), 0);
    ck_assert_int_eq(bill_customer_user_verify(db, "alice", "correct horse", T0, &v), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "invalid username or password");
    ck_assert_ptr_null(v);
    bill_customer_user_free(u);
}
END_TEST

START_TEST(test_refresh__rotation_and_reuse_revokes_family)
{
    bill_customer_user *u = reg("alice", "alice@example.com");
    char *t1 = NULL, *t2 = NULL, *t3 = NULL, *x = NULL, *other = NULL;
    bill_refresh_result r;
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t1, &r), BILL_OK);
    ck_assert_str_eq(r.customer_id, u->customer_id);
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &other, NULL), BILL_OK); /* 2nd device */
    ck_assert_int_eq(bill_refresh_token_rotate(db, t1, T0 + SEC, &t2, &r), BILL_OK);
    ck_assert_str_ne(t1, t2);
    ck_assert_str_eq(r.customer_user_id, u->id);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t2, T0 + 2 * SEC, &t3, NULL), BILL_OK);
    /* replay the first token: reuse -> the whole family dies */
    ck_assert_int_eq(bill_refresh_token_rotate(db, t1, T0 + 3 * SEC, &x, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "already used"));
    ck_assert_ptr_null(x);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t3, T0 + 4 * SEC, &x, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "revoked"));
    /* the other device's family is untouched */
    ck_assert_int_eq(bill_refresh_token_rotate(db, other, T0 + 5 * SEC, &x, NULL), BILL_OK);
    free(x);
    x = NULL;
    ck_assert_int_eq(bill_refresh_token_rotate(db, "rt_garbage", T0, &x, NULL), BILL_EUNAUTH);
    free(t1);
    free(t2);
    free(t3);
    free(other);
    bill_customer_user_free(u);
}
END_TEST

typedef struct {
    const char *token;
    int rc;
    char *out;
} rotate_arg;

static void *rotate_thread(void *p)
{
    rotate_arg *a = p;
    a->rc = bill_refresh_token_rotate(db, a->token, T0 + SEC, &a->out, NULL);
    return NULL;
}

/* Two clients racing with the same token: the row lock lets exactly one
 * rotate; the other is a reuse and takes the whole family down. */
START_TEST(test_refresh__concurrent_rotation_is_reuse)
{
    bill_customer_user *u = reg("alice", "alice@example.com");
    char *t1 = NULL, *x = NULL;
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t1, NULL), BILL_OK);
    rotate_arg a = {t1, 0, NULL}, b = {t1, 0, NULL};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, rotate_thread, &a);
    pthread_create(&tb, NULL, rotate_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq((a.rc == BILL_OK) + (b.rc == BILL_OK), 1);
    ck_assert_int_eq((a.rc == BILL_EUNAUTH) + (b.rc == BILL_EUNAUTH), 1);
    const char *winner = a.rc == BILL_OK ? a.out : b.out;
    ck_assert_int_eq(bill_refresh_token_rotate(db, winner, T0 + 2 * SEC, &x, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL"), 0);
    free(a.out);
    free(b.out);
    free(t1);
    bill_customer_user_free(u);
}
END_TEST

START_TEST(test_refresh__expiry_and_logout)
{
    bill_customer_user *u = reg("alice", "alice@example.com");
    char *t1 = NULL, *t2 = NULL, *x = NULL;
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t1, NULL), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t1, T0 + BILL_REFRESH_TTL_SECS * SEC, &x, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "expired"));
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t2, NULL), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_revoke_family(db, t2, T0), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t2, T0, &x, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_refresh_token_revoke_family(db, "unknown", T0), BILL_OK);
    /* by family id, scoped to the user */
    char *t3 = NULL;
    bill_refresh_result r;
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t3, &r), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_revoke_user_family(db, "11111111-1111-4111-8111-111111111111",
                                                           r.family_id, T0), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t3, T0, &x, NULL), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_revoke_user_family(db, u->id, r.family_id, T0), BILL_OK);
    char *y = NULL;
    ck_assert_int_eq(bill_refresh_token_rotate(db, x, T0, &y, NULL), BILL_EUNAUTH);
    ck_assert_ptr_null(y);
    free(x);
    free(t3);
    free(t1);
    free(t2);
    bill_customer_user_free(u);
}
END_TEST

START_TEST(test_change_password__checks_old_and_revokes_tokens)
{
    bill_customer_user *u = reg("alice", "alice@example.com");
    char *t1 = NULL, *x = NULL;
    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &t1, NULL), BILL_OK);
    ck_assert_int_eq(bill_customer_user_change_password(db, u->id, "wrong", "new password 1", T0), BILL_EUNAUTH);
    ck_assert_int_eq(bill_customer_user_change_password(db, u->id, "correct horse", "short", T0), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "new_password");
    ck_assert_int_eq(bill_customer_user_change_password(db, u->id, "correct horse", "new password 1", T0), BILL_OK);
    ck_assert_int_eq(bill_customer_user_verify(db, "alice", "correct horse", T0, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_customer_user_verify(db, "alice", "new password 1", T0, NULL), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_rotate(db, t1, T0, &x, NULL), BILL_EUNAUTH);
    free(t1);
    bill_customer_user_free(u);
}
END_TEST

/* Issue 8, defect 4: a suspended or closed customer loses every path at
 * once — login, refresh, password change, API keys, and the domain calls a
 * JWT issued before the suspension reaches — while the catalog stays open.
 * The statuses are set as an admin would (bill_customer_update). */
static void set_status(const char *cid, const char *status)
{
    const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .status = status};
    bill_customer *c = NULL;
    ck_assert_int_eq(bill_customer_update(db, &cli, cid, &in, BILL_CUSTOMER_SET_STATUS, &c),
                     BILL_OK);
    ck_assert_str_eq(c->status, status);
    bill_customer_free(c);
}

START_TEST(test_access__suspended_and_closed_customers_refused_everywhere)
{
    bill_customer_user *u = reg("sam", "sam@example.com"), *v = NULL;
    char *rt = NULL, *rt2 = NULL, *key = NULL, *key2 = NULL;
    bill_refresh_result rr;
    bill_actor jwt = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = u->customer_id,
                      .user_id = u->id};
    const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};
    bill_money bal = 0;
    bill_orders ol;
    bill_products pl;
    bill_apikey_info k;
    char sql[200];

    ck_assert_int_eq(bill_refresh_token_issue(db, u->id, T0, &rt, &rr), BILL_OK);
    snprintf(sql, sizeof sql, "UPDATE customers SET can_create_api_keys = true WHERE id = '%s'",
             u->customer_id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_apikey_create(db, &jwt, NULL, "k", 0, &key, NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_get(db, &jwt, u->customer_id, &bal, NULL), BILL_OK);

    static const char *const statuses[] = {"suspended", "closed"};
    for (int i = 0; i < 2; i++) {
        set_status(u->customer_id, statuses[i]);
        /* Login: the right password is refused with the reason, a wrong one
         * says only what it always says. */
        ck_assert_int_eq(bill_customer_user_verify(db, "sam", "correct horse", T0, &v),
                         BILL_EDENIED);
        ck_assert_ptr_nonnull(strstr(bill_error_last()->message, statuses[i]));
        ck_assert_ptr_null(v);
        ck_assert_int_eq(bill_customer_user_verify(db, "sam", "wrong horse", T0, NULL),
                         BILL_EUNAUTH);
        ck_assert_str_eq(bill_error_last()->message, "invalid username or password");
        ck_assert_int_eq(bill_refresh_token_rotate(db, rt, T0 + SEC, &rt2, &rr), BILL_EDENIED);
        ck_assert_ptr_null(rt2);
        ck_assert_int_eq(bill_customer_user_change_password(db, u->id, "correct horse",
                                                            "new horse 1", T0), BILL_EDENIED);
        ck_assert_int_eq(bill_apikey_resolve(db, key, T0, &k), BILL_EDENIED);
        /* A JWT issued before: every domain call is refused at once. */
        ck_assert_int_eq(bill_balance_get(db, &jwt, u->customer_id, &bal, NULL), BILL_EDENIED);
        ck_assert_ptr_nonnull(strstr(bill_error_last()->message, statuses[i]));
        ck_assert_int_eq(bill_order_list(db, &jwt, NULL, NULL, &ol), BILL_EDENIED);
        ck_assert_int_eq(bill_order_pay(db, NULL, &jwt, "00000000-0000-4000-8000-000000000001",
                                        NULL, NULL), BILL_EDENIED);
        ck_assert_int_eq(bill_apikey_create(db, &jwt, NULL, "k2", 0, &key2, NULL), BILL_EDENIED);
        ck_assert_ptr_null(key2);
        /* The catalog stays public; staff are not affected. */
        ck_assert_int_eq(bill_product_list(db, &jwt, NULL, NULL, &pl), BILL_OK);
        bill_products_clear(&pl);
        ck_assert_int_eq(bill_balance_get(db, &cli, u->customer_id, &bal, NULL), BILL_OK);
        ck_assert_int_eq(bill_customer_status_check(u->customer_id, statuses[i]), BILL_EDENIED);
        ck_assert_int_eq(bill_error_grpc_status(BILL_EDENIED), 7); /* PERMISSION_DENIED */
    }
    /* Reactivated: the same token, key and refresh token work again. */
    set_status(u->customer_id, "active");
    ck_assert_int_eq(bill_balance_get(db, &jwt, u->customer_id, &bal, NULL), BILL_OK);
    ck_assert_int_eq(bill_apikey_resolve(db, key, T0, &k), BILL_OK);
    ck_assert_int_eq(bill_refresh_token_rotate(db, rt, T0 + SEC, &rt2, &rr), BILL_OK);
    ck_assert_int_eq(bill_customer_user_verify(db, "sam", "correct horse", T0, &v), BILL_OK);
    ck_assert_str_eq(v->customer_status, "active");
    bill_customer_user_free(v);
    /* A disabled user behind a still-valid JWT: not authenticated. */
    snprintf(sql, sizeof sql, "UPDATE customer_users SET is_active = false WHERE id = '%s'",
             u->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_order_list(db, &jwt, NULL, NULL, &ol), BILL_EUNAUTH);
    ck_assert_int_eq(bill_customer_status_check(NULL, "frozen"), BILL_EDENIED);
    free(rt);
    free(rt2);
    free(key);
    bill_customer_user_free(u);
}
END_TEST

/* Issue 8: the front end's purposes; "register" is registration. */
START_TEST(test_verification__purpose_vocabulary_and_alias)
{
    char *code = NULL;
    int retry = 0;
    ck_assert_int_eq(bill_verification_code_send(db, "v@example.com", "register", 600, 60, T0,
                                                 &retry, &code), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM verification_codes "
                                                "WHERE purpose = 'registration'"), 1);
    /* the alias, the name and the default all mean the same code */
    ck_assert_int_eq(bill_verification_code_send(db, "v@example.com", "registration", 600, 60,
                                                 T0 + SEC, &retry, NULL), BILL_ELIMIT);
    ck_assert_int_eq(bill_verification_code_send(db, "v@example.com", "", 600, 60, T0 + SEC,
                                                 &retry, NULL), BILL_ELIMIT);
    ck_assert_int_eq(bill_verification_code_check(db, "v@example.com", "registration", code, T0),
                     BILL_OK);
    ck_assert_int_eq(bill_verification_code_send(db, "v@example.com", "reset_password", 600, 60,
                                                 T0, &retry, NULL), BILL_OK);
    ck_assert_int_eq(bill_verification_code_send(db, "v@example.com", "signup", 600, 60, T0,
                                                 &retry, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "purpose");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "registration, reset_password"));
    free(code);
}
END_TEST

BILL_TEST_MAIN("auth_customer", 90, setup, teardown,
               test_register__creates_customer_and_user, test_register__conflicts_and_validation,
               test_register__with_verification_code, test_verification__cooldown_ttl_attempts,
               test_login__verify_and_uniform_failures,
               test_refresh__rotation_and_reuse_revokes_family,
               test_refresh__concurrent_rotation_is_reuse, test_refresh__expiry_and_logout,
               test_change_password__checks_old_and_revokes_tokens,
               test_access__suspended_and_closed_customers_refused_everywhere,
               test_verification__purpose_vocabulary_and_alias);
