/*
 * openload.c — an open-loop HTTP/2 (h2c) load generator for the latency
 * goal of issue 13 (bench/api-reads.sh):
 *
 *   openload HOST PORT PATH BODYFILE CONNECTIONS RATE SECONDS [HEADER...]
 *
 * Requests arrive as ONE Poisson process of RATE a second, each on a
 * connection chosen at random, for SECONDS; they are sent at their arrival
 * time whatever is still in flight (a connection carries up to the
 * server's MAX_CONCURRENT_STREAMS at once, nghttp2 queues the rest), and a
 * request's latency runs from its arrival time, so a slow answer never
 * holds back the next request (no coordinated omission). That is what
 * "the same traffic from 10 or from 100 clients" means; h2load --rps
 * fires every connection's timer in the same loop turn, so its 100
 * connections send in bursts of 100 and measure the burst, not the server.
 *
 * BODYFILE holds the request body as sent (for gRPC: the 5-byte frame
 * header and the message). HEADER is "name: value". Prints one line
 *   <answers per second> <p50 ms> <p99 ms>
 * on stdout and details (sent, answered, non-200 or grpc-status != 0,
 * max) on stderr; exits 1 when any answer was an error or unanswered.
 * A benchmark tool, not part of the product: it talks only to the local
 * server the bench scripts started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    nghttp2_session *h2;
    unsigned char *out;   /* bytes nghttp2 produced that the socket has not taken */
    size_t out_len, out_cap;
    bool want_out;
    bool dirty;           /* requests submitted this loop turn, not yet pumped */
    struct conn *dirty_next;
} conn;

typedef struct req {
    int64_t arrival_ns;
    size_t body_off;
    int http_status;
    int grpc_status;      /* -1: none seen */
} req;

static const unsigned char *body;
static size_t body_len;
static nghttp2_nv *nva;
static size_t nnv;
static int64_t *lat_ns;
static size_t nlat, lat_cap;
static long long sent, answered, bad;
static int epfd;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("malloc");
    return p;
}

/* xorshift64*, seeded from the clock: arrivals need no cryptography */
static uint64_t rng_state;
static double rnd01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t v = rng_state * 2685821657736338717ULL;
    return ((double)(v >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static ssize_t read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)s;
    (void)sid;
    (void)user;
    req *r = src->ptr;
    size_t n = body_len - r->body_off;
    if (n > len)
        n = len;
    memcpy(buf, body + r->body_off, n);
    r->body_off += n;
    if (r->body_off == body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    req *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!r)
        return 0;
    char v[16];
    size_t vl = valuelen < sizeof v - 1 ? valuelen : sizeof v - 1;
    memcpy(v, value, vl);
    v[vl] = '\0';
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        r->http_status = atoi(v);
    else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        r->grpc_status = atoi(v);
    return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *user)
{
    (void)user;
    req *r = nghttp2_session_get_stream_user_data(s, sid);
    if (!r)
        return 0;
    answered++;
    if (code != NGHTTP2_NO_ERROR || r->http_status != 200 ||
        (r->grpc_status != -1 && r->grpc_status != 0))
        bad++;
    if (nlat < lat_cap)
        lat_ns[nlat++] = now_ns() - r->arrival_ns;
    free(r);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                   size_t len, void *user)
{
    (void)flags;
    (void)data;
    (void)user;
    /* answers are small: give the window back at once */
    nghttp2_session_consume(s, sid, len);
    return 0;
}

/* Move what nghttp2 wants to send into the socket; EPOLLOUT while it lags. */
static void pump(conn *c)
{
    for (;;) {
        while (c->out_len == 0) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(c->h2, &d);
            if (n < 0) {
                fprintf(stderr, "openload: nghttp2: %s\n", nghttp2_strerror((int)n));
                exit(2);
            }
            if (n == 0)
                break;
            if (c->out_cap < (size_t)n) {
                c->out_cap = (size_t)n * 2;
                free(c->out);
                c->out = xmalloc(c->out_cap);
            }
            memcpy(c->out, d, (size_t)n);
            c->out_len = (size_t)n;
        }
        if (c->out_len == 0)
            break;
        ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                die("send");
            break;
        }
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
    bool want = c->out_len > 0;
    if (want != c->want_out) {
        struct epoll_event e = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
        c->want_out = want;
    }
}

static void readable(conn *c)
{
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            die("recv");
        }
        if (n == 0) {
            fprintf(stderr, "openload: the server closed a connection\n");
            exit(2);
        }
        if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
            fprintf(stderr, "openload: bad HTTP/2 from the server\n");
            exit(2);
        }
        if ((size_t)n < sizeof buf)
            break;
    }
}

