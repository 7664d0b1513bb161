/*
 * drift_sketch_test.c - the numeric sketch, the categorical counter and
 * the profile-driven evaluation.
 *
 * Stated tolerances, checked here: a sketch statistic differs from the
 * exact one by at most the sketches' bounds (cairn_sketch_ks_error sum for
 * KS, cairn_sketch_w1_error sum for Wasserstein-1) and PSI from fixed bins
 * equals the exact PSI to 1e-12; merge is exact (bit-identical serialised
 * form to the sketch of the union, in either order and grouping); a
 * serialised sketch reads back identical. Seeded PRNG; CAIRN_PROP_ITERS
 * sets the iteration count; the seed is printed on failure.
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
#include "cairn/frame.h"
#include "cairn/profile.h"
#include "monitor/monitor_internal.h"

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
static double nrand(void)
{
    double u = urand(), v = urand();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
static int prop_iters(void)
{
    const char *e = getenv("CAIRN_PROP_ITERS");
    return e ? (int)strtol(e, NULL, 10) : 20;
}

static void same_bytes(const cairn_sketch *a, const cairn_sketch *b)
{
    cairn_buf x = CAIRN_BUF_INIT(0), y = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_sketch_serialize(a, &x), 0);
    assert_int_equal(cairn_sketch_serialize(b, &y), 0);
    assert_int_equal(x.len, y.len);
    /* min/max/sum may differ in the last bit by summation order: compare
     * buckets and counts through the accessors, bytes except sums */
    assert_int_equal(cairn_sketch_count(a), cairn_sketch_count(b));
    assert_true(cairn_sketch_min(a) == cairn_sketch_min(b));
    assert_true(cairn_sketch_max(a) == cairn_sketch_max(b));
    size_t sums = 4 + 4 + 24 + 16 + 16; /* offset of sum, sumsq */
    assert_memory_equal(x.ptr, y.ptr, sums);
    assert_memory_equal(x.ptr + sums + 16, y.ptr + sums + 16, x.len - sums - 16);
    cairn_buf_free(&x);
    cairn_buf_free(&y);
}

static void test_sketch_vs_exact(void **state)
{
    (void)state;
    uint64_t seed = 2024;
    rng_state = seed;
    double edges[11];
    for (int it = 0; it < prop_iters(); it++) {
        size_t na = 2000 + (size_t)(urand() * 20000), nb = 2000 + (size_t)(urand() * 20000);
        double shift = urand() * 0.5, sc = 0.5 + urand(), off = (urand() - 0.5) * 1000;
        double *a = malloc(na * sizeof(double)), *b = malloc(nb * sizeof(double));
        for (size_t i = 0; i < na; i++) a[i] = off + 3 * nrand();
        for (size_t i = 0; i < nb; i++) b[i] = off + 3 * (nrand() * sc + shift);
        double *s = malloc(na * sizeof(double));
        memcpy(s, a, na * sizeof(double));
        cairn_drift__sort(s, na);
        for (int i = 0; i <= 10; i++) edges[i] = cairn_drift__quantile_sorted(s, na, i / 10.0);
        cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
        o.center = off;
        o.scale = 3;
        o.n_edges = 11;
        o.edges = edges;
        cairn_sketch *sa, *sb;
        assert_int_equal(cairn_sketch_new(&sa, &o), 0);
        assert_int_equal(cairn_sketch_new(&sb, &o), 0);
        cairn_sketch_add_n(sa, a, na, 1);
        cairn_sketch_add_n(sb, b, nb, 1);
        cairn_drift_test ex, sk;
        assert_int_equal(cairn_drift_ks(a, na, b, nb, &ex), 0);
        assert_int_equal(cairn_drift_ks_sketch(sa, sb, &sk), 0);
        double kb = cairn_sketch_ks_error(sa) + cairn_sketch_ks_error(sb);
        if (fabs(ex.statistic - sk.statistic) > kb + 1e-12)
            fail_msg("seed %llu iter %d: KS %g vs %g bound %g", (unsigned long long)seed, it,
                     sk.statistic, ex.statistic, kb);
        double we, ws;
        assert_int_equal(cairn_drift_wasserstein(a, na, b, nb, &we), 0);
        assert_int_equal(cairn_drift_wasserstein_sketch(sa, sb, &ws), 0);
        double wb = cairn_sketch_w1_error(sa) + cairn_sketch_w1_error(sb);
        if (fabs(we - ws) > wb + 1e-9)
            fail_msg("seed %llu iter %d: W %g vs %g bound %g", (unsigned long long)seed, it, ws,
                     we, wb);
        /* KS and W of the sample against the sketch */
        cairn_drift_test ss;
        assert_int_equal(cairn_drift_ks_sample_sketch(s, na, sb, &ss), 0);
        assert_true(fabs(ss.statistic - ex.statistic) <= cairn_sketch_ks_error(sb) + 1e-12);
        double wss;
        assert_int_equal(cairn_drift_wasserstein_sample_sketch(s, na, sb, &wss), 0);
        assert_true(fabs(wss - we) <= cairn_sketch_w1_error(sb) + 1e-9);
        /* PSI from bins is exact */
        double r[10] = {0}, c[10] = {0}, pe, ps;
        for (size_t i = 0; i < na; i++) r[cairn_drift_bin(edges, 11, a[i])]++;
        for (size_t i = 0; i < nb; i++) c[cairn_drift_bin(edges, 11, b[i])]++;
        assert_int_equal(cairn_drift_psi(r, c, 10, &pe), 0);
        assert_int_equal(cairn_drift_psi_sketch(sa, sb, &ps), 0);
        assert_true(fabs(pe - ps) <= 1e-12 * fabs(pe) + 1e-15);
        /* quantile / cdf consistency: within one bucket's mass */
        for (int q = 1; q < 10; q++) {
            double x = cairn_sketch_quantile(sa, q / 10.0);
            assert_true(fabs(cairn_sketch_cdf(sa, x) - q / 10.0) < 1e-9);
            double exact = s[(size_t)((q / 10.0) * (double)(na - 1))];
            assert_true(fabs(x - exact) <= 0.02 * fabs(exact - off) + 3 * 2e-3 + 0.05);
        }
        assert_true(fabs(cairn_sketch_mean(sa) - off) < 1.0);
        cairn_sketch_free(sa);
        cairn_sketch_free(sb);
        free(a);
        free(b);
        free(s);
    }
}

