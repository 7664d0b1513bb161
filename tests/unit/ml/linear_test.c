/*
 * linear_test.c - linear and logistic regression against scikit-learn's
 * solutions (tests/fixtures/linear/, made by tests/fixtures/gen_linear.py),
 * plus the edge cases: constant features, separable classes, one class,
 * too few rows, NaN, categorical columns, mismatched predict frames.
 *
 * Tolerances: regression coefficients and predictions 1e-6 (absolute, scaled
 * by max(1, |value|)); logistic coefficients 1e-6 absolute from the optimum
 * found by sklearn's Newton solvers (L2) or saga (L1) and 1e-4 from sklearn's
 * lbfgs result (the target; lbfgs itself stops ~1e-5 short),
 * probabilities 1e-7.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <omp.h>

#include "cairn/linear.h"

static json_t *load_fixture(const char *name)
{
    const char *src = getenv("CAIRN_SOURCE_DIR");
    if (!src) src = CAIRN_SOURCE_DIR;
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/linear/%s.json", src, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("cannot load %s: %s", path, err.text);
    return j;
}

/* A frame with columns x0..x{d-1} from a JSON array of rows. */
static cairn_frame *frame_from_rows(const json_t *rows)
{
    size_t n = json_array_size(rows), d = json_array_size(json_array_get(rows, 0));
    cairn_frame *f;
    assert_int_equal(cairn_frame_new(&f, n), 0);
    double *v = malloc(sizeof(double) * n);
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            v[i] = json_number_value(json_array_get(json_array_get(rows, i), j));
        char name[32];
        snprintf(name, sizeof(name), "x%zu", j);
        assert_int_equal(cairn_frame_add_f64(f, name, v), 0);
    }
    free(v);
    return f;
}

