/*
 * incus.c — provider-incus: first-party servers on an Incus host through its
 * REST API 1.0 over HTTPS with a client certificate (mTLS; the certificate
 * must be in the server's trust store, `incus config trust add-certificate`).
 *
 *   create    POST /1.0/instances {name, type, source:{type:image, alias},
 *             config:{limits.cpu, limits.memory}, devices:{root:{size}},
 *             start:true} then GET /1.0/operations/<id>/wait
 *   get       GET /1.0/instances/<name>/state (status, IPv4 of eth0/global)
 *   actions   PUT /1.0/instances/<name>/state {action: start|stop|restart}
 *             terminate = forced stop + DELETE /1.0/instances/<name>
 *
 * The instance name is derived from the order id ("bill-<32 hex>"), so a
 * retried create (the events queue retries after a crash) finds the
 * instance it already made instead of making a second one.
 *
 * Spec (server_spec of the order): cpu_cores, memory_gb, disk_gb, os (image
 * alias). Config: {"url", "client_cert", "client_key" (PEM file paths),
 * "ca_file"?, "insecure_skip_verify"?, "project"?, "storage_pool"?,
 * "instance_type"? (container|virtual-machine), "images"? (comma list of
 * aliases offered), "operation_timeout"? (seconds, default 120)}.
 */
#include <bill/plugin.h>

#include "pu.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct inc {
    const bill_plugin_host *host;
    char *url, *cert, *key, *ca, *project, *pool, *type, *images;
    bool insecure;
    long op_timeout;
} inc;

static void inc_destroy(void *instance)
{
    inc *c = instance;
    if (!c)
        return;
    free(c->url);
    free(c->cert);
    free(c->key);
    free(c->ca);
    free(c->project);
    free(c->pool);
    free(c->type);
    free(c->images);
    free(c);
}

/* Characters Incus allows in project and storage pool names (and what can
 * go into a query string and a JSON value unescaped). */
