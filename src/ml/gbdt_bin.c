/*
 * gbdt_bin.c - turning a frame into the GBDT's binned matrix.
 *
 * Numeric columns get quantile cuts computed from (a seeded sample of) the
 * non-missing values, as float: a column with few distinct values gets one
 * bin per value, otherwise bins of about equal row counts whose boundaries
 * are observed values, so "bin <= b" is exactly "x < cuts[b-1]" on raw
 * values. Categorical columns get a bin per category seen; beyond the bin
 * budget the rarest categories share an "other" bin. Bin 0 is missing
 * everywhere. Columns are binned in parallel, one column per task, so the
 * result does not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "gbdt_internal.h"

/* Sorts k non-NaN floats ascending: LSD radix sort on order-preserving
 * integer keys (-0 sorts before +0; both bin alike). */
static void sort_floats(float *v, size_t k)
{
    uint32_t *a = cairn_malloc(sizeof(uint32_t) * (k ? k : 1));
    uint32_t *b = cairn_malloc(sizeof(uint32_t) * (k ? k : 1));
    uint32_t *a0 = a, *b0 = b;
    for (size_t i = 0; i < k; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof(u));
        a[i] = (u & 0x80000000u) ? ~u : u | 0x80000000u;
    }
    for (int shift = 0; shift < 32; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < k; i++)
            cnt[((a[i] >> shift) & 0xFF) + 1]++;
        for (int j = 0; j < 256; j++)
            cnt[j + 1] += cnt[j];
        for (size_t i = 0; i < k; i++)
            b[cnt[(a[i] >> shift) & 0xFF]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < k; i++) {
        uint32_t u = (a[i] & 0x80000000u) ? a[i] & 0x7FFFFFFFu : ~a[i];
        memcpy(&v[i], &u, sizeof(u));
    }
    cairn_free(a0);
    cairn_free(b0);
}

static inline float col_value(const cairn_column *c, size_t i)
{
    return c->type == CAIRN_COL_F32 ? c->f32[i] : (float)c->f64[i];
}

