/*
 * schema.c — validation of interface config JSON against a plugin's schema
 * (the JSON Schema subset documented in plugin.h: type, properties,
 * required, enum, minimum, maximum, additionalProperties:false, and
 * "format":"secret"), plus splitting secret fields out for encryption and
 * masking them for display.
 *
 * Only top-level properties may be secret: secrets are stored as one
 * encrypted JSON object beside the public config, and merged back before
 * the plugin's init sees them.
 */
#include "plugins_internal.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_object *bill__plugin_json_parse(const char *text)
{
    json_tokener *tok;
    json_object *j;
    size_t len, end;
    if (!text || (len = strlen(text)) > (size_t)INT32_MAX || !(tok = json_tokener_new()))
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    j = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(j);
        j = NULL;
    }
    json_tokener_free(tok);
    for (; j && end < len; end++) {
        if (!strchr(" \t\r\n", text[end])) {
            json_object_put(j);
            j = NULL;
        }
    }
    return j;
}

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "boolean";
    case json_type_double: return "number";
    case json_type_int: return "integer";
    case json_type_object: return "object";
    case json_type_array: return "array";
    case json_type_string: return "string";
    }
    return "unknown";
}

static bool type_matches(const char *want, json_object *v)
{
    json_type t = json_object_get_type(v);
    if (strcmp(want, "string") == 0) return t == json_type_string;
    if (strcmp(want, "boolean") == 0) return t == json_type_boolean;
    if (strcmp(want, "object") == 0) return t == json_type_object;
    if (strcmp(want, "array") == 0) return t == json_type_array;
    if (strcmp(want, "null") == 0) return t == json_type_null;
    if (strcmp(want, "integer") == 0) {
        if (t == json_type_int) return true;
        if (t == json_type_double) {
            double d = json_object_get_double(v);
            return d == floor(d);
        }
        return false;
    }
    if (strcmp(want, "number") == 0) return t == json_type_int || t == json_type_double;
    return true; /* unknown type keyword: be lenient, the plugin validates too */
}

static int check(json_object *schema, json_object *v, const char *path)
{
    json_object *x;
    int rc = BILL_OK;

    if (!schema || !json_object_is_type(schema, json_type_object))
        return BILL_OK;
    if (json_object_object_get_ex(schema, "type", &x) && json_object_is_type(x, json_type_string) &&
        !type_matches(json_object_get_string(x), v))
        return bill__err(BILL_EINVALID, path, "config field \"%s\" must be a %s, not %s", path,
                         json_object_get_string(x), type_name(v));
    if (json_object_object_get_ex(schema, "enum", &x) && json_object_is_type(x, json_type_array)) {
        bool found = false;
        for (size_t i = 0; i < json_object_array_length(x) && !found; i++)
            found = json_object_equal(json_object_array_get_idx(x, i), v) != 0;
        if (!found)
            return bill__err(BILL_EINVALID, path, "config field \"%s\" value %s is not one of %s",
                             path, json_object_to_json_string(v), json_object_to_json_string(x));
    }
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (json_object_object_get_ex(schema, "minimum", &x) && d < json_object_get_double(x))
            return bill__err(BILL_EINVALID, path, "config field \"%s\" is %g, below the minimum %g",
                             path, d, json_object_get_double(x));
        if (json_object_object_get_ex(schema, "maximum", &x) && d > json_object_get_double(x))
            return bill__err(BILL_EINVALID, path, "config field \"%s\" is %g, above the maximum %g",
                             path, d, json_object_get_double(x));
    }
    if (json_object_is_type(v, json_type_object)) {
        json_object *props = NULL, *req, *addl;
        json_object_object_get_ex(schema, "properties", &props);
        if (json_object_object_get_ex(schema, "required", &req) &&
            json_object_is_type(req, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(req); i++) {
                const char *k = json_object_get_string(json_object_array_get_idx(req, i));
                json_object *val;
                if (!k)
                    continue;
                if (!json_object_object_get_ex(v, k, &val) || json_object_is_type(val, json_type_null))
                    return bill__err(BILL_EINVALID, k, "config field \"%s\" is required", k);
            }
        }
        bool closed = json_object_object_get_ex(schema, "additionalProperties", &addl) &&
                      json_object_is_type(addl, json_type_boolean) && !json_object_get_boolean(addl);
        json_object_object_foreach(v, key, val) {
            json_object *ps = NULL;
            if (props && json_object_object_get_ex(props, key, &ps)) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s%s%s", path[0] ? path : "", path[0] ? "." : "", key);
                if ((rc = check(ps, val, sub)) < 0)
                    return rc;
            } else if (closed) {
                return bill__err(BILL_EINVALID, key, "config field \"%s\" is not known to the plugin",
                                 key);
            }
        }
    }
    return rc;
}

