/*
 * monitor_quality.c - model quality with delayed labels: labels posted
 * after the fact are joined to the predictions they judge by request id,
 * stored, and summarised per window of labels (AUC, accuracy, macro F1,
 * log loss for classifiers; RMSE, MAE for regression), each beside the
 * value the model version's training run logged.
 *
 * Key ideas:
 * - The inference path only copies each answered request into a bounded
 *   ring of recent requests indexed by a chained hash on the request id
 *   (one allocation, one short mutex, no I/O). Ids that fell out of the
 *   ring are looked up in the prediction log, within a time horizon.
 * - A series is (deployment, model, version). Its open window lives in
 *   memory; every joined label is written with the sequence number of the
 *   window it went into, so a restarted server rebuilds the open windows
 *   from the store, and closed windows are stored one row per metric.
 * - Joining, window closing and storing happen in one store write unit under
 *   the series mutex, so what the store holds and what the windows hold
 *   agree; the inference path never takes that mutex.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cairn/metrics.h"
#include "cairn/predlog.h"
#include "cairn/store.h"
#include "monitor_quality.h"
#include "serve_internal.h"
#include "track/api.h"

#define MAX_ID 256                  /* request id bytes */
#define MAX_LABELS 100000           /* labels in one batch */
#define MAX_RECORD_VALUES (1 << 20) /* outputs of one request kept in memory */
#define MAX_WINDOW_ROWS 1000000     /* a window closes at this many rows in any case */

static const char *const metric_names[CAIRN_QM_COUNT] = {"auc",     "accuracy", "f1_macro",
                                                         "logloss", "rmse",     "mae"};
static const char *const gauge_names[CAIRN_QM_COUNT] = {"auc",     "accuracy", "f1",
                                                        "logloss", "rmse",     "mae"};

/* What the join needs to know about a model version: task, outputs and
 * class names. Kept until shutdown (a handful per server). */
typedef struct qmeta {
    struct qmeta *next;
    char *model;
    int64_t version;
    cairn_task task;
    int k;      /* outputs per row */
    int nclass; /* classes (2 for binary), 0 for regression / clustering */
    char **cls; /* (nclass) class names, entries may be NULL */
} qmeta;

/* One remembered request: one allocation holding the strings and outputs. */
typedef struct qentry {
    struct qentry *hnext;
    struct qentry **hpprev; /* the link pointing at this entry: O(1) unlink even when
                             * many requests share one id (one long chain) */
    uint64_t hash;
    int64_t time_ms;
    int64_t version;
    qmeta *meta;
    size_t nrows;
    int k;
    const char *id, *deployment, *model;
    double out[]; /* (nrows, k) */
} qentry;

/* A (deployment, model, version) series and its open window. */
typedef struct qseries {
    struct qseries *next;
    char *deployment, *model;
    int64_t version;
    int k;           /* outputs per row in the window (0 until the first row) */
    cairn_task task; /* known once a row came in with its model's metadata */
    int task_known;
    int64_t seq;      /* windows closed so far */
    int64_t start_ms; /* first label of the open window */
    size_t n, cap;    /* rows in the open window */
    double *y, *out;  /* (cap), (cap, k) */
    uint64_t labels;  /* labels joined since start-up (and rebuilt) */
    int has_last;     /* a window closed since start-up */
    double last[CAIRN_QM_COUNT];
} qseries;

/* A window that closed, for storing and the alert hook. */
typedef struct qclosed {
    char *deployment, *model;
    int64_t version, seq, start_ms, end_ms;
    size_t rows;
    double v[CAIRN_QM_COUNT];
} qclosed;

static struct {
    pthread_mutex_t mu; /* the ring, the hash and the metadata list */
    qentry **ring;
    size_t cap, head;
    qentry **bucket;
    size_t nbucket; /* power of two */
    qmeta *metas;

    pthread_mutex_t smu; /* the series, the options */
    cairn_quality_opts o;
    char *predlog_dir;
    qseries *series;

    cairn_serve *serve; /* borrowed, set by mount */
    cairn_store *store;
    void (*cb)(const char *, const char *, double, int64_t, void *);
    void *cb_payload;
} Q = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .smu = PTHREAD_MUTEX_INITIALIZER,
       .o = CAIRN_QUALITY_OPTS_INIT};

/* 1 between mount and shutdown: records are kept only then. */
static atomic_int enabled;

const char *cairn_serve__quality_metric_name(int i)
{
    return i >= 0 && i < CAIRN_QM_COUNT ? metric_names[i] : NULL;
}

/* ================= metrics of one window ================= */

/* Mean over classes of one-vs-rest ROC AUC, classes where it is undefined
 * skipped (as `cairn train` computes its "auc" for multiclass); NaN if none. */
static double auc_ovr(const double *y, const double *proba, size_t n, int k)
{
    double *yb = cairn_malloc(sizeof(double) * n), *s = cairn_malloc(sizeof(double) * n);
    double sum = 0, v;
    int used = 0;
    for (int c = 0; c < k; c++) {
        for (size_t i = 0; i < n; i++) {
            yb[i] = y[i] == c ? 1.0 : 0.0;
            s[i] = proba[i * (size_t)k + c];
        }
        if (!cairn_metrics_roc_auc(yb, s, n, &v)) sum += v, used++;
    }
    cairn_free(yb);
    cairn_free(s);
    return used ? sum / used : NAN;
}

