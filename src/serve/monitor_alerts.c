/*
 * monitor_alerts.c - the alert engine: one state machine per (deployment,
 * rule, subject), fed by window-end signals; every transition persisted in
 * monitor_alerts; the REST listing and the signals endpoint.
 *
 * Key idea: the engine only compares numbers with thresholds over
 * consecutive windows. It does not know how a signal was computed, so the
 * inline drift code, the quality code, request statistics and external
 * monitors (POST /api/2.0/cairn/monitor/signals) all feed it the same way.
 * State changes happen under one mutex in memory; the store writes are
 * queued (cairn_store_write_async, in order, under that mutex) and the
 * slow work (webhooks, retraining) goes to monitor_alerts_jobs.c, so a
 * signal never waits on the network or a child process.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cairn/core.h"
#include "monitor_alerts.h"
#include "track/api.h"

#define MAX_RULES_PER_DEPLOYMENT 512
#define NBUCKETS 256

/* One (deployment, rule, subject) state machine. */
typedef struct astate {
    struct astate *next;
    char *deployment, *rule, *subject;
    int streak;             /* consecutive windows the condition held */
    int64_t last_window;    /* window_end_ms of the last signal counted */
    int firing;
    char id[33];            /* the firing alert's id */
    int64_t started;
} astate;

static struct {
    pthread_mutex_t mu;
    int started;
    cairn_store *store;
    cairn_monitor_policy *policy;
    astate *buckets[NBUCKETS];
    uint64_t fired, resolved;
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint32_t fnv(const char *a, const char *b, const char *c)
{
    uint32_t h = 2166136261u;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

/* The state of (deployment, rule, subject), created (not firing) when
 * missing. Caller holds A.mu. */
static astate *state_get(const char *deployment, const char *rule, const char *subject)
{
    uint32_t b = fnv(deployment, rule, subject) % NBUCKETS;
    for (astate *s = A.buckets[b]; s; s = s->next)
        if (!strcmp(s->deployment, deployment) && !strcmp(s->rule, rule) &&
            !strcmp(s->subject, subject))
            return s;
    astate *s = cairn_calloc(1, sizeof(*s));
    s->deployment = cairn_strdup(deployment);
    s->rule = cairn_strdup(rule);
    s->subject = cairn_strdup(subject);
    s->last_window = INT64_MIN;
    s->next = A.buckets[b];
    A.buckets[b] = s;
    return s;
}

/* ---- persistence ---- */

typedef struct alert_write {
    int op; /* 0 insert (fired), 1 update value, 2 resolve */
    char id[33];
    char *rule, *deployment, *kind, *subject, *reason;
    int64_t t, started, window; /* t: now; window: the signal's window end */
    double value, threshold;
    int above, windows;
} alert_write;

static cairn_value real_or_null(double v) { return isfinite(v) ? CAIRN_VREAL(v) : CAIRN_VNULL; }

static int alert_write_unit(cairn_store_tx *tx, void *payload)
{
    alert_write *w = payload;
    if (w->op == 0) {
        cairn_value p[] = {CAIRN_VTEXT(w->id),        CAIRN_VTEXT(w->rule),
                           CAIRN_VTEXT(w->deployment), CAIRN_VTEXT(w->kind),
                           CAIRN_VTEXT(w->subject),    CAIRN_VINT(w->started),
                           CAIRN_VINT(w->t),           real_or_null(w->value),
                           CAIRN_VREAL(w->threshold),  CAIRN_VINT(w->above),
                           CAIRN_VINT(w->windows),     CAIRN_VTEXT(w->reason)};
        return cairn_tx_exec(tx,
                             "INSERT INTO monitor_alerts (id, rule, deployment, kind, subject, "
                             "state, started, resolved, updated, value, threshold, above, "
                             "windows, reason) VALUES (?, ?, ?, ?, ?, 'firing', ?, NULL, ?, ?, "
                             "?, ?, ?, ?)",
                             p, 12, NULL, NULL);
    }
    if (w->op == 1) {
        cairn_value p[] = {real_or_null(w->value), CAIRN_VINT(w->t), CAIRN_VINT(w->windows),
                           CAIRN_VTEXT(w->id)};
        return cairn_tx_exec(tx,
                             "UPDATE monitor_alerts SET value = ?, updated = ?, windows = ? "
                             "WHERE id = ?",
                             p, 4, NULL, NULL);
    }
    cairn_value p[] = {CAIRN_VINT(w->window), real_or_null(w->value), CAIRN_VINT(w->t),
                       CAIRN_VTEXT(w->reason), CAIRN_VTEXT(w->id)};
    return cairn_tx_exec(tx,
                         "UPDATE monitor_alerts SET state = 'resolved', resolved = ?, value = ?, "
                         "updated = ?, reason = ? WHERE id = ?",
                         p, 5, NULL, NULL);
}

static void alert_write_free(alert_write *w)
{
    cairn_free(w->rule);
    cairn_free(w->deployment);
    cairn_free(w->kind);
    cairn_free(w->subject);
    cairn_free(w->reason);
    cairn_free(w);
}

static void alert_write_done(int rc, void *payload)
{
    alert_write *w = payload;
    if (rc)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "alert %s not recorded: %s", w->id,
                  cairn_error_last()->msg);
    alert_write_free(w);
}

/* Queues w (taken). Caller holds A.mu, which keeps the writes in order. */
static void alert_write_submit(alert_write *w)
{
    if (cairn_store_write_async(A.store, alert_write_unit, w, alert_write_done, w)) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "alert %s not recorded: %s", w->id,
                  cairn_error_last()->msg);
        alert_write_free(w);
    }
}

