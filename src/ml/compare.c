/*
 * compare.c - A/B comparison of two models on the same test set: a paired
 * bootstrap of any metric's difference, and McNemar's test on correctness.
 *
 * Key idea: the bootstrap is reproducible regardless of threading. One draw
 * per resample from the caller's rng seeds that resample's own stream,
 * serially, before the parallel loop; each resample then writes its
 * difference into its own slot, so the set of differences (and hence the
 * CI and p-value) is identical for 1 or 16 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cairn/metrics.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)

/* Per-thread scratch: one resample of y_true and both models' scores. */
struct resample_buf {
    double *y, *a, *b;
};

/*
 * Resample r: draws n rows with replacement from a stream seeded by seed,
 * evaluates the metric on both models, and stores metric_a - metric_b in
 * *diff. Returns the metric's code (0, CAIRN_EINVALID to skip, or another
 * error).
 */
static int one_resample(const double *y_true, const double *score_a, const double *score_b,
                        size_t n, size_t width, cairn_metrics_cb metric, void *payload,
                        uint64_t seed, struct resample_buf *buf, double *diff)
{
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)cairn_ml_rng_below(&rng, n);
        buf->y[i] = y_true[j];
        memcpy(buf->a + i * width, score_a + j * width, width * sizeof(double));
        memcpy(buf->b + i * width, score_b + j * width, width * sizeof(double));
    }
    double ma, mb;
    int rc = metric(buf->y, buf->a, n, &ma, payload);
    if (!rc) rc = metric(buf->y, buf->b, n, &mb, payload);
    if (!rc) *diff = ma - mb;
    return rc;
}

static int buf_init(struct resample_buf *buf, size_t n, size_t width)
{
    buf->y = cairn_try_malloc(n * sizeof(double));
    buf->a = cairn_try_malloc(n * width * sizeof(double));
    buf->b = cairn_try_malloc(n * width * sizeof(double));
    return buf->y && buf->a && buf->b ? 0 : -1;
}

static void buf_free(struct resample_buf *buf)
{
    cairn_free(buf->y);
    cairn_free(buf->a);
    cairn_free(buf->b);
}

static int check_bootstrap_args(size_t n, size_t width, cairn_metrics_cb metric,
                                const cairn_bootstrap_opts *o, cairn_ml_rng *rng)
{
    if (!metric || !rng) return ERR(CAIRN_EINVALID, "bootstrap needs a metric and an rng");
    if (!o || o->version != CAIRN_BOOTSTRAP_OPTS_VERSION)
        return ERR(CAIRN_EINVALID, "bootstrap options of an unknown version");
    if (o->n_resamples < 1 || o->n_resamples > 10000000)
        return ERR(CAIRN_EINVALID, "bootstrap resamples must be in 1..10000000, got %d",
                   o->n_resamples);
    if (!(o->confidence > 0 && o->confidence < 1))
        return ERR(CAIRN_EINVALID, "bootstrap confidence must be in (0, 1), got %g", o->confidence);
    if (o->threads < 0) return ERR(CAIRN_EINVALID, "bootstrap threads must be >= 0");
    if (n == 0) return ERR(CAIRN_EINVALID, "bootstrap needs at least one sample");
    if (width == 0 || n > SIZE_MAX / sizeof(double) / width)
        return ERR(CAIRN_EINVALID, "bootstrap score rows of width %zu are invalid", width);
    return 0;
}

