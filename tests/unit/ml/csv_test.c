/*
 * csv_test.c - the CSV reader: RFC 4180 quoting, line ends, BOM, NA tokens,
 * type inference and overrides, dictionary order, column and row selection,
 * every error message with its line:column, identical frames whatever the
 * thread count or split, a generated 200k-row file, exact number parsing
 * (seeded property test; CAIRN_TEST_SEED / CAIRN_TEST_ITERS override), and
 * the fixtures in tests/fixtures/csv/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/csv.h"
#include "ml/csv_internal.h"
#include "support.h"

/* ---- helpers ---- */

static cairn_frame *rd(const char *s, const cairn_csv_opts *o)
{
    cairn_frame *f = NULL;
    int rc = cairn_csv_read_buffer(&f, s, strlen(s), "t.csv", o);
    if (rc) fail_msg("unexpected error %d: %s", rc, cairn_error_last()->msg);
    return f;
}

static void expect_err(const char *s, const cairn_csv_opts *o, int code, const char *msg)
{
    cairn_frame *f = (cairn_frame *)1;
    int rc = cairn_csv_read_buffer(&f, s, strlen(s), "data.csv", o);
    assert_int_equal(rc, code);
    assert_null(f);
    assert_string_equal(cairn_error_last()->msg, msg);
    /* the same error whatever the split */
    for (size_t cb = 1; cb <= 9; cb += 4) {
        f = (cairn_frame *)1;
        rc = cairn_csv__read(&f, s, strlen(s), "data.csv", o, cb);
        assert_int_equal(rc, code);
        assert_null(f);
        assert_string_equal(cairn_error_last()->msg, msg);
    }
}

static const cairn_column *col(const cairn_frame *f, const char *name)
{
    int i = cairn_frame_find(f, name);
    if (i < 0) fail_msg("no column %s", name);
    return &f->cols[i];
}

/* Bitwise equality of two frames (NaN payloads and -0.0 included). */
static void assert_frames_equal(const cairn_frame *a, const cairn_frame *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->ncols, b->ncols);
    for (int j = 0; j < a->ncols; j++) {
        const cairn_column *x = &a->cols[j], *y = &b->cols[j];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        size_t n = a->nrows;
        if (x->type == CAIRN_COL_F64) assert_memory_equal(x->f64, y->f64, n * 8 + !n);
        if (x->type == CAIRN_COL_F32) assert_memory_equal(x->f32, y->f32, n * 4 + !n);
        if (x->type == CAIRN_COL_CAT) {
            if (n) assert_memory_equal(x->codes, y->codes, n * 4);
            assert_int_equal(x->ndict, y->ndict);
            for (int32_t k = 0; k < x->ndict; k++)
                assert_string_equal(x->dict[k], y->dict[k]);
        }
    }
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t test_seed(void)
{
    const char *e = getenv("CAIRN_TEST_SEED");
    uint64_t s = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    printf("csv_test seed %llu (CAIRN_TEST_SEED to replay)\n", (unsigned long long)s);
    return s ? s : 1;
}

/* ---- basics ---- */

static void test_numeric_basic(void **state)
{
    (void)state;
    cairn_frame *f = rd("a,b,c\n1,2.5,-3e2\n4, 5 ,.5\n", NULL);
    assert_int_equal(f->nrows, 2);
    assert_int_equal(f->ncols, 3);
    assert_string_equal(f->cols[0].name, "a");
    assert_int_equal(col(f, "a")->type, CAIRN_COL_F64);
    assert_true(col(f, "a")->f64[1] == 4.0);
    assert_true(col(f, "b")->f64[0] == 2.5);
    assert_true(col(f, "b")->f64[1] == 5.0);
    assert_true(col(f, "c")->f64[0] == -300.0);
    assert_true(col(f, "c")->f64[1] == 0.5);
    cairn_frame_free(f);
}

