/*
 * sketch.c - the mergeable numeric sketch of cairn/drift.h: a fixed array
 * of logarithmic buckets over standardised values (DDSketch's relative-
 * error mapping, Masson et al. 2019) plus fixed bins, count, missing, min,
 * max, sum and sum of squares; its serialised form; and the statistics
 * computed from sketches (KS, Wasserstein-1, PSI).
 *
 * Key design idea: every bucket boundary is a known value, and a value's
 * bucket depends on the value alone, so counts are exact integers:
 * merging adds arrays (exact, in any order) and the sketch's CDF is exact
 * at each boundary. Between boundaries the mass is spread evenly, which is
 * where the only error comes from; its size is one bucket's mass (KS) or
 * one bucket's width per value (Wasserstein), reported by
 * cairn_sketch_ks_error / cairn_sketch_w1_error.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cairn/drift.h"
#include "monitor_internal.h"

#define SUBSYS CAIRN_SUBSYS_MONITOR
#define MAGIC "CKSK"
#define FORMAT_VERSION 1u
#define MAX_EDGES 10001

/* ---- creation ------------------------------------------------------------- */

static int check_opts(const cairn_sketch_opts *o)
{
    if (o->version != CAIRN_SKETCH_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "sketch options version %u unknown",
                               o->version);
    if (!(o->alpha >= 0.001 && o->alpha <= 0.1))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "sketch alpha must be in [0.001, 0.1]");
    if (!isfinite(o->center) || !(o->scale > 0) || !isfinite(o->scale))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "sketch center must be finite and scale finite and > 0");
    if (o->n_edges != 0 && (o->n_edges < 2 || o->n_edges > MAX_EDGES || !o->edges))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "sketch needs 0 or 2..%d edges",
                               MAX_EDGES);
    for (int i = 0; i < o->n_edges; i++)
        if (!isfinite(o->edges[i]) || (i > 0 && o->edges[i] < o->edges[i - 1]))
            return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                                   "sketch edges must be finite and non-decreasing");
    return 0;
}

/* Allocates a sketch for valid options (cannot fail but for OOM, which
 * aborts in cairn_calloc). */
static cairn_sketch *alloc_sketch(const cairn_sketch_opts *o)
{
    cairn_sketch *s = cairn_calloc(1, sizeof *s);
    s->alpha = o->alpha;
    s->center = o->center;
    s->scale = o->scale;
    s->inv_scale = 1.0 / o->scale;
    s->lng = log((1 + o->alpha) / (1 - o->alpha));
    s->inv_lng = 1.0 / s->lng;
    s->kmin = (int)ceil(log(CAIRN_SKETCH_ZMIN) * s->inv_lng);
    int kmax = (int)ceil(log(CAIRN_SKETCH_ZMAX) * s->inv_lng);
    s->nk = kmax - s->kmin + 1;
    s->buckets = cairn_calloc((size_t)(2 * s->nk + 1), sizeof(uint64_t));
    s->n_edges = o->n_edges;
    if (o->n_edges) {
        s->edges = cairn_malloc((size_t)o->n_edges * sizeof(double));
        memcpy(s->edges, o->edges, (size_t)o->n_edges * sizeof(double));
        s->bins = cairn_calloc((size_t)(o->n_edges - 1), sizeof(uint64_t));
    }
    s->min = INFINITY;
    s->max = -INFINITY;
    return s;
}

int cairn_sketch_new(cairn_sketch **out, const cairn_sketch_opts *opts)
{
    cairn_sketch_opts def = CAIRN_SKETCH_OPTS_INIT;
    const cairn_sketch_opts *o = opts ? opts : &def;
    *out = NULL;
    int rc = check_opts(o);
    if (rc) return rc;
    *out = alloc_sketch(o);
    return 0;
}

int cairn_sketch_new_for_feature(cairn_sketch **out, const cairn_profile_feature *f,
                                 const cairn_sketch_opts *opts)
{
    *out = NULL;
    cairn_profile_numeric nv;
    if (!f || cairn_profile_feature_numeric(f, &nv) != 0)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "feature is not numeric");
    cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
    if (opts) o.alpha = opts->alpha;
    if (nv.count > 0) {
        o.center = isfinite(nv.mean) ? nv.mean : 0.0;
        o.scale = nv.std > 0 && isfinite(nv.std) ? nv.std : 1.0;
        o.n_edges = nv.n_edges;
        o.edges = nv.edges;
    }
    return cairn_sketch_new(out, &o);
}

