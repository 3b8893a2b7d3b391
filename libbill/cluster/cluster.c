/*
 * cluster.c — the instance registry and leader roles of cluster.h: rows of
 * server_instances and leader_roles (migrations 001 and 016), written with
 * the handle's clock (bill_now() in SQL), and the operators' status view.
 *
 * A role is taken or renewed by one INSERT ... ON CONFLICT DO UPDATE whose
 * WHERE admits only the holder itself, a free role, or an ended lease; two
 * members racing for a free role both reach the same row, PostgreSQL locks
 * it, and the second one's WHERE sees the first one's fresh lease. The lease
 * this member trusts locally is counted from the handle's clock read
 * *before* the statement, so it never outlasts the lease in the table.
 */
#include "store/store.h"
#include "store/migrations.h"

#include "bill/cluster.h"
#include "bill/log.h"
#include "bill/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "libbill::cluster"
#define MAX_ROLES 16

typedef struct role_slot {
    char name[64];
    bool wanted;
    bool held;
    int64_t lease_until; /* local view, handle clock, microseconds */
    uint64_t elections, losses, releases;
} role_slot;

struct bill_cluster {
    bill_db *db;
    char id[BILL_UUID_BUFSZ];
    char *host, *hostname, *sw_version;
    int port;
    int lease_secs, dead_after_secs, expire_secs;
    bill_cluster_state state;
    pthread_mutex_t mu; /* roles, state */
    role_slot roles[MAX_ROLES];
    size_t nroles;
};

void bill_cluster_options_init(bill_cluster_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_CLUSTER_OPTIONS_VERSION;
    o->host = "127.0.0.1";
}

static const char *const state_names[] = {"starting", "serving", "draining"};

const char *bill_cluster_state_name(bill_cluster_state s)
{
    return (unsigned)s < BILL__ARRAY_LEN(state_names) ? state_names[s] : "?";
}

const char *bill_cluster_id(const bill_cluster *c)
{
    return c ? c->id : "";
}

static bool role_name_ok(const char *r)
{
    if (!r || !*r || strlen(r) >= 64 || !(r[0] >= 'a' && r[0] <= 'z'))
        return false;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == '-'))
            return false;
    return true;
}

static const char *itoa_buf(long long v, char buf[24])
{
    snprintf(buf, 24, "%lld", v);
    return buf;
}

/* INSERT this member's row (join, and again when it was expired). */
static int insert_self(bill_conn *conn, bill_cluster *c)
{
    char port[24], pid[24];
    return bill__qp(conn, NULL,
                    "INSERT INTO server_instances (id, hostname, pid, version, host, port, state)"
                    " VALUES ($1::uuid, $2, $3::int, $4, $5, $6::int, $7)",
                    c->id, c->hostname, itoa_buf(getpid(), pid), c->sw_version, c->host,
                    itoa_buf(c->port, port), bill_cluster_state_name(c->state));
}

