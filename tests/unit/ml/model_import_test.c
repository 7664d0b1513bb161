/*
 * model_import_test.c - XGBoost JSON and LightGBM text model import.
 *
 * XGBoost: the models and predictions in tests/fixtures/import/xgb_*.{json,csv}
 * come from xgboost 1.7 (tests/fixtures/gen_import.py): regression with
 * named features and NaNs, binary with base_score 0.3, 3-class softprob,
 * native categorical splits (partition and one-hot, unseen codes), DART.
 * Inputs are float32 (as xgboost reads them); XGBoost sums leaves in float32
 * and the runtime in double, so predictions and margins must agree within
 * 1e-6 relative, with an absolute floor of 1e-6 for values near zero.
 *
 * LightGBM is not packaged in Debian: tests/fixtures/import/lgbm_*.txt are
 * written by hand in LightGBM's text format and the expected predictions
 * below are computed by hand from LightGBM's decision rules (commented per
 * row); they must match to 1e-12.
 *
 * Then: malformed, truncated and unsupported files give the documented
 * codes; and the model-level import (schema, task, frame prediction).
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

#include "cairn/model.h"
#include "cairn/trees.h"

/* Internal importers (src/ml/model_import_xgb.c, model_import_lgbm.c). */
#include "ml/model_import.h"

/* ---------------------------------------------------------------- helpers */

static const char *source_dir(void)
{
    const char *s = getenv("CAIRN_SOURCE_DIR");
    return s && *s ? s : CAIRN_SOURCE_DIR;
}

/* Whole fixture file, NUL-terminated (malloc'd); *len its size. */
static char *slurp(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/import/%s", source_dir(), name);
    FILE *fh = fopen(path, "rb");
    if (!fh) fail_msg("cannot open fixture %s", path);
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fh), (size_t)n);
    buf[n] = '\0';
    fclose(fh);
    *len = (size_t)n;
    return buf;
}

/* A golden CSV: nf feature columns (float, empty = NaN), then K
 * predictions and K margins per row. */
struct golden {
    int nf, k, n;
    char names[16][32];
    float *x;      /* (n, nf) */
    double *p, *m; /* (n, k) */
};

static void golden_load(const char *name, int k, struct golden *g)
{
    size_t len;
    char *text = slurp(name, &len), *save = NULL;
    memset(g, 0, sizeof(*g));
    g->k = k;
    char *line = strtok_r(text, "\n", &save);
    int ncol = 1;
    for (char *p = line; *p; p++)
        ncol += *p == ',';
    g->nf = ncol - 2 * k;
    assert_true(g->nf > 0 && g->nf <= 16);
    char *c = line;
    for (int j = 0; j < g->nf; j++) {
        char *e = strchr(c, ',');
        snprintf(g->names[j], sizeof(g->names[j]), "%.*s", (int)(e - c), c);
        c = e + 1;
    }
    int cap = 256;
    g->x = malloc(sizeof(float) * (size_t)cap * (size_t)g->nf);
    g->p = malloc(sizeof(double) * (size_t)cap * (size_t)k);
    g->m = malloc(sizeof(double) * (size_t)cap * (size_t)k);
    while ((line = strtok_r(NULL, "\n", &save))) {
        assert_true(g->n < cap);
        char *p = line;
        for (int j = 0; j < ncol; j++) {
            char *e = strchr(p, ',');
            if (!e) e = p + strlen(p);
            double v = e == p ? NAN : strtod(p, NULL);
            if (j < g->nf)
                g->x[g->n * g->nf + j] = (float)v;
            else if (j < g->nf + k)
                g->p[g->n * k + j - g->nf] = v;
            else
                g->m[g->n * k + j - g->nf - k] = v;
            p = *e ? e + 1 : e;
        }
        g->n++;
    }
    free(text);
}

static void golden_free(struct golden *g)
{
    free(g->x);
    free(g->p);
    free(g->m);
}

static void assert_close(double got, double want, double rel, double abs_floor, const char *what,
                         int row)
{
    double tol = rel * fabs(want);
    if (tol < abs_floor) tol = abs_floor;
    if (!(fabs(got - want) <= tol))
        fail_msg("%s row %d: got %.17g, want %.17g (diff %.3g)", what, row, got, want,
                 fabs(got - want));
}