static void test_quoting(void **state)
{
    (void)state;
    const char *s = "k,v\n"
                    "\"a,b\",1\n"
                    "\"line1\nline2\",2\n"
                    "\"say \"\"hi\"\"\",3\n"
                    " \"padded\" ,4\n"
                    "\"\",5\n"
                    "\"7\",\"6\"\n";
    cairn_frame *f = rd(s, NULL);
    assert_int_equal(f->nrows, 6);
    const cairn_column *k = col(f, "k"), *v = col(f, "v");
    assert_int_equal(k->type, CAIRN_COL_CAT);
    assert_int_equal(k->ndict, 5);
    assert_string_equal(k->dict[0], "a,b");
    assert_string_equal(k->dict[1], "line1\nline2");
    assert_string_equal(k->dict[2], "say \"hi\"");
    assert_string_equal(k->dict[3], "padded");
    assert_string_equal(k->dict[4], "7");
    assert_int_equal(k->codes[4], -1); /* "" is NA */
    assert_int_equal(v->type, CAIRN_COL_F64);
    for (int i = 0; i < 6; i++)
        assert_true(v->f64[i] == i + 1);
    cairn_frame_free(f);
}

static void test_crlf_bom_trailing(void **state)
{
    (void)state;
    cairn_frame *f = rd("\xEF\xBB\xBFx,y\r\n1,a\r\n\r\n2,b", NULL);
    assert_int_equal(f->nrows, 2);
    assert_string_equal(f->cols[0].name, "x");
    assert_true(col(f, "x")->f64[1] == 2.0);
    assert_string_equal(col(f, "y")->dict[1], "b");
    cairn_frame_free(f);
    f = rd("x,y\r\n1,\"a\"\r\n2,\"b\"\r\n", NULL);
    assert_int_equal(f->nrows, 2);
    assert_string_equal(col(f, "y")->dict[0], "a");
    cairn_frame_free(f);
}

static void test_na_tokens(void **state)
{
    (void)state;
    cairn_frame *f = rd("n,c\nNA,x\n1,NULL\n,?\nnan, N/A \n2,y\n", NULL);
    const cairn_column *n = col(f, "n"), *c = col(f, "c");
    assert_int_equal(n->type, CAIRN_COL_F64);
    assert_true(isnan(n->f64[0]) && isnan(n->f64[2]) && isnan(n->f64[3]));
    assert_true(n->f64[1] == 1 && n->f64[4] == 2);
    assert_int_equal(c->ndict, 2);
    int32_t want[] = {0, -1, -1, -1, 1};
    assert_memory_equal(c->codes, want, sizeof(want));
    cairn_frame_free(f);
    /* custom tokens: -999 is missing, "NA" is a category */
    const char *na[] = {"-999", ""};
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.na_tokens = na;
    o.n_na_tokens = 2;
    f = rd("n,c\n-999,NA\n3,\n-999.0,b\n", &o);
    n = col(f, "n");
    assert_true(isnan(n->f64[0]) && n->f64[1] == 3 && n->f64[2] == -999.0);
    c = col(f, "c");
    assert_int_equal(c->ndict, 2);
    assert_string_equal(c->dict[0], "NA");
    assert_int_equal(c->codes[1], -1);
    cairn_frame_free(f);
}

