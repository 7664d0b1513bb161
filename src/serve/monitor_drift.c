/*
 * monitor_drift.c - inline drift: every prediction updates the current
 * window of its series (deployment or "", model, version); a window closes
 * after its row count or its duration (the policy's window, whichever comes
 * first) and is evaluated against the version's profile.json.
 *
 * Key idea: the request thread only adds values to fixed-size sketches
 * (cairn/drift.h: a relative-error quantile sketch with the profile's
 * quantile bins per numeric column, a bounded category counter per
 * categorical column), under the series' own mutex: memory per feature, not
 * per row, and no allocation except when a window closes. A closing window
 * hands its sketches to one background thread (fresh ones take their place)
 * that computes the statistics (the column's default choice or the
 * policy's), stores the results, keeps the latest per feature for /metrics
 * and the status API, and signals the alert engine: a drift score per
 * feature, the share of drifted features ("*"), and for deployments the
 * window's error rate, p99 latency and shadow agreement.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cairn/drift.h"
#include "cairn/profile.h"
#include "monitor_alerts.h"
#include "monitor_drift.h"
#include "serve_internal.h"
#include "track/api.h"

#define PROFILE_FILE "profile.json"
#define TICK_MS 1000

typedef struct dfeat {
    char *name;
    int categorical;
    int output; /* 1: output `index` of the predictions, else an input feature */
    int index;
    const cairn_profile_feature *pf; /* borrowed from the series' profile */
    cairn_drift_opts opts;
    cairn_sketch *sk;   /* numeric: the open window */
    cairn_catcount *cc; /* categorical: the open window */
    cairn_drift_result last;
    int has_last;
} dfeat;

typedef struct series {
    struct series *next;
    char *deployment, *model;
    int64_t version;
    pthread_mutex_t mu; /* the open window and the last results */
    cairn_profile *profile; /* NULL: not monitored, see why */
    char why[256];
    int nf;
    dfeat *f;
    int64_t win_rows, win_seconds;
    uint64_t rows;    /* in the open window */
    int64_t start_ms; /* of the open window's first row; 0 when empty */
    uint64_t windows; /* closed */
    int64_t last_end_ms;
    int last_drifted;
    cairn_dstats dprev;        /* request statistics at the last close */
    cairn_shadow_stats sprev;
    struct closed *pending;    /* its closed window still queued (M.qmu), or NULL */
    uint64_t coalesced;        /* windows merged into a queued one (the thread was behind) */
} series;

/* A closed window on its way to evaluation. */
typedef struct closed {
    struct closed *next;
    series *s;
    int64_t start_ms, end_ms;
    uint64_t rows;
    cairn_sketch **sk;
    cairn_catcount **cc;
} closed;

static struct {
    pthread_rwlock_t lock; /* head */
    pthread_mutex_t create; /* one series creation at a time */
    pthread_mutex_t qmu;    /* queue, stop */
    pthread_cond_t qcv;
    pthread_t thread;
    int running, stop, enabled;
    cairn_serve *serve;
    int64_t default_rows, default_seconds;
    series *head;
    closed *queue, **qtail;
} M = {.lock = PTHREAD_RWLOCK_INITIALIZER,
       .create = PTHREAD_MUTEX_INITIALIZER,
       .qmu = PTHREAD_MUTEX_INITIALIZER,
       .qcv = PTHREAD_COND_INITIALIZER};

/* ================= series ================= */

static int feat_alloc(dfeat *f)
{
    if (f->categorical) return cairn_catcount_new_for_feature(&f->cc, f->pf, NULL);
    return cairn_sketch_new_for_feature(&f->sk, f->pf, NULL);
}

/* Builds the monitored columns of s from its profile: the model's input
 * features the profile knows, then the profiled prediction columns. */
static int series_setup(series *s, const cairn_model *m, const cairn_monitor_policy *policy)
{
    int nin = cairn_model_n_features(m), np = cairn_profile_n_predictions(s->profile);
    s->f = cairn_calloc((size_t)(nin + np + 1), sizeof(dfeat));
    const char *dep = *s->deployment ? s->deployment : s->model;
    for (int j = 0; j < nin + np; j++) {
        const cairn_profile_feature *pf;
        int output = j >= nin;
        if (output) {
            pf = cairn_profile_prediction_at(s->profile, j - nin);
            if (j - nin >= cairn_model_n_outputs(m)) continue;
        } else {
            int i = cairn_profile_find(s->profile, cairn_model_feature_name(m, j));
            if (i < 0) continue; /* a feature the profile does not describe */
            pf = cairn_profile_feature_at(s->profile, i);
        }
        dfeat *f = &s->f[s->nf];
        f->name = cairn_strdup(cairn_profile_feature_name(pf));
        f->output = output;
        f->index = output ? j - nin : j;
        f->pf = pf;
        f->categorical = cairn_profile_feature_type(pf) == CAIRN_PROFILE_CATEGORICAL;
        cairn_drift_opts o = CAIRN_DRIFT_OPTS_INIT;
        if (policy) cairn_monitor_policy_feature(policy, dep, f->name, &o.stat, &o.threshold);
        f->opts = o;
        int rc = feat_alloc(f);
        if (rc) {
            cairn_free(f->name);
            return rc;
        }
        s->nf++;
    }
    return 0;
}