void cairn_serve__quality_compute(cairn_task task, int k, const double *y, const double *out,
                                  size_t n, double vals[CAIRN_QM_COUNT])
{
    for (int i = 0; i < CAIRN_QM_COUNT; i++)
        vals[i] = NAN;
    if (n == 0 || k < 1) return;
    double v;
    if (task == CAIRN_TASK_REGRESSION) {
        double *p = cairn_malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++)
            p[i] = out[i * (size_t)k];
        if (!cairn_metrics_rmse(y, p, n, &v)) vals[CAIRN_QM_RMSE] = v;
        if (!cairn_metrics_mae(y, p, n, &v)) vals[CAIRN_QM_MAE] = v;
        cairn_free(p);
    } else if (task == CAIRN_TASK_BINARY || task == CAIRN_TASK_MULTICLASS) {
        int nc = task == CAIRN_TASK_BINARY ? 2 : k;
        double *lab = cairn_malloc(sizeof(double) * n);
        double *score = NULL;
        if (task == CAIRN_TASK_BINARY) {
            score = cairn_malloc(sizeof(double) * n);
            for (size_t i = 0; i < n; i++) { /* P(class 1) */
                score[i] = out[i * (size_t)k + (k >= 2 ? 1 : 0)];
                lab[i] = score[i] >= 0.5 ? 1.0 : 0.0;
            }
            if (!cairn_metrics_roc_auc(y, score, n, &v)) vals[CAIRN_QM_AUC] = v;
            if (!cairn_metrics_log_loss(y, score, n, &v)) vals[CAIRN_QM_LOGLOSS] = v;
        } else {
            for (size_t i = 0; i < n; i++) {
                const double *p = out + i * (size_t)k;
                int best = 0;
                for (int c = 1; c < k; c++)
                    if (p[c] > p[best]) best = c;
                lab[i] = best;
            }
            vals[CAIRN_QM_AUC] = auc_ovr(y, out, n, k);
            if (!cairn_metrics_log_loss_multi(y, out, n, k, &v)) vals[CAIRN_QM_LOGLOSS] = v;
        }
        if (!cairn_metrics_accuracy(y, lab, n, &v)) vals[CAIRN_QM_ACCURACY] = v;
        cairn_metrics_prf prf;
        if (!cairn_metrics_prf_score(y, lab, n, nc, CAIRN_METRICS_MACRO, &prf))
            vals[CAIRN_QM_F1] = prf.f1;
        cairn_free(lab);
        cairn_free(score);
    }
    cairn_error_clear(); /* undefined metrics are NaN, not errors */
}

/* ================= model metadata ================= */

/* The metadata of (model, version), or NULL. Q.mu held. */
static qmeta *meta_find(const char *model, int64_t version)
{
    for (qmeta *q = Q.metas; q; q = q->next)
        if (q->version == version && !strcmp(q->model, model)) return q;
    return NULL;
}

/* The metadata of (model, version), made from m if new. Q.mu held. */
static qmeta *meta_get(const char *model, int64_t version, const cairn_model *m)
{
    qmeta *q = meta_find(model, version);
    if (q) return q;
    q = cairn_calloc(1, sizeof(*q));
    q->model = cairn_strdup(model);
    q->version = version;
    q->task = cairn_model_task(m);
    q->k = cairn_model_n_outputs(m);
    q->nclass = q->task == CAIRN_TASK_BINARY ? 2 : q->task == CAIRN_TASK_MULTICLASS ? q->k : 0;
    if (q->nclass) {
        q->cls = cairn_calloc((size_t)q->nclass, sizeof(char *));
        for (int c = 0; c < q->nclass; c++) {
            const char *l = cairn_model_class_label(m, c);
            q->cls[c] = l ? cairn_strdup(l) : NULL;
        }
    }
    q->next = Q.metas;
    Q.metas = q;
    return q;
}

/* The metadata of (model, version), loading the model through the serving
 * cache when this process has not served it yet (after a restart). NULL
 * with the error set when it cannot load. Takes Q.mu. */
static qmeta *meta_load(const char *model, int64_t version)
{
    pthread_mutex_lock(&Q.mu);
    qmeta *q = meta_find(model, version);
    pthread_mutex_unlock(&Q.mu);
    if (q) return q;
    if (!Q.serve) {
        cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "model '%s' version %lld is not loaded",
                        model, (long long)version);
        return NULL;
    }
    char spec[32];
    snprintf(spec, sizeof(spec), "%lld", (long long)version);
    cairn_serve_model *sm = NULL;
    if (cairn_serve_acquire(Q.serve, model, spec, &sm)) return NULL;
    pthread_mutex_lock(&Q.mu);
    q = meta_get(model, version, cairn_serve_model_get(sm));
    pthread_mutex_unlock(&Q.mu);
    cairn_serve_release(sm);
    return q;
}

static void metas_free(qmeta *q)
{
    while (q) {
        qmeta *next = q->next;
        for (int c = 0; c < q->nclass; c++)
            cairn_free(q->cls[c]);
        cairn_free(q->cls);
        cairn_free(q->model);
        cairn_free(q);
        q = next;
    }
}

/* ================= the index of recent requests ================= */

static uint64_t hash_id(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Frees the ring and the hash. Q.mu held. */
static void index_clear(void)
{
    for (size_t i = 0; Q.ring && i < Q.cap; i++)
        cairn_free(Q.ring[i]);
    cairn_free(Q.ring);
    cairn_free(Q.bucket);
    Q.ring = NULL;
    Q.bucket = NULL;
    Q.head = 0;
}

/* Allocates the ring for Q.o.capacity requests. Q.mu held. */
static void index_init(void)
{
    Q.cap = Q.o.capacity ? Q.o.capacity : 1;
    Q.nbucket = 1;
    while (Q.nbucket < Q.cap * 2)
        Q.nbucket <<= 1;
    Q.ring = cairn_calloc(Q.cap, sizeof(qentry *));
    Q.bucket = cairn_calloc(Q.nbucket, sizeof(qentry *));
    Q.head = 0;
}

static void unlink_entry(qentry *e)
{
    *e->hpprev = e->hnext;
    if (e->hnext) e->hnext->hpprev = e->hpprev;
}

void cairn_serve__quality_record(const char *request_id, const char *deployment, const char *model,
                                 int64_t version, const cairn_model *m, const double *pred,
                                 size_t nrows, int k)
{
    if (!atomic_load_explicit(&enabled, memory_order_relaxed)) return;
    if (!request_id || !*request_id || !model || !m || k < 1 || nrows == 0) return;
    size_t nid = strlen(request_id), nd = deployment ? strlen(deployment) : 0, nm = strlen(model);
    if (nid > MAX_ID || nrows > MAX_RECORD_VALUES / (size_t)k) return;
    size_t nv = nrows * (size_t)k;
    qentry *e = cairn_malloc(sizeof(qentry) + sizeof(double) * nv + nid + nd + nm + 3);
    char *p = (char *)(e->out + nv);
    memcpy(e->out, pred, sizeof(double) * nv);
    memcpy(p, request_id, nid + 1);
    e->id = p;
    p += nid + 1;
    if (nd) memcpy(p, deployment, nd);
    p[nd] = '\0';
    e->deployment = p;
    p += nd + 1;
    memcpy(p, model, nm + 1);
    e->model = p;
    e->hash = hash_id(request_id, nid);
    e->time_ms = cairn_time_ms();
    e->version = version;
    e->nrows = nrows;
    e->k = k;
    pthread_mutex_lock(&Q.mu);
    if (!Q.ring) index_init();
    e->meta = meta_get(model, version, m);
    qentry *old = Q.ring[Q.head];
    if (old) unlink_entry(old);
    Q.ring[Q.head] = e;
    Q.head = (Q.head + 1) % Q.cap;
    qentry **b = &Q.bucket[e->hash & (Q.nbucket - 1)];
    e->hnext = *b; /* newest first: a reused id finds its latest request */
    if (*b) (*b)->hpprev = &e->hnext;
    e->hpprev = b;
    *b = e;
    pthread_mutex_unlock(&Q.mu);
    cairn_free(old);
}

/* The newest remembered request with id (n bytes). Q.mu held. */
static qentry *index_find(const char *id, size_t n)
{
    if (!Q.ring) return NULL;
    uint64_t h = hash_id(id, n);
    for (qentry *e = Q.bucket[h & (Q.nbucket - 1)]; e; e = e->hnext)
        if (e->hash == h && !strncmp(e->id, id, n) && e->id[n] == '\0') return e;
    return NULL;
}

/* If id ends in "/<digits>", the length of the part before it and the row. */
static int split_row(const char *id, size_t *base_len, size_t *row)
{
    const char *slash = strrchr(id, '/');
    if (!slash || !slash[1] || slash == id) return 0;
    size_t r = 0;
    for (const char *p = slash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || r > (size_t)1 << 40) return 0;
        r = r * 10 + (size_t)(*p - '0');
    }
    *base_len = (size_t)(slash - id);
    *row = r;
    return 1;
}

