/*
 * track_fastbatch_test.c - the raw-bytes log-batch decoder against the
 * jansson path it short-cuts. Every body is decoded both ways: whenever the
 * fast decoder answers 0, json_loadb(JSON_REJECT_DUPLICATES) +
 * cairn_track__decode_batch must succeed too and give the same batch
 * (strings, values bitwise, timestamps, steps); otherwise it must answer
 * CAIRN_EUNSUPPORTED. Fixed bodies cover the subset and each way out of it,
 * every prefix and many one-byte mutations of valid bodies are replayed, and
 * a seeded property test (seed printed; CAIRN_TEST_SEED replays one) checks
 * that random in-subset bodies really take the fast path and agree.
 * Bodies are handed over in exact-size heap copies, freed before the result
 * is read, so ASan catches both over-reads and strings not copied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cairn/buf.h"
#include "cairn/core.h"
#include "track/track_fastbatch.h"

/* ------------------------------------------------------------- helpers */

struct arena {
    void **blocks;
    size_t n, cap;
    size_t calls, bytes;
};

static void *arena_alloc(void *ctx, size_t n)
{
    struct arena *ar = ctx;
    if (ar->n == ar->cap) {
        ar->cap = ar->cap ? ar->cap * 2 : 64;
        ar->blocks = cairn_realloc(ar->blocks, ar->cap * sizeof(void *));
    }
    void *p = cairn_malloc(n ? n : 1);
    ar->blocks[ar->n++] = p;
    ar->calls++;
    ar->bytes += n;
    return p;
}

static void arena_free(struct arena *ar)
{
    for (size_t i = 0; i < ar->n; i++)
        cairn_free(ar->blocks[i]);
    cairn_free(ar->blocks);
    memset(ar, 0, sizeof(*ar));
}

struct dec {
    struct arena ar;
    cairn_track_batch b;
    int rc;
};

static void dec_free(struct dec *d)
{
    arena_free(&d->ar);
}

/* The fast decoder on an exact-size copy of the body, freed afterwards. */
static int run_fast(const char *body, size_t len, struct dec *d)
{
    memset(d, 0, sizeof(*d));
    char *copy = cairn_malloc(len ? len : 1);
    memcpy(copy, body, len);
    track_alloc a = {arena_alloc, &d->ar};
    d->rc = cairn_track__fast_batch(copy, len, &a, &d->b);
    cairn_free(copy);
    return d->rc;
}

#define PARSE_FAILED (-1000)

/* The slow path as the server runs it: json_loadb, then decode_batch. */
static int run_slow(const char *body, size_t len, struct dec *d)
{
    memset(d, 0, sizeof(*d));
    json_error_t err;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!v) return d->rc = PARSE_FAILED;
    track_alloc a = {arena_alloc, &d->ar};
    d->rc = cairn_track__decode_batch(v, &a, &d->b);
    json_decref(v);
    return d->rc;
}

static void same_str(const char *what, int i, const char *x, const char *y)
{
    if (!x || !y || strcmp(x, y))
        fail_msg("%s[%d]: \"%s\" vs \"%s\"", what, i, x ? x : "(null)", y ? y : "(null)");
}

/* Field-by-field equality; values compared bitwise (NaN included). */
static void same_batch(const cairn_track_batch *x, const cairn_track_batch *y)
{
    same_str("run_uuid", 0, x->run_uuid, y->run_uuid);
    assert_int_equal(x->nmetrics, y->nmetrics);
    assert_int_equal(x->nparams, y->nparams);
    assert_int_equal(x->ntags, y->ntags);
    assert_non_null(x->metrics);
    assert_non_null(x->params);
    assert_non_null(x->tags);
    for (int i = 0; i < x->nmetrics; i++) {
        const cairn_metric *a = &x->metrics[i], *b = &y->metrics[i];
        same_str("metric key", i, a->key, b->key);
        if (memcmp(&a->value, &b->value, sizeof(double)))
            fail_msg("metric %d value %.17g vs %.17g", i, a->value, b->value);
        assert_true(a->timestamp == b->timestamp);
        assert_true(a->step == b->step);
    }
    for (int i = 0; i < x->nparams; i++) {
        same_str("param key", i, x->params[i].key, y->params[i].key);
        same_str("param value", i, x->params[i].value, y->params[i].value);
    }
    for (int i = 0; i < x->ntags; i++) {
        same_str("tag key", i, x->tags[i].key, y->tags[i].key);
        same_str("tag value", i, x->tags[i].value, y->tags[i].value);
    }
}

/* Decodes both ways and checks the contract; returns the fast path's code.
 * *slow_rc (if given) receives the slow path's. */
