/*
 * metrics.c - classification and regression metrics equal to scikit-learn's.
 *
 * Key idea: reproduce sklearn's arithmetic, not just its formulas. Every
 * mean or sum goes through pairwise_sum(), which adds in the exact order of
 * numpy's pairwise summation (8 accumulators per 128-element block, halves
 * above that), and every curve is built the way sklearn builds it (distinct
 * thresholds, collinear ROC points dropped, precision/recall reversed), so
 * results match sklearn to the last bit in most cases instead of merely to
 * a tolerance. Inputs are validated first: NaN, n == 0 and labels outside
 * their range are CAIRN_EINVALID.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/metrics.h"
#include "profile_math.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)

/* ---- helpers ------------------------------------------------------------ */

/* numpy's pairwise summation (numpy/core/src/umath/loops_utils.h.src). */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* A data-sized array of count elements, or NULL (error set). */
static void *alloc_array(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (count > SIZE_MAX / size) {
        ERR(CAIRN_ETOOBIG, "metric input too large");
        return NULL;
    }
    void *p = cairn_try_malloc(count * size);
    if (!p) ERR(CAIRN_ENOMEM, "out of memory for %zu metric values", count);
    return p;
}

static int check_n(size_t n)
{
    if (n == 0) return ERR(CAIRN_EINVALID, "metric needs at least one sample");
    return 0;
}

static int check_finite(const double *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return ERR(CAIRN_EINVALID, "%s has nan at row %zu", what, i);
    return 0;
}

static int check_binary(const double *y, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] != 0.0 && y[i] != 1.0)
            return ERR(CAIRN_EINVALID, "%s must be 0 or 1, got %g at row %zu", what, y[i], i);
    return 0;
}

/* Labels must be integers 0..k-1 (NaN fails the range test too). */
static int check_labels(const double *y, size_t n, int k, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(y[i] >= 0.0 && y[i] < (double)k && y[i] == floor(y[i])))
            return ERR(CAIRN_EINVALID, "%s must be a class in 0..%d, got %g at row %zu", what,
                       k - 1, y[i], i);
    return 0;
}

/* ---- ranking curves ----------------------------------------------------- */

struct scored {
    double score;
    double label;
};

static int by_score_desc(const void *pa, const void *pb)
{
    const struct scored *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

/*
 * sklearn _binary_clf_curve: after sorting by descending score, the
 * cumulative true and false positives at the last row of each run of equal
 * scores. fps/tps get m (<= n) entries each; caller frees both.
 */
static int clf_curve(const double *y_true, const double *y_score, size_t n, double **fps_out,
                     double **tps_out, size_t *m_out)
{
    int rc;
    *fps_out = *tps_out = NULL;
    if ((rc = check_n(n)) || (rc = check_finite(y_score, n, "y_score")) ||
        (rc = check_binary(y_true, n, "y_true")))
        return rc;
    struct scored *s = alloc_array(n, sizeof(*s));
    double *fps = alloc_array(n, sizeof(double));
    double *tps = alloc_array(n, sizeof(double));
    if (!s || !fps || !tps) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (struct scored){y_score[i], y_true[i]};
    qsort(s, n, sizeof(*s), by_score_desc);
    size_t m = 0;
    double tp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += s[i].label;
        if (i == n - 1 || s[i + 1].score != s[i].score) {
            tps[m] = tp;
            fps[m] = 1.0 + (double)i - tp;
            m++;
        }
    }
    *fps_out = fps;
    *tps_out = tps;
    *m_out = m;
    fps = tps = NULL;
    rc = 0;
cleanup:
    cairn_free(s);
    cairn_free(fps);
    cairn_free(tps);
    return rc;
}

