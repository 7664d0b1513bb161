/*
 * kmeans.c - k-means clustering (greedy k-means++ seeding, Lloyd
 * iterations, n_init restarts) and the silhouette score.
 *
 * Key idea: every step that OpenMP spreads over rows writes a per-row result
 * (a label, a squared distance, a silhouette value) and every sum over rows
 * is then taken sequentially in row order, so the result is bit-identical
 * whatever the number of threads. Randomness comes only from a splitmix64
 * generator seeded by the caller (no global state). The seeding and stopping
 * rules follow sklearn's KMeans: 2 + floor(ln k) local trials per k-means++
 * centre, stop when the summed squared centroid shift is <= tol times the
 * mean feature variance or when the labels stop changing, then a final
 * assignment so labels and inertia match the returned centroids.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/linear.h"

struct cairn_kmeans {
    int k, d;
    double *centroids; /* (k, d) row-major */
    double inertia;
    int n_iter;
    char **names; /* (d) */
};

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_uniform(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Row-major (n, d) copy of the frame's features; CAIRN_EINVALID for a
 * categorical column or a non-finite value, CAIRN_ETOOBIG if too large. */
static int row_matrix(const cairn_frame *x, double **out)
{
    size_t n = x->nrows, d = (size_t)x->ncols;
    *out = NULL;
    for (int j = 0; j < x->ncols; j++)
        if (x->cols[j].type == CAIRN_COL_CAT)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column '%s' is categorical; k-means takes numeric columns "
                                   "only",
                                   x->cols[j].name);
    if (d && n > SIZE_MAX / sizeof(double) / d)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "data matrix too large");
    double *a = cairn_try_malloc(sizeof(double) * (n && d ? n * d : 1));
    if (!a) return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "data matrix too large");
    for (size_t j = 0; j < d; j++) {
        const cairn_column *c = &x->cols[j];
        for (size_t i = 0; i < n; i++) {
            double v = c->type == CAIRN_COL_F64 ? c->f64[i] : (double)c->f32[i];
            if (!isfinite(v)) {
                cairn_free(a);
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "column '%s' has a missing or infinite value at row %zu",
                                       c->name, i);
            }
            a[i * d + j] = v;
        }
    }
    *out = a;
    return 0;
}

static double sqdist(const double *a, const double *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* Nearest centroid of every row: labels (n) and squared distances (n).
 * Ties go to the lowest index. */
static void assign(const double *x, size_t n, int d, const double *c, int k, int32_t *labels,
                   double *dist)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const double *xi = x + i * (size_t)d;
        int best = 0;
        double bd = sqdist(xi, c, d);
        for (int q = 1; q < k; q++) {
            double t = sqdist(xi, c + (size_t)q * d, d);
            if (t < bd) {
                bd = t;
                best = q;
            }
        }
        labels[i] = best;
        dist[i] = bd;
    }
}

/* Greedy k-means++ (sklearn's variant): writes k centres into c (k, d).
 * closest (n) and cand (n) are scratch. */
static void kmeanspp(const double *x, size_t n, int d, int k, struct rng *r, double *c,
                     double *closest, double *cand)
{
    int trials = 2 + (int)log((double)k);
    size_t first = (size_t)(rng_uniform(r) * (double)n);
    if (first >= n) first = n - 1;
    memcpy(c, x + first * (size_t)d, sizeof(double) * (size_t)d);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        closest[i] = sqdist(x + i * (size_t)d, c, d);
    double pot = 0;
    for (size_t i = 0; i < n; i++)
        pot += closest[i];
    for (int q = 1; q < k; q++) {
        size_t best_id = 0;
        double best_pot = INFINITY;
        for (int t = 0; t < trials; t++) {
            /* sample a row with probability closest[i] / pot */
            double target = rng_uniform(r) * pot, acc = 0;
            size_t id = n - 1;
            for (size_t i = 0; i < n; i++) {
                acc += closest[i];
                if (acc > target) {
                    id = i;
                    break;
                }
            }
            const double *xc = x + id * (size_t)d;
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; i++)
                cand[i] = fmin(closest[i], sqdist(x + i * (size_t)d, xc, d));
            double p = 0;
            for (size_t i = 0; i < n; i++)
                p += cand[i];
            if (p < best_pot) {
                best_pot = p;
                best_id = id;
            }
        }
        const double *xb = x + best_id * (size_t)d;
        memcpy(c + (size_t)q * d, xb, sizeof(double) * (size_t)d);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            closest[i] = fmin(closest[i], sqdist(x + i * (size_t)d, xb, d));
        pot = best_pot;
    }
}

