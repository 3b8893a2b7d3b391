/*
 * instance.c — instances: scoped reads, the detail page (stored sections
 * plus the provider's, HTML sanitized here so no frontend can forget it),
 * actions with status rules delegated to the provider, and the allow-list
 * HTML sanitizer. Contract in include/bill/instance.h.
 */
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/order_int.h"
#include "bill/instance.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================================== */
/* HTML sanitizer                                                           */
/* ======================================================================== */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* Escape for text and for double-quoted attribute values alike. */
static void sb_escape(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_putn(b, &s[i], 1);
        }
    }
}

static const char *const allowed_tags[] = {"p",  "br",    "b",     "i",     "strong", "em",
                                           "ul", "ol",    "li",    "code",  "pre",    "table",
                                           "thead", "tbody", "tr", "td",    "th",     "a",
                                           "span", "div"};
/* Dropped together with everything inside them. */
static const char *const drop_tags[] = {"script", "style",  "iframe", "object",  "embed",
                                        "svg",    "math",   "template", "noscript", "textarea",
                                        "title",  "xmp",    "noembed", "noframes", "frameset",
                                        "plaintext"};

static bool in_set(const char *name, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, set[i]) == 0)
            return true;
    return false;
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':';
}

/* A few named references browsers map to ASCII that matter in URLs. */
static const struct {
    const char *name;
    char ch;
} named_refs[] = {{"amp", '&'},    {"lt", '<'},      {"gt", '>'},     {"quot", '"'},
                  {"apos", '\''},  {"colon", ':'},   {"Tab", '\t'},   {"NewLine", '\n'},
                  {"sol", '/'},    {"period", '.'},  {"lpar", '('},   {"rpar", ')'},
                  {"nbsp", ' '},   {"semi", ';'},    {"num", '#'},    {"quest", '?'}};

/* Decode character references in an attribute value (numeric with or
 * without ';', the named ones above); unknown references stay literal.
 * Code points outside ASCII are kept as '?' — they never form a scheme. */
static char *decode_refs(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            *o++ = s[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            unsigned long v = 0;
            bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
            size_t k = j + 1 + hex, digits = 0;
            while (k < n && (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
                if (v < 0x110000)
                    v = v * (hex ? 16 : 10) +
                        (unsigned long)(isdigit((unsigned char)s[k])
                                            ? s[k] - '0'
                                            : (tolower((unsigned char)s[k]) - 'a' + 10));
                k++;
                digits++;
            }
            if (digits > 0) {
                if (k < n && s[k] == ';')
                    k++;
                *o++ = (v > 0 && v < 0x80) ? (char)v : '?';
                i = k;
                continue;
            }
        } else {
            size_t k = j;
            while (k < n && isalnum((unsigned char)s[k]))
                k++;
            bool found = false;
            for (size_t r = 0; r < BILL__ARRAY_LEN(named_refs) && !found; r++) {
                size_t len = strlen(named_refs[r].name);
                if (k - j == len && strncmp(s + j, named_refs[r].name, len) == 0) {
                    *o++ = named_refs[r].ch;
                    i = k < n && s[k] == ';' ? k + 1 : k;
                    found = true;
                }
            }
            if (found)
                continue;
        }
        *o++ = s[i++];
    }
    *o = '\0';
    return out;
}

/* href allowed? Works on the decoded value; *clean (malloc'd) receives it
 * without the whitespace/control characters browsers ignore in URLs. */
static bool safe_href(const char *raw, size_t n, char **clean)
{
    char *d = decode_refs(raw, n), *w;
    *clean = NULL;
    if (!d)
        return false;
    w = d;
    for (char *r = d; *r; r++)
        if ((unsigned char)*r > 0x20 && *r != 0x7f)
            *w++ = *r;
    *w = '\0';
    size_t scheme = strcspn(d, ":/?#");
    bool ok = d[scheme] == ':' &&
              ((scheme == 4 && strncasecmp(d, "http", 4) == 0) ||
               (scheme == 5 && strncasecmp(d, "https", 5) == 0) ||
               (scheme == 6 && strncasecmp(d, "mailto", 6) == 0));
    if (!ok) {
        free(d);
        return false;
    }
    *clean = d;
    return true;
}

