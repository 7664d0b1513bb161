/*
 * serve_deploy_stats.c - what deployments learn from their traffic: per
 * (deployment, model, version) request and error counters with a latency
 * histogram (the gradual shift compares the new version with the old ones
 * on them), and shadow traffic: a copy of a request predicted by the
 * deployment's shadow version on a worker thread, compared with the
 * primary's answer, and reported in deployments/get and /metrics.
 *
 * Key idea: nothing here is on the response path beyond a few atomic adds
 * or one enqueue. Target series live in an append-only list published
 * through an atomic head (a miss takes a mutex, re-checks and publishes),
 * every counter a relaxed atomic; histogram buckets are log-spaced, four
 * per doubling, so a quantile is known within a factor 2^(1/4) (19%),
 * fine enough for a p99 ratio margin like 1.5. A shadow copy is a job in a
 * bounded ring; when the ring is full the copy is dropped and counted,
 * so a slow or broken shadow can never slow the primary. One worker
 * drains the ring and is the only writer of the shadow statistics, which
 * share the ring's mutex with their readers.
 */
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/serve.h"
#include "serve_internal.h"

#define NB CAIRN_DSTATS_NB
#define QCAP 256 /* queued shadow copies at most */

/* ================= per-target series ================= */

typedef struct tseries {
    struct tseries *next; /* immutable once published */
    char *deployment, *model;
    int64_t version;
    _Atomic uint64_t req, err;
    _Atomic uint64_t hist[NB];
} tseries;

static _Atomic(tseries *) thead;
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;

static tseries *tfind(tseries *s, const char *dep, const char *model, int64_t version)
{
    for (; s; s = s->next)
        if (s->version == version && !strcmp(s->model, model) && !strcmp(s->deployment, dep))
            return s;
    return NULL;
}

/* Bucket i holds (1 us * 2^((i-1)/4), 1 us * 2^(i/4)]; bucket 0 is <= 1 us. */
static int bucket_of(int64_t ns)
{
    if (ns <= 1000) return 0;
    int i = (int)ceil(4.0 * log2((double)ns / 1000.0) - 1e-9);
    return i < 1 ? 1 : i >= NB ? NB - 1 : i;
}

static double bucket_upper_ns(int i)
{
    return 1000.0 * exp2((double)i / 4.0);
}

void cairn_serve__deploy_observe(const char *deployment, const char *model, int64_t version, int ok,
                                 int64_t total_ns)
{
    tseries *s =
        tfind(atomic_load_explicit(&thead, memory_order_acquire), deployment, model, version);
    if (!s) {
        pthread_mutex_lock(&tmu);
        tseries *first = atomic_load_explicit(&thead, memory_order_relaxed);
        s = tfind(first, deployment, model, version);
        if (!s) {
            s = cairn_calloc(1, sizeof(*s));
            s->deployment = cairn_strdup(deployment);
            s->model = cairn_strdup(model);
            s->version = version;
            s->next = first;
            atomic_store_explicit(&thead, s, memory_order_release);
        }
        pthread_mutex_unlock(&tmu);
    }
    atomic_fetch_add_explicit(&s->req, 1, memory_order_relaxed);
    if (!ok) atomic_fetch_add_explicit(&s->err, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->hist[bucket_of(total_ns)], 1, memory_order_relaxed);
}

static void tadd(cairn_dstats *out, tseries *s)
{
    out->req += atomic_load_explicit(&s->req, memory_order_relaxed);
    out->err += atomic_load_explicit(&s->err, memory_order_relaxed);
    for (int i = 0; i < NB; i++)
        out->hist[i] += atomic_load_explicit(&s->hist[i], memory_order_relaxed);
}

void cairn_serve__dstats_sum(const char *deployment, const char *model, int64_t version, int match,
                             cairn_dstats *out)
{
    memset(out, 0, sizeof(*out));
    for (tseries *s = atomic_load_explicit(&thead, memory_order_acquire); s; s = s->next) {
        if (strcmp(s->deployment, deployment)) continue;
        int same = s->version == version && !strcmp(s->model, model);
        if (same == !!match) tadd(out, s);
    }
}

double cairn_serve__dstats_quantile_ns(const cairn_dstats *s, double q)
{
    uint64_t total = 0, cum = 0;
    for (int i = 0; i < NB; i++)
        total += s->hist[i];
    if (!total) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1) rank = 1;
    for (int i = 0; i < NB; i++) {
        cum += s->hist[i];
        if (cum >= rank) return bucket_upper_ns(i);
    }
    return bucket_upper_ns(NB - 1);
}