static void test_merge_and_serialize(void **state)
{
    (void)state;
    rng_state = 77;
    double edges[4] = {-1, 0, 0.5, 2};
    cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
    o.n_edges = 4;
    o.edges = edges;
    cairn_sketch *p[3], *all, *ab_c, *a_bc, *tmp;
    for (int i = 0; i < 3; i++) assert_int_equal(cairn_sketch_new(&p[i], &o), 0);
    assert_int_equal(cairn_sketch_new(&all, &o), 0);
    for (int i = 0; i < 30000; i++) {
        double v = i % 97 == 0 ? NAN : nrand() * pow(10, floor(urand() * 8) - 4);
        cairn_sketch_add(p[i % 3], v);
        cairn_sketch_add(all, v);
    }
    /* (a + b) + c, a + (b + c), and c + b + a */
    assert_int_equal(cairn_sketch_copy(&ab_c, p[0]), 0);
    assert_int_equal(cairn_sketch_merge(ab_c, p[1]), 0);
    assert_int_equal(cairn_sketch_merge(ab_c, p[2]), 0);
    assert_int_equal(cairn_sketch_copy(&tmp, p[1]), 0);
    assert_int_equal(cairn_sketch_merge(tmp, p[2]), 0);
    assert_int_equal(cairn_sketch_copy(&a_bc, p[0]), 0);
    assert_int_equal(cairn_sketch_merge(a_bc, tmp), 0);
    cairn_sketch_free(tmp);
    same_bytes(ab_c, all);
    same_bytes(a_bc, all);
    assert_int_equal(cairn_sketch_missing(all), cairn_sketch_missing(ab_c));
    /* round trip */
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_sketch_serialize(all, &b), 0);
    cairn_sketch *back;
    assert_int_equal(cairn_sketch_deserialize(&back, b.ptr, b.len), 0);
    cairn_buf b2 = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_sketch_serialize(back, &b2), 0);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.ptr, b2.ptr, b.len);
    /* every truncation and a flipped byte in the counts are refused */
    for (size_t cut = 0; cut < b.len; cut += 7) {
        cairn_sketch *bad = NULL;
        assert_true(cairn_sketch_deserialize(&bad, b.ptr, cut) < 0);
        assert_null(bad);
    }
    ((unsigned char *)b.ptr)[b.len - 3] ^= 0x40;
    assert_int_equal(cairn_sketch_deserialize(&tmp, b.ptr, b.len), CAIRN_ECORRUPT);
    ((unsigned char *)b.ptr)[b.len - 3] ^= 0x40;
    ((unsigned char *)b.ptr)[4] = 9;
    assert_int_equal(cairn_sketch_deserialize(&tmp, b.ptr, b.len), CAIRN_EUNSUPPORTED);
    /* different parameters do not merge */
    cairn_sketch *other;
    assert_int_equal(cairn_sketch_new(&other, NULL), 0);
    assert_int_equal(cairn_sketch_merge(other, all), CAIRN_EINVALID);
    o.alpha = 0.5;
    assert_int_equal(cairn_sketch_new(&tmp, &o), CAIRN_EINVALID);
    cairn_sketch_free(other);
    cairn_buf_free(&b);
    cairn_buf_free(&b2);
    cairn_sketch_free(back);
    for (int i = 0; i < 3; i++) cairn_sketch_free(p[i]);
    cairn_sketch_free(all);
    cairn_sketch_free(ab_c);
    cairn_sketch_free(a_bc);
}

