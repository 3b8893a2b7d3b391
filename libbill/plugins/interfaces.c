/*
 * interfaces.c — the database side of plugins: syncing loaded plugins into
 * the `plugins` table (scanner), and configured interfaces
 * (`plugin_interfaces`) with validated config and encrypted secrets
 * (R-PLG-3, R-PLG-4).
 *
 * Secrets: the fields the plugin's schema marks "format":"secret" are cut
 * out of the config, serialised as one JSON object and sealed with
 * crypto_secretbox_easy under the master key; the bytea column holds
 * nonce || ciphertext. No API returns them in clear — reads show
 * BILL_PLUGIN_SECRET_MASK — and only bill_plugin_host_get decrypts, to hand
 * the full config to the plugin's init.
 */
#include "plugins_internal.h"
#include "store/store.h"
#include "domain/oplog_int.h"
#include "bill/uuid.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD BILL__PLG_MODULE

int bill__plugins_sync_db(bill_plugins *p, const bill_plugin_info *infos, size_t n);

static int need_db(bill_plugins *p)
{
    if (!p)
        return bill__err(BILL_EINVALID, "plugins", "plugin registry is NULL");
    if (!p->db)
        return bill__err(BILL_ESTATE, "db", "the plugin registry was created without a database");
    return BILL_OK;
}

static int need_staff(const bill_actor *a)
{
    if (!bill_actor_is_staff(a))
        return bill__err(BILL_EDENIED, NULL, "plugin interfaces are managed by staff only");
    return BILL_OK;
}

/* The descriptor's schema of the loaded plugin (copy), or "{}". */
static char *schema_of(bill_plugins *p, bill_plugin_kind kind, const char *plugin_id, bool *loaded)
{
    char *s = NULL;
    pthread_mutex_lock(&p->lock);
    bill__plugin_gen *g = bill__gen_find_locked(p, bill__plugin_db_kind(kind), plugin_id);
    *loaded = g != NULL;
    if (g)
        s = strdup(g->desc->config_schema ? g->desc->config_schema : "{}");
    pthread_mutex_unlock(&p->lock);
    return s;
}

int bill__plugins_sync_db(bill_plugins *p, const bill_plugin_info *infos, size_t n)
{
    int rc = BILL_OK;
    bill_conn *c = NULL;

    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char abi[16];
        bool loaded;
        char *schema = schema_of(p, infos[i].kind, infos[i].id, &loaded);
        snprintf(abi, sizeof abi, "%u", infos[i].abi_version);
        rc = bill__qp(c, NULL,
                      "INSERT INTO plugins (kind, plugin_id, name, version, file_path, file_hash,"
                      " abi_version, config_schema) VALUES ($1,$2,$3,$4,$5,$6,$7::int,$8::jsonb)"
                      " ON CONFLICT (kind, plugin_id) DO UPDATE SET name = EXCLUDED.name,"
                      " version = EXCLUDED.version, file_path = EXCLUDED.file_path,"
                      " file_hash = EXCLUDED.file_hash, abi_version = EXCLUDED.abi_version,"
                      " config_schema = EXCLUDED.config_schema, updated_at = bill_now()"
                      " WHERE plugins.file_hash IS DISTINCT FROM EXCLUDED.file_hash"
                      "    OR plugins.file_path IS DISTINCT FROM EXCLUDED.file_path",
                      bill__plugin_db_kind(infos[i].kind), infos[i].id, infos[i].name,
                      infos[i].version, infos[i].file_path, infos[i].file_hash, abi,
                      schema ? schema : "{}");
        free(schema);
        if (rc < 0) {
            bill__err_prefix("syncing plugin %s", infos[i].id);
            break;
        }
    }
    bill__conn_release(c);
    return rc;
}

/* ---- secrets --------------------------------------------------------------- */

/* Seal `plain` into a bytea literal "\x<hex>" (nonce || box). */
static int seal(bill_plugins *p, const char *plain, char **bytea_out)
{
    size_t plen = strlen(plain);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *buf = malloc(blen);
    char *hex = malloc(2 * blen + 3);
    int rc = BILL_OK;

    if (!buf || !hex) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory encrypting secrets");
        goto done;
    }
    randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
                          buf, p->master_key);
    hex[0] = '\\';
    hex[1] = 'x';
    sodium_bin2hex(hex + 2, 2 * blen + 1, buf, blen);
    *bytea_out = hex;
    hex = NULL;
done:
    free(buf);
    free(hex);
    return rc;
}

