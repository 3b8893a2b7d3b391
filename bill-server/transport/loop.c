/*
 * loop.c — event loops, listening sockets and connection I/O.
 *
 * Why epoll and not libuv: the server needs exactly three event sources
 * (listening socket, client sockets, one eventfd for worker completions) and
 * a once-a-second sweep for timeouts; raw epoll does that in a few hundred
 * lines with no extra dependency or callback layer, and nghttp2/http-parser
 * both work on plain byte buffers anyway. Each loop thread owns its own epoll
 * set and its own SO_REUSEPORT listener, so loops share nothing but the job
 * queue and a connection is only ever touched by one thread.
 *
 * Level-triggered epoll: EPOLLIN while we want input, EPOLLOUT only while
 * output is pending. A connection whose HTTP/1.1 request is being served stops
 * reading (pipelining: the next request stays in the kernel buffer).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bill/log.h"

#define MOD "bill_server::transport"

struct srv_loop {
    bill_srv *srv;
    pthread_t th;
    int epfd;
    int lfd;         /* listening socket, -1 once closed */
    int evfd;        /* worker completions + stop wakeups */
    pthread_mutex_t mu;
    srv_job *done_head, *done_tail;
    srv_conn *conns;
    size_t nconns;
    srv_conn *dirty;  /* responses queued this turn; flushed together */
    srv_job *pending_head, *pending_tail; /* jobs dispatched this turn, not yet queued */
    bool started;
};

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void loop_set_events(srv_conn *c)
{
    uint32_t ev = EPOLLRDHUP;
    if (!(c->proto == 1 && c->h1_busy) && !c->close_after_write)
        ev |= EPOLLIN;
    if (c->out.len > 0 || (c->h2 && nghttp2_session_want_write(c->h2)))
        ev |= EPOLLOUT;
    if (ev == c->ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &e);
    c->ev = ev;
}

static void conn_release(srv_conn *c)
{
    if (c->refs > 0)
        return; /* a worker still holds a response for it; freed when it comes back */
    srv_h1_free(c);
    srv_h2_free(c);
    srv_buf_free(&c->in);
    srv_buf_free(&c->out);
    free(c);
}

/* ---- the connection's jobs ------------------------------------------- */

static void job_untrack(srv_job *j)
{
    srv_conn *c = j->target.conn;
    if (!j->tracked)
        return;
    if (j->cprev)
        j->cprev->cnext = j->cnext;
    else
        c->jobs = j->cnext;
    if (j->cnext)
        j->cnext->cprev = j->cprev;
    j->cnext = j->cprev = NULL;
    j->tracked = false;
    c->njobs--;
}

int srv_conn_submit(srv_job *job)
{
    srv_conn *c = job->target.conn;
    srv_loop *l = c->loop;
    if (c->njobs >= l->srv->max_jobs_per_conn)
        return -1;
    c->refs++;
    job->tracked = true;
    job->cprev = NULL;
    job->cnext = c->jobs;
    if (c->jobs)
        c->jobs->cprev = job;
    c->jobs = job;
    c->njobs++;
    job->pending = true;
    job->next = NULL;
    if (l->pending_tail)
        l->pending_tail->next = job;
    else
        l->pending_head = job;
    l->pending_tail = job;
    return 0;
}

/* Cancel one tracked job. Returns true when the job was freed here (it was
 * in the worker queue); then the caller drops the connection reference it
 * held. A job still pending is only flagged (loop_submit_pending drops it);
 * a job a worker has is flagged and comes back through loop_completions. */
static bool job_cancel(srv_job *j)
{
    if (atomic_load(&j->cancelled))
        return false; /* already cancelled */
    if (j->pending) {
        /* no longer counts against the connection; dropped at the end of
         * the turn, when loop_submit_pending sees the flag */
        atomic_store(&j->cancelled, true);
        job_untrack(j);
        return false;
    }
    if (srv_workers_cancel(j->target.conn->loop->srv, j)) {
        srv_metrics_event(SRV_EV_CANCEL_QUEUED);
        job_untrack(j);
        srv_job_free(j);
        return true;
    }
    srv_metrics_event(SRV_EV_CANCEL_STARTED);
    return false;
}

void srv_conn_cancel_stream(srv_conn *c, int32_t stream_id)
{
    for (srv_job *j = c->jobs; j; j = j->cnext) {
        if (j->target.stream_id != stream_id)
            continue;
        if (job_cancel(j))
            c->refs--; /* the caller holds its own reference: never the last */
        return;
    }
}

/* Connection closed (or told to go away): nobody will read the answers. */
void srv_conn_cancel_all(srv_conn *c)
{
    srv_job *j = c->jobs;
    while (j) {
        srv_job *next = j->cnext;
        if (job_cancel(j))
            c->refs--; /* never the last: srv_conn_close releases the connection
                        * itself, and other callers hold a reference */
        j = next;
    }
}