static int agree(const char *body, size_t len, int *slow_rc)
{
    struct dec f, s;
    int frc = run_fast(body, len, &f);
    int src = run_slow(body, len, &s);
    if (frc == 0) {
        if (src != 0)
            fail_msg("fast path accepted what the slow path rejects (%d: %s): %.*s", src,
                     src == PARSE_FAILED ? "parse" : cairn_error_last()->msg,
                     (int)(len > 300 ? 300 : len), body);
        same_batch(&f.b, &s.b);
    } else if (frc != CAIRN_EUNSUPPORTED) {
        fail_msg("fast path returned %d for %.*s", frc, (int)(len > 300 ? 300 : len), body);
    }
    dec_free(&f);
    dec_free(&s);
    if (slow_rc) *slow_rc = src;
    return frc;
}

static void expect_fast(const char *body)
{
    int src;
    if (agree(body, strlen(body), &src) != 0)
        fail_msg("fast path refused (slow: %d): %s", src, body);
}

static void expect_unsupported(const char *body)
{
    if (agree(body, strlen(body), NULL) != CAIRN_EUNSUPPORTED)
        fail_msg("fast path accepted: %s", body);
}

#define METRIC_BODY                                                                                \
    "{\"run_id\":\"r1\",\"metrics\":[{\"key\":\"m\",\"value\":%s,\"timestamp\":%s%s}]}"

static char *metric_body(const char *value, const char *ts, const char *step)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    char extra[128] = "";
    if (step) snprintf(extra, sizeof(extra), ",\"step\":%s", step);
    cairn_buf_printf(&b, METRIC_BODY, value, ts, extra);
    return cairn_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------- fixed bodies */

static void test_simple_decode(void **state)
{
    (void)state;
    const char *body =
        "{\"run_id\": \"abc123\", \"metrics\": [{\"key\": \"loss\", \"value\": 0.25, "
        "\"timestamp\": 1700000000000, \"step\": 3}, {\"step\": -2, \"timestamp\": 5, "
        "\"value\": \"NaN\", \"key\": \"acc\"}, {\"key\": \"x\", \"value\": -7, \"timestamp\": 0}],"
        " \"params\": [{\"key\": \"lr\", \"value\": \"0.01\"}, {\"key\": \"empty\"}],"
        " \"tags\": [{\"value\": \"v~\\u007f\", \"key\": \"t\"}]}";
    /* (the tag value above has an escape: this one is the slow path's) */
    expect_unsupported(body);
    body =
        "{\"run_id\": \"abc123\", \"metrics\": [{\"key\": \"loss\", \"value\": 0.25, "
        "\"timestamp\": 1700000000000, \"step\": 3}, {\"step\": -2, \"timestamp\": 5, "
        "\"value\": \"NaN\", \"key\": \"acc\"}, {\"key\": \"x\", \"value\": -7, \"timestamp\": 0}],"
        " \"params\": [{\"key\": \"lr\", \"value\": \"0.01\"}, {\"key\": \"empty\"}],"
        " \"tags\": [{\"value\": \"v ~\x7f!\", \"key\": \"t\"}]}";
    expect_fast(body);

    struct dec d;
    assert_int_equal(run_fast(body, strlen(body), &d), 0);
    const cairn_track_batch *b = &d.b;
    assert_string_equal(b->run_uuid, "abc123");
    assert_int_equal(b->nmetrics, 3);
    assert_string_equal(b->metrics[0].key, "loss");
    assert_true(b->metrics[0].value == 0.25);
    assert_true(b->metrics[0].timestamp == INT64_C(1700000000000));
    assert_true(b->metrics[0].step == 3);
    assert_string_equal(b->metrics[1].key, "acc");
    assert_true(isnan(b->metrics[1].value));
    assert_true(b->metrics[1].timestamp == 5 && b->metrics[1].step == -2);
    assert_true(b->metrics[2].value == -7.0 && b->metrics[2].step == 0);
    assert_int_equal(b->nparams, 2);
    assert_string_equal(b->params[0].key, "lr");
    assert_string_equal(b->params[0].value, "0.01");
    assert_string_equal(b->params[1].value, "");
    assert_int_equal(b->ntags, 1);
    assert_string_equal(b->tags[0].value, "v ~\x7f!");
    dec_free(&d);

    expect_fast("{\"run_id\":\"r\"}");
    expect_fast("{\"run_id\":\"r\",\"metrics\":[],\"params\":[],\"tags\":[]}");
    expect_fast("{\"tags\":[ ],\"params\":[\n],\"metrics\":[\t],\"run_id\":\"r\"}");
    expect_fast(
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":\"Infinity\",\"timestamp\":1},"
        "{\"key\":\"b\",\"value\":\"-Infinity\",\"timestamp\":2}]}");
    expect_fast("{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\","
                "\"value\":\"1\"}]}");
    expect_fast("{\"run_id\":\"r\",\"tags\":[{\"key\":\"mlflow.note.content\",\"value\":\"\"}]}");
}

