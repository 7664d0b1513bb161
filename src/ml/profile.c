/*
 * profile.c - the reference profile of a training set (cairn/profile.h):
 * built from a frame, written to and read back from profile.json.
 *
 * Key ideas:
 * - Each feature is summarised independently and sequentially, so features
 *   run in parallel (OpenMP) and the result never depends on the thread
 *   count: no reduction crosses features.
 * - Quantile edges follow numpy.quantile's "linear" method to the bit
 *   (virtual index (n-1)*q, numpy's _lerp with its t >= 0.5 branch) at
 *   q = i / n_bins, then are deduplicated so that bins never have zero width
 *   (one rule, edges_finish(), shared with the histogram).
 * - The mean and std are two-pass with compensated (Neumaier) sums on values
 *   scaled by a power of two, which is exact, so they cannot overflow: a
 *   profile never holds NaN or infinity and %.17g round-trips every double.
 * - The reader re-checks everything the builder guarantees, so monitoring
 *   can trust a loaded profile as much as a freshly built one.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cairn/metrics.h"
#include "cairn/profile.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)
#define MAX_BINS 10000
#define MAX_CATS 1000000
#define MAX_SAMPLE 1000000
#define MAX_OUTPUTS 100000

struct num_summary {
    uint64_t count, missing;
    double missing_rate, mean, std, min, max; /* NaN when count == 0 */
    int n_edges;
    double *edges;        /* (n_edges) */
    uint64_t *bin_counts; /* (n_edges - 1) */
    int n_hist;
    double *hist_edges;    /* (n_hist) */
    uint64_t *hist_counts; /* (n_hist - 1) */
    int n_sample;
    double *sample; /* (n_sample), ascending */
};

struct cat_summary {
    uint64_t count, missing, n_distinct, other_count, other_distinct;
    double missing_rate;
    int n_cats;
    char **names;     /* (n_cats), owned */
    uint64_t *counts; /* (n_cats) */
};

struct cairn_profile_feature {
    char *name; /* owned */
    cairn_profile_type type;
    struct num_summary num; /* type == CAIRN_PROFILE_NUMERIC */
    struct cat_summary cat; /* type == CAIRN_PROFILE_CATEGORICAL */
};

struct cairn_profile {
    uint64_t n_rows;
    cairn_profile_opts opts;
    int n_features;
    struct cairn_profile_feature *features; /* (n_features) */
    int n_predictions;
    struct cairn_profile_feature *predictions; /* (n_predictions) */
    int *by_name;                              /* (n_features) indices sorted by name */
};

/* ====================================================================== */
/* Lifetime and options                                                    */
/* ====================================================================== */

static void feature_clear(struct cairn_profile_feature *f)
{
    cairn_free(f->name);
    cairn_free(f->num.edges);
    cairn_free(f->num.bin_counts);
    cairn_free(f->num.hist_edges);
    cairn_free(f->num.hist_counts);
    cairn_free(f->num.sample);
    for (int i = 0; i < f->cat.n_cats; i++)
        cairn_free(f->cat.names[i]);
    cairn_free(f->cat.names);
    cairn_free(f->cat.counts);
}

void cairn_profile_free(cairn_profile *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_features; i++)
        feature_clear(&p->features[i]);
    for (int i = 0; i < p->n_predictions; i++)
        feature_clear(&p->predictions[i]);
    cairn_free(p->features);
    cairn_free(p->predictions);
    cairn_free(p->by_name);
    cairn_free(p);
}

/* Checks option ranges; `where` prefixes the message ("options", "profile options"). */
static int check_opts(const cairn_profile_opts *o, const char *where)
{
    if (o->n_bins < 1 || o->n_bins > MAX_BINS)
        return ERR(CAIRN_EINVALID, "%s.n_bins: %d is outside 1..%d", where, o->n_bins, MAX_BINS);
    if (o->n_hist_bins < 1 || o->n_hist_bins > MAX_BINS)
        return ERR(CAIRN_EINVALID, "%s.n_hist_bins: %d is outside 1..%d", where, o->n_hist_bins,
                   MAX_BINS);
    if (o->max_categories < 1 || o->max_categories > MAX_CATS)
        return ERR(CAIRN_EINVALID, "%s.max_categories: %d is outside 1..%d", where,
                   o->max_categories, MAX_CATS);
    if (o->sample_size < 1 || o->sample_size > MAX_SAMPLE)
        return ERR(CAIRN_EINVALID, "%s.sample_size: %d is outside 1..%d", where, o->sample_size,
                   MAX_SAMPLE);
    if (o->quantile_rows != 0 && o->quantile_rows < (size_t)o->sample_size)
        return ERR(CAIRN_EINVALID, "%s.quantile_rows: %zu is below sample_size %d (0 means all)",
                   where, o->quantile_rows, o->sample_size);
    return 0;
}

static int cmp_name_idx(const void *a, const void *b, void *payload)
{
    const struct cairn_profile_feature *f = payload;
    return strcmp(f[*(const int *)a].name, f[*(const int *)b].name);
}

/* Sorts feature indices by name into p->by_name; CAIRN_EINVALID on a
 * duplicate name. */
static int index_names(cairn_profile *p)
{
    p->by_name = cairn_malloc(sizeof(int) * (size_t)(p->n_features ? p->n_features : 1));
    for (int i = 0; i < p->n_features; i++)
        p->by_name[i] = i;
    qsort_r(p->by_name, (size_t)p->n_features, sizeof(int), cmp_name_idx, p->features);
    for (int i = 1; i < p->n_features; i++)
        if (!strcmp(p->features[p->by_name[i]].name, p->features[p->by_name[i - 1]].name))
            return ERR(CAIRN_EINVALID, "features[%d].name: duplicate feature name '%s'",
                       p->by_name[i] > p->by_name[i - 1] ? p->by_name[i] : p->by_name[i - 1],
                       p->features[p->by_name[i]].name);
    return 0;
}