int cairn_sketch_copy(cairn_sketch **out, const cairn_sketch *s)
{
    cairn_sketch_opts o = {CAIRN_SKETCH_OPTS_VERSION, s->alpha, s->center, s->scale,
                           s->n_edges, s->edges};
    cairn_sketch *c = alloc_sketch(&o);
    memcpy(c->buckets, s->buckets, (size_t)(2 * s->nk + 1) * sizeof(uint64_t));
    if (s->n_edges) memcpy(c->bins, s->bins, (size_t)(s->n_edges - 1) * sizeof(uint64_t));
    c->count = s->count;
    c->missing = s->missing;
    c->min = s->min;
    c->max = s->max;
    c->sum = s->sum;
    c->sumsq = s->sumsq;
    c->below = s->below;
    c->above = s->above;
    *out = c;
    return 0;
}

void cairn_sketch_free(cairn_sketch *s)
{
    if (!s) return;
    cairn_free(s->buckets);
    cairn_free(s->edges);
    cairn_free(s->bins);
    cairn_free(s);
}

void cairn_sketch_reset(cairn_sketch *s)
{
    memset(s->buckets, 0, (size_t)(2 * s->nk + 1) * sizeof(uint64_t));
    if (s->n_edges) memset(s->bins, 0, (size_t)(s->n_edges - 1) * sizeof(uint64_t));
    s->count = s->missing = s->below = s->above = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->sum = s->sumsq = 0;
}

/* ---- the hot path ------------------------------------------------------------- */

/* Position of x's bucket: nk is the zero bucket, nk+1+j the positive
 * bucket of exponent kmin+j, nk-1-j its negative mirror. */
static inline int pos_of(const cairn_sketch *s, double x)
{
    double z = (x - s->center) * s->inv_scale;
    double a = fabs(z);
    if (a < CAIRN_SKETCH_ZMIN) return s->nk;
    int j = (int)ceil(log(a) * s->inv_lng) - s->kmin;
    if (j < 0) j = 0;
    if (j >= s->nk) j = s->nk - 1;
    return z > 0 ? s->nk + 1 + j : s->nk - 1 - j;
}

void cairn_sketch_add(cairn_sketch *s, double v)
{
    if (!isfinite(v)) {
        s->missing++;
        return;
    }
    s->buckets[pos_of(s, v)]++;
    s->count++;
    if (v < s->min) s->min = v;
    if (v > s->max) s->max = v;
    s->sum += v;
    s->sumsq += v * v;
    if (s->n_edges) {
        s->bins[cairn_drift_bin(s->edges, s->n_edges, v)]++;
        if (v < s->edges[0]) s->below++;
        if (v > s->edges[s->n_edges - 1]) s->above++;
    }
}

void cairn_sketch_add_n(cairn_sketch *s, const double *v, size_t n, size_t stride)
{
    if (stride == 0) stride = 1;
    for (size_t i = 0; i < n; i++) cairn_sketch_add(s, v[i * stride]);
}

void cairn_sketch_add_missing(cairn_sketch *s)
{
    s->missing++;
}

static int same_params(const cairn_sketch *a, const cairn_sketch *b)
{
    if (a->alpha != b->alpha || a->center != b->center || a->scale != b->scale ||
        a->n_edges != b->n_edges)
        return 0;
    for (int i = 0; i < a->n_edges; i++)
        if (a->edges[i] != b->edges[i]) return 0;
    return 1;
}

int cairn_sketch_merge(cairn_sketch *into, const cairn_sketch *from)
{
    if (!same_params(into, from))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "sketches differ in alpha, center, scale or edges");
    for (int i = 0; i < 2 * into->nk + 1; i++) into->buckets[i] += from->buckets[i];
    for (int i = 0; i + 1 < into->n_edges; i++) into->bins[i] += from->bins[i];
    into->count += from->count;
    into->missing += from->missing;
    into->below += from->below;
    into->above += from->above;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
    into->sum += from->sum;
    into->sumsq += from->sumsq;
    return 0;
}

