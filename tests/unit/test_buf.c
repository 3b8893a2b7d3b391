/*
 * test_buf.c — libbill's one growable buffer (core/buf.c, white-box): it
 * starts in caller storage, moves to the heap when that is full, keeps the
 * contents NUL-terminated, refuses appends past its limit and stays failed.
 */
#include "internal.h"

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

START_TEST(test_buf__stack_then_heap)
{
    char small[8];
    bill__buf b;
    bill__buf_init(&b, small, sizeof small, 0);
    ck_assert(bill__buf_puts(&b, "abc"));
    ck_assert_ptr_eq(b.p, small);
    ck_assert(!b.heap);
    ck_assert(bill__buf_puts(&b, "defghij")); /* 10 bytes + NUL > 8 */
    ck_assert(b.heap);
    ck_assert_str_eq(b.p, "abcdefghij");
    ck_assert_uint_eq(b.len, 10);
    char *s = bill__buf_steal(&b);
    ck_assert_str_eq(s, "abcdefghij");
    ck_assert_ptr_null(b.p);
    free(s);
}
END_TEST

START_TEST(test_buf__steal_copies_storage)
{
    char small[16];
    bill__buf b;
    bill__buf_init(&b, small, sizeof small, 0);
    bill__buf_add(&b, "xy", 2);
    char *s = bill__buf_steal(&b);
    ck_assert_ptr_ne(s, small);
    ck_assert_str_eq(s, "xy");
    free(s);
    bill__buf_init(&b, NULL, 0, 0);
    s = bill__buf_steal(&b); /* empty: "" */
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(test_buf__limit_is_sticky)
{
    bill__buf b;
    bill__buf_init(&b, NULL, 0, 5);
    ck_assert(bill__buf_puts(&b, "12345"));
    ck_assert(bill__buf_ok(&b));
    ck_assert(!bill__buf_puts(&b, "6"));
    ck_assert(b.too_big);
    ck_assert(!bill__buf_puts(&b, "")); /* stays failed */
    ck_assert_str_eq(b.p, "12345");
    ck_assert_ptr_null(bill__buf_steal(&b));
    ck_assert_ptr_null(b.p);
}
END_TEST

START_TEST(test_buf__grows_large)
{
    bill__buf b;
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    bill__buf_init(&b, NULL, 0, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert(bill__buf_add(&b, chunk, sizeof chunk));
    ck_assert_uint_eq(b.len, 1000000);
    ck_assert_uint_eq(strlen(b.p), 1000000);
    bill__buf_free(&b);
}
END_TEST

BILL_TEST_MAIN("buf", 0, NULL, NULL,
               test_buf__stack_then_heap, test_buf__steal_copies_storage,
               test_buf__limit_is_sticky, test_buf__grows_large);
