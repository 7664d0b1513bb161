/*
 * train_track.c - the half of `cairn train` and its siblings that talks to
 * the tracking server: runs, params and metric batches, artifact uploads
 * through the mlflow-artifacts proxy, registration, and loading models by
 * path, run or registry URI (see train_common.h).
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/core.h"
#include "cairn/csv.h"
#include "cairn/http.h"
#include "cairn/metrics.h"
#include "cairn/trees.h"
#include "cli_client.h"
#include "train_common.h"

#define ERR(code, ...) cairn_error_set((code), CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define MAX_CLASSES 1000 /* a numeric target with more distinct values is not a class label */


/* ====================================================================== */
/* Tracking server                                                         */
/* ====================================================================== */

#define PROXY "/api/2.0/mlflow-artifacts/artifacts/"
#define MAX_ARTIFACT ((size_t)1 << 31)

/* "<tracking_uri><path>" without doubled slashes. */
static void make_url(const cairn_config *cfg, const char *path, char *url, size_t n)
{
    const char *base = cfg->client.tracking_uri;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(url, n, "%.*s%s", (int)bl, base, path);
}

/* Maps MLflow's error_code onto a cairn code. */
static int mlflow_code(const char *code)
{
    if (!code) return CAIRN_ERROR;
    if (!strcmp(code, "RESOURCE_DOES_NOT_EXIST")) return CAIRN_ENOTFOUND;
    if (!strcmp(code, "RESOURCE_ALREADY_EXISTS")) return CAIRN_EEXISTS;
    if (!strcmp(code, "INVALID_PARAMETER_VALUE")) return CAIRN_EINVALID;
    return CAIRN_ERROR;
}

/*
 * One JSON call to the tracking server. body is not taken. On 2xx stores
 * the parsed answer in *out (when out is not NULL). Errors: CAIRN_EIO (no
 * connection; the HTTP client's message), or the server's error mapped by
 * mlflow_code with "ERROR_CODE: message (HTTP n)".
 */
static int rest(const cairn_config *cfg, const char *method, const char *path, json_t *body,
                json_t **out)
{
    char url[4096];
    make_url(cfg, path, url, sizeof(url));
    char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cairn_buf resp = CAIRN_BUF_INIT(64u << 20);
    int status = 0;
    int rc = cairn_http_fetch(method, url, data ? "application/json" : NULL, data,
                              data ? strlen(data) : 0, &status, &resp);
    free(data); /* jansson's allocation */
    if (rc) {
        cairn_buf_free(&resp);
        return rc;
    }
    json_error_t jerr;
    json_t *v = json_loadb(cairn_buf_cstr(&resp), resp.len, 0, &jerr);
    if (status < 200 || status >= 300) {
        const char *code = json_string_value(json_object_get(v, "error_code"));
        const char *msg = json_string_value(json_object_get(v, "message"));
        rc = ERR(mlflow_code(code), "%s%s%.200s (HTTP %d)", code ? code : "", code ? ": " : "",
                 msg ? msg : cairn_buf_cstr(&resp), status);
        json_decref(v);
    } else if (!v) {
        rc = ERR(CAIRN_ERROR, "the server's answer to %s is not JSON: %s", path, jerr.text);
    } else if (out) {
        *out = v;
    } else {
        json_decref(v);
    }
    cairn_buf_free(&resp);
    return rc;
}