int bill_cluster_join(bill_cluster **out, bill_db *db, const bill_cluster_options *o)
{
    int rc = BILL_OK;
    bill_cluster *c = NULL;
    bill_conn *conn = NULL;
    char hn[256];

    if (!out || !db || !o)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_join: out, db and options are required");
    if ((rc = bill__check_version(o->version, BILL_CLUSTER_OPTIONS_VERSION,
                                  "bill_cluster_options")) < 0)
        return rc;
    if (o->port < 0 || o->port > 65535)
        return bill__err(BILL_EINVALID, "port", "port %d is not between 0 and 65535", o->port);
    if (o->lease_secs < 0 || o->dead_after_secs < 0 || o->expire_secs < 0)
        return bill__err(BILL_EINVALID, "lease_secs", "cluster timings must not be negative");
    if (!o->hostname) {
        if (gethostname(hn, sizeof hn) != 0)
            snprintf(hn, sizeof hn, "unknown");
        hn[sizeof hn - 1] = '\0';
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return bill__err(BILL_ENOMEM, NULL, "out of memory joining the cluster");
    pthread_mutex_init(&c->mu, NULL);
    c->db = db;
    c->port = o->port;
    c->host = bill__strdup(o->host ? o->host : "");
    c->hostname = bill__strdup(o->hostname ? o->hostname : hn);
    c->sw_version = bill__strdup(o->sw_version ? o->sw_version : "");
    c->lease_secs = o->lease_secs ? o->lease_secs : BILL_CLUSTER_LEASE_SECS;
    c->dead_after_secs = o->dead_after_secs ? o->dead_after_secs : BILL_CLUSTER_DEAD_AFTER_SECS;
    c->expire_secs = o->expire_secs ? o->expire_secs : BILL_CLUSTER_EXPIRE_SECS;
    if (!c->host || !c->hostname || !c->sw_version) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory joining the cluster");
        goto done;
    }
    if ((rc = bill_uuid_v4(c->id)) < 0)
        goto done;
    if ((rc = bill__conn_acquire(db, &conn)) < 0)
        goto done;
    if ((rc = insert_self(conn, c)) < 0) {
        bill__err_prefix("registering this instance");
        goto done;
    }
    BILL_LOG_INFO(MOD, "registered instance %s (%s, %s:%d, pid %d, version %s)", c->id,
                  c->hostname, c->host, c->port, (int)getpid(), c->sw_version);
    *out = c;
    c = NULL;
done:
    bill__conn_release(conn);
    if (c) {
        pthread_mutex_destroy(&c->mu);
        free(c->host);
        free(c->hostname);
        free(c->sw_version);
        free(c);
    }
    return rc;
}

static role_slot *slot_find(bill_cluster *c, const char *role)
{
    for (size_t i = 0; i < c->nroles; i++)
        if (!strcmp(c->roles[i].name, role))
            return &c->roles[i];
    return NULL;
}

static const char release_sql[] =
    "UPDATE leader_roles SET holder_instance_id = NULL, lease_until = bill_now(),"
    " updated_at = bill_now() WHERE role = $1 AND holder_instance_id = $2::uuid";

/* Give one role up in the table; the caller updates the slot. */
static int release_in_db(bill_cluster *c, const char *role)
{
    bill_conn *conn = NULL;
    int rc = bill__conn_acquire(c->db, &conn);
    if (rc == BILL_OK)
        rc = bill__qp(conn, NULL, release_sql, role, c->id);
    bill__conn_release(conn);
    return rc;
}

int bill_cluster_want(bill_cluster *c, const char *const *roles)
{
    int rc = BILL_OK;
    size_t n = 0;
    if (!c)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_want: cluster is NULL");
    for (; roles && roles[n]; n++) {
        if (!role_name_ok(roles[n]))
            return bill__err(BILL_EINVALID, "role",
                             "role \"%s\" is not a role name (a-z, 0-9, '_', '.', '-'; "
                             "starting with a letter)", roles[n]);
    }
    if (n > MAX_ROLES)
        return bill__err(BILL_ELIMIT, "role", "at most %d roles per instance", MAX_ROLES);
    char drop[MAX_ROLES][64];
    size_t ndrop = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nroles; i++)
        c->roles[i].wanted = false;
    for (size_t i = 0; i < n; i++) {
        role_slot *s = slot_find(c, roles[i]);
        if (!s) {
            if (c->nroles == MAX_ROLES) {
                pthread_mutex_unlock(&c->mu);
                return bill__err(BILL_ELIMIT, "role", "at most %d roles per instance", MAX_ROLES);
            }
            s = &c->roles[c->nroles++];
            memset(s, 0, sizeof *s);
            snprintf(s->name, sizeof s->name, "%s", roles[i]);
        }
        s->wanted = true;
    }
    for (size_t i = 0; i < c->nroles; i++) {
        if (!c->roles[i].wanted && c->roles[i].held) {
            snprintf(drop[ndrop++], 64, "%s", c->roles[i].name);
            c->roles[i].held = false;
            c->roles[i].releases++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < ndrop; i++) {
        int r = release_in_db(c, drop[i]);
        if (r < 0 && rc == BILL_OK)
            rc = r;
        BILL_LOG_INFO(MOD, "released role %s (no longer wanted)", drop[i]);
    }
    return rc;
}