/* Skip to after the matching "</name" ... ">" (case-insensitive); returns
 * the index to continue at (n when there is none: content dropped to end). */
static size_t skip_element(const char *s, size_t i, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (; i + 1 < n; i++) {
        if (s[i] == '<' && s[i + 1] == '/' && i + 2 + len <= n &&
            strncasecmp(s + i + 2, name, len) == 0 &&
            (i + 2 + len == n || !name_char(s[i + 2 + len]))) {
            const char *gt = memchr(s + i, '>', n - i);
            return gt ? (size_t)(gt - s) + 1 : n;
        }
    }
    return n;
}

#define MAX_DEPTH 64

int bill_html_sanitize(const char *in, char **out)
{
    sbuf b = {0};
    const char *stack[MAX_DEPTH];
    int depth = 0;
    size_t n, i = 0;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    *out = NULL;
    if (!in)
        in = "";
    n = strlen(in);
    sb_puts(&b, "");
    while (i < n && !b.oom) {
        char c = in[i];
        if (c != '<') {
            /* Text: keep well-formed character references, escape the rest. */
            if (c == '&') {
                size_t k = i + 1;
                if (k < n && in[k] == '#')
                    k++;
                size_t start = k;
                while (k < n && isalnum((unsigned char)in[k]))
                    k++;
                if (k > start && k < n && in[k] == ';' && k - i < 40) {
                    sb_putn(&b, in + i, k - i + 1);
                    i = k + 1;
                    continue;
                }
            }
            sb_escape(&b, &c, 1);
            i++;
            continue;
        }
        /* Comments, doctypes, processing instructions: dropped. */
        if (i + 3 < n && strncmp(in + i, "<!--", 4) == 0) {
            const char *end = strstr(in + i + 4, "-->");
            i = end ? (size_t)(end - in) + 3 : n;
            continue;
        }
        if (i + 1 < n && (in[i + 1] == '!' || in[i + 1] == '?')) {
            const char *gt = memchr(in + i, '>', n - i);
            i = gt ? (size_t)(gt - in) + 1 : n;
            continue;
        }
        bool closing = i + 1 < n && in[i + 1] == '/';
        size_t ns = i + 1 + closing, ne = ns;
        if (ne >= n || !isalpha((unsigned char)in[ne])) {
            sb_puts(&b, "&lt;"); /* "a < b" is text */
            i++;
            continue;
        }
        while (ne < n && name_char(in[ne]))
            ne++;
        char name[16];
        size_t nl = ne - ns;
        bool long_name = nl >= sizeof name;
        for (size_t k = 0; k < nl && k < sizeof name - 1; k++)
            name[k] = (char)tolower((unsigned char)in[ns + k]);
        name[nl < sizeof name ? nl : sizeof name - 1] = '\0';
        if (long_name)
            name[0] = '\0'; /* no allowed tag is that long */

        /* Find the end of the tag, honouring quoted attribute values. */
        size_t k = ne;
        char quote = 0;
        for (; k < n; k++) {
            if (quote) {
                if (in[k] == quote)
                    quote = 0;
            } else if (in[k] == '"' || in[k] == '\'') {
                quote = in[k];
            } else if (in[k] == '>') {
                break;
            }
        }
        if (k >= n) {
            /* Unterminated tag: nothing after it can be trusted as markup. */
            break;
        }
        size_t tag_end = k + 1;

        if (in_set(name, drop_tags, BILL__ARRAY_LEN(drop_tags))) {
            bool self = k > ne && in[k - 1] == '/';
            i = (closing || self) ? tag_end : skip_element(in, tag_end, n, name);
            continue;
        }
        if (!in_set(name, allowed_tags, BILL__ARRAY_LEN(allowed_tags))) {
            i = tag_end; /* unknown tag: dropped, its text stays */
            continue;
        }
        if (closing) {
            /* Close only what is open (and everything opened inside it). */
            int at = depth - 1;
            while (at >= 0 && strcmp(stack[at], name) != 0)
                at--;
            if (at >= 0) {
                while (depth > at) {
                    depth--;
                    sb_puts(&b, "</");
                    sb_puts(&b, stack[depth]);
                    sb_puts(&b, ">");
                }
            }
            i = tag_end;
            continue;
        }
        bool is_br = strcmp(name, "br") == 0;
        if (!is_br && depth == MAX_DEPTH) {
            i = tag_end;
            continue;
        }
        sb_puts(&b, "<");
        sb_puts(&b, name);
        /* Attributes. */
        size_t a = ne;
        while (a < k) {
            while (a < k && (isspace((unsigned char)in[a]) || in[a] == '/'))
                a++;
            size_t as = a;
            while (a < k && !isspace((unsigned char)in[a]) && in[a] != '=' && in[a] != '/')
                a++;
            size_t al = a - as;
            const char *val = NULL;
            size_t vl = 0;
            while (a < k && isspace((unsigned char)in[a]))
                a++;
            if (a < k && in[a] == '=') {
                a++;
                while (a < k && isspace((unsigned char)in[a]))
                    a++;
                if (a < k && (in[a] == '"' || in[a] == '\'')) {
                    char q = in[a++];
                    val = in + a;
                    while (a < k && in[a] != q)
                        a++;
                    vl = (size_t)(in + a - val);
                    if (a < k)
                        a++;
                } else {
                    val = in + a;
                    while (a < k && !isspace((unsigned char)in[a]))
                        a++;
                    vl = (size_t)(in + a - val);
                }
            }
            if (al == 0) {
                if (a == as)
                    a++;
                continue;
            }
            char an[16];
            if (al >= sizeof an)
                continue;
            for (size_t z = 0; z < al; z++)
                an[z] = (char)tolower((unsigned char)in[as + z]);
            an[al] = '\0';
            bool keep = strcmp(an, "title") == 0 ||
                        ((strcmp(an, "colspan") == 0 || strcmp(an, "rowspan") == 0) &&
                         (strcmp(name, "td") == 0 || strcmp(name, "th") == 0));
            if (keep && val) {
                char *dv = decode_refs(val, vl);
                if (!dv) {
                    b.oom = true;
                    break;
                }
                sb_puts(&b, " ");
                sb_puts(&b, an);
                sb_puts(&b, "=\"");
                sb_escape(&b, dv, strlen(dv));
                sb_puts(&b, "\"");
                free(dv);
            } else if (strcmp(an, "href") == 0 && strcmp(name, "a") == 0 && val) {
                char *clean = NULL;
                if (safe_href(val, vl, &clean)) {
                    sb_puts(&b, " href=\"");
                    sb_escape(&b, clean, strlen(clean));
                    sb_puts(&b, "\"");
                }
                free(clean);
            }
        }
        if (strcmp(name, "a") == 0)
            sb_puts(&b, " rel=\"noopener noreferrer nofollow\"");
        sb_puts(&b, ">");
        if (!is_br) {
            /* Point at the static allow-list entry, not the local buffer. */
            for (size_t z = 0; z < BILL__ARRAY_LEN(allowed_tags); z++)
                if (strcmp(allowed_tags[z], name) == 0)
                    stack[depth++] = allowed_tags[z];
        }
        i = tag_end;
    }
    while (depth > 0) {
        depth--;
        sb_puts(&b, "</");
        sb_puts(&b, stack[depth]);
        sb_puts(&b, ">");
    }
    if (b.oom) {
        free(b.p);
        return bill__err(BILL_ENOMEM, NULL, "out of memory sanitizing HTML");
    }
    *out = b.p;
    return BILL_OK;
}