static void series_free(series *s)
{
    for (int i = 0; i < s->nf; i++) {
        cairn_free(s->f[i].name);
        cairn_sketch_free(s->f[i].sk);
        cairn_catcount_free(s->f[i].cc);
    }
    cairn_free(s->f);
    cairn_profile_free(s->profile);
    pthread_mutex_destroy(&s->mu);
    cairn_free(s->deployment);
    cairn_free(s->model);
    cairn_free(s);
}

static series *find(const char *dep, const char *model, int64_t version)
{
    for (series *s = M.head; s; s = s->next)
        if (s->version == version && !strcmp(s->model, model) && !strcmp(s->deployment, dep))
            return s;
    return NULL;
}

/* The series of (dep, model version), created (its profile loaded) on first use. */
static series *series_get(const char *dep, const cairn_serve_model *sm)
{
    const char *model = cairn_serve_model_name(sm);
    int64_t version = cairn_serve_model_version(sm);
    pthread_rwlock_rdlock(&M.lock);
    series *s = find(dep, model, version);
    pthread_rwlock_unlock(&M.lock);
    if (s) return s;

    pthread_mutex_lock(&M.create);
    pthread_rwlock_rdlock(&M.lock);
    s = find(dep, model, version);
    pthread_rwlock_unlock(&M.lock);
    if (s) {
        pthread_mutex_unlock(&M.create);
        return s;
    }
    s = cairn_calloc(1, sizeof(*s));
    s->deployment = cairn_strdup(dep);
    s->model = cairn_strdup(model);
    s->version = version;
    pthread_mutex_init(&s->mu, NULL);
    const cairn_monitor_policy *policy = cairn_serve__alerts_policy();
    cairn_monitor_window w = {M.default_rows, M.default_seconds};
    if (policy) w = cairn_monitor_policy_window(policy, *dep ? dep : model);
    s->win_rows = w.rows > 0 ? w.rows : M.default_rows;
    s->win_seconds = w.seconds > 0 ? w.seconds : M.default_seconds;
    cairn_buf text = CAIRN_BUF_INIT(0);
    int rc = cairn_serve__version_file(M.serve, model, version, PROFILE_FILE, &text);
    if (!rc) rc = cairn_profile_from_json(&s->profile, text.ptr, text.len);
    if (!rc) rc = series_setup(s, cairn_serve_model_get(sm), policy);
    if (rc) {
        snprintf(s->why, sizeof(s->why), "%s", cairn_error_last()->msg);
        for (int i = 0; i < s->nf; i++) {
            cairn_free(s->f[i].name);
            cairn_sketch_free(s->f[i].sk);
            cairn_catcount_free(s->f[i].cc);
        }
        s->nf = 0;
        cairn_profile_free(s->profile);
        s->profile = NULL;
        cairn_log(CAIRN_LOG_INFO, SERVE_SUBSYS, "drift not monitored|model=%s version=%lld why=%s",
                  model, (long long)version, s->why);
    }
    cairn_buf_free(&text);
    if (s->profile) cairn_serve__dstats_sum(dep, model, version, 1, &s->dprev);
    if (s->profile && *dep) cairn_serve__shadow_stats(dep, &s->sprev);
    pthread_rwlock_wrlock(&M.lock);
    s->next = M.head;
    M.head = s;
    pthread_rwlock_unlock(&M.lock);
    pthread_mutex_unlock(&M.create);
    return s;
}

/* ================= windows ================= */

/* Detaches the open window of s (caller holds s->mu; rows > 0) and queues
 * it; fresh sketches take its place. When the previous closed window of s
 * is still queued (the window thread is behind), the open window is merged
 * into it instead (sketch merges are exact), so at most one closed window
 * per series waits and memory stays bounded under any load. */