static bool incus_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static int inc_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = NULL;
    inc *c = NULL;
    void *mem;
    int64_t op_timeout;
    int rc = BILL_PLUGIN_OK;

    if ((rc = pu_init_begin(host, config_json, sizeof *c, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    c = mem;
    c->host = host;
    const pu_cfg_str strs[] = {
        {"url", "", &c->url},
        {"client_cert", "", &c->cert},
        {"client_key", "", &c->key},
        {"ca_file", NULL, &c->ca},
        {"project", "default", &c->project},
        {"storage_pool", "default", &c->pool},
        {"instance_type", "container", &c->type},
        {"images", "debian/12,ubuntu/24.04,rockylinux/9", &c->images},
    };
    if ((rc = pu_cfg_load(host, cfg, strs, sizeof strs / sizeof *strs)) != BILL_PLUGIN_OK ||
        (rc = pu_cfg_insecure(host, cfg, &c->insecure)) != BILL_PLUGIN_OK)
        goto done;
    if (pu_json_opt_int(cfg, "operation_timeout", 120, &op_timeout) < 0 || op_timeout < 1 ||
        op_timeout > 3600) {
        rc = host->error(host, BILL_EINVALID, "operation_timeout must be 1..3600 seconds");
        goto done;
    }
    c->op_timeout = (long)op_timeout;
    if (strncmp(c->url, "https://", 8) != 0 || strchr(c->url, ' ') || strchr(c->url, '?') ||
        strchr(c->url, '#')) {
        rc = host->error(host, BILL_EINVALID, "url \"%s\" must be https:// (Incus speaks TLS only) "
                         "without a query", c->url);
        goto done;
    }
    for (size_t n = strlen(c->url); n && c->url[n - 1] == '/'; n--)
        c->url[n - 1] = '\0';
    if (!incus_name_ok(c->project, 63) || !incus_name_ok(c->pool, 63)) {
        rc = host->error(host, BILL_EINVALID, "project and storage_pool must be Incus names "
                         "(letters, digits, - _ .)");
        goto done;
    }
    if (strcmp(c->type, "container") != 0 && strcmp(c->type, "virtual-machine") != 0) {
        rc = host->error(host, BILL_EINVALID, "instance_type must be container or virtual-machine");
        goto done;
    }
    *instance = c;
    c = NULL;
done:
    inc_destroy(c);
    json_object_put(cfg);
    return rc;
}

/* One API call. *out receives the parsed JSON answer (caller puts it).
 * Incus wraps everything as {"type":"sync|async|error", ...}; an error
 * answer becomes BILL_ENOTFOUND (404) or BILL_EPLUGIN with its text. */
static int api(inc *c, const char *method, const char *path, const char *body, long timeout_ms,
               json_object **out, long *status_out)
{
    const bill_plugin_host *h = c->host;
    char *url = NULL;
    bill_plugin_http_header hdr = {"Content-Type", "application/json"};
    bill_plugin_http_request req;
    bill_plugin_http_response resp = {0};
    json_object *doc = NULL;
    const char *type;
    int rc;

    *out = NULL;
    if (asprintf(&url, "%s%s%sproject=%s", c->url, path, strchr(path, '?') ? "&" : "?",
                 c->project) < 0)
        return h->error(h, BILL_ENOMEM, "out of memory");
    memset(&req, 0, sizeof req);
    req.version = BILL_PLUGIN_HTTP_REQUEST_VERSION;
    req.method = method;
    req.url = url;
    req.headers = body ? &hdr : NULL;
    req.n_headers = body ? 1 : 0;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = timeout_ms;
    req.ca_file = c->ca;
    req.client_cert_file = c->cert[0] ? c->cert : NULL;
    req.client_key_file = c->key[0] ? c->key : NULL;
    req.insecure_skip_verify = c->insecure;
    if ((rc = h->http(h, &req, &resp)) < 0)
        goto done;
    if (status_out)
        *status_out = resp.status;
    doc = pu_json_parse(resp.body, resp.body ? resp.body_len : 0);
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        rc = h->error(h, resp.status >= 500 ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                      "%s %s: HTTP %ld with a non-JSON answer", method, path, resp.status);
        goto done;
    }
    if (resp.status >= 400 || (type = pu_json_str(doc, "type"), type && strcmp(type, "error") == 0)) {
        const char *msg = pu_json_str(doc, "error");
        if (!msg)
            msg = "";
        rc = h->error(h, resp.status == 404 ? BILL_ENOTFOUND
                         : resp.status >= 500 ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                      "incus %s %s: HTTP %ld: %s", method, path, resp.status, msg);
        goto done;
    }
    *out = doc;
    doc = NULL;
done:
    json_object_put(doc);
    h->http_response_free(&resp);
    free(url);
    return rc;
}

/* "/1.0/operations/<uuid>": nothing else may go into the next URL. */
static bool op_path_ok(const char *op)
{
    size_t n;
    if (!op || strncmp(op, "/1.0/operations/", 16) != 0)
        return false;
    n = strlen(op + 16);
    return n >= 1 && n <= 64 && strspn(op + 16, "0123456789abcdefABCDEF-") == n;
}

/* Wait for the async operation an answer names; its failure is ours. */
static int wait_op(inc *c, json_object *answer, const char *what)
{
    const bill_plugin_host *h = c->host;
    json_object *res = NULL, *md;
    const char *type = pu_json_str(answer, "type"), *op, *status, *err;
    char path[300];
    int rc;

    if (!type || strcmp(type, "async") != 0)
        return BILL_PLUGIN_OK; /* sync: already done */
    if (!op_path_ok(op = pu_json_str(answer, "operation")))
        return h->error(h, BILL_EPLUGIN, "incus %s: async answer without a valid operation", what);
    snprintf(path, sizeof path, "%s/wait?timeout=%ld", op, c->op_timeout);
    if ((rc = api(c, "GET", path, NULL, (c->op_timeout + 10) * 1000, &res, NULL)) < 0)
        return rc;
    md = pu_json_get(res, "metadata", json_type_object);
    if (!(status = pu_json_str(md, "status"))) {
        rc = h->error(h, BILL_EPLUGIN, "incus %s: operation answer without a status", what);
    } else if (strcmp(status, "Success") != 0) {
        err = pu_json_str(md, "err");
        rc = h->error(h, strcmp(status, "Running") == 0 ? BILL_ETIMEOUT : BILL_EPLUGIN,
                      "incus %s: operation %s: %s", what, status, err ? err : "");
    }
    json_object_put(res);
    return rc;
}

/* "bill-" + the order id's hex digits: valid Incus name, stable per order. */
static int name_for(const char *order_id, char out[48])
{
    size_t n = 0;
    strcpy(out, "bill-");
    for (const char *s = order_id; s && *s && n < 32; s++)
        if (isxdigit((unsigned char)*s))
            out[5 + n++] = (char)tolower((unsigned char)*s);
    out[5 + n] = '\0';
    return n >= 8 ? 0 : -1;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 63)
        return false;
    for (const char *s = name; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-')
            return false;
    return true;
}

/* A spec value: a JSON integer or a string of decimal digits (specs are
 * typed by the front end). -1 for anything else or out of int64 range. */
static int spec_int(json_object *spec, const char *k, int64_t dflt, int64_t *out)
{
    const char *s = pu_json_str(spec, k);
    char *end;
    if (!s)
        return pu_json_opt_int(spec, k, dflt, out);
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return -1;
    *out = strtoll(s, &end, 10);
    return 0;
}

/* An image alias as Incus names them ("debian/12", "ubuntu/24.04"). */
static bool alias_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 100 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:") == n;
}

