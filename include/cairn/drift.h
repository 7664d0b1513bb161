/*
 * cairn/drift.h - drift statistics between a reference (a training set or
 * its profile.json) and current data, and the choice of statistic per
 * column. Library module `monitor` (depends on ml and core only).
 *
 * Which statistic judges a column (cairn_drift_default_stat), as the
 * practitioners' tools do it: with a small reference (at most 1000 rows)
 * the two-sample Kolmogorov-Smirnov test for numeric columns and the
 * chi-square test for categorical ones, judged by p-value (drift when
 * p < 0.05); above 1000 rows the Wasserstein-1 distance normalised by the
 * reference's standard deviation for numeric columns and the
 * Jensen-Shannon distance for categorical ones, judged by distance (drift
 * when > 0.1). PSI is available for either (drift when > 0.1). A policy
 * file overrides statistic and threshold per feature.
 */
#ifndef CAIRN_DRIFT_H
#define CAIRN_DRIFT_H

#include <stdint.h>

#include <math.h>
#include <stddef.h>

#include "cairn/buf.h"
#include "cairn/common.h"
#include "cairn/profile.h"

typedef enum cairn_drift_stat {
    CAIRN_DRIFT_AUTO = 0,    /* the default choice below */
    CAIRN_DRIFT_PSI = 1,     /* population stability index on the reference's quantile bins */
    CAIRN_DRIFT_KS = 2,      /* two-sample Kolmogorov-Smirnov; score = p-value */
    CAIRN_DRIFT_CHI2 = 3,    /* chi-square on category counts; score = p-value */
    CAIRN_DRIFT_JS = 4,      /* Jensen-Shannon distance (natural log) */
    CAIRN_DRIFT_WASSERSTEIN = 5 /* Wasserstein-1 distance / reference std */
} cairn_drift_stat;

/* Reference rows above which distances replace hypothesis tests. */
#define CAIRN_DRIFT_SMALL_REFERENCE 1000

/* "psi", "ks", "chi2", "js", "wasserstein" ("auto" for AUTO). */
CAIRN_API const char *cairn_drift_stat_name(cairn_drift_stat s);
/* Parses a name above (case-insensitive; also "chi-square",
 * "jensen-shannon", "kolmogorov-smirnov"). CAIRN_EINVALID otherwise. */
CAIRN_API int cairn_drift_stat_parse(const char *name, cairn_drift_stat *out);
/* The statistic for a column given its type and the reference's present
 * value count (see the header comment). Never AUTO. */
CAIRN_API cairn_drift_stat cairn_drift_default_stat(int categorical, uint64_t reference_count);
/* The default threshold of s: 0.05 (a p-value) for KS and chi-square, 0.1
 * for the others. */
CAIRN_API double cairn_drift_default_threshold(cairn_drift_stat s);
/* 1 when score means drift under threshold: p-values below it (KS,
 * chi-square), distances and PSI above it. A NaN score is no drift. */
CAIRN_API int cairn_drift_is_drift(cairn_drift_stat s, double score, double threshold);
/* 1 for statistics whose score is a p-value (smaller = more drift). */
CAIRN_API int cairn_drift_score_is_pvalue(cairn_drift_stat s);


/* ======================================================================
 * Statistics on arrays (exact; numerically equal to SciPy/numpy)
 *
 * Conventions for this section and the next ones:
 * - Errors: 0 or a negative cairn_code, message in cairn_error_last(),
 *   subsystem CAIRN_SUBSYS_ML. Expected codes: CAIRN_EINVALID (empty input,
 *   NaN or infinity where a value is required, mismatched sizes or sketch
 *   parameters), CAIRN_ENOMEM (a copy of the input does not fit). On error
 *   the output is left unspecified.
 * - Inputs are borrowed and never kept. Every function here is reentrant
 *   and thread-safe on distinct outputs; none uses global state, so results
 *   never depend on the number of threads.
 * ====================================================================== */

/* A test's statistic and p-value. */
typedef struct cairn_drift_test {
    double statistic;
    double pvalue;
} cairn_drift_test;

