/*
 * monitor_drift_ref.c - the reference profile of a CSV file for
 * `cairn monitor drift --reference data.csv`, built in streamed passes so
 * that memory does not grow with the file's rows.
 *
 * Key idea: cairn_profile_build needs the whole frame in memory; here the
 * file is read in chunks (cairn_csv_read_chunks) four times, each pass
 * computing what the previous ones made possible, with the same arithmetic
 * as src/ml/profile.c so the result is the same profile when a column has
 * at most CLI_DRIFT_REF_QUANTILE_ROWS present values:
 *   0. column types (a column is categorical when any chunk says so);
 *   1. count, missing, min, max; category counts (bounded counters);
 *   2. the mean (Neumaier sum of values scaled by a power of two), a
 *      selection sample of the values for quantiles and the sample
 *      (Knuth's algorithm S; all values when few enough), histogram counts;
 *   3. the standard deviation around the mean, quantile bin counts.
 * The result is written as profile.json text and read back with
 * cairn_profile_from_json, which validates it like any saved profile.
 * Memory: per numeric column at most CLI_DRIFT_REF_QUANTILE_ROWS doubles;
 * per categorical column at most CLI_DRIFT_REF_MAX_DISTINCT names; plus one
 * chunk.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/csv.h"
#include "monitor_drift.h"
#include "ml/profile_math.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define N_BINS 10
#define N_HIST 20
#define MAX_CATS 100
#define SAMPLE 1000

struct ksum {
    double s, c;
};

static void ksum_add(struct ksum *k, double x)
{
    double t = k->s + x;
    k->c += fabs(k->s) >= fabs(x) ? (k->s - t) + x : (x - t) + k->s;
    k->s = t;
}

struct rcol {
    char *name;
    int cat, skip;
    /* numeric */
    uint64_t count, missing, left;
    double min, max, mean_s, inv;
    int e;
    struct ksum sum, sq;
    double *v; /* (k) the selection sample */
    size_t k, got;
    uint64_t rng;
    int n_edges, n_hist;
    double edges[N_BINS + 1], hist[N_HIST + 1];
    uint64_t bins[N_BINS], hcounts[N_HIST];
    /* categorical */
    cairn_catcount *cc;
};

struct ref {
    const char *path, *exclude;
    int pass, ncols;
    struct rcol *c;
    uint64_t rows;
};

/* splitmix64: the sample's deterministic generator. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* np.histogram_bin_edges(x, bins=N_HIST) as profile.c builds them. */
static int hist_edges(double min, double max, double *edges)
{
    double cand[N_HIST], delta = max - min, step = delta / N_HIST;
    for (int i = 1; i < N_HIST; i++) {
        if (!isfinite(delta)) {
            double t = (double)i / N_HIST;
            cand[i - 1] = min * (1 - t) + max * t;
        } else if (step == 0) {
            cand[i - 1] = (double)i / N_HIST * delta + min;
        } else {
            cand[i - 1] = (double)i * step + min;
        }
    }
    return cairn_profile__edges_finish(min, max, cand, N_HIST - 1, edges);
}

/* Pass 0: learns the columns and which are categorical in some chunk. */
static int pass_types(struct ref *r, const cairn_frame *f)
{
    if (!r->c) {
        r->c = cairn_calloc((size_t)f->ncols + 1, sizeof(struct rcol));
        r->ncols = f->ncols;
        for (int j = 0; j < f->ncols; j++) {
            r->c[j].name = cairn_strdup(f->cols[j].name);
            r->c[j].skip = r->exclude && !strcmp(r->exclude, f->cols[j].name);
            r->c[j].min = INFINITY;
            r->c[j].max = -INFINITY;
        }
    }
    for (int j = 0; j < f->ncols && j < r->ncols; j++)
        if (f->cols[j].type == CAIRN_COL_CAT) r->c[j].cat = 1;
    r->rows += f->nrows;
    return 0;
}

