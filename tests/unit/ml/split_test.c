/*
 * split_test.c - properties of the seeded splits and the PRNG: folds
 * partition the rows, fold sizes and per-class counts stay within one row of
 * ideal, train/test sizes follow sklearn's ceil rule, and a seed fixes the
 * result. Seeds are printed on failure; CAIRN_PROP_ITERS sets the count.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cairn/metrics.h"

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) fail_msg("%s -> %d: %s", #call, rc_, cairn_error_last()->msg);                    \
    } while (0)

static int prop_iters(void)
{
    const char *e = getenv("CAIRN_PROP_ITERS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? (int)v : 200;
}

/* Labels from 1..nc classes with skewed frequencies, as arbitrary doubles. */
static void random_labels(cairn_ml_rng *rng, double *y, size_t n, int nc)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t c = cairn_ml_rng_below(rng, (uint64_t)nc * (uint64_t)(nc + 1) / 2);
        int cls = 0;
        while (c >= (uint64_t)(cls + 1))
            c -= (uint64_t)(++cls); /* class i has weight i+1 */
        y[i] = 0.5 * cls - 3;
    }
}

static void test_rng(void **state)
{
    (void)state;
    cairn_ml_rng a, b;
    cairn_ml_rng_seed(&a, 123);
    cairn_ml_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        assert_true(cairn_ml_rng_next(&a) == cairn_ml_rng_next(&b));
    cairn_ml_rng_seed(&b, 124);
    assert_true(cairn_ml_rng_next(&a) != cairn_ml_rng_next(&b));
    cairn_ml_rng_seed(&a, 0); /* seed 0 must not give the all-zero state */
    assert_true(a.s[0] | a.s[1] | a.s[2] | a.s[3]);
    /* below(): in range and roughly uniform (chi-square, 9 dof, p ~ 1e-6) */
    int64_t hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = cairn_ml_rng_below(&a, 10);
        assert_true(v < 10);
        hist[v]++;
    }
    double chi = 0;
    for (int i = 0; i < 10; i++)
        chi += (hist[i] - 1e4) * (hist[i] - 1e4) / 1e4;
    assert_true(chi < 40);
    for (int i = 0; i < 1000; i++) {
        double u = cairn_ml_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
    }
    /* shuffle is a permutation */
    size_t idx[50];
    for (size_t i = 0; i < 50; i++)
        idx[i] = i;
    cairn_ml_rng_shuffle(&a, idx, 50);
    int seen[50] = {0}, moved = 0;
    for (size_t i = 0; i < 50; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 0);
}

/* Every row in exactly one fold, fold sizes within one of n / k. */
static void check_partition(const int *fold, size_t n, int k, uint64_t seed)
{
    size_t *size = cairn_calloc((size_t)k, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        if (fold[i] < 0 || fold[i] >= k)
            fail_msg("seed %#llx: row %zu in fold %d of %d", (unsigned long long)seed, i, fold[i],
                     k);
        size[fold[i]]++;
    }
    for (int f = 0; f < k; f++)
        if (size[f] != n / (size_t)k && size[f] != n / (size_t)k + 1)
            fail_msg("seed %#llx: fold %d has %zu rows of %zu (k=%d)", (unsigned long long)seed, f,
                     size[f], n, k);
    cairn_free(size);
}

static void test_kfold_plain(void **state)
{
    (void)state;
    int fold[23];
    OK(cairn_split_kfold(23, 5, NULL, NULL, fold));
    /* unshuffled: contiguous folds of 5,5,5,4,4 as sklearn KFold */
    int want[23] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4};
    assert_memory_equal(fold, want, sizeof(want));
    int iters = prop_iters();
    for (int it = 0; it < iters; it++) {
        uint64_t seed = 0xF01D0000ULL + (uint64_t)it;
        cairn_ml_rng rng;
        cairn_ml_rng_seed(&rng, seed);
        size_t n = 2 + (size_t)cairn_ml_rng_below(&rng, 500);
        int k = 2 + (int)cairn_ml_rng_below(&rng, n < 20 ? n - 1 : 19);
        int *f = cairn_malloc(n * sizeof(int));
        OK(cairn_split_kfold(n, k, NULL, &rng, f));
        check_partition(f, n, k, seed);
        /* the index arrays of each fold partition the rows too */
        size_t total_test = 0;
        for (int g = 0; g < k; g++) {
            size_t *tr, *te, ntr, nte;
            OK(cairn_split_fold_indices(f, n, g, &tr, &ntr, &te, &nte));
            assert_int_equal(ntr + nte, n);
            for (size_t i = 0; i < nte; i++)
                assert_int_equal(f[te[i]], g);
            for (size_t i = 0; i < ntr; i++)
                assert_int_not_equal(f[tr[i]], g);
            for (size_t i = 1; i < nte; i++)
                assert_true(te[i - 1] < te[i]);
            total_test += nte;
            cairn_free(tr);
            cairn_free(te);
        }
        assert_int_equal(total_test, n);
        cairn_free(f);
    }
}