/* How a two-sample KS p-value is computed (scipy's `method`). */
typedef enum cairn_drift_ks_method {
    CAIRN_DRIFT_KS_AUTO = 0,  /* exact when max(n1, n2) <= 10000, else asymptotic */
    CAIRN_DRIFT_KS_EXACT = 1, /* exact (falls back to asymptotic as scipy does) */
    CAIRN_DRIFT_KS_ASYMP = 2  /* kstwo.sf(d, round(n1 n2 / (n1 + n2))) */
} cairn_drift_ks_method;

/*
 * Two-sample Kolmogorov-Smirnov test, two-sided:
 * scipy.stats.ks_2samp(a, b, method='auto'). The statistic is
 * max |F_a - F_b| over the pooled values (right-continuous ECDFs, so ties
 * are handled as scipy does); the p-value follows scipy's rules (exact
 * lattice-path counting when max(na, nb) <= 10000, Smirnov's asymptotic
 * kstwo distribution otherwise). Copies and sorts the inputs (O(n) extra
 * memory). CAIRN_EINVALID: na or nb is 0, or a value is NaN.
 */
CAIRN_API int cairn_drift_ks(const double *a, size_t na, const double *b, size_t nb,
                             cairn_drift_test *out);
/* The same on inputs already sorted ascending (not checked beyond debug
 * builds); allocates nothing. */
CAIRN_API int cairn_drift_ks_sorted(const double *a, size_t na, const double *b, size_t nb,
                                    cairn_drift_test *out);
/* The two-sided p-value of statistic d for sample sizes n1, n2 by `method`,
 * exactly as ks_2samp computes it (d is first rounded to the lattice
 * h / lcm(n1, n2) in the exact regime). NaN when n1 or n2 is 0. */
CAIRN_API double cairn_drift_ks_pvalue(uint64_t n1, uint64_t n2, double d,
                                       cairn_drift_ks_method method);
/* scipy.stats.kstwo.sf(d, n): the survival function of the one-sample
 * two-sided KS statistic (Simard and L'Ecuyer's choice of algorithms). */
CAIRN_API double cairn_drift_kstwo_sf(uint64_t n, double d);

/*
 * Pearson's chi-square test of observed counts against reference counts:
 * scipy.stats.chisquare(observed, reference * sum(observed) / sum(reference))
 * with k - 1 degrees of freedom, as Evidently's chi-square drift test does
 * (keys = the union of both sides' categories, zeros included). A category
 * with reference 0 and observed > 0 gives statistic +inf and p-value 0.
 * The p-value is the regularised upper incomplete gamma Q((k-1)/2, x/2).
 * CAIRN_EINVALID: k < 1, a negative or non-finite count, a zero total.
 */
CAIRN_API int cairn_drift_chi2(const double *observed, const double *reference, size_t k,
                               cairn_drift_test *out);
/* scipy.stats.chi2.sf(x, df) = Q(df/2, x/2); NaN for df <= 0 or NaN x. */
CAIRN_API double cairn_drift_chi2_sf(double x, double df);

/*
 * Jensen-Shannon distance (natural log) between two non-negative weight
 * vectors of length k, each normalised to sum 1:
 * scipy.spatial.distance.jensenshannon(p, q). In [0, sqrt(ln 2)].
 * CAIRN_EINVALID: k < 1, a negative or non-finite weight, a zero sum.
 */
CAIRN_API int cairn_drift_js(const double *p, const double *q, size_t k, double *out);

/*
 * Wasserstein-1 distance between the empirical distributions of u and v:
 * scipy.stats.wasserstein_distance(u, v). Copies and sorts the inputs.
 * CAIRN_EINVALID: nu or nv is 0, or a value is not finite.
 */
CAIRN_API int cairn_drift_wasserstein(const double *u, size_t nu, const double *v, size_t nv,
                                      double *out);
/* The same on inputs sorted ascending; allocates nothing. */
CAIRN_API int cairn_drift_wasserstein_sorted(const double *u, size_t nu, const double *v,
                                             size_t nv, double *out);
/* The default numeric distance: wasserstein(ref, cur) / max(std, 0.001)
 * where std is the reference's population standard deviation (Evidently's
 * wasserstein_distance_norm). */
#define CAIRN_DRIFT_WASSERSTEIN_MIN_STD 0.001

/* Empty bins (and categories) get this share before PSI's logarithm
 * (Evidently's value). */