static bool image_offered(const inc *c, const char *alias)
{
    size_t n = strlen(alias);
    for (const char *s = c->images; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && strncmp(s, alias, n) == 0)
            return true;
        s += len + (e ? 1 : 0);
    }
    return false;
}

/* The first global IPv4 of a non-loopback interface in a /state network
 * object, or NULL. */
static const char *first_ipv4(json_object *net)
{
    if (!net)
        return NULL;
    json_object_object_foreach(net, ifname, iface) {
        json_object *addrs = pu_json_get(iface, "addresses", json_type_array);
        if (strcmp(ifname, "lo") == 0 || !addrs)
            continue;
        for (size_t i = 0; i < json_object_array_length(addrs); i++) {
            json_object *a = json_object_array_get_idx(addrs, i);
            const char *fam = pu_json_str(a, "family"), *scope = pu_json_str(a, "scope"),
                       *addr = pu_json_str(a, "address");
            if (fam && strcmp(fam, "inet") == 0 && scope && strcmp(scope, "global") == 0 &&
                pu_ip_ok(addr))
                return addr;
        }
    }
    return NULL;
}

/* Fill out from /state (status + first global IPv4). */
static int read_state(inc *c, const char *name, bill_provider_instance *out)
{
    const bill_plugin_host *h = c->host;
    json_object *doc = NULL, *md;
    char path[128];
    const char *st, *ip;
    int rc;

    snprintf(path, sizeof path, "/1.0/instances/%s/state", name);
    if ((rc = api(c, "GET", path, NULL, 0, &doc, NULL)) < 0)
        return rc;
    md = pu_json_get(doc, "metadata", json_type_object);
    st = pu_json_str(md, "status");
    if (!st || !pu_text_ok(st, strlen(st)) || strlen(st) > 64) {
        json_object_put(doc);
        return h->error(h, BILL_EPLUGIN, "incus state of %s has no valid status", name);
    }
    out->status = strcmp(st, "Running") == 0   ? BILL_PROVIDER_RUNNING
                  : strcmp(st, "Stopped") == 0 ? BILL_PROVIDER_STOPPED
                  : strcmp(st, "Frozen") == 0  ? BILL_PROVIDER_SUSPENDED
                  : strcmp(st, "Error") == 0   ? BILL_PROVIDER_ERROR
                                               : BILL_PROVIDER_PROVISIONING;
    if ((ip = first_ipv4(pu_json_get(md, "network", json_type_object))) &&
        !(out->ip_address = h->strdup(ip)))
        rc = h->error(h, BILL_ENOMEM, "out of memory");
    else if (!(out->message = h->strdup(st)))
        rc = h->error(h, BILL_ENOMEM, "out of memory");
    json_object_put(doc);
    return rc;
}