/* ================= joining ================= */

/* A label matched to its prediction. */
typedef struct qpair {
    size_t idx; /* in the batch */
    int found;
    char *deployment, *model;
    int64_t version, pred_ms;
    int k;
    double *out; /* (k) */
    double y;    /* resolved label */
    qmeta *meta; /* NULL until known */
} qpair;

static int serves_name(const char *deployment, const char *model, const char *name)
{
    return !strcmp(deployment, name) || !strcmp(model, name);
}

static void pair_fill(qpair *p, const char *deployment, const char *model, int64_t version,
                      int64_t ms, const double *row, int k, qmeta *meta)
{
    cairn_free(p->deployment);
    cairn_free(p->model);
    cairn_free(p->out);
    p->found = 1;
    p->deployment = cairn_strdup(deployment);
    p->model = cairn_strdup(model);
    p->version = version;
    p->pred_ms = ms;
    p->k = k;
    p->out = cairn_malloc(sizeof(double) * (size_t)k);
    memcpy(p->out, row, sizeof(double) * (size_t)k);
    p->meta = meta;
}

/* Looks every label up in the in-memory index. */
static void join_memory(const char *name, const cairn_quality_label *labels, qpair *pairs, size_t n)
{
    pthread_mutex_lock(&Q.mu);
    for (size_t i = 0; i < n; i++) {
        const char *id = labels[i].id;
        qentry *e = index_find(id, strlen(id));
        size_t row = 0, blen;
        if (e && e->nrows != 1) e = NULL; /* a multi-row request needs "/<row>" */
        if (!e && split_row(id, &blen, &row)) {
            e = index_find(id, blen);
            if (e && row >= e->nrows) e = NULL;
        }
        if (e && serves_name(e->deployment, e->model, name))
            pair_fill(&pairs[i], e->deployment, e->model, e->version, e->time_ms,
                      e->out + row * (size_t)e->k, e->k, e->meta);
    }
    pthread_mutex_unlock(&Q.mu);
}

/* One key of a label not found in memory, for the log scan. */
typedef struct scan_key {
    const char *base; /* the request id to look for */
    size_t len;
    size_t row;
    int whole; /* 1: the id names a one-row request */
    size_t pair;
} scan_key;

static int key_cmp(const void *a, const void *b)
{
    const scan_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->base, y->base, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Looks the labels that memory did not know up in the prediction log
 * (records newer than the horizon; a later record with the same id wins).
 * A log that cannot be read leaves them unknown, with a warning. */
static void join_log(const char *name, const cairn_quality_label *labels, qpair *pairs, size_t n,
                     const char *dir, int64_t horizon_s)
{
    scan_key *keys = cairn_malloc(sizeof(scan_key) * (2 * n + 1));
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].found) continue;
        const char *id = labels[i].id;
        keys[nk++] = (scan_key){id, strlen(id), 0, 1, i};
        size_t blen, row;
        if (split_row(id, &blen, &row)) keys[nk++] = (scan_key){id, blen, row, 0, i};
    }
    if (!nk) {
        cairn_free(keys);
        return;
    }
    qsort(keys, nk, sizeof(*keys), key_cmp);
    cairn_predlog_reader *rd = NULL;
    int64_t since = (cairn_time_ms() - horizon_s * 1000) * 1000000;
    if (cairn_predlog_reader_open(&rd, dir, since < 0 ? 0 : since)) {
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "quality: prediction log unreadable: %s",
                  cairn_error_last()->msg);
        cairn_free(keys);
        return;
    }
    const cairn_predlog_entry *e;
    int rc;
    while ((rc = cairn_predlog_reader_next(rd, &e)) != 0) {
        if (rc < 0) continue; /* an unreadable segment: go on with the next */
        if (e->k < 1 || !serves_name(e->deployment, e->model, name)) continue;
        scan_key probe = {e->request_id, strlen(e->request_id), 0, 0, 0};
        scan_key *hit = bsearch(&probe, keys, nk, sizeof(*keys), key_cmp);
        if (!hit) continue;
        while (hit > keys && !key_cmp(hit - 1, &probe))
            hit--;
        for (; hit < keys + nk && !key_cmp(hit, &probe); hit++) {
            if (hit->whole ? e->nrows != 1 : hit->row >= e->nrows) continue;
            size_t row = hit->whole ? 0 : hit->row;
            pair_fill(&pairs[hit->pair], e->deployment, e->model, e->version, e->time_ns / 1000000,
                      e->outputs + row * (size_t)e->k, e->k, NULL);
        }
    }
    cairn_predlog_reader_free(rd);
    cairn_free(keys);
}

/* Resolves a label against its model: a class name or index for
 * classifiers, a number for regression. Returns NULL, or why it does not fit. */