struct work {
    int32_t *labels, *prev; /* (n) */
    double *dist;           /* (n) */
    double *sums;           /* (k, d) */
    int64_t *counts;        /* (k) */
};

/* Lloyd iterations from the centres c (k, d), updated in place. Returns the
 * inertia of the final assignment and sets *iters. */
static double lloyd(const double *x, size_t n, int d, int k, double *c, int max_iter,
                    double tol_abs, struct work *w, int *iters)
{
    int it;
    for (it = 0; it < max_iter; it++) {
        assign(x, n, d, c, k, w->labels, w->dist);
        if (it > 0 && !memcmp(w->labels, w->prev, sizeof(int32_t) * n)) break; /* strict */
        memcpy(w->prev, w->labels, sizeof(int32_t) * n);
        memset(w->sums, 0, sizeof(double) * (size_t)k * (size_t)d);
        memset(w->counts, 0, sizeof(int64_t) * (size_t)k);
        for (size_t i = 0; i < n; i++) {
            double *s = w->sums + (size_t)w->labels[i] * d;
            const double *xi = x + i * (size_t)d;
            for (int j = 0; j < d; j++)
                s[j] += xi[j];
            w->counts[w->labels[i]]++;
        }
        /* an empty cluster takes the row farthest from its centre (benign:
         * that row leaves its old cluster's sum) */
        for (int q = 0; q < k; q++) {
            if (w->counts[q]) continue;
            size_t far = 0;
            double fd = -1;
            for (size_t i = 0; i < n; i++)
                if (w->dist[i] > fd && w->counts[w->labels[i]] > 1) {
                    fd = w->dist[i];
                    far = i;
                }
            if (fd < 0) break;
            int32_t old = w->labels[far];
            const double *xf = x + far * (size_t)d;
            for (int j = 0; j < d; j++) {
                w->sums[(size_t)old * d + j] -= xf[j];
                w->sums[(size_t)q * d + j] = xf[j];
            }
            w->counts[old]--;
            w->counts[q] = 1;
            w->dist[far] = 0;
            w->labels[far] = q;
        }
        double shift = 0;
        for (int q = 0; q < k; q++) {
            if (!w->counts[q]) continue;
            for (int j = 0; j < d; j++) {
                double nv = w->sums[(size_t)q * d + j] / (double)w->counts[q];
                double t = nv - c[(size_t)q * d + j];
                shift += t * t;
                c[(size_t)q * d + j] = nv;
            }
        }
        if (shift <= tol_abs) {
            it++;
            break;
        }
    }
    *iters = it < max_iter ? it : max_iter;
    assign(x, n, d, c, k, w->labels, w->dist);
    double inertia = 0;
    for (size_t i = 0; i < n; i++)
        inertia += w->dist[i];
    return inertia;
}