int bill_plugin_config_validate(const char *schema_json, const char *config_json)
{
    int rc = BILL_OK;
    json_object *schema = NULL, *cfg = NULL;

    if ((rc = bill__json_text_check(config_json, "config")) < 0)
        goto done;
    cfg = bill__plugin_json_parse(config_json);
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "config", "config is not a JSON object (one object in valid "
                       "UTF-8, nothing after it)");
        goto done;
    }
    schema = json_tokener_parse(schema_json && *schema_json ? schema_json : "{}");
    if (!schema || !json_object_is_type(schema, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "config_schema", "plugin config schema is not a JSON object");
        goto done;
    }
    rc = check(schema, cfg, "");
done:
    json_object_put(schema);
    json_object_put(cfg);
    return rc;
}

static bool is_secret(json_object *props, const char *key)
{
    json_object *ps, *fmt;
    return props && json_object_object_get_ex(props, key, &ps) &&
           json_object_object_get_ex(ps, "format", &fmt) &&
           json_object_is_type(fmt, json_type_string) &&
           strcmp(json_object_get_string(fmt), "secret") == 0;
}

int bill__config_split(const char *schema_json, const char *config_json, char **public_out,
                       char **secret_out, bool *has_secret)
{
    int rc = BILL_OK;
    json_object *schema = NULL, *cfg = NULL, *pub = NULL, *sec = NULL, *props = NULL;

    *public_out = *secret_out = NULL;
    *has_secret = false;
    schema = json_tokener_parse(schema_json && *schema_json ? schema_json : "{}");
    cfg = json_tokener_parse(config_json ? config_json : "{}");
    pub = json_object_new_object();
    sec = json_object_new_object();
    if (!schema || !cfg || !pub || !sec || !json_object_is_type(cfg, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "config", "config is not a JSON object");
        goto done;
    }
    json_object_object_get_ex(schema, "properties", &props);
    json_object_object_foreach(cfg, key, val) {
        bool s = is_secret(props, key);
        json_object_object_add(s ? sec : pub, key, json_object_get(val));
        if (s)
            *has_secret = true;
    }
    *public_out = strdup(json_object_to_json_string_ext(pub, JSON_C_TO_STRING_PLAIN));
    *secret_out = strdup(json_object_to_json_string_ext(sec, JSON_C_TO_STRING_PLAIN));
    if (!*public_out || !*secret_out) {
        free(*public_out);
        free(*secret_out);
        *public_out = *secret_out = NULL;
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory splitting config");
    }
done:
    json_object_put(schema);
    json_object_put(cfg);
    json_object_put(pub);
    json_object_put(sec);
    return rc;
}

char *bill__config_merge(const char *public_json, const char *secret_json)
{
    char *out = NULL;
    json_object *pub = json_tokener_parse(public_json && *public_json ? public_json : "{}");
    json_object *sec = json_tokener_parse(secret_json && *secret_json ? secret_json : "{}");
    if (pub && sec && json_object_is_type(pub, json_type_object) &&
        json_object_is_type(sec, json_type_object)) {
        json_object_object_foreach(sec, key, val)
            json_object_object_add(pub, key, json_object_get(val));
        out = strdup(json_object_to_json_string_ext(pub, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(pub);
    json_object_put(sec);
    return out;
}

/* Public config + the mask for every secret field that has a stored value
 * (secret_json may be NULL: then every secret property of the schema that
 * is absent stays absent). */
char *bill__config_mask(const char *public_json, const char *secret_json)
{
    char *out = NULL;
    json_object *pub = json_tokener_parse(public_json && *public_json ? public_json : "{}");
    json_object *sec = json_tokener_parse(secret_json && *secret_json ? secret_json : "{}");
    if (pub && sec && json_object_is_type(pub, json_type_object) &&
        json_object_is_type(sec, json_type_object)) {
        json_object_object_foreach(sec, key, val) {
            (void)val;
            json_object_object_add(pub, key, json_object_new_string(BILL_PLUGIN_SECRET_MASK));
        }
        out = strdup(json_object_to_json_string_ext(pub, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(pub);
    json_object_put(sec);
    return out;
}
