/*
 * test_admin_user.c — admin users against a real PostgreSQL: create and its
 * validation, duplicates, login verification (ok / wrong / disabled / unknown
 * all alike), imported bcrypt hashes upgraded to argon2id, bootstrap admin,
 * permission checks, and the password helpers of password.h.
 */
#include "pg_harness.h"

#include "check_main.h"
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "root"};

START_TEST(test_admin_user__create_get_list)
{
    bill_db *db = bill_test_db_new();
    bill_admin_user *u = NULL, *g = NULL;
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "alice", "correct horse", "admin",
                                            "alice@example.com", "Alice", &u), BILL_OK);
    ck_assert_str_eq(u->username, "alice");
    ck_assert_str_eq(u->role, "admin");
    ck_assert_str_eq(u->email, "alice@example.com");
    ck_assert(u->is_active);
    ck_assert_int_eq(u->last_login_at, 0);
    ck_assert_int_gt(u->created_at, 0);

    ck_assert_int_eq(bill_admin_user_get(db, &cli, "alice", &g), BILL_OK);
    ck_assert_str_eq(g->id, u->id);
    bill_admin_user_free(g);
    ck_assert_int_eq(bill_admin_user_get(db, &cli, u->id, &g), BILL_OK);
    ck_assert_str_eq(g->username, "alice");
    bill_admin_user_free(g);
    g = NULL;
    ck_assert_int_eq(bill_admin_user_get(db, &cli, "nobody", &g), BILL_ENOTFOUND);
    ck_assert_ptr_null(g);

    /* role defaults to operator */
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "bob", "password123", NULL, NULL, NULL,
                                            NULL), BILL_OK);
    bill_admin_users l;
    bill_page p = {1, 1};
    ck_assert_int_eq(bill_admin_user_list(db, &cli, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.meta.total, 2);
    ck_assert_uint_eq(l.meta.total_pages, 2);
    ck_assert_str_eq(l.items[0].username, "alice");
    bill_admin_users_clear(&l);
    p.page = 2;
    ck_assert_int_eq(bill_admin_user_list(db, &cli, &p, &l), BILL_OK);
    ck_assert_str_eq(l.items[0].username, "bob");
    ck_assert_str_eq(l.items[0].role, "operator");
    bill_admin_users_clear(&l);

    bill_admin_user_free(u);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__validation_names_the_field)
{
    bill_db *db = bill_test_db_new();
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "ab", "password123", NULL, NULL, NULL, NULL),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "username");
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "bad name", "password123", NULL, NULL, NULL,
                                            NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "username");
    char longname[70];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    ck_assert_int_eq(bill_admin_user_create(db, &cli, longname, "password123", NULL, NULL, NULL,
                                            NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "carol", "short", NULL, NULL, NULL, NULL),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "password");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "at least 6"));
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "carol", "password123", "root", NULL, NULL,
                                            NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "role");
    /* "a.b-c_d" is a fine username */
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "a.b-c_d", "password123", "support", NULL,
                                            NULL, NULL), BILL_OK);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__duplicate_is_conflict)
{
    bill_db *db = bill_test_db_new();
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "dave", "password123", NULL, NULL, NULL,
                                            NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "dave", "password456", NULL, NULL, NULL,
                                            NULL), BILL_ECONFLICT);
    ck_assert_str_eq(bill_error_last()->field, "username");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "dave"));
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__verify_ok_wrong_disabled_unknown)
{
    bill_db *db = bill_test_db_new();
    bill_admin_user *u = NULL;
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "erin", "password123", NULL, NULL, NULL,
                                            NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "password123", &u), BILL_OK);
    ck_assert_str_eq(u->username, "erin");
    ck_assert_int_gt(u->last_login_at, 0);
    bill_admin_user_free(u);
    u = NULL;

    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "password124", &u), BILL_EUNAUTH);
    ck_assert_ptr_null(u);
    char wrong_msg[256];
    snprintf(wrong_msg, sizeof wrong_msg, "%s", bill_error_last()->message);

    ck_assert_int_eq(bill_admin_user_verify(db, "nobody", "password123", &u), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, wrong_msg);

    ck_assert_int_eq(bill_admin_user_set_active(db, &cli, "erin", false), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "password123", &u), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, wrong_msg);
    ck_assert_ptr_null(u);

    ck_assert_int_eq(bill_admin_user_set_active(db, &cli, "erin", true), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "password123", NULL), BILL_OK);

    /* new password replaces the old one */
    ck_assert_int_eq(bill_admin_user_set_password(db, &cli, "erin", "new password!"), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "password123", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_admin_user_verify(db, "erin", "new password!", NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_password(db, &cli, "erin", "short"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "new_password");
    ck_assert_int_eq(bill_admin_user_set_password(db, &cli, "ghost", "long enough"),
                     BILL_ENOTFOUND);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__bcrypt_import_is_rehashed)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof *cd);
    ck_assert_ptr_nonnull(crypt_gensalt_rn("$2b$", 5, NULL, 0, salt, sizeof salt));
    const char *h = crypt_r("legacy-pass-1", salt, cd);
    ck_assert_ptr_nonnull(h);
    ck_assert(strncmp(h, "$2b$05$", 7) == 0);

    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO admin_users (username, password_hash, role) VALUES ('frank', '%s', "
             "'admin')", h);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    free(cd);

    ck_assert_int_eq(bill_admin_user_verify(db, "frank", "legacy-pass-2", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_users WHERE "
                                                "username = 'frank' AND password_hash LIKE '$2b$%'"),
                     1);
    ck_assert_int_eq(bill_admin_user_verify(db, "frank", "legacy-pass-1", NULL), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_users WHERE "
                                                "username = 'frank' AND "
                                                "password_hash LIKE '$argon2id$%'"),
                     1);
    /* and the upgraded hash still verifies */
    ck_assert_int_eq(bill_admin_user_verify(db, "frank", "legacy-pass-1", NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "frank", "legacy-pass-x", NULL), BILL_EUNAUTH);
    free(url);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__bootstrap_never_overwrites)
{
    bill_db *db = bill_test_db_new();
    bool created = false;
    ck_assert_int_eq(bill_admin_user_ensure_bootstrap(db, "admin", "bootstrap-pw", &created),
                     BILL_OK);
    ck_assert(created);
    ck_assert_int_eq(bill_admin_user_ensure_bootstrap(db, "admin", "another-pw", &created),
                     BILL_OK);
    ck_assert(!created);
    ck_assert_int_eq(bill_admin_user_verify(db, "admin", "bootstrap-pw", NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "admin", "another-pw", NULL), BILL_EUNAUTH);
    bill_admin_user *u = NULL;
    ck_assert_int_eq(bill_admin_user_get(db, NULL, "admin", &u), BILL_OK);
    ck_assert_str_eq(u->role, "admin");
    bill_admin_user_free(u);
    ck_assert_int_eq(bill_admin_user_ensure_bootstrap(db, "admin", "short", &created),
                     BILL_EINVALID);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__bcrypt_variants_verify)
{
    static const char *const prefixes[] = {"$2a$", "$2y$", "$2b$"};
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    for (size_t i = 0; i < 3; i++) {
        char salt[CRYPT_GENSALT_OUTPUT_SIZE], sql[512], user[16];
        struct crypt_data *cd = calloc(1, sizeof *cd);
        ck_assert_ptr_nonnull(crypt_gensalt_rn(prefixes[i], 4, NULL, 0, salt, sizeof salt));
        const char *h = crypt_r("imported-pw", salt, cd);
        ck_assert(strncmp(h, prefixes[i], 4) == 0);
        snprintf(user, sizeof user, "legacy%zu", i);
        snprintf(sql, sizeof sql,
                 "INSERT INTO admin_users (username, password_hash) VALUES ('%s', '%s')", user, h);
        ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
        free(cd);
        ck_assert_int_eq(bill_admin_user_verify(db, user, "imported-pX", NULL), BILL_EUNAUTH);
        ck_assert_int_eq(bill_admin_user_verify(db, user, "imported-pw", NULL), BILL_OK);
    }
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_users WHERE "
                                                "password_hash LIKE '$argon2id$%'"), 3);
    free(url);
    bill_db_close(db);
}
END_TEST

