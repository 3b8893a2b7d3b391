/*
 * workers.c — the concurrency-limit layer: a bounded FIFO queue served by
 * [server].max_concurrency threads. Requests beyond the running ones wait in
 * arrival order (seed 000 §1.3 ConcurrencyLimitLayer: backpressure, not
 * rejection), up to SRV_QUEUE_MAX queued jobs; beyond that the server answers
 * "busy" instead of growing without bound.
 *
 * A queued job can be taken back (srv_workers_cancel: its HTTP/2 stream was
 * reset or its connection closed), so the queue is doubly linked and a
 * cancelled job stops occupying a slot at once instead of waiting for a
 * worker to skip it.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

struct srv_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *head, *tail;
    int depth;
    bool stop;
    int n;
    pthread_t *th;
};

static void *worker_main(void *arg)
{
    srv_workers *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        srv_job *j = w->head;
        if (!j) {
            pthread_mutex_unlock(&w->mu);
            break; /* stopping and drained */
        }
        w->head = j->next;
        if (w->head)
            w->head->qprev = NULL;
        else
            w->tail = NULL;
        j->next = j->qprev = NULL;
        j->queued = false;
        w->depth--;
        pthread_mutex_unlock(&w->mu);
        srv_metrics_inflight(1);
        j->run(j);
        srv_metrics_inflight(-1);
        srv_loop_post(j);
    }
    return NULL;
}

int srv_workers_start(bill_srv *s, int nthreads)
{
    srv_workers *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->th = calloc((size_t)nthreads, sizeof *w->th);
    if (!w->th) {
        free(w);
        return -1;
    }
    s->workers = w;
    for (int i = 0; i < nthreads; i++) {
        /* Small stacks: handlers are shallow, and 30+ threads x 8 MiB of
         * reserved stack would dominate the RSS budget. */
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 512 * 1024);
        int rc = pthread_create(&w->th[i], &a, worker_main, w);
        pthread_attr_destroy(&a);
        if (rc != 0)
            return -1;
        w->n++;
    }
    return 0;
}

int srv_workers_submit(bill_srv *s, srv_job *job)
{
    srv_workers *w = s->workers;
    pthread_mutex_lock(&w->mu);
    if (w->stop || w->depth >= SRV_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    job->next = NULL;
    job->qprev = w->tail;
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    job->queued = true;
    w->depth++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

bool srv_workers_cancel(bill_srv *s, srv_job *job)
{
    srv_workers *w = s->workers;
    bool removed = false;
    if (!w) {
        atomic_store(&job->cancelled, true);
        return false;
    }
    pthread_mutex_lock(&w->mu);
    if (job->queued) {
        if (job->qprev)
            job->qprev->next = job->next;
        else
            w->head = job->next;
        if (job->next)
            job->next->qprev = job->qprev;
        else
            w->tail = job->qprev;
        job->next = job->qprev = NULL;
        job->queued = false;
        w->depth--;
        removed = true;
    } else {
        atomic_store(&job->cancelled, true);
    }
    pthread_mutex_unlock(&w->mu);
    return removed;
}

int srv_workers_queue_depth(bill_srv *s)
{
    srv_workers *w = s->workers;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    int d = w->depth;
    pthread_mutex_unlock(&w->mu);
    return d;
}

void srv_workers_stop(bill_srv *s)
{
    srv_workers *w = s->workers;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->th[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->th);
    free(w);
    s->workers = NULL;
}