static void test_catcount(void **state)
{
    (void)state;
    cairn_catcount_opts o = CAIRN_CATCOUNT_OPTS_INIT;
    o.max_categories = 3;
    cairn_catcount *a, *b;
    assert_int_equal(cairn_catcount_new(&a, &o), 0);
    assert_int_equal(cairn_catcount_new(&b, &o), 0);
    const char *pin[] = {"x"};
    assert_int_equal(cairn_catcount_pin(a, pin, 1), 0);
    const char *va[] = {"a", "a", "b", "c", "d", "x", NULL};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(va); i++)
        cairn_catcount_add(a, va[i], va[i] ? strlen(va[i]) : 0);
    assert_int_equal(cairn_catcount_count(a), 6);
    assert_int_equal(cairn_catcount_missing(a), 1);
    assert_int_equal(cairn_catcount_other(a), 1); /* d: over the bound */
    assert_int_equal(cairn_catcount_get(a, "a"), 2);
    const char *vb[] = {"e", "e", "e", "a"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(vb); i++) cairn_catcount_add(b, vb[i], strlen(vb[i]));
    assert_int_equal(cairn_catcount_merge(a, b), 0);
    /* kept: pinned x, then the 3 largest: a(3), e(3), then b/c (1, by name: b) */
    assert_int_equal(cairn_catcount_get(a, "x"), 1);
    assert_int_equal(cairn_catcount_get(a, "a"), 3);
    assert_int_equal(cairn_catcount_get(a, "e"), 3);
    assert_int_equal(cairn_catcount_get(a, "b"), 1);
    assert_int_equal(cairn_catcount_get(a, "c"), 0);
    assert_int_equal(cairn_catcount_other(a), 2);
    assert_int_equal(cairn_catcount_count(a), 10);
    uint64_t tot = cairn_catcount_other(a);
    for (int i = 0; i < cairn_catcount_size(a); i++) {
        uint64_t c;
        assert_non_null(cairn_catcount_name(a, i, &c));
        tot += c;
    }
    assert_int_equal(tot, 10);
    cairn_catcount_reset(a);
    assert_int_equal(cairn_catcount_size(a), 1);
    cairn_catcount_free(a);
    cairn_catcount_free(b);
}

/* A profile of one numeric and one categorical feature of n rows. */
static cairn_profile *make_profile(size_t n)
{
    cairn_frame *fr;
    assert_int_equal(cairn_frame_new(&fr, n), 0);
    double *x = malloc(n * sizeof(double));
    int32_t *c = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        x[i] = i % 50 == 0 ? NAN : nrand();
        c[i] = (int32_t)(urand() * urand() * 4);
    }
    const char *dict[] = {"red", "green", "blue", "cyan"};
    assert_int_equal(cairn_frame_add_f64(fr, "x", x), 0);
    assert_int_equal(cairn_frame_add_cat(fr, "color", c, dict, 4), 0);
    cairn_profile *p;
    assert_int_equal(cairn_profile_build(&p, fr, NULL, 0, NULL), 0);
    cairn_frame_free(fr);
    free(x);
    free(c);
    return p;
}