/* ======================================================================== */
/* Instances                                                                */
/* ======================================================================== */

#define INS_COLS                                                                          \
    "i.id, coalesce(i.order_id::text, ''), i.customer_id, coalesce(i.product_id::text, ''), " \
    "coalesce(p.name, ''), coalesce(i.provider_interface_id::text, ''), "               \
    "i.provider_instance_id, i.status, i.ip_address, i.server_spec::text, "             \
    "i.billing_cycle, coalesce(i.next_due_date::text, ''), " BILL__US("i.created_at") ", " \
    BILL__US("i.updated_at")
#define INS_FROM " FROM instances i LEFT JOIN products p ON p.id = i.product_id "

static const char *const statuses[] = {"provisioning", "running",    "stopped",
                                       "suspended",    "terminated", "error"};

int bill_instance_status_check(const char *s)
{
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "status",
                     "status \"%.40s\" is not one of provisioning, running, stopped, suspended, "
                     "terminated, error",
                     s ? s : "");
}

static void ins_clear(void *item)
{
    bill_instance *x = item;
    char **s[] = {&x->id,          &x->order_id,    &x->customer_id, &x->product_id,
                  &x->product_name, &x->provider_id, &x->provider_instance_id,
                  &x->status,      &x->ip_address,  &x->server_spec_json,
                  &x->billing_cycle, &x->next_due_date};
    for (size_t i = 0; i < BILL__ARRAY_LEN(s); i++)
        free(*s[i]);
    memset(x, 0, sizeof *x);
}