/* ====================================================================== */
/* Numeric summaries                                                       */
/* ====================================================================== */

/* A numeric column: f32, f64, or one strided column of the predictions. */
struct numsrc {
    const float *f32;
    const double *f64;
    size_t stride; /* for f64 */
    size_t n;
};

static inline double src_get(const struct numsrc *s, size_t i)
{
    return s->f32 ? (double)s->f32[i] : s->f64[i * s->stride];
}

/* Neumaier's compensated sum: an accumulator and its running error. */
struct ksum {
    double s, c;
};

static inline void ksum_add(struct ksum *k, double x)
{
    double t = k->s + x;
    k->c += fabs(k->s) >= fabs(x) ? (k->s - t) + x : (x - t) + k->s;
    k->s = t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.quantile(x, q, method="linear") of sorted x (n >= 1), numpy 1.24's
 * arithmetic: h = (n-1)*q; past the end -> x[n-1]; else _lerp(a, b, t). */
static double np_quantile(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    if (h >= (double)(n - 1)) return x[n - 1];
    if (h < 0) return x[0];
    size_t lo = (size_t)floor(h);
    double t = h - (double)lo, a = x[lo], b = x[lo + 1], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/*
 * The deduplication rule shared by quantile and histogram edges: given
 * candidate interior edges cand[0..m), the result is min, then each
 * candidate strictly between the last kept edge and max, then max. A
 * non-finite candidate is never kept. When min == max the result is
 * [min, min], the one zero-width bin. Writes into edges (room for m + 2)
 * and returns the number of edges.
 */
static int edges_finish(double min, double max, const double *cand, int m, double *edges)
{
    int n = 0;
    edges[n++] = min;
    for (int i = 0; i < m; i++)
        if (cand[i] > edges[n - 1] && cand[i] < max) edges[n++] = cand[i];
    edges[n++] = max;
    return n;
}

/* Index of the bin holding v (edges[0] <= v <= edges[n-1], n >= 2):
 * the largest i with edges[i] <= v, the last bin closed. */
static int bin_of(const double *edges, int n, double v)
{
    int lo = 0, hi = n - 1; /* invariant: edges[lo] <= v, answer < hi or v == max */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (edges[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Fixed-width histogram edges as np.histogram_bin_edges(x, bins=B) builds
 * them (np.linspace: i * step + min, the last one max exactly). */
static int hist_edges(double min, double max, int B, double *edges)
{
    double *cand = cairn_malloc(sizeof(double) * (size_t)B);
    double delta = max - min, step = delta / B;
    for (int i = 1; i < B; i++) {
        if (!isfinite(delta)) { /* only for ranges beyond DBL_MAX; benign: never overflows */
            double t = (double)i / B;
            cand[i - 1] = min * (1 - t) + max * t;
        } else if (step == 0) {
            cand[i - 1] = (double)i / B * delta + min; /* numpy's subnormal branch */
        } else {
            cand[i - 1] = (double)i * step + min;
        }
    }
    int n = edges_finish(min, max, cand, B - 1, edges);
    cairn_free(cand);
    return n;
}

/* Outcome of summarising one column in a worker thread (errors are set by
 * the calling thread: the error slot is thread-local). */
enum task_fail { TASK_OK = 0, TASK_NOMEM, TASK_INFINITE, TASK_BAD_CODE, TASK_BAD_UTF8 };
struct task {
    enum task_fail fail;
    size_t at; /* the offending row (infinite value, bad code) or code (bad UTF-8) */
};

/* The values quantiles are taken from: all present values, or (when more
 * than quantile_rows) a selection sample of quantile_rows of them in row
 * order (Knuth's algorithm S) drawn with xoshiro256** seeded by `seed`.
 * Returns a sorted array of *m values (cairn_free it) or NULL on ENOMEM. */
static double *quantile_source(const struct numsrc *s, uint64_t count, size_t quantile_rows,
                               uint64_t seed, size_t *m)
{
    size_t k = (quantile_rows && count > quantile_rows) ? quantile_rows : (size_t)count;
    double *v = cairn_try_malloc(sizeof(double) * k);
    if (!v) return NULL;
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, seed);
    uint64_t left = count;
    size_t need = k, j = 0;
    for (size_t i = 0; i < s->n && need; i++) {
        double x = src_get(s, i);
        if (isnan(x)) continue;
        if (k == count || cairn_ml_rng_below(&rng, left) < need) {
            v[j++] = x;
            need--;
        }
        left--;
    }
    qsort(v, k, sizeof(double), cmp_double);
    *m = k;
    return v;
}

/* Summarises one numeric column into *out (zeroed by the caller). */
static struct task summarise_numeric(const struct numsrc *s, const cairn_profile_opts *o,
                                     uint64_t seed, struct num_summary *out)
{
    struct task t = {TASK_OK, 0};
    double min = INFINITY, max = -INFINITY;
    uint64_t count = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = src_get(s, i);
        if (isnan(x)) continue;
        if (isinf(x)) return (struct task){TASK_INFINITE, i};
        count++;
        if (x < min) min = x;
        if (x > max) max = x;
    }
    out->count = count;
    out->missing = s->n - count;
    out->missing_rate = (double)out->missing / (double)s->n;
    out->mean = out->std = out->min = out->max = NAN;
    if (count == 0) return t;
    out->min = min;
    out->max = max;

    /* mean and std on x * 2^-e with 2^e >= max |x|: exact (benign: values
     * below 2^-1074 of the largest vanish), and every intermediate stays
     * below 4, so nothing overflows; e >= -1022 keeps 2^-e finite */
    int e = 0;
    double amax = fmax(fabs(min), fabs(max));
    if (amax > 0) (void)frexp(amax, &e); /* amax = f * 2^e, f in [0.5, 1) */
    if (e < -1022) e = -1022;
    double inv = ldexp(1.0, -e);
    struct ksum sum = {0, 0}, sq = {0, 0};
    for (size_t i = 0; i < s->n; i++) {
        double x = src_get(s, i);
        if (!isnan(x)) ksum_add(&sum, x * inv);
    }
    double mean_s = (sum.s + sum.c) / (double)count;
    for (size_t i = 0; i < s->n; i++) {
        double x = src_get(s, i);
        if (!isnan(x)) ksum_add(&sq, (x * inv - mean_s) * (x * inv - mean_s));
    }
    out->mean = fmin(fmax(ldexp(mean_s, e), min), max); /* rounding never leaves [min, max] */
    out->std = ldexp(sqrt((sq.s + sq.c) / (double)count), e);

    size_t m;
    double *v = quantile_source(s, count, o->quantile_rows, seed, &m);
    if (!v) return (struct task){TASK_NOMEM, 0};
    double *cand = cairn_malloc(sizeof(double) * (size_t)o->n_bins);
    for (int i = 1; i < o->n_bins; i++)
        cand[i - 1] = np_quantile(v, m, (double)i / o->n_bins);
    out->edges = cairn_malloc(sizeof(double) * (size_t)(o->n_bins + 1));
    out->n_edges = edges_finish(min, max, cand, o->n_bins - 1, out->edges);
    cairn_free(cand);
    out->hist_edges = cairn_malloc(sizeof(double) * (size_t)(o->n_hist_bins + 1));
    out->n_hist = hist_edges(min, max, o->n_hist_bins, out->hist_edges);

    /* sample: the order statistics at positions floor((i + 1/2) m / k) */
    size_t k = m < (size_t)o->sample_size ? m : (size_t)o->sample_size;
    out->n_sample = (int)k;
    out->sample = cairn_malloc(sizeof(double) * k);
    for (size_t i = 0; i < k; i++)
        out->sample[i] = v[(size_t)(((uint64_t)(2 * i + 1) * m) / (2 * (uint64_t)k))];
    cairn_free(v);

    out->bin_counts = cairn_calloc((size_t)out->n_edges - 1, sizeof(uint64_t));
    out->hist_counts = cairn_calloc((size_t)out->n_hist - 1, sizeof(uint64_t));
    for (size_t i = 0; i < s->n; i++) {
        double x = src_get(s, i);
        if (isnan(x)) continue;
        out->bin_counts[bin_of(out->edges, out->n_edges, x)]++;
        out->hist_counts[bin_of(out->hist_edges, out->n_hist, x)]++;
    }
    return t;
}

/* ====================================================================== */
/* Categorical summaries                                                   */
/* ====================================================================== */

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF): profile.json is UTF-8, and jansson refuses the rest. */
static bool utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        unsigned c = *u++, n, cp;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        for (unsigned i = 0; i < n; i++, u++) {
            if ((*u & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (*u & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
    }
    return true;
}

struct catcount {
    const char *name; /* borrowed from the frame's dictionary */
    uint64_t n;
};

static int cmp_cat_name(const void *a, const void *b)
{
    return strcmp(((const struct catcount *)a)->name, ((const struct catcount *)b)->name);
}

/* Descending count, ties by name. */
static int cmp_cat_freq(const void *a, const void *b)
{
    const struct catcount *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Summarises one categorical column. Dictionary entries with equal names
 * are merged; unused entries are not categories. */
static struct task summarise_categorical(const cairn_column *c, size_t nrows, int max_categories,
                                         struct cat_summary *out)
{
    size_t nd = c->ndict > 0 ? (size_t)c->ndict : 0;
    uint64_t *per_code = cairn_try_malloc(sizeof(uint64_t) * (nd ? nd : 1));
    struct catcount *cc = cairn_try_malloc(sizeof(struct catcount) * (nd ? nd : 1));
    if (!per_code || !cc) {
        cairn_free(per_code);
        cairn_free(cc);
        return (struct task){TASK_NOMEM, 0};
    }
    memset(per_code, 0, sizeof(uint64_t) * nd);
    uint64_t count = 0;
    for (size_t i = 0; i < nrows; i++) {
        int32_t code = c->codes[i];
        if (code == -1) continue;
        if (code < -1 || (size_t)code >= nd) {
            cairn_free(per_code);
            cairn_free(cc);
            return (struct task){TASK_BAD_CODE, i};
        }
        per_code[code]++;
        count++;
    }
    size_t n = 0;
    for (size_t i = 0; i < nd; i++) {
        if (!per_code[i]) continue;
        if (!utf8_valid(c->dict[i])) {
            cairn_free(per_code);
            cairn_free(cc);
            return (struct task){TASK_BAD_UTF8, i};
        }
        cc[n++] = (struct catcount){c->dict[i], per_code[i]};
    }
    cairn_free(per_code);
    qsort(cc, n, sizeof(*cc), cmp_cat_name);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && !strcmp(cc[u - 1].name, cc[i].name))
            cc[u - 1].n += cc[i].n;
        else
            cc[u++] = cc[i];
    }
    qsort(cc, u, sizeof(*cc), cmp_cat_freq);
    size_t keep = u < (size_t)max_categories ? u : (size_t)max_categories;
    out->count = count;
    out->missing = nrows - count;
    out->missing_rate = (double)out->missing / (double)nrows;
    out->n_distinct = u;
    out->n_cats = (int)keep;
    out->names = cairn_malloc(sizeof(char *) * (keep ? keep : 1));
    out->counts = cairn_malloc(sizeof(uint64_t) * (keep ? keep : 1));
    for (size_t i = 0; i < u; i++) {
        if (i < keep) {
            out->names[i] = cairn_strdup(cc[i].name);
            out->counts[i] = cc[i].n;
        } else {
            out->other_count += cc[i].n;
            out->other_distinct++;
        }
    }
    cairn_free(cc);
    return (struct task){TASK_OK, 0};
}

/* ====================================================================== */
/* Build                                                                   */
/* ====================================================================== */

static int check_build_args(const cairn_frame *X, const double *predictions, int n_outputs)
{
    if (!X) return ERR(CAIRN_EINVALID, "profile of a NULL frame");
    if (X->nrows == 0) return ERR(CAIRN_EINVALID, "profile of a frame with no rows");
    for (int j = 0; j < X->ncols; j++) {
        const cairn_column *c = &X->cols[j];
        if (!c->name || !c->name[0]) return ERR(CAIRN_EINVALID, "column %d has no name", j);
        if (!utf8_valid(c->name))
            return ERR(CAIRN_EINVALID, "column %d: name is not valid utf-8", j);
        if (c->type != CAIRN_COL_F32 && c->type != CAIRN_COL_F64 && c->type != CAIRN_COL_CAT)
            return ERR(CAIRN_EINVALID, "column '%s' has an unknown type %d", c->name, c->type);
    }
    if (predictions && (n_outputs < 1 || n_outputs > MAX_OUTPUTS))
        return ERR(CAIRN_EINVALID, "n_outputs %d is outside 1..%d", n_outputs, MAX_OUTPUTS);
    return 0;
}

/* Summarises column j of X, or prediction column j - X->ncols. */
static struct task build_one(const cairn_frame *X, const double *pred, int n_outputs, int j,
                             const cairn_profile_opts *o, struct cairn_profile_feature *f)
{
    uint64_t seed = o->seed + (uint64_t)j;
    if (j < X->ncols) {
        const cairn_column *c = &X->cols[j];
        if (c->type == CAIRN_COL_CAT) {
            f->type = CAIRN_PROFILE_CATEGORICAL;
            return summarise_categorical(c, X->nrows, o->max_categories, &f->cat);
        }
        struct numsrc s = {c->f32, c->f64, 1, X->nrows};
        f->type = CAIRN_PROFILE_NUMERIC;
        return summarise_numeric(&s, o, seed, &f->num);
    }
    struct numsrc s = {NULL, pred + (j - X->ncols), (size_t)n_outputs, X->nrows};
    f->type = CAIRN_PROFILE_NUMERIC;
    return summarise_numeric(&s, o, seed, &f->num);
}

int cairn_profile_build(cairn_profile **out, const cairn_frame *X, const double *predictions,
                        int n_outputs, const cairn_profile_opts *opts)
{
    cairn_profile_opts defaults = CAIRN_PROFILE_OPTS_INIT;
    const cairn_profile_opts *o = opts ? opts : &defaults;
    *out = NULL;
    int rc = check_opts(o, "options");
    if (rc) return rc;
    if ((rc = check_build_args(X, predictions, n_outputs))) return rc;

    cairn_profile *p = cairn_calloc(1, sizeof(*p));
    p->n_rows = X->nrows;
    p->opts = *o;
    p->opts.version = CAIRN_PROFILE_OPTS_VERSION;
    p->n_features = X->ncols;
    p->n_predictions = predictions ? n_outputs : 0;
    p->features = cairn_calloc((size_t)(X->ncols ? X->ncols : 1), sizeof(*p->features));
    p->predictions =
        cairn_calloc((size_t)(p->n_predictions ? p->n_predictions : 1), sizeof(*p->predictions));
    for (int j = 0; j < X->ncols; j++)
        p->features[j].name = cairn_strdup(X->cols[j].name);
    for (int k = 0; k < p->n_predictions; k++) {
        char name[32];
        if (p->n_predictions == 1)
            snprintf(name, sizeof(name), "prediction");
        else
            snprintf(name, sizeof(name), "prediction_%d", k);
        p->predictions[k].name = cairn_strdup(name);
    }
    if ((rc = index_names(p))) goto cleanup;

    int total = X->ncols + p->n_predictions;
    struct task *tasks = cairn_calloc((size_t)(total ? total : 1), sizeof(*tasks));
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < total; j++) {
        struct cairn_profile_feature *f =
            j < X->ncols ? &p->features[j] : &p->predictions[j - X->ncols];
        tasks[j] = build_one(X, predictions, n_outputs, j, o, f);
    }
    for (int j = 0; j < total && !rc; j++) {
        const char *name = j < X->ncols ? X->cols[j].name : p->predictions[j - X->ncols].name;
        size_t at = tasks[j].at;
        switch (tasks[j].fail) {
        case TASK_OK:
            break;
        case TASK_NOMEM:
            rc = ERR(CAIRN_ENOMEM, "out of memory profiling column '%s'", name);
            break;
        case TASK_INFINITE:
            rc = ERR(CAIRN_EINVALID, "column '%s': infinite value at row %zu", name, at);
            break;
        case TASK_BAD_CODE:
            rc = ERR(CAIRN_EINVALID, "column '%s': code at row %zu is outside its dictionary", name,
                     at);
            break;
        case TASK_BAD_UTF8:
            rc = ERR(CAIRN_EINVALID, "column '%s': category %zu is not valid utf-8", name, at);
            break;
        }
    }
    cairn_free(tasks);

cleanup:
    if (rc)
        cairn_profile_free(p);
    else
        *out = p;
    return rc;
}

/* ====================================================================== */
/* JSON writer                                                             */
/* ====================================================================== */

/* %.17g, with ".0" added when that reads as an integer, so that -0.0 stays
 * negative and every number is read back as the same double. */
static int put_double(cairn_buf *b, double d)
{
    char s[40];
    snprintf(s, sizeof(s), "%.17g", d);
    int rc = cairn_buf_puts(b, s);
    if (!rc && !strpbrk(s, ".e")) rc = cairn_buf_puts(b, ".0");
    return rc;
}

static int put_doubles(cairn_buf *b, const double *v, int n)
{
    int rc = cairn_buf_putc(b, '[');
    for (int i = 0; i < n && !rc; i++) {
        if (i) rc = cairn_buf_puts(b, ", ");
        if (!rc) rc = put_double(b, v[i]);
    }
    return rc ? rc : cairn_buf_putc(b, ']');
}

static int put_counts(cairn_buf *b, const uint64_t *v, int n)
{
    int rc = cairn_buf_putc(b, '[');
    for (int i = 0; i < n && !rc; i++)
        rc = cairn_buf_printf(b, i ? ", %" PRIu64 : "%" PRIu64, v[i]);
    return rc ? rc : cairn_buf_putc(b, ']');
}

/* "key": number, or null for NaN (only a summary with count 0 has NaN). */
static int put_stat(cairn_buf *b, const char *key, double d)
{
    int rc = cairn_buf_printf(b, ", \"%s\": ", key);
    if (rc) return rc;
    return isnan(d) ? cairn_buf_puts(b, "null") : put_double(b, d);
}

static int put_numeric(cairn_buf *b, const struct num_summary *s)
{
    int rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 ", \"missing\": %" PRIu64, s->count,
                              s->missing);
    if (!rc) rc = put_stat(b, "missing_rate", s->missing_rate);
    if (!rc) rc = put_stat(b, "mean", s->mean);
    if (!rc) rc = put_stat(b, "std", s->std);
    if (!rc) rc = put_stat(b, "min", s->min);
    if (!rc) rc = put_stat(b, "max", s->max);
    if (!rc) rc = cairn_buf_puts(b, ",\n     \"quantiles\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, s->edges, s->n_edges);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, s->bin_counts, s->n_edges ? s->n_edges - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "},\n     \"histogram\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, s->hist_edges, s->n_hist);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, s->hist_counts, s->n_hist ? s->n_hist - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "},\n     \"sample\": ");
    if (!rc) rc = put_doubles(b, s->sample, s->n_sample);
    return rc;
}

