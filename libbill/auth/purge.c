/*
 * purge.c — housekeeping of credential tables (bill_auth_purge_expired in
 * include/bill/auth.h). Expired rows are already refused on use; deleting
 * them only keeps the tables and their indexes small.
 *
 * Refresh tokens are deleted only past their OWN expiry or revocation: a
 * used-but-unexpired token must stay, because presenting it again is how
 * reuse (theft) is detected and its family revoked.
 */
#include "auth/auth_int.h"
#include "bill/auth.h"
#include "store/store.h"

#include <stdlib.h>

int bill_auth_purge_expired(bill_db *db, int64_t now_us, int64_t *deleted)
{
    static const char *const sql[] = {
        "DELETE FROM admin_sessions WHERE coalesce(revoked_at, expires_at) < " BILL__TS("$1"),
        "DELETE FROM refresh_tokens WHERE coalesce(revoked_at, expires_at) < " BILL__TS("$1"),
        "DELETE FROM verification_codes WHERE coalesce(consumed_at, expires_at) < " BILL__TS("$1"),
    };
    int rc = BILL_OK;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char cutoff[BILL__I64_BUFSZ];
    int64_t total = 0;

    if (deleted)
        *deleted = 0;
    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    bill__auth_i64(now_us - 24LL * 3600 * 1000000, cutoff);
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    for (size_t i = 0; i < BILL__ARRAY_LEN(sql); i++) {
        if ((rc = bill__qp(c, &res, sql[i], cutoff)) < 0)
            goto done;
        total += bill__auth_parse_i64(PQcmdTuples(res));
        PQclear(res);
        res = NULL;
    }
    if (deleted)
        *deleted = total;
done:
    PQclear(res);
    bill__conn_release(c);
    return rc;
}
