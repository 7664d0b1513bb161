/*
 * gbdt_hist.c - gradient histograms and the split search over them.
 *
 * A node's histogram holds, per feature and bin, the sums of gradient and
 * hessian and the row count. Building is the hot loop of training: it runs
 * in parallel over features, each feature's bins summed by one thread in
 * row order, so the sums (and the model) do not depend on the thread count.
 * The split search scans each feature's bins once: numeric features as
 * ordered prefixes, categorical features as prefixes of the categories
 * sorted by G / (H + cat_smooth) (LightGBM's ordering); missing values are
 * tried on both sides.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gbdt_internal.h"

#define PARALLEL_MIN_WORK 262144 /* rows x features below which one thread builds */
#define HIST_GROUP 128           /* most features summed together in one pass over rows */
#define PREFETCH_ROWS 16         /* rows ahead to prefetch in an index gather */

/* Sums the bins of a group of G features over rows idx[0..m) (rows 0..m-1
 * when idx is NULL), reading each row's bins from the row-major matrix, so
 * a row costs one or two cache misses for the whole group instead of one
 * per feature. Rows a few iterations ahead are prefetched: the index gather
 * defeats the hardware prefetcher. */
static void hist_rows(const struct gbdt_data *d, const int *fs, int G, const uint32_t *idx,
                      size_t m, const float *gh, struct gbdt_bin *hist)
{
    struct gbdt_bin *h[HIST_GROUP];
    size_t off[HIST_GROUP];
    for (int q = 0; q < G; q++) {
        const struct gbdt_feature *F = &d->feat[fs[q]];
        h[q] = hist + F->hoff;
        memset(h[q], 0, sizeof(struct gbdt_bin) * (size_t)F->nbins);
        off[q] = (size_t)fs[q];
    }
    const uint8_t *rb = d->rbins;
    const size_t nf = (size_t)d->nf, first = off[0], last = off[G - 1];
    for (size_t i = 0; i < m; i++) {
        if (idx && i + PREFETCH_ROWS < m) {
            const uint8_t *ahead = rb + (size_t)idx[i + PREFETCH_ROWS] * nf;
            __builtin_prefetch(ahead + first);
            __builtin_prefetch(ahead + last);
        }
        const uint8_t *row = rb + (idx ? (size_t)idx[i] : i) * nf;
        const double g = gh[2 * i], hh = gh[2 * i + 1];
        for (int q = 0; q < G; q++) {
            struct gbdt_bin *e = &h[q][row[off[q]]];
            e->g += g;
            e->h += hh;
            e->n++;
        }
    }
}

void cairn_gbdt__hist_build(const struct gbdt_data *d, const int *feats, int nfe,
                            const uint32_t *idx, size_t m, const float *gh, struct gbdt_bin *hist,
                            int n_threads)
{
    /* one contiguous run of features per thread (each feature is still
     * summed by one thread in row order, so grouping does not change sums) */
    int par = n_threads > 1 && nfe > 1 && m * (size_t)nfe >= PARALLEL_MIN_WORK;
    int n_groups = par ? (n_threads < nfe ? n_threads : nfe) : 1;
    if ((nfe + n_groups - 1) / n_groups > HIST_GROUP)
        n_groups = (nfe + HIST_GROUP - 1) / HIST_GROUP;
    int per = (nfe + n_groups - 1) / n_groups;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (par)
    for (int gi = 0; gi < n_groups; gi++) {
        int q0 = gi * per, G = nfe - q0 < per ? nfe - q0 : per;
        if (G > 0) hist_rows(d, feats + q0, G, idx, m, gh, hist);
    }
}

void cairn_gbdt__hist_sub(const struct gbdt_data *d, const int *feats, int nfe,
                          struct gbdt_bin *big, const struct gbdt_bin *small)
{
    for (int q = 0; q < nfe; q++) {
        const struct gbdt_feature *F = &d->feat[feats[q]];
        struct gbdt_bin *a = big + F->hoff;
        const struct gbdt_bin *b = small + F->hoff;
        for (int k = 0; k < F->nbins; k++) {
            a[k].g -= b[k].g;
            a[k].h -= b[k].h;
            a[k].n -= b[k].n;
        }
    }
}

/* L1 soft threshold of a gradient sum. */
static inline double soft(double g, double alpha)
{
    if (g > alpha) return g - alpha;
    if (g < -alpha) return g + alpha;
    return 0;
}

double cairn_gbdt__leaf_weight(const struct gbdt_params *p, double g, double h)
{
    double den = h + p->lambda;
    return den > 0 ? -soft(g, p->alpha) / den : 0.0;
}

/* Objective reduction T(G)^2 / (H + lambda) of a node. */
static inline double node_obj(const struct gbdt_params *p, double g, double h)
{
    double den = h + p->lambda, t = soft(g, p->alpha);
    return den > 0 ? t * t / den : 0.0;
}

