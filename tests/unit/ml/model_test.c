/*
 * model_test.c - the model handle: every kind built from real training,
 * prediction against the learners' own predict functions, categorical
 * remapping by name, the native file (round trip, truncation at every byte,
 * single-byte flips with and without a re-sealed checksum, version bump),
 * the JSON dump (parsed with jansson) and the MLmodel YAML (parsed with
 * libyaml). Data come from a seeded PRNG; no tolerance is needed: saved and
 * loaded models must predict bit for bit the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "cairn/gbdt.h"
#include "cairn/linear.h"
#include "cairn/model.h"
#include "cairn/trees.h"
#include "ml/model_internal.h"
#include "support.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unif(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static const char *const COLORS[] = {"red", "green", "blue", "violet"};

/* Training data: x0 (f64, some NaN), x1 (f32), c (categorical, 4 colours,
 * some missing); y for regression, binary and 3-class tasks. */
struct data {
    cairn_frame *X;
    double *y_reg, *y_bin, *y_multi;
    size_t n;
};

static void make_data(struct data *d, size_t n, uint64_t seed, int with_cat, int with_nan)
{
    uint64_t s = seed;
    double *x0 = malloc(sizeof(double) * n);
    float *x1 = malloc(sizeof(float) * n);
    int32_t *c = malloc(sizeof(int32_t) * n);
    d->y_reg = malloc(sizeof(double) * n);
    d->y_bin = malloc(sizeof(double) * n);
    d->y_multi = malloc(sizeof(double) * n);
    d->n = n;
    for (size_t i = 0; i < n; i++) {
        x0[i] = rng_unif(&s) * 4 - 2;
        x1[i] = (float)(rng_unif(&s) * 10);
        c[i] = (int32_t)(rng_next(&s) % 4);
        double eff = c[i] == 0 ? 1.5 : c[i] == 2 ? -1.0 : 0.3;
        double f = 2 * x0[i] - 0.3 * x1[i] + (with_cat ? eff : 0) + 0.2 * rng_unif(&s);
        d->y_reg[i] = f;
        d->y_bin[i] = f > -0.5 ? 1 : 0;
        d->y_multi[i] = f < -1.5 ? 0 : f < 0.5 ? 1 : 2;
        if (with_nan && i % 17 == 3) x0[i] = NAN;
        if (with_cat && i % 23 == 5) c[i] = -1;
    }
    assert_int_equal(cairn_frame_new(&d->X, n), 0);
    assert_int_equal(cairn_frame_add_f64(d->X, "x0", x0), 0);
    assert_int_equal(cairn_frame_add_f32(d->X, "x1", x1), 0);
    if (with_cat) assert_int_equal(cairn_frame_add_cat(d->X, "c", c, COLORS, 4), 0);
    free(x0);
    free(x1);
    free(c);
}

static void data_free(struct data *d)
{
    cairn_frame_free(d->X);
    free(d->y_reg);
    free(d->y_bin);
    free(d->y_multi);
}

static cairn_trees *train_gbdt(const struct data *d, cairn_gbdt_objective obj, uint64_t seed)
{
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = obj;
    o.num_class = obj == CAIRN_GBDT_MULTICLASS ? 3 : 0;
    o.n_rounds = 15;
    o.max_leaves = 8;
    o.min_child_samples = 5;
    o.n_threads = 1;
    o.seed = seed;
    const double *y = obj == CAIRN_GBDT_REGRESSION ? d->y_reg
                      : obj == CAIRN_GBDT_BINARY   ? d->y_bin
                                                   : d->y_multi;
    cairn_trees *t = NULL;
    assert_int_equal(cairn_gbdt_train(&t, d->X, y, NULL, NULL, &o, NULL), 0);
    return t;
}

/* Saves, loads (file and bytes) and checks identical predictions, batch
 * and per row, and that the bytes of a re-save are identical. */
