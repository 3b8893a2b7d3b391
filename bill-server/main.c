/*
 * main.c — bill-server: load and validate the config, open (or start) the
 * database, migrate, ensure the bootstrap admin, then serve gRPC, gRPC-Web,
 * /health, /ready, /metrics and /admin on one port until SIGTERM/SIGINT.
 *
 * Startup is all-or-nothing: any failure before "listening on" prints one
 * clear line and exits 1 with nothing left running (R-CFG-4). Signals are
 * taken synchronously with sigwait() in the main thread, so no work happens
 * in a signal handler: SIGTERM/SIGINT → graceful stop (GOAWAY, finish
 * in-flight within [server].shutdown_grace_secs), SIGHUP → bill_log_reload().
 */
#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bill/admin_user.h"
#include "bill/auth.h"
#include "bill/redis.h"
#include "bill/events.h"
#include "bill/order.h"
#include "bill/plugin_host.h"
#include "bill/provision.h"
#include "bill/log.h"
#include "bill_build_config.h"
#include "billing_job.h"
#include "cluster_job.h"
#include "tables.h"
#include "transport/server.h"

#define MOD "bill_server"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bill-server [--config FILE] [--help] [--version]\n"
            "\n"
            "Serve the libbill gRPC / gRPC-Web API, /health, /ready, /metrics and /admin\n"
            "on [server].host:[server].port.\n"
            "\n"
            "  -c, --config FILE  config file (default: $CONFIG_FILE or ./config.toml);\n"
            "                     config.local.toml next to it overrides key by key\n"
            "  -h, --help         show this help\n"
            "  -V, --version      show the version\n"
            "\n"
            "Environment: DATABASE_URL, BILL_LOG (e.g. info,bill_server=debug),\n"
            "BILL_LOG_FORMAT=json. These override their [server] keys when set:\n"
            "BILL_ADMIN_DIR (admin_dir), BILL_SERVER_THREADS (io_threads),\n"
            "BILL_SERVER_REQUEST_TIMEOUT_MS (request_timeout_ms),\n"
            "BILL_SERVER_IDLE_TIMEOUT_MS (idle_timeout_ms).\n"
            "Without [db].url / DATABASE_URL an embedded PostgreSQL runs in ./var.\n");
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    int x = atoi(v);
    return x > 0 ? x : def;
}

/* ---- background work (plugins, event workers, periodic jobs) -------------
 * Kept apart from the transport set-up above/below: the plugin registry is
 * created here and handed to the server (bill_srv.plugins: the services
 * reach it with bill_srv_call_plugins), the .so files
 * are scanned at start and every BILL_PLUGINS_SCAN_INTERVAL_SECS on every
 * instance (each process needs the plugins loaded), but only the instance
 * holding the cluster's `events` role writes the `plugins` catalogue rows
 * (bill_plugins_scan; the others bill_plugins_scan_files), the
 * provisioning/notification handlers
 * run on 2 event worker threads (no leader role needed: workers claim rows
 * with SKIP LOCKED, so several servers consume one queue in parallel), and
 * every BG_TICK_SECS one thread cancels unpaid orders older than 24 h and
 * purges expired auth rows — only on the instance holding the cluster's
 * `events` role (cluster_job.c; the jobs are idempotent, the role saves the
 * duplicate work and keeps one writer). bg_stop runs after the request
 * workers stopped and before the pool closes. */
#define BG_TICK_SECS 60
#define BG_EVENT_THREADS 2

typedef struct bg_state {
    bill_db *db;
    bill_plugins *plugins;
    bill_provision *provision;
    bill_events *events;
    pthread_t thread;
    bool thread_started;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} bg_state;

static void bg_scan(bg_state *bg)
{
    bill_plugin_scan_stats st;
    memset(&st, 0, sizeof st);
    /* the catalogue rows: one writer, like the periodic jobs (issue 12 §2) */
    int rc = cluster_job_role_held(BILL_ROLE_EVENTS) ? bill_plugins_scan(bg->plugins, &st)
                                                     : bill_plugins_scan_files(bg->plugins, &st);
    if (rc != BILL_OK) {
        /* A missing plugins directory only means no plugins. */
        BILL_LOG_WARN(MOD, "plugin scan: %s", bill_error_last()->message);
        return;
    }
    if (st.loaded || st.reloaded || st.refused)
        BILL_LOG_INFO(MOD, "plugin scan: %d file(s), %d loaded, %d reloaded, %d refused", st.files,
                      st.loaded, st.reloaded, st.refused);
}