static double *doubles(const json_t *a)
{
    size_t n = json_array_size(a);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

static int32_t *ints(const json_t *a)
{
    size_t n = json_array_size(a);
    int32_t *v = malloc(sizeof(int32_t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static void assert_close(double got, double want, double tol, const char *what, size_t i)
{
    double err = fabs(got - want) / fmax(1.0, fabs(want));
    if (!(err <= tol))
        fail_msg("%s[%zu]: got %.12g want %.12g (err %.3g > %.1g)", what, i, got, want, err, tol);
}

/* ---------------------------------------------------------------------- */
/* Linear regression                                                      */
/* ---------------------------------------------------------------------- */

static void check_regression(const char *model, cairn_linear_opts o)
{
    json_t *fx = load_fixture("regression");
    cairn_frame *x = frame_from_rows(json_object_get(fx, "x"));
    cairn_frame *xt = frame_from_rows(json_object_get(fx, "x_test"));
    double *y = doubles(json_object_get(fx, "y"));
    json_t *ref = json_object_get(json_object_get(fx, "models"), model);
    assert_non_null(ref);
    double *coef = doubles(json_object_get(ref, "coef"));
    double *pred = doubles(json_object_get(ref, "pred"));

    cairn_linear *m;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), 0);
    assert_true(cairn_linear_converged(m));
    assert_int_equal(cairn_linear_nfeatures(m), x->ncols);
    double maxerr = 0;
    for (int j = 0; j < x->ncols; j++) {
        assert_close(cairn_linear_coef(m)[j], coef[j], 1e-6, model, (size_t)j);
        maxerr = fmax(maxerr, fabs(cairn_linear_coef(m)[j] - coef[j]));
    }
    assert_close(cairn_linear_intercept(m), json_number_value(json_object_get(ref, "intercept")),
                 1e-6, "intercept", 0);
    double *out = malloc(sizeof(double) * xt->nrows);
    assert_int_equal(cairn_linear_predict(m, xt, out), 0);
    for (size_t i = 0; i < xt->nrows; i++)
        assert_close(out[i], pred[i], 1e-6, "pred", i);
    printf("  %-12s max |coef - sklearn| = %.3g, sweeps %d\n", model, maxerr,
           cairn_linear_n_iter(m));

    free(out);
    cairn_linear_free(m);
    free(coef);
    free(pred);
    free(y);
    cairn_frame_free(x);
    cairn_frame_free(xt);
    json_decref(fx);
}

static void test_ols(void **state)
{
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    check_regression("ols", o);
}

static void test_ridge(void **state)
{
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    o.penalty = CAIRN_LINEAR_RIDGE;
    o.alpha = 1.0;
    check_regression("ridge", o);
    o.standardize = true;
    check_regression("ridge_std", o);
}

static void test_lasso(void **state)
{
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    o.penalty = CAIRN_LINEAR_LASSO;
    o.alpha = 0.1;
    o.tol = 1e-10;
    check_regression("lasso", o);
    o.standardize = true;
    check_regression("lasso_std", o);
    o.standardize = false;
    o.fit_intercept = false;
    o.alpha = 0.5;
    check_regression("lasso_noint", o);
}

static void test_enet(void **state)
{
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    o.penalty = CAIRN_LINEAR_ELASTICNET;
    o.alpha = 0.1;
    o.l1_ratio = 0.5;
    o.tol = 1e-10;
    check_regression("enet", o);
}

/* y = 2 x0 - 3 x1 + 1 exactly, with a constant column in the middle. */
static cairn_frame *constant_frame(size_t n, double *y)
{
    cairn_frame *f;
    cairn_frame_new(&f, n);
    double *a = malloc(sizeof(double) * n), *b = malloc(sizeof(double) * n),
           *c = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        a[i] = sin((double)i);
        b[i] = 4.0;
        c[i] = cos(3.0 * (double)i);
        y[i] = 2 * a[i] - 3 * c[i] + 1;
    }
    cairn_frame_add_f64(f, "a", a);
    cairn_frame_add_f64(f, "const", b);
    cairn_frame_add_f64(f, "c", c);
    free(a);
    free(b);
    free(c);
    return f;
}

static void test_constant_feature(void **state)
{
    double y[50];
    cairn_frame *x = constant_frame(50, y);
    for (int pen = CAIRN_LINEAR_OLS; pen <= CAIRN_LINEAR_ELASTICNET; pen++)
        for (int std = 0; std < 2; std++) {
            cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
            o.penalty = (cairn_linear_penalty)pen;
            o.alpha = pen == CAIRN_LINEAR_OLS ? 0 : 1e-3;
            o.standardize = std;
            o.tol = 1e-12;
            cairn_linear *m;
            assert_int_equal(cairn_linear_fit(&m, x, y, &o), 0);
            const double *w = cairn_linear_coef(m);
            assert_true(isfinite(w[0]) && isfinite(w[2]) && isfinite(cairn_linear_intercept(m)));
            assert_true(w[1] == 0.0); /* a constant column explains nothing */
            if (pen == CAIRN_LINEAR_OLS) {
                assert_close(w[0], 2, 1e-9, "a", 0);
                assert_close(w[2], -3, 1e-9, "c", 0);
                assert_close(cairn_linear_intercept(m), 1, 1e-9, "b", 0);
            }
            cairn_linear_free(m);
        }
    cairn_frame_free(x);
}

/* A duplicated column: OLS returns the minimum-norm split of the weight. */
static void test_collinear_min_norm(void **state)
{
    size_t n = 40;
    double a[40], y[40];
    for (size_t i = 0; i < n; i++) {
        a[i] = (double)i / 7.0 + sin((double)i);
        y[i] = 3 * a[i] - 2;
    }
    cairn_frame *x;
    cairn_frame_new(&x, n);
    cairn_frame_add_f64(x, "a", a);
    cairn_frame_add_f64(x, "a2", a);
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    cairn_linear *m;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), 0);
    assert_close(cairn_linear_coef(m)[0], 1.5, 1e-8, "w0", 0);
    assert_close(cairn_linear_coef(m)[1], 1.5, 1e-8, "w1", 0);
    assert_close(cairn_linear_intercept(m), -2, 1e-8, "b", 0);
    cairn_linear_free(m);
    cairn_frame_free(x);
}