static int tcmp(const void *a, const void *b)
{
    const tseries *x = *(tseries *const *)a, *y = *(tseries *const *)b;
    int c = strcmp(x->model, y->model);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

void cairn_serve__dstats_each(const char *deployment,
                              void (*cb)(const char *model, int64_t version, const cairn_dstats *s,
                                         void *payload),
                              void *payload)
{
    tseries *first = atomic_load_explicit(&thead, memory_order_acquire), **v;
    size_t n = 0;
    for (tseries *s = first; s; s = s->next)
        n += !strcmp(s->deployment, deployment);
    v = cairn_malloc(sizeof(*v) * (n ? n : 1));
    n = 0;
    for (tseries *s = first; s; s = s->next)
        if (!strcmp(s->deployment, deployment)) v[n++] = s;
    qsort(v, n, sizeof(*v), tcmp);
    for (size_t i = 0; i < n; i++) {
        cairn_dstats d;
        memset(&d, 0, sizeof(d));
        tadd(&d, v[i]);
        cb(v[i]->model, v[i]->version, &d, payload);
    }
    cairn_free(v);
}

/* ================= shadow traffic ================= */

typedef struct sjob {
    cairn_serve *s;
    char *deployment, *model, *spec, *primary_model;
    int64_t primary_version;
    cairn_frame *f;
    double *pred; /* (f->nrows x k) */
    int k;
} sjob;

/* Shadow counters of one (deployment, shadow model, shadow version); the
 * version is 0 when the shadow could not be resolved. Guarded by Q.mu. */
typedef struct sseries {
    struct sseries *next;
    char *deployment, *model;
    int64_t version;
    uint64_t requests, rows, agree, errors;
    double abs_diff_sum;
} sseries;

/* Drops per deployment (no version is known when a copy is dropped). */
typedef struct sdrop {
    struct sdrop *next;
    char *deployment;
    uint64_t dropped;
} sdrop;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    sjob *ring[QCAP];
    size_t head, len;
    sseries *stats;
    sdrop *drops;
} Q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void job_free(sjob *j)
{
    if (!j) return;
    cairn_frame_free(j->f);
    cairn_free(j->pred);
    cairn_free(j->deployment);
    cairn_free(j->model);
    cairn_free(j->spec);
    cairn_free(j->primary_model);
    cairn_free(j);
}

/* The series for (deployment, model, version); caller holds Q.mu. */
static sseries *sseries_get(const char *dep, const char *model, int64_t version)
{
    for (sseries *s = Q.stats; s; s = s->next)
        if (s->version == version && !strcmp(s->model, model) && !strcmp(s->deployment, dep))
            return s;
    sseries *s = cairn_calloc(1, sizeof(*s));
    s->deployment = cairn_strdup(dep);
    s->model = cairn_strdup(model);
    s->version = version;
    s->next = Q.stats;
    Q.stats = s;
    return s;
}

/* The class a row of k predictions stands for: k == 1 is a binary model's
 * probability of class 1, else the argmax. */
