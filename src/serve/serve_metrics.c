/*
 * serve_metrics.c - per model-version inference metrics (request and row
 * counters, latency histograms) and their rendering in the Prometheus text
 * exposition format 0.0.4.
 *
 * Key idea: the hot path takes no lock once a series exists. Series live in
 * a process-wide, append-only linked list: a lookup walks it from an atomic
 * head (acquire load); only a miss takes the mutex, re-checks and publishes
 * the new series at the head (release store). Every counter, including each
 * histogram bucket and the sum (kept in integer nanoseconds), is a relaxed
 * atomic, so an observation is a list walk plus a handful of atomic adds.
 * Buckets are stored per interval and made cumulative when rendered; the
 * +Inf bucket and _count are the same computed total, so they always agree
 * within one scrape.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/serve.h"
#include "serve_internal.h"

/* Upper bounds of the latency buckets, in nanoseconds (50 µs .. 5 s). */
static const int64_t bounds_ns[] = {
    50000,    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000};
#define NBOUNDS ((int)CAIRN_ARRAY_LEN(bounds_ns))

typedef struct hist {
    _Atomic uint64_t bucket[NBOUNDS + 1]; /* per interval; the last one is (5 s, +Inf) */
    _Atomic uint64_t sum_ns;
} hist;

typedef struct series {
    struct series *next; /* immutable once published */
    char *model;
    int64_t version;
    _Atomic uint64_t ok, err, rows;
    hist total;   /* whole request: decode, predict, encode */
    hist compute; /* cairn_model_predict only */
} series;

static _Atomic(series *) head;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static series *find(series *s, const char *model, int64_t version)
{
    for (; s; s = s->next)
        if (s->version == version && strcmp(s->model, model) == 0) return s;
    return NULL;
}

/* Returns the series for (model, version), creating it on first use.
 * Never NULL (allocation failure aborts through the OOM handler). */
static series *series_get(const char *model, int64_t version)
{
    series *s = find(atomic_load_explicit(&head, memory_order_acquire), model, version);
    if (s) return s;
    pthread_mutex_lock(&mu);
    series *first = atomic_load_explicit(&head, memory_order_relaxed);
    s = find(first, model, version);
    if (!s) {
        s = cairn_calloc(1, sizeof(*s));
        s->model = cairn_strdup(model);
        s->version = version;
        s->next = first;
        atomic_store_explicit(&head, s, memory_order_release);
    }
    pthread_mutex_unlock(&mu);
    return s;
}

static void hist_observe(hist *h, int64_t ns)
{
    if (ns < 0) ns = 0;
    int i = 0;
    while (i < NBOUNDS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

void cairn_serve__observe(const char *model, int64_t version, int ok, uint64_t rows,
                          int64_t total_ns, int64_t compute_ns)
{
    series *s = series_get(model, version);
    atomic_fetch_add_explicit(ok ? &s->ok : &s->err, 1, memory_order_relaxed);
    if (rows) atomic_fetch_add_explicit(&s->rows, rows, memory_order_relaxed);
    hist_observe(&s->total, total_ns);
    if (compute_ns >= 0) hist_observe(&s->compute, compute_ns);
}

/* ================= rendering ================= */

/* Appends v escaped as a label value: backslash, quote and newline. */
static void put_label_value(cairn_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            cairn_buf_puts(b, "\\\\");
        else if (*v == '"')
            cairn_buf_puts(b, "\\\"");
        else if (*v == '\n')
            cairn_buf_puts(b, "\\n");
        else
            cairn_buf_putc(b, *v);
    }
}

/* Appends `model="...",version="..."` for s. */
static void put_labels(cairn_buf *b, const series *s)
{
    cairn_buf_puts(b, "model=\"");
    put_label_value(b, s->model);
    cairn_buf_printf(b, "\",version=\"%lld\"", (long long)s->version);
}

static void put_family(cairn_buf *b, const char *name, const char *type, const char *help)
{
    cairn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_hist(cairn_buf *b, const char *name, const series *s, const hist *h)
{
    uint64_t cum = 0;
    for (int i = 0; i <= NBOUNDS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        cairn_buf_printf(b, "%s_bucket{", name);
        put_labels(b, s);
        if (i < NBOUNDS)
            cairn_buf_printf(b, ",le=\"%g\"} %llu\n", (double)bounds_ns[i] / 1e9,
                             (unsigned long long)cum);
        else
            cairn_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    cairn_buf_printf(b, "%s_sum{", name);
    put_labels(b, s);
    uint64_t sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    cairn_buf_printf(b, "} %llu.%09llu\n%s_count{", (unsigned long long)(sum / 1000000000u),
                     (unsigned long long)(sum % 1000000000u), name);
    put_labels(b, s);
    cairn_buf_printf(b, "} %llu\n", (unsigned long long)cum);
}

static int series_cmp(const void *a, const void *b)
{
    const series *x = *(series *const *)a, *y = *(series *const *)b;
    int c = strcmp(x->model, y->model);
    if (c) return c;
    return (x->version > y->version) - (x->version < y->version);
}

void cairn_serve_metrics_write(cairn_serve *s, cairn_buf *out)
{
    CAIRN_ASSERT(out->max == 0); /* program-built text: unbounded */
    size_t n = 0;
    series *first = atomic_load_explicit(&head, memory_order_acquire);
    for (series *e = first; e; e = e->next)
        n++;
    series **v = cairn_malloc(sizeof(*v) * (n ? n : 1));
    n = 0;
    for (series *e = first; e; e = e->next)
        v[n++] = e;
    qsort(v, n, sizeof(*v), series_cmp);

    put_family(out, "cairn_inference_requests_total", "counter",
               "Inference requests that reached a loaded model version, by outcome.");
    for (size_t i = 0; i < n; i++) {
        static const char *const outcomes[] = {"ok", "error"};
        for (int o = 0; o < 2; o++) {
            cairn_buf_puts(out, "cairn_inference_requests_total{");
            put_labels(out, v[i]);
            cairn_buf_printf(out, ",outcome=\"%s\"} %llu\n", outcomes[o],
                             (unsigned long long)atomic_load(o ? &v[i]->err : &v[i]->ok));
        }
    }
    put_family(out, "cairn_inference_rows_total", "counter",
               "Rows predicted by successful inference requests.");
    for (size_t i = 0; i < n; i++) {
        cairn_buf_puts(out, "cairn_inference_rows_total{");
        put_labels(out, v[i]);
        cairn_buf_printf(out, "} %llu\n", (unsigned long long)atomic_load(&v[i]->rows));
    }
    put_family(out, "cairn_inference_duration_seconds", "histogram",
               "Inference request time, from body decoding to the encoded response, ok or not.");
    for (size_t i = 0; i < n; i++)
        put_hist(out, "cairn_inference_duration_seconds", v[i], &v[i]->total);
    put_family(out, "cairn_inference_compute_seconds", "histogram",
               "Time spent in model prediction by inference requests.");
    for (size_t i = 0; i < n; i++)
        put_hist(out, "cairn_inference_compute_seconds", v[i], &v[i]->compute);
    put_family(out, "cairn_models_loaded", "gauge", "Model versions currently loaded.");
    cairn_buf_printf(out, "cairn_models_loaded %d\n", cairn_serve_loaded_count(s));
    cairn_free(v);
}
