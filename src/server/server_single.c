/*
 * server_single.c - `cairn serve`: one model behind the inference
 * protocols, with no tracking, registry or artifact API.
 *
 * Key idea: serving is not re-implemented. The model manager (serve/)
 * resolves names through the metadata store and loads model.cairn from the
 * artifact store, so this file gives it a private embedded store in a fresh
 * temp directory (SQLite + object directory) holding exactly one registered
 * model, version 1, aliased `production`, whose source points at the
 * stored file. Only the serve routes, /health and /metrics are mounted, so
 * every tracking path answers 404. cfg->serve.* applies as in `cairn
 * server` (memory budget, batching, prediction log). The model is loaded
 * before the listener starts: readiness holds from the first request. The
 * temp directory is removed when the server is freed.
 */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "cairn/serve.h"
#include "cairn/server.h"
#include "cairn/store.h"
#include "server_internal.h"

#define SINGLE_SUBSYS CAIRN_SUBSYS_SERVER
#define NAME_MAX_LEN 200
/* The version's source and the artifact-index path the model manager
 * derives from it (mlflow-artifacts:/X -> X/model.cairn). */
#define SOURCE "mlflow-artifacts:/serve/model"
#define MODEL_PATH "serve/model/model.cairn"

struct cairn_server_single {
    char *dir; /* the temp directory; NULL once removed */
    cairn_store *store;
    cairn_blob *blob;
    cairn_serve *serve;
    cairn_http_server *http;
    cairn_server__probes probes; /* /health and /metrics answer from it */
};

/* What the registration write unit inserts. */
typedef struct single_rows {
    const char *name;
    const char *sha;
    int64_t size;
} single_rows;

/* A name the OIP and V1 paths can carry: 1..200 bytes, no '/', no control
 * characters. CAIRN_EINVALID otherwise. */
static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN)
        return cairn_error_set(CAIRN_EINVALID, SINGLE_SUBSYS,
                               "model name must have 1 to %d characters", NAME_MAX_LEN);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return cairn_error_set(CAIRN_EINVALID, SINGLE_SUBSYS,
                                   "model name '%.200s' cannot hold '/' or control characters",
                                   name);
    return 0;
}

/* Write unit: the registered model, version 1 with its source, the
 * production alias and the artifact-index row of the stored file. */
static int insert_rows(cairn_store_tx *tx, void *payload)
{
    const single_rows *r = payload;
    int64_t now = cairn_time_ms();
    cairn_value m[3] = {CAIRN_VTEXT(r->name), CAIRN_VINT(now), CAIRN_VINT(now)};
    cairn_value v[4] = {CAIRN_VTEXT(r->name), CAIRN_VINT(now), CAIRN_VINT(now),
                        CAIRN_VTEXT(SOURCE)};
    cairn_value a[2] = {CAIRN_VTEXT(r->name), CAIRN_VTEXT(CAIRN_SERVE_DEFAULT_ALIAS)};
    cairn_value f[4] = {CAIRN_VTEXT(MODEL_PATH), CAIRN_VTEXT(r->sha), CAIRN_VINT(r->size),
                        CAIRN_VINT(now)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO registered_models (name, creation_time, "
                           "last_updated_time) VALUES (?, ?, ?)",
                           m, 3, NULL, NULL);
    if (!rc)
        rc = cairn_tx_exec(tx,
                           "INSERT INTO model_versions (name, version, creation_time, "
                           "last_updated_time, source) VALUES (?, 1, ?, ?, ?)",
                           v, 4, NULL, NULL);
    if (!rc)
        rc = cairn_tx_exec(tx,
                           "INSERT INTO registered_model_aliases (name, alias, version) "
                           "VALUES (?, ?, 1)",
                           a, 2, NULL, NULL);
    if (!rc)
        rc = cairn_tx_exec(tx,
                           "INSERT INTO artifacts (path, sha256, size, created) "
                           "VALUES (?, ?, ?, ?)",
                           f, 4, NULL, NULL);
    return rc;
}

/* Opens the store and blob under s->dir and registers the model in them. */
static int open_stores(cairn_server_single *s, const char *name, const void *bytes, size_t len)
{
    cairn_store_opts so = CAIRN_STORE_OPTS_INIT;
    char path[4200], sha[65];
    int rc;
    so.readers = 2; /* one model: a reader per request is far more than needed */
    snprintf(path, sizeof(path), "%s/cairn.db", s->dir);
    if ((rc = cairn_store_open(&s->store, path, &so))) return rc;
    snprintf(path, sizeof(path), "%s/objects", s->dir);
    if ((rc = cairn_blob_open(&s->blob, path))) return rc;
    if ((rc = cairn_blob_put(s->blob, bytes, len, sha))) return rc;
    single_rows r = {name, sha, (int64_t)len};
    return cairn_store_write(s->store, insert_rows, &r);
}

static int mount(cairn_server_single *s, const cairn_config *cfg)
{
    cairn_http_opts ho = CAIRN_HTTP_OPTS_INIT;
    int rc;
    ho.host = cfg->http.host;
    ho.port = cfg->http.port;
    ho.threads = cfg->http.threads;
    ho.body_limit = cfg->http.body_limit;
    ho.timeout_s = cfg->http.timeout_s;
    if ((rc = cairn_http_server_new(&s->http, &ho))) return rc;
    s->probes = (cairn_server__probes){s->http, s->serve};
    if ((rc = cairn_server__mount_probes(&s->probes)) ||
        (rc = cairn_serve_mount_inference(s->serve, s->http)))
        return rc;
    return 0;
}

int cairn_server_single_new(cairn_server_single **out, const cairn_config *cfg,
                            const char *model_name, const void *model_bytes, size_t len)
{
    CAIRN_ASSERT(out && cfg && model_name && (model_bytes || !len));
    *out = NULL;
    int rc = check_name(model_name);
    if (rc) return rc;
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/cairn-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return cairn_error_set(CAIRN_EIO, SINGLE_SUBSYS, "cannot create a temp directory in %s: %s",
                               tmp && *tmp ? tmp : "/tmp", strerror(errno));
    cairn_server_single *s = cairn_calloc(1, sizeof(*s));
    s->dir = cairn_strdup(dir);
    if ((rc = open_stores(s, model_name, model_bytes, len)) ||
        (rc = cairn_serve_new(&s->serve, s->store, s->blob))) {
        cairn_server_single_free(s);
        return rc;
    }
    /* Nothing else writes this store: no need to re-check resolutions. */
    cairn_serve_set_refresh_ms(s->serve, 0);
    /* The model is loaded before listening, so readiness holds at once. */
    if ((rc = cairn_serve_runtime_start(s->serve, cfg)) ||
        (rc = cairn_serve_preload(s->serve, model_name, NULL)) || (rc = mount(s, cfg))) {
        cairn_server_single_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cairn_server_single_start(cairn_server_single *s)
{
    return cairn_http_server_start(s->http);
}

int cairn_server_single_port(const cairn_server_single *s)
{
    return cairn_http_server_port(s->http);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        cairn_log(CAIRN_LOG_WARN, SINGLE_SUBSYS, "cannot remove|path=%s error=%s", path,
                  strerror(errno));
    return 0; /* remove what can be removed */
}

void cairn_server_single_free(cairn_server_single *s)
{
    if (!s) return;
    cairn_http_server_free(s->http); /* first: no new requests reach the manager */
    cairn_serve_runtime_stop(s->serve);
    cairn_serve_free(s->serve);
    cairn_store_close(s->store);
    cairn_blob_close(s->blob);
    if (s->dir) nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    cairn_free(s->dir);
    cairn_free(s);
}
