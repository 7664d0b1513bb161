/*
 * track_filter_test.c - the MLflow search filter parser, its SQL compiler,
 * order_by and page tokens. Beside checking the AST and the SQL text, the
 * generated SQL is executed against a real SQLite database built from the
 * store's migrations (case_sensitive_like=ON, as the store runs it), so the
 * fragments are proven to select the right rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cairn/core.h"
#include "track/track_filter.h"

/* ------------------------------------------------------------- helpers */

static cairn_filter *parse_ok(int entity, const char *text)
{
    cairn_filter *f = NULL;
    int rc = cairn_filter_parse(&f, entity, text);
    if (rc) fail_msg("parse of \"%s\" failed: %s", text, cairn_error_last()->msg);
    assert_non_null(f);
    return f;
}

/* Parsing must fail with CAIRN_EINVALID and a message containing `want`. */
static void expect_error(int entity, const char *text, const char *want)
{
    cairn_filter *f = (cairn_filter *)1;
    int rc = cairn_filter_parse(&f, entity, text);
    if (rc != CAIRN_EINVALID) {
        cairn_filter_free(rc ? NULL : f);
        fail_msg("\"%s\" gave %d, expected CAIRN_EINVALID", text, rc);
    }
    assert_null(f);
    if (!strstr(cairn_error_last()->msg, want))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, cairn_error_last()->msg, want);
}

/* Compiles `text` and compares the fragment with `want_sql`. */
static void expect_sql(int entity, const char *text, const char *want_sql, int want_np)
{
    cairn_filter *f = parse_ok(entity, text);
    cairn_buf sql = CAIRN_BUF_INIT(0);
    cairn_value params[16];
    int np = 0;
    assert_int_equal(cairn_filter_to_sql(f, &sql, params, 16, &np), 0);
    assert_string_equal(cairn_buf_cstr(&sql), want_sql);
    assert_int_equal(np, want_np);
    assert_int_equal(cairn_filter_nparams(f), want_np);
    cairn_buf_free(&sql);
    cairn_filter_free(f);
}

static void assert_text(const cairn_value *v, const char *want)
{
    assert_int_equal(v->type, CAIRN_V_TEXT);
    assert_int_equal(v->u.s.len, strlen(want));
    assert_memory_equal(v->u.s.ptr, want, v->u.s.len);
}

/* ------------------------------------------------------------ parsing */

static void test_parse_all_kinds(void **state)
{
    (void)state;
    cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS,
                               "metrics.acc > 0.9 AND params.lr = '0.01' AND tags.team != \"ml\" "
                               "AND attributes.status = 'FINISHED' AND datasets.name IN ('a', 'b')"
                               " AND run_name LIKE 'x%'");
    assert_int_equal(f->n, 6);
    assert_int_equal(f->cmp[0].kind, CAIRN_FILTER_METRIC);
    assert_string_equal(f->cmp[0].key, "acc");
    assert_int_equal(f->cmp[0].op, CAIRN_FILTER_GT);
    assert_int_equal(f->cmp[0].vtype, CAIRN_FILTER_VREAL);
    assert_true(f->cmp[0].num == 0.9);
    assert_int_equal(f->cmp[1].kind, CAIRN_FILTER_PARAM);
    assert_string_equal(f->cmp[1].str, "0.01");
    assert_int_equal(f->cmp[2].kind, CAIRN_FILTER_TAG);
    assert_int_equal(f->cmp[2].op, CAIRN_FILTER_NE);
    assert_string_equal(f->cmp[2].str, "ml");
    assert_int_equal(f->cmp[3].kind, CAIRN_FILTER_ATTRIBUTE);
    assert_string_equal(f->cmp[3].column, "r.status");
    assert_int_equal(f->cmp[4].kind, CAIRN_FILTER_DATASET);
    assert_int_equal(f->cmp[4].vtype, CAIRN_FILTER_VLIST);
    assert_int_equal(f->cmp[4].nlist, 2);
    assert_string_equal(f->cmp[4].list[1], "b");
    assert_string_equal(f->cmp[5].column, "r.name");
    assert_int_equal(f->cmp[5].op, CAIRN_FILTER_LIKE);
    cairn_filter_free(f);

    /* every prefix spelling */
    static const char *const spellings[][2] = {
        {"metric.a > 1", "1"},
        {"metrics.a > 1", "1"},
        {"param.a = 'x'", "2"},
        {"params.a = 'x'", "2"},
        {"parameter.a = 'x'", "2"},
        {"parameters.a = 'x'", "2"},
        {"tag.a = 'x'", "3"},
        {"tags.a = 'x'", "3"},
        {"attribute.status = 'x'", "0"},
        {"attributes.status = 'x'", "0"},
        {"attr.status = 'x'", "0"},
        {"run.status = 'x'", "0"},
        {"status = 'x'", "0"},
        {"dataset.name = 'x'", "4"},
        {"datasets.digest = 'x'", "4"},
        {"METRICS.a > 1", "1"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(spellings); i++) {
        f = parse_ok(CAIRN_FILTER_RUNS, spellings[i][0]);
        assert_int_equal(f->n, 1);
        assert_int_equal((int)f->cmp[0].kind, atoi(spellings[i][1]));
        cairn_filter_free(f);
    }
}

static void test_empty_filter(void **state)
{
    (void)state;
    const char *empties[] = {NULL, "", "   \t\n "};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(empties); i++) {
        cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS, empties[i]);
        assert_int_equal(f->n, 0);
        expect_sql(CAIRN_FILTER_RUNS, empties[i], "", 0);
        cairn_filter_free(f);
    }
}

static void test_operators(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        cairn_filter_op op;
    } cases[] = {
        {"metrics.a = 1", CAIRN_FILTER_EQ},
        {"metrics.a != 1", CAIRN_FILTER_NE},
        {"metrics.a <> 1", CAIRN_FILTER_NE},
        {"metrics.a < 1", CAIRN_FILTER_LT},
        {"metrics.a <= 1", CAIRN_FILTER_LE},
        {"metrics.a > 1", CAIRN_FILTER_GT},
        {"metrics.a >= 1", CAIRN_FILTER_GE},
        {"metrics.a>=1", CAIRN_FILTER_GE},
        {"params.a LIKE 'x'", CAIRN_FILTER_LIKE},
        {"params.a ILIKE 'x'", CAIRN_FILTER_ILIKE},
        {"run_id IN ('x')", CAIRN_FILTER_IN},
        {"run_id NOT IN ('x', 'y')", CAIRN_FILTER_NOT_IN},
        {"run_id not   in('x')", CAIRN_FILTER_NOT_IN},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
        cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS, cases[i].text);
        assert_int_equal(f->n, 1);
        assert_int_equal(f->cmp[0].op, cases[i].op);
        cairn_filter_free(f);
    }
}