static char *describe(const cairn_monitor_rule *r, const char *deployment, const char *subject,
                      double value, int firing)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    const char *kind = cairn_alert_kind_name(r->kind);
    cairn_buf_printf(&b, "%s of deployment '%s'", kind, deployment);
    if (*subject) cairn_buf_printf(&b, " (%s)", subject);
    if (firing)
        cairn_buf_printf(&b, " is %.6g, %s %.6g for %d consecutive window%s", value,
                         r->above ? "above" : "below", r->threshold, r->for_windows,
                         r->for_windows == 1 ? "" : "s");
    else
        cairn_buf_printf(&b, " is back to %.6g, no longer %s %.6g", value,
                         r->above ? "above" : "below", r->threshold);
    return cairn_buf_detach(&b, NULL);
}

static void dispatch(const astate *s, const cairn_monitor_rule *r, double value, int64_t t)
{
    cairn_alert_event ev;
    memcpy(ev.id, s->id, sizeof(ev.id));
    ev.rule = r;
    ev.deployment = s->deployment;
    ev.subject = s->subject;
    ev.state = s->firing ? "firing" : "resolved";
    ev.value = value;
    ev.started = s->started;
    ev.resolved = s->firing ? 0 : t;
    ev.window_end = t;
    cairn_serve__alerts_dispatch(&ev);
}

/* Advances the state machine of (rule, subject) with one window's value.
 * Caller holds A.mu. */
static void advance(const char *deployment, const cairn_monitor_rule *r, const char *subject,
                    double value, int64_t t)
{
    astate *s = state_get(deployment, r->name, subject);
    if (t <= s->last_window) return; /* this window was counted already */
    s->last_window = t;
    int holds = r->above ? value > r->threshold : value < r->threshold;
    alert_write *w = NULL;
    if (holds) {
        s->streak++;
        if (s->firing) {
            w = cairn_calloc(1, sizeof(*w));
            w->op = 1;
        } else if (s->streak >= r->for_windows) {
            s->firing = 1;
            cairn_uuid_hex(s->id);
            s->started = t;
            w = cairn_calloc(1, sizeof(*w));
            w->op = 0;
            w->reason = describe(r, deployment, subject, value, 1);
            A.fired++;
            cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_SERVE, "alert %s firing: %s", r->name,
                      w->reason);
        }
    } else {
        s->streak = 0;
        if (s->firing) {
            s->firing = 0;
            w = cairn_calloc(1, sizeof(*w));
            w->op = 2;
            w->reason = describe(r, deployment, subject, value, 0);
            A.resolved++;
            cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVE, "alert %s resolved: %s", r->name,
                      w->reason);
        }
    }
    if (!w) return;
    memcpy(w->id, s->id, sizeof(w->id));
    w->rule = cairn_strdup(r->name);
    w->deployment = cairn_strdup(deployment);
    w->kind = cairn_strdup(cairn_alert_kind_name(r->kind));
    w->subject = cairn_strdup(subject);
    w->t = cairn_time_ms();
    w->window = t;
    w->started = s->started;
    w->value = value;
    w->threshold = r->threshold;
    w->above = r->above;
    w->windows = s->streak;
    int transition = w->op != 1;
    alert_write_submit(w);
    if (transition) dispatch(s, r, value, t);
}

