/*
 * test_auth_session.c — admin sessions against a real PostgreSQL: create,
 * resolve, idle and absolute timeouts judged by the caller's clock, the
 * once-a-minute last_seen_at bump, revocation, disabled admins.
 */
#include "pg_harness.h"

#include <bill/bill.h>
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 (1800000000LL * 1000000LL)
#define MIN (60LL * 1000000LL)
#define HOUR (60 * MIN)
#define IDLE 30   /* minutes */
#define ABS 2     /* hours */

static bill_db *db;
static char *url;
static char admin_id[64];

static void setup(void)
{
    db = bill_test_db_new_url(&url);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO admin_users (id, username, password_hash, role) VALUES "
        "('aaaaaaaa-0000-4000-8000-000000000001', 'root', 'x', 'admin')"), 0);
    snprintf(admin_id, sizeof admin_id, "aaaaaaaa-0000-4000-8000-000000000001");
}

static void teardown(void)
{
    bill_db_close(db);
    free(url);
}

START_TEST(test_session__create_and_resolve)
{
    char *tok = NULL;
    bill_session_info s;
    bill_actor a;
    ck_assert_int_eq(bill_session_create(db, admin_id, "10.0.0.1", "curl/8", ABS, T0, &tok), BILL_OK);
    ck_assert_uint_eq(strlen(tok), 43);
    ck_assert_int_eq(bill_session_resolve(db, tok, T0 + 1000, IDLE, ABS, &s), BILL_OK);
    ck_assert_str_eq(s.admin_user_id, admin_id);
    ck_assert_str_eq(s.username, "root");
    ck_assert_str_eq(s.role, "admin");
    bill_session_actor(&s, &a);
    ck_assert_int_eq(a.kind, BILL_ACTOR_ADMIN);
    ck_assert_str_eq(a.user_id, admin_id);
    /* only the hash is stored */
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM admin_sessions WHERE token_hash = '%s'", tok);
    ck_assert_int_eq(bill_test_pg_query_ll(url, q), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_sessions"), 1);
    /* unknown and malformed tokens */
    ck_assert_int_eq(bill_session_resolve(db, "nope", T0, IDLE, ABS, &s), BILL_EUNAUTH);
    ck_assert_int_eq(bill_session_resolve(db, "", T0, IDLE, ABS, &s), BILL_EUNAUTH);
    tok[0] = tok[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(bill_session_resolve(db, tok, T0, IDLE, ABS, &s), BILL_EUNAUTH);
    free(tok);
    /* unknown admin */
    ck_assert_int_eq(bill_session_create(db, "aaaaaaaa-0000-4000-8000-000000000009", NULL, NULL, ABS, T0, &tok),
                     BILL_ENOTFOUND);
    ck_assert_int_eq(bill_session_create(db, "not-a-uuid", NULL, NULL, ABS, T0, &tok), BILL_EINVALID);
}
END_TEST

START_TEST(test_session__idle_timeout)
{
    char *tok = NULL;
    bill_session_info s;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, 24, T0, &tok), BILL_OK);
    /* activity every 20 min keeps it alive past the idle limit */
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(bill_session_resolve(db, tok, T0 + i * 20 * MIN, IDLE, 24, &s), BILL_OK);
    /* then 30 min of silence ends it */
    ck_assert_int_eq(bill_session_resolve(db, tok, T0 + 100 * MIN + 30 * MIN, IDLE, 24, &s), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "idle"));
    free(tok);
}
END_TEST

START_TEST(test_session__absolute_timeout)
{
    char *tok = NULL;
    bill_session_info s;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &tok), BILL_OK);
    int64_t t;
    for (t = T0 + 10 * MIN; t < T0 + ABS * HOUR; t += 10 * MIN)
        ck_assert_int_eq(bill_session_resolve(db, tok, t, IDLE, ABS, &s), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(db, tok, T0 + ABS * HOUR, IDLE, ABS, &s), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "absolute"));
    free(tok);
}
END_TEST

START_TEST(test_session__last_seen_bumped_once_a_minute)
{
    char *tok = NULL;
    bill_session_info s;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &tok), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(db, tok, T0 + 30 * 1000000LL, IDLE, ABS, &s), BILL_OK);
    ck_assert_int_eq(s.last_seen_at_us, T0); /* < 1 min: no write */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT extract(epoch from last_seen_at)::bigint FROM admin_sessions"), T0 / 1000000);
    ck_assert_int_eq(bill_session_resolve(db, tok, T0 + 61 * 1000000LL, IDLE, ABS, &s), BILL_OK);
    ck_assert_int_eq(s.last_seen_at_us, T0 + 61 * 1000000LL);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT extract(epoch from last_seen_at)::bigint FROM admin_sessions"), T0 / 1000000 + 61);
    free(tok);
}
END_TEST

START_TEST(test_session__revoke)
{
    char *a = NULL, *b = NULL, *c = NULL;
    bill_session_info s;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &a), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &b), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &c), BILL_OK);
    ck_assert_int_eq(bill_session_revoke(db, a, T0), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(db, a, T0, IDLE, ABS, &s), BILL_EUNAUTH);
    ck_assert_int_eq(bill_session_resolve(db, b, T0, IDLE, ABS, &s), BILL_OK);
    ck_assert_int_eq(bill_session_revoke(db, "unknown", T0), BILL_OK);
    /* revoke all but c */
    ck_assert_int_eq(bill_session_revoke_user(db, admin_id, c, T0), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(db, b, T0, IDLE, ABS, &s), BILL_EUNAUTH);
    ck_assert_int_eq(bill_session_resolve(db, c, T0, IDLE, ABS, &s), BILL_OK);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_session__disabled_admin_rejected)
{
    char *tok = NULL;
    bill_session_info s;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &tok), BILL_OK);
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE admin_users SET is_active = false"), 0);
    ck_assert_int_eq(bill_session_resolve(db, tok, T0, IDLE, ABS, &s), BILL_EUNAUTH);
    free(tok);
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &tok), BILL_ENOTFOUND);
}
END_TEST

START_TEST(test_auth__purge_expired)
{
    char *live = NULL, *old = NULL, *revoked = NULL;
    bill_session_info s;
    int64_t n = -1;
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &old), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, ABS, T0, &revoked), BILL_OK);
    ck_assert_int_eq(bill_session_revoke(db, revoked, T0 + HOUR), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, admin_id, NULL, NULL, 48, T0, &live), BILL_OK);
    /* a day after the 2 h sessions ended: both go, the 48 h one stays */
    ck_assert_int_eq(bill_auth_purge_expired(db, T0 + 26 * HOUR + 1, &n), BILL_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_sessions"), 1);
    ck_assert_int_eq(bill_session_resolve(db, live, T0 + 10 * MIN, IDLE, 48, &s), BILL_OK);
    ck_assert_int_eq(bill_auth_purge_expired(db, T0 + 26 * HOUR + 1, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    free(live);
    free(old);
    free(revoked);
}
END_TEST

BILL_TEST_MAIN("auth_session", 60, setup, teardown,
               test_session__create_and_resolve, test_session__idle_timeout,
               test_session__absolute_timeout, test_session__last_seen_bumped_once_a_minute,
               test_session__revoke, test_session__disabled_admin_rejected,
               test_auth__purge_expired);
