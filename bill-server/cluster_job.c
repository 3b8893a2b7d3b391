/*
 * cluster_job.c — the heartbeat thread of cluster_job.h. Leases last three
 * heartbeats ([cluster].heartbeat_secs, 10 by default, so 30 s), instances
 * count as dead after three silent heartbeats and their rows expire after
 * six. A heartbeat that cannot reach the database is logged once at WARN
 * (and once at INFO when it works again); meanwhile the roles stay trusted
 * only until their lease ends (bill_cluster_role_held), so a partitioned
 * instance stops billing before another one can take over.
 */
#include "cluster_job.h"

#include "bill/bill.h"
#include "bill/log.h"
#include "bill_build_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MOD "bill_server::cluster"

static struct {
    bill_cluster *member;
    int interval;
    pthread_t thread;
    bool started, stop, failing;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} cj = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void beat(void)
{
    if (bill_cluster_heartbeat(cj.member) != BILL_OK) {
        if (!cj.failing)
            BILL_LOG_WARN(MOD, "%s (retrying every %d s; roles end with their leases)",
                          bill_error_last()->message, cj.interval);
        cj.failing = true;
    } else if (cj.failing) {
        BILL_LOG_INFO(MOD, "cluster heartbeat works again");
        cj.failing = false;
    }
}

static void *cj_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cj.mu);
    while (!cj.stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += cj.interval;
        while (!cj.stop && pthread_cond_timedwait(&cj.cv, &cj.mu, &until) != ETIMEDOUT)
            ;
        if (cj.stop)
            break;
        pthread_mutex_unlock(&cj.mu);
        beat();
        pthread_mutex_lock(&cj.mu);
    }
    pthread_mutex_unlock(&cj.mu);
    return NULL;
}

int cluster_job_start(const bill_config *cfg, bill_db *db, const char *host, int port)
{
    bill_cluster_options o;
    bill_cluster_options_init(&o);
    cj.interval = cfg->cluster.heartbeat_secs > 0 ? cfg->cluster.heartbeat_secs : 10;
    o.host = host;
    o.port = port;
    o.sw_version = BILL_VERSION;
    o.lease_secs = 3 * cj.interval;
    o.dead_after_secs = 3 * cj.interval;
    o.expire_secs = 6 * cj.interval;
    if (bill_cluster_join(&cj.member, db, &o) != BILL_OK) {
        fprintf(stderr, "bill-server: cluster: %s\n", bill_error_last()->message);
        return -1;
    }
    /* billing only when this process runs the billing pass at all */
    const char *roles[3] = {BILL_ROLE_EVENTS, NULL, NULL};
    if (cfg->billing.enabled)
        roles[1] = BILL_ROLE_BILLING;
    if (bill_cluster_want(cj.member, roles) != BILL_OK) {
        fprintf(stderr, "bill-server: cluster: %s\n", bill_error_last()->message);
        goto fail;
    }
    if (bill_cluster_heartbeat(cj.member) != BILL_OK) {
        fprintf(stderr, "bill-server: cluster: %s\n", bill_error_last()->message);
        goto fail;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cj.cv, &ca);
    pthread_condattr_destroy(&ca);
    cj.stop = false;
    if (pthread_create(&cj.thread, NULL, cj_main, NULL) != 0) {
        pthread_cond_destroy(&cj.cv);
        fprintf(stderr, "bill-server: cannot start the cluster heartbeat thread\n");
        goto fail;
    }
    cj.started = true;
    BILL_LOG_INFO(MOD, "cluster member %s: heartbeat every %d s, leases %d s%s%s",
                  bill_cluster_id(cj.member), cj.interval, 3 * cj.interval,
                  bill_cluster_role_held(cj.member, BILL_ROLE_BILLING) ? ", holds billing" : "",
                  bill_cluster_role_held(cj.member, BILL_ROLE_EVENTS) ? ", holds events" : "");
    return 0;
fail:
    bill_cluster_leave(cj.member);
    cj.member = NULL;
    return -1;
}

bill_cluster *cluster_job_member(void)
{
    return cj.member;
}

bool cluster_job_role_held(const char *role)
{
    return cj.member && bill_cluster_role_held(cj.member, role);
}

void cluster_job_set_state(bill_cluster_state st)
{
    if (cj.member && bill_cluster_set_state(cj.member, st) != BILL_OK)
        BILL_LOG_WARN(MOD, "recording state %s: %s", bill_cluster_state_name(st),
                      bill_error_last()->message);
}

void cluster_job_stop(void)
{
    if (cj.started) {
        pthread_mutex_lock(&cj.mu);
        cj.stop = true;
        pthread_cond_broadcast(&cj.cv);
        pthread_mutex_unlock(&cj.mu);
        pthread_join(cj.thread, NULL);
        pthread_cond_destroy(&cj.cv);
        cj.started = false;
    }
    bill_cluster_leave(cj.member); /* NULL is fine */
    cj.member = NULL;
}