static int row_class(const double *p, int k)
{
    if (k == 1) return p[0] >= 0.5;
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

/* Compares shadow predictions sp (n x ks) with the primary's pp (n x kp):
 * counts agreeing rows (classifiers: the same class; others: every value
 * within 1e-6 relative; never when the widths differ) and sums the per-row
 * mean absolute difference over the columns both have. */
static void compare(const double *pp, int kp, const double *sp, int ks, size_t n, int classifier,
                    uint64_t *agree, double *diff_sum)
{
    int kc = kp < ks ? kp : ks;
    for (size_t i = 0; i < n; i++) {
        const double *a = pp + i * (size_t)kp, *b = sp + i * (size_t)ks;
        double d = 0;
        int close = kp == ks;
        for (int c = 0; c < kc; c++) {
            double x = fabs(a[c] - b[c]);
            d += x;
            close &= x <= 1e-6 * fmax(1.0, fabs(a[c]));
        }
        int same = classifier ? kp == ks && row_class(a, kp) == row_class(b, ks) : close;
        if (same) (*agree)++;
        if (kc) *diff_sum += d / kc;
    }
}

/* Predicts one shadow copy and records the outcome. Runs on the worker
 * without Q.mu held, except for the final update. */
static void run_job(sjob *j)
{
    cairn_serve_model *sm = NULL;
    int64_t version = 0;
    uint64_t agree = 0;
    double diff = 0;
    double *sp = NULL;
    int rc = cairn_serve_acquire(j->s, j->model, j->spec, &sm);
    if (rc) {
        cairn_serve_resolve(j->s, j->model, j->spec, &version);
    } else {
        const cairn_model *m = cairn_serve_model_get(sm);
        version = cairn_serve_model_version(sm);
        int ks = cairn_model_n_outputs(m);
        cairn_task t = cairn_model_task(m);
        sp = cairn_malloc(sizeof(double) * (j->f->nrows ? j->f->nrows : 1) * (size_t)ks);
        rc = cairn_model_predict(m, j->f, sp, 1);
        if (!rc)
            compare(j->pred, j->k, sp, ks, j->f->nrows,
                    t == CAIRN_TASK_BINARY || t == CAIRN_TASK_MULTICLASS, &agree, &diff);
    }
    if (rc)
        cairn_log(
            CAIRN_LOG_DEBUG, SERVE_SUBSYS,
            "shadow prediction failed|deployment=%s primary=%s/%lld shadow=%s@%s error=\"%s\"",
            j->deployment, j->primary_model, (long long)j->primary_version, j->model, j->spec,
            cairn_error_last()->msg);
    pthread_mutex_lock(&Q.mu);
    sseries *s = sseries_get(j->deployment, j->model, version);
    s->requests++;
    if (rc) {
        s->errors++;
    } else {
        s->rows += j->f->nrows;
        s->agree += agree;
        s->abs_diff_sum += diff;
    }
    pthread_mutex_unlock(&Q.mu);
    cairn_free(sp);
    cairn_serve_release(sm);
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&Q.mu);
    for (;;) {
        while (!Q.len && !Q.stopping)
            pthread_cond_wait(&Q.cv, &Q.mu);
        if (Q.stopping) break;
        sjob *j = Q.ring[Q.head];
        Q.head = (Q.head + 1) % QCAP;
        Q.len--;
        pthread_mutex_unlock(&Q.mu);
        run_job(j);
        job_free(j);
        pthread_mutex_lock(&Q.mu);
    }
    pthread_mutex_unlock(&Q.mu);
    return NULL;
}

void cairn_serve__shadow_submit(cairn_serve *s, const char *deployment, const char *shadow_model,
                                const char *shadow_spec, cairn_frame *f, double *primary_pred,
                                int k, const char *primary_model, int64_t primary_version)
{
    sjob *j = cairn_calloc(1, sizeof(*j));
    j->s = s;
    j->f = f;
    j->pred = primary_pred;
    j->k = k;
    j->primary_version = primary_version;
    j->deployment = cairn_strdup(deployment);
    j->model = cairn_strdup(shadow_model);
    j->spec = cairn_strdup(shadow_spec ? shadow_spec : "");
    j->primary_model = cairn_strdup(primary_model ? primary_model : "");
    pthread_mutex_lock(&Q.mu);
    if (!Q.started && !Q.stopping) {
        if (pthread_create(&Q.thread, NULL, worker, NULL) == 0)
            Q.started = 1;
        else
            cairn_log(CAIRN_LOG_ERROR, SERVE_SUBSYS, "cannot start the shadow worker");
    }
    if (Q.started && !Q.stopping && Q.len < QCAP) {
        Q.ring[(Q.head + Q.len) % QCAP] = j;
        Q.len++;
        j = NULL;
        pthread_cond_signal(&Q.cv);
    } else { /* full (or no worker): drop the copy, never wait */
        sdrop *d = Q.drops;
        while (d && strcmp(d->deployment, deployment))
            d = d->next;
        if (!d) {
            d = cairn_calloc(1, sizeof(*d));
            d->deployment = cairn_strdup(deployment);
            d->next = Q.drops;
            Q.drops = d;
        }
        d->dropped++;
    }
    pthread_mutex_unlock(&Q.mu);
    job_free(j);
}

void cairn_serve__shadow_stats(const char *deployment, cairn_shadow_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&Q.mu);
    for (sseries *s = Q.stats; s; s = s->next) {
        if (strcmp(s->deployment, deployment)) continue;
        out->requests += s->requests;
        out->rows += s->rows;
        out->agree += s->agree;
        out->errors += s->errors;
        out->abs_diff_sum += s->abs_diff_sum;
    }
    for (sdrop *d = Q.drops; d; d = d->next)
        if (!strcmp(d->deployment, deployment)) out->dropped += d->dropped;
    pthread_mutex_unlock(&Q.mu);
}

