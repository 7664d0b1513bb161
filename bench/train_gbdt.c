/*
 * train_gbdt.c - the cairn side of the training figures of bench/train.
 *
 * One measurement per process, so that the peak RSS it reports
 * (getrusage ru_maxrss) belongs to that measurement alone:
 *
 *   bench_train_gbdt gbdt DIR TASK POLICY THREADS
 *       TASK binary|regression, POLICY depthwise|lossguide. Loads
 *       DIR/TASK_train.cols.f32 (written by bench_train_gen) into a frame of
 *       float32 columns, trains cairn_gbdt_train (100 rounds, learning rate
 *       0.1, lambda 1, min_child_weight 1, 255 bins; depthwise = max_depth 6
 *       with up to 64 leaves, lossguide = 31 leaves leaf-wise), then predicts
 *       TASK_test and prints train_s, the test AUC or RMSE and peak_rss_kb.
 *   bench_train_gbdt logistic DIR ROWS THREADS COEF_OUT
 *       L2 logistic regression (C = 1, intercept, no scaling, the default
 *       tolerance as sklearn's side keeps its default) on the first
 *       ROWS rows of binary_train, its redundant columns left out
 *       (binary_columns.txt) and missing values set to 0; prints fit_s
 *       and writes the intercept and the coefficients, one a line, to
 *       COEF_OUT for the driver to compare with scikit-learn's.
 *   bench_train_gbdt real CSV THREADS
 *       The breast-cancer CSV of tests/fixtures/csv (a metadata first line,
 *       30 features, the target last): rows i % 4 == 3 are the test set;
 *       lossguide 31 leaves as above; prints the test AUC.
 *
 * Output is "key value" lines on stdout, parsed by bench/train.
 * The matching xgboost / scikit-learn measurements are bench/train_peer.py.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cairn/core.h"
#include "cairn/csv.h"
#include "cairn/gbdt.h"
#include "cairn/linear.h"
#include "cairn/metrics.h"
#include "cairn/trees.h"

static double now_s(void)
{
    return (double)cairn_monotonic_ns() * 1e-9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void die(const char *what)
{
    fprintf(stderr, "train_gbdt: %s: %s\n", what, cairn_error_last()->msg);
    exit(1);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "train_gbdt: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int parse_int(const char *s)
{
    int64_t v;
    if (cairn_parse_i64(s, &v) || v < 0 || v > 1 << 30) {
        fprintf(stderr, "train_gbdt: bad number '%s'\n", s);
        exit(2);
    }
    return (int)v;
}

/* Reads "rows", "test_rows" and "features" from DIR/meta.txt. */
static void read_meta(const char *dir, size_t *rows, size_t *test_rows, int *nf)
{
    char path[4096], key[32];
    unsigned long long v;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) die_errno(path);
    *rows = *test_rows = 0;
    *nf = 0;
    while (fscanf(f, "%31s %llu", key, &v) == 2) {
        if (!strcmp(key, "rows")) *rows = (size_t)v;
        if (!strcmp(key, "test_rows")) *test_rows = (size_t)v;
        if (!strcmp(key, "features")) *nf = (int)v;
    }
    fclose(f);
    if (!*rows || !*test_rows || !*nf) {
        fprintf(stderr, "train_gbdt: %s is incomplete\n", path);
        exit(1);
    }
}

/* A frame of the first n rows of DIR/BASE.cols.f32 (total rows per column:
 * total), columns f0..f{nf-1} (only those with keep[j] when keep is not
 * NULL), read one column at a time. */
static cairn_frame *load_cols(const char *dir, const char *base, size_t n, size_t total, int nf,
                              const int *keep)
{
    char path[4096], name[16];
    snprintf(path, sizeof(path), "%s/%s.cols.f32", dir, base);
    FILE *f = fopen(path, "rb");
    if (!f) die_errno(path);
    float *col = cairn_malloc(sizeof(float) * n);
    cairn_frame *fr;
    if (cairn_frame_new(&fr, n)) die("frame");
    for (int j = 0; j < nf; j++) {
        if (keep && !keep[j]) continue;
        if (fseeko(f, (off_t)((size_t)j * total * sizeof(float)), SEEK_SET) ||
            fread(col, sizeof(float), n, f) != n)
            die_errno(path);
        snprintf(name, sizeof(name), "f%d", j);
        if (cairn_frame_add_f32(fr, name, col)) die("frame");
    }
    fclose(f);
    cairn_free(col);
    return fr;
}

/* The first n labels of DIR/BASE.y.f64 (caller frees). */
static double *load_y(const char *dir, const char *base, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.y.f64", dir, base);
    FILE *f = fopen(path, "rb");
    if (!f) die_errno(path);
    double *y = cairn_malloc(sizeof(double) * n);
    if (fread(y, sizeof(double), n, f) != n) die_errno(path);
    fclose(f);
    return y;
}