/* The slow path never sees absent arrays as NULL; neither does the fast one,
 * and the decoded strings are copies (the body copy is freed by then). */
static void test_absent_and_allocation(void **state)
{
    (void)state;
    struct dec d;
    const char *body = "{\"run_uuid\":\"u\"}";
    assert_int_equal(run_fast(body, strlen(body), &d), 0);
    assert_non_null(d.b.metrics);
    assert_non_null(d.b.params);
    assert_non_null(d.b.tags);
    assert_int_equal(d.b.nmetrics + d.b.nparams + d.b.ntags, 0);
    assert_string_equal(d.b.run_uuid, "u");
    assert_int_equal(d.ar.calls, 1);
    dec_free(&d);

    /* one array, one copy per string, nothing else (999 + 1 = MLflow's 1000 entities) */
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"run_id\":\"r\",\"metrics\":[");
    for (int i = 0; i < 999; i++)
        cairn_buf_printf(&b,
                         "%s{\"key\":\"metric_%d\",\"value\":%d.5,\"timestamp\":%d,\"step\":%d}",
                         i ? "," : "", i % 7, i, 1000 + i, i);
    cairn_buf_puts(&b, "],\"params\":[{\"key\":\"p\",\"value\":\"v\"}]}");
    assert_int_equal(agree(b.ptr, b.len, NULL), 0);
    assert_int_equal(run_fast(b.ptr, b.len, &d), 0);
    assert_int_equal(d.b.nmetrics, 999);
    assert_int_equal(d.ar.calls, 1 + 999 + 1 + 2 + 1);
    assert_true(d.b.metrics[998].value == 998.5);
    assert_true(d.b.metrics[998].timestamp == 1998 && d.b.metrics[998].step == 998);
    assert_string_equal(d.b.metrics[998].key, "metric_4");
    dec_free(&d);
    cairn_buf_free(&b);
}

static void test_run_id_choice(void **state)
{
    (void)state;
    struct dec d;
    const char *body = "{\"run_uuid\":\"uuid\",\"run_id\":\"id\"}";
    assert_int_equal(run_fast(body, strlen(body), &d), 0);
    assert_string_equal(d.b.run_uuid, "id");
    dec_free(&d);
    body = "{\"run_id\":\"\",\"run_uuid\":\"uuid\"}";
    assert_int_equal(run_fast(body, strlen(body), &d), 0);
    assert_string_equal(d.b.run_uuid, "uuid");
    dec_free(&d);
    expect_fast("{\"run_id\":\"id\",\"run_uuid\":\"\"}");
    expect_fast("{\"run_id\":\"\",\"run_uuid\":\"uuid\"}");
    expect_unsupported("{\"run_id\":\"\",\"run_uuid\":\"\"}");
    expect_unsupported("{\"run_id\":\"\"}");
    expect_unsupported("{\"metrics\":[]}");
    expect_unsupported("{\"run_id\":null,\"run_uuid\":\"u\"}");
    expect_unsupported("{\"run_id\":5,\"run_uuid\":\"u\"}");
}

/* Number tokens the fast path takes, each checked against jansson bitwise. */
static void test_numbers_agree(void **state)
{
    (void)state;
    static const char *values[] = {"0",
                                   "1",
                                   "-1",
                                   "7",
                                   "1.5",
                                   "-1.5e-3",
                                   "1E5",
                                   "1e+5",
                                   "1e-5",
                                   "0.1",
                                   "0.30000000000000004",
                                   "123456789012345678",
                                   "9223372036854775807",
                                   "-9223372036854775808",
                                   "9007199254740993",
                                   "9007199254740993.0",
                                   "1.7976931348623157e308",
                                   "5e-324",
                                   "4.9406564584124654e-324",
                                   "1e-400",
                                   "-1e-400",
                                   "2.2250738585072011e-308",
                                   "2.2250738585072014e-308",
                                   "0.000001",
                                   "-0.0",
                                   "0.0e0",
                                   "3.14159265358979323846",
                                   "1e22",
                                   "1e23",
                                   "9007199254740992e-22",
                                   "123456789012345678901234567890.5",
                                   "0.00000000000000000000000000000000000001",
                                   "8.98846567431158e307",
                                   "1234567.0000001",
                                   "9.999999999999999e22",
                                   "100e-2",
                                   "0.1e1",
                                   "12345678901234567890e-10",
                                   "1.00000000000000011102230246251565404",
                                   "4503599627370497.5",
                                   "0e-999",
                                   "1E-0"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(values); i++) {
        char *body = metric_body(values[i], "1", "2");
        expect_fast(body);
        cairn_free(body);
    }
    static const char *ints[] = {"0",
                                 "1",
                                 "-1",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "1700000000000",
                                 "-1700000000000",
                                 "10",
                                 "100"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(ints); i++) {
        char *body = metric_body("1", ints[i], ints[i]);
        expect_fast(body);
        cairn_free(body);
    }
}

