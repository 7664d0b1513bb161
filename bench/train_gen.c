/*
 * train_gen.c - the data of the ML benchmark (bench/train): a synthetic
 * binary task in the manner of scikit-learn's make_classification and a
 * synthetic regression task, written deterministically from a seed.
 *
 *   train_gen OUTDIR [ROWS [FEATURES [TEST_ROWS [SEED]]]]
 *
 * Defaults: 1,000,000 training rows, 50 features, max(ROWS / 5, 100000)
 * test rows, seed 20240601. For TASK in {binary, regression} and SPLIT in
 * {train, test} it writes:
 *   TASK_SPLIT.csv       header f0..f{F-1},y; a missing value is an empty field
 *   TASK_SPLIT.rows.f32  the features, float32 little-endian, row-major
 *   TASK_SPLIT.cols.f32  the same values column-major
 *   TASK_SPLIT.y.f64     the labels, float64
 * and meta.txt (rows, test_rows, features, seed, format), and
 * binary_columns.txt: each binary-task column's name and kind
 * (informative, redundant or noise), one a line. The binary files
 * hold exactly the values the CSV text denotes (each value is printed with
 * four decimals and then parsed back with strtof), so a learner fed the
 * binary files and one fed the CSV see the same numbers; the benchmark
 * trains from the binary files so that peak RSS measures training, not
 * parsing, and times CSV reading separately.
 *
 * Binary task (make_classification's recipe): n_inf = 12F/50 informative
 * features drawn, per row, from one of 4 Gaussian clusters (2 per class)
 * centred on distinct vertices of the {-1,+1}^n_inf hypercube, each cluster
 * with its own random linear mixing matrix (entries uniform in [-1, 1]);
 * n_red = 8F/50 redundant features, fixed random linear combinations of the
 * informative ones; the rest standard normal noise; 2% of labels replaced by
 * a coin flip; columns in a fixed random order. Regression task: standard
 * normal features; y = a linear term in 10 of them (coefficients uniform in
 * [-3, 3]) plus 2 sin(pi x_a x_b) + 1.5 (x_c^2 - 1) + 2 x_e [x_d > 0] and
 * N(0, 1) noise. In both, 6 columns have 2% of their values missing (after
 * the label is computed). The row stream is one splitmix64 sequence: the test
 * rows follow the training rows, so every file depends on ROWS and SEED.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/common.h"
#include "cairn/core.h"

#define N_CLUSTERS 4
#define N_MISSING_COLS 6
#define MISSING_RATE 0.02
#define FLIP_Y 0.02

/* ---- random numbers ------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
    int have_spare;
    double spare;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unif(rng *r)
{
    return (double)(next_u64(r) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, both values used). */
static double gauss(rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u = unif(r), v = unif(r);
    double rad = sqrt(-2.0 * log(1.0 - u)); /* 1 - u in (0, 1] */
    r->spare = rad * sin(6.283185307179586 * v);
    r->have_spare = 1;
    return rad * cos(6.283185307179586 * v);
}

/* ---- the two tasks --------------------------------------------------------- */

typedef struct task {
    int nf, n_inf, n_red;
    int *perm;        /* (nf) output column of generated feature j */
    int *missing;     /* (nf) 1: the output column has missing values */
    double *centroid; /* binary: (N_CLUSTERS, n_inf) */
    double *mix;      /* binary: (N_CLUSTERS, n_inf, n_inf) */
    double *red;      /* binary: (n_inf, n_red) */
    double coef[10];  /* regression */
    int nl[5];        /* regression: the columns of the nonlinear terms */
} task;

