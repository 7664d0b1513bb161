/*
 * serve_models_test.c - the model manager over a real SQLite store and blob
 * store in a temporary directory: versions are registered by writing the
 * registry's rows and the model file's artifact row directly (what the
 * registry and the artifact proxy write), so each test controls exactly
 * when the manager hears of a change (cairn_serve_invalidate) and when it
 * must notice one alone (the periodic re-check, as for another process).
 *
 * Every model is a tiny linear regression y = 2 x0 + 10 v fitted for
 * version v, so a prediction at x0 = 1 names the version that answered.
 * Covers: the resolution cache (no store read once cached) and its
 * invalidation; hot swap (old version answers while the new one loads,
 * never an error, even when the new one cannot load); preload / is_loaded;
 * LRU order under a memory budget; entries in use never freed; evicted
 * models reloading; concurrent first loads; and the acquire/release rate
 * with two threads (printed, not asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/blob.h"
#include "cairn/core.h"
#include "cairn/linear.h"
#include "cairn/serve.h"
#include "cairn/store.h"
#include "support.h"

/* ------------------------------------------------------------- fixture */

typedef struct fx {
    char *dir;
    cairn_store *store;
    cairn_blob *blob;
    cairn_serve *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char path[512];
    f->dir = cairn_test_tmpdir("serve-models");
    if (!f->dir) return -1;
    snprintf(path, sizeof(path), "%s/cairn.db", f->dir);
    if (cairn_store_open(&f->store, path, NULL)) return -1;
    snprintf(path, sizeof(path), "%s/objects", f->dir);
    if (cairn_blob_open(&f->blob, path)) return -1;
    if (cairn_serve_new(&f->s, f->store, f->blob)) return -1;
    cairn_serve_set_refresh_ms(f->s, 0); /* tests turn it on where they want it */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cairn_serve_free(f->s);
    cairn_blob_close(f->blob);
    cairn_store_close(f->store);
    cairn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* --------------------------------------------------- registry by hand */

typedef struct reg_row {
    const char *name;
    int64_t version;
    const char *alias;
    const char *sha;
    int64_t size;
    int with_file;
} reg_row;

static int version_unit(cairn_store_tx *tx, void *payload)
{
    reg_row *r = payload;
    char src[256], path[256];
    snprintf(src, sizeof(src), "mlflow-artifacts:/models/%s/%lld", r->name, (long long)r->version);
    snprintf(path, sizeof(path), "models/%s/%lld/model.cairn", r->name, (long long)r->version);
    cairn_value m[] = {CAIRN_VTEXT(r->name), CAIRN_VINT(1), CAIRN_VINT(1)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO registered_models (name, creation_time, last_updated_time) "
                           "VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                           m, 3, NULL, NULL);
    cairn_value v[] = {CAIRN_VTEXT(r->name), CAIRN_VINT(r->version), CAIRN_VINT(1), CAIRN_VINT(1),
                       CAIRN_VTEXT(src)};
    if (!rc)
        rc = cairn_tx_exec(tx,
                           "INSERT INTO model_versions (name, version, creation_time, "
                           "last_updated_time, source) VALUES (?, ?, ?, ?, ?)",
                           v, 5, NULL, NULL);
    cairn_value a[] = {CAIRN_VTEXT(path), CAIRN_VTEXT(r->sha), CAIRN_VINT(r->size), CAIRN_VINT(1)};
    if (!rc && r->with_file)
        rc = cairn_tx_exec(
            tx, "INSERT INTO artifacts (path, sha256, size, created) VALUES (?, ?, ?, ?)", a, 4,
            NULL, NULL);
    return rc;
}

/* The model file of version v: y = 2 x0 + 10 v, with a second feature. */
static void model_bytes(int64_t v, cairn_buf *out)
{
    enum { N = 16 };
    double x0[N], x1[N], y[N];
    for (int i = 0; i < N; i++) {
        x0[i] = i;
        x1[i] = (i * 7) % 5;
        y[i] = 2.0 * i + 10.0 * (double)v;
    }
    cairn_frame *X;
    assert_int_equal(cairn_frame_new(&X, N), 0);
    assert_int_equal(cairn_frame_add_f64(X, "x0", x0), 0);
    assert_int_equal(cairn_frame_add_f64(X, "x1", x1), 0);
    cairn_linear_opts o = CAIRN_LINEAR_OPTS_INIT;
    cairn_linear *lm;
    assert_int_equal(cairn_linear_fit(&lm, X, y, &o), 0);
    cairn_model_schema sch = {X, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    cairn_model *m;
    assert_int_equal(cairn_model_from_linear(&m, lm, &sch), 0);
    assert_int_equal(cairn_model_to_bytes(m, out), 0);
    cairn_model_free(m);
    cairn_frame_free(X);
}

/* Registers version v of name; with_file 0 leaves its model file out of
 * the artifact index (the version exists but cannot load). */
static void add_version(fx *f, const char *name, int64_t v, int with_file)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    model_bytes(v, &b);
    char sha[65];
    assert_int_equal(cairn_blob_put(f->blob, b.ptr, b.len, sha), 0);
    reg_row r = {name, v, NULL, sha, (int64_t)b.len, with_file};
    assert_int_equal(cairn_store_write(f->store, version_unit, &r), 0);
    cairn_buf_free(&b);
}

static int alias_unit(cairn_store_tx *tx, void *payload)
{
    reg_row *r = payload;
    cairn_value p[] = {CAIRN_VTEXT(r->name), CAIRN_VTEXT(r->alias), CAIRN_VINT(r->version)};
    return cairn_tx_exec(
        tx,
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, "
        "?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        p, 3, NULL, NULL);
}

/* Sets name@alias = v in the store only (the manager is not told). */
static void set_alias(fx *f, const char *name, const char *alias, int64_t v)
{
    reg_row r = {name, v, alias, NULL, 0, 0};
    assert_int_equal(cairn_store_write(f->store, alias_unit, &r), 0);
}

static int delete_unit(cairn_store_tx *tx, void *payload)
{
    reg_row *r = payload;
    cairn_value p[] = {CAIRN_VTEXT(r->name), CAIRN_VINT(r->version)};
    int rc = cairn_tx_exec(tx,
                           "UPDATE model_versions SET current_stage = 'Deleted_Internal' WHERE "
                           "name = ? AND version = ?",
                           p, 2, NULL, NULL);
    if (!rc)
        rc =
            cairn_tx_exec(tx, "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
                          p, 2, NULL, NULL);
    return rc;
}

/* Deletes version v as the registry does (tombstone, its aliases go). */
static void delete_version(fx *f, const char *name, int64_t v)
{
    reg_row r = {name, v, NULL, NULL, 0, 0};
    assert_int_equal(cairn_store_write(f->store, delete_unit, &r), 0);
}

/* ------------------------------------------------------------- helpers */

/* The version whose model answers m (from its prediction, not its label). */
static int64_t answered_by(const cairn_serve_model *m)
{
    double x[2] = {1.0, 0.0}, y = 0;
    assert_int_equal(cairn_model_predict_row(cairn_serve_model_get(m), x, &y), 0);
    return (int64_t)llround((y - 2.0) / 10.0);
}

/* Acquires name/spec and returns the version that answered (checked
 * against the model's own prediction), or the error code. */
static int64_t serve_version(fx *f, const char *name, const char *spec)
{
    cairn_serve_model *m = NULL;
    int rc = cairn_serve_acquire(f->s, name, spec, &m);
    if (rc) return rc;
    int64_t v = cairn_serve_model_version(m);
    assert_int_equal(answered_by(m), v);
    cairn_serve_release(m);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Polls until name/spec is served by want (5 s at most); returns the last
 * version seen. Every answer on the way must be from_v or want. */
static int64_t wait_served(fx *f, const char *name, const char *spec, int64_t from_v, int64_t want)
{
    int64_t v = -1;
    for (int i = 0; i < 500; i++) {
        v = serve_version(f, name, spec);
        assert_true(v == from_v || v == want);
        if (v == want) break;
        sleep_ms(10);
    }
    return v;
}

/* --------------------------------------------------------------- tests */

static void test_resolution_cache(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    add_version(f, "m", 2, 1);
    assert_int_equal(serve_version(f, "m", NULL), 2); /* no production alias: the newest */
    assert_int_equal(serve_version(f, "m", "latest"), 2);
    assert_int_equal(serve_version(f, "m", "1"), 1);
    assert_int_equal(cairn_serve_load_count(f->s), 2);

    /* cached: a change the manager is not told of is not seen (no store read) */
    set_alias(f, "m", "production", 1);
    assert_int_equal(serve_version(f, "m", NULL), 2);
    int64_t v;
    assert_int_equal(cairn_serve_resolve(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 2);
    /* told: version 1 is loaded, so the switch is immediate */
    cairn_serve_invalidate(f->s, "m");
    assert_int_equal(serve_version(f, "m", NULL), 1);
    assert_int_equal(serve_version(f, "m", "production"), 1);
    assert_int_equal(serve_version(f, "m", "latest"), 2);

    /* a new version not loaded yet: the old answers until it is, then it does */
    add_version(f, "m", 3, 1);
    set_alias(f, "m", "production", 3);
    cairn_serve_invalidate(f->s, "m");
    int64_t now = serve_version(f, "m", NULL);
    assert_true(now == 1 || now == 3); /* 3 only if the background load already finished */
    assert_int_equal(wait_served(f, "m", NULL, 1, 3), 3);
    assert_int_equal(wait_served(f, "m", "latest", 2, 3), 3);
    assert_int_equal(cairn_serve_load_count(f->s), 3); /* version 3 loaded once */

    /* a deleted version stops answering at once, cached or not */
    delete_version(f, "m", 1);
    cairn_serve_invalidate(f->s, "m");
    assert_int_equal(serve_version(f, "m", "1"), CAIRN_ENOTFOUND);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", "1"), 0);
    assert_int_equal(cairn_serve_loaded_count(f->s), 2);
    /* unknown names and aliases */
    assert_int_equal(serve_version(f, "nope", NULL), CAIRN_ENOTFOUND);
    assert_int_equal(serve_version(f, "m", "champion"), CAIRN_ENOTFOUND);
}

static void test_swap_never_fails(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    add_version(f, "m", 2, 0); /* registered, but its model file is missing */
    set_alias(f, "m", "production", 1);
    assert_int_equal(serve_version(f, "m", NULL), 1);
    set_alias(f, "m", "production", 2);
    cairn_serve_invalidate(f->s, "m");
    /* the background load of 2 fails; version 1 keeps answering meanwhile and after */
    for (int i = 0; i < 30; i++) {
        assert_int_equal(serve_version(f, "m", NULL), 1);
        sleep_ms(5);
    }
    /* a request naming version 2 itself gets the load error */
    assert_int_equal(serve_version(f, "m", "2"), CAIRN_ENOTFOUND);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", "2"), 0);
}

static void test_refresh_sees_other_writers(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    add_version(f, "m", 2, 1);
    set_alias(f, "m", "champion", 1);
    assert_int_equal(serve_version(f, "m", "champion"), 1);
    set_alias(f, "m", "champion", 2); /* as another process would: no invalidate */
    assert_int_equal(serve_version(f, "m", "champion"), 1);
    cairn_serve_set_refresh_ms(f->s, 50);
    assert_int_equal(wait_served(f, "m", "champion", 1, 2), 2);
    /* a version deleted elsewhere is noticed too */
    assert_int_equal(cairn_serve_loaded_count(f->s), 2);
    delete_version(f, "m", 2);
    for (int i = 0; i < 500 && cairn_serve_loaded_count(f->s) != 1; i++)
        sleep_ms(10);
    assert_int_equal(cairn_serve_loaded_count(f->s), 1); /* version 2 unloaded */
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", "1"), 1);
    assert_int_equal(serve_version(f, "m", "champion"),
                     CAIRN_ENOTFOUND); /* the alias went with it */
}

static void test_preload(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    add_version(f, "m", 2, 0);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", NULL), 0);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", "1"), 0);
    assert_int_equal(cairn_serve_load_count(f->s), 0); /* is_loaded never loads */
    assert_int_equal(cairn_serve_preload(f->s, "m", "1"), 0);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", "1"), 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "m", NULL), 0); /* resolves to 2, not loaded */
    assert_int_equal(cairn_serve_preload(f->s, "m", NULL), CAIRN_ENOTFOUND); /* 2 has no file */
    assert_int_equal(cairn_serve_preload(f->s, "ghost", NULL), CAIRN_ENOTFOUND);
    assert_int_equal(cairn_serve_is_loaded(f->s, "ghost", NULL), 0);
    assert_int_equal(cairn_serve_loaded_count(f->s), 1);
    assert_true(cairn_serve_memory_used(f->s) > 0);
    assert_int_equal(serve_version(f, "m", "1"), 1);
    assert_int_equal(cairn_serve_load_count(f->s), 2); /* 1 once, 2 tried once */
}

typedef struct seen {
    int n;
    char names[8][16];
    size_t bytes;
} seen;

static void collect(const char *name, int64_t version, size_t bytes, void *payload)
{
    seen *s = payload;
    (void)version;
    if (s->n < 8) snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->n++;
    s->bytes += bytes;
}

static int seen_has(const seen *s, const char *name)
{
    for (int i = 0; i < s->n && i < 8; i++)
        if (strcmp(s->names[i], name) == 0) return 1;
    return 0;
}

static void test_lru_eviction(void **state)
{
    fx *f = *state;
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        add_version(f, names[i], 1, 1);
    assert_int_equal(cairn_serve_preload(f->s, "a", NULL), 0);
    size_t one = cairn_serve_memory_used(f->s);
    assert_true(one > 100);
    cairn_serve_model *m;
    assert_int_equal(cairn_serve_acquire(f->s, "a", NULL, &m), 0);
    assert_int_equal(cairn_serve_model_memory(m), one);
    cairn_serve_release(m);

    cairn_serve_set_memory_budget(f->s, 3 * one + one / 2); /* three fit */
    assert_int_equal(cairn_serve_preload(f->s, "b", NULL), 0);
    assert_int_equal(cairn_serve_preload(f->s, "c", NULL), 0);
    assert_int_equal(serve_version(f, "a", NULL), 1); /* a is now more recent than b */
    assert_int_equal(cairn_serve_preload(f->s, "d", NULL), 0);
    assert_int_equal(cairn_serve_is_loaded(f->s, "b", NULL), 0); /* the least recently used */
    assert_int_equal(cairn_serve_is_loaded(f->s, "a", NULL), 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "c", NULL), 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "d", NULL), 1);
    assert_true(cairn_serve_memory_used(f->s) <= 3 * one + one / 2);

    /* b reloads on its next use, pushing out c (now the least recent) */
    uint64_t loads = cairn_serve_load_count(f->s);
    assert_int_equal(serve_version(f, "b", NULL), 1);
    assert_int_equal(cairn_serve_load_count(f->s), loads + 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "c", NULL), 0);

    seen sn = {0};
    cairn_serve_foreach_loaded(f->s, collect, &sn);
    assert_int_equal(sn.n, 3);
    assert_true(seen_has(&sn, "a") && seen_has(&sn, "b") && seen_has(&sn, "d"));
    assert_int_equal(sn.bytes, cairn_serve_memory_used(f->s));

    /* lowering the budget evicts at once; 0 is unlimited */
    cairn_serve_set_memory_budget(f->s, one + one / 2);
    assert_int_equal(cairn_serve_loaded_count(f->s), 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "b", NULL), 1); /* the most recent stays */
    cairn_serve_set_memory_budget(f->s, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cairn_serve_preload(f->s, names[i], NULL), 0);
    assert_int_equal(cairn_serve_loaded_count(f->s), 4);
}