/* The benchmark's GBDT parameters (xgboost's defaults where they differ). */
static cairn_gbdt_opts gbdt_opts(cairn_gbdt_objective obj, int depthwise, int threads)
{
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = obj;
    o.n_rounds = 100;
    o.learning_rate = 0.1;
    o.lambda_l2 = 1.0;
    o.min_child_samples = 1;
    o.min_child_weight = 1.0;
    o.max_bins = 255;
    o.n_threads = threads;
    if (depthwise) {
        o.max_depth = 6;
        o.max_leaves = 64;
    } else {
        o.max_depth = 0;
        o.max_leaves = 31;
    }
    return o;
}

static int total_leaves(const cairn_trees *m)
{
    int leaves = 0;
    for (int t = 0; t < cairn_trees_n_trees(m); t++) {
        int nn;
        const cairn_tree_node *nodes = cairn_trees_tree(m, t, &nn);
        for (int i = 0; i < nn; i++)
            leaves += nodes[i].left < 0;
    }
    return leaves;
}

static int run_gbdt(const char *dir, const char *task, const char *policy, int threads)
{
    int binary = !strcmp(task, "binary");
    if (!binary && strcmp(task, "regression")) {
        fprintf(stderr, "train_gbdt: task is binary or regression\n");
        return 2;
    }
    int depthwise = !strcmp(policy, "depthwise");
    if (!depthwise && strcmp(policy, "lossguide")) {
        fprintf(stderr, "train_gbdt: policy is depthwise or lossguide\n");
        return 2;
    }
    size_t rows, test_rows;
    int nf;
    read_meta(dir, &rows, &test_rows, &nf);
    char base[64];
    snprintf(base, sizeof(base), "%s_train", task);
    cairn_frame *X = load_cols(dir, base, rows, rows, nf, NULL);
    double *y = load_y(dir, base, rows);
    long data_kb = peak_rss_kb();

    cairn_gbdt_opts o =
        gbdt_opts(binary ? CAIRN_GBDT_BINARY : CAIRN_GBDT_REGRESSION, depthwise, threads);
    cairn_trees *m;
    double t0 = now_s();
    if (cairn_gbdt_train(&m, X, y, NULL, NULL, &o, NULL)) die("gbdt train");
    double train_s = now_s() - t0;
    cairn_frame_free(X);
    cairn_free(y);

    snprintf(base, sizeof(base), "%s_test", task);
    cairn_frame *T = load_cols(dir, base, test_rows, test_rows, nf, NULL);
    double *yt = load_y(dir, base, test_rows);
    double *p = cairn_malloc(sizeof(double) * test_rows);
    t0 = now_s();
    if (cairn_trees_predict(m, T, p, threads)) die("predict");
    double pred_s = now_s() - t0;
    double metric;
    if (binary ? cairn_metrics_roc_auc(yt, p, test_rows, &metric)
               : cairn_metrics_rmse(yt, p, test_rows, &metric))
        die("metric");
    printf("train_s %.4f\n", train_s);
    printf("%s %.6f\n", binary ? "auc" : "rmse", metric);
    printf("peak_rss_kb %ld\n", peak_rss_kb());
    printf("data_rss_kb %ld\n", data_kb);
    printf("test_predict_s %.4f\n", pred_s);
    printf("trees %d\n", cairn_trees_n_trees(m));
    printf("leaves %d\n", total_leaves(m));
    cairn_free(p);
    cairn_free(yt);
    cairn_frame_free(T);
    cairn_trees_free(m);
    return 0;
}

static int run_logistic(const char *dir, size_t n, int threads, const char *coef_out)
{
    size_t rows, test_rows;
    int nf;
    read_meta(dir, &rows, &test_rows, &nf);
    if (n > rows) n = rows;
    /* the redundant columns are linear combinations of the informative
     * ones (up to rounding): without them the L2 problem is well
     * conditioned, so both solvers can reach its optimum */
    char path[4096], name[32], kind[32];
    snprintf(path, sizeof(path), "%s/binary_columns.txt", dir);
    FILE *kf = fopen(path, "r");
    if (!kf) die_errno(path);
    int *keep = cairn_calloc((size_t)nf, sizeof(int));
    for (int j = 0; j < nf; j++) {
        if (fscanf(kf, "%31s %31s", name, kind) != 2) {
            fprintf(stderr, "train_gbdt: %s: too few lines\n", path);
            exit(1);
        }
        keep[j] = strcmp(kind, "redundant") != 0;
    }
    fclose(kf);
    cairn_frame *X = load_cols(dir, "binary_train", n, rows, nf, keep);
    cairn_free(keep);
    for (int j = 0; j < X->ncols; j++)
        for (size_t i = 0; i < n; i++)
            if (isnan(X->cols[j].f32[i])) X->cols[j].f32[i] = 0.0f;
    double *y = load_y(dir, "binary_train", n);
    int32_t *cls = cairn_malloc(sizeof(int32_t) * n);
    for (size_t i = 0; i < n; i++)
        cls[i] = (int32_t)y[i];
    cairn_logistic_opts o = CAIRN_LOGISTIC_OPTS_INIT;
    o.penalty = CAIRN_LOGISTIC_L2;
    o.C = 1.0;
    o.fit_intercept = true;
    cairn_logistic *m;
    omp_set_num_threads(threads); /* the fit uses OpenMP's default team */
    double t0 = now_s();
    if (cairn_logistic_fit(&m, X, cls, &o)) die("logistic fit");
    double fit_s = now_s() - t0;
    FILE *f = fopen(coef_out, "w");
    if (!f) die_errno(coef_out);
    const double *w = cairn_logistic_coef(m);
    fprintf(f, "%.12g\n", cairn_logistic_intercept(m)[0]);
    for (int j = 0; j < cairn_logistic_nfeatures(m); j++)
        fprintf(f, "%.12g\n", w[j]);
    if (fclose(f)) die_errno(coef_out);
    printf("fit_s %.4f\n", fit_s);
    printf("n_iter %d\n", cairn_logistic_n_iter(m));
    printf("converged %d\n", cairn_logistic_converged(m) ? 1 : 0);
    printf("peak_rss_kb %ld\n", peak_rss_kb());
    cairn_logistic_free(m);
    cairn_free(cls);
    cairn_free(y);
    cairn_frame_free(X);
    return 0;
}

