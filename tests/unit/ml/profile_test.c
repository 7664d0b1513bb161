/*
 * profile_test.c - the reference profile: a small frame checked by hand,
 * quantile and histogram edges against numpy (tests/fixtures/profile/,
 * made by tests/fixtures/gen_profile.py), JSON round trips, malformed JSON,
 * edge cases (all missing, constant, one row, many categories, huge
 * ranges), the sampled-quantile path and thread-count independence.
 *
 * Tolerances: quantile and histogram edges, their counts, min, max and the
 * sample must equal numpy's bit for bit; mean and std (compensated sums
 * here, pairwise sums in numpy) within 1e-13 relative. Round trips compare
 * every double bitwise.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <omp.h>

#include "cairn/profile.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *source_dir(void)
{
    const char *d = getenv("CAIRN_SOURCE_DIR");
#ifdef CAIRN_SOURCE_DIR
    if (!d) d = CAIRN_SOURCE_DIR;
#endif
    assert_non_null(d);
    return d;
}

static json_t *load_fixture(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/profile/%s", source_dir(), name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
    return j;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(double)) == 0;
}

static void assert_bits(double got, double want, const char *what, int i)
{
    if (!same_bits(got, want)) fail_msg("%s[%d]: got %.17g want %.17g", what, i, got, want);
}

static void assert_rel(double got, double want, double tol, const char *what)
{
    double err = fabs(got - want) / fmax(1e-300, fabs(want));
    if (!(err <= tol)) fail_msg("%s: got %.17g want %.17g (rel err %.3g)", what, got, want, err);
}

static cairn_profile_numeric numeric_of(const cairn_profile *p, const char *name)
{
    int i = cairn_profile_find(p, name);
    if (i < 0) fail_msg("no feature '%s'", name);
    cairn_profile_numeric n;
    assert_int_equal(cairn_profile_feature_numeric(cairn_profile_feature_at(p, i), &n), 0);
    return n;
}

static cairn_profile_categorical categorical_of(const cairn_profile *p, const char *name)
{
    int i = cairn_profile_find(p, name);
    if (i < 0) fail_msg("no feature '%s'", name);
    cairn_profile_categorical c;
    assert_int_equal(cairn_profile_feature_categorical(cairn_profile_feature_at(p, i), &c), 0);
    return c;
}

static char *to_json(const cairn_profile *p, size_t *len)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_profile_to_json(p, &b), 0);
    return cairn_buf_detach(&b, len);
}

/* Every field of two numeric summaries equal, doubles bitwise. */
static void assert_numeric_same(const cairn_profile_numeric *a, const cairn_profile_numeric *b)
{
    assert_true(a->count == b->count && a->missing == b->missing);
    assert_bits(a->missing_rate, b->missing_rate, "missing_rate", 0);
    assert_bits(a->mean, b->mean, "mean", 0);
    assert_bits(a->std, b->std, "std", 0);
    assert_bits(a->min, b->min, "min", 0);
    assert_bits(a->max, b->max, "max", 0);
    assert_int_equal(a->n_edges, b->n_edges);
    for (int i = 0; i < a->n_edges; i++)
        assert_bits(a->edges[i], b->edges[i], "edges", i);
    for (int i = 0; i + 1 < a->n_edges; i++)
        assert_true(a->bin_counts[i] == b->bin_counts[i]);
    assert_int_equal(a->n_hist_edges, b->n_hist_edges);
    for (int i = 0; i < a->n_hist_edges; i++)
        assert_bits(a->hist_edges[i], b->hist_edges[i], "hist_edges", i);
    for (int i = 0; i + 1 < a->n_hist_edges; i++)
        assert_true(a->hist_counts[i] == b->hist_counts[i]);
    assert_int_equal(a->n_sample, b->n_sample);
    for (int i = 0; i < a->n_sample; i++)
        assert_bits(a->sample[i], b->sample[i], "sample", i);
}