static void test_in_use_never_freed(void **state)
{
    fx *f = *state;
    add_version(f, "a", 1, 1);
    add_version(f, "b", 1, 1);
    add_version(f, "c", 1, 1);
    assert_int_equal(cairn_serve_preload(f->s, "a", NULL), 0);
    size_t one = cairn_serve_memory_used(f->s);
    cairn_serve_set_memory_budget(f->s, one / 2); /* nothing fits */
    assert_int_equal(cairn_serve_loaded_count(f->s), 0);

    cairn_serve_model *held;
    assert_int_equal(cairn_serve_acquire(f->s, "a", NULL, &held), 0);
    assert_int_equal(cairn_serve_preload(f->s, "b", NULL), 0);
    assert_int_equal(cairn_serve_preload(f->s, "c", NULL), 0); /* evicts b, never a */
    assert_int_equal(cairn_serve_is_loaded(f->s, "a", NULL), 1);
    assert_int_equal(cairn_serve_is_loaded(f->s, "b", NULL), 0);
    assert_int_equal(answered_by(held), 1); /* still whole (ASan would see a free) */
    cairn_serve_release(held);
    cairn_serve_set_memory_budget(f->s, one / 2); /* now a can go */
    assert_int_equal(cairn_serve_is_loaded(f->s, "a", NULL), 0);

    /* a version deleted while held leaves the cache but lives until released */
    cairn_serve_set_memory_budget(f->s, 0);
    add_version(f, "a", 2, 1);
    assert_int_equal(cairn_serve_acquire(f->s, "a", "2", &held), 0);
    size_t before = cairn_serve_memory_used(f->s), held_bytes = cairn_serve_model_memory(held);
    delete_version(f, "a", 2);
    cairn_serve_invalidate(f->s, "a");
    assert_int_equal(cairn_serve_is_loaded(f->s, "a", "2"), 0);
    assert_int_equal(cairn_serve_memory_used(f->s), before); /* counted while held */
    assert_int_equal(answered_by(held), 2);
    cairn_serve_release(held);
    assert_int_equal(cairn_serve_memory_used(f->s), before - held_bytes);
}