static int put_categorical(cairn_buf *b, const struct cat_summary *s)
{
    int rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 ", \"missing\": %" PRIu64, s->count,
                              s->missing);
    if (!rc) rc = put_stat(b, "missing_rate", s->missing_rate);
    if (!rc)
        rc = cairn_buf_printf(b, ", \"n_distinct\": %" PRIu64 ",\n     \"categories\": [",
                              s->n_distinct);
    for (int i = 0; i < s->n_cats && !rc; i++) {
        rc = cairn_buf_puts(b, i ? ", {\"value\": " : "{\"value\": ");
        if (!rc) rc = cairn_buf_put_json_str(b, s->names[i], strlen(s->names[i]));
        if (!rc) rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 "}", s->counts[i]);
    }
    if (!rc)
        rc = cairn_buf_printf(
            b, "],\n     \"other\": {\"count\": %" PRIu64 ", \"n_distinct\": %" PRIu64 "}",
            s->other_count, s->other_distinct);
    return rc;
}

static int put_features(cairn_buf *b, const struct cairn_profile_feature *fs, int n)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const struct cairn_profile_feature *f = &fs[i];
        rc = cairn_buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        if (!rc) rc = cairn_buf_put_json_str(b, f->name, strlen(f->name));
        if (!rc)
            rc =
                cairn_buf_puts(b, f->type == CAIRN_PROFILE_NUMERIC ? ", \"type\": \"numeric\""
                                                                   : ", \"type\": \"categorical\"");
        if (!rc)
            rc = f->type == CAIRN_PROFILE_NUMERIC ? put_numeric(b, &f->num)
                                                  : put_categorical(b, &f->cat);
        if (!rc) rc = cairn_buf_putc(b, '}');
    }
    if (!rc && n) rc = cairn_buf_puts(b, "\n  ");
    return rc;
}

