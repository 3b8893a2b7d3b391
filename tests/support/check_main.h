/*
 * check_main.h — the one main() of the Check programs in tests/.
 *
 *     BILL_TEST_MAIN("ticket", 120, NULL, NULL,
 *                    test_ticket__create, test_ticket__replies);
 *
 * runs the listed tests as one suite (one test case) with a per-test
 * timeout in seconds (0: Check's default or CK_DEFAULT_TIMEOUT) and an
 * optional checked fixture, and exits non-zero when any failed.
 * BILL_TEST_MAIN_AFTER runs one statement first.
 * Header-only, so the unit tests need nothing but Check.
 */
#ifndef BILL_TEST_CHECK_MAIN_H
#define BILL_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int bill_test_run(const char *name, int timeout, SFun setup, SFun teardown,
                                const TTest *const *tests)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define BILL_TEST_MAIN(name, timeout, setup, teardown, ...)                        \
    BILL_TEST_MAIN_AFTER((void)0, name, timeout, setup, teardown, __VA_ARGS__)

/* The same, running `first` (a statement) before Check forks the tests:
 * e.g. starting the shared PostgreSQL once in this process. */
#define BILL_TEST_MAIN_AFTER(first, name, timeout, setup, teardown, ...)           \
    int main(void)                                                                 \
    {                                                                              \
        const TTest *const tests_[] = {__VA_ARGS__, NULL};                         \
        first;                                                                     \
        return bill_test_run((name), (timeout), (setup), (teardown), tests_);      \
    }

#endif
