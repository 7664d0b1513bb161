/*
 * metrics_test.c - metrics and A/B comparison against scikit-learn goldens
 * (tests/fixtures/metrics/*.json, made by tests/fixtures/gen_metrics.py)
 * plus property tests.
 *
 * Tolerance: 1e-12 relative for every golden. The implementation follows
 * numpy's pairwise summation order, so most values match bit for bit; the
 * slack covers libm vs numpy's own log/exp (log-loss) and scipy's
 * incomplete-beta binomial tail (McNemar). Property tests draw from a seeded
 * PRNG; CAIRN_PROP_ITERS sets their iteration count, the seed is printed on
 * failure.
 */
#include <dirent.h>
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

#include "cairn/metrics.h"

#define REL_TOL 1e-12

static int n_checked, n_bit_exact;

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
    snprintf(path, sizeof(path), "%s/tests/fixtures/metrics/%s", source_dir(), name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
    return j;
}

/* Fixture files whose name starts with prefix, sorted; returns the count. */
static int list_fixtures(const char *prefix, char names[][256], int max)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/fixtures/metrics", source_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len > 5 && len < 256 &&
            strcmp(e->d_name + len - 5, ".json") == 0)
            snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* A JSON array of numbers as a cairn_malloc'd array of doubles. */
static double *jarr(const json_t *o, const char *key, size_t *n)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) fail_msg("fixture key '%s' is not an array", key);
    *n = json_array_size(a);
    double *v = cairn_malloc(sizeof(double) * (*n ? *n : 1));
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

static double jnum(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("fixture key '%s' is not a number", key);
    return json_number_value(v);
}

static void check_close(double got, double want, const char *what, const char *file)
{
    n_checked++;
    if (got == want) {
        n_bit_exact++;
        return;
    }
    double tol = REL_TOL * fmax(fabs(want), 1e-300);
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: %s = %.17g, sklearn %.17g (rel err %.3g)", file, what, got, want,
                 fabs(got - want) / fabs(want));
    printf("# within tolerance, not bit-exact: %s %s rel err %.3g\n", file, what,
           fabs(got - want) / fabs(want));
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) fail_msg("%s -> %d: %s", #call, rc_, cairn_error_last()->msg);                    \
    } while (0)

/* ---- golden tests ----------------------------------------------------------- */

static void test_binary_fixtures(void **state)
{
    (void)state;
    char names[32][256];
    int nf = list_fixtures("binary_", names, 32);
    assert_true(nf >= 5);
    for (int f = 0; f < nf; f++) {
        json_t *j = load_fixture(names[f]);
        size_t n, n2, n3;
        double *y = jarr(j, "y_true", &n), *s = jarr(j, "y_score", &n2),
               *p = jarr(j, "y_pred", &n3);
        assert_true(n == n2 && n == n3 && n >= 50);
        double v;
        OK(cairn_metrics_roc_auc(y, s, n, &v));
        check_close(v, jnum(j, "roc_auc"), "roc_auc", names[f]);
        OK(cairn_metrics_average_precision(y, s, n, &v));
        check_close(v, jnum(j, "average_precision"), "average_precision", names[f]);
        OK(cairn_metrics_log_loss(y, s, n, &v));
        check_close(v, jnum(j, "log_loss"), "log_loss", names[f]);
        OK(cairn_metrics_accuracy(y, p, n, &v));
        check_close(v, jnum(j, "accuracy"), "accuracy", names[f]);
        cairn_metrics_prf prf;
        OK(cairn_metrics_prf_score(y, p, n, 2, CAIRN_METRICS_BINARY, &prf));
        check_close(prf.precision, jnum(j, "precision"), "precision", names[f]);
        check_close(prf.recall, jnum(j, "recall"), "recall", names[f]);
        check_close(prf.f1, jnum(j, "f1"), "f1", names[f]);
        int64_t cm[4];
        OK(cairn_metrics_confusion(y, p, n, 2, cm));
        json_t *jcm = json_object_get(j, "confusion");
        for (int i = 0; i < 4; i++)
            assert_int_equal(cm[i], json_integer_value(json_array_get(jcm, (size_t)i)));

        json_t *cal = json_object_get(j, "calibration");
        assert_int_equal(json_array_size(cal), 4);
        for (size_t c = 0; c < json_array_size(cal); c++) {
            json_t *cc = json_array_get(cal, c);
            int bins = (int)jnum(cc, "n_bins");
            int quant = strcmp(json_string_value(json_object_get(cc, "strategy")), "quantile") == 0;
            size_t m1, m2;
            double *pt = jarr(cc, "prob_true", &m1), *pp = jarr(cc, "prob_pred", &m2);
            double got_t[16], got_p[16];
            int64_t cnt[16];
            int nout;
            OK(cairn_metrics_calibration(
                y, s, n, bins, quant ? CAIRN_METRICS_CALIB_QUANTILE : CAIRN_METRICS_CALIB_UNIFORM,
                got_t, got_p, cnt, &nout));
            assert_int_equal(nout, m1);
            int64_t total = 0;
            for (int b = 0; b < nout; b++) {
                check_close(got_t[b], pt[b], "calibration prob_true", names[f]);
                check_close(got_p[b], pp[b], "calibration prob_pred", names[f]);
                assert_true(cnt[b] > 0);
                total += cnt[b];
            }
            assert_int_equal(total, n);
            cairn_free(pt);
            cairn_free(pp);
        }
        cairn_free(y);
        cairn_free(s);
        cairn_free(p);
        json_decref(j);
    }
}