/* ---- accessors ------------------------------------------------------------------ */

uint64_t cairn_sketch_count(const cairn_sketch *s) { return s->count; }
uint64_t cairn_sketch_missing(const cairn_sketch *s) { return s->missing; }
double cairn_sketch_min(const cairn_sketch *s) { return s->count ? s->min : NAN; }
double cairn_sketch_max(const cairn_sketch *s) { return s->count ? s->max : NAN; }
double cairn_sketch_sum(const cairn_sketch *s) { return s->sum; }
double cairn_sketch_mean(const cairn_sketch *s)
{
    return s->count ? s->sum / (double)s->count : NAN;
}
double cairn_sketch_std(const cairn_sketch *s)
{
    if (!s->count) return NAN;
    double m = s->sum / (double)s->count, v = s->sumsq / (double)s->count - m * m;
    return v > 0 ? sqrt(v) : 0.0;
}

void cairn_sketch__bucket_range(const cairn_sketch *s, int pos, double *lo, double *hi)
{
    double c = s->center, sc = s->scale;
    if (pos == s->nk) {
        *lo = c - CAIRN_SKETCH_ZMIN * sc;
        *hi = c + CAIRN_SKETCH_ZMIN * sc;
        return;
    }
    int j = pos > s->nk ? pos - s->nk - 1 : s->nk - 1 - pos;
    int k = s->kmin + j;
    double zlo = j == 0 ? CAIRN_SKETCH_ZMIN : exp((k - 1) * s->lng);
    double zhi = j == s->nk - 1 ? INFINITY : exp(k * s->lng);
    if (pos > s->nk) {
        *lo = c + sc * zlo;
        *hi = c + sc * zhi;
    } else {
        *lo = c - sc * zhi;
        *hi = c - sc * zlo;
    }
}

/* Clipped range of a non-empty bucket, kept monotone across buckets. */
static void clipped_range(const cairn_sketch *s, int pos, double prev_hi, double *lo, double *hi)
{
    cairn_sketch__bucket_range(s, pos, lo, hi);
    if (*lo < s->min) *lo = s->min;
    if (*hi > s->max) *hi = s->max;
    if (*lo < prev_hi) *lo = prev_hi;
    if (*hi < *lo) *hi = *lo;
}

double cairn_sketch_quantile(const cairn_sketch *s, double q)
{
    if (!s->count || isnan(q)) return NAN;
    if (q <= 0) return s->min;
    if (q >= 1) return s->max;
    double target = q * (double)s->count, cum = 0, prev_hi = s->min;
    for (int p = 0; p < 2 * s->nk + 1; p++) {
        uint64_t c = s->buckets[p];
        if (!c) continue;
        double lo, hi;
        clipped_range(s, p, prev_hi, &lo, &hi);
        if (cum + (double)c >= target) return lo + (hi - lo) * ((target - cum) / (double)c);
        cum += (double)c;
        prev_hi = hi;
    }
    return s->max;
}

double cairn_sketch_cdf(const cairn_sketch *s, double x)
{
    if (!s->count || isnan(x)) return NAN;
    if (x < s->min) return 0.0;
    if (x >= s->max) return 1.0;
    double cum = 0, prev_hi = s->min;
    for (int p = 0; p < 2 * s->nk + 1; p++) {
        uint64_t c = s->buckets[p];
        if (!c) continue;
        double lo, hi;
        clipped_range(s, p, prev_hi, &lo, &hi);
        if (x < lo) break;
        if (x < hi) return (cum + (double)c * (x - lo) / (hi - lo)) / (double)s->count;
        cum += (double)c;
        prev_hi = hi;
    }
    return cum / (double)s->count;
}

int cairn_sketch_bins(const cairn_sketch *s, const uint64_t **counts, uint64_t *below,
                      uint64_t *above)
{
    if (counts) *counts = s->bins;
    if (below) *below = s->below;
    if (above) *above = s->above;
    return s->n_edges ? s->n_edges - 1 : 0;
}