static void test_number_fallbacks(void **state)
{
    (void)state;
    static const char *values[] = {
        "1e400",
        "-1e400",
        "1e99999999999",
        "-0",
        "01",
        "-01",
        "00",
        "1.",
        "-1.",
        ".5",
        "-.5",
        "+1",
        "0x10",
        "inf",
        "-inf",
        "NaN",
        "Infinity",
        "nan",
        "1e",
        "1e+",
        "1e-",
        "-",
        "--1",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
        "1.5.5",
        "1ee5",
        "1e5e5",
        "1.e5",
        "null",
        "true",
        "false",
        "\"1.5\"",
        "\"nan\"",
        "\"Inf\"",
        "\"NaN \"",
        "{}",
        "[]",
        "[1]",
        "1 2",
        "0.1234567890123456789012345678901234567890123456789012345678901234",
        "\"NaN\\u0000\"",
        "1,"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(values); i++) {
        char *body = metric_body(values[i], "1", NULL);
        expect_unsupported(body);
        cairn_free(body);
    }
    static const char *ints[] = {"1e5",
                                 "1E0",
                                 "1.0",
                                 "1.5",
                                 "-0",
                                 "9223372036854775808",
                                 "-9223372036854775809",
                                 "\"5\"",
                                 "null",
                                 "01",
                                 "1.7e12",
                                 "true",
                                 "[]",
                                 "-",
                                 "+5"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(ints); i++) {
        char *body = metric_body("1", ints[i], NULL);
        expect_unsupported(body);
        cairn_free(body);
        body = metric_body("1", "1", ints[i]);
        expect_unsupported(body);
        cairn_free(body);
    }
}

static void test_structural_fallbacks(void **state)
{
    (void)state;
    static const char *bodies[] = {
        "",
        " ",
        "\n\t ",
        "null",
        "[]",
        "[{\"run_id\":\"r\"}]",
        "\"r\"",
        "{}",
        "{ }",
        /* escapes, control bytes, non-ASCII anywhere */
        "{\"run_id\":\"r\\u0031\"}",
        "{\"run_id\":\"r\\\\\"}",
        "{\"run_\\u0069d\":\"r\"}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\\/b\",\"value\":1,\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":\"tab\\there\"}]}",
        "{\"run_id\":\"r\",\"tags\":[{\"key\":\"a\",\"value\":\"caf\xc3\xa9\"}]}",
        "{\"run_id\":\"r\xff\"}",
        "{\"run_id\":\"r\x01\"}",
        "{\"run_id\":\"r\tx\"}",
        "{\"run_id\":\"r\",\"tags\":[{\"key\":\"a\",\"value\":\"line\nbreak\"}]}",
        /* null */
        "{\"run_id\":\"r\",\"metrics\":null}",
        "{\"run_id\":\"r\",\"params\":null}",
        "{\"run_id\":\"r\",\"tags\":[{\"key\":\"a\",\"value\":null}]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"step\":null}]"
        "}",
        "{\"run_id\":\"r\",\"metrics\":[null]}",
        /* duplicate keys at each level */
        "{\"run_id\":\"r\",\"run_id\":\"s\"}",
        "{\"run_id\":\"r\",\"tags\":[],\"tags\":[]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"key\":\"b\",\"value\":1,\"timestamp\":1}]"
        "}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"timestamp\":2}"
        "]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":\"1\",\"value\":\"2\"}]}",
        /* unknown keys, wrong shapes, nesting */
        "{\"run_id\":\"r\",\"experiment_id\":\"0\"}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"run_id\":"
        "\"r\"}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":\"1\",\"step\":1}]}",
        "{\"run_id\":\"r\",\"metrics\":{}}",
        "{\"run_id\":\"r\",\"metrics\":[[]]}",
        "{\"run_id\":\"r\",\"metrics\":[{}]}",
        "{\"run_id\":\"r\",\"params\":[{}]}",
        "{\"run_id\":\"r\",\"params\":[\"a\"]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":1}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":{\"x\":1}}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":[\"x\"]}]}",
        "{\"run_id\":{\"x\":\"y\"}}",
        "{\"run_id\":[\"r\"]}",
        "{\"run_id\":\"r\",\"metrics\":\"x\"}",
        /* required fields missing */
        "{\"run_id\":\"r\",\"metrics\":[{\"value\":1,\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1}]}",
        "{\"run_id\":\"r\",\"tags\":[{\"value\":\"v\"}]}",
        /* malformed */
        "{\"run_id\":\"r\"",
        "{\"run_id\":\"r\",}",
        "{\"run_id\":\"r\"}}",
        "{\"run_id\":\"r\"} x",
        "{\"run_id\":\"r\"}{}",
        "{\"run_id\" \"r\"}",
        "{\"run_id\":\"r\";}",
        "{run_id:\"r\"}",
        "{'run_id':'r'}",
        "{\"run_id\":\"r\",\"metrics\":[,]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1},]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1}}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1,}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\" \"value\":\"b\"}]}",
        "\xef\xbb\xbf{\"run_id\":\"r\"}",
        "{\"run_id\":\"r\"}\f",
        "\f{\"run_id\":\"r\"}",
        "{\"run_id\":\"r\"\v}",
        /* decoded fine, but cairn_track_batch_check refuses */
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a*b\",\"value\":1,\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"\",\"value\":1,\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"/abs\",\"value\":1,\"timestamp\":1}]}",
        "{\"run_id\":\"r\",\"params\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\",\"value\":"
        "\"2\"}]}",
        "{\"run_id\":\"r\",\"tags\":[{\"key\":\"../x\",\"value\":\"1\"}]}",
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bodies); i++)
        expect_unsupported(bodies[i]);
    /* an embedded NUL is a byte like any other: counted by len, never a terminator */
    static const char nul_body[] = "{\"run_id\":\"r\x00x\"}";
    assert_int_equal(agree(nul_body, sizeof(nul_body) - 1, NULL), CAIRN_EUNSUPPORTED);
    static const char nul_after[] = "{\"run_id\":\"r\"}\x00";
    assert_int_equal(agree(nul_after, sizeof(nul_after) - 1, NULL), CAIRN_EUNSUPPORTED);
    track_alloc none = {arena_alloc, NULL};
    cairn_track_batch b;
    assert_int_equal(cairn_track__fast_batch(NULL, 0, &none, &b), CAIRN_EUNSUPPORTED);
}