static void test_linear_invalid(void **state)
{
    double y[50];
    cairn_frame *x = constant_frame(50, y);
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    cairn_linear *m = (cairn_linear *)1;

    y[7] = NAN;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), CAIRN_EINVALID);
    assert_null(m);
    y[7] = 0;
    x->cols[0].f64[3] = NAN;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), CAIRN_EINVALID);
    x->cols[0].f64[3] = 0;

    o.alpha = -1;
    o.penalty = CAIRN_LINEAR_RIDGE;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), CAIRN_EINVALID);
    o = (cairn_linear_opts)CAIRN_LINEAR_OPTS_INIT;
    o.penalty = CAIRN_LINEAR_ELASTICNET;
    o.l1_ratio = 1.5;
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), CAIRN_EINVALID);
    o = (cairn_linear_opts)CAIRN_LINEAR_OPTS_INIT;

    cairn_frame *one;
    cairn_frame_new(&one, 1);
    cairn_frame_add_f64(one, "a", y);
    assert_int_equal(cairn_linear_fit(&m, one, y, &o), CAIRN_EINVALID);
    cairn_frame_free(one);

    int32_t codes[50] = {0};
    const char *dict[] = {"u", "v"};
    cairn_frame_add_cat(x, "cat", codes, dict, 2);
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), CAIRN_EINVALID);
    assert_int_equal(cairn_error_last()->code, CAIRN_EINVALID);
    cairn_frame_free(x);

    /* predict on a frame with other columns */
    x = constant_frame(50, y);
    assert_int_equal(cairn_linear_fit(&m, x, y, &o), 0);
    cairn_frame *other;
    cairn_frame_new(&other, 2);
    cairn_frame_add_f64(other, "a", y);
    double out[2];
    assert_int_equal(cairn_linear_predict(m, other, out), CAIRN_EINVALID);
    cairn_frame_free(other);
    cairn_linear_free(m);
    cairn_frame_free(x);
}

/* ---------------------------------------------------------------------- */
/* Logistic regression                                                    */
/* ---------------------------------------------------------------------- */

