/*
 * plugin_fixture.h — shared setup for the built-in plugin tests that need
 * the database: a registry scanning a private directory holding copies of
 * the plugins under test (so the plugins table and interfaces are real), a
 * customer, a product bound to a provider interface, and small curl helpers
 * for talking to peers the way a browser or a gateway would.
 */
#ifndef BILL_TEST_PLUGIN_FIXTURE_H
#define BILL_TEST_PLUGIN_FIXTURE_H

#include <bill/bill.h>
#include <bill/plugin_host.h>

/* A registry over db (may be NULL) with a master key, whose plugins_dir is a
 * fresh temp dir holding copies of the given .so paths (NULL-terminated);
 * scanned once. dir_out (>= 64 bytes) receives the dir. */
bill_plugins *fx_registry(bill_db *db, const char *const *so_paths, char *dir_out);
/* A registry without database or plugins_dir with the one plugin at
 * so_path loaded (the plugin's own calls under test, no interfaces). */
bill_plugins *fx_registry_file(const char *so_path);
/* Customer with the given starting balance (recharge); returns its id (malloc'd). */
char *fx_customer(bill_db *db, const char *name, const char *email, bill_money balance);
/* Active product, monthly price, optional provider interface; id malloc'd. */
char *fx_product(bill_db *db, const char *name, bill_money monthly, const char *provider_iface,
                 const char *specs_json);
/* GET (body NULL) or POST a URL with libcurl; returns the status, *body_out
 * (may be NULL) the malloc'd answer. */
long fx_http(const char *url, const char *post_body, char **body_out);
/* Count rows: first cell of a query as a number. */
long long fx_count(const char *db_url, const char *sql);

#endif