/* Limits: counts past MLflow's are the slow path's errors. */
static void test_limits(void **state)
{
    (void)state;
    struct {
        int metrics, params, tags, fast;
    } cases[] = {{1000, 0, 0, 1},  {1001, 0, 0, 0},  {0, 100, 0, 1},
                 {0, 101, 0, 0},   {0, 0, 100, 1},   {0, 0, 101, 0},
                 {900, 100, 0, 1}, {900, 100, 1, 0}, {1000, 0, 1, 0}};
    for (size_t c = 0; c < CAIRN_ARRAY_LEN(cases); c++) {
        cairn_buf b = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&b, "{\"run_id\":\"r\",\"metrics\":[");
        for (int i = 0; i < cases[c].metrics; i++)
            cairn_buf_printf(&b, "%s{\"key\":\"k\",\"value\":0,\"timestamp\":0}", i ? "," : "");
        cairn_buf_puts(&b, "],\"params\":[");
        for (int i = 0; i < cases[c].params; i++)
            cairn_buf_printf(&b, "%s{\"key\":\"p%d\"}", i ? "," : "", i);
        cairn_buf_puts(&b, "],\"tags\":[");
        for (int i = 0; i < cases[c].tags; i++)
            cairn_buf_printf(&b, "%s{\"key\":\"t\",\"value\":\"\"}", i ? "," : "");
        cairn_buf_puts(&b, "]}");
        int src, frc = agree(b.ptr, b.len, &src);
        if (cases[c].fast ? frc != 0 : frc != CAIRN_EUNSUPPORTED)
            fail_msg("case %zu: fast %d, slow %d", c, frc, src);
        if (!cases[c].fast) assert_int_equal(src, CAIRN_EINVALID);
        cairn_buf_free(&b);
    }
    /* value lengths */
    cairn_buf b = CAIRN_BUF_INIT(0);
    for (int len = 5999; len <= 6001; len++) {
        cairn_buf_reset(&b);
        cairn_buf_puts(&b, "{\"run_id\":\"r\",\"params\":[{\"key\":\"p\",\"value\":\"");
        for (int i = 0; i < len; i++)
            cairn_buf_putc(&b, 'v');
        cairn_buf_puts(&b, "\"}]}");
        assert_int_equal(agree(b.ptr, b.len, NULL), len <= 6000 ? 0 : CAIRN_EUNSUPPORTED);
    }
    cairn_buf_free(&b);
}