int cairn_kmeans_fit(cairn_kmeans **out, const cairn_frame *x, const cairn_kmeans_opts *o)
{
    if (!out || !x || !o || o->version != CAIRN_KMEANS_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "kmeans: bad arguments");
    *out = NULL;
    if (x->nrows < 2 || x->ncols < 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "kmeans: need at least 2 rows and 1 column, got %zu x %d", x->nrows,
                               x->ncols);
    if (o->k < 1 || (size_t)o->k > x->nrows)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "kmeans: k must be in [1, %zu], got %d", x->nrows, o->k);
    if (o->n_init < 1 || o->max_iter < 1 || !(o->tol >= 0))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "kmeans: n_init and max_iter must be >= 1 and tol >= 0");
    size_t n = x->nrows;
    int d = x->ncols, k = o->k;
    if (o->init)
        for (size_t i = 0; i < (size_t)k * (size_t)d; i++)
            if (!isfinite(o->init[i]))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "kmeans: initial centroid value %zu is not finite", i);
    double *a;
    int rc = row_matrix(x, &a);
    if (rc) return rc;

    /* sklearn's tolerance: tol times the mean of the feature variances */
    double var_mean = 0;
    for (int j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            m += a[i * (size_t)d + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++)
            v += (a[i * (size_t)d + j] - m) * (a[i * (size_t)d + j] - m);
        var_mean += v / (double)n;
    }
    double tol_abs = o->tol * var_mean / d;

    size_t kd = (size_t)k * (size_t)d;
    struct work w = {.labels = cairn_malloc(sizeof(int32_t) * n),
                     .prev = cairn_malloc(sizeof(int32_t) * n),
                     .dist = cairn_malloc(sizeof(double) * n),
                     .sums = cairn_malloc(sizeof(double) * kd),
                     .counts = cairn_malloc(sizeof(int64_t) * (size_t)k)};
    double *cand = cairn_malloc(sizeof(double) * n), *closest = cairn_malloc(sizeof(double) * n);
    double *c = cairn_malloc(sizeof(double) * kd);
    cairn_kmeans *m = cairn_calloc(1, sizeof(*m));
    m->k = k;
    m->d = d;
    m->centroids = cairn_malloc(sizeof(double) * kd);
    m->inertia = INFINITY;
    struct rng r = {o->seed};
    int runs = o->init ? 1 : o->n_init;
    for (int run = 0; run < runs; run++) {
        if (o->init)
            memcpy(c, o->init, sizeof(double) * kd);
        else
            kmeanspp(a, n, d, k, &r, c, closest, cand);
        int iters;
        double inertia = lloyd(a, n, d, k, c, o->max_iter, tol_abs, &w, &iters);
        if (inertia < m->inertia) {
            m->inertia = inertia;
            m->n_iter = iters;
            memcpy(m->centroids, c, sizeof(double) * kd);
        }
    }
    m->names = cairn_calloc((size_t)d, sizeof(char *));
    for (int j = 0; j < d; j++)
        m->names[j] = cairn_strdup(x->cols[j].name);
    cairn_free(c);
    cairn_free(cand);
    cairn_free(closest);
    cairn_free(w.labels);
    cairn_free(w.prev);
    cairn_free(w.dist);
    cairn_free(w.sums);
    cairn_free(w.counts);
    cairn_free(a);
    *out = m;
    return 0;
}

int cairn_kmeans_predict(const cairn_kmeans *m, const cairn_frame *x, int32_t *out)
{
    if (!m || !x || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "kmeans: bad arguments");
    if (x->ncols != m->d)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "model has %d features, frame has %d columns", m->d, x->ncols);
    for (int j = 0; j < m->d; j++)
        if (strcmp(x->cols[j].name, m->names[j]))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column %d is '%s', the model expects '%s'", j, x->cols[j].name,
                                   m->names[j]);
    double *a;
    int rc = row_matrix(x, &a);
    if (rc) return rc;
    double *dist = cairn_malloc(sizeof(double) * (x->nrows ? x->nrows : 1));
    assign(a, x->nrows, m->d, m->centroids, m->k, out, dist);
    cairn_free(dist);
    cairn_free(a);
    return 0;
}

int cairn_kmeans_k(const cairn_kmeans *m)
{
    return m->k;
}
int cairn_kmeans_nfeatures(const cairn_kmeans *m)
{
    return m->d;
}
const double *cairn_kmeans_centroids(const cairn_kmeans *m)
{
    return m->centroids;
}
double cairn_kmeans_inertia(const cairn_kmeans *m)
{
    return m->inertia;
}
int cairn_kmeans_n_iter(const cairn_kmeans *m)
{
    return m->n_iter;
}

