/*
 * srv_fuzz.c — single-threaded stand-ins for bill-server's event loop and
 * worker pool, used by the fuzz targets (see srv_fuzz.h for why).
 */
#include "srv_fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bill/log.h"
#include "tables.h"

static bill_srv the_srv;
static bool the_srv_ready;
static bill_config *the_cfg;
static const char *origins[] = {"http://localhost:5173", NULL};
static const char *proxies[] = {"127.0.0.1", "10.0.0.0/8", NULL};

bill_srv *srv_fuzz_server(void)
{
    if (the_srv_ready)
        return &the_srv;
    bill_log_set_filter("off");
    if (bill_config_defaults(&the_cfg) != BILL_OK)
        abort();
    /* The config struct is read-only for libbill's users; the fuzz server
     * swaps in static arrays (the defaults are empty lists) and never frees
     * the config. */
    free(the_cfg->cors.allowed_origins);
    free(the_cfg->server.trusted_proxies);
    the_cfg->cors.allowed_origins = (char **)origins;
    the_cfg->cors.allowed_origins_count = 1;
    the_cfg->server.trusted_proxies = (char **)proxies;
    the_cfg->server.trusted_proxies_count = 2;
    the_srv.cfg = the_cfg;
    the_srv.services = bill_srv_service_table;
    the_srv.routes = bill_srv_route_table;
    the_srv.layers = bill_srv_layer_table;
    the_srv.admin_dir = "";
    the_srv.request_timeout_ms = 1000;
    the_srv.max_jobs_per_conn = 32;
    the_srv.idle_timeout_ms = 1000;
    atomic_store(&the_srv.health, 1);
    if (srv_proxy_init(&the_srv) != BILL_OK || srv_layers_init(&the_srv) != BILL_OK)
        abort();
    srv_metrics_init(&the_srv);
    the_srv_ready = true;
    return &the_srv;
}

srv_conn *srv_fuzz_conn_new(void)
{
    bill_srv *s = srv_fuzz_server();
    srv_conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->srv = s;
    c->fd = -1;
    memcpy(c->peer, "127.0.0.1", 10);
    return c;
}

void srv_fuzz_conn_free(srv_conn *c)
{
    srv_h1_free(c);
    srv_h2_free(c);
    srv_buf_free(&c->in);
    srv_buf_free(&c->out);
    free(c);
}

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void srv_fuzz_feed(srv_conn *c, const uint8_t *p, size_t n)
{
    if (c->dead || c->draining || n == 0)
        return;
    if (c->proto == 1 && c->h1_busy)
        return;
    if (srv_buf_append(&c->in, p, n) < 0)
        abort();
    if (c->proto == 0) {
        size_t m = c->in.len < 24 ? c->in.len : 24;
        if (memcmp(c->in.p, h2_preface, m) != 0) {
            c->proto = 1;
            srv_h1_init(c);
        } else if (c->in.len >= 24) {
            c->proto = 2;
            if (srv_h2_init(c) < 0)
                abort();
        } else {
            return;
        }
    }
    if (c->proto == 1)
        srv_h1_feed(c);
    else
        srv_h2_feed(c);
    srv_conn_flush(c);
}

/* ---- loop.c stand-ins --------------------------------------------------- */

void srv_conn_respond(srv_target t, srv_resp *resp)
{
    srv_conn *c = t.conn;
    if (c->dead || c->draining)
        return;
    if (c->proto == 2)
        srv_h2_respond(c, t.stream_id, resp);
    else
        srv_h1_respond(c, resp);
}

void srv_conn_flush(srv_conn *c)
{
    if (c->dead)
        return;
    for (int i = 0; i < 64; i++) {
        if (c->proto == 2)
            srv_h2_pump(c);
        if (c->out.len == 0)
            break;
        c->out.len = 0; /* "sent" */
    }
    if (c->close_after_write)
        c->draining = true;
}

void srv_conn_close(srv_conn *c)
{
    c->dead = true;
}

void srv_loop_post(srv_job *job)
{
    (void)job;
    abort(); /* no workers run in the fuzz build */
}

int srv_conn_submit(srv_job *job)
{
    (void)job;
    return -1; /* refused: the router answers and frees the job itself */
}

void srv_conn_cancel_stream(srv_conn *c, int32_t stream_id)
{
    (void)c;
    (void)stream_id; /* no job is ever held */
}

void srv_conn_cancel_all(srv_conn *c)
{
    (void)c;
}

/* ---- workers.c stand-ins ------------------------------------------------ */

int srv_workers_submit(bill_srv *s, srv_job *job)
{
    (void)s;
    (void)job;
    return -1; /* "busy": the router answers and frees the job itself */
}

int srv_workers_queue_depth(bill_srv *s)
{
    (void)s;
    return 0;
}
