/*
 * serve_metrics.c - per (deployment, model version) inference metrics
 * (requests by status code, rows, latency histograms for the whole request,
 * its queueing and its prediction, batch sizes), the loaded models and their
 * memory, rendered in the Prometheus text exposition format 0.0.4.
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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/serve.h"
#include "monitor_alerts.h"
#include "monitor_drift.h"
#include "monitor_quality.h"
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

/* Status codes counted one by one; anything else counts as "other". */
static const int codes[] = {200, 400, 404, 405, 413, 500, 501, 503};
#define NCODES ((int)CAIRN_ARRAY_LEN(codes))
/* Upper bounds of the batch-size buckets, in rows. */
static const int batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NBATCH ((int)CAIRN_ARRAY_LEN(batch_bounds))

typedef struct series {
    struct series *next; /* immutable once published */
    char *deployment;    /* "" when the request named the model itself */
    char *model;
    int64_t version;
    _Atomic uint64_t by_code[NCODES + 1]; /* the last one: other codes */
    _Atomic uint64_t rows;
    hist total;   /* whole request: decode, queue, predict, encode */
    hist queue;   /* waiting for a dynamic batch */
    hist compute; /* cairn_model_predict only */
    _Atomic uint64_t batch[NBATCH + 1]; /* rows of the batch each request rode in */
    _Atomic uint64_t batch_sum;
} series;

static _Atomic(series *) head;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static series *find(series *s, const char *dep, const char *model, int64_t version)
{
    for (; s; s = s->next)
        if (s->version == version && strcmp(s->model, model) == 0 &&
            strcmp(s->deployment, dep) == 0)
            return s;
    return NULL;
}

/* Returns the series for (model, version), creating it on first use.
 * Never NULL (allocation failure aborts through the OOM handler). */
