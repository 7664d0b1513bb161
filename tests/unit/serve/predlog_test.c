/*
 * predlog_test.c - the prediction log: records read back equal to what was
 * appended (numeric f64/f32, categorical, missing values), sampling
 * fraction, rotation and the max_bytes bound, sequence continued after a
 * reopen, torn and corrupted tails skipped with earlier records kept,
 * concurrent appenders, drops counted when the buffer is full. Prints the
 * append cost of a 1-row, 30-feature record (no assertion on time).
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn/core.h"
#include "cairn/frame.h"
#include "cairn/predlog.h"
#include "support.h"

static const char *cats[] = {"red", "green", "blue", ""};

/* A frame of nrows rows: x0 f64 (missing every 7th value), x1 f32, color
 * categorical (missing every 5th), and `extra` more f64 columns. Values
 * derive from seed so the reader side can recompute them. */
static cairn_frame *make_frame(size_t nrows, int extra, uint64_t seed)
{
    cairn_frame *f = NULL;
    assert_int_equal(cairn_frame_new(&f, nrows), 0);
    double *d = cairn_calloc(nrows + 1, sizeof(double));
    float *g = cairn_calloc(nrows + 1, sizeof(float));
    int32_t *c = cairn_calloc(nrows + 1, sizeof(int32_t));
    for (size_t i = 0; i < nrows; i++) {
        uint64_t v = seed * 31 + i;
        d[i] = (v % 7 == 0) ? NAN : (double)v * 0.1 - 3.0;
        g[i] = (float)v / 3.0f;
        c[i] = (v % 5 == 0) ? -1 : (int32_t)(v % 4);
    }
    assert_int_equal(cairn_frame_add_f64(f, "x0", d), 0);
    assert_int_equal(cairn_frame_add_f32(f, "x1", g), 0);
    assert_int_equal(cairn_frame_add_cat(f, "color", c, cats, 4), 0);
    for (int j = 0; j < extra; j++) {
        char name[32];
        snprintf(name, sizeof(name), "feature_%02d", j);
        for (size_t i = 0; i < nrows; i++)
            d[i] = (double)(seed + i) * (j + 1) / 7.0;
        assert_int_equal(cairn_frame_add_f64(f, name, d), 0);
    }
    cairn_free(d);
    cairn_free(g);
    cairn_free(c);
    return f;
}

static void rec_for(cairn_predlog_rec *r, char *rid, size_t ridcap, uint64_t i, cairn_frame *f,
                    double *out, int k)
{
    snprintf(rid, ridcap, "req-%06llu", (unsigned long long)i);
    memset(r, 0, sizeof(*r));
    r->request_id = rid;
    r->time_ns = 1700000000000000000LL + (int64_t)i * 1000;
    r->deployment = (i % 3 == 0) ? NULL : "churn";
    r->model = (i % 2) ? "bc" : "churn-model";
    r->version = (int64_t)(i % 4) - 1;
    r->latency_ns = (int64_t)(i * 997);
    r->inputs = f;
    r->k = k;
    for (size_t j = 0; j < f->nrows * (size_t)k; j++)
        out[j] = (double)i + (double)j / 8.0;
    r->outputs = k ? out : NULL;
}

/* Checks that e is the record number i written by rec_for/make_frame. */
static void check_entry(const cairn_predlog_entry *e, uint64_t i, int extra, int k)
{
    char rid[32];
    snprintf(rid, sizeof(rid), "req-%06llu", (unsigned long long)i);
    assert_string_equal(e->request_id, rid);
    assert_int_equal(e->time_ns, 1700000000000000000LL + (int64_t)i * 1000);
    assert_string_equal(e->deployment, (i % 3 == 0) ? "" : "churn");
    assert_string_equal(e->model, (i % 2) ? "bc" : "churn-model");
    assert_int_equal(e->version, (int64_t)(i % 4) - 1);
    assert_int_equal(e->latency_ns, (int64_t)(i * 997));
    size_t nrows = 1 + i % 4;
    assert_int_equal(e->nrows, nrows);
    assert_int_equal(e->nfeatures, 3 + extra);
    assert_int_equal(e->k, k);
    assert_string_equal(e->features[0].name, "x0");
    assert_string_equal(e->features[1].name, "x1");
    assert_string_equal(e->features[2].name, "color");
    assert_false(e->features[0].categorical);
    assert_false(e->features[1].categorical);
    assert_true(e->features[2].categorical);
    for (size_t r = 0; r < nrows; r++) {
        uint64_t v = i * 31 + r;
        if (v % 7 == 0)
            assert_true(isnan(e->features[0].num[r]));
        else
            assert_true(e->features[0].num[r] == (double)v * 0.1 - 3.0);
        assert_true(e->features[1].num[r] == (double)((float)v / 3.0f));
        if (v % 5 == 0)
            assert_null(e->features[2].cat[r]);
        else
            assert_string_equal(e->features[2].cat[r], cats[v % 4]);
        for (int j = 0; j < extra; j++)
            assert_true(e->features[3 + j].num[r] == (double)(i + r) * (j + 1) / 7.0);
        for (int o = 0; o < k; o++)
            assert_true(e->outputs[r * (size_t)k + (size_t)o] ==
                        (double)i + (double)(r * (size_t)k + (size_t)o) / 8.0);
    }
}

