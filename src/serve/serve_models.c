/*
 * serve_models.c - the model manager: resolves NAME + version spec to a
 * registered version, finds the version's model.cairn in the artifact
 * index (artifacts: path -> sha256), reads it from the blob store and keeps
 * the loaded model in a cache keyed by (name, version), under a memory
 * budget, swapping versions without stopping requests.
 *
 * Key ideas:
 * - A (name, version) pair names immutable content (version numbers are
 *   never reused), so a loaded entry never goes stale; only the mapping
 *   (name, spec) -> version moves. That mapping is cached in a hash table
 *   behind a read-write lock (the "resolutions"), each pointing at a loaded,
 *   ready entry. The hot path is: read-lock, hash lookup, one atomic
 *   reference increment, unlock; no SQL, no mutex.
 * - Entries are refcounted with atomics: the cache holds one reference and
 *   each acquire another. An entry leaves the cache (eviction, a version
 *   gone from the registry) only with s->mu and the write lock held, and
 *   its resolutions go with it, so no reader can find it afterwards; it is
 *   freed when its last reference is released.
 * - The first acquirer of a version inserts a LOADING entry and loads
 *   outside the lock; later acquirers wait on a condition variable, so a
 *   burst of first requests loads the file once. A failed load leaves the
 *   cache at once, so the next request retries.
 * - Recency for LRU is a per-entry tick from one shared clock, written only
 *   when another entry was used (or loaded) since, so a single hot model
 *   costs no shared write at all. Eviction runs after a load, under s->mu,
 *   and takes only entries whose one reference is the cache's.
 * - Hot swap: registry changes arrive through cairn_serve_invalidate. Each
 *   cached spec of the model is resolved again through SQL; one whose new
 *   target is loaded switches at once; one whose target must load keeps
 *   its old version, and the background thread loads the new one beside it
 *   and switches then. Every SQL read that feeds a resolution carries a
 *   sequence number taken just before it; a resolution is only replaced by
 *   a read with a higher number, so a slow load finishing late cannot undo
 *   a newer change. The same thread re-checks every cached spec each
 *   refresh interval, which is how a change made by another process
 *   sharing the store is seen.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn/serve.h"
#include "serve_internal.h"

#define STAGE_DELETED "Deleted_Internal" /* registry tombstone rows */
#define SCHEME "mlflow-artifacts:"
#define MODEL_FILE "model.cairn"
#define MODEL_MAX ((uint64_t)2 << 30) /* largest model file loaded: 2 GiB */
#define REFRESH_MS 2000               /* default re-check interval of cached resolutions */

enum { ST_LOADING, ST_READY, ST_FAILED };

struct cairn_serve_model {
    struct cairn_serve_model *next; /* s->models; guarded by s->mu */
    cairn_serve *owner;
    char *name;
    int64_t version;
    int state;                 /* guarded by s->mu */
    int linked;                /* in s->models, holding the cache's reference; s->mu */
    atomic_int refs;           /* the cache's (while linked) + one per acquire */
    atomic_uint_fast64_t tick; /* s->clock at last use (LRU) */
    size_t bytes;              /* set once READY */
    cairn_model *model;
    int err_code;
    char err_msg[256];
};

/* One cached resolution (name, spec) -> a linked READY entry (borrowed: the
 * cache's reference keeps it alive, and unlinking removes the resolution). */
struct res {
    struct res *next; /* hash chain */
    uint64_t hash;
    char *name;
    char *spec; /* "" for the default rule */
    cairn_serve_model *entry;
    uint64_t seq; /* sequence number of the SQL read it came from */
};

struct cairn_serve {
    cairn_store *store;
    cairn_blob *blob;
    pthread_mutex_t mu; /* the entry list, entry state, loads, budget */
    pthread_cond_t cv;  /* a LOADING entry finished */
    cairn_serve_model *models;
    uint64_t loads;
    size_t budget; /* 0: unlimited */
    atomic_size_t mem;
    atomic_uint_fast64_t clock;
    atomic_uint_fast64_t seq;

    pthread_rwlock_t rl; /* the resolution table; taken after mu when both are held */
    struct res **tab;
    size_t ntab, nres;

