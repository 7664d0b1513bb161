/*
 * serve_deploy.c - deployments: an endpoint name that maps to one or more
 * registered model versions (each by version number or alias) with traffic
 * weights in percent, an optional shadow target, and traffic policies on
 * top: a gradual shift of weight to a new target with automatic rollback,
 * and rollback to the weights before the last change. REST API under
 * /api/2.0/cairn/deployments/ (create, update, get, list, delete, shift,
 * rollback; MLflow error shape), persisted in the deployments,
 * deployment_targets, deployment_rollback_targets and deployment_shifts
 * tables, and routing of OIP requests for /v2/models/{deployment}[/...] to
 * one target.
 *
 * Key idea: the store is the truth, an in-memory copy serves routing. The
 * copy is loaded when the routes are mounted (server start) and each change
 * builds a whole new entry from the current one, commits it, and only then
 * swaps it into the table under a rwlock, so picking a target never touches
 * the database. Changes - REST calls and the shift timer's steps alike -
 * are serialized by one admin mutex held from reading the current entry to
 * the swap, so the copy applies changes in commit order; the versions a
 * new entry routes to are loaded before the swap, so a change never makes
 * requests wait on a load. A target is picked from a bucket 0..99: FNV-1a
 * of the X-Cairn-Route-Key header mod 100 (sticky: the same key always
 * gets the same target while the weights stay put), else a random bucket;
 * buckets are laid out by cumulative weight in target order.
 *
 * A shift keeps the weights from before it as the rollback point and moves
 * the new target to `step`, 2 `step`, ... percent, one step at once and one
 * every `every`, the rest shared by the old targets in their old
 * proportions. Before each later step one timer thread compares the
 * interval's error rate and p99 of the new version with the old ones'
 * (serve_deploy_stats.c) and restores the rollback point when the new one
 * is worse by the configured margin. Shift state is persisted with each
 * step, so a restart resumes it.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cairn/serve.h"
#include "serve_internal.h"
#include "track/api.h"

#define API "/api/2.0/cairn/deployments/"
#define MAX_TARGETS 16
#define NAME_MAX_LEN 128

typedef struct dtarget {
    char *model;
    char *ref; /* version digits or alias name */
    int weight;
} dtarget;

/* A gradual shift; `state` NULL when the deployment never had one. */
typedef struct dshift {
    char *to_model, *to_ref;
    int step, weight; /* percent per step; the new target's weight now */
    int64_t every_ms, min_requests;
    double max_err_inc, max_p99_ratio;
    char *state;                       /* "running", "completed", "rolled_back", "cancelled" */
    char *reason;                      /* why it stopped (NULL: not stopped or completed) */
    int64_t started, next_at, updated; /* wall ms; next_at 0 unless running */
    cairn_dstats base_new, base_old;   /* counters at the last step (memory only) */
} dshift;

typedef struct deployment {
    struct deployment *next;
    char *name;
    int64_t created, updated;
    int n, nprev;
    dtarget t[MAX_TARGETS];
    dtarget prev[MAX_TARGETS];       /* rollback point: targets before the last change */
    char *shadow_model, *shadow_ref; /* NULL: no shadow */
    dshift shift;
} deployment;

/* The process's deployment table (one server mounts one model manager). */
static struct {
    pthread_rwlock_t lock; /* guards head and owner */
    pthread_mutex_t admin; /* serializes changes: read current + write + swap */
    cairn_serve *owner;    /* the manager whose requests are routed */
    cairn_store *store;
    deployment *head;
} D = {PTHREAD_RWLOCK_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL};

/* The shift timer thread. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stop, kicked;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int is_running(const deployment *d)
{
    return d->shift.state && !strcmp(d->shift.state, "running");
}

/* ================= the in-memory table ================= */

static void targets_free(dtarget *t, int n)
{
    for (int i = 0; i < n; i++) {
        cairn_free(t[i].model);
        cairn_free(t[i].ref);
    }
}

static void targets_copy(dtarget *dst, const dtarget *src, int n)
{
    for (int i = 0; i < n; i++) {
        dst[i].model = cairn_strdup(src[i].model);
        dst[i].ref = cairn_strdup(src[i].ref);
        dst[i].weight = src[i].weight;
    }
}

static char *strdup_or_null(const char *s)
{
    return s ? cairn_strdup(s) : NULL;
}

static void dep_free(deployment *d)
{
    if (!d) return;
    targets_free(d->t, d->n);
    targets_free(d->prev, d->nprev);
    cairn_free(d->shadow_model);
    cairn_free(d->shadow_ref);
    cairn_free(d->shift.to_model);
    cairn_free(d->shift.to_ref);
    cairn_free(d->shift.state);
    cairn_free(d->shift.reason);
    cairn_free(d->name);
    cairn_free(d);
}

static void list_free(deployment *d)
{
    while (d) {
        deployment *next = d->next;
        dep_free(d);
        d = next;
    }
}

/* A deep copy of d (not linked). */
static deployment *dep_copy(const deployment *d)
{
    deployment *c = cairn_malloc(sizeof(*c));
    *c = *d;
    c->next = NULL;
    c->name = cairn_strdup(d->name);
    targets_copy(c->t, d->t, d->n);
    targets_copy(c->prev, d->prev, d->nprev);
    c->shadow_model = strdup_or_null(d->shadow_model);
    c->shadow_ref = strdup_or_null(d->shadow_ref);
    c->shift.to_model = strdup_or_null(d->shift.to_model);
    c->shift.to_ref = strdup_or_null(d->shift.to_ref);
    c->shift.state = strdup_or_null(d->shift.state);
    c->shift.reason = strdup_or_null(d->shift.reason);
    return c;
}

/* Finds name in the list; caller holds the lock. */
static deployment **find_slot(const char *name)
{
    deployment **p = &D.head;
    while (*p && strcmp((*p)->name, name))
        p = &(*p)->next;
    return p;
}

/* A copy of the entry called name, or NULL. */
static deployment *current_copy(const char *name)
{
    pthread_rwlock_rdlock(&D.lock);
    deployment *d = *find_slot(name), *c = d ? dep_copy(d) : NULL;
    pthread_rwlock_unlock(&D.lock);
    return c;
}

