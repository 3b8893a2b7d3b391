/*
 * test_uuid.c — unit tests for v4 UUID generation and canonical-form checks.
 */
#include <bill/bill.h>

#include "check_main.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_uuid__v4_format)
{
    char u[BILL_UUID_BUFSZ];
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(bill_uuid_v4(u), BILL_OK);
        ck_assert_uint_eq(strlen(u), 36);
        ck_assert(bill_uuid_valid(u));
        ck_assert_int_eq(u[14], '4');                  /* version nibble */
        ck_assert_ptr_nonnull(strchr("89ab", u[19])); /* RFC 4122 variant */
        for (int j = 0; j < 36; j++)
            ck_assert_msg(u[j] == '-' || strchr("0123456789abcdef", u[j]), "upper/odd char in %s", u);
    }
}
END_TEST

static int cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

#define N_UUID 5000
static char many[N_UUID][BILL_UUID_BUFSZ];

static void *gen_half(void *arg)
{
    size_t off = (size_t)arg;
    for (size_t i = off; i < off + N_UUID / 2; i++)
        if (bill_uuid_v4(many[i]) != BILL_OK)
            many[i][0] = '\0';
    return NULL;
}

START_TEST(test_uuid__unique_across_threads)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, gen_half, (void *)(size_t)0), 0);
    gen_half((void *)(size_t)(N_UUID / 2));
    pthread_join(t, NULL);
    qsort(many, N_UUID, BILL_UUID_BUFSZ, cmp);
    for (size_t i = 0; i < N_UUID; i++) {
        ck_assert(bill_uuid_valid(many[i]));
        if (i > 0)
            ck_assert_str_ne(many[i - 1], many[i]);
    }
}
END_TEST

START_TEST(test_uuid__valid_rejects_non_canonical)
{
    ck_assert(bill_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    ck_assert(bill_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
    ck_assert(bill_uuid_valid("00000000-0000-0000-0000-000000000000"));
    ck_assert(!bill_uuid_valid(NULL));
    ck_assert(!bill_uuid_valid(""));
    ck_assert(!bill_uuid_valid("123e4567e89b12d3a456426614174000"));
    ck_assert(!bill_uuid_valid("{123e4567-e89b-12d3-a456-426614174000}"));
    ck_assert(!bill_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
    ck_assert(!bill_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
    ck_assert(!bill_uuid_valid("123e4567-e89b-12d3-a456_426614174000"));
    ck_assert(!bill_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
    ck_assert(!bill_uuid_valid(" 123e4567-e89b-12d3-a456-426614174000"));
    ck_assert(!bill_uuid_valid("123e4567-e89b-12d3-a456-426614174000 "));
    ck_assert(!bill_uuid_valid("urn:uuid:123e4567-e89b-12d3-a456-426614174000"));
}
END_TEST

BILL_TEST_MAIN("uuid", 0, NULL, NULL,
               test_uuid__v4_format, test_uuid__unique_across_threads,
               test_uuid__valid_rejects_non_canonical);