static cairn_trees *xgb_trees(const char *file, int32_t **cat_sizes)
{
    size_t len;
    char *json = slurp(file, &len);
    cairn_trees *t = NULL;
    int rc = cairn_model__xgboost_trees(&t, cat_sizes, json, len);
    if (rc) fail_msg("%s: %s", file, cairn_error_last()->msg);
    free(json);
    return t;
}

static cairn_trees *lgbm_trees(const char *file)
{
    size_t len;
    char *text = slurp(file, &len);
    cairn_trees *t = NULL;
    int rc = cairn_model__lightgbm_trees(&t, NULL, text, len);
    if (rc) fail_msg("%s: %s", file, cairn_error_last()->msg);
    free(text);
    return t;
}

/* Every row of the golden through predict_row and predict_row_ex(RAW),
 * and the whole matrix through the batch predict on a float32 frame. */
static void check_golden(const char *model, const char *csv, int k)
{
    struct golden g;
    golden_load(csv, k, &g);
    cairn_trees *t = xgb_trees(model, NULL);
    assert_int_equal(cairn_trees_n_features(t), g.nf);
    assert_int_equal(cairn_trees_n_outputs(t), k);
    double out[16];
    for (int i = 0; i < g.n; i++) {
        cairn_trees_predict_row(t, g.x + i * g.nf, out);
        for (int c = 0; c < k; c++)
            assert_close(out[c], g.p[i * k + c], 1e-6, 1e-6, "prediction", i);
        cairn_trees_predict_row_ex(t, g.x + i * g.nf, CAIRN_TREES_RAW_MARGIN, out);
        for (int c = 0; c < k; c++)
            assert_close(out[c], g.m[i * k + c], 1e-6, 1e-6, "margin", i);
    }
    /* batch over a frame whose columns are found by name */
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, (size_t)g.n), 0);
    float *col = malloc(sizeof(float) * (size_t)g.n);
    for (int j = g.nf - 1; j >= 0; j--) { /* reversed: matched by name, not position */
        for (int i = 0; i < g.n; i++)
            col[i] = g.x[i * g.nf + j];
        assert_int_equal(cairn_frame_add_f32(f, g.names[j], col), 0);
    }
    double *batch = malloc(sizeof(double) * (size_t)g.n * (size_t)k);
    assert_int_equal(cairn_trees_predict(t, f, batch, 2), 0);
    for (int i = 0; i < g.n * k; i++)
        assert_close(batch[i], g.p[i], 1e-6, 1e-6, "batch", i / k);
    free(batch);
    free(col);
    cairn_frame_free(f);
    cairn_trees_free(t);
    golden_free(&g);
}

/* ------------------------------------------------------------ XGBoost */

static void test_xgb_regression(void **state)
{
    (void)state;
    check_golden("xgb_reg.json", "xgb_reg.csv", 1);
    cairn_trees *t = xgb_trees("xgb_reg.json", NULL);
    assert_string_equal(cairn_trees_feature_name(t, 0), "alpha");
    assert_string_equal(cairn_trees_feature_name(t, 4), "eps");
    assert_int_equal(cairn_trees_get_transform(t), CAIRN_TREES_IDENTITY);
    assert_int_equal(cairn_trees_get_split_rule(t), CAIRN_TREES_SPLIT_LT);
    assert_int_equal(cairn_trees_n_trees(t), 25);
    assert_true(cairn_trees_base_score(t, 0) == 0.5);
    cairn_trees_free(t);
}

static void test_xgb_binary(void **state)
{
    (void)state;
    check_golden("xgb_bin.json", "xgb_bin.csv", 1);
    cairn_trees *t = xgb_trees("xgb_bin.json", NULL);
    /* base_score 0.3 is a probability: the base margin is logit(0.3) */
    assert_true(fabs(cairn_trees_base_score(t, 0) - log(0.3 / 0.7)) < 1e-6);
    assert_int_equal(cairn_trees_get_transform(t), CAIRN_TREES_SIGMOID);
    assert_string_equal(cairn_trees_feature_name(t, 3), "f3");
    cairn_trees_free(t);
}