static void test_multiclass_fixtures(void **state)
{
    (void)state;
    char names[32][256];
    int nf = list_fixtures("multi_", names, 32);
    assert_true(nf >= 3);
    for (int f = 0; f < nf; f++) {
        json_t *j = load_fixture(names[f]);
        int k = (int)jnum(j, "k");
        size_t n, np_, n3;
        double *y = jarr(j, "y_true", &n), *proba = jarr(j, "proba", &np_),
               *p = jarr(j, "y_pred", &n3);
        assert_true(np_ == n * (size_t)k && n3 == n);
        double v;
        OK(cairn_metrics_log_loss_multi(y, proba, n, k, &v));
        check_close(v, jnum(j, "log_loss"), "log_loss", names[f]);
        OK(cairn_metrics_accuracy(y, p, n, &v));
        check_close(v, jnum(j, "accuracy"), "accuracy", names[f]);
        const char *avgs[2] = {"macro", "weighted"};
        cairn_metrics_average modes[2] = {CAIRN_METRICS_MACRO, CAIRN_METRICS_WEIGHTED};
        for (int a = 0; a < 2; a++) {
            cairn_metrics_prf prf;
            json_t *g = json_object_get(j, avgs[a]);
            OK(cairn_metrics_prf_score(y, p, n, k, modes[a], &prf));
            check_close(prf.precision, jnum(g, "precision"), "precision", names[f]);
            check_close(prf.recall, jnum(g, "recall"), "recall", names[f]);
            check_close(prf.f1, jnum(g, "f1"), "f1", names[f]);
        }
        int64_t *cm = cairn_malloc(sizeof(int64_t) * (size_t)(k * k));
        OK(cairn_metrics_confusion(y, p, n, k, cm));
        json_t *jcm = json_object_get(j, "confusion");
        for (int i = 0; i < k * k; i++)
            assert_int_equal(cm[i], json_integer_value(json_array_get(jcm, (size_t)i)));
        cairn_free(cm);
        cairn_free(y);
        cairn_free(proba);
        cairn_free(p);
        json_decref(j);
    }
}

static void test_regression_fixtures(void **state)
{
    (void)state;
    char names[32][256];
    int nf = list_fixtures("regression_", names, 32);
    assert_true(nf >= 4);
    for (int f = 0; f < nf; f++) {
        json_t *j = load_fixture(names[f]);
        size_t n, n2;
        double *yt = jarr(j, "y_true", &n), *yp = jarr(j, "y_pred", &n2);
        assert_true(n == n2);
        double v;
        OK(cairn_metrics_mse(yt, yp, n, &v));
        check_close(v, jnum(j, "mse"), "mse", names[f]);
        OK(cairn_metrics_rmse(yt, yp, n, &v));
        check_close(v, jnum(j, "rmse"), "rmse", names[f]);
        OK(cairn_metrics_mae(yt, yp, n, &v));
        check_close(v, jnum(j, "mae"), "mae", names[f]);
        OK(cairn_metrics_r2(yt, yp, n, &v));
        check_close(v, jnum(j, "r2"), "r2", names[f]);
        OK(cairn_metrics_mape(yt, yp, n, &v));
        check_close(v, jnum(j, "mape"), "mape", names[f]);
        cairn_free(yt);
        cairn_free(yp);
        json_decref(j);
    }
}