static int inc_create(void *instance, const bill_provider_create_request *req,
                      bill_provider_instance *out)
{
    inc *c = instance;
    const bill_plugin_host *h = c->host;
    json_object *spec = NULL, *body = NULL, *cfg, *dev, *root, *src, *ans = NULL;
    char name[48], path[128], buf[64];
    const char *os;
    int64_t cpu, mem, disk;
    int rc;

    if (name_for(req->order_id, name) < 0)
        return h->error(h, BILL_EINVALID, "order_id \"%s\" cannot name an instance",
                        req->order_id ? req->order_id : "");
    spec = pu_json_parse_object(req->spec_json && req->spec_json[0] ? req->spec_json : "{}");
    if (!spec) {
        rc = h->error(h, BILL_EINVALID, "spec_json is not a JSON object");
        goto done;
    }
    if (spec_int(spec, "cpu_cores", 1, &cpu) < 0 || spec_int(spec, "memory_gb", 1, &mem) < 0 ||
        spec_int(spec, "disk_gb", 10, &disk) < 0) {
        rc = h->error(h, BILL_EINVALID, "spec: cpu_cores, memory_gb and disk_gb must be whole "
                      "numbers");
        goto done;
    }
    if (pu_json_opt_str(spec, "os", NULL, &os) < 0 ||
        (!os && pu_json_opt_str(spec, "image", "debian/12", &os) < 0) || !alias_ok(os)) {
        rc = h->error(h, BILL_EINVALID, "spec: os must be an image alias such as debian/12");
        goto done;
    }
    if (cpu < 1 || cpu > 256 || mem < 1 || mem > 4096 || disk < 1 || disk > 65536) {
        rc = h->error(h, BILL_EINVALID, "spec out of range: cpu_cores %lld, memory_gb %lld, "
                      "disk_gb %lld", (long long)cpu, (long long)mem, (long long)disk);
        goto done;
    }
    /* Idempotency: the instance of this order may exist from an earlier try. */
    snprintf(path, sizeof path, "/1.0/instances/%s", name);
    rc = api(c, "GET", path, NULL, 0, &ans, NULL);
    json_object_put(ans);
    ans = NULL;
    if (rc == BILL_PLUGIN_OK) {
        h->log(h, BILL_PLUGIN_LOG_INFO, "instance %s exists already (retried create)", name);
        goto created;
    }
    if (rc != BILL_ENOTFOUND)
        goto done;

    body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string(name));
    json_object_object_add(body, "type", json_object_new_string(c->type));
    json_object_object_add(body, "start", json_object_new_boolean(1));
    src = json_object_new_object();
    json_object_object_add(src, "type", json_object_new_string("image"));
    json_object_object_add(src, "alias", json_object_new_string(os));
    json_object_object_add(body, "source", src);
    cfg = json_object_new_object();
    snprintf(buf, sizeof buf, "%lld", (long long)cpu);
    json_object_object_add(cfg, "limits.cpu", json_object_new_string(buf));
    snprintf(buf, sizeof buf, "%lldGiB", (long long)mem);
    json_object_object_add(cfg, "limits.memory", json_object_new_string(buf));
    json_object_object_add(cfg, "user.bill.order_id", json_object_new_string(req->order_id));
    if (req->customer_id)
        json_object_object_add(cfg, "user.bill.customer_id",
                               json_object_new_string(req->customer_id));
    json_object_object_add(body, "config", cfg);
    dev = json_object_new_object();
    root = json_object_new_object();
    json_object_object_add(root, "type", json_object_new_string("disk"));
    json_object_object_add(root, "path", json_object_new_string("/"));
    json_object_object_add(root, "pool", json_object_new_string(c->pool));
    snprintf(buf, sizeof buf, "%lldGiB", (long long)disk);
    json_object_object_add(root, "size", json_object_new_string(buf));
    json_object_object_add(dev, "root", root);
    json_object_object_add(body, "devices", dev);
    if ((rc = api(c, "POST", "/1.0/instances",
                  json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), 0, &ans,
                  NULL)) < 0 ||
        (rc = wait_op(c, ans, "create")) < 0)
        goto done;
created:
    out->provider_instance_id = h->strdup(name);
    if (!out->provider_instance_id) {
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }
    /* Booting is the poller's business; report what we know now. */
    out->status = BILL_PROVIDER_PROVISIONING;
    out->message = h->strdup(image_offered(c, os) ? "created" : "created (image not in the offer list)");
    rc = BILL_PLUGIN_OK;
done:
    json_object_put(ans);
    json_object_put(body);
    json_object_put(spec);
    return rc;
}