/* Evaluates left = l, right = tot - l; returns 1 and fills *s if better. */
static inline int try_split(const struct gbdt_params *p, const struct gbdt_sum *tot,
                            double parent_obj, double gl, double hl, uint64_t nl,
                            struct gbdt_split *s)
{
    double gr = tot->g - gl, hr = tot->h - hl;
    uint64_t nr = tot->n - nl;
    if (nl < p->min_child_samples || nr < p->min_child_samples || hl < p->min_child_weight ||
        hr < p->min_child_weight)
        return 0;
    double gain = 0.5 * (node_obj(p, gl, hl) + node_obj(p, gr, hr) - parent_obj);
    if (!(gain > s->gain)) return 0;
    s->gain = gain;
    s->left = (struct gbdt_sum){gl, hl, nl};
    s->right = (struct gbdt_sum){gr, hr, nr};
    return 1;
}

static void numeric_best(const struct gbdt_feature *F, const struct gbdt_bin *h,
                         const struct gbdt_params *p, const struct gbdt_sum *tot, double parent_obj,
                         struct gbdt_split *s)
{
    const struct gbdt_bin miss = h[0];
    double gl = 0, hl = 0;
    uint64_t nl = 0;
    /* bins 1..b left; the last value bin never goes left with all others,
     * since its upper bound is not a finite threshold */
    for (int b = 1; b <= F->nbins - 2; b++) {
        gl += h[b].g;
        hl += h[b].h;
        nl += h[b].n;
        if (try_split(p, tot, parent_obj, gl, hl, nl, s)) {
            s->bin = b;
            /* with no missing rows here, unseen missing values follow the
             * larger side */
            s->default_left = miss.n ? 0 : (uint8_t)(nl >= tot->n - nl);
        }
        if (miss.n && try_split(p, tot, parent_obj, gl + miss.g, hl + miss.h, nl + miss.n, s)) {
            s->bin = b;
            s->default_left = 1;
        }
    }
}

struct cat_item {
    double ratio;
    int bin;
};

static int cmp_cat(const void *a, const void *b)
{
    const struct cat_item *x = a, *y = b;
    if (x->ratio < y->ratio) return -1;
    if (x->ratio > y->ratio) return 1;
    return (x->bin > y->bin) - (x->bin < y->bin);
}

static void categorical_best(const struct gbdt_feature *F, const struct gbdt_bin *h,
                             const struct gbdt_params *p, const struct gbdt_sum *tot,
                             double parent_obj, struct gbdt_split *s)
{
    struct cat_item items[GBDT_MAX_BINS];
    int L = 0;
    for (int b = 1; b < F->nbins; b++)
        if (b != F->other_bin && h[b].n > 0)
            items[L++] = (struct cat_item){h[b].g / (h[b].h + p->cat_smooth), b};
    qsort(items, (size_t)L, sizeof(items[0]), cmp_cat);
    const struct gbdt_bin miss = h[0];
    double gl = 0, hl = 0;
    uint64_t nl = 0;
    int best_len = 0;
    for (int j = 0; j < L; j++) {
        gl += h[items[j].bin].g;
        hl += h[items[j].bin].h;
        nl += h[items[j].bin].n;
        if (try_split(p, tot, parent_obj, gl, hl, nl, s)) {
            best_len = j + 1;
            s->default_left = miss.n ? 0 : (uint8_t)(nl >= tot->n - nl);
        }
        if (miss.n && try_split(p, tot, parent_obj, gl + miss.g, hl + miss.h, nl + miss.n, s)) {
            best_len = j + 1;
            s->default_left = 1;
        }
    }
    if (best_len) {
        s->is_cat = 1;
        s->bin = 0;
        memset(s->catbits, 0, sizeof(s->catbits));
        for (int j = 0; j < best_len; j++)
            s->catbits[items[j].bin >> 5] |= 1u << (items[j].bin & 31);
    }
}

/* Best split of one feature; s->feature = -1 when none beats min_split_gain. */
static void feature_best(const struct gbdt_data *d, const struct gbdt_params *p, int f,
                         const struct gbdt_bin *hist, const struct gbdt_sum *tot, double parent_obj,
                         struct gbdt_split *s)
{
    const struct gbdt_feature *F = &d->feat[f];
    s->gain = p->min_split_gain > 0 ? p->min_split_gain : 0.0;
    s->feature = -1;
    s->is_cat = 0;
    double g0 = s->gain;
    if (F->is_cat)
        categorical_best(F, hist + F->hoff, p, tot, parent_obj, s);
    else
        numeric_best(F, hist + F->hoff, p, tot, parent_obj, s);
    if (s->gain > g0) s->feature = f;
}

void cairn_gbdt__best_split(const struct gbdt_data *d, const struct gbdt_params *p,
                            const int *feats, int nfe, const struct gbdt_bin *hist,
                            const struct gbdt_sum *tot, struct gbdt_split *out, int n_threads)
{
    struct gbdt_split *per = cairn_malloc(sizeof(*per) * (size_t)(nfe ? nfe : 1));
    double parent_obj = node_obj(p, tot->g, tot->h);
    int par = n_threads > 1 && nfe >= 64;
#pragma omp parallel for schedule(static) num_threads(n_threads) if (par)
    for (int q = 0; q < nfe; q++)
        feature_best(d, p, feats[q], hist, tot, parent_obj, &per[q]);
    out->feature = -1;
    out->gain = 0;
    for (int q = 0; q < nfe; q++)
        if (per[q].feature >= 0 && (out->feature < 0 || per[q].gain > out->gain)) *out = per[q];
    cairn_free(per);
}
