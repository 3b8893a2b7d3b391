/*
 * cluster.h — several processes on one libbill database: the instance
 * registry, leader roles held as leases in PostgreSQL, and the cluster's
 * view for operators (bill-cli cluster status).
 *
 * Every bill-server registers itself (a row of server_instances: id, host
 * and port it serves, hostname, pid, version, started_at) and heartbeats
 * every BILL_CLUSTER_HEARTBEAT_SECS. An instance is alive while its last
 * heartbeat is younger than BILL_CLUSTER_DEAD_AFTER_SECS; the rows of
 * instances silent for BILL_CLUSTER_EXPIRE_SECS are deleted by whichever
 * instance heartbeats next (their leases go with them).
 *
 * A leader role ("billing", "events", ...) is one row of leader_roles: the
 * holder's instance id and lease_until. A role is free when nobody holds
 * it, or when lease_until <= now; the instance that takes a free role
 * holds it for BILL_CLUSTER_LEASE_SECS, and each heartbeat renews the roles
 * it holds and tries to take the roles it wants. So a holder that dies
 * loses its roles at the end of its lease, and a holder that stops cleanly
 * (bill_cluster_leave) frees them at once. The holder also stops trusting a
 * role by itself when its lease ran out without a renewal (the database
 * was unreachable): bill_cluster_role_held() compares the lease it last
 * wrote with the handle's clock, never with the database's answer alone.
 *
 * Time is the handle's clock (bill_db_now / bill_now() in SQL), so tests
 * move a lease to the second before and the second of its end.
 *
 * The `migration` role is different: it must exist before the tables do, so
 * it is PostgreSQL's session advisory lock that bill_db_migrate takes (held
 * as long as the migrating connection lives, released when its process
 * dies). bill_cluster_migrate wraps it with the cluster's logging: whoever
 * gets the lock migrates, the others wait and then find nothing pending.
 *
 * Thread safety: a bill_cluster may be used from several threads (the
 * heartbeat thread and the threads asking role_held).
 */
#ifndef BILL_CLUSTER_H
#define BILL_CLUSTER_H

#include "common.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_CLUSTER_HEARTBEAT_SECS 10 /* how often a member should beat */
#define BILL_CLUSTER_LEASE_SECS 30     /* a role lasts this long after a renewal */
#define BILL_CLUSTER_DEAD_AFTER_SECS 30 /* silent this long: not alive */
#define BILL_CLUSTER_EXPIRE_SECS 60    /* silent this long: row deleted */

/* The roles bill-server elects. */
#define BILL_ROLE_MIGRATION "migration"
#define BILL_ROLE_EVENTS "events"
#define BILL_ROLE_BILLING "billing"

typedef struct bill_cluster bill_cluster;

#define BILL_CLUSTER_OPTIONS_VERSION 1

typedef struct bill_cluster_options {
    unsigned int version;     /* BILL_CLUSTER_OPTIONS_VERSION */
    const char *host;         /* address this instance serves on ("127.0.0.1") */
    int port;                 /* its port (0..65535) */
    const char *sw_version;   /* software version shown in status ("0.1.0") */
    const char *hostname;     /* NULL: gethostname() */
    int lease_secs;           /* 0: BILL_CLUSTER_LEASE_SECS */
    int dead_after_secs;      /* 0: BILL_CLUSTER_DEAD_AFTER_SECS */
    int expire_secs;          /* 0: BILL_CLUSTER_EXPIRE_SECS */
    /* fields above exist since version 1 */
} bill_cluster_options;

BILL_API void bill_cluster_options_init(bill_cluster_options *o);

/* Register this process as a new member (a fresh id; state "starting").
 * The schema must be migrated. `db` must outlive the member. */
BILL_API int bill_cluster_join(bill_cluster **out, bill_db *db, const bill_cluster_options *o);

/* This member's id (a UUID, 36 characters). */
BILL_API const char *bill_cluster_id(const bill_cluster *c);