static int ins_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_instance *x = item;
    char **s[] = {&x->id,          &x->order_id,    &x->customer_id, &x->product_id,
                  &x->product_name, &x->provider_id, &x->provider_instance_id,
                  &x->status,      &x->ip_address,  &x->server_spec_json,
                  &x->billing_cycle, &x->next_due_date};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(s); i++)
        if (!(*s[i] = bill__col_dup(r, row, i)))
            return bill__err(BILL_ENOMEM, NULL, "out of memory reading an instance");
    x->created_at = bill__i64(r, row, 12);
    x->updated_at = bill__i64(r, row, 13);
    return BILL_OK;
}

static const bill__rowtype INS_ROW = {sizeof(bill_instance), ins_from_row, ins_clear, "instance"};

void bill_instance_free(bill_instance *x)
{
    bill__row_free(&INS_ROW, x);
}

void bill_instances_clear(bill_instances *l)
{
    BILL__LIST_CLEAR(&INS_ROW, l);
}

static void section_clear(bill_instance_section *s)
{
    free(s->title);
    free(s->content_html);
    for (size_t i = 0; i < s->field_count; i++) {
        free(s->fields[i].key);
        free(s->fields[i].value);
        free(s->fields[i].value_type);
    }
    free(s->fields);
    memset(s, 0, sizeof *s);
}

void bill_instance_detail_free(bill_instance_detail *d)
{
    if (!d)
        return;
    ins_clear(&d->instance);
    for (size_t i = 0; i < d->section_count; i++)
        section_clear(&d->sections[i]);
    free(d->sections);
    free(d);
}

/* What an action needs and what it leads to; NULL target = unknown. */
static const struct {
    const char *action, *label, *style, *confirmation, *from, *to;
} action_rules[] = {
    {"start", "Start", "primary", "", "stopped", "running"},
    {"stop", "Stop", "default", "Stop the server?", "running", "stopped"},
    {"reboot", "Reboot", "default", "Reboot the server?", "running", "running"},
    {"terminate", "Terminate", "danger",
     "Terminate the server? This cannot be undone and its data will be lost.", NULL,
     "terminated"},
};

static bool action_allowed(size_t r, const char *status)
{
    if (strcmp(status, "terminated") == 0)
        return false;
    return !action_rules[r].from || strcmp(action_rules[r].from, status) == 0;
}

/* Append sections from a JSON array: stored rows use fields as an array of
 * {"key","value","value_type"}; providers may send an object {k: v}. */
