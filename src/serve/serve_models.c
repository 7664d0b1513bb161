/*
 * serve_models.c - the model manager: resolves NAME + version spec to a
 * registered version through SQL on model_versions and
 * registered_model_aliases, finds the version's model.cairn in the
 * artifact index (artifacts: path -> sha256), reads it from the blob store
 * and keeps the loaded model in a cache keyed by (name, version).
 *
 * Key idea: a (name, version) pair names immutable content (version numbers
 * are never reused), so a cache entry never goes stale and aliases are
 * resolved per request (one indexed query) while the model stays loaded.
 * Entries are refcounted: the cache holds one reference and each acquire
 * another. The first acquirer inserts a LOADING entry and loads outside the
 * lock; later acquirers of the same pair wait on a condition variable, so a
 * burst of first requests loads the file once. A failed load is unlinked
 * from the cache at once, so the next request retries.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cairn/serve.h"
#include "serve_internal.h"

#define STAGE_DELETED "Deleted_Internal" /* registry tombstone rows */
#define SCHEME "mlflow-artifacts:"
#define MODEL_FILE "model.cairn"
#define MODEL_MAX ((uint64_t)2 << 30) /* largest model file loaded: 2 GiB */

enum { ST_LOADING, ST_READY, ST_FAILED };

struct cairn_serve_model {
    struct cairn_serve_model *next;
    cairn_serve *owner;
    char *name;
    int64_t version;
    int state;
    int refs; /* guarded by owner->mu */
    cairn_model *model;
    int err_code;
    char err_msg[256];
};

struct cairn_serve {
    cairn_store *store;
    cairn_blob *blob;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cairn_serve_model *models; /* the cache: a short list, one per loaded version */
    uint64_t loads;
};

int cairn_serve_new(cairn_serve **out, cairn_store *store, cairn_blob *blob)
{
    CAIRN_ASSERT(out && store && blob);
    cairn_serve *s = cairn_calloc(1, sizeof(*s));
    s->store = store;
    s->blob = blob;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *out = s;
    return 0;
}

static void entry_free(cairn_serve_model *e)
{
    cairn_model_free(e->model);
    cairn_free(e->name);
    cairn_free(e);
}

void cairn_serve_free(cairn_serve *s)
{
    if (!s) return;
    cairn_serve_model *e = s->models, *next;
    for (; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cairn_free(s);
}

/* ================= resolving versions ================= */

static int first_int(const cairn_value *cols, int ncols, void *payload)
{
    if (ncols < 1 || cols[0].type != CAIRN_V_INT) return 0;
    *(int64_t *)payload = cols[0].u.i;
    return 1;
}

/* Runs a query selecting one integer; *out stays -1 when no row came back. */
static int query_int(cairn_serve *s, const char *sql, const cairn_value *p, int np, int64_t *out)
{
    *out = -1;
    int rc = cairn_store_query(s->store, sql, p, np, first_int, out);
    return rc < 0 ? rc : 0;
}

static int latest_version(cairn_serve *s, const char *name, int64_t *out)
{
    cairn_value p[2] = {CAIRN_VTEXT(name), CAIRN_VTEXT(STAGE_DELETED)};
    return query_int(s,
                     "SELECT max(version) FROM model_versions WHERE name = ? AND "
                     "current_stage <> ?",
                     p, 2, out);
}

static int alias_version(cairn_serve *s, const char *name, const char *alias, int64_t *out)
{
    cairn_value p[2] = {CAIRN_VTEXT(name), CAIRN_VTEXT(alias)};
    return query_int(s, "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                     p, 2, out);
}

static int version_exists(cairn_serve *s, const char *name, int64_t v, int64_t *out)
{
    cairn_value p[3] = {CAIRN_VTEXT(name), CAIRN_VINT(v), CAIRN_VTEXT(STAGE_DELETED)};
    return query_int(s,
                     "SELECT version FROM model_versions WHERE name = ? AND version = ? AND "
                     "current_stage <> ?",
                     p, 3, out);
}

static int is_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

int cairn_serve_resolve(cairn_serve *s, const char *name, const char *spec, int64_t *version_out)
{
    CAIRN_ASSERT(s && name && version_out);
    int64_t v = -1;
    int rc;
    if (!spec || !*spec) {
        rc = alias_version(s, name, CAIRN_SERVE_DEFAULT_ALIAS, &v);
        if (!rc && v < 0) rc = latest_version(s, name, &v);
        if (!rc && v < 0)
            return cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "model '%.200s' not found", name);
    } else if (is_digits(spec)) {
        int64_t want;
        if (cairn_parse_i64(spec, &want))
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "bad model version '%.40s'", spec);
        rc = version_exists(s, name, want, &v);
        if (!rc && v < 0)
            return cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS,
                                   "model '%.200s' has no version %lld", name, (long long)want);
    } else if (strcmp(spec, "latest") == 0) {
        rc = latest_version(s, name, &v);
        if (!rc && v < 0)
            return cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "model '%.200s' not found", name);
    } else {
        rc = alias_version(s, name, spec, &v);
        if (!rc && v >= 0) rc = version_exists(s, name, v, &v);
        if (!rc && v < 0)
            return cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS,
                                   "model '%.200s' has no version or alias '%.100s'", name, spec);
    }
    if (rc) return rc;
    *version_out = v;
    return 0;
}