/* sklearn roc_curve(drop_intermediate=True) followed by auc() = np.trapz. */
int cairn_metrics_roc_auc(const double *y_true, const double *y_score, size_t n, double *out)
{
    double *fps, *tps;
    size_t m;
    int rc = clf_curve(y_true, y_score, n, &fps, &tps, &m);
    if (rc) return rc;
    double P = tps[m - 1], N = fps[m - 1];
    if (P <= 0 || N <= 0) {
        rc = ERR(CAIRN_EINVALID, "roc auc is undefined when y_true holds only one class");
        goto cleanup;
    }
    /* Keep the end points and every point where the curve bends; fps/tps
     * are reused in place for the kept points, shifted by one to leave room
     * for the (0, 0) origin, which sklearn adds after dropping. */
    double *x = alloc_array(m + 1, sizeof(double));
    double *y = alloc_array(m + 1, sizeof(double));
    if (!x || !y) {
        rc = cairn_error_last()->code;
        cairn_free(x);
        cairn_free(y);
        goto cleanup;
    }
    size_t p = 0;
    x[p] = 0.0;
    y[p] = 0.0;
    p++;
    for (size_t i = 0; i < m; i++) {
        int keep = i == 0 || i == m - 1 || m <= 2 ||
                   (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1]) != 0 ||
                   (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1]) != 0;
        if (!keep) continue;
        x[p] = fps[i] / N;
        y[p] = tps[i] / P;
        p++;
    }
    /* trapz: sum of dx * (y1 + y0) / 2.0, reusing x[] for the terms. */
    for (size_t i = 0; i + 1 < p; i++)
        x[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
    *out = pairwise_sum(x, p - 1);
    cairn_free(x);
    cairn_free(y);
cleanup:
    cairn_free(fps);
    cairn_free(tps);
    return rc;
}

/* sklearn: -sum(diff(recall) * precision[:-1]) over the reversed curve. */
int cairn_metrics_average_precision(const double *y_true, const double *y_score, size_t n,
                                    double *out)
{
    double *fps, *tps;
    size_t m;
    int rc = clf_curve(y_true, y_score, n, &fps, &tps, &m);
    if (rc) return rc;
    double P = tps[m - 1];
    if (P <= 0) {
        rc = ERR(CAIRN_EINVALID, "average precision is undefined without a positive label");
        goto cleanup;
    }
    /* Reversed curve j = 0..m-1 is threshold i = m-1-j; the recall after the
     * last entry is 0. term_j = (R_{j+1} - R_j) * P_j. */
    double *terms = alloc_array(m, sizeof(double));
    if (!terms) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    for (size_t j = 0; j < m; j++) {
        size_t i = m - 1 - j;
        double prec = tps[i] / (tps[i] + fps[i]);
        double r = tps[i] / P;
        double r_next = i > 0 ? tps[i - 1] / P : 0.0;
        terms[j] = (r_next - r) * prec;
    }
    *out = -pairwise_sum(terms, m);
    cairn_free(terms);
cleanup:
    cairn_free(fps);
    cairn_free(tps);
    return rc;
}

/* ---- probabilistic losses ----------------------------------------------- */

static double clip_prob(double p)
{
    const double eps = DBL_EPSILON;
    return p < eps ? eps : (p > 1.0 - eps ? 1.0 - eps : p);
}

int cairn_metrics_log_loss(const double *y_true, const double *y_prob, size_t n, double *out)
{
    int rc;
    if ((rc = check_n(n)) || (rc = check_finite(y_prob, n, "y_prob")) ||
        (rc = check_binary(y_true, n, "y_true")))
        return rc;
    double *loss = alloc_array(n, sizeof(double));
    if (!loss) return cairn_error_last()->code;
    for (size_t i = 0; i < n; i++) {
        double p = clip_prob(y_prob[i]);
        double q = 1.0 - p;
        double s = q + p; /* sklearn renormalises the row [1-p, p] */
        loss[i] = -log((y_true[i] == 1.0 ? p : q) / s);
    }
    *out = pairwise_sum(loss, n) / (double)n;
    cairn_free(loss);
    return 0;
}