/* Whether rule r watches the signal (kind, name). */
static int matches(const cairn_monitor_rule *r, cairn_alert_kind kind, const char *name)
{
    if (r->kind != kind) return 0;
    if (kind == CAIRN_ALERT_DRIFT) {
        if (!name) return 0;
        if (!r->subject) return strcmp(name, "*") != 0; /* each feature on its own */
        return !strcmp(r->subject, name);
    }
    if (kind == CAIRN_ALERT_QUALITY) return name && (!r->subject || !strcmp(r->subject, name));
    return 1;
}

void cairn_serve__alerts_signal(const char *deployment, cairn_alert_kind kind, const char *name,
                                double value, int64_t window_end_ms)
{
    if (!deployment || isnan(value)) return;
    if (window_end_ms <= 0) window_end_ms = cairn_time_ms();
    const cairn_monitor_rule *rules[MAX_RULES_PER_DEPLOYMENT];
    pthread_mutex_lock(&A.mu);
    if (A.started && A.policy) {
        int n = cairn_monitor_policy_rules(A.policy, deployment, rules, MAX_RULES_PER_DEPLOYMENT);
        if (n > MAX_RULES_PER_DEPLOYMENT) n = MAX_RULES_PER_DEPLOYMENT;
        const char *subject = (kind == CAIRN_ALERT_DRIFT || kind == CAIRN_ALERT_QUALITY) && name
                                  ? name
                                  : "";
        for (int i = 0; i < n; i++)
            if (matches(rules[i], kind, name)) advance(deployment, rules[i], subject, value, window_end_ms);
    }
    pthread_mutex_unlock(&A.mu);
}

const cairn_monitor_policy *cairn_serve__alerts_policy(void)
{
    pthread_mutex_lock(&A.mu);
    const cairn_monitor_policy *p = A.started ? A.policy : NULL;
    pthread_mutex_unlock(&A.mu);
    return p;
}

/* ---- start / stop ---- */

typedef struct firing_row {
    char id[33];
    char *rule, *deployment, *subject;
    int64_t started;
    int windows;
    struct firing_row *next;
} firing_row;

static int collect_firing(const cairn_value *c, int n, void *payload)
{
    (void)n;
    firing_row **head = payload;
    firing_row *f = cairn_calloc(1, sizeof(*f));
    snprintf(f->id, sizeof(f->id), "%.*s", (int)c[0].u.s.len, c[0].u.s.ptr);
    f->rule = cairn_strdup(c[1].u.s.ptr);
    f->deployment = cairn_strdup(c[2].u.s.ptr);
    f->subject = cairn_strdup(c[3].u.s.ptr);
    f->started = c[4].u.i;
    f->windows = (int)c[5].u.i;
    f->next = *head;
    *head = f;
    return 0;
}

/* Whether the policy still has rule name for deployment. */
static const cairn_monitor_rule *find_rule(const char *deployment, const char *name)
{
    const cairn_monitor_rule *rules[MAX_RULES_PER_DEPLOYMENT];
    if (!A.policy) return NULL;
    int n = cairn_monitor_policy_rules(A.policy, deployment, rules, MAX_RULES_PER_DEPLOYMENT);
    for (int i = 0; i < n && i < MAX_RULES_PER_DEPLOYMENT; i++)
        if (!strcmp(rules[i]->name, name)) return rules[i];
    return NULL;
}

