/*
 * test_cluster.c — the instance registry and leader roles (cluster.h)
 * against a real PostgreSQL, on injected clocks: two handles on one
 * database play two bill-servers. Each lease, liveness and expiry edge is
 * tried at the second before and the second of its end.
 */
#include "check_main.h"
#include "db_fixture.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S BILL_USEC_PER_SEC

/* A second pool on the same database with its own clock. */
static bill_db *open_on(const char *url, int64_t *clock)
{
    bill_db *db = bill_test_db_open(url, 0, 4);
    bill_db_set_clock(db, bill_test_clock_fixed, clock);
    return db;
}

static bill_cluster *join(bill_db *db, int port)
{
    bill_cluster_options o;
    bill_cluster_options_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.sw_version = "9.9.9";
    o.hostname = "node-test";
    bill_cluster *c = NULL;
    ck_assert_int_eq(bill_cluster_join(&c, db, &o), BILL_OK);
    return c;
}

static const char *const roles_billing[] = {BILL_ROLE_BILLING, NULL};

START_TEST(test_cluster__join_shows_in_status)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    int64_t now = bill_test_at("2030-01-01T00:00:00Z");
    bill_db_set_clock(db, bill_test_clock_fixed, &now);
    bill_cluster *c = join(db, 50061);
    ck_assert_int_eq(strlen(bill_cluster_id(c)), 36);
    ck_assert_int_eq(bill_cluster_set_state(c, BILL_CLUSTER_SERVING), BILL_OK);

    bill_cluster_status st;
    ck_assert_int_eq(bill_cluster_status_get(db, 0, &st), BILL_OK);
    ck_assert_int_eq(st.members_count, 1);
    ck_assert_str_eq(st.members[0].id, bill_cluster_id(c));
    ck_assert_str_eq(st.members[0].host, "127.0.0.1");
    ck_assert_int_eq(st.members[0].port, 50061);
    ck_assert_str_eq(st.members[0].sw_version, "9.9.9");
    ck_assert_str_eq(st.members[0].hostname, "node-test");
    ck_assert_str_eq(st.members[0].state, "serving");
    ck_assert_int_eq(st.members[0].pid, getpid());
    ck_assert_int_eq(st.members[0].started_at, now);
    ck_assert(st.members[0].alive);
    ck_assert_int_eq(st.members[0].roles_count, 0);
    ck_assert_int_eq(st.now, now);
    bill_cluster_status_clear(&st);

    int64_t alive = -1;
    ck_assert_int_eq(bill_cluster_alive_count(db, 0, &alive), BILL_OK);
    ck_assert_int_eq(alive, 1);
    bill_cluster_leave(c);
    ck_assert_int_eq(bill_cluster_alive_count(db, 0, &alive), BILL_OK);
    ck_assert_int_eq(alive, 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 0);
    free(url);
    bill_db_close(db);
}
END_TEST