/* Roles this member wants: each heartbeat takes them when they are free.
 * NULL-terminated list of role names (identifier-like: [a-z][a-z0-9_.-]*),
 * copied. Replaces the earlier list; roles no longer wanted are released. */
BILL_API int bill_cluster_want(bill_cluster *c, const char *const *roles);

/* What a member says it is doing, shown in status: */
typedef enum bill_cluster_state {
    BILL_CLUSTER_STARTING = 0,
    BILL_CLUSTER_SERVING = 1,
    BILL_CLUSTER_DRAINING = 2,
} bill_cluster_state;
BILL_API const char *bill_cluster_state_name(bill_cluster_state s);
/* Record the state now (one UPDATE); later heartbeats keep it. */
BILL_API int bill_cluster_set_state(bill_cluster *c, bill_cluster_state s);

/* One heartbeat: refresh heartbeat_at (re-registering with the same id if
 * the row was expired meanwhile), renew every role held, take every wanted
 * role that is free, delete expired members. Elections, hand-overs and
 * losses are logged at INFO (module libbill::cluster) and counted (stats
 * below). Call it every BILL_CLUSTER_HEARTBEAT_SECS; on BILL_EUNAVAILABLE
 * the roles stay held locally only until their lease ends. */
BILL_API int bill_cluster_heartbeat(bill_cluster *c);

/* True while this member holds `role` with a lease that has not ended by
 * the handle's clock. No database round trip. */
BILL_API bool bill_cluster_role_held(bill_cluster *c, const char *role);

/* Release one role now (others may take it at their next heartbeat);
 * it stays wanted unless removed with bill_cluster_want. */
BILL_API int bill_cluster_role_release(bill_cluster *c, const char *role);

/* Per-role counters of this member for /metrics. */
typedef struct bill_cluster_role_stats {
    char role[64];
    bool held;
    uint64_t elections;   /* times this member took the role */
    uint64_t losses;      /* times it found the role taken by another / expired */
    uint64_t releases;    /* times it gave the role up */
} bill_cluster_role_stats;
/* Fill up to `max` entries (one per wanted role); *n receives how many. */
BILL_API void bill_cluster_role_stats_get(bill_cluster *c, bill_cluster_role_stats *out,
                                          size_t max, size_t *n);

/* Leave the cluster: release every role, delete this member's row, free.
 * Best effort when the database is gone (the leases then simply end).
 * NULL is fine. */
BILL_API void bill_cluster_leave(bill_cluster *c);

/* Migrate under the migration role (see above): logs "waiting" at INFO
 * when another process holds it, then runs bill_db_migrate. */
BILL_API int bill_cluster_migrate(bill_db *db, int *applied);

/* ---- the cluster as operators see it ------------------------------------ */

typedef struct bill_cluster_member {
    char id[40];
    char *hostname;
    char *host;        /* served address */
    int port;
    int pid;
    char *sw_version;
    char *state;       /* "starting" | "serving" | "draining" */
    int64_t started_at;   /* microseconds, UTC */
    int64_t heartbeat_at;
    bool alive;           /* heartbeat younger than dead_after */
    char **roles;         /* roles held with a live lease */
    size_t roles_count;
} bill_cluster_member;

typedef struct bill_cluster_role {
    char role[64];
    char holder_id[40];   /* "" when nobody holds it */
    int64_t lease_until;  /* microseconds, UTC */
    bool live;            /* held and the lease has not ended */
} bill_cluster_role;

typedef struct bill_cluster_status {
    int64_t now;                  /* the instant the status was read at */
    bill_cluster_member *members; /* alive first, then by started_at */
    size_t members_count;
    bill_cluster_role *roles;     /* by role name */
    size_t roles_count;
} bill_cluster_status;

/* Read the registry and the roles (dead_after_secs 0: the default). */
BILL_API int bill_cluster_status_get(bill_db *db, int dead_after_secs, bill_cluster_status *out);
BILL_API void bill_cluster_status_clear(bill_cluster_status *s);

/* Number of members alive now (bill-cli db restore refuses while > 0). */
BILL_API int bill_cluster_alive_count(bill_db *db, int dead_after_secs, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
