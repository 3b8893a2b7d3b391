/*
 * customer.h — customers: the account that owns orders, instances,
 * invoices, a balance and a credit limit. Login accounts (customer users)
 * belong to a customer and live in auth.
 *
 * Scoping: a CUSTOMER actor sees and edits only its own row; any other id is
 * BILL_ENOTFOUND, and a list returns its own row alone. It may change name,
 * contact, email and phone; the admin-only fields (credit_limit,
 * can_create_api_keys, status, notes) are BILL_EDENIED. Creating customers is
 * for staff (registration creates them through auth). ANONYMOUS actors get
 * BILL_EUNAUTH. Staff mutations write an operation_logs row.
 *
 * The balance is never set here: it only moves through balance.h, which
 * keeps the ledger.
 */
#ifndef BILL_CUSTOMER_H
#define BILL_CUSTOMER_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_CUSTOMER_NAME_MAX 200 /* characters */

typedef struct bill_customer {
    char *id;
    char *name;
    char *contact; /* "" when unset; same for email, phone, notes */
    char *email;
    char *phone;
    char *status;  /* "active" | "suspended" | "closed" */
    char *notes;   /* admin-only; "" for CUSTOMER actors */
    bill_money balance;
    bill_money credit_limit;
    bool can_create_api_keys;
    int64_t created_at; /* usec since epoch UTC */
    int64_t updated_at;
} bill_customer;

typedef struct bill_customers {
    BILL_LIST_OF(bill_customer);
} bill_customers;

BILL_API void bill_customer_free(bill_customer *c);
BILL_API void bill_customers_clear(bill_customers *l);

/* Which fields of bill_customer_input an update applies. */
enum {
    BILL_CUSTOMER_SET_NAME = 1u << 0,
    BILL_CUSTOMER_SET_CONTACT = 1u << 1,
    BILL_CUSTOMER_SET_EMAIL = 1u << 2,
    BILL_CUSTOMER_SET_PHONE = 1u << 3,
    BILL_CUSTOMER_SET_NOTES = 1u << 4,          /* admin only */
    BILL_CUSTOMER_SET_STATUS = 1u << 5,         /* admin only */
    BILL_CUSTOMER_SET_CREDIT_LIMIT = 1u << 6,   /* admin only */
    BILL_CUSTOMER_SET_API_KEYS_FLAG = 1u << 7,  /* admin only */
};

/* Create: every field is used (NULL strings = ""; status NULL = "active").
 * Update: only the fields named in the mask; a NULL string in a masked field
 * means "" (clear), except name, which is required.
 * Validation: name 1..200 characters after trimming nothing (leading or
 * trailing spaces are refused); email "" or local@domain.tld shape, <= 254
 * bytes; phone, contact <= 64 / 200 characters; credit_limit >= 0 and within
 * NUMERIC(12,2). Errors name the field. */
#define BILL_CUSTOMER_INPUT_VERSION 1u
typedef struct bill_customer_input {
    unsigned int version; /* BILL_CUSTOMER_INPUT_VERSION */
    const char *name;
    const char *contact;
    const char *email;
    const char *phone;
    const char *notes;
    const char *status;
    bill_money credit_limit;
    bool can_create_api_keys;
    /* fields above exist since version 1 */
} bill_customer_input;

/* Staff only. *out (may be NULL) receives the new row. */
BILL_API int bill_customer_create(bill_db *db, const bill_actor *actor,
                                  const bill_customer_input *in, bill_customer **out);

BILL_API int bill_customer_get(bill_db *db, const bill_actor *actor, const char *id,
                               bill_customer **out);

#define BILL_CUSTOMER_FILTER_VERSION 1u
typedef struct bill_customer_filter {
    unsigned int version; /* BILL_CUSTOMER_FILTER_VERSION */
    const char *search; /* substring of name, email or contact (case-insensitive,
                           % and _ match themselves); NULL/"" = all */
    const char *status; /* exact; NULL/"" = any */
    /* fields above exist since version 1 */
} bill_customer_filter;

/* Newest first (created_at DESC, id DESC). filter/page may be NULL. */
BILL_API int bill_customer_list(bill_db *db, const bill_actor *actor,
                                const bill_customer_filter *filter, const bill_page *page,
                                bill_customers *out);

/* Partial update (see bill_customer_input). An empty mask changes nothing and
 * returns the row. *out may be NULL. Lowering credit_limit below the current
 * debt (balance < -credit_limit) is BILL_ESTATE. */
BILL_API int bill_customer_update(bill_db *db, const bill_actor *actor, const char *id,
                                  const bill_customer_input *in, unsigned int set_mask,
                                  bill_customer **out);

/* Staff only. Only a customer without history can be deleted (its users,
 * tokens and API keys go with it); one with orders, instances, invoices,
 * payments, tickets or balance transactions is BILL_ESTATE — set its status
 * to "closed" instead. */
BILL_API int bill_customer_delete(bill_db *db, const bill_actor *actor, const char *id);

/* Shorthands for the two admin-only switches. */
BILL_API int bill_customer_set_credit_limit(bill_db *db, const bill_actor *actor,
                                            const char *id, bill_money credit_limit);
BILL_API int bill_customer_set_api_keys_flag(bill_db *db, const bill_actor *actor,
                                             const char *id, bool allowed);

#ifdef __cplusplus
}
#endif
#endif