void cairn_serve__dstats_shutdown(void)
{
    pthread_mutex_lock(&Q.mu);
    int started = Q.started;
    Q.stopping = 1;
    pthread_cond_broadcast(&Q.cv);
    pthread_mutex_unlock(&Q.mu);
    if (started) pthread_join(Q.thread, NULL);
    pthread_mutex_lock(&Q.mu);
    while (Q.len) {
        job_free(Q.ring[Q.head]);
        Q.head = (Q.head + 1) % QCAP;
        Q.len--;
    }
    while (Q.stats) {
        sseries *n = Q.stats->next;
        cairn_free(Q.stats->deployment);
        cairn_free(Q.stats->model);
        cairn_free(Q.stats);
        Q.stats = n;
    }
    while (Q.drops) {
        sdrop *n = Q.drops->next;
        cairn_free(Q.drops->deployment);
        cairn_free(Q.drops);
        Q.drops = n;
    }
    Q.head = 0;
    Q.started = 0;
    Q.stopping = 0; /* a later mount starts a new worker on its first copy */
    pthread_mutex_unlock(&Q.mu);
    pthread_mutex_lock(&tmu);
    tseries *t = atomic_exchange(&thead, NULL);
    pthread_mutex_unlock(&tmu);
    while (t) {
        tseries *n = t->next;
        cairn_free(t->deployment);
        cairn_free(t->model);
        cairn_free(t);
        t = n;
    }
}

/* ================= Prometheus ================= */

static void put_family(cairn_buf *b, const char *name, const char *type, const char *help)
{
    cairn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `NAME{deployment="..",model="..",version=".."} ` for s. */
static void put_series(cairn_buf *b, const char *name, const sseries *s)
{
    cairn_buf_printf(b, "%s{deployment=\"", name);
    cairn_serve__prom_label(b, s->deployment);
    cairn_buf_puts(b, "\",model=\"");
    cairn_serve__prom_label(b, s->model);
    cairn_buf_printf(b, "\",version=\"%lld\"} ", (long long)s->version);
}

void cairn_serve__deploy_metrics_write(cairn_buf *out)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"cairn_shadow_requests_total",
         "Shadow copies of deployment requests predicted (or failed).",
         offsetof(sseries, requests)},
        {"cairn_shadow_rows_total", "Rows predicted by the shadow version and compared.",
         offsetof(sseries, rows)},
        {"cairn_shadow_agreement_rows_total",
         "Compared rows where the shadow agreed with the primary (same class, or equal value).",
         offsetof(sseries, agree)},
        {"cairn_shadow_errors_total", "Shadow copies whose prediction failed.",
         offsetof(sseries, errors)},
    };
    CAIRN_ASSERT(out->max == 0);
    pthread_mutex_lock(&Q.mu);
    for (size_t c = 0; c < CAIRN_ARRAY_LEN(counters); c++) {
        put_family(out, counters[c].name, "counter", counters[c].help);
        for (sseries *s = Q.stats; s; s = s->next) {
            put_series(out, counters[c].name, s);
            cairn_buf_printf(
                out, "%llu\n",
                (unsigned long long)*(const uint64_t *)((const char *)s + counters[c].off));
        }
    }
    put_family(out, "cairn_shadow_abs_diff", "summary",
               "Per-row mean absolute difference between shadow and primary outputs.");
    for (sseries *s = Q.stats; s; s = s->next) {
        put_series(out, "cairn_shadow_abs_diff_sum", s);
        cairn_buf_printf(out, "%.17g\n", s->abs_diff_sum);
        put_series(out, "cairn_shadow_abs_diff_count", s);
        cairn_buf_printf(out, "%llu\n", (unsigned long long)s->rows);
    }
    put_family(out, "cairn_shadow_dropped_total", "counter",
               "Shadow copies dropped because the shadow queue was full.");
    for (sdrop *d = Q.drops; d; d = d->next) {
        cairn_buf_puts(out, "cairn_shadow_dropped_total{deployment=\"");
        cairn_serve__prom_label(out, d->deployment);
        cairn_buf_printf(out, "\"} %llu\n", (unsigned long long)d->dropped);
    }
    pthread_mutex_unlock(&Q.mu);
}
