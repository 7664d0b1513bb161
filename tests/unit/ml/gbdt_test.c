/*
 * gbdt_test.c - the GBDT learner and the tree-ensemble runtime.
 *
 * Quality is checked against xgboost 1.7 `tree_method=hist` (lossguide, 31
 * leaves, 100 rounds, eta 0.1, lambda 1) on the fixtures written by
 * tests/fixtures/gen_gbdt.py; tolerances: AUC within 0.01, RMSE and
 * logloss within 5%, accuracy within 0.02. The other tests build their data
 * with a seeded PRNG: determinism across thread counts, native categorical
 * splits, learned missing directions, early stopping, row versus batch
 * prediction, and edge cases.
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

#include "cairn/gbdt.h"
#include "cairn/trees.h"

/* ---------------------------------------------------------------- helpers */

struct dataset {
    cairn_frame *X;
    double *y;
};

static void dataset_free(struct dataset *d)
{
    cairn_frame_free(d->X);
    free(d->y);
}

static const char *source_dir(void)
{
    const char *s = getenv("CAIRN_SOURCE_DIR");
    return s && *s ? s : CAIRN_SOURCE_DIR;
}

static FILE *open_fixture(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/gbdt/%s", source_dir(), name);
    FILE *fh = fopen(path, "r");
    if (!fh) fail_msg("cannot open fixture %s", path);
    return fh;
}

/* Reads a fixture CSV: header f0..fk,y; empty cell = NaN. Features become
 * float32 columns, the last column the labels. */
static void load_csv(const char *name, struct dataset *d)
{
    FILE *fh = open_fixture(name);
    char *line = NULL;
    size_t cap = 0;
    assert_true(getline(&line, &cap, fh) > 0);
    int ncol = 1;
    for (char *p = line; *p; p++)
        ncol += *p == ',';
    int nf = ncol - 1;
    size_t n = 0, rcap = 1024;
    float **cols = calloc((size_t)nf, sizeof(float *));
    for (int j = 0; j < nf; j++)
        cols[j] = malloc(sizeof(float) * rcap);
    double *y = malloc(sizeof(double) * rcap);
    while (getline(&line, &cap, fh) > 0) {
        if (n == rcap) {
            rcap *= 2;
            for (int j = 0; j < nf; j++)
                cols[j] = realloc(cols[j], sizeof(float) * rcap);
            y = realloc(y, sizeof(double) * rcap);
        }
        char *p = line;
        for (int j = 0; j < ncol; j++) {
            double v = NAN;
            if (*p != ',' && *p != '\n' && *p) {
                char *end;
                v = strtod(p, &end);
                p = end;
            }
            if (j < nf)
                cols[j][n] = (float)v;
            else
                y[n] = v;
            if (*p == ',') p++;
        }
        n++;
    }
    free(line);
    fclose(fh);
    assert_int_equal(cairn_frame_new(&d->X, n), 0);
    char nm[32];
    for (int j = 0; j < nf; j++) {
        snprintf(nm, sizeof(nm), "f%d", j);
        assert_int_equal(cairn_frame_add_f32(d->X, nm, cols[j]), 0);
        free(cols[j]);
    }
    free(cols);
    d->y = y;
}

static double expected(const char *key)
{
    FILE *fh = open_fixture("expected.txt");
    char k[64];
    double v = NAN;
    char line[256];
    while (fgets(line, sizeof(line), fh))
        if (line[0] != '#' && sscanf(line, "%63s %lf", k, &v) == 2 && !strcmp(k, key))
            break;
        else
            v = NAN;
    fclose(fh);
    if (isnan(v)) fail_msg("no expected value %s", key);
    return v;
}

static const double *g_scores;
static int cmp_score(const void *a, const void *b)
{
    double x = g_scores[*(const size_t *)a], y = g_scores[*(const size_t *)b];
    return (x > y) - (x < y);
}

/* Exact ROC AUC (Mann-Whitney with average ranks for ties). */
static double auc(const double *score, const double *y, size_t n)
{
    size_t *ord = malloc(sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        ord[i] = i;
    g_scores = score;
    qsort(ord, n, sizeof(size_t), cmp_score);
    double rank_pos = 0, npos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && score[ord[j]] == score[ord[i]])
            j++;
        double avg = (double)(i + j + 1) / 2.0; /* ranks i+1..j */
        for (size_t k = i; k < j; k++)
            if (y[ord[k]] > 0.5) {
                rank_pos += avg;
                npos++;
            }
        i = j;
    }
    free(ord);
    double nneg = (double)n - npos;
    return (rank_pos - npos * (npos + 1) / 2) / (npos * nneg);
}