int cairn_serve__alerts_start(cairn_store *store, cairn_monitor_policy *policy)
{
    cairn_serve__alerts_stop();
    firing_row *rows = NULL;
    int rc = cairn_store_query(store,
                               "SELECT id, rule, deployment, subject, started, windows FROM "
                               "monitor_alerts WHERE state = 'firing'",
                               NULL, 0, collect_firing, &rows);
    if (!rc) rc = cairn_serve__alerts_jobs_start(store);
    pthread_mutex_lock(&A.mu);
    if (!rc) {
        A.store = store;
        A.policy = policy;
        A.started = 1;
        policy = NULL;
    }
    while (rows) {
        firing_row *f = rows;
        rows = f->next;
        if (A.started && find_rule(f->deployment, f->rule)) {
            astate *s = state_get(f->deployment, f->rule, f->subject);
            s->firing = 1;
            s->streak = f->windows;
            s->started = f->started;
            memcpy(s->id, f->id, sizeof(s->id));
        } else if (A.started) {
            alert_write *w = cairn_calloc(1, sizeof(*w));
            w->op = 2;
            memcpy(w->id, f->id, sizeof(w->id));
            w->t = w->window = cairn_time_ms();
            w->value = NAN;
            w->reason = cairn_strdup("the rule is no longer in the monitoring policy");
            alert_write_submit(w);
        }
        cairn_free(f->rule);
        cairn_free(f->deployment);
        cairn_free(f->subject);
        cairn_free(f);
    }
    pthread_mutex_unlock(&A.mu);
    cairn_monitor_policy_free(policy);
    return rc;
}

void cairn_serve__alerts_stop(void)
{
    cairn_serve__alerts_jobs_stop();
    pthread_mutex_lock(&A.mu);
    for (int b = 0; b < NBUCKETS; b++) {
        while (A.buckets[b]) {
            astate *s = A.buckets[b];
            A.buckets[b] = s->next;
            cairn_free(s->deployment);
            cairn_free(s->rule);
            cairn_free(s->subject);
            cairn_free(s);
        }
    }
    cairn_monitor_policy_free(A.policy);
    A.policy = NULL;
    A.store = NULL;
    A.started = 0;
    pthread_mutex_unlock(&A.mu);
}

/* ---- /metrics ---- */

void cairn_serve__alerts_metrics_write(cairn_buf *out)
{
    uint64_t delivered, dead, runs, skipped;
    cairn_serve__alerts_jobs_counts(&delivered, &dead, &runs, &skipped);
    cairn_buf_puts(out, "# HELP cairn_alerts_firing 1 while the alert of a rule (and subject: a "
                        "feature or metric, \"\" for none) fires.\n"
                        "# TYPE cairn_alerts_firing gauge\n");
    pthread_mutex_lock(&A.mu);
    for (int b = 0; b < NBUCKETS; b++)
        for (astate *s = A.buckets[b]; s; s = s->next) {
            cairn_buf_puts(out, "cairn_alerts_firing{deployment=");
            cairn_buf_put_json_str(out, s->deployment, strlen(s->deployment));
            cairn_buf_puts(out, ",rule=");
            cairn_buf_put_json_str(out, s->rule, strlen(s->rule));
            cairn_buf_puts(out, ",subject=");
            cairn_buf_put_json_str(out, s->subject, strlen(s->subject));
            cairn_buf_printf(out, "} %d\n", s->firing);
        }
    uint64_t fired = A.fired, resolved = A.resolved;
    pthread_mutex_unlock(&A.mu);
    cairn_buf_printf(out,
                     "# HELP cairn_alert_transitions_total Alert state changes since start.\n"
                     "# TYPE cairn_alert_transitions_total counter\n"
                     "cairn_alert_transitions_total{state=\"firing\"} %llu\n"
                     "cairn_alert_transitions_total{state=\"resolved\"} %llu\n"
                     "# HELP cairn_alert_webhook_deliveries_total Webhook deliveries by outcome.\n"
                     "# TYPE cairn_alert_webhook_deliveries_total counter\n"
                     "cairn_alert_webhook_deliveries_total{outcome=\"delivered\"} %llu\n"
                     "cairn_alert_webhook_deliveries_total{outcome=\"dead\"} %llu\n"
                     "# HELP cairn_alert_retrain_runs_total Retraining requests by outcome.\n"
                     "# TYPE cairn_alert_retrain_runs_total counter\n"
                     "cairn_alert_retrain_runs_total{outcome=\"started\"} %llu\n"
                     "cairn_alert_retrain_runs_total{outcome=\"skipped\"} %llu\n",
                     (unsigned long long)fired, (unsigned long long)resolved,
                     (unsigned long long)delivered, (unsigned long long)dead,
                     (unsigned long long)runs, (unsigned long long)skipped);
}

