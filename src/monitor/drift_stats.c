/*
 * drift_stats.c - exact drift statistics on arrays, equal to SciPy/numpy:
 * two-sample KS (scipy.stats.ks_2samp), chi-square (scipy.stats.chisquare
 * against scaled reference counts), Jensen-Shannon distance
 * (scipy.spatial.distance.jensenshannon), Wasserstein-1
 * (scipy.stats.wasserstein_distance) and PSI (the numpy reference in
 * tests/fixtures/gen_drift.py).
 *
 * Key design idea: compute each statistic with the same elementary
 * operations SciPy uses (the same divisions before the same subtractions),
 * so that results agree to the last bits, and accumulate long sums in long
 * double so that our summation order does not matter at 1e-12. Sorting is
 * an LSD radix sort on the IEEE bit patterns (O(n), stable, no compares).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cairn/drift.h"
#include "monitor_internal.h"
#include "ml/profile_math.h"

#define SUBSYS CAIRN_SUBSYS_MONITOR

static int bad(const char *what)
{
    return cairn_error_set(CAIRN_EINVALID, SUBSYS, "%s", what);
}

/* ---- sorting ---------------------------------------------------------------- */

static uint64_t key_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ull);
}

static double double_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Sorts v ascending: 4 passes of 16-bit digits over the order-preserving
 * key of each double (-0.0 sorts before +0.0, which compare equal anyway).
 * CAIRN_ENOMEM when the scratch array does not fit. */