static double logloss(const double *p, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax(p[i], 1e-15), 1 - 1e-15);
        s -= y[i] * log(q) + (1 - y[i]) * log(1 - q);
    }
    return s / (double)n;
}

static cairn_gbdt_opts xgb_like(cairn_gbdt_objective obj)
{
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = obj;
    o.n_rounds = 100;
    o.learning_rate = 0.1;
    o.max_leaves = 31;
    o.max_depth = 0;
    o.lambda_l2 = 1.0;
    o.min_child_samples = 1;
    o.min_child_weight = 1.0;
    o.max_bins = 255;
    return o;
}

static double *predict(const cairn_trees *m, const cairn_frame *X)
{
    double *p = malloc(sizeof(double) * X->nrows * (size_t)cairn_trees_n_outputs(m));
    assert_int_equal(cairn_trees_predict(m, X, p, 2), 0);
    return p;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unif(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* --------------------------------------------------------- xgboost quality */

static void test_quality_binary(void **state)
{
    (void)state;
    struct dataset tr, te;
    load_csv("binary_train.csv", &tr);
    load_csv("binary_test.csv", &te);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_BINARY);
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    assert_int_equal(cairn_trees_n_trees(m), 100);
    double *p = predict(m, te.X);
    double a = auc(p, te.y, te.X->nrows), ll = logloss(p, te.y, te.X->nrows);
    double xa = expected("binary_auc"), xll = expected("binary_logloss");
    print_message("binary: cairn auc %.4f logloss %.4f | xgboost auc %.4f logloss %.4f\n", a, ll,
                  xa, xll);
    assert_true(a >= xa - 0.01);
    assert_true(ll <= xll * 1.05);
    free(p);
    cairn_trees_free(m);
    dataset_free(&tr);
    dataset_free(&te);
}

static void test_quality_regression(void **state)
{
    (void)state;
    struct dataset tr, te;
    load_csv("regression_train.csv", &tr);
    load_csv("regression_test.csv", &te);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_REGRESSION);
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    double *p = predict(m, te.X), s = 0;
    for (size_t i = 0; i < te.X->nrows; i++)
        s += (p[i] - te.y[i]) * (p[i] - te.y[i]);
    double rmse = sqrt(s / (double)te.X->nrows), xr = expected("regression_rmse");
    print_message("regression: cairn rmse %.4f | xgboost rmse %.4f\n", rmse, xr);
    assert_true(rmse <= xr * 1.05);
    free(p);
    cairn_trees_free(m);
    dataset_free(&tr);
    dataset_free(&te);
}

static void test_quality_multiclass(void **state)
{
    (void)state;
    struct dataset tr, te;
    load_csv("multiclass_train.csv", &tr);
    load_csv("multiclass_test.csv", &te);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_MULTICLASS);
    o.num_class = 3;
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    assert_int_equal(cairn_trees_n_trees(m), 300);
    assert_int_equal(cairn_trees_n_outputs(m), 3);
    double *p = predict(m, te.X), ll = 0, acc = 0;
    size_t n = te.X->nrows;
    for (size_t i = 0; i < n; i++) {
        const double *q = p + 3 * i;
        assert_true(fabs(q[0] + q[1] + q[2] - 1) < 1e-9);
        int c = (int)te.y[i], am = 0;
        for (int k = 1; k < 3; k++)
            if (q[k] > q[am]) am = k;
        acc += am == c;
        ll -= log(fmax(q[c], 1e-15));
    }
    ll /= (double)n;
    acc /= (double)n;
    double xll = expected("multiclass_mlogloss"), xacc = expected("multiclass_accuracy");
    print_message("multiclass: cairn mlogloss %.4f acc %.4f | xgboost mlogloss %.4f acc %.4f\n", ll,
                  acc, xll, xacc);
    assert_true(ll <= xll * 1.05);
    assert_true(acc >= xacc - 0.02);
    free(p);
    cairn_trees_free(m);
    dataset_free(&tr);
    dataset_free(&te);
}

/* ------------------------------------------------------------ determinism */