/* Appends records first..first+n-1 (1..4 rows each). */
static void append_range(cairn_predlog *l, uint64_t first, uint64_t n, int extra, int k)
{
    double out[64];
    char rid[32];
    for (uint64_t i = first; i < first + n; i++) {
        cairn_frame *f = make_frame(1 + i % 4, extra, i);
        cairn_predlog_rec r;
        rec_for(&r, rid, sizeof(rid), i, f, out, k);
        assert_int_equal(cairn_predlog_append(l, &r), 0);
        cairn_frame_free(f);
    }
}

/* Reads the whole dir, checking each record is the next expected one from
 * `first`. Returns the count; *corrupt gets the reader's corrupt count. */
static uint64_t read_all(const char *dir, uint64_t first, int extra, int k, uint64_t *corrupt)
{
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    const cairn_predlog_entry *e;
    uint64_t n = 0;
    int rc;
    while ((rc = cairn_predlog_reader_next(rd, &e)) == 1) {
        check_entry(e, first + n, extra, k);
        n++;
    }
    assert_int_equal(rc, 0);
    if (corrupt) *corrupt = cairn_predlog_reader_corrupt(rd);
    cairn_predlog_reader_free(rd);
    return n;
}

static cairn_predlog *open_log(const char *dir, size_t seg, size_t max, size_t buf, double sample)
{
    cairn_predlog_opts o = CAIRN_PREDLOG_OPTS_INIT;
    o.dir = dir;
    if (seg) o.segment_bytes = seg;
    if (max) o.max_bytes = max;
    if (buf) o.buffer_bytes = buf;
    o.sample = sample;
    o.flush_ms = 20;
    cairn_predlog *l = NULL;
    int rc = cairn_predlog_open(&l, &o);
    if (rc) fprintf(stderr, "open: %s\n", cairn_error_last()->msg);
    assert_int_equal(rc, 0);
    return l;
}

typedef struct segs {
    int n;
    uint64_t seq[4096];
    uint64_t size[4096];
    uint64_t total;
} segs;

static void list_dir(const char *dir, segs *s)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long q;
        char tail[8];
        if (sscanf(e->d_name, "pred-%12llu.%3s", &q, tail) != 2 || strcmp(tail, "log")) continue;
        char p[1024];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        assert_int_equal(stat(p, &st), 0);
        int at = s->n++;
        while (at > 0 && s->seq[at - 1] > q) { /* insertion sort by sequence */
            s->seq[at] = s->seq[at - 1];
            s->size[at] = s->size[at - 1];
            at--;
        }
        s->seq[at] = q;
        s->size[at] = (uint64_t)st.st_size;
        s->total += (uint64_t)st.st_size;
    }
    closedir(d);
}

static void last_segment_path(const char *dir, char *out, size_t cap)
{
    segs s;
    list_dir(dir, &s);
    assert_true(s.n > 0);
    snprintf(out, cap, "%s/pred-%012llu.log", dir, (unsigned long long)s.seq[s.n - 1]);
}