/* End of a loop turn: queue the jobs dispatched during it, except those
 * cancelled meanwhile; refuse them when the queue is full. */
static void conn_unref(srv_conn *c);
static void loop_submit_pending(srv_loop *l)
{
    srv_job *j = l->pending_head;
    l->pending_head = l->pending_tail = NULL;
    while (j) {
        srv_job *next = j->next;
        srv_conn *c = j->target.conn;
        j->next = NULL;
        j->pending = false;
        if (atomic_load(&j->cancelled)) {
            srv_metrics_event(SRV_EV_CANCEL_QUEUED);
            job_untrack(j);
            srv_job_free(j);
            conn_unref(c);
        } else if (srv_workers_submit(l->srv, j) < 0) {
            job_untrack(j);
            srv_metrics_event(SRV_EV_REFUSED_QUEUE_FULL);
            srv_job_refuse(j, BILL_GRPC_RESOURCE_EXHAUSTED, 503, "server busy, try again");
            conn_unref(c);
        }
        j = next;
    }
}

void srv_conn_close(srv_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    srv_conn_cancel_all(c);
    srv_loop *l = c->loop;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    atomic_fetch_sub(&l->srv->conns_open, 1);
    conn_release(c);
}

/* Closing a socket with unread input makes the kernel send RST, and the
 * peer may then drop our last bytes (a GOAWAY, the final trailers, a 413).
 * So: shut the write side, read and discard until the peer closes, or 1 s. */
static void conn_drain(srv_conn *c)
{
    if (c->draining)
        return;
    c->draining = true;
    c->drain_deadline_ms = srv_now_ms() + 1000;
    shutdown(c->fd, SHUT_WR);
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &e);
    c->ev = e.events;
}

static void conn_unref(srv_conn *c)
{
    if (--c->refs == 0 && c->dead)
        conn_release(c);
}

void srv_conn_flush(srv_conn *c)
{
    if (c->draining)
        return;
    if (c->dead)
        return;
    for (;;) {
        if (c->proto == 2)
            srv_h2_pump(c);
        if (c->out.len == 0)
            break;
        ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            srv_conn_close(c);
            return;
        }
        srv_buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == 0 && c->close_after_write &&
        !(c->h2 && nghttp2_session_want_write(c->h2))) {
        conn_drain(c);
        return;
    }
    if (c->proto == 2 && c->h2 && !nghttp2_session_want_read(c->h2) &&
        !nghttp2_session_want_write(c->h2) && c->out.len == 0) {
        conn_drain(c); /* GOAWAY exchanged and every stream done */
        return;
    }
    loop_set_events(c);
}

void srv_conn_respond(srv_target t, srv_resp *resp)
{
    srv_conn *c = t.conn;
    if (c->dead || c->draining)
        return;
    if (c->proto == 2)
        srv_h2_respond(c, t.stream_id, resp);
    else
        srv_h1_respond(c, resp);
    /* One send() per connection per loop turn, not one per response: many
     * HTTP/2 streams answered in the same turn share a write. */
    if (!c->dirty) {
        c->dirty = true;
        c->refs++;
        c->dirty_next = c->loop->dirty;
        c->loop->dirty = c;
    }
}

static void flush_dirty(srv_loop *l)
{
    while (l->dirty) {
        srv_conn *c = l->dirty;
        l->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        if (!c->dead)
            srv_conn_flush(c);
        if (--c->refs == 0 && c->dead)
            conn_release(c);
    }
}

/* Bytes arrived: decide the protocol on first use, then feed the codec. */
static void conn_readable(srv_conn *c)
{
    char tmp[65536];
    if (c->draining) {
        ssize_t n;
        while ((n = recv(c->fd, tmp, sizeof tmp, 0)) > 0) {
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            srv_conn_close(c);
        return;
    }
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        if (c->proto == 1 && c->h1_busy)
            break; /* pipelined request waits in the socket buffer */
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                srv_conn_close(c);
            break;
        }
        if (n == 0) {
            /* Peer half-closed. Finish what is in flight, then close. */
            if (c->inflight == 0)
                srv_conn_close(c);
            else
                c->close_after_write = true;
            break;
        }
        c->last_active_ms = srv_now_ms();
        if (c->req_start_ms == 0)
            c->req_start_ms = c->last_active_ms;
        if (srv_buf_append(&c->in, tmp, (size_t)n) < 0) {
            srv_conn_close(c);
            break;
        }
        if (c->proto == 0) {
            size_t m = c->in.len < 24 ? c->in.len : 24;
            if (memcmp(c->in.p, h2_preface, m) == 0) {
                if (c->in.len < 24)
                    continue; /* could still be the preface */
                c->proto = 2;
                if (srv_h2_init(c) < 0) {
                    srv_conn_close(c);
                    break;
                }
            } else {
                c->proto = 1;
                srv_h1_init(c);
            }
        }
        if (c->proto == 1)
            srv_h1_feed(c);
        else
            srv_h2_feed(c);
        if (c->dead)
            return;
        if ((size_t)n < sizeof tmp)
            break;
    }
    if (!c->dead)
        srv_conn_flush(c);
}