int cairn_gbdt__bin_value(const struct gbdt_feature *f, float v)
{
    if (isnan(v) || f->nbins < 2) return 0;
    /* number of cuts <= v, by binary search */
    int lo = 0, hi = f->nbins - 2;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (f->cuts[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo + 1;
}

/* Quantile cuts of one numeric column from the rows in sample (or all rows
 * when sample is NULL). Sets f->nbins and f->cuts. */
static void numeric_cuts(struct gbdt_feature *f, const cairn_column *c, size_t n,
                         const uint32_t *sample, size_t ns, int max_bins)
{
    size_t m = sample ? ns : n, k = 0;
    float *v = cairn_malloc(sizeof(float) * (m ? m : 1));
    for (size_t i = 0; i < m; i++) {
        float x = col_value(c, sample ? sample[i] : i);
        if (!isnan(x)) v[k++] = x;
    }
    sort_floats(v, k);
    /* distinct values in place, with counts */
    size_t nd = 0;
    uint32_t *cnt = cairn_malloc(sizeof(uint32_t) * (k ? k : 1));
    for (size_t i = 0; i < k; i++) {
        if (nd && v[nd - 1] == v[i]) {
            cnt[nd - 1]++;
        } else {
            v[nd] = v[i];
            cnt[nd++] = 1;
        }
    }
    int maxv = max_bins - 1; /* value bins */
    f->cuts = cairn_malloc(sizeof(float) * (size_t)(maxv > 0 ? maxv : 1));
    int nc = 0;
    if (nd <= (size_t)maxv) {
        for (size_t i = 1; i < nd; i++)
            f->cuts[nc++] = v[i];
    } else {
        /* greedy equal-count bins: close a bin once it holds its share of the
         * rows still to place; the boundary is the next distinct value */
        size_t left = k, acc = 0;
        for (size_t i = 0; i + 1 < nd && nc < maxv - 1; i++) {
            acc += cnt[i];
            double target = (double)left / (double)(maxv - nc);
            if ((double)acc >= target) {
                f->cuts[nc++] = v[i + 1];
                left -= acc;
                acc = 0;
            }
        }
    }
    f->nbins = nd ? nc + 2 : 1;
    cairn_free(v);
    cairn_free(cnt);
}

/* Category bins of one categorical column (all rows). */
static void categorical_bins(struct gbdt_feature *f, const cairn_column *c, size_t n, int max_bins,
                             int32_t *bin_of_code)
{
    int32_t nd = c->ndict;
    uint64_t *cnt = cairn_calloc((size_t)(nd ? nd : 1), sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        if (c->codes[i] >= 0) cnt[c->codes[i]]++;
    int32_t seen = 0;
    for (int32_t k = 0; k < nd; k++)
        seen += cnt[k] > 0;
    f->code_of_bin = cairn_malloc(sizeof(int32_t) * (size_t)max_bins);
    f->code_of_bin[0] = -1;
    for (int32_t k = 0; k < nd; k++)
        bin_of_code[k] = 0;
    int nb = 1;
    if (seen <= max_bins - 1) {
        for (int32_t k = 0; k < nd; k++)
            if (cnt[k]) {
                bin_of_code[k] = nb;
                f->code_of_bin[nb++] = k;
            }
    } else {
        /* keep the max_bins-2 most frequent (ties: lower code) in code order */
        int keep = max_bins - 2;
        uint8_t *kept = cairn_calloc((size_t)nd, 1);
        for (int j = 0; j < keep; j++) {
            int32_t best = -1;
            for (int32_t k = 0; k < nd; k++)
                if (!kept[k] && cnt[k] && (best < 0 || cnt[k] > cnt[best])) best = k;
            kept[best] = 1;
        }
        for (int32_t k = 0; k < nd; k++)
            if (kept[k]) {
                bin_of_code[k] = nb;
                f->code_of_bin[nb++] = k;
            }
        f->other_bin = nb;
        f->code_of_bin[nb++] = -2;
        for (int32_t k = 0; k < nd; k++)
            if (cnt[k] && !kept[k]) bin_of_code[k] = f->other_bin;
        cairn_free(kept);
    }
    f->nbins = nb;
    cairn_free(cnt);
}

static void bin_column(struct gbdt_data *d, const cairn_column *c, int j, const uint32_t *sample,
                       size_t ns, int max_bins)
{
    struct gbdt_feature *f = &d->feat[j];
    uint8_t *out = d->bins + (size_t)j * d->n;
    if (c->type == CAIRN_COL_CAT) {
        f->is_cat = 1;
        int32_t *boc = cairn_malloc(sizeof(int32_t) * (size_t)(c->ndict ? c->ndict : 1));
        categorical_bins(f, c, d->n, max_bins, boc);
        for (size_t i = 0; i < d->n; i++)
            out[i] = (uint8_t)(c->codes[i] < 0 ? 0 : boc[c->codes[i]]);
        cairn_free(boc);
    } else {
        numeric_cuts(f, c, d->n, sample, ns, max_bins);
        for (size_t i = 0; i < d->n; i++)
            out[i] = (uint8_t)cairn_gbdt__bin_value(f, col_value(c, i));
    }
}

int cairn_gbdt__bin(struct gbdt_data *d, const cairn_frame *X, int max_bins, uint64_t seed,
                    int n_threads)
{
    memset(d, 0, sizeof(*d));
    d->n = X->nrows;
    d->nf = X->ncols;
    d->feat = cairn_calloc((size_t)d->nf, sizeof(struct gbdt_feature));
    d->bins = cairn_try_malloc(d->n * (size_t)d->nf);
    if (!d->bins)
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML,
                               "no memory for a %zu x %d binned matrix", d->n, d->nf);
    uint32_t *sample = NULL;
    size_t ns = 0;
    if (d->n > GBDT_BIN_SAMPLE) {
        /* Bernoulli sample of about GBDT_BIN_SAMPLE rows, in row order */
        uint64_t s = seed ^ 0x5bd1e995ull;
        double p = (double)GBDT_BIN_SAMPLE / (double)d->n;
        sample = cairn_malloc(sizeof(uint32_t) * (GBDT_BIN_SAMPLE + GBDT_BIN_SAMPLE / 8));
        for (size_t i = 0; i < d->n && ns < GBDT_BIN_SAMPLE + GBDT_BIN_SAMPLE / 8; i++)
            if (gbdt_unif(&s) < p) sample[ns++] = (uint32_t)i;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (int j = 0; j < d->nf; j++)
        bin_column(d, &X->cols[j], j, sample, ns, max_bins);
    cairn_free(sample);
    d->rbins = cairn_try_malloc(d->n * (size_t)d->nf);
    if (!d->rbins)
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML,
                               "no memory for a %zu x %d binned matrix", d->n, d->nf);
        /* row-major copy, transposed in blocks of rows */
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t r0 = 0; r0 < d->n; r0 += 4096) {
        size_t r1 = r0 + 4096 < d->n ? r0 + 4096 : d->n;
        for (int j = 0; j < d->nf; j++) {
            const uint8_t *col = d->bins + (size_t)j * d->n;
            for (size_t r = r0; r < r1; r++)
                d->rbins[r * (size_t)d->nf + (size_t)j] = col[r];
        }
    }
    uint32_t off = 0;
    for (int j = 0; j < d->nf; j++) {
        d->feat[j].hoff = off;
        off += (uint32_t)d->feat[j].nbins;
    }
    d->hsize = off;
    return 0;
}

void cairn_gbdt__data_free(struct gbdt_data *d)
{
    if (d->feat)
        for (int j = 0; j < d->nf; j++) {
            cairn_free(d->feat[j].cuts);
            cairn_free(d->feat[j].code_of_bin);
        }
    cairn_free(d->feat);
    cairn_free(d->bins);
    cairn_free(d->rbins);
    memset(d, 0, sizeof(*d));
}