static void test_quoted_keys_and_values(void **state)
{
    (void)state;
    cairn_filter *f = parse_ok(
        CAIRN_FILTER_RUNS, "metrics.`f1 score` >= 0.5 AND tags.\"mlflow.user\" = 'al''ice' AND "
                           "params.`a.b c` = \"say \\\"hi\\\"\" AND tags.mlflow.source.type = "
                           "'LOCAL' AND params.```x` = 'it\\'s' AND attributes.`run name` = ''");
    assert_int_equal(f->n, 6);
    assert_string_equal(f->cmp[0].key, "f1 score");
    assert_string_equal(f->cmp[1].key, "mlflow.user");
    assert_string_equal(f->cmp[1].str, "al'ice");
    assert_string_equal(f->cmp[2].key, "a.b c");
    assert_string_equal(f->cmp[2].str, "say \"hi\"");
    assert_string_equal(f->cmp[3].key, "mlflow.source.type");
    assert_string_equal(f->cmp[4].key, "`x");
    assert_string_equal(f->cmp[4].str, "it's");
    assert_string_equal(f->cmp[5].key, "run_name"); /* alias resolved */
    assert_string_equal(f->cmp[5].str, "");
    cairn_filter_free(f);

    /* a backslash not before a quote is kept (LIKE escapes pass through) */
    f = parse_ok(CAIRN_FILTER_RUNS, "params.p LIKE 'a\\_b\\\\'");
    assert_string_equal(f->cmp[0].str, "a\\_b\\\\");
    cairn_filter_free(f);
    /* bare quoted attribute */
    f = parse_ok(CAIRN_FILTER_RUNS, "`run name` = 'x' AND \"status\" = 'y'");
    assert_string_equal(f->cmp[0].column, "r.name");
    assert_string_equal(f->cmp[1].column, "r.status");
    cairn_filter_free(f);
}

static void test_case_insensitive_keywords(void **state)
{
    (void)state;
    cairn_filter *f =
        parse_ok(CAIRN_FILTER_RUNS, "metrics.a > 1 and params.b like 'x' AnD tags.c iLiKe 'y' aNd "
                                    "run_id NoT In ('r') and run_id in ('s')");
    assert_int_equal(f->n, 5);
    assert_int_equal(f->cmp[1].op, CAIRN_FILTER_LIKE);
    assert_int_equal(f->cmp[2].op, CAIRN_FILTER_ILIKE);
    assert_int_equal(f->cmp[3].op, CAIRN_FILTER_NOT_IN);
    assert_int_equal(f->cmp[4].op, CAIRN_FILTER_IN);
    cairn_filter_free(f);
}