static int add_section(bill_instance_detail *d, const char *title, json_object *fields,
                       const char *html, int sort_order)
{
    bill_instance_section *ns = realloc(d->sections, (d->section_count + 1) * sizeof *ns), *s;
    if (!ns)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    d->sections = ns;
    s = &ns[d->section_count++];
    memset(s, 0, sizeof *s);
    s->sort_order = sort_order;
    s->title = strdup(title ? title : "");
    if (!s->title || bill_html_sanitize(html, &s->content_html) < 0)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    size_t cap = 0;
    if (fields && json_object_is_type(fields, json_type_array))
        cap = json_object_array_length(fields);
    else if (fields && json_object_is_type(fields, json_type_object))
        cap = (size_t)json_object_object_length(fields);
    if (cap == 0)
        return BILL_OK;
    if (!(s->fields = calloc(cap, sizeof *s->fields)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    if (json_object_is_type(fields, json_type_array)) {
        for (size_t i = 0; i < cap; i++) {
            json_object *f = json_object_array_get_idx(fields, i), *k, *v, *t;
            if (!json_object_is_type(f, json_type_object))
                continue;
            bill_instance_field *x = &s->fields[s->field_count++];
            x->key = strdup(json_object_object_get_ex(f, "key", &k) ? json_object_get_string(k)
                                                                    : "");
            x->value = strdup(json_object_object_get_ex(f, "value", &v) && v
                                  ? json_object_get_string(v) : "");
            x->value_type = strdup(json_object_object_get_ex(f, "value_type", &t) && t
                                       ? json_object_get_string(t) : "text");
            if (!x->key || !x->value || !x->value_type)
                return bill__err(BILL_ENOMEM, NULL, "out of memory");
        }
    } else {
        json_object_object_foreach(fields, key, val) {
            bill_instance_field *x = &s->fields[s->field_count++];
            x->key = strdup(key);
            x->value = strdup(val ? json_object_get_string(val) : "");
            x->value_type = strdup("text");
            if (!x->key || !x->value || !x->value_type)
                return bill__err(BILL_ENOMEM, NULL, "out of memory");
        }
    }
    return BILL_OK;
}

static int provider_sections(bill_plugins *plugins, bill_instance_detail *d)
{
    bill_plugin_instance *inst = NULL;
    char *json = NULL;
    json_object *arr = NULL;
    int rc = BILL_OK;
    if (bill_plugin_host_get_provider(plugins, d->instance.provider_id, &inst) < 0 ||
        bill_plugin_provider_detail_sections(inst, d->instance.provider_instance_id, &json) < 0 ||
        !json || !(arr = json_tokener_parse(json)) || !json_object_is_type(arr, json_type_array)) {
        bill_error_clear(); /* a failing provider does not hide the stored sections */
        goto done;
    }
    for (size_t i = 0; i < json_object_array_length(arr) && rc == BILL_OK; i++) {
        json_object *s = json_object_array_get_idx(arr, i), *t = NULL, *f = NULL, *h = NULL,
                    *o = NULL;
        if (!json_object_is_type(s, json_type_object))
            continue;
        json_object_object_get_ex(s, "title", &t);
        json_object_object_get_ex(s, "fields", &f);
        json_object_object_get_ex(s, "content_html", &h);
        json_object_object_get_ex(s, "sort_order", &o);
        rc = add_section(d, t ? json_object_get_string(t) : "", f,
                         h ? json_object_get_string(h) : "", o ? json_object_get_int(o) : 0);
    }
done:
    json_object_put(arr);
    free(json);
    if (inst)
        bill_plugin_instance_release(inst);
    return rc;
}

int bill_instance_get(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                      const char *id, bill_instance_detail **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL, *sec = NULL;
    bill_instance_detail *d = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    *out = NULL;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "id", "instance", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    if ((rc = bill__qp(c, &res, "SELECT " INS_COLS INS_FROM "WHERE i.id = $1", id)) < 0)
        goto done;
    if (PQntuples(res) == 0) {
        rc = bill__err(BILL_ENOTFOUND, "id", "instance %s not found", id);
        goto done;
    }
    if ((rc = bill__owns(actor, bill__val(res, 0, 2), "instance", id)) < 0)
        goto done;
    if (!(d = calloc(1, sizeof *d))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = ins_from_row(res, 0, NULL, &d->instance)) < 0)
        goto done;
    if ((rc = bill__qp(c, &sec,
                       "SELECT title, fields::text, content_html, sort_order FROM "
                       "instance_detail_sections WHERE instance_id = $1 ORDER BY sort_order, "
                       "created_at, id",
                       id)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(sec); i++) {
        json_object *f = json_tokener_parse(bill__val(sec, i, 1));
        rc = add_section(d, bill__val(sec, i, 0), f, bill__val(sec, i, 2),
                         (int)bill__i64(sec, i, 3));
        json_object_put(f);
        if (rc < 0)
            goto done;
    }
    if (plugins && *d->instance.provider_id && *d->instance.provider_instance_id &&
        (rc = provider_sections(plugins, d)) < 0)
        goto done;
    for (size_t r = 0; r < BILL__ARRAY_LEN(action_rules); r++) {
        bill_instance_action *a = &d->actions[d->action_count++];
        a->id = action_rules[r].action;
        a->label = action_rules[r].label;
        a->style = action_rules[r].style;
        a->confirmation = action_rules[r].confirmation;
        a->enabled = action_allowed(r, d->instance.status);
    }
    *out = d;
    d = NULL;
done:
    bill_instance_detail_free(d);
    PQclear(res);
    PQclear(sec);
    bill__conn_done(c);
    return rc;
}

int bill_instance_list(bill_db *db, const bill_actor *actor, const bill_instance_filter *f,
                       const bill_page *page, bill_instances *out)
{
    static const bill__list_sql q = {
        INS_COLS, INS_FROM "WHERE ($1::uuid IS NULL OR i.customer_id = $1::uuid) "
                  "AND ($2::text IS NULL OR i.status = $2) "
                  "AND ($3::uuid IS NULL OR i.provider_interface_id = $3::uuid)",
        "i.created_at DESC, i.id DESC"};
    bill_instance_filter none = {0};
    const char *cust;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = BILL__CHECK_VERSION(f, BILL_INSTANCE_FILTER_VERSION, "bill_instance_filter")) < 0)
        return rc;
    if (!f)
        f = &none;
    if ((rc = bill__list_scope(actor, f->customer_id, &cust)) < 0 ||
        (rc = bill__check_opt_id(f->provider_id, "provider_id")) < 0)
        return rc;
    if (bill__opt(f->status) && (rc = bill_instance_status_check(f->status)) < 0)
        return rc;
    const char *params[] = {cust, bill__opt(f->status), bill__opt(f->provider_id)};
    return BILL__LIST_PAGE(db, &INS_ROW, &q, 3, params, page, NULL, out);
}