int cli_ml_experiment(cli_ml_tracker *t, const char *name)
{
    char enc[1024], path[1200];
    cli_urlencode(name, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", enc);
    json_t *resp = NULL;
    int rc = rest(t->cfg, "GET", path, NULL, &resp);
    if (rc == CAIRN_ENOTFOUND) {
        json_t *body = json_pack("{s:s}", "name", name);
        rc = rest(t->cfg, "POST", "/api/2.0/mlflow/experiments/create", body, &resp);
        json_decref(body);
        if (rc == CAIRN_EEXISTS) /* created by someone else meanwhile */
            rc = rest(t->cfg, "GET", path, NULL, &resp);
        if (!rc) {
            const char *id = json_string_value(json_object_get(resp, "experiment_id"));
            snprintf(t->exp_id, sizeof(t->exp_id), "%s", id ? id : "");
            json_decref(resp);
            return 0;
        }
    }
    if (rc) return rc;
    const char *id =
        json_string_value(json_object_get(json_object_get(resp, "experiment"), "experiment_id"));
    snprintf(t->exp_id, sizeof(t->exp_id), "%s", id ? id : "");
    json_decref(resp);
    return 0;
}

int cli_ml_run_start(cli_ml_tracker *t, const char *run_name, const char *parent_run,
                     const cli_ml_kv *tags, int ntags, cli_ml_run *out)
{
    json_t *jt = json_array();
    for (int i = 0; i < ntags; i++)
        json_array_append_new(jt,
                              json_pack("{s:s,s:s}", "key", tags[i].key, "value", tags[i].value));
    if (parent_run)
        json_array_append_new(
            jt, json_pack("{s:s,s:s}", "key", "mlflow.parentRunId", "value", parent_run));
    json_t *body = json_pack("{s:s,s:s,s:I,s:o}", "experiment_id", t->exp_id, "run_name", run_name,
                             "start_time", (json_int_t)cairn_time_ms(), "tags", jt);
    json_t *resp = NULL;
    int rc = rest(t->cfg, "POST", "/api/2.0/mlflow/runs/create", body, &resp);
    json_decref(body);
    if (rc) return rc;
    json_t *info = json_object_get(json_object_get(resp, "run"), "info");
    const char *id = json_string_value(json_object_get(info, "run_id"));
    const char *uri = json_string_value(json_object_get(info, "artifact_uri"));
    snprintf(out->id, sizeof(out->id), "%s", id ? id : "");
    snprintf(out->artifact_uri, sizeof(out->artifact_uri), "%s", uri ? uri : "");
    json_decref(resp);
    return id ? 0 : ERR(CAIRN_ERROR, "runs/create answered without a run id");
}

int cli_ml_log_params(cli_ml_tracker *t, const char *run_id, const cli_ml_kv *p, int n)
{
    for (int s = 0; s < n; s += 100) {
        json_t *arr = json_array();
        for (int i = s; i < n && i < s + 100; i++)
            json_array_append_new(arr,
                                  json_pack("{s:s,s:s}", "key", p[i].key, "value", p[i].value));
        json_t *body = json_pack("{s:s,s:o}", "run_id", run_id, "params", arr);
        int rc = rest(t->cfg, "POST", "/api/2.0/mlflow/runs/log-batch", body, NULL);
        json_decref(body);
        if (rc) return rc;
    }
    return 0;
}

int cli_ml_log_metrics(cli_ml_tracker *t, const char *run_id, const char *const *key,
                       const double *value, const int64_t *step, size_t n)
{
    json_int_t now = (json_int_t)cairn_time_ms();
    size_t i = 0;
    while (i < n) {
        json_t *arr = json_array();
        for (; i < n && json_array_size(arr) < 1000; i++) {
            if (!isfinite(value[i])) continue; /* a NaN metric (no validation set) is not sent */
            json_array_append_new(arr,
                                  json_pack("{s:s,s:f,s:I,s:I}", "key", key[i], "value", value[i],
                                            "timestamp", now, "step", (json_int_t)step[i]));
        }
        if (!json_array_size(arr)) {
            json_decref(arr);
            continue;
        }
        json_t *body = json_pack("{s:s,s:o}", "run_id", run_id, "metrics", arr);
        int rc = rest(t->cfg, "POST", "/api/2.0/mlflow/runs/log-batch", body, NULL);
        json_decref(body);
        if (rc) return rc;
    }
    return 0;
}

/* The proxy path of an mlflow-artifacts:[//host]/X URI: "X". */
static int artifact_root(const char *uri, char *out, size_t n)
{
    const char *scheme = "mlflow-artifacts:";
    if (strncmp(uri, scheme, strlen(scheme)) != 0)
        return ERR(CAIRN_EUNSUPPORTED,
                   "artifact uri '%.300s' is not served through mlflow-artifacts", uri);
    const char *p = uri + strlen(scheme);
    if (p[0] == '/' && p[1] == '/') {
        p = strchr(p + 2, '/');
        if (!p) p = "";
    }
    while (*p == '/')
        p++;
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '/')
        len--;
    if (len + 1 > n) return ERR(CAIRN_ETOOBIG, "artifact uri is too long");
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

int cli_ml_upload_dir(cli_ml_tracker *t, const cli_ml_run *run, const char *dir, const char *sub)
{
    char root[1024];
    int rc = artifact_root(run->artifact_uri, root, sizeof(root));
    if (rc) return rc;
    DIR *dp = opendir(dir);
    if (!dp) return ERR(CAIRN_EIO, "cannot open directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    while (!rc && (e = readdir(dp))) {
        char local[4096], enc[512], path[2048], url[4096];
        struct stat st;
        snprintf(local, sizeof(local), "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(local, &st) || !S_ISREG(st.st_mode)) continue;
        cairn_buf data = CAIRN_BUF_INIT(MAX_ARTIFACT), resp = CAIRN_BUF_INIT(1u << 20);
        if (!(rc = cairn_read_file(local, &data))) {
            cli_urlencode(e->d_name, enc, sizeof(enc));
            snprintf(path, sizeof(path), PROXY "%s/%s/%s", root, sub, enc);
            make_url(t->cfg, path, url, sizeof(url));
            int status = 0;
            rc = cairn_http_fetch("PUT", url, "application/octet-stream", data.ptr, data.len,
                                  &status, &resp);
            if (!rc && (status < 200 || status >= 300))
                rc = ERR(CAIRN_ERROR, "upload of %s answered HTTP %d: %.200s", e->d_name, status,
                         cairn_buf_cstr(&resp));
        }
        cairn_buf_free(&data);
        cairn_buf_free(&resp);
    }
    closedir(dp);
    return rc;
}

int cli_ml_run_end(cli_ml_tracker *t, const char *run_id, const char *status)
{
    json_t *body = json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", status, "end_time",
                             (json_int_t)cairn_time_ms());
    int rc = rest(t->cfg, "POST", "/api/2.0/mlflow/runs/update", body, NULL);
    json_decref(body);
    return rc;
}

int cli_ml_register(cli_ml_tracker *t, const char *name, const char *source, const char *run_id,
                    int64_t *version)
{
    json_t *body = json_pack("{s:s}", "name", name);
    int rc = rest(t->cfg, "POST", "/api/2.0/mlflow/registered-models/create", body, NULL);
    json_decref(body);
    if (rc && rc != CAIRN_EEXISTS) return rc;
    body = json_pack("{s:s,s:s,s:s}", "name", name, "source", source, "run_id", run_id);
    json_t *resp = NULL;
    rc = rest(t->cfg, "POST", "/api/2.0/mlflow/model-versions/create", body, &resp);
    json_decref(body);
    if (rc) return rc;
    const char *v =
        json_string_value(json_object_get(json_object_get(resp, "model_version"), "version"));
    rc =
        v ? cairn_parse_i64(v, version) : ERR(CAIRN_ERROR, "model-versions/create gave no version");
    json_decref(resp);
    return rc;
}

/* ====================================================================== */
/* Loading models                                                          */
/* ====================================================================== */

/* Loads the model file of a local directory or file path. */
static int load_local(const char *path, cairn_model **out)
{
    struct stat st;
    if (stat(path, &st)) return ERR(CAIRN_ENOTFOUND, "no model at %s", path);
    if (!S_ISDIR(st.st_mode)) return cairn_model_load(out, path);
    char file[4096];
    snprintf(file, sizeof(file), "%s/model.cairn", path);
    if (stat(file, &st)) return ERR(CAIRN_ENOTFOUND, "%s holds no model.cairn", path);
    return cairn_model_load(out, file);
}

/* Loads the model of an artifact source: an mlflow-artifacts: URI of a
 * model directory (model.cairn downloaded through the proxy into memory),
 * file://PATH or a plain path. */
static int load_source(const cairn_config *cfg, const char *source, cairn_model **out)
{
    if (!strncmp(source, "file://", 7)) return load_local(source + 7, out);
    if (strncmp(source, "mlflow-artifacts:", 17) != 0) return load_local(source, out);
    char root[1024], path[1200], url[4096];
    int rc = artifact_root(source, root, sizeof(root));
    if (rc) return rc;
    size_t rl = strlen(root);
    int is_file = rl >= 12 && !strcmp(root + rl - 12, "/model.cairn");
    snprintf(path, sizeof(path), PROXY "%s%s", root, is_file ? "" : "/model.cairn");
    make_url(cfg, path, url, sizeof(url));
    cairn_buf body = CAIRN_BUF_INIT(MAX_ARTIFACT);
    int status = 0;
    rc = cairn_http_fetch("GET", url, NULL, NULL, 0, &status, &body);
    if (!rc && status != 200)
        rc = ERR(status == 404 ? CAIRN_ENOTFOUND : CAIRN_ERROR, "download of %s answered HTTP %d",
                 path, status);
    if (!rc) rc = cairn_model_from_bytes(out, body.ptr, body.len);
    cairn_buf_free(&body);
    return rc;
}

/* The source of models:/NAME/VERSION or models:/NAME@ALIAS, from the registry. */
static int registry_source(const cairn_config *cfg, const char *spec, char *source, size_t n)
{
    const char *at = strrchr(spec, '@'), *slash = strrchr(spec, '/');
    char name[512], enc_name[1600], enc_arg[600], path[2400];
    json_t *resp = NULL;
    int rc;
    if (at && (!slash || at > slash)) {
        snprintf(name, sizeof(name), "%.*s", (int)(at - spec), spec);
        cli_urlencode(name, enc_name, sizeof(enc_name));
        cli_urlencode(at + 1, enc_arg, sizeof(enc_arg));
        snprintf(path, sizeof(path), "/api/2.0/mlflow/registered-models/alias?name=%s&alias=%s",
                 enc_name, enc_arg);
    } else if (slash) {
        snprintf(name, sizeof(name), "%.*s", (int)(slash - spec), spec);
        cli_urlencode(name, enc_name, sizeof(enc_name));
        cli_urlencode(slash + 1, enc_arg, sizeof(enc_arg));
        snprintf(path, sizeof(path), "/api/2.0/mlflow/model-versions/get?name=%s&version=%s",
                 enc_name, enc_arg);
    } else {
        return ERR(CAIRN_EINVALID, "models:/%s: want models:/NAME/VERSION or models:/NAME@ALIAS",
                   spec);
    }
    if (!*name) return ERR(CAIRN_EINVALID, "models:/%s: the model name is empty", spec);
    if ((rc = rest(cfg, "GET", path, NULL, &resp))) return rc;
    const char *src =
        json_string_value(json_object_get(json_object_get(resp, "model_version"), "source"));
    if (src)
        snprintf(source, n, "%s", src);
    else
        rc = ERR(CAIRN_ERROR, "the registry gave no source for models:/%s", spec);
    json_decref(resp);
    return rc;
}

/* The artifact URI of runs:/RUN_ID/PATH. */
static int run_source(const cairn_config *cfg, const char *spec, char *source, size_t n)
{
    const char *slash = strchr(spec, '/');
    char run[128], path[600];
    snprintf(run, sizeof(run), "%.*s", (int)(slash ? slash - spec : (ptrdiff_t)strlen(spec)), spec);
    if (!*run) return ERR(CAIRN_EINVALID, "runs:/%s: want runs:/RUN_ID/PATH", spec);
    char enc[400];
    cli_urlencode(run, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/runs/get?run_id=%s", enc);
    json_t *resp = NULL;
    int rc = rest(cfg, "GET", path, NULL, &resp);
    if (rc) return rc;
    const char *uri = json_string_value(
        json_object_get(json_object_get(json_object_get(resp, "run"), "info"), "artifact_uri"));
    if (uri)
        snprintf(source, n, "%s%s%s", uri, slash ? "/" : "", slash ? slash + 1 : "");
    else
        rc = ERR(CAIRN_ERROR, "run %s has no artifact uri", run);
    json_decref(resp);
    return rc;
}

int cli_ml_model_load(const cairn_config *cfg, const char *ref, cairn_model **out)
{
    *out = NULL;
    char source[2048];
    int rc;
    if (!strncmp(ref, "models:/", 8))
        rc = registry_source(cfg, ref + 8, source, sizeof(source));
    else if (!strncmp(ref, "runs:/", 6))
        rc = run_source(cfg, ref + 6, source, sizeof(source));
    else
        return load_local(ref, out);
    return rc ? rc : load_source(cfg, source, out);
}