static void check_roundtrip(const cairn_model *m, const cairn_frame *X)
{
    int K = cairn_model_n_outputs(m);
    size_t n = X->nrows;
    double *a = malloc(sizeof(double) * n * (size_t)K), *b = malloc(sizeof(double) * n * K);
    assert_int_equal(cairn_model_predict(m, X, a, 1), 0);

    cairn_buf bytes = CAIRN_BUF_INIT(0), again = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_model_to_bytes(m, &bytes), 0);
    cairn_model *m2 = NULL;
    assert_int_equal(cairn_model_from_bytes(&m2, bytes.ptr, bytes.len), 0);
    assert_int_equal(cairn_model_to_bytes(m2, &again), 0);
    assert_int_equal(bytes.len, again.len);
    assert_memory_equal(bytes.ptr, again.ptr, bytes.len);
    assert_int_equal(cairn_model_kind_of(m2), cairn_model_kind_of(m));
    assert_int_equal(cairn_model_task(m2), cairn_model_task(m));
    assert_int_equal(cairn_model_n_features(m2), cairn_model_n_features(m));
    for (int j = 0; j < cairn_model_n_features(m); j++) {
        assert_string_equal(cairn_model_feature_name(m2, j), cairn_model_feature_name(m, j));
        assert_int_equal(cairn_model_feature_type(m2, j), cairn_model_feature_type(m, j));
    }
    assert_int_equal(cairn_model_predict(m2, X, b, 0), 0);
    assert_memory_equal(a, b, sizeof(double) * n * (size_t)K);

    char *dir = cairn_test_tmpdir("model");
    char path[4096];
    snprintf(path, sizeof(path), "%s/model.cairn", dir);
    assert_int_equal(cairn_model_save(m, path), 0);
    cairn_model *m3 = NULL;
    assert_int_equal(cairn_model_load(&m3, path), 0);
    memset(b, 0, sizeof(double) * n * (size_t)K);
    assert_int_equal(cairn_model_predict(m3, X, b, 2), 0);
    assert_memory_equal(a, b, sizeof(double) * n * (size_t)K);

    /* per row, through the loaded model, in the model's feature order */
    int nf = cairn_model_n_features(m);
    double *x = malloc(sizeof(double) * (size_t)nf), *o = malloc(sizeof(double) * (size_t)K);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < nf; j++)
            x[j] = cairn_frame_get(X, cairn_frame_find(X, cairn_model_feature_name(m, j)), i);
        assert_int_equal(cairn_model_predict_row(m3, x, o), 0);
        assert_memory_equal(o, a + i * (size_t)K, sizeof(double) * (size_t)K);
    }
    free(x);
    free(o);
    cairn_model_free(m2);
    cairn_model_free(m3);
    cairn_test_rmrf(dir);
    free(dir);
    cairn_buf_free(&bytes);
    cairn_buf_free(&again);
    free(a);
    free(b);
}

static cairn_model *tree_model(const struct data *d, cairn_gbdt_objective obj, double *ref)
{
    cairn_trees *t = train_gbdt(d, obj, 7);
    if (ref) assert_int_equal(cairn_trees_predict(t, d->X, ref, 1), 0);
    static const char *const labels3[] = {"low", "mid", "high"};
    cairn_model_schema s = {d->X, "y",
                            obj == CAIRN_GBDT_REGRESSION ? CAIRN_TASK_REGRESSION
                            : obj == CAIRN_GBDT_BINARY   ? CAIRN_TASK_BINARY
                                                         : CAIRN_TASK_MULTICLASS,
                            obj == CAIRN_GBDT_MULTICLASS ? 3
                            : obj == CAIRN_GBDT_BINARY   ? 2
                                                         : 0,
                            obj == CAIRN_GBDT_MULTICLASS ? labels3 : NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_trees(&m, t, &s), 0);
    return m;
}

/* ------------------------------------------------------------------ trees */

static void test_trees_kinds(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 600, 11, 1, 1);
    cairn_gbdt_objective objs[] = {CAIRN_GBDT_REGRESSION, CAIRN_GBDT_BINARY, CAIRN_GBDT_MULTICLASS};
    for (int k = 0; k < 3; k++) {
        double *ref = malloc(sizeof(double) * d.n * 3), *out = malloc(sizeof(double) * d.n * 3);
        cairn_model *m = tree_model(&d, objs[k], ref);
        int K = cairn_model_n_outputs(m);
        assert_int_equal(K, k == 2 ? 3 : 1);
        assert_int_equal(cairn_model_predict(m, d.X, out, 0), 0);
        assert_memory_equal(ref, out, sizeof(double) * d.n * (size_t)K);
        assert_int_equal(cairn_model_feature_type(m, 0), CAIRN_COL_F64);
        assert_int_equal(cairn_model_feature_type(m, 1), CAIRN_COL_F64);
        assert_int_equal(cairn_model_feature_type(m, 2), CAIRN_COL_CAT);
        assert_string_equal(cairn_model_target(m), "y");
        if (k == 1) assert_string_equal(cairn_model_class_label(m, 1), "1");
        if (k == 2) assert_string_equal(cairn_model_class_label(m, 2), "high");
        check_roundtrip(m, d.X);
        cairn_model_free(m);
        free(ref);
        free(out);
    }
    data_free(&d);
}