static int pass_one(struct ref *r, const cairn_frame *f, uint64_t first_row)
{
    for (int j = 0; j < r->ncols; j++) {
        struct rcol *c = &r->c[j];
        const cairn_column *col = &f->cols[j];
        if (c->skip) continue;
        if (c->cat) {
            for (size_t i = 0; i < f->nrows; i++) {
                int32_t code = col->codes[i];
                const char *s = code < 0 ? NULL : col->dict[code];
                cairn_catcount_add(c->cc, s, s ? strlen(s) : 0);
            }
            continue;
        }
        for (size_t i = 0; i < f->nrows; i++) {
            double x = col->f64[i];
            if (isnan(x)) {
                c->missing++;
                continue;
            }
            if (isinf(x))
                return ERR(CAIRN_EINVALID, "%s: column '%s', data row %" PRIu64 ": infinite value",
                           r->path, c->name, first_row + i + 1);
            c->count++;
            if (x < c->min) c->min = x;
            if (x > c->max) c->max = x;
        }
    }
    return 0;
}

static int pass_two(struct ref *r, const cairn_frame *f)
{
    for (int j = 0; j < r->ncols; j++) {
        struct rcol *c = &r->c[j];
        if (c->skip || c->cat || c->count == 0) continue;
        const double *v = f->cols[j].f64;
        for (size_t i = 0; i < f->nrows; i++) {
            double x = v[i];
            if (isnan(x)) continue;
            ksum_add(&c->sum, x * c->inv);
            /* algorithm S: keep x when below(left) < needed */
            size_t need = c->k - c->got;
            if (need && (c->k == c->count || next_u64(&c->rng) % c->left < need))
                c->v[c->got++] = x;
            c->left--;
            c->hcounts[cairn_profile__bin_of(c->hist, c->n_hist, x)]++;
        }
    }
    return 0;
}

static int pass_three(struct ref *r, const cairn_frame *f)
{
    for (int j = 0; j < r->ncols; j++) {
        struct rcol *c = &r->c[j];
        if (c->skip || c->cat || c->count == 0) continue;
        const double *v = f->cols[j].f64;
        for (size_t i = 0; i < f->nrows; i++) {
            double x = v[i];
            if (isnan(x)) continue;
            double d = x * c->inv - c->mean_s;
            ksum_add(&c->sq, d * d);
            c->bins[cairn_profile__bin_of(c->edges, c->n_edges, x)]++;
        }
    }
    return 0;
}

static int on_chunk(const cairn_frame *f, uint64_t first_row, void *payload)
{
    struct ref *r = payload;
    if (r->pass > 0 && f->ncols != r->ncols)
        return ERR(CAIRN_EINVALID, "%s: columns changed between reads", r->path);
    switch (r->pass) {
    case 0:
        return pass_types(r, f);
    case 1:
        return pass_one(r, f, first_row);
    case 2:
        return pass_two(r, f);
    default:
        return pass_three(r, f);
    }
}

/* After pass 1: scale, sample size and histogram edges of column c. */
static void prepare_two(struct rcol *c, uint64_t seed)
{
    if (c->count == 0) return;
    double amax = fmax(fabs(c->min), fabs(c->max));
    c->e = 0;
    if (amax > 0) (void)frexp(amax, &c->e);
    if (c->e < -1022) c->e = -1022;
    c->inv = ldexp(1.0, -c->e);
    c->k = c->count > CLI_DRIFT_REF_QUANTILE_ROWS ? CLI_DRIFT_REF_QUANTILE_ROWS : (size_t)c->count;
    c->v = cairn_malloc(sizeof(double) * c->k);
    c->left = c->count;
    c->rng = seed;
    c->n_hist = hist_edges(c->min, c->max, c->hist);
}

/* After pass 2: mean and quantile edges of column c. */
static void prepare_three(struct rcol *c)
{
    if (c->count == 0) return;
    c->mean_s = (c->sum.s + c->sum.c) / (double)c->count;
    qsort(c->v, c->k, sizeof(double), cairn_profile__cmp_double);
    double cand[N_BINS];
    for (int i = 1; i < N_BINS; i++)
        cand[i - 1] = cairn_profile__quantile(c->v, c->k, (double)i / N_BINS);
    c->n_edges = cairn_profile__edges_finish(c->min, c->max, cand, N_BINS - 1, c->edges);
}

static int put_doubles(cairn_buf *b, const double *v, size_t n)
{
    int rc = cairn_buf_putc(b, '[');
    for (size_t i = 0; i < n && !rc; i++)
        rc = cairn_buf_printf(b, i ? ", %.17g" : "%.17g", v[i]);
    if (!rc) rc = cairn_buf_putc(b, ']');
    return rc;
}

