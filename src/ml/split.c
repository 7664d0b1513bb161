/*
 * split.c - the seeded PRNG of ml/ and the row splits built on it:
 * train/test (optionally stratified) and k-fold (plain or stratified).
 *
 * Key idea: no hidden RNG state. The caller owns a cairn_ml_rng
 * (xoshiro256** seeded through splitmix64) and passes it in, so a split is
 * a pure function of (n, labels, seed). Stratified k-fold deals the rows,
 * grouped class after class, round-robin over the folds: every class's
 * count per fold is within one of n_c / k and fold sizes within one of n / k,
 * the same allocation sklearn's StratifiedKFold makes; shuffling only
 * changes which rows of a class land in which fold.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/metrics.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)

/* ---- PRNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void cairn_ml_rng_seed(cairn_ml_rng *rng, uint64_t seed)
{
    /* splitmix64 never yields four zero words, the one state xoshiro forbids */
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t cairn_ml_rng_next(cairn_ml_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cairn_ml_rng_below(cairn_ml_rng *rng, uint64_t bound)
{
    if (bound <= 1) return 0;
    /* reject the low (2^64 mod bound) values so every residue is equally likely */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = cairn_ml_rng_next(rng);
        if (r >= threshold) return r % bound;
    }
}

double cairn_ml_rng_uniform(cairn_ml_rng *rng)
{
    return (double)(cairn_ml_rng_next(rng) >> 11) * 0x1.0p-53;
}

void cairn_ml_rng_shuffle(cairn_ml_rng *rng, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)cairn_ml_rng_below(rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* ---- class grouping ------------------------------------------------------- */

static size_t *alloc_idx(size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / sizeof(size_t)) {
        ERR(CAIRN_ETOOBIG, "too many rows to split");
        return NULL;
    }
    size_t *p = cairn_try_malloc(n * sizeof(size_t));
    if (!p) ERR(CAIRN_ENOMEM, "out of memory for %zu row indices", n);
    return p;
}

struct labelled {
    double label;
    size_t row;
};

static int by_label_row(const void *pa, const void *pb)
{
    const struct labelled *a = pa, *b = pb;
    if (a->label != b->label) return (a->label > b->label) - (a->label < b->label);
    return (a->row > b->row) - (a->row < b->row);
}

/*
 * Rows grouped by class: order_out (n) lists the rows of the smallest label
 * first, each class in ascending row order, then shuffled within the class
 * when rng is given; starts_out (n_classes + 1) bounds each class. Caller
 * frees both. CAIRN_EINVALID on a NaN label.
 */
static int group_classes(const double *labels, size_t n, cairn_ml_rng *rng, size_t **order_out,
                         size_t **starts_out, size_t *nc_out)
{
    *order_out = *starts_out = NULL;
    for (size_t i = 0; i < n; i++)
        if (isnan(labels[i])) return ERR(CAIRN_EINVALID, "stratify label is nan at row %zu", i);
    if (n > SIZE_MAX / sizeof(struct labelled) - 1)
        return ERR(CAIRN_ETOOBIG, "too many rows to stratify");
    struct labelled *l = cairn_try_malloc(n * sizeof(*l));
    size_t *order = alloc_idx(n), *starts = alloc_idx(n + 1);
    if (!l || !order || !starts) {
        cairn_free(l);
        cairn_free(order);
        cairn_free(starts);
        return ERR(CAIRN_ENOMEM, "out of memory grouping %zu rows by class", n);
    }
    for (size_t i = 0; i < n; i++)
        l[i] = (struct labelled){labels[i], i};
    qsort(l, n, sizeof(*l), by_label_row);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || l[i].label != l[i - 1].label) starts[nc++] = i;
        order[i] = l[i].row;
    }
    starts[nc] = n;
    cairn_free(l);
    if (rng)
        for (size_t c = 0; c < nc; c++)
            cairn_ml_rng_shuffle(rng, order + starts[c], starts[c + 1] - starts[c]);
    *order_out = order;
    *starts_out = starts;
    *nc_out = nc;
    return 0;
}

/* ---- train/test ------------------------------------------------------------ */

/*
 * Test rows per class: floor of the proportional share, then the rows still
 * missing go one each to the classes with the largest remainders (ties: the
 * earlier class). Each share is thus floor or ceil of its ideal. take (nc).
 */
static void allocate_test(const size_t *starts, size_t nc, size_t n, size_t n_test, size_t *take)
{
    size_t given = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t nc_rows = starts[c + 1] - starts[c];
        take[c] = (size_t)((double)n_test * (double)nc_rows / (double)n);
        if (take[c] > nc_rows) take[c] = nc_rows;
        given += take[c];
    }
    while (given < n_test) {
        size_t best = nc;
        double best_rem = -1;
        for (size_t c = 0; c < nc; c++) {
            size_t nc_rows = starts[c + 1] - starts[c];
            if (take[c] >= nc_rows) continue;
            double rem = (double)n_test * (double)nc_rows / (double)n - (double)take[c];
            if (rem > best_rem) {
                best_rem = rem;
                best = c;
            }
        }
        take[best]++;
        given++;
    }
}

