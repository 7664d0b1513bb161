/*
 * train_gbdt.c - GBDT training and prediction speed beside xgboost.
 *
 * Builds a synthetic binary task (default 200,000 training rows and 100,000
 * test rows of 50 features, 10 of them informative with interactions, 2% of
 * some columns missing) with a fixed seed, trains cairn's GBDT (100 rounds,
 * 31 leaves leaf-wise, lr 0.1, lambda 1, 255 bins) and xgboost
 * `tree_method=hist, grow_policy=lossguide` with the same parameters
 * (Debian's /usr/bin/python3, xgboost reading the same float32 file), both
 * on 2 threads, and prints training time, test AUC and prediction rows/s at
 * a batch of 100,000 rows (cairn_trees_predict vs inplace_predict), with the
 * ratios. Not built by CMake; compile against a build tree:
 *   cc -O2 -fopenmp -Iinclude bench/train_gbdt.c BUILD/libcairn_ml.a BUILD/libcairn_core.a \
 *      -ljansson -lyaml -lcrypto -lpthread -lm -o train_gbdt
 *   ./train_gbdt [TRAIN_ROWS] [THREADS] [--no-peer]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/gbdt.h"
#include "cairn/trees.h"

#define NF 50
#define NTEST 100000

static const char *PEER =
    "import sys, time\n"
    "import numpy as np, xgboost as xgb\n"
    "from sklearn.metrics import roc_auc_score\n"
    "d, ntr, nf, nt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])\n"
    "X = np.fromfile(d + '/X.f32', dtype=np.float32).reshape(-1, nf)\n"
    "y = np.fromfile(d + '/y.f64')\n"
    "P = dict(tree_method='hist', grow_policy='lossguide', max_leaves=31, max_depth=0,\n"
    "         eta=0.1, reg_lambda=1.0, min_child_weight=1.0, max_bin=256,\n"
    "         objective='binary:logistic', nthread=nt)\n"
    "t0 = time.perf_counter()\n"
    "dtr = xgb.DMatrix(X[:ntr], label=y[:ntr], nthread=nt)\n"
    "b = xgb.train(P, dtr, 100)\n"
    "t1 = time.perf_counter()\n"
    "Xte = np.ascontiguousarray(X[ntr:])\n"
    "p = b.inplace_predict(Xte)\n"
    "best = 1e9\n"
    "for _ in range(3):\n"
    "    t = time.perf_counter(); b.inplace_predict(Xte); best = min(best, time.perf_counter() - "
    "t)\n"
    "print('train_s %.4f' % (t1 - t0))\n"
    "print('auc %.6f' % roc_auc_score(y[ntr:], p))\n"
    "print('pred_rows_s %.1f' % (len(Xte) / best))\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rs = 12345;
static double unif(void)
{
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}
static double gauss(void)
{
    return sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif());
}

static const double *g_s;
static int cmp(const void *a, const void *b)
{
    double x = g_s[*(const size_t *)a], y = g_s[*(const size_t *)b];
    return (x > y) - (x < y);
}
static double auc(const double *s, const double *y, size_t n)
{
    size_t *o = malloc(sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    g_s = s;
    qsort(o, n, sizeof(size_t), cmp);
    double r = 0, np = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[o[j]] == s[o[i]])
            j++;
        for (size_t k = i; k < j; k++)
            if (y[o[k]] > 0.5) r += (double)(i + j + 1) / 2, np++;
        i = j;
    }
    free(o);
    return (r - np * (np + 1) / 2) / (np * ((double)n - np));
}

/* Columns of rows [r0, r0+n) of the row-major matrix as a frame. */
static cairn_frame *frame_of(const float *X, size_t r0, size_t n)
{
    cairn_frame *f;
    cairn_frame_new(&f, n);
    float *col = malloc(sizeof(float) * n);
    char name[16];
    for (int j = 0; j < NF; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = X[(r0 + i) * NF + (size_t)j];
        snprintf(name, sizeof(name), "f%d", j);
        cairn_frame_add_f32(f, name, col);
    }
    free(col);
    return f;
}