int bill_cluster_set_state(bill_cluster *c, bill_cluster_state s)
{
    if (!c || (unsigned)s >= BILL__ARRAY_LEN(state_names))
        return bill__err(BILL_EINVALID, "state", "bill_cluster_set_state: bad arguments");
    pthread_mutex_lock(&c->mu);
    c->state = s;
    pthread_mutex_unlock(&c->mu);
    bill_conn *conn = NULL;
    int rc = bill__conn_acquire(c->db, &conn);
    if (rc == BILL_OK)
        rc = bill__qp(conn, NULL, "UPDATE server_instances SET state = $2 WHERE id = $1::uuid",
                      c->id, bill_cluster_state_name(s));
    bill__conn_release(conn);
    return rc;
}

/* Take or renew `role`. One statement: see the file comment. Returns the
 * previous holder ("" none) and whether its lease was still live. */
static const char take_sql[] =
    "WITH prev AS (SELECT holder_instance_id, lease_until > bill_now() AS live"
    "                FROM leader_roles WHERE role = $1)"
    " INSERT INTO leader_roles AS r (role, holder_instance_id, lease_until, updated_at, elected_at)"
    " VALUES ($1, $2::uuid, bill_now() + make_interval(secs => $3::int), bill_now(), bill_now())"
    " ON CONFLICT (role) DO UPDATE"
    "   SET holder_instance_id = EXCLUDED.holder_instance_id,"
    "       lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at,"
    "       elected_at = CASE WHEN r.holder_instance_id = EXCLUDED.holder_instance_id"
    "                          AND r.lease_until > bill_now()"
    "                         THEN r.elected_at ELSE EXCLUDED.elected_at END"
    "   WHERE r.holder_instance_id = EXCLUDED.holder_instance_id"
    "      OR r.holder_instance_id IS NULL OR r.lease_until <= bill_now()"
    " RETURNING coalesce((SELECT holder_instance_id::text FROM prev), ''),"
    "           coalesce((SELECT live FROM prev), false)";

static const char holder_sql[] =
    "SELECT coalesce(r.holder_instance_id::text, ''), coalesce(i.hostname, ''),"
    "       coalesce(i.port, 0)"
    "  FROM leader_roles r LEFT JOIN server_instances i ON i.id = r.holder_instance_id"
    " WHERE r.role = $1";

static int beat_role(bill_cluster *c, bill_conn *conn, role_slot *s_copy, int64_t t0,
                     bool *now_held)
{
    PGresult *r = NULL;
    char secs[24];
    int rc = bill__qp(conn, &r, take_sql, s_copy->name, c->id, itoa_buf(c->lease_secs, secs));
    *now_held = false;
    if (rc < 0)
        goto done;
    if (PQntuples(r) == 1) {
        const char *prev = bill__val(r, 0, 0);
        bool prev_live = bill__val(r, 0, 1)[0] == 't';
        *now_held = true;
        bool was_mine = s_copy->held && s_copy->lease_until > t0;
        if (!was_mine) {
            if (!prev[0])
                BILL_LOG_INFO(MOD, "elected for role %s (it was free)", s_copy->name);
            else if (!strcmp(prev, c->id))
                BILL_LOG_INFO(MOD, "elected for role %s again (own lease had %s)", s_copy->name,
                              prev_live ? "not ended" : "ended");
            else
                BILL_LOG_INFO(MOD, "elected for role %s: took over from instance %s (%s)",
                              s_copy->name, prev, prev_live ? "live lease" : "lease ended");
        } else {
            BILL_LOG_TRACE(MOD, "renewed role %s for %d s", s_copy->name, c->lease_secs);
        }
    } else if (s_copy->held) {
        PQclear(r);
        r = NULL;
        char who[128] = "another instance";
        if (bill__qp(conn, &r, holder_sql, s_copy->name) == BILL_OK && PQntuples(r) == 1)
            snprintf(who, sizeof who, "instance %s (%s:%s)", bill__val(r, 0, 0),
                     bill__val(r, 0, 1), bill__val(r, 0, 2));
        BILL_LOG_INFO(MOD, "lost role %s: now held by %s", s_copy->name, who);
    }
done:
    PQclear(r);
    return rc;
}