    pthread_mutex_t bg_mu; /* the background thread's queue and settings */
    pthread_cond_t bg_cv;
    pthread_t bg;
    int bg_started, stopping, refresh_ms;
    char **pending; /* model names whose specs wait for a load to switch */
    size_t npending, cap_pending;

    cairn_predlog *predlog; /* where predictions are appended, or NULL (serve_runtime.c) */
};

static void *bg_main(void *arg);

int cairn_serve_new(cairn_serve **out, cairn_store *store, cairn_blob *blob)
{
    CAIRN_ASSERT(out && store && blob);
    *out = NULL;
    cairn_serve *s = cairn_calloc(1, sizeof(*s));
    s->store = store;
    s->blob = blob;
    s->refresh_ms = REFRESH_MS;
    s->ntab = 64;
    s->tab = cairn_calloc(s->ntab, sizeof(*s->tab));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_rwlock_init(&s->rl, NULL);
    pthread_mutex_init(&s->bg_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->bg_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&s->bg, NULL, bg_main, s);
    if (rc) {
        cairn_serve_free(s);
        return cairn_error_set(CAIRN_ERROR, SERVE_SUBSYS, "cannot start the model thread: %s",
                               strerror(rc));
    }
    s->bg_started = 1;
    *out = s;
    return 0;
}

/* Frees an entry whose last reference is gone. */
static void entry_destroy(cairn_serve_model *e)
{
    if (e->bytes) atomic_fetch_sub(&e->owner->mem, e->bytes);
    cairn_model_free(e->model);
    cairn_free(e->name);
    cairn_free(e);
}

/* Drops one reference; the last one frees. Needs no lock. */
static void entry_unref(cairn_serve_model *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) entry_destroy(e);
}

void cairn_serve_free(cairn_serve *s)
{
    if (!s) return;
    if (s->bg_started) {
        pthread_mutex_lock(&s->bg_mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->bg_cv);
        pthread_mutex_unlock(&s->bg_mu);
        pthread_join(s->bg, NULL);
    }
    for (size_t i = 0; i < s->npending; i++)
        cairn_free(s->pending[i]);
    cairn_free(s->pending);
    for (size_t i = 0; i < s->ntab; i++) {
        struct res *r = s->tab[i], *next;
        for (; r; r = next) {
            next = r->next;
            cairn_free(r->name);
            cairn_free(r->spec);
            cairn_free(r);
        }
    }
    cairn_free(s->tab);
    cairn_serve_model *e = s->models, *next;
    for (; e; e = next) { /* every request has released (see the header) */
        next = e->next;
        entry_destroy(e);
    }
    pthread_cond_destroy(&s->bg_cv);
    pthread_mutex_destroy(&s->bg_mu);
    pthread_rwlock_destroy(&s->rl);
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

/* Resolves name + spec through the store (see the header for the rule). */
static int resolve_sql(cairn_serve *s, const char *name, const char *spec, int64_t *version_out)
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

/* Writes the artifact-index path of `file` under `source` into
 * path: mlflow-artifacts:[//authority]/X -> "X/model.cairn"; runs:/RUN/SUB
 * goes through the run's artifact_uri first. CAIRN_EUNSUPPORTED for
 * sources outside this server's artifact store. */
static int file_path(cairn_serve *s, const char *source, const char *file, cairn_buf *path)
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
    cairn_buf_puts(path, file);
    rc = 0;
done:
    cairn_buf_free(&uri);
    return rc;
}

int cairn_serve__version_file(cairn_serve *s, const char *name, int64_t version, const char *file,
                              cairn_buf *out)
{
    cairn_buf src = CAIRN_BUF_INIT(0), path = CAIRN_BUF_INIT(0);
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
    if ((rc = file_path(s, cairn_buf_cstr(&src), file, &path))) goto done;
    cairn_value pp = CAIRN_VTEXT(cairn_buf_cstr(&path));
    rc = cairn_store_query(s->store, "SELECT sha256, size FROM artifacts WHERE path = ?", &pp, 1,
                           blob_row, &ref);
    if (rc < 0) goto done;
    if (!ref.found) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, SERVE_SUBSYS,
                             "version %lld of model '%.200s' has no %s at '%.300s'",
                             (long long)version, name, file, cairn_buf_cstr(&path));
        goto done;
    }
    if (ref.size < 0 || (uint64_t)ref.size > MODEL_MAX) {
        rc = cairn_error_set(CAIRN_ETOOBIG, SERVE_SUBSYS, "%s of '%.200s' is too large", file,
                             name);
        goto done;
    }
    out->max = (size_t)ref.size + 1;
    rc = cairn_blob_get(s->blob, ref.sha, out);