typedef struct {
    bill_db *db;
    int rc;
    bool created;
} boot_arg;

static void *boot(void *p)
{
    boot_arg *a = p;
    a->rc = bill_admin_user_ensure_bootstrap(a->db, "admin", "bootstrap-pw", &a->created);
    return NULL;
}

START_TEST(test_admin_user__bootstrap_concurrent_starts)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    boot_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (boot_arg){.db = db};
        ck_assert_int_eq(pthread_create(&th[i], NULL, boot, &a[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(a[i].rc, BILL_OK);
        created += a[i].created;
    }
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM admin_users"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs WHERE "
                                                "action = 'admin_user.bootstrap'"), 1);
    free(url);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__permissions)
{
    bill_db *db = bill_test_db_new();
    bill_admin_user *op = NULL;
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "oscar", "password123", "operator", NULL,
                                            NULL, &op), BILL_OK);
    bill_actor oper = {.kind = BILL_ACTOR_ADMIN, .user_id = op->id, .username = "oscar",
                       .role = "operator"};
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER,
                       .customer_id = "00000000-0000-4000-8000-000000000001"};
    bill_admin_users l;
    ck_assert_int_eq(bill_admin_user_create(db, &oper, "mallory", "password123", "admin", NULL,
                                            NULL, NULL), BILL_EDENIED);
    ck_assert_int_eq(bill_admin_user_list(db, &cust, NULL, &l), BILL_EDENIED);
    ck_assert_int_eq(bill_admin_user_set_active(db, &oper, "oscar", true), BILL_EDENIED);
    /* but an operator may change its own password */
    ck_assert_int_eq(bill_admin_user_set_password(db, &oper, "oscar", "my new password"),
                     BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "oscar", "my new password", NULL), BILL_OK);
    bill_admin_user_free(op);
    bill_db_close(db);
}
END_TEST