static void close_window(series *s, int64_t now_ms)
{
    int64_t end = now_ms > s->last_end_ms ? now_ms : s->last_end_ms + 1; /* unique per series */
    pthread_mutex_lock(&M.qmu);
    closed *c = s->pending;
    if (c) {
        for (int i = 0; i < s->nf; i++) {
            dfeat *f = &s->f[i];
            if (f->sk && c->sk[i] && !cairn_sketch_merge(c->sk[i], f->sk)) cairn_sketch_reset(f->sk);
            if (f->cc && c->cc[i] && !cairn_catcount_merge(c->cc[i], f->cc)) cairn_catcount_reset(f->cc);
        }
        c->end_ms = end;
        c->rows += s->rows;
        s->coalesced++;
        pthread_mutex_unlock(&M.qmu);
        s->last_end_ms = end;
        s->rows = 0;
        s->start_ms = 0;
        return;
    }
    pthread_mutex_unlock(&M.qmu);
    c = cairn_calloc(1, sizeof(*c));
    c->s = s;
    c->start_ms = s->start_ms;
    c->end_ms = end;
    c->rows = s->rows;
    c->sk = cairn_calloc((size_t)s->nf + 1, sizeof(*c->sk));
    c->cc = cairn_calloc((size_t)s->nf + 1, sizeof(*c->cc));
    for (int i = 0; i < s->nf; i++) {
        dfeat *f = &s->f[i];
        c->sk[i] = f->sk;
        c->cc[i] = f->cc;
        f->sk = NULL;
        f->cc = NULL;
        if (feat_alloc(f)) { /* cannot happen for a feature that allocated before */
            f->sk = c->sk[i];
            f->cc = c->cc[i];
            c->sk[i] = NULL;
            c->cc[i] = NULL;
        }
    }
    s->last_end_ms = end;
    s->rows = 0;
    s->start_ms = 0;
    pthread_mutex_lock(&M.qmu);
    s->pending = c;
    *M.qtail = c;
    M.qtail = &c->next;
    pthread_cond_signal(&M.qcv);
    pthread_mutex_unlock(&M.qmu);
}

/* Adds column values of input feature f (model feature index j) from X. */
static void add_input(dfeat *f, const cairn_frame *X, size_t n)
{
    int c = f->index < X->ncols && !strcmp(X->cols[f->index].name, f->name)
                ? f->index
                : cairn_frame_find(X, f->name);
    if (c < 0) return;
    const cairn_column *col = &X->cols[c];
    if (f->categorical) {
        if (col->type != CAIRN_COL_CAT) return;
        for (size_t i = 0; i < n; i++) {
            int32_t code = col->codes[i];
            const char *name = code >= 0 && code < col->ndict ? col->dict[code] : NULL;
            cairn_catcount_add(f->cc, name, name ? strlen(name) : 0);
        }
    } else if (col->type == CAIRN_COL_F64) {
        cairn_sketch_add_n(f->sk, col->f64, n, 1);
    } else if (col->type == CAIRN_COL_F32) {
        for (size_t i = 0; i < n; i++)
            cairn_sketch_add(f->sk, col->f32[i]);
    }
}

int cairn_serve__drift_enabled(void)
{
    return M.enabled;
}

void cairn_serve__drift_observe(const char *deployment, const cairn_serve_model *sm,
                                const cairn_frame *X, const double *pred, size_t n, int k)
{
    if (!M.enabled || !n) return;
    series *s = series_get(deployment ? deployment : "", sm);
    if (!s->profile) return;
    pthread_mutex_lock(&s->mu);
    int64_t now = cairn_time_ms();
    if (!s->rows) s->start_ms = now;
    for (int i = 0; i < s->nf; i++) {
        dfeat *f = &s->f[i];
        if (f->output)
            cairn_sketch_add_n(f->sk, pred + f->index, n, (size_t)k);
        else
            add_input(f, X, n);
    }
    s->rows += n;
    if (s->rows >= (uint64_t)s->win_rows) close_window(s, now);
    pthread_mutex_unlock(&s->mu);
}

/* ================= evaluation (the window thread) ================= */

typedef struct wresult {
    closed *c;
    cairn_drift_result *r; /* (nf) */
    int *ok;               /* (nf) the statistic could be computed */
    char **bins;           /* (nf) reference vs window counts per bin, JSON (or NULL) */
    int drifted, evaluated;
    double error_rate, p99_ms, shadow_agreement, shadow_abs_diff;
    uint64_t requests, shadow_rows;
    int has_requests, has_shadow;
} wresult;

static cairn_value real_or_null(double x)
{
    return isfinite(x) ? CAIRN_VREAL(x) : CAIRN_VNULL;
}