static void test_kfold_stratified(void **state)
{
    (void)state;
    int iters = prop_iters();
    for (int it = 0; it < iters; it++) {
        uint64_t seed = 0x57A70000ULL + (uint64_t)it;
        cairn_ml_rng rng;
        cairn_ml_rng_seed(&rng, seed);
        size_t n = 10 + (size_t)cairn_ml_rng_below(&rng, 1000);
        int k = 2 + (int)cairn_ml_rng_below(&rng, 9);
        int nc = 1 + (int)cairn_ml_rng_below(&rng, 5);
        double *y = cairn_malloc(n * sizeof(double));
        int *f = cairn_malloc(n * sizeof(int)), *f2 = cairn_malloc(n * sizeof(int));
        random_labels(&rng, y, n, nc);
        cairn_ml_rng fork = rng;
        OK(cairn_split_kfold(n, k, y, &rng, f));
        check_partition(f, n, k, seed);
        /* each class: count in every fold within one row of n_c / k */
        for (int c = 0; c < nc; c++) {
            double label = 0.5 * c - 3;
            size_t n_c = 0, per[16] = {0};
            for (size_t i = 0; i < n; i++)
                if (y[i] == label) {
                    n_c++;
                    per[f[i]]++;
                }
            for (int g = 0; g < k; g++)
                if (fabs((double)per[g] - (double)n_c / k) >= 1)
                    fail_msg("seed %#llx: class %d has %zu rows in fold %d, ideal %.2f",
                             (unsigned long long)seed, c, per[g], g, (double)n_c / k);
        }
        /* the same rng state gives the same folds */
        OK(cairn_split_kfold(n, k, y, &fork, f2));
        assert_memory_equal(f, f2, n * sizeof(int));
        cairn_free(y);
        cairn_free(f);
        cairn_free(f2);
    }
    /* shuffling changes which rows go where, and the seed decides it */
    size_t n = 200;
    double y[200];
    int a[200], b[200];
    for (size_t i = 0; i < n; i++)
        y[i] = (double)(i % 3 == 0);
    cairn_ml_rng r1, r2;
    cairn_ml_rng_seed(&r1, 1);
    cairn_ml_rng_seed(&r2, 2);
    OK(cairn_split_kfold(n, 4, y, &r1, a));
    OK(cairn_split_kfold(n, 4, y, &r2, b));
    assert_true(memcmp(a, b, sizeof(a)) != 0);
}

static void test_train_test(void **state)
{
    (void)state;
    int iters = prop_iters();
    for (int it = 0; it < iters; it++) {
        uint64_t seed = 0x7E570000ULL + (uint64_t)it;
        cairn_ml_rng rng;
        cairn_ml_rng_seed(&rng, seed);
        size_t n = 4 + (size_t)cairn_ml_rng_below(&rng, 2000);
        double frac = 0.05 + 0.9 * cairn_ml_rng_uniform(&rng);
        int strat = it % 2;
        int nc = 1 + (int)cairn_ml_rng_below(&rng, 4);
        double *y = cairn_malloc(n * sizeof(double));
        random_labels(&rng, y, n, nc);
        size_t *tr, *te, ntr, nte;
        size_t want_test = (size_t)ceil(frac * (double)n);
        if (want_test >= n) want_test = 0; /* rejected below */
        int rc = cairn_split_train_test(n, frac, strat ? y : NULL, &rng, &tr, &ntr, &te, &nte);
        if (want_test == 0) {
            assert_int_equal(rc, CAIRN_EINVALID);
            assert_null(tr);
            cairn_free(y);
            continue;
        }
        OK(rc);
        if (nte != want_test || ntr != n - want_test)
            fail_msg("seed %#llx: %zu/%zu rows, want test %zu", (unsigned long long)seed, ntr, nte,
                     want_test);
        char *seen = cairn_calloc(n, 1);
        for (size_t i = 0; i < nte; i++)
            seen[te[i]]++;
        for (size_t i = 0; i < ntr; i++)
            seen[tr[i]]++;
        for (size_t i = 0; i < n; i++)
            if (seen[i] != 1)
                fail_msg("seed %#llx: row %zu used %d times", (unsigned long long)seed, i, seen[i]);
        if (strat)
            for (int c = 0; c < nc; c++) {
                double label = 0.5 * c - 3;
                size_t n_c = 0, t_c = 0;
                for (size_t i = 0; i < n; i++)
                    n_c += y[i] == label;
                for (size_t i = 0; i < nte; i++)
                    t_c += y[te[i]] == label;
                double ideal = (double)nte * (double)n_c / (double)n;
                if (fabs((double)t_c - ideal) >= 1)
                    fail_msg("seed %#llx: class %d has %zu test rows, ideal %.3f",
                             (unsigned long long)seed, c, t_c, ideal);
            }
        cairn_free(seen);
        cairn_free(y);
        cairn_free(tr);
        cairn_free(te);
    }
}

static void test_split_errors(void **state)
{
    (void)state;
    int f[4];
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, 3);
    assert_int_equal(cairn_split_kfold(4, 1, NULL, NULL, f), CAIRN_EINVALID);
    assert_int_equal(cairn_split_kfold(4, 5, NULL, NULL, f), CAIRN_EINVALID);
    double y[4] = {0, 1, NAN, 1};
    assert_int_equal(cairn_split_kfold(4, 2, y, &rng, f), CAIRN_EINVALID);
    size_t *tr, *te, ntr, nte;
    assert_int_equal(cairn_split_train_test(4, 0, NULL, &rng, &tr, &ntr, &te, &nte),
                     CAIRN_EINVALID);
    assert_int_equal(cairn_split_train_test(4, 0.5, NULL, NULL, &tr, &ntr, &te, &nte),
                     CAIRN_EINVALID);
    assert_int_equal(cairn_split_train_test(1, 0.5, NULL, &rng, &tr, &ntr, &te, &nte),
                     CAIRN_EINVALID);
    assert_int_equal(cairn_split_train_test(4, 0.5, y, &rng, &tr, &ntr, &te, &nte), CAIRN_EINVALID);
    assert_null(tr);
    assert_null(te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_kfold_plain),
        cmocka_unit_test(test_kfold_stratified),
        cmocka_unit_test(test_train_test),
        cmocka_unit_test(test_split_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