double cairn_sketch_ks_error(const cairn_sketch *s)
{
    uint64_t m = 0;
    for (int p = 0; p < 2 * s->nk + 1; p++)
        if (s->buckets[p] > m) m = s->buckets[p];
    return s->count ? (double)m / (double)s->count : 0.0;
}

double cairn_sketch_w1_error(const cairn_sketch *s)
{
    if (!s->count) return 0.0;
    long double e = 0;
    double prev_hi = s->min;
    for (int p = 0; p < 2 * s->nk + 1; p++) {
        uint64_t c = s->buckets[p];
        if (!c) continue;
        double lo, hi;
        clipped_range(s, p, prev_hi, &lo, &hi);
        e += (long double)c * (hi - lo);
        prev_hi = hi;
    }
    return (double)(e / (long double)s->count);
}

/* ---- piecewise-linear distributions ------------------------------------------------ */

void cairn_sketch__knots_free(struct cairn_knots *k)
{
    cairn_free(k->p);
    k->p = k->x = NULL;
    k->n = 0;
}

int cairn_sketch__knots(const cairn_sketch *s, struct cairn_knots *out)
{
    size_t nb = 0;
    for (int p = 0; p < 2 * s->nk + 1; p++) nb += s->buckets[p] != 0;
    out->n = 2 * nb;
    out->p = cairn_malloc(2 * out->n * sizeof(double) + 1);
    out->x = out->p + out->n;
    size_t i = 0;
    uint64_t cum = 0;
    double prev_hi = s->min, n = (double)s->count;
    for (int p = 0; p < 2 * s->nk + 1; p++) {
        uint64_t c = s->buckets[p];
        if (!c) continue;
        double lo, hi;
        clipped_range(s, p, prev_hi, &lo, &hi);
        out->p[i] = (double)cum / n;
        out->x[i++] = lo;
        cum += c;
        out->p[i] = (double)cum / n;
        out->x[i++] = hi;
        prev_hi = hi;
    }
    return 0;
}

int cairn_sketch__sample_knots(const double *v, size_t n, struct cairn_knots *out)
{
    out->n = 2 * n;
    out->p = cairn_malloc(2 * out->n * sizeof(double) + 1);
    out->x = out->p + out->n;
    for (size_t i = 0; i < n; i++) {
        out->p[2 * i] = (double)i / (double)n;
        out->x[2 * i] = v[i];
        out->p[2 * i + 1] = (double)(i + 1) / (double)n;
        out->x[2 * i + 1] = v[i];
    }
    return 0;
}

/* F(x+) and F(x-) of a knot set (CDF view: x ascending, p ascending). */
static void cdf_at(const struct cairn_knots *k, double x, double *right, double *left)
{
    size_t lo = 0, hi = k->n; /* upper bound: first knot with x_i > x */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k->x[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t ub = lo;
    lo = 0;
    hi = k->n; /* lower bound: first knot with x_i >= x */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k->x[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t lb = lo;
    if (ub == 0) {
        *right = *left = 0.0;
        return;
    }
    size_t i = ub - 1;
    if (k->x[i] == x || i + 1 >= k->n)
        *right = k->p[i];
    else
        *right = k->p[i] + (k->p[i + 1] - k->p[i]) * (x - k->x[i]) / (k->x[i + 1] - k->x[i]);
    if (lb < k->n && k->x[lb] == x)
        *left = lb == 0 ? 0.0 : k->p[lb];
    else
        *left = *right;
}

double cairn_drift__knots_ks(const struct cairn_knots *a, const struct cairn_knots *b)
{
    double d = 0;
    const struct cairn_knots *sets[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sets[s]->n; i++) {
            double x = sets[s]->x[i];
            if (i > 0 && x == sets[s]->x[i - 1]) continue;
            double ar, al, br, bl;
            cdf_at(a, x, &ar, &al);
            cdf_at(b, x, &br, &bl);
            if (fabs(ar - br) > d) d = fabs(ar - br);
            if (fabs(al - bl) > d) d = fabs(al - bl);
        }
    }
    return d > 1 ? 1 : d;
}

/* Q(p+) and Q(p-) of a knot set (quantile view). */
static double q_right(const struct cairn_knots *k, double p)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k->p[mid] <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return k->x[0];
    size_t i = lo - 1;
    if (i + 1 >= k->n) return k->x[k->n - 1];
    return k->x[i] + (k->x[i + 1] - k->x[i]) * (p - k->p[i]) / (k->p[i + 1] - k->p[i]);
}

