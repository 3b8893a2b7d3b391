/*
 * fuzz_jwt.c — libFuzzer target for access-token verification (§11: every
 * parser of network input is fuzzed). Two modes chosen by the first byte:
 *   even: the rest is the raw token text (header/signature/format parsing);
 *   odd:  the rest is a claims payload, wrapped as a correctly signed HS256
 *         token, so the fuzzer reaches claim parsing past the signature.
 * Any outcome is fine except a crash, a leak or a sanitizer report.
 */
#include "bill/auth.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-0123456789abcdef0123456789"
#define NOW (1800000000LL * 1000000LL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *signed_token(const uint8_t *payload, size_t n)
{
    static const char hdr[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"HS256","typ":"JWT"} */
    size_t b64n = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *tok = malloc(sizeof hdr + b64n + 64);
    if (!tok)
        return NULL;
    memcpy(tok, hdr, sizeof hdr - 1);
    tok[sizeof hdr - 1] = '.';
    sodium_bin2base64(tok + sizeof hdr, b64n, payload, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t signed_len = strlen(tok);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, signed_len);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[signed_len] = '.';
    sodium_bin2base64(tok + signed_len + 1, 64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bill_jwt_claims cl;
    char *tok;
    if (size == 0 || size > 8192)
        return 0;
    if (sodium_init() < 0)
        return 0;
    if (data[0] & 1) {
        tok = signed_token(data + 1, size - 1);
    } else {
        tok = malloc(size);
        if (tok) {
            memcpy(tok, data + 1, size - 1);
            tok[size - 1] = '\0';
        }
    }
    if (!tok)
        return 0;
    (void)bill_jwt_verify(SECRET, tok, NOW, &cl);
    free(tok);
    return 0;
}
