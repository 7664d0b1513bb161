/*
 * cron_test.c - five-field cron schedules: parsing (fields, ranges, steps,
 * lists, names, shortcuts, errors) and the next firing time in UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/common.h"
#include "server/cron.h"

/* 2026-11-22 17:53:30 UTC (a Sunday) in ms. */
#define T0 ((int64_t)1795370010 * 1000)

static int64_t next(const char *expr, int64_t after)
{
    cairn_cron c;
    assert_int_equal(cairn_cron_parse(expr, &c), 0);
    return cairn_cron_next(&c, after);
}

static void test_every_minute_and_steps(void **state)
{
    (void)state;
    assert_int_equal(next("* * * * *", T0), (int64_t)1795370040 * 1000); /* 17:54 */
    assert_int_equal(next("*/15 * * * *", T0), (int64_t)1795370400 * 1000); /* 18:00 */
    assert_int_equal(next("5 * * * *", T0), (int64_t)1795370700 * 1000);   /* 18:05 */
    assert_int_equal(next("0 0 * * *", T0), (int64_t)1795392000 * 1000);   /* 23 Nov 00:00 */
    assert_int_equal(next("@daily", T0), next("0 0 * * *", T0));
    assert_int_equal(next("30 9 * * mon-fri", T0), (int64_t)1795426200 * 1000); /* Mon 09:30 */
    assert_int_equal(next("0 12 1 jan *", T0), (int64_t)1798804800 * 1000); /* 1 Jan 2027 12:00 */
    /* both day fields restricted: either matches (the 1st or a Wednesday) */
    assert_int_equal(next("0 0 1 * wed", T0), (int64_t)1795564800 * 1000); /* Wed 25 Nov */
    assert_int_equal(next("0 0 * * 7", T0), next("0 0 * * 0", T0));
}

static void test_never(void **state)
{
    (void)state;
    assert_int_equal(next("0 0 30 feb *", T0), -1);
}

static void test_errors(void **state)
{
    (void)state;
    cairn_cron c;
    const char *bad[] = {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                         "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *",
                         "1,,2 * * * *", "@sometimes"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cairn_cron_parse(bad[i], &c), CAIRN_EINVALID);
        assert_non_null(strstr(cairn_error_last()->msg, "cron schedule"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_minute_and_steps),
        cmocka_unit_test(test_never),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