/* JSON whitespace (space, tab, CR, LF) between every pair of tokens. */
static void test_whitespace(void **state)
{
    (void)state;
    static const char *tokens[] = {"{", "\"run_id\"",
                                   ":", "\"r\"",
                                   ",", "\"metrics\"",
                                   ":", "[",
                                   "{", "\"key\"",
                                   ":", "\"m\"",
                                   ",", "\"value\"",
                                   ":", "-1.5e3",
                                   ",", "\"timestamp\"",
                                   ":", "12",
                                   "}", ",",
                                   "{", "\"key\"",
                                   ":", "\"n\"",
                                   ",", "\"value\"",
                                   ":", "\"NaN\"",
                                   ",", "\"timestamp\"",
                                   ":", "0",
                                   ",", "\"step\"",
                                   ":", "-4",
                                   "}", "]",
                                   ",", "\"tags\"",
                                   ":", "[",
                                   "{", "\"key\"",
                                   ":", "\"t\"",
                                   ",", "\"value\"",
                                   ":", "\"v\"",
                                   "}", "]",
                                   "}"};
    static const char *spaces[] = {" ", "\t", "\r\n", "\n  \t"};
    size_t n = CAIRN_ARRAY_LEN(tokens);
    for (size_t gap = 0; gap <= n; gap++) {
        for (size_t s = 0; s < CAIRN_ARRAY_LEN(spaces); s++) {
            cairn_buf b = CAIRN_BUF_INIT(0);
            for (size_t i = 0; i < n; i++) {
                if (i == gap) cairn_buf_puts(&b, spaces[s]);
                cairn_buf_puts(&b, tokens[i]);
            }
            if (gap == n) cairn_buf_puts(&b, spaces[s]);
            expect_fast(b.ptr);
            cairn_buf_free(&b);
        }
    }
}

static const char valid_body[] =
    "{\"run_id\":\"0123456789abcdef\",\"metrics\":[{\"key\":\"loss\",\"value\":1.25e-2,"
    "\"timestamp\":1700000000000,\"step\":10},{\"key\":\"acc\",\"value\":\"-Infinity\","
    "\"timestamp\":-1},{\"value\":-0.5,\"key\":\"a/b\",\"step\":9223372036854775807,"
    "\"timestamp\":0}],\"params\":[{\"key\":\"lr\",\"value\":\"0.1\"},{\"key\":\"opt\"}],"
    "\"tags\":[{\"key\":\"mlflow.user\",\"value\":\"me\"}],\"run_uuid\":\"ignored\"}";

/* Every proper prefix of a valid body is refused, and never crashes. */
static void test_truncation(void **state)
{
    (void)state;
    size_t len = sizeof(valid_body) - 1;
    assert_int_equal(agree(valid_body, len, NULL), 0);
    for (size_t n = 0; n < len; n++)
        if (agree(valid_body, n, NULL) != CAIRN_EUNSUPPORTED)
            fail_msg("prefix of %zu bytes accepted", n);
}

/* One-byte substitutions, deletions and duplications at every offset. */
static void test_mutations(void **state)
{
    (void)state;
    static const unsigned char subst[] = {'"', '\\', '{',  '}',  '[',  ']',  ',', ':',
                                          '0', '1',  '-',  '+',  'e',  '.',  ' ', '\t',
                                          'x', 'n',  0x80, 0xc3, 0x00, 0x1f, 0x7f};
    size_t len = sizeof(valid_body) - 1;
    char *buf = cairn_malloc(len + 1);
    int accepted = 0;
    for (size_t at = 0; at < len; at++) {
        for (size_t s = 0; s < sizeof(subst); s++) {
            memcpy(buf, valid_body, len);
            buf[at] = (char)subst[s];
            accepted += agree(buf, len, NULL) == 0;
        }
        memcpy(buf, valid_body, at);
        memcpy(buf + at, valid_body + at + 1, len - at - 1);
        accepted += agree(buf, len - 1, NULL) == 0;
        memcpy(buf, valid_body, at + 1);
        memcpy(buf + at + 1, valid_body + at, len - at);
        accepted += agree(buf, len + 1, NULL) == 0;
    }
    cairn_free(buf);
    /* many mutations (digits, key characters) stay valid and stay fast */
    assert_true(accepted > 100);
}

/* ------------------------------------------------------------- property */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

struct gen {
    cairn_buf b;
    int in_subset; /* every token is one the fast path must take */
};

