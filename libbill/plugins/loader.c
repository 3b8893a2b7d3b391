/*
 * loader.c — the plugin registry: dlopen of plugin files, descriptor
 * validation, generations for hot reload, and the plugins_dir scanner.
 *
 * Why a private copy before dlopen: the dynamic linker keys loaded objects by
 * path (and inode), so dlopen of a replaced file at the same path would hand
 * back the old, still-mapped object. Each load copies the file to a unique
 * temp path, dlopens that, and unlinks it at once (the mapping survives).
 */
#include "plugins_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[] = {
    [BILL_PLUGIN_NOTIFIER] = "notifier",
    [BILL_PLUGIN_GATEWAY] = "gateway",
    [BILL_PLUGIN_UPSTREAM_PROVIDER] = "upstream_provider",
    [BILL_PLUGIN_FIRST_PARTY_PROVIDER] = "first_party_provider",
};

static bool kind_known(int k)
{
    return k >= BILL_PLUGIN_NOTIFIER && k <= BILL_PLUGIN_FIRST_PARTY_PROVIDER;
}

const char *bill_plugin_kind_name(bill_plugin_kind kind)
{
    return kind_known((int)kind) ? kind_names[kind] : "unknown";
}

int bill_plugin_kind_parse(const char *s, bill_plugin_kind *out)
{
    for (int k = BILL_PLUGIN_NOTIFIER; s && k <= BILL_PLUGIN_FIRST_PARTY_PROVIDER; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (bill_plugin_kind)k;
            return BILL_OK;
        }
    }
    return bill__err(BILL_EINVALID, "kind",
                     "plugin kind \"%s\" is not one of notifier, gateway, "
                     "upstream_provider, first_party_provider", s ? s : "(null)");
}

/* The schema's plugin_interfaces/plugins tables know three kinds: both
 * provider kinds are "provider" there (the descriptor says which). */
const char *bill__plugin_db_kind(bill_plugin_kind k)
{
    switch (k) {
    case BILL_PLUGIN_NOTIFIER: return "notifier";
    case BILL_PLUGIN_GATEWAY: return "gateway";
    case BILL_PLUGIN_UPSTREAM_PROVIDER:
    case BILL_PLUGIN_FIRST_PARTY_PROVIDER: return "provider";
    }
    return "unknown";
}

void bill_plugins_options_init(bill_plugins_options *o)
{
    memset(o, 0, sizeof *o);
    o->version = BILL_PLUGINS_OPTIONS_VERSION;
    o->breaker_failure_threshold = 5;
    o->breaker_cooldown_ms = 30000;
}

int bill_plugins_new(bill_plugins **out, const bill_plugins_options *opts)
{
    int rc = BILL_OK;
    bill_plugins *p = NULL;

    if (!out || !opts)
        return bill__err(BILL_EINVALID, "options", "bill_plugins_new needs out and options");
    if (opts->version < 1 || opts->version > BILL_PLUGINS_OPTIONS_VERSION)
        return bill__err(BILL_EINVALID, "version", "plugins options version %u is not supported",
                         opts->version);
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    p = calloc(1, sizeof *p);
    if (!p)
        return bill__err(BILL_ENOMEM, NULL, "out of memory creating the plugin registry");
    pthread_mutex_init(&p->lock, NULL);
    p->plugins_dir = bill__strdup(opts->plugins_dir ? opts->plugins_dir : "./plugins");
    p->db = opts->db;
    if (opts->master_key) {
        memcpy(p->master_key, opts->master_key, sizeof p->master_key);
        p->have_key = true;
    }
    if (!p->plugins_dir) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory creating the plugin registry");
        goto done;
    }
    rc = bill__breaker_new(&p->breaker,
                           opts->breaker_failure_threshold > 0 ? opts->breaker_failure_threshold : 5,
                           opts->breaker_cooldown_ms > 0 ? opts->breaker_cooldown_ms : 30000);
    if (rc < 0)
        goto done;
    bill__plugin_host_init(p);
    *out = p;
    p = NULL;
done:
    bill_plugins_free(p);
    return rc;
}

static void gen_destroy(bill__plugin_gen *g)
{
    if (g->dl)
        dlclose(g->dl);
    free(g->tmp_path);
    free(g);
}