/* Two profiles equal field by field. */
static void assert_profile_same(const cairn_profile *a, const cairn_profile *b)
{
    assert_true(cairn_profile_n_rows(a) == cairn_profile_n_rows(b));
    cairn_profile_opts oa = cairn_profile_options(a), ob = cairn_profile_options(b);
    assert_int_equal(oa.n_bins, ob.n_bins);
    assert_int_equal(oa.n_hist_bins, ob.n_hist_bins);
    assert_int_equal(oa.max_categories, ob.max_categories);
    assert_int_equal(oa.sample_size, ob.sample_size);
    assert_true(oa.quantile_rows == ob.quantile_rows && oa.seed == ob.seed);
    assert_int_equal(cairn_profile_n_features(a), cairn_profile_n_features(b));
    assert_int_equal(cairn_profile_n_predictions(a), cairn_profile_n_predictions(b));
    for (int i = 0; i < cairn_profile_n_features(a) + cairn_profile_n_predictions(a); i++) {
        int pred = i >= cairn_profile_n_features(a);
        int k = pred ? i - cairn_profile_n_features(a) : i;
        const cairn_profile_feature *fa =
            pred ? cairn_profile_prediction_at(a, k) : cairn_profile_feature_at(a, k);
        const cairn_profile_feature *fb =
            pred ? cairn_profile_prediction_at(b, k) : cairn_profile_feature_at(b, k);
        assert_string_equal(cairn_profile_feature_name(fa), cairn_profile_feature_name(fb));
        assert_int_equal(cairn_profile_feature_type(fa), cairn_profile_feature_type(fb));
        if (cairn_profile_feature_type(fa) == CAIRN_PROFILE_NUMERIC) {
            cairn_profile_numeric na, nb;
            assert_int_equal(cairn_profile_feature_numeric(fa, &na), 0);
            assert_int_equal(cairn_profile_feature_numeric(fb, &nb), 0);
            assert_numeric_same(&na, &nb);
        } else {
            cairn_profile_categorical ca, cb;
            assert_int_equal(cairn_profile_feature_categorical(fa, &ca), 0);
            assert_int_equal(cairn_profile_feature_categorical(fb, &cb), 0);
            assert_true(ca.count == cb.count && ca.missing == cb.missing &&
                        ca.n_distinct == cb.n_distinct && ca.other_count == cb.other_count &&
                        ca.other_distinct == cb.other_distinct);
            assert_bits(ca.missing_rate, cb.missing_rate, "missing_rate", 0);
            assert_int_equal(ca.n_categories, cb.n_categories);
            for (int c = 0; c < ca.n_categories; c++) {
                assert_string_equal(ca.names[c], cb.names[c]);
                assert_true(ca.counts[c] == cb.counts[c]);
            }
        }
    }
}

/* JSON -> profile -> JSON gives the same profile and the same bytes. */
static void assert_round_trip(const cairn_profile *p)
{
    size_t len;
    char *js = to_json(p, &len);
    cairn_profile *q = NULL;
    if (cairn_profile_from_json(&q, js, len))
        fail_msg("reading back: %s\n%s", cairn_error_last()->msg, js);
    assert_profile_same(p, q);
    size_t len2;
    char *js2 = to_json(q, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(js, js2, len);
    cairn_free(js);
    cairn_free(js2);
    cairn_profile_free(q);
}

/* ---- a small frame, checked by hand -------------------------------------- */

static void test_hand_small(void **state)
{
    (void)state;
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 5), 0);
    double x[5] = {3, 1, NAN, 2, 4};
    float y[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    int32_t codes[5] = {0, 1, 0, 2, -1};
    const char *dict[4] = {"b", "a", "c", "unused"};
    assert_int_equal(cairn_frame_add_f64(f, "x", x), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, dict, 4), 0);
    assert_int_equal(cairn_frame_add_f32(f, "y", y), 0);
    double pred[10] = {0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 0.5};

    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.n_bins = 2;
    o.n_hist_bins = 3;
    o.max_categories = 2;
    o.sample_size = 3;
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, pred, 2, &o), 0);
    assert_true(cairn_profile_n_rows(p) == 5);
    assert_int_equal(cairn_profile_n_features(p), 3);
    assert_int_equal(cairn_profile_find(p, "x"), 0);
    assert_int_equal(cairn_profile_find(p, "c"), 1);
    assert_int_equal(cairn_profile_find(p, "y"), 2);
    assert_int_equal(cairn_profile_find(p, "z"), -1);
    assert_null(cairn_profile_feature_at(p, 3));
    assert_null(cairn_profile_feature_at(p, -1));

    /* x = {1, 2, 3, 4} + one missing: mean 2.5, population var 1.25;
     * median (n-1)*0.5 = 1.5 -> lerp(2, 3, 0.5) = 2.5; histogram step 1 */
    cairn_profile_numeric n = numeric_of(p, "x");
    assert_true(n.count == 4 && n.missing == 1);
    assert_true(n.missing_rate == 0.2 && n.mean == 2.5 && n.min == 1 && n.max == 4);
    assert_rel(n.std, sqrt(1.25), 1e-15, "std");
    assert_int_equal(n.n_edges, 3);
    assert_true(n.edges[0] == 1 && n.edges[1] == 2.5 && n.edges[2] == 4);
    assert_true(n.bin_counts[0] == 2 && n.bin_counts[1] == 2);
    assert_int_equal(n.n_hist_edges, 4);
    assert_true(n.hist_edges[0] == 1 && n.hist_edges[1] == 2 && n.hist_edges[2] == 3 &&
                n.hist_edges[3] == 4);
    /* 1 | 2 | 3, 4 (the last bin is closed) */
    assert_true(n.hist_counts[0] == 1 && n.hist_counts[1] == 1 && n.hist_counts[2] == 2);
    /* sample of 3 out of 4: positions floor((2i+1)*4/6) = 0, 2, 3 */
    assert_int_equal(n.n_sample, 3);
    assert_true(n.sample[0] == 1 && n.sample[1] == 3 && n.sample[2] == 4);

    /* c: b x2, a x1, c x1, one missing; "unused" never occurs */
    cairn_profile_categorical c = categorical_of(p, "c");
    assert_true(c.count == 4 && c.missing == 1 && c.missing_rate == 0.2);
    assert_true(c.n_distinct == 3);
    assert_int_equal(c.n_categories, 2);
    assert_string_equal(c.names[0], "b");
    assert_string_equal(c.names[1], "a"); /* ties by name: a before c */
    assert_true(c.counts[0] == 2 && c.counts[1] == 1);
    assert_true(c.other_count == 1 && c.other_distinct == 1);

    /* y: f32 constant column -> edges [c, c], one bin */
    cairn_profile_numeric yn = numeric_of(p, "y");
    assert_true(yn.mean == 0.5 && yn.std == 0 && yn.min == 0.5 && yn.max == 0.5);
    assert_int_equal(yn.n_edges, 2);
    assert_true(yn.edges[0] == 0.5 && yn.edges[1] == 0.5 && yn.bin_counts[0] == 5);
    assert_int_equal(yn.n_hist_edges, 2);
    assert_true(yn.hist_counts[0] == 5);

    /* predictions: two outputs, named and summarised like features */
    assert_int_equal(cairn_profile_n_predictions(p), 2);
    const cairn_profile_feature *p0 = cairn_profile_prediction_at(p, 0);
    assert_string_equal(cairn_profile_feature_name(p0), "prediction_0");
    assert_string_equal(cairn_profile_feature_name(cairn_profile_prediction_at(p, 1)),
                        "prediction_1");
    assert_null(cairn_profile_prediction_at(p, 2));
    cairn_profile_numeric pn;
    assert_int_equal(cairn_profile_feature_numeric(p0, &pn), 0);
    assert_true(pn.count == 5 && pn.min == 0.1 && pn.max == 0.5);
    assert_rel(pn.mean, 0.3, 1e-15, "prediction mean");

    /* wrong-type accessors */
    cairn_profile_categorical dummy;
    assert_int_equal(cairn_profile_feature_categorical(p0, &dummy), CAIRN_EINVALID);
    assert_int_equal(cairn_profile_feature_numeric(cairn_profile_feature_at(p, 1), &n),
                     CAIRN_EINVALID);

    assert_round_trip(p);
    cairn_profile_free(p);

    /* one output is named "prediction" */
    assert_int_equal(cairn_profile_build(&p, f, pred, 1, &o), 0);
    assert_string_equal(cairn_profile_feature_name(cairn_profile_prediction_at(p, 0)),
                        "prediction");
    cairn_profile_free(p);
    cairn_frame_free(f);
}