static void test_xgb_multiclass(void **state)
{
    (void)state;
    check_golden("xgb_multi.json", "xgb_multi.csv", 3);
    cairn_trees *t = xgb_trees("xgb_multi.json", NULL);
    assert_int_equal(cairn_trees_n_trees(t), 36);
    for (int i = 0; i < 36; i++) /* round-robin output groups from tree_info */
        assert_int_equal(cairn_trees_tree_output(t, i), i % 3);
    cairn_trees_free(t);
}

static void test_xgb_categorical(void **state)
{
    (void)state;
    check_golden("xgb_cat.json", "xgb_cat.csv", 1);
    int32_t *cs;
    cairn_trees *t = xgb_trees("xgb_cat.json", &cs);
    assert_int_equal(cs[0], -1); /* numeric */
    assert_int_equal(cs[1], 8);  /* "color": codes 0..7 appear in splits */
    assert_true(cs[2] >= 1 && cs[2] <= 3);
    cairn_free(cs);
    cairn_trees_free(t);
}

static void test_xgb_dart(void **state)
{
    (void)state;
    check_golden("xgb_dart.json", "xgb_dart.csv", 1);
}

/* A one-tree model whose text is built around the given tree fields. */
static int xgb_one_tree(const char *objective, const char *booster, const char *tree_fields,
                        int num_feature)
{
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"learner\":{\"feature_names\":[],\"feature_types\":[],"
             "\"gradient_booster\":{\"model\":{\"tree_info\":[0],\"trees\":[{%s}]},"
             "\"name\":\"%s\"},\"learner_model_param\":{\"base_score\":\"5E-1\","
             "\"num_class\":\"0\",\"num_feature\":\"%d\"},\"objective\":{\"name\":\"%s\"}},"
             "\"version\":[1,7,4]}",
             tree_fields, booster, num_feature, objective);
    cairn_trees *t = NULL;
    int rc = cairn_model__xgboost_trees(&t, NULL, json, strlen(json));
    if (rc == 0) {
        /* x0 = 1: 1 < 2 goes left (leaf 3), x0 = 2 goes right (leaf 4) */
        float x[2] = {1.0f, 0.0f};
        double out;
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, &out);
        assert_true(out == 3.5);
        x[0] = 2.0f;
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, &out);
        assert_true(out == 4.5);
        x[0] = NAN; /* default_left */
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, &out);
        assert_true(out == 3.5);
        cairn_trees_free(t);
    } else {
        assert_null(t);
    }
    return rc;
}

#define GOOD_TREE                                                                                  \
    "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[0,0,0],"          \
    "\"split_conditions\":[2.0,3,4],\"default_left\":[1,0,0],\"split_type\":[0,0,0],"              \
    "\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"                        \
    "\"categories_sizes\":[]"

static void test_xgb_errors(void **state)
{
    (void)state;
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree", GOOD_TREE, 2), 0);
    assert_int_equal(xgb_one_tree("count:poisson", "gbtree", GOOD_TREE, 2), CAIRN_EUNSUPPORTED);
    assert_int_equal(xgb_one_tree("reg:squarederror", "gblinear", GOOD_TREE, 2),
                     CAIRN_EUNSUPPORTED);
    /* feature index out of range */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree", GOOD_TREE, 0), CAIRN_ECORRUPT);
    /* cycle: node 1 points back at the root */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,0,-1],\"right_children\":[2,2,-1],"
                                  "\"split_indices\":[0,0,0],\"split_conditions\":[2,3,4],"
                                  "\"default_left\":[1,0,0]",
                                  2),
                     CAIRN_ECORRUPT);
    /* arrays of different lengths */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,-1,-1],\"right_children\":[2,-1],"
                                  "\"split_indices\":[0,0,0],\"split_conditions\":[2,3,4],"
                                  "\"default_left\":[1,0,0]",
                                  2),
                     CAIRN_ECORRUPT);
    /* child index out of range, one child only */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,-1,-1],\"right_children\":[7,-1,-1],"
                                  "\"split_indices\":[0,0,0],\"split_conditions\":[2,3,4],"
                                  "\"default_left\":[1,0,0]",
                                  2),
                     CAIRN_ECORRUPT);
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,-1,-1],\"right_children\":[-1,-1,-1],"
                                  "\"split_indices\":[0,0,0],\"split_conditions\":[2,3,4],"
                                  "\"default_left\":[1,0,0]",
                                  2),
                     CAIRN_ECORRUPT);
    /* categorical split without its categories entry */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
                                  "\"split_indices\":[0,0,0],\"split_conditions\":[2,3,4],"
                                  "\"default_left\":[1,0,0],\"split_type\":[1,0,0],"
                                  "\"categories\":[],\"categories_nodes\":[],"
                                  "\"categories_segments\":[],\"categories_sizes\":[]",
                                  2),
                     CAIRN_ECORRUPT);
    /* a deleted (unreachable) node is dropped, not an error */
    assert_int_equal(xgb_one_tree("reg:squarederror", "gbtree",
                                  "\"left_children\":[1,-1,-1,-1],\"right_children\":[2,-1,-1,-1],"
                                  "\"split_indices\":[0,0,0,0],\"split_conditions\":[2,3,4,9],"
                                  "\"default_left\":[1,0,0,0]",
                                  2),
                     0);
    /* malformed JSON */
    const char *bad[] = {
        "",          "{",   "{\"learner\":",      "[1,2",      "{\"a\":1,}",
        "{\"a\" 1}", "nul", "{\"learner\":{}} x", "\"\\u12\"", "{\"learner\":{\"objective\":1}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cairn_trees *t = (cairn_trees *)&bad;
        assert_int_equal(cairn_model__xgboost_trees(&t, NULL, bad[i], strlen(bad[i])),
                         CAIRN_ECORRUPT);
        assert_null(t);
        assert_true(cairn_error_last()->msg[0] != '\0');
    }
}