START_TEST(test_cluster__lease_ends_at_its_second)
{
    char *url = NULL;
    bill_db *base = bill_test_db_new_url(&url);
    int64_t ta = bill_test_at("2030-01-01T00:00:00Z"), tb = ta;
    bill_db *da = open_on(url, &ta), *dbb = open_on(url, &tb);
    bill_cluster *a = join(da, 1), *b = join(dbb, 2);
    ck_assert_int_eq(bill_cluster_want(a, roles_billing), BILL_OK);
    ck_assert_int_eq(bill_cluster_want(b, roles_billing), BILL_OK);

    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    ck_assert(bill_cluster_role_held(a, BILL_ROLE_BILLING));
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(!bill_cluster_role_held(b, BILL_ROLE_BILLING));

    /* a goes silent (dies without leaving); its lease is 30 s */
    tb = ta + 29 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(!bill_cluster_role_held(b, BILL_ROLE_BILLING));
    ta = ta + 29 * S; /* a itself trusts its lease up to the second before */
    ck_assert(bill_cluster_role_held(a, BILL_ROLE_BILLING));
    ta += S;
    ck_assert(!bill_cluster_role_held(a, BILL_ROLE_BILLING));

    tb += S; /* the second of the edge */
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(bill_cluster_role_held(b, BILL_ROLE_BILLING));

    /* a comes back: the role stays with b, a counts a loss */
    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    ck_assert(!bill_cluster_role_held(a, BILL_ROLE_BILLING));
    bill_cluster_role_stats rs[4];
    size_t n = 0;
    bill_cluster_role_stats_get(a, rs, 4, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(rs[0].role, "billing");
    ck_assert_int_eq(rs[0].elections, 1);
    ck_assert_int_eq(rs[0].losses, 1);
    ck_assert(!rs[0].held);
    bill_cluster_role_stats_get(b, rs, 4, &n);
    ck_assert(rs[0].held);
    ck_assert_int_eq(rs[0].elections, 1);

    bill_cluster_status st;
    bill_db_set_clock(base, bill_test_clock_fixed, &tb);
    ck_assert_int_eq(bill_cluster_status_get(base, 0, &st), BILL_OK);
    ck_assert_int_eq(st.roles_count, 1);
    ck_assert_str_eq(st.roles[0].holder_id, bill_cluster_id(b));
    ck_assert_int_eq(st.roles[0].lease_until, tb + 30 * S);
    ck_assert(st.roles[0].live);
    bill_cluster_status_clear(&st);

    bill_cluster_leave(a);
    bill_cluster_leave(b);
    bill_db_close(da);
    bill_db_close(dbb);
    bill_db_close(base);
    free(url);
}
END_TEST

START_TEST(test_cluster__heartbeat_renews_and_leave_hands_over)
{
    char *url = NULL;
    bill_db *base = bill_test_db_new_url(&url);
    int64_t ta = bill_test_at("2030-01-01T00:00:00Z"), tb = ta;
    bill_db *da = open_on(url, &ta), *dbb = open_on(url, &tb);
    bill_cluster *a = join(da, 1), *b = join(dbb, 2);
    ck_assert_int_eq(bill_cluster_want(a, roles_billing), BILL_OK);
    ck_assert_int_eq(bill_cluster_want(b, roles_billing), BILL_OK);
    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    ta += 20 * S; /* renewed at +20: lease to +50 */
    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    tb = ta + 29 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(!bill_cluster_role_held(b, BILL_ROLE_BILLING));
    ta = tb;
    ck_assert(bill_cluster_role_held(a, BILL_ROLE_BILLING));

    /* SIGTERM path: leaving frees the role at once */
    bill_cluster_leave(a);
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(bill_cluster_role_held(b, BILL_ROLE_BILLING));
    /* releasing by hand, too */
    ck_assert_int_eq(bill_cluster_role_release(b, BILL_ROLE_BILLING), BILL_OK);
    ck_assert(!bill_cluster_role_held(b, BILL_ROLE_BILLING));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM leader_roles"
                                                " WHERE holder_instance_id IS NOT NULL"),
                     0);
    /* no longer wanted: given back */
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert(bill_cluster_role_held(b, BILL_ROLE_BILLING));
    ck_assert_int_eq(bill_cluster_want(b, NULL), BILL_OK);
    ck_assert(!bill_cluster_role_held(b, BILL_ROLE_BILLING));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM leader_roles"
                                                " WHERE holder_instance_id IS NOT NULL"),
                     0);
    bill_cluster_leave(b);
    bill_db_close(da);
    bill_db_close(dbb);
    bill_db_close(base);
    free(url);
}
END_TEST

START_TEST(test_cluster__dead_members_expire)
{
    char *url = NULL;
    bill_db *base = bill_test_db_new_url(&url);
    int64_t ta = bill_test_at("2030-01-01T00:00:00Z"), tb = ta;
    bill_db *da = open_on(url, &ta), *dbb = open_on(url, &tb);
    bill_cluster *a = join(da, 1), *b = join(dbb, 2);
    ck_assert_int_eq(bill_cluster_want(a, roles_billing), BILL_OK);
    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    int64_t alive = 0;

    /* alive up to the second before dead_after (30 s) */
    tb = ta + 29 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert_int_eq(bill_cluster_alive_count(dbb, 0, &alive), BILL_OK);
    ck_assert_int_eq(alive, 2);
    tb = ta + 30 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert_int_eq(bill_cluster_alive_count(dbb, 0, &alive), BILL_OK);
    ck_assert_int_eq(alive, 1);
    bill_cluster_status st;
    ck_assert_int_eq(bill_cluster_status_get(dbb, 0, &st), BILL_OK);
    ck_assert_int_eq(st.members_count, 2);
    ck_assert_str_eq(st.members[0].id, bill_cluster_id(b)); /* alive first */
    ck_assert(!st.members[1].alive);
    ck_assert_int_eq(st.members[1].roles_count, 0); /* its lease ended too */
    bill_cluster_status_clear(&st);

    /* the row goes at expire_secs (60 s) */
    tb = ta + 59 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 2);
    tb = ta + 60 * S;
    ck_assert_int_eq(bill_cluster_heartbeat(b), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM leader_roles"
                                                " WHERE holder_instance_id IS NOT NULL"),
                     0);

    /* a wakes up: registers again under its id and retakes the free role */
    ta = tb;
    ck_assert_int_eq(bill_cluster_heartbeat(a), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 2);
    ck_assert(bill_cluster_role_held(a, BILL_ROLE_BILLING));
    bill_cluster_leave(a);
    bill_cluster_leave(b);
    bill_db_close(da);
    bill_db_close(dbb);
    bill_db_close(base);
    free(url);
}
END_TEST