/* ================= loading ================= */

static int first_text(const cairn_value *cols, int ncols, void *payload)
{
    if (ncols < 1 || cols[0].type != CAIRN_V_TEXT) return 0;
    cairn_buf *b = payload;
    cairn_buf_put(b, cols[0].u.s.ptr, cols[0].u.s.len);
    cairn_buf_putc(b, '\0');
    return 1;
}

typedef struct blob_ref {
    char sha[65];
    int64_t size;
    int found;
} blob_ref;

static int blob_row(const cairn_value *cols, int ncols, void *payload)
{
    blob_ref *r = payload;
    if (ncols < 2 || cols[0].type != CAIRN_V_TEXT || cols[0].u.s.len != 64) return 0;
    memcpy(r->sha, cols[0].u.s.ptr, 64);
    r->sha[64] = '\0';
    r->size = cols[1].type == CAIRN_V_INT ? cols[1].u.i : 0;
    r->found = 1;
    return 1;
}

/* Writes the artifact-index path of the model file under `source` into
 * path: mlflow-artifacts:[//authority]/X -> "X/model.cairn"; runs:/RUN/SUB
 * goes through the run's artifact_uri first. CAIRN_EUNSUPPORTED for
 * sources outside this server's artifact store. */
static int model_path(cairn_serve *s, const char *source, cairn_buf *path)
{
    cairn_buf uri = CAIRN_BUF_INIT(0);
    int rc = 0;
    if (strncmp(source, "runs:/", 6) == 0) {
        const char *run = source + 6, *slash = strchr(run, '/');
        size_t rn = slash ? (size_t)(slash - run) : strlen(run);
        cairn_value p = CAIRN_VTEXTN(run, rn);
        rc = cairn_store_query(s->store, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", &p, 1,
                               first_text, &uri);
        if (rc < 0) goto done;
        if (!uri.len) {
            rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "run of source '%.300s' not found",
                                 source);
            goto done;
        }
        uri.len--; /* drop the NUL first_text added */
        if (slash && slash[1]) {
            cairn_buf_putc(&uri, '/');
            cairn_buf_puts(&uri, slash + 1);
        }
        source = cairn_buf_cstr(&uri);
    }
    if (strncmp(source, SCHEME, strlen(SCHEME)) != 0) {
        rc =
            cairn_error_set(CAIRN_EUNSUPPORTED, SERVE_SUBSYS,
                            "model source '%.300s' is not in this server's artifact store", source);
        goto done;
    }
    const char *p = source + strlen(SCHEME);
    if (p[0] == '/' && p[1] == '/') { /* skip an authority */
        p = strchr(p + 2, '/');
        if (!p) p = "";
    }
    while (*p == '/')
        p++;
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    cairn_buf_put(path, p, n);
    if (n) cairn_buf_putc(path, '/');
    cairn_buf_puts(path, MODEL_FILE);
    rc = 0;
done:
    cairn_buf_free(&uri);
    return rc;
}

/* Reads and parses the model file of (name, version); *out is the caller's. */
static int load_model(cairn_serve *s, const char *name, int64_t version, cairn_model **out)
{
    cairn_buf src = CAIRN_BUF_INIT(0), path = CAIRN_BUF_INIT(0), data = CAIRN_BUF_INIT(0);
    blob_ref ref = {{0}, 0, 0};
    cairn_value p[2] = {CAIRN_VTEXT(name), CAIRN_VINT(version)};
    int rc = cairn_store_query(s->store,
                               "SELECT source FROM model_versions WHERE name = ? AND version = ?",
                               p, 2, first_text, &src);
    if (rc < 0) goto done;
    if (!src.len) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS, "model '%.200s' has no version %lld",
                             name, (long long)version);
        goto done;
    }
    if ((rc = model_path(s, cairn_buf_cstr(&src), &path))) goto done;
    cairn_value pp = CAIRN_VTEXT(cairn_buf_cstr(&path));
    rc = cairn_store_query(s->store, "SELECT sha256, size FROM artifacts WHERE path = ?", &pp, 1,
                           blob_row, &ref);
    if (rc < 0) goto done;
    if (!ref.found) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS,
                             "version %lld of model '%.200s' has no %s at '%.300s'",
                             (long long)version, name, MODEL_FILE, cairn_buf_cstr(&path));
        goto done;
    }
    if (ref.size < 0 || (uint64_t)ref.size > MODEL_MAX) {
        rc = cairn_error_set(CAIRN_ETOOBIG, SERVE_SUBSYS, "model file of '%.200s' is too large",
                             name);
        goto done;
    }
    data.max = (size_t)ref.size + 1;
    if ((rc = cairn_blob_get(s->blob, ref.sha, &data))) goto done;
    rc = cairn_model_from_bytes(out, data.ptr, data.len);