int cairn_metrics_log_loss_multi(const double *y_true, const double *proba, size_t n, int k,
                                 double *out)
{
    int rc;
    if (k < 2) return ERR(CAIRN_EINVALID, "log loss needs k >= 2 classes, got %d", k);
    if ((rc = check_n(n))) return rc;
    if (n > SIZE_MAX / (size_t)k) return ERR(CAIRN_ETOOBIG, "probability matrix too large");
    if ((rc = check_finite(proba, n * (size_t)k, "proba")) ||
        (rc = check_labels(y_true, n, k, "y_true")))
        return rc;
    double *loss = alloc_array(n, sizeof(double));
    double *row = alloc_array((size_t)k, sizeof(double));
    if (!loss || !row) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            row[j] = clip_prob(proba[i * (size_t)k + (size_t)j]);
        double s = pairwise_sum(row, (size_t)k);
        loss[i] = -log(row[(int)y_true[i]] / s);
    }
    *out = pairwise_sum(loss, n) / (double)n;
cleanup:
    cairn_free(loss);
    cairn_free(row);
    return rc;
}

/* ---- label metrics ------------------------------------------------------ */

int cairn_metrics_accuracy(const double *y_true, const double *y_pred, size_t n, double *out)
{
    int rc;
    if ((rc = check_n(n)) || (rc = check_finite(y_true, n, "y_true")) ||
        (rc = check_finite(y_pred, n, "y_pred")))
        return rc;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += y_true[i] == y_pred[i];
    *out = (double)hits / (double)n;
    return 0;
}

int cairn_metrics_confusion(const double *y_true, const double *y_pred, size_t n, int k,
                            int64_t *out)
{
    int rc;
    if (k < 1) return ERR(CAIRN_EINVALID, "confusion matrix needs k >= 1, got %d", k);
    if ((rc = check_n(n)) || (rc = check_labels(y_true, n, k, "y_true")) ||
        (rc = check_labels(y_pred, n, k, "y_pred")))
        return rc;
    memset(out, 0, sizeof(int64_t) * (size_t)k * (size_t)k);
    for (size_t i = 0; i < n; i++)
        out[(size_t)y_true[i] * (size_t)k + (size_t)y_pred[i]]++;
    return 0;
}

/* x / d, or 0 when d == 0 (sklearn's zero_division default). */
static double prf_divide(double x, double d)
{
    return d == 0 ? 0.0 : x / d;
}

int cairn_metrics_prf_score(const double *y_true, const double *y_pred, size_t n, int k,
                            cairn_metrics_average average, cairn_metrics_prf *out)
{
    if (average == CAIRN_METRICS_BINARY && k != 2)
        return ERR(CAIRN_EINVALID, "binary precision/recall needs k = 2, got %d", k);
    if (average != CAIRN_METRICS_BINARY && average != CAIRN_METRICS_MACRO &&
        average != CAIRN_METRICS_WEIGHTED)
        return ERR(CAIRN_EINVALID, "unknown average %d", (int)average);
    if (k < 1 || k > 1 << 20) return ERR(CAIRN_EINVALID, "bad class count %d", k);
    int64_t *cm = alloc_array((size_t)k * (size_t)k, sizeof(int64_t));
    double *buf = alloc_array(6 * (size_t)k, sizeof(double));
    int rc;
    if (!cm || !buf) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    if ((rc = cairn_metrics_confusion(y_true, y_pred, n, k, cm))) goto cleanup;
    double *prec = buf, *rec = buf + k, *f1 = buf + 2 * k, *support = buf + 3 * k;
    double *tmp = buf + 4 * k;
    for (int c = 0; c < k; c++) {
        double tp = (double)cm[(size_t)c * (size_t)k + (size_t)c], pred = 0, truth = 0;
        for (int o = 0; o < k; o++) {
            pred += (double)cm[(size_t)o * (size_t)k + (size_t)c];
            truth += (double)cm[(size_t)c * (size_t)k + (size_t)o];
        }
        prec[c] = prf_divide(tp, pred);
        rec[c] = prf_divide(tp, truth);
        double denom = prec[c] + rec[c];
        if (denom == 0.0) denom = 1;
        f1[c] = 2.0 * prec[c] * rec[c] / denom;
        support[c] = truth;
    }
    if (average == CAIRN_METRICS_BINARY) {
        *out = (cairn_metrics_prf){prec[1], rec[1], f1[1]};
    } else if (average == CAIRN_METRICS_MACRO) {
        out->precision = pairwise_sum(prec, (size_t)k) / k;
        out->recall = pairwise_sum(rec, (size_t)k) / k;
        out->f1 = pairwise_sum(f1, (size_t)k) / k;
    } else {
        /* support sums to n > 0, so sklearn's all-zero-weights branch is moot */
        double scl = pairwise_sum(support, (size_t)k);
        double *vals[3] = {prec, rec, f1}, res[3];
        for (int v = 0; v < 3; v++) {
            for (int c = 0; c < k; c++)
                tmp[c] = vals[v][c] * support[c];
            res[v] = pairwise_sum(tmp, (size_t)k) / scl;
        }
        *out = (cairn_metrics_prf){res[0], res[1], res[2]};
    }
cleanup:
    cairn_free(cm);
    cairn_free(buf);
    return rc;
}