/* Every prefix of a real model fails cleanly (the fixture is ~40 KB: every
 * 7th prefix, plus the last 64). */
static void test_xgb_truncated(void **state)
{
    (void)state;
    size_t len;
    char *json = slurp("xgb_cat.json", &len);
    for (size_t n = 0; n < len; n += (n + 64 < len ? 7 : 1)) {
        cairn_trees *t = NULL;
        int rc = cairn_model__xgboost_trees(&t, NULL, json, n);
        if (rc != CAIRN_ECORRUPT) fail_msg("prefix %zu: rc %d", n, rc);
        assert_null(t);
    }
    free(json);
}

/* ------------------------------------------------------------ LightGBM */

static double lgbm_margin(cairn_trees *t, float a, float b, float c)
{
    float x[3] = {a, b, c};
    double out;
    cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, &out);
    return out;
}

static void test_lgbm_regression(void **state)
{
    (void)state;
    cairn_trees *t = lgbm_trees("lgbm_reg.txt");
    assert_int_equal(cairn_trees_get_split_rule(t), CAIRN_TREES_SPLIT_LE);
    assert_int_equal(cairn_trees_get_transform(t), CAIRN_TREES_IDENTITY);
    assert_string_equal(cairn_trees_feature_name(t, 2), "x2");
    assert_int_equal(cairn_trees_n_trees(t), 3);
    /* Tree 0: x0 <= 0.5 (NaN type, default left) -> 0.1, else x1 with Zero
     *   type default right at 1e-35: x1 < -1e-35 -> -0.2, else 0.3.
     * Tree 1: x2 <= -1.5 (None: NaN is 0 -> right 0.05), else x1 <= 2.5 with
     *   Zero type default right: x1 < -1e-35 -> -0.4, |x1| <= 1e-35 or NaN
     *   -> 0.7, (1e-35, 2.5] -> -0.4, > 2.5 -> 0.7.
     * Tree 2: x1 <= -1.5, Zero type default left: <= -1.5 -> 1, (-1.5,
     *   -1e-35) -> -1, zero or NaN -> 1, > 1e-35 -> -1. */
    const double eps = 1e-12;
    /* 0.1 + 0.05 (x2 NaN -> 0 > -1.5) + 1 (x1 zero -> default left) */
    assert_true(fabs(lgbm_margin(t, 0.5f, 0.0f, NAN) - 1.15) < eps);
    /* -0.2 + -0.4 + 1 */
    assert_true(fabs(lgbm_margin(t, 0.6f, -2.0f, -2.0f) - 0.4) < eps);
    /* 0.1 (x0 NaN default left) + -0.4 (1 in (1e-35, 2.5]) + -1 */
    assert_true(fabs(lgbm_margin(t, NAN, 1.0f, -3.0f) - -1.3) < eps);
    /* 0.3 (x1 NaN is zero: default right) + 0.7 + 1 */
    assert_true(fabs(lgbm_margin(t, 1.0f, NAN, -1.5f) - 2.0) < eps);
    /* 0.3 + 0.7 (3 > 2.5) + -1 */
    assert_true(fabs(lgbm_margin(t, 2.0f, 3.0f, -1.5f) - 0.0) < eps);
    /* -0.2 + 0.05 (x2 = 0 > -1.5) + -1 (x1 = -1 in (-1.5, -1e-35)) */
    assert_true(fabs(lgbm_margin(t, 2.0f, -1.0f, 0.0f) - -1.15) < eps);
    /* x1 = 1e-36 is zero: 0.3 + 0.7 + 1 */
    assert_true(fabs(lgbm_margin(t, 2.0f, 1e-36f, -5.0f) - 2.0) < eps);
    /* x1 = 2.5 <= 2.5: 0.3 + -0.4 + -1 */
    assert_true(fabs(lgbm_margin(t, 2.0f, 2.5f, -5.0f) - -1.1) < eps);
    /* x1 = -1e-35f is on the zero boundary (zero): 0.3 + 0.7 + 1 */
    assert_true(fabs(lgbm_margin(t, 2.0f, -1e-35f, -5.0f) - 2.0) < eps);
    /* the float just below -1e-35 is not zero: -0.2 + -0.4 + -1 */
    assert_true(fabs(lgbm_margin(t, 2.0f, nextafterf(-1e-35f, -1.0f), -5.0f) - -1.6) < eps);
    cairn_trees_free(t);
}