done:
    cairn_buf_free(&src);
    cairn_buf_free(&path);
    return rc;
}

/* Reads and parses the model file of (name, version); *out is the caller's. */
static int load_model(cairn_serve *s, const char *name, int64_t version, cairn_model **out)
{
    cairn_buf data = CAIRN_BUF_INIT(0);
    int rc = cairn_serve__version_file(s, name, version, MODEL_FILE, &data);
    if (!rc) rc = cairn_model_from_bytes(out, data.ptr, data.len);
    cairn_buf_free(&data);
    return rc;
}


/* ================= the resolution table ================= */

/* FNV-1a over name, a NUL, spec. */
static uint64_t res_hash(const char *name, const char *spec)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h *= 1099511628211ull;
    for (const char *p = spec; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* Caller holds rl (read or write). */
static struct res *res_find(cairn_serve *s, uint64_t h, const char *name, const char *spec)
{
    for (struct res *r = s->tab[h & (s->ntab - 1)]; r; r = r->next)
        if (r->hash == h && strcmp(r->name, name) == 0 && strcmp(r->spec, spec) == 0) return r;
    return NULL;
}

/* Doubles the table when it is more than full. Caller holds rl for writing. */
static void res_grow(cairn_serve *s)
{
    if (s->nres < s->ntab) return;
    size_t n = s->ntab * 2;
    struct res **tab = cairn_calloc(n, sizeof(*tab));
    for (size_t i = 0; i < s->ntab; i++) {
        struct res *r = s->tab[i], *next;
        for (; r; r = next) {
            next = r->next;
            r->next = tab[r->hash & (n - 1)];
            tab[r->hash & (n - 1)] = r;
        }
    }
    cairn_free(s->tab);
    s->tab = tab;
    s->ntab = n;
}

static void res_unlink(cairn_serve *s, struct res *r)
{
    for (struct res **pp = &s->tab[r->hash & (s->ntab - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            s->nres--;
            cairn_free(r->name);
            cairn_free(r->spec);
            cairn_free(r);
            return;
        }
    }
}

/* Points (name, spec) at e, read from the store with sequence number seq,
 * unless a newer read got there first or e has left the cache meanwhile. */
static void res_put(cairn_serve *s, const char *name, const char *spec, cairn_serve_model *e,
                    uint64_t seq)
{
    uint64_t h = res_hash(name, spec);
    pthread_mutex_lock(&s->mu);
    if (e->linked && e->state == ST_READY) {
        pthread_rwlock_wrlock(&s->rl);
        struct res *r = res_find(s, h, name, spec);
        if (!r) {
            res_grow(s);
            r = cairn_calloc(1, sizeof(*r));
            r->hash = h;
            r->name = cairn_strdup(name);
            r->spec = cairn_strdup(spec);
            r->next = s->tab[h & (s->ntab - 1)];
            s->tab[h & (s->ntab - 1)] = r;
            s->nres++;
        }
        if (!r->entry || seq > r->seq) {
            if (r->entry && r->entry != e)
                cairn_log(CAIRN_LOG_INFO, SERVE_SUBSYS,
                          "model swapped|name=%s spec=%s from=%lld to=%lld", name,
                          *spec ? spec : "(default)", (long long)r->entry->version,
                          (long long)e->version);
            r->entry = e;
            r->seq = seq;
        }
        pthread_rwlock_unlock(&s->rl);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Forgets (name, spec) unless a read newer than seq set it. */
static void res_drop(cairn_serve *s, const char *name, const char *spec, uint64_t seq)
{
    uint64_t h = res_hash(name, spec);
    pthread_rwlock_wrlock(&s->rl);
    struct res *r = res_find(s, h, name, spec);
    if (r && r->seq < seq) res_unlink(s, r);
    pthread_rwlock_unlock(&s->rl);
}

/* ================= the entry cache ================= */

/* Marks e used now; writes shared memory only if something else was used since. */
static void touch(cairn_serve *s, cairn_serve_model *e)
{
    uint64_t now = atomic_load_explicit(&s->clock, memory_order_relaxed);
    if (atomic_load_explicit(&e->tick, memory_order_relaxed) != now)
        atomic_store_explicit(&e->tick,
                              atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

static cairn_serve_model *find_entry(cairn_serve *s, const char *name, int64_t version)
{
    for (cairn_serve_model *e = s->models; e; e = e->next)
        if (e->version == version && strcmp(e->name, name) == 0) return e;
    return NULL;
}

/* Takes e out of the cache with its resolutions; the caller then drops the
 * cache's reference (entry_unref) once its locks are released. Caller holds
 * mu and rl for writing. */
static void unlink_locked(cairn_serve *s, cairn_serve_model *e)
{
    for (size_t i = 0; i < s->ntab; i++) {
        struct res *r = s->tab[i], *next;
        for (; r; r = next) {
            next = r->next;
            if (r->entry == e) res_unlink(s, r);
        }
    }
    for (cairn_serve_model **pp = &s->models; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    e->next = NULL;
    e->linked = 0;
}

/* While the loaded total exceeds the budget, takes the least recently used
 * ready entry that no request holds out of the cache, onto *victims (the
 * caller unrefs them after unlocking). Caller holds mu. */
static void evict_locked(cairn_serve *s, cairn_serve_model **victims)
{
    size_t used = atomic_load(&s->mem);
    if (!s->budget || used <= s->budget) return;
    pthread_rwlock_wrlock(&s->rl); /* no reader can take a reference while we look */
    while (used > s->budget) {
        cairn_serve_model *best = NULL;
        uint64_t best_tick = 0;
        for (cairn_serve_model *e = s->models; e; e = e->next) {
            if (e->state != ST_READY || atomic_load(&e->refs) != 1) continue;
            uint64_t t = atomic_load_explicit(&e->tick, memory_order_relaxed);
            if (!best || t < best_tick) {
                best = e;
                best_tick = t;
            }
        }
        if (!best) break; /* everything left is in use or loading */
        unlink_locked(s, best);
        best->next = *victims;
        *victims = best;
        used -= best->bytes < used ? best->bytes : used;
    }
    pthread_rwlock_unlock(&s->rl);
}

static void unref_all(cairn_serve_model *list, const char *why)
{
    while (list) {
        cairn_serve_model *next = list->next;
        cairn_log(CAIRN_LOG_INFO, SERVE_SUBSYS,
                  "model unloaded|name=%s version=%lld bytes=%zu reason=%s", list->name,
                  (long long)list->version, list->bytes, why);
        entry_unref(list);
        list = next;
    }
}

/* The entry of (name, version) with one reference for the caller, loading it
 * if nobody has (concurrent callers wait for that one load). On failure the
 * load's error, and nothing is cached. */
static int entry_get(cairn_serve *s, const char *name, int64_t version, cairn_serve_model **out)
{
    int rc = 0;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    cairn_serve_model *e = find_entry(s, name, version);
    if (e) {
        atomic_fetch_add(&e->refs, 1);
        while (e->state == ST_LOADING)
            pthread_cond_wait(&s->cv, &s->mu);
        if (e->state == ST_FAILED) {
            rc = cairn_error_set(e->err_code, SERVE_SUBSYS, "%s", e->err_msg);
            entry_unref(e);
        } else {
            touch(s, e);
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
    e->linked = 1;
    atomic_init(&e->refs, 2); /* the cache's and ours */
    e->next = s->models;
    s->models = e;
    s->loads++;
    pthread_mutex_unlock(&s->mu);

    cairn_model *m = NULL;
    rc = load_model(s, name, version, &m);
    size_t bytes = rc ? 0 : cairn_model_memory_bytes(m) + sizeof(*e) + strlen(name) + 1;

    cairn_serve_model *victims = NULL;
    pthread_mutex_lock(&s->mu);
    if (rc) {
        const cairn_error *err = cairn_error_last();
        e->err_code = err->code < 0 ? err->code : CAIRN_ERROR;
        snprintf(e->err_msg, sizeof(e->err_msg), "%s", err->msg);
        e->state = ST_FAILED;
        pthread_rwlock_wrlock(&s->rl);
        unlink_locked(s, e); /* no resolution points here: it was never READY */
        pthread_rwlock_unlock(&s->rl);
        atomic_fetch_sub(&e->refs, 1); /* the cache's; waiters and we still hold */
        entry_unref(e);
    } else {
        e->model = m;
        e->bytes = bytes;
        atomic_fetch_add(&s->mem, bytes);
        e->state = ST_READY;
        atomic_store(&e->tick, atomic_fetch_add(&s->clock, 1) + 1); /* newest */
        *out = e;
        evict_locked(s, &victims); /* e is ours, so never a victim */
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    unref_all(victims, "memory budget");
    if (rc)
        cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "cannot load model|name=%s version=%lld error=%s",
                  name, (long long)version, cairn_error_last()->msg);
    return rc;
}

/* The READY entry of (name, version) with a reference, or NULL; never loads. */
static cairn_serve_model *entry_ready(cairn_serve *s, const char *name, int64_t version)
{
    pthread_mutex_lock(&s->mu);
    cairn_serve_model *e = find_entry(s, name, version);
    if (e && e->state == ST_READY)
        atomic_fetch_add(&e->refs, 1);
    else
        e = NULL;
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* ================= acquire / release ================= */

/* The cached resolution's entry with a reference, or NULL. The hot path. */
static cairn_serve_model *cached(cairn_serve *s, const char *name, const char *spec)
{
    uint64_t h = res_hash(name, spec);
    cairn_serve_model *e = NULL;
    pthread_rwlock_rdlock(&s->rl);
    struct res *r = res_find(s, h, name, spec);
    if (r) {
        e = r->entry;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&s->rl);
    return e;
}

int cairn_serve_resolve(cairn_serve *s, const char *name, const char *spec, int64_t *version_out)
{
    CAIRN_ASSERT(s && name && version_out);
    cairn_serve_model *e = cached(s, name, spec ? spec : "");
    if (!e) return resolve_sql(s, name, spec, version_out);
    *version_out = e->version;
    entry_unref(e);
    return 0;
}

int cairn_serve_acquire(cairn_serve *s, const char *name, const char *spec, cairn_serve_model **out)
{
    CAIRN_ASSERT(s && name && out);
    if (!spec) spec = "";
    cairn_serve_model *e = cached(s, name, spec);
    if (e) {
        touch(s, e);
        *out = e;
        return 0;
    }
    *out = NULL;
    uint64_t seq = atomic_fetch_add(&s->seq, 1) + 1;
    int64_t version;
    int rc = resolve_sql(s, name, spec, &version);
    if (!rc) rc = entry_get(s, name, version, &e);
    if (rc) return rc;
    res_put(s, name, spec, e, seq);
    *out = e;
    return 0;
}

void cairn_serve_release(cairn_serve_model *m)
{
    if (m) entry_unref(m);
}

int cairn_serve_preload(cairn_serve *s, const char *name, const char *spec)
{
    cairn_serve_model *m = NULL;
    int rc = cairn_serve_acquire(s, name, spec, &m);
    cairn_serve_release(m);
    return rc;
}

int cairn_serve_is_loaded(cairn_serve *s, const char *name, const char *spec)
{
    CAIRN_ASSERT(s && name);
    if (!spec) spec = "";
    cairn_serve_model *e = cached(s, name, spec);
    int64_t version;
    if (!e && resolve_sql(s, name, spec, &version) == 0) e = entry_ready(s, name, version);
    if (!e) return 0;
    entry_unref(e);
    return 1;
}

/* ================= hot swap ================= */

/* A snapshot of the cached specs of one model. */
typedef struct spec_list {
    char **spec;
    int64_t *version;
    size_t n;
} spec_list;

static void specs_of(cairn_serve *s, const char *name, spec_list *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&s->rl);
    size_t cap = 0;
    for (size_t i = 0; i < s->ntab; i++) {
        for (struct res *r = s->tab[i]; r; r = r->next) {
            if (strcmp(r->name, name) != 0) continue;
            if (out->n == cap) {
                cap = cap ? 2 * cap : 8;
                out->spec = cairn_realloc(out->spec, cap * sizeof(*out->spec));
                out->version = cairn_realloc(out->version, cap * sizeof(*out->version));
            }
            out->spec[out->n] = cairn_strdup(r->spec);
            out->version[out->n++] = r->entry->version;
        }
    }
    pthread_rwlock_unlock(&s->rl);
}

static void specs_free(spec_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cairn_free(l->spec[i]);
    cairn_free(l->spec);
    cairn_free(l->version);
}

/* 1 when version v of name exists and is not deleted; 0 when it does not;
 * negative on a store error. */
static int version_alive(cairn_serve *s, const char *name, int64_t v)
{
    int64_t got;
    int rc = version_exists(s, name, v, &got);
    return rc < 0 ? rc : got >= 0;
}

/* Takes out of the cache every loaded version of name that the registry no
 * longer has (deleted version, deleted or renamed model); one a request
 * holds is freed when released. */
static void drop_gone(cairn_serve *s, const char *name)
{
    int64_t *vs = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&s->mu);
    for (cairn_serve_model *e = s->models; e; e = e->next) {
        if (e->state != ST_READY || strcmp(e->name, name) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            vs = cairn_realloc(vs, cap * sizeof(*vs));
        }
        vs[n++] = e->version;
    }
    pthread_mutex_unlock(&s->mu);
    cairn_serve_model *gone = NULL;
    for (size_t i = 0; i < n; i++) {
        if (version_alive(s, name, vs[i]) != 0) continue; /* alive, or unknown: keep */
        pthread_mutex_lock(&s->mu);
        cairn_serve_model *e = find_entry(s, name, vs[i]);
        if (e && e->state == ST_READY) {
            pthread_rwlock_wrlock(&s->rl);
            unlink_locked(s, e);
            pthread_rwlock_unlock(&s->rl);
            e->next = gone;
            gone = e;
        }
        pthread_mutex_unlock(&s->mu);
    }
    cairn_free(vs);
    unref_all(gone, "version gone");
}

/* Re-resolves every cached spec of name through the store (see the file
 * comment). may_load 0: never loads; returns 1 when some spec waits for a
 * load (the caller queues name for the background thread). */
static int revalidate(cairn_serve *s, const char *name, int may_load)
{
    spec_list l;
    int waiting = 0;
    specs_of(s, name, &l);
    for (size_t i = 0; i < l.n; i++) {
        const char *spec = l.spec[i];
        uint64_t seq = atomic_fetch_add(&s->seq, 1) + 1;
        int64_t v;
        int rc = resolve_sql(s, name, spec, &v);
        if (rc == CAIRN_ENOTFOUND) {
            res_drop(s, name, spec, seq);
            continue;
        }
        if (rc) { /* the store did not answer: keep serving what we have */
            cairn_log(CAIRN_LOG_WARN, SERVE_SUBSYS, "cannot re-resolve model|name=%s error=%s",
                      name, cairn_error_last()->msg);
            continue;
        }
        cairn_serve_model *e = entry_ready(s, name, v);
        if (!e && may_load && entry_get(s, name, v, &e)) e = NULL; /* logged by entry_get */
        if (e) {
            res_put(s, name, spec, e, seq);
            entry_unref(e);
            continue;
        }
        /* the old version keeps answering while the new one loads, if it still exists */
        if (version_alive(s, name, l.version[i]) == 0)
            res_drop(s, name, spec, seq);
        else
            waiting = 1;
    }
    specs_free(&l);
    drop_gone(s, name);
    return waiting;
}

static void enqueue(cairn_serve *s, const char *name)
{
    pthread_mutex_lock(&s->bg_mu);
    size_t i = 0;
    while (i < s->npending && strcmp(s->pending[i], name) != 0)
        i++;
    if (i == s->npending) {
        if (s->npending == s->cap_pending) {
            s->cap_pending = s->cap_pending ? 2 * s->cap_pending : 8;
            s->pending = cairn_realloc(s->pending, s->cap_pending * sizeof(*s->pending));
        }
        s->pending[s->npending++] = cairn_strdup(name);
        pthread_cond_signal(&s->bg_cv);
    }
    pthread_mutex_unlock(&s->bg_mu);
}

void cairn_serve_invalidate(cairn_serve *s, const char *name)
{
    CAIRN_ASSERT(s && name);
    if (revalidate(s, name, 0)) enqueue(s, name);
}

/* Re-checks every model that has a loaded version (each cached spec points
 * at one), loading new targets. */
static void refresh_all(cairn_serve *s)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&s->mu);
    for (cairn_serve_model *e = s->models; e; e = e->next) {
        if (e->state != ST_READY) continue;
        size_t i = 0;
        while (i < n && strcmp(names[i], e->name) != 0)
            i++;
        if (i < n) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            names = cairn_realloc(names, cap * sizeof(*names));
        }
        names[n++] = cairn_strdup(e->name);
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        revalidate(s, names[i], 1);
        cairn_free(names[i]);
    }
    cairn_free(names);
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The background thread: loads the targets of swaps that wait for one, and
 * re-checks every cached resolution each refresh interval. */
static void *bg_main(void *arg)
{
    cairn_serve *s = arg;
    pthread_mutex_lock(&s->bg_mu);
    int64_t next_refresh = mono_ns() + (int64_t)s->refresh_ms * 1000000;
    for (;;) {
        while (!s->stopping && !s->npending) {
            if (s->refresh_ms <= 0) {
                pthread_cond_wait(&s->bg_cv, &s->bg_mu);
                continue;
            }
            int64_t now = mono_ns(), interval = (int64_t)s->refresh_ms * 1000000;
            if (next_refresh - now > interval) next_refresh = now + interval; /* it shrank */
            if (now >= next_refresh) break;
            struct timespec t = {(time_t)(next_refresh / 1000000000),
                                 (long)(next_refresh % 1000000000)};
            pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &t);
        }
        if (s->stopping) break;
        char **names = s->pending;
        size_t n = s->npending;
        s->pending = NULL;
        s->npending = s->cap_pending = 0;
        int refresh = s->refresh_ms > 0 && mono_ns() >= next_refresh;
        int64_t interval = (int64_t)s->refresh_ms * 1000000;
        pthread_mutex_unlock(&s->bg_mu);

        for (size_t i = 0; i < n; i++) {
            revalidate(s, names[i], 1);
            cairn_free(names[i]);
        }
        cairn_free(names);
        if (refresh) {
            refresh_all(s);
            next_refresh = mono_ns() + interval;
        }
        pthread_mutex_lock(&s->bg_mu);
    }
    pthread_mutex_unlock(&s->bg_mu);
    return NULL;
}

void cairn_serve_set_refresh_ms(cairn_serve *s, int ms)
{
    pthread_mutex_lock(&s->bg_mu);
    s->refresh_ms = ms > 0 ? ms : 0;
    pthread_cond_signal(&s->bg_cv);
    pthread_mutex_unlock(&s->bg_mu);
}

/* ================= memory and inspection ================= */

size_t cairn_serve_model_memory(const cairn_serve_model *m)
{
    return m->bytes;
}

size_t cairn_serve_memory_used(cairn_serve *s)
{
    return atomic_load(&s->mem);
}

void cairn_serve_set_memory_budget(cairn_serve *s, size_t bytes)
{
    cairn_serve_model *victims = NULL;
    pthread_mutex_lock(&s->mu);
    s->budget = bytes;
    evict_locked(s, &victims);
    pthread_mutex_unlock(&s->mu);
    unref_all(victims, "memory budget");
}

void cairn_serve_foreach_loaded(cairn_serve *s,
                                void (*cb)(const char *name, int64_t version, size_t bytes,
                                           void *payload),
                                void *payload)
{
    pthread_mutex_lock(&s->mu);
    for (cairn_serve_model *e = s->models; e; e = e->next)
        if (e->state == ST_READY) cb(e->name, e->version, e->bytes, payload);
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

cairn_predlog *cairn_serve__predlog(cairn_serve *s)
{
    return s->predlog;
}

void cairn_serve__set_predlog(cairn_serve *s, cairn_predlog *l)
{
    s->predlog = l;
}

/* The metadata store the manager reads (deployments, serve_deploy.c). */
cairn_store *cairn_serve__store(cairn_serve *s)
{
    return s->store;
}