static int run_real(const char *csv, int threads)
{
    cairn_csv_opts co = CAIRN_CSV_OPTS_INIT;
    co.has_header = 0;
    co.skip_lines = 1;
    co.threads = threads;
    cairn_frame *all;
    if (cairn_csv_read_file(&all, csv, &co)) die("read");
    if (all->ncols < 2) {
        fprintf(stderr, "train_gbdt: %s has fewer than 2 columns\n", csv);
        return 1;
    }
    int nf = all->ncols - 1;
    /* features: every column but the last, as a frame of their own */
    cairn_frame *X;
    if (cairn_frame_new(&X, all->nrows)) die("frame");
    double *col = cairn_malloc(sizeof(double) * all->nrows);
    for (int j = 0; j < nf; j++) {
        for (size_t i = 0; i < all->nrows; i++)
            col[i] = cairn_frame_get(all, j, i);
        if (cairn_frame_add_f64(X, all->cols[j].name, col)) die("frame");
    }
    size_t n = all->nrows, ntr = 0, nte = 0;
    size_t *tr = cairn_malloc(sizeof(size_t) * n), *te = cairn_malloc(sizeof(size_t) * n);
    double *ytr = cairn_malloc(sizeof(double) * n), *yte = cairn_malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        double v = cairn_frame_get(all, nf, i);
        if (i % 4 == 3) {
            te[nte] = i;
            yte[nte++] = v;
        } else {
            tr[ntr] = i;
            ytr[ntr++] = v;
        }
    }
    cairn_frame *Xtr, *Xte;
    if (cairn_frame_take(&Xtr, X, tr, ntr) || cairn_frame_take(&Xte, X, te, nte)) die("take");
    cairn_gbdt_opts o = gbdt_opts(CAIRN_GBDT_BINARY, 0, threads);
    cairn_trees *m;
    double t0 = now_s();
    if (cairn_gbdt_train(&m, Xtr, ytr, NULL, NULL, &o, NULL)) die("gbdt train");
    double train_s = now_s() - t0;
    double *p = cairn_malloc(sizeof(double) * nte), auc;
    if (cairn_trees_predict(m, Xte, p, threads)) die("predict");
    if (cairn_metrics_roc_auc(yte, p, nte, &auc)) die("auc");
    printf("auc %.6f\n", auc);
    printf("train_s %.4f\n", train_s);
    printf("rows %zu\ntest_rows %zu\n", ntr, nte);
    cairn_trees_free(m);
    cairn_frame_free(Xtr);
    cairn_frame_free(Xte);
    cairn_frame_free(X);
    cairn_frame_free(all);
    cairn_free(p);
    cairn_free(col);
    cairn_free(tr);
    cairn_free(te);
    cairn_free(ytr);
    cairn_free(yte);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "gbdt"))
        return run_gbdt(argv[2], argv[3], argv[4], parse_int(argv[5]));
    if (argc == 6 && !strcmp(argv[1], "logistic"))
        return run_logistic(argv[2], (size_t)parse_int(argv[3]), parse_int(argv[4]), argv[5]);
    if (argc == 4 && !strcmp(argv[1], "real")) return run_real(argv[2], parse_int(argv[3]));
    fprintf(stderr,
            "usage: bench_train_gbdt gbdt DIR binary|regression depthwise|lossguide THREADS\n"
            "       bench_train_gbdt logistic DIR ROWS THREADS COEF_OUT\n"
            "       bench_train_gbdt real CSV THREADS\n");
    return 2;
}