/* ---------------------------------------------------------- threads */

typedef struct worker {
    fx *f;
    const char *name, *spec;
    atomic_int *go;
    int64_t until_ns;
    uint64_t ops, errors, bad;
    int64_t allowed[2];
    cairn_serve_model *first;
} worker;

static void *first_load(void *arg)
{
    worker *w = arg;
    while (!atomic_load(w->go)) {
    }
    if (cairn_serve_acquire(w->f->s, w->name, w->spec, &w->first)) w->errors++;
    return NULL;
}

static void test_concurrent_first_loads(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    enum { T = 8 };
    pthread_t th[T];
    worker w[T];
    atomic_int go = 0;
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.f = f, .name = "m", .spec = i % 2 ? "1" : NULL, .go = &go};
        assert_int_equal(pthread_create(&th[i], NULL, first_load, &w[i]), 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) {
        assert_int_equal(w[i].errors, 0);
        assert_ptr_equal(w[i].first, w[0].first); /* one shared entry */
        cairn_serve_release(w[i].first);
    }
    assert_int_equal(cairn_serve_load_count(f->s), 1);
}

/* Acquires and releases in a loop until the deadline, checking each answer. */
static void *hammer(void *arg)
{
    worker *w = arg;
    while (!atomic_load(w->go)) {
    }
    while (cairn_monotonic_ns() < w->until_ns) {
        for (int i = 0; i < 256; i++) {
            cairn_serve_model *m;
            if (cairn_serve_acquire(w->f->s, w->name, w->spec, &m)) {
                w->errors++;
                continue;
            }
            int64_t v = cairn_serve_model_version(m);
            if (v != w->allowed[0] && v != w->allowed[1]) w->bad++;
            cairn_serve_release(m);
            w->ops++;
        }
    }
    return NULL;
}