static void assert_same_model(const cairn_trees *a, const cairn_trees *b)
{
    assert_int_equal(cairn_trees_n_trees(a), cairn_trees_n_trees(b));
    for (int t = 0; t < cairn_trees_n_trees(a); t++) {
        int na, nb;
        const cairn_tree_node *x = cairn_trees_tree(a, t, &na), *y = cairn_trees_tree(b, t, &nb);
        assert_int_equal(na, nb);
        for (int i = 0; i < na; i++) {
            assert_int_equal(x[i].feature, y[i].feature);
            assert_int_equal(x[i].left, y[i].left);
            assert_int_equal(x[i].right, y[i].right);
            assert_int_equal(x[i].default_left, y[i].default_left);
            assert_true(memcmp(&x[i].threshold, &y[i].threshold, sizeof(float)) == 0);
            assert_true(memcmp(&x[i].value, &y[i].value, sizeof(double)) == 0);
            assert_true(memcmp(&x[i].gain, &y[i].gain, sizeof(float)) == 0);
        }
    }
}

/* A binary task big enough that histograms are built in parallel (rows x
 * features of the larger nodes above 2^18): 60000 rows, 11 numeric features
 * (some NaN) and a categorical one. */
static void make_big_task(struct dataset *d)
{
    const size_t n = 60000;
    uint64_t s = 2024;
    float *x = malloc(sizeof(float) * n * 11);
    int32_t *codes = malloc(sizeof(int32_t) * n);
    d->y = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * 11;
        for (int j = 0; j < 11; j++)
            r[j] = (float)(rng_unif(&s) * 4 - 2);
        codes[i] = (int32_t)(rng_next(&s) % 12);
        double z = r[0] * r[1] + sin(3 * r[2]) + (r[3] > 0.3) - 0.5 * r[4] + (codes[i] % 3 == 0);
        d->y[i] = z + 0.7 * (rng_unif(&s) - 0.5) > 0.5;
        if (rng_unif(&s) < 0.1) r[0] = NAN;
        if (rng_unif(&s) < 0.05) codes[i] = -1;
    }
    static const char *dict[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
    assert_int_equal(cairn_frame_new(&d->X, n), 0);
    float *col = malloc(sizeof(float) * n);
    char nm[16];
    for (int j = 0; j < 11; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = x[i * 11 + (size_t)j];
        snprintf(nm, sizeof(nm), "x%d", j);
        assert_int_equal(cairn_frame_add_f32(d->X, nm, col), 0);
    }
    assert_int_equal(cairn_frame_add_cat(d->X, "k", codes, dict, 12), 0);
    free(col);
    free(x);
    free(codes);
}

