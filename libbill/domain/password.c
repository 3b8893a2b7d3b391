/*
 * password.c — argon2id hashing (libsodium) and verification of argon2id and
 * imported bcrypt hashes (libcrypt). Used by admin users (admin_user.c) and
 * customer users (auth). See include/bill/password.h for the contract.
 */
#include "internal.h"
#include "bill/password.h"
#include "auth/auth_int.h"

#include <crypt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_start(void)
{
    sodium_ok = sodium_init() >= 0;
}

static int ensure_sodium(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_ok ? BILL_OK
                     : bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
}

/* Count UTF-8 code points: every byte that is not a continuation byte. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

int bill_password_check_policy(const char *password, const char *field)
{
    if (!field)
        field = "password";
    if (!password || !*password)
        return bill__err(BILL_EINVALID, field, "%s is required", field);
    if (strlen(password) > BILL_PASSWORD_MAX_BYTES)
        return bill__err(BILL_EINVALID, field, "%s is longer than %d bytes", field,
                         BILL_PASSWORD_MAX_BYTES);
    if (utf8_chars(password) < BILL_PASSWORD_MIN_CHARS)
        return bill__err(BILL_EINVALID, field, "%s must have at least %d characters (got %zu)",
                         field, BILL_PASSWORD_MIN_CHARS, utf8_chars(password));
    return BILL_OK;
}

int bill_password_hash(const char *password, char out[BILL_PASSWORD_HASH_BUFSZ])
{
    int rc;
    if (!password || !out)
        return bill__err(BILL_EINVALID, "password", "password is required");
    if ((rc = ensure_sodium()) < 0)
        return rc;
    _Static_assert(crypto_pwhash_STRBYTES <= BILL_PASSWORD_HASH_BUFSZ, "hash buffer too small");
    if (crypto_pwhash_str(out, password, strlen(password), OPS, MEM) != 0)
        return bill__err(BILL_ENOMEM, "password",
                         "argon2id hashing failed (it needs %zu MiB of memory)",
                         (size_t)(MEM >> 20));
    return BILL_OK;
}

static bool is_bcrypt(const char *h)
{
    return h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
           h[3] == '$';
}

/* bcrypt through libcrypt's reentrant crypt_rn; the output is compared with
 * the stored string in constant time. */
static int verify_bcrypt(const char *password, const char *hash)
{
    int rc = BILL_EUNAUTH;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return bill__err(BILL_ENOMEM, NULL, "out of memory verifying a password");
    const char *out = crypt_rn(password, hash, cd, (int)sizeof *cd);
    size_t hl = strlen(hash);
    if (out && out[0] != '*' && strlen(out) == hl && sodium_memcmp(out, hash, hl) == 0)
        rc = BILL_OK;
    sodium_memzero(cd, sizeof *cd);
    free(cd);
    return rc == BILL_OK ? BILL_OK
                         : bill__err(BILL_EUNAUTH, NULL, "invalid username or password");
}

int bill_password_verify(const char *password, const char *hash, bool *needs_rehash)
{
    int rc;
    if (needs_rehash)
        *needs_rehash = false;
    if (!password || !hash || !*hash)
        return bill_password_verify_dummy(password ? password : "");
    if (is_bcrypt(hash)) {
        if ((rc = verify_bcrypt(password, hash)) == BILL_OK && needs_rehash)
            *needs_rehash = true;
        return rc;
    }
    if (strncmp(hash, "$argon2id$", 10) != 0)
        return bill_password_verify_dummy(password);
    if ((rc = ensure_sodium()) < 0)
        return rc;
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return bill__err(BILL_EUNAUTH, NULL, "invalid username or password");
    if (needs_rehash)
        *needs_rehash = crypto_pwhash_str_needs_rehash(hash, OPS, MEM) != 0;
    return BILL_OK;
}

/* A hash of a random password, made once, so dummy checks cost a real
 * argon2id verification with our parameters. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[BILL_PASSWORD_HASH_BUFSZ];

static void dummy_make(void)
{
    char pw[33];
    unsigned char raw[16];
    if (sodium_init() < 0)
        return;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), OPS, MEM) != 0)
        dummy_hash[0] = '\0';
}

int bill_password_verify_dummy(const char *password)
{
    pthread_once(&dummy_once, dummy_make);
    if (dummy_hash[0] && password) {
        /* A random password cannot match; the work is the point. */
        volatile int sink = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
        (void)sink;
    }
    return bill__err(BILL_EUNAUTH, NULL, "invalid username or password");
}

int bill__password_replace(const char *old_password, const char *stored_hash,
                           const char *new_password, char hash[BILL_PASSWORD_HASH_BUFSZ])
{
    if (bill_password_verify(old_password ? old_password : "", stored_hash, NULL) != BILL_OK)
        return bill__err(BILL_EUNAUTH, "old_password", "current password is wrong");
    return bill_password_hash(new_password, hash);
}