START_TEST(test_admin_user__last_admin_is_kept_and_delete)
{
    bill_db *db = bill_test_db_new();
    bill_admin_user *root = NULL;
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "root1", "password123", "admin", NULL, NULL,
                                            &root), BILL_OK);
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "helper", "password123", "operator", NULL,
                                            NULL, NULL), BILL_OK);
    /* the only active admin can be neither disabled, demoted nor deleted */
    ck_assert_int_eq(bill_admin_user_set_active(db, &cli, "root1", false), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "last active admin"));
    ck_assert_int_eq(bill_admin_user_set_role(db, &cli, "root1", "support"), BILL_ESTATE);
    ck_assert_int_eq(bill_admin_user_delete(db, &cli, "root1"), BILL_ESTATE);
    /* with a second admin it can */
    ck_assert_int_eq(bill_admin_user_set_role(db, &cli, "helper", "admin"), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_role(db, &cli, "root1", "support"), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_active(db, &cli, "helper", false), BILL_ESTATE);
    /* an admin cannot delete itself; another admin can */
    bill_actor self = {.kind = BILL_ACTOR_ADMIN, .user_id = root->id, .username = "root1",
                       .role = "admin"};
    ck_assert_int_eq(bill_admin_user_delete(db, &self, root->id), BILL_EINVALID);
    ck_assert_int_eq(bill_admin_user_delete(db, &cli, root->id), BILL_OK);
    bill_admin_user *g = NULL;
    ck_assert_int_eq(bill_admin_user_get(db, &cli, "root1", &g), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_admin_user_delete(db, &cli, "root1"), BILL_ENOTFOUND);
    bill_admin_user_free(root);
    bill_db_close(db);
}
END_TEST

/* IdentityService.ChangePassword for an admin is one libbill call: policy,
 * verify, set, revoke the other sessions, audit. */
