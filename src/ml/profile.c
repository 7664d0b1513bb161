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
 *   (one rule, cairn_profile__edges_finish(), shared with the histogram).
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

#include "profile_internal.h"
#include "profile_math.h"

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
int cairn_profile__check_opts(const cairn_profile_opts *o, const char *where)
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
int cairn_profile__index_names(cairn_profile *p)
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

int cairn_profile__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.quantile(x, q, method="linear") of sorted x (n >= 1), numpy 1.24's
 * arithmetic: h = (n-1)*q; past the end -> x[n-1]; else _lerp(a, b, t). */
double cairn_profile__quantile(const double *x, size_t n, double q)
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
int cairn_profile__edges_finish(double min, double max, const double *cand, int m, double *edges)
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
int cairn_profile__bin_of(const double *edges, int n, double v)
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
    int n = cairn_profile__edges_finish(min, max, cand, B - 1, edges);
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
    qsort(v, k, sizeof(double), cairn_profile__cmp_double);
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
        cand[i - 1] = cairn_profile__quantile(v, m, (double)i / o->n_bins);
    out->edges = cairn_malloc(sizeof(double) * (size_t)(o->n_bins + 1));
    out->n_edges = cairn_profile__edges_finish(min, max, cand, o->n_bins - 1, out->edges);
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
        out->bin_counts[cairn_profile__bin_of(out->edges, out->n_edges, x)]++;
        out->hist_counts[cairn_profile__bin_of(out->hist_edges, out->n_hist, x)]++;
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
    int rc = cairn_profile__check_opts(o, "options");
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
    if ((rc = cairn_profile__index_names(p))) goto cleanup;

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