static int store_window(cairn_store_tx *tx, void *payload)
{
    wresult *w = payload;
    series *s = w->c->s;
    cairn_value p[14] = {CAIRN_VTEXT(s->deployment),
                         CAIRN_VTEXT(s->model),
                         CAIRN_VINT(s->version),
                         CAIRN_VINT(w->c->end_ms),
                         CAIRN_VINT(w->c->start_ms),
                         CAIRN_VINT((int64_t)w->c->rows),
                         CAIRN_VINT(w->evaluated),
                         CAIRN_VINT(w->drifted),
                         w->has_requests ? CAIRN_VINT((int64_t)w->requests) : CAIRN_VNULL,
                         w->has_requests ? real_or_null(w->error_rate) : CAIRN_VNULL,
                         w->has_requests ? real_or_null(w->p99_ms) : CAIRN_VNULL,
                         w->has_shadow ? CAIRN_VINT((int64_t)w->shadow_rows) : CAIRN_VNULL,
                         w->has_shadow ? real_or_null(w->shadow_agreement) : CAIRN_VNULL,
                         w->has_shadow ? real_or_null(w->shadow_abs_diff) : CAIRN_VNULL};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO monitor_windows (deployment, model, version, window_end, "
                           "window_start, rows_count, features, drifted, requests, error_rate, "
                           "p99_ms, shadow_rows, shadow_agreement, shadow_mean_abs_diff) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           p, 14, NULL, NULL);
    for (int i = 0; i < s->nf && !rc; i++) {
        if (!w->ok[i]) continue;
        const cairn_drift_result *r = &w->r[i];
        cairn_value q[16] = {CAIRN_VTEXT(s->deployment),
                             CAIRN_VTEXT(s->model),
                             CAIRN_VINT(s->version),
                             CAIRN_VINT(w->c->end_ms),
                             CAIRN_VTEXT(s->f[i].name),
                             CAIRN_VTEXT(cairn_drift_stat_name(r->stat)),
                             real_or_null(r->statistic),
                             real_or_null(r->score),
                             CAIRN_VREAL(r->threshold),
                             CAIRN_VINT(r->drift),
                             CAIRN_VINT((int64_t)r->count),
                             CAIRN_VREAL(r->missing_rate),
                             CAIRN_VREAL(r->out_of_range_rate),
                             CAIRN_VREAL(r->new_category_rate),
                             CAIRN_VINT(r->approximate),
                             w->bins[i] ? CAIRN_VTEXT(w->bins[i]) : CAIRN_VNULL};
        rc = cairn_tx_exec(tx,
                           "INSERT INTO monitor_drift (deployment, model, version, window_end, "
                           "feature, statistic, value, score, threshold, drift, count, "
                           "missing_rate, out_of_range_rate, new_category_rate, approximate, bins) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           q, 16, NULL, NULL);
    }
    return rc < 0 ? rc : 0;
}

/* The window's request statistics (deployments): deltas since the last close. */
static void request_stats(series *s, wresult *w)
{
    if (!*s->deployment) return;
    cairn_dstats now, d;
    memset(&now, 0, sizeof(now));
    cairn_serve__dstats_sum(s->deployment, s->model, s->version, 1, &now);
    d.req = now.req - s->dprev.req;
    d.err = now.err - s->dprev.err;
    for (int i = 0; i < CAIRN_DSTATS_NB; i++)
        d.hist[i] = now.hist[i] - s->dprev.hist[i];
    s->dprev = now;
    if (d.req) {
        w->has_requests = 1;
        w->requests = d.req;
        w->error_rate = (double)d.err / (double)d.req;
        w->p99_ms = cairn_serve__dstats_quantile_ns(&d, 0.99) / 1e6;
    }
    cairn_shadow_stats sh;
    memset(&sh, 0, sizeof(sh));
    cairn_serve__shadow_stats(s->deployment, &sh);
    uint64_t rows = sh.rows - s->sprev.rows, agree = sh.agree - s->sprev.agree;
    double diff = sh.abs_diff_sum - s->sprev.abs_diff_sum;
    s->sprev = sh;
    if (rows) {
        w->has_shadow = 1;
        w->shadow_rows = rows;
        w->shadow_agreement = (double)agree / (double)rows;
        w->shadow_abs_diff = diff / (double)rows;
    }
}

/* The reference's and the window's counts per bin of one column, as JSON
 * for plots: numeric columns on the profile's quantile bins, categorical
 * ones over the profile's categories plus the window's own. NULL when
 * there is nothing to draw. */
static char *bins_json(const dfeat *f, const cairn_sketch *sk, const cairn_catcount *cc)
{
    json_t *o = NULL;
    if (!f->categorical && sk) {
        cairn_profile_numeric n;
        const uint64_t *cur = NULL;
        if (cairn_profile_feature_numeric(f->pf, &n) || n.n_edges < 2 ||
            cairn_sketch_bins(sk, &cur, NULL, NULL) != n.n_edges - 1 || !cur)
            return NULL;
        json_t *e = json_array(), *r = json_array(), *c = json_array();
        for (int i = 0; i < n.n_edges; i++)
            json_array_append_new(e, json_real(n.edges[i]));
        for (int i = 0; i + 1 < n.n_edges; i++) {
            json_array_append_new(r, json_integer((json_int_t)n.bin_counts[i]));
            json_array_append_new(c, json_integer((json_int_t)cur[i]));
        }
        o = json_pack("{s:o,s:o,s:o}", "edges", e, "reference", r, "current", c);
    } else if (f->categorical && cc) {
        cairn_profile_categorical pc;
        if (cairn_profile_feature_categorical(f->pf, &pc)) return NULL;
        json_t *names = json_array(), *r = json_array(), *c = json_array();
        for (int i = 0; i < pc.n_categories; i++) {
            json_array_append_new(names, json_string(pc.names[i]));
            json_array_append_new(r, json_integer((json_int_t)pc.counts[i]));
            json_array_append_new(c, json_integer((json_int_t)cairn_catcount_get(cc, pc.names[i])));
        }
        for (int i = 0; i < cairn_catcount_size(cc) && json_array_size(names) < 200; i++) {
            uint64_t cnt;
            const char *name = cairn_catcount_name(cc, i, &cnt);
            int known = 0;
            for (int k = 0; k < pc.n_categories && !known; k++)
                known = strcmp(pc.names[k], name) == 0;
            if (known || !cnt) continue;
            json_array_append_new(names, json_string(name));
            json_array_append_new(r, json_integer(0));
            json_array_append_new(c, json_integer((json_int_t)cnt));
        }
        o = json_pack("{s:o,s:o,s:o}", "categories", names, "reference", r, "current", c);
    }
    if (!o) return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void evaluate(closed *c)
{
    series *s = c->s;
    wresult w;
    memset(&w, 0, sizeof(w));
    w.c = c;
    w.r = cairn_calloc((size_t)s->nf + 1, sizeof(*w.r));
    w.ok = cairn_calloc((size_t)s->nf + 1, sizeof(*w.ok));
    w.bins = cairn_calloc((size_t)s->nf + 1, sizeof(*w.bins));
    for (int i = 0; i < s->nf; i++) {
        const dfeat *f = &s->f[i];
        w.bins[i] = bins_json(f, c->sk[i], c->cc[i]);
        int rc = f->categorical ? (c->cc[i] ? cairn_drift_eval_categories(f->pf, c->cc[i],
                                                                          &f->opts, &w.r[i])
                                            : CAIRN_ENOMEM)
                                : (c->sk[i] ? cairn_drift_eval_sketch(f->pf, c->sk[i], &f->opts,
                                                                      &w.r[i])
                                            : CAIRN_ENOMEM);
        if (rc) {
            cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "drift evaluation failed|feature=%s error=%s",
                      f->name, cairn_error_last()->msg);
            continue;
        }
        w.ok[i] = 1;
        if (isfinite(w.r[i].score)) w.evaluated++;
        w.drifted += w.r[i].drift;
    }
    pthread_mutex_lock(&s->mu);
    request_stats(s, &w);
    for (int i = 0; i < s->nf; i++) {
        s->f[i].has_last = w.ok[i];
        if (w.ok[i]) s->f[i].last = w.r[i];
    }
    s->windows++;
    s->last_drifted = w.drifted;
    pthread_mutex_unlock(&s->mu);

    if (cairn_store_write(cairn_serve__store(M.serve), store_window, &w))
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "cannot store a drift window|model=%s error=%s",
                  s->model, cairn_error_last()->msg);
    const char *dep = *s->deployment ? s->deployment : s->model;
    for (int i = 0; i < s->nf; i++)
        if (w.ok[i] && isfinite(w.r[i].score))
            cairn_serve__alerts_signal(dep, CAIRN_ALERT_DRIFT, s->f[i].name, w.r[i].score,
                                       c->end_ms);
    if (w.evaluated)
        cairn_serve__alerts_signal(dep, CAIRN_ALERT_DRIFT, "*",
                                   (double)w.drifted / (double)w.evaluated, c->end_ms);
    if (w.has_requests) {
        cairn_serve__alerts_signal(dep, CAIRN_ALERT_ERROR_RATE, NULL, w.error_rate, c->end_ms);
        cairn_serve__alerts_signal(dep, CAIRN_ALERT_LATENCY_P99, NULL, w.p99_ms, c->end_ms);
    }
    if (w.has_shadow)
        cairn_serve__alerts_signal(dep, CAIRN_ALERT_SHADOW_AGREEMENT, NULL, w.shadow_agreement,
                                   c->end_ms);
    for (int i = 0; i < s->nf; i++)
        free(w.bins[i]); /* json_dumps allocates with malloc */
    cairn_free(w.bins);
    cairn_free(w.r);
    cairn_free(w.ok);
}

static void closed_free(closed *c)
{
    for (int i = 0; i < c->s->nf; i++) {
        cairn_sketch_free(c->sk[i]);
        cairn_catcount_free(c->cc[i]);
    }
    cairn_free(c->sk);
    cairn_free(c->cc);
    cairn_free(c);
}

/* Closes every open window older than its duration (all of them when force). */
static void close_due(int force)
{
    int64_t now = cairn_time_ms();
    pthread_rwlock_rdlock(&M.lock);
    for (series *s = M.head; s; s = s->next) {
        if (!s->profile) continue;
        pthread_mutex_lock(&s->mu);
        if (s->rows && (force || now - s->start_ms >= s->win_seconds * 1000))
            close_window(s, now);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_rwlock_unlock(&M.lock);
}

static void *window_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&M.qmu);
    for (;;) {
        while (M.queue) {
            closed *c = M.queue;
            M.queue = c->next;
            if (!M.queue) M.qtail = &M.queue;
            c->s->pending = NULL; /* from here the next close queues a new window */
            pthread_mutex_unlock(&M.qmu);
            evaluate(c);
            closed_free(c);
            pthread_mutex_lock(&M.qmu);
        }
        if (M.stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += TICK_MS / 1000;
        pthread_cond_timedwait(&M.qcv, &M.qmu, &ts);
        if (M.stop) continue; /* drain the queue once more, then leave */
        pthread_mutex_unlock(&M.qmu);
        close_due(0);
        pthread_mutex_lock(&M.qmu);
    }
    pthread_mutex_unlock(&M.qmu);
    return NULL;
}

int cairn_serve__drift_start(cairn_serve *s, int enabled, int64_t default_rows,
                             int64_t default_seconds)
{
    if (M.running) return 0;
    M.serve = s;
    M.enabled = enabled;
    M.default_rows = default_rows > 0 ? default_rows : 1000;
    M.default_seconds = default_seconds > 0 ? default_seconds : 300;
    M.queue = NULL;
    M.qtail = &M.queue;
    M.stop = 0;
    if (!enabled) return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&M.qcv);
    pthread_cond_init(&M.qcv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&M.thread, NULL, window_main, NULL))
        return cairn_error_set(CAIRN_ENOMEM, SERVE_SUBSYS, "cannot start the drift thread");
    M.running = 1;
    return 0;
}

