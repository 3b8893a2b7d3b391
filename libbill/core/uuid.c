/*
 * uuid.c — version 4 UUIDs from libsodium's CSPRNG, and the canonical-form
 * check used to validate ids arriving from the wire before they reach SQL.
 */
#include "internal.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;

/* sodium_init is itself idempotent, but running it once under pthread_once
 * lets every thread see the same verdict without racing on it. */
static void init_sodium(void)
{
    sodium_status = sodium_init() < 0 ? -1 : 0;
}

int bill_uuid_v4(char out[BILL_UUID_BUFSZ])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t i, o = 0;

    out[0] = '\0';
    pthread_once(&sodium_once, init_sodium);
    if (sodium_status < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise; cannot make a uuid");
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
    return BILL_OK;
}

bool bill_uuid_valid(const char *s)
{
    size_t i;
    if (!s)
        return false;
    for (i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false; /* also stops at an early NUL */
        }
    }
    return s[36] == '\0';
}