static void test_inference_and_dict_order(void **state)
{
    (void)state;
    /* the non-number comes late: numbers before it become categories too */
    char buf[4096];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "id,v\n");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%d,%s\n", i,
                              i == 90 ? "x" : (i % 3 ? "1" : "1.0"));
    cairn_frame *f = rd(buf, NULL);
    const cairn_column *v = col(f, "v");
    assert_int_equal(v->type, CAIRN_COL_CAT);
    assert_int_equal(v->ndict, 3);
    assert_string_equal(v->dict[0], "1.0");
    assert_string_equal(v->dict[1], "1");
    assert_string_equal(v->dict[2], "x");
    assert_int_equal(v->codes[90], 2);
    assert_int_equal(v->codes[1], 1);
    assert_int_equal(col(f, "id")->type, CAIRN_COL_F64);
    /* identical with tiny chunks and several threads */
    cairn_csv_opts op = CAIRN_CSV_OPTS_INIT;
    op.threads = 4;
    for (size_t cb = 3; cb < 200; cb *= 3) {
        cairn_frame *g;
        assert_int_equal(cairn_csv__read(&g, buf, o, "t", &op, cb), 0);
        assert_frames_equal(f, g);
        cairn_frame_free(g);
    }
    cairn_frame_free(f);
}

static void test_overrides(void **state)
{
    (void)state;
    cairn_csv_coltype ty[] = {{"a", CAIRN_COL_F32}, {"b", CAIRN_COL_CAT}, {"c", CAIRN_COL_F64}};
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.types = ty;
    o.ntypes = 3;
    cairn_frame *f = rd("a,b,c,d\n0.1,10,1,2\n0.2,9,NA,3\n0.1,10,3,4\n", &o);
    assert_int_equal(col(f, "a")->type, CAIRN_COL_F32);
    assert_true(col(f, "a")->f32[0] == 0.1f);
    const cairn_column *b = col(f, "b");
    assert_int_equal(b->type, CAIRN_COL_CAT);
    assert_int_equal(b->ndict, 2);
    assert_string_equal(b->dict[0], "10");
    assert_int_equal(b->codes[2], 0);
    assert_true(isnan(col(f, "c")->f64[1]));
    assert_int_equal(col(f, "d")->type, CAIRN_COL_F64);
    cairn_frame_free(f);
    o.types = NULL;
    o.ntypes = 0;
    o.numeric_type = CAIRN_COL_F32;
    f = rd("x\n1.5\n", &o);
    assert_int_equal(f->cols[0].type, CAIRN_COL_F32);
    assert_true(f->cols[0].f32[0] == 1.5f);
    cairn_frame_free(f);
}

static void test_selection(void **state)
{
    (void)state;
    const char *keep[] = {"c", "a"};
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.usecols = keep;
    o.nusecols = 2;
    o.skip_rows = 1;
    o.max_rows = 2;
    cairn_frame *f = rd("a,b,c\n1,x,10\n2,y,20\n\n3,z,30\n4,\"bad,30\n", &o);
    assert_int_equal(f->ncols, 2);
    assert_string_equal(f->cols[0].name, "a"); /* file order */
    assert_string_equal(f->cols[1].name, "c");
    assert_int_equal(f->nrows, 2);
    assert_true(f->cols[0].f64[0] == 2 && f->cols[0].f64[1] == 3);
    assert_true(f->cols[1].f64[1] == 30);
    cairn_frame_free(f);
    /* skip past the end: zero rows */
    o.skip_rows = 10;
    o.max_rows = 0;
    f = rd("a,b,c\n1,x,10\n", &o);
    assert_int_equal(f->nrows, 0);
    cairn_frame_free(f);
    /* no header: c0, c1, ...; skip_lines drops metadata */
    cairn_csv_opts n = CAIRN_CSV_OPTS_INIT;
    n.has_header = 0;
    n.skip_lines = 1;
    f = rd("3,2,meta\n1,2\n3,4\n5,6\n", &n);
    assert_int_equal(f->nrows, 3);
    assert_string_equal(f->cols[1].name, "c1");
    assert_true(f->cols[1].f64[2] == 6);
    cairn_frame_free(f);
    const char *bad[] = {"zz"};
    o.usecols = bad;
    o.nusecols = 1;
    expect_err("a,b\n1,2\n", &o, CAIRN_EINVALID, "data.csv: no column named 'zz'");
}