/* Replaces (or inserts, or with d NULL removes) the entry called name. */
static void table_put(const char *name, deployment *d)
{
    pthread_rwlock_wrlock(&D.lock);
    deployment **p = find_slot(name), *old = *p;
    if (old) {
        *p = old->next;
        dep_free(old);
    }
    if (d) {
        d->next = D.head;
        D.head = d;
    }
    pthread_rwlock_unlock(&D.lock);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A random bucket 0..99 from a per-thread xorshift64* state. */
static int random_bucket(void)
{
    static _Thread_local uint64_t x;
    while (!x)
        cairn_random_bytes(&x, sizeof(x));
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (int)((x * 2685821657736338717ULL) >> 33) % 100;
}

int cairn_serve__deploy_pick(cairn_serve *s, cairn_http_req *req, const char *name,
                             cairn_serve_pick *out)
{
    const char *key = cairn_http_req_header(req, "X-Cairn-Route-Key");
    int bucket = key ? (int)(fnv1a(key) % 100) : random_bucket(), found = 0;
    pthread_rwlock_rdlock(&D.lock);
    deployment *d = D.owner == s ? *find_slot(name) : NULL;
    if (d) {
        int cum = 0, pick = d->n - 1;
        for (int i = 0; i < d->n; i++) {
            cum += d->t[i].weight;
            if (bucket < cum) {
                pick = i;
                break;
            }
        }
        while (pick > 0 && d->t[pick].weight == 0)
            pick--; /* never a 0-weight target */
        out->model = cairn_http_req_strdup(req, d->t[pick].model);
        out->spec = cairn_http_req_strdup(req, d->t[pick].ref);
        out->shadow_model = d->shadow_model ? cairn_http_req_strdup(req, d->shadow_model) : NULL;
        out->shadow_spec = d->shadow_ref ? cairn_http_req_strdup(req, d->shadow_ref) : NULL;
        found = 1;
    }
    pthread_rwlock_unlock(&D.lock);
    if (found) cairn_http_set_header(req, "X-Cairn-Deployment", name);
    return found;
}

int cairn_serve__deploy_targets(void (*cb)(const char *deployment, const char *model,
                                           const char *spec, void *payload),
                                void *payload)
{
    int n = 0;
    pthread_rwlock_rdlock(&D.lock);
    for (deployment *d = D.head; d; d = d->next) {
        for (int i = 0; i < d->n; i++) {
            if (!d->t[i].weight) continue;
            cb(d->name, d->t[i].model, d->t[i].ref, payload);
            n++;
        }
        if (d->shadow_model) {
            cb(d->name, d->shadow_model, d->shadow_ref, payload);
            n++;
        }
    }
    pthread_rwlock_unlock(&D.lock);
    return n;
}

/* ================= loading ================= */

static char *text_or_null(const cairn_value *c)
{
    return c->type == CAIRN_V_TEXT ? cairn_strndup(c->u.s.ptr, c->u.s.len) : NULL;
}

static int64_t int_of(const cairn_value *c)
{
    return c->type == CAIRN_V_INT ? c->u.i : c->type == CAIRN_V_REAL ? (int64_t)c->u.d : 0;
}

static double real_of(const cairn_value *c)
{
    return c->type == CAIRN_V_REAL ? c->u.d : c->type == CAIRN_V_INT ? (double)c->u.i : 0;
}

static deployment *find_in(deployment *list, const cairn_value *name)
{
    if (name->type != CAIRN_V_TEXT) return NULL;
    for (deployment *d = list; d; d = d->next)
        if (strlen(d->name) == name->u.s.len && !memcmp(d->name, name->u.s.ptr, name->u.s.len))
            return d;
    return NULL;
}

static int load_dep_row(const cairn_value *c, int n, void *payload)
{
    deployment **list = payload;
    if (n < 5 || c[0].type != CAIRN_V_TEXT) return 0;
    deployment *d = cairn_calloc(1, sizeof(*d));
    d->name = cairn_strndup(c[0].u.s.ptr, c[0].u.s.len);
    d->created = int_of(&c[1]);
    d->updated = int_of(&c[2]);
    d->shadow_model = text_or_null(&c[3]);
    d->shadow_ref = text_or_null(&c[4]);
    if (!d->shadow_model || !d->shadow_ref) {
        cairn_free(d->shadow_model);
        cairn_free(d->shadow_ref);
        d->shadow_model = d->shadow_ref = NULL;
    }
    d->next = *list;
    *list = d;
    return 0;
}

/* A row (deployment, model, ref, weight) appended to the targets of its
 * deployment in list (prev: to its rollback point). */
static int add_target_row(const cairn_value *c, int n, deployment *list, int prev)
{
    if (n < 4 || c[1].type != CAIRN_V_TEXT || c[2].type != CAIRN_V_TEXT) return 0;
    deployment *d = find_in(list, &c[0]);
    int *count = d ? (prev ? &d->nprev : &d->n) : NULL;
    if (!d || *count >= MAX_TARGETS) return 0;
    dtarget *t = (prev ? d->prev : d->t) + *count;
    t->model = cairn_strndup(c[1].u.s.ptr, c[1].u.s.len);
    t->ref = cairn_strndup(c[2].u.s.ptr, c[2].u.s.len);
    t->weight = (int)int_of(&c[3]);
    (*count)++;
    return 0;
}

static int load_target_row(const cairn_value *c, int n, void *payload)
{
    return add_target_row(c, n, payload, 0);
}

static int load_prev_row(const cairn_value *c, int n, void *payload)
{
    return add_target_row(c, n, payload, 1);
}

static int load_shift_row(const cairn_value *c, int n, void *payload)
{
    deployment *d = find_in(payload, &c[0]);
    if (n < 14 || !d || c[1].type != CAIRN_V_TEXT || c[2].type != CAIRN_V_TEXT ||
        c[9].type != CAIRN_V_TEXT)
        return 0;
    dshift *s = &d->shift;
    s->to_model = text_or_null(&c[1]);
    s->to_ref = text_or_null(&c[2]);
    s->step = (int)int_of(&c[3]);
    s->every_ms = int_of(&c[4]);
    s->max_err_inc = real_of(&c[5]);
    s->max_p99_ratio = real_of(&c[6]);
    s->min_requests = int_of(&c[7]);
    s->weight = (int)int_of(&c[8]);
    s->state = text_or_null(&c[9]);
    s->reason = text_or_null(&c[10]);
    s->started = int_of(&c[11]);
    s->next_at = int_of(&c[12]);
    s->updated = int_of(&c[13]);
    return 0;
}

/* Reads every deployment from the store into a fresh list (*out). */
static int load_all(cairn_store *store, deployment **out)
{
    deployment *list = NULL;
    int rc = cairn_store_query(
        store, "SELECT name, created, updated, shadow_model, shadow_ref FROM deployments", NULL, 0,
        load_dep_row, &list);
    if (rc >= 0)
        rc = cairn_store_query(store,
                               "SELECT deployment, model, ref, weight FROM deployment_targets "
                               "ORDER BY deployment, position",
                               NULL, 0, load_target_row, list);
    if (rc >= 0)
        rc = cairn_store_query(store,
                               "SELECT deployment, model, ref, weight FROM "
                               "deployment_rollback_targets ORDER BY deployment, position",
                               NULL, 0, load_prev_row, list);
    if (rc >= 0)
        rc = cairn_store_query(store,
                               "SELECT deployment, to_model, to_ref, step, every_ms, "
                               "max_error_rate_increase, max_p99_ratio, min_requests, weight, "
                               "state, reason, started, next_at, updated FROM deployment_shifts",
                               NULL, 0, load_shift_row, list);
    if (rc < 0) {
        list_free(list);
        return rc;
    }
    *out = list;
    return 0;
}

/* ================= JSON ================= */

static int is_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* {model, version|alias[, weight]}; weight < 0 leaves it out. */
static json_t *ref_json(const char *model, const char *ref, int weight)
{
    json_t *o = json_pack("{s:s,s:s}", "model", model, is_digits(ref) ? "version" : "alias", ref);
    if (weight >= 0) json_object_set_new(o, "weight", json_integer(weight));
    return o;
}

static json_t *targets_json(const dtarget *t, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, ref_json(t[i].model, t[i].ref, t[i].weight));
    return a;
}