static void test_deterministic_threads(void **state)
{
    (void)state;
    struct dataset tr;
    make_big_task(&tr);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_BINARY);
    o.n_rounds = 20;
    o.subsample = 0.8;
    o.colsample = 0.9;
    o.seed = 42;
    cairn_trees *m[3];
    for (int k = 0; k < 3; k++) {
        o.n_threads = k + 1;
        assert_int_equal(cairn_gbdt_train(&m[k], tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    }
    assert_same_model(m[0], m[1]);
    assert_same_model(m[0], m[2]);
    /* a different seed samples differently */
    o.seed = 43;
    cairn_trees *other;
    assert_int_equal(cairn_gbdt_train(&other, tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    int differ = 0;
    for (int t = 0; t < 20 && !differ; t++) {
        int na, nb;
        const cairn_tree_node *x = cairn_trees_tree(m[0], t, &na),
                              *y = cairn_trees_tree(other, t, &nb);
        differ = na != nb || x[0].feature != y[0].feature || x[0].threshold != y[0].threshold ||
                 x[1].value != y[1].value;
    }
    assert_true(differ);
    /* batch prediction does not depend on its thread count either */
    size_t n = tr.X->nrows;
    double *p1 = malloc(sizeof(double) * n), *p2 = malloc(sizeof(double) * n);
    assert_int_equal(cairn_trees_predict(m[0], tr.X, p1, 1), 0);
    assert_int_equal(cairn_trees_predict(m[0], tr.X, p2, 2), 0);
    assert_memory_equal(p1, p2, sizeof(double) * n);
    free(p1);
    free(p2);
    for (int k = 0; k < 3; k++)
        cairn_trees_free(m[k]);
    cairn_trees_free(other);
    dataset_free(&tr);
}

/* ------------------------------------------------------------- categorical */

/* y depends on whether a category is in a hidden half of 40 categories. */
static void make_cat_task(size_t n, uint64_t seed, int32_t *codes, float *codes_f, float *noise,
                          double *y)
{
    uint64_t s = 99; /* the hidden set is the same for train and test */
    int in_set[40];
    for (int c = 0; c < 40; c++)
        in_set[c] = rng_unif(&s) < 0.5;
    s = seed;
    for (size_t i = 0; i < n; i++) {
        codes[i] = (int32_t)(rng_next(&s) % 40);
        codes_f[i] = (float)codes[i];
        noise[i] = (float)rng_unif(&s);
        y[i] = in_set[codes[i]];
        if (rng_unif(&s) < 0.03) y[i] = 1 - y[i];
    }
}

static cairn_frame *cat_frame(size_t n, const int32_t *codes, const float *codes_f,
                              const float *noise, int native)
{
    static const char *dict[40];
    static char names[40][8];
    for (int c = 0; c < 40; c++) {
        snprintf(names[c], sizeof(names[c]), "c%d", c);
        dict[c] = names[c];
    }
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, n), 0);
    if (native)
        assert_int_equal(cairn_frame_add_cat(f, "cat", codes, dict, 40), 0);
    else
        assert_int_equal(cairn_frame_add_f32(f, "cat", codes_f), 0);
    assert_int_equal(cairn_frame_add_f32(f, "noise", noise), 0);
    return f;
}

static double accuracy(const double *p, const double *y, size_t n)
{
    double a = 0;
    for (size_t i = 0; i < n; i++)
        a += (p[i] > 0.5) == (y[i] > 0.5);
    return a / (double)n;
}

static void test_categorical_beats_codes(void **state)
{
    (void)state;
    const size_t n = 3000, nt = 2000;
    int32_t *codes = malloc(sizeof(int32_t) * n), *tcodes = malloc(sizeof(int32_t) * nt);
    float *cf = malloc(sizeof(float) * n), *noise = malloc(sizeof(float) * n);
    float *tcf = malloc(sizeof(float) * nt), *tnoise = malloc(sizeof(float) * nt);
    double *y = malloc(sizeof(double) * n), *ty = malloc(sizeof(double) * nt);
    make_cat_task(n, 1, codes, cf, noise, y);
    make_cat_task(nt, 2, tcodes, tcf, tnoise, ty);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = CAIRN_GBDT_BINARY;
    o.n_rounds = 5;
    o.max_leaves = 3;
    o.learning_rate = 0.3;
    o.min_child_samples = 5;
    double acc[2];
    for (int native = 0; native < 2; native++) {
        cairn_frame *X = cat_frame(n, codes, cf, noise, native);
        cairn_frame *T = cat_frame(nt, tcodes, tcf, tnoise, native);
        cairn_trees *m;
        assert_int_equal(cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL), 0);
        double *p = predict(m, T);
        acc[native] = accuracy(p, ty, nt);
        if (native) {
            /* the root splits on the category, by a category set */
            const cairn_tree_node *root = cairn_trees_tree(m, 0, NULL);
            assert_int_equal(root->feature, 0);
            assert_int_equal(root->is_categorical, 1);
            double imp[2];
            cairn_trees_importance(m, CAIRN_TREES_IMPORTANCE_GAIN, imp);
            assert_true(imp[0] > 10 * imp[1]);
        }
        free(p);
        cairn_trees_free(m);
        cairn_frame_free(X);
        cairn_frame_free(T);
    }
    print_message("categorical: native accuracy %.4f, codes as numbers %.4f\n", acc[1], acc[0]);
    assert_true(acc[1] > 0.93);
    assert_true(acc[1] > acc[0] + 0.05);
    free(codes);
    free(tcodes);
    free(cf);
    free(noise);
    free(tcf);
    free(tnoise);
    free(y);
    free(ty);
}

/* Categories never seen in training go right; a missing code follows the
 * learned default. */
static void test_categorical_unseen_and_missing(void **state)
{
    (void)state;
    const size_t n = 400;
    int32_t codes[400];
    double y[400];
    float zero[400];
    for (size_t i = 0; i < n; i++) {
        codes[i] = i % 10 == 9 ? -1 : (int32_t)(i % 4); /* codes 0..3, a tenth missing */
        y[i] = codes[i] < 0 ? 1.0 : (codes[i] == 1 || codes[i] == 3);
        zero[i] = 0;
    }
    const char *dict[6] = {"a", "b", "c", "d", "e", "f"};
    cairn_frame *X;
    cairn_frame_new(&X, n);
    assert_int_equal(cairn_frame_add_cat(X, "k", codes, dict, 6), 0);
    assert_int_equal(cairn_frame_add_f32(X, "z", zero), 0);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = CAIRN_GBDT_BINARY;
    o.n_rounds = 20;
    o.max_leaves = 2;
    o.learning_rate = 0.5;
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL), 0);
    const cairn_tree_node *root = cairn_trees_tree(m, 0, NULL);
    assert_int_equal(root->is_categorical, 1);
    float row[2] = {1, 0};
    double p[1];
    cairn_trees_predict_row(m, row, p);
    assert_true(p[0] > 0.9); /* b */
    row[0] = 2;
    cairn_trees_predict_row(m, row, p);
    assert_true(p[0] < 0.1); /* c */
    row[0] = NAN;
    cairn_trees_predict_row(m, row, p);
    assert_true(p[0] > 0.9); /* missing: learned to go with the positives */
    /* an unseen code goes right at every node: with one split per tree and
     * the same left set, it lands where code 4 (unseen) does, never crashes */
    row[0] = 5;
    double q[1];
    cairn_trees_predict_row(m, row, q);
    row[0] = 1000;
    cairn_trees_predict_row(m, row, p);
    assert_true(p[0] == q[0]);
    cairn_trees_free(m);
    cairn_frame_free(X);
}