static void loop_accept(srv_loop *l)
{
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                BILL_LOG_WARN(MOD, "accept: %s (raise the open-files limit)", strerror(errno));
            return;
        }
        srv_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->srv = l->srv;
        c->loop = l;
        c->fd = fd;
        c->last_active_ms = srv_now_ms();
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof c->peer);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer, sizeof c->peer);
        else
            snprintf(c->peer, sizeof c->peer, "unix");
        c->ev = EPOLLIN | EPOLLRDHUP;
        struct epoll_event e = {.events = c->ev, .data.ptr = c};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        l->nconns++;
        atomic_fetch_add(&l->srv->conns_open, 1);
    }
}

void srv_loop_post(srv_job *job)
{
    srv_loop *l = job->target.conn->loop;
    pthread_mutex_lock(&l->mu);
    job->next = NULL;
    bool was_empty = l->done_head == NULL;
    if (l->done_tail)
        l->done_tail->next = job;
    else
        l->done_head = job;
    l->done_tail = job;
    pthread_mutex_unlock(&l->mu);
    /* Wake the loop only for the first job of a batch: the loop reads the
     * eventfd before it takes the list, so a job added to a non-empty list
     * is always collected by the wakeup already pending for that list. */
    if (!was_empty)
        return;
    uint64_t one = 1;
    ssize_t w = write(l->evfd, &one, sizeof one);
    (void)w; /* eventfd counter cannot overflow in practice */
}

static void loop_completions(srv_loop *l)
{
    uint64_t v;
    ssize_t r = read(l->evfd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&l->mu);
    srv_job *j = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (j) {
        srv_job *next = j->next;
        srv_conn *c = j->target.conn;
        job_untrack(j);
        /* A cancelled job's stream or connection is gone: its result is
         * discarded (the handler may have run; nobody is waiting). */
        if (!c->dead && !atomic_load(&j->cancelled))
            srv_conn_respond(j->target, &j->resp); /* our ref keeps c alive */
        srv_job_free(j);
        conn_unref(c);
        j = next;
    }
}

/* Once a second: close connections stuck mid-request or idle too long. */
static void loop_sweep(srv_loop *l, int64_t now)
{
    bill_srv *s = l->srv;
    srv_conn *c = l->conns;
    while (c) {
        srv_conn *next = c->next;
        if (c->draining) {
            if (now > c->drain_deadline_ms)
                srv_conn_close(c);
            c = next;
            continue;
        }
        bool stuck = c->req_start_ms && c->inflight == 0 &&
                     now - c->req_start_ms > s->request_timeout_ms &&
                     (c->proto != 2); /* HTTP/2 streams idle under the conn idle rule */
        bool idle = c->inflight == 0 && now - c->last_active_ms > s->idle_timeout_ms;
        if (stuck || idle) {
            if (c->proto == 2 && !c->goaway_sent) {
                srv_h2_goaway(c);
                c->close_after_write = true;
                srv_conn_flush(c);
            } else {
                srv_conn_close(c);
            }
        } else if (c->proto == 2) {
            srv_h2_tick(c);
            if (!c->dead)
                srv_conn_flush(c);
        }
        c = next;
    }
}

/* SIGTERM: stop accepting; HTTP/2 gets GOAWAY, idle HTTP/1.1 closes now,
 * busy HTTP/1.1 closes after its response. */
static void loop_begin_stop(srv_loop *l)
{
    if (l->lfd >= 0) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->lfd, NULL);
        close(l->lfd);
        l->lfd = -1;
    }
    srv_conn *c = l->conns;
    while (c) {
        srv_conn *next = c->next;
        if (c->proto == 2) {
            if (!c->goaway_sent)
                srv_h2_goaway(c);
            srv_conn_flush(c);
        } else if (c->inflight == 0) {
            srv_conn_close(c);
        } else {
            c->h1_keepalive = false;
            c->close_after_write = true;
        }
        c = next;
    }
}