done:
    cairn_buf_free(&src);
    cairn_buf_free(&path);
    cairn_buf_free(&data);
    return rc;
}

/* ================= the cache ================= */

static cairn_serve_model *find_entry(cairn_serve *s, const char *name, int64_t version)
{
    for (cairn_serve_model *e = s->models; e; e = e->next)
        if (e->version == version && strcmp(e->name, name) == 0) return e;
    return NULL;
}

static void unlink_entry(cairn_serve *s, cairn_serve_model *e)
{
    for (cairn_serve_model **pp = &s->models; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            return;
        }
    }
}

/* Drops one reference; frees at zero. Caller holds s->mu. */
static void unref_locked(cairn_serve_model *e)
{
    if (--e->refs == 0) entry_free(e);
}

int cairn_serve_acquire(cairn_serve *s, const char *name, const char *spec, cairn_serve_model **out)
{
    CAIRN_ASSERT(s && name && out);
    *out = NULL;
    int64_t version;
    int rc = cairn_serve_resolve(s, name, spec, &version);
    if (rc) return rc;

    pthread_mutex_lock(&s->mu);
    cairn_serve_model *e = find_entry(s, name, version);
    if (e) {
        e->refs++;
        while (e->state == ST_LOADING)
            pthread_cond_wait(&s->cv, &s->mu);
        if (e->state == ST_FAILED) {
            rc = cairn_error_set(e->err_code, SERVE_SUBSYS, "%s", e->err_msg);
            unref_locked(e);
        } else {
            *out = e;
        }
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    e = cairn_calloc(1, sizeof(*e));
    e->owner = s;
    e->name = cairn_strdup(name);
    e->version = version;
    e->state = ST_LOADING;
    e->refs = 2; /* the cache's and ours */
    e->next = s->models;
    s->models = e;
    s->loads++;
    pthread_mutex_unlock(&s->mu);

    cairn_model *m = NULL;
    rc = load_model(s, name, version, &m);

    pthread_mutex_lock(&s->mu);
    if (rc) {
        const cairn_error *err = cairn_error_last();
        e->err_code = err->code < 0 ? err->code : CAIRN_ERROR;
        snprintf(e->err_msg, sizeof(e->err_msg), "%s", err->msg);
        e->state = ST_FAILED;
        unlink_entry(s, e);
        e->refs--; /* the cache's */
        unref_locked(e);
    } else {
        e->model = m;
        e->state = ST_READY;
        *out = e;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "cannot load model|name=%s version=%lld error=%s",
                  name, (long long)version, cairn_error_last()->msg);
    return rc;
}

void cairn_serve_release(cairn_serve_model *m)
{
    if (!m) return;
    cairn_serve *s = m->owner;
    pthread_mutex_lock(&s->mu);
    unref_locked(m);
    pthread_mutex_unlock(&s->mu);
}

const cairn_model *cairn_serve_model_get(const cairn_serve_model *m)
{
    return m->model;
}

const char *cairn_serve_model_name(const cairn_serve_model *m)
{
    return m->name;
}

int64_t cairn_serve_model_version(const cairn_serve_model *m)
{
    return m->version;
}

int cairn_serve_loaded_count(cairn_serve *s)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (cairn_serve_model *e = s->models; e; e = e->next)
        n += e->state == ST_READY;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t cairn_serve_load_count(cairn_serve *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->loads;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Version numbers of name (not deleted), ascending, as cb(version, payload). */
int cairn_serve__versions(cairn_serve *s, const char *name, cairn_row_cb cb, void *payload)
{
    cairn_value p[2] = {CAIRN_VTEXT(name), CAIRN_VTEXT(STAGE_DELETED)};
    int rc = cairn_store_query(s->store,
                               "SELECT version FROM model_versions WHERE name = ? AND "
                               "current_stage <> ? ORDER BY version",
                               p, 2, cb, payload);
    return rc < 0 ? rc : 0;
}

/* The metadata store the manager reads (deployments, serve_deploy.c). */
cairn_store *cairn_serve__store(cairn_serve *s)
{
    return s->store;
}