int main(int argc, char **argv)
{
    size_t ntr = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    int nt = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2;
    size_t n = ntr + NTEST;
    float *X = malloc(sizeof(float) * n * NF);
    double *y = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        float *x = X + i * NF;
        for (int j = 0; j < NF; j++)
            x[j] = (float)gauss();
        double z = 0;
        for (int j = 0; j < 10; j++)
            z += (j % 2 ? 0.6 : -0.4) * x[j];
        z += 0.8 * x[0] * x[1] + sin(2 * x[2]) + fabs(x[3]) - 0.8 + (x[4] > 0.5 ? 0.7 : 0);
        y[i] = z + log(unif() / (1 - unif() + 1e-12) + 1e-12) * 0.5 > 0;
        for (int j = 10; j < 20; j++)
            if (unif() < 0.02) x[j] = NAN;
        if (unif() < 0.02) x[5] = NAN;
    }
    char dir[] = "/tmp/cairn-gbdt-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256];
    snprintf(path, sizeof(path), "%s/X.f32", dir);
    FILE *fh = fopen(path, "wb");
    fwrite(X, sizeof(float), n * NF, fh);
    fclose(fh);
    snprintf(path, sizeof(path), "%s/y.f64", dir);
    fh = fopen(path, "wb");
    fwrite(y, sizeof(double), n, fh);
    fclose(fh);

    cairn_frame *tr = frame_of(X, 0, ntr), *te = frame_of(X, ntr, NTEST);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = CAIRN_GBDT_BINARY;
    o.n_rounds = 100;
    o.max_leaves = 31;
    o.learning_rate = 0.1;
    o.lambda_l2 = 1;
    o.min_child_samples = 1;
    o.min_child_weight = 1;
    o.n_threads = nt;
    cairn_trees *m;
    double t0 = now();
    if (cairn_gbdt_train(&m, tr, y, NULL, NULL, &o, NULL)) {
        fprintf(stderr, "train: %s\n", cairn_error_last()->msg);
        return 1;
    }
    double train_s = now() - t0;
    double *p = malloc(sizeof(double) * NTEST);
    cairn_trees_predict(m, te, p, nt);
    double a = auc(p, y + ntr, NTEST), best = 1e9;
    for (int r = 0; r < 3; r++) {
        t0 = now();
        cairn_trees_predict(m, te, p, nt);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    double pred = NTEST / best;

    char cmd[512];
    snprintf(path, sizeof(path), "%s/peer.py", dir);
    fh = fopen(path, "w");
    fputs(PEER, fh);
    fclose(fh);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %zu %d %d", path, dir, ntr, NF, nt);
    FILE *pp = argc > 3 && !strcmp(argv[3], "--no-peer") ? NULL : popen(cmd, "r");
    double xt = NAN, xa = NAN, xp = NAN;
    char line[256];
    while (pp && fgets(line, sizeof(line), pp)) {
        sscanf(line, "train_s %lf", &xt);
        sscanf(line, "auc %lf", &xa);
        sscanf(line, "pred_rows_s %lf", &xp);
    }
    if (pp) pclose(pp);
    printf("gbdt %zu x %d, 100 rounds, 31 leaves, %d threads\n", ntr, NF, nt);
    printf("%-22s %12s %12s %8s\n", "figure", "cairn", "xgboost", "ratio");
    printf("%-22s %12.3f %12.3f %8.2f\n", "train seconds", train_s, xt, train_s / xt);
    printf("%-22s %12.4f %12.4f %8.4f\n", "test auc", a, xa, a - xa);
    printf("%-22s %12.0f %12.0f %8.2f\n", "predict rows/s", pred, xp, pred / xp);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd)) return 1;
    cairn_trees_free(m);
    cairn_frame_free(tr);
    cairn_frame_free(te);
    free(X);
    free(y);
    free(p);
    return 0;
}
