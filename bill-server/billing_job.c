/*
 * billing_job.c — bill-server's billing thread: one pass of the billing
 * engine (bill_billing_run) at start and then every [billing].interval_secs
 * (60), when [billing].enabled. The pass is safe to run on several servers
 * at once (rows claimed with SKIP LOCKED, customers locked in id order, a
 * unique key per renewal period), so no leader role is needed for
 * correctness; the cluster's `billing` role (cluster_job.c) saves the
 * duplicate work: a pass runs only on the instance holding it, and when the
 * holder stops or dies another instance takes the role at its next
 * heartbeat and bills from its next tick. Around a hand-over (the old
 * holder's pass still running when the new holder's lease starts) the
 * distributed lock "billing.pass" (bill_dlock_try: Redis when configured,
 * else a PostgreSQL advisory lock) keeps the second pass from starting.
 * The server uses the wall clock:
 * no client can set it.
 */
#include "billing_job.h"
#include "cluster_job.h"

#include "bill/billing.h"
#include "bill/log.h"
#include "bill/redis.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define MOD "bill_server::billing"
/* The pass lock's expiry: far beyond any pass; a holder that died frees it
 * after this (the PostgreSQL fallback frees it with its session). */
#define PASS_LOCK_MS (15 * 60 * 1000)

static struct {
    bill_db *db;
    bill_plugins *plugins;
    bill_billing_options opts;
    int interval;
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} job = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *job_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&job.mu);
    while (!job.stop) {
        pthread_mutex_unlock(&job.mu);
        bill_dlock *lock = NULL;
        bool got = false;
        if (!cluster_job_role_held(BILL_ROLE_BILLING)) {
            BILL_LOG_DEBUG(MOD, "billing pass skipped: another instance holds the billing role");
        } else if (bill_dlock_try(job.db, "billing.pass", PASS_LOCK_MS, &lock, &got) == BILL_OK &&
                   !got) {
            BILL_LOG_INFO(MOD, "billing pass skipped: another instance is running one");
        } else {
            /* taken, or neither Redis nor PostgreSQL answered: the pass
             * reports the outage itself */
            bill_billing_report r;
            if (bill_billing_run(job.db, job.plugins, &job.opts, &r) != BILL_OK)
                BILL_LOG_WARN(MOD, "billing pass: %s", bill_error_last()->message);
            bill_billing_report_clear(&r);
            bill_dlock_release(lock);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += job.interval;
        pthread_mutex_lock(&job.mu);
        while (!job.stop && pthread_cond_timedwait(&job.cv, &job.mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&job.mu);
    return NULL;
}

int billing_job_start(const bill_config *cfg, bill_db *db, bill_plugins *plugins)
{
    if (!cfg->billing.enabled) {
        BILL_LOG_INFO(MOD, "billing pass disabled ([billing] enabled = false)");
        return 0;
    }
    job.db = db;
    job.plugins = plugins;
    job.interval = cfg->billing.interval_secs > 0 ? cfg->billing.interval_secs : 60;
    bill_billing_options_from_config(&job.opts, cfg);
    job.stop = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&job.thread, NULL, job_main, NULL) != 0) {
        pthread_cond_destroy(&job.cv);
        return -1;
    }
    job.started = true;
    BILL_LOG_INFO(MOD, "billing pass every %d s (invoices %d days ahead, suspend after %d, "
                  "terminate after %d)", job.interval, job.opts.invoice_days_before,
                  job.opts.suspend_after_days, job.opts.terminate_after_days);
    return 0;
}

void billing_job_stop(void)
{
    if (!job.started)
        return;
    pthread_mutex_lock(&job.mu);
    job.stop = true;
    pthread_cond_broadcast(&job.cv);
    pthread_mutex_unlock(&job.mu);
    pthread_join(job.thread, NULL); /* a pass in flight finishes its batch first */
    pthread_cond_destroy(&job.cv);
    job.started = false;
}