/* ---- numpy goldens ------------------------------------------------------- */

static void test_numpy_goldens(void **state)
{
    (void)state;
    json_t *root = load_fixture("numpy_goldens.json");
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 5);
    size_t ci;
    json_t *cs;
    json_array_foreach(cases, ci, cs)
    {
        const char *name = json_string_value(json_object_get(cs, "name"));
        json_t *vals = json_object_get(cs, "values");
        size_t n = json_array_size(vals);
        double *v = malloc(sizeof(double) * n);
        float *v32 = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(vals, i);
            v[i] = json_is_null(x) ? NAN : json_number_value(x);
            v32[i] = (float)v[i];
        }
        cairn_frame *f;
        assert_int_equal(cairn_frame_new(&f, n), 0);
        if (json_is_true(json_object_get(cs, "f32")))
            assert_int_equal(cairn_frame_add_f32(f, name, v32), 0);
        else
            assert_int_equal(cairn_frame_add_f64(f, name, v), 0);
        cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
        o.n_bins = (int)json_integer_value(json_object_get(cs, "n_bins"));
        o.n_hist_bins = (int)json_integer_value(json_object_get(cs, "n_hist_bins"));
        o.sample_size = (int)json_integer_value(json_object_get(cs, "sample_size"));
        cairn_profile *p;
        assert_int_equal(cairn_profile_build(&p, f, NULL, 0, &o), 0);
        cairn_profile_numeric s = numeric_of(p, name);

        assert_true(s.count == (uint64_t)json_integer_value(json_object_get(cs, "count")));
        assert_true(s.missing == (uint64_t)json_integer_value(json_object_get(cs, "missing")));
        assert_bits(s.min, json_number_value(json_object_get(cs, "min")), name, 0);
        assert_bits(s.max, json_number_value(json_object_get(cs, "max")), name, 0);
        assert_rel(s.mean, json_number_value(json_object_get(cs, "mean")), 1e-13, name);
        assert_rel(s.std, json_number_value(json_object_get(cs, "std")), 1e-13, name);

        struct {
            const char *edges, *counts;
            int n;
            const double *e;
            const uint64_t *c;
        } bins[2] = {{"quantile_edges", "quantile_counts", s.n_edges, s.edges, s.bin_counts},
                     {"hist_edges", "hist_counts", s.n_hist_edges, s.hist_edges, s.hist_counts}};
        for (int b = 0; b < 2; b++) {
            json_t *we = json_object_get(cs, bins[b].edges),
                   *wc = json_object_get(cs, bins[b].counts);
            if ((size_t)bins[b].n != json_array_size(we))
                fail_msg("%s %s: %d edges, numpy has %zu", name, bins[b].edges, bins[b].n,
                         json_array_size(we));
            for (int i = 0; i < bins[b].n; i++)
                assert_bits(bins[b].e[i], json_number_value(json_array_get(we, (size_t)i)),
                            bins[b].edges, i);
            for (int i = 0; i + 1 < bins[b].n; i++)
                if (bins[b].c[i] != (uint64_t)json_integer_value(json_array_get(wc, (size_t)i)))
                    fail_msg("%s %s[%d]: %llu", name, bins[b].counts, i,
                             (unsigned long long)bins[b].c[i]);
        }
        json_t *ws = json_object_get(cs, "sample");
        assert_int_equal((size_t)s.n_sample, json_array_size(ws));
        for (int i = 0; i < s.n_sample; i++)
            assert_bits(s.sample[i], json_number_value(json_array_get(ws, (size_t)i)), "sample", i);

        assert_round_trip(p);
        cairn_profile_free(p);
        cairn_frame_free(f);
        free(v);
        free(v32);
    }
    json_decref(root);
}