int bill_cluster_heartbeat(bill_cluster *c)
{
    int rc = BILL_OK;
    bill_conn *conn = NULL;
    PGresult *r = NULL;
    char secs[24];
    role_slot copy[MAX_ROLES];
    size_t n;
    bill_cluster_state st;

    if (!c)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_heartbeat: cluster is NULL");
    /* Read before any statement: the lease trusted locally ends no later
     * than the one written. */
    int64_t t0 = bill_db_now(c->db);
    pthread_mutex_lock(&c->mu);
    n = c->nroles;
    memcpy(copy, c->roles, n * sizeof *copy);
    st = c->state;
    pthread_mutex_unlock(&c->mu);

    if ((rc = bill__conn_acquire(c->db, &conn)) < 0)
        goto done;
    if ((rc = bill__qp(conn, &r,
                       "UPDATE server_instances SET heartbeat_at = bill_now(), state = $2"
                       " WHERE id = $1::uuid",
                       c->id, bill_cluster_state_name(st))) < 0)
        goto done;
    if (strcmp(PQcmdTuples(r), "0") == 0) {
        /* Silent for longer than expire_secs (stopped, partitioned): the
         * row and its leases are gone. Same id again; roles are retaken. */
        BILL_LOG_WARN(MOD, "instance %s had expired from the registry; registering again", c->id);
        if ((rc = insert_self(conn, c)) < 0)
            goto done;
    }
    PQclear(r);
    r = NULL;
    if ((rc = bill__qp(conn, &r,
                       "DELETE FROM server_instances"
                       " WHERE heartbeat_at <= bill_now() - make_interval(secs => $2::int)"
                       "   AND id <> $1::uuid RETURNING id::text, hostname, host, port",
                       c->id, itoa_buf(c->expire_secs, secs))) < 0)
        goto done;
    for (int i = 0; i < PQntuples(r); i++)
        BILL_LOG_INFO(MOD, "expired instance %s (%s, %s:%s): no heartbeat for %d s",
                      bill__val(r, i, 0), bill__val(r, i, 1), bill__val(r, i, 2),
                      bill__val(r, i, 3), c->expire_secs);
    PQclear(r);
    r = NULL;

    for (size_t i = 0; i < n; i++) {
        if (!copy[i].wanted)
            continue;
        bool held = false;
        if ((rc = beat_role(c, conn, &copy[i], t0, &held)) < 0)
            goto done;
        pthread_mutex_lock(&c->mu);
        role_slot *s = slot_find(c, copy[i].name);
        if (s && s->wanted) {
            bool was = s->held && s->lease_until > t0;
            if (held && !was)
                s->elections++;
            if (!held && s->held)
                s->losses++;
            s->held = held;
            s->lease_until = held ? t0 + (int64_t)c->lease_secs * BILL_USEC_PER_SEC : 0;
        } else if (held) {
            /* No longer wanted while we beat: give it straight back. */
            pthread_mutex_unlock(&c->mu);
            (void)bill__qp(conn, NULL, release_sql, copy[i].name, c->id);
            pthread_mutex_lock(&c->mu);
        }
        pthread_mutex_unlock(&c->mu);
    }
done:
    PQclear(r);
    bill__conn_release(conn);
    if (rc < 0)
        bill__err_prefix("cluster heartbeat");
    return rc;
}