static void check_logistic(const char *fixture, const char *model, cairn_logistic_opts o)
{
    json_t *fx = load_fixture(fixture);
    cairn_frame *x = frame_from_rows(json_object_get(fx, "x"));
    cairn_frame *xt = frame_from_rows(json_object_get(fx, "x_test"));
    int32_t *y = ints(json_object_get(fx, "y"));
    json_t *ref = json_object_get(json_object_get(fx, "models"), model);
    assert_non_null(ref);
    json_t *coef = json_object_get(ref, "coef"), *proba = json_object_get(ref, "proba");
    double *icpt = doubles(json_object_get(ref, "intercept"));
    int32_t *pred = ints(json_object_get(ref, "pred"));

    cairn_logistic *m;
    assert_int_equal(cairn_logistic_fit(&m, x, y, &o), 0);
    assert_true(cairn_logistic_converged(m));
    int rows = cairn_logistic_ncoef_rows(m), d = cairn_logistic_nfeatures(m);
    int K = cairn_logistic_nclasses(m);
    assert_int_equal(rows, (int)json_array_size(coef));
    /* the optimum (sklearn's Newton solvers or saga, tight tol): 1e-6 */
    double maxerr = 0;
    for (int k = 0; k < rows; k++) {
        for (int j = 0; j < d; j++) {
            double want =
                json_number_value(json_array_get(json_array_get(coef, (size_t)k), (size_t)j));
            double got = cairn_logistic_coef(m)[k * d + j];
            maxerr = fmax(maxerr, fabs(got - want));
            if (!(fabs(got - want) <= 1e-6))
                fail_msg("%s coef[%d][%d] got %.10g want %.10g", model, k, j, got, want);
        }
        double got = cairn_logistic_intercept(m)[k];
        maxerr = fmax(maxerr, fabs(got - icpt[k]));
        if (!(fabs(got - icpt[k]) <= 1e-6))
            fail_msg("%s intercept[%d] got %.10g want %.10g", model, k, got, icpt[k]);
    }
    /* sklearn's lbfgs, which stops on scipy's ftol ~1e-5 short of the
     * optimum: the target, 1e-4 */
    json_t *lcoef = json_object_get(ref, "coef_lbfgs");
    double lbfgs_err = NAN;
    if (lcoef) {
        double *licpt = doubles(json_object_get(ref, "intercept_lbfgs"));
        lbfgs_err = 0;
        for (int k = 0; k < rows; k++) {
            for (int j = 0; j < d; j++) {
                double want =
                    json_number_value(json_array_get(json_array_get(lcoef, (size_t)k), (size_t)j));
                lbfgs_err = fmax(lbfgs_err, fabs(cairn_logistic_coef(m)[k * d + j] - want));
            }
            lbfgs_err = fmax(lbfgs_err, fabs(cairn_logistic_intercept(m)[k] - licpt[k]));
        }
        free(licpt);
        if (!(lbfgs_err <= 1e-4))
            fail_msg("%s: max |coef - sklearn lbfgs| = %.3g > 1e-4", model, lbfgs_err);
    }
    double *p = malloc(sizeof(double) * xt->nrows * (size_t)K);
    int32_t *lab = malloc(sizeof(int32_t) * xt->nrows);
    assert_int_equal(cairn_logistic_predict_proba(m, xt, p), 0);
    assert_int_equal(cairn_logistic_predict(m, xt, lab), 0);
    for (size_t i = 0; i < xt->nrows; i++) {
        for (int k = 0; k < K; k++) {
            double want = json_number_value(json_array_get(json_array_get(proba, i), (size_t)k));
            if (!(fabs(p[i * (size_t)K + (size_t)k] - want) <= 1e-7))
                fail_msg("%s proba[%zu][%d] got %.10g want %.10g", model, i, k,
                         p[i * (size_t)K + (size_t)k], want);
        }
        assert_int_equal(lab[i], pred[i]);
    }
    printf("  %-10s/%-8s max |coef - optimum| = %.3g, |coef - lbfgs| = %.3g, iterations %d\n",
           fixture, model, maxerr, lbfgs_err, cairn_logistic_n_iter(m));
    free(p);
    free(lab);
    free(icpt);
    free(pred);
    free(y);
    cairn_logistic_free(m);
    cairn_frame_free(x);
    cairn_frame_free(xt);
    json_decref(fx);
}

static void test_logistic_l2_binary(void **state)
{
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    o.tol = 1e-10;
    check_logistic("binary", "l2", o);
    o.fit_intercept = false;
    check_logistic("binary", "l2_noint", o);
    o.fit_intercept = true;
    o.standardize = true;
    o.C = 0.5;
    check_logistic("binary", "l2_std", o);
}

static void test_logistic_l2_multinomial(void **state)
{
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    o.tol = 1e-10;
    check_logistic("multiclass", "l2", o);
}

static void test_logistic_l1(void **state)
{
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    o.penalty = CAIRN_LOGISTIC_L1;
    o.tol = 1e-10;
    o.max_iter = 200000;
    check_logistic("binary", "l1", o);
    check_logistic("multiclass", "l1", o);
}

/* Same coefficients, bit for bit, with 1 and 2 OpenMP threads. */
static void test_logistic_deterministic(void **state)
{
    json_t *fx = load_fixture("multiclass");
    cairn_frame *x = frame_from_rows(json_object_get(fx, "x"));
    int32_t *y = ints(json_object_get(fx, "y"));
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    cairn_logistic *m1, *m2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(cairn_logistic_fit(&m1, x, y, &o), 0);
    omp_set_num_threads(2);
    assert_int_equal(cairn_logistic_fit(&m2, x, y, &o), 0);
    omp_set_num_threads(saved);
    size_t nc = (size_t)cairn_logistic_ncoef_rows(m1) * (size_t)cairn_logistic_nfeatures(m1);
    assert_memory_equal(cairn_logistic_coef(m1), cairn_logistic_coef(m2), nc * sizeof(double));
    cairn_logistic_free(m1);
    cairn_logistic_free(m2);
    free(y);
    cairn_frame_free(x);
    json_decref(fx);
}