/* ---- edge cases ---------------------------------------------------------- */

static void test_all_missing(void **state)
{
    (void)state;
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 4), 0);
    double x[4] = {NAN, NAN, NAN, NAN};
    int32_t codes[4] = {-1, -1, -1, -1};
    const char *dict[1] = {"never"};
    assert_int_equal(cairn_frame_add_f64(f, "x", x), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, dict, 1), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    cairn_profile_numeric n = numeric_of(p, "x");
    assert_true(n.count == 0 && n.missing == 4 && n.missing_rate == 1.0);
    assert_true(isnan(n.mean) && isnan(n.std) && isnan(n.min) && isnan(n.max));
    assert_int_equal(n.n_edges, 0);
    assert_int_equal(n.n_hist_edges, 0);
    assert_int_equal(n.n_sample, 0);
    cairn_profile_categorical c = categorical_of(p, "c");
    assert_true(c.count == 0 && c.missing == 4 && c.n_distinct == 0 && c.other_count == 0);
    assert_int_equal(c.n_categories, 0);

    size_t len;
    char *js = to_json(p, &len);
    assert_null(strstr(js, "nan"));
    assert_null(strstr(js, "inf"));
    assert_non_null(strstr(js, "\"mean\": null"));
    cairn_free(js);
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);
}

static void test_constant_and_single_row(void **state)
{
    (void)state;
    double c[50];
    for (int i = 0; i < 50; i++)
        c[i] = i % 7 ? -2.75 : NAN;
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 50), 0);
    assert_int_equal(cairn_frame_add_f64(f, "const", c), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    cairn_profile_numeric n = numeric_of(p, "const");
    assert_true(n.count == 42 && n.missing == 8);
    assert_true(n.mean == -2.75 && n.std == 0);
    assert_int_equal(n.n_edges, 2); /* one bin, [c, c] */
    assert_true(n.edges[0] == -2.75 && n.edges[1] == -2.75 && n.bin_counts[0] == 42);
    assert_int_equal(n.n_hist_edges, 2);
    assert_true(n.hist_counts[0] == 42);
    assert_int_equal(n.n_sample, 42);
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);

    /* a single row, numeric and categorical */
    double one = 7.5;
    int32_t code = 0;
    const char *dict[1] = {"only"};
    assert_int_equal(cairn_frame_new(&f, 1), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", &one), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", &code, dict, 1), 0);
    double pred = 0.25;
    assert_int_equal(cairn_profile_build(&p, f, &pred, 1, NULL), 0);
    n = numeric_of(p, "x");
    assert_true(n.count == 1 && n.mean == 7.5 && n.std == 0 && n.n_edges == 2);
    assert_true(n.edges[0] == 7.5 && n.edges[1] == 7.5 && n.bin_counts[0] == 1);
    assert_true(n.n_sample == 1 && n.sample[0] == 7.5);
    cairn_profile_categorical cc = categorical_of(p, "c");
    assert_true(cc.count == 1 && cc.n_categories == 1 && cc.counts[0] == 1);
    assert_string_equal(cc.names[0], "only");
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);
}