/* ----------------------------------------------------------------- missing */

static void test_missing_direction(void **state)
{
    (void)state;
    const size_t n = 3000;
    float *x0 = malloc(sizeof(float) * n), *x1 = malloc(sizeof(float) * n);
    double *y = malloc(sizeof(double) * n);
    for (int pos = 0; pos < 2; pos++) { /* missing rows mostly positive / negative */
        uint64_t s = 5 + (uint64_t)pos;
        for (size_t i = 0; i < n; i++) {
            x0[i] = (float)rng_unif(&s);
            x1[i] = (float)rng_unif(&s);
            y[i] = x0[i] > 0.5f;
            if (rng_unif(&s) < 0.25) {
                x0[i] = NAN;
                y[i] = rng_unif(&s) < 0.9 ? pos : 1 - pos;
            }
        }
        cairn_frame *X;
        cairn_frame_new(&X, n);
        cairn_frame_add_f32(X, "x0", x0);
        cairn_frame_add_f32(X, "x1", x1);
        cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
        o.objective = CAIRN_GBDT_BINARY;
        o.n_rounds = 20;
        cairn_trees *m;
        assert_int_equal(cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL), 0);
        float row[2] = {NAN, 0.5f};
        double p;
        cairn_trees_predict_row(m, row, &p);
        if (pos)
            assert_true(p > 0.8);
        else
            assert_true(p < 0.2);
        row[0] = 0.9f;
        cairn_trees_predict_row(m, row, &p);
        assert_true(p > 0.8);
        row[0] = 0.1f;
        cairn_trees_predict_row(m, row, &p);
        assert_true(p < 0.2);
        /* the root splits x0, sending missing values to the side that matches */
        const cairn_tree_node *root = cairn_trees_tree(m, 0, NULL);
        assert_int_equal(root->feature, 0);
        assert_int_equal(root->default_left, pos ? 0 : 1);
        cairn_trees_free(m);
        cairn_frame_free(X);
    }
    free(x0);
    free(x1);
    free(y);
}

/* ---------------------------------------------------------- early stopping */

struct trace {
    int n;
    double valid[1000], train[1000];
};

static int record(int round, double train_metric, double valid_metric, void *payload)
{
    struct trace *t = payload;
    assert_int_equal(round, t->n);
    t->train[t->n] = train_metric;
    t->valid[t->n++] = valid_metric;
    return 0;
}

static int stop_at_3(int round, double train_metric, double valid_metric, void *payload)
{
    (void)train_metric;
    (void)payload;
    assert_false(isnan(valid_metric));
    return round == 2;
}

