/*
 * check_main.h — the one main() of the Check programs in tests/.
 *
 *     BILL_TEST_MAIN("ticket", 120, NULL, NULL,
 *                    test_ticket__create, test_ticket__replies);
 *
 * runs the listed tests as one suite (one test case) with a per-test
 * timeout in seconds (0: Check's default or CK_DEFAULT_TIMEOUT) and an
 * optional checked fixture, and exits non-zero when any failed.
 * BILL_TEST_MAIN_AFTER runs one statement first; BILL_TEST_MAIN_CASES runs
 * several test cases (each its own fixture, timeout, or loop) as one suite.
 * Header-only, so the unit tests need nothing but Check.
 */
#ifndef BILL_TEST_CHECK_MAIN_H
#define BILL_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* One test case of a suite: its fixture (checked; NULL, NULL for none),
 * per-test timeout in seconds (0: the default), and its NULL-terminated
 * tests; `loop` > 0 runs each of them as a loop test for _i in [0, loop). */
typedef struct bill_test_case {
    const char *name;
    int timeout;
    SFun setup, teardown;
    int loop;
    const TTest *const *tests;
} bill_test_case;

#define BILL_TEST_CASE(name, timeout, setup, teardown, ...)                       \
    {(name), (timeout), (setup), (teardown), 0, (const TTest *const[]){__VA_ARGS__, NULL}}
#define BILL_TEST_LOOP_CASE(name, timeout, setup, teardown, loop, ...)            \
    {(name), (timeout), (setup), (teardown), (loop), (const TTest *const[]){__VA_ARGS__, NULL}}

/* The number of elements of an array: the loop of a table-driven case. */
#define BILL_TEST_COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

/* Run the n cases as one suite; EXIT_FAILURE when any test failed. */
static inline int bill_test_run_cases(const char *suite, const bill_test_case *cases, size_t n)
{
    Suite *s = suite_create(suite);
    for (size_t c = 0; c < n; c++) {
        TCase *tc = tcase_create(cases[c].name);
        if (cases[c].setup || cases[c].teardown)
            tcase_add_checked_fixture(tc, cases[c].setup, cases[c].teardown);
        if (cases[c].timeout > 0)
            tcase_set_timeout(tc, cases[c].timeout);
        for (size_t i = 0; cases[c].tests[i]; i++) {
            if (cases[c].loop > 0)
                tcase_add_loop_test(tc, cases[c].tests[i], 0, cases[c].loop);
            else
                tcase_add_test(tc, cases[c].tests[i]);
        }
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* One suite of one test case named like the suite. */
static inline int bill_test_run(const char *name, int timeout, SFun setup, SFun teardown,
                                const TTest *const *tests)
{
    const bill_test_case one = {name, timeout, setup, teardown, 0, tests};
    return bill_test_run_cases(name, &one, 1);
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

/* A suite of several cases:
 *     BILL_TEST_MAIN_CASES("e2e_defence",
 *         BILL_TEST_CASE("default", 180, setup_default, teardown, test_a, test_b),
 *         BILL_TEST_CASE("limited", 180, setup_limited, teardown, test_c));
 */
#define BILL_TEST_MAIN_CASES(name, ...)                                            \
    int main(void)                                                                 \
    {                                                                              \
        const bill_test_case cases_[] = {__VA_ARGS__};                             \
        return bill_test_run_cases((name), cases_, sizeof cases_ / sizeof cases_[0]); \
    }

#endif