bool bill_cluster_role_held(bill_cluster *c, const char *role)
{
    if (!c || !role)
        return false;
    int64_t now = bill_db_now(c->db);
    pthread_mutex_lock(&c->mu);
    role_slot *s = slot_find(c, role);
    bool held = s && s->held && s->lease_until > now;
    if (s && s->held && !held) {
        /* The lease ran out without a renewal (database unreachable or the
         * heartbeat late): stop acting as the holder. */
        s->held = false;
        s->losses++;
        pthread_mutex_unlock(&c->mu);
        BILL_LOG_INFO(MOD, "role %s: lease ended without a renewal; no longer acting as holder",
                      role);
        return false;
    }
    pthread_mutex_unlock(&c->mu);
    return held;
}

int bill_cluster_role_release(bill_cluster *c, const char *role)
{
    if (!c || !role)
        return bill__err(BILL_EINVALID, "role", "bill_cluster_role_release: bad arguments");
    pthread_mutex_lock(&c->mu);
    role_slot *s = slot_find(c, role);
    bool was = s && s->held;
    if (s && s->held) {
        s->held = false;
        s->lease_until = 0;
        s->releases++;
    }
    pthread_mutex_unlock(&c->mu);
    int rc = release_in_db(c, role);
    if (was && rc == BILL_OK)
        BILL_LOG_INFO(MOD, "released role %s", role);
    return rc;
}

void bill_cluster_role_stats_get(bill_cluster *c, bill_cluster_role_stats *out, size_t max,
                                 size_t *n)
{
    size_t k = 0;
    if (c) {
        int64_t now = bill_db_now(c->db);
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->nroles && k < max; i++) {
            const role_slot *s = &c->roles[i];
            if (!s->wanted && !s->elections)
                continue;
            bill_cluster_role_stats *o = &out[k++];
            memset(o, 0, sizeof *o);
            snprintf(o->role, sizeof o->role, "%s", s->name);
            o->held = s->held && s->lease_until > now;
            o->elections = s->elections;
            o->losses = s->losses;
            o->releases = s->releases;
        }
        pthread_mutex_unlock(&c->mu);
    }
    if (n)
        *n = k;
}

void bill_cluster_leave(bill_cluster *c)
{
    if (!c)
        return;
    bill_conn *conn = NULL;
    PGresult *r = NULL;
    if (bill__conn_acquire(c->db, &conn) == BILL_OK) {
        if (bill__qp(conn, &r,
                     "UPDATE leader_roles SET holder_instance_id = NULL, lease_until = bill_now(),"
                     " updated_at = bill_now() WHERE holder_instance_id = $1::uuid"
                     " RETURNING role",
                     c->id) == BILL_OK) {
            for (int i = 0; i < PQntuples(r); i++)
                BILL_LOG_INFO(MOD, "released role %s (leaving)", bill__val(r, i, 0));
        }
        PQclear(r);
        (void)bill__qp(conn, NULL, "DELETE FROM server_instances WHERE id = $1::uuid", c->id);
        bill__conn_release(conn);
        BILL_LOG_INFO(MOD, "instance %s left the cluster", c->id);
    } else {
        BILL_LOG_WARN(MOD, "instance %s: cannot reach the database to leave (%s); its roles "
                      "end with their leases", c->id, bill_error_last()->message);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->host);
    free(c->hostname);
    free(c->sw_version);
    free(c);
}

/* ---- the migration role ------------------------------------------------- */