static double run_hammer(fx *f, int threads, int ms, const char *spec, int64_t v1, int64_t v2,
                         int swap_alias, uint64_t *errors, uint64_t *bad, int *swaps)
{
    pthread_t th[4];
    worker w[4];
    atomic_int go = 0;
    int64_t start = cairn_monotonic_ns(), until = start + (int64_t)ms * 1000000;
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){
            .f = f, .name = "m", .spec = spec, .go = &go, .until_ns = until, .allowed = {v1, v2}};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    atomic_store(&go, 1);
    *swaps = 0;
    while (swap_alias && cairn_monotonic_ns() < until) {
        set_alias(f, "m", "production", (*swaps % 2) ? v1 : v2);
        cairn_serve_invalidate(f->s, "m");
        (*swaps)++;
        sleep_ms(5);
    }
    uint64_t ops = 0;
    *errors = *bad = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ops += w[i].ops;
        *errors += w[i].errors;
        *bad += w[i].bad;
    }
    double secs = (double)(cairn_monotonic_ns() - start) / 1e9;
    return (double)ops / secs;
}

static void test_hot_path_and_swaps_under_load(void **state)
{
    fx *f = *state;
    add_version(f, "m", 1, 1);
    add_version(f, "m", 2, 1);
    set_alias(f, "m", "production", 1);
    assert_int_equal(cairn_serve_preload(f->s, "m", "1"), 0);
    assert_int_equal(cairn_serve_preload(f->s, "m", "2"), 0);
    assert_int_equal(cairn_serve_preload(f->s, "m", NULL), 0);
    uint64_t errors, bad;
    int swaps;
    double one = run_hammer(f, 1, 300, NULL, 1, 1, 0, &errors, &bad, &swaps);
    assert_int_equal(errors + bad, 0);
    double two = run_hammer(f, 2, 500, NULL, 1, 1, 0, &errors, &bad, &swaps);
    assert_int_equal(errors + bad, 0);
    print_message("acquire+release: %.2f M/s with 1 thread, %.2f M/s with 2 threads\n", one / 1e6,
                  two / 1e6);
    /* the alias moving between two loaded versions while two threads serve */
    double during = run_hammer(f, 2, 500, NULL, 1, 2, 1, &errors, &bad, &swaps);
    print_message("acquire+release during %d alias moves: %.2f M/s\n", swaps, during / 1e6);
    assert_int_equal(errors, 0);
    assert_int_equal(bad, 0);
    assert_true(swaps > 10);
    assert_int_equal(cairn_serve_load_count(f->s),
                     2); /* swaps between loaded versions load nothing */
}

int main(void)
{
    cairn_log_set_level(CAIRN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolution_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_never_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_sees_other_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use_never_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_path_and_swaps_under_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