static void test_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double v;
    } reals[] = {
        {"metrics.m = 1", 1},       {"metrics.m = -1", -1},
        {"metrics.m = 1.5", 1.5},   {"metrics.m = -2.5e-3", -2.5e-3},
        {"metrics.m = 1E10", 1e10}, {"metrics.m = .5", 0.5},
        {"metrics.m = +3", 3},      {"metrics.m = 7.", 7},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(reals); i++) {
        cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS, reals[i].text);
        assert_int_equal(f->cmp[0].vtype, CAIRN_FILTER_VREAL);
        assert_true(f->cmp[0].num == reals[i].v);
        cairn_filter_free(f);
    }
    cairn_filter *f = parse_ok(
        CAIRN_FILTER_RUNS, "start_time > 1700000000000 AND end_time <= 1.7e12 AND created = -5");
    assert_int_equal(f->cmp[0].vtype, CAIRN_FILTER_VINT);
    assert_true(f->cmp[0].inum == INT64_C(1700000000000));
    assert_true(f->cmp[1].inum == INT64_C(1700000000000));
    assert_string_equal(f->cmp[2].key, "start_time");
    assert_true(f->cmp[2].inum == -5);
    cairn_filter_free(f);
    expect_error(CAIRN_FILTER_RUNS, "start_time > 1.5", "expected an integer value");
    expect_error(CAIRN_FILTER_RUNS, "start_time > 99999999999999999999", "expected an integer");
    expect_error(CAIRN_FILTER_RUNS, "metrics.m > 1e999", "out of range");
    expect_error(CAIRN_FILTER_RUNS, "metrics.m > 1.2.3", "invalid number '1.2.3'");
    expect_error(CAIRN_FILTER_RUNS, "metrics.m > 12abc", "invalid number");
    expect_error(CAIRN_FILTER_RUNS, "metrics.m > -", "invalid number");
    expect_error(CAIRN_FILTER_RUNS, "metrics.m > 1e", "invalid number");
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        int entity;
        const char *text;
        const char *want;
    } cases[] = {
        {CAIRN_FILTER_RUNS, "params.a = 'x", "unterminated quoted string starting at position 11"},
        {CAIRN_FILTER_RUNS, "metrics.`f1 > 1", "unterminated quoted string"},
        {CAIRN_FILTER_RUNS, "params.a =", "missing value after '='"},
        {CAIRN_FILTER_RUNS, "params.a", "expected a comparison operator after param 'a'"},
        {CAIRN_FILTER_RUNS, "params.a ~ 'x'", "found '~'"},
        {CAIRN_FILTER_RUNS, "params.lr > '1'",
         "invalid comparator '>' for param 'lr' at position 0; only '=', '!=', 'LIKE', "
         "'ILIKE' are supported"},
        {CAIRN_FILTER_RUNS, "tags.t < 'a'", "invalid comparator '<' for tag 't'"},
        {CAIRN_FILTER_RUNS, "metrics.acc LIKE '1'", "invalid comparator 'LIKE' for metric 'acc'"},
        {CAIRN_FILTER_RUNS, "metrics.acc > 'high'",
         "expected a numeric value for metric 'acc' at position 14"},
        {CAIRN_FILTER_RUNS, "params.lr = 0.1", "expected a quoted string value for param 'lr'"},
        {CAIRN_FILTER_RUNS, "params.a = 'x' OR params.b = 'y'",
         "unexpected token 'OR' at position 15: only AND is supported"},
        {CAIRN_FILTER_RUNS, "(params.a = 'x')", "parentheses are not supported"},
        {CAIRN_FILTER_RUNS, "params.a = ('x')", "parentheses are not supported"},
        {CAIRN_FILTER_RUNS, "params.a = 'x' AND (params.b = 'y')", "parentheses"},
        {CAIRN_FILTER_RUNS, "params.a = 'x' AND", "trailing AND at position 15"},
        {CAIRN_FILTER_RUNS, "params.a = 'x' AND  ", "trailing AND"},
        {CAIRN_FILTER_RUNS, "AND params.a = 'x'", "unexpected token 'AND' at position 0"},
        {CAIRN_FILTER_RUNS, "params.a = 'x' params.b = 'y'", "expected AND or end of filter"},
        {CAIRN_FILTER_RUNS, "foo.bar = 'x'", "invalid identifier 'foo.bar' at position 0"},
        {CAIRN_FILTER_RUNS, "metrics. > 1", "missing key after '.'"},
        {CAIRN_FILTER_RUNS, "metrics.`` > 1", "empty key"},
        {CAIRN_FILTER_RUNS, "params.a IN ('x')", "invalid comparator 'IN' for param 'a'"},
        {CAIRN_FILTER_RUNS, "tags.a NOT IN ('x')", "invalid comparator 'NOT IN' for tag 'a'"},
        {CAIRN_FILTER_RUNS, "status IN ('RUNNING')", "invalid comparator 'IN' for attribute"},
        {CAIRN_FILTER_RUNS, "run_id IN ()", "expected a quoted string in the IN list"},
        {CAIRN_FILTER_RUNS, "run_id IN ('a',)", "expected a quoted string in the IN list"},
        {CAIRN_FILTER_RUNS, "run_id IN ('a' 'b')", "expected ',' or ')'"},
        {CAIRN_FILTER_RUNS, "run_id IN ('a'", "expected ',' or ')'"},
        {CAIRN_FILTER_RUNS, "run_id IN 'a'", "expected '(' after IN"},
        {CAIRN_FILTER_RUNS, "run_id IN (1)", "expected a quoted string in the IN list"},
        {CAIRN_FILTER_RUNS, "run_id NOT LIKE 'a'", "only NOT IN is supported"},
        {CAIRN_FILTER_RUNS, "NOT run_id = 'a'", "unexpected token 'NOT'"},
        {CAIRN_FILTER_RUNS, "params.a = x", "expected a quoted string or a number at position 11"},
        {CAIRN_FILTER_RUNS, "params.a = `x`", "expected a quoted string or a number"},
        {CAIRN_FILTER_RUNS, "nope = 'x'", "invalid attribute key 'nope'"},
        {CAIRN_FILTER_RUNS, "datasets.size = 'x'", "invalid dataset key 'size'"},
        {CAIRN_FILTER_RUNS, "start_time = 'yesterday'", "expected a numeric value for attribute"},
        {CAIRN_FILTER_RUNS, "start_time LIKE '1'", "invalid comparator 'LIKE' for attribute"},
        {CAIRN_FILTER_RUNS, "status = 5", "expected a quoted string value for attribute"},
        {CAIRN_FILTER_RUNS, "params.p LIKE 'a\\'", "unterminated"},
        {CAIRN_FILTER_RUNS, "params.p LIKE 'a\\\\\\'", "unterminated"},
        {CAIRN_FILTER_RUNS, "params.p LIKE \"x\\\"", "unterminated"},
        {CAIRN_FILTER_RUNS, "params.p = 'x' ; DROP TABLE runs", "unexpected token ';'"},
        {CAIRN_FILTER_RUNS, "= 'x'", "expected an identifier"},
        {CAIRN_FILTER_RUNS, "1 = 1", "expected an identifier"},
        {CAIRN_FILTER_EXPERIMENTS, "metrics.a > 1", "experiments cannot be filtered by metric"},
        {CAIRN_FILTER_EXPERIMENTS, "params.a = 'x'", "cannot be filtered by param"},
        {CAIRN_FILTER_EXPERIMENTS, "status = 'x'", "invalid attribute key 'status'"},
        {CAIRN_FILTER_EXPERIMENTS, "experiment_id = 1", "invalid attribute key 'experiment_id'"},
        {CAIRN_FILTER_EXPERIMENTS, "creation_time LIKE '1'", "invalid comparator 'LIKE'"},
        {CAIRN_FILTER_REGISTERED_MODELS, "datasets.name = 'x'", "cannot be filtered by dataset"},
        {CAIRN_FILTER_REGISTERED_MODELS, "name > 'x'",
         "invalid comparator '>' for attribute 'name'"},
        {CAIRN_FILTER_REGISTERED_MODELS, "name IN ('x')", "invalid comparator 'IN'"},
        {CAIRN_FILTER_MODEL_VERSIONS, "version_number LIKE '1'", "invalid comparator 'LIKE'"},
        {CAIRN_FILTER_MODEL_VERSIONS, "version_number = '1'", "expected a numeric value"},
        {CAIRN_FILTER_MODEL_VERSIONS, "run_id LIKE 'a%'",
         "only '=', '!=', 'IN', 'NOT IN' are supported"},
        {CAIRN_FILTER_MODEL_VERSIONS, "tags.a > 'x'", "invalid comparator '>' for tag"},
        {CAIRN_FILTER_MODEL_VERSIONS, "creation_timestamp > 1", "invalid attribute key"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++)
        expect_error(cases[i].entity, cases[i].text, cases[i].want);
    cairn_filter *f = NULL;
    assert_int_equal(cairn_filter_parse(&f, 99, "params.a = 'x'"), CAIRN_EINVALID);
    assert_null(f);
}

static void test_limits(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    /* a huge filter */
    assert_int_equal(cairn_buf_puts(&b, "params.a = '"), 0);
    for (int i = 0; i < 9000; i++)
        assert_int_equal(cairn_buf_putc(&b, 'x'), 0);
    assert_int_equal(cairn_buf_putc(&b, '\''), 0);
    expect_error(CAIRN_FILTER_RUNS, cairn_buf_cstr(&b), "longer than 8192 characters");
    cairn_buf_reset(&b);

    /* 64 comparisons pass, 65 do not */
    for (int i = 0; i < 64; i++)
        assert_int_equal(cairn_buf_printf(&b, "%sparams.p%d = 'v'", i ? " AND " : "", i), 0);
    cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS, cairn_buf_cstr(&b));
    assert_int_equal(f->n, 64);
    assert_int_equal(cairn_filter_nparams(f), 128);
    cairn_filter_free(f);
    assert_int_equal(cairn_buf_puts(&b, " AND params.last = 'v'"), 0);
    expect_error(CAIRN_FILTER_RUNS, cairn_buf_cstr(&b), "more than 64 comparisons");
    cairn_buf_reset(&b);

    /* 1000 list values pass, 1001 do not */
    assert_int_equal(cairn_buf_puts(&b, "run_id IN ("), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cairn_buf_printf(&b, "%s'%d'", i ? "," : "", i % 10), 0);
    assert_int_equal(cairn_buf_puts(&b, ")"), 0);
    f = parse_ok(CAIRN_FILTER_RUNS, cairn_buf_cstr(&b));
    assert_int_equal(f->cmp[0].nlist, 1000);
    cairn_filter_free(f);
    b.len -= 1;
    assert_int_equal(cairn_buf_puts(&b, ",'x')"), 0);
    expect_error(CAIRN_FILTER_RUNS, cairn_buf_cstr(&b), "more than 1000 values");
    cairn_buf_free(&b);
}