#define CAIRN_DRIFT_PSI_EPS 0.0001
/*
 * Population stability index of current bin counts against reference bin
 * counts (length k): with r_i = ref_i / sum(ref) and c_i = cur_i / sum(cur),
 * each 0 replaced by CAIRN_DRIFT_PSI_EPS,
 *     PSI = sum_i (c_i - r_i) * ln(c_i / r_i).
 * PSI >= 0, and 0 when the two distributions are equal. Equal to
 * psi_reference() in tests/fixtures/gen_drift.py.
 * CAIRN_EINVALID: k < 1, a negative or non-finite count, a zero total.
 */
CAIRN_API int cairn_drift_psi(const double *reference, const double *current, size_t k,
                              double *out);
/* The bin of v among n_edges ascending edges (n_edges - 1 bins, the profile's
 * rule: edge[i] <= v < edge[i+1], the last bin closed); values below the
 * first edge go to bin 0 and values above the last to the last bin
 * (numpy: clip(searchsorted(edges, v, 'right') - 1, 0, n_edges - 2)).
 * n_edges >= 2; NaN gives bin 0. */
CAIRN_API int cairn_drift_bin(const double *edges, int n_edges, double v);

/* ======================================================================
 * Numeric sketch: mergeable, O(1) memory per feature
 *
 * A relative-error quantile sketch in the manner of DDSketch (Masson, Rim
 * and Lee, VLDB 2019), applied to standardised values z = (x - center) /
 * scale: bucket k holds the values with gamma^(k-1) < |z| <= gamma^k,
 * gamma = (1 + alpha) / (1 - alpha), so every value is known to a relative
 * error alpha of its distance from center; |z| < 1e-3 goes to one zero
 * bucket and |z| > 1e6 to the outermost buckets (exact min and max bound
 * those). Counts are integers in a fixed array, so the sketch is
 * deterministic and merging is exact: merge(A, B) is bit-for-bit the sketch
 * of the union, in any order. Beside the buckets it keeps count, missing,
 * min, max, sum, sum of squares, and the counts in fixed bins given at
 * creation (a profile's quantile edges), so PSI on sketches equals PSI on
 * the raw values. Memory: about 16 KiB per sketch at alpha = 0.01.
 *
 * Error bounds (docs/internals/drift.md): a sketch's CDF is exact at every
 * bucket boundary and linear inside a bucket, so the KS statistic of two
 * sketches is within cairn_sketch_ks_error(a) + cairn_sketch_ks_error(b)
 * of the exact statistic, and their Wasserstein-1 distance within
 * cairn_sketch_w1_error(a) + cairn_sketch_w1_error(b).
 *
 * Thread-safety: a sketch is not synchronised. Concurrent readers are
 * fine; a writer needs exclusive access (give each thread its own sketch
 * and merge).
 * ====================================================================== */

typedef struct cairn_sketch cairn_sketch;

typedef struct cairn_sketch_opts {
    unsigned version;   /* CAIRN_SKETCH_OPTS_VERSION */
    double alpha;       /* relative accuracy, 0.001 .. 0.1 */
    double center;      /* finite; the reference mean is a good choice */
    double scale;       /* > 0 and finite; the reference std is a good choice */
    int n_edges;        /* 0 (no fixed bins) or 2 .. 10001 */
    const double *edges; /* (n_edges) non-decreasing finite edges; copied */
} cairn_sketch_opts;

#define CAIRN_SKETCH_OPTS_VERSION 1
#define CAIRN_SKETCH_OPTS_INIT {CAIRN_SKETCH_OPTS_VERSION, 0.01, 0.0, 1.0, 0, NULL}
/* Serialised sketches are refused above this size. */
#define CAIRN_SKETCH_MAX_BYTES (16u << 20)

/* Creates an empty sketch (opts NULL: the defaults). CAIRN_EINVALID: bad
 * options. */
CAIRN_API int cairn_sketch_new(cairn_sketch **out, const cairn_sketch_opts *opts);
/* Creates an empty sketch for current data of a numeric profile feature:
 * center = its mean, scale = its std (1 when 0 or unknown), fixed bins = its
 * quantile edges; alpha from opts (NULL: 0.01). CAIRN_EINVALID: f is not
 * numeric. */
