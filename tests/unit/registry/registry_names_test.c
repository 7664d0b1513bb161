/*
 * registry_names_test.c - the registry's name rules: stage parsing (case-
 * insensitive, canonical spelling back) and alias validation (MLflow's
 * character set, reserved "latest" and "v<digits>").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cairn/registry.h"

static void test_stage_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        cairn_registry_stage want;
    } ok[] = {
        {"None", CAIRN_REGISTRY_STAGE_NONE},
        {"none", CAIRN_REGISTRY_STAGE_NONE},
        {"staging", CAIRN_REGISTRY_STAGE_STAGING},
        {"STAGING", CAIRN_REGISTRY_STAGE_STAGING},
        {"Production", CAIRN_REGISTRY_STAGE_PRODUCTION},
        {"pRoDuCtIoN", CAIRN_REGISTRY_STAGE_PRODUCTION},
        {"archived", CAIRN_REGISTRY_STAGE_ARCHIVED},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cairn_registry_stage s = (cairn_registry_stage)99;
        assert_int_equal(cairn_registry_stage_parse(ok[i].in, &s), 0);
        assert_int_equal(s, ok[i].want);
    }
    static const char *const bad[] = {"",      "Prod",     "Deleted_Internal",
                                      "None ", " Staging", "archive"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cairn_registry_stage s = CAIRN_REGISTRY_STAGE_NONE;
        assert_int_equal(cairn_registry_stage_parse(bad[i], &s), CAIRN_EINVALID);
        assert_non_null(strstr(cairn_error_last()->msg, "Invalid Model Version stage"));
    }
    cairn_registry_stage s;
    assert_int_equal(cairn_registry_stage_parse(NULL, &s), CAIRN_EINVALID);
}

static void test_stage_name(void **state)
{
    (void)state;
    assert_string_equal(cairn_registry_stage_name(CAIRN_REGISTRY_STAGE_NONE), "None");
    assert_string_equal(cairn_registry_stage_name(CAIRN_REGISTRY_STAGE_STAGING), "Staging");
    assert_string_equal(cairn_registry_stage_name(CAIRN_REGISTRY_STAGE_PRODUCTION), "Production");
    assert_string_equal(cairn_registry_stage_name(CAIRN_REGISTRY_STAGE_ARCHIVED), "Archived");
    /* round trip through the parser */
    for (int i = 0; i < 4; i++) {
        cairn_registry_stage s;
        assert_int_equal(cairn_registry_stage_parse(cairn_registry_stage_name(i), &s), 0);
        assert_int_equal(s, i);
    }
}

static void test_alias_check(void **state)
{
    (void)state;
    static const char *const ok[] = {"champion", "challenger-2", "A_b-C",   "v",
                                     "v1a",      "va1",          "latest2", "x"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(cairn_registry_alias_check(ok[i]), 0);
    static const char *const bad[] = {"",     "latest",    "LATEST",  "Latest", "v1", "V12",
                                      "v007", "has space", "dot.ted", "sl/ash", "at@"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cairn_registry_alias_check(bad[i]), CAIRN_EINVALID);
    assert_int_equal(cairn_registry_alias_check(NULL), CAIRN_EINVALID);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(cairn_registry_alias_check(longname), CAIRN_EINVALID);
    longname[255] = '\0';
    assert_int_equal(cairn_registry_alias_check(longname), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_parse),
        cmocka_unit_test(test_stage_name),
        cmocka_unit_test(test_alias_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
