/*
 * password.h — password hashing shared by admin users and customer users.
 *
 * New hashes are argon2id in libsodium's PHC string format ("$argon2id$v=19$...")
 * at the INTERACTIVE cost (2 passes, 64 MiB). Hashes imported from RustBill are
 * bcrypt ("$2b$", "$2a$", "$2y$"); they verify through libcrypt and report
 * `needs_rehash`, so the caller replaces them with argon2id after the next
 * successful login. Comparisons that involve secrets are constant-time.
 */
#ifndef BILL_PASSWORD_H
#define BILL_PASSWORD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any hash this module produces, NUL included (crypto_pwhash_STRBYTES). */
#define BILL_PASSWORD_HASH_BUFSZ 128
/* Policy: at least 6 characters (UTF-8 code points), at most 1024 bytes.
 * Six, not eight: RustBill's operations manual creates admins with seven-
 * character passwords ("pass123") and operators migrating from it follow it;
 * login lockout and rate limits carry the weight against guessing. */
#define BILL_PASSWORD_MIN_CHARS 6
#define BILL_PASSWORD_MAX_BYTES 1024

/* BILL_OK when `password` satisfies the policy, else BILL_EINVALID with
 * `field` (e.g. "password", "new_password") named in the error detail. */
BILL_API int bill_password_check_policy(const char *password, const char *field);

/* Hash `password` (policy NOT applied: callers check it first, because
 * legacy passwords must still verify) into `out` as an argon2id string.
 * BILL_ENOMEM when the memory-hard hash cannot get its 64 MiB. */
BILL_API int bill_password_hash(const char *password, char out[BILL_PASSWORD_HASH_BUFSZ]);

/* Check `password` against a stored hash (argon2id or bcrypt).
 * BILL_OK on a match; *needs_rehash (may be NULL) is then true when the hash
 * is bcrypt or argon2 with other parameters than ours.
 * BILL_EUNAUTH on a mismatch, an empty/unknown hash, or a NULL argument —
 * never a different code, so callers cannot build an oracle by accident. */
BILL_API int bill_password_verify(const char *password, const char *hash, bool *needs_rehash);

/* Spend the time of one argon2id verification and fail (BILL_EUNAUTH).
 * Call it when the user does not exist, so "no such user" and "wrong
 * password" take the same time. */
BILL_API int bill_password_verify_dummy(const char *password);

#ifdef __cplusplus
}
#endif
#endif
