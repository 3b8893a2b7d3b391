/*
 * health.c — the server's own health, behind bill_srv_health (srv.h): a
 * monitor thread pings the database every 2 s and keeps one SERVING /
 * NOT_SERVING flag, so answering is a memory read (the Health service runs
 * Check inline on the loop thread: load balancers call it often, and Watch
 * streams see a change within a second). A stopping server is NOT_SERVING;
 * a name that is no service of the server is SERVICE_UNKNOWN.
 */
#include "server.h"

#include <errno.h>
#include <string.h>
#include <time.h>

enum { SERVING = 1, NOT_SERVING = 2, SERVICE_UNKNOWN = 3 };

int bill_srv_health(const bill_srv *s, const char *service)
{
    if (atomic_load(&s->stopping) || atomic_load(&s->draining))
        return NOT_SERVING;
    if (service && *service) {
        const bill_srv_service *const *sv = bill_srv_services(s);
        bool known = false;
        for (size_t i = 0; sv[i] && !known; i++)
            known = strcmp(sv[i]->name, service) == 0;
        if (!known)
            return SERVICE_UNKNOWN;
    }
    return atomic_load(&s->health) == 1 ? SERVING : NOT_SERVING;
}

/* ---- DB monitor ---------------------------------------------------------- */

static void *monitor_main(void *arg)
{
    bill_srv *s = arg;
    pthread_mutex_lock(&s->mon_mu);
    while (!atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->mon_mu);
        bool ok = s->db == NULL || bill_db_ping(s->db) == BILL_OK;
        atomic_store(&s->health, ok ? 1 : 2);
        pthread_mutex_lock(&s->mon_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        while (!atomic_load(&s->stopping) &&
               pthread_cond_timedwait(&s->mon_cv, &s->mon_mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->mon_mu);
    return NULL;
}

int srv_health_monitor_start(bill_srv *s)
{
    pthread_mutex_init(&s->mon_mu, NULL);
    pthread_cond_init(&s->mon_cv, NULL);
    atomic_store(&s->health, s->db == NULL || bill_db_ping(s->db) == BILL_OK ? 1 : 2);
    if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0)
        return -1;
    s->monitor_started = true;
    return 0;
}

void srv_health_monitor_stop(bill_srv *s)
{
    if (!s->monitor_started)
        return;
    pthread_mutex_lock(&s->mon_mu);
    pthread_cond_broadcast(&s->mon_cv);
    pthread_mutex_unlock(&s->mon_mu);
    pthread_join(s->monitor, NULL);
    s->monitor_started = false;
}