static void test_percentile_fixture(void **state)
{
    (void)state;
    json_t *j = load_fixture("percentile.json");
    json_t *cases = json_object_get(j, "cases");
    assert_true(json_array_size(cases) >= 5);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cc = json_array_get(cases, c);
        size_t n, np_, ne;
        double *x = jarr(cc, "x", &n), *pct = jarr(cc, "pct", &np_),
               *want = jarr(cc, "expected", &ne);
        assert_int_equal(np_, ne);
        for (size_t i = 0; i < np_; i++) {
            double v;
            OK(cairn_metrics_percentile(x, n, pct[i], &v));
            check_close(v, want[i], "percentile", "percentile.json");
        }
        cairn_free(x);
        cairn_free(pct);
        cairn_free(want);
    }
    json_decref(j);
}

static void test_mcnemar_fixture(void **state)
{
    (void)state;
    json_t *j = load_fixture("mcnemar.json");
    json_t *cases = json_object_get(j, "cases");
    assert_true(json_array_size(cases) >= 8);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cc = json_array_get(cases, c);
        int b = (int)jnum(cc, "b"), cn = (int)jnum(cc, "c"), both = (int)jnum(cc, "both"),
            neither = (int)jnum(cc, "neither");
        size_t n = (size_t)(b + cn + both + neither);
        double *ca = cairn_malloc(sizeof(double) * n), *cb = cairn_malloc(sizeof(double) * n);
        /* interleave the four kinds of rows so order cannot matter */
        int left[4] = {b, cn, both, neither};
        const double va[4] = {1, 0, 1, 0}, vb[4] = {0, 1, 1, 0};
        for (size_t i = 0; i < n;)
            for (int t = 0; t < 4; t++)
                if (left[t]) {
                    left[t]--;
                    ca[i] = va[t];
                    cb[i] = vb[t];
                    i++;
                }
        cairn_mcnemar_result r;
        OK(cairn_compare_mcnemar(ca, cb, n, &r));
        assert_int_equal(r.b, b);
        assert_int_equal(r.c, cn);
        assert_int_equal(r.exact, (int)jnum(cc, "exact"));
        check_close(r.statistic, jnum(cc, "statistic"), "mcnemar statistic", "mcnemar.json");
        check_close(r.p_value, jnum(cc, "p_value"), "mcnemar p", "mcnemar.json");
        cairn_free(ca);
        cairn_free(cb);
    }
    json_decref(j);
}

/* ---- properties ------------------------------------------------------------------ */

static int prop_iters(void)
{
    const char *e = getenv("CAIRN_PROP_ITERS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? (int)v : 200;
}

/* Random binary labels with both classes and integer-grid scores with ties. */
static void random_case(cairn_ml_rng *rng, size_t n, double *y, double *s)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = (double)cairn_ml_rng_below(rng, 2);
        s[i] = (double)cairn_ml_rng_below(rng, 40) + 5 * y[i] - 20;
    }
    y[0] = 0;
    y[1] = 1;
}

/* AUC as the Mann-Whitney statistic: P(score_pos > score_neg) + P(tie) / 2. */
static double auc_pairs(const double *y, const double *s, size_t n)
{
    double wins = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                pairs++;
                wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
            }
    return wins / pairs;
}