static void *loop_main(void *arg)
{
    srv_loop *l = arg;
    bill_srv *s = l->srv;
    struct epoll_event evs[256];
    int64_t last_sweep = srv_now_ms();
    bool stopping = false;
    for (;;) {
        int n = epoll_wait(l->epfd, evs, 256, 250);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &l->lfd) {
                loop_accept(l);
            } else if (p == &l->evfd) {
                loop_completions(l);
            } else {
                srv_conn *c = p;
                if (c->dead)
                    continue;
                /* Hold a reference: any step below may close the connection,
                 * and the codecs keep using it until they return. */
                c->refs++;
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    conn_readable(c);
                if (!c->dead && (evs[i].events & EPOLLOUT))
                    srv_conn_flush(c);
                if (!c->dead && (evs[i].events & (EPOLLHUP | EPOLLERR)))
                    srv_conn_close(c);
                if (--c->refs == 0 && c->dead)
                    conn_release(c);
            }
        }
        loop_submit_pending(l);
        flush_dirty(l);
        if (!stopping && atomic_load(&s->stopping)) {
            stopping = true;
            loop_begin_stop(l);
        }
        int64_t now = srv_now_ms();
        if (now - last_sweep >= 1000) {
            last_sweep = now;
            loop_sweep(l, now);
            loop_submit_pending(l);
            flush_dirty(l);
        }
        if (atomic_load(&s->stopping) == 2) {
            /* grace period over (or all done): drop whatever is left */
            while (l->conns)
                srv_conn_close(l->conns);
            loop_submit_pending(l); /* every pending job is cancelled now: dropped */
            flush_dirty(l); /* releases the closed ones it still referenced */
            break;
        }
        if (stopping && l->conns == NULL)
            break;
    }
    return NULL;
}

static int gai_fail(const char *host, int rc)
{
    BILL_LOG_ERROR(MOD, "cannot resolve listen address \"%s\": %s", host ? host : "",
                   gai_strerror(rc));
    return -EINVAL;
}

static int listen_socket(const char *host, int port, int *bound_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host && *host ? host : NULL, ps, &hints, &ai);
    if (rc != 0)
        return gai_fail(host, rc);
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int srv_start(bill_srv *s)
{
    if (s->nloops <= 0)
        s->nloops = 2;
    s->loops = calloc((size_t)s->nloops, sizeof *s->loops);
    if (!s->loops)
        return -ENOMEM;
    int port = s->port;
    for (int i = 0; i < s->nloops; i++) {
        srv_loop *l = &s->loops[i];
        l->srv = s;
        l->lfd = l->evfd = l->epfd = -1;
        pthread_mutex_init(&l->mu, NULL);
        /* Port 0 = any free port: the first loop picks it, the others reuse it. */
        int bp = 0;
        l->lfd = listen_socket(s->host, port, &bp);
        if (l->lfd < 0) {
            BILL_LOG_ERROR(MOD, "cannot listen on %s:%d: %s", s->host, port, strerror(-l->lfd));
            return l->lfd;
        }
        port = bp;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (l->epfd < 0 || l->evfd < 0)
            return -errno;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->lfd};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd, &e);
        struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = &l->evfd};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &e2);
    }
    s->port = port;
    for (int i = 0; i < s->nloops; i++) {
        if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0)
            return -EAGAIN;
        s->loops[i].started = true;
    }
    return 0;
}

static void wake_all(bill_srv *s)
{
    for (int i = 0; i < s->nloops; i++) {
        uint64_t one = 1;
        if (s->loops[i].evfd >= 0) {
            ssize_t w = write(s->loops[i].evfd, &one, sizeof one);
            (void)w;
        }
    }
}

static bool loops_running(bill_srv *s)
{
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started && pthread_tryjoin_np(s->loops[i].th, NULL) != 0)
            return true;
        else
            s->loops[i].started = false;
    return false;
}

void srv_stop(bill_srv *s, int grace_ms)
{
    if (!s->loops)
        return;
    atomic_store(&s->stopping, 1);
    wake_all(s);
    int64_t until = srv_now_ms() + grace_ms;
    while (loops_running(s) && srv_now_ms() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&s->stopping, 2);
    wake_all(s);
    /* The loops close what is left (taking queued jobs of those connections
     * back from the workers), then the workers finish the jobs already
     * taken; their completions land in the loops' lists, which are drained
     * and freed below. Loops first: closing cancels through the workers. */
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started) {
            pthread_join(s->loops[i].th, NULL);
            s->loops[i].started = false;
        }
    srv_workers_stop(s);
    for (int i = 0; i < s->nloops; i++) {
        srv_loop *l = &s->loops[i];
        srv_job *j = l->done_head;
        while (j) {
            srv_job *next = j->next;
            srv_conn *c = j->target.conn;
            job_untrack(j);
            srv_job_free(j);
            conn_unref(c);
            j = next;
        }
        while (l->conns)
            srv_conn_close(l->conns);
        loop_submit_pending(l);
        if (l->lfd >= 0)
            close(l->lfd);
        if (l->evfd >= 0)
            close(l->evfd);
        if (l->epfd >= 0)
            close(l->epfd);
        pthread_mutex_destroy(&l->mu);
    }
    free(s->loops);
    s->loops = NULL;
}
