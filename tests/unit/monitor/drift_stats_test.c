/*
 * drift_stats_test.c - exact drift statistics against SciPy 1.10 goldens
 * (tests/fixtures/drift/*.txt, made by tests/fixtures/gen_drift.py):
 * ks_2samp (exact and asymptotic regimes, ties, different sizes), the KS
 * p-value paths, kstwo.sf over every branch, smirnov, chisquare, chi2.sf,
 * jensenshannon, wasserstein_distance and PSI; plus property tests.
 *
 * Tolerance: 1e-9 relative (the brief's bound for exact algorithms), with
 * an absolute floor of 1e-15 for p-values near 0 (where SciPy's own
 * 1 - cdf has that much absolute error). Property tests use a seeded PRNG;
 * CAIRN_PROP_ITERS sets the iteration count; the seed is printed on failure.
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

#include "cairn/drift.h"
#include "monitor/monitor_internal.h"

#define REL_TOL 1e-9
#define ABS_TOL 1e-15

static const char *source_dir(void)
{
    const char *d = getenv("CAIRN_SOURCE_DIR");
#ifdef CAIRN_SOURCE_DIR
    if (!d) d = CAIRN_SOURCE_DIR;
#endif
    assert_non_null(d);
    return d;
}

static FILE *open_fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/drift/%s", source_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    return f;
}

static void check_close(const char *what, int line, double got, double want)
{
    if (isinf(want) && got == want) return;
    double err = fabs(got - want);
    if (err <= ABS_TOL || err <= REL_TOL * fabs(want)) return;
    fail_msg("%s line %d: got %.17g want %.17g (rel %.3g)", what, line, got, want,
             err / fabs(want));
}

/* Reads whitespace-separated doubles of one line into v (at most max). */
static int read_line(FILE *f, double *v, int max)
{
    static char buf[1 << 16];
    if (!fgets(buf, sizeof buf, f)) return -1;
    int n = 0;
    char *p = buf, *end;
    while (n < max) {
        double x = strtod(p, &end);
        if (end == p) break;
        v[n++] = x;
        p = end;
    }
    return n;
}

static double *gen(size_t n, int64_t p, int64_t o, int64_t M, double scale, double shift)
{
    double *v = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        v[i] = (double)(((int64_t)i * p + o) % M) / (double)M * scale + shift;
    return v;
}

static void test_ks2samp_and_wasserstein(void **state)
{
    (void)state;
    FILE *f = open_fixture("ks2samp.txt");
    double v[16];
    int line = 0, n;
    while ((n = read_line(f, v, 16)) > 0) {
        line++;
        assert_int_equal(n, 12);
        size_t na = (size_t)v[0], nb = (size_t)v[1];
        double *a = gen(na, (int64_t)v[2], (int64_t)v[3], (int64_t)v[6], 1.0, 0.0);
        double *b = gen(nb, (int64_t)v[4], (int64_t)v[5], (int64_t)v[6], v[7], v[8]);
        cairn_drift_test t;
        assert_int_equal(cairn_drift_ks(a, na, b, nb, &t), 0);
        check_close("ks statistic", line, t.statistic, v[9]);
        check_close("ks pvalue", line, t.pvalue, v[10]);
        /* symmetric */
        cairn_drift_test t2;
        assert_int_equal(cairn_drift_ks(b, nb, a, na, &t2), 0);
        check_close("ks symmetric", line, t2.statistic, t.statistic);
        double w;
        assert_int_equal(cairn_drift_wasserstein(a, na, b, nb, &w), 0);
        check_close("wasserstein", line, w, v[11]);
        free(a);
        free(b);
    }
    assert_true(line >= 10);
    fclose(f);
}

static void test_ks_pvalue(void **state)
{
    (void)state;
    FILE *f = open_fixture("kspvalue.txt");
    double v[8];
    int line = 0, n;
    while ((n = read_line(f, v, 8)) > 0) {
        line++;
        assert_int_equal(n, 4);
        double p = cairn_drift_ks_pvalue((uint64_t)v[0], (uint64_t)v[1], v[2], CAIRN_DRIFT_KS_AUTO);
        check_close("ks p-value", line, p, v[3]);
    }
    assert_true(line > 30);
    fclose(f);
}