static int inc_get(void *instance, const char *id, bill_provider_instance *out)
{
    inc *c = instance;
    int rc;
    if (!name_ok(id))
        return c->host->error(c->host, BILL_EINVALID, "\"%s\" is not an instance name",
                              id ? id : "");
    rc = read_state(c, id, out);
    if (rc == BILL_ENOTFOUND) {
        /* Gone on the host: that is a state, not a failure of the call. */
        out->status = BILL_PROVIDER_TERMINATED;
        out->message = c->host->strdup("not found on the Incus host");
        rc = BILL_PLUGIN_OK;
    }
    if (rc == BILL_PLUGIN_OK)
        out->provider_instance_id = c->host->strdup(id);
    return rc;
}

static int put_state(inc *c, const char *name, const char *action, bool force)
{
    json_object *ans = NULL;
    char path[128], body[128];
    int rc;
    snprintf(path, sizeof path, "/1.0/instances/%s/state", name);
    snprintf(body, sizeof body, "{\"action\":\"%s\",\"timeout\":30,\"force\":%s}", action,
             force ? "true" : "false");
    if ((rc = api(c, "PUT", path, body, 0, &ans, NULL)) == BILL_PLUGIN_OK)
        rc = wait_op(c, ans, action);
    json_object_put(ans);
    return rc;
}

static int inc_action(void *instance, const char *id, const char *action)
{
    inc *c = instance;
    json_object *ans = NULL;
    char path[128];
    int rc;

    if (!name_ok(id))
        return c->host->error(c->host, BILL_EINVALID, "\"%s\" is not an instance name",
                              id ? id : "");
    if (strcmp(action, BILL_PROVIDER_ACTION_START) == 0)
        return put_state(c, id, "start", false);
    if (strcmp(action, BILL_PROVIDER_ACTION_STOP) == 0)
        return put_state(c, id, "stop", false);
    if (strcmp(action, BILL_PROVIDER_ACTION_REBOOT) == 0)
        return put_state(c, id, "restart", false);
    if (strcmp(action, BILL_PROVIDER_ACTION_TERMINATE) != 0)
        return c->host->error(c->host, BILL_EUNSUPPORTED, "action \"%s\" is not supported",
                              action);
    /* Incus refuses to delete a running instance: stop it hard first. */
    rc = put_state(c, id, "stop", true);
    if (rc < 0 && rc != BILL_EPLUGIN) /* EPLUGIN: already stopped */
        return rc == BILL_ENOTFOUND ? BILL_PLUGIN_OK : rc;
    snprintf(path, sizeof path, "/1.0/instances/%s", id);
    if ((rc = api(c, "DELETE", path, NULL, 0, &ans, NULL)) == BILL_PLUGIN_OK)
        rc = wait_op(c, ans, "delete");
    json_object_put(ans);
    return rc == BILL_ENOTFOUND ? BILL_PLUGIN_OK : rc;
}

static int inc_detail(void *instance, const char *id, char **json_out)
{
    inc *c = instance;
    bill_provider_instance st = {0};
    json_object *arr, *sec, *fields;
    int rc;

    if ((rc = inc_get(c, id, &st)) < 0)
        return rc;
    arr = json_object_new_array();
    sec = json_object_new_object();
    fields = json_object_new_object();
    json_object_object_add(fields, "Name", json_object_new_string(id));
    json_object_object_add(fields, "State", json_object_new_string(st.message ? st.message : ""));
    json_object_object_add(fields, "IPv4",
                           json_object_new_string(st.ip_address ? st.ip_address : "-"));
    json_object_object_add(fields, "Type", json_object_new_string(c->type));
    json_object_object_add(sec, "title", json_object_new_string("Incus"));
    json_object_object_add(sec, "fields", fields);
    json_object_object_add(sec, "content_html",
                           json_object_new_string("<p>Console: <code>incus exec</code> on the "
                                                  "host, or SSH to the IPv4 above.</p>"));
    json_object_object_add(sec, "sort_order", json_object_new_int(10));
    json_object_array_add(arr, sec);
    *json_out = c->host->strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    free(st.provider_instance_id);
    free(st.ip_address);
    free(st.message);
    return *json_out ? BILL_PLUGIN_OK : c->host->error(c->host, BILL_ENOMEM, "out of memory");
}