int cairn_profile_to_json(const cairn_profile *p, cairn_buf *out)
{
    const cairn_profile_opts *o = &p->opts;
    int rc = cairn_buf_printf(out,
                              "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"n_rows\": %" PRIu64
                              ",\n  \"options\": {\"n_bins\": %d, \"n_hist_bins\": %d, "
                              "\"max_categories\": %d, \"sample_size\": %d, "
                              "\"quantile_rows\": %zu, \"seed\": \"%" PRIu64 "\"},\n"
                              "  \"features\": [",
                              CAIRN_PROFILE_FORMAT, CAIRN_PROFILE_FORMAT_VERSION, p->n_rows,
                              o->n_bins, o->n_hist_bins, o->max_categories, o->sample_size,
                              o->quantile_rows, o->seed);
    if (!rc) rc = put_features(out, p->features, p->n_features);
    if (!rc) rc = cairn_buf_puts(out, "],\n  \"predictions\": [");
    if (!rc) rc = put_features(out, p->predictions, p->n_predictions);
    if (!rc) rc = cairn_buf_puts(out, "]\n}\n");
    return rc;
}

/* ====================================================================== */
/* JSON reader                                                             */
/* ====================================================================== */

/* Every message names the field: "<path>.<key>: <problem>". */
#define BAD(path, key, ...) bad_field(path, key, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int bad_field(const char *path, const char *key,
                                                           const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ERR(CAIRN_EINVALID, "profile %s%s%s: %s", path, *path && *key ? "." : "", key, what);
}