static void test_lgbm_binary(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("lgbm_bin.txt", &len);
    int32_t *cs;
    cairn_trees *t = NULL;
    assert_int_equal(cairn_model__lightgbm_trees(&t, &cs, text, len), 0);
    assert_int_equal(cs[0], -1);
    assert_int_equal(cs[1], 33); /* bit 32 is the highest category set */
    cairn_free(cs);
    /* Tree 0: cat in {1, 3, 32} (bitset words 10, 1; NaN type: NaN right)
     *   -> num <= 1.25 (None: NaN is 0) ? 0.8 : 0.2, else -0.5.
     * Tree 1: constant 0.25.
     * Tree 2: cat in {0} (None type; NaN goes right, as LightGBM's
     *   int cast makes it negative) ? 0.4 : -0.3. */
    struct {
        float num, cat;
        double margin;
    } rows[] = {
        {1.0f, 1, 0.8 + 0.25 - 0.3},    {2.0f, 3, 0.2 + 0.25 - 0.3},
        {NAN, 32, 0.8 + 0.25 - 0.3},    {0.0f, 0, -0.5 + 0.25 + 0.4},
        {0.0f, NAN, -0.5 + 0.25 - 0.3}, {1.25f, 33, -0.5 + 0.25 - 0.3},
        {1.25f, 3, 0.8 + 0.25 - 0.3},   {5.0f, 100, -0.5 + 0.25 - 0.3},
        {5.0f, -1, -0.5 + 0.25 - 0.3},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        float x[2] = {rows[i].num, rows[i].cat};
        double m, p;
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, &m);
        cairn_trees_predict_row(t, x, &p);
        assert_close(m, rows[i].margin, 0, 1e-12, "lgbm binary margin", (int)i);
        assert_close(p, 1 / (1 + exp(-rows[i].margin)), 0, 1e-12, "lgbm binary prob", (int)i);
    }
    cairn_trees_free(t);

    /* sigmoid:2 doubles the margin inside the sigmoid */
    char *s = strstr(text, "sigmoid:1");
    s[8] = '2';
    assert_int_equal(cairn_model__lightgbm_trees(&t, NULL, text, len), 0);
    float x[2] = {1.0f, 1};
    double p;
    cairn_trees_predict_row(t, x, &p);
    assert_close(p, 1 / (1 + exp(-2 * 0.75)), 0, 1e-12, "lgbm sigmoid:2", 0);
    cairn_trees_free(t);
    free(text);
}

