/*
 * jwt.c — customer access tokens: HS256 JSON Web Tokens (include/bill/auth.h).
 *
 * Issuing uses libjwt. Verifying does not trust the token's own header to
 * choose the algorithm (the classic "alg: none" / algorithm-confusion hole):
 * it first decodes the header itself and accepts only {"alg":"HS256"}, then
 * recomputes the HMAC with libsodium and compares in constant time, and only
 * then lets libjwt parse the claims (libjwt verifies the signature once more
 * with the same key). Claims are checked here: typ, exp, sub, cid.
 *
 * Verification cache (issue 13): that work is ~160k instructions per call,
 * most of a GetMe. A token that verified once is remembered, keyed by
 * BLAKE2b-256(secret, token) (the secret is part of the key, so a rotated
 * secret never hits an old entry), with its claims; a hit only checks exp
 * against `now`, so an expired token is refused exactly when it would be
 * without the cache. Failures are never cached. Only the pure part is
 * cached: the account state a token cannot carry (customer suspended,
 * user disabled, password changed) is read from the database on every call
 * by bill__conn_acquire_as, so revocations stay immediate.
 * The cache is direct-mapped (JWT_CACHE_SLOTS entries, ~300 bytes each,
 * fixed memory), one mutex; a colliding token simply replaces the slot.
 */
#include "internal.h"
#include "bill/auth.h"

#include <errno.h>
#include <jwt.h>
#include <pthread.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Longer tokens are refused before any work (ours are ~300 bytes). */
#define JWT_MAX_LEN 4096

#define JWT_CACHE_SLOTS 4096

typedef struct jwt_cache_slot {
    unsigned char key[crypto_generichash_BYTES];
    bool used;
    bill_jwt_claims claims;
} jwt_cache_slot;

static pthread_mutex_t g_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static jwt_cache_slot g_cache[JWT_CACHE_SLOTS];
static uint64_t g_cache_hits, g_cache_misses;

static void cache_key(const char *secret, const char *token, size_t len,
                      unsigned char key[crypto_generichash_BYTES])
{
    crypto_generichash_state st;
    size_t slen = strlen(secret);
    crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
    /* length-prefixed secret, so (secret, token) pairs cannot run together */
    crypto_generichash_update(&st, (const unsigned char *)&slen, sizeof slen);
    crypto_generichash_update(&st, (const unsigned char *)secret, slen);
    crypto_generichash_update(&st, (const unsigned char *)token, len);
    crypto_generichash_final(&st, key, crypto_generichash_BYTES);
}

static size_t cache_slot(const unsigned char *key)
{
    uint32_t h;
    memcpy(&h, key, sizeof h);
    return h % JWT_CACHE_SLOTS;
}

/* true: a verified entry for key was found, copied into *cl. */
static bool cache_get(const unsigned char *key, bill_jwt_claims *cl)
{
    bool hit = false;
    jwt_cache_slot *s = &g_cache[cache_slot(key)];
    pthread_mutex_lock(&g_cache_mu);
    if (s->used && sodium_memcmp(s->key, key, crypto_generichash_BYTES) == 0) {
        *cl = s->claims;
        hit = true;
        g_cache_hits++;
    } else {
        g_cache_misses++;
    }
    pthread_mutex_unlock(&g_cache_mu);
    return hit;
}

static void cache_put(const unsigned char *key, const bill_jwt_claims *cl)
{
    jwt_cache_slot *s = &g_cache[cache_slot(key)];
    pthread_mutex_lock(&g_cache_mu);
    memcpy(s->key, key, crypto_generichash_BYTES);
    s->claims = *cl;
    s->used = true;
    pthread_mutex_unlock(&g_cache_mu);
}

void bill_jwt_cache_stats(uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&g_cache_mu);
    if (hits)
        *hits = g_cache_hits;
    if (misses)
        *misses = g_cache_misses;
    pthread_mutex_unlock(&g_cache_mu);
}

int bill_jwt_issue(const char *secret, const char *customer_user_id, const char *customer_id,
                   int expiry_hours, int64_t now_us, char **out, int64_t *expires_in)
{
    return bill_jwt_issue_family(secret, customer_user_id, customer_id, NULL, expiry_hours, now_us,
                                 out, expires_in);
}