static void test_auc_properties(void **state)
{
    (void)state;
    int iters = prop_iters();
    for (int it = 0; it < iters; it++) {
        uint64_t seed = 0xA0C0000ULL + (uint64_t)it;
        cairn_ml_rng rng;
        cairn_ml_rng_seed(&rng, seed);
        size_t n = 2 + (size_t)cairn_ml_rng_below(&rng, 300);
        double *y = cairn_malloc(n * sizeof(double)), *s = cairn_malloc(n * sizeof(double));
        double *t = cairn_malloc(n * sizeof(double));
        random_case(&rng, n, y, s);
        double auc, auc_t, auc_neg;
        OK(cairn_metrics_roc_auc(y, s, n, &auc));
        /* strictly increasing transforms keep the ranking and the ties */
        for (int f = 0; f < 3; f++) {
            for (size_t i = 0; i < n; i++)
                t[i] = f == 0 ? exp(s[i] / 7) : f == 1 ? s[i] * s[i] * s[i] : 3 * s[i] - 11;
            OK(cairn_metrics_roc_auc(y, t, n, &auc_t));
            if (auc_t != auc)
                fail_msg("seed %#llx: auc %.17g changed to %.17g under transform %d",
                         (unsigned long long)seed, auc, auc_t, f);
        }
        for (size_t i = 0; i < n; i++)
            t[i] = -s[i];
        OK(cairn_metrics_roc_auc(y, t, n, &auc_neg));
        if (fabs(auc + auc_neg - 1) > 1e-12)
            fail_msg("seed %#llx: auc %.17g + auc(-s) %.17g != 1", (unsigned long long)seed, auc,
                     auc_neg);
        double want = auc_pairs(y, s, n);
        if (fabs(auc - want) > 1e-12)
            fail_msg("seed %#llx: auc %.17g, mann-whitney %.17g", (unsigned long long)seed, auc,
                     want);
        cairn_free(y);
        cairn_free(s);
        cairn_free(t);
    }
}