static double q_left(const struct cairn_knots *k, double p)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k->p[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return k->x[0];
    if (lo >= k->n) return k->x[k->n - 1];
    size_t l = lo;
    return k->x[l - 1] + (k->x[l] - k->x[l - 1]) * (p - k->p[l - 1]) / (k->p[l] - k->p[l - 1]);
}

/* Integral over p in [0, 1] of |Q_a - Q_b|: both are linear between the
 * merged breakpoints; a sign change inside an interval is integrated as
 * two triangles. */
double cairn_drift__knots_w1(const struct cairn_knots *a, const struct cairn_knots *b)
{
    size_t i = 0, j = 0;
    double prev = 0.0;
    long double w = 0;
    while (i < a->n || j < b->n) {
        double p = i < a->n && (j >= b->n || a->p[i] <= b->p[j]) ? a->p[i] : b->p[j];
        while (i < a->n && a->p[i] <= p) i++;
        while (j < b->n && b->p[j] <= p) j++;
        if (p > prev) {
            double f0 = q_right(a, prev) - q_right(b, prev);
            double f1 = q_left(a, p) - q_left(b, p);
            double width = p - prev;
            if ((f0 >= 0) == (f1 >= 0))
                w += (long double)(fabs(f0) + fabs(f1)) / 2 * width;
            else
                w += (long double)(f0 * f0 + f1 * f1) / (2 * (fabs(f0) + fabs(f1))) * width;
        }
        prev = p;
    }
    return (double)w;
}

/* ---- statistics on sketches ------------------------------------------------------------ */

int cairn_drift_ks_sketch(const cairn_sketch *a, const cairn_sketch *b, cairn_drift_test *out)
{
    if (!a->count || !b->count)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "ks needs two non-empty sketches");
    struct cairn_knots ka, kb;
    cairn_sketch__knots(a, &ka);
    cairn_sketch__knots(b, &kb);
    double d = cairn_drift__knots_ks(&ka, &kb);
    cairn_sketch__knots_free(&ka);
    cairn_sketch__knots_free(&kb);
    out->statistic = d;
    out->pvalue = cairn_drift__ks_p(a->count, b->count, &d, CAIRN_DRIFT_KS_ASYMP);
    return 0;
}

int cairn_drift_wasserstein_sketch(const cairn_sketch *a, const cairn_sketch *b, double *out)
{
    if (!a->count || !b->count)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "wasserstein needs two non-empty sketches");
    struct cairn_knots ka, kb;
    cairn_sketch__knots(a, &ka);
    cairn_sketch__knots(b, &kb);
    *out = cairn_drift__knots_w1(&ka, &kb);
    cairn_sketch__knots_free(&ka);
    cairn_sketch__knots_free(&kb);
    return 0;
}

int cairn_drift_psi_sketch(const cairn_sketch *ref, const cairn_sketch *cur, double *out)
{
    if (ref->n_edges < 2 || ref->n_edges != cur->n_edges)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "psi needs sketches with the same bins");
    for (int i = 0; i < ref->n_edges; i++)
        if (ref->edges[i] != cur->edges[i])
            return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                                   "psi needs sketches with the same bins");
    int k = ref->n_edges - 1;
    double *r = cairn_malloc(2 * (size_t)k * sizeof(double)), *c = r + k;
    for (int i = 0; i < k; i++) {
        r[i] = (double)ref->bins[i];
        c[i] = (double)cur->bins[i];
    }
    int rc = cairn_drift_psi(r, c, (size_t)k, out);
    cairn_free(r);
    return rc;
}

static int check_sample(const double *sample, size_t n, const cairn_sketch *cur)
{
    if (!sample || n == 0 || !cur->count)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "needs a non-empty sample and sketch");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(sample[i]) || (i > 0 && sample[i] < sample[i - 1]))
            return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                                   "sample must be finite and sorted ascending");
    return 0;
}