int bill_cluster_migrate(bill_db *db, int *applied)
{
    int rc;
    bill_conn *conn = NULL;
    PGresult *r = NULL;
    bool free_now = false;

    if (!db)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_migrate: db is NULL");
    if ((rc = bill__conn_acquire(db, &conn)) < 0)
        return rc;
    /* Peek: is another process migrating? (Then say so and queue behind it.) */
    if ((rc = bill__q(conn, &r, "SELECT pg_try_advisory_lock(" BILL__MIGRATION_LOCK_KEY ")", 0,
                      NULL)) == BILL_OK)
        free_now = bill__val(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    if (rc == BILL_OK && free_now) {
        (void)bill__exec(conn, "SELECT pg_advisory_unlock(" BILL__MIGRATION_LOCK_KEY ")");
    } else if (rc == BILL_OK) {
        char who[160] = "another process";
        if (bill__qp(conn, &r,
                     "SELECT a.pid, coalesce(a.application_name, ''),"
                     "       coalesce(host(a.client_addr), 'local')"
                     "  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                     " WHERE l.locktype = 'advisory' AND l.granted"
                     "   AND l.objid = ($1::bigint & 4294967295)::oid"
                     "   AND l.classid = (($1::bigint >> 32) & 4294967295)::oid LIMIT 1",
                     BILL__MIGRATION_LOCK_KEY) == BILL_OK &&
            PQntuples(r) == 1)
            snprintf(who, sizeof who, "%s (backend pid %s, %s)", bill__val(r, 0, 1),
                     bill__val(r, 0, 0), bill__val(r, 0, 2));
        PQclear(r);
        r = NULL;
        BILL_LOG_INFO(MOD, "role migration is held by %s; waiting for it to finish", who);
    }
    bill__conn_release(conn);
    if (rc < 0)
        return rc;
    int n = 0;
    if ((rc = bill_db_migrate(db, &n)) < 0)
        return rc;
    if (n)
        BILL_LOG_INFO(MOD, "role migration: applied %d migration(s), released", n);
    else if (!free_now)
        BILL_LOG_INFO(MOD, "role migration released by its holder; schema is up to date");
    if (applied)
        *applied = n;
    return BILL_OK;
}

/* ---- status --------------------------------------------------------------- */

static void member_clear(bill_cluster_member *m)
{
    free(m->hostname);
    free(m->host);
    free(m->sw_version);
    free(m->state);
    for (size_t i = 0; i < m->roles_count; i++)
        free(m->roles[i]);
    free(m->roles);
    memset(m, 0, sizeof *m);
}

void bill_cluster_status_clear(bill_cluster_status *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->members_count; i++)
        member_clear(&s->members[i]);
    free(s->members);
    free(s->roles);
    memset(s, 0, sizeof *s);
}

/* Split "a,b,c" (or "") into a malloc'd array. */
static int split_roles(const char *csv, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!*csv)
        return BILL_OK;
    size_t k = 1;
    for (const char *p = csv; *p; p++)
        k += *p == ',';
    char **v = calloc(k, sizeof *v);
    if (!v)
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading cluster status");
    const char *p = csv;
    for (size_t i = 0; i < k; i++) {
        size_t len = strcspn(p, ",");
        if (!(v[i] = bill__strndup(p, len))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return bill__err(BILL_ENOMEM, NULL, "out of memory reading cluster status");
        }
        p += len + (p[len] == ',');
    }
    *out = v;
    *n = k;
    return BILL_OK;
}

