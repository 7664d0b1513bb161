/*
 * drift_eval.c - one column of current data against one profile.json
 * feature: choose the statistic (cairn_drift_default_stat or an override),
 * pick the reference representation it needs from the profile (sorted
 * sample, quantile bins, categories), compute it exactly (values) or from a
 * sketch / counter, and fill a cairn_drift_result with the rates.
 *
 * Key design idea: one code path per representation of the current data,
 * all reducing to the array statistics of drift_stats.c or the sketch
 * statistics of sketch.c, so the inline monitor and the batch CLI judge a
 * column identically.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/drift.h"
#include "monitor_internal.h"

#define SUBSYS CAIRN_SUBSYS_MONITOR

static int resolve(const cairn_drift_opts *opts, int categorical, uint64_t ref_count,
                   cairn_drift_result *out)
{
    cairn_drift_opts def = CAIRN_DRIFT_OPTS_INIT;
    const cairn_drift_opts *o = opts ? opts : &def;
    if (o->version != CAIRN_DRIFT_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "drift options version %u unknown",
                               o->version);
    if (o->stat < CAIRN_DRIFT_AUTO || o->stat > CAIRN_DRIFT_WASSERSTEIN)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "unknown drift statistic %d", o->stat);
    memset(out, 0, sizeof *out);
    out->stat = o->stat == CAIRN_DRIFT_AUTO ? cairn_drift_default_stat(categorical, ref_count)
                                            : o->stat;
    if (categorical && (out->stat == CAIRN_DRIFT_KS || out->stat == CAIRN_DRIFT_WASSERSTEIN))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "%s does not apply to a categorical column",
                               cairn_drift_stat_name(out->stat));
    out->threshold = isnan(o->threshold) ? cairn_drift_default_threshold(out->stat) : o->threshold;
    out->statistic = out->score = NAN;
    return 0;
}

static void finish(cairn_drift_result *out, uint64_t count, uint64_t missing)
{
    out->count = count;
    out->missing = missing;
    out->missing_rate = count + missing ? (double)missing / (double)(count + missing) : 0.0;
    out->drift = cairn_drift_is_drift(out->stat, out->score, out->threshold);
}

/* The binned statistics (PSI, JS, chi-square) on reference and current
 * counts of the same bins or categories. */
static int binned(cairn_drift_stat stat, const double *ref, const double *cur, size_t k,
                  cairn_drift_result *out)
{
    int rc;
    if (stat == CAIRN_DRIFT_PSI) {
        rc = cairn_drift_psi(ref, cur, k, &out->statistic);
        out->score = out->statistic;
    } else if (stat == CAIRN_DRIFT_JS) {
        rc = cairn_drift_js(ref, cur, k, &out->statistic);
        out->score = out->statistic;
    } else {
        cairn_drift_test t;
        rc = cairn_drift_chi2(cur, ref, k, &t);
        out->statistic = t.statistic;
        out->score = t.pvalue;
    }
    return rc;
}

static double wnorm(const cairn_profile_numeric *nv)
{
    return nv->std > CAIRN_DRIFT_WASSERSTEIN_MIN_STD ? nv->std : CAIRN_DRIFT_WASSERSTEIN_MIN_STD;
}

int cairn_drift_eval_values(const cairn_profile_feature *f, const double *v, size_t n,
                            size_t stride, const cairn_drift_opts *opts, cairn_drift_result *out)
{
    cairn_profile_numeric nv;
    if (!f || !out || (n && !v) || cairn_profile_feature_numeric(f, &nv) != 0)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "feature is not numeric");
    int rc = resolve(opts, 0, nv.count, out);
    if (rc) return rc;
    if (stride == 0) stride = 1;
    double *x = cairn_try_malloc((n ? n : 1) * sizeof(double));
    if (!x) return cairn_error_set(CAIRN_ENOMEM, SUBSYS, "no memory for %zu values", n);
    size_t m = 0, oor = 0;
    for (size_t i = 0; i < n; i++) {
        double a = v[i * stride];
        if (!isfinite(a)) continue;
        x[m++] = a;
        if (nv.count && (a < nv.min || a > nv.max)) oor++;
    }
    out->out_of_range_rate = m ? (double)oor / (double)m : 0.0;
    if (m == 0 || nv.count == 0) goto done;
    if (out->stat == CAIRN_DRIFT_KS || out->stat == CAIRN_DRIFT_WASSERSTEIN) {
        rc = cairn_drift__sort(x, m);
        if (rc) goto done;
        if (out->stat == CAIRN_DRIFT_KS) {
            cairn_drift_test t;
            rc = cairn_drift_ks_sorted(nv.sample, (size_t)nv.n_sample, x, m, &t);
            out->statistic = t.statistic;
            out->score = t.pvalue;
        } else {
            rc = cairn_drift_wasserstein_sorted(nv.sample, (size_t)nv.n_sample, x, m,
                                                &out->statistic);
            out->statistic /= wnorm(&nv);
            out->score = out->statistic;
        }
    } else {
        size_t k = (size_t)nv.n_edges - 1;
        double *ref = cairn_calloc(2 * k, sizeof(double)), *cur = ref + k;
        for (size_t i = 0; i < k; i++) ref[i] = (double)nv.bin_counts[i];
        for (size_t i = 0; i < m; i++) cur[cairn_drift_bin(nv.edges, nv.n_edges, x[i])] += 1;
        rc = binned(out->stat, ref, cur, k, out);
        cairn_free(ref);
    }