static void gws(struct gen *g)
{
    static const char *w[] = {"", "", "", " ", "\n", "\t", "\r\n  ", "  "};
    cairn_buf_puts(&g->b, w[below(CAIRN_ARRAY_LEN(w))]);
}

static void gstr(struct gen *g, const char *alphabet, unsigned minlen, unsigned maxlen)
{
    unsigned n = minlen + below(maxlen - minlen + 1), an = (unsigned)strlen(alphabet);
    cairn_buf_putc(&g->b, '"');
    for (unsigned i = 0; i < n; i++)
        cairn_buf_putc(&g->b, alphabet[below(an)]);
    cairn_buf_putc(&g->b, '"');
}

/* '/' is rare: a leading one or a ".." segment fails the batch check */
static const char key_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. "
                                ":abcdefghijklmnopqrstuvwxyz/";
static const char value_chars[] =
    " !#$%&'()*+,-./"
    "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f";

/* Whether libc's reading of a number token says the fast path must take
 * it: integers within int64 (not "-0"), reals that stay finite. */
static int token_in_subset(const char *tok)
{
    if (!strpbrk(tok, ".eE")) {
        errno = 0;
        (void)strtoll(tok, NULL, 10);
        return errno != ERANGE && strcmp(tok, "-0") != 0;
    }
    return strlen(tok) < 64 && !isinf(strtod(tok, NULL));
}

static void digits(char *out, size_t *n, unsigned count, int lead_nonzero)
{
    for (unsigned i = 0; i < count; i++)
        out[(*n)++] = (char)('0' + (i == 0 && lead_nonzero ? 1 + below(9) : below(10)));
}

/* Mostly up to 18 digits; now and then past int64 (the whole body is then
 * rejected by jansson, so this stays rare). */
static unsigned ndigits(void)
{
    return below(500) ? 1 + below(18) : 19 + below(4);
}

/* A number token; `int_field` (timestamp, step) takes only integer forms,
 * and mostly gets them. */
static void gnum(struct gen *g, int int_field)
{
    char tok[128];
    size_t n = 0;
    switch (below(int_field && below(20) ? 2 : 5)) {
    case 0: { /* a plain int64 */
        int64_t v = (int64_t)rnd() >> below(64);
        snprintf(tok, sizeof(tok), "%" PRId64, v);
        break;
    }
    case 1: /* a digit string of any length */
        if (below(2)) tok[n++] = '-';
        if (below(6) == 0)
            tok[n++] = '0';
        else
            digits(tok, &n, ndigits(), 1);
        tok[n] = '\0';
        break;
    case 2: { /* any finite double, shortest-ish or full precision */
        double d;
        do {
            uint64_t bits = rnd();
            memcpy(&d, &bits, sizeof(d));
        } while (!isfinite(d));
        snprintf(tok, sizeof(tok), "%.*g", 1 + (int)below(17), d);
        break;
    }
    case 3: /* typical metric values */
        snprintf(tok, sizeof(tok), "%.*g", 1 + (int)below(17),
                 ((double)(rnd() >> 11) / 9007199254740992.0) * pow(10, (int)below(12) - 6) *
                     (below(2) ? -1 : 1));
        break;
    default: /* the full grammar: -?int(.frac)?(e[+-]?exp)? */
        if (below(2)) tok[n++] = '-';
        if (below(3) == 0)
            tok[n++] = '0';
        else
            digits(tok, &n, ndigits(), 1);
        if (below(3)) {
            tok[n++] = '.';
            digits(tok, &n, 1 + below(25), 0);
        }
        if (below(2)) {
            tok[n++] = below(2) ? 'e' : 'E';
            unsigned sign = below(3);
            if (sign) tok[n++] = sign == 1 ? '+' : '-';
            digits(tok, &n, 1 + below(3), 0);
        }
        tok[n] = '\0';
        break;
    }
    /* %g writes "inf"/"nan" never (finite), but may write "-0": fine, it is judged below */
    if (!token_in_subset(tok)) g->in_subset = 0;
    if (int_field && strpbrk(tok, ".eE")) g->in_subset = 0;
    cairn_buf_puts(&g->b, tok);
}