static const char *resolve_label(const qmeta *m, const cairn_quality_label *l, double *y)
{
    if (m->task == CAIRN_TASK_REGRESSION) {
        if (l->text) return cairn_parse_double(l->text, y) ? "label is not a number" : NULL;
        *y = l->value;
        return isfinite(*y) ? NULL : "label is not a finite number";
    }
    if (m->nclass < 2) return "the model has no quality metrics (clustering)";
    char num[40];
    const char *name = l->text;
    if (!name && isfinite(l->value)) {
        snprintf(num, sizeof(num), "%.17g", l->value);
        name = num;
    }
    for (int c = 0; name && c < m->nclass; c++)
        if (m->cls[c] && !strcmp(m->cls[c], name)) {
            *y = c;
            return NULL;
        }
    if (!l->text && l->value >= 0 && l->value < m->nclass && l->value == floor(l->value)) {
        *y = l->value;
        return NULL;
    }
    return "label is not one of the model's classes";
}

/* ================= series and windows ================= */

/* The series (deployment, model, version), created if new. Q.smu held. */
static qseries *series_get(const char *deployment, const char *model, int64_t version)
{
    for (qseries *s = Q.series; s; s = s->next)
        if (s->version == version && !strcmp(s->model, model) && !strcmp(s->deployment, deployment))
            return s;
    qseries *s = cairn_calloc(1, sizeof(*s));
    s->deployment = cairn_strdup(deployment);
    s->model = cairn_strdup(model);
    s->version = version;
    s->next = Q.series;
    Q.series = s;
    return s;
}

/* Adds one row to s's open window (which must have room). Q.smu held. */
static void window_add(qseries *s, int64_t now_ms, double y, const double *out, int k)
{
    if (s->n && s->k != k) { /* a different output width cannot share a window: restart it */
        s->n = 0;
    }
    s->k = k;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->y = cairn_realloc(s->y, sizeof(double) * s->cap);
        s->out = cairn_realloc(s->out, sizeof(double) * s->cap * (size_t)k);
    }
    if (!s->n) s->start_ms = now_ms;
    s->y[s->n] = y;
    memcpy(s->out + s->n * (size_t)k, out, sizeof(double) * (size_t)k);
    s->n++;
    s->labels++;
}

static int window_full(const qseries *s)
{
    int64_t rows = Q.o.window_rows;
    return s->n >= MAX_WINDOW_ROWS || (rows > 0 && s->n >= (size_t)rows);
}

static int window_expired(const qseries *s, int64_t now_ms)
{
    return s->n && Q.o.window_seconds > 0 && now_ms - s->start_ms >= Q.o.window_seconds * 1000;
}

/* Closes s's open window at end_ms: computes its metrics into *c and
 * empties it. Q.smu held. */
static void window_close(qseries *s, int64_t end_ms, qclosed *c)
{
    memset(c, 0, sizeof(*c));
    if (s->task_known)
        cairn_serve__quality_compute(s->task, s->k, s->y, s->out, s->n, c->v);
    else
        for (int i = 0; i < CAIRN_QM_COUNT; i++)
            c->v[i] = NAN;
    c->deployment = cairn_strdup(s->deployment);
    c->model = cairn_strdup(s->model);
    c->version = s->version;
    c->seq = ++s->seq;
    c->start_ms = s->start_ms;
    c->end_ms = end_ms;
    c->rows = s->n;
    memcpy(s->last, c->v, sizeof(c->v));
    s->has_last = 1;
    s->n = 0;
}

/* The training metrics of (model, version): latest_metrics of the run the
 * version was registered from. Missing ones stay NaN. */
typedef struct train_ctx {
    double v[CAIRN_QM_COUNT];
} train_ctx;

static int train_row(const cairn_value *c, int n, void *payload)
{
    train_ctx *t = payload;
    if (n < 2 || c[0].type != CAIRN_V_TEXT) return 0;
    double v = c[1].type == CAIRN_V_REAL  ? c[1].u.d
               : c[1].type == CAIRN_V_INT ? (double)c[1].u.i
                                          : NAN;
    for (int i = 0; i < CAIRN_QM_COUNT; i++)
        if (strlen(metric_names[i]) == c[0].u.s.len &&
            !memcmp(metric_names[i], c[0].u.s.ptr, c[0].u.s.len))
            t->v[i] = v;
    return 0;
}

static void training_metrics(cairn_store *store, const char *model, int64_t version,
                             double v[CAIRN_QM_COUNT])
{
    train_ctx t;
    for (int i = 0; i < CAIRN_QM_COUNT; i++)
        t.v[i] = NAN;
    cairn_value p[2] = {CAIRN_VTEXT(model), CAIRN_VINT(version)};
    if (store &&
        cairn_store_query(store,
                          "SELECT lm.key, lm.value FROM model_versions mv JOIN runs r ON "
                          "r.run_uuid = mv.run_id JOIN latest_metrics lm ON lm.run_id = r.run_id "
                          "WHERE mv.name = ? AND mv.version = ? AND lm.is_nan = 0",
                          p, 2, train_row, &t))
        cairn_error_clear();
    memcpy(v, t.v, sizeof(t.v));
}

/* Stores one closed window, a row per defined metric. Inside a write unit. */
static int store_window(cairn_store_tx *tx, const qclosed *c, const double *train)
{
    for (int i = 0; i < CAIRN_QM_COUNT; i++) {
        if (!isfinite(c->v[i])) continue;
        cairn_value p[10] = {
            CAIRN_VTEXT(c->deployment), CAIRN_VTEXT(c->model),
            CAIRN_VINT(c->version),     CAIRN_VINT(c->seq),
            CAIRN_VINT(c->start_ms),    CAIRN_VINT(c->end_ms),
            CAIRN_VINT(c->rows),        CAIRN_VTEXT(metric_names[i]),
            CAIRN_VREAL(c->v[i]),       isfinite(train[i]) ? CAIRN_VREAL(train[i]) : CAIRN_VNULL};
        int rc = cairn_tx_exec(tx,
                               "INSERT INTO monitor_quality (deployment, model, version, seq, "
                               "window_start, window_end, rows_count, metric, value, training) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               p, 10, NULL, NULL);
        if (rc) return rc;
    }
    return 0;
}

/* A list of closed windows with their training metrics. */
typedef struct closed_list {
    qclosed *c;
    double (*train)[CAIRN_QM_COUNT];
    size_t n, cap;
} closed_list;

/* Closes s's window into l and stores it. Q.smu held, inside a write unit. */
static int close_into(cairn_store_tx *tx, qseries *s, int64_t end_ms, closed_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->c = cairn_realloc(l->c, sizeof(qclosed) * l->cap);
        l->train = cairn_realloc(l->train, sizeof(*l->train) * l->cap);
    }
    qclosed *c = &l->c[l->n];
    window_close(s, end_ms, c);
    training_metrics(Q.store, c->model, c->version, l->train[l->n]);
    l->n++;
    return store_window(tx, c, l->train[l->n - 1]);
}