static void test_other_entities_parse(void **state)
{
    (void)state;
    cairn_filter *f = parse_ok(CAIRN_FILTER_EXPERIMENTS,
                               "name ILIKE '%exp%' AND creation_time > 5 AND "
                               "attributes.last_update_time <= 10 AND tags.owner = 'me'");
    assert_int_equal(f->n, 4);
    assert_string_equal(f->cmp[0].column, "e.name");
    assert_int_equal(f->cmp[1].vtype, CAIRN_FILTER_VINT);
    assert_string_equal(f->cmp[2].column, "e.last_update_time");
    assert_int_equal(f->cmp[3].kind, CAIRN_FILTER_TAG);
    cairn_filter_free(f);

    f = parse_ok(CAIRN_FILTER_REGISTERED_MODELS, "name LIKE 'm%' AND tags.`stage x` != 'dev'");
    assert_string_equal(f->cmp[0].column, "rm.name");
    assert_string_equal(f->cmp[1].key, "stage x");
    cairn_filter_free(f);

    f = parse_ok(CAIRN_FILTER_MODEL_VERSIONS,
                 "name = 'm' AND version_number >= 2 AND run_id IN ('a','b') AND "
                 "source_path ILIKE 's3://%' AND tags.t = 'v' AND run_id != 'c'");
    assert_int_equal(f->n, 6);
    assert_string_equal(f->cmp[1].column, "mv.version");
    assert_true(f->cmp[1].inum == 2);
    assert_string_equal(f->cmp[2].column, "mv.run_id");
    assert_string_equal(f->cmp[3].column, "mv.source");
    cairn_filter_free(f);
}

/* --------------------------------------------------------------- SQL */

static void test_sql_text(void **state)
{
    (void)state;
    expect_sql(CAIRN_FILTER_RUNS, "metrics.acc > 0.9",
               " AND EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = "
               "? AND m.is_nan = 0 AND m.value > ?)",
               2);
    expect_sql(CAIRN_FILTER_RUNS, "params.lr ILIKE 'A%'",
               " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = ? AND "
               "lower(p.value) LIKE lower(?) ESCAPE '\\')",
               2);
    expect_sql(CAIRN_FILTER_RUNS, "tags.t LIKE 'a%'",
               " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ? AND "
               "t.value LIKE ? ESCAPE '\\')",
               2);
    expect_sql(CAIRN_FILTER_RUNS, "run_id NOT IN ('a', 'b', 'c') AND created >= 10",
               " AND r.run_uuid NOT IN (?, ?, ?) AND r.start_time >= ?", 4);
    expect_sql(CAIRN_FILTER_RUNS, "datasets.digest = 'd'",
               " AND EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = "
               "ri.dataset_id WHERE ri.run_id = r.run_id AND d.digest = ?)",
               1);
    expect_sql(CAIRN_FILTER_RUNS, "datasets.context IN ('train')",
               " AND EXISTS (SELECT 1 FROM run_inputs ri JOIN input_tags it ON it.run_id = "
               "ri.run_id AND it.dataset_id = ri.dataset_id WHERE ri.run_id = r.run_id AND it.key "
               "= 'mlflow.data.context' AND it.value IN (?))",
               1);
    expect_sql(CAIRN_FILTER_EXPERIMENTS, "tags.o = 'x' AND name != 'y'",
               " AND EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = "
               "e.experiment_id AND t.key = ? AND t.value = ?) AND e.name != ?",
               3);
    expect_sql(CAIRN_FILTER_REGISTERED_MODELS, "tags.o = 'x'",
               " AND EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = rm.name AND "
               "t.key = ? AND t.value = ?)",
               2);
    expect_sql(CAIRN_FILTER_MODEL_VERSIONS, "tags.o = 'x' AND version_number < 3",
               " AND EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = mv.name AND "
               "t.version = mv.version AND t.key = ? AND t.value = ?) AND mv.version < ?",
               3);

    /* parameters, appended after the caller's own */
    cairn_filter *f = parse_ok(CAIRN_FILTER_RUNS,
                               "metrics.`f 1` <= -2.5 AND run_id IN ('x','y') AND end_time > 7");
    cairn_value params[8];
    cairn_buf sql = CAIRN_BUF_INIT(0);
    int np = 1;
    params[0] = CAIRN_VINT(42);
    assert_int_equal(cairn_filter_to_sql(f, &sql, params, 8, &np), 0);
    assert_int_equal(np, 6);
    assert_int_equal(params[0].type, CAIRN_V_INT);
    assert_text(&params[1], "f 1");
    assert_int_equal(params[2].type, CAIRN_V_REAL);
    assert_true(params[2].u.d == -2.5);
    assert_text(&params[3], "x");
    assert_text(&params[4], "y");
    assert_int_equal(params[5].type, CAIRN_V_INT);
    assert_true(params[5].u.i == 7);
    cairn_buf_free(&sql);

    /* too few parameter slots */
    np = 0;
    assert_int_equal(cairn_filter_to_sql(f, &sql, params, 3, &np), CAIRN_ETOOBIG);
    cairn_buf_free(&sql);
    /* a bounded sql buffer */
    cairn_buf small = CAIRN_BUF_INIT(20);
    np = 0;
    assert_int_equal(cairn_filter_to_sql(f, &small, params, 8, &np), CAIRN_ETOOBIG);
    cairn_buf_free(&small);
    cairn_filter_free(f);
}

/* ------------------------------------------------------------ order_by */