int cairn_split_train_test(size_t n, double test_fraction, const double *stratify,
                           cairn_ml_rng *rng, size_t **train_out, size_t *n_train,
                           size_t **test_out, size_t *n_test)
{
    *train_out = *test_out = NULL;
    if (!rng) return ERR(CAIRN_EINVALID, "train/test split needs an rng");
    if (!(test_fraction > 0 && test_fraction < 1))
        return ERR(CAIRN_EINVALID, "test fraction must be in (0, 1), got %g", test_fraction);
    size_t nt = (size_t)ceil(test_fraction * (double)n);
    if (nt == 0 || nt >= n)
        return ERR(CAIRN_EINVALID, "a split of %zu rows with test fraction %g leaves a side empty",
                   n, test_fraction);
    size_t *train = alloc_idx(n - nt), *test = alloc_idx(nt);
    size_t *order = NULL, *starts = NULL, *take = NULL;
    int rc = 0;
    if (!train || !test) {
        rc = cairn_error_last()->code;
        goto cleanup;
    }
    if (!stratify) {
        if (!(order = alloc_idx(n))) {
            rc = cairn_error_last()->code;
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        cairn_ml_rng_shuffle(rng, order, n);
        memcpy(test, order, nt * sizeof(size_t));
        memcpy(train, order + nt, (n - nt) * sizeof(size_t));
    } else {
        size_t nc;
        if ((rc = group_classes(stratify, n, rng, &order, &starts, &nc))) goto cleanup;
        if (!(take = alloc_idx(nc))) {
            rc = cairn_error_last()->code;
            goto cleanup;
        }
        allocate_test(starts, nc, n, nt, take);
        size_t a = 0, b = 0;
        for (size_t c = 0; c < nc; c++)
            for (size_t i = starts[c]; i < starts[c + 1]; i++) {
                if (i - starts[c] < take[c])
                    test[a++] = order[i];
                else
                    train[b++] = order[i];
            }
        /* mix the classes so neither side comes grouped by label */
        cairn_ml_rng_shuffle(rng, test, nt);
        cairn_ml_rng_shuffle(rng, train, n - nt);
    }
    *train_out = train;
    *test_out = test;
    *n_train = n - nt;
    *n_test = nt;
    train = test = NULL;
cleanup:
    cairn_free(train);
    cairn_free(test);
    cairn_free(order);
    cairn_free(starts);
    cairn_free(take);
    return rc;
}

/* ---- k-fold ----------------------------------------------------------------- */

int cairn_split_kfold(size_t n, int k, const double *stratify, cairn_ml_rng *rng, int *fold_out)
{
    if (k < 2 || (size_t)k > n)
        return ERR(CAIRN_EINVALID, "k-fold needs 2 <= k <= n (%zu rows), got k = %d", n, k);
    size_t *order = NULL, *starts = NULL;
    int rc = 0;
    if (!stratify) {
        if (!(order = alloc_idx(n))) return cairn_error_last()->code;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        if (rng) cairn_ml_rng_shuffle(rng, order, n);
        /* sklearn KFold: the first n % k folds get one extra row */
        size_t base = n / (size_t)k, extra = n % (size_t)k, pos = 0;
        for (size_t f = 0; f < (size_t)k; f++) {
            size_t size = base + (f < extra);
            for (size_t j = 0; j < size; j++)
                fold_out[order[pos++]] = (int)f;
        }
    } else {
        size_t nc;
        if ((rc = group_classes(stratify, n, rng, &order, &starts, &nc))) return rc;
        /* deal the class-grouped rows round-robin: position p goes to p % k */
        for (size_t p = 0; p < n; p++)
            fold_out[order[p]] = (int)(p % (size_t)k);
    }
    cairn_free(order);
    cairn_free(starts);
    return 0;
}

int cairn_split_fold_indices(const int *fold_of, size_t n, int fold, size_t **train_out,
                             size_t *n_train, size_t **test_out, size_t *n_test)
{
    *train_out = *test_out = NULL;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        nt += fold_of[i] == fold;
    size_t *train = alloc_idx(n - nt), *test = alloc_idx(nt);
    if (!train || !test) {
        cairn_free(train);
        cairn_free(test);
        return cairn_error_last()->code;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (fold_of[i] == fold)
            test[a++] = i;
        else
            train[b++] = i;
    }
    *train_out = train;
    *test_out = test;
    *n_train = b;
    *n_test = a;
    return 0;
}