void cairn_kmeans_free(cairn_kmeans *m)
{
    if (!m) return;
    for (int j = 0; j < m->d; j++)
        cairn_free(m->names[j]);
    cairn_free(m->names);
    cairn_free(m->centroids);
    cairn_free(m);
}

/* ---------------------------------------------------------------------- */
/* Silhouette                                                             */
/* ---------------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Silhouette of the rows rows[0..ns) with dense labels lab (ns) in [0, nl)
 * and cluster sizes cnt (nl); row-major data a (., d). */
static double silhouette_rows(const double *a, int d, const size_t *rows, size_t ns,
                              const int32_t *lab, const size_t *cnt, int nl)
{
    double *s = cairn_malloc(sizeof(double) * ns);
#pragma omp parallel
    {
        double *sum = cairn_malloc(sizeof(double) * (size_t)nl);
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < ns; i++) {
            const double *xi = a + rows[i] * (size_t)d;
            memset(sum, 0, sizeof(double) * (size_t)nl);
            for (size_t j = 0; j < ns; j++)
                sum[lab[j]] += sqrt(sqdist(xi, a + rows[j] * (size_t)d, d));
            int li = lab[i];
            if (cnt[li] < 2) {
                s[i] = 0; /* a row alone in its cluster scores 0 */
                continue;
            }
            double ai = sum[li] / (double)(cnt[li] - 1), bi = INFINITY;
            for (int l = 0; l < nl; l++)
                if (l != li) bi = fmin(bi, sum[l] / (double)cnt[l]);
            double mx = fmax(ai, bi);
            s[i] = mx > 0 ? (bi - ai) / mx : 0.0;
        }
        cairn_free(sum);
    }
    double total = 0;
    for (size_t i = 0; i < ns; i++)
        total += s[i];
    cairn_free(s);
    return total / (double)ns;
}

int cairn_kmeans_silhouette(const cairn_frame *x, const int32_t *labels, size_t sample_size,
                            uint64_t seed, double *out)
{
    if (!x || !labels || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "silhouette: bad arguments");
    if (x->ncols < 1 || x->nrows < 2)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "silhouette: need at least 2 rows and 1 column");
    double *a;
    int rc = row_matrix(x, &a);
    if (rc) return rc;
    size_t n = x->nrows, ns = n;
    size_t *rows = cairn_malloc(sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    if (sample_size > 0 && sample_size < n) { /* partial Fisher-Yates */
        struct rng r = {seed};
        for (size_t i = 0; i < sample_size; i++) {
            size_t j = i + (size_t)(rng_uniform(&r) * (double)(n - i));
            if (j >= n) j = n - 1;
            size_t t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
        }
        ns = sample_size;
    }
    int32_t *uniq = cairn_malloc(sizeof(int32_t) * ns), *lab = cairn_malloc(sizeof(int32_t) * ns);
    for (size_t i = 0; i < ns; i++)
        uniq[i] = labels[rows[i]];
    qsort(uniq, ns, sizeof(int32_t), cmp_i32);
    size_t nl = 0;
    for (size_t i = 0; i < ns; i++)
        if (i == 0 || uniq[i] != uniq[nl - 1]) uniq[nl++] = uniq[i];
    size_t *cnt = cairn_calloc(nl, sizeof(size_t));
    if (nl < 2 || nl > ns - 1) {
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                             "silhouette: need 2 to n-1 distinct labels, got %zu for %zu rows", nl,
                             ns);
        goto cleanup;
    }
    for (size_t i = 0; i < ns; i++) {
        const int32_t *hit = bsearch(&labels[rows[i]], uniq, nl, sizeof(int32_t), cmp_i32);
        lab[i] = (int32_t)(hit - uniq);
        cnt[lab[i]]++;
    }
    *out = silhouette_rows(a, x->ncols, rows, ns, lab, cnt, (int)nl);
cleanup:
    cairn_free(cnt);
    cairn_free(uniq);
    cairn_free(lab);
    cairn_free(rows);
    cairn_free(a);
    return rc;
}