int bill_jwt_issue_family(const char *secret, const char *customer_user_id,
                          const char *customer_id, const char *family_id, int expiry_hours,
                          int64_t now_us, char **out, int64_t *expires_in)
{
    int rc = BILL_OK;
    jwt_t *jwt = NULL;
    char *tok = NULL;
    unsigned char rnd[16];
    char jti[33];
    int64_t now = now_us / 1000000;

    if (!out)
        return bill__err(BILL_EINVALID, "out", "out must not be NULL");
    *out = NULL;
    if (!secret || !*secret)
        return bill__err(BILL_ECONFIG, "jwt.secret", "[jwt] secret is empty");
    if (!customer_user_id || !*customer_user_id)
        return bill__err(BILL_EINVALID, "sub", "customer user id is empty");
    if (!customer_id || !*customer_id)
        return bill__err(BILL_EINVALID, "cid", "customer id is empty");
    if (expiry_hours < 1 || expiry_hours > 8760)
        return bill__err(BILL_EINVALID, "jwt.expiry_hours",
                         "[jwt] expiry_hours must be 1..8760 (got %d)", expiry_hours);
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(jti, sizeof jti, rnd, sizeof rnd);

    if (jwt_new(&jwt) != 0) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory creating a JWT");
        goto done;
    }
    if (jwt_add_grant(jwt, "sub", customer_user_id) || jwt_add_grant(jwt, "cid", customer_id) ||
        jwt_add_grant(jwt, "typ", "access") || jwt_add_grant_int(jwt, "iat", (long)now) ||
        jwt_add_grant_int(jwt, "exp", (long)(now + (int64_t)expiry_hours * 3600)) ||
        jwt_add_grant(jwt, "jti", jti) ||
        (family_id && *family_id && jwt_add_grant(jwt, "fam", family_id))) {
        rc = bill__err(BILL_EINTERNAL, NULL, "could not add claims to the JWT");
        goto done;
    }
    if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret))) {
        rc = bill__err(BILL_EINTERNAL, "jwt.secret", "libjwt refused the HS256 key");
        goto done;
    }
    tok = jwt_encode_str(jwt);
    if (!tok) {
        rc = bill__err(BILL_EINTERNAL, NULL, "libjwt could not encode the token");
        goto done;
    }
    *out = tok;
    tok = NULL;
    if (expires_in)
        *expires_in = (int64_t)expiry_hours * 3600;
done:
    free(tok);
    jwt_free(jwt);
    return rc;
}

/* Decode one base64url segment into a malloc'd NUL-terminated buffer. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *outlen)
{
    unsigned char *buf = malloc(len + 1);
    size_t n = 0;
    if (!buf)
        return NULL;
    if (sodium_base642bin(buf, len, s, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (outlen)
        *outlen = n;
    return buf;
}

static int unauth(const char *why)
{
    return bill__err(BILL_EUNAUTH, "authorization", "%s", why);
}

/* The header must be a JSON object whose "alg" is exactly "HS256". */
static int check_header(const char *seg, size_t len)
{
    int rc = BILL_OK;
    unsigned char *raw = b64url_decode(seg, len, NULL);
    json_object *hdr = NULL, *alg = NULL;
    if (!raw) {
        rc = unauth("access token is malformed (header is not base64url)");
        goto done;
    }
    hdr = json_tokener_parse((const char *)raw);
    if (!hdr || !json_object_is_type(hdr, json_type_object)) {
        rc = unauth("access token is malformed (header is not a JSON object)");
        goto done;
    }
    if (!json_object_object_get_ex(hdr, "alg", &alg) || !json_object_is_type(alg, json_type_string)) {
        rc = unauth("access token has no algorithm");
        goto done;
    }
    if (strcmp(json_object_get_string(alg), "HS256") != 0) {
        rc = bill__err(BILL_EUNAUTH, "authorization",
                       "access token algorithm \"%.16s\" is not accepted (HS256 only)",
                       json_object_get_string(alg));
        goto done;
    }
done:
    json_object_put(hdr);
    free(raw);
    return rc;
}