/* ---- quantiles and calibration ------------------------------------------ */

static int by_value(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int cairn_metrics_percentile(const double *x, size_t n, double pct, double *out)
{
    int rc;
    if ((rc = check_n(n)) || (rc = check_finite(x, n, "x"))) return rc;
    if (!(pct >= 0 && pct <= 100))
        return ERR(CAIRN_EINVALID, "percentile must be in [0, 100], got %g", pct);
    double *s = alloc_array(n, sizeof(double));
    if (!s) return cairn_error_last()->code;
    memcpy(s, x, n * sizeof(double));
    qsort(s, n, sizeof(double), by_value);
    *out = cairn_profile__quantile(s, n, pct / 100);
    cairn_free(s);
    return 0;
}

/* Bin edges as sklearn computes them: np.linspace(0, 1, n_bins + 1) for
 * uniform, np.percentile(y_prob, linspace * 100) for quantile. edges has
 * n_bins + 1 entries. */
static int calib_edges(const double *y_prob, size_t n, int n_bins,
                       cairn_metrics_calib_strategy strategy, double *edges)
{
    double step = 1.0 / n_bins;
    for (int i = 0; i < n_bins; i++)
        edges[i] = (double)i * step + 0.0;
    edges[n_bins] = 1.0;
    if (strategy == CAIRN_METRICS_CALIB_UNIFORM) return 0;
    double *s = alloc_array(n, sizeof(double));
    if (!s) return cairn_error_last()->code;
    memcpy(s, y_prob, n * sizeof(double));
    qsort(s, n, sizeof(double), by_value);
    for (int i = 0; i <= n_bins; i++)
        edges[i] = cairn_profile__quantile(s, n, edges[i] * 100 / 100);
    cairn_free(s);
    return 0;
}

int cairn_metrics_calibration(const double *y_true, const double *y_prob, size_t n, int n_bins,
                              cairn_metrics_calib_strategy strategy, double *prob_true,
                              double *prob_pred, int64_t *counts, int *n_out)
{
    int rc;
    if (n_bins < 1 || n_bins > 1 << 20)
        return ERR(CAIRN_EINVALID, "calibration needs 1..%d bins, got %d", 1 << 20, n_bins);
    if (strategy != CAIRN_METRICS_CALIB_UNIFORM && strategy != CAIRN_METRICS_CALIB_QUANTILE)
        return ERR(CAIRN_EINVALID, "unknown calibration strategy %d", (int)strategy);
    if ((rc = check_n(n)) || (rc = check_finite(y_prob, n, "y_prob")) ||
        (rc = check_binary(y_true, n, "y_true")))
        return rc;
    for (size_t i = 0; i < n; i++)
        if (y_prob[i] < 0 || y_prob[i] > 1)
            return ERR(CAIRN_EINVALID, "y_prob must lie in [0, 1], got %g at row %zu", y_prob[i],
                       i);
    size_t nb = (size_t)n_bins;
    double *edges = alloc_array(nb + 1, sizeof(double));
    double *sums = alloc_array(2 * nb, sizeof(double));
    int64_t *tot = alloc_array(nb, sizeof(int64_t));
    if (!edges || !sums || !tot) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    if ((rc = calib_edges(y_prob, n, n_bins, strategy, edges))) goto cleanup;
    double *psum = sums, *tsum = sums + nb;
    memset(sums, 0, 2 * nb * sizeof(double));
    memset(tot, 0, nb * sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        /* np.searchsorted(edges[1:-1], p, side="left"): inner edges < p */
        size_t lo = 0, hi = nb - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (edges[1 + mid] < y_prob[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        psum[lo] += y_prob[i];
        tsum[lo] += y_true[i];
        tot[lo]++;
    }
    int w = 0;
    for (size_t b = 0; b < nb; b++) {
        if (!tot[b]) continue;
        prob_true[w] = tsum[b] / (double)tot[b];
        prob_pred[w] = psum[b] / (double)tot[b];
        if (counts) counts[w] = tot[b];
        w++;
    }
    *n_out = w;
cleanup:
    cairn_free(edges);
    cairn_free(sums);
    cairn_free(tot);
    return rc;
}

/* ---- regression ---------------------------------------------------------- */

enum reg_kind { REG_SQUARED, REG_ABSOLUTE, REG_PERCENT };

/* Mean of the per-row error of the given kind, in numpy's summation order. */
static int reg_mean(const double *y_true, const double *y_pred, size_t n, enum reg_kind kind,
                    double *out)
{
    int rc;
    if ((rc = check_n(n)) || (rc = check_finite(y_true, n, "y_true")) ||
        (rc = check_finite(y_pred, n, "y_pred")))
        return rc;
    double *e = alloc_array(n, sizeof(double));
    if (!e) return cairn_error_last()->code;
    for (size_t i = 0; i < n; i++) {
        double d = y_true[i] - y_pred[i];
        if (kind == REG_SQUARED) {
            e[i] = d * d;
        } else {
            double a = fabs(y_pred[i] - y_true[i]);
            if (kind == REG_PERCENT) a /= fmax(fabs(y_true[i]), DBL_EPSILON);
            e[i] = a;
        }
    }
    *out = pairwise_sum(e, n) / (double)n;
    cairn_free(e);
    return 0;
}

int cairn_metrics_mse(const double *y_true, const double *y_pred, size_t n, double *out)
{
    return reg_mean(y_true, y_pred, n, REG_SQUARED, out);
}

int cairn_metrics_rmse(const double *y_true, const double *y_pred, size_t n, double *out)
{
    int rc = reg_mean(y_true, y_pred, n, REG_SQUARED, out);
    if (!rc) *out = sqrt(*out);
    return rc;
}

int cairn_metrics_mae(const double *y_true, const double *y_pred, size_t n, double *out)
{
    return reg_mean(y_true, y_pred, n, REG_ABSOLUTE, out);
}

int cairn_metrics_mape(const double *y_true, const double *y_pred, size_t n, double *out)
{
    return reg_mean(y_true, y_pred, n, REG_PERCENT, out);
}

int cairn_metrics_r2(const double *y_true, const double *y_pred, size_t n, double *out)
{
    int rc;
    if (n < 2) return ERR(CAIRN_EINVALID, "r2 needs at least two samples");
    if ((rc = check_finite(y_true, n, "y_true")) || (rc = check_finite(y_pred, n, "y_pred")))
        return rc;
    double *e = alloc_array(n, sizeof(double));
    if (!e) return cairn_error_last()->code;
    for (size_t i = 0; i < n; i++) {
        double d = y_true[i] - y_pred[i];
        e[i] = d * d;
    }
    double num = pairwise_sum(e, n);
    double mean = pairwise_sum(y_true, n) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = y_true[i] - mean;
        e[i] = d * d;
    }
    double den = pairwise_sum(e, n);
    cairn_free(e);
    if (den != 0)
        *out = num != 0 ? 1 - num / den : 1.0;
    else
        *out = num != 0 ? 0.0 : 1.0;
    return 0;
}