static void test_header_only_and_empty(void **state)
{
    (void)state;
    cairn_frame *f = rd("a,b\n", NULL);
    assert_int_equal(f->nrows, 0);
    assert_int_equal(f->ncols, 2);
    cairn_frame_free(f);
    f = rd("a,b", NULL);
    assert_int_equal(f->nrows, 0);
    cairn_frame_free(f);
    expect_err("", NULL, CAIRN_EINVALID, "data.csv: empty file");
    expect_err("\xEF\xBB\xBF\n\r\n", NULL, CAIRN_EINVALID, "data.csv: empty file");
}

static void test_errors(void **state)
{
    (void)state;
    expect_err("a,b\n1,2\n3,\"x\n4,5\n", NULL, CAIRN_EINVALID,
               "data.csv:3:3: unterminated quoted field");
    expect_err("a,b,c\n1,2,3\n4,5\n", NULL, CAIRN_EINVALID,
               "data.csv:3:1: row has 2 fields, header has 3");
    expect_err("a,b\n1,2,3\n", NULL, CAIRN_EINVALID,
               "data.csv:2:1: row has 3 fields, header has 2");
    cairn_csv_coltype ty[] = {{"age", CAIRN_COL_F64}};
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.types = ty;
    o.ntypes = 1;
    expect_err("id,age\n1,32\n2,abc\n", &o, CAIRN_EINVALID,
               "data.csv:3:3: value 'abc' in column 'age' is not a number (type forced to f64)");
    ty[0].type = CAIRN_COL_F32;
    expect_err("id,age\n1,32\n2,\"1 2\"\n", &o, CAIRN_EINVALID,
               "data.csv:3:3: value '1 2' in column 'age' is not a number (type forced to f32)");
    expect_err("a,b,a\n1,2,3\n", NULL, CAIRN_EINVALID, "data.csv:1:5: duplicate column name 'a'");
    expect_err("a,b\n1,x\"y\n", NULL, CAIRN_EINVALID, "data.csv:2:4: quote in unquoted field");
    expect_err("a,b\n1,\"x\"y\n", NULL, CAIRN_EINVALID,
               "data.csv:2:6: unexpected character after closing quote");
    /* columns are counted in UTF-8 characters */
    expect_err("a,b\n\xC3\xA9\xC3\xA9,\"x\n", NULL, CAIRN_EINVALID,
               "data.csv:2:4: unterminated quoted field");
    /* the earliest error wins, whatever the split */
    expect_err("a,b\n1,2\n1\n1,2\n\"\n", NULL, CAIRN_EINVALID,
               "data.csv:3:1: row has 1 fields, header has 2");
    cairn_csv_opts n = CAIRN_CSV_OPTS_INIT;
    n.has_header = 0;
    expect_err("1,2\n3\n", &n, CAIRN_EINVALID, "data.csv:2:1: row has 1 fields, first row has 2");
}

static void test_limits(void **state)
{
    (void)state;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.max_columns = 3;
    expect_err("a,b,c,d\n", &o, CAIRN_ETOOBIG, "data.csv:1:7: more than 3 columns (max_columns)");
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.max_field_len = 4;
    expect_err("a,b\n1,\"abcde\"\n", &o, CAIRN_ETOOBIG,
               "data.csv:2:3: field longer than 4 bytes (max_field_len)");
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.max_categories = 2;
    cairn_frame *f = rd("c\nx\ny\nx\n", &o);
    assert_int_equal(f->cols[0].ndict, 2);
    cairn_frame_free(f);
    expect_err("c\nx\ny\nx\nz\n", &o, CAIRN_ETOOBIG,
               "data.csv: column 'c' has more than 2 distinct values (max_categories)");
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.max_file_size = 4;
    expect_err("a,b\n1,2\n", &o, CAIRN_ETOOBIG, "data.csv: 8 bytes, more than max_file_size (4)");
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.delimiter = '"';
    cairn_frame *g = NULL;
    assert_int_equal(cairn_csv_read_buffer(&g, "a", 1, NULL, &o), CAIRN_EINVALID);
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.version = 99;
    assert_int_equal(cairn_csv_read_buffer(&g, "a", 1, NULL, &o), CAIRN_EINVALID);
    assert_int_equal(cairn_csv_read_file(&g, "/nonexistent/x.csv", NULL), CAIRN_ENOTFOUND);
}