static void submit(conn *c, int64_t arrival)
{
    req *r = xmalloc(sizeof *r);
    r->arrival_ns = arrival;
    r->body_off = 0;
    r->http_status = 0;
    r->grpc_status = -1;
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = read_body};
    if (nghttp2_submit_request(c->h2, NULL, nva, nnv, &dp, r) < 0) {
        fprintf(stderr, "openload: cannot submit a request\n");
        exit(2);
    }
    sent++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static nghttp2_nv mknv(const char *name, const char *value)
{
    nghttp2_nv v = {(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                    NGHTTP2_NV_FLAG_NONE};
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s HOST PORT PATH BODYFILE CONNECTIONS RATE SECONDS [HEADER...]\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *port = argv[2], *path = argv[3];
    int nconn = atoi(argv[5]);
    double rate = atof(argv[6]), secs = atof(argv[7]);
    if (nconn < 1 || nconn > 10000 || rate <= 0 || secs <= 0) {
        fprintf(stderr, "openload: CONNECTIONS 1..10000, RATE and SECONDS > 0\n");
        return 2;
    }

    FILE *bf = fopen(argv[4], "rb");
    if (!bf)
        die(argv[4]);
    unsigned char *b = xmalloc(1 << 20);
    body_len = fread(b, 1, 1 << 20, bf);
    fclose(bf);
    body = b;

    static char authority[300];
    snprintf(authority, sizeof authority, "%s:%s", host, port);
    nva = xmalloc(sizeof *nva * (size_t)(6 + argc - 8));
    nva[nnv++] = mknv(":method", "POST");
    nva[nnv++] = mknv(":scheme", "http");
    nva[nnv++] = mknv(":authority", authority);
    nva[nnv++] = mknv(":path", path);
    nva[nnv++] = mknv("content-type", "application/grpc");
    nva[nnv++] = mknv("te", "trailers");
    for (int i = 8; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        if (!colon || colon == argv[i]) {
            fprintf(stderr, "openload: header \"%s\" is not \"name: value\"\n", argv[i]);
            return 2;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        for (char *p = argv[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        nva[nnv++] = mknv(argv[i], v);
    }

    lat_cap = (size_t)(rate * secs * 1.5) + 1024;
    lat_ns = xmalloc(lat_cap * sizeof *lat_ns);
    rng_state = (uint64_t)now_ns() | 1;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        fprintf(stderr, "openload: cannot resolve %s:%s\n", host, port);
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 0);
    conn *conns = calloc((size_t)nconn, sizeof *conns);
    if (!conns)
        die("calloc");
    for (int i = 0; i < nconn; i++) {
        conn *c = &conns[i];
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0)
            die("connect");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        if (nghttp2_session_client_new2(&c->h2, cb, c, opt) != 0)
            die("nghttp2_session_client_new2");
        nghttp2_settings_entry st = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20};
        nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, &st, 1);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
            die("epoll_ctl");
        pump(c);
    }
    freeaddrinfo(ai);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die("timerfd_create");
    struct epoll_event te = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &te);

    /* let the connections settle (preface, SETTINGS) for 200 ms */
    int64_t start = now_ns() + 200000000;
    int64_t end = start + (int64_t)(secs * 1e9);
    int64_t next = start;
    int64_t drain_until = end + 5000000000LL, armed_for = -1;
    struct epoll_event evs[256];
    for (;;) {
        int64_t t = now_ns();
        bool armed = false;
        if (t >= start && next < end) {
            /* every arrival that is due, then one write per connection:
             * requests that arrived together leave together, as they
             * would from separate clients' kernels */
            conn *dirty = NULL;
            while (next <= t && next < end) {
                conn *c = &conns[(int)(rnd01() * nconn) % nconn];
                submit(c, next);
                if (!c->dirty) {
                    c->dirty = true;
                    c->dirty_next = dirty;
                    dirty = c;
                }
                next += (int64_t)(-log(rnd01()) / rate * 1e9);
            }
            while (dirty) {
                conn *c = dirty;
                dirty = c->dirty_next;
                c->dirty = false;
                pump(c);
            }
        }
        if (next < end) {
            if (armed_for != next) {
                struct itimerspec its = {{0, 0}, {next / 1000000000, next % 1000000000}};
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                armed_for = next;
            }
            armed = true;
        }
        if (next >= end && answered >= sent)
            break;
        if (t > drain_until)
            break;
        int n = epoll_wait(epfd, evs, 256, armed ? -1 : 100);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                uint64_t x;
                ssize_t r = read(tfd, &x, sizeof x);
                (void)r;
                continue;
            }
            conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                readable(c);
            pump(c);
        }
    }
    double took = (double)(now_ns() - start) / 1e9;
    if (took < secs)
        took = secs;
    qsort(lat_ns, nlat, sizeof *lat_ns, cmp_i64);
    double p50 = nlat ? lat_ns[nlat / 2] / 1e6 : 0;
    double p99 = nlat ? lat_ns[nlat * 99 / 100 < nlat ? nlat * 99 / 100 : nlat - 1] / 1e6 : 0;
    double mx = nlat ? lat_ns[nlat - 1] / 1e6 : 0;
    fprintf(stderr, "openload: %d connections, %.0f/s offered for %.1f s: sent %lld, answered %lld, "
                    "errors %lld, max %.2f ms\n",
            nconn, rate, secs, sent, answered, bad, mx);
    printf("%.0f %.2f %.2f\n", (double)answered / secs, p50, p99);
    for (int i = 0; i < nconn; i++) {
        nghttp2_session_del(conns[i].h2);
        close(conns[i].fd);
        free(conns[i].out);
    }
    free(conns);
    return (bad || answered < sent) ? 1 : 0;
}
