/*
 * store_pg_test.c - the store conformance suite on PostgreSQL (label `pg`).
 *
 * The server comes from tests/support/pg_harness (CAIRN_TEST_PG_URL, or a
 * throwaway server started for this run); each test gets its own database.
 * If no server can be had, the group setup fails with the reason: the test
 * never skips silently.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "pg_harness.h"
#include "store/store_int.h"

static cairn_pg_harness *harness;

static char *conf_new_uri(void)
{
    char err[512];
    char *uri = cairn_pg_harness_create_db(harness, "cairn_store", err, sizeof(err));
    if (!uri) fprintf(stderr, "store_pg_test: %s\n", err);
    return uri;
}

static void conf_drop_uri(char *uri)
{
    cairn_pg_harness_drop_db(harness, uri);
    cairn_free(uri);
}

#include "store_conformance.inc"

/* Connection failures are CAIRN_EIO with a message. */
static void test_connect_refused(void **state)
{
    (void)state;
    cairn_store *s = (cairn_store *)0x1;
    int rc = cairn_store_open(&s, "postgresql://postgres@127.0.0.1:1/nope?connect_timeout=5", NULL);
    assert_int_equal(rc, CAIRN_EIO);
    assert_null(s);
    assert_non_null(strstr(cairn_error_last()->msg, "postgres"));
}

/* PostgreSQL-specific typing: numeric and bool columns. */
struct typed {
    cairn_value v[4];
};

static int typed_cb(const cairn_value *cols, int ncols, void *payload)
{
    struct typed *t = payload;
    assert_int_equal(ncols, 4);
    for (int i = 0; i < 4; i++)
        t->v[i] = cols[i];
    return 0;
}

static void test_pg_column_types(void **state)
{
    cairn_store *s = open_store(state);
    struct typed t;
    assert_int_equal(cairn_store_query(s,
                                       "SELECT CAST(2.5 AS NUMERIC), CAST(3 AS SMALLINT), "
                                       "CAST('-Infinity' AS REAL), 1 < 2",
                                       NULL, 0, typed_cb, &t),
                     0);
    assert_int_equal(t.v[0].type, CAIRN_V_REAL);
    assert_true(t.v[0].u.d == 2.5);
    assert_int_equal(t.v[1].type, CAIRN_V_INT);
    assert_true(t.v[1].u.i == 3);
    assert_int_equal(t.v[2].type, CAIRN_V_REAL);
    assert_true(isinf(t.v[2].u.d) && t.v[2].u.d < 0);
    assert_int_equal(t.v[3].type, CAIRN_V_INT); /* bool as 0/1, as SQLite gives it */
    assert_true(t.v[3].u.i == 1);
    cairn_store_close(s);
}

static int group_setup(void **state)
{
    (void)state;
    char err[512];
    if (cairn_pg_harness_start(&harness, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_pg_test: no postgresql server: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cairn_pg_harness_stop(harness);
    harness = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CONFORMANCE_TESTS,
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test_setup_teardown(test_pg_column_types, conf_setup, conf_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