static void test_round_trip(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_predlog *l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 0, 500, 2, 2);
    cairn_predlog_stats st;
    cairn_predlog_stats_get(l, &st);
    assert_int_equal(st.appended, 500);
    assert_int_equal(st.dropped, 0);
    cairn_predlog_close(l);
    uint64_t corrupt = 9;
    assert_int_equal(read_all(dir, 0, 2, 2, &corrupt), 500);
    assert_int_equal(corrupt, 0);

    /* since: only records at or after the 300th's time */
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 1700000000000000000LL + 300 * 1000), 0);
    const cairn_predlog_entry *e;
    uint64_t n = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1)
        check_entry(e, 300 + n++, 2, 2);
    assert_int_equal(n, 200);
    cairn_predlog_reader_free(rd);

    /* a missing dir reads as empty */
    char missing[1024];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    assert_int_equal(cairn_predlog_reader_open(&rd, missing, 0), 0);
    assert_int_equal(cairn_predlog_reader_next(rd, &e), 0);
    cairn_predlog_reader_free(rd);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_options_and_args(void **state)
{
    (void)state;
    cairn_predlog *l = (cairn_predlog *)1;
    cairn_predlog_opts o = CAIRN_PREDLOG_OPTS_INIT;
    assert_int_equal(cairn_predlog_open(&l, &o), CAIRN_EINVALID); /* no dir */
    assert_null(l);
    char *dir = cairn_test_tmpdir("predlog");
    o.dir = dir;
    o.sample = 1.5;
    assert_int_equal(cairn_predlog_open(&l, &o), CAIRN_EINVALID);
    o.sample = 1;
    o.segment_bytes = 1000;
    assert_int_equal(cairn_predlog_open(&l, &o), CAIRN_EINVALID);
    o.segment_bytes = 8192;
    o.max_bytes = 4096;
    assert_int_equal(cairn_predlog_open(&l, &o), CAIRN_EINVALID);
    o.max_bytes = 1 << 20;
    assert_int_equal(cairn_predlog_open(&l, &o), 0);
    cairn_predlog_rec r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(cairn_predlog_append(l, &r), CAIRN_EINVALID); /* no inputs */
    cairn_frame *f = make_frame(1, 0, 1);
    r.inputs = f;
    r.k = 1; /* outputs NULL */
    assert_int_equal(cairn_predlog_append(l, &r), CAIRN_EINVALID);
    /* a record bigger than half a segment is dropped as too big */
    cairn_frame *big = make_frame(1000, 0, 1);
    r.inputs = big;
    r.k = 0;
    assert_int_equal(cairn_predlog_append(l, &r), CAIRN_ETOOBIG);
    /* NULL strings are fine and read back as "" */
    r.inputs = f;
    assert_int_equal(cairn_predlog_append(l, &r), 0);
    cairn_predlog_stats st;
    cairn_predlog_stats_get(l, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.appended, 1);
    cairn_predlog_close(l);
    cairn_frame_free(f);
    cairn_frame_free(big);
    cairn_predlog_reader *rd = NULL;
    const cairn_predlog_entry *e;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    assert_int_equal(cairn_predlog_reader_next(rd, &e), 1);
    assert_string_equal(e->request_id, "");
    assert_string_equal(e->model, "");
    assert_true(e->time_ns > 1600000000000000000LL); /* 0 = now */
    assert_int_equal(e->k, 0);
    assert_int_equal(cairn_predlog_reader_next(rd, &e), 0);
    cairn_predlog_reader_free(rd);
    cairn_predlog_close(NULL);
    cairn_predlog_reader_free(NULL);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_sampling(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_frame *f = make_frame(1, 0, 3);
    cairn_predlog_rec r;
    memset(&r, 0, sizeof(r));
    r.inputs = f;
    r.model = "m";
    const double fractions[] = {0.0, 0.1, 0.5, 1.0};
    const int n = 100000;
    for (size_t t = 0; t < CAIRN_ARRAY_LEN(fractions); t++) {
        double p = fractions[t];
        cairn_predlog *l = open_log(dir, 0, 0, 0, p);
        for (int i = 0; i < n; i++)
            cairn_predlog_append(l, &r);
        cairn_predlog_stats st;
        cairn_predlog_stats_get(l, &st);
        uint64_t kept = st.appended + st.dropped;
        assert_int_equal(kept + st.sampled_out, (uint64_t)n);
        double got = (double)kept / n, sd = sqrt(p * (1 - p) / n);
        printf("sample %.2f: logged %.4f of %d (tolerance %.4f)\n", p, got, n, 6 * sd);
        assert_true(fabs(got - p) <= 6 * sd + 1e-12);
        cairn_predlog_close(l);
    }
    cairn_frame_free(f);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_rotation_and_bound(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    const size_t seg = 4096, max = 16384;
    cairn_predlog *l = open_log(dir, seg, max, 0, 1.0);
    segs s;
    for (int round = 0; round < 10; round++) {
        append_range(l, (uint64_t)round * 200, 200, 4, 3);
        assert_int_equal(cairn_predlog_flush(l), 0);
        list_dir(dir, &s);
        assert_true(s.total <= max);
        for (int i = 0; i < s.n; i++)
            assert_true(s.size[i] <= seg);
    }
    cairn_predlog_stats st;
    cairn_predlog_stats_get(l, &st);
    assert_int_equal(st.written, 2000);
    assert_int_equal(st.segments, (uint64_t)s.n);
    assert_int_equal(st.disk_bytes, s.total);
    assert_true(st.bytes_written > max); /* old segments were deleted */
    cairn_predlog_close(l);
    list_dir(dir, &s);
    assert_true(s.n >= 3);
    assert_true(s.total <= max);
    for (int i = 1; i < s.n; i++)
        assert_int_equal(s.seq[i], s.seq[i - 1] + 1);
    /* what is left is the newest records, each segment readable alone */
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    const cairn_predlog_entry *e;
    uint64_t n = 0, first = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1) {
        if (n == 0)
            assert_int_equal(sscanf(e->request_id, "req-%llu", (unsigned long long *)&first), 1);
        check_entry(e, first + n, 4, 3);
        n++;
    }
    assert_int_equal(cairn_predlog_reader_corrupt(rd), 0);
    cairn_predlog_reader_free(rd);
    assert_int_equal(first + n, 2000);
    printf("rotation: %d segments, %llu bytes, newest %llu of 2000 records kept\n", s.n,
           (unsigned long long)s.total, (unsigned long long)n);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_reopen_continues(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_predlog *l = open_log(dir, 0, 0, 0, 1.0);
    cairn_predlog_close(l); /* nothing written: no segment */
    segs s;
    list_dir(dir, &s);
    assert_int_equal(s.n, 0);
    l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 0, 50, 1, 1);
    cairn_predlog_close(l);
    list_dir(dir, &s);
    assert_int_equal(s.n, 1);
    uint64_t first = s.seq[0];
    l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 50, 50, 1, 1);
    cairn_predlog_close(l);
    list_dir(dir, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[1], first + 1);
    assert_int_equal(read_all(dir, 0, 1, 1, NULL), 100);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_torn_tail(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_predlog *l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 0, 100, 2, 2);
    cairn_predlog_close(l);
    char path[1024];
    last_segment_path(dir, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* a crash mid-write: the last record loses its end */
    assert_int_equal(truncate(path, st.st_size - 5), 0);
    uint64_t corrupt = 0;
    assert_int_equal(read_all(dir, 0, 2, 2, &corrupt), 99);
    assert_int_equal(corrupt, 1);
    /* the next run writes a fresh segment, readable after the torn one */
    l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 99, 10, 2, 2);
    cairn_predlog_close(l);
    assert_int_equal(read_all(dir, 0, 2, 2, &corrupt), 109);
    assert_int_equal(corrupt, 1);

    /* a flipped byte in the middle of the first segment: its CRC fails,
     * the records before it survive, the rest of that segment is skipped */
    segs s;
    list_dir(dir, &s);
    snprintf(path, sizeof(path), "%s/pred-%012llu.log", dir, (unsigned long long)s.seq[0]);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)(s.size[0] / 2), SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, (long)(s.size[0] / 2), SEEK_SET);
    fputc(ch ^ 0x55, fp);
    fclose(fp);
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    const cairn_predlog_entry *e;
    uint64_t n0 = 0, n1 = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1) {
        if (e->segment == s.seq[0])
            check_entry(e, n0++, 2, 2);
        else
            check_entry(e, 99 + n1++, 2, 2);
    }
    assert_true(n0 > 10 && n0 < 99);
    assert_int_equal(n1, 10);
    assert_int_equal(cairn_predlog_reader_corrupt(rd), 1);
    cairn_predlog_reader_free(rd);

    /* a file with the segment name but other content ends only itself */
    snprintf(path, sizeof(path), "%s/pred-%012llu.log", dir, (unsigned long long)s.seq[1] + 1);
    fp = fopen(path, "wb");
    fputs("hello", fp);
    fclose(fp);
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    uint64_t n = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1)
        n++;
    assert_int_equal(n, n0 + 10);
    assert_int_equal(cairn_predlog_reader_corrupt(rd), 2);
    cairn_predlog_reader_free(rd);
    cairn_test_rmrf(dir);
    free(dir);
}