static int unseal(bill_plugins *p, const char *bytea_text, char **plain_out)
{
    int rc = BILL_OK;
    size_t hexlen, blen;
    unsigned char *buf = NULL;
    char *plain = NULL;

    *plain_out = NULL;
    if (!bytea_text || !*bytea_text)
        return BILL_OK;
    if (!p->have_key)
        return bill__err(BILL_ECONFIG, "master_key",
                         "interface has encrypted secrets but no [security] master_key is "
                         "configured");
    if (strncmp(bytea_text, "\\x", 2) != 0)
        return bill__err(BILL_EINTERNAL, "secret_config", "secret_config is not hex bytea");
    hexlen = strlen(bytea_text + 2);
    buf = malloc(hexlen / 2 + 1);
    if (!buf)
        return bill__err(BILL_ENOMEM, NULL, "out of memory decrypting secrets");
    if (sodium_hex2bin(buf, hexlen / 2 + 1, bytea_text + 2, hexlen, NULL, &blen, NULL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        rc = bill__err(BILL_EINTERNAL, "secret_config", "secret_config is truncated");
        goto done;
    }
    size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    plain = malloc(plen + 1);
    if (!plain) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory decrypting secrets");
        goto done;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, buf + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, buf, p->master_key) != 0) {
        rc = bill__err(BILL_ECONFIG, "master_key",
                       "cannot decrypt interface secrets: wrong [security] master_key?");
        goto done;
    }
    plain[plen] = '\0';
    *plain_out = plain;
    plain = NULL;
done:
    bill__free_secret(plain);
    free(buf);
    return rc;
}

/* Replace masked / missing secret fields of `incoming` by the stored ones so
 * an admin can edit public fields without retyping passwords. */
