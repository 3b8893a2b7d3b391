/*
 * plugin_fuzz.h — scaffolding for the built-in plugins' libFuzzer targets.
 *
 * A target compiles one plugin's own sources (the list its meson.build
 * records in builtin_plugin_sources) and links libbill's objects, so every
 * call runs the real way: the plugin registry's host services (host.c:
 * error detail, log, strdup, HMAC, clock, the request checks of
 * host->http) and the checked call wrappers (instance.c) that validate
 * what a plugin hands back. Only the network is replaced: host->http
 * answers from the fuzz input.
 *
 * Input: one byte stream, read front to back as
 *   pf_u8()   one byte (0 when the input is used up),
 *   pf_rec()  one record: 2-byte big-endian length + that many bytes (cut
 *             short at the end of the input),
 * and every HTTP request the plugin makes takes one status byte and one
 * record (the response body) from what is left; with nothing left the
 * request fails like an unreachable peer.
 * Seeds are written by tests/fuzz/plugins/make_seeds.py in this layout.
 */
#ifndef BILL_PLUGIN_FUZZ_H
#define BILL_PLUGIN_FUZZ_H

#include <bill/plugin.h>
#include <bill/plugin_host.h>

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Start reading a new input. */
void pf_begin(const uint8_t *data, size_t size);
uint8_t pf_u8(void);
/* Next record (points into the input; *len may be 0). */
const uint8_t *pf_rec(size_t *len);
/* Next record as a malloc'd C string (cut at its first NUL, as a C caller
 * would see it); never NULL (aborts when out of memory). */
char *pf_str(void);
/* Bytes left. */
size_t pf_left(void);
/* Next 8 bytes as a big-endian integer (amounts, clocks). */
int64_t pf_i64(void);

/* Open an instance of the plugin linked into the target, through the real
 * registry and bill_plugin_instance_open, with config_json. BILL_OK or the
 * error (then *out is NULL). */
int pf_open(const char *config_json, bill_plugin_instance **out);
/* The config path of an interface: the host's schema validation and the
 * secret split/merge round trip, then the plugin's init with the config as
 * given (a plugin must refuse a bad config itself, whatever the schema
 * let through) and, when the schema accepted it, with the merged one. */
void pf_config(const char *config_json);

/* The case byte of a target with n_cases cases, in *op. Case 0 is always
 * the interface config: run here (pf_config on the next record), NULL
 * returned. Any other case: an instance opened with config_json (a config
 * the plugin refuses aborts: the target's own config must be good). */
bill_plugin_instance *pf_case(const char *config_json, unsigned n_cases, unsigned *op);

/* One case of a target on the instance pf_case opened (op >= 1). */
typedef void pf_case_fn(bill_plugin_instance *inst, unsigned op);
/* A whole input: pf_begin, pf_case, then run(inst, op) for op >= 1 and the
 * instance released. Returns 0 (libFuzzer's "keep going"). */
int pf_target(const uint8_t *data, size_t size, const char *config_json, unsigned n_cases,
              pf_case_fn *run);
/* The target's LLVMFuzzerTestOneInput: pf_target with these arguments. */
#define PF_TARGET(config_json, n_cases, run)                                    \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                \
    {                                                                           \
        return pf_target(data, size, (config_json), (n_cases), (run));          \
    }

/* The provider cases, for a provider plugin (PF_PROVIDER_TARGET). Byte 0
 * picks: 0 interface config (pf_config); 1 create_instance (records:
 * spec JSON, order id, upstream product id); 2 get_instance (record: id);
 * 3 action (byte: action, record: id); 4 detail_sections (record: id);
 * 5 spec_template; 6 health; 7 list_upstream_products; 8 change_plan
 * (records: id, spec JSON, upstream product id). Every peer answer
 * comes from the rest of the input. Results of calls that succeed are
 * checked (ids and texts printable UTF-8, JSON complete and typed). */
void pf_provider_case(bill_plugin_instance *inst, unsigned op);
#define PF_PROVIDER_TARGET(config_json) PF_TARGET(config_json, 9, pf_provider_case)

/* Post-conditions of a checked call that returned BILL_OK: abort (a
 * finding) when the host let through what it promises never to. */
void pf_assert_text(const char *s);          /* NULL or printable UTF-8 */
void pf_assert_json(const char *s, int want); /* complete JSON of type want */

#endif