static series *series_get(const char *dep, const char *model, int64_t version)
{
    series *s = find(atomic_load_explicit(&head, memory_order_acquire), dep, model, version);
    if (s) return s;
    pthread_mutex_lock(&mu);
    series *first = atomic_load_explicit(&head, memory_order_relaxed);
    s = find(first, dep, model, version);
    if (!s) {
        s = cairn_calloc(1, sizeof(*s));
        s->deployment = cairn_strdup(dep);
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

void cairn_serve__observe(const cairn_serve_obs *o)
{
    series *s = series_get(o->deployment ? o->deployment : "", o->model, o->version);
    int c = 0;
    while (c < NCODES && codes[c] != o->status)
        c++;
    atomic_fetch_add_explicit(&s->by_code[c], 1, memory_order_relaxed);
    if (o->rows) atomic_fetch_add_explicit(&s->rows, o->rows, memory_order_relaxed);
    hist_observe(&s->total, o->total_ns);
    if (o->queue_ns >= 0) hist_observe(&s->queue, o->queue_ns);
    if (o->compute_ns >= 0) hist_observe(&s->compute, o->compute_ns);
    if (o->batch_rows) {
        int i = 0;
        while (i < NBATCH && o->batch_rows > (size_t)batch_bounds[i])
            i++;
        atomic_fetch_add_explicit(&s->batch[i], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->batch_sum, o->batch_rows, memory_order_relaxed);
    }
}

/* ================= rendering ================= */

/* Appends v escaped as a label value: backslash, quote and newline. */
void cairn_serve__prom_label(cairn_buf *b, const char *v)
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

/* Appends `deployment="...",model="...",version="..."` for s. */
static void put_labels(cairn_buf *b, const series *s)
{
    cairn_buf_puts(b, "deployment=\"");
    cairn_serve__prom_label(b, s->deployment);
    cairn_buf_puts(b, "\",model=\"");
    cairn_serve__prom_label(b, s->model);
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

static void put_model_memory(const char *name, int64_t version, size_t bytes, void *payload)
{
    cairn_buf *b = payload;
    cairn_buf_puts(b, "cairn_model_memory_bytes{model=\"");
    cairn_serve__prom_label(b, name);
    cairn_buf_printf(b, "\",version=\"%lld\"} %zu\n", (long long)version, bytes);
}

static int series_cmp(const void *a, const void *b)
{
    const series *x = *(series *const *)a, *y = *(series *const *)b;
    int c = strcmp(x->deployment, y->deployment);
    if (c) return c;
    c = strcmp(x->model, y->model);
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
               "Inference requests answered for a model version, by HTTP status code.");
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c <= NCODES; c++) {
            uint64_t x = atomic_load_explicit(&v[i]->by_code[c], memory_order_relaxed);
            if (!x && c != 0) continue; /* "200" always; others once seen */
            cairn_buf_puts(out, "cairn_inference_requests_total{");
            put_labels(out, v[i]);
            if (c < NCODES)
                cairn_buf_printf(out, ",code=\"%d\"} %llu\n", codes[c], (unsigned long long)x);
            else
                cairn_buf_printf(out, ",code=\"other\"} %llu\n", (unsigned long long)x);
        }
    }
    put_family(out, "cairn_inference_errors_total", "counter",
               "Inference requests answered with a status other than 200.");
    for (size_t i = 0; i < n; i++) {
        uint64_t e = 0;
        for (int c = 1; c <= NCODES; c++)
            e += atomic_load_explicit(&v[i]->by_code[c], memory_order_relaxed);
        cairn_buf_puts(out, "cairn_inference_errors_total{");
        put_labels(out, v[i]);
        cairn_buf_printf(out, "} %llu\n", (unsigned long long)e);
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
    put_family(out, "cairn_inference_queue_seconds", "histogram",
               "Time inference requests waited for a dynamic batch to leave.");
    for (size_t i = 0; i < n; i++)
        put_hist(out, "cairn_inference_queue_seconds", v[i], &v[i]->queue);
    put_family(out, "cairn_inference_compute_seconds", "histogram",
               "Time spent in model prediction by inference requests (the whole batch's).");
    for (size_t i = 0; i < n; i++)
        put_hist(out, "cairn_inference_compute_seconds", v[i], &v[i]->compute);
    put_family(out, "cairn_inference_batch_rows", "histogram",
               "Rows in the prediction batch each inference request was part of.");
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (int b = 0; b <= NBATCH; b++) {
            cum += atomic_load_explicit(&v[i]->batch[b], memory_order_relaxed);
            cairn_buf_puts(out, "cairn_inference_batch_rows_bucket{");
            put_labels(out, v[i]);
            if (b < NBATCH)
                cairn_buf_printf(out, ",le=\"%d\"} %llu\n", batch_bounds[b], (unsigned long long)cum);
            else
                cairn_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        cairn_buf_puts(out, "cairn_inference_batch_rows_sum{");
        put_labels(out, v[i]);
        cairn_buf_printf(out, "} %llu\ncairn_inference_batch_rows_count{",
                         (unsigned long long)atomic_load(&v[i]->batch_sum));
        put_labels(out, v[i]);
        cairn_buf_printf(out, "} %llu\n", (unsigned long long)cum);
    }
    cairn_free(v);
    put_family(out, "cairn_models_loaded", "gauge", "Model versions currently loaded.");
    cairn_buf_printf(out, "cairn_models_loaded %d\n", cairn_serve_loaded_count(s));
    put_family(out, "cairn_models_memory_bytes", "gauge",
               "Heap bytes held by all loaded model versions.");
    cairn_buf_printf(out, "cairn_models_memory_bytes %zu\n", cairn_serve_memory_used(s));
    put_family(out, "cairn_model_memory_bytes", "gauge", "Heap bytes held by one loaded model version.");
    cairn_serve_foreach_loaded(s, put_model_memory, out);
    cairn_serve__deploy_metrics_write(out);
    cairn_serve__quality_metrics_write(out);
    cairn_serve__alerts_metrics_write(out);
    cairn_serve__drift_metrics_write(out);
    cairn_predlog *log = cairn_serve__predlog(s);
    if (log) {
        cairn_predlog_stats st;
        cairn_predlog_stats_get(log, &st);
        static const struct {
            const char *name, *type, *help;
            size_t off;
        } pl[] = {
            {"cairn_predlog_records_total", "counter", "Predictions accepted into the prediction log.",
             offsetof(cairn_predlog_stats, appended)},
            {"cairn_predlog_sampled_out_total", "counter",
             "Predictions left out of the log by sampling.", offsetof(cairn_predlog_stats, sampled_out)},
            {"cairn_predlog_dropped_total", "counter",
             "Predictions dropped because the log's buffer was full.",
             offsetof(cairn_predlog_stats, dropped)},
            {"cairn_predlog_written_bytes_total", "counter", "Bytes written to prediction log segments.",
             offsetof(cairn_predlog_stats, bytes_written)},
            {"cairn_predlog_io_errors_total", "counter", "Failed prediction log writes.",
             offsetof(cairn_predlog_stats, io_errors)},
            {"cairn_predlog_segments", "gauge", "Prediction log segment files on disk.",
             offsetof(cairn_predlog_stats, segments)},
            {"cairn_predlog_disk_bytes", "gauge", "Bytes of prediction log segments on disk.",
             offsetof(cairn_predlog_stats, disk_bytes)},
        };
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(pl); i++) {
            put_family(out, pl[i].name, pl[i].type, pl[i].help);
            cairn_buf_printf(out, "%s %llu\n", pl[i].name,
                             (unsigned long long)*(const uint64_t *)((const char *)&st + pl[i].off));
        }
    }
}