static char *keep_stored_secrets(const char *incoming, const char *stored_secret)
{
    char *out = NULL;
    json_object *in = json_tokener_parse(incoming);
    json_object *st = json_tokener_parse(stored_secret && *stored_secret ? stored_secret : "{}");
    if (in && st && json_object_is_type(in, json_type_object) &&
        json_object_is_type(st, json_type_object)) {
        json_object_object_foreach(st, key, val) {
            json_object *cur;
            if (!json_object_object_get_ex(in, key, &cur) ||
                (json_object_is_type(cur, json_type_string) &&
                 strcmp(json_object_get_string(cur), BILL_PLUGIN_SECRET_MASK) == 0))
                json_object_object_add(in, key, json_object_get(val));
        }
        out = strdup(json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(in);
    json_object_put(st);
    return out;
}

/* Validate + split + seal. *secret_bytea stays NULL when nothing is secret. */
static int prepare_config(bill_plugins *p, const char *schema, const char *config,
                          char **public_out, char **secret_bytea)
{
    int rc;
    char *secret = NULL;
    bool has_secret;

    *public_out = *secret_bytea = NULL;
    if ((rc = bill_plugin_config_validate(schema, config)) < 0)
        return rc;
    if ((rc = bill__config_split(schema, config, public_out, &secret, &has_secret)) < 0)
        return rc;
    if (has_secret) {
        if (!p->have_key) {
            rc = bill__err(BILL_ECONFIG, "master_key",
                           "this config has secret fields but no [security] master_key / "
                           "master_key_file is configured; refusing to store secrets in clear");
            goto done;
        }
        rc = seal(p, secret, secret_bytea);
    }
done:
    bill__free_secret(secret);
    if (rc < 0) {
        free(*public_out);
        *public_out = NULL;
    }
    return rc;
}

/* ---- CRUD ------------------------------------------------------------------ */

#define IFACE_COLS                                                                 \
    "id::text, kind, plugin_id, name, enabled, config::text, is_healthy,"          \
    " COALESCE(to_char(last_health_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"   \
    " last_error, secret_config, config_schema::text, updated_at::text"

void bill_plugin_interface_clear(bill_plugin_interface *pi)
{
    if (!pi)
        return;
    BILL__FREE(pi->config_json, pi->last_error);
    memset(pi, 0, sizeof *pi);
}

void bill_plugin_interfaces_clear(bill_plugin_interfaces *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        bill_plugin_interface_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Row -> struct with secrets masked. The kind comes from the loaded plugin
 * when the db says "provider" (which provider kind is the descriptor's). */
static int row_to_iface(bill_plugins *p, const PGresult *r, int i, bill_plugin_interface *out)
{
    char *secret = NULL;
    int rc;
    const char *dbkind = bill__val(r, i, 1);

    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", bill__val(r, i, 0));
    snprintf(out->plugin_id, sizeof out->plugin_id, "%s", bill__val(r, i, 2));
    snprintf(out->name, sizeof out->name, "%s", bill__val(r, i, 3));
    out->enabled = bill__val(r, i, 4)[0] == 't';
    out->is_healthy = bill__val(r, i, 6)[0] == 't';
    snprintf(out->last_health_at, sizeof out->last_health_at, "%s", bill__val(r, i, 7));
    out->kind = strcmp(dbkind, "notifier") == 0   ? BILL_PLUGIN_NOTIFIER
                : strcmp(dbkind, "gateway") == 0  ? BILL_PLUGIN_GATEWAY
                                                  : BILL_PLUGIN_FIRST_PARTY_PROVIDER;
    pthread_mutex_lock(&p->lock);
    bill__plugin_gen *g = bill__gen_find_locked(p, dbkind, out->plugin_id);
    if (g)
        out->kind = g->info.kind;
    pthread_mutex_unlock(&p->lock);
    /* Masking needs the secret field names only; without a key show every
     * schema secret as masked instead of failing the whole list. */
    rc = unseal(p, bill__val(r, i, 9), &secret);
    if (rc < 0) {
        json_object *schema = json_tokener_parse(bill__val(r, i, 10)), *props;
        json_object *names = json_object_new_object();
        if (schema && json_object_object_get_ex(schema, "properties", &props) &&
            json_object_is_type(props, json_type_object)) {
            json_object_object_foreach(props, k, v) {
                json_object *f;
                if (json_object_object_get_ex(v, "format", &f) &&
                    strcmp(json_object_get_string(f), "secret") == 0)
                    json_object_object_add(names, k, json_object_new_string(""));
            }
        }
        secret = strdup(json_object_to_json_string(names));
        json_object_put(schema);
        json_object_put(names);
        bill_error_clear();
    }
    out->config_json = bill__config_mask(bill__val(r, i, 5), secret);
    out->last_error = strdup(bill__val(r, i, 8));
    bill__free_secret(secret);
    if (!out->config_json || !out->last_error) {
        bill_plugin_interface_clear(out);
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading interfaces");
    }
    return BILL_OK;
}

int bill_plugin_interface_create(bill_plugins *p, const bill_actor *actor, bill_plugin_kind kind,
                                 const char *plugin_id, const char *name, const char *config_json,
                                 bool enabled, char id_out[37])
{
    int rc;
    bool loaded;
    char *schema = NULL, *pub = NULL, *sec = NULL, *after = NULL;
    bill_conn *c = NULL;
    PGresult *res = NULL;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    if (!plugin_id || !name || !*name)
        return bill__err(BILL_EINVALID, "name", "interface name and plugin id are required");
    schema = schema_of(p, kind, plugin_id, &loaded);
    if (!loaded) {
        rc = bill__err(BILL_ENOTFOUND, "plugin_id", "%s plugin \"%s\" is not loaded",
                       bill_plugin_kind_name(kind), plugin_id);
        goto done;
    }
    if ((rc = prepare_config(p, schema, config_json ? config_json : "{}", &pub, &sec)) < 0)
        goto done;
    if ((rc = bill__conn_begin(p->db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "INSERT INTO plugin_interfaces (kind, plugin_id, name, enabled, config,"
                  " secret_config, config_schema) VALUES ($1,$2,$3,$4::boolean,$5::jsonb,"
                  " $6::bytea,$7::jsonb) RETURNING id::text",
                  bill__plugin_db_kind(kind), plugin_id, name, enabled ? "true" : "false", pub,
                  sec, schema);
    if (rc == BILL_ECONFLICT)
        rc = bill__err(BILL_ECONFLICT, "name", "a %s interface named \"%s\" already exists",
                       bill__plugin_db_kind(kind), name);
    if (rc < 0)
        goto done;
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    after = bill__sprintf("{\"plugin_id\":\"%s\",\"enabled\":%s,\"config\":%s}", plugin_id,
                          enabled ? "true" : "false", pub);
    if ((rc = bill__oplog_write(c, actor, "plugin_interface.create", "plugin_interface", id_out,
                                NULL, after)) < 0)
        goto done;
    rc = bill__tx_commit_catalog(c);
    if (rc == BILL_OK)
        BILL_LOG_INFO(MOD, "created %s interface %s (%s) on plugin %s", bill__plugin_db_kind(kind),
                      id_out, name, plugin_id);
done:
    if (res)
        PQclear(res);
    if (c)
        bill__conn_release(c);
    free(schema);
    free(pub);
    free(sec);
    free(after);
    return rc;
}

int bill_plugin_interface_update(bill_plugins *p, const bill_actor *actor, const char *id,
                                 const char *name, const char *config_json)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char *stored = NULL, *full = NULL, *pub = NULL, *sec = NULL, *before = NULL, *after = NULL;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    if (!id || !bill_uuid_valid(id))
        return bill__err(BILL_EINVALID, "id", "interface id \"%s\" is not a uuid", id ? id : "");
    if ((rc = bill__conn_begin(p->db, &c)) < 0)
        goto done;
    rc = bill__qp_found(c, &res, "id", "plugin interface", id,
                        "SELECT " IFACE_COLS " FROM plugin_interfaces WHERE id = $1::uuid FOR UPDATE", id);
    if (rc < 0)
        goto done;
    {
        json_object *nm = json_object_new_string(bill__val(res, 0, 3));
        before = bill__sprintf("{\"name\":%s,\"config\":%s}", json_object_to_json_string(nm),
                               bill__val(res, 0, 5));
        json_object_put(nm);
    }
    if (config_json) {
        if ((rc = unseal(p, bill__val(res, 0, 9), &stored)) < 0)
            goto done;
        full = keep_stored_secrets(config_json, stored);
        if (!full) {
            rc = bill__err(BILL_EINVALID, "config", "config is not a JSON object");
            goto done;
        }
        if ((rc = prepare_config(p, bill__val(res, 0, 10), full, &pub, &sec)) < 0)
            goto done;
    }
    PQclear(res);
    res = NULL;
    rc = bill__qp(c, NULL,
                  "UPDATE plugin_interfaces SET name = COALESCE($2, name),"
                  " config = COALESCE($3::jsonb, config),"
                  " secret_config = CASE WHEN $3::jsonb IS NULL THEN secret_config ELSE $4::bytea END,"
                  " updated_at = bill_clock_timestamp() WHERE id = $1::uuid",
                  id, name, pub, sec);
    if (rc == BILL_ECONFLICT)
        rc = bill__err(BILL_ECONFLICT, "name", "an interface named \"%s\" already exists",
                       name ? name : "");
    if (rc < 0)
        goto done;
    after = bill__sprintf("{\"name\":%s,\"config\":%s}",
                          name ? "\"(changed)\"" : "null", pub ? pub : "null");
    if ((rc = bill__oplog_write(c, actor, "plugin_interface.update", "plugin_interface", id, before,
                                after)) < 0)
        goto done;
    rc = bill__tx_commit_catalog(c);
done:
    if (res)
        PQclear(res);
    if (c)
        bill__conn_release(c);
    bill__free_secret(stored);
    bill__free_secret(full);
    free(pub);
    free(sec);
    free(before);
    free(after);
    return rc;
}

int bill_plugin_interface_set_enabled(bill_plugins *p, const bill_actor *actor, const char *id,
                                      bool enabled)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    if (!id || !bill_uuid_valid(id))
        return bill__err(BILL_EINVALID, "id", "interface id \"%s\" is not a uuid", id ? id : "");
    if ((rc = bill__conn_begin(p->db, &c)) < 0)
        goto done;
    rc = bill__qp_found(c, &res, "id", "plugin interface", id,
                        "UPDATE plugin_interfaces SET enabled = $2::boolean, updated_at = bill_clock_timestamp()"
                        " WHERE id = $1::uuid RETURNING (SELECT enabled FROM plugin_interfaces"
                        " WHERE id = $1::uuid)::text",
                        id, enabled ? "true" : "false");
    if (rc < 0)
        goto done;
    rc = bill__oplog_write(c, actor, enabled ? "plugin_interface.enable" : "plugin_interface.disable",
                           "plugin_interface", id,
                           PQgetvalue(res, 0, 0)[0] == 't' ? "{\"enabled\":true}"
                                                           : "{\"enabled\":false}",
                           enabled ? "{\"enabled\":true}" : "{\"enabled\":false}");
    if (rc < 0)
        goto done;
    rc = bill__tx_commit_catalog(c);
done:
    if (res)
        PQclear(res);
    if (c)
        bill__conn_release(c);
    return rc;
}

int bill_plugin_interface_get(bill_plugins *p, const bill_actor *actor, const char *id,
                              bill_plugin_interface *out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    if (!id || !bill_uuid_valid(id) || !out)
        return bill__err(BILL_EINVALID, "id", "interface id \"%s\" is not a uuid", id ? id : "");
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        return rc;
    rc = bill__qp_found(c, &res, "id", "plugin interface", id,
                        "SELECT " IFACE_COLS " FROM plugin_interfaces WHERE id = $1::uuid", id);
    if (rc < 0)
        goto done;
    rc = row_to_iface(p, res, 0, out);
done:
    if (res)
        PQclear(res);
    bill__conn_release(c);
    return rc;
}

static int iface_decode(const PGresult *r, int row, const void *p, void *item)
{
    return row_to_iface((bill_plugins *)p, r, row, item);
}

static void iface_clear(void *item)
{
    bill_plugin_interface_clear(item);
}

static const bill__rowtype IFACE_ROW = {sizeof(bill_plugin_interface), iface_decode, iface_clear,
                                        "plugin interface"};

int bill_plugin_interface_list(bill_plugins *p, const bill_actor *actor, int kind,
                               bill_plugin_interfaces *out)
{
    int rc;
    bill_conn *c = NULL;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        return rc;
    const char *params[] = {kind > 0 ? bill__plugin_db_kind((bill_plugin_kind)kind) : NULL};
    rc = bill__list_all_in(c, &IFACE_ROW,
                           "SELECT " IFACE_COLS " FROM plugin_interfaces"
                           " WHERE $1::text IS NULL OR kind = $1 ORDER BY name, id",
                           1, params, p, BILL__LIST_OUT(&IFACE_ROW, out));
    bill__conn_release(c);
    return rc;
}

/* ---- live instances of interfaces ----------------------------------------- */

static int host_get(bill_plugins *p, const char *interface_id, bool allow_disabled,
                    bill_plugin_instance **out);

int bill_plugin_host_get(bill_plugins *p, const char *interface_id, bill_plugin_instance **out)
{
    return host_get(p, interface_id, false, out);
}

static int host_get(bill_plugins *p, const char *interface_id, bool allow_disabled,
                    bill_plugin_instance **out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char *secret = NULL, *config = NULL;
    bill_plugin_instance *inst = NULL, *old = NULL;
    bill__plugin_gen *g = NULL;
    const char *stamp, *dbkind, *plugin_id;

    if ((rc = need_db(p)) < 0)
        return rc;
    if (!interface_id || !bill_uuid_valid(interface_id) || !out)
        return bill__err(BILL_EINVALID, "interface_id", "interface id \"%s\" is not a uuid",
                         interface_id ? interface_id : "");
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        return rc;
    rc = bill__qp_found(c, &res, "interface_id", "plugin interface", interface_id,
                        "SELECT " IFACE_COLS " FROM plugin_interfaces WHERE id = $1::uuid",
                        interface_id);
    bill__conn_release(c);
    if (rc < 0)
        goto done;
    if (bill__val(res, 0, 4)[0] != 't' && !allow_disabled) {
        rc = bill__err(BILL_ESTATE, "interface_id", "plugin interface %s (%s) is disabled",
                       interface_id, bill__val(res, 0, 3));
        goto done;
    }
    dbkind = bill__val(res, 0, 1);
    plugin_id = bill__val(res, 0, 2);
    stamp = bill__val(res, 0, 11);

    /* Cached and still built from this config on the current generation? */
    pthread_mutex_lock(&p->lock);
    g = bill__gen_find_locked(p, dbkind, plugin_id);
    for (bill_plugin_instance **pp = &p->cache; *pp; pp = &(*pp)->next_cached) {
        bill_plugin_instance *i = *pp;
        if (strcmp(i->interface_id, interface_id) != 0)
            continue;
        if (i->gen == g && strcmp(i->config_stamp, stamp) == 0) {
            i->refs++;
            inst = i;
        } else {
            *pp = i->next_cached; /* stale: drop the cache's reference below */
            i->next_cached = NULL;
            old = i;
        }
        break;
    }
    if (!inst && g)
        g->refs++;
    pthread_mutex_unlock(&p->lock);
    if (old) {
        old->interface_id[0] = '\0';
        bill_plugin_instance_release(old);
    }
    if (inst) {
        *out = inst;
        goto done;
    }
    if (!g) {
        rc = bill__err(BILL_EUNAVAILABLE, "interface_id",
                       "plugin %s of interface %s (%s) is not loaded", plugin_id, interface_id,
                       bill__val(res, 0, 3));
        goto done;
    }
    if ((rc = unseal(p, bill__val(res, 0, 9), &secret)) < 0)
        goto unref;
    config = bill__config_merge(bill__val(res, 0, 5), secret);
    if (!config) {
        rc = bill__err(BILL_EINTERNAL, "config", "stored config of interface %s is not JSON",
                       interface_id);
        goto unref;
    }
    if ((rc = bill__instance_create(p, g, config, &inst)) < 0)
        goto unref;
    snprintf(inst->interface_id, sizeof inst->interface_id, "%s", interface_id);
    inst->config_stamp = strdup(stamp);
    pthread_mutex_lock(&p->lock);
    if (inst->config_stamp && g->current) {
        inst->refs++; /* the cache's reference */
        inst->next_cached = p->cache;
        p->cache = inst;
    }
    pthread_mutex_unlock(&p->lock);
    *out = inst;
unref:
    pthread_mutex_lock(&p->lock);
    bill__gen_unref_locked(p, g);
    pthread_mutex_unlock(&p->lock);
done:
    if (res)
        PQclear(res);
    bill__free_secret(secret);
    bill__free_secret(config);
    return rc;
}

static int get_kind(bill_plugins *p, const char *id, bill_plugin_instance **out, int k1, int k2,
                    const char *want)
{
    int rc = host_get(p, id, false, out);
    if (rc < 0)
        return rc;
    int k = (int)bill_plugin_instance_kind(*out);
    if (k != k1 && k != k2) {
        bill_plugin_instance_release(*out);
        *out = NULL;
        return bill__err(BILL_EINVALID, "interface_id", "plugin interface %s is not a %s", id, want);
    }
    return BILL_OK;
}

int bill_plugin_host_get_provider(bill_plugins *p, const char *id, bill_plugin_instance **out)
{
    return get_kind(p, id, out, BILL_PLUGIN_UPSTREAM_PROVIDER, BILL_PLUGIN_FIRST_PARTY_PROVIDER,
                    "provider");
}

int bill_plugin_host_get_gateway(bill_plugins *p, const char *id, bill_plugin_instance **out)
{
    return get_kind(p, id, out, BILL_PLUGIN_GATEWAY, BILL_PLUGIN_GATEWAY, "gateway");
}

int bill_plugin_host_get_gateway_callback(bill_plugins *p, const char *id,
                                          bill_plugin_instance **out)
{
    int rc = host_get(p, id, true, out);
    if (rc < 0)
        return rc;
    if (bill_plugin_instance_kind(*out) != BILL_PLUGIN_GATEWAY) {
        bill_plugin_instance_release(*out);
        *out = NULL;
        return bill__err(BILL_ENOTFOUND, "interface_id", "plugin interface %s is not a gateway",
                         id);
    }
    return BILL_OK;
}

int bill_plugin_host_get_notifier(bill_plugins *p, const char *id, bill_plugin_instance **out)
{
    return get_kind(p, id, out, BILL_PLUGIN_NOTIFIER, BILL_PLUGIN_NOTIFIER, "notifier");
}

int bill_plugin_interface_health(bill_plugins *p, const bill_actor *actor, const char *id,
                                 bool *healthy)
{
    int rc;
    bill_plugin_instance *inst = NULL;
    char *detail = NULL, *err = NULL;
    bill_conn *c = NULL;
    bool ok;

    if ((rc = need_db(p)) < 0 || (rc = need_staff(actor)) < 0)
        return rc;
    rc = bill_plugin_host_get(p, id, &inst);
    if (rc == BILL_ENOTFOUND || rc == BILL_EINVALID)
        return rc;
    if (rc == BILL_OK)
        rc = bill_plugin_health(inst, &detail);
    ok = rc == BILL_OK;
    if (!ok)
        err = strdup(bill_error_last()->message);
    bill_plugin_instance_release(inst);
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    rc = bill__qp(c, NULL,
                  "UPDATE plugin_interfaces SET is_healthy = $2::boolean, last_health_at = bill_now(),"
                  " last_error = $3 WHERE id = $1::uuid",
                  id, ok ? "true" : "false", ok ? "" : (err ? err : "unhealthy"));
    bill__conn_release(c);
    if (rc < 0)
        goto done;
    bill__catalog_changed(p->db); /* ListGateways shows is_healthy */
    if (!ok)
        BILL_LOG_WARN(MOD, "plugin interface %s is unhealthy: %s", id, err ? err : "");
    if (healthy)
        *healthy = ok;
done:
    free(detail);
    free(err);
    return rc;
}
