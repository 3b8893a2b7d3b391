/*
 * cluster.c — `bill-cli cluster status`: the bill-servers registered on this
 * database (cluster.h), how long each has run, when it last beat, and the
 * leader roles each holds; then every role with its holder and lease.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* "3d 4h", "2h 05m", "12m 30s", "45s" */
static const char *age(int64_t usec, char buf[32])
{
    long long s = usec > 0 ? usec / BILL_USEC_PER_SEC : 0;
    if (s >= 86400)
        snprintf(buf, 32, "%lldd %lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(buf, 32, "%lldh %02lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, 32, "%lldm %02llds", s / 60, s % 60);
    else
        snprintf(buf, 32, "%llds", s);
    return buf;
}

static char *join_roles(const bill_cluster_member *m)
{
    size_t len = 1;
    for (size_t i = 0; i < m->roles_count; i++)
        len += strlen(m->roles[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < m->roles_count; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, m->roles[i]);
    }
    return s;
}

static json_object *member_json(const bill_cluster_member *m, int64_t now)
{
    json_object *o = json_object_new_object(), *roles = json_object_new_array();
    json_object_object_add(o, "id", json_object_new_string(m->id));
    json_object_object_add(o, "hostname", json_object_new_string(m->hostname));
    json_object_object_add(o, "host", json_object_new_string(m->host));
    json_object_object_add(o, "port", json_object_new_int(m->port));
    json_object_object_add(o, "pid", json_object_new_int(m->pid));
    json_object_object_add(o, "version", json_object_new_string(m->sw_version));
    json_object_object_add(o, "state", json_object_new_string(m->state));
    json_object_object_add(o, "alive", json_object_new_boolean(m->alive));
    json_object_object_add(o, "started_at", cli_json_time(m->started_at));
    json_object_object_add(o, "heartbeat_at", cli_json_time(m->heartbeat_at));
    json_object_object_add(o, "age_secs",
                           json_object_new_int64((now - m->started_at) / BILL_USEC_PER_SEC));
    json_object_object_add(o, "heartbeat_age_secs",
                           json_object_new_int64((now - m->heartbeat_at) / BILL_USEC_PER_SEC));
    for (size_t i = 0; i < m->roles_count; i++)
        json_object_array_add(roles, json_object_new_string(m->roles[i]));
    json_object_object_add(o, "roles", roles);
    return o;
}

static int cluster_status(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_cluster_status st;
    cli_table *t = NULL, *rt = NULL;
    if ((rc = bill_cluster_status_get(ctx->db, 0, &st)) < 0)
        return cli_fail(ctx, rc);
    size_t alive = 0;
    for (size_t i = 0; i < st.members_count; i++)
        alive += st.members[i].alive;
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *ms = json_object_new_array(),
                    *rs = json_object_new_array();
        for (size_t i = 0; i < st.members_count; i++)
            json_object_array_add(ms, member_json(&st.members[i], st.now));
        for (size_t i = 0; i < st.roles_count; i++) {
            json_object *r = json_object_new_object();
            json_object_object_add(r, "role", json_object_new_string(st.roles[i].role));
            json_object_object_add(r, "holder", cli_json_opt(st.roles[i].live ? st.roles[i].holder_id
                                                                               : ""));
            json_object_object_add(r, "lease_until",
                                   st.roles[i].live ? cli_json_time(st.roles[i].lease_until) : NULL);
            json_object_array_add(rs, r);
        }
        json_object_object_add(doc, "now", cli_json_time(st.now));
        json_object_object_add(doc, "instances", ms);
        json_object_object_add(doc, "alive", json_object_new_int64((int64_t)alive));
        json_object_object_add(doc, "roles", rs);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "ADDRESS", "HOSTNAME", "PID", "VERSION", "STATE",
                                      "AGE", "HEARTBEAT", "ROLES"};
    static const char *const rhdr[] = {"ROLE", "HOLDER", "LEASE_UNTIL"};
    if (!(t = cli_table_new(9, hdr)) || !(rt = cli_table_new(3, rhdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 3);
    for (size_t i = 0; i < st.members_count; i++) {
        const bill_cluster_member *m = &st.members[i];
        char addr[300], pid[16], ag[32], hb[48], hbage[32];
        snprintf(addr, sizeof addr, "%s:%d", m->host, m->port);
        snprintf(pid, sizeof pid, "%d", m->pid);
        snprintf(hb, sizeof hb, "%s ago%s", age(st.now - m->heartbeat_at, hbage),
                 m->alive ? "" : " (dead)");
        char *roles = join_roles(m);
        int r = cli_table_row(t, m->id, addr, m->hostname, pid, m->sw_version, m->state,
                              age(st.now - m->started_at, ag), hb,
                              roles && *roles ? roles : "-");
        free(roles);
        if (r < 0) {
            rc = cli_errorf("out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < st.roles_count; i++) {
        char lease[48];
        const bill_cluster_role *r = &st.roles[i];
        if (cli_table_row(rt, r->role, r->live ? r->holder_id : "(free)",
                          r->live ? cli_time(r->lease_until, lease) : "-") < 0) {
            rc = cli_errorf("out of memory");
            goto done;
        }
    }
    if (st.members_count) {
        cli_table_print(t, stdout);
        printf("\n");
    }
    printf("%zu instance%s registered, %zu alive\n", st.members_count,
           st.members_count == 1 ? "" : "s", alive);
    if (st.roles_count) {
        printf("\n");
        cli_table_print(rt, stdout);
    }
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    cli_table_free(rt);
    bill_cluster_status_clear(&st);
    return rc;
}

static const cli_cmd cluster_subs[] = {
    {
        .name = "status",
        .summary = "List the bill-servers of this database and the leader roles",
        .description = "Every registered bill-server: id, the address it serves, hostname, pid,\n"
                       "version, state (starting/serving/draining), how long it has run, its\n"
                       "last heartbeat (every 10 s; dead after 30 s, removed after 60 s) and\n"
                       "the leader roles it holds. Then each role with its holder and lease.",
        .run = cluster_status,
    },
    {0},
};

CLI_GROUP(cli_cluster_cmd, "cluster",
          "Running bill-servers and their leader roles", cluster_subs);