static void stats_entry(const char *model, int64_t version, const cairn_dstats *s, void *payload)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)version);
    json_array_append_new(payload,
                          json_pack("{s:s,s:s,s:I,s:I,s:f,s:f,s:f}", "model", model, "version", v,
                                    "requests", (json_int_t)s->req, "errors", (json_int_t)s->err,
                                    "error_rate", s->req ? (double)s->err / (double)s->req : 0.0,
                                    "p50_ms", cairn_serve__dstats_quantile_ns(s, 0.5) / 1e6,
                                    "p99_ms", cairn_serve__dstats_quantile_ns(s, 0.99) / 1e6));
}

static json_t *shadow_json(const deployment *d)
{
    cairn_shadow_stats st;
    cairn_serve__shadow_stats(d->name, &st);
    json_t *o = ref_json(d->shadow_model, d->shadow_ref, -1);
    json_object_set_new(
        o, "stats",
        json_pack("{s:I,s:I,s:I,s:f,s:f,s:I,s:I}", "requests", (json_int_t)st.requests, "rows",
                  (json_int_t)st.rows, "agreement_rows", (json_int_t)st.agree, "agreement_rate",
                  st.rows ? (double)st.agree / (double)st.rows : 0.0, "mean_abs_diff",
                  st.rows ? st.abs_diff_sum / (double)st.rows : 0.0, "errors",
                  (json_int_t)st.errors, "dropped", (json_int_t)st.dropped));
    return o;
}

static json_t *shift_json(const dshift *s)
{
    json_t *o = json_pack(
        "{s:o,s:i,s:f,s:f,s:f,s:I,s:i,s:s,s:I,s:I}", "to", ref_json(s->to_model, s->to_ref, -1),
        "step", s->step, "every_seconds", (double)s->every_ms / 1000.0, "max_error_rate_increase",
        s->max_err_inc, "max_p99_ratio", s->max_p99_ratio, "min_requests",
        (json_int_t)s->min_requests, "weight", s->weight, "state", s->state, "started_timestamp",
        (json_int_t)s->started, "last_updated_timestamp", (json_int_t)s->updated);
    if (s->next_at) json_object_set_new(o, "next_step_timestamp", json_integer(s->next_at));
    if (s->reason) json_object_set_new(o, "reason", json_string(s->reason));
    return o;
}

/* The deployment as the API shows it; caller holds the lock. */
static json_t *dep_json(const deployment *d)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:o}", "name", d->name, "creation_timestamp",
                          (json_int_t)d->created, "last_updated_timestamp", (json_int_t)d->updated,
                          "targets", targets_json(d->t, d->n));
    if (d->shadow_model) json_object_set_new(o, "shadow", shadow_json(d));
    if (d->nprev) json_object_set_new(o, "rollback_targets", targets_json(d->prev, d->nprev));
    if (d->shift.state) json_object_set_new(o, "shift", shift_json(&d->shift));
    json_t *stats = json_array();
    cairn_serve__dstats_each(d->name, stats_entry, stats);
    json_object_set_new(o, "stats", stats);
    return o;
}

static json_t *dep_json_named(const char *name)
{
    pthread_rwlock_rdlock(&D.lock);
    deployment *d = *find_slot(name);
    json_t *j = d ? dep_json(d) : NULL;
    pthread_rwlock_unlock(&D.lock);
    return j;
}

/* ================= validation ================= */

static int invalid(const char *fmt, const char *a)
{
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, fmt, a);
}

/* A deployment name is used as an OIP model name: 1..128 of [A-Za-z0-9_.-]. */
static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN)
        return invalid("deployment name must be 1 to 128 characters%s", "");
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return invalid("deployment name '%.128s' may hold only letters, digits, '_', '.', '-'",
                           name);
    }
    return 0;
}

static int exists_row(const cairn_value *c, int n, void *payload)
{
    (void)c;
    (void)n;
    *(int *)payload = 1;
    return 1;
}

/* Decodes {model, version|alias} (what names a target, a shift's `to` or
 * a shadow) into *model and *ref (request-arena or body strings) and checks
 * that the model is registered. */
