/*
 * plugin_fixture.c — see plugin_fixture.h.
 */
#include "plugin_fixture.h"

#include <check.h>
#include <curl/curl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_harness.h"
#include "tmpdir.h"

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_msg(in != NULL, "cannot open %s", from);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

bill_plugins *fx_registry_file(const char *so_path)
{
    bill_plugins_options o;
    bill_plugins *p = NULL;
    bill_plugins_options_init(&o);
    o.plugins_dir = "/nonexistent";
    ck_assert_int_eq(bill_plugins_new(&p, &o), BILL_OK);
    ck_assert_int_eq(bill_plugins_load_file(p, so_path, NULL), BILL_OK);
    return p;
}

bill_plugins *fx_registry(bill_db *db, const char *const *so_paths, char *dir_out)
{
    static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
    bill_plugins_options o;
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st;
    char dir[64] = "/tmp/bill-fx-plugins-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(dir));
    bill_test_rm_at_exit(dir);
    for (size_t i = 0; so_paths && so_paths[i]; i++) {
        char copy[1024], *tmp = strdup(so_paths[i]);
        snprintf(copy, sizeof copy, "%s/%s", dir, basename(tmp));
        free(tmp);
        copy_file(so_paths[i], copy);
    }
    bill_plugins_options_init(&o);
    o.plugins_dir = dir;
    o.db = db;
    o.master_key = key;
    ck_assert_int_eq(bill_plugins_new(&p, &o), BILL_OK);
    ck_assert_int_eq(bill_plugins_scan(p, &st), BILL_OK);
    if (dir_out)
        strcpy(dir_out, dir);
    return p;
}

char *fx_customer(bill_db *db, const char *name, const char *email, bill_money balance)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = name, .email = email};
    bill_customer *c = NULL;
    char *id;
    ck_assert_int_eq(bill_customer_create(db, NULL, &in, &c), BILL_OK);
    id = strdup(c->id);
    bill_customer_free(c);
    if (balance > 0)
        ck_assert_int_eq(bill_balance_change(db, NULL, id, BILL_BALANCE_RECHARGE, balance, NULL,
                                             "test funds", NULL), BILL_OK);
    return id;
}

char *fx_product(bill_db *db, const char *name, bill_money monthly, const char *provider_iface,
                 const char *specs_json)
{
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION,
                             .name = name, .specs_json = specs_json,
                             .provider_interface_id = provider_iface, .active = true};
    bill_product *p = NULL;
    char *id;
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = monthly;
    ck_assert_int_eq(bill_product_create(db, NULL, &in, &p), BILL_OK);
    id = strdup(p->id);
    bill_product_free(p);
    return id;
}

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    buf *b = user;
    size_t n = size * nmemb;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->data = nd;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

long fx_http(const char *url, const char *post_body, char **body_out)
{
    CURL *c = curl_easy_init();
    buf b = {0};
    long status = 0;
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (post_body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (body_out)
        *body_out = b.data ? b.data : strdup("");
    else
        free(b.data);
    return status;
}

long long fx_count(const char *db_url, const char *sql)
{
    return bill_test_pg_query_ll(db_url, sql);
}
