/*
 * drift_main.c - bench/drift's Cairn side: drift statistics of N rows x
 * 100 numeric + 10 categorical features, reference vs shifted current data,
 * from a deterministic generator that bench/drift_peer.py reproduces bit
 * for bit (splitmix64 -> uniforms -> Irwin-Hall(4) normals).
 *
 *   drift_main exact  ROWS OUT.tsv EDGES.bin   exact statistics on full columns
 *   drift_main sketch ROWS OUT.tsv EDGES.bin   streaming sketches (bounded memory)
 *   drift_main hot                              ns per value / per 20-feature row
 *
 * Timings exclude data generation: each mode first runs the same loops
 * generating the data only, and reports (total - generation). Features run
 * in parallel with OpenMP; each feature's result depends on that feature's
 * data alone, so the output does not depend on the thread count.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cairn/drift.h"

#define NUM 100
#define CAT 10
#define K 20
#define NBINS 10
#define CHUNK 65536

double cairn_drift__quantile_sorted(const double *v, size_t n, double q);
int cairn_drift__sort(double *v, size_t n);

static uint64_t splitmix(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(uint64_t key) { return (double)(splitmix(key) >> 11) * 0x1p-53; }

/* value of row i of numeric feature f; side 0 = reference, 1 = current */
static void gen_num(int f, int side, size_t start, size_t n, double *out)
{
    double mu = f * 0.5, sd = 1 + f % 4, shift = (f % 5) * 0.05, sc = 1 + (f % 3) * 0.1;
    uint64_t base = ((uint64_t)(side * 256 + f) << 40);
    for (size_t r = 0; r < n; r++) {
        uint64_t k = (base + (uint64_t)(start + r)) * 4;
        double g = (((unif(k) + unif(k + 1)) + unif(k + 2)) + unif(k + 3) - 2.0) * 1.7320508075688772;
        out[r] = side ? mu + sd * (g * sc + shift) : mu + sd * g;
    }
}