void cairn_serve__drift_stop(void)
{
    if (M.running) {
        close_due(1); /* the open windows are evaluated and stored */
        pthread_mutex_lock(&M.qmu);
        M.stop = 1;
        pthread_cond_broadcast(&M.qcv);
        pthread_mutex_unlock(&M.qmu);
        pthread_join(M.thread, NULL);
        M.running = 0;
    }
    pthread_rwlock_wrlock(&M.lock);
    series *s = M.head;
    M.head = NULL;
    pthread_rwlock_unlock(&M.lock);
    while (s) {
        series *next = s->next;
        series_free(s);
        s = next;
    }
    M.enabled = 0;
}

/* ================= /metrics ================= */

static void put_series_labels(cairn_buf *b, const series *s)
{
    cairn_buf_puts(b, "deployment=\"");
    cairn_serve__prom_label(b, s->deployment);
    cairn_buf_puts(b, "\",model=\"");
    cairn_serve__prom_label(b, s->model);
    cairn_buf_printf(b, "\",version=\"%lld\"", (long long)s->version);
}

void cairn_serve__drift_metrics_write(cairn_buf *out)
{
    static const char *const fams[][3] = {
        {"cairn_drift_score", "gauge",
         "Drift score of a feature in the last closed window (p-value for ks and chi2, else "
         "the distance or PSI)."},
        {"cairn_drift_detected", "gauge", "1 when the feature drifted in the last closed window."},
        {"cairn_drift_windows_total", "counter", "Closed monitoring windows."},
        {"cairn_drift_window_rows", "gauge", "Rows in the open monitoring window."},
        {"cairn_drift_features_drifted", "gauge", "Features that drifted in the last closed window."},
    };
    pthread_rwlock_rdlock(&M.lock);
    for (size_t fam = 0; fam < CAIRN_ARRAY_LEN(fams); fam++) {
        cairn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[fam][0], fams[fam][2],
                         fams[fam][0], fams[fam][1]);
        for (series *s = M.head; s; s = s->next) {
            if (!s->profile) continue;
            pthread_mutex_lock(&s->mu);
            if (fam < 2) {
                for (int i = 0; i < s->nf; i++) {
                    const dfeat *f = &s->f[i];
                    if (!f->has_last || (fam == 0 && !isfinite(f->last.score))) continue;
                    cairn_buf_printf(out, "%s{", fams[fam][0]);
                    put_series_labels(out, s);
                    cairn_buf_puts(out, ",feature=\"");
                    cairn_serve__prom_label(out, f->name);
                    cairn_buf_printf(out, "\",statistic=\"%s\"} ", cairn_drift_stat_name(f->last.stat));
                    if (fam == 0)
                        cairn_buf_printf(out, "%.17g\n", f->last.score);
                    else
                        cairn_buf_printf(out, "%d\n", f->last.drift);
                }
            } else {
                cairn_buf_printf(out, "%s{", fams[fam][0]);
                put_series_labels(out, s);
                cairn_buf_printf(out, "} %llu\n",
                                 (unsigned long long)(fam == 2   ? s->windows
                                                      : fam == 3 ? s->rows
                                                                 : (uint64_t)s->last_drifted));
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
    pthread_rwlock_unlock(&M.lock);
}

/* ================= REST ================= */

static json_t *result_json(const char *feature, const cairn_drift_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "feature", json_string(feature));
    json_object_set_new(o, "statistic", json_string(cairn_drift_stat_name(r->stat)));
    json_object_set_new(o, "value", isfinite(r->statistic) ? json_real(r->statistic) : json_null());
    json_object_set_new(o, "score", isfinite(r->score) ? json_real(r->score) : json_null());
    json_object_set_new(o, "threshold", json_real(r->threshold));
    json_object_set_new(o, "drift", json_boolean(r->drift));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    json_object_set_new(o, "missing_rate", json_real(r->missing_rate));
    json_object_set_new(o, "out_of_range_rate", json_real(r->out_of_range_rate));
    json_object_set_new(o, "new_category_rate", json_real(r->new_category_rate));
    json_object_set_new(o, "approximate", json_boolean(r->approximate));
    return o;
}

/* GET /api/2.0/cairn/monitor/status[?deployment=&model=] */
static int h_status(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *dep = NULL, *model = NULL;
    int rc = cairn_api__str(&call, "deployment", 0, &dep);
    if (!rc) rc = cairn_api__str(&call, "model", 0, &model);
    if (rc) FAIL(call, rc);
    json_t *arr = json_array();
    pthread_rwlock_rdlock(&M.lock);
    for (series *s = M.head; s; s = s->next) {
        if ((dep && strcmp(dep, s->deployment)) || (model && strcmp(model, s->model))) continue;
        json_t *o = json_object();
        json_object_set_new(o, "deployment", json_string(s->deployment));
        json_object_set_new(o, "model", json_string(s->model));
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)s->version);
        json_object_set_new(o, "version", json_string(v));
        json_object_set_new(o, "monitored", json_boolean(s->profile != NULL));
        if (!s->profile) json_object_set_new(o, "reason", json_string(s->why));
        pthread_mutex_lock(&s->mu);
        json_object_set_new(o, "window", json_pack("{s:I,s:I}", "rows", (json_int_t)s->win_rows,
                                                   "seconds", (json_int_t)s->win_seconds));
        json_object_set_new(o, "current",
                            json_pack("{s:I,s:I}", "rows", (json_int_t)s->rows, "started",
                                      (json_int_t)s->start_ms));
        json_object_set_new(o, "windows_closed", json_integer((json_int_t)s->windows));
        json_object_set_new(o, "windows_coalesced", json_integer((json_int_t)s->coalesced));
        if (s->windows) {
            json_t *feats = json_array();
            for (int i = 0; i < s->nf; i++)
                if (s->f[i].has_last)
                    json_array_append_new(feats, result_json(s->f[i].name, &s->f[i].last));
            json_object_set_new(o, "last_window",
                                json_pack("{s:I,s:i,s:o}", "end", (json_int_t)s->last_end_ms,
                                          "drifted", s->last_drifted, "features", feats));
        }
        pthread_mutex_unlock(&s->mu);
        json_array_append_new(arr, o);
    }
    pthread_rwlock_unlock(&M.lock);
    cairn_api__ok(req, json_pack("{s:o}", "series", arr));
    cairn_api__end(&call);
    return 0;
}