/* Calls the alert hook for each closed window, then frees the list. */
static void closed_finish(closed_list *l, int notify)
{
    pthread_mutex_lock(&Q.smu);
    void (*cb)(const char *, const char *, double, int64_t, void *) = Q.cb;
    void *payload = Q.cb_payload;
    pthread_mutex_unlock(&Q.smu);
    for (size_t i = 0; i < l->n; i++) {
        qclosed *c = &l->c[i];
        for (int m = 0; notify && cb && m < CAIRN_QM_COUNT; m++)
            if (isfinite(c->v[m]))
                cb(*c->deployment ? c->deployment : c->model, metric_names[m], c->v[m], c->end_ms,
                   payload);
        cairn_free(c->deployment);
        cairn_free(c->model);
    }
    cairn_free(l->c);
    cairn_free(l->train);
}

/* ================= the join's write unit ================= */

typedef struct join_unit {
    qpair *pairs;
    size_t n;
    const cairn_quality_label *labels;
    int *dup; /* (n) 1: already labelled */
    int64_t now_ms;
    closed_list closed;
} join_unit;

/* Closes every expired window at now_ms. Q.smu held, inside a write unit. */
static int close_expired(cairn_store_tx *tx, int64_t now_ms, closed_list *l)
{
    for (qseries *s = Q.series; s; s = s->next)
        if (window_expired(s, now_ms)) {
            int rc = close_into(tx, s, now_ms, l);
            if (rc) return rc;
        }
    return 0;
}

static int join_write(cairn_store_tx *tx, void *payload)
{
    join_unit *u = payload;
    cairn_buf b = CAIRN_BUF_INIT(0);
    int rc = 0;
    pthread_mutex_lock(&Q.smu);
    rc = close_expired(tx, u->now_ms, &u->closed);
    for (size_t i = 0; i < u->n && !rc; i++) {
        qpair *p = &u->pairs[i];
        if (!p->found || !p->meta) continue;
        qseries *s = series_get(p->deployment, p->model, p->version);
        b.len = 0;
        cairn_buf_putc(&b, '[');
        for (int j = 0; j < p->k; j++) {
            if (j) cairn_buf_putc(&b, ',');
            cairn_serve__put_double(&b, p->out[j]);
        }
        cairn_buf_putc(&b, ']');
        cairn_value v[9] = {
            CAIRN_VTEXT(u->labels[p->idx].id), CAIRN_VTEXT(p->model),  CAIRN_VINT(p->version),
            CAIRN_VTEXT(p->deployment),        CAIRN_VINT(p->pred_ms), CAIRN_VINT(u->now_ms),
            CAIRN_VTEXTN(b.ptr, b.len),        CAIRN_VREAL(p->y),      CAIRN_VINT(s->seq + 1)};
        rc = cairn_tx_exec(tx,
                           "INSERT INTO monitor_feedback (request_id, model, version, deployment, "
                           "predicted_at, labeled_at, outputs, label, window_seq) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           v, 9, NULL, NULL);
        if (rc) break;
        if (cairn_tx_changes(tx) == 0) {
            u->dup[i] = 1;
            continue;
        }
        s->task = p->meta->task;
        s->task_known = 1;
        window_add(s, u->now_ms, p->y, p->out, p->k);
        if (window_full(s)) rc = close_into(tx, s, u->now_ms, &u->closed);
    }
    pthread_mutex_unlock(&Q.smu);
    cairn_buf_free(&b);
    return rc;
}

static void push_idx(size_t **a, size_t *n, size_t v)
{
    *a = cairn_realloc(*a, sizeof(size_t) * (*n + 1));
    (*a)[(*n)++] = v;
}

void cairn_serve__quality_result_free(cairn_quality_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nrejected; i++)
        cairn_free(r->reason[i]);
    cairn_free(r->reason);
    cairn_free(r->unknown);
    cairn_free(r->duplicate);
    cairn_free(r->rejected);
    memset(r, 0, sizeof(*r));
}

int cairn_serve__quality_join(const char *name, const cairn_quality_label *labels, size_t n,
                              cairn_quality_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!Q.store)
        return cairn_error_set(CAIRN_EUNSUPPORTED, SERVE_SUBSYS,
                               "quality monitoring is not running on this server");
    qpair *pairs = cairn_calloc(n ? n : 1, sizeof(qpair));
    int *dup = cairn_calloc(n ? n : 1, sizeof(int));
    for (size_t i = 0; i < n; i++)
        pairs[i].idx = i;
    join_memory(name, labels, pairs, n);
    pthread_mutex_lock(&Q.smu);
    char *dir = Q.predlog_dir ? cairn_strdup(Q.predlog_dir) : NULL;
    int64_t horizon = Q.o.horizon_seconds;
    pthread_mutex_unlock(&Q.smu);
    if (dir) join_log(name, labels, pairs, n, dir, horizon);
    cairn_free(dir);
    for (size_t i = 0; i < n; i++) {
        qpair *p = &pairs[i];
        if (!p->found) {
            push_idx(&out->unknown, &out->nunknown, i);
            continue;
        }
        const char *why = NULL;
        if (!p->meta && !(p->meta = meta_load(p->model, p->version)))
            why = cairn_error_last()->msg;
        else if (p->meta->k != p->k)
            why = "the logged prediction does not match the model's outputs";
        else
            why = resolve_label(p->meta, &labels[i], &p->y);
        if (why) {
            out->reason = cairn_realloc(out->reason, sizeof(char *) * (out->nrejected + 1));
            out->reason[out->nrejected] = cairn_strdup(why);
            push_idx(&out->rejected, &out->nrejected, i);
            p->meta = NULL; /* not joined */
        }
    }
    cairn_error_clear();
    join_unit u = {pairs, n, labels, dup, cairn_time_ms(), {0}};
    int rc = cairn_store_write(Q.store, join_write, &u);
    for (size_t i = 0; i < n && !rc; i++) {
        if (dup[i])
            push_idx(&out->duplicate, &out->nduplicate, i);
        else if (pairs[i].found && pairs[i].meta)
            out->joined++;
    }
    closed_finish(&u.closed, rc == 0);
    for (size_t i = 0; i < n; i++) {
        cairn_free(pairs[i].deployment);
        cairn_free(pairs[i].model);
        cairn_free(pairs[i].out);
    }
    cairn_free(pairs);
    cairn_free(dup);
    if (rc) cairn_serve__quality_result_free(out);
    return rc;
}