static int inc_spec_template(void *instance, char **json_out)
{
    inc *c = instance;
    json_object *t = json_object_new_object(), *fields = json_object_new_array(), *f, *opts;
    static const int cpus[] = {1, 2, 4, 8, 16}, mems[] = {1, 2, 4, 8, 16, 32};

    f = json_object_new_object();
    json_object_object_add(f, "name", json_object_new_string("cpu_cores"));
    json_object_object_add(f, "label", json_object_new_string("CPU cores"));
    json_object_object_add(f, "type", json_object_new_string("select"));
    json_object_object_add(f, "required", json_object_new_boolean(1));
    opts = json_object_new_array();
    for (size_t i = 0; i < sizeof cpus / sizeof *cpus; i++)
        json_object_array_add(opts, json_object_new_int(cpus[i]));
    json_object_object_add(f, "options", opts);
    json_object_array_add(fields, f);

    f = json_object_new_object();
    json_object_object_add(f, "name", json_object_new_string("memory_gb"));
    json_object_object_add(f, "label", json_object_new_string("Memory (GB)"));
    json_object_object_add(f, "type", json_object_new_string("select"));
    json_object_object_add(f, "required", json_object_new_boolean(1));
    opts = json_object_new_array();
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        json_object_array_add(opts, json_object_new_int(mems[i]));
    json_object_object_add(f, "options", opts);
    json_object_array_add(fields, f);

    f = json_object_new_object();
    json_object_object_add(f, "name", json_object_new_string("disk_gb"));
    json_object_object_add(f, "label", json_object_new_string("Disk (GB)"));
    json_object_object_add(f, "type", json_object_new_string("number"));
    json_object_object_add(f, "required", json_object_new_boolean(1));
    json_object_object_add(f, "min", json_object_new_int(10));
    json_object_object_add(f, "max", json_object_new_int(2000));
    json_object_array_add(fields, f);

    f = json_object_new_object();
    json_object_object_add(f, "name", json_object_new_string("os"));
    json_object_object_add(f, "label", json_object_new_string("Operating system"));
    json_object_object_add(f, "type", json_object_new_string("select"));
    json_object_object_add(f, "required", json_object_new_boolean(1));
    opts = json_object_new_array();
    for (const char *s = c->images; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len)
            json_object_array_add(opts, json_object_new_string_len(s, (int)len));
        s += len + (e ? 1 : 0);
    }
    json_object_object_add(f, "options", opts);
    json_object_array_add(fields, f);

    json_object_object_add(t, "fields", fields);
    *json_out = c->host->strdup(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
    json_object_put(t);
    return *json_out ? BILL_PLUGIN_OK : c->host->error(c->host, BILL_ENOMEM, "out of memory");
}

static int inc_health(void *instance, char **detail)
{
    inc *c = instance;
    json_object *doc = NULL;
    int rc = api(c, "GET", "/1.0", NULL, 5000, &doc, NULL);
    const char *auth;
    if (rc < 0)
        return rc;
    auth = pu_json_str(pu_json_get(doc, "metadata", json_type_object), "auth");
    if (!auth || strcmp(auth, "trusted") != 0) {
        rc = c->host->error(c->host, BILL_EUNAUTH,
                            "our client certificate is not trusted by %s", c->url);
    } else {
        *detail = c->host->strdup("trusted");
    }
    json_object_put(doc);
    return rc;
}

static const bill_plugin_provider inc_fns = {
    .version = BILL_PLUGIN_PROVIDER_VERSION,
    .spec_template = inc_spec_template,
    .create_instance = inc_create,
    .get_instance = inc_get,
    .action = inc_action,
    .detail_sections = inc_detail,
    .list_upstream_products = NULL,
};

static const bill_plugin_descriptor inc_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_FIRST_PARTY_PROVIDER,
    .id = "provider-incus",
    .name = "Incus (REST API 1.0, mTLS)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"url\",\"client_cert\",\"client_key\"],"
        "\"additionalProperties\":false,\"properties\":{"
        "\"url\":{\"type\":\"string\"},\"client_cert\":{\"type\":\"string\"},"
        "\"client_key\":{\"type\":\"string\"},\"ca_file\":{\"type\":\"string\"},"
        "\"insecure_skip_verify\":{\"type\":\"boolean\"},\"project\":{\"type\":\"string\"},"
        "\"storage_pool\":{\"type\":\"string\"},"
        "\"instance_type\":{\"type\":\"string\",\"enum\":[\"container\",\"virtual-machine\"]},"
        "\"images\":{\"type\":\"string\"},"
        "\"operation_timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600}}}",
    .init = inc_init,
    .destroy = inc_destroy,
    .health = inc_health,
    .functions = &inc_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &inc_desc;
}
