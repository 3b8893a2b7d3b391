/*
 * customer_users.c — the staff view of customer login accounts
 * (customer_user.h, bill_customer_user_list): every customer's users in one
 * paged list with the customer's name and the last login, for consoles.
 * Registration, login and passwords stay in auth/customer_user.c.
 */
#include "domain/domain_int.h"
#include "bill/customer_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUU_COLS                                                                          \
    "u.id, u.customer_id, u.username, u.email, u.display_name, u.role, u.is_active, "     \
    "u.email_verified_at IS NOT NULL, " BILL__US("u.created_at") ", c.name, "             \
    "coalesce(" BILL__US("u.last_login_at") ", 0), c.status"

static void cuu_clear(void *item)
{
    bill_customer_user *u = item;
    BILL__FREE(u->username, u->email, u->display_name, u->customer_name);
    memset(u, 0, sizeof *u);
}

static int cuu_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_customer_user *u = item;
    (void)ctx;
    snprintf(u->id, sizeof u->id, "%s", bill__val(r, row, 0));
    snprintf(u->customer_id, sizeof u->customer_id, "%s", bill__val(r, row, 1));
    snprintf(u->role, sizeof u->role, "%s", bill__val(r, row, 5));
    u->is_active = bill__bool(r, row, 6);
    u->email_verified = bill__bool(r, row, 7);
    u->created_at_us = bill__i64(r, row, 8);
    u->last_login_at_us = bill__i64(r, row, 10);
    snprintf(u->customer_status, sizeof u->customer_status, "%s", bill__val(r, row, 11));
    if (!(u->username = bill__col_dup(r, row, 2)) || !(u->email = bill__col_dup(r, row, 3)) ||
        !(u->display_name = bill__col_dup(r, row, 4)) ||
        !(u->customer_name = bill__col_dup(r, row, 9)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory listing customer users");
    return BILL_OK;
}

static const bill__rowtype CUU_ROW = {sizeof(bill_customer_user), cuu_from_row, cuu_clear,
                                      "customer user"};

void bill_customer_users_clear(bill_customer_users *l)
{
    BILL__LIST_CLEAR(&CUU_ROW, l);
}

int bill_customer_user_list(bill_db *db, const bill_actor *actor,
                            const bill_customer_user_filter *filter, const bill_page *page,
                            bill_customer_users *out)
{
    const char *cust = NULL;
    char *pattern = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = BILL__CHECK_VERSION(filter, BILL_CUSTOMER_USER_FILTER_VERSION,
                                  "bill_customer_user_filter")) < 0 ||
        (rc = bill_actor_customer_scope(actor, filter ? filter->customer_id : NULL, false,
                                        &cust)) < 0)
        return rc;
    if (filter && filter->search && *filter->search &&
        !(pattern = bill__like_pattern(filter->search)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"(u.username ILIKE $? ESCAPE '\\' OR u.email ILIKE $? ESCAPE '\\' OR "
         "u.display_name ILIKE $? ESCAPE '\\' OR c.name ILIKE $? ESCAPE '\\')", pattern},
        {"u.customer_id = $?::uuid", cust},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, CUU_COLS,
                                    "FROM customer_users u JOIN customers c ON c.id = "
                                    "u.customer_id WHERE true", "u.created_at DESC, u.id DESC",
                                    filters, (int)BILL__ARRAY_LEN(filters))) == BILL_OK)
        rc = BILL__LIST_PAGE(db, &CUU_ROW, &w.q, w.np, w.params, page, NULL, out);
    free(pattern);
    return rc;
}
