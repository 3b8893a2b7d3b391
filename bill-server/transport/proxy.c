/*
 * proxy.c — client IP behind reverse proxies ([server].trusted_proxies).
 *
 * Login rate limits and audit source IPs key on the client address. Behind
 * nginx or Caddy every socket peer is the proxy, so all clients would share
 * one bucket. When (and only when) the peer is a listed proxy we believe its
 * X-Forwarded-For: walking it right to left, each trusted hop is skipped and
 * the first untrusted address is the client (an attacker can prepend any
 * addresses, but cannot forge what our own proxies appended). Without
 * X-Forwarded-For, X-Real-IP is used. A peer that is not listed is the client,
 * whatever headers it sends.
 */
#include "server.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bill/config.h"

/* Parse an address; IPv4-mapped IPv6 ("::ffff:1.2.3.4", what a dual-stack
 * listener reports for IPv4 clients) becomes plain IPv4. */
static int parse_addr(const char *s, size_t n, int *family, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) != 1)
        return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out, mapped, 12) == 0) {
        memmove(out, out + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return 0;
}

int srv_cidr_parse(const char *s, srv_cidr *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (parse_addr(s, al, &out->family, out->addr) < 0)
        return -1;
    int max = out->family == AF_INET ? 32 : 128;
    out->bits = max;
    if (!slash)
        return 0;
    const char *p = slash + 1;
    if (!*p || strlen(p) > 3)
        return -1;
    int bits = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        bits = bits * 10 + (*p - '0');
    }
    if (bits > max)
        return -1;
    out->bits = bits;
    return 0;
}

static bool cidr_match(const srv_cidr *c, int family, const uint8_t *a)
{
    if (c->family != family)
        return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

static bool trusted_addr(const bill_srv *s, int family, const uint8_t *a)
{
    for (size_t i = 0; i < s->nproxies; i++)
        if (cidr_match(&s->proxies[i], family, a))
            return true;
    return false;
}

int srv_proxy_init(bill_srv *s)
{
    s->proxies = NULL;
    s->nproxies = 0;
    if (!s->cfg || s->cfg->server.trusted_proxies_count == 0)
        return BILL_OK;
    size_t n = s->cfg->server.trusted_proxies_count;
    s->proxies = calloc(n, sizeof *s->proxies);
    if (!s->proxies)
        return BILL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *v = s->cfg->server.trusted_proxies[i];
        if (srv_cidr_parse(v, &s->proxies[i]) < 0) {
            free(s->proxies);
            s->proxies = NULL;
            return BILL_ECONFIG; /* bill_config_validate already refused it */
        }
    }
    s->nproxies = n;
    return BILL_OK;
}

void srv_proxy_free(bill_srv *s)
{
    free(s->proxies);
    s->proxies = NULL;
    s->nproxies = 0;
}

bool srv_proxy_trusted(const bill_srv *s, const char *ip)
{
    int fam;
    uint8_t a[16];
    if (!s || s->nproxies == 0 || !ip || parse_addr(ip, strlen(ip), &fam, a) < 0)
        return false;
    return trusted_addr(s, fam, a);
}

/* One X-Forwarded-For element, trimmed; tolerates "[v6]" and "v4:port" as
 * some proxies write them. Writes the bare address to out. */
static int xff_item(const char *p, size_t n, int *fam, uint8_t a[16], char *out, size_t outsz)
{
    while (n && (p[0] == ' ' || p[0] == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= 2 && p[0] == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb)
            return -1;
        p++;
        n = (size_t)(rb - p);
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - p)))
            n = (size_t)(colon - p); /* a.b.c.d:port */
    }
    if (parse_addr(p, n, fam, a) < 0)
        return -1;
    /* canonical text, so the same client always maps to one rate-limit key */
    if (!inet_ntop(*fam, a, out, (socklen_t)outsz))
        return -1;
    return 0;
}

void srv_client_ip(const bill_srv *s, const char *peer, const srv_hdrs *h, char *out,
                   size_t outsz)
{
    snprintf(out, outsz, "%s", peer ? peer : "");
    if (!srv_proxy_trusted(s, peer))
        return;
    /* All X-Forwarded-For lines, in order, form one list. */
    size_t nitems = 0;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].name, "x-forwarded-for") == 0)
            nitems++;
    if (nitems > 0) {
        char cand[INET6_ADDRSTRLEN];
        for (size_t i = h->n; i-- > 0;) {
            if (strcmp(h->v[i].name, "x-forwarded-for") != 0)
                continue;
            const char *v = h->v[i].value;
            size_t end = strlen(v);
            for (;;) {
                size_t start = end;
                while (start > 0 && v[start - 1] != ',')
                    start--;
                int fam;
                uint8_t a[16];
                if (xff_item(v + start, end - start, &fam, a, cand, sizeof cand) < 0)
                    return; /* garbage: keep the last address we could vouch for */
                snprintf(out, outsz, "%s", cand);
                if (!trusted_addr(s, fam, a))
                    return; /* first untrusted from the right: the client */
                if (start == 0)
                    break;
                end = start - 1;
            }
        }
        return; /* every hop trusted: the leftmost one is the client */
    }
    const char *real = srv_hdrs_get(h, "x-real-ip");
    if (real) {
        char cand[INET6_ADDRSTRLEN];
        int fam;
        uint8_t a[16];
        if (xff_item(real, strlen(real), &fam, a, cand, sizeof cand) == 0)
            snprintf(out, outsz, "%s", cand);
    }
}