/* Every prefix of a real segment reads as a prefix of its records and
 * never crashes. */
static void test_every_truncation(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_predlog *l = open_log(dir, 0, 0, 0, 1.0);
    append_range(l, 0, 12, 1, 2);
    cairn_predlog_close(l);
    char path[1024];
    last_segment_path(dir, path, sizeof(path));
    cairn_buf b = CAIRN_BUF_INIT(1 << 20);
    assert_int_equal(cairn_read_file(path, &b), 0);
    uint64_t prev = 0;
    int clean = 0;
    cairn_log_level level = cairn_log_get_level();
    cairn_log_set_level(CAIRN_LOG_ERROR); /* one warning per cut otherwise */
    for (size_t cut = 0; cut <= b.len; cut++) {
        cairn_predlog_reader *rd = NULL;
        assert_int_equal(cairn_predlog_reader_open_mem(&rd, b.ptr, cut, 0), 0);
        const cairn_predlog_entry *e;
        uint64_t n = 0;
        while (cairn_predlog_reader_next(rd, &e) == 1)
            check_entry(e, n++, 1, 2);
        assert_true(n >= prev);
        prev = n;
        uint64_t c = cairn_predlog_reader_corrupt(rd);
        assert_true(c <= 1);
        clean += c == 0;
        cairn_predlog_reader_free(rd);
    }
    cairn_log_set_level(level);
    assert_int_equal(prev, 12);
    /* clean ends are exactly the frame boundaries: after the header, after
     * each of the 4 schema records (one per model version) and 12 records */
    assert_int_equal(clean, 17);
    cairn_buf_free(&b);
    cairn_test_rmrf(dir);
    free(dir);
}

