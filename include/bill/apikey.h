/*
 * apikey.h — customer API keys (wire contract ApiKeyService).
 *
 * A key looks like "rb_<prefix8>_<secret43>": the 8-character prefix is kept
 * in clear (to recognise a key in lists), the whole key is stored only as its
 * SHA-256 and shown exactly once, by bill_apikey_create. Requests carry it in
 * the `x-api-key` header; bill_apikey_resolve turns it into a CUSTOMER actor.
 *
 * Authorization: a CUSTOMER actor manages its own customer's keys only
 * (another customer's key or id -> BILL_ENOTFOUND); a CUSTOMER actor that
 * itself authenticated with an API key may not create or revoke keys
 * (BILL_EDENIED: a leaked key must not be able to mint more keys). Staff may
 * manage any customer's keys; their changes are audited. Creating requires
 * customers.can_create_api_keys (BILL_EDENIED otherwise), whoever asks.
 */
#ifndef BILL_APIKEY_H
#define BILL_APIKEY_H

#include "common.h"
#include "actor.h"
#include "page.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many keys (revoked ones excluded) per customer. */
#define BILL_APIKEY_MAX_PER_CUSTOMER 50

typedef struct bill_apikey_info {
    char id[37];
    char customer_id[37];
    char key_prefix[16];
    char name[128];
    bool enabled;          /* false once revoked */
    int64_t created_at_us;
    int64_t last_used_at_us; /* 0 = never */
    int64_t expires_at_us;   /* 0 = no expiry */
} bill_apikey_info;

/* Create a key for `customer_id` (NULL/"" = the CUSTOMER actor's own).
 * name: optional, <= 100 chars. *key_out (malloc'd) is the full key, shown
 * once; *info (may be NULL) describes it. */
BILL_API int bill_apikey_create(bill_db *db, const bill_actor *actor, const char *customer_id,
                                const char *name, int64_t now_us, char **key_out,
                                bill_apikey_info *info);

typedef struct bill_apikeys {
    BILL_LIST_OF(bill_apikey_info);
} bill_apikeys;
BILL_API void bill_apikeys_clear(bill_apikeys *l);

/* Keys of a customer (NULL/"" = the CUSTOMER actor's own), oldest first,
 * revoked ones included (enabled=false); not paged. Never contains the
 * secret. */
BILL_API int bill_apikey_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                              bill_apikeys *out);

/* Revoke a key: effective for the very next request. Revoking an already
 * revoked key is BILL_OK. */
BILL_API int bill_apikey_revoke(bill_db *db, const bill_actor *actor, const char *id,
                                int64_t now_us);

/* Resolve an `x-api-key` value. BILL_EUNAUTH (message without the key) when
 * unknown, revoked, disabled or expired; BILL_EDENIED when its customer is
 * not active (bill_customer_status_check). Updates last_used_at at most once
 * a minute. */
BILL_API int bill_apikey_resolve(bill_db *db, const char *key, int64_t now_us,
                                 bill_apikey_info *out);

/* Fill a CUSTOMER actor pointing into *k (keep k alive while used). */
BILL_API void bill_apikey_actor(const bill_apikey_info *k, bill_actor *actor);

#ifdef __cplusplus
}
#endif
#endif