static double col_real(const cairn_value *c)
{
    return c->type == CAIRN_V_REAL ? c->u.d : c->type == CAIRN_V_INT ? (double)c->u.i : NAN;
}

static json_t *real_json(const cairn_value *c)
{
    double x = col_real(c);
    return isfinite(x) ? json_real(x) : json_null();
}

static int window_row(const cairn_value *c, int n, void *payload)
{
    json_t *windows = payload; /* newest first */
    if (n < 14) return 0;
    json_t *o = json_object();
    json_object_set_new(o, "deployment", json_stringn(c[0].u.s.ptr, c[0].u.s.len));
    json_object_set_new(o, "model", json_stringn(c[1].u.s.ptr, c[1].u.s.len));
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)c[2].u.i);
    json_object_set_new(o, "version", json_string(v));
    json_object_set_new(o, "end", json_integer(c[3].u.i));
    json_object_set_new(o, "start", json_integer(c[4].u.i));
    json_object_set_new(o, "rows", json_integer(c[5].u.i));
    json_object_set_new(o, "features", json_integer(c[6].u.i));
    json_object_set_new(o, "drifted", json_integer(c[7].u.i));
    json_object_set_new(o, "requests", c[8].type == CAIRN_V_INT ? json_integer(c[8].u.i) : json_null());
    json_object_set_new(o, "error_rate", real_json(&c[9]));
    json_object_set_new(o, "p99_ms", real_json(&c[10]));
    json_object_set_new(o, "shadow_rows", c[11].type == CAIRN_V_INT ? json_integer(c[11].u.i) : json_null());
    json_object_set_new(o, "shadow_agreement", real_json(&c[12]));
    json_object_set_new(o, "shadow_mean_abs_diff", real_json(&c[13]));
    json_object_set_new(o, "results", json_array());
    json_array_append_new(windows, o);
    return 0;
}