static void test_many_categories(void **state)
{
    (void)state;
    /* 250 categories; category k occurs (k % 50) + 1 times, so counts tie
     * in groups of five and ordering by name decides inside each group */
    enum { K = 250 };
    char *names[K];
    size_t n = 0;
    for (int k = 0; k < K; k++) {
        names[k] = malloc(16);
        snprintf(names[k], 16, "cat%03d", (k * 37) % K); /* dictionary order != name order */
        n += (size_t)(k % 50) + 1;
    }
    int32_t *codes = malloc(sizeof(int32_t) * (n + 3));
    size_t r = 0;
    for (int k = K - 1; k >= 0; k--)
        for (int j = 0; j <= k % 50; j++)
            codes[r++] = k;
    codes[r++] = -1;
    codes[r++] = -1;
    codes[r++] = -1;
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, r), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, (const char *const *)names, K), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0); /* max_categories 100 */
    cairn_profile_categorical c = categorical_of(p, "c");
    assert_true(c.count == n && c.missing == 3 && c.n_distinct == K);
    assert_int_equal(c.n_categories, 100);
    uint64_t kept = 0;
    for (int i = 0; i < c.n_categories; i++) {
        kept += c.counts[i];
        if (i) {
            assert_true(c.counts[i] <= c.counts[i - 1]);
            if (c.counts[i] == c.counts[i - 1]) assert_true(strcmp(c.names[i - 1], c.names[i]) < 0);
        }
    }
    /* the top 100 are the five categories with each count 50, 49, ..., 31 */
    assert_true(c.counts[0] == 50 && c.counts[99] == 31);
    assert_true(kept == 5 * (50 + 31) * 20 / 2);
    assert_true(c.other_count == n - kept && c.other_distinct == K - 100);
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);
    for (int k = 0; k < K; k++)
        free(names[k]);
    free(codes);
}

static void test_duplicate_dictionary_names(void **state)
{
    (void)state;
    int32_t codes[5] = {0, 1, 2, 2, 0};
    const char *dict[3] = {"x", "y", "x"};
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 5), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, dict, 3), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    cairn_profile_categorical c = categorical_of(p, "c");
    assert_int_equal(c.n_categories, 2);
    assert_true(c.n_distinct == 2);
    assert_string_equal(c.names[0], "x");
    assert_true(c.counts[0] == 4 && c.counts[1] == 1);
    cairn_profile_free(p);
    cairn_frame_free(f);
}

static void test_extreme_values(void **state)
{
    (void)state;
    /* a range wider than DBL_MAX, -0.0, subnormals and 0.1: the profile
     * stays finite and every double survives JSON bit for bit */
    double w[6] = {-1.5e308, 1.5e308, 1e308, -0.0, 5e-324, 0.1};
    double z[3] = {-0.0, -0.0, -0.0};
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 6), 0);
    assert_int_equal(cairn_frame_add_f64(f, "wide", w), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    cairn_profile_numeric n = numeric_of(p, "wide");
    assert_true(isfinite(n.mean) && isfinite(n.std));
    assert_rel(n.mean, 1e308 / 6, 1e-15, "wide mean");
    for (int i = 0; i < n.n_edges; i++)
        assert_true(isfinite(n.edges[i]) && (i == 0 || n.edges[i] > n.edges[i - 1]));
    for (int i = 0; i < n.n_hist_edges; i++)
        assert_true(isfinite(n.hist_edges[i]) && (i == 0 || n.hist_edges[i] > n.hist_edges[i - 1]));
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);

    assert_int_equal(cairn_frame_new(&f, 3), 0);
    assert_int_equal(cairn_frame_add_f64(f, "negzero", z), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    n = numeric_of(p, "negzero");
    assert_true(signbit(n.min) && signbit(n.sample[0]));
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_frame_free(f);
}