/* Recompute HMAC-SHA256(secret, "header.payload") and compare in constant time. */
static int check_signature(const char *secret, const char *token, size_t signed_len,
                           const char *sig, size_t siglen)
{
    int rc = BILL_OK;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    unsigned char *given = b64url_decode(sig, siglen, &n);
    crypto_auth_hmacsha256_state st;
    if (!given || n != sizeof mac) {
        rc = unauth("access token signature is invalid");
        goto done;
    }
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, signed_len);
    crypto_auth_hmacsha256_final(&st, mac);
    if (sodium_memcmp(mac, given, sizeof mac) != 0)
        rc = unauth("access token signature is invalid");
done:
    free(given);
    return rc;
}

/* The full check (no cache); token is at most JWT_MAX_LEN, non-empty. */
static int jwt_verify_full(const char *secret, const char *token, size_t len, int64_t now,
                           bill_jwt_claims *claims)
{
    int rc = BILL_OK;
    jwt_t *jwt = NULL;
    const char *dot1, *dot2, *v;
    long exp, iat;

    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) ||
        dot1 == token || dot2 == dot1 + 1 || dot2[1] == '\0')
        return unauth("access token is malformed (expected header.payload.signature)");

    if ((rc = check_header(token, (size_t)(dot1 - token))) < 0)
        return rc;
    if ((rc = check_signature(secret, token, (size_t)(dot2 - token), dot2 + 1,
                              len - (size_t)(dot2 + 1 - token))) < 0)
        return rc;

    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt) {
        rc = unauth("access token could not be decoded");
        goto done;
    }
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        rc = unauth("access token algorithm is not accepted (HS256 only)");
        goto done;
    }
    v = jwt_get_grant(jwt, "typ");
    if (!v || strcmp(v, "access") != 0) {
        rc = unauth("token is not an access token");
        goto done;
    }
    errno = 0;
    exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || exp <= 0) {
        rc = unauth("access token has no valid expiry (exp)");
        goto done;
    }
    if (now >= exp) {
        rc = unauth("access token expired");
        goto done;
    }
    errno = 0;
    iat = jwt_get_grant_int(jwt, "iat");
    if (errno != 0)
        iat = 0;
    v = jwt_get_grant(jwt, "sub");
    if (!v || !*v || strlen(v) >= sizeof claims->sub) {
        rc = unauth("access token has no valid subject (sub)");
        goto done;
    }
    if (claims)
        memcpy(claims->sub, v, strlen(v) + 1);
    v = jwt_get_grant(jwt, "cid");
    if (!v || !*v || strlen(v) >= sizeof claims->cid) {
        rc = unauth("access token has no valid customer (cid)");
        goto done;
    }
    if (claims) {
        memcpy(claims->cid, v, strlen(v) + 1);
        v = jwt_get_grant(jwt, "jti");
        if (v && strlen(v) < sizeof claims->jti)
            memcpy(claims->jti, v, strlen(v) + 1);
        v = jwt_get_grant(jwt, "fam");
        if (v && strlen(v) < sizeof claims->fam)
            memcpy(claims->fam, v, strlen(v) + 1);
        claims->iat = iat;
        claims->exp = exp;
    }
done:
    jwt_free(jwt);
    return rc;
}

int bill_jwt_verify(const char *secret, const char *token, int64_t now_us,
                    bill_jwt_claims *claims)
{
    int rc;
    size_t len;
    int64_t now = now_us / 1000000;
    unsigned char key[crypto_generichash_BYTES];
    bill_jwt_claims cl;

    if (claims)
        memset(claims, 0, sizeof *claims);
    if (!secret || !*secret)
        return bill__err(BILL_ECONFIG, "jwt.secret", "[jwt] secret is empty");
    if (!token || !*token)
        return unauth("access token is empty");
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    len = strnlen(token, JWT_MAX_LEN + 1);
    if (len > JWT_MAX_LEN)
        return unauth("access token is too long");

    memset(&cl, 0, sizeof cl);
    cache_key(secret, token, len, key);
    if (cache_get(key, &cl)) {
        if (now >= cl.exp)
            return unauth("access token expired");
    } else {
        if ((rc = jwt_verify_full(secret, token, len, now, &cl)) < 0)
            return rc;
        cache_put(key, &cl);
    }
    if (claims)
        *claims = cl;
    return BILL_OK;
}