static int put_counts(cairn_buf *b, const uint64_t *v, size_t n)
{
    int rc = cairn_buf_putc(b, '[');
    for (size_t i = 0; i < n && !rc; i++)
        rc = cairn_buf_printf(b, i ? ", %" PRIu64 : "%" PRIu64, v[i]);
    if (!rc) rc = cairn_buf_putc(b, ']');
    return rc;
}

static int put_num(cairn_buf *b, const char *key, double v)
{
    return isnan(v) ? cairn_buf_printf(b, ", \"%s\": null", key)
                    : cairn_buf_printf(b, ", \"%s\": %.17g", key, v);
}

static int put_numeric(cairn_buf *b, const struct rcol *c, uint64_t rows)
{
    int rc = cairn_buf_printf(
        b, ", \"type\": \"numeric\", \"count\": %" PRIu64 ", \"missing\": %" PRIu64, c->count,
        c->missing);
    if (!rc) rc = put_num(b, "missing_rate", (double)c->missing / (double)rows);
    double mean = NAN, std = NAN, min = NAN, max = NAN;
    if (c->count) {
        mean = fmin(fmax(ldexp(c->mean_s, c->e), c->min), c->max);
        std = ldexp(sqrt((c->sq.s + c->sq.c) / (double)c->count), c->e);
        min = c->min;
        max = c->max;
    }
    if (!rc) rc = put_num(b, "mean", mean);
    if (!rc) rc = put_num(b, "std", std);
    if (!rc) rc = put_num(b, "min", min);
    if (!rc) rc = put_num(b, "max", max);
    if (!rc) rc = cairn_buf_puts(b, ", \"quantiles\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, c->edges, (size_t)c->n_edges);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, c->bins, c->n_edges ? (size_t)c->n_edges - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "}, \"histogram\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, c->hist, (size_t)c->n_hist);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, c->hcounts, c->n_hist ? (size_t)c->n_hist - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "}, \"sample\": [");
    /* order statistics at floor((2i + 1) m / (2k)), as profile.c */
    size_t m = c->k, k = m < SAMPLE ? m : SAMPLE;
    for (size_t i = 0; i < k && !rc; i++)
        rc = cairn_buf_printf(b, i ? ", %.17g" : "%.17g",
                              c->v[(size_t)(((uint64_t)(2 * i + 1) * m) / (2 * (uint64_t)k))]);
    if (!rc) rc = cairn_buf_putc(b, ']');
    return rc;
}

struct catv {
    const char *name;
    uint64_t count;
};

static int cmp_catv(const void *a, const void *b)
{
    const struct catv *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int put_categorical(cairn_buf *b, const struct rcol *c, uint64_t rows, const char *path)
{
    if (cairn_catcount_other(c->cc) > 0)
        return ERR(CAIRN_ETOOBIG, "%s: column '%s' has more than %d distinct values", path, c->name,
                   CLI_DRIFT_REF_MAX_DISTINCT);
    int n = cairn_catcount_size(c->cc), kept = 0;
    struct catv *v = cairn_calloc((size_t)n + 1, sizeof(struct catv));
    for (int i = 0; i < n; i++) {
        uint64_t cnt;
        const char *name = cairn_catcount_name(c->cc, i, &cnt);
        if (cnt) v[kept++] = (struct catv){name, cnt};
    }
    qsort(v, (size_t)kept, sizeof(struct catv), cmp_catv);
    uint64_t missing = cairn_catcount_missing(c->cc), other = 0;
    int rc = cairn_buf_printf(
        b, ", \"type\": \"categorical\", \"count\": %" PRIu64 ", \"missing\": %" PRIu64,
        cairn_catcount_count(c->cc), missing);
    if (!rc) rc = put_num(b, "missing_rate", (double)missing / (double)rows);
    if (!rc) rc = cairn_buf_printf(b, ", \"n_distinct\": %d, \"categories\": [", kept);
    for (int i = 0; i < kept && !rc; i++) {
        if (i >= MAX_CATS) {
            other += v[i].count;
            continue;
        }
        rc = cairn_buf_puts(b, i ? ", {\"value\": " : "{\"value\": ");
        if (!rc) rc = cairn_buf_put_json_str(b, v[i].name, strlen(v[i].name));
        if (!rc) rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 "}", v[i].count);
    }
    if (!rc)
        rc = cairn_buf_printf(b, "], \"other\": {\"count\": %" PRIu64 ", \"n_distinct\": %d}",
                              other, kept > MAX_CATS ? kept - MAX_CATS : 0);
    cairn_free(v);
    return rc;
}

