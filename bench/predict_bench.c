/*
 * predict_bench.c - the cairn side of the prediction figures of bench/train.
 *
 *   bench_predict_bench DIR THREADS TRAIN_ROWS
 *
 * Trains the benchmark's 100-tree binary model (31 leaves leaf-wise,
 * learning rate 0.1, lambda 1, min_child_weight 1) on the first TRAIN_ROWS
 * rows of DIR/binary_train (files of bench_train_gen), then measures
 * prediction over the rows of DIR/binary_test at batch sizes 1, 32, 1024 and
 * 100,000 (capped at the test rows):
 *   - batch 1: cairn_trees_predict_row on the row-major test matrix, one
 *     row after another (the serving path: no allocation, no threads);
 *   - larger batches: cairn_trees_predict on frames of that many rows,
 *     made before the clock starts, with THREADS threads.
 * Each figure repeats whole passes until at least MIN_SECONDS have passed
 * and reports rows per second (and, for batch 1, microseconds per row).
 * Before timing, the batch predictions are checked to equal the per-row
 * ones bit for bit. The matching xgboost measurement is `train_peer.py
 * predict`, which trains xgboost with the same parameters on the same rows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/gbdt.h"
#include "cairn/trees.h"

#define MIN_SECONDS 1.0

static double now_s(void)
{
    return (double)cairn_monotonic_ns() * 1e-9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "predict_bench: %s: %s\n", what, msg);
    exit(1);
}

/* Reads rows, test_rows and features from DIR/meta.txt. */
static void read_meta(const char *dir, size_t *rows, size_t *test_rows, int *nf)
{
    char path[4096], key[32];
    unsigned long long v;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) die(path, strerror(errno));
    *rows = *test_rows = 0;
    *nf = 0;
    while (fscanf(f, "%31s %llu", key, &v) == 2) {
        if (!strcmp(key, "rows")) *rows = (size_t)v;
        if (!strcmp(key, "test_rows")) *test_rows = (size_t)v;
        if (!strcmp(key, "features")) *nf = (int)v;
    }
    fclose(f);
    if (!*rows || !*test_rows || !*nf) die(path, "incomplete");
}

/* Reads `count` items of `size` bytes at byte offset `off` of DIR/NAME into p. */
static void read_at(const char *dir, const char *name, size_t off, void *p, size_t size,
                    size_t count)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) die(path, strerror(errno));
    if (fseeko(f, (off_t)off, SEEK_SET) || fread(p, size, count, f) != count)
        die(path, "short read");
    fclose(f);
}

/* A frame of the first n rows of a column-major file of `total` rows. */
static cairn_frame *load_cols(const char *dir, const char *name, size_t n, size_t total, int nf)
{
    float *col = cairn_malloc(sizeof(float) * n);
    char cname[16];
    cairn_frame *fr;
    if (cairn_frame_new(&fr, n)) die("frame", cairn_error_last()->msg);
    for (int j = 0; j < nf; j++) {
        read_at(dir, name, (size_t)j * total * sizeof(float), col, sizeof(float), n);
        snprintf(cname, sizeof(cname), "f%d", j);
        if (cairn_frame_add_f32(fr, cname, col)) die("frame", cairn_error_last()->msg);
    }
    cairn_free(col);
    return fr;
}

int main(int argc, char **argv)
{
    int64_t threads, train_rows;
    if (argc != 4 || cairn_parse_i64(argv[2], &threads) || cairn_parse_i64(argv[3], &train_rows) ||
        threads < 1 || train_rows < 2) {
        fprintf(stderr, "usage: bench_predict_bench DIR THREADS TRAIN_ROWS\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t rows, test_rows;
    int nf;
    read_meta(dir, &rows, &test_rows, &nf);
    size_t ntr = (size_t)train_rows < rows ? (size_t)train_rows : rows;

    cairn_frame *X = load_cols(dir, "binary_train.cols.f32", ntr, rows, nf);
    double *y = cairn_malloc(sizeof(double) * ntr);
    read_at(dir, "binary_train.y.f64", 0, y, sizeof(double), ntr);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = CAIRN_GBDT_BINARY;
    o.n_rounds = 100;
    o.learning_rate = 0.1;
    o.lambda_l2 = 1.0;
    o.min_child_samples = 1;
    o.min_child_weight = 1.0;
    o.max_leaves = 31;
    o.max_bins = 255;
    o.n_threads = (int)threads;
    cairn_trees *m;
    if (cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL)) die("train", cairn_error_last()->msg);
    cairn_frame_free(X);
    cairn_free(y);

    size_t nte = test_rows < 100000 ? test_rows : 100000;
    cairn_frame *T = load_cols(dir, "binary_test.cols.f32", nte, test_rows, nf);
    float *R = cairn_malloc(sizeof(float) * nte * (size_t)nf);
    read_at(dir, "binary_test.rows.f32", 0, R, sizeof(float), nte * (size_t)nf);
    double *ref = cairn_malloc(sizeof(double) * nte), *p = cairn_malloc(sizeof(double) * nte);

    /* the batch path must agree with the per-row path */
    for (size_t i = 0; i < nte; i++)
        cairn_trees_predict_row(m, R + i * (size_t)nf, ref + i);
    if (cairn_trees_predict(m, T, p, (int)threads)) die("predict", cairn_error_last()->msg);
    if (memcmp(p, ref, sizeof(double) * nte)) die("check", "batch and per-row predictions differ");

    printf("trees %d\n", cairn_trees_n_trees(m));
    printf("train_rows %zu\n", ntr);
    printf("test_rows %zu\n", nte);

    /* batch 1 */
    volatile double sink = 0;
    size_t done = 0;
    double t0 = now_s(), el;
    do {
        double acc = 0, v;
        for (size_t i = 0; i < nte; i++) {
            cairn_trees_predict_row(m, R + i * (size_t)nf, &v);
            acc += v;
        }
        sink += acc;
        done += nte;
        el = now_s() - t0;
    } while (el < MIN_SECONDS);
    printf("b1_rows_s %.1f\n", (double)done / el);
    printf("b1_us_per_row %.4f\n", el / (double)done * 1e6);

    static const size_t batches[] = {32, 1024, 100000};
    for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
        size_t b = batches[bi] < nte ? batches[bi] : nte, nb = nte / b;
        cairn_frame **F = cairn_malloc(sizeof(cairn_frame *) * nb);
        size_t *idx = cairn_malloc(sizeof(size_t) * b);
        for (size_t k = 0; k < nb; k++) {
            for (size_t i = 0; i < b; i++)
                idx[i] = k * b + i;
            if (cairn_frame_take(&F[k], T, idx, b)) die("take", cairn_error_last()->msg);
        }
        done = 0;
        t0 = now_s();
        do {
            for (size_t k = 0; k < nb; k++)
                if (cairn_trees_predict(m, F[k], p + k * b, (int)threads))
                    die("predict", cairn_error_last()->msg);
            done += nb * b;
            el = now_s() - t0;
        } while (el < MIN_SECONDS);
        if (memcmp(p, ref, sizeof(double) * nb * b)) die("check", "batched predictions differ");
        printf("b%zu_rows_s %.1f\n", batches[bi], (double)done / el);
        printf("b%zu_size %zu\n", batches[bi], b);
        for (size_t k = 0; k < nb; k++)
            cairn_frame_free(F[k]);
        cairn_free(F);
        cairn_free(idx);
    }
    (void)sink;
    cairn_free(p);
    cairn_free(ref);
    cairn_free(R);
    cairn_frame_free(T);
    cairn_trees_free(m);
    return 0;
}