int bill_instance_action_run(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                             const char *id, const char *action)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_plugin_instance *inst = NULL;
    size_t r = BILL__ARRAY_LEN(action_rules);
    int rc;

    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "id", "instance", false)) < 0)
        return rc;
    for (size_t k = 0; action && k < BILL__ARRAY_LEN(action_rules); k++)
        if (strcmp(action, action_rules[k].action) == 0)
            r = k;
    if (r == BILL__ARRAY_LEN(action_rules))
        return bill__err(BILL_EINVALID, "action",
                         "action \"%.40s\" is not one of start, stop, reboot, terminate",
                         action ? action : "");
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0)
        goto done;
    /* The lock serializes actions on one instance (start vs terminate). */
    if ((rc = bill__qp(c, &res,
                       "SELECT status, customer_id, coalesce(provider_interface_id::text, ''), "
                       "provider_instance_id FROM instances WHERE id = $1 FOR UPDATE",
                       id)) < 0)
        goto done;
    if (PQntuples(res) == 0) {
        rc = bill__err(BILL_ENOTFOUND, "id", "instance %s not found", id);
        goto done;
    }
    if ((rc = bill__owns(actor, bill__val(res, 0, 1), "instance", id)) < 0)
        goto done;
    const char *st = bill__val(res, 0, 0), *provider = bill__val(res, 0, 2);
    if (!action_allowed(r, st)) {
        if (strcmp(st, "terminated") == 0)
            rc = bill__err(BILL_ESTATE, "status",
                           "instance %s is terminated; %s is no longer possible", id, action);
        else
            rc = bill__err(BILL_ESTATE, "status", "instance %s is %s; cannot %s it", id, st,
                           action);
        goto done;
    }
    if (*provider) {
        if (!plugins) {
            rc = bill__err(BILL_EUNAVAILABLE, "provider_id",
                           "instance %s: its provider %s is not reachable from this call", id,
                           provider);
            goto done;
        }
        if ((rc = bill_plugin_host_get_provider(plugins, provider, &inst)) < 0 ||
            (rc = bill_plugin_provider_action(inst, bill__val(res, 0, 3), action)) < 0)
            goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE instances SET status = $2, updated_at = bill_now(), terminated_at = "
                       "CASE WHEN $2 = 'terminated' THEN bill_now() ELSE terminated_at END "
                       "WHERE id = $1",
                       id, action_rules[r].to)) < 0)
        goto done;
    char what[32];
    snprintf(what, sizeof what, "instance.%s", action);
    if ((rc = bill__oplog_write(c, actor, what, "instance", id, NULL, NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    if (inst)
        bill_plugin_instance_release(inst);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}