static int parse_ref(api_call *call, json_t *o, const char **model, const char **ref)
{
    json_t *m = json_object_get(o, "model"), *v = json_object_get(o, "version"),
           *a = json_object_get(o, "alias");
    if (!json_is_string(m) || !*json_string_value(m))
        return invalid("each target needs a string 'model'%s", "");
    if (!!v == !!a)
        return invalid("target '%.200s' needs exactly one of 'version', 'alias'",
                       json_string_value(m));
    if (v && json_is_integer(v) && json_integer_value(v) > 0) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        *ref = cairn_http_req_strdup(call->req, num);
    } else if (v && json_is_string(v) && is_digits(json_string_value(v))) {
        *ref = json_string_value(v);
    } else if (a && json_is_string(a) && *json_string_value(a) &&
               !is_digits(json_string_value(a))) {
        *ref = json_string_value(a);
    } else {
        return invalid("target '%.200s': 'version' must be a positive number and 'alias' a "
                       "non-numeric name",
                       json_string_value(m));
    }
    int found = 0;
    cairn_value p[1] = {CAIRN_VTEXT(json_string_value(m))};
    int rc = cairn_store_query(D.store, "SELECT 1 FROM registered_models WHERE name = ?", p, 1,
                               exists_row, &found);
    if (rc < 0) return rc;
    if (!found) return invalid("registered model '%.200s' does not exist", json_string_value(m));
    *model = json_string_value(m);
    return 0;
}

/* Decodes body.targets into t (strings borrowed from the body or the
 * request arena) and checks them: 1..16 targets, each {model,
 * version|alias, weight}, model registered, weights >= 0 summing to 100.
 * Targets without a weight share what the given weights leave of 100
 * evenly (the remainder to the first of them), so one target alone needs
 * no weight. Returns the count, 0 when the body has no targets, or a
 * negative code (message set). */
static int parse_targets(api_call *call, dtarget *t)
{
    json_t *arr = NULL, *o;
    int rc = cairn_api__array(call, "targets", &arr);
    if (rc) return rc;
    if (!arr) return 0;
    if (json_array_size(arr) == 0) return invalid("a deployment needs at least one target%s", "");
    if (json_array_size(arr) > MAX_TARGETS)
        return invalid("a deployment has at most 16 targets%s", "");
    int n = 0, given = 0, unweighted = 0;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        const char *model, *ref;
        if ((rc = parse_ref(call, o, &model, &ref))) return rc;
        json_t *w = json_object_get(o, "weight");
        int weight = -1;
        if (w && !json_is_null(w)) {
            if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 100)
                return invalid("target '%.200s': 'weight' must be an integer 0..100", model);
            weight = (int)json_integer_value(w);
            given += weight;
        } else {
            unweighted++;
        }
        t[n].model = (char *)model;
        t[n].ref = (char *)ref;
        t[n].weight = weight;
        n++;
    }
    if (given > 100 || (!unweighted && given != 100)) {
        char msg[32];
        snprintf(msg, sizeof(msg), "%d", given);
        return invalid("target weights must sum to 100 (got %s)", msg);
    }
    int share = unweighted ? (100 - given) / unweighted : 0,
        extra = unweighted ? (100 - given) % unweighted : 0;
    for (int k = 0; k < n; k++) {
        if (t[k].weight >= 0) continue;
        t[k].weight = share + extra;
        extra = 0;
    }
    return n;
}

/* body.shadow: absent (*given 0), null (given, no shadow: *model NULL) or
 * {model, version|alias}. */
static int parse_shadow(api_call *call, int *given, const char **model, const char **ref)
{
    json_t *o = call->body ? json_object_get(call->body, "shadow") : NULL;
    *given = o != NULL;
    *model = *ref = NULL;
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o))
        return invalid("'shadow' must be an object {model, version|alias} or null%s", "");
    return parse_ref(call, o, model, ref);
}

/* ================= writes ================= */

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct dwrite {
    int op;
    const char *name;
    const deployment *d; /* the whole new state (NULL for OP_DELETE) */
} dwrite;

static int write_targets(cairn_store_tx *tx, const char *table, const char *name, const dtarget *t,
                         int n)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s (deployment, position, model, ref, weight) VALUES (?, ?, ?, ?, ?)",
             table);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        cairn_value p[5] = {CAIRN_VTEXT(name), CAIRN_VINT(i), CAIRN_VTEXT(t[i].model),
                            CAIRN_VTEXT(t[i].ref), CAIRN_VINT(t[i].weight)};
        rc = cairn_tx_exec(tx, sql, p, 5, NULL, NULL);
    }
    return rc;
}

static int write_shift(cairn_store_tx *tx, const char *name, const dshift *s)
{
    cairn_value p[14] = {CAIRN_VTEXT(name),
                         CAIRN_VTEXT(s->to_model),
                         CAIRN_VTEXT(s->to_ref),
                         CAIRN_VINT(s->step),
                         CAIRN_VINT(s->every_ms),
                         CAIRN_VREAL(s->max_err_inc),
                         CAIRN_VREAL(s->max_p99_ratio),
                         CAIRN_VINT(s->min_requests),
                         CAIRN_VINT(s->weight),
                         CAIRN_VTEXT(s->state),
                         s->reason ? CAIRN_VTEXT(s->reason) : CAIRN_VNULL,
                         CAIRN_VINT(s->started),
                         CAIRN_VINT(s->next_at),
                         CAIRN_VINT(s->updated)};
    return cairn_tx_exec(tx,
                         "INSERT INTO deployment_shifts (deployment, to_model, to_ref, step, "
                         "every_ms, max_error_rate_increase, max_p99_ratio, min_requests, weight, "
                         "state, reason, started, next_at, updated) VALUES (?, ?, ?, ?, ?, ?, ?, "
                         "?, ?, ?, ?, ?, ?, ?)",
                         p, 14, NULL, NULL);
}

/* The write unit: one deployment row plus its targets, rollback point and
 * shift, replaced whole. */