CAIRN_API int cairn_sketch_new_for_feature(cairn_sketch **out,
                                           const cairn_profile_feature *f,
                                           const cairn_sketch_opts *opts);
/* A deep copy. */
CAIRN_API int cairn_sketch_copy(cairn_sketch **out, const cairn_sketch *s);
/* NULL is a no-op. */
CAIRN_API void cairn_sketch_free(cairn_sketch *s);
/* Empties the sketch, keeping its parameters. Can't fail. */
CAIRN_API void cairn_sketch_reset(cairn_sketch *s);

/* Adds one value: NaN and +-infinity count as missing. O(1), no
 * allocation, can't fail. */
CAIRN_API void cairn_sketch_add(cairn_sketch *s, double v);
/* Adds n values v[0], v[stride], ... (stride in elements, >= 1). */
CAIRN_API void cairn_sketch_add_n(cairn_sketch *s, const double *v, size_t n, size_t stride);
/* Counts one missing value. */
CAIRN_API void cairn_sketch_add_missing(cairn_sketch *s);
/* Adds from's contents into into: exact and commutative. CAIRN_EINVALID:
 * different alpha, center, scale or edges. into is unchanged on error. */
CAIRN_API int cairn_sketch_merge(cairn_sketch *into, const cairn_sketch *from);

/* Accessors; can't fail. min, max, mean, quantile and cdf are NaN when the
 * sketch holds no present value. */
CAIRN_API uint64_t cairn_sketch_count(const cairn_sketch *s);   /* present values */
CAIRN_API uint64_t cairn_sketch_missing(const cairn_sketch *s);
CAIRN_API double cairn_sketch_min(const cairn_sketch *s);
CAIRN_API double cairn_sketch_max(const cairn_sketch *s);
CAIRN_API double cairn_sketch_sum(const cairn_sketch *s);
CAIRN_API double cairn_sketch_mean(const cairn_sketch *s);
CAIRN_API double cairn_sketch_std(const cairn_sketch *s); /* population */
/* The q-quantile (0 <= q <= 1; clamped): q = 0 is min, q = 1 is max; inside
 * a bucket values are taken as spread evenly. Within relative error alpha
 * of |true quantile - center| plus interpolation inside one bucket. */
CAIRN_API double cairn_sketch_quantile(const cairn_sketch *s, double q);
/* Fraction of present values <= x: exact at bucket boundaries, linear
 * inside a bucket. */
CAIRN_API double cairn_sketch_cdf(const cairn_sketch *s, double x);
/* The fixed bins: returns their number (n_edges - 1, 0 when none) and sets
 * *counts to a borrowed array valid until the next write. Values below the
 * first edge are counted in bin 0 and above the last in the last bin, as
 * cairn_drift_bin does; *below and *above (either may be NULL) receive how
 * many were outside [edges[0], edges[n_edges-1]]. */
CAIRN_API int cairn_sketch_bins(const cairn_sketch *s, const uint64_t **counts, uint64_t *below,
                                uint64_t *above);
/* The largest fraction of the present values that one bucket holds (the KS
 * error bound's share of this sketch); 0 when empty. */
CAIRN_API double cairn_sketch_ks_error(const cairn_sketch *s);
/* Sum over buckets of (bucket count / count) * (bucket width clipped to
 * [min, max]): the Wasserstein error bound's share; 0 when empty. */
CAIRN_API double cairn_sketch_w1_error(const cairn_sketch *s);

/* Appends the sketch's serialised form (little-endian, format version 1,
 * only non-empty buckets; see docs/internals/drift.md) to out.
 * CAIRN_ETOOBIG: out's limit was reached (out is freed as cairn_buf says). */
CAIRN_API int cairn_sketch_serialize(const cairn_sketch *s, cairn_buf *out);
/* Reads a serialised sketch, validating everything (magic, version,
 * parameters, bucket order, counts adding up). Untrusted input is fine.
 * CAIRN_ECORRUPT: malformed bytes; CAIRN_EUNSUPPORTED: another version. */
CAIRN_API int cairn_sketch_deserialize(cairn_sketch **out, const void *data, size_t len);

/* Statistics on two sketches (both with present values; else CAIRN_EINVALID).
 * They need not share parameters.
 * KS: statistic on the pooled bucket boundaries (bound above), p-value
 * asymptotic: cairn_drift_ks_pvalue(count_a, count_b, d, ASYMP). */
