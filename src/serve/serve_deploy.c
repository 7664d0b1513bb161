/*
 * serve_deploy.c - deployments: an endpoint name that maps to one or more
 * registered model versions (each by version number or alias) with traffic
 * weights in percent. REST API under /api/2.0/cairn/deployments/ (create,
 * update, get, list, delete; MLflow error shape), persisted in the
 * deployments / deployment_targets tables, and routing of OIP requests for
 * /v2/models/{deployment}[/ready|/infer] to one target.
 *
 * Key idea: the store is the truth, an in-memory copy serves routing. The
 * copy is loaded when the routes are mounted (server start) and replaced
 * entry by entry after each committed change, under a rwlock, so picking a
 * target never touches the database. Changes are serialized by one admin
 * mutex held across the (synchronous) write and the memory update, so the
 * copy applies changes in commit order. A target is picked from a bucket
 * 0..99: FNV-1a of the X-Cairn-Route-Key header mod 100 (sticky: the same
 * key always gets the same target while the weights stay put), else a
 * random bucket; buckets are laid out by cumulative weight in target order.
 */
#include <pthread.h>
#include <stdio.h>
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

typedef struct deployment {
    struct deployment *next;
    char *name;
    int64_t created, updated;
    int n;
    dtarget t[MAX_TARGETS];
} deployment;

/* The process's deployment table (one server mounts one model manager). */
static struct {
    pthread_rwlock_t lock;  /* guards head and owner */
    pthread_mutex_t admin;  /* serializes changes: write + memory update */
    cairn_serve *owner;     /* the manager whose requests are routed */
    cairn_store *store;
    deployment *head;
} D = {PTHREAD_RWLOCK_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL};

/* ================= the in-memory table ================= */

static void dep_free(deployment *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        cairn_free(d->t[i].model);
        cairn_free(d->t[i].ref);
    }
    cairn_free(d->name);
    cairn_free(d);
}

/* Finds name in the list; caller holds the lock. */
static deployment **find_slot(const char *name)
{
    deployment **p = &D.head;
    while (*p && strcmp((*p)->name, name)) p = &(*p)->next;
    return p;
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
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A random bucket 0..99 from a per-thread xorshift64* state. */
static int random_bucket(void)
{
    static _Thread_local uint64_t x;
    while (!x) cairn_random_bytes(&x, sizeof(x));
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (int)((x * 2685821657736338717ULL) >> 33) % 100;
}

int cairn_serve__deploy_pick(cairn_serve *s, cairn_http_req *req, const char *name,
                             const char **model, const char **spec)
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
        while (pick > 0 && d->t[pick].weight == 0) pick--; /* never a 0-weight target */
        *model = cairn_http_req_strdup(req, d->t[pick].model);
        *spec = cairn_http_req_strdup(req, d->t[pick].ref);
        found = 1;
    }
    pthread_rwlock_unlock(&D.lock);
    if (found) cairn_http_set_header(req, "X-Cairn-Deployment", name);
    return found;
}

/* ================= loading ================= */

static int load_dep_row(const cairn_value *c, int n, void *payload)
{
    deployment **list = payload;
    if (n < 3 || c[0].type != CAIRN_V_TEXT) return 0;
    deployment *d = cairn_calloc(1, sizeof(*d));
    d->name = cairn_strndup(c[0].u.s.ptr, c[0].u.s.len);
    d->created = c[1].type == CAIRN_V_INT ? c[1].u.i : 0;
    d->updated = c[2].type == CAIRN_V_INT ? c[2].u.i : 0;
    d->next = *list;
    *list = d;
    return 0;
}

static int load_target_row(const cairn_value *c, int n, void *payload)
{
    deployment *list = payload;
    if (n < 4 || c[0].type != CAIRN_V_TEXT || c[1].type != CAIRN_V_TEXT ||
        c[2].type != CAIRN_V_TEXT || c[3].type != CAIRN_V_INT)
        return 0;
    for (deployment *d = list; d; d = d->next) {
        if (strlen(d->name) != c[0].u.s.len || memcmp(d->name, c[0].u.s.ptr, c[0].u.s.len) ||
            d->n >= MAX_TARGETS)
            continue;
        d->t[d->n].model = cairn_strndup(c[1].u.s.ptr, c[1].u.s.len);
        d->t[d->n].ref = cairn_strndup(c[2].u.s.ptr, c[2].u.s.len);
        d->t[d->n].weight = (int)c[3].u.i;
        d->n++;
        break;
    }
    return 0;
}