done:
    cairn_free(x);
    if (rc) return rc;
    finish(out, m, n - m);
    return 0;
}

int cairn_drift_eval_sketch(const cairn_profile_feature *f, const cairn_sketch *cur,
                            const cairn_drift_opts *opts, cairn_drift_result *out)
{
    cairn_profile_numeric nv;
    if (!f || !cur || !out || cairn_profile_feature_numeric(f, &nv) != 0)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "feature is not numeric");
    int rc = resolve(opts, 0, nv.count, out);
    if (rc) return rc;
    out->approximate = 1;
    uint64_t m = cur->count;
    if (m && nv.count) {
        /* values outside [min, max]: exact when the bins' outer edges are
         * the profile's min and max (they are, per profile.h), else 0 */
        out->out_of_range_rate = (double)(cur->below + cur->above) / (double)m;
        if (out->stat == CAIRN_DRIFT_KS) {
            cairn_drift_test t;
            rc = cairn_drift_ks_sample_sketch(nv.sample, (size_t)nv.n_sample, cur, &t);
            out->statistic = t.statistic;
            out->score = t.pvalue;
        } else if (out->stat == CAIRN_DRIFT_WASSERSTEIN) {
            rc = cairn_drift_wasserstein_sample_sketch(nv.sample, (size_t)nv.n_sample, cur,
                                                       &out->statistic);
            out->statistic /= wnorm(&nv);
            out->score = out->statistic;
        } else {
            int same = cur->n_edges == nv.n_edges;
            for (int i = 0; same && i < nv.n_edges; i++) same = cur->edges[i] == nv.edges[i];
            if (!same)
                return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                                       "sketch bins are not the profile's quantile edges");
            size_t k = (size_t)nv.n_edges - 1;
            double *ref = cairn_calloc(2 * k, sizeof(double)), *cu = ref + k;
            for (size_t i = 0; i < k; i++) {
                ref[i] = (double)nv.bin_counts[i];
                cu[i] = (double)cur->bins[i];
            }
            rc = binned(out->stat, ref, cu, k, out);
            cairn_free(ref);
        }
        if (rc) return rc;
    }
    finish(out, m, cur->missing);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cairn_drift_eval_categories(const cairn_profile_feature *f, const cairn_catcount *cur,
                                const cairn_drift_opts *opts, cairn_drift_result *out)
{
    cairn_profile_categorical cv;
    if (!f || !cur || !out || cairn_profile_feature_categorical(f, &cv) != 0)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "feature is not categorical");
    int rc = resolve(opts, 1, cv.count, out);
    if (rc) return rc;
    int has_other = cv.other_distinct > 0 || cv.other_count > 0;
    size_t nref = (size_t)cv.n_categories, ncur = (size_t)cairn_catcount_size(cur);
    size_t cap = nref + ncur + 2;
    double *ref = cairn_calloc(2 * cap, sizeof(double)), *cu = ref + cap;
    const char **sorted = cairn_malloc((nref + 1) * sizeof(char *));
    for (size_t i = 0; i < nref; i++) sorted[i] = cv.names[i];
    qsort(sorted, nref, sizeof(char *), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < nref; i++) {
        ref[k] = (double)cv.counts[i];
        cu[k++] = (double)cairn_catcount_get(cur, cv.names[i]);
    }
    uint64_t unknown = cairn_catcount_other(cur);
    size_t other_key = k;
    if (has_other) ref[k++] = (double)cv.other_count;
    for (size_t i = 0; i < ncur; i++) {
        uint64_t c;
        const char *name = cairn_catcount_name(cur, (int)i, &c);
        if (c == 0 || bsearch(&name, sorted, nref, sizeof(char *), cmp_str)) continue;
        unknown += c;
        if (!has_other) cu[k++] = (double)c; /* a new category: reference 0 */
    }
    if (has_other)
        cu[other_key] = (double)unknown;
    else if (cairn_catcount_other(cur))
        cu[k++] = (double)cairn_catcount_other(cur);
    /* keys: the union of categories present on either side */
    size_t kk = 0;
    for (size_t i = 0; i < k; i++) {
        if (ref[i] == 0 && cu[i] == 0) continue;
        ref[kk] = ref[i];
        cu[kk++] = cu[i];
    }
    uint64_t m = cairn_catcount_count(cur);
    out->new_category_rate = m ? (double)unknown / (double)m : 0.0;
    if (m && cv.count) rc = binned(out->stat, ref, cu, kk, out);
    cairn_free(sorted);
    cairn_free(ref);
    if (rc) return rc;
    finish(out, m, cairn_catcount_missing(cur));
    return 0;
}