CAIRN_API int cairn_drift_ks_sketch(const cairn_sketch *a, const cairn_sketch *b,
                                    cairn_drift_test *out);
/* Wasserstein-1 as the integral of |Q_a(p) - Q_b(p)| over p of the
 * sketches' piecewise-linear quantile functions (bound above). */
CAIRN_API int cairn_drift_wasserstein_sketch(const cairn_sketch *a, const cairn_sketch *b,
                                             double *out);
/* PSI from the fixed bins (exact); CAIRN_EINVALID unless both sketches
 * have the same edges. */
CAIRN_API int cairn_drift_psi_sketch(const cairn_sketch *ref, const cairn_sketch *cur,
                                     double *out);
/* KS and Wasserstein-1 of a sketch against a sorted sample (a profile's
 * reference sample): the sample's ECDF is exact, the sketch's as above, so
 * the error is within cairn_sketch_ks_error / cairn_sketch_w1_error of cur.
 * The KS p-value is asymptotic with n1 = n_sample, n2 = the sketch's count. */
CAIRN_API int cairn_drift_ks_sample_sketch(const double *sample, size_t n_sample,
                                           const cairn_sketch *cur, cairn_drift_test *out);
CAIRN_API int cairn_drift_wasserstein_sample_sketch(const double *sample, size_t n_sample,
                                                    const cairn_sketch *cur, double *out);

/* ======================================================================
 * Categorical counter: category name -> count, bounded
 *
 * Keeps at most max_categories distinct unpinned names; values of further names are
 * counted in one overflow bucket (cairn_catcount_other). Names given to
 * cairn_catcount_pin (a profile's categories) are always kept. Merging sums
 * counts; when the union exceeds the bound, the unpinned names with the
 * largest counts (ties by name) are kept and the rest move to the overflow
 * bucket, so merges are order-independent while no overflow happens and
 * within the overflow bucket's share otherwise. Not synchronised (as the
 * sketch). Names are copied.
 * ====================================================================== */

typedef struct cairn_catcount cairn_catcount;

typedef struct cairn_catcount_opts {
    unsigned version;   /* CAIRN_CATCOUNT_OPTS_VERSION */
    int max_categories; /* 1 .. 1000000 distinct names kept */
} cairn_catcount_opts;

#define CAIRN_CATCOUNT_OPTS_VERSION 1
#define CAIRN_CATCOUNT_OPTS_INIT {CAIRN_CATCOUNT_OPTS_VERSION, 1000}
/* Longest name kept; longer names are truncated to it. */
#define CAIRN_CATCOUNT_MAX_NAME 256

CAIRN_API int cairn_catcount_new(cairn_catcount **out, const cairn_catcount_opts *opts);
/* A counter with the categories of a categorical profile feature pinned;
 * up to max_categories further names are kept beside them.
 * CAIRN_EINVALID: f is numeric. */
CAIRN_API int cairn_catcount_new_for_feature(cairn_catcount **out,
                                             const cairn_profile_feature *f,
                                             const cairn_catcount_opts *opts);
CAIRN_API void cairn_catcount_free(cairn_catcount *c);
CAIRN_API void cairn_catcount_reset(cairn_catcount *c); /* keeps pinned names */
/* Pins names (count 0 until added); pinned names do not count against
 * max_categories. CAIRN_EINVALID: names or a name is NULL. */
CAIRN_API int cairn_catcount_pin(cairn_catcount *c, const char *const *names, int n);
/* Counts one value: name (len bytes, need not be NUL-terminated); NULL
 * counts a missing value. Amortised O(1); can't fail (overflow bucket). */
CAIRN_API void cairn_catcount_add(cairn_catcount *c, const char *name, size_t len);
/* Adds from into into (see above). Can't fail for valid counters. */
CAIRN_API int cairn_catcount_merge(cairn_catcount *into, const cairn_catcount *from);
CAIRN_API uint64_t cairn_catcount_count(const cairn_catcount *c);   /* present values */
CAIRN_API uint64_t cairn_catcount_missing(const cairn_catcount *c);
CAIRN_API uint64_t cairn_catcount_other(const cairn_catcount *c);   /* overflow bucket */
/* Number of kept names, and name i (0 <= i < n) with its count; names are
 * borrowed until the next write; order: pinned first in pin order, then in
 * order of first appearance (after a merge that overflowed: by descending
 * count, ties by name). */