static void test_kstwo(void **state)
{
    (void)state;
    FILE *f = open_fixture("kstwo.txt");
    double v[8];
    int line = 0, n;
    while ((n = read_line(f, v, 8)) > 0) {
        line++;
        check_close("kstwo.sf", line, cairn_drift_kstwo_sf((uint64_t)v[0], v[1]), v[2]);
    }
    assert_true(line > 200);
    fclose(f);
    f = open_fixture("smirnov.txt");
    line = 0;
    while ((n = read_line(f, v, 8)) > 0) {
        line++;
        check_close("smirnov", line, cairn_drift__smirnov((uint64_t)v[0], v[1]), v[2]);
    }
    fclose(f);
}

static void test_chi2(void **state)
{
    (void)state;
    static double v[1024];
    FILE *f = open_fixture("chi2.txt");
    int line = 0, n;
    while ((n = read_line(f, v, 1024)) > 0) {
        line++;
        size_t k = (size_t)v[0];
        assert_int_equal(n, (int)(1 + 2 * k + 2));
        cairn_drift_test t;
        assert_int_equal(cairn_drift_chi2(v + 1, v + 1 + k, k, &t), 0);
        check_close("chi2 statistic", line, t.statistic, v[1 + 2 * k]);
        check_close("chi2 pvalue", line, t.pvalue, v[2 + 2 * k]);
    }
    fclose(f);
    f = open_fixture("chi2sf.txt");
    line = 0;
    while ((n = read_line(f, v, 8)) > 0) {
        line++;
        check_close("chi2.sf", line, cairn_drift_chi2_sf(v[0], v[1]), v[2]);
    }
    fclose(f);
    /* a new category (reference 0, observed > 0): infinite statistic, p = 0 */
    double obs[3] = {1, 2, 3}, ref[3] = {4, 5, 0};
    cairn_drift_test t;
    assert_int_equal(cairn_drift_chi2(obs, ref, 3, &t), 0);
    assert_true(isinf(t.statistic));
    assert_true(t.pvalue == 0.0);
    assert_int_equal(cairn_drift_chi2(obs, ref, 0, &t), CAIRN_EINVALID);
}

static void test_js_psi(void **state)
{
    (void)state;
    static double v[1024];
    const char *files[2] = {"js.txt", "psi.txt"};
    for (int which = 0; which < 2; which++) {
        FILE *f = open_fixture(files[which]);
        int line = 0, n;
        while ((n = read_line(f, v, 1024)) > 0) {
            line++;
            size_t k = (size_t)v[0];
            double got;
            if (which == 0)
                assert_int_equal(cairn_drift_js(v + 1, v + 1 + k, k, &got), 0);
            else
                assert_int_equal(cairn_drift_psi(v + 1, v + 1 + k, k, &got), 0);
            check_close(files[which], line, got, v[1 + 2 * k]);
        }
        assert_true(line > 10);
        fclose(f);
    }
    FILE *f = open_fixture("psivalues.txt");
    int line = 0, n;
    while ((n = read_line(f, v, 1024)) > 0) {
        line++;
        size_t nn = (size_t)v[0];
        double *a = gen(nn, (int64_t)v[1], (int64_t)v[2], (int64_t)v[5], 1.0, 0.0);
        double *b = gen(nn, (int64_t)v[3], (int64_t)v[4], (int64_t)v[5], v[6], v[7]);
        int ne = (int)v[9];
        const double *edges = v + 10;
        double *r = calloc((size_t)ne, sizeof(double)), *c = calloc((size_t)ne, sizeof(double));
        for (size_t i = 0; i < nn; i++) {
            r[cairn_drift_bin(edges, ne, a[i])] += 1;
            c[cairn_drift_bin(edges, ne, b[i])] += 1;
        }
        double got;
        assert_int_equal(cairn_drift_psi(r, c, (size_t)ne - 1, &got), 0);
        check_close("psi values", line, got, v[8]);
        /* the same edges as numpy's quantile computes them */
        double *s = malloc(nn * sizeof(double));
        memcpy(s, a, nn * sizeof(double));
        assert_int_equal(cairn_drift__sort(s, nn), 0);
        assert_true(cairn_drift__quantile_sorted(s, nn, 0.0) == edges[0]);
        assert_true(cairn_drift__quantile_sorted(s, nn, 1.0) == edges[ne - 1]);
        free(s);
        free(r);
        free(c);
        free(a);
        free(b);
    }
    fclose(f);
}