static void test_errors(void **state)
{
    (void)state;
    double y[4] = {0, 1, 0, 1}, s[4] = {0.1, 0.9, 0.3, 0.2}, v;
    double ones[4] = {1, 1, 1, 1}, zeros[4] = {0, 0, 0, 0};
    assert_int_equal(cairn_metrics_roc_auc(y, s, 0, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_roc_auc(ones, s, 4, &v), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "one class"));
    assert_int_equal(cairn_metrics_roc_auc(zeros, s, 4, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_average_precision(zeros, s, 4, &v), CAIRN_EINVALID);
    OK(cairn_metrics_average_precision(ones, s, 4, &v)); /* all positive: precision 1 */
    assert_true(v == 1.0);
    double bad[4] = {0.1, NAN, 0.3, 0.2};
    assert_int_equal(cairn_metrics_roc_auc(y, bad, 4, &v), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "nan"));
    assert_int_equal(cairn_metrics_log_loss(y, bad, 4, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_mse(y, bad, 4, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_r2(bad, y, 4, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_r2(y, s, 1, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_accuracy(bad, y, 4, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_mape(y, s, 0, &v), CAIRN_EINVALID);
    double y2[4] = {0, 2, 0, 1};
    assert_int_equal(cairn_metrics_roc_auc(y2, s, 4, &v), CAIRN_EINVALID);
    int64_t cm[4];
    assert_int_equal(cairn_metrics_confusion(y2, y, 4, 2, cm), CAIRN_EINVALID);
    double half[4] = {0, 0.5, 1, 0};
    assert_int_equal(cairn_metrics_confusion(half, y, 4, 2, cm), CAIRN_EINVALID);
    cairn_metrics_prf prf;
    assert_int_equal(cairn_metrics_prf_score(y, y, 4, 3, CAIRN_METRICS_BINARY, &prf),
                     CAIRN_EINVALID);
    double pt[3], pp[3];
    int nout;
    double out_of_range[4] = {0.1, 1.5, 0.2, 0.3};
    assert_int_equal(cairn_metrics_calibration(y, out_of_range, 4, 3, CAIRN_METRICS_CALIB_UNIFORM,
                                               pt, pp, NULL, &nout),
                     CAIRN_EINVALID);
    assert_int_equal(
        cairn_metrics_calibration(y, s, 4, 0, CAIRN_METRICS_CALIB_UNIFORM, pt, pp, NULL, &nout),
        CAIRN_EINVALID);
    double proba[8] = {0.5, 0.5, 0.2, 0.8, 0.9, 0.1, 0.3, 0.7};
    assert_int_equal(cairn_metrics_log_loss_multi(y2, proba, 4, 2, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_log_loss_multi(y, proba, 4, 1, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_metrics_percentile(s, 4, 101, &v), CAIRN_EINVALID);
    assert_int_equal(cairn_error_last()->subsys, CAIRN_SUBSYS_ML);
    /* r2 of a constant target: 1 when exact, else 0 (sklearn force_finite) */
    double c[3] = {2, 2, 2}, c2[3] = {2, 2, 2.5};
    OK(cairn_metrics_r2(c, c, 3, &v));
    assert_true(v == 1.0);
    OK(cairn_metrics_r2(c, c2, 3, &v));
    assert_true(v == 0.0);
}

/* ---- A/B comparison -------------------------------------------------------------- */

static int auc_cb(const double *y, const double *s, size_t n, double *out, void *payload)
{
    (void)payload;
    return cairn_metrics_roc_auc(y, s, n, out);
}

static int logloss_multi_cb(const double *y, const double *s, size_t n, double *out, void *payload)
{
    return cairn_metrics_log_loss_multi(y, s, n, *(const int *)payload, out);
}

/* Fails with CAIRN_EIO on any array but the full test set: only resamples. */
static int failing_cb(const double *y, const double *s, size_t n, double *out, void *payload)
{
    if (y == (const double *)payload) return cairn_metrics_roc_auc(y, s, n, out);
    return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "synthetic metric failure");
}

static void assert_same_result(const cairn_bootstrap_result *x, const cairn_bootstrap_result *y)
{
    assert_true(x->metric_a == y->metric_a && x->metric_b == y->metric_b && x->diff == y->diff);
    assert_true(x->ci_low == y->ci_low && x->ci_high == y->ci_high);
    assert_true(x->p_value == y->p_value && x->n_valid == y->n_valid);
}

static void test_bootstrap(void **state)
{
    (void)state;
    size_t n = 400;
    double *y = cairn_malloc(n * sizeof(double)), *a = cairn_malloc(n * sizeof(double)),
           *b = cairn_malloc(n * sizeof(double));
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, 42);
    for (size_t i = 0; i < n; i++) {
        y[i] = (double)(i % 2);
        a[i] = y[i] * 1.5 + cairn_ml_rng_uniform(&rng); /* good model */
        b[i] = y[i] * 0.2 + cairn_ml_rng_uniform(&rng); /* weak model */
    }
    cairn_bootstrap_opts o = CAIRN_BOOTSTRAP_OPTS_INIT;
    o.n_resamples = 500;
    cairn_bootstrap_result r1, r2, r3;
    cairn_ml_rng_seed(&rng, 7);
    OK(cairn_compare_bootstrap(y, a, b, n, 1, auc_cb, NULL, &o, &rng, &r1));
    double auc_a, auc_b;
    OK(cairn_metrics_roc_auc(y, a, n, &auc_a));
    OK(cairn_metrics_roc_auc(y, b, n, &auc_b));
    assert_true(r1.metric_a == auc_a && r1.metric_b == auc_b && r1.diff == auc_a - auc_b);
    assert_int_equal(r1.n_valid, 500);
    assert_true(r1.ci_low > 0 && r1.ci_low <= r1.diff && r1.diff <= r1.ci_high);
    assert_true(fabs(r1.p_value - 2.0 / 501) < 1e-15); /* no resample crosses 0 */

    /* same seed, serial vs parallel: identical */
    o.threads = 1;
    cairn_ml_rng_seed(&rng, 7);
    OK(cairn_compare_bootstrap(y, a, b, n, 1, auc_cb, NULL, &o, &rng, &r2));
    assert_same_result(&r1, &r2);
    o.threads = 3;
    cairn_ml_rng_seed(&rng, 7);
    OK(cairn_compare_bootstrap(y, a, b, n, 1, auc_cb, NULL, &o, &rng, &r3));
    assert_same_result(&r1, &r3);

    /* a model against itself: difference 0 everywhere, p = 1 */
    OK(cairn_compare_bootstrap(y, a, a, n, 1, auc_cb, NULL, &o, &rng, &r3));
    assert_true(r3.diff == 0 && r3.ci_low == 0 && r3.ci_high == 0 && r3.p_value == 1);

    /* two equally noisy models: the p-value is not small */
    for (size_t i = 0; i < n; i++)
        b[i] = y[i] * 1.5 + cairn_ml_rng_uniform(&rng);
    OK(cairn_compare_bootstrap(y, a, b, n, 1, auc_cb, NULL, &o, &rng, &r3));
    assert_true(r3.ci_low < 0 && r3.ci_high > 0 && r3.p_value > 0.05);

    /* resamples where AUC is undefined are skipped, not fatal */
    double ys[6] = {0, 0, 0, 0, 0, 1}, sa[6] = {1, 2, 3, 4, 5, 6}, sb[6] = {6, 5, 4, 3, 2, 1};
    OK(cairn_compare_bootstrap(ys, sa, sb, 6, 1, auc_cb, NULL, &o, &rng, &r3));
    assert_true(r3.n_valid > 0 && r3.n_valid < 500);
    assert_true(r3.diff == 1.0);

    /* any other error on a resample aborts with the metric's own message,
     * also when it happened on a worker thread */
    for (int th = 1; th <= 3; th += 2) {
        o.threads = th;
        cairn_error_clear();
        assert_int_equal(cairn_compare_bootstrap(y, a, b, n, 1, failing_cb, y, &o, &rng, &r3),
                         CAIRN_EIO);
        assert_string_equal(cairn_error_last()->msg, "synthetic metric failure");
    }
    o.n_resamples = 0;
    assert_int_equal(cairn_compare_bootstrap(y, a, b, n, 1, auc_cb, NULL, &o, &rng, &r3),
                     CAIRN_EINVALID);

    /* width > 1: probability rows resample as units */
    int k = 3;
    size_t m = 90;
    double *yk = cairn_malloc(m * sizeof(double)), *pa = cairn_malloc(m * 3 * sizeof(double)),
           *pb = cairn_malloc(m * 3 * sizeof(double));
    for (size_t i = 0; i < m; i++) {
        yk[i] = (double)(i % 3);
        for (int c = 0; c < 3; c++) {
            pa[i * 3 + (size_t)c] = c == (int)yk[i] ? 0.6 : 0.2;
            pb[i * 3 + (size_t)c] = 1.0 / 3;
        }
    }
    o.n_resamples = 200;
    OK(cairn_compare_bootstrap(yk, pa, pb, m, 3, logloss_multi_cb, &k, &o, &rng, &r3));
    /* every row of A has loss -log(0.6), of B log(3): the difference never varies */
    double d = -log(0.6) - log(3.0);
    assert_true(fabs(r3.diff - d) < 1e-12 && fabs(r3.ci_low - d) < 1e-12 &&
                fabs(r3.ci_high - d) < 1e-12);
    assert_true(fabs(r3.p_value - 2.0 / 201) < 1e-15);
    cairn_free(yk);
    cairn_free(pa);
    cairn_free(pb);
    cairn_free(y);
    cairn_free(a);
    cairn_free(b);
}

static void test_mcnemar_errors(void **state)
{
    (void)state;
    double a[3] = {1, 0, 2}, b[3] = {1, 1, 0};
    cairn_mcnemar_result r;
    assert_int_equal(cairn_compare_mcnemar(a, b, 3, &r), CAIRN_EINVALID);
    assert_int_equal(cairn_compare_mcnemar(a, b, 0, &r), CAIRN_EINVALID);
}

static int report(void **state)
{
    (void)state;
    printf("# %d golden values checked, %d bit-exact\n", n_checked, n_bit_exact);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_fixtures),
        cmocka_unit_test(test_multiclass_fixtures),
        cmocka_unit_test(test_regression_fixtures),
        cmocka_unit_test(test_percentile_fixture),
        cmocka_unit_test(test_mcnemar_fixture),
        cmocka_unit_test(test_auc_properties),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_mcnemar_errors),
    };
    return cmocka_run_group_tests(tests, NULL, report);
}