/* ================= time windows ================= */

typedef struct tick_unit {
    int64_t now_ms;
    closed_list closed;
} tick_unit;

static int tick_write(cairn_store_tx *tx, void *payload)
{
    tick_unit *t = payload;
    pthread_mutex_lock(&Q.smu);
    int rc = close_expired(tx, t->now_ms, &t->closed);
    pthread_mutex_unlock(&Q.smu);
    return rc;
}

void cairn_serve__quality_tick(int64_t now_ms)
{
    int any = 0;
    pthread_mutex_lock(&Q.smu);
    for (qseries *s = Q.series; s && !any; s = s->next)
        any = window_expired(s, now_ms);
    cairn_store *store = Q.store;
    pthread_mutex_unlock(&Q.smu);
    if (!any || !store) return; /* the common case writes nothing */
    tick_unit t = {now_ms, {0}};
    int rc = cairn_store_write(store, tick_write, &t);
    if (rc)
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "quality: storing a closed window: %s",
                  cairn_error_last()->msg);
    closed_finish(&t.closed, rc == 0);
}

/* ================= HTTP: feedback ================= */

static void oip_error(cairn_http_req *req, int status, const char *msg)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"error\":");
    cairn_buf_put_json_str(&b, msg, strlen(msg));
    cairn_buf_putc(&b, '}');
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, status, "application/json", body, n);
}

/* Decodes {"labels":[{"id":"..","label":number|string}, ...]} into
 * labels (pointing into root). CAIRN_EINVALID with a message naming the
 * first bad item. */
static int decode_labels(json_t *root, cairn_quality_label **out, size_t *n)
{
    json_t *arr = json_is_object(root) ? json_object_get(root, "labels") : NULL;
    if (!json_is_array(arr))
        return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                               "the body must be an object with a \"labels\" array");
    size_t len = json_array_size(arr);
    if (len > MAX_LABELS)
        return cairn_error_set(CAIRN_ETOOBIG, SERVE_SUBSYS, "more than %d labels in one request",
                               MAX_LABELS);
    cairn_quality_label *l = cairn_calloc(len ? len : 1, sizeof(*l));
    for (size_t i = 0; i < len; i++) {
        json_t *it = json_array_get(arr, i), *id = json_object_get(it, "id"),
               *lab = json_object_get(it, "label");
        if (!json_is_object(it) || !json_is_string(id) || !json_string_length(id) ||
            json_string_length(id) > MAX_ID ||
            strlen(json_string_value(id)) != json_string_length(id)) {
            cairn_free(l);
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "labels[%zu]: \"id\" must be a non-empty string of at most %d "
                                   "bytes",
                                   i, MAX_ID);
        }
        l[i].id = json_string_value(id);
        if (json_is_number(lab))
            l[i].value = json_number_value(lab);
        else if (json_is_string(lab) && json_string_length(lab) &&
                 strlen(json_string_value(lab)) == json_string_length(lab))
            l[i].text = json_string_value(lab);
        else {
            cairn_free(l);
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "labels[%zu]: \"label\" must be a number or a non-empty string",
                                   i);
        }
    }
    *out = l;
    *n = len;
    return 0;
}

static void put_ids(cairn_buf *b, const char *key, const cairn_quality_label *l, const size_t *idx,
                    size_t n)
{
    cairn_buf_printf(b, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i) cairn_buf_putc(b, ',');
        cairn_buf_put_json_str(b, l[idx[i]].id, strlen(l[idx[i]].id));
    }
    cairn_buf_putc(b, ']');
}

int cairn_serve__quality_feedback(cairn_http_req *req, const char *name)
{
    size_t len;
    const char *body = cairn_http_req_body(req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char msg[256];
        snprintf(msg, sizeof(msg), "malformed JSON: %s", jerr.text);
        oip_error(req, 400, msg);
        return 0;
    }
    cairn_quality_label *labels = NULL;
    size_t n = 0;
    cairn_quality_result r;
    int rc = decode_labels(root, &labels, &n);
    if (!rc) rc = cairn_serve__quality_join(name, labels, n, &r);
    if (rc) {
        oip_error(req, cairn_http_status_for(rc), cairn_error_last()->msg);
        cairn_free(labels);
        json_decref(root);
        return 0;
    }
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&b, "{\"joined\":%zu", r.joined);
    put_ids(&b, "unknown", labels, r.unknown, r.nunknown);
    put_ids(&b, "duplicate", labels, r.duplicate, r.nduplicate);
    cairn_buf_puts(&b, ",\"rejected\":[");
    for (size_t i = 0; i < r.nrejected; i++) {
        const char *id = labels[r.rejected[i]].id;
        cairn_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        cairn_buf_put_json_str(&b, id, strlen(id));
        cairn_buf_puts(&b, ",\"error\":");
        cairn_buf_put_json_str(&b, r.reason[i], strlen(r.reason[i]));
        cairn_buf_putc(&b, '}');
    }
    cairn_buf_puts(&b, "]}");
    cairn_serve__quality_result_free(&r);
    cairn_free(labels);
    json_decref(root);
    size_t blen;
    char *out = cairn_buf_detach(&b, &blen);
    cairn_http_respond_take(req, 200, "application/json", out, blen);
    return 0;
}

/* ================= HTTP: the quality API ================= */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* {"auc":{"value":..,"training":..,"difference":..}, ...} for the defined
 * values in v. */
static json_t *metrics_json(const double *v, const double *train)
{
    json_t *o = json_object();
    for (int i = 0; i < CAIRN_QM_COUNT; i++) {
        if (!isfinite(v[i])) continue;
        json_object_set_new(o, metric_names[i],
                            json_pack("{s:o,s:o,s:o}", "value", json_real(v[i]), "training",
                                      num_or_null(train[i]), "difference",
                                      num_or_null(v[i] - train[i])));
    }
    return o;
}

typedef struct hist_ctx {
    json_t *windows;
    json_t *cur; /* the window being filled */
    int64_t seq;
} hist_ctx;

