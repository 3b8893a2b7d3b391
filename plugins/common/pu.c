/*
 * pu.c — see pu.h. Compiled into each built-in plugin that reads outside
 * bytes (and into their fuzz targets).
 */
#include "pu.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define PU_JSON_DEPTH 32

json_object *pu_json_parse(const char *text, size_t len)
{
    json_tokener *tok;
    json_object *o;
    size_t end;

    if (!text || len > (size_t)INT32_MAX || memchr(text, '\0', len))
        return NULL;
    if (!(tok = json_tokener_new_ex(PU_JSON_DEPTH)))
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    for (; o && end < len; end++) {
        if (!strchr(" \t\r\n", text[end])) {
            json_object_put(o);
            o = NULL;
        }
    }
    return o;
}

json_object *pu_json_parse_object(const char *text)
{
    json_object *o = text ? pu_json_parse(text, strlen(text)) : NULL;
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

json_object *pu_json_get(json_object *o, const char *key, json_type t)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !v || !json_object_is_type(v, t))
        return NULL;
    return v;
}

const char *pu_json_str(json_object *o, const char *key)
{
    json_object *v = pu_json_get(o, key, json_type_string);
    const char *s = v ? json_object_get_string(v) : NULL;
    if (!s || strlen(s) != (size_t)json_object_get_string_len(v))
        return NULL;
    return s;
}

/* 1: present and not null, 0: absent or null. */
static int present(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
           v != NULL;
}

int pu_json_opt_str(json_object *o, const char *key, const char *dflt, const char **out)
{
    *out = dflt;
    if (!present(o, key))
        return 0;
    if (!(*out = pu_json_str(o, key))) {
        *out = dflt;
        return -1;
    }
    return 0;
}

int pu_json_opt_int(json_object *o, const char *key, int64_t dflt, int64_t *out)
{
    json_object *v;
    *out = dflt;
    if (!present(o, key))
        return 0;
    if (!(v = pu_json_get(o, key, json_type_int)))
        return -1;
    *out = json_object_get_int64(v); /* clamps beyond the int64 range */
    return 0;
}

int pu_json_opt_bool(json_object *o, const char *key, bool dflt, bool *out)
{
    json_object *v;
    *out = dflt;
    if (!present(o, key))
        return 0;
    if (!(v = pu_json_get(o, key, json_type_boolean)))
        return -1;
    *out = json_object_get_boolean(v);
    return 0;
}

int pu_cfg_strings(json_object *cfg, const pu_cfg_str *t, size_t n, const char **bad)
{
    for (size_t i = 0; i < n; i++) {
        const char *v;
        if (pu_json_opt_str(cfg, t[i].key, t[i].dflt, &v) < 0 || (v && !pu_text_ok(v, strlen(v)))) {
            *bad = t[i].key;
            return -1;
        }
        if (v && !(*t[i].dst = strdup(v)))
            return -2;
    }
    return 0;
}

bool pu_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

bool pu_text_ok(const char *s, size_t n)
{
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return pu_utf8_valid(s, n);
}

bool pu_ip_ok(const char *s)
{
    unsigned char buf[16];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

int pu_init_begin(const bill_plugin_host *host, const char *config_json, size_t size,
                  json_object **cfg, void **instance)
{
    *instance = NULL;
    if (!(*cfg = pu_json_parse_object(config_json)))
        return host->error(host, BILL_EINVALID, "config is not a JSON object");
    if (!(*instance = calloc(1, size))) {
        json_object_put(*cfg);
        *cfg = NULL;
        return host->error(host, BILL_ENOMEM, "out of memory");
    }
    return BILL_PLUGIN_OK;
}

int pu_cfg_load(const bill_plugin_host *host, json_object *cfg, const pu_cfg_str *t, size_t n)
{
    const char *bad = "";
    int r = pu_cfg_strings(cfg, t, n, &bad);
    if (r == -1)
        return host->error(host, BILL_EINVALID, "%s must be a string without control characters", bad);
    if (r < 0)
        return host->error(host, BILL_ENOMEM, "out of memory");
    return BILL_PLUGIN_OK;
}

int pu_cfg_insecure(const bill_plugin_host *host, json_object *cfg, bool *out)
{
    if (pu_json_opt_bool(cfg, "insecure_skip_verify", false, out) < 0)
        return host->error(host, BILL_EINVALID, "insecure_skip_verify must be true or false");
    return BILL_PLUGIN_OK;
}

bool pu_http_url_ok(const char *url)
{
    return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           pu_text_ok(url, strlen(url)) && !strchr(url, ' ');
}