static int get_u64(const json_t *o, const char *path, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return BAD(path, key, "not a non-negative integer");
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_int(const json_t *o, const char *path, const char *key, int *out)
{
    uint64_t u;
    int rc = get_u64(o, path, key, &u);
    if (rc) return rc;
    if (u > INT32_MAX) return BAD(path, key, "too large");
    *out = (int)u;
    return 0;
}

/* A number (integer or real), or NaN for null when `nullable`. */
static int get_num(const json_t *o, const char *path, const char *key, bool nullable, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return BAD(path, key, nullable ? "not a number or null" : "not a number");
    *out = json_number_value(v);
    return 0;
}

static int get_array(const json_t *o, const char *path, const char *key, size_t max,
                     const json_t **out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (!json_is_array(v)) return BAD(path, key, "not an array");
    if (json_array_size(v) > max) return BAD(path, key, "more than %zu entries", max);
    *out = v;
    return 0;
}

/* Reads `key` (an array of at most max numbers) into *out (cairn_free it). */
static int get_doubles(const json_t *o, const char *path, const char *key, size_t max, double **out,
                       int *n)
{
    const json_t *a;
    int rc = get_array(o, path, key, max, &a);
    if (rc) return rc;
    size_t len = json_array_size(a);
    double *v = cairn_malloc(sizeof(double) * (len ? len : 1));
    for (size_t i = 0; i < len; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x)) {
            cairn_free(v);
            return BAD(path, key, "entry %zu is not a number", i);
        }
        v[i] = json_number_value(x);
    }
    *out = v;
    *n = (int)len;
    return 0;
}