static int write_unit(cairn_store_tx *tx, void *payload)
{
    dwrite *w = payload;
    const deployment *d = w->d;
    int rc;
    if (w->op != OP_DELETE) {
        cairn_value sm = d->shadow_model ? CAIRN_VTEXT(d->shadow_model) : CAIRN_VNULL,
                    sr = d->shadow_ref ? CAIRN_VTEXT(d->shadow_ref) : CAIRN_VNULL;
        if (w->op == OP_CREATE) {
            cairn_value p[5] = {CAIRN_VTEXT(w->name), CAIRN_VINT(d->created),
                                CAIRN_VINT(d->updated), sm, sr};
            rc = cairn_tx_exec(tx,
                               "INSERT INTO deployments (name, created, updated, shadow_model, "
                               "shadow_ref) VALUES (?, ?, ?, ?, ?)",
                               p, 5, NULL, NULL);
        } else {
            cairn_value p[4] = {CAIRN_VINT(d->updated), sm, sr, CAIRN_VTEXT(w->name)};
            rc = cairn_tx_exec(tx,
                               "UPDATE deployments SET updated = ?, shadow_model = ?, "
                               "shadow_ref = ? WHERE name = ?",
                               p, 4, NULL, NULL);
            if (!rc && cairn_tx_changes(tx) == 0) return CAIRN_ENOTFOUND;
        }
        if (rc) return rc;
    }
    static const char *const children[] = {
        "DELETE FROM deployment_targets WHERE deployment = ?",
        "DELETE FROM deployment_rollback_targets WHERE deployment = ?",
        "DELETE FROM deployment_shifts WHERE deployment = ?"};
    cairn_value key[1] = {CAIRN_VTEXT(w->name)};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(children); i++)
        if ((rc = cairn_tx_exec(tx, children[i], key, 1, NULL, NULL))) return rc;
    if (w->op == OP_DELETE) {
        rc = cairn_tx_exec(tx, "DELETE FROM deployments WHERE name = ?", key, 1, NULL, NULL);
        if (rc) return rc;
        return cairn_tx_changes(tx) == 0 ? CAIRN_ENOTFOUND : 0;
    }
    rc = write_targets(tx, "deployment_targets", w->name, d->t, d->n);
    if (!rc) rc = write_targets(tx, "deployment_rollback_targets", w->name, d->prev, d->nprev);
    if (!rc && d->shift.state) rc = write_shift(tx, w->name, &d->shift);
    return rc;
}

/* Loads what d routes to (targets with weight and the shadow) so that the
 * swap makes no request wait on a load. A version that cannot be loaded
 * yet (say an alias not set) is left for the requests to report. */
static void preload(const deployment *d)
{
    for (int i = 0; i <= d->n; i++) {
        const char *model = i < d->n ? d->t[i].model : d->shadow_model,
                   *ref = i < d->n ? d->t[i].ref : d->shadow_ref;
        if (!model || (i < d->n && !d->t[i].weight)) continue;
        if (cairn_serve_preload(D.owner, model, ref))
            cairn_log(CAIRN_LOG_DEBUG, SERVE_SUBSYS, "deployment target not loaded|model=%s ref=%s",
                      model, ref);
    }
}

/* Commits the new state d of deployment `name` (op OP_DELETE: d NULL) and
 * swaps it into the table, taking d. The caller holds D.admin. Returns 0 or
 * a code with the message set on this thread; on failure the table is
 * unchanged. */
static int commit_swap(int op, const char *name, deployment *d)
{
    if (d) preload(d);
    dwrite w = {op, name, d};
    int rc = cairn_store_write(D.store, write_unit, &w);
    if (rc == 0) {
        table_put(name, d);
        return 0;
    }
    dep_free(d);
    if (rc == CAIRN_EEXISTS)
        cairn_error_set(rc, SERVE_SUBSYS, "deployment '%.128s' already exists", name);
    else if (rc == CAIRN_ENOTFOUND)
        cairn_error_set(rc, SERVE_SUBSYS, "deployment '%.128s' does not exist", name);
    else
        cairn_error_set(rc, SERVE_SUBSYS, "could not save deployment '%.128s'", name);
    return rc;
}

static void set_str(char **dst, const char *s)
{
    cairn_free(*dst);
    *dst = strdup_or_null(s);
}

static void set_targets(dtarget *dst, int *n, const dtarget *src, int m)
{
    targets_free(dst, *n);
    targets_copy(dst, src, m);
    *n = m;
}

/* ================= shift policy ================= */

static int same_target(const dtarget *t, const char *model, const char *ref)
{
    return !strcmp(t->model, model) && !strcmp(t->ref, ref);
}

/* Sets d's targets for the shift's current weight w of the new target: the
 * old targets of the rollback point share 100 - w in their old
 * proportions (largest remainder, ties to the earlier target), the new
 * target comes last. At w = 100 the new target is the only one left. */
static void shift_weights(deployment *d)
{
    dshift *s = &d->shift;
    dtarget t[MAX_TARGETS];
    int n = 0, total = 0, rest = 100 - s->weight;
    for (int i = 0; i < d->nprev; i++)
        if (!same_target(&d->prev[i], s->to_model, s->to_ref)) total += d->prev[i].weight;
    if (rest > 0 && total > 0) {
        int given = 0;
        double frac[MAX_TARGETS];
        for (int i = 0; i < d->nprev; i++) {
            if (same_target(&d->prev[i], s->to_model, s->to_ref)) continue;
            double exact = (double)rest * d->prev[i].weight / total;
            t[n] = d->prev[i];
            t[n].weight = (int)floor(exact);
            frac[n] = exact - t[n].weight;
            given += t[n].weight;
            n++;
        }
        for (; given < rest; given++) {
            int best = 0;
            for (int i = 1; i < n; i++)
                if (frac[i] > frac[best]) best = i;
            t[best].weight++;
            frac[best] = -1;
        }
    }
    t[n].model = s->to_model;
    t[n].ref = s->to_ref;
    t[n].weight = s->weight;
    n++;
    set_targets(d->t, &d->n, t, n);
}

/* Moves the shift one step (to completion at 100%). */
static void shift_advance(deployment *d, int64_t now)
{
    dshift *s = &d->shift;
    s->weight = s->weight + s->step >= 100 ? 100 : s->weight + s->step;
    shift_weights(d);
    s->updated = now;
    if (s->weight == 100) {
        set_str(&s->state, "completed");
        s->next_at = 0;
    } else {
        s->next_at = now + s->every_ms;
    }
}

/* Restores the rollback point; a running shift ends in state (with reason). */
static void restore(deployment *d, const char *state, const char *reason, int64_t now)
{
    set_targets(d->t, &d->n, d->prev, d->nprev);
    targets_free(d->prev, d->nprev);
    d->nprev = 0;
    d->updated = now;
    if (is_running(d)) {
        set_str(&d->shift.state, state);
        set_str(&d->shift.reason, reason);
        d->shift.next_at = 0;
        d->shift.updated = now;
    }
}

