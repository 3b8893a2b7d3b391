/*
 * token.c — opaque random tokens and their digests for sessions, refresh
 * tokens and API keys (see auth_int.h).
 */
#include "auth/auth_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bill__auth_random_token(const char *prefix)
{
    unsigned char raw[32];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    if (sodium_init() < 0) {
        bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
        return NULL;
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    char *out = bill__sprintf("%s%s", prefix ? prefix : "", b64);
    sodium_memzero(b64, sizeof b64);
    if (!out)
        bill__err(BILL_ENOMEM, NULL, "out of memory creating a token");
    return out;
}

void bill__auth_sha256_hex(const char *s, char out[BILL__SHA256_HEX_LEN])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0);
    sodium_bin2hex(out, BILL__SHA256_HEX_LEN, h, sizeof h);
}

const char *bill__auth_i64(int64_t v, char buf[BILL__I64_BUFSZ])
{
    snprintf(buf, BILL__I64_BUFSZ, "%" PRId64, v);
    return buf;
}

int64_t bill__auth_parse_i64(const char *s)
{
    return (s && *s) ? strtoll(s, NULL, 10) : 0;
}

void bill__auth_copy(char *dst, size_t dstsz, const char *src)
{
    if (!dstsz)
        return;
    snprintf(dst, dstsz, "%s", src ? src : "");
}