/* A frame equal to d.X but whose categorical dictionary is in another
 * order (and extended with unseen names): codes rewritten to match. */
static void test_categorical_remap(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 400, 5, 1, 1);
    double *ref = malloc(sizeof(double) * d.n), *out = malloc(sizeof(double) * d.n);
    cairn_model *m = tree_model(&d, CAIRN_GBDT_REGRESSION, ref);

    /* permuted dictionary, with an unseen category first; columns in another order */
    static const char *const dict2[] = {"ultraviolet", "violet", "blue", "red", "green"};
    const int to2[] = {3, 4, 2, 1}; /* old code -> new code */
    const cairn_column *cc = &d.X->cols[2];
    int32_t *codes = malloc(sizeof(int32_t) * d.n), *codes3 = malloc(sizeof(int32_t) * d.n);
    for (size_t i = 0; i < d.n; i++)
        codes[i] = cc->codes[i] < 0 ? -1 : to2[cc->codes[i]];
    cairn_frame *X2;
    assert_int_equal(cairn_frame_new(&X2, d.n), 0);
    assert_int_equal(cairn_frame_add_cat(X2, "c", codes, dict2, 5), 0);
    assert_int_equal(cairn_frame_add_f64(X2, "extra", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f32(X2, "x1", d.X->cols[1].f32), 0);
    assert_int_equal(cairn_frame_add_f64(X2, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_model_predict(m, X2, out, 1), 0);
    assert_memory_equal(ref, out, sizeof(double) * d.n);

    /* unseen category: rows marked "ultraviolet" equal rows with c missing */
    for (size_t i = 0; i < d.n; i++)
        codes3[i] = i % 5 == 0 ? 0 : codes[i];
    cairn_frame *X3, *X4;
    assert_int_equal(cairn_frame_new(&X3, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(X3, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f32(X3, "x1", d.X->cols[1].f32), 0);
    assert_int_equal(cairn_frame_add_cat(X3, "c", codes3, dict2, 5), 0);
    for (size_t i = 0; i < d.n; i++)
        codes3[i] = i % 5 == 0 ? -1 : cc->codes[i];
    assert_int_equal(cairn_frame_new(&X4, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(X4, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f32(X4, "x1", d.X->cols[1].f32), 0);
    assert_int_equal(cairn_frame_add_cat(X4, "c", codes3, COLORS, 4), 0);
    double *o3 = malloc(sizeof(double) * d.n), *o4 = malloc(sizeof(double) * d.n);
    assert_int_equal(cairn_model_predict(m, X3, o3, 1), 0);
    assert_int_equal(cairn_model_predict(m, X4, o4, 1), 0);
    assert_memory_equal(o3, o4, sizeof(double) * d.n);
    /* the missing rows really differ from some known category's prediction */
    int differ = 0;
    for (size_t i = 0; i < d.n; i += 5)
        differ |= o3[i] != ref[i];
    assert_true(differ);

    /* per row: an out-of-range training code counts as missing */
    double x[3] = {0.5, 3.0, 17}, xm[3] = {0.5, 3.0, -1}, p1, p2;
    assert_int_equal(cairn_model_predict_row(m, x, &p1), 0);
    assert_int_equal(cairn_model_predict_row(m, xm, &p2), 0);
    assert_true(p1 == p2);

    /* a numeric feature given as f64 instead of f32 (same values) */
    cairn_frame *X5;
    double *x1d = malloc(sizeof(double) * d.n);
    for (size_t i = 0; i < d.n; i++)
        x1d[i] = d.X->cols[1].f32[i];
    assert_int_equal(cairn_frame_new(&X5, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(X5, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f64(X5, "x1", x1d), 0);
    assert_int_equal(cairn_frame_add_cat(X5, "c", cc->codes, COLORS, 4), 0);
    assert_int_equal(cairn_model_predict(m, X5, out, 1), 0);
    assert_memory_equal(ref, out, sizeof(double) * d.n);

    free(x1d);
    free(o3);
    free(o4);
    free(codes);
    free(codes3);
    cairn_frame_free(X2);
    cairn_frame_free(X3);
    cairn_frame_free(X4);
    cairn_frame_free(X5);
    cairn_model_free(m);
    free(ref);
    free(out);
    data_free(&d);
}

static void test_missing_and_mistyped_feature(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 200, 3, 1, 0);
    cairn_model *m = tree_model(&d, CAIRN_GBDT_BINARY, NULL);
    double *out = malloc(sizeof(double) * d.n);
    cairn_frame *X;
    assert_int_equal(cairn_frame_new(&X, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(X, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_cat(X, "c", d.X->cols[2].codes, COLORS, 4), 0);
    assert_int_equal(cairn_model_predict(m, X, out, 1), CAIRN_EINVALID);
    assert_string_equal(cairn_error_last()->msg, "feature 'x1' is missing from the input");
    /* x1 present but categorical */
    assert_int_equal(cairn_frame_add_cat(X, "x1", d.X->cols[2].codes, COLORS, 4), 0);
    assert_int_equal(cairn_model_predict(m, X, out, 1), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "'x1' is numeric"));
    cairn_frame_free(X);
    /* c given as a number */
    assert_int_equal(cairn_frame_new(&X, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(X, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f32(X, "x1", d.X->cols[1].f32), 0);
    assert_int_equal(cairn_frame_add_f64(X, "c", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_model_predict(m, X, out, 1), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "'c' is categorical"));
    cairn_frame_free(X);
    free(out);
    cairn_model_free(m);
    data_free(&d);
}

static void test_constructor_errors(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 200, 9, 1, 0);
    cairn_trees *t = train_gbdt(&d, CAIRN_GBDT_BINARY, 1);
    cairn_model *m = (cairn_model *)1;
    /* 3 classes for a one-output ensemble; the ensemble is freed (ASan/LSan) */
    cairn_model_schema s = {d.X, "y", CAIRN_TASK_MULTICLASS, 3, NULL};
    assert_int_equal(cairn_model_from_trees(&m, t, &s), CAIRN_EINVALID);
    assert_null(m);
    /* feature count mismatch for a linear model */
    cairn_frame *F;
    assert_int_equal(cairn_frame_new(&F, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(F, "x0", d.X->cols[0].f64), 0);
    cairn_linear_opts lo = CAIRN_LINEAR_OPTS_INIT;
    cairn_linear *lm = NULL;
    assert_int_equal(cairn_linear_fit(&lm, F, d.y_reg, &lo), 0);
    cairn_model_schema s2 = {d.X, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    assert_int_equal(cairn_model_from_linear(&m, lm, &s2), CAIRN_EINVALID);
    assert_null(m);
    /* duplicate feature names */
    cairn_frame *G;
    assert_int_equal(cairn_frame_new(&G, d.n), 0);
    assert_int_equal(cairn_frame_add_f64(G, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_frame_add_f64(G, "x0", d.X->cols[0].f64), 0);
    assert_int_equal(cairn_linear_fit(&lm, G, d.y_reg, &lo), 0);
    cairn_model_schema s3 = {G, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    assert_int_equal(cairn_model_from_linear(&m, lm, &s3), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "duplicate"));
    cairn_frame_free(G);
    cairn_frame_free(F);
    data_free(&d);
}

/* -------------------------------------------------------- dense learners */

static void test_linear(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 300, 21, 0, 0);
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    o.penalty = CAIRN_LINEAR_RIDGE;
    o.alpha = 0.5;
    cairn_linear *lm = NULL;
    assert_int_equal(cairn_linear_fit(&lm, d.X, d.y_reg, &o), 0);
    double *ref = malloc(sizeof(double) * d.n), *out = malloc(sizeof(double) * d.n);
    assert_int_equal(cairn_linear_predict(lm, d.X, ref), 0);
    cairn_model_schema s = {d.X, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_linear(&m, lm, &s), 0);
    assert_int_equal(cairn_model_predict(m, d.X, out, 0), 0);
    assert_memory_equal(ref, out, sizeof(double) * d.n);
    check_roundtrip(m, d.X);
    cairn_model_free(m);
    free(ref);
    free(out);
    data_free(&d);
}

static void test_logistic(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 300, 23, 0, 0);
    for (int multi = 0; multi < 2; multi++) {
        int32_t *y = malloc(sizeof(int32_t) * d.n);
        for (size_t i = 0; i < d.n; i++) /* labels 3/7 or 3/5/7 */
            y[i] = multi ? 3 + 2 * (int32_t)d.y_multi[i] : d.y_bin[i] ? 7 : 3;
        cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
        o.C = 0.8;
        cairn_logistic *lm = NULL;
        assert_int_equal(cairn_logistic_fit(&lm, d.X, y, &o), 0);
        int K = cairn_logistic_nclasses(lm);
        assert_int_equal(K, multi ? 3 : 2);
        double *ref = malloc(sizeof(double) * d.n * K), *out = malloc(sizeof(double) * d.n * K);
        assert_int_equal(cairn_logistic_predict_proba(lm, d.X, ref), 0);
        cairn_model_schema s = {d.X, "y", multi ? CAIRN_TASK_MULTICLASS : CAIRN_TASK_BINARY, K,
                                NULL};
        cairn_model *m = NULL;
        assert_int_equal(cairn_model_from_logistic(&m, lm, &s), 0);
        assert_int_equal(cairn_model_n_outputs(m), multi ? 3 : 1);
        assert_string_equal(cairn_model_class_label(m, 0), "3");
        assert_string_equal(cairn_model_class_label(m, K - 1), "7");
        assert_int_equal(cairn_model_predict(m, d.X, out, 0), 0);
        for (size_t i = 0; i < d.n; i++) {
            if (multi)
                for (int k = 0; k < K; k++)
                    assert_true(out[i * K + k] == ref[i * K + k]);
            else
                assert_true(out[i] == ref[i * 2 + 1]); /* probability of class 1 */
        }
        check_roundtrip(m, d.X);
        cairn_model_free(m);
        free(ref);
        free(out);
        free(y);
    }
    data_free(&d);
}

static void test_kmeans(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 300, 29, 0, 0);
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    o.k = 4;
    o.seed = 3;
    cairn_kmeans *km = NULL;
    assert_int_equal(cairn_kmeans_fit(&km, d.X, &o), 0);
    int32_t *lab = malloc(sizeof(int32_t) * d.n);
    double *out = malloc(sizeof(double) * d.n);
    assert_int_equal(cairn_kmeans_predict(km, d.X, lab), 0);
    cairn_model_schema s = {d.X, NULL, CAIRN_TASK_CLUSTERING, 0, NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_kmeans(&m, km, &s), 0);
    assert_null(cairn_model_target(m));
    assert_int_equal(cairn_model_predict(m, d.X, out, 0), 0);
    for (size_t i = 0; i < d.n; i++)
        assert_true(out[i] == (double)lab[i]);
    check_roundtrip(m, d.X);
    cairn_model_free(m);
    free(lab);
    free(out);
    data_free(&d);
}

/* Large batch: the parallel path equals the single-threaded one. */
static void test_threads(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 5000, 31, 0, 0);
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    int32_t *y = malloc(sizeof(int32_t) * d.n);
    for (size_t i = 0; i < d.n; i++)
        y[i] = (int32_t)d.y_multi[i];
    cairn_logistic *lm = NULL;
    assert_int_equal(cairn_logistic_fit(&lm, d.X, y, &o), 0);
    cairn_model_schema s = {d.X, "y", CAIRN_TASK_MULTICLASS, 3, NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_logistic(&m, lm, &s), 0);
    double *a = malloc(sizeof(double) * d.n * 3), *b = malloc(sizeof(double) * d.n * 3);
    assert_int_equal(cairn_model_predict(m, d.X, a, 1), 0);
    assert_int_equal(cairn_model_predict(m, d.X, b, 4), 0);
    assert_memory_equal(a, b, sizeof(double) * d.n * 3);
    cairn_model_free(m);
    free(a);
    free(b);
    free(y);
    data_free(&d);
}

/* --------------------------------------------------------- corrupt files */

static void expect_corrupt(const void *p, size_t n)
{
    cairn_model *m = (cairn_model *)1;
    int rc = cairn_model_from_bytes(&m, p, n);
    if (rc != CAIRN_ECORRUPT) fail_msg("length %zu: rc %d (%s)", n, rc, cairn_error_last()->msg);
    assert_null(m);
    assert_true(cairn_error_last()->msg[0] != '\0');
}

static void reseal(uint8_t *p, size_t n)
{
    if (n >= 72) assert_int_equal(cairn_model__digest(p, n, p + 40), 0);
}

static void corrupt_model(cairn_model *m, const cairn_frame *X, uint64_t seed)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_model_to_bytes(m, &b), 0);
    uint8_t *p = malloc(b.len);
    /* truncation at every offset, sealed and unsealed */
    for (size_t n = 0; n < b.len; n++) {
        memcpy(p, b.ptr, n);
        expect_corrupt(p, n);
        if (n >= 72) {
            uint64_t len = n;
            for (int i = 0; i < 8; i++)
                p[24 + i] = (uint8_t)(len >> (8 * i));
            reseal(p, n);
            expect_corrupt(p, n);
        }
    }
    double *out = malloc(sizeof(double) * X->nrows * (size_t)cairn_model_n_outputs(m));
    uint64_t s = seed;
    int loaded = 0;
    for (int trial = 0; trial < 400; trial++) {
        size_t at = trial < 72 ? (size_t)trial : (size_t)(rng_next(&s) % b.len);
        uint8_t x = (uint8_t)(1 + rng_next(&s) % 255);
        memcpy(p, b.ptr, b.len);
        p[at] ^= x;
        cairn_model *m2 = (cairn_model *)1;
        int rc = cairn_model_from_bytes(&m2, p, b.len);
        if (at >= 8 && at < 12)
            assert_true(rc == CAIRN_ECORRUPT || rc == CAIRN_EUNSUPPORTED);
        else
            assert_int_equal(rc, CAIRN_ECORRUPT);
        assert_null(m2);
        /* the same flip behind a valid checksum reaches the section parsers:
         * an error, or a model that predicts without crashing */
        if (at >= 40 && at < 72) continue;
        reseal(p, b.len);
        rc = cairn_model_from_bytes(&m2, p, b.len);
        if (rc == 0) {
            loaded++;
            cairn_model_predict(m2, X, out, 1);
            cairn_buf j = CAIRN_BUF_INIT(0);
            assert_int_equal(cairn_model_to_json(m2, &j), 0);
            cairn_buf_free(&j);
            cairn_model_free(m2);
        } else {
            assert_true(rc == CAIRN_ECORRUPT || rc == CAIRN_EUNSUPPORTED);
            assert_null(m2);
        }
    }
    assert_true(loaded < 400);
    free(out);
    free(p);
    cairn_buf_free(&b);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 200, 41, 1, 1);
    cairn_model *m = tree_model(&d, CAIRN_GBDT_MULTICLASS, NULL);
    corrupt_model(m, d.X, 1);
    cairn_model_free(m);
    data_free(&d);

    make_data(&d, 200, 43, 0, 0);
    int32_t *y = malloc(sizeof(int32_t) * d.n);
    for (size_t i = 0; i < d.n; i++)
        y[i] = (int32_t)d.y_multi[i];
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    cairn_logistic *lm = NULL;
    assert_int_equal(cairn_logistic_fit(&lm, d.X, y, &o), 0);
    cairn_model_schema s = {d.X, "y", CAIRN_TASK_MULTICLASS, 3, NULL};
    assert_int_equal(cairn_model_from_logistic(&m, lm, &s), 0);
    corrupt_model(m, d.X, 2);
    cairn_model_free(m);
    free(y);
    data_free(&d);

    expect_corrupt(NULL, 0);
    expect_corrupt("CAIRNMDL", 8);
    expect_corrupt("XAIRNMDL\1\0\0\0", 12);
}

static void test_version_bump(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 100, 47, 0, 0);
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    o.k = 2;
    cairn_kmeans *km = NULL;
    assert_int_equal(cairn_kmeans_fit(&km, d.X, &o), 0);
    cairn_model_schema s = {d.X, NULL, CAIRN_TASK_CLUSTERING, 0, NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_kmeans(&m, km, &s), 0);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_model_to_bytes(m, &b), 0);
    assert_memory_equal(b.ptr, "CAIRNMDL\1\0\0\0", 12);
    b.ptr[8] = 2;
    cairn_model *m2 = NULL;
    assert_int_equal(cairn_model_from_bytes(&m2, b.ptr, b.len), CAIRN_EUNSUPPORTED);
    assert_non_null(strstr(cairn_error_last()->msg, "version 2"));
    reseal((uint8_t *)b.ptr, b.len);
    assert_int_equal(cairn_model_from_bytes(&m2, b.ptr, b.len), CAIRN_EUNSUPPORTED);
    /* a truncated newer file is still "newer", not "corrupt" */
    assert_int_equal(cairn_model_from_bytes(&m2, b.ptr, 20), CAIRN_EUNSUPPORTED);
    assert_null(m2);
    b.ptr[8] = 1;
    reseal((uint8_t *)b.ptr, b.len);
    assert_int_equal(cairn_model_from_bytes(&m2, b.ptr, b.len), 0);
    cairn_model_free(m2);
    /* missing file */
    assert_int_equal(cairn_model_load(&m2, "/nonexistent-dir/model.cairn"), CAIRN_ENOTFOUND);
    cairn_buf_free(&b);
    cairn_model_free(m);
    data_free(&d);
}

/* Property: save/load identity for several seeds and kinds. */
static void test_roundtrip_seeds(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed < 106; seed++) {
        struct data d;
        make_data(&d, 150 + (size_t)(seed % 3) * 50, seed, seed % 2 == 0, seed % 3 == 0);
        cairn_model *m = tree_model(&d, (cairn_gbdt_objective)(seed % 3), NULL);
        check_roundtrip(m, d.X);
        cairn_model_free(m);
        data_free(&d);
    }
}

/* ------------------------------------------------------------ JSON, YAML */

static void test_json(void **state)
{
    (void)state;
    struct data d;
    make_data(&d, 300, 51, 1, 1);
    cairn_model *m = tree_model(&d, CAIRN_GBDT_MULTICLASS, NULL);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_model_to_json(m, &b), 0);
    json_error_t err;
    json_t *j = json_loadb(b.ptr, b.len, 0, &err);
    if (!j) fail_msg("json: %s", err.text);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "gbdt");
    assert_string_equal(json_string_value(json_object_get(j, "task")), "multiclass");
    json_t *schema = json_object_get(j, "schema");
    json_t *feats = json_object_get(schema, "features");
    assert_int_equal(json_array_size(feats), 3);
    json_t *c = json_array_get(feats, 2);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "c");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "categorical");
    assert_int_equal(json_array_size(json_object_get(c, "categories")), 4);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(schema, "class_labels"), 1)), "mid");
    json_t *params = json_object_get(j, "params");
    assert_string_equal(json_string_value(json_object_get(params, "transform")), "softmax");
    json_t *trees = json_object_get(params, "trees");
    const cairn_trees *t = m->trees;
    assert_int_equal(json_array_size(trees), cairn_trees_n_trees(t));
    /* every node matches the runtime's, and some split is categorical */
    int n_cat = 0;
    for (size_t i = 0; i < json_array_size(trees); i++) {
        int n;
        const cairn_tree_node *nd = cairn_trees_tree(t, (int)i, &n);
        json_t *nodes = json_object_get(json_array_get(trees, i), "nodes");
        assert_int_equal(json_array_size(nodes), n);
        for (int q = 0; q < n; q++) {
            json_t *o = json_array_get(nodes, (size_t)q);
            if (nd[q].left < 0) {
                assert_true(json_real_value(json_object_get(o, "leaf")) == nd[q].value);
                continue;
            }
            assert_int_equal(json_integer_value(json_object_get(o, "left")), nd[q].left);
            assert_int_equal(json_integer_value(json_object_get(o, "feature")), nd[q].feature);
            assert_int_equal(json_is_true(json_object_get(o, "default_left")), nd[q].default_left);
            if (nd[q].is_categorical) {
                n_cat++;
                assert_true(json_array_size(json_object_get(o, "categories")) > 0);
            } else {
                assert_true((float)json_real_value(json_object_get(o, "threshold")) ==
                            nd[q].threshold);
            }
        }
    }
    assert_true(n_cat > 0);
    json_decref(j);
    cairn_buf_free(&b);
    cairn_model_free(m);
    data_free(&d);

    /* linear: coefficients and intercept */
    make_data(&d, 100, 53, 0, 0);
    cairn_linear_opts lo = CAIRN_LINEAR_OPTS_INIT;
    cairn_linear *lm = NULL;
    assert_int_equal(cairn_linear_fit(&lm, d.X, d.y_reg, &lo), 0);
    double c0 = cairn_linear_coef(lm)[0];
    cairn_model_schema s = {d.X, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    assert_int_equal(cairn_model_from_linear(&m, lm, &s), 0);
    assert_int_equal(cairn_model_to_json(m, &b), 0);
    j = json_loadb(b.ptr, b.len, 0, &err);
    assert_non_null(j);
    json_t *coef = json_object_get(json_object_get(j, "params"), "coef");
    assert_int_equal(json_array_size(coef), 2);
    assert_true(json_real_value(json_array_get(coef, 0)) == c0);
    json_decref(j);
    cairn_buf_free(&b);
    cairn_model_free(m);
    data_free(&d);
}