int cairn_drift_ks_sample_sketch(const double *sample, size_t n_sample, const cairn_sketch *cur,
                                 cairn_drift_test *out)
{
    int rc = check_sample(sample, n_sample, cur);
    if (rc) return rc;
    struct cairn_knots ka, kb;
    cairn_sketch__sample_knots(sample, n_sample, &ka);
    cairn_sketch__knots(cur, &kb);
    double d = cairn_drift__knots_ks(&ka, &kb);
    cairn_sketch__knots_free(&ka);
    cairn_sketch__knots_free(&kb);
    out->statistic = d;
    out->pvalue = cairn_drift__ks_p(n_sample, cur->count, &d, CAIRN_DRIFT_KS_ASYMP);
    return 0;
}

int cairn_drift_wasserstein_sample_sketch(const double *sample, size_t n_sample,
                                          const cairn_sketch *cur, double *out)
{
    int rc = check_sample(sample, n_sample, cur);
    if (rc) return rc;
    struct cairn_knots ka, kb;
    cairn_sketch__sample_knots(sample, n_sample, &ka);
    cairn_sketch__knots(cur, &kb);
    *out = cairn_drift__knots_w1(&ka, &kb);
    cairn_sketch__knots_free(&ka);
    cairn_sketch__knots_free(&kb);
    return 0;
}

/* ---- serialised form ---------------------------------------------------------------------
 * "CKSK", u32 version, f64 alpha, center, scale, u64 count, missing,
 * f64 min, max, sum, sumsq, u32 n_edges, f64 edges[n_edges], u64 below,
 * above, u64 bins[n_edges - 1], u32 n_nonempty, then n_nonempty pairs
 * (u32 position, u64 count) with positions strictly increasing. All
 * little-endian; min = +inf and max = -inf when count is 0.
 */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_f64(unsigned char *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(b, u);
}

int cairn_sketch_serialize(const cairn_sketch *s, cairn_buf *out)
{
    size_t nb = 0;
    for (int p = 0; p < 2 * s->nk + 1; p++) nb += s->buckets[p] != 0;
    size_t ne = (size_t)s->n_edges, nbins = ne ? ne - 1 : 0;
    size_t len = 4 + 4 + 3 * 8 + 2 * 8 + 4 * 8 + 4 + ne * 8 + 16 + nbins * 8 + 4 + nb * 12;
    unsigned char *b = cairn_malloc(len), *w = b;
    memcpy(w, MAGIC, 4);
    w += 4;
    put_u32(w, FORMAT_VERSION);
    w += 4;
    double hd[3] = {s->alpha, s->center, s->scale};
    for (int i = 0; i < 3; i++, w += 8) put_f64(w, hd[i]);
    put_u64(w, s->count);
    put_u64(w + 8, s->missing);
    w += 16;
    double st[4] = {s->min, s->max, s->sum, s->sumsq};
    for (int i = 0; i < 4; i++, w += 8) put_f64(w, st[i]);
    put_u32(w, (uint32_t)ne);
    w += 4;
    for (size_t i = 0; i < ne; i++, w += 8) put_f64(w, s->edges[i]);
    put_u64(w, s->below);
    put_u64(w + 8, s->above);
    w += 16;
    for (size_t i = 0; i < nbins; i++, w += 8) put_u64(w, s->bins[i]);
    put_u32(w, (uint32_t)nb);
    w += 4;
    for (int p = 0; p < 2 * s->nk + 1; p++) {
        if (!s->buckets[p]) continue;
        put_u32(w, (uint32_t)p);
        put_u64(w + 4, s->buckets[p]);
        w += 12;
    }
    CAIRN_ASSERT((size_t)(w - b) == len);
    int rc = cairn_buf_put(out, b, len);
    cairn_free(b);
    return rc;
}

struct reader {
    const unsigned char *p;
    size_t left;
    int ok;
};