static void test_lgbm_multiclass(void **state)
{
    (void)state;
    cairn_trees *t = lgbm_trees("lgbm_multi.txt");
    assert_int_equal(cairn_trees_n_outputs(t), 3);
    assert_int_equal(cairn_trees_get_transform(t), CAIRN_TREES_SOFTMAX);
    /* Trees (class = index % 3):
     *  0: a <= 0.30000000000000004 (NaN type, default right) ? 1 : -1
     *  1: b <= 0 (None) ? 0.5 : -0.5       2: constant 0.2
     *  3: b <= 1 (NaN type, default left) ? 0.3 : -0.1
     *  4: a <= -1 (None) ? 0.7 : 0         5: a <= 1 (NaN, default right) ? -0.6 : 0.6 */
    struct {
        float a, b;
        double m[3];
    } rows[] = {
        /* 0.3f = 0.30000001192... is above the double threshold: right */
        {0.3f, 0.0f, {-1 + 0.3, 0.5 + 0, 0.2 - 0.6}},
        {0.25f, NAN, {1 + 0.3, 0.5 + 0, 0.2 - 0.6}},
        /* a NaN: tree 0 right, tree 4 (None: 0 > -1) 0, tree 5 right */
        {NAN, 2.0f, {-1 - 0.1, -0.5 + 0, 0.2 + 0.6}},
        {-2.0f, -1.0f, {1 + 0.3, 0.5 + 0.7, 0.2 - 0.6}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        float x[2] = {rows[i].a, rows[i].b};
        double m[3], p[3], mx = -INFINITY, s = 0;
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, m);
        cairn_trees_predict_row(t, x, p);
        for (int k = 0; k < 3; k++) {
            assert_close(m[k], rows[i].m[k], 0, 1e-12, "lgbm multiclass margin", (int)i);
            if (rows[i].m[k] > mx) mx = rows[i].m[k];
        }
        for (int k = 0; k < 3; k++)
            s += exp(rows[i].m[k] - mx);
        for (int k = 0; k < 3; k++)
            assert_close(p[k], exp(rows[i].m[k] - mx) / s, 0, 1e-12, "lgbm softmax", (int)i);
    }
    cairn_trees_free(t);
}

/* Replaces the first occurrence of `from` in the fixture by `to` and
 * imports the result. */
static int lgbm_edit(const char *file, const char *from, const char *to)
{
    size_t len;
    char *text = slurp(file, &len);
    char *at = strstr(text, from);
    assert_non_null(at);
    size_t nf = strlen(from), nt = strlen(to);
    char *out = malloc(len - nf + nt + 1);
    size_t pre = (size_t)(at - text);
    memcpy(out, text, pre);
    memcpy(out + pre, to, nt);
    memcpy(out + pre + nt, at + nf, len - pre - nf);
    cairn_trees *t = (cairn_trees *)&text;
    int rc = cairn_model__lightgbm_trees(&t, NULL, out, len - nf + nt);
    if (rc)
        assert_null(t);
    else
        cairn_trees_free(t);
    free(out);
    free(text);
    return rc;
}

static void test_lgbm_errors(void **state)
{
    (void)state;
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "objective=regression", "objective=regression"), 0);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "objective=regression", "objective=poisson"),
                     CAIRN_EUNSUPPORTED);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "objective=regression", "objective=regression sqrt"),
                     CAIRN_EUNSUPPORTED);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "is_linear=0", "is_linear=1"), CAIRN_EUNSUPPORTED);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "end of trees", "end of forest"), CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "Tree=1", "Tree=7"), CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "right_child=1 -3", "right_child=1 -4"),
                     CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "right_child=1 -3", "right_child=1 -2"),
                     CAIRN_ECORRUPT); /* leaf shared by two parents */
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "right_child=1 -3", "right_child=0 -3"),
                     CAIRN_ECORRUPT); /* cycle */
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "split_feature=0 1", "split_feature=0 3"),
                     CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "split_feature=0 1", "split_feature=0"),
                     CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "decision_type=10 4", "decision_type=10 12"),
                     CAIRN_ECORRUPT); /* missing type 3 */
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "threshold=0.5", "threshold=nan"), CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "feature_names=x0 x1 x2", "feature_names=x0 x1"),
                     CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_reg.txt", "tree\n", "forest\n"), CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_bin.txt", "cat_threshold=10 1", "cat_threshold=10"),
                     CAIRN_ECORRUPT);
    assert_int_equal(lgbm_edit("lgbm_bin.txt", "cat_boundaries=0 2", "cat_boundaries=2 0"),
                     CAIRN_ECORRUPT);
    assert_int_equal(
        lgbm_edit("lgbm_multi.txt", "num_tree_per_iteration=3", "num_tree_per_iteration=2"),
        CAIRN_ECORRUPT);
    /* every prefix fails cleanly (the last complete one needs "end of trees") */
    size_t len;
    char *text = slurp("lgbm_bin.txt", &len);
    const char *end = strstr(text, "end of trees");
    for (size_t n = 0; n < (size_t)(end - text); n++) {
        cairn_trees *t = NULL;
        int rc = cairn_model__lightgbm_trees(&t, NULL, text, n);
        if (rc != CAIRN_ECORRUPT) fail_msg("prefix %zu: rc %d", n, rc);
        assert_null(t);
    }
    free(text);
}