static void test_other_dialects(void **state)
{
    (void)state;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.delimiter = '\t';
    o.quote = '\0';
    cairn_frame *f = rd("a\tb\n1\t\"q\n2\t \n", &o);
    assert_string_equal(col(f, "b")->dict[0], "\"q");
    assert_int_equal(col(f, "b")->codes[1], -1); /* blank trims to "" */
    cairn_frame_free(f);
    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.delimiter = ';';
    f = rd("a;b\n1,5;'x'\n", &o);
    assert_string_equal(col(f, "a")->dict[0], "1,5");
    cairn_frame_free(f);
}

/* ---- determinism across threads and splits ---- */

static char *random_csv(size_t rows, size_t *len)
{
    static const char *cats[] = {"red", "green", "\"bl,ue\"",     "\"multi\nline\"",
                                 "NA",  "",      "\"q\"\"uote\"", "yellow"};
    size_t cap = rows * 96 + 64, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "x,cat,y,\"late\"\r\n");
    for (size_t i = 0; i < rows; i++) {
        if (rnd() % 50 == 0) o += (size_t)snprintf(s + o, cap - o, "\n");
        double x = (double)(int64_t)(rnd() % 2000001 - 1000000) / 1000.0;
        const char *c = cats[rnd() % 8];
        const char *late = i == rows * 3 / 4 ? "word" : (rnd() % 2 ? "12" : "NA");
        o += (size_t)snprintf(s + o, cap - o, "%.3f,%s,%.17g,%s%s", x, c, (double)rnd() / 3.0, late,
                              rnd() % 2 ? "\r\n" : "\n");
    }
    *len = o;
    return s;
}

static void test_threads_identical(void **state)
{
    (void)state;
    rng_state = test_seed();
    size_t len;
    char *s = random_csv(3000, &len);
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.threads = 1;
    cairn_frame *ref;
    assert_int_equal(cairn_csv__read(&ref, s, len, "t", &o, 0), 0);
    assert_int_equal(ref->nrows, 3000);
    assert_int_equal(col(ref, "cat")->type, CAIRN_COL_CAT);
    assert_int_equal(col(ref, "late")->type, CAIRN_COL_CAT);
    int threads[] = {1, 2, 8};
    size_t chunks[] = {0, 1, 17, 1000, 50000};
    for (size_t t = 0; t < 3; t++)
        for (size_t c = 0; c < 5; c++) {
            cairn_frame *g;
            o.threads = threads[t];
            assert_int_equal(cairn_csv__read(&g, s, len, "t", &o, chunks[c]), 0);
            assert_frames_equal(ref, g);
            cairn_frame_free(g);
        }
    cairn_frame_free(ref);
    free(s);
}

/* ---- a generated large file ---- */