/* Fisher-Yates permutation of 0..n-1. */
static void shuffle(rng *r, int *a, int n)
{
    for (int i = 0; i < n; i++)
        a[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next_u64(r) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Draws the fixed parameters of a task (column order, clusters, mixing). */
static void task_init(task *t, rng *r, int nf, int binary)
{
    memset(t, 0, sizeof(*t));
    t->nf = nf;
    t->perm = cairn_malloc(sizeof(int) * (size_t)nf);
    t->missing = cairn_calloc((size_t)nf, sizeof(int));
    shuffle(r, t->perm, nf);
    int *pick = cairn_malloc(sizeof(int) * (size_t)nf);
    shuffle(r, pick, nf);
    for (int k = 0; k < N_MISSING_COLS && k < nf; k++)
        t->missing[pick[k]] = 1;
    cairn_free(pick);
    if (binary) {
        t->n_inf = nf * 12 / 50 < 2 ? 2 : nf * 12 / 50;
        t->n_red = nf * 8 / 50;
        if (t->n_inf + t->n_red > nf) t->n_red = nf - t->n_inf;
        int ni = t->n_inf;
        /* distinct hypercube vertices: bit patterns drawn until new */
        uint64_t used[N_CLUSTERS];
        t->centroid = cairn_malloc(sizeof(double) * N_CLUSTERS * (size_t)ni);
        for (int c = 0; c < N_CLUSTERS; c++) {
            uint64_t v;
            int fresh;
            do {
                v = next_u64(r) & (ni >= 64 ? ~0ull : ((1ull << ni) - 1));
                fresh = 1;
                for (int d = 0; d < c; d++)
                    fresh &= used[d] != v;
            } while (!fresh);
            used[c] = v;
            for (int j = 0; j < ni; j++)
                t->centroid[c * ni + j] = ((v >> (j % 64)) & 1) ? 1.0 : -1.0;
        }
        t->mix = cairn_malloc(sizeof(double) * N_CLUSTERS * (size_t)ni * (size_t)ni);
        for (size_t i = 0; i < (size_t)N_CLUSTERS * (size_t)ni * (size_t)ni; i++)
            t->mix[i] = 2.0 * unif(r) - 1.0;
        t->red = cairn_malloc(sizeof(double) * (size_t)ni * (size_t)(t->n_red > 0 ? t->n_red : 1));
        for (int i = 0; i < ni * t->n_red; i++)
            t->red[i] = 2.0 * unif(r) - 1.0;
    } else {
        for (int j = 0; j < 10; j++)
            t->coef[j] = 6.0 * unif(r) - 3.0;
        for (int j = 0; j < 5; j++)
            t->nl[j] = (10 + j) % nf;
    }
}

static void task_free(task *t)
{
    cairn_free(t->perm);
    cairn_free(t->missing);
    cairn_free(t->centroid);
    cairn_free(t->mix);
    cairn_free(t->red);
}

/* One row: the generated features into g (nf doubles, generation order) and
 * the label into *y. */
static void gen_row(const task *t, rng *r, int binary, double *g, double *y, double *z)
{
    int nf = t->nf;
    if (binary) {
        int ni = t->n_inf, c = (int)(next_u64(r) % N_CLUSTERS);
        for (int j = 0; j < ni; j++)
            z[j] = gauss(r);
        const double *m = t->mix + (size_t)c * (size_t)ni * (size_t)ni;
        for (int j = 0; j < ni; j++) {
            double s = t->centroid[c * ni + j];
            for (int k = 0; k < ni; k++)
                s += z[k] * m[k * ni + j];
            g[j] = s;
        }
        for (int j = 0; j < t->n_red; j++) {
            double s = 0;
            for (int k = 0; k < ni; k++)
                s += g[k] * t->red[k * t->n_red + j];
            g[ni + j] = s;
        }
        for (int j = ni + t->n_red; j < nf; j++)
            g[j] = gauss(r);
        *y = (double)(c & 1); /* clusters 0, 2 are class 0; 1, 3 class 1 */
        if (unif(r) < FLIP_Y) *y = (double)(next_u64(r) & 1);
    } else {
        for (int j = 0; j < nf; j++)
            g[j] = gauss(r);
        double s = 0;
        for (int j = 0; j < 10 && j < nf; j++)
            s += t->coef[j] * g[j];
        const int *q = t->nl;
        s += 2.0 * sin(3.141592653589793 * g[q[0]] * g[q[1]]) + 1.5 * (g[q[2]] * g[q[2]] - 1.0) +
             (g[q[3]] > 0 ? 2.0 * g[q[4]] : 0.0);
        *y = s + gauss(r);
    }
}

/* ---- output ------------------------------------------------------------------ */

/* Writes v rounded to 4 decimals into p; returns the length (no NUL). */
static int fmt4(char *p, double v)
{
    long long k = llround(v * 1e4);
    int n = 0;
    if (k < 0) {
        p[n++] = '-';
        k = -k;
    }
    char tmp[24];
    int m = 0;
    long long ip = k / 10000, fp = k % 10000;
    do {
        tmp[m++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (m)
        p[n++] = tmp[--m];
    p[n++] = '.';
    p[n++] = (char)('0' + fp / 1000);
    p[n++] = (char)('0' + fp / 100 % 10);
    p[n++] = (char)('0' + fp / 10 % 10);
    p[n++] = (char)('0' + fp % 10);
    return n;
}

typedef struct out_files {
    FILE *csv, *rows, *y;
    char *buf;
    size_t len, cap;
} out_files;

static FILE *open_out(const char *dir, const char *base, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s%s", dir, base, ext);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "train_gen: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return f;
}

static void write_all(FILE *f, const void *p, size_t n, const char *what)
{
    if (n && fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "train_gen: writing %s: %s\n", what, strerror(errno));
        exit(1);
    }
}

/* Generates n rows of task t into DIR/BASE.{csv,rows.f32,cols.f32,y.f64}. */
static void write_split(const task *t, rng *r, int binary, const char *dir, const char *base,
                        size_t n)
{
    int nf = t->nf;
    FILE *csv = open_out(dir, base, ".csv");
    FILE *rows = open_out(dir, base, ".rows.f32");
    FILE *yf = open_out(dir, base, ".y.f64");
    float *X = cairn_malloc(sizeof(float) * n * (size_t)nf); /* row-major, for the column file */
    double *g = cairn_malloc(sizeof(double) * (size_t)nf);
    double *z = cairn_malloc(sizeof(double) * (size_t)nf);
    size_t cap = (size_t)1 << 20;
    char *buf = cairn_malloc(cap), field[32];
    size_t len = 0;
    for (int j = 0; j < nf; j++)
        len += (size_t)snprintf(buf + len, cap - len, "f%d,", j);
    len += (size_t)snprintf(buf + len, cap - len, "y\n");
    for (size_t i = 0; i < n; i++) {
        double y;
        gen_row(t, r, binary, g, &y, z);
        float *x = X + i * (size_t)nf;
        for (int j = 0; j < nf; j++)
            x[t->perm[j]] = (float)g[j];
        for (int j = 0; j < nf; j++) {
            if (t->missing[j] && unif(r) < MISSING_RATE) {
                x[j] = NAN;
                buf[len++] = ',';
                continue;
            }
            int m = fmt4(field, x[j]);
            field[m] = 0;
            x[j] = strtof(field, NULL); /* exactly what a reader of the text gets */
            memcpy(buf + len, field, (size_t)m);
            len += (size_t)m;
            buf[len++] = ',';
        }
        int m = binary ? snprintf(field, sizeof(field), "%d", (int)y) : fmt4(field, y);
        field[m] = 0;
        y = strtod(field, NULL);
        memcpy(buf + len, field, (size_t)m);
        len += (size_t)m;
        buf[len++] = '\n';
        if (len > cap - (size_t)nf * 32 - 64) {
            write_all(csv, buf, len, "csv");
            len = 0;
        }
        write_all(yf, &y, sizeof(y), "labels");
    }
    write_all(csv, buf, len, "csv");
    write_all(rows, X, sizeof(float) * n * (size_t)nf, "rows");
    /* column-major copy, one column at a time */
    FILE *cols = open_out(dir, base, ".cols.f32");
    float *col = cairn_malloc(sizeof(float) * (n ? n : 1));
    for (int j = 0; j < nf; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = X[i * (size_t)nf + (size_t)j];
        write_all(cols, col, sizeof(float) * n, "cols");
    }
    if (fclose(csv) || fclose(rows) || fclose(yf) || fclose(cols)) {
        fprintf(stderr, "train_gen: closing %s: %s\n", base, strerror(errno));
        exit(1);
    }
    cairn_free(col);
    cairn_free(buf);
    cairn_free(z);
    cairn_free(g);
    cairn_free(X);
}

/* DIR/binary_columns.txt: "f<j> <kind>" for each output column j. */
static void write_kinds(const task *t, const char *dir)
{
    FILE *f = open_out(dir, "binary_columns", ".txt");
    const char **kind = cairn_malloc(sizeof(char *) * (size_t)t->nf);
    for (int j = 0; j < t->nf; j++)
        kind[t->perm[j]] = j < t->n_inf              ? "informative"
                           : j < t->n_inf + t->n_red ? "redundant"
                                                     : "noise";
    for (int j = 0; j < t->nf; j++)
        fprintf(f, "f%d %s\n", j, kind[j]);
    cairn_free(kind);
    if (fclose(f)) {
        fprintf(stderr, "train_gen: closing binary_columns.txt: %s\n", strerror(errno));
        exit(1);
    }
}

static size_t arg_size(const char *s, const char *what)
{
    int64_t v;
    if (cairn_parse_i64(s, &v) || v < 0) {
        fprintf(stderr, "train_gen: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 6) {
        fprintf(stderr, "usage: train_gen OUTDIR [ROWS [FEATURES [TEST_ROWS [SEED]]]]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t rows = argc > 2 ? arg_size(argv[2], "rows") : 1000000;
    size_t nf = argc > 3 ? arg_size(argv[3], "features") : 50;
    size_t test_rows = rows / 5 < 100000 ? 100000 : rows / 5;
    if (argc > 4) test_rows = arg_size(argv[4], "test rows");
    uint64_t seed = argc > 5 ? (uint64_t)arg_size(argv[5], "seed") : 20240601u;
    if (rows < 2 || test_rows < 2 || nf < 15 || nf > 10000) {
        fprintf(stderr, "train_gen: need rows >= 2, test rows >= 2, 15 <= features <= 10000\n");
        return 2;
    }
    if (cairn_mkdir_p(dir, 0755)) {
        fprintf(stderr, "train_gen: %s\n", cairn_error_last()->msg);
        return 1;
    }
    for (int binary = 1; binary >= 0; binary--) {
        rng r = {seed ^ (binary ? 0x5EEDB1A7ull : 0x5EED4E60ull), 0, 0};
        task t;
        task_init(&t, &r, (int)nf, binary);
        const char *name = binary ? "binary" : "regression";
        char base[64];
        if (binary) write_kinds(&t, dir);
        snprintf(base, sizeof(base), "%s_train", name);
        write_split(&t, &r, binary, dir, base, rows);
        snprintf(base, sizeof(base), "%s_test", name);
        write_split(&t, &r, binary, dir, base, test_rows);
        task_free(&t);
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *m = fopen(path, "w");
    if (!m) {
        fprintf(stderr, "train_gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(m, "rows %zu\ntest_rows %zu\nfeatures %zu\nseed %llu\nformat 1\n", rows, test_rows, nf,
            (unsigned long long)seed);
    if (fclose(m)) return 1;
    return 0;
}