static int drift_row(const cairn_value *c, int n, void *payload)
{
    json_t *results = payload;
    if (n < 11) return 0;
    json_t *o = json_object();
    json_object_set_new(o, "feature", json_stringn(c[0].u.s.ptr, c[0].u.s.len));
    json_object_set_new(o, "statistic", json_stringn(c[1].u.s.ptr, c[1].u.s.len));
    json_object_set_new(o, "value", real_json(&c[2]));
    json_object_set_new(o, "score", real_json(&c[3]));
    json_object_set_new(o, "threshold", real_json(&c[4]));
    json_object_set_new(o, "drift", json_boolean(c[5].u.i));
    json_object_set_new(o, "count", json_integer(c[6].u.i));
    json_object_set_new(o, "missing_rate", real_json(&c[7]));
    json_object_set_new(o, "out_of_range_rate", real_json(&c[8]));
    json_object_set_new(o, "new_category_rate", real_json(&c[9]));
    json_object_set_new(o, "approximate", json_boolean(c[10].u.i));
    if (n > 11 && c[11].type == CAIRN_V_TEXT) {
        json_t *b = json_loadb(c[11].u.s.ptr, c[11].u.s.len, 0, NULL);
        if (b) json_object_set_new(o, "bins", b);
    }
    json_array_append_new(results, o);
    return 0;
}

