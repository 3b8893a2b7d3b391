/*
 * breaker.c — per-host circuit breaker for outgoing plugin calls (R-PLG-6).
 *
 *   closed    --N consecutive failures-->  open
 *   open      --cool-down elapsed------->  half-open (exactly one probe call)
 *   half-open --probe succeeds---------->  closed
 *   half-open --probe fails------------->  open (cool-down restarts)
 *
 * While open, calls fail fast (BILL_EUNAVAILABLE) so a dead peer costs no
 * connect timeouts and no worker threads. Every state change is logged at
 * WARN. Hosts are "host:port" strings; the table only grows (one entry per
 * peer a plugin ever called, a small set in practice).
 *
 * Cool-down uses CLOCK_MONOTONIC rather than the injectable wall clock: it
 * measures an interval, and a test that moves the wall clock must not open
 * or close breakers by accident.
 */
#include "plugins_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    struct entry *next;
    bill_breaker_stat st;
    int64_t opened_at_ms;
    bool probe_in_flight;
} entry;

struct bill__breaker {
    pthread_mutex_t lock;
    int threshold;
    int cooldown_ms;
    entry *entries;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *bill_breaker_state_name(bill_breaker_state s)
{
    switch (s) {
    case BILL_BREAKER_CLOSED: return "closed";
    case BILL_BREAKER_OPEN: return "open";
    case BILL_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}

int bill__breaker_new(bill__breaker **out, int threshold, int cooldown_ms)
{
    bill__breaker *b = calloc(1, sizeof *b);
    if (!b)
        return bill__err(BILL_ENOMEM, NULL, "out of memory creating the circuit breaker");
    pthread_mutex_init(&b->lock, NULL);
    b->threshold = threshold;
    b->cooldown_ms = cooldown_ms;
    *out = b;
    return BILL_OK;
}

void bill__breaker_free(bill__breaker *b)
{
    if (!b)
        return;
    while (b->entries) {
        entry *e = b->entries;
        b->entries = e->next;
        free(e);
    }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Lock held. NULL only on OOM (then the breaker stays out of the way). */
static entry *find(bill__breaker *b, const char *host)
{
    for (entry *e = b->entries; e; e = e->next)
        if (strcmp(e->st.host, host) == 0)
            return e;
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->st.host, sizeof e->st.host, "%s", host);
    e->next = b->entries;
    b->entries = e;
    return e;
}

static void set_state(entry *e, bill_breaker_state s, const char *why)
{
    BILL_LOG_WARN(BILL__PLG_MODULE "::breaker", "circuit breaker for %s: %s -> %s (%s)",
                  e->st.host, bill_breaker_state_name(e->st.state), bill_breaker_state_name(s),
                  why);
    e->st.state = s;
}

int bill__breaker_allow(bill__breaker *b, const char *host)
{
    int rc = BILL_OK;
    pthread_mutex_lock(&b->lock);
    entry *e = find(b, host);
    if (!e)
        goto done;
    switch (e->st.state) {
    case BILL_BREAKER_CLOSED:
        break;
    case BILL_BREAKER_OPEN:
        if (mono_ms() - e->opened_at_ms >= b->cooldown_ms) {
            set_state(e, BILL_BREAKER_HALF_OPEN, "cool-down over, probing");
            e->probe_in_flight = true;
        } else {
            rc = BILL_EUNAVAILABLE;
        }
        break;
    case BILL_BREAKER_HALF_OPEN:
        if (e->probe_in_flight)
            rc = BILL_EUNAVAILABLE; /* one probe at a time */
        else
            e->probe_in_flight = true;
        break;
    }
    if (rc < 0)
        e->st.rejected_total++;
done:
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void bill__breaker_report(bill__breaker *b, const char *host, bool ok)
{
    pthread_mutex_lock(&b->lock);
    entry *e = find(b, host);
    if (!e)
        goto done;
    if (ok) {
        e->st.successes_total++;
        e->st.consecutive_failures = 0;
        if (e->st.state != BILL_BREAKER_CLOSED)
            set_state(e, BILL_BREAKER_CLOSED, "probe succeeded");
    } else {
        e->st.failures_total++;
        e->st.consecutive_failures++;
        if (e->st.state == BILL_BREAKER_HALF_OPEN ||
            (e->st.state == BILL_BREAKER_CLOSED && e->st.consecutive_failures >= b->threshold)) {
            set_state(e, BILL_BREAKER_OPEN,
                      e->st.state == BILL_BREAKER_HALF_OPEN ? "probe failed"
                                                            : "too many consecutive failures");
            e->opened_at_ms = mono_ms();
            e->st.opened_total++;
        }
    }
    e->probe_in_flight = false;
done:
    pthread_mutex_unlock(&b->lock);
}

int bill__breaker_stats(bill__breaker *b, bill_breaker_stat **out, size_t *count)
{
    size_t n = 0, i = 0;
    pthread_mutex_lock(&b->lock);
    for (entry *e = b->entries; e; e = e->next)
        n++;
    bill_breaker_stat *arr = calloc(n ? n : 1, sizeof *arr);
    if (arr)
        for (entry *e = b->entries; e; e = e->next)
            arr[i++] = e->st;
    pthread_mutex_unlock(&b->lock);
    if (!arr)
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading breaker stats");
    *out = arr;
    *count = n;
    return BILL_OK;
}

int bill_breaker_stats(bill_plugins *p, bill_breaker_stat **out, size_t *count)
{
    if (!p || !out || !count)
        return bill__err(BILL_EINVALID, NULL, "bill_breaker_stats needs registry, out, count");
    return bill__breaker_stats(p->breaker, out, count);
}