int cairn_drift__sort(double *v, size_t n)
{
    if (n < 2) return 0;
    uint64_t *a = cairn_try_malloc(n * sizeof(uint64_t) * 2);
    size_t *cnt = cairn_try_malloc(65536 * sizeof(size_t));
    if (!a || !cnt) {
        cairn_free(a);
        cairn_free(cnt);
        return cairn_error_set(CAIRN_ENOMEM, SUBSYS, "no memory to sort %zu values", n);
    }
    uint64_t *b = a + n;
    for (size_t i = 0; i < n; i++) a[i] = key_of(v[i]);
    for (int shift = 0; shift < 64; shift += 16) {
        memset(cnt, 0, 65536 * sizeof(size_t));
        for (size_t i = 0; i < n; i++) cnt[(a[i] >> shift) & 0xffff]++;
        if (cnt[(a[0] >> shift) & 0xffff] == n) continue; /* one digit value: skip */
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) b[cnt[(a[i] >> shift) & 0xffff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) v[i] = double_of(a[i]);
    cairn_free(a < b ? a : b);
    cairn_free(cnt);
    return 0;
}

/* numpy 1.24 quantile, method 'linear', of a sorted non-empty array: the
 * profile's own arithmetic, so edges computed here equal profile.json's. */
double cairn_drift__quantile_sorted(const double *v, size_t n, double q)
{
    return cairn_profile__quantile(v, n, q);
}

/* Copies the values of v into a new array and sorts it; CAIRN_EINVALID on
 * NaN (or a non-finite value when finite is set). */
static int sorted_copy(const double *v, size_t n, int finite, double **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (finite ? !isfinite(v[i]) : isnan(v[i]))
            return bad(finite ? "a value is not finite" : "a value is NaN");
    double *c = cairn_try_malloc((n ? n : 1) * sizeof(double));
    if (!c) return cairn_error_set(CAIRN_ENOMEM, SUBSYS, "no memory for %zu values", n);
    memcpy(c, v, n * sizeof(double));
    int rc = cairn_drift__sort(c, n);
    if (rc) {
        cairn_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- Kolmogorov-Smirnov ----------------------------------------------------- */

int cairn_drift_ks_sorted(const double *a, size_t na, const double *b, size_t nb,
                          cairn_drift_test *out)
{
    if (!a || !b || !out || na == 0 || nb == 0) return bad("ks needs two non-empty samples");
    double maxs = -INFINITY, mins = INFINITY;
    size_t i = 0, j = 0;
    double n1 = (double)na, n2 = (double)nb;
    while (i < na || j < nb) {
        double v = i < na && (j >= nb || a[i] <= b[j]) ? a[i] : b[j];
        if (isnan(v)) return bad("a value is NaN");
        while (i < na && a[i] <= v) i++;
        while (j < nb && b[j] <= v) j++;
        double diff = (double)i / n1 - (double)j / n2; /* scipy: cdf1 - cdf2 */
        if (diff > maxs) maxs = diff;
        if (diff < mins) mins = diff;
    }
    double minS = -mins;
    if (minS < 0) minS = 0;
    if (minS > 1) minS = 1;
    double d = minS > maxs ? minS : maxs;
    out->pvalue = cairn_drift__ks_p(na, nb, &d, CAIRN_DRIFT_KS_AUTO);
    out->statistic = d;
    return 0;
}

int cairn_drift_ks(const double *a, size_t na, const double *b, size_t nb, cairn_drift_test *out)
{
    if (!a || !b || !out || na == 0 || nb == 0) return bad("ks needs two non-empty samples");
    double *sa = NULL, *sb = NULL;
    int rc = sorted_copy(a, na, 0, &sa);
    if (!rc) rc = sorted_copy(b, nb, 0, &sb);
    if (!rc) rc = cairn_drift_ks_sorted(sa, na, sb, nb, out);
    cairn_free(sa);
    cairn_free(sb);
    return rc;
}

/* ---- Wasserstein-1 ------------------------------------------------------------ */

/* sum over consecutive pooled values of |F_u - F_v| * delta, F right-
 * continuous (scipy _cdf_distance with p = 1). */
int cairn_drift_wasserstein_sorted(const double *u, size_t nu, const double *v, size_t nv,
                                   double *out)
{
    if (!u || !v || !out || nu == 0 || nv == 0)
        return bad("wasserstein needs two non-empty samples");
    if (!isfinite(u[0]) || !isfinite(u[nu - 1]) || !isfinite(v[0]) || !isfinite(v[nv - 1]))
        return bad("a value is not finite");
    size_t i = 0, j = 0;
    double n1 = (double)nu, n2 = (double)nv;
    long double sum = 0;
    double prev = u[0] < v[0] ? u[0] : v[0];
    while (i < nu || j < nv) {
        double x = i < nu && (j >= nv || u[i] <= v[j]) ? u[i] : v[j];
        if (x > prev) {
            /* the cdfs at prev (values <= prev consumed) times the gap */
            double du = (double)i / n1 - (double)j / n2;
            sum += (long double)fabs(du) * (long double)(x - prev);
        }
        while (i < nu && u[i] <= x) i++;
        while (j < nv && v[j] <= x) j++;
        prev = x;
    }
    *out = (double)sum;
    return 0;
}

int cairn_drift_wasserstein(const double *u, size_t nu, const double *v, size_t nv, double *out)
{
    if (!u || !v || !out || nu == 0 || nv == 0)
        return bad("wasserstein needs two non-empty samples");
    double *su = NULL, *sv = NULL;
    int rc = sorted_copy(u, nu, 1, &su);
    if (!rc) rc = sorted_copy(v, nv, 1, &sv);
    if (!rc) rc = cairn_drift_wasserstein_sorted(su, nu, sv, nv, out);
    cairn_free(su);
    cairn_free(sv);
    return rc;
}

/* ---- counts: chi-square, Jensen-Shannon, PSI ----------------------------------- */

static int check_counts(const double *c, size_t k, long double *total)
{
    long double t = 0;
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(c[i]) || c[i] < 0) return bad("a count is negative or not finite");
        t += c[i];
    }
    if (t <= 0) return bad("counts add up to zero");
    *total = t;
    return 0;
}

int cairn_drift_chi2(const double *observed, const double *reference, size_t k,
                     cairn_drift_test *out)
{
    if (!observed || !reference || !out || k < 1) return bad("chi2 needs at least one category");
    long double so = 0, sr = 0;
    int rc = check_counts(observed, k, &so);
    if (!rc) rc = check_counts(reference, k, &sr);
    if (rc) return rc;
    double norm = (double)(so / sr);
    long double stat = 0;
    for (size_t i = 0; i < k; i++) {
        double e = reference[i] * norm, d = observed[i] - e;
        stat += (long double)(d * d / e); /* 0/0 is NaN, x/0 is inf, as scipy */
    }
    out->statistic = (double)stat;
    out->pvalue = cairn_drift_chi2_sf(out->statistic, (double)k - 1);
    if (isinf(out->statistic) && out->statistic > 0 && k > 1) out->pvalue = 0.0;
    return 0;
}

static double rel_entr(double x, double y)
{
    if (x > 0 && y > 0) return x * log(x / y);
    if (x == 0 && y >= 0) return 0;
    return INFINITY;
}

int cairn_drift_js(const double *p, const double *q, size_t k, double *out)
{
    if (!p || !q || !out || k < 1) return bad("js needs at least one category");
    long double sp = 0, sq = 0;
    int rc = check_counts(p, k, &sp);
    if (!rc) rc = check_counts(q, k, &sq);
    if (rc) return rc;
    double tp = (double)sp, tq = (double)sq;
    long double left = 0, right = 0;
    for (size_t i = 0; i < k; i++) {
        double pi = p[i] / tp, qi = q[i] / tq, m = (pi + qi) / 2.0;
        left += rel_entr(pi, m);
        right += rel_entr(qi, m);
    }
    double js = (double)(left + right);
    *out = sqrt(js / 2.0);
    return 0;
}

int cairn_drift_psi(const double *reference, const double *current, size_t k, double *out)
{
    if (!reference || !current || !out || k < 1) return bad("psi needs at least one bin");
    long double sr = 0, sc = 0;
    int rc = check_counts(reference, k, &sr);
    if (!rc) rc = check_counts(current, k, &sc);
    if (rc) return rc;
    double tr = (double)sr, tc = (double)sc;
    long double psi = 0;
    for (size_t i = 0; i < k; i++) {
        double r = reference[i] / tr, c = current[i] / tc;
        if (r == 0) r = CAIRN_DRIFT_PSI_EPS;
        if (c == 0) c = CAIRN_DRIFT_PSI_EPS;
        psi += (long double)((c - r) * log(c / r));
    }
    *out = (double)psi;
    return 0;
}

int cairn_drift_bin(const double *edges, int n_edges, double v)
{
    /* upper bound: first edge > v, minus one, clipped to [0, n_edges - 2] */
    int lo = 0, hi = n_edges;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (edges[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    int b = lo - 1;
    if (b < 0) b = 0;
    if (b > n_edges - 2) b = n_edges - 2;
    return b;
}