void bill__gen_unref_locked(bill_plugins *p, bill__plugin_gen *g)
{
    if (--g->refs > 0)
        return;
    for (bill__plugin_gen **pp = &p->gens; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    BILL_LOG_DEBUG(BILL__PLG_MODULE, "unloaded %s %s generation %llu",
                   bill_plugin_kind_name(g->info.kind), g->info.id,
                   (unsigned long long)g->info.generation);
    gen_destroy(g);
}

void bill_plugins_free(bill_plugins *p)
{
    if (!p)
        return;
    /* Cached interface instances hold generation references. */
    while (p->cache) {
        bill_plugin_instance *i = p->cache;
        p->cache = i->next_cached;
        i->next_cached = NULL;
        i->interface_id[0] = '\0';
        bill_plugin_instance_release(i);
    }
    pthread_mutex_lock(&p->lock);
    for (bill__plugin_gen *g = p->gens; g;) {
        bill__plugin_gen *next = g->next;
        if (g->current) {
            g->current = false;
            bill__gen_unref_locked(p, g);
        }
        g = next;
    }
    pthread_mutex_unlock(&p->lock);
    /* Anything left is held by an instance the caller forgot to release;
     * leave those mapped rather than unmapping code still in use. */
    bill__breaker_free(p->breaker);
    sodium_memzero(p->master_key, sizeof p->master_key);
    free(p->plugins_dir);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bill__plugin_gen *bill__gen_find_locked(bill_plugins *p, const char *db_kind, const char *id)
{
    for (bill__plugin_gen *g = p->gens; g; g = g->next)
        if (g->current && strcmp(bill__plugin_db_kind(g->info.kind), db_kind) == 0 &&
            strcmp(g->info.id, id) == 0)
            return g;
    return NULL;
}

/* Hex SHA-256 of a file. */
static int file_sha256(const char *path, char hex[65])
{
    int rc = BILL_OK;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        return bill__err(BILL_EIO, "file_path", "cannot open plugin file %s: %s", path,
                         strerror(errno));
    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_hash_sha256_update(&st, buf, n);
    if (ferror(f)) {
        rc = bill__err(BILL_EIO, "file_path", "cannot read plugin file %s", path);
        goto done;
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
done:
    fclose(f);
    return rc;
}

/* Copy `path` to a fresh private file; *tmp_out is its path. */
static int copy_private(const char *path, char **tmp_out)
{
    int rc = BILL_OK, in = -1, outfd = -1;
    char buf[65536];
    const char *tmpdir = getenv("TMPDIR");
    char *tmp = bill__sprintf("%s/bill-plugin-XXXXXX.so", tmpdir && *tmpdir ? tmpdir : "/tmp");
    ssize_t n;

    if (!tmp)
        return bill__err(BILL_ENOMEM, NULL, "out of memory copying plugin %s", path);
    in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = bill__err(BILL_EIO, "file_path", "cannot open plugin file %s: %s", path,
                       strerror(errno));
        goto done;
    }
    outfd = mkstemps(tmp, 3);
    if (outfd < 0) {
        rc = bill__err(BILL_EIO, "file_path", "cannot create a private copy of %s in %s: %s",
                       path, tmp, strerror(errno));
        goto done;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(outfd, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = bill__err(BILL_EIO, "file_path", "cannot write %s: %s", tmp,
                               strerror(errno));
                goto done;
            }
            off += w;
        }
    }
    if (n < 0) {
        rc = bill__err(BILL_EIO, "file_path", "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    *tmp_out = tmp;
    tmp = NULL;
done:
    if (outfd >= 0)
        close(outfd);
    if (in >= 0)
        close(in);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    return rc;
}

static bool id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(((bill_plugin_info *)0)->id))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Refuse with a WARN log and BILL_EPLUGIN. */
#define REFUSE(...)                                                              \
    do {                                                                         \
        rc = bill__err(BILL_EPLUGIN, "plugin", __VA_ARGS__);                     \
        BILL_LOG_WARN(BILL__PLG_MODULE, "refusing plugin: %s", bill_error_last()->message); \
        goto done;                                                               \
    } while (0)

/* Check everything the host will rely on before the plugin is used. */
static int validate(const char *path, const bill_plugin_descriptor *d)
{
    int rc = BILL_OK;

    if (!d)
        REFUSE("%s: %s() returned NULL", path, BILL_PLUGIN_ENTRY_SYMBOL);
    if (d->abi_version != BILL_PLUGIN_ABI_VERSION)
        REFUSE("%s: plugin ABI version %u is not supported (this host speaks version %u)",
               path, d->abi_version, BILL_PLUGIN_ABI_VERSION);
    if (!d->id || !id_valid(d->id))
        REFUSE("%s: descriptor id is %s (need 1..63 chars of [a-z0-9_-])", path,
               d->id ? d->id : "NULL");
    if (!kind_known((int)d->kind))
        REFUSE("%s: plugin %s has unknown kind %d", path, d->id, (int)d->kind);
    if (!d->init || !d->destroy)
        REFUSE("%s: plugin %s lacks init or destroy", path, d->id);
    if (!d->functions)
        REFUSE("%s: plugin %s has no function table", path, d->id);
    if (d->config_schema) {
        json_object *j = json_tokener_parse(d->config_schema);
        bool ok = j && json_object_is_type(j, json_type_object);
        json_object_put(j);
        if (!ok)
            REFUSE("%s: plugin %s config_schema is not a JSON object", path, d->id);
    }
    switch (d->kind) {
    case BILL_PLUGIN_NOTIFIER: {
        const bill_plugin_notifier *t = d->functions;
        if (t->version < 1 || !t->send)
            REFUSE("%s: notifier %s table version %u or send missing", path, d->id, t->version);
        break;
    }
    case BILL_PLUGIN_GATEWAY: {
        const bill_plugin_gateway *t = d->functions;
        if (t->version < 1 || !t->create_payment || !t->handle_callback)
            REFUSE("%s: gateway %s table version %u or functions missing", path, d->id,
                   t->version);
        break;
    }
    case BILL_PLUGIN_UPSTREAM_PROVIDER:
    case BILL_PLUGIN_FIRST_PARTY_PROVIDER: {
        const bill_plugin_provider *t = d->functions;
        if (t->version < 1 || !t->create_instance || !t->get_instance || !t->action)
            REFUSE("%s: provider %s table version %u or functions missing", path, d->id,
                   t->version);
        if (d->kind == BILL_PLUGIN_UPSTREAM_PROVIDER && !t->list_upstream_products)
            REFUSE("%s: upstream provider %s lacks list_upstream_products", path, d->id);
        break;
    }
    }
done:
    return rc;
}

typedef enum { LOAD_NEW, LOAD_RELOADED, LOAD_UNCHANGED } load_outcome;

/* Drop cached interface instances built on an older generation of (kind, id)
 * so the next call rebuilds them on the new one. Lock held; returns the list
 * of evicted instances to release after unlocking (release may run destroy). */
static bill_plugin_instance *evict_locked(bill_plugins *p, const bill__plugin_gen *keep)
{
    bill_plugin_instance *evicted = NULL;
    for (bill_plugin_instance **pp = &p->cache; *pp;) {
        bill_plugin_instance *i = *pp;
        if (i->gen != keep && strcmp(i->gen->info.id, keep->info.id) == 0 &&
            strcmp(bill__plugin_db_kind(i->gen->info.kind),
                   bill__plugin_db_kind(keep->info.kind)) == 0) {
            *pp = i->next_cached;
            i->next_cached = evicted;
            evicted = i;
        } else {
            pp = &i->next_cached;
        }
    }
    return evicted;
}

static void release_list(bill_plugin_instance *l)
{
    while (l) {
        bill_plugin_instance *n = l->next_cached;
        l->next_cached = NULL;
        l->interface_id[0] = '\0';
        bill_plugin_instance_release(l);
        l = n;
    }
}

/* `seen` (may be NULL): ids already taken in this scan, "dbkind/id\n"... */
static int load_path(bill_plugins *p, const char *path, char **seen, bill_plugin_info *info,
                     load_outcome *outcome, bool *duplicate)
{
    int rc = BILL_OK;
    char hash[65], key[160];
    char *tmp = NULL;
    void *dl = NULL;
    bill__plugin_gen *g = NULL;
    bill_plugin_instance *evicted = NULL;
    bill_plugin_entry_fn entry;
    const bill_plugin_descriptor *d;
    bool unchanged = false;

    *duplicate = false;
    if ((rc = file_sha256(path, hash)) < 0)
        goto done;

    /* Cheap path: the same file with the same bytes is already current. */
    pthread_mutex_lock(&p->lock);
    for (bill__plugin_gen *c = p->gens; c; c = c->next) {
        if (c->current && strcmp(c->info.file_path, path) == 0 &&
            strcmp(c->info.file_hash, hash) == 0) {
            snprintf(key, sizeof key, "%s/%s\n", bill__plugin_db_kind(c->info.kind), c->info.id);
            if (seen && *seen && strstr(*seen, key)) {
                *duplicate = true;
            } else {
                if (info)
                    *info = c->info;
                unchanged = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (*duplicate)
        goto done;
    if (unchanged) {
        *outcome = LOAD_UNCHANGED;
        goto mark_seen;
    }

    if ((rc = copy_private(path, &tmp)) < 0)
        goto done;
    dl = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
    unlink(tmp); /* the mapping stays; nothing to clean up later */
    if (!dl)
        REFUSE("%s: dlopen failed: %s", path, dlerror());
    *(void **)&entry = dlsym(dl, BILL_PLUGIN_ENTRY_SYMBOL);
    if (!entry)
        REFUSE("%s: no %s symbol (not a libbill plugin?)", path, BILL_PLUGIN_ENTRY_SYMBOL);
    d = entry();
    if ((rc = validate(path, d)) < 0)
        goto done;

    snprintf(key, sizeof key, "%s/%s\n", bill__plugin_db_kind(d->kind), d->id);
    if (seen && *seen && strstr(*seen, key)) {
        BILL_LOG_WARN(BILL__PLG_MODULE, "%s: %s %s is already provided by another file; skipped",
                      path, bill_plugin_kind_name(d->kind), d->id);
        *duplicate = true;
        goto done;
    }

    g = calloc(1, sizeof *g);
    if (!g) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory loading %s", path);
        goto done;
    }
    g->dl = dl;
    dl = NULL;
    g->tmp_path = tmp;
    tmp = NULL;
    g->desc = d;
    g->info.kind = d->kind;
    g->info.abi_version = d->abi_version;
    snprintf(g->info.id, sizeof g->info.id, "%s", d->id);
    snprintf(g->info.name, sizeof g->info.name, "%s", d->name ? d->name : d->id);
    snprintf(g->info.version, sizeof g->info.version, "%s", d->version ? d->version : "");
    snprintf(g->info.file_path, sizeof g->info.file_path, "%s", path);
    memcpy(g->info.file_hash, hash, sizeof hash);

    pthread_mutex_lock(&p->lock);
    {
        bill__plugin_gen *old = bill__gen_find_locked(p, bill__plugin_db_kind(d->kind), d->id);
        if (old && strcmp(old->info.file_hash, hash) == 0) {
            /* Same bytes under another path: nothing new. */
            if (info)
                *info = old->info;
            *outcome = LOAD_UNCHANGED;
            pthread_mutex_unlock(&p->lock);
            gen_destroy(g);
            g = NULL;
            goto mark_seen;
        }
        g->info.generation = ++p->next_generation;
        g->refs = 1;
        g->current = true;
        g->next = p->gens;
        p->gens = g;
        evicted = evict_locked(p, g);
        if (old) {
            old->current = false;
            bill__gen_unref_locked(p, old);
        }
        *outcome = old ? LOAD_RELOADED : LOAD_NEW;
        if (info)
            *info = g->info;
    }
    pthread_mutex_unlock(&p->lock);
    BILL_LOG_INFO(BILL__PLG_MODULE, "%s %s %s %s (generation %llu) from %s",
                  *outcome == LOAD_NEW ? "loaded" : "reloaded",
                  bill_plugin_kind_name(g->info.kind), g->info.id, g->info.version,
                  (unsigned long long)g->info.generation, path);
    g = NULL;
mark_seen:
    if (seen) {
        char *ns = bill__sprintf("%s%s", *seen ? *seen : "", key);
        if (ns) {
            free(*seen);
            *seen = ns;
        }
    }
done:
    release_list(evicted);
    if (dl)
        dlclose(dl);
    free(tmp);
    return rc;
}

int bill_plugins_load_file(bill_plugins *p, const char *path, bill_plugin_info *info)
{
    load_outcome o;
    bool dup;
    if (!p || !path)
        return bill__err(BILL_EINVALID, "file_path", "plugin path is required");
    return load_path(p, path, NULL, info, &o, &dup);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Upsert one loaded plugin into the plugins table (scanner sync). */
int bill__plugins_sync_db(bill_plugins *p, const bill_plugin_info *infos, size_t n);

static int scan(bill_plugins *p, bill_plugin_scan_stats *stats, bool write_db)
{
    int rc = BILL_OK;
    DIR *dir = NULL;
    struct dirent *de;
    char **names = NULL, *seen = NULL;
    size_t n = 0, cap = 0;
    bill_plugin_infos infos = {0};
    bill_plugin_scan_stats st = {0};

    if (!p)
        return bill__err(BILL_EINVALID, "plugins", "registry is NULL");
    dir = opendir(p->plugins_dir);
    if (!dir) {
        rc = bill__err(BILL_ECONFIG, "plugins_dir", "cannot open plugins_dir %s: %s",
                       p->plugins_dir, strerror(errno));
        goto done;
    }
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = bill__err(BILL_ENOMEM, NULL, "out of memory scanning %s", p->plugins_dir);
                goto done;
            }
            names = nn;
            cap = nc;
        }
        names[n] = bill__sprintf("%s/%s", p->plugins_dir, de->d_name);
        if (!names[n]) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory scanning %s", p->plugins_dir);
            goto done;
        }
        n++;
    }
    /* Sorted, so "first file wins" for duplicates is deterministic. */
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        load_outcome o;
        bool dup = false;
        st.files++;
        if (load_path(p, names[i], &seen, NULL, &o, &dup) < 0) {
            st.refused++;
            continue;
        }
        if (dup)
            st.duplicates++;
        else if (o == LOAD_NEW)
            st.loaded++;
        else if (o == LOAD_RELOADED)
            st.reloaded++;
        else
            st.unchanged++;
    }
    BILL_LOG_INFO(BILL__PLG_MODULE,
                  "plugin scan of %s: %d files, %d new, %d reloaded, %d unchanged, %d refused, "
                  "%d duplicates", p->plugins_dir, st.files, st.loaded, st.reloaded,
                  st.unchanged, st.refused, st.duplicates);
    if (p->db && write_db) {
        if ((rc = bill_plugins_list(p, &infos)) < 0)
            goto done;
        if ((rc = bill__plugins_sync_db(p, infos.items, infos.count)) < 0)
            goto done;
    }
    if (stats)
        *stats = st;
done:
    if (dir)
        closedir(dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(seen);
    bill_plugin_infos_clear(&infos);
    return rc;
}

int bill_plugins_scan(bill_plugins *p, bill_plugin_scan_stats *stats)
{
    return scan(p, stats, true);
}

int bill_plugins_scan_files(bill_plugins *p, bill_plugin_scan_stats *stats)
{
    return scan(p, stats, false);
}

void bill_plugin_infos_clear(bill_plugin_infos *l)
{
    if (l) {
        free(l->items);
        memset(l, 0, sizeof *l);
    }
}

int bill_plugins_list(bill_plugins *p, bill_plugin_infos *out)
{
    size_t n = 0, i = 0;
    bill_plugin_info *arr;

    if (!p || !out)
        return bill__err(BILL_EINVALID, NULL, "bill_plugins_list needs registry and out");
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->lock);
    for (bill__plugin_gen *g = p->gens; g; g = g->next)
        n += g->current;
    arr = calloc(n ? n : 1, sizeof *arr);
    if (arr)
        for (bill__plugin_gen *g = p->gens; g; g = g->next)
            if (g->current)
                arr[i++] = g->info;
    pthread_mutex_unlock(&p->lock);
    if (!arr)
        return bill__err(BILL_ENOMEM, NULL, "out of memory listing plugins");
    out->items = arr;
    out->count = n;
    bill_page_meta_one(&out->meta, n);
    return BILL_OK;
}