/* ---- REST ---- */

static json_t *col_json(const cairn_value *v)
{
    switch (v->type) {
    case CAIRN_V_INT: return json_integer(v->u.i);
    case CAIRN_V_REAL: return json_real(v->u.d);
    case CAIRN_V_TEXT: return json_stringn(v->u.s.ptr, v->u.s.len);
    default: return json_null();
    }
}

/* Row callback building an object from named columns (payload: a
 * rows_ctx). */
typedef struct rows_ctx {
    const char *const *names;
    json_t *arr;
} rows_ctx;

static int row_obj(const cairn_value *c, int n, void *payload)
{
    rows_ctx *rc = payload;
    json_t *o = json_object();
    for (int i = 0; i < n && rc->names[i]; i++) json_object_set_new(o, rc->names[i], col_json(&c[i]));
    json_array_append_new(rc->arr, o);
    return 0;
}

static const char *const alert_cols[] = {"id",      "rule",     "deployment", "kind",
                                         "subject", "state",    "started",    "resolved",
                                         "updated", "value",    "threshold",  "above",
                                         "windows", "reason",   NULL};
#define ALERT_SELECT                                                                               \
    "SELECT id, rule, deployment, kind, subject, state, started, resolved, updated, value, "      \
    "threshold, above, windows, reason FROM monitor_alerts"

static const char *const delivery_cols[] = {"id",    "alert_id", "event",       "webhook",
                                            "url",   "state",    "attempts",    "last_status",
                                            "last_error", "created", "updated", NULL};
#define DELIVERY_SELECT                                                                            \
    "SELECT id, alert_id, event, webhook, url, state, attempts, last_status, last_error, "        \
    "created, updated FROM monitor_alert_deliveries"

static const char *const run_cols[] = {"id",     "alert_id", "rule",      "deployment", "run_id",
                                       "status", "reason",   "exit_code", "started",    "finished",
                                       NULL};
#define RUN_SELECT                                                                                 \
    "SELECT id, alert_id, rule, deployment, run_id, status, reason, exit_code, started, "         \
    "finished FROM monitor_alert_runs"

static int not_enabled(void)
{
    return cairn_error_set(CAIRN_EBUSY, CAIRN_SUBSYS_SERVE, "monitoring alerts are not running");
}

/* `above` is stored as 0/1; the API says "above" or "below". */
static void fix_condition(json_t *arr)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *a = json_object_get(o, "above");
        json_object_set_new(o, "condition",
                            json_string(json_integer_value(a) ? "above" : "below"));
        json_object_del(o, "above");
    }
}