static void test_order_parse(void **state)
{
    (void)state;
    const char *items[] = {"metrics.`f1 score` DESC", "params.lr", "attributes.start_time ASC",
                           "tags.\"a.b\" desc",       "end_time",  "`run name`"};
    cairn_order *o = NULL;
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_RUNS, items, 6), 0);
    assert_int_equal(o->n, 6);
    assert_int_equal(o->items[0].kind, CAIRN_FILTER_METRIC);
    assert_string_equal(o->items[0].key, "f1 score");
    assert_int_equal(o->items[0].desc, 1);
    assert_int_equal(o->items[1].kind, CAIRN_FILTER_PARAM);
    assert_int_equal(o->items[1].desc, 0);
    assert_string_equal(o->items[2].column, "r.start_time");
    assert_string_equal(o->items[3].key, "a.b");
    assert_int_equal(o->items[3].desc, 1);
    assert_int_equal(o->items[4].nullable, 1);
    assert_string_equal(o->items[5].key, "run_name");
    assert_int_equal(cairn_order_nparams(o), 3);

    cairn_buf joins = CAIRN_BUF_INIT(0), ob = CAIRN_BUF_INIT(0);
    cairn_value params[4];
    int np = 0;
    assert_int_equal(cairn_order_to_sql(o, &joins, &ob, params, 4, &np), 0);
    assert_int_equal(np, 3);
    assert_text(&params[0], "f1 score");
    assert_text(&params[1], "lr");
    assert_text(&params[2], "a.b");
    assert_string_equal(cairn_buf_cstr(&joins),
                        " LEFT JOIN latest_metrics o0 ON o0.run_id = r.run_id AND o0.key = ?"
                        " LEFT JOIN params o1 ON o1.run_id = r.run_id AND o1.key = ?"
                        " LEFT JOIN tags o3 ON o3.run_id = r.run_id AND o3.key = ?");
    assert_string_equal(cairn_buf_cstr(&ob),
                        "(o0.value IS NULL) ASC, o0.is_nan ASC, o0.value DESC, "
                        "(o1.value IS NULL) ASC, o1.value ASC, r.start_time ASC, "
                        "(o3.value IS NULL) ASC, o3.value DESC, "
                        "(r.end_time IS NULL) ASC, r.end_time ASC, r.name ASC, "
                        "r.start_time DESC, r.run_id ASC");
    cairn_buf_free(&joins);
    cairn_buf_free(&ob);
    cairn_order_free(o);

    /* defaults per search */
    static const char *const defaults[] = {"r.start_time DESC, r.run_id ASC",
                                           "e.creation_time DESC, e.experiment_id ASC",
                                           "rm.name ASC", "mv.name ASC, mv.version DESC"};
    for (int e = 0; e < CAIRN_FILTER__NENTITY; e++) {
        assert_int_equal(cairn_order_parse(&o, e, NULL, 0), 0);
        np = 0;
        assert_int_equal(cairn_order_to_sql(o, &joins, &ob, params, 4, &np), 0);
        assert_string_equal(cairn_buf_cstr(&ob), defaults[e]);
        assert_int_equal(joins.len, 0);
        assert_int_equal(np, 0);
        cairn_buf_free(&ob);
        cairn_buf_free(&joins);
        cairn_order_free(o);
    }

    /* registry and experiment keys */
    const char *rm_items[] = {"last_updated_timestamp DESC", "name"};
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_REGISTERED_MODELS, rm_items, 2), 0);
    assert_int_equal(cairn_order_to_sql(o, &joins, &ob, params, 4, &np), 0);
    assert_string_equal(cairn_buf_cstr(&ob), "rm.last_updated_time DESC, rm.name ASC, rm.name ASC");
    cairn_buf_free(&ob);
    cairn_order_free(o);
    const char *mv_items[] = {"version_number DESC", "creation_timestamp"};
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_MODEL_VERSIONS, mv_items, 2), 0);
    assert_string_equal(o->items[0].column, "mv.version");
    assert_string_equal(o->items[1].column, "mv.creation_time");
    cairn_order_free(o);
    const char *e_items[] = {"experiment_id", "attributes.name DESC", "last_update_time"};
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_EXPERIMENTS, e_items, 3), 0);
    cairn_order_free(o);
}

static void expect_order_error(int entity, const char *item, const char *want)
{
    cairn_order *o = (cairn_order *)1;
    const char *items[] = {item};
    assert_int_equal(cairn_order_parse(&o, entity, items, 1), CAIRN_EINVALID);
    assert_null(o);
    if (!strstr(cairn_error_last()->msg, want))
        fail_msg("order_by \"%s\": message \"%s\" lacks \"%s\"", item ? item : "(null)",
                 cairn_error_last()->msg, want);
}

static void test_order_errors(void **state)
{
    (void)state;
    expect_order_error(CAIRN_FILTER_RUNS, "attributes.bogus", "invalid attribute key 'bogus'");
    expect_order_error(CAIRN_FILTER_RUNS, "metrics.a UP", "expected ASC, DESC or the end");
    expect_order_error(CAIRN_FILTER_RUNS, "metrics.a DESC ASC", "unexpected token 'ASC'");
    expect_order_error(CAIRN_FILTER_RUNS, "", "empty order_by item");
    expect_order_error(CAIRN_FILTER_RUNS, NULL, "empty order_by item");
    expect_order_error(CAIRN_FILTER_RUNS, "datasets.name", "runs cannot be ordered by dataset");
    expect_order_error(CAIRN_FILTER_RUNS, "foo.bar", "unknown entity type 'foo'");
    expect_order_error(CAIRN_FILTER_RUNS, "metrics.`a", "unterminated");
    expect_order_error(CAIRN_FILTER_EXPERIMENTS, "tags.a", "experiments cannot be ordered by tag");
    expect_order_error(CAIRN_FILTER_MODEL_VERSIONS, "run_id", "invalid attribute key 'run_id'");
    expect_order_error(CAIRN_FILTER_REGISTERED_MODELS, "metrics.a", "cannot be ordered by metric");

    const char *many[11];
    for (int i = 0; i < 11; i++)
        many[i] = "params.a";
    cairn_order *o = NULL;
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_RUNS, many, 10), 0);
    cairn_order_free(o);
    assert_int_equal(cairn_order_parse(&o, CAIRN_FILTER_RUNS, many, 11), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "at most 10"));
}

/* ---------------------------------------------------------- page tokens */