/* Reads `key` (an array of exactly n counts) into *out, checking they add
 * up to total. */
static int get_counts(const json_t *o, const char *path, const char *key, int n, uint64_t total,
                      uint64_t **out)
{
    const json_t *a;
    int rc = get_array(o, path, key, (size_t)n, &a);
    if (rc) return rc;
    if (json_array_size(a) != (size_t)n)
        return BAD(path, key, "%zu counts for %d bins", json_array_size(a), n);
    uint64_t *v = cairn_malloc(sizeof(uint64_t) * (size_t)(n ? n : 1)), sum = 0;
    for (int i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_integer(x) || json_integer_value(x) < 0) {
            cairn_free(v);
            return BAD(path, key, "entry %d is not a non-negative integer", i);
        }
        v[i] = (uint64_t)json_integer_value(x);
        sum += v[i];
        if (v[i] > total || sum > total) break;
    }
    if (sum != total) {
        cairn_free(v);
        return BAD(path, key, "counts do not add up to the count %" PRIu64, total);
    }
    *out = v;
    return 0;
}

/* Edges: 2..max_bins+1 of them, edges[0] == min, last == max, strictly
 * increasing unless they are [c, c]. */
static int check_edges(const char *path, const char *key, const double *e, int n, int max_bins,
                       double min, double max)
{
    if (n < 2 || n > max_bins + 1) return BAD(path, key, "%d edges, not 2..%d", n, max_bins + 1);
    if (e[0] != min || e[n - 1] != max) return BAD(path, key, "edges do not span [min, max]");
    if (min == max && n != 2) return BAD(path, key, "a constant feature has edges [c, c]");
    for (int i = 1; i < n && min != max; i++)
        if (!(e[i] > e[i - 1])) return BAD(path, key, "edges not strictly increasing at %d", i);
    return 0;
}

/* {"edges": [...], "counts": [...]} under `key` into edges/counts. */
static int get_bins(const json_t *o, const char *path, const char *key, int max_bins,
                    const struct num_summary *s, double **edges, int *n, uint64_t **counts)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "%s.%s", path, key);
    const json_t *b = json_object_get(o, key);
    if (!json_is_object(b)) return BAD(path, key, b ? "not an object" : "missing");
    int rc = get_doubles(b, sub, "edges", (size_t)max_bins + 1, edges, n);
    if (rc) return rc;
    if (s->count == 0) {
        if (*n) return BAD(sub, "edges", "not empty for a feature with no values");
    } else if ((rc = check_edges(sub, "edges", *edges, *n, max_bins, s->min, s->max))) {
        return rc;
    }
    return get_counts(b, sub, "counts", *n ? *n - 1 : 0, s->count, counts);
}

static int get_missing(const json_t *o, const char *path, uint64_t n_rows, uint64_t *count,
                       uint64_t *missing, double *rate)
{
    int rc = get_u64(o, path, "count", count);
    if (!rc) rc = get_u64(o, path, "missing", missing);
    if (!rc) rc = get_num(o, path, "missing_rate", false, rate);
    if (rc) return rc;
    if (*count > n_rows || *missing != n_rows - *count)
        return BAD(path, "missing", "count + missing is not n_rows %" PRIu64, n_rows);
    if (*rate != (double)*missing / (double)n_rows)
        return BAD(path, "missing_rate", "not missing / n_rows");
    return 0;
}