/* Perfectly separable classes: the L2 optimum is finite and is reached. */
static void test_logistic_separable(void **state)
{
    size_t n = 60;
    double a[60], b[60];
    int32_t y[60];
    for (size_t i = 0; i < n; i++) {
        a[i] = (double)i - 30.0 + (i >= 30 ? 2.0 : 0.0);
        b[i] = cos((double)i);
        y[i] = i >= 30 ? 7 : 3;
    }
    cairn_frame *x;
    cairn_frame_new(&x, n);
    cairn_frame_add_f64(x, "a", a);
    cairn_frame_add_f64(x, "b", b);
    for (int pen = 0; pen < 2; pen++) {
        cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
        o.penalty = (cairn_logistic_penalty)pen;
        o.C = 100;
        o.max_iter = 100000;
        cairn_logistic *m;
        assert_int_equal(cairn_logistic_fit(&m, x, y, &o), 0);
        assert_true(cairn_logistic_converged(m));
        assert_true(isfinite(cairn_logistic_coef(m)[0]) &&
                    isfinite(cairn_logistic_intercept(m)[0]));
        assert_int_equal(cairn_logistic_classes(m)[0], 3);
        assert_int_equal(cairn_logistic_classes(m)[1], 7);
        int32_t pred[60];
        assert_int_equal(cairn_logistic_predict(m, x, pred), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(pred[i], y[i]);
        cairn_logistic_free(m);
    }
    cairn_frame_free(x);
}

static void test_logistic_constant_feature(void **state)
{
    double yd[50];
    cairn_frame *x = constant_frame(50, yd);
    int32_t y[50];
    for (int i = 0; i < 50; i++)
        y[i] = yd[i] + 0.3 * sin(5.0 * i) > 1 ? 1 : 0;
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    o.standardize = true;
    cairn_logistic *m;
    assert_int_equal(cairn_logistic_fit(&m, x, y, &o), 0);
    assert_true(cairn_logistic_converged(m));
    assert_true(cairn_logistic_coef(m)[1] == 0.0);
    assert_true(isfinite(cairn_logistic_coef(m)[0]) && isfinite(cairn_logistic_intercept(m)[0]));
    cairn_logistic_free(m);
    cairn_frame_free(x);
}

static void test_logistic_invalid(void **state)
{
    double yd[50];
    cairn_frame *x = constant_frame(50, yd);
    int32_t y[50];
    for (int i = 0; i < 50; i++)
        y[i] = 4;
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    cairn_logistic *m = (cairn_logistic *)1;
    assert_int_equal(cairn_logistic_fit(&m, x, y, &o), CAIRN_EINVALID); /* one class */
    assert_null(m);
    y[10] = 5;
    o.C = 0;
    assert_int_equal(cairn_logistic_fit(&m, x, y, &o), CAIRN_EINVALID);
    o.C = 1;
    x->cols[2].f64[5] = NAN;
    assert_int_equal(cairn_logistic_fit(&m, x, y, &o), CAIRN_EINVALID);
    cairn_frame_free(x);

    cairn_frame *one;
    cairn_frame_new(&one, 1);
    cairn_frame_add_f64(one, "a", yd);
    assert_int_equal(cairn_logistic_fit(&m, one, y, &o), CAIRN_EINVALID);
    cairn_frame_free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ols),
        cmocka_unit_test(test_ridge),
        cmocka_unit_test(test_lasso),
        cmocka_unit_test(test_enet),
        cmocka_unit_test(test_constant_feature),
        cmocka_unit_test(test_collinear_min_norm),
        cmocka_unit_test(test_linear_invalid),
        cmocka_unit_test(test_logistic_l2_binary),
        cmocka_unit_test(test_logistic_l2_multinomial),
        cmocka_unit_test(test_logistic_l1),
        cmocka_unit_test(test_logistic_deterministic),
        cmocka_unit_test(test_logistic_separable),
        cmocka_unit_test(test_logistic_constant_feature),
        cmocka_unit_test(test_logistic_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