static void shuffle(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below((unsigned)i + 1), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void gmetric(struct gen *g)
{
    int order[4] = {0, 1, 2, 3}, n = below(2) ? 4 : 3;
    shuffle(order, 4);
    gws(g);
    cairn_buf_putc(&g->b, '{');
    int first = 1;
    for (int i = 0; i < 4; i++) {
        if (n == 3 && order[i] == 3) continue; /* no step */
        if (!first) cairn_buf_putc(&g->b, ',');
        first = 0;
        gws(g);
        static const char *names[] = {"\"key\"", "\"value\"", "\"timestamp\"", "\"step\""};
        cairn_buf_puts(&g->b, names[order[i]]);
        gws(g);
        cairn_buf_putc(&g->b, ':');
        gws(g);
        switch (order[i]) {
        case 0:
            gstr(g, key_chars, 1, 24);
            break;
        case 1:
            if (below(10) == 0) {
                static const char *special[] = {"\"NaN\"", "\"Infinity\"", "\"-Infinity\""};
                cairn_buf_puts(&g->b, special[below(3)]);
            } else {
                gnum(g, 0);
            }
            break;
        default:
            gnum(g, 1);
            break;
        }
        gws(g);
    }
    cairn_buf_putc(&g->b, '}');
    gws(g);
}

static void gkv(struct gen *g, int with_value)
{
    gws(g);
    cairn_buf_putc(&g->b, '{');
    gws(g);
    int value_first = with_value && below(2);
    if (value_first) {
        cairn_buf_puts(&g->b, "\"value\":");
        gstr(g, value_chars, 0, 40);
        cairn_buf_putc(&g->b, ',');
    }
    cairn_buf_puts(&g->b, "\"key\"");
    gws(g);
    cairn_buf_puts(&g->b, ":");
    gstr(g, key_chars, 1, 16);
    if (with_value && !value_first) {
        cairn_buf_puts(&g->b, ", \"value\" : ");
        gstr(g, value_chars, 0, 40);
    }
    gws(g);
    cairn_buf_putc(&g->b, '}');
}

static void gbody(struct gen *g)
{
    int fields[5] = {0, 1, 2, 3, 4};
    shuffle(fields, 5);
    int nfields = 1 + (int)below(5);
    /* mostly with a run id (run_id or run_uuid) */
    for (int i = nfields; i < 5 && below(10); i++)
        if (fields[i] <= 1) {
            int j = (int)below((unsigned)nfields), t = fields[j];
            fields[j] = fields[i];
            fields[i] = t;
            break;
        }
    g->in_subset = 1;
    gws(g);
    cairn_buf_putc(&g->b, '{');
    for (int f = 0; f < nfields; f++) {
        if (f) cairn_buf_putc(&g->b, ',');
        gws(g);
        static const char *names[] = {"\"run_id\"", "\"run_uuid\"", "\"metrics\"", "\"params\"",
                                      "\"tags\""};
        cairn_buf_puts(&g->b, names[fields[f]]);
        gws(g);
        cairn_buf_putc(&g->b, ':');
        gws(g);
        if (fields[f] <= 1) {
            gstr(g, "0123456789abcdef", below(8) ? 32 : 0, 32);
        } else {
            int n =
                fields[f] == 2 ? (below(10) ? (int)below(30) : (int)below(1000)) : (int)below(8);
            cairn_buf_putc(&g->b, '[');
            gws(g);
            for (int i = 0; i < n; i++) {
                if (i) cairn_buf_putc(&g->b, ',');
                if (fields[f] == 2)
                    gmetric(g);
                else
                    gkv(g, below(5) != 0);
            }
            gws(g);
            cairn_buf_putc(&g->b, ']');
        }
        gws(g);
    }
    cairn_buf_putc(&g->b, '}');
    gws(g);
}

static void test_property(void **state)
{
    (void)state;
    const char *env = getenv("CAIRN_TEST_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    if (!seed) seed = 1;
    printf("fastbatch property seed: %" PRIu64 " (CAIRN_TEST_SEED=%" PRIu64 " replays it)\n", seed,
           seed);
    fflush(stdout);
    rng_state = seed;
    int fast = 0, slow_ok = 0, total = 600;
    for (int i = 0; i < total; i++) {
        struct gen g = {CAIRN_BUF_INIT(0), 1};
        gbody(&g);
        int src, frc = agree(g.b.ptr, g.b.len, &src);
        if (frc != 0 && g.in_subset && src == 0)
            fail_msg("seed %" PRIu64 " body %d: in-subset body refused: %.400s", seed, i, g.b.ptr);
        fast += frc == 0;
        slow_ok += src == 0;
        cairn_buf_free(&g.b);
    }
    printf("fastbatch property: %d bodies, %d decoded by the fast path, %d by the slow path\n",
           total, fast, slow_ok);
    /* the generator mostly writes valid, in-subset bodies */
    assert_true(fast > total / 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_decode),    cmocka_unit_test(test_absent_and_allocation),
        cmocka_unit_test(test_run_id_choice),    cmocka_unit_test(test_numbers_agree),
        cmocka_unit_test(test_number_fallbacks), cmocka_unit_test(test_structural_fallbacks),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_truncation),       cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests_name("fastbatch", tests, NULL, NULL);
}