static void dstats_minus(cairn_dstats *a, const cairn_dstats *b)
{
    a->req = a->req > b->req ? a->req - b->req : 0;
    a->err = a->err > b->err ? a->err - b->err : 0;
    for (int i = 0; i < CAIRN_DSTATS_NB; i++)
        a->hist[i] = a->hist[i] > b->hist[i] ? a->hist[i] - b->hist[i] : 0;
}

/* Takes the shift's counters now: the new version's (nw) and the other
 * versions' of the deployment (old). */
static void shift_counters(const deployment *d, cairn_dstats *nw, cairn_dstats *old)
{
    int64_t v = 0;
    if (cairn_serve_resolve(D.owner, d->shift.to_model, d->shift.to_ref, &v)) v = 0;
    cairn_serve__dstats_sum(d->name, d->shift.to_model, v, 1, nw);
    cairn_serve__dstats_sum(d->name, d->shift.to_model, v, 0, old);
}

/* Judges the last interval (counters since the baseline). Writes why into
 * reason and returns 1 when the new version is worse than the old ones by
 * more than the margins and has min_requests requests; else 0. */
static int shift_worse(const dshift *s, cairn_dstats *nw, cairn_dstats *old, char *reason,
                       size_t cap)
{
    dstats_minus(nw, &s->base_new);
    dstats_minus(old, &s->base_old);
    if (nw->req == 0 || (int64_t)nw->req < s->min_requests) return 0;
    double en = (double)nw->err / (double)nw->req,
           eo = old->req ? (double)old->err / (double)old->req : 0.0;
    if (en - eo > s->max_err_inc) {
        snprintf(reason, cap,
                 "error rate %.4f of %s@%s over %llu requests exceeds %.4f of the previous "
                 "targets by more than %g",
                 en, s->to_model, s->to_ref, (unsigned long long)nw->req, eo, s->max_err_inc);
        return 1;
    }
    if (old->req == 0) return 0;
    double pn = cairn_serve__dstats_quantile_ns(nw, 0.99),
           po = cairn_serve__dstats_quantile_ns(old, 0.99);
    if (pn > s->max_p99_ratio * po) {
        snprintf(reason, cap,
                 "p99 latency %.3f ms of %s@%s exceeds %g x the previous targets' %.3f ms",
                 pn / 1e6, s->to_model, s->to_ref, s->max_p99_ratio, po / 1e6);
        return 1;
    }
    return 0;
}

/* One due step of the shift of deployment `name`: roll back or advance,
 * then commit. Caller holds D.admin. */
static void shift_step(const char *name, int64_t now)
{
    deployment *d = current_copy(name);
    if (!d || !is_running(d)) {
        dep_free(d);
        return;
    }
    cairn_dstats *nw = cairn_malloc(sizeof(*nw)), *old = cairn_malloc(sizeof(*old));
    shift_counters(d, nw, old);
    cairn_dstats now_new = *nw, now_old = *old;
    char reason[512];
    if (shift_worse(&d->shift, nw, old, reason, sizeof(reason))) {
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "shift rolled back|deployment=%s reason=\"%s\"",
                  name, reason);
        restore(d, "rolled_back", reason, now);
    } else {
        shift_advance(d, now);
        d->updated = now;
    }
    d->shift.base_new = now_new;
    d->shift.base_old = now_old;
    cairn_free(nw);
    cairn_free(old);
    if (commit_swap(OP_UPDATE, name, d)) { /* the store refused: try again in a second */
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "shift step not saved|deployment=%s error=%s", name,
                  cairn_error_last()->msg);
        pthread_rwlock_wrlock(&D.lock);
        deployment *cur = *find_slot(name);
        if (cur && is_running(cur)) cur->shift.next_at = now + 1000;
        pthread_rwlock_unlock(&D.lock);
    }
}

/* Runs the due steps; returns the earliest next step time (INT64_MAX: none). */
static int64_t run_due(void)
{
    pthread_mutex_lock(&D.admin);
    int64_t now = cairn_time_ms(), next = INT64_MAX;
    char *due[64];
    int ndue = 0;
    pthread_rwlock_rdlock(&D.lock);
    for (deployment *d = D.head; d; d = d->next) {
        if (!is_running(d)) continue;
        if (d->shift.next_at <= now && ndue < (int)CAIRN_ARRAY_LEN(due))
            due[ndue++] = cairn_strdup(d->name);
    }
    pthread_rwlock_unlock(&D.lock);
    for (int i = 0; i < ndue; i++) {
        shift_step(due[i], now);
        cairn_free(due[i]);
    }
    pthread_rwlock_rdlock(&D.lock);
    for (deployment *d = D.head; d; d = d->next)
        if (is_running(d) && d->shift.next_at < next) next = d->shift.next_at;
    pthread_rwlock_unlock(&D.lock);
    pthread_mutex_unlock(&D.admin);
    return next;
}

static void *shift_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&T.mu);
    while (!T.stop) {
        T.kicked = 0;
        pthread_mutex_unlock(&T.mu);
        int64_t next = run_due();
        pthread_mutex_lock(&T.mu);
        if (T.stop || T.kicked) continue;
        if (next == INT64_MAX) {
            pthread_cond_wait(&T.cv, &T.mu);
        } else {
            int64_t wait = next - cairn_time_ms();
            if (wait <= 0) continue;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (wait % 1000) * 1000000;
            ts.tv_sec += (time_t)(wait / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&T.cv, &T.mu, &ts);
        }
    }
    pthread_mutex_unlock(&T.mu);
    return NULL;
}

/* Wakes the timer thread to look at the shifts again. */
static void kick(void)
{
    pthread_mutex_lock(&T.mu);
    T.kicked = 1;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* ================= handlers ================= */

static void ok_dep(cairn_http_req *req, const char *name)
{
    json_t *d = dep_json_named(name);
    cairn_api__ok(req, json_pack("{s:o}", "deployment", d ? d : json_object()));
}

/* Builds the new state for create / update from the request and commits
 * it. Caller holds D.admin. */
static int write_dep(int op, const char *name, dtarget *t, int n, int shadow_given,
                     const char *shadow_model, const char *shadow_ref)
{
    int64_t now = cairn_time_ms();
    deployment *d;
    if (op == OP_CREATE) {
        pthread_rwlock_rdlock(&D.lock);
        int exists = *find_slot(name) != NULL;
        pthread_rwlock_unlock(&D.lock);
        if (exists)
            return cairn_error_set(CAIRN_EEXISTS, SERVE_SUBSYS,
                                   "deployment '%.128s' already exists", name);
        d = cairn_calloc(1, sizeof(*d));
        d->name = cairn_strdup(name);
        d->created = now;
    } else if (!(d = current_copy(name))) {
        return cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "deployment '%.128s' does not exist",
                               name);
    }
    d->updated = now;
    if (n > 0) {
        if (op == OP_UPDATE) { /* the weights replaced become the rollback point */
            set_targets(d->prev, &d->nprev, d->t, d->n);
            if (is_running(d)) {
                set_str(&d->shift.state, "cancelled");
                set_str(&d->shift.reason, "targets replaced by an update");
                d->shift.next_at = 0;
                d->shift.updated = now;
            }
        }
        set_targets(d->t, &d->n, t, n);
    }
    if (shadow_given) {
        set_str(&d->shadow_model, shadow_model);
        set_str(&d->shadow_ref, shadow_ref);
    }
    return commit_swap(op, name, d);
}