/* Reads every deployment from the store into a fresh list (*out). */
static int load_all(cairn_store *store, deployment **out)
{
    deployment *list = NULL;
    int rc = cairn_store_query(store, "SELECT name, created, updated FROM deployments", NULL, 0,
                               load_dep_row, &list);
    if (rc >= 0)
        rc = cairn_store_query(store,
                               "SELECT deployment, model, ref, weight FROM deployment_targets "
                               "ORDER BY deployment, position",
                               NULL, 0, load_target_row, list);
    if (rc < 0) {
        while (list) {
            deployment *next = list->next;
            dep_free(list);
            list = next;
        }
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

/* The deployment as the API shows it; caller holds the lock. */
static json_t *dep_json(const deployment *d)
{
    json_t *targets = json_array();
    for (int i = 0; i < d->n; i++) {
        const dtarget *t = &d->t[i];
        json_array_append_new(targets,
                              json_pack("{s:s,s:s,s:i}", "model", t->model,
                                        is_digits(t->ref) ? "version" : "alias", t->ref,
                                        "weight", t->weight));
    }
    return json_pack("{s:s,s:I,s:I,s:o}", "name", d->name, "creation_timestamp",
                     (json_int_t)d->created, "last_updated_timestamp", (json_int_t)d->updated,
                     "targets", targets);
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

/* Decodes body.targets into t (strings borrowed from the body) and checks
 * them: 1..16 targets, each {model, version|alias, weight}, model
 * registered, weights >= 0 summing to 100. Targets without a weight share
 * what the given weights leave of 100 evenly (the remainder to the first
 * of them), so one target alone needs no weight. Returns the count or a
 * negative code (message set). */
static int parse_targets(api_call *call, cairn_store *store, dtarget *t)
{
    json_t *arr = NULL, *o;
    int rc = cairn_api__array(call, "targets", &arr);
    if (rc) return rc;
    if (!arr || json_array_size(arr) == 0)
        return invalid("a deployment needs at least one target%s", "");
    if (json_array_size(arr) > MAX_TARGETS)
        return invalid("a deployment has at most 16 targets%s", "");
    int n = 0, given = 0, unweighted = 0;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        json_t *m = json_object_get(o, "model"), *v = json_object_get(o, "version"),
               *a = json_object_get(o, "alias"), *w = json_object_get(o, "weight");
        if (!json_is_string(m) || !*json_string_value(m))
            return invalid("each target needs a string 'model'%s", "");
        if (!!v == !!a) return invalid("target '%.200s' needs exactly one of 'version', 'alias'",
                                       json_string_value(m));
        char *ref;
        if (v && json_is_integer(v) && json_integer_value(v) > 0) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            ref = cairn_http_req_strdup(call->req, num);
        } else if (v && json_is_string(v) && is_digits(json_string_value(v))) {
            ref = cairn_http_req_strdup(call->req, json_string_value(v));
        } else if (a && json_is_string(a) && *json_string_value(a) &&
                   !is_digits(json_string_value(a))) {
            ref = cairn_http_req_strdup(call->req, json_string_value(a));
        } else {
            return invalid("target '%.200s': 'version' must be a positive number and 'alias' a "
                           "non-numeric name",
                           json_string_value(m));
        }
        int weight = -1;
        if (w && !json_is_null(w)) {
            if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 100)
                return invalid("target '%.200s': 'weight' must be an integer 0..100",
                               json_string_value(m));
            weight = (int)json_integer_value(w);
            given += weight;
        } else {
            unweighted++;
        }
        int found = 0;
        cairn_value p[1] = {CAIRN_VTEXT(json_string_value(m))};
        rc = cairn_store_query(store, "SELECT 1 FROM registered_models WHERE name = ?", p, 1,
                               exists_row, &found);
        if (rc < 0) return rc;
        if (!found)
            return invalid("registered model '%.200s' does not exist", json_string_value(m));
        t[n].model = (char *)json_string_value(m);
        t[n].ref = ref;
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

/* ================= writes ================= */

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct dwrite {
    int op;
    const char *name;
    int64_t now;
    int n;
    dtarget *t;
} dwrite;

/* The write unit: one deployment row plus its targets, replaced whole. */
static int write_unit(cairn_store_tx *tx, void *payload)
{
    dwrite *w = payload;
    int rc;
    if (w->op == OP_CREATE) {
        cairn_value p[3] = {CAIRN_VTEXT(w->name), CAIRN_VINT(w->now), CAIRN_VINT(w->now)};
        rc = cairn_tx_exec(tx, "INSERT INTO deployments (name, created, updated) VALUES (?, ?, ?)",
                           p, 3, NULL, NULL);
        if (rc) return rc;
    } else if (w->op == OP_UPDATE) {
        cairn_value p[2] = {CAIRN_VINT(w->now), CAIRN_VTEXT(w->name)};
        rc = cairn_tx_exec(tx, "UPDATE deployments SET updated = ? WHERE name = ?", p, 2, NULL,
                           NULL);
        if (rc) return rc;
        if (cairn_tx_changes(tx) == 0) return CAIRN_ENOTFOUND;
    }
    cairn_value d[1] = {CAIRN_VTEXT(w->name)};
    rc = cairn_tx_exec(tx, "DELETE FROM deployment_targets WHERE deployment = ?", d, 1, NULL, NULL);
    if (rc) return rc;
    if (w->op == OP_DELETE) {
        rc = cairn_tx_exec(tx, "DELETE FROM deployments WHERE name = ?", d, 1, NULL, NULL);
        if (rc) return rc;
        return cairn_tx_changes(tx) == 0 ? CAIRN_ENOTFOUND : 0;
    }
    for (int i = 0; i < w->n && !rc; i++) {
        cairn_value p[5] = {CAIRN_VTEXT(w->name), CAIRN_VINT(i), CAIRN_VTEXT(w->t[i].model),
                            CAIRN_VTEXT(w->t[i].ref), CAIRN_VINT(w->t[i].weight)};
        rc = cairn_tx_exec(tx,
                           "INSERT INTO deployment_targets (deployment, position, model, ref, "
                           "weight) VALUES (?, ?, ?, ?, ?)",
                           p, 5, NULL, NULL);
    }
    return rc;
}

/* Commits w and mirrors it into the table. Returns 0 or a code with the
 * message set on this thread. */
static int apply(dwrite *w)
{
    pthread_mutex_lock(&D.admin);
    int64_t created = w->now;
    if (w->op == OP_UPDATE) {
        pthread_rwlock_rdlock(&D.lock);
        deployment *old = *find_slot(w->name);
        if (old) created = old->created;
        pthread_rwlock_unlock(&D.lock);
    }
    int rc = cairn_store_write(D.store, write_unit, w);
    if (rc == 0) {
        deployment *d = NULL;
        if (w->op != OP_DELETE) {
            d = cairn_calloc(1, sizeof(*d));
            d->name = cairn_strdup(w->name);
            d->created = created;
            d->updated = w->now;
            d->n = w->n;
            for (int i = 0; i < w->n; i++) {
                d->t[i].model = cairn_strdup(w->t[i].model);
                d->t[i].ref = cairn_strdup(w->t[i].ref);
                d->t[i].weight = w->t[i].weight;
            }
        }
        table_put(w->name, d);
    }
    pthread_mutex_unlock(&D.admin);
    if (rc == CAIRN_EEXISTS)
        cairn_error_set(rc, SERVE_SUBSYS, "deployment '%.128s' already exists", w->name);
    else if (rc == CAIRN_ENOTFOUND)
        cairn_error_set(rc, SERVE_SUBSYS, "deployment '%.128s' does not exist", w->name);
    else if (rc)
        cairn_error_set(rc, SERVE_SUBSYS, "could not save deployment '%.128s'", w->name);
    return rc;
}

/* ================= handlers ================= */

static void ok_dep(cairn_http_req *req, const char *name)
{
    json_t *d = dep_json_named(name);
    cairn_api__ok(req, json_pack("{s:o}", "deployment", d ? d : json_object()));
}

/* POST create / update: {name, targets: [...]}. */
static int h_write(cairn_http_req *req, int op)
{
    BEGIN(call, req);
    const char *name = NULL;
    dtarget t[MAX_TARGETS];
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (!rc) rc = check_name(name);
    int n = rc ? rc : parse_targets(&call, D.store, t);
    if (n < 0) FAIL(call, n);
    dwrite w = {op, name, cairn_time_ms(), n, t};
    if ((rc = apply(&w))) FAIL(call, rc);
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
    dwrite w = {OP_DELETE, name, cairn_time_ms(), 0, NULL};
    if ((rc = apply(&w))) FAIL(call, rc);
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

int cairn_serve__mount_deploy(cairn_serve *s, cairn_http_server *srv)
{
    cairn_store *store = cairn_serve__store(s);
    deployment *list = NULL, *old;
    int rc = load_all(store, &list);
    if (rc) return rc;
    pthread_rwlock_wrlock(&D.lock);
    old = D.head;
    D.head = list;
    D.owner = s;
    D.store = store;
    pthread_rwlock_unlock(&D.lock);
    while (old) {
        deployment *next = old->next;
        dep_free(old);
        old = next;
    }
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
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(routes) && !rc; i++)
        rc = cairn_http_route(srv, routes[i].methods, routes[i].path, 0, 0, routes[i].h, NULL);
    return rc;
}