START_TEST(test_admin_user__change_password_is_one_call)
{
    bill_db *db = bill_test_db_new();
    bill_admin_user *u = NULL, *v = NULL;
    char *keep = NULL, *other = NULL;
    bill_session_info si;
    int64_t now = bill_time_now();
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "carol", "correct horse", "admin", NULL,
                                            NULL, &u), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, u->id, NULL, NULL, 168, now, &keep), BILL_OK);
    ck_assert_int_eq(bill_session_create(db, u->id, NULL, NULL, 168, now, &other), BILL_OK);
    bill_actor me = {.kind = BILL_ACTOR_ADMIN, .user_id = u->id, .username = "carol",
                     .role = "admin"};

    /* the policy first, then the current password; nothing changes */
    ck_assert_int_eq(bill_admin_user_change_password(db, &me, "correct horse", "short", keep, now),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "new_password");
    ck_assert_int_eq(bill_admin_user_change_password(db, &me, "wrong horse", "new horse 42", keep,
                                                     now), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->field, "old_password");
    ck_assert_str_eq(bill_error_last()->message, "current password is wrong");
    ck_assert_int_eq(bill_session_resolve(db, other, now, 1440, 168, &si), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "carol", "correct horse", NULL), BILL_OK);

    /* only an admin user changes its own password this way */
    ck_assert_int_eq(bill_admin_user_change_password(db, &cli, "correct horse", "new horse 42",
                                                     NULL, now), BILL_EDENIED);

    ck_assert_int_eq(bill_admin_user_change_password(db, &me, "correct horse", "new horse 42", keep,
                                                     now + 1000000), BILL_OK);
    ck_assert_int_eq(bill_admin_user_verify(db, "carol", "correct horse", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_admin_user_verify(db, "carol", "new horse 42", &v), BILL_OK);
    /* the session that asked stays, every other one is revoked */
    ck_assert_int_eq(bill_session_resolve(db, keep, now + 2000000, 1440, 168, &si), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(db, other, now + 2000000, 1440, 168, &si),
                     BILL_EUNAUTH);
    /* audited, without the hash */
    bill_oplog_entries l;
    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION,
                           .action = "admin_user.change_password"};
    ck_assert_int_eq(bill_oplog_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].target_id, u->id);
    ck_assert_str_eq(l.items[0].actor_name, "carol");
    bill_oplog_entries_clear(&l);

    free(keep);
    free(other);
    bill_admin_user_free(u);
    bill_admin_user_free(v);
    bill_db_close(db);
}
END_TEST

START_TEST(test_password__helpers)
{
    char h[BILL_PASSWORD_HASH_BUFSZ];
    bool rehash = true;
    ck_assert_int_eq(bill_password_check_policy("12345", NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_password_check_policy("123456", NULL), BILL_OK);
    /* 5 characters but 15 bytes: characters count, not bytes */
    ck_assert_int_eq(bill_password_check_policy("密码密码密", "pw"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "pw");
    ck_assert_int_eq(bill_password_check_policy("密码密码密码", "pw"), BILL_OK);
    ck_assert_int_eq(bill_password_hash("s3cret-pass", h), BILL_OK);
    ck_assert(strncmp(h, "$argon2id$", 10) == 0);
    ck_assert_int_eq(bill_password_verify("s3cret-pass", h, &rehash), BILL_OK);
    ck_assert(!rehash);
    ck_assert_int_eq(bill_password_verify("s3cret-pasS", h, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_password_verify("s3cret-pass", "", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_password_verify("s3cret-pass", "plaintext", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_password_verify("s3cret-pass", "$2b$05$garbage", NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_password_verify_dummy("x"), BILL_EUNAUTH);
}
END_TEST

BILL_TEST_MAIN("admin_user", 120, NULL, NULL,
               test_admin_user__create_get_list, test_admin_user__validation_names_the_field,
               test_admin_user__duplicate_is_conflict,
               test_admin_user__verify_ok_wrong_disabled_unknown,
               test_admin_user__bcrypt_import_is_rehashed,
               test_admin_user__bootstrap_never_overwrites,
               test_admin_user__bcrypt_variants_verify,
               test_admin_user__bootstrap_concurrent_starts, test_admin_user__permissions,
               test_admin_user__last_admin_is_kept_and_delete,
               test_admin_user__change_password_is_one_call, test_password__helpers);