static void test_early_stopping(void **state)
{
    (void)state;
    struct dataset tr, te;
    load_csv("binary_train.csv", &tr);
    load_csv("binary_test.csv", &te);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_BINARY);
    o.n_rounds = 500;
    o.learning_rate = 0.5;
    o.max_leaves = 63;
    o.early_stopping_rounds = 10;
    struct trace t = {0};
    o.on_round = record;
    o.payload = &t;
    cairn_trees *m;
    cairn_gbdt_info info;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, te.X, te.y, &o, &info), 0);
    print_message("early stopping: ran %d rounds, best %d (logloss %.4f)\n", info.rounds_run,
                  info.best_round, info.best_valid_metric);
    assert_true(info.rounds_run < 500);
    assert_int_equal(t.n, info.rounds_run);
    assert_int_equal(info.rounds_run, info.best_round + 1 + 10);
    assert_int_equal(cairn_trees_n_trees(m), info.best_round + 1);
    int argmin = 0;
    for (int i = 1; i < t.n; i++)
        if (t.valid[i] < t.valid[argmin]) argmin = i;
    assert_int_equal(argmin, info.best_round);
    assert_true(t.valid[argmin] == info.best_valid_metric);
    assert_true(t.train[t.n - 1] < t.train[0]);
    /* the kept model reproduces the best validation logloss */
    double *p = predict(m, te.X);
    assert_true(fabs(logloss(p, te.y, te.X->nrows) - info.best_valid_metric) < 1e-9);
    free(p);
    cairn_trees_free(m);

    /* a callback returning nonzero stops training, keeping every tree */
    o.early_stopping_rounds = 0;
    o.on_round = stop_at_3;
    o.n_rounds = 50;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, te.X, te.y, &o, &info), 0);
    assert_int_equal(info.rounds_run, 3);
    assert_int_equal(cairn_trees_n_trees(m), 3);
    cairn_trees_free(m);
    dataset_free(&tr);
    dataset_free(&te);
}

/* ------------------------------------------------- row versus batch predict */

static void test_predict_row_matches_batch(void **state)
{
    (void)state;
    struct dataset tr, te;
    load_csv("multiclass_train.csv", &tr);
    load_csv("multiclass_test.csv", &te);
    cairn_gbdt_opts o = xgb_like(CAIRN_GBDT_MULTICLASS);
    o.num_class = 3;
    o.n_rounds = 20;
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, tr.X, tr.y, NULL, NULL, &o, NULL), 0);
    size_t n = te.X->nrows;
    int nf = te.X->ncols;
    double *p = predict(m, te.X), *raw = malloc(sizeof(double) * 3 * n);
    assert_int_equal(cairn_trees_predict_ex(m, te.X, CAIRN_TREES_RAW_MARGIN, raw, 2), 0);
    float row[16];
    double q[3];
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < nf; j++)
            row[j] = te.X->cols[j].f32[i];
        cairn_trees_predict_row(m, row, q);
        assert_memory_equal(q, p + 3 * i, sizeof(q));
        cairn_trees_predict_row_ex(m, row, CAIRN_TREES_RAW_MARGIN, q);
        assert_memory_equal(q, raw + 3 * i, sizeof(q));
    }
    /* columns are found by name, whatever their order in the frame */
    cairn_frame *R;
    cairn_frame_new(&R, n);
    for (int j = nf - 1; j >= 0; j--)
        cairn_frame_add_f32(R, te.X->cols[j].name, te.X->cols[j].f32);
    double *pr = predict(m, R);
    assert_memory_equal(pr, p, sizeof(double) * 3 * n);
    /* a missing column is an error */
    cairn_frame *S;
    cairn_frame_new(&S, n);
    cairn_frame_add_f32(S, "f0", te.X->cols[0].f32);
    assert_int_equal(cairn_trees_predict(m, S, pr, 1), CAIRN_EINVALID);
    cairn_frame_free(R);
    cairn_frame_free(S);
    free(pr);
    free(p);
    free(raw);
    cairn_trees_free(m);
    dataset_free(&tr);
    dataset_free(&te);
}

/* -------------------------------------------------------------- edge cases */

