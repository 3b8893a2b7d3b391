/*
 * auth_int.h — private helpers shared by the files of libbill/auth/:
 * random opaque tokens, their SHA-256 digests, and timestamp conversion
 * between the caller's clock (microseconds) and SQL parameters.
 */
#ifndef BILL_AUTH_INT_H
#define BILL_AUTH_INT_H

#include "internal.h"
#include "store/store.h"
#include "bill/password.h"

/* 32 random bytes as unpadded base64url (43 chars + NUL), prefixed by
 * `prefix` (may be ""). Returns a malloc'd string or NULL (ENOMEM recorded). */
char *bill__auth_random_token(const char *prefix);

/* Lower-case hex SHA-256 of s (64 chars + NUL). */
#define BILL__SHA256_HEX_LEN 65
void bill__auth_sha256_hex(const char *s, char out[BILL__SHA256_HEX_LEN]);

/* Decimal text of an int64 for a SQL parameter. */
#define BILL__I64_BUFSZ 24
const char *bill__auth_i64(int64_t v, char buf[BILL__I64_BUFSZ]);

/* SQL expression turning parameter $n (microseconds since the epoch, as text)
 * into a timestamptz, exactly: write BILL__TS("$2") inside a query string. */
#define BILL__TS(p) "('epoch'::timestamptz + (" p ")::bigint * interval '1 microsecond')"
/* And back: BILL__US (store.h). */

/* Parse a decimal int64 column value ("" -> 0). */
int64_t bill__auth_parse_i64(const char *s);

/* Copy src into a fixed buffer, truncating. */
void bill__auth_copy(char *dst, size_t dstsz, const char *src);

/* Revoke every admin session of a user except the one of keep_token
 * (NULL/"": all), on the caller's connection and transaction. */
int bill__session_revoke_user_tx(bill_conn *c, const char *admin_user_id, const char *keep_token,
                                 int64_t now_us);

/* BILL_OK when s looks like an e-mail address (field "email"). */
int bill__auth_check_email(const char *s);

/* The check every password change makes before writing: `old_password`
 * must match `stored_hash` (else BILL_EUNAUTH naming old_password), then
 * `new_password` is hashed into `hash` (bill_password_hash's policy). */
int bill__password_replace(const char *old_password, const char *stored_hash,
                           const char *new_password, char hash[BILL_PASSWORD_HASH_BUFSZ]);

#endif