/* ---- properties ------------------------------------------------------------ */

static uint64_t rng_state;
static double urand(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}

static int prop_iters(void)
{
    const char *e = getenv("CAIRN_PROP_ITERS");
    return e ? (int)strtol(e, NULL, 10) : 200;
}

static void test_properties(void **state)
{
    (void)state;
    uint64_t seed = 12345;
    rng_state = seed;
    int iters = prop_iters();
    for (int it = 0; it < iters; it++) {
        size_t k = 1 + (size_t)(urand() * 20), na = 1 + (size_t)(urand() * 300),
               nb = 1 + (size_t)(urand() * 300);
        double p[32], q[32], psi;
        for (size_t i = 0; i < k; i++) {
            p[i] = floor(urand() * 50);
            q[i] = floor(urand() * 50);
        }
        p[0] += 1;
        q[0] += 1;
        assert_int_equal(cairn_drift_psi(p, p, k, &psi), 0);
        if (psi != 0) fail_msg("seed %llu iter %d: PSI(p,p) = %g", (unsigned long long)seed, it, psi);
        assert_int_equal(cairn_drift_psi(p, q, k, &psi), 0);
        if (!(psi >= 0)) fail_msg("seed %llu iter %d: PSI < 0", (unsigned long long)seed, it);
        double *a = malloc(na * sizeof(double)), *b = malloc(nb * sizeof(double));
        for (size_t i = 0; i < na; i++) a[i] = floor(urand() * 40) / 4;
        for (size_t i = 0; i < nb; i++) b[i] = floor(urand() * 40) / 4 + 0.5;
        cairn_drift_test t1, t2;
        assert_int_equal(cairn_drift_ks(a, na, b, nb, &t1), 0);
        assert_int_equal(cairn_drift_ks(b, nb, a, na, &t2), 0);
        if (!(t1.statistic >= 0 && t1.statistic <= 1 && t1.statistic == t2.statistic &&
              t1.pvalue >= 0 && t1.pvalue <= 1 && fabs(t1.pvalue - t2.pvalue) < 1e-12))
            fail_msg("seed %llu iter %d: KS %g/%g p %g/%g", (unsigned long long)seed, it,
                     t1.statistic, t2.statistic, t1.pvalue, t2.pvalue);
        double js;
        assert_int_equal(cairn_drift_js(p, p, k, &js), 0);
        assert_true(js == 0.0);
        free(a);
        free(b);
    }
    double one = 1;
    cairn_drift_test t;
    assert_int_equal(cairn_drift_ks(&one, 0, &one, 1, &t), CAIRN_EINVALID);
    double nan = NAN;
    assert_int_equal(cairn_drift_ks(&nan, 1, &one, 1, &t), CAIRN_EINVALID);
}

static void test_sort(void **state)
{
    (void)state;
    rng_state = 99;
    size_t n = 100000;
    double *v = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) v[i] = (urand() - 0.5) * pow(10, floor(urand() * 20) - 10);
    v[0] = -0.0;
    v[1] = 0.0;
    v[2] = -INFINITY;
    v[3] = INFINITY;
    assert_int_equal(cairn_drift__sort(v, n), 0);
    for (size_t i = 1; i < n; i++) assert_true(v[i - 1] <= v[i]);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ks2samp_and_wasserstein),
        cmocka_unit_test(test_ks_pvalue),
        cmocka_unit_test(test_kstwo),
        cmocka_unit_test(test_chi2),
        cmocka_unit_test(test_js_psi),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