int cairn_compare_bootstrap(const double *y_true, const double *score_a, const double *score_b,
                            size_t n, size_t width, cairn_metrics_cb metric, void *payload,
                            const cairn_bootstrap_opts *opts, cairn_ml_rng *rng,
                            cairn_bootstrap_result *out)
{
    int rc = check_bootstrap_args(n, width, metric, opts, rng);
    if (rc) return rc;
    double ma, mb;
    if ((rc = metric(y_true, score_a, n, &ma, payload)) ||
        (rc = metric(y_true, score_b, n, &mb, payload)))
        return rc;
    int B = opts->n_resamples;
    uint64_t *seeds = cairn_try_malloc((size_t)B * sizeof(uint64_t));
    double *diffs = cairn_try_malloc((size_t)B * sizeof(double));
    int *codes = cairn_try_malloc((size_t)B * sizeof(int));
    if (!seeds || !diffs || !codes) {
        rc = ERR(CAIRN_ENOMEM, "out of memory for %d bootstrap resamples", B);
        goto cleanup;
    }
    for (int r = 0; r < B; r++)
        seeds[r] = cairn_ml_rng_next(rng);
    int nomem = 0, threads = opts->threads;
#ifdef _OPENMP
    if (threads == 0) threads = omp_get_max_threads();
#endif
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        struct resample_buf buf;
        int ok = buf_init(&buf, n, width) == 0;
        if (!ok) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 8)
        for (int r = 0; r < B; r++) {
            codes[r] = ok ? one_resample(y_true, score_a, score_b, n, width, metric, payload,
                                         seeds[r], &buf, &diffs[r])
                          : CAIRN_ENOMEM;
        }
        buf_free(&buf);
    }
    if (nomem) {
        rc = ERR(CAIRN_ENOMEM, "out of memory for bootstrap resample buffers");
        goto cleanup;
    }
    /* Compact the valid differences; a hard error on a resample is replayed
     * on this thread so its message (thread-local) reaches the caller. */
    int nv = 0;
    for (int r = 0; r < B; r++) {
        if (codes[r] == 0) {
            diffs[nv++] = diffs[r];
        } else if (codes[r] != CAIRN_EINVALID) {
            struct resample_buf buf;
            double d;
            if (buf_init(&buf, n, width) == 0)
                rc = one_resample(y_true, score_a, score_b, n, width, metric, payload, seeds[r],
                                  &buf, &d);
            else
                rc = ERR(CAIRN_ENOMEM, "out of memory for a bootstrap resample buffer");
            buf_free(&buf);
            if (!rc) rc = ERR(CAIRN_ERROR, "metric gave different results on one resample");
            goto cleanup;
        }
    }
    if (nv == 0) {
        rc = ERR(CAIRN_EINVALID, "the metric was undefined on every bootstrap resample");
        goto cleanup;
    }
    double alpha = (1 - opts->confidence) / 2, obs = ma - mb;
    if ((rc = cairn_metrics_percentile(diffs, (size_t)nv, 100 * alpha, &out->ci_low)) ||
        (rc = cairn_metrics_percentile(diffs, (size_t)nv, 100 * (1 - alpha), &out->ci_high)))
        goto cleanup;
    size_t other = 0;
    for (int r = 0; r < nv; r++)
        other += obs > 0 ? diffs[r] <= 0 : diffs[r] >= 0;
    double p = obs == 0 ? 1.0 : 2.0 * (double)(other + 1) / (double)(nv + 1);
    out->metric_a = ma;
    out->metric_b = mb;
    out->diff = obs;
    out->p_value = p > 1 ? 1 : p;
    out->n_valid = nv;
cleanup:
    cairn_free(seeds);
    cairn_free(diffs);
    cairn_free(codes);
    return rc;
}

/* ---- McNemar ---------------------------------------------------------------- */

/* Two-sided exact binomial p-value for k successes of m trials at p = 1/2:
 * 2 P(X <= min(k, m - k)), capped at 1. m < 64 so the binomial
 * coefficients and 2^m are exact in double. */
static double binom_two_sided_half(int64_t k, int64_t m)
{
    int64_t lo = k < m - k ? k : m - k;
    if (2 * lo == m) return 1.0;
    double coef = 1, tail = 0;
    for (int64_t i = 0; i <= lo; i++) {
        tail += coef;
        coef = coef * (double)(m - i) / (double)(i + 1);
    }
    double p = 2 * tail / ldexp(1.0, (int)m);
    return p > 1 ? 1 : p;
}

int cairn_compare_mcnemar(const double *correct_a, const double *correct_b, size_t n,
                          cairn_mcnemar_result *out)
{
    if (n == 0) return ERR(CAIRN_EINVALID, "mcnemar needs at least one sample");
    int64_t b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        double a = correct_a[i], o = correct_b[i];
        if ((a != 0 && a != 1) || (o != 0 && o != 1))
            return ERR(CAIRN_EINVALID, "correctness must be 0 or 1, row %zu", i);
        b += a == 1 && o == 0;
        c += a == 0 && o == 1;
    }
    out->b = b;
    out->c = c;
    if (b + c < 25) {
        out->exact = 1;
        out->statistic = (double)(b < c ? b : c);
        out->p_value = b + c == 0 ? 1.0 : binom_two_sided_half(b, b + c);
    } else {
        double d = fabs((double)(b - c)) - 1;
        out->exact = 0;
        out->statistic = d * d / (double)(b + c);
        out->p_value = erfc(sqrt(out->statistic / 2));
    }
    return 0;
}
