/*
 * verification.c — e-mail verification codes (include/bill/customer_user.h).
 *
 * Sends for one (email, purpose) are serialized with a transaction-scoped
 * advisory lock, so two concurrent requests cannot both slip past the resend
 * cooldown. The newest code for (email, purpose) is the only one that counts;
 * older ones are superseded. The stored digest binds the code to its address
 * and purpose, so a code for one address cannot be replayed for another.
 * Delivery goes through a durable event row written in the same transaction
 * (see the header for why the payload carries the code).
 */
#include "auth/auth_int.h"
#include "bill/customer_user.h"
#include "store/store.h"

#include <ctype.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The RustBill front end's purposes (docs/api-compat.md): "registration"
 * (the default) and "reset_password"; "register", the earlier name, is an
 * alias. *canon receives the stored spelling. */
static int check_purpose(const char *purpose, const char **canon)
{
    if (!purpose || !*purpose || strcmp(purpose, "registration") == 0 ||
        strcmp(purpose, "register") == 0)
        *canon = "registration";
    else if (strcmp(purpose, "reset_password") == 0)
        *canon = "reset_password";
    else
        return bill__err(BILL_EINVALID, "purpose",
                         "purpose \"%.32s\" is not one of registration, reset_password "
                         "(register is accepted for registration)", purpose);
    return BILL_OK;
}

/* SHA-256 hex of "lower(email)|purpose|code". */
static void code_digest(const char *email, const char *purpose, const char *code,
                        char out[BILL__SHA256_HEX_LEN])
{
    char buf[320];
    size_t n = 0;
    for (const char *p = email; *p && n < 255; p++)
        buf[n++] = (char)tolower((unsigned char)*p);
    snprintf(buf + n, sizeof buf - n, "|%s|%s", purpose, code);
    bill__auth_sha256_hex(buf, out);
    sodium_memzero(buf, sizeof buf);
}

int bill_verification_code_send(bill_db *db, const char *email, const char *purpose,
                                int ttl_secs, int cooldown_secs, int64_t now_us,
                                int *retry_after_secs, char **code_out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *lock = NULL, *last = NULL, *ins = NULL, *ev = NULL;
    char code[8], digest[BILL__SHA256_HEX_LEN];
    char nowb[BILL__I64_BUFSZ], expb[BILL__I64_BUFSZ];
    json_object *payload = NULL;

    if (retry_after_secs)
        *retry_after_secs = 0;
    if (code_out)
        *code_out = NULL;
    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if ((rc = bill__auth_check_email(email)) < 0)
        return rc;
    if ((rc = check_purpose(purpose, &purpose)) < 0)
        return rc;
    if (ttl_secs < 1)
        return bill__err(BILL_EINVALID, "registration.code_ttl_secs",
                         "code TTL must be at least 1 s (got %d)", ttl_secs);
    if (cooldown_secs < 0)
        cooldown_secs = 0;
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
    code_digest(email, purpose, code, digest);
    bill__auth_i64(now_us, nowb);
    bill__auth_i64(now_us + (int64_t)ttl_secs * 1000000, expb);

    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &lock, "SELECT pg_advisory_xact_lock(hashtext('verification|' || lower($1) || '|' || $2))",
                  email, purpose);
    if (rc < 0)
        goto done;
    rc = bill__qp(c, &last,
                  "SELECT " BILL__US("last_sent_at") " FROM verification_codes"
                  " WHERE lower(email) = lower($1) AND purpose = $2"
                  " ORDER BY created_at DESC, last_sent_at DESC LIMIT 1",
                  email, purpose);
    if (rc < 0)
        goto done;
    if (PQntuples(last) == 1) {
        int64_t next = bill__auth_parse_i64(PQgetvalue(last, 0, 0)) + (int64_t)cooldown_secs * 1000000;
        if (now_us < next) {
            int secs = (int)((next - now_us + 999999) / 1000000);
            if (retry_after_secs)
                *retry_after_secs = secs;
            rc = bill__err(BILL_ELIMIT, "email",
                           "a code was sent to this address recently; retry in %d s", secs);
            goto done;
        }
    }
    rc = bill__qp(c, &ins,
                  "INSERT INTO verification_codes (email, purpose, code_hash, created_at, expires_at,"
                  " last_sent_at) VALUES ($1, $2, $3, " BILL__TS("$4") ", " BILL__TS("$5") ", "
                  BILL__TS("$4") ")",
                  email, purpose, digest, nowb, expb);
    if (rc < 0)
        goto done;
    payload = json_object_new_object();
    if (!payload) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory building the notification");
        goto done;
    }
    json_object_object_add(payload, "email", json_object_new_string(email));
    json_object_object_add(payload, "purpose", json_object_new_string(purpose));
    json_object_object_add(payload, "code", json_object_new_string(code));
    json_object_object_add(payload, "expires_in_secs", json_object_new_int(ttl_secs));
    rc = bill__qp(c, &ev,
                  "INSERT INTO events (kind, payload, run_after, created_at, updated_at)"
                  " VALUES ('notify.verification_code', $1::jsonb, " BILL__TS("$2") ", "
                  BILL__TS("$2") ", " BILL__TS("$2") ")",
                  json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN), nowb);
    if (rc < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (code_out && !(*code_out = strdup(code)))
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    if (rc < 0 && c)
        bill__tx_rollback(c);
    json_object_put(payload);
    sodium_memzero(code, sizeof code);
    PQclear(ev);
    PQclear(ins);
    PQclear(last);
    PQclear(lock);
    bill__conn_release(c);
    return rc;
}