typedef struct worker {
    cairn_predlog *l;
    int id, n;
    size_t ok;
} worker;

static void *appender(void *arg)
{
    worker *w = arg;
    cairn_frame *f = make_frame(1, 4, (uint64_t)w->id);
    double out[2] = {0, 0};
    char rid[32];
    cairn_predlog_rec r;
    memset(&r, 0, sizeof(r));
    r.inputs = f;
    r.model = "m";
    r.outputs = out;
    r.k = 2;
    r.request_id = rid;
    for (int i = 0; i < w->n; i++) {
        snprintf(rid, sizeof(rid), "%d-%d", w->id, i);
        out[0] = w->id;
        out[1] = i;
        r.version = w->id;
        if (cairn_predlog_append(w->l, &r) == 0) w->ok++;
    }
    cairn_frame_free(f);
    return NULL;
}

static void run_threads(cairn_predlog *l, worker *w, int nt, int n)
{
    pthread_t th[8];
    for (int t = 0; t < nt; t++) {
        w[t].l = l;
        w[t].id = t;
        w[t].n = n;
        w[t].ok = 0;
        pthread_create(&th[t], NULL, appender, &w[t]);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
}

static void test_concurrent(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    /* big enough for everything: no record may be dropped */
    cairn_predlog *l = open_log(dir, (size_t)1 << 20, (size_t)1 << 30, (size_t)64 << 20, 1.0);
    enum { NT = 4, N = 5000 };
    worker w[NT];
    run_threads(l, w, NT, N);
    cairn_predlog_close(l);
    int next[NT] = {0};
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    const cairn_predlog_entry *e;
    int total = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1) {
        int t, i;
        assert_int_equal(sscanf(e->request_id, "%d-%d", &t, &i), 2);
        assert_true(t >= 0 && t < NT);
        assert_int_equal(i, next[t]); /* each thread's records in its order */
        next[t]++;
        assert_int_equal(e->version, t);
        assert_true(e->outputs[0] == t && e->outputs[1] == i);
        assert_int_equal(e->nfeatures, 7);
        total++;
    }
    assert_int_equal(cairn_predlog_reader_corrupt(rd), 0);
    cairn_predlog_reader_free(rd);
    assert_int_equal(total, NT * N);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_full_buffer_drops(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    /* the smallest buffer (two 32 KiB halves) and ~17 KiB records: after
     * each record the free space is short of the next one until the
     * writer wakes and swaps halves, which takes longer than an append */
    cairn_predlog *l = open_log(dir, (size_t)1 << 20, (size_t)1 << 30, 65536, 1.0);
    cairn_frame *f = make_frame(1000, 0, 1);
    cairn_predlog_rec r;
    memset(&r, 0, sizeof(r));
    r.inputs = f;
    r.model = "m";
    int busy = 0, ok = 0;
    for (int i = 0; i < 20000; i++) {
        int rc = cairn_predlog_append(l, &r);
        if (rc == CAIRN_EBUSY)
            busy++;
        else if (rc == 0)
            ok++;
        else
            fail_msg("unexpected %d", rc);
    }
    cairn_predlog_stats st;
    cairn_predlog_stats_get(l, &st);
    assert_int_equal(st.dropped, (uint64_t)busy);
    assert_int_equal(st.appended, (uint64_t)ok);
    printf("tiny buffer: %d appended, %d dropped\n", ok, busy);
    assert_true(busy > 0);
    cairn_predlog_close(l);
    cairn_predlog_stats_get(NULL, &st);
    cairn_frame_free(f);
    /* everything accepted was written */
    cairn_predlog_reader *rd = NULL;
    assert_int_equal(cairn_predlog_reader_open(&rd, dir, 0), 0);
    const cairn_predlog_entry *e;
    int n = 0;
    while (cairn_predlog_reader_next(rd, &e) == 1)
        n++;
    cairn_predlog_reader_free(rd);
    assert_int_equal(n, ok);
    cairn_test_rmrf(dir);
    free(dir);
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/* Append cost of a served 1-row request with 30 numeric features (the
 * buffer holds them all, so every call takes the full path). */
static void test_append_cost(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("predlog");
    cairn_predlog *l = open_log(dir, 0, 0, (size_t)64 << 20, 1.0);
    cairn_frame *f = NULL;
    assert_int_equal(cairn_frame_new(&f, 1), 0);
    for (int j = 0; j < 30; j++) {
        char name[32];
        double v = j * 1.5;
        snprintf(name, sizeof(name), "mean feature %d", j);
        assert_int_equal(cairn_frame_add_f64(f, name, &v), 0);
    }
    double out[2] = {0.25, 0.75};
    char rid[40];
    cairn_uuid_hex(rid);
    cairn_predlog_rec r;
    memset(&r, 0, sizeof(r));
    r.request_id = rid;
    r.deployment = "churn";
    r.model = "churn-model";
    r.version = 3;
    r.latency_ns = 41000;
    r.inputs = f;
    r.outputs = out;
    r.k = 2;
    const int n = 200000;
    struct timespec t0, t1;
    /* warm up: the buffer's pages are faulted in once, then reused */
    for (int i = 0; i < n; i++)
        cairn_predlog_append(l, &r);
    assert_int_equal(cairn_predlog_flush(l), 0);
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (int i = 0; i < n; i++)
        cairn_predlog_append(l, &r);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cairn_predlog_stats st;
    double per = elapsed_ns(&t0, &t1) / n, per_cpu = elapsed_ns(&c0, &c1) / n;
    assert_int_equal(cairn_predlog_flush(l), 0);
    cairn_predlog_stats_get(l, &st);
    cairn_predlog_close(l);
    segs s;
    list_dir(dir, &s);
    printf("append cost: %.0f ns wall, %.0f ns thread CPU per 1-row record with 30 features "
           "(%d appends, %llu dropped while the writer fell behind, %.0f bytes/record on disk)\n",
           per, per_cpu, n, (unsigned long long)st.dropped, (double)s.total / (double)st.written);

    /* sampled out: the cost of the decision alone */
    l = open_log(dir, 0, 0, 0, 0.0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        cairn_predlog_append(l, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("append cost, sampled out: %.1f ns\n", elapsed_ns(&t0, &t1) / n);
    cairn_predlog_close(l);
    cairn_frame_free(f);
    cairn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_options_and_args),
        cmocka_unit_test(test_sampling),          cmocka_unit_test(test_rotation_and_bound),
        cmocka_unit_test(test_reopen_continues),  cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_every_truncation),  cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_full_buffer_drops), cmocka_unit_test(test_append_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