static int hist_row(const cairn_value *c, int n, void *payload)
{
    hist_ctx *h = payload;
    if (n < 7) return 0;
    if (!h->cur || c[0].u.i != h->seq) {
        h->seq = c[0].u.i;
        h->cur = json_pack("{s:I,s:I,s:I,s:I,s:o}", "seq", (json_int_t)c[0].u.i, "start_ms",
                           (json_int_t)c[1].u.i, "end_ms", (json_int_t)c[2].u.i, "rows",
                           (json_int_t)c[3].u.i, "metrics", json_object());
        json_array_append_new(h->windows, h->cur);
    }
    double v = c[5].type == CAIRN_V_REAL ? c[5].u.d : (double)c[5].u.i;
    double t = c[6].type == CAIRN_V_REAL  ? c[6].u.d
               : c[6].type == CAIRN_V_INT ? (double)c[6].u.i
                                          : NAN;
    char key[64];
    snprintf(key, sizeof(key), "%.*s", (int)c[4].u.s.len, c[4].u.s.ptr);
    json_object_set_new(json_object_get(h->cur, "metrics"), key,
                        json_pack("{s:o,s:o,s:o}", "value", json_real(v), "training",
                                  num_or_null(t), "difference", num_or_null(v - t)));
    return 0;
}

/* A snapshot of one series for the API, taken under Q.smu. */
typedef struct series_snap {
    char *deployment, *model;
    int64_t version, seq, start_ms;
    int task_known;
    cairn_task task;
    size_t n;
    uint64_t labels;
    double v[CAIRN_QM_COUNT];
} series_snap;

static int h_quality(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *dep = NULL, *model = NULL;
    int64_t version = 0, max_windows = 100;
    int has_version = 0;
    int rc = cairn_api__str(&call, "deployment", 0, &dep);
    if (!rc) rc = cairn_api__str(&call, "model", 0, &model);
    if (!rc) rc = cairn_api__i64(&call, "version", 0, &version, &has_version);
    if (!rc) rc = cairn_api__i64(&call, "max_windows", 0, &max_windows, NULL);
    if (!rc && (max_windows < 1 || max_windows > 10000))
        rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "max_windows must be in 1..10000");
    if (rc) FAIL(call, rc);
    cairn_serve__quality_tick(cairn_time_ms());

    series_snap *snap = NULL;
    size_t ns = 0;
    pthread_mutex_lock(&Q.smu);
    for (qseries *s = Q.series; s; s = s->next) {
        if ((dep && strcmp(dep, s->deployment)) || (model && strcmp(model, s->model)) ||
            (has_version && version != s->version))
            continue;
        snap = cairn_realloc(snap, sizeof(*snap) * (ns + 1));
        series_snap *p = &snap[ns++];
        p->deployment = cairn_strdup(s->deployment);
        p->model = cairn_strdup(s->model);
        p->version = s->version;
        p->seq = s->seq;
        p->start_ms = s->start_ms;
        p->task_known = s->task_known;
        p->task = s->task;
        p->n = s->n;
        p->labels = s->labels;
        if (s->task_known)
            cairn_serve__quality_compute(s->task, s->k, s->y, s->out, s->n, p->v);
        else
            for (int i = 0; i < CAIRN_QM_COUNT; i++)
                p->v[i] = NAN;
    }
    pthread_mutex_unlock(&Q.smu);

    json_t *arr = json_array();
    for (size_t i = 0; i < ns && !rc; i++) {
        series_snap *p = &snap[i];
        double train[CAIRN_QM_COUNT];
        training_metrics(Q.store, p->model, p->version, train);
        json_t *tr = json_object();
        for (int m = 0; m < CAIRN_QM_COUNT; m++)
            if (isfinite(train[m])) json_object_set_new(tr, metric_names[m], json_real(train[m]));
        hist_ctx h = {json_array(), NULL, 0};
        cairn_value q[4] = {CAIRN_VTEXT(p->deployment), CAIRN_VTEXT(p->model),
                            CAIRN_VINT(p->version), CAIRN_VINT(p->seq - max_windows)};
        rc = cairn_store_query(Q.store,
                               "SELECT seq, window_start, window_end, rows_count, metric, value, "
                               "training FROM monitor_quality WHERE deployment = ? AND model = ? "
                               "AND version = ? AND seq > ? ORDER BY seq, metric",
                               q, 4, hist_row, &h);
        json_t *cur =
            json_pack("{s:I,s:o}", "rows", (json_int_t)p->n, "metrics", metrics_json(p->v, train));
        if (p->n) json_object_set_new(cur, "start_ms", json_integer(p->start_ms));
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o}", "deployment", p->deployment,
                              "model", p->model, "version", (json_int_t)p->version,
                              "windows_closed", (json_int_t)p->seq, "labels", (json_int_t)p->labels,
                              "training", tr, "current", cur, "windows", h.windows);
        if (p->task_known) json_object_set_new(o, "task", json_string(cairn_serve__task_name(p->task)));
        json_array_append_new(arr, o);
    }
    for (size_t i = 0; i < ns; i++) {
        cairn_free(snap[i].deployment);
        cairn_free(snap[i].model);
    }
    cairn_free(snap);
    if (rc) {
        json_decref(arr);
        FAIL(call, rc);
    }
    json_t *cfg = json_pack("{s:I,s:I}", "window_rows", (json_int_t)Q.o.window_rows,
                            "window_seconds", (json_int_t)Q.o.window_seconds);
    cairn_api__ok(req, json_pack("{s:o,s:o}", "series", arr, "window", cfg));
    cairn_api__end(&call);
    return 0;
}

/* ================= life ================= */

void cairn_serve__quality_configure(const cairn_quality_opts *o)
{
    cairn_quality_opts d = CAIRN_QUALITY_OPTS_INIT;
    if (!o) o = &d;
    pthread_mutex_lock(&Q.smu);
    cairn_free(Q.predlog_dir);
    Q.predlog_dir = o->predlog_dir ? cairn_strdup(o->predlog_dir) : NULL;
    size_t old_cap = Q.o.capacity;
    Q.o = *o;
    Q.o.predlog_dir = NULL; /* Q.predlog_dir holds it */
    if (Q.o.window_rows < 0) Q.o.window_rows = 0;
    if (Q.o.window_seconds < 0) Q.o.window_seconds = 0;
    if (Q.o.capacity == 0) Q.o.capacity = 1;
    size_t cap = Q.o.capacity;
    pthread_mutex_unlock(&Q.smu);
    if (cap != old_cap) {
        pthread_mutex_lock(&Q.mu);
        index_clear(); /* re-made at the next record with the new capacity */
        pthread_mutex_unlock(&Q.mu);
    }
}