static void test_large_file(void **state)
{
    (void)state;
    rng_state = test_seed() ^ 0x5151;
    const size_t rows = 200000, ncol = 10;
    char *dir = cairn_test_tmpdir("csv");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof(path), "%s/big.csv", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (size_t j = 0; j < ncol; j++)
        fprintf(fp, "%sf%zu", j ? "," : "", j);
    fputc('\n', fp);
    double *want = malloc(sizeof(double) * rows * ncol);
    char txt[64];
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ncol; j++) {
            uint64_t r = rnd();
            if (j % 3 == 0)
                snprintf(txt, sizeof(txt), "%.6f", (double)(int64_t)(r % 2000000000) / 7.0);
            else if (j % 3 == 1)
                snprintf(txt, sizeof(txt), "%.17g", (double)r / 1e10);
            else
                snprintf(txt, sizeof(txt), "%lld", (long long)(r % 1000000) - 500000);
            want[i * ncol + j] = strtod(txt, NULL);
            fprintf(fp, "%s%s", j ? "," : "", txt);
            if (j + 1 == ncol) fputc('\n', fp);
        }
    fclose(fp);
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.threads = 2;
    cairn_frame *f;
    assert_int_equal(cairn_csv_read_file(&f, path, &o), 0);
    assert_int_equal(f->nrows, rows);
    assert_int_equal(f->ncols, (int)ncol);
    for (size_t j = 0; j < ncol; j++) {
        assert_int_equal(f->cols[j].type, CAIRN_COL_F64);
        for (size_t i = 0; i < rows; i++)
            if (memcmp(&f->cols[j].f64[i], &want[i * ncol + j], 8))
                fail_msg("row %zu col %zu: %.17g != %.17g", i, j, f->cols[j].f64[i],
                         want[i * ncol + j]);
    }
    cairn_frame_free(f);
    free(want);
    cairn_test_rmrf(dir);
    free(dir);
}

/* ---- exact numbers ---- */

static void test_number_property(void **state)
{
    (void)state;
    rng_state = test_seed() ^ 0xabcdef;
    const char *it = getenv("CAIRN_TEST_ITERS");
    long iters = it ? atol(it) : 300000;
    char s[80];
    for (long k = 0; k < iters; k++) {
        size_t o = 0;
        if (rnd() % 4 == 0) s[o++] = rnd() % 2 ? '-' : '+';
        int nint = (int)(rnd() % 22), nfrac = (int)(rnd() % 22);
        if (nint == 0 && nfrac == 0) nint = 1;
        for (int i = 0; i < nint; i++)
            s[o++] = (char)('0' + rnd() % 10);
        if (nfrac || rnd() % 2) s[o++] = '.';
        for (int i = 0; i < nfrac; i++)
            s[o++] = (char)('0' + rnd() % 10);
        if (rnd() % 3 == 0)
            o += (size_t)snprintf(s + o, sizeof(s) - o, "e%d", (int)(rnd() % 80) - 40);
        s[o] = '\0';
        double d, want = strtod(s, NULL);
        float fl, wantf = strtof(s, NULL);
        const char *e = cairn_csv__parse_f64(s, s + o, &d);
        if (e != s + o || memcmp(&d, &want, 8)) fail_msg("'%s': %.17g != strtod %.17g", s, d, want);
        e = cairn_csv__parse_f32(s, s + o, &fl);
        if (e != s + o || memcmp(&fl, &wantf, 4))
            fail_msg("'%s': %.9g != strtof %.9g", s, fl, wantf);
    }
    /* edge forms */
    const char *edge[] = {"0",
                          "-0",
                          "0e999",
                          "1e-400",
                          "1e400",
                          "9007199254740993",
                          "123456789012345678901234",
                          "0.1",
                          "1e22",
                          "1e23",
                          ".5",
                          "5.",
                          "4.9406564584124654e-324",
                          "1.7976931348623157e308",
                          "inf",
                          "-Infinity"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(edge); i++) {
        double d, want = strtod(edge[i], NULL);
        size_t n = strlen(edge[i]);
        assert_ptr_equal(cairn_csv__parse_f64(edge[i], edge[i] + n, &d), edge[i] + n);
        if (memcmp(&d, &want, 8)) fail_msg("'%s': %.17g != %.17g", edge[i], d, want);
    }
    const char *bad[] = {"", ".", "-", "e5", "x1", "0x10"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
        double d;
        const char *e = cairn_csv__parse_f64(bad[i], bad[i] + strlen(bad[i]), &d);
        assert_true(e == NULL || e != bad[i] + strlen(bad[i]));
    }
    /* strtod in a comma-decimal locale is not used: a C locale is */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        double d;
        cairn_csv__parse_f64("1.25e-30", "1.25e-30" + 8, &d);
        assert_true(d == 1.25e-30);
        setlocale(LC_NUMERIC, "C");
    }
}