/* POST create / update: {name, targets: [...], shadow: {...}|null}. */
static int h_write(cairn_http_req *req, int op)
{
    BEGIN(call, req);
    const char *name = NULL, *sm = NULL, *sr = NULL;
    dtarget t[MAX_TARGETS];
    int shadow_given = 0, n = 0;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (!rc) rc = check_name(name);
    if (!rc) rc = n = parse_targets(&call, t);
    if (rc >= 0) rc = parse_shadow(&call, &shadow_given, &sm, &sr);
    if (!rc && n == 0 && (op == OP_CREATE || !shadow_given))
        rc = invalid("a deployment needs at least one target%s", "");
    if (rc) FAIL(call, rc);
    pthread_mutex_lock(&D.admin);
    rc = write_dep(op, name, t, n, shadow_given, sm, sr);
    pthread_mutex_unlock(&D.admin);
    if (rc) FAIL(call, rc);
    ok_dep(req, name);
    cairn_api__end(&call);
    return 0;
}

static int h_create(cairn_http_req *req, void *payload)
{
    (void)payload;
    return h_write(req, OP_CREATE);
}

static int h_update(cairn_http_req *req, void *payload)
{
    (void)payload;
    return h_write(req, OP_UPDATE);
}

static int h_delete(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (rc) FAIL(call, rc);
    pthread_mutex_lock(&D.admin);
    rc = commit_swap(OP_DELETE, name, NULL);
    pthread_mutex_unlock(&D.admin);
    if (rc) FAIL(call, rc);
    cairn_api__empty(req);
    cairn_api__end(&call);
    return 0;
}

static int h_get(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (rc) FAIL(call, rc);
    json_t *d = dep_json_named(name);
    if (!d)
        FAIL(call, cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS,
                                   "deployment '%.128s' does not exist", name));
    cairn_api__ok(req, json_pack("{s:o}", "deployment", d));
    cairn_api__end(&call);
    return 0;
}

/* GET list: every deployment, sorted by name. */
static int h_list(cairn_http_req *req, void *payload)
{
    (void)payload;
    json_t *arr = json_array();
    pthread_rwlock_rdlock(&D.lock);
    for (deployment *d = D.head; d; d = d->next) {
        size_t at = 0;
        while (at < json_array_size(arr) &&
               strcmp(json_string_value(json_object_get(json_array_get(arr, at), "name")),
                      d->name) < 0)
            at++;
        json_array_insert_new(arr, at, dep_json(d));
    }
    pthread_rwlock_unlock(&D.lock);
    cairn_api__ok(req, json_pack("{s:o}", "deployments", arr));
    return 0;
}

/* A duration: a number of seconds, or digits with a unit ms, s, m or h
 * ("500ms", "30s", "5m"). */
static int parse_every(json_t *v, int64_t *ms)
{
    double x = -1;
    if (json_is_number(v)) {
        x = json_number_value(v) * 1000.0;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        double n = strtod(s, &end);
        double unit = !*end                ? 1000.0
                      : !strcmp(end, "ms") ? 1.0
                      : !strcmp(end, "s")  ? 1000.0
                      : !strcmp(end, "m")  ? 60000.0
                      : !strcmp(end, "h")  ? 3600000.0
                                           : -1;
        if (end != s && unit > 0 && isfinite(n)) x = n * unit;
    }
    if (!(x >= 100 && x <= 30.0 * 86400000.0))
        return invalid("'every' must be a duration from 0.1 s to 30 days (seconds, or "
                       "\"500ms\", \"30s\", \"5m\", \"1h\")%s",
                       "");
    *ms = (int64_t)x;
    return 0;
}

/* Why the shift r cannot start on d, or 0. */
static int refuse_shift(const deployment *d, const dshift *r)
{
    if (is_running(d))
        return cairn_error_set(CAIRN_ECONFLICT, SERVE_SUBSYS,
                               "deployment '%.128s' is already shifting; roll back first", d->name);
    int old_total = 0, present = 0;
    for (int i = 0; i < d->n; i++) {
        if (same_target(&d->t[i], r->to_model, r->to_ref))
            present = 1;
        else
            old_total += d->t[i].weight;
    }
    if (old_total == 0)
        return invalid("deployment '%.128s' already sends all its traffic to that target", d->name);
    if (!present && d->n >= MAX_TARGETS)
        return invalid("deployment '%.128s' has no room for another target", d->name);
    return 0;
}

/* Validates and starts the shift r on d (a copy, taken) and commits it.
 * Caller holds D.admin. */
static int start_shift(deployment *d, const dshift *r)
{
    int rc = refuse_shift(d, r);
    if (rc) {
        dep_free(d);
        return rc;
    }
    int64_t now = cairn_time_ms();
    int start_weight = 0;
    for (int i = 0; i < d->n; i++)
        if (same_target(&d->t[i], r->to_model, r->to_ref)) start_weight = d->t[i].weight;
    set_targets(d->prev, &d->nprev, d->t, d->n);
    dshift *s = &d->shift;
    cairn_free(s->to_model);
    cairn_free(s->to_ref);
    cairn_free(s->state);
    cairn_free(s->reason);
    *s = *r;
    s->to_model = cairn_strdup(r->to_model);
    s->to_ref = cairn_strdup(r->to_ref);
    s->state = cairn_strdup("running");
    s->reason = NULL;
    s->weight = start_weight;
    s->started = now;
    shift_counters(d, &s->base_new, &s->base_old);
    shift_advance(d, now); /* the first step at once */
    d->updated = now;
    return commit_swap(OP_UPDATE, d->name, d);
}