static void test_page_token(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_page_token_encode(100, &b), 0);
    assert_string_equal(cairn_buf_cstr(&b), "eyJvZmZzZXQiOiAxMDB9"); /* MLflow's exact bytes */
    int64_t off = -1;
    assert_int_equal(cairn_page_token_decode(cairn_buf_cstr(&b), &off), 0);
    assert_true(off == 100);
    const int64_t samples[] = {0, 1, 999, INT64_C(123456789012345), INT64_MAX};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(samples); i++) {
        cairn_buf_reset(&b);
        assert_int_equal(cairn_page_token_encode(samples[i], &b), 0);
        assert_int_equal(cairn_page_token_decode(cairn_buf_cstr(&b), &off), 0);
        assert_true(off == samples[i]);
    }
    assert_int_equal(cairn_page_token_encode(-1, &b), CAIRN_EINVALID);
    cairn_buf_free(&b);
    /* compact JSON from another writer decodes too; empty means first page */
    assert_int_equal(cairn_page_token_decode("eyJvZmZzZXQiOjd9", &off), 0);
    assert_true(off == 7);
    assert_int_equal(cairn_page_token_decode("", &off), 0);
    assert_true(off == 0);
    assert_int_equal(cairn_page_token_decode(NULL, &off), 0);

    static const struct {
        const char *tok;
        const char *want;
    } bad[] = {
        {"!!!", "not base64"},
        {"bm90IGpzb24=", "not a json object"},            /* not json */
        {"WzFd", "not a json object"},                    /* [1] */
        {"eyJvZmZzZXQiOiAtMX0=", "non-negative integer"}, /* offset -1 */
        {"eyJmb28iOiAxfQ==", "non-negative integer"},     /* no offset */
        {"eyJvZmZzZXQiOiAiNSJ9", "non-negative integer"}, /* "5" */
        {"eyJvZmZzZXQiOiAxLjV9", "non-negative integer"}, /* 1.5 */
        {"=", "not a json object"},
        {"eyJvZmZz=ZXQ", "not base64"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
        assert_int_equal(cairn_page_token_decode(bad[i].tok, &off), CAIRN_EINVALID);
        assert_non_null(strstr(cairn_error_last()->msg, "invalid page token"));
        if (!strstr(cairn_error_last()->msg, bad[i].want))
            fail_msg("token %s: \"%s\"", bad[i].tok, cairn_error_last()->msg);
    }
    char *huge = cairn_malloc(4001);
    memset(huge, 'A', 4000);
    huge[4000] = '\0';
    assert_int_equal(cairn_page_token_decode(huge, &off), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "longer than"));
    cairn_free(huge);
}

/* ------------------------------------------------- executed in SQLite */

static const char *fixture_sql =
    "INSERT INTO experiments VALUES (1, 'exp-a', 'file:///a', 'active', 100, 150),"
    " (2, 'Exp-B', 'file:///b', 'active', 200, 300), (3, 'other', 'file:///c', 'active', 50, 60);"
    "INSERT INTO experiment_tags VALUES (1, 'owner', 'alice'), (2, 'owner', 'bob');"
    "INSERT INTO runs (run_id, run_uuid, experiment_id, name, user_id, status, start_time,"
    " end_time, artifact_uri) VALUES"
    " (1, 'aaaa1', 1, 'alpha', 'alice', 'FINISHED', 1000, 2000, 'file:///a/1'),"
    " (2, 'bbbb2', 1, 'beta', 'bob', 'RUNNING', 2000, NULL, 's3://b/2'),"
    " (3, 'cccc3', 1, 'gamma run', 'alice', 'FAILED', 3000, 3500, 'file:///a/3'),"
    " (4, 'dddd4', 2, 'delta', 'alice', 'FINISHED', 4000, 4500, 'file:///b/4'),"
    " (5, 'eeee5', 1, 'a_b', 'carol', 'FINISHED', 500, 600, 'file:///a/5');"
    "INSERT INTO params VALUES (1, 'lr', '0.1'), (1, 'model', 'xgb'), (2, 'lr', '0.01'),"
    " (2, 'model', 'XGB'), (3, 'lr', '0.1'), (3, 'batch size', '32'), (4, 'lr', '0.1');"
    "INSERT INTO latest_metrics VALUES (1, 'acc', 0.9, 1, 0, 0), (1, 'f1 score', 0.8, 1, 0, 0),"
    " (1, 'loss', 0.3, 1, 0, 0), (2, 'acc', 0.95, 1, 0, 0), (2, 'loss', 0, 1, 0, 1),"
    " (3, 'acc', 0.7, 1, 0, 0), (3, 'val.loss', 0.5, 1, 0, 0), (4, 'acc', 0.99, 1, 0, 0);"
    "INSERT INTO tags VALUES (1, 'mlflow.user', 'alice'), (1, 'team', 'ml'), (2, 'team', 'ML'),"
    " (3, 'mlflow.runName', 'gamma run');"
    "INSERT INTO datasets VALUES (1, 1, 'train', 'abc123', 'local', 'x', NULL, NULL),"
    " (2, 1, 'eval', 'def456', 'local', 'y', NULL, NULL);"
    "INSERT INTO run_inputs VALUES (1, 1), (2, 1), (2, 2);"
    "INSERT INTO input_tags VALUES (1, 1, 'mlflow.data.context', 'training'),"
    " (2, 2, 'mlflow.data.context', 'evaluation'), (2, 1, 'context', 'training');"
    "INSERT INTO registered_models VALUES ('alpha-model', 10, 20, '', ''),"
    " ('beta-model', 30, 40, '', ''), ('Gamma-model', 5, 50, '', '');"
    "INSERT INTO registered_model_tags VALUES ('beta-model', 'stage', 'prod'),"
    " ('alpha-model', 'stage', 'dev');"
    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, source, run_id)"
    " VALUES ('alpha-model', 1, 10, 11, 's3://b/1', 'aaaa1'),"
    " ('alpha-model', 2, 20, 21, 's3://b/2', 'bbbb2'),"
    " ('beta-model', 1, 30, 31, 'file:/x', 'cccc3');"
    "INSERT INTO model_version_tags VALUES ('alpha-model', 2, 'validation', 'passed');";

/* Executes every migration (sorted) from $CAIRN_SOURCE_DIR/src/store/migrations. */
static void load_migrations(sqlite3 *db)
{
    const char *src = getenv("CAIRN_SOURCE_DIR");
#ifdef CAIRN_SOURCE_DIR
    if (!src) src = CAIRN_SOURCE_DIR;
#endif
    if (!src) fail_msg("CAIRN_SOURCE_DIR is not set");
    char pattern[1024];
    snprintf(pattern, sizeof(pattern), "%s/src/store/migrations/*.sql", src);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 2);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        cairn_buf text = CAIRN_BUF_INIT(1 << 20);
        assert_int_equal(cairn_read_file(g.gl_pathv[i], &text), 0);
        char *err = NULL;
        if (sqlite3_exec(db, cairn_buf_cstr(&text), NULL, NULL, &err) != SQLITE_OK)
            fail_msg("%s: %s", g.gl_pathv[i], err);
        cairn_buf_free(&text);
    }
    globfree(&g);
}