/* average_output (random forest) divides by the number of rounds. */
static void test_lgbm_average_output(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("lgbm_reg.txt", &len);
    char *out = malloc(len + 32);
    char *at = strstr(text, "feature_names=");
    size_t pre = (size_t)(at - text);
    memcpy(out, text, pre);
    memcpy(out + pre, "average_output\n", 15);
    memcpy(out + pre + 15, at, len - pre);
    cairn_trees *t;
    assert_int_equal(cairn_model__lightgbm_trees(&t, NULL, out, len + 15), 0);
    assert_true(fabs(lgbm_margin(t, 0.6f, -2.0f, -2.0f) - 0.4 / 3) < 1e-12);
    cairn_trees_free(t);
    free(out);
    free(text);
}

/* ------------------------------------------------------------ models */

static void test_model_xgboost(void **state)
{
    (void)state;
    size_t len;
    char *json = slurp("xgb_multi.json", &len);
    cairn_model *m;
    int rc = cairn_model_import_xgboost(&m, json, len);
    if (rc) fail_msg("%s", cairn_error_last()->msg);
    free(json);
    assert_int_equal(cairn_model_kind_of(m), CAIRN_MODEL_TREES);
    assert_int_equal(cairn_model_task(m), CAIRN_TASK_MULTICLASS);
    assert_int_equal(cairn_model_n_outputs(m), 3);
    assert_int_equal(cairn_model_n_features(m), 4);
    assert_string_equal(cairn_model_feature_name(m, 2), "f2");
    struct golden g;
    golden_load("xgb_multi.csv", 3, &g);
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, (size_t)g.n), 0);
    double *col = malloc(sizeof(double) * (size_t)g.n);
    for (int j = 0; j < g.nf; j++) {
        for (int i = 0; i < g.n; i++)
            col[i] = g.x[i * g.nf + j];
        assert_int_equal(cairn_frame_add_f64(f, g.names[j], col), 0);
    }
    double *out = malloc(sizeof(double) * (size_t)g.n * 3);
    assert_int_equal(cairn_model_predict(m, f, out, 1), 0);
    for (int i = 0; i < g.n * 3; i++)
        assert_close(out[i], g.p[i], 1e-6, 1e-6, "model", i / 3);
    free(out);
    free(col);
    cairn_frame_free(f);
    golden_free(&g);
    cairn_model_free(m);

    /* errors pass through unchanged, *out NULL */
    m = (cairn_model *)&len;
    assert_int_equal(cairn_model_import_xgboost(&m, "{", 1), CAIRN_ECORRUPT);
    assert_null(m);
}

/* Categorical features become categorical schema columns whose dictionary
 * names the codes ("0".."K-1"); a frame with the same names predicts as
 * xgboost does on the codes. */