static int write_json(const struct ref *r, cairn_buf *b)
{
    int rc = cairn_buf_printf(b,
                              "{\"format\": \"%s\", \"version\": %d, \"n_rows\": %" PRIu64
                              ", \"options\": {\"n_bins\": %d, \"n_hist_bins\": %d, "
                              "\"max_categories\": %d, \"sample_size\": %d, "
                              "\"quantile_rows\": %d, \"seed\": \"0\"}, \"features\": [",
                              CAIRN_PROFILE_FORMAT, CAIRN_PROFILE_FORMAT_VERSION, r->rows, N_BINS,
                              N_HIST, MAX_CATS, SAMPLE, CLI_DRIFT_REF_QUANTILE_ROWS);
    int first = 1;
    for (int j = 0; j < r->ncols && !rc; j++) {
        const struct rcol *c = &r->c[j];
        if (c->skip) continue;
        rc = cairn_buf_puts(b, first ? "{\"name\": " : ", {\"name\": ");
        first = 0;
        if (!rc) rc = cairn_buf_put_json_str(b, c->name, strlen(c->name));
        if (!rc) rc = c->cat ? put_categorical(b, c, r->rows, r->path) : put_numeric(b, c, r->rows);
        if (!rc) rc = cairn_buf_putc(b, '}');
    }
    if (!rc) rc = cairn_buf_puts(b, "], \"predictions\": []}\n");
    return rc;
}

int cli_drift_profile_from_csv(cairn_profile **out, const char *path, const char *exclude)
{
    *out = NULL;
    struct ref r = {path, exclude, 0, 0, NULL, 0};
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    cairn_csv_coltype *types = NULL;
    cairn_buf b = CAIRN_BUF_INIT(0);
    int rc = cairn_csv_read_chunks(path, &o, CLI_DRIFT_CHUNK_BYTES, on_chunk, &r);
    if (rc) goto cleanup;
    if (r.rows == 0) {
        rc = ERR(CAIRN_EINVALID, "%s: no data rows", path);
        goto cleanup;
    }
    /* fix every column's type so that chunks agree with the whole file */
    types = cairn_calloc((size_t)r.ncols + 1, sizeof(*types));
    for (int j = 0; j < r.ncols; j++) {
        types[j].name = r.c[j].name;
        types[j].type = r.c[j].cat ? CAIRN_COL_CAT : CAIRN_COL_F64;
        if (r.c[j].cat && !r.c[j].skip) {
            cairn_catcount_opts co = CAIRN_CATCOUNT_OPTS_INIT;
            co.max_categories = CLI_DRIFT_REF_MAX_DISTINCT;
            if ((rc = cairn_catcount_new(&r.c[j].cc, &co)) != 0) goto cleanup;
        }
    }
    o.types = types;
    o.ntypes = (size_t)r.ncols;
    for (r.pass = 1; r.pass <= 3; r.pass++) {
        if ((rc = cairn_csv_read_chunks(path, &o, CLI_DRIFT_CHUNK_BYTES, on_chunk, &r)) != 0)
            goto cleanup;
        for (int j = 0; j < r.ncols; j++) {
            struct rcol *c = &r.c[j];
            if (c->skip || c->cat) continue;
            if (r.pass == 1) prepare_two(c, (uint64_t)j);
            if (r.pass == 2) prepare_three(c);
        }
        if (r.pass == 1 && !r.ncols) break;
    }
    if ((rc = write_json(&r, &b)) != 0) goto cleanup;
    rc = cairn_profile_from_json(out, b.ptr, b.len);

cleanup:
    for (int j = 0; j < r.ncols; j++) {
        cairn_free(r.c[j].name);
        cairn_free(r.c[j].v);
        cairn_catcount_free(r.c[j].cc);
    }
    cairn_free(r.c);
    cairn_free(types);
    cairn_buf_free(&b);
    return rc;
}