/* POST shift: {name, to: {model, version|alias}, step, every,
 * max_error_rate_increase, max_p99_ratio, min_requests}. */
static int h_shift(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL, *model = NULL, *ref = NULL;
    dshift r;
    memset(&r, 0, sizeof(r));
    r.max_err_inc = 0.05;
    r.max_p99_ratio = 1.5;
    r.min_requests = 20;
    int64_t step = 0;
    json_t *to = call.body ? json_object_get(call.body, "to") : NULL,
           *every = call.body ? json_object_get(call.body, "every") : NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (!rc && !json_is_object(to))
        rc = invalid("'to' must be an object {model, version|alias}%s", "");
    if (!rc) rc = parse_ref(&call, to, &model, &ref);
    if (!rc) rc = cairn_api__i64(&call, "step", 1, &step, NULL);
    if (!rc && (step < 1 || step > 100)) rc = invalid("'step' must be a percentage 1..100%s", "");
    if (!rc) rc = parse_every(every, &r.every_ms);
    if (!rc) rc = cairn_api__dbl(&call, "max_error_rate_increase", 0, &r.max_err_inc);
    if (!rc) rc = cairn_api__dbl(&call, "max_p99_ratio", 0, &r.max_p99_ratio);
    if (!rc) rc = cairn_api__i64(&call, "min_requests", 0, &r.min_requests, NULL);
    if (!rc && !(r.max_err_inc >= 0 && r.max_err_inc <= 1))
        rc = invalid("'max_error_rate_increase' must be between 0 and 1%s", "");
    if (!rc && !(r.max_p99_ratio >= 1 && r.max_p99_ratio < 1e6))
        rc = invalid("'max_p99_ratio' must be at least 1%s", "");
    if (!rc && r.min_requests < 1) rc = invalid("'min_requests' must be at least 1%s", "");
    if (rc) FAIL(call, rc);
    r.step = (int)step;
    r.to_model = (char *)model;
    r.to_ref = (char *)ref;
    pthread_mutex_lock(&D.admin);
    deployment *d = current_copy(name);
    if (!d)
        rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "deployment '%.128s' does not exist",
                             name);
    else
        rc = start_shift(d, &r);
    pthread_mutex_unlock(&D.admin);
    if (rc) FAIL(call, rc);
    kick();
    ok_dep(req, name);
    cairn_api__end(&call);
    return 0;
}

/* POST rollback: {name}: the rollback point's weights, at once. */
static int h_rollback(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (rc) FAIL(call, rc);
    pthread_mutex_lock(&D.admin);
    deployment *d = current_copy(name);
    if (!d) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "deployment '%.128s' does not exist",
                             name);
    } else if (!d->nprev) {
        dep_free(d);
        rc = cairn_error_set(CAIRN_ECONFLICT, SERVE_SUBSYS,
                             "deployment '%.128s' has no earlier weights to roll back to", name);
    } else {
        restore(d, "rolled_back", "rolled back by request", cairn_time_ms());
        rc = commit_swap(OP_UPDATE, name, d);
    }
    pthread_mutex_unlock(&D.admin);
    if (rc) FAIL(call, rc);
    ok_dep(req, name);
    cairn_api__end(&call);
    return 0;
}

/* ================= lifecycle ================= */

/* Shifts that were running when the process stopped get a full interval of
 * fresh counters before their next step. */
static void resume_shifts(deployment *list)
{
    int64_t now = cairn_time_ms();
    for (deployment *d = list; d; d = d->next) {
        if (!is_running(d)) continue;
        if (d->shift.next_at < now) d->shift.next_at = now + d->shift.every_ms;
        shift_counters(d, &d->shift.base_new, &d->shift.base_old);
    }
}

int cairn_serve__mount_deploy(cairn_serve *s, cairn_http_server *srv)
{
    cairn_store *store = cairn_serve__store(s);
    deployment *list = NULL, *old;
    int rc = load_all(store, &list);
    if (rc) return rc;
    pthread_mutex_lock(&D.admin);
    pthread_rwlock_wrlock(&D.lock);
    old = D.head;
    D.head = list;
    D.owner = s;
    D.store = store;
    pthread_rwlock_unlock(&D.lock);
    resume_shifts(list);
    pthread_mutex_unlock(&D.admin);
    list_free(old);
    static const struct {
        const char *path;
        unsigned methods;
        cairn_http_handler h;
    } routes[] = {
        {API "create", CAIRN_HTTP_POST, h_create},
        {API "update", CAIRN_HTTP_POST | CAIRN_HTTP_PATCH, h_update},
        {API "delete", CAIRN_HTTP_POST | CAIRN_HTTP_DELETE, h_delete},
        {API "get", CAIRN_HTTP_GET, h_get},
        {API "list", CAIRN_HTTP_GET, h_list},
        {API "shift", CAIRN_HTTP_POST, h_shift},
        {API "rollback", CAIRN_HTTP_POST, h_rollback},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(routes) && !rc; i++)
        rc = cairn_http_route(srv, routes[i].methods, routes[i].path, 0, 0, routes[i].h, NULL);
    if (rc) return rc;
    pthread_mutex_lock(&T.mu);
    if (!T.running) {
        T.stop = 0;
        if (pthread_create(&T.thread, NULL, shift_thread, NULL))
            rc = cairn_error_set(CAIRN_ERROR, SERVE_SUBSYS, "cannot start the shift timer thread");
        else
            T.running = 1;
    }
    pthread_mutex_unlock(&T.mu);
    if (!rc) kick();
    return rc;
}

void cairn_serve__deploy_shutdown(void)
{
    pthread_mutex_lock(&T.mu);
    int running = T.running;
    T.stop = 1;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    if (running) pthread_join(T.thread, NULL);
    pthread_mutex_lock(&T.mu);
    T.running = 0;
    pthread_mutex_unlock(&T.mu);
    cairn_serve__dstats_shutdown();
    pthread_mutex_lock(&D.admin);
    pthread_rwlock_wrlock(&D.lock);
    deployment *old = D.head;
    D.head = NULL;
    D.owner = NULL;
    D.store = NULL;
    pthread_rwlock_unlock(&D.lock);
    pthread_mutex_unlock(&D.admin);
    list_free(old);
}