/* ---- sampled quantiles and determinism ----------------------------------- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

static cairn_frame *big_frame(size_t rows, int cols)
{
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, rows), 0);
    double *v = malloc(sizeof(double) * rows);
    int32_t *codes = malloc(sizeof(int32_t) * rows);
    const char *dict[5] = {"a", "b", "c", "d", "e"};
    uint64_t s = 42;
    for (int j = 0; j < cols; j++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", j);
        if (j % 4 == 3) {
            for (size_t i = 0; i < rows; i++)
                codes[i] = (int32_t)(lcg(&s) % 6) - 1;
            assert_int_equal(cairn_frame_add_cat(f, name, codes, dict, 5), 0);
        } else {
            for (size_t i = 0; i < rows; i++) {
                double u = (double)lcg(&s) / 9007199254740992.0;
                v[i] = u < 0.02 ? NAN : u * (j + 1);
            }
            assert_int_equal(cairn_frame_add_f64(f, name, v), 0);
        }
    }
    free(v);
    free(codes);
    return f;
}

static void test_sampled_quantiles(void **state)
{
    (void)state;
    cairn_frame *f = big_frame(60000, 1);
    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.quantile_rows = 5000;
    cairn_profile *p, *q, *r, *exact;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, &o), 0);
    assert_int_equal(cairn_profile_build(&q, f, NULL, 0, &o), 0);
    o.seed = 7;
    assert_int_equal(cairn_profile_build(&r, f, NULL, 0, &o), 0);
    o.quantile_rows = 0;
    assert_int_equal(cairn_profile_build(&exact, f, NULL, 0, &o), 0);

    cairn_profile_numeric a = numeric_of(p, "f0"), b = numeric_of(q, "f0");
    cairn_profile_numeric c = numeric_of(r, "f0"), e = numeric_of(exact, "f0");
    assert_numeric_same(&a, &b); /* same seed, same profile */
    /* the outer edges are the true min and max, so every row is counted */
    assert_int_equal(a.n_edges, 11);
    assert_true(a.edges[0] == e.min && a.edges[10] == e.max);
    uint64_t sum = 0;
    for (int i = 0; i < 10; i++)
        sum += a.bin_counts[i];
    assert_true(sum == a.count && a.count == e.count);
    /* interior deciles of U(0,1) from 5000 values: within 0.03 of exact */
    int differs = 0;
    for (int i = 1; i < 10; i++) {
        if (fabs(a.edges[i] - e.edges[i]) > 0.03)
            fail_msg("sampled edge %d: %.6f, exact %.6f", i, a.edges[i], e.edges[i]);
        differs |= !same_bits(a.edges[i], c.edges[i]);
    }
    assert_true(differs); /* another seed draws another sample */
    assert_int_equal(a.n_sample, 1000);
    assert_true(a.mean == e.mean && a.std == e.std); /* moments always use every row */
    assert_round_trip(p);
    cairn_profile_free(p);
    cairn_profile_free(q);
    cairn_profile_free(r);
    cairn_profile_free(exact);
    cairn_frame_free(f);
}

static void test_thread_count_independent(void **state)
{
    (void)state;
    cairn_frame *f = big_frame(20000, 12);
    double *pred = malloc(sizeof(double) * 20000 * 3);
    uint64_t s = 9;
    for (size_t i = 0; i < 20000 * 3; i++)
        pred[i] = (double)lcg(&s) / 9007199254740992.0;
    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.quantile_rows = 3000; /* exercise the sampled path too */
    char *js[3];
    size_t len[3];
    int threads[3] = {1, 2, 5};
    int saved = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        cairn_profile *p;
        assert_int_equal(cairn_profile_build(&p, f, pred, 3, &o), 0);
        js[t] = to_json(p, &len[t]);
        cairn_profile_free(p);
    }
    omp_set_num_threads(saved);
    for (int t = 1; t < 3; t++) {
        assert_int_equal(len[t], len[0]);
        assert_memory_equal(js[t], js[0], len[0]);
    }
    for (int t = 0; t < 3; t++)
        cairn_free(js[t]);
    free(pred);
    cairn_frame_free(f);
}

/* ---- build errors -------------------------------------------------------- */

static void test_build_errors(void **state)
{
    (void)state;
    cairn_frame *f;
    cairn_profile *p = (cairn_profile *)&p;
    double x[3] = {1, INFINITY, 2};
    assert_int_equal(cairn_frame_new(&f, 3), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", x), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), CAIRN_EINVALID);
    assert_null(p);
    assert_non_null(strstr(cairn_error_last()->msg, "'x': infinite value at row 1"));
    cairn_frame_free(f);

    double ok[3] = {1, 2, 3};
    assert_int_equal(cairn_frame_new(&f, 3), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", ok), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", ok), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "duplicate"));
    cairn_frame_free(f);

    assert_int_equal(cairn_frame_new(&f, 3), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", ok), 0);
    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.n_bins = 0;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, &o), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "n_bins"));
    o = (cairn_profile_opts)CAIRN_PROFILE_OPTS_INIT;
    o.quantile_rows = 10; /* below sample_size 1000 */
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, &o), CAIRN_EINVALID);
    o = (cairn_profile_opts)CAIRN_PROFILE_OPTS_INIT;
    o.max_categories = 0;
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, &o), CAIRN_EINVALID);
    double pred[3] = {0.5, -INFINITY, 0.5};
    assert_int_equal(cairn_profile_build(&p, f, pred, 0, NULL), CAIRN_EINVALID);
    assert_int_equal(cairn_profile_build(&p, f, pred, 1, NULL), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "'prediction': infinite value at row 1"));
    cairn_frame_free(f);

    assert_int_equal(cairn_frame_new(&f, 0), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), CAIRN_EINVALID);
    cairn_frame_free(f);

    int32_t codes[2] = {0, 0};
    const char *bad[1] = {"caf\xe9"}; /* Latin-1, not UTF-8 */
    assert_int_equal(cairn_frame_new(&f, 2), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, bad, 1), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "utf-8"));
    cairn_frame_free(f);

    /* a bounded output buffer that is too small */
    assert_int_equal(cairn_frame_new(&f, 3), 0);
    assert_int_equal(cairn_frame_add_f64(f, "x", ok), 0);
    assert_int_equal(cairn_profile_build(&p, f, NULL, 0, NULL), 0);
    cairn_buf b = CAIRN_BUF_INIT(100);
    assert_int_equal(cairn_profile_to_json(p, &b), CAIRN_ETOOBIG);
    cairn_buf_free(&b);
    cairn_profile_free(p);
    cairn_frame_free(f);
}