/* Value of the scalar at a path of mapping keys in a libyaml document. */
static const char *yaml_get(yaml_document_t *doc, const char *const *path, int n)
{
    yaml_node_t *node = yaml_document_get_root_node(doc);
    for (int i = 0; i < n; i++) {
        if (!node || node->type != YAML_MAPPING_NODE) return NULL;
        yaml_node_t *next = NULL;
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, path[i]))
                next = yaml_document_get_node(doc, p->value);
        }
        node = next;
    }
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static void test_mlmodel_yaml(void **state)
{
    (void)state;
    /* feature names that need quoting in YAML and escaping in JSON */
    const char *names[] = {"it's", "a: \"b\"\n#c", "caf\xc3\xa9"};
    double v[4] = {1, 2, 3, 4}, y[4] = {1, 3, 2, 5};
    cairn_frame *X;
    assert_int_equal(cairn_frame_new(&X, 4), 0);
    for (int j = 0; j < 2; j++)
        assert_int_equal(cairn_frame_add_f64(X, names[j], v), 0);
    const int32_t codes[4] = {0, 1, 0, 1};
    static const char *const dict[] = {"u", "w"};
    assert_int_equal(cairn_frame_add_cat(X, names[2], codes, dict, 2), 0);
    cairn_trees *t;
    assert_int_equal(cairn_trees_new(&t, 3, names, 1, CAIRN_TREES_IDENTITY, y), 0);
    cairn_model_schema s = {X, "target 'y'", CAIRN_TASK_REGRESSION, 0, NULL};
    cairn_model *m = NULL;
    assert_int_equal(cairn_model_from_trees(&m, t, &s), 0);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_model_mlmodel_yaml(m, "0123456789abcdef'x", &b), 0);

    yaml_parser_t parser;
    yaml_document_t doc;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.ptr, b.len);
    if (!yaml_parser_load(&parser, &doc)) fail_msg("yaml: %s\n%s", parser.problem, b.ptr);
    const char *p1[] = {"flavors", "cairn", "model_file"};
    assert_string_equal(yaml_get(&doc, p1, 3), "model.cairn");
    const char *p2[] = {"flavors", "cairn", "format_version"};
    assert_string_equal(yaml_get(&doc, p2, 3), "1");
    const char *p3[] = {"flavors", "cairn", "kind"};
    assert_string_equal(yaml_get(&doc, p3, 3), "gbdt");
    const char *p4[] = {"flavors", "python_function"};
    assert_null(yaml_get(&doc, p4, 2));
    const char *p5[] = {"run_id"};
    assert_string_equal(yaml_get(&doc, p5, 1), "0123456789abcdef'x");
    const char *p6[] = {"model_uuid"};
    assert_int_equal(strlen(yaml_get(&doc, p6, 1)), 32);
    const char *p7[] = {"utc_time_created"};
    const char *when = yaml_get(&doc, p7, 1);
    assert_non_null(when);
    assert_int_equal(strlen(when), 26); /* YYYY-MM-DD HH:MM:SS.ffffff */
    assert_true(when[4] == '-' && when[10] == ' ' && when[13] == ':' && when[19] == '.');
    const char *p8[] = {"signature", "inputs"};
    const char *inputs = yaml_get(&doc, p8, 2);
    assert_non_null(inputs);
    json_error_t err;
    json_t *j = json_loads(inputs, 0, &err);
    if (!j) fail_msg("signature json: %s: %s", err.text, inputs);
    assert_int_equal(json_array_size(j), 3);
    for (int k = 0; k < 3; k++) {
        json_t *o = json_array_get(j, (size_t)k);
        assert_string_equal(json_string_value(json_object_get(o, "name")), names[k]);
        assert_string_equal(json_string_value(json_object_get(o, "type")),
                            k == 2 ? "string" : "double");
    }
    json_decref(j);
    /* MLflow's json.dumps style: ", " and ": " separators, ASCII escapes */
    assert_true(strncmp(inputs, "[{\"type\": \"double\", \"name\": \"it's\"", 34) == 0);
    assert_non_null(strstr(inputs, "caf\\u00e9"));
    const char *p9[] = {"signature", "outputs"};
    const char *outputs = yaml_get(&doc, p9, 2);
    assert_string_equal(outputs,
                        "[{\"type\": \"double\", \"name\": \"target 'y'\", \"required\": true}]");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    cairn_buf_free(&b);

    /* invalid UTF-8 run id */
    assert_int_equal(cairn_model_mlmodel_yaml(m, "\xff", &b), CAIRN_EINVALID);
    cairn_buf_free(&b);
    cairn_model_free(m);
    cairn_frame_free(X);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trees_kinds),
        cmocka_unit_test(test_categorical_remap),
        cmocka_unit_test(test_missing_and_mistyped_feature),
        cmocka_unit_test(test_constructor_errors),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_logistic),
        cmocka_unit_test(test_kmeans),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_version_bump),
        cmocka_unit_test(test_roundtrip_seeds),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_mlmodel_yaml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