static void test_edge_cases(void **state)
{
    (void)state;
    const size_t n = 200;
    float c[200], x[200], nan[200];
    double y[200];
    for (size_t i = 0; i < n; i++) {
        c[i] = 3.0f;
        x[i] = (float)i;
        nan[i] = NAN;
        y[i] = i < 100 ? 1.0 : 5.0;
    }
    cairn_frame *X;
    cairn_frame_new(&X, n);
    cairn_frame_add_f32(X, "const", c);
    cairn_frame_add_f32(X, "x", x);
    cairn_frame_add_f32(X, "nan", nan);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.n_rounds = 10;
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL), 0);
    double cnt[3];
    cairn_trees_importance(m, CAIRN_TREES_IMPORTANCE_SPLIT, cnt);
    assert_true(cnt[0] == 0 && cnt[2] == 0 && cnt[1] > 0); /* constant, all-NaN never split */
    const cairn_tree_node *root = cairn_trees_tree(m, 0, NULL);
    assert_true(root->threshold == 100.0f); /* the bin's upper bound: x < 100 goes left */
    float row[3] = {3, 99, NAN};
    double p;
    cairn_trees_predict_row(m, row, &p);
    assert_true(fabs(p - 1.0) < 4 * pow(0.9, 10) + 1e-9);
    cairn_trees_free(m);

    /* n_rounds 0: the base score alone */
    o.n_rounds = 0;
    assert_int_equal(cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL), 0);
    assert_int_equal(cairn_trees_n_trees(m), 0);
    cairn_trees_predict_row(m, row, &p);
    assert_true(fabs(p - 3.0) < 1e-12);
    cairn_trees_free(m);
    o.objective = CAIRN_GBDT_BINARY;
    double yb[200];
    for (size_t i = 0; i < n; i++)
        yb[i] = i % 4 == 0;
    assert_int_equal(cairn_gbdt_train(&m, X, yb, NULL, NULL, &o, NULL), 0);
    cairn_trees_predict_row(m, row, &p);
    assert_true(fabs(p - 0.25) < 1e-12);
    cairn_trees_free(m);
    cairn_frame_free(X);

    /* a single row */
    cairn_frame *one;
    cairn_frame_new(&one, 1);
    float v = 1.5f;
    double y1 = 7;
    cairn_frame_add_f32(one, "v", &v);
    cairn_gbdt_opts o1 = CAIRN_GBDT_OPTS_INIT;
    o1.n_rounds = 3;
    assert_int_equal(cairn_gbdt_train(&m, one, &y1, NULL, NULL, &o1, NULL), 0);
    assert_int_equal(cairn_trees_n_trees(m), 3);
    cairn_trees_predict_row(m, &v, &p);
    assert_true(fabs(p - 7) < 1e-9);
    cairn_trees_free(m);
    cairn_frame_free(one);
}

static void expect_invalid(const cairn_frame *X, const double *y, const cairn_gbdt_opts *o,
                           const char *what)
{
    cairn_trees *m = (cairn_trees *)1;
    int rc = cairn_gbdt_train(&m, X, y, NULL, NULL, o, NULL);
    if (rc != CAIRN_EINVALID) fail_msg("%s: got %d", what, rc);
    assert_null(m);
    assert_true(strlen(cairn_error_last()->msg) > 0);
    assert_int_equal(cairn_error_last()->subsys, CAIRN_SUBSYS_ML);
}

static void test_invalid(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4};
    double y[4] = {0, 1, 0, 1};
    cairn_frame *X;
    cairn_frame_new(&X, 4);
    cairn_frame_add_f32(X, "x", x);
    cairn_gbdt_opts o;
#define BAD(stmt)                                                                                  \
    do {                                                                                           \
        cairn_gbdt_opts t = CAIRN_GBDT_OPTS_INIT;                                                  \
        t.objective = CAIRN_GBDT_BINARY;                                                           \
        stmt;                                                                                      \
        expect_invalid(X, y, &t, #stmt);                                                           \
    } while (0)
    BAD(t.version = 99);
    BAD(t.objective = 7);
    BAD(t.learning_rate = 0);
    BAD(t.learning_rate = NAN);
    BAD(t.max_leaves = 1);
    BAD(t.max_depth = -1);
    BAD(t.lambda_l2 = -1);
    BAD(t.min_child_samples = 0);
    BAD(t.subsample = 0);
    BAD(t.colsample = 1.5);
    BAD(t.max_bins = 256);
    BAD(t.max_bins = 1);
    BAD(t.n_rounds = -1);
    BAD(t.n_threads = -2);
    BAD(t.early_stopping_rounds = 5); /* no validation frame */
    BAD(t.objective = CAIRN_GBDT_MULTICLASS; t.num_class = 1);
#undef BAD
    o = (cairn_gbdt_opts)CAIRN_GBDT_OPTS_INIT;
    double ynan[4] = {0, NAN, 1, 0};
    expect_invalid(X, ynan, &o, "NaN target");
    double yinf[4] = {0, INFINITY, 1, 0};
    expect_invalid(X, yinf, &o, "infinite target");
    o.objective = CAIRN_GBDT_BINARY;
    double y2[4] = {0, 2, 1, 0};
    expect_invalid(X, y2, &o, "binary label 2");
    o.objective = CAIRN_GBDT_MULTICLASS;
    o.num_class = 2;
    double yc[4] = {0, 1.5, 1, 0};
    expect_invalid(X, yc, &o, "fractional class");
    o = (cairn_gbdt_opts)CAIRN_GBDT_OPTS_INIT;
    cairn_frame *E;
    cairn_frame_new(&E, 0);
    expect_invalid(E, y, &o, "no rows");
    cairn_frame_free(E);
    /* validation frame lacking a training column */
    cairn_frame *V;
    cairn_frame_new(&V, 4);
    cairn_frame_add_f32(V, "other", x);
    cairn_trees *m;
    assert_int_equal(cairn_gbdt_train(&m, X, y, V, y, &o, NULL), CAIRN_EINVALID);
    assert_null(m);
    cairn_frame_free(V);
    cairn_frame_free(X);
}