/* ---- reading: a committed file and malformed input ------------------------ */

/* tests/fixtures/profile/valid_v1.json: a hand-written version 1 file (see
 * docs/internals/profile.md), read back and compared with the profile built
 * from the same data, so neither the format nor the builder drifts. */
static void test_read_committed(void **state)
{
    (void)state;
    json_t *j = load_fixture("valid_v1.json");
    char *s = json_dumps(j, 0);
    json_decref(j);
    cairn_profile *p;
    if (cairn_profile_from_json(&p, s, strlen(s))) fail_msg("%s", cairn_error_last()->msg);
    free(s);
    assert_true(cairn_profile_n_rows(p) == 10);
    assert_int_equal(cairn_profile_n_features(p), 2);
    cairn_profile_numeric n = numeric_of(p, "age");
    assert_true(n.count == 9 && n.missing == 1 && n.n_edges == 3 && n.edges[1] == 40.5);
    cairn_profile_categorical c = categorical_of(p, "city");
    assert_true(c.n_categories == 2 && c.other_count == 1);
    assert_string_equal(c.names[0], "paris");
    assert_int_equal(cairn_profile_n_predictions(p), 1);
    assert_round_trip(p);

    double age[10] = {45, 21, NAN, 66, 33, 40.5, 52, 30, 60, 38};
    int32_t codes[10] = {0, 1, 0, 2, 1, 0, 1, 0, 1, 0};
    const char *dict[3] = {"paris", "lyon", "nice"};
    double pred[10] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 10), 0);
    assert_int_equal(cairn_frame_add_f64(f, "age", age), 0);
    assert_int_equal(cairn_frame_add_cat(f, "city", codes, dict, 3), 0);
    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.n_bins = 2;
    o.n_hist_bins = 2;
    o.max_categories = 2;
    o.sample_size = 3;
    cairn_profile *built;
    assert_int_equal(cairn_profile_build(&built, f, pred, 1, &o), 0);
    assert_profile_same(built, p);
    cairn_profile_free(built);
    cairn_frame_free(f);
    cairn_profile_free(p);
}

/* Applies `edit` ("path=json-value", path in dotted form with [i]) to a
 * copy of doc; a value of "DELETE" removes the member. */
static char *mutate(const json_t *doc, const char *path, const char *value)
{
    json_t *copy = json_deep_copy(doc);
    json_t *parent = copy, *node = copy;
    char key[128] = "";
    int idx = -1;
    const char *p = path;
    while (*p) {
        parent = node;
        idx = -1;
        if (*p == '[') {
            char *end;
            idx = (int)strtol(p + 1, &end, 10);
            p = end + 1;
            node = json_array_get(parent, (size_t)idx);
        } else {
            size_t k = strcspn(p, ".[");
            snprintf(key, sizeof(key), "%.*s", (int)k, p);
            p += k;
            node = json_object_get(parent, key);
        }
        if (*p == '.') p++;
        if (!node && *p) fail_msg("bad mutation path %s", path);
    }
    if (!strcmp(value, "DELETE")) {
        if (idx >= 0)
            json_array_remove(parent, (size_t)idx);
        else
            json_object_del(parent, key);
    } else {
        json_error_t err;
        json_t *v = json_loads(value, JSON_DECODE_ANY, &err);
        if (!v) fail_msg("bad mutation value %s", value);
        if (idx >= 0)
            json_array_set_new(parent, (size_t)idx, v);
        else
            json_object_set_new(parent, key, v);
    }
    char *s = json_dumps(copy, 0);
    json_decref(copy);
    return s;
}