static uint64_t get_u64(struct reader *r)
{
    if (r->left < 8) {
        r->ok = 0;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    r->left -= 8;
    return v;
}
static uint32_t get_u32(struct reader *r)
{
    if (r->left < 4) {
        r->ok = 0;
        return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    r->left -= 4;
    return v;
}
static double get_f64(struct reader *r)
{
    uint64_t u = get_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int corrupt(const char *what)
{
    return cairn_error_set(CAIRN_ECORRUPT, SUBSYS, "sketch bytes: %s", what);
}

/* Reads the counts part of a serialised sketch into s (parameters already
 * set); checks every invariant the writer guarantees. */
static int read_counts(struct reader *r, cairn_sketch *s, uint64_t count)
{
    s->below = get_u64(r);
    s->above = get_u64(r);
    if (!r->ok) return corrupt("truncated");
    uint64_t tot = 0;
    for (int i = 0; i + 1 < s->n_edges; i++) {
        s->bins[i] = get_u64(r);
        if (s->bins[i] > count - tot) return corrupt("bin counts exceed the count");
        tot += s->bins[i];
    }
    if (!r->ok) return corrupt("truncated");
    if (s->n_edges && tot != count) return corrupt("bin counts do not add up to the count");
    if (s->below > count || s->above > count - s->below)
        return corrupt("out-of-range counts exceed the count");
    if (!s->n_edges && (s->below || s->above)) return corrupt("out-of-range counts without bins");
    uint32_t nb = get_u32(r);
    if (!r->ok || (uint64_t)nb > (uint64_t)(2 * s->nk + 1) || (size_t)nb * 12 != r->left)
        return corrupt("bucket list length");
    int64_t last = -1;
    tot = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t pos = get_u32(r);
        uint64_t c = get_u64(r);
        if ((int64_t)pos <= last || pos >= (uint32_t)(2 * s->nk + 1))
            return corrupt("bucket positions out of order or range");
        if (c == 0 || c > count - tot) return corrupt("bucket counts do not add up");
        tot += c;
        s->buckets[pos] = c;
        last = pos;
    }
    if (tot != count) return corrupt("bucket counts do not add up to the count");
    s->count = count;
    return 0;
}

int cairn_sketch_deserialize(cairn_sketch **out, const void *data, size_t len)
{
    *out = NULL;
    if (!data || len < 8) return corrupt("too short");
    if (len > CAIRN_SKETCH_MAX_BYTES) return corrupt("too long");
    struct reader r = {data, len, 1};
    if (memcmp(r.p, MAGIC, 4) != 0) return corrupt("bad magic");
    r.p += 4;
    r.left -= 4;
    uint32_t ver = get_u32(&r);
    if (ver != FORMAT_VERSION)
        return cairn_error_set(CAIRN_EUNSUPPORTED, SUBSYS, "sketch format version %u unknown",
                               ver);
    cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
    o.alpha = get_f64(&r);
    o.center = get_f64(&r);
    o.scale = get_f64(&r);
    uint64_t count = get_u64(&r), missing = get_u64(&r);
    double mn = get_f64(&r), mx = get_f64(&r), sum = get_f64(&r), sumsq = get_f64(&r);
    uint32_t ne = get_u32(&r);
    if (!r.ok) return corrupt("truncated");
    if (ne == 1 || ne > MAX_EDGES || (size_t)ne * 8 > r.left) return corrupt("edge count");
    double *edges = ne ? cairn_malloc((size_t)ne * 8) : NULL;
    for (uint32_t i = 0; i < ne; i++) edges[i] = get_f64(&r);
    o.n_edges = (int)ne;
    o.edges = edges;
    int rc = check_opts(&o);
    if (rc) {
        cairn_free(edges);
        return corrupt("bad parameters");
    }
    if (count > 0 ? !(isfinite(mn) && isfinite(mx) && mn <= mx && isfinite(sum) &&
                      isfinite(sumsq) && sumsq >= 0)
                  : !(mn == INFINITY && mx == -INFINITY && sum == 0 && sumsq == 0)) {
        cairn_free(edges);
        return corrupt("bad min, max or sums");
    }
    cairn_sketch *s = alloc_sketch(&o);
    cairn_free(edges);
    s->missing = missing;
    s->min = mn;
    s->max = mx;
    s->sum = sum;
    s->sumsq = sumsq;
    rc = read_counts(&r, s, count);
    if (rc) {
        cairn_sketch_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