/* GET /api/2.0/cairn/monitor/drift/history?deployment=|model=[&version=][&feature=][&max_results=] */
static int h_history(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *dep = NULL, *model = NULL, *feature = NULL;
    int64_t version = 0, max = 100;
    int has_version = 0;
    int rc = cairn_api__str(&call, "deployment", 0, &dep);
    if (!rc) rc = cairn_api__str(&call, "model", 0, &model);
    if (!rc) rc = cairn_api__str(&call, "feature", 0, &feature);
    if (!rc) rc = cairn_api__i64(&call, "version", 0, &version, &has_version);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc && !dep && !model)
        rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                             "Missing value for required parameter 'deployment' (or 'model')");
    if (!rc && (max < 1 || max > 10000))
        rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "max_results must be in 1..10000");
    if (rc) FAIL(call, rc);
    cairn_store *st = cairn_serve__store(M.serve);
    cairn_value p[7] = {CAIRN_VINT(dep != NULL),       CAIRN_VTEXT(dep ? dep : ""),
                        CAIRN_VINT(model != NULL),     CAIRN_VTEXT(model ? model : ""),
                        CAIRN_VINT(has_version),       CAIRN_VINT(version),
                        CAIRN_VINT(max)};
    json_t *windows = json_array();
    rc = cairn_store_query(st,
                           "SELECT deployment, model, version, window_end, window_start, "
                           "rows_count, features, drifted, requests, error_rate, p99_ms, "
                           "shadow_rows, shadow_agreement, shadow_mean_abs_diff FROM monitor_windows WHERE "
                           "(? = 0 OR deployment = ?) AND (? = 0 OR model = ?) AND "
                           "(? = 0 OR version = ?) ORDER BY window_end DESC LIMIT ?",
                           p, 7, window_row, windows);
    size_t i;
    json_t *w;
    json_array_foreach(windows, i, w)
    {
        if (rc < 0) break;
        cairn_value q[6] = {
            CAIRN_VTEXT(json_string_value(json_object_get(w, "deployment"))),
            CAIRN_VTEXT(json_string_value(json_object_get(w, "model"))),
            CAIRN_VINT(0),
            CAIRN_VINT(json_integer_value(json_object_get(w, "end"))),
            CAIRN_VINT(feature != NULL),
            CAIRN_VTEXT(feature ? feature : "")};
        cairn_parse_i64(json_string_value(json_object_get(w, "version")), &q[2].u.i);
        rc = cairn_store_query(st,
                               "SELECT feature, statistic, value, score, threshold, drift, count, "
                               "missing_rate, out_of_range_rate, new_category_rate, approximate, bins "
                               "FROM monitor_drift WHERE deployment = ? AND model = ? AND "
                               "version = ? AND window_end = ? AND (? = 0 OR feature = ?) "
                               "ORDER BY feature",
                               q, 6, drift_row, json_object_get(w, "results"));
    }
    if (rc < 0) {
        json_decref(windows);
        FAIL(call, rc);
    }
    cairn_api__ok(req, json_pack("{s:o}", "windows", windows));
    cairn_api__end(&call);
    return 0;
}

int cairn_serve__drift_mount(cairn_http_server *srv)
{
    int rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/status", 0, 0, h_status,
                              NULL);
    if (!rc)
        rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/drift/history", 0, 0,
                              h_history, NULL);
    return rc;
}