int bill_verification_code_check(bill_db *db, const char *email, const char *purpose,
                                 const char *code, int64_t now_us)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char digest[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];
    int attempts;
    bool fail_commit = false;

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!email || !*email)
        return bill__err(BILL_EINVALID, "email", "email is required");
    if ((rc = check_purpose(purpose, &purpose)) < 0)
        return rc;
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return bill__err(BILL_EINVALID, "verification_code", "verification code must be 6 digits");
    code_digest(email, purpose, code, digest);
    bill__auth_i64(now_us, nowb);

    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT id, code_hash, " BILL__US("expires_at") ", attempts, consumed_at IS NOT NULL"
                  " FROM verification_codes WHERE lower(email) = lower($1) AND purpose = $2"
                  " ORDER BY created_at DESC, last_sent_at DESC LIMIT 1 FOR UPDATE",
                  email, purpose);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_EINVALID, "verification_code",
                       "no verification code was sent to this address for %s", purpose);
        goto done;
    }
    attempts = atoi(PQgetvalue(res, 0, 3));
    if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        rc = bill__err(BILL_EINVALID, "verification_code",
                       "verification code was already used; request a new one");
        goto done;
    }
    if (now_us >= bill__auth_parse_i64(PQgetvalue(res, 0, 2))) {
        rc = bill__err(BILL_EINVALID, "verification_code",
                       "verification code expired; request a new one");
        goto done;
    }
    if (attempts >= BILL_VERIFICATION_MAX_ATTEMPTS) {
        rc = bill__err(BILL_EINVALID, "verification_code",
                       "too many wrong attempts for this code; request a new one");
        goto done;
    }
    if (strlen(PQgetvalue(res, 0, 1)) != BILL__SHA256_HEX_LEN - 1 ||
        sodium_memcmp(PQgetvalue(res, 0, 1), digest, BILL__SHA256_HEX_LEN - 1) != 0) {
        rc = bill__qp(c, &upd, "UPDATE verification_codes SET attempts = attempts + 1 WHERE id = $1",
                      PQgetvalue(res, 0, 0));
        if (rc < 0)
            goto done;
        if ((rc = bill__tx_commit(c)) < 0)
            goto done;
        fail_commit = true;
        rc = bill__err(BILL_EINVALID, "verification_code",
                       "verification code is wrong (%d attempts left)",
                       BILL_VERIFICATION_MAX_ATTEMPTS - attempts - 1);
        goto done;
    }
    rc = bill__qp(c, &upd,
                  "UPDATE verification_codes SET consumed_at = " BILL__TS("$2") " WHERE id = $1",
                  PQgetvalue(res, 0, 0), nowb);
    if (rc < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    if (rc < 0 && c && !fail_commit)
        bill__tx_rollback(c);
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}