/* Rebuilding at mount: the window counter of every stored series... */
static int seq_row(const cairn_value *c, int n, void *payload)
{
    (void)payload;
    if (n < 4) return 0;
    char *d = cairn_strndup(c[0].u.s.ptr, c[0].u.s.len),
         *m = cairn_strndup(c[1].u.s.ptr, c[1].u.s.len);
    qseries *s = series_get(d, m, c[2].u.i);
    if (c[3].u.i > s->seq) s->seq = c[3].u.i;
    cairn_free(d);
    cairn_free(m);
    return 0;
}

/* ...then the labels of their open windows, oldest first. */
static int open_row(const cairn_value *c, int n, void *payload)
{
    (void)payload;
    if (n < 7) return 0;
    char *d = cairn_strndup(c[0].u.s.ptr, c[0].u.s.len),
         *m = cairn_strndup(c[1].u.s.ptr, c[1].u.s.len);
    qseries *s = series_get(d, m, c[2].u.i);
    cairn_free(d);
    cairn_free(m);
    if (c[6].u.i != s->seq + 1) return 0; /* a window that did not close in time */
    json_t *arr = json_loadb(c[4].u.s.ptr, c[4].u.s.len, 0, NULL);
    size_t k = json_array_size(arr);
    if (k >= 1 && k <= CAIRN_PREDLOG_MAX_K && !window_full(s)) {
        double *out = cairn_malloc(sizeof(double) * k);
        for (size_t j = 0; j < k; j++)
            out[j] = json_is_number(json_array_get(arr, j))
                         ? json_number_value(json_array_get(arr, j))
                         : NAN;
        double y = c[5].type == CAIRN_V_REAL ? c[5].u.d : (double)c[5].u.i;
        window_add(s, c[3].u.i, y, out, (int)k);
        cairn_free(out);
    }
    json_decref(arr);
    return 0;
}

int cairn_serve__quality_mount(cairn_serve *s, cairn_http_server *srv)
{
    cairn_store *store = cairn_serve__store(s);
    cairn_serve__quality_shutdown();
    pthread_mutex_lock(&Q.smu);
    Q.serve = s;
    Q.store = store;
    int rc = cairn_store_query(store,
                               "SELECT deployment, model, version, MAX(seq) FROM monitor_quality "
                               "GROUP BY deployment, model, version",
                               NULL, 0, seq_row, NULL);
    if (!rc)
        rc = cairn_store_query(store,
                               "SELECT f.deployment, f.model, f.version, f.labeled_at, f.outputs, "
                               "f.label, f.window_seq FROM monitor_feedback f WHERE f.window_seq > "
                               "COALESCE((SELECT MAX(q.seq) FROM monitor_quality q WHERE "
                               "q.deployment = f.deployment AND q.model = f.model AND q.version = "
                               "f.version), 0) ORDER BY f.labeled_at, f.window_seq",
                               NULL, 0, open_row, NULL);
    pthread_mutex_unlock(&Q.smu);
    /* the task of each rebuilt window comes from its model version */
    for (qseries *q = Q.series; q && !rc; q = q->next) {
        qmeta *m = meta_load(q->model, q->version);
        pthread_mutex_lock(&Q.smu);
        if (m) q->task = m->task, q->task_known = 1;
        pthread_mutex_unlock(&Q.smu);
        cairn_error_clear(); /* a version that cannot load keeps its history */
    }
    if (!rc)
        rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/quality", 0, 0,
                              h_quality, NULL);
    if (!rc) atomic_store(&enabled, 1);
    return rc;
}

void cairn_serve__quality_shutdown(void)
{
    atomic_store(&enabled, 0);
    pthread_mutex_lock(&Q.smu);
    qseries *s = Q.series;
    Q.series = NULL;
    Q.serve = NULL;
    Q.store = NULL;
    pthread_mutex_unlock(&Q.smu);
    while (s) {
        qseries *next = s->next;
        cairn_free(s->deployment);
        cairn_free(s->model);
        cairn_free(s->y);
        cairn_free(s->out);
        cairn_free(s);
        s = next;
    }
    pthread_mutex_lock(&Q.mu);
    index_clear();
    qmeta *m = Q.metas;
    Q.metas = NULL;
    pthread_mutex_unlock(&Q.mu);
    metas_free(m);
}

void cairn_serve__quality_on_window(void (*cb)(const char *deployment, const char *metric,
                                               double value, int64_t window_end_ms, void *payload),
                                    void *payload)
{
    pthread_mutex_lock(&Q.smu);
    Q.cb = cb;
    Q.cb_payload = payload;
    pthread_mutex_unlock(&Q.smu);
}

/* ================= /metrics ================= */

static void put_series_labels(cairn_buf *b, const qseries *s)
{
    cairn_buf_puts(b, "{deployment=\"");
    cairn_serve__prom_label(b, s->deployment);
    cairn_buf_puts(b, "\",model=\"");
    cairn_serve__prom_label(b, s->model);
    cairn_buf_printf(b, "\",version=\"%lld\"}", (long long)s->version);
}

void cairn_serve__quality_metrics_write(cairn_buf *out)
{
    pthread_mutex_lock(&Q.smu);
    for (int i = 0; i < CAIRN_QM_COUNT; i++) {
        int header = 0;
        for (qseries *s = Q.series; s; s = s->next) {
            if (!s->has_last || !isfinite(s->last[i])) continue;
            if (!header) {
                cairn_buf_printf(out,
                                 "# HELP cairn_quality_%s %s of the last closed quality window "
                                 "(labels joined to predictions).\n# TYPE cairn_quality_%s gauge\n",
                                 gauge_names[i], metric_names[i], gauge_names[i]);
                header = 1;
            }
            cairn_buf_printf(out, "cairn_quality_%s", gauge_names[i]);
            put_series_labels(out, s);
            cairn_buf_putc(out, ' ');
            cairn_buf_printf(out, "%.17g\n", s->last[i]);
        }
    }
    if (Q.series)
        cairn_buf_puts(out, "# HELP cairn_quality_labels_total Labels joined to predictions.\n"
                            "# TYPE cairn_quality_labels_total counter\n");
    for (qseries *s = Q.series; s; s = s->next) {
        cairn_buf_puts(out, "cairn_quality_labels_total");
        put_series_labels(out, s);
        cairn_buf_printf(out, " %llu\n", (unsigned long long)s->labels);
    }
    pthread_mutex_unlock(&Q.smu);
}