static int parse_numeric(const json_t *o, const char *path, const cairn_profile *p,
                         struct num_summary *s)
{
    int rc = get_missing(o, path, p->n_rows, &s->count, &s->missing, &s->missing_rate);
    bool none = s->count == 0;
    const char *stat[4] = {"mean", "std", "min", "max"};
    double *dst[4] = {&s->mean, &s->std, &s->min, &s->max};
    for (int i = 0; i < 4 && !rc; i++) {
        rc = get_num(o, path, stat[i], none, dst[i]);
        if (!rc && none && !isnan(*dst[i])) rc = BAD(path, stat[i], "not null when count is 0");
    }
    if (rc) return rc;
    if (!none && !(s->min <= s->max)) return BAD(path, "min", "greater than max");
    if (!none && !(s->mean >= s->min && s->mean <= s->max))
        return BAD(path, "mean", "outside [min, max]");
    if (!none && !(s->std >= 0)) return BAD(path, "std", "negative");
    rc = get_bins(o, path, "quantiles", p->opts.n_bins, s, &s->edges, &s->n_edges, &s->bin_counts);
    if (!rc)
        rc = get_bins(o, path, "histogram", p->opts.n_hist_bins, s, &s->hist_edges, &s->n_hist,
                      &s->hist_counts);
    if (!rc)
        rc = get_doubles(o, path, "sample", (size_t)p->opts.sample_size, &s->sample, &s->n_sample);
    if (rc) return rc;
    uint64_t want =
        s->count < (uint64_t)p->opts.sample_size ? s->count : (uint64_t)p->opts.sample_size;
    if ((uint64_t)s->n_sample != want)
        return BAD(path, "sample", "%d values, not min(count, sample_size) = %" PRIu64, s->n_sample,
                   want);
    for (int i = 0; i < s->n_sample; i++)
        if (!(s->sample[i] >= s->min && s->sample[i] <= s->max) ||
            (i && !(s->sample[i] >= s->sample[i - 1])))
            return BAD(path, "sample", "not ascending within [min, max] at %d", i);
    return 0;
}

static int parse_categorical(const json_t *o, const char *path, const cairn_profile *p,
                             struct cat_summary *s)
{
    const json_t *cats, *other;
    int rc = get_missing(o, path, p->n_rows, &s->count, &s->missing, &s->missing_rate);
    if (!rc) rc = get_u64(o, path, "n_distinct", &s->n_distinct);
    if (!rc) rc = get_array(o, path, "categories", (size_t)p->opts.max_categories, &cats);
    if (rc) return rc;
    other = json_object_get(o, "other");
    if (!json_is_object(other)) return BAD(path, "other", other ? "not an object" : "missing");
    char sub[128];
    snprintf(sub, sizeof(sub), "%s.other", path);
    if ((rc = get_u64(other, sub, "count", &s->other_count)) ||
        (rc = get_u64(other, sub, "n_distinct", &s->other_distinct)))
        return rc;
    size_t n = json_array_size(cats);
    s->names = cairn_calloc(n ? n : 1, sizeof(char *));
    s->counts = cairn_malloc(sizeof(uint64_t) * (n ? n : 1));
    uint64_t sum = s->other_count;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(cats, i);
        snprintf(sub, sizeof(sub), "%s.categories[%zu]", path, i);
        if (!json_is_object(c)) return BAD(sub, "", "not an object");
        const json_t *v = json_object_get(c, "value");
        if (!json_is_string(v)) return BAD(sub, "value", v ? "not a string" : "missing");
        if ((rc = get_u64(c, sub, "count", &s->counts[i]))) return rc;
        s->names[i] = cairn_strndup(json_string_value(v), json_string_length(v));
        s->n_cats = (int)i + 1;
        if (s->counts[i] == 0) return BAD(sub, "count", "zero");
        if (i && (s->counts[i] > s->counts[i - 1] ||
                  (s->counts[i] == s->counts[i - 1] && strcmp(s->names[i - 1], s->names[i]) >= 0)))
            return BAD(sub, "", "not after the previous category (count descending, then name)");
        if (s->counts[i] > s->count || (sum += s->counts[i]) > s->count)
            return BAD(path, "categories", "counts and other.count exceed count");
    }
    if (sum != s->count)
        return BAD(path, "categories", "counts and other.count do not add up to count");
    if (s->n_distinct != (uint64_t)n + s->other_distinct)
        return BAD(path, "n_distinct", "not the number of categories plus other.n_distinct");
    if ((s->other_count == 0) != (s->other_distinct == 0))
        return BAD(path, "other", "count and n_distinct disagree");
    if (s->other_distinct && n != (size_t)p->opts.max_categories)
        return BAD(path, "other", "not empty while fewer than max_categories are kept");
    return 0;
}

static int parse_features(const json_t *root, const char *key, cairn_profile *p,
                          struct cairn_profile_feature **out, int *n_out, bool numeric_only)
{
    const json_t *a;
    int rc = get_array(root, "", key, INT32_MAX, &a);
    if (rc) return rc;
    int n = (int)json_array_size(a);
    struct cairn_profile_feature *fs = cairn_calloc((size_t)(n ? n : 1), sizeof(*fs));
    *out = fs;
    *n_out = 0;
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "%s[%d]", key, i);
        const json_t *f = json_array_get(a, (size_t)i), *name, *type;
        if (!json_is_object(f)) return BAD(path, "", "not an object");
        *n_out = i + 1;
        name = json_object_get(f, "name");
        type = json_object_get(f, "type");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            strlen(json_string_value(name)) != json_string_length(name))
            return BAD(path, "name", "missing or not a non-empty string");
        fs[i].name = cairn_strdup(json_string_value(name));
        const char *t = json_string_value(type);
        if (t && !strcmp(t, "numeric")) {
            fs[i].type = CAIRN_PROFILE_NUMERIC;
            rc = parse_numeric(f, path, p, &fs[i].num);
        } else if (t && !strcmp(t, "categorical") && !numeric_only) {
            fs[i].type = CAIRN_PROFILE_CATEGORICAL;
            rc = parse_categorical(f, path, p, &fs[i].cat);
        } else {
            rc = BAD(path, "type",
                     numeric_only ? "not \"numeric\"" : "not \"numeric\" or \"categorical\"");
        }
        if (rc) return rc;
    }
    return 0;
}