static int h_list(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    if (!A.store) FAIL(call, not_enabled());
    const char *dep = NULL, *state = NULL;
    int64_t max = 100;
    int rc = cairn_api__str(&call, "deployment", 0, &dep);
    if (!rc) rc = cairn_api__str(&call, "state", 0, &state);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc && state && *state && strcmp(state, "firing") && strcmp(state, "resolved"))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                             "state must be 'firing' or 'resolved', got '%.40s'", state);
    if (!rc && (max < 1 || max > 10000))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "max_results must be 1..10000");
    if (rc) FAIL(call, rc);
    int has_dep = dep && *dep, has_state = state && *state;
    cairn_value p[3];
    int np = 0;
    char sql[512];
    snprintf(sql, sizeof(sql), ALERT_SELECT " WHERE 1 = 1%s%s ORDER BY started DESC, id LIMIT ?",
             has_dep ? " AND deployment = ?" : "", has_state ? " AND state = ?" : "");
    if (has_dep) p[np++] = CAIRN_VTEXT(dep);
    if (has_state) p[np++] = CAIRN_VTEXT(state);
    p[np++] = CAIRN_VINT(max);
    rows_ctx rcx = {alert_cols, json_array()};
    rc = cairn_store_query(A.store, sql, p, np, row_obj, &rcx);
    if (rc) {
        json_decref(rcx.arr);
        FAIL(call, rc);
    }
    fix_condition(rcx.arr);
    cairn_api__ok(req, json_pack("{s:o}", "alerts", rcx.arr));
    cairn_api__end(&call);
    return 0;
}

static int h_get(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    if (!A.store) FAIL(call, not_enabled());
    const char *id = NULL;
    int rc = cairn_api__str(&call, "id", 1, &id);
    if (rc) FAIL(call, rc);
    cairn_value p[] = {CAIRN_VTEXT(id)};
    rows_ctx a = {alert_cols, json_array()}, r = {run_cols, json_array()},
             d = {delivery_cols, json_array()};
    rc = cairn_store_query(A.store, ALERT_SELECT " WHERE id = ?", p, 1, row_obj, &a);
    if (!rc && json_array_size(a.arr) == 0)
        rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_SERVE, "no alert '%.40s'", id);
    if (!rc)
        rc = cairn_store_query(A.store, RUN_SELECT " WHERE alert_id = ? ORDER BY started, id", p,
                               1, row_obj, &r);
    if (!rc)
        rc = cairn_store_query(A.store, DELIVERY_SELECT " WHERE alert_id = ? ORDER BY created, id",
                               p, 1, row_obj, &d);
    if (rc) {
        json_decref(a.arr);
        json_decref(r.arr);
        json_decref(d.arr);
        FAIL(call, rc);
    }
    fix_condition(a.arr);
    json_t *alert = json_incref(json_array_get(a.arr, 0));
    json_decref(a.arr);
    json_object_set_new(alert, "runs", r.arr);
    json_object_set_new(alert, "deliveries", d.arr);
    cairn_api__ok(req, json_pack("{s:o}", "alert", alert));
    cairn_api__end(&call);
    return 0;
}

static int h_deliveries(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    if (!A.store) FAIL(call, not_enabled());
    const char *state = NULL, *alert = NULL;
    int64_t max = 100;
    int rc = cairn_api__str(&call, "state", 0, &state);
    if (!rc) rc = cairn_api__str(&call, "alert_id", 0, &alert);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc && state && *state && strcmp(state, "dead") && strcmp(state, "delivered"))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                             "state must be 'dead' or 'delivered', got '%.40s'", state);
    if (!rc && (max < 1 || max > 10000))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "max_results must be 1..10000");
    if (rc) FAIL(call, rc);
    int hs = state && *state, ha = alert && *alert;
    cairn_value p[3];
    int np = 0;
    char sql[512];
    snprintf(sql, sizeof(sql), DELIVERY_SELECT " WHERE 1 = 1%s%s ORDER BY created DESC, id LIMIT ?",
             hs ? " AND state = ?" : "", ha ? " AND alert_id = ?" : "");
    if (hs) p[np++] = CAIRN_VTEXT(state);
    if (ha) p[np++] = CAIRN_VTEXT(alert);
    p[np++] = CAIRN_VINT(max);
    rows_ctx d = {delivery_cols, json_array()};
    rc = cairn_store_query(A.store, sql, p, np, row_obj, &d);
    if (rc) {
        json_decref(d.arr);
        FAIL(call, rc);
    }
    cairn_api__ok(req, json_pack("{s:o}", "deliveries", d.arr));
    cairn_api__end(&call);
    return 0;
}