static int db_setup(void **state)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return -1;
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA case_sensitive_like=ON", NULL, NULL, &err) != SQLITE_OK) return -1;
    load_migrations(db);
    if (sqlite3_exec(db, fixture_sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fixture: %s\n", err);
        sqlite3_free(err);
        return -1;
    }
    *state = db;
    return 0;
}

static int db_teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

/* Runs a search for `entity` (runs: in experiment 1) with the filter and
 * order_by, and returns the comma-joined first column (cairn_free it). */
static char *search(sqlite3 *db, int entity, const char *filter, const char *const *order,
                    int norder)
{
    static const char *const select[] = {
        "SELECT r.run_uuid FROM runs r", "SELECT e.name FROM experiments e",
        "SELECT rm.name FROM registered_models rm",
        "SELECT mv.name || '/' || mv.version FROM model_versions mv"};
    cairn_filter *f = parse_ok(entity, filter);
    cairn_order *o = NULL;
    if (cairn_order_parse(&o, entity, order, norder))
        fail_msg("order_by: %s", cairn_error_last()->msg);
    int want = cairn_filter_nparams(f) + cairn_order_nparams(o) + (entity == CAIRN_FILTER_RUNS);
    int cap = want + 1, np = 0;
    cairn_value *params = cairn_calloc((size_t)cap, sizeof(*params));
    cairn_buf sql = CAIRN_BUF_INIT(0), joins = CAIRN_BUF_INIT(0), ob = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_order_to_sql(o, &joins, &ob, params, cap, &np), 0);
    cairn_buf_puts(&sql, select[entity]);
    cairn_buf_puts(&sql, cairn_buf_cstr(&joins));
    if (entity == CAIRN_FILTER_RUNS) {
        cairn_buf_puts(&sql, " WHERE r.experiment_id = ?");
        params[np++] = CAIRN_VINT(1);
    } else {
        cairn_buf_puts(&sql, " WHERE 1 = 1");
    }
    assert_int_equal(cairn_filter_to_sql(f, &sql, params, cap, &np), 0);
    assert_int_equal(np, want);
    cairn_buf_printf(&sql, " ORDER BY %s", cairn_buf_cstr(&ob));

    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, cairn_buf_cstr(&sql), -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare: %s\n%s", sqlite3_errmsg(db), cairn_buf_cstr(&sql));
    assert_int_equal(sqlite3_bind_parameter_count(st), np);
    for (int i = 0; i < np; i++) {
        const cairn_value *v = &params[i];
        int rc = v->type == CAIRN_V_INT ? sqlite3_bind_int64(st, i + 1, v->u.i)
                 : v->type == CAIRN_V_REAL
                     ? sqlite3_bind_double(st, i + 1, v->u.d)
                     : sqlite3_bind_text(st, i + 1, v->u.s.ptr, (int)v->u.s.len, SQLITE_STATIC);
        assert_int_equal(rc, SQLITE_OK);
    }
    cairn_buf out = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&out, "");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cairn_buf_printf(&out, "%s%s", out.len ? "," : "",
                         (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE) fail_msg("step: %s\n%s", sqlite3_errmsg(db), cairn_buf_cstr(&sql));
    sqlite3_finalize(st);
    cairn_buf_free(&sql);
    cairn_buf_free(&joins);
    cairn_buf_free(&ob);
    cairn_free(params);
    cairn_order_free(o);
    cairn_filter_free(f);
    return cairn_buf_detach(&out, NULL);
}

static void expect_rows(sqlite3 *db, int entity, const char *filter, const char *order,
                        const char *want)
{
    const char *items[1] = {order};
    char *got = search(db, entity, filter, items, order ? 1 : 0);
    if (strcmp(got, want) != 0)
        fail_msg("filter \"%s\" order \"%s\": got \"%s\", want \"%s\"", filter ? filter : "",
                 order ? order : "", got, want);
    cairn_free(got);
}