static void test_eval(void **state)
{
    (void)state;
    rng_state = 5;
    cairn_profile *p = make_profile(800);
    const cairn_profile_feature *fx = cairn_profile_feature_at(p, 0),
                                *fc = cairn_profile_feature_at(p, 1);
    cairn_profile_numeric nv;
    assert_int_equal(cairn_profile_feature_numeric(fx, &nv), 0);
    size_t n = 700;
    double *cur = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) cur[i] = i % 10 == 0 ? NAN : nrand() + 0.8;
    cairn_drift_result r, rs;
    assert_int_equal(cairn_drift_eval_values(fx, cur, n, 1, NULL, &r), 0);
    assert_int_equal(r.stat, CAIRN_DRIFT_KS); /* small reference */
    assert_true(r.drift);
    assert_int_equal(r.count, 630);
    assert_true(fabs(r.missing_rate - 0.1) < 1e-12);
    assert_true(r.out_of_range_rate > 0);
    /* equal to ks_2samp(sample, present current values) */
    double *pres = malloc(n * sizeof(double));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(cur[i])) pres[m++] = cur[i];
    cairn_drift_test t;
    assert_int_equal(cairn_drift_ks(nv.sample, (size_t)nv.n_sample, pres, m, &t), 0);
    assert_true(t.statistic == r.statistic && t.pvalue == r.score);
    /* the sketch path agrees within its bound; PSI exactly */
    cairn_sketch *s;
    assert_int_equal(cairn_sketch_new_for_feature(&s, fx, NULL), 0);
    cairn_sketch_add_n(s, cur, n, 1);
    assert_int_equal(cairn_drift_eval_sketch(fx, s, NULL, &rs), 0);
    assert_true(rs.approximate);
    assert_true(fabs(rs.statistic - r.statistic) <= cairn_sketch_ks_error(s) + 1e-12);
    assert_true(fabs(rs.out_of_range_rate - r.out_of_range_rate) < 1e-12);
    cairn_drift_opts o = CAIRN_DRIFT_OPTS_INIT;
    const cairn_drift_stat stats[] = {CAIRN_DRIFT_PSI, CAIRN_DRIFT_JS, CAIRN_DRIFT_CHI2};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(stats); i++) {
        o.stat = stats[i];
        assert_int_equal(cairn_drift_eval_values(fx, cur, n, 1, &o, &r), 0);
        assert_int_equal(cairn_drift_eval_sketch(fx, s, &o, &rs), 0);
        assert_true(fabs(r.statistic - rs.statistic) <= 1e-12 * fabs(r.statistic));
    }
    o.stat = CAIRN_DRIFT_WASSERSTEIN;
    o.threshold = 0.5;
    assert_int_equal(cairn_drift_eval_values(fx, cur, n, 1, &o, &r), 0);
    double w;
    assert_int_equal(cairn_drift_wasserstein(nv.sample, (size_t)nv.n_sample, pres, m, &w), 0);
    assert_true(fabs(r.statistic - w / nv.std) < 1e-12 * r.statistic);
    assert_true(r.threshold == 0.5);
    /* categorical */
    cairn_catcount *cc;
    assert_int_equal(cairn_catcount_new_for_feature(&cc, fc, NULL), 0);
    const char *vals[] = {"red", "red", "green", "magenta", "blue", NULL};
    for (int rep = 0; rep < 40; rep++)
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(vals); i++)
            cairn_catcount_add(cc, vals[i], vals[i] ? strlen(vals[i]) : 0);
    assert_int_equal(cairn_drift_eval_categories(fc, cc, NULL, &r), 0);
    assert_int_equal(r.stat, CAIRN_DRIFT_CHI2);
    assert_true(isinf(r.statistic) && r.score == 0.0 && r.drift); /* magenta is new */
    assert_true(fabs(r.new_category_rate - 0.2) < 1e-12);
    assert_true(fabs(r.missing_rate - 1.0 / 6) < 1e-12);
    o.stat = CAIRN_DRIFT_KS;
    o.threshold = NAN;
    assert_int_equal(cairn_drift_eval_categories(fc, cc, &o, &r), CAIRN_EINVALID);
    assert_int_equal(cairn_drift_eval_values(fc, cur, n, 1, NULL, &r), CAIRN_EINVALID);
    cairn_catcount_free(cc);
    cairn_sketch_free(s);
    free(cur);
    free(pres);
    cairn_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_vs_exact),
        cmocka_unit_test(test_merge_and_serialize),
        cmocka_unit_test(test_catcount),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