/* ---- fixtures ---- */

static char *fixture(const char *name)
{
    const char *src = getenv("CAIRN_SOURCE_DIR");
    static char p[1024];
    snprintf(p, sizeof(p), "%s/tests/fixtures/csv/%s", src ? src : CAIRN_SOURCE_DIR, name);
    return p;
}

static void test_fixture_breast_cancer(void **state)
{
    (void)state;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.has_header = 0;
    o.skip_lines = 1; /* "569,30,malignant,benign" */
    cairn_frame *f;
    int rc = cairn_csv_read_file(&f, fixture("breast_cancer.csv"), &o);
    if (rc) fail_msg("%s", cairn_error_last()->msg);
    assert_int_equal(f->nrows, 569);
    assert_int_equal(f->ncols, 31);
    for (int j = 0; j < 31; j++)
        assert_int_equal(f->cols[j].type, CAIRN_COL_F64);
    assert_true(f->cols[0].f64[0] == 17.99);
    assert_true(f->cols[29].f64[0] == 0.1189);
    size_t ones = 0;
    for (size_t i = 0; i < f->nrows; i++)
        ones += f->cols[30].f64[i] == 1.0;
    assert_int_equal(ones, 357); /* benign */
    cairn_frame_free(f);
}

static void test_fixture_quoted_crlf_bom(void **state)
{
    (void)state;
    cairn_frame *f;
    assert_int_equal(cairn_csv_read_file(&f, fixture("quoted_crlf_bom.csv"), NULL), 0);
    assert_int_equal(f->nrows, 4);
    assert_string_equal(f->cols[0].name, "id");
    const cairn_column *n = col(f, "name"), *s = col(f, "score"), *g = col(f, "grade");
    assert_string_equal(n->dict[0], "Smith, John");
    assert_string_equal(n->dict[1], "O\"Brien");
    assert_string_equal(n->dict[2], "multi\r\nline");
    assert_string_equal(n->dict[3], "plain");
    assert_true(s->f64[0] == 3.5 && isnan(s->f64[1]) && s->f64[2] == -0.25 && s->f64[3] == 7);
    int32_t gw[] = {0, 1, 0, -1};
    assert_memory_equal(g->codes, gw, sizeof(gw));
    cairn_frame_free(f);
}

static void test_fixture_mixed_na(void **state)
{
    (void)state;
    cairn_frame *f;
    assert_int_equal(cairn_csv_read_file(&f, fixture("mixed_na.csv"), NULL), 0);
    assert_int_equal(f->nrows, 5);
    const cairn_column *city = col(f, "city"), *inc = col(f, "income"), *fl = col(f, "flag");
    assert_int_equal(city->ndict, 3);
    assert_string_equal(city->dict[2], "Nice");
    int32_t cw[] = {0, 1, 0, -1, 2};
    assert_memory_equal(city->codes, cw, sizeof(cw));
    assert_true(isnan(inc->f64[1]) && isnan(inc->f64[2]) && inc->f64[4] == 1e5);
    assert_int_equal(fl->type, CAIRN_COL_F64);
    assert_true(isnan(fl->f64[3]));
    assert_true(isnan(col(f, "age")->f64[1]));
    cairn_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_basic),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_crlf_bom_trailing),
        cmocka_unit_test(test_na_tokens),
        cmocka_unit_test(test_inference_and_dict_order),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_header_only_and_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_other_dialects),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_large_file),
        cmocka_unit_test(test_number_property),
        cmocka_unit_test(test_fixture_breast_cancer),
        cmocka_unit_test(test_fixture_quoted_crlf_bom),
        cmocka_unit_test(test_fixture_mixed_na),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