static void test_model_xgboost_categorical(void **state)
{
    (void)state;
    size_t len;
    char *json = slurp("xgb_cat.json", &len);
    cairn_model *m;
    int rc = cairn_model_import_xgboost(&m, json, len);
    if (rc) fail_msg("%s", cairn_error_last()->msg);
    free(json);
    assert_int_equal(cairn_model_task(m), CAIRN_TASK_REGRESSION);
    assert_int_equal(cairn_model_feature_type(m, 0), CAIRN_COL_F64);
    assert_int_equal(cairn_model_feature_type(m, 1), CAIRN_COL_CAT);
    assert_int_equal(cairn_model_feature_type(m, 2), CAIRN_COL_CAT);
    struct golden g;
    golden_load("xgb_cat.csv", 1, &g);
    /* rows whose codes the model's dictionaries hold (unseen codes would be
     * remapped to missing by the model layer; the trees test covers them) */
    int32_t *color = malloc(sizeof(int32_t) * (size_t)g.n),
            *size = malloc(sizeof(int32_t) * (size_t)g.n);
    double *num = malloc(sizeof(double) * (size_t)g.n),
           *want = malloc(sizeof(double) * (size_t)g.n);
    int n = 0;
    for (int i = 0; i < g.n; i++) {
        float c = g.x[i * 3 + 1], s = g.x[i * 3 + 2];
        if ((!isnan(c) && c > 7) || (!isnan(s) && s > 2)) continue;
        num[n] = g.x[i * 3];
        color[n] = isnan(c) ? -1 : (int32_t)c;
        size[n] = isnan(s) ? -1 : (int32_t)s;
        want[n++] = g.p[i];
    }
    assert_true(n > 30);
    const char *dict[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, (size_t)n), 0);
    assert_int_equal(cairn_frame_add_f64(f, "num", num), 0);
    assert_int_equal(cairn_frame_add_cat(f, "color", color, dict, 8), 0);
    assert_int_equal(cairn_frame_add_cat(f, "size", size, dict, 3), 0);
    double *out = malloc(sizeof(double) * (size_t)n);
    assert_int_equal(cairn_model_predict(m, f, out, 1), 0);
    for (int i = 0; i < n; i++)
        assert_close(out[i], want[i], 1e-6, 1e-6, "categorical model", i);
    free(out);
    cairn_frame_free(f);
    free(color);
    free(size);
    free(num);
    free(want);
    golden_free(&g);
    cairn_model_free(m);
}

static void test_model_lightgbm(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("lgbm_bin.txt", &len);
    cairn_model *m;
    int rc = cairn_model_import_lightgbm(&m, text, len);
    if (rc) fail_msg("%s", cairn_error_last()->msg);
    free(text);
    assert_int_equal(cairn_model_task(m), CAIRN_TASK_BINARY);
    assert_int_equal(cairn_model_n_outputs(m), 1);
    assert_string_equal(cairn_model_feature_name(m, 0), "num");
    assert_int_equal(cairn_model_feature_type(m, 1), CAIRN_COL_CAT);
    /* rows 0..4 of test_lgbm_binary, through a frame */
    double num[] = {1.0, 2.0, NAN, 0.0, 0.0};
    int32_t cat[] = {1, 3, 32, 0, -1};
    double want[] = {0.75, 0.15, 0.75, 0.15, -0.55};
    char *dict[33];
    for (int i = 0; i < 33; i++) {
        dict[i] = malloc(12);
        snprintf(dict[i], 12, "%d", i);
    }
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, 5), 0);
    assert_int_equal(cairn_frame_add_cat(f, "cat", cat, (const char *const *)dict, 33), 0);
    assert_int_equal(cairn_frame_add_f64(f, "num", num), 0);
    double out[5];
    assert_int_equal(cairn_model_predict(m, f, out, 1), 0);
    for (int i = 0; i < 5; i++)
        assert_close(out[i], 1 / (1 + exp(-want[i])), 0, 1e-12, "lightgbm model", i);
    for (int i = 0; i < 33; i++)
        free(dict[i]);
    cairn_frame_free(f);
    cairn_model_free(m);

    m = (cairn_model *)&len;
    assert_int_equal(cairn_model_import_lightgbm(&m, "tree\n", 5), CAIRN_ECORRUPT);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xgb_regression), cmocka_unit_test(test_xgb_binary),
        cmocka_unit_test(test_xgb_multiclass), cmocka_unit_test(test_xgb_categorical),
        cmocka_unit_test(test_xgb_dart),       cmocka_unit_test(test_xgb_errors),
        cmocka_unit_test(test_xgb_truncated),  cmocka_unit_test(test_lgbm_regression),
        cmocka_unit_test(test_lgbm_binary),    cmocka_unit_test(test_lgbm_multiclass),
        cmocka_unit_test(test_lgbm_errors),    cmocka_unit_test(test_lgbm_average_output),
        cmocka_unit_test(test_model_xgboost),  cmocka_unit_test(test_model_xgboost_categorical),
        cmocka_unit_test(test_model_lightgbm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