int bill_cluster_status_get(bill_db *db, int dead_after_secs, bill_cluster_status *out)
{
    int rc;
    bill_conn *conn = NULL;
    PGresult *r = NULL;
    char secs[24];
    bill_cluster_status s;

    memset(&s, 0, sizeof s);
    if (!db || !out || dead_after_secs < 0)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_status_get: bad arguments");
    memset(out, 0, sizeof *out);
    if (!dead_after_secs)
        dead_after_secs = BILL_CLUSTER_DEAD_AFTER_SECS;
    itoa_buf(dead_after_secs, secs);
    if ((rc = bill__conn_acquire(db, &conn)) < 0)
        return rc;
    if ((rc = bill__qp(conn, &r,
                       "SELECT i.id::text, i.hostname, i.host, i.port, i.pid, i.version, i.state,"
                       " " BILL__US("i.started_at") ", " BILL__US("i.heartbeat_at") ","
                       " i.heartbeat_at > bill_now() - make_interval(secs => $1::int) AS alive,"
                       " coalesce((SELECT string_agg(r.role, ',' ORDER BY r.role)"
                       "             FROM leader_roles r WHERE r.holder_instance_id = i.id"
                       "              AND r.lease_until > bill_now()), ''),"
                       " " BILL__US("bill_now()") " FROM server_instances i"
                       " ORDER BY alive DESC, i.started_at, i.id",
                       secs)) < 0)
        goto done;
    int nm = PQntuples(r);
    if (nm && !(s.members = calloc((size_t)nm, sizeof *s.members))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory reading cluster status");
        goto done;
    }
    for (int i = 0; i < nm; i++) {
        bill_cluster_member *m = &s.members[i];
        s.members_count++;
        snprintf(m->id, sizeof m->id, "%s", bill__val(r, i, 0));
        m->hostname = bill__strdup(bill__val(r, i, 1));
        m->host = bill__strdup(bill__val(r, i, 2));
        m->port = atoi(bill__val(r, i, 3));
        m->pid = atoi(bill__val(r, i, 4));
        m->sw_version = bill__strdup(bill__val(r, i, 5));
        m->state = bill__strdup(bill__val(r, i, 6));
        m->started_at = strtoll(bill__val(r, i, 7), NULL, 10);
        m->heartbeat_at = strtoll(bill__val(r, i, 8), NULL, 10);
        m->alive = bill__val(r, i, 9)[0] == 't';
        if (!m->hostname || !m->host || !m->sw_version || !m->state) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory reading cluster status");
            goto done;
        }
        if ((rc = split_roles(bill__val(r, i, 10), &m->roles, &m->roles_count)) < 0)
            goto done;
    }
    if (nm)
        s.now = strtoll(bill__val(r, 0, 11), NULL, 10);
    else
        s.now = bill_db_now(db);
    PQclear(r);
    r = NULL;
    if ((rc = bill__q(conn, &r,
                      "SELECT role, coalesce(holder_instance_id::text, ''),"
                      " " BILL__US("lease_until") ","
                      " holder_instance_id IS NOT NULL AND lease_until > bill_now()"
                      " FROM leader_roles ORDER BY role",
                      0, NULL)) < 0)
        goto done;
    int nr = PQntuples(r);
    if (nr && !(s.roles = calloc((size_t)nr, sizeof *s.roles))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory reading cluster status");
        goto done;
    }
    for (int i = 0; i < nr; i++) {
        bill_cluster_role *ro = &s.roles[s.roles_count++];
        snprintf(ro->role, sizeof ro->role, "%s", bill__val(r, i, 0));
        snprintf(ro->holder_id, sizeof ro->holder_id, "%s", bill__val(r, i, 1));
        ro->lease_until = strtoll(bill__val(r, i, 2), NULL, 10);
        ro->live = bill__val(r, i, 3)[0] == 't';
    }
    *out = s;
    memset(&s, 0, sizeof s);
done:
    PQclear(r);
    bill__conn_release(conn);
    bill_cluster_status_clear(&s);
    return rc;
}

int bill_cluster_alive_count(bill_db *db, int dead_after_secs, int64_t *out)
{
    int rc;
    bill_conn *conn = NULL;
    PGresult *r = NULL;
    char secs[24];
    if (!db || !out || dead_after_secs < 0)
        return bill__err(BILL_EINVALID, NULL, "bill_cluster_alive_count: bad arguments");
    itoa_buf(dead_after_secs ? dead_after_secs : BILL_CLUSTER_DEAD_AFTER_SECS, secs);
    if ((rc = bill__conn_acquire(db, &conn)) < 0)
        return rc;
    if ((rc = bill__qp(conn, &r,
                       "SELECT count(*) FROM server_instances"
                       " WHERE heartbeat_at > bill_now() - make_interval(secs => $1::int)",
                       secs)) == BILL_OK)
        *out = strtoll(bill__val(r, 0, 0), NULL, 10);
    PQclear(r);
    bill__conn_release(conn);
    return rc;
}