static void bg_periodic(bg_state *bg)
{
    if (!cluster_job_role_held(BILL_ROLE_EVENTS))
        return; /* another instance runs the periodic jobs */
    int64_t n = 0;
    /* 0: libbill's unpaid-order TTL (BILL_ORDER_UNPAID_TTL_SECS) */
    if (bill_order_cancel_expired(bg->db, 0, 0, &n) != BILL_OK)
        BILL_LOG_WARN(MOD, "cancel expired orders: %s", bill_error_last()->message);
    else if (n)
        BILL_LOG_INFO(MOD, "cancelled %lld unpaid order(s) older than %d h", (long long)n,
                      BILL_ORDER_UNPAID_TTL_SECS / 3600);
    n = 0;
    if (bill_auth_purge_expired(bg->db, 0, &n) != BILL_OK)
        BILL_LOG_WARN(MOD, "purge expired auth rows: %s", bill_error_last()->message);
    else if (n)
        BILL_LOG_DEBUG(MOD, "purged %lld expired session/token/code row(s)", (long long)n);
}

static void *bg_main(void *arg)
{
    bg_state *bg = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    time_t last_scan = now.tv_sec; /* bg_start scanned already */
    pthread_mutex_lock(&bg->mu);
    while (!bg->stop) {
        pthread_mutex_unlock(&bg->mu);
        bg_periodic(bg);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - last_scan >= BILL_PLUGINS_SCAN_INTERVAL_SECS) {
            bg_scan(bg);
            last_scan = now.tv_sec;
        }
        struct timespec until = now;
        until.tv_sec += BG_TICK_SECS;
        pthread_mutex_lock(&bg->mu);
        while (!bg->stop && pthread_cond_timedwait(&bg->cv, &bg->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

static void bg_stop(bg_state *bg)
{
    billing_job_stop(); /* before the plugins and the pool go away */
    if (bg->thread_started) {
        pthread_mutex_lock(&bg->mu);
        bg->stop = true;
        pthread_cond_broadcast(&bg->cv);
        pthread_mutex_unlock(&bg->mu);
        pthread_join(bg->thread, NULL);
        bg->thread_started = false;
        pthread_cond_destroy(&bg->cv);
    }
    bill_events_free(bg->events); /* joins the event workers */
    bg->events = NULL;
    bill_provision_free(bg->provision);
    bg->provision = NULL;
    bill_plugins_free(bg->plugins);
    bg->plugins = NULL;
}

static int bg_start(bg_state *bg, const bill_config *cfg, bill_db *db)
{
    bill_plugins_options po;
    bill_plugins_options_init(&po);
    po.db = db;
    if (cfg->plugins.plugins_dir && cfg->plugins.plugins_dir[0])
        po.plugins_dir = cfg->plugins.plugins_dir;
    po.master_key = cfg->security.has_master_key ? cfg->security.master_key : NULL;
    bg->db = db;
    if (bill_plugins_new(&bg->plugins, &po) != BILL_OK) {
        fprintf(stderr, "bill-server: plugins: %s\n", bill_error_last()->message);
        return -1;
    }
    bg_scan(bg);
    if (bill_provision_new(&bg->provision, db, bg->plugins, NULL) != BILL_OK ||
        bill_events_new(&bg->events, db, NULL) != BILL_OK ||
        bill_provision_register(bg->provision, bg->events) != BILL_OK ||
        bill_events_start(bg->events, BG_EVENT_THREADS) != BILL_OK) {
        fprintf(stderr, "bill-server: event workers: %s\n", bill_error_last()->message);
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bg->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&bg->thread, NULL, bg_main, bg) != 0) {
        pthread_cond_destroy(&bg->cv);
        fprintf(stderr, "bill-server: cannot start the periodic job thread\n");
        return -1;
    }
    bg->thread_started = true;
    if (billing_job_start(cfg, db, bg->plugins) != 0) {
        fprintf(stderr, "bill-server: cannot start the billing thread\n");
        return -1;
    }
    BILL_LOG_INFO(MOD, "background: plugins from %s, %d event worker(s), jobs every %d s",
                  po.plugins_dir ? po.plugins_dir : "./plugins", BG_EVENT_THREADS, BG_TICK_SECS);
    return 0;
}
/* ---- end of background work ----------------------------------------------- */

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("bill-server %s\n", BILL_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bill-server: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    /* Block the signals before any thread starts so every thread inherits
     * the mask and only sigwait() below sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    bill_config *cfg = NULL;
    bill_db *db = NULL;
    char *db_url = NULL;
    bill_srv srv;
    memset(&srv, 0, sizeof srv);
    bg_state bg;
    memset(&bg, 0, sizeof bg);
    pthread_mutex_init(&bg.mu, NULL);
    bool serving = false, layers_started = false;

    bill_config_load_options lo;
    bill_config_load_options_init(&lo);
    lo.path = config_path;
    lo.require_file = true;
    int rc = bill_config_load_ex(&cfg, &lo);
    if (rc == BILL_OK && cfg)
        rc = bill_config_validate(cfg, BILL_CONFIG_SERVER);
    if (rc != BILL_OK) {
        size_t n = 0;
        const char *const *errs = cfg ? bill_config_errors(cfg, &n) : NULL;
        if (n == 0)
            fprintf(stderr, "bill-server: %s\n", bill_error_last()->message);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "bill-server: %s\n", errs[i]);
        fprintf(stderr, "bill-server: configuration is invalid; nothing was started\n");
        goto done;
    }
    {
        size_t n = 0;
        const char *const *w = bill_config_warnings(cfg, &n);
        for (size_t i = 0; i < n; i++)
            BILL_LOG_WARN(MOD, "%s", w[i]);
    }
    if (!getenv("BILL_LOG") && cfg->log.level[0])
        bill_log_set_filter(cfg->log.level);
    if (!getenv("BILL_LOG_FORMAT") && strcmp(cfg->log.format, "json") == 0)
        bill_log_set_format(BILL_LOG_FORMAT_JSON);

    /* Database: configured URL, else the embedded PostgreSQL in ./var. */
    bill_db_options dbo;
    bill_config_db_options(cfg, &dbo);
    dbo.application_name = "bill-server";
    if (!bill_config_db_url_is_set(cfg)) {
        bool started = false;
        rc = bill_embedded_pg_ensure("./var", &db_url, &started);
        if (rc != BILL_OK) {
            fprintf(stderr, "bill-server: embedded PostgreSQL: %s\n", bill_error_last()->message);
            goto done;
        }
        BILL_LOG_INFO(MOD, "no [db].url: using embedded PostgreSQL in ./var (%s)",
                      started ? "started" : "already running");
        dbo.url = db_url;
    }
    rc = bill_db_open(&db, &dbo);
    if (rc != BILL_OK) {
        fprintf(stderr, "bill-server: database: %s\n", bill_error_last()->message);
        goto done;
    }
    /* [redis]: optional; an unreachable one is a WARN and a fallback, never a stop */
    bill_redis *redis = NULL;
    rc = bill_redis_open_config(&redis, cfg);
    if (rc != BILL_OK) {
        fprintf(stderr, "bill-server: redis: %s\n", bill_error_last()->message);
        goto done;
    }
    bill_db_set_redis(db, redis); /* the handle owns it */
    int applied = 0;
    rc = bill_cluster_migrate(db, &applied); /* the migration role: others wait */
    if (rc != BILL_OK) {
        fprintf(stderr, "bill-server: migrations: %s\n", bill_error_last()->message);
        goto done;
    }
    if (applied)
        BILL_LOG_INFO(MOD, "applied %d migration(s)", applied);
    bool created = false;
    rc = bill_admin_user_ensure_bootstrap(db, cfg->bootstrap.admin_username,
                                          cfg->bootstrap.admin_password, &created);
    if (rc != BILL_OK) {
        fprintf(stderr, "bill-server: bootstrap admin \"%s\": %s\n", cfg->bootstrap.admin_username,
                bill_error_last()->message);
        goto done;
    }
    if (created)
        BILL_LOG_INFO(MOD, "created bootstrap admin \"%s\"", cfg->bootstrap.admin_username);

    srv.cfg = cfg;
    srv.db = db;
    srv.services = bill_srv_service_table;
    srv.routes = bill_srv_route_table;
    srv.layers = bill_srv_layer_table;
    if (bill_loginguard_new(&srv.guard, NULL) != BILL_OK) {
        fprintf(stderr, "bill-server: login guard: %s\n", bill_error_last()->message);
        goto done;
    }
    /* [server] keys, each overridable by its older environment variable so
     * existing unit files and the test harness keep working. */
    srv.admin_dir = getenv("BILL_ADMIN_DIR") ? getenv("BILL_ADMIN_DIR") : cfg->server.admin_dir;
    srv.nloops = env_int("BILL_SERVER_THREADS", cfg->server.io_threads);
    snprintf(srv.host, sizeof srv.host, "%s", cfg->server.host);
    srv.port = cfg->server.port;
    srv.request_timeout_ms = env_int("BILL_SERVER_REQUEST_TIMEOUT_MS", cfg->server.request_timeout_ms);
    srv.idle_timeout_ms = env_int("BILL_SERVER_IDLE_TIMEOUT_MS", cfg->server.idle_timeout_ms);
    srv.max_jobs_per_conn = cfg->server.max_requests_per_connection;
    if (srv_proxy_init(&srv) != BILL_OK) {
        fprintf(stderr, "bill-server: [server] trusted_proxies: cannot be used\n");
        goto done;
    }
    if (srv.nproxies)
        BILL_LOG_INFO(MOD, "trusting X-Forwarded-For / X-Real-IP from %zu proxy range(s)",
                      srv.nproxies);
    /* the cluster first (the jobs ask it for their roles), then background
     * work: before serving, so the services find the plugin registry */
    if (cluster_job_start(cfg, db, srv.host, srv.port) < 0)
        goto done;
    srv.cluster = cluster_job_member();
    if (bg_start(&bg, cfg, db) < 0)
        goto done;
    srv.plugins = bg.plugins;
    srv_metrics_init(&srv);
    if ((rc = srv_layers_init(&srv)) != BILL_OK) {
        fprintf(stderr, "bill-server: request layers: %s\n", bill_strerror(rc));
        goto done;
    }
    layers_started = true;
    serving = true;
    if (srv_health_monitor_start(&srv) < 0 ||
        srv_workers_start(&srv, cfg->server.max_concurrency > 0 ? cfg->server.max_concurrency
                                                                 : cfg->db.max_connections) < 0) {
        fprintf(stderr, "bill-server: cannot start worker threads\n");
        goto done;
    }
    if (srv_start(&srv) < 0) {
        fprintf(stderr, "bill-server: cannot listen on %s:%d (see the log above)\n", srv.host,
                cfg->server.port);
        goto done;
    }
    BILL_LOG_INFO(MOD, "listening on http://%s:%d", srv.host, srv.port);
    cluster_job_set_state(BILL_CLUSTER_SERVING);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            bill_log_reload();
            BILL_LOG_INFO(MOD, "SIGHUP: log filter reloaded");
            continue;
        }
        BILL_LOG_INFO(MOD, "%s: shutting down (drain %d s, grace %d s)",
                      sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->server.drain_secs,
                      cfg->server.shutdown_grace_secs);
        break;
    }
    exit_code = 0;
    /* Draining: /ready answers 503 and gRPC health NOT_SERVING while the
     * listener stays open and every request is still served, so a load
     * balancer that checks /ready takes this instance out before anything
     * is refused; then srv_stop below closes the listener, sends GOAWAY and
     * finishes in-flight calls within the grace. A second signal ends the
     * drain early. */
    atomic_store(&srv.draining, 1);
    cluster_job_set_state(BILL_CLUSTER_DRAINING);
    if (cfg->server.drain_secs > 0) {
        struct timespec end, now;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += cfg->server.drain_secs;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t left_ms = (int64_t)(end.tv_sec - now.tv_sec) * 1000 +
                              (end.tv_nsec - now.tv_nsec) / 1000000;
            if (left_ms <= 0)
                break;
            struct timespec ts = {left_ms / 1000, (left_ms % 1000) * 1000000};
            int got = sigtimedwait(&sigs, NULL, &ts);
            if (got == SIGHUP) {
                bill_log_reload();
                continue;
            }
            if (got > 0) {
                BILL_LOG_INFO(MOD, "second signal: drain ended early");
                break;
            }
            if (errno != EINTR)
                break; /* EAGAIN: the drain is over */
        }
    }

done:
    if (serving) {
        srv_stop(&srv, cfg->server.shutdown_grace_secs * 1000);
        atomic_store(&srv.stopping, 2);
        srv_workers_stop(&srv);
        srv_health_monitor_stop(&srv);
    }
    if (layers_started)
        srv_layers_free(&srv);
    srv_proxy_free(&srv);
    srv.plugins = NULL;
    bg_stop(&bg); /* after the request workers, before the pool closes */
    cluster_job_stop(); /* after the jobs: releases the roles, leaves the registry */
    pthread_mutex_destroy(&bg.mu);
    bill_loginguard_free(srv.guard);
    bill_db_close(db);
    free(db_url);
    bill_config_free(cfg);
    if (exit_code == 0)
        BILL_LOG_INFO(MOD, "stopped");
    return exit_code;
}