/* Decodes one signal object; CAIRN_EINVALID with a message when malformed. */
static int decode_signal(json_t *o, const char **dep, cairn_alert_kind *kind, const char **name,
                         double *value, int64_t *t)
{
    if (!json_is_object(o))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "a signal must be an object");
    json_t *d = json_object_get(o, "deployment"), *k = json_object_get(o, "kind"),
           *n = json_object_get(o, "name"), *v = json_object_get(o, "value"),
           *w = json_object_get(o, "window_end_ms");
    if (!json_is_string(d) || !*json_string_value(d))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                               "Missing value for required parameter 'deployment'");
    if (!json_is_string(k) || cairn_alert_kind_parse(json_string_value(k), kind))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                               "kind must be drift, quality, error_rate, latency_p99 or "
                               "shadow_agreement");
    if (n && !json_is_null(n) && !json_is_string(n))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "name must be a string");
    if (!json_is_number(v))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "value must be a number");
    if (w && !json_is_null(w) && !json_is_integer(w))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                               "window_end_ms must be an integer");
    *name = json_is_string(n) ? json_string_value(n) : NULL;
    if ((*kind == CAIRN_ALERT_DRIFT || *kind == CAIRN_ALERT_QUALITY) && (!*name || !**name))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                               "a %s signal needs a name (the %s)", cairn_alert_kind_name(*kind),
                               *kind == CAIRN_ALERT_DRIFT ? "feature, or * for the share" : "metric");
    if (strlen(json_string_value(d)) > 200 || (*name && strlen(*name) > 200))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "names are limited to 200 characters");
    *dep = json_string_value(d);
    *value = json_number_value(v);
    *t = json_is_integer(w) ? json_integer_value(w) : 0;
    return 0;
}

/* POST /api/2.0/cairn/monitor/signals: one signal object, or
 * {"signals": [...]} (at most 10,000), all validated before any is
 * applied. Answers {"accepted": n}. */
static int h_signals(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    if (!call.body) FAIL(call, cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE,
                                               "a JSON body with a signal is required"));
    json_t *list = json_object_get(call.body, "signals");
    json_t *one = json_array();
    if (!list) {
        json_array_append(one, call.body);
        list = one;
    }
    int rc = 0;
    if (!json_is_array(list))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "signals must be an array");
    else if (json_array_size(list) > 10000)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "at most 10000 signals a request");
    size_t i;
    json_t *o;
    const char *dep, *name;
    cairn_alert_kind kind;
    double v;
    int64_t t;
    if (!rc) json_array_foreach(list, i, o) if ((rc = decode_signal(o, &dep, &kind, &name, &v, &t))) break;
    if (rc) {
        json_decref(one);
        FAIL(call, rc);
    }
    json_array_foreach(list, i, o)
    {
        decode_signal(o, &dep, &kind, &name, &v, &t);
        cairn_serve__alerts_signal(dep, kind, name, v, t);
    }
    cairn_api__ok(req, json_pack("{s:I}", "accepted", (json_int_t)json_array_size(list)));
    json_decref(one);
    cairn_api__end(&call);
    return 0;
}

int cairn_serve__alerts_mount(cairn_http_server *srv, const char *host)
{
    cairn_serve__alerts_jobs_set_server(srv, host);
    if (cairn_http_route(srv, CAIRN_HTTP_POST, "/api/2.0/cairn/monitor/signals", 0, 0, h_signals,
                         NULL) ||
        cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/alerts/list", 0, 0, h_list,
                         NULL) ||
        cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/alerts/get", 0, 0, h_get,
                         NULL) ||
        cairn_http_route(srv, CAIRN_HTTP_GET, "/api/2.0/cairn/monitor/alerts/deliveries", 0, 0,
                         h_deliveries, NULL))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_SERVE, "cannot add the alert routes");
    return 0;
}