static int parse_options(const json_t *root, cairn_profile_opts *o)
{
    const json_t *j = json_object_get(root, "options");
    if (!json_is_object(j)) return BAD("", "options", j ? "not an object" : "missing");
    uint64_t qrows;
    int rc = get_int(j, "options", "n_bins", &o->n_bins);
    if (!rc) rc = get_int(j, "options", "n_hist_bins", &o->n_hist_bins);
    if (!rc) rc = get_int(j, "options", "max_categories", &o->max_categories);
    if (!rc) rc = get_int(j, "options", "sample_size", &o->sample_size);
    if (!rc) rc = get_u64(j, "options", "quantile_rows", &qrows);
    if (rc) return rc;
    o->quantile_rows = (size_t)qrows;
    const char *seed = json_string_value(json_object_get(j, "seed"));
    if (!seed || !*seed || strlen(seed) > 20) return BAD("options", "seed", "not a decimal string");
    o->seed = 0;
    for (const char *c = seed; *c; c++) {
        uint64_t d = (uint64_t)(*c - '0');
        if (*c < '0' || *c > '9' || o->seed > (UINT64_MAX - d) / 10)
            return BAD("options", "seed", "not a decimal string below 2^64");
        o->seed = o->seed * 10 + d;
    }
    o->version = CAIRN_PROFILE_OPTS_VERSION;
    return check_opts(o, "profile options");
}

static int parse_root(const json_t *root, cairn_profile *p)
{
    if (!json_is_object(root)) return ERR(CAIRN_EINVALID, "profile: not a json object");
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, CAIRN_PROFILE_FORMAT))
        return BAD("", "format", "not \"%s\"", CAIRN_PROFILE_FORMAT);
    const json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != CAIRN_PROFILE_FORMAT_VERSION)
        return BAD("", "version", "unsupported (this build reads version %d)",
                   CAIRN_PROFILE_FORMAT_VERSION);
    int rc = get_u64(root, "", "n_rows", &p->n_rows);
    if (rc) return rc;
    if (p->n_rows == 0) return BAD("", "n_rows", "zero");
    if ((rc = parse_options(root, &p->opts))) return rc;
    if ((rc = parse_features(root, "features", p, &p->features, &p->n_features, false))) return rc;
    if ((rc = parse_features(root, "predictions", p, &p->predictions, &p->n_predictions, true)))
        return rc;
    return index_names(p);
}

int cairn_profile_from_json(cairn_profile **out, const char *json, size_t len)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ERR(CAIRN_EINVALID, "profile: invalid json at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
    cairn_profile *p = cairn_calloc(1, sizeof(*p));
    int rc = parse_root(root, p);
    json_decref(root);
    if (rc)
        cairn_profile_free(p);
    else
        *out = p;
    return rc;
}

/* ====================================================================== */
/* Accessors                                                               */
/* ====================================================================== */

uint64_t cairn_profile_n_rows(const cairn_profile *p)
{
    return p->n_rows;
}
cairn_profile_opts cairn_profile_options(const cairn_profile *p)
{
    return p->opts;
}
int cairn_profile_n_features(const cairn_profile *p)
{
    return p->n_features;
}
int cairn_profile_n_predictions(const cairn_profile *p)
{
    return p->n_predictions;
}

const cairn_profile_feature *cairn_profile_feature_at(const cairn_profile *p, int i)
{
    return i >= 0 && i < p->n_features ? &p->features[i] : NULL;
}

const cairn_profile_feature *cairn_profile_prediction_at(const cairn_profile *p, int k)
{
    return k >= 0 && k < p->n_predictions ? &p->predictions[k] : NULL;
}

int cairn_profile_find(const cairn_profile *p, const char *name)
{
    int lo = 0, hi = p->n_features;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(p->features[p->by_name[mid]].name, name);
        if (c == 0) return p->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *cairn_profile_feature_name(const cairn_profile_feature *f)
{
    return f->name;
}
cairn_profile_type cairn_profile_feature_type(const cairn_profile_feature *f)
{
    return f->type;
}

int cairn_profile_feature_numeric(const cairn_profile_feature *f, cairn_profile_numeric *out)
{
    if (f->type != CAIRN_PROFILE_NUMERIC)
        return ERR(CAIRN_EINVALID, "feature '%s' is not numeric", f->name);
    const struct num_summary *s = &f->num;
    *out = (cairn_profile_numeric){s->count,       s->missing,    s->missing_rate, s->mean,
                                   s->std,         s->min,        s->max,          s->n_edges,
                                   s->edges,       s->bin_counts, s->n_hist,       s->hist_edges,
                                   s->hist_counts, s->n_sample,   s->sample};
    return 0;
}

int cairn_profile_feature_categorical(const cairn_profile_feature *f,
                                      cairn_profile_categorical *out)
{
    if (f->type != CAIRN_PROFILE_CATEGORICAL)
        return ERR(CAIRN_EINVALID, "feature '%s' is not categorical", f->name);
    const struct cat_summary *s = &f->cat;
    *out = (cairn_profile_categorical){s->count,      s->missing,     s->missing_rate,
                                       s->n_distinct, s->n_cats,      (const char *const *)s->names,
                                       s->counts,     s->other_count, s->other_distinct};
    return 0;
}