static void gen_cat(int f, int side, size_t start, size_t n, int *out)
{
    uint64_t base = ((uint64_t)(side * 256 + 128 + f) << 40);
    for (size_t r = 0; r < n; r++) {
        double u = unif(base + start + r);
        out[r] = (int)((side && f % 2 ? u : u * u) * K);
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

struct numres {
    double ks, ksp, w, psi, js;
};
struct catres {
    double chi2, chi2p, js, psi;
};

static char names[K][16];

/* The categorical statistics from counts (keys: categories present on either side). */
static void cat_stats(const double *ref, const double *cur, struct catres *o)
{
    double r[K], c[K];
    size_t k = 0;
    for (int i = 0; i < K; i++)
        if (ref[i] > 0 || cur[i] > 0) {
            r[k] = ref[i];
            c[k++] = cur[i];
        }
    cairn_drift_test t;
    cairn_drift_chi2(c, r, k, &t);
    o->chi2 = t.statistic;
    o->chi2p = t.pvalue;
    cairn_drift_js(r, c, k, &o->js);
    cairn_drift_psi(r, c, k, &o->psi);
}

/* Counts categories through the bounded counter, as the monitor does. */
static void cat_counts(int f, int side, size_t rows, int gen_only, double *counts, int *buf)
{
    cairn_catcount *cc;
    cairn_catcount_new(&cc, NULL);
    for (size_t s = 0; s < rows; s += CHUNK) {
        size_t n = rows - s < CHUNK ? rows - s : CHUNK;
        gen_cat(f, side, s, n, buf);
        if (gen_only) continue;
        for (size_t i = 0; i < n; i++) cairn_catcount_add(cc, names[buf[i]], strlen(names[buf[i]]));
    }
    for (int i = 0; i < K; i++) counts[i] = (double)cairn_catcount_get(cc, names[i]);
    cairn_catcount_free(cc);
}

static void write_results(const char *path, const struct numres *nr, const struct catres *cr)
{
    FILE *o = fopen(path, "w");
    if (!o) {
        perror(path);
        exit(2);
    }
    for (int f = 0; f < NUM; f++)
        fprintf(o, "num\t%d\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\n", f, nr[f].ks, nr[f].ksp, nr[f].w,
                nr[f].psi, nr[f].js);
    for (int f = 0; f < CAT; f++)
        fprintf(o, "cat\t%d\t%.17g\t%.17g\t%.17g\t%.17g\n", f, cr[f].chi2, cr[f].chi2p, cr[f].js,
                cr[f].psi);
    fclose(o);
}

/* One pass over all features; gen_only = 1 measures generation alone. */
static void run_exact(size_t rows, int gen_only, struct numres *nr, struct catres *cr,
                      double (*edges)[NBINS + 1], int *nedges)
{
#pragma omp parallel
    {
        double *a = malloc(rows * sizeof(double)), *b = malloc(rows * sizeof(double));
        int *cb = malloc(CHUNK * sizeof(int));
#pragma omp for schedule(dynamic, 1)
        for (int f = 0; f < NUM + CAT; f++) {
            if (f >= NUM) {
                double rc[K], cc[K];
                cat_counts(f - NUM, 0, rows, gen_only, rc, cb);
                cat_counts(f - NUM, 1, rows, gen_only, cc, cb);
                if (!gen_only) cat_stats(rc, cc, &cr[f - NUM]);
                continue;
            }
            gen_num(f, 0, 0, rows, a);
            gen_num(f, 1, 0, rows, b);
            if (gen_only) continue;
            cairn_drift__sort(a, rows);
            cairn_drift__sort(b, rows);
            cairn_drift_test t;
            cairn_drift_ks_sorted(a, rows, b, rows, &t);
            nr[f].ks = t.statistic;
            nr[f].ksp = t.pvalue;
            cairn_drift_wasserstein_sorted(a, rows, b, rows, &nr[f].w);
            /* edges: np.quantile(ref, np.linspace(0, 1, 11)), deduplicated */
            int ne = 0;
            for (int i = 0; i <= NBINS; i++) {
                double q = i == NBINS ? 1.0 : i * (1.0 / NBINS);
                double e = cairn_drift__quantile_sorted(a, rows, q);
                if (ne == 0 || e != edges[f][ne - 1]) edges[f][ne++] = e;
            }
            nedges[f] = ne;
            double rc[NBINS] = {0}, cc[NBINS] = {0};
            /* both columns are sorted: bin by walking the edges */
            for (size_t i = 0; i < rows; i++) rc[cairn_drift_bin(edges[f], ne, a[i])]++;
            for (size_t i = 0; i < rows; i++) cc[cairn_drift_bin(edges[f], ne, b[i])]++;
            cairn_drift_psi(rc, cc, (size_t)ne - 1, &nr[f].psi);
            cairn_drift_js(rc, cc, (size_t)ne - 1, &nr[f].js);
        }
        free(a);
        free(b);
        free(cb);
    }
}

static void run_sketch(size_t rows, int gen_only, struct numres *nr, struct catres *cr,
                       double (*edges)[NBINS + 1], const int *nedges)
{
#pragma omp parallel
    {
        double *buf = malloc(CHUNK * sizeof(double));
        int *cb = malloc(CHUNK * sizeof(int));
#pragma omp for schedule(dynamic, 1)
        for (int f = 0; f < NUM + CAT; f++) {
            if (f >= NUM) {
                double rc[K], cc[K];
                cat_counts(f - NUM, 0, rows, gen_only, rc, cb);
                cat_counts(f - NUM, 1, rows, gen_only, cc, cb);
                if (!gen_only) cat_stats(rc, cc, &cr[f - NUM]);
                continue;
            }
            cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
            o.center = f * 0.5; /* the profile's mean and std */
            o.scale = 1 + f % 4;
            o.n_edges = nedges[f];
            o.edges = edges[f];
            cairn_sketch *s[2];
            cairn_sketch_new(&s[0], &o);
            cairn_sketch_new(&s[1], &o);
            for (int side = 0; side < 2; side++)
                for (size_t st = 0; st < rows; st += CHUNK) {
                    size_t n = rows - st < CHUNK ? rows - st : CHUNK;
                    gen_num(f, side, st, n, buf);
                    if (!gen_only) cairn_sketch_add_n(s[side], buf, n, 1);
                }
            if (!gen_only) {
                cairn_drift_test t;
                cairn_drift_ks_sketch(s[0], s[1], &t);
                nr[f].ks = t.statistic;
                nr[f].ksp = t.pvalue;
                cairn_drift_wasserstein_sketch(s[0], s[1], &nr[f].w);
                cairn_drift_psi_sketch(s[0], s[1], &nr[f].psi);
                const uint64_t *rb, *cbins;
                int k = cairn_sketch_bins(s[0], &rb, NULL, NULL);
                cairn_sketch_bins(s[1], &cbins, NULL, NULL);
                double rc[NBINS], cc[NBINS];
                for (int i = 0; i < k; i++) {
                    rc[i] = (double)rb[i];
                    cc[i] = (double)cbins[i];
                }
                cairn_drift_js(rc, cc, (size_t)k, &nr[f].js);
            }
            cairn_sketch_free(s[0]);
            cairn_sketch_free(s[1]);
        }
        free(buf);
        free(cb);
    }
}

static void hot(void)
{
    size_t n = 1 << 20;
    double *v = malloc(n * 20 * sizeof(double));
    for (int f = 0; f < 20; f++) gen_num(f, 1, 0, n, v + (size_t)f * n);
    double e[11];
    for (int i = 0; i <= 10; i++) e[i] = -3 + 0.6 * i;
    cairn_sketch_opts o = CAIRN_SKETCH_OPTS_INIT;
    o.n_edges = 11;
    o.edges = e;
    cairn_sketch *s[20];
    for (int f = 0; f < 20; f++) cairn_sketch_new(&s[f], &o);
    double t0 = now();
    for (size_t i = 0; i < n; i++) cairn_sketch_add(s[0], v[i]);
    double t1 = now();
    /* rows: 20 features, row-major access as the server sees them */
    double *rowv = malloc(20 * sizeof(double));
    double t2 = now();
    for (size_t r = 0; r < n; r++) {
        for (int f = 0; f < 20; f++) rowv[f] = v[(size_t)f * n + r];
        for (int f = 0; f < 20; f++) cairn_sketch_add(s[f], rowv[f]);
    }
    double t3 = now();
    printf("hot\tadd_ns_per_value\t%.2f\n", (t1 - t0) / (double)n * 1e9);
    printf("hot\trow20_ns\t%.1f\n", (t3 - t2) / (double)n * 1e9);
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_sketch_serialize(s[0], &b);
    printf("hot\tserialized_bytes\t%zu\n", b.len);
    cairn_buf_free(&b);
    for (int f = 0; f < 20; f++) cairn_sketch_free(s[f]);
    free(v);
    free(rowv);
}

int main(int argc, char **argv)
{
    for (int i = 0; i < K; i++) snprintf(names[i], sizeof names[i], "cat_%02d", i);
    if (argc >= 2 && strcmp(argv[1], "hot") == 0) {
        hot();
        return 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: drift_main exact|sketch ROWS OUT.tsv EDGES.bin | hot\n");
        return 2;
    }
    size_t rows = (size_t)strtoull(argv[2], NULL, 10);
    static struct numres nr[NUM];
    static struct catres cr[CAT];
    static double edges[NUM][NBINS + 1];
    static int nedges[NUM];
    double tg, tt;
    if (strcmp(argv[1], "exact") == 0) {
        double t0 = now();
        run_exact(rows, 1, nr, cr, edges, nedges);
        tg = now() - t0;
        t0 = now();
        run_exact(rows, 0, nr, cr, edges, nedges);
        tt = now() - t0;
        FILE *e = fopen(argv[4], "wb");
        fwrite(nedges, sizeof nedges, 1, e);
        fwrite(edges, sizeof edges, 1, e);
        fclose(e);
    } else {
        FILE *e = fopen(argv[4], "rb");
        if (!e || fread(nedges, sizeof nedges, 1, e) != 1 || fread(edges, sizeof edges, 1, e) != 1) {
            fprintf(stderr, "drift_main: cannot read %s (run exact first)\n", argv[4]);
            return 2;
        }
        fclose(e);
        double t0 = now();
        run_sketch(rows, 1, nr, cr, edges, nedges);
        tg = now() - t0;
        t0 = now();
        run_sketch(rows, 0, nr, cr, edges, nedges);
        tt = now() - t0;
    }
    write_results(argv[3], nr, cr);
    printf("%s\tthreads\t%d\n", argv[1], omp_get_max_threads());
    printf("%s\tgen_s\t%.3f\n", argv[1], tg);
    printf("%s\ttotal_s\t%.3f\n", argv[1], tt);
    printf("%s\tstats_s\t%.3f\n", argv[1], tt - tg);
    printf("%s\tpeak_rss_mb\t%.1f\n", argv[1], peak_rss_kb() / 1024.0);
    return 0;
}