CAIRN_API int cairn_catcount_size(const cairn_catcount *c);
CAIRN_API const char *cairn_catcount_name(const cairn_catcount *c, int i, uint64_t *count);
/* The count of a name (0 when absent). */
CAIRN_API uint64_t cairn_catcount_get(const cairn_catcount *c, const char *name);

/* ======================================================================
 * Evaluating one column against a profile.json feature
 *
 * The inline monitor (with sketches and counters) and the batch CLI call
 * these. The statistic is opts->stat, or for CAIRN_DRIFT_AUTO
 * cairn_drift_default_stat(categorical, reference count); the threshold is
 * opts->threshold, or when NaN cairn_drift_default_threshold(stat).
 *
 * Reference data per statistic:
 *   numeric KS, Wasserstein: the profile's sorted sample (the whole
 *     reference when it has at most sample_size values); Wasserstein is
 *     divided by max(profile std, 0.001);
 *   numeric PSI, JS, chi-square: the profile's quantile bins and counts,
 *     current values binned by cairn_drift_bin;
 *   categorical chi-square, JS, PSI: the profile's categories (+ its other
 *     bucket) against the current counts over the union of both sides'
 *     categories (current names the profile does not list count as new
 *     categories when the profile kept all its categories, else they go to
 *     the profile's other bucket).
 * Rates are over current values: missing_rate = missing / (count+missing);
 * out_of_range_rate = present values outside [profile min, max] / count;
 * new_category_rate = values of names the profile does not list / count
 * (an upper bound when the profile has an other bucket).
 * A column with no present current value gives statistic and score NaN and
 * drift 0.
 * ====================================================================== */

typedef struct cairn_drift_opts {
    unsigned version;      /* CAIRN_DRIFT_OPTS_VERSION */
    cairn_drift_stat stat; /* CAIRN_DRIFT_AUTO: the default choice */
    double threshold;      /* NaN: the statistic's default */
} cairn_drift_opts;

#define CAIRN_DRIFT_OPTS_VERSION 1
#define CAIRN_DRIFT_OPTS_INIT {CAIRN_DRIFT_OPTS_VERSION, CAIRN_DRIFT_AUTO, NAN}

typedef struct cairn_drift_result {
    cairn_drift_stat stat;    /* the statistic used (never AUTO) */
    double statistic;         /* KS D, chi-square X^2, or the distance/PSI */
    double score;             /* p-value for KS and chi-square, else = statistic */
    double threshold;
    int drift;                /* cairn_drift_is_drift(stat, score, threshold) */
    int approximate;          /* 1 when computed from a sketch (bounds above) */
    uint64_t count;           /* present current values */
    uint64_t missing;         /* missing current values */
    double missing_rate;
    double out_of_range_rate; /* numeric only (0 for categorical) */
    double new_category_rate; /* categorical only (0 for numeric) */
} cairn_drift_result;

/* A numeric feature against n current values v[0], v[stride], ... (NaN or
 * infinity = missing), exactly (copies the present values).
 * CAIRN_EINVALID: f is categorical, the statistic does not apply, bad opts. */
CAIRN_API int cairn_drift_eval_values(const cairn_profile_feature *f, const double *v,
                                      size_t n, size_t stride, const cairn_drift_opts *opts,
                                      cairn_drift_result *out);
/* A numeric feature against a sketch. PSI, JS and chi-square need the
 * sketch's fixed bins to be the profile's edges (cairn_sketch_new_for_feature
 * does that); else CAIRN_EINVALID. */
CAIRN_API int cairn_drift_eval_sketch(const cairn_profile_feature *f,
                                      const cairn_sketch *cur, const cairn_drift_opts *opts,
                                      cairn_drift_result *out);
/* A categorical feature against a counter. CAIRN_EINVALID: f is numeric,
 * the statistic is KS or Wasserstein, bad opts. */
CAIRN_API int cairn_drift_eval_categories(const cairn_profile_feature *f,
                                          const cairn_catcount *cur,
                                          const cairn_drift_opts *opts, cairn_drift_result *out);

#endif
