/*
 * uuid.h — random (version 4) UUIDs as text, the form ids take on the wire
 * and in PostgreSQL's uuid columns.
 */
#ifndef BILL_UUID_H
#define BILL_UUID_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 36 characters + NUL. */
#define BILL_UUID_BUFSZ 37

/* Write a fresh random v4 UUID, lowercase 8-4-4-4-12, into out. Randomness
 * comes from libsodium (initialised once, thread-safely). BILL_EINTERNAL if
 * libsodium cannot be initialised (out is then ""). */
BILL_API int bill_uuid_v4(char out[BILL_UUID_BUFSZ]);

/* true for exactly 36 characters in the 8-4-4-4-12 layout of hex digits
 * (either case, as PostgreSQL accepts both). NULL -> false. No braces, no
 * URN prefix, no surrounding whitespace. Any version/variant is accepted. */
BILL_API bool bill_uuid_valid(const char *s);

#ifdef __cplusplus
}
#endif
#endif