static void test_malformed(void **state)
{
    (void)state;
    /* the same frame as test_hand_small, with its options */
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 5), 0);
    double x[5] = {3, 1, NAN, 2, 4};
    int32_t codes[5] = {0, 1, 0, 2, -1};
    const char *dict[3] = {"b", "a", "c"};
    assert_int_equal(cairn_frame_add_f64(f, "x", x), 0);
    assert_int_equal(cairn_frame_add_cat(f, "c", codes, dict, 3), 0);
    double pred[5] = {0.1, 0.2, 0.3, 0.4, 0.5};
    cairn_profile_opts o = CAIRN_PROFILE_OPTS_INIT;
    o.n_bins = 2;
    o.n_hist_bins = 3;
    o.max_categories = 2;
    o.sample_size = 3;
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, f, pred, 1, &o), 0);
    size_t len;
    char *js = to_json(p, &len);
    cairn_profile_free(p);
    cairn_frame_free(f);
    json_error_t err;
    json_t *doc = json_loadb(js, len, 0, &err);
    assert_non_null(doc);

    static const struct {
        const char *path, *value, *want; /* want: a substring of the message */
    } cases[] = {
        {"version", "2", "version"},
        {"version", "\"1\"", "version"},
        {"format", "\"cairn.model\"", "format"},
        {"n_rows", "DELETE", "n_rows: missing"},
        {"n_rows", "6", "features[0].missing"},
        {"options.n_bins", "0", "n_bins"},
        {"options.seed", "\"12x\"", "options.seed"},
        {"features[0].type", "\"text\"", "features[0].type"},
        {"features[0].name", "\"c\"", "duplicate"},
        {"features[0].name", "\"\"", "features[0].name"},
        {"features[0].mean", "DELETE", "features[0].mean: missing"},
        {"features[0].mean", "\"2.5\"", "features[0].mean: not a number"},
        {"features[0].mean", "9.5", "features[0].mean: outside"},
        {"features[0].min", "null", "features[0].min"},
        {"features[0].missing_rate", "0.25", "features[0].missing_rate"},
        {"features[0].quantiles.edges", "[1.0, 3.5, 2.5, 4.0]", "features[0].quantiles.edges"},
        {"features[0].quantiles.edges", "[1.0, 1.0, 4.0]", "strictly increasing"},
        {"features[0].quantiles.edges", "[0.5, 2.5, 4.0]", "[min, max]"},
        {"features[0].quantiles.counts", "[2, 1]", "features[0].quantiles.counts"},
        {"features[0].quantiles.counts", "[2, 2, 0]", "features[0].quantiles.counts"},
        {"features[0].quantiles.counts", "[-1, 5]", "features[0].quantiles.counts"},
        {"features[0].histogram.counts", "[1, 1, 1]", "features[0].histogram.counts"},
        {"features[0].histogram", "DELETE", "features[0].histogram: missing"},
        {"features[0].sample", "[4.0, 3.0, 1.0]", "features[0].sample"},
        {"features[0].sample", "[1.0, 3.0]", "features[0].sample"},
        {"features[1].categories[0].count", "1", "categories[1]"},
        {"features[1].categories[1].value", "7", "features[1].categories[1].value"},
        {"features[1].other.count", "0", "features[1].categories"},
        {"features[1].other.n_distinct", "0", "features[1].n_distinct"},
        {"features[1].n_distinct", "4", "features[1].n_distinct"},
        {"features[1].categories", "DELETE", "features[1].categories: missing"},
        {"predictions[0].type", "\"categorical\"", "predictions[0].type"},
        {"predictions[0].count", "4", "predictions[0].missing"},
        {"features", "{}", "features: not an array"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
        char *bad = mutate(doc, cases[i].path, cases[i].value);
        cairn_profile *q = (cairn_profile *)&q;
        int rc = cairn_profile_from_json(&q, bad, strlen(bad));
        if (rc != CAIRN_EINVALID)
            fail_msg("case %zu (%s=%s) accepted (rc %d)", i, cases[i].path, cases[i].value, rc);
        assert_null(q);
        if (!strstr(cairn_error_last()->msg, cases[i].want))
            fail_msg("case %zu (%s=%s): message '%s' lacks '%s'", i, cases[i].path, cases[i].value,
                     cairn_error_last()->msg, cases[i].want);
        free(bad);
    }

    /* not JSON at all, truncated, NaN literals, duplicate keys, wrong root */
    static const char *raw[] = {
        "",
        "not json",
        "[1, 2]",
        "{\"format\": \"cairn.profile\", \"version\": 1",
        "{\"format\": \"cairn.profile\", \"format\": \"cairn.profile\"}",
        "{\"mean\": NaN}",
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(raw); i++) {
        cairn_profile *q;
        assert_int_equal(cairn_profile_from_json(&q, raw[i], strlen(raw[i])), CAIRN_EINVALID);
        assert_null(q);
    }
    /* a truncation of a valid document at every 97th byte */
    for (size_t cut = 0; cut < len; cut += 97) {
        cairn_profile *q;
        assert_int_equal(cairn_profile_from_json(&q, js, cut), CAIRN_EINVALID);
    }
    /* the unmodified document is accepted */
    cairn_profile *q;
    assert_int_equal(cairn_profile_from_json(&q, js, len), 0);
    cairn_profile_free(q);
    json_decref(doc);
    cairn_free(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_small),
        cmocka_unit_test(test_numpy_goldens),
        cmocka_unit_test(test_all_missing),
        cmocka_unit_test(test_constant_and_single_row),
        cmocka_unit_test(test_many_categories),
        cmocka_unit_test(test_duplicate_dictionary_names),
        cmocka_unit_test(test_extreme_values),
        cmocka_unit_test(test_sampled_quantiles),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_read_committed),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