static void test_sqlite_runs(void **state)
{
    sqlite3 *db = *state;
    static const struct {
        const char *filter, *want;
    } cases[] = {
        {"", "cccc3,bbbb2,aaaa1,eeee5"},
        {"metrics.acc > 0.8", "bbbb2,aaaa1"},
        {"metrics.acc >= 0.9 AND params.lr = '0.1'", "aaaa1"},
        {"metrics.loss < 1", "aaaa1"}, /* NaN and missing never match */
        {"metrics.loss != 5", "aaaa1"},
        {"metrics.`f1 score` = 0.8", "aaaa1"},
        {"metrics.\"val.loss\" <= 0.5", "cccc3"},
        {"metrics.acc <> 0.7", "bbbb2,aaaa1"},
        {"params.model LIKE 'x%'", "aaaa1"}, /* LIKE is case-sensitive */
        {"params.model ILIKE 'X%'", "bbbb2,aaaa1"},
        {"params.lr != '0.1'", "bbbb2"}, /* runs lacking lr don't match */
        {"params.`batch size` = '32'", "cccc3"},
        {"tags.team = 'ml'", "aaaa1"},
        {"tags.team ILIKE 'ML'", "bbbb2,aaaa1"},
        {"tags.\"mlflow.runName\" LIKE '%run'", "cccc3"},
        {"tags.mlflow.user = 'alice'", "aaaa1"},
        {"attributes.status = 'FINISHED'", "aaaa1,eeee5"},
        {"status != 'RUNNING'", "cccc3,aaaa1,eeee5"},
        {"run_name = 'gamma run'", "cccc3"},
        {"attributes.`run name` LIKE 'g%'", "cccc3"},
        {"run_name LIKE '_eta'", "bbbb2"},
        {"run_name LIKE 'a\\_b'", "eeee5"}, /* escaped wildcard */
        {"run_name LIKE 'a_b'", "eeee5"},
        {"run_id IN ('aaaa1', 'cccc3', 'dddd4')", "cccc3,aaaa1"},
        {"run_id NOT IN ('aaaa1', 'cccc3')", "bbbb2,eeee5"},
        {"run_id LIKE 'a%'", "aaaa1"},
        {"attributes.run_id = 'dddd4'", ""}, /* another experiment */
        {"user_id ILIKE 'ALICE'", "cccc3,aaaa1"},
        {"start_time >= 2000", "cccc3,bbbb2"},
        {"created < 2000", "aaaa1,eeee5"},
        {"end_time > 0", "cccc3,aaaa1,eeee5"}, /* NULL end_time never matches */
        {"artifact_uri LIKE 'file:///a/%' AND user_id = 'alice'", "cccc3,aaaa1"},
        {"datasets.name = 'train'", "bbbb2,aaaa1"},
        {"dataset.digest IN ('def456')", "bbbb2"},
        {"datasets.context = 'training'", "aaaa1"},
        {"datasets.context ILIKE 'EVAL%'", "bbbb2"},
        {"datasets.name NOT IN ('train')", "bbbb2"},
        {"datasets.name != 'eval'", "bbbb2,aaaa1"},
        {"metrics.acc > 0.8 and params.model ilike 'X%' AND tags.team LIKE 'm%'", "aaaa1"},
        {"params.lr = '0.1' AND params.lr = '0.01'", ""},
        {"params.p = 'x'' OR ''1''=''1'", ""}, /* quotes stay data */
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++)
        expect_rows(db, CAIRN_FILTER_RUNS, cases[i].filter, NULL, cases[i].want);

    static const struct {
        const char *order, *want;
    } orders[] = {
        {"metrics.acc DESC", "bbbb2,aaaa1,cccc3,eeee5"},
        {"metrics.acc", "cccc3,aaaa1,bbbb2,eeee5"},
        {"metrics.loss ASC", "aaaa1,bbbb2,cccc3,eeee5"}, /* numbers, NaN, missing */
        {"metrics.loss DESC", "aaaa1,bbbb2,cccc3,eeee5"},
        {"params.lr", "bbbb2,cccc3,aaaa1,eeee5"}, /* ties by start_time DESC */
        {"tags.team DESC", "aaaa1,bbbb2,cccc3,eeee5"},
        {"attributes.end_time ASC", "eeee5,aaaa1,cccc3,bbbb2"},
        {"end_time DESC", "cccc3,aaaa1,eeee5,bbbb2"},
        {"run_name", "eeee5,aaaa1,bbbb2,cccc3"},
        {"start_time", "eeee5,aaaa1,bbbb2,cccc3"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(orders); i++)
        expect_rows(db, CAIRN_FILTER_RUNS, "", orders[i].order, orders[i].want);
    expect_rows(db, CAIRN_FILTER_RUNS, "metrics.acc > 0.8", "metrics.acc ASC", "aaaa1,bbbb2");

    const char *two[] = {"params.lr DESC", "metrics.acc ASC"};
    char *got = search(db, CAIRN_FILTER_RUNS, "status != 'x'", two, 2);
    assert_string_equal(got, "cccc3,aaaa1,bbbb2,eeee5");
    cairn_free(got);
}

static void test_sqlite_experiments(void **state)
{
    sqlite3 *db = *state;
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "", NULL, "Exp-B,exp-a,other");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "name LIKE 'exp%'", NULL, "exp-a");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "name ILIKE 'exp%'", NULL, "Exp-B,exp-a");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "creation_time > 60 AND tags.owner = 'alice'", NULL,
                "exp-a");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "attributes.last_update_time <= 150", NULL,
                "exp-a,other");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "tags.owner != 'alice'", NULL, "Exp-B");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "", "name ASC", "Exp-B,exp-a,other");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "", "last_update_time DESC", "Exp-B,exp-a,other");
    expect_rows(db, CAIRN_FILTER_EXPERIMENTS, "", "experiment_id", "exp-a,Exp-B,other");
}

static void test_sqlite_registry(void **state)
{
    sqlite3 *db = *state;
    int rm = CAIRN_FILTER_REGISTERED_MODELS, mv = CAIRN_FILTER_MODEL_VERSIONS;
    expect_rows(db, rm, "", NULL, "Gamma-model,alpha-model,beta-model");
    expect_rows(db, rm, "name = 'alpha-model'", NULL, "alpha-model");
    expect_rows(db, rm, "name ILIKE '%MODEL' AND name != 'beta-model'", NULL,
                "Gamma-model,alpha-model");
    expect_rows(db, rm, "tags.stage != 'dev'", NULL, "beta-model");
    expect_rows(db, rm, "tags.stage LIKE 'pro_'", NULL, "beta-model");
    expect_rows(db, rm, "", "creation_timestamp DESC", "beta-model,alpha-model,Gamma-model");

    expect_rows(db, mv, "", NULL, "alpha-model/2,alpha-model/1,beta-model/1");
    expect_rows(db, mv, "version_number > 1", NULL, "alpha-model/2");
    expect_rows(db, mv, "run_id IN ('aaaa1','cccc3')", NULL, "alpha-model/1,beta-model/1");
    expect_rows(db, mv, "run_id NOT IN ('aaaa1')", NULL, "alpha-model/2,beta-model/1");
    expect_rows(db, mv, "run_id = 'bbbb2'", NULL, "alpha-model/2");
    expect_rows(db, mv, "source_path LIKE 's3://%'", NULL, "alpha-model/2,alpha-model/1");
    expect_rows(db, mv, "tags.validation = 'passed'", NULL, "alpha-model/2");
    expect_rows(db, mv, "name = 'alpha-model' AND version_number = 1", NULL, "alpha-model/1");
    expect_rows(db, mv, "", "version_number ASC", "alpha-model/1,beta-model/1,alpha-model/2");
    expect_rows(db, mv, "", "last_updated_timestamp DESC",
                "beta-model/1,alpha-model/2,alpha-model/1");
}

int main(void)
{
    const struct CMUnitTest parse_tests[] = {
        cmocka_unit_test(test_parse_all_kinds),
        cmocka_unit_test(test_empty_filter),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_quoted_keys_and_values),
        cmocka_unit_test(test_case_insensitive_keywords),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_other_entities_parse),
        cmocka_unit_test(test_sql_text),
        cmocka_unit_test(test_order_parse),
        cmocka_unit_test(test_order_errors),
        cmocka_unit_test(test_page_token),
    };
    const struct CMUnitTest db_tests[] = {
        cmocka_unit_test(test_sqlite_runs),
        cmocka_unit_test(test_sqlite_experiments),
        cmocka_unit_test(test_sqlite_registry),
    };
    int fails = cmocka_run_group_tests_name("filter", parse_tests, NULL, NULL);
    fails += cmocka_run_group_tests_name("filter_sqlite", db_tests, db_setup, db_teardown);
    return fails;
}