/* Many members racing for one free role at one instant: exactly one wins. */
typedef struct racer {
    bill_cluster *c;
    pthread_barrier_t *bar;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->bar);
    r->rc = bill_cluster_heartbeat(r->c);
    return NULL;
}

START_TEST(test_cluster__one_winner_when_racing)
{
    enum { N = 6 };
    char *url = NULL;
    bill_db *base = bill_test_db_new_url(&url);
    int64_t t = bill_test_at("2030-01-01T00:00:00Z");
    bill_db *dbs[N];
    racer rs[N];
    pthread_t th[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    for (int i = 0; i < N; i++) {
        dbs[i] = open_on(url, &t);
        rs[i].c = join(dbs[i], i + 1);
        rs[i].bar = &bar;
        ck_assert_int_eq(bill_cluster_want(rs[i].c, roles_billing), BILL_OK);
    }
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, race, &rs[i]);
    int held = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(rs[i].rc, BILL_OK);
        held += bill_cluster_role_held(rs[i].c, BILL_ROLE_BILLING);
    }
    ck_assert_int_eq(held, 1);
    for (int i = 0; i < N; i++) {
        bill_cluster_leave(rs[i].c);
        bill_db_close(dbs[i]);
    }
    pthread_barrier_destroy(&bar);
    bill_db_close(base);
    free(url);
}
END_TEST

START_TEST(test_cluster__bad_arguments)
{
    bill_db *db = bill_test_db_new();
    bill_cluster *c = join(db, 1);
    const char *bad[] = {"Billing", NULL};
    ck_assert_int_eq(bill_cluster_want(c, bad), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "role");
    const char *bad2[] = {"", NULL};
    ck_assert_int_eq(bill_cluster_want(c, bad2), BILL_EINVALID);
    bill_cluster_options o;
    bill_cluster_options_init(&o);
    o.port = 70000;
    bill_cluster *x = NULL;
    ck_assert_int_eq(bill_cluster_join(&x, db, &o), BILL_EINVALID);
    ck_assert_ptr_null(x);
    o.port = 1;
    o.version = 99;
    ck_assert_int_eq(bill_cluster_join(&x, db, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "version");
    ck_assert(!bill_cluster_role_held(c, "nothing"));
    /* migrated already: the migration role finds nothing to do */
    int applied = -1;
    ck_assert_int_eq(bill_cluster_migrate(db, &applied), BILL_OK);
    ck_assert_int_eq(applied, 0);
    bill_cluster_leave(c);
    bill_cluster_leave(NULL);
    bill_db_close(db);
}
END_TEST

/* The migration role on a fresh database: two processes' worth of handles
 * migrate at once; one applies everything, the other waits and applies 0. */
typedef struct migr {
    bill_db *db;
    int applied, rc;
} migr;

static void *do_migrate(void *arg)
{
    migr *m = arg;
    m->rc = bill_cluster_migrate(m->db, &m->applied);
    return NULL;
}

START_TEST(test_cluster__migration_role_one_migrates)
{
    char *url = bill_test_pg_new_database("cluster_mig");
    int64_t t = bill_test_at("2030-01-01T00:00:00Z");
    migr m[2] = {{.db = open_on(url, &t)}, {.db = open_on(url, &t)}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, do_migrate, &m[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(m[0].rc, BILL_OK);
    ck_assert_int_eq(m[1].rc, BILL_OK);
    ck_assert_int_eq(m[0].applied + m[1].applied, (int)bill_db_migrations_known());
    ck_assert(m[0].applied == 0 || m[1].applied == 0);
    bill_db_close(m[0].db);
    bill_db_close(m[1].db);
    free(url);
}
END_TEST

BILL_TEST_MAIN("cluster", 60, NULL, NULL, test_cluster__join_shows_in_status,
               test_cluster__lease_ends_at_its_second,
               test_cluster__heartbeat_renews_and_leave_hands_over,
               test_cluster__dead_members_expire, test_cluster__one_winner_when_racing,
               test_cluster__bad_arguments, test_cluster__migration_role_one_migrates)