/* ------------------------------------------------------- runtime building */

static void test_trees_build_and_rules(void **state)
{
    (void)state;
    cairn_trees *m;
    const char *names[2] = {"a", "b"};
    assert_int_equal(cairn_trees_new(&m, 2, names, 1, CAIRN_TREES_IDENTITY, NULL), 0);
    uint32_t bits[1] = {(1u << 2) | (1u << 5)};
    cairn_tree_node t[5];
    memset(t, 0, sizeof(t));
    /* 0: a < 1 ? 1 : 2;  2: b in {2,5} ? 3 : 4 */
    t[0] = (cairn_tree_node){
        .feature = 0, .threshold = 1.0f, .left = 1, .right = 2, .default_left = 1};
    t[1] = (cairn_tree_node){.feature = -1, .left = -1, .right = -1, .value = 10};
    t[2] = (cairn_tree_node){
        .feature = 1, .left = 3, .right = 4, .is_categorical = 1, .cat_offset = 0, .cat_words = 1};
    t[3] = (cairn_tree_node){.feature = -1, .left = -1, .right = -1, .value = 20};
    t[4] = (cairn_tree_node){.feature = -1, .left = -1, .right = -1, .value = 30};
    assert_int_equal(cairn_trees_add_tree(m, 0, t, 5, bits, 1), 0);
    double p;
    float x[2] = {1.0f, 2};
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 20); /* LT: 1 < 1 is false */
    cairn_trees_set_split_rule(m, CAIRN_TREES_SPLIT_LE);
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 10); /* LE: 1 <= 1 */
    cairn_trees_set_split_rule(m, CAIRN_TREES_SPLIT_LT);
    x[0] = NAN;
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 10); /* default left */
    x[0] = 5;
    x[1] = 5;
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 20);
    x[1] = 3;
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 30);
    x[1] = 64; /* beyond the bitset: right */
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 30);
    x[1] = NAN; /* default right */
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 30);
    assert_int_equal(cairn_trees_leaf_index(m, 0, x), 4);

    /* malformed trees are refused, the ensemble unchanged */
    cairn_tree_node bad[3];
    memcpy(bad, t, sizeof(bad));
    bad[2] = (cairn_tree_node){.feature = 0, .left = 0, .right = 1}; /* cycle */
    assert_int_equal(cairn_trees_add_tree(m, 0, bad, 3, NULL, 0), CAIRN_EINVALID);
    bad[0].feature = 2; /* feature out of range */
    assert_int_equal(cairn_trees_add_tree(m, 0, bad, 2, NULL, 0), CAIRN_EINVALID);
    assert_int_equal(cairn_trees_add_tree(m, 0, t, 5, bits, 0), CAIRN_EINVALID); /* bitset */
    assert_int_equal(cairn_trees_add_tree(m, 1, t, 5, bits, 1), CAIRN_EINVALID); /* output */
    assert_int_equal(cairn_trees_add_tree(m, 0, t, 3, bits, 1), CAIRN_EINVALID); /* child >= n */
    assert_int_equal(cairn_trees_n_trees(m), 1);
    /* a leaf-only tree */
    assert_int_equal(cairn_trees_add_tree(m, 0, &t[1], 1, NULL, 0), 0);
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 40);
    double imp[2];
    cairn_trees_importance(m, CAIRN_TREES_IMPORTANCE_SPLIT, imp);
    assert_true(imp[0] == 1 && imp[1] == 1);
    cairn_trees_truncate(m, 1);
    cairn_trees_predict_row(m, x, &p);
    assert_true(p == 30);
    cairn_trees_free(m);

    assert_int_equal(cairn_trees_new(&m, 2, NULL, 1, CAIRN_TREES_SOFTMAX, NULL), CAIRN_EINVALID);
    assert_null(m);
    cairn_trees_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quality_binary),
        cmocka_unit_test(test_quality_regression),
        cmocka_unit_test(test_quality_multiclass),
        cmocka_unit_test(test_deterministic_threads),
        cmocka_unit_test(test_categorical_beats_codes),
        cmocka_unit_test(test_categorical_unseen_and_missing),
        cmocka_unit_test(test_missing_direction),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_predict_row_matches_batch),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_trees_build_and_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
