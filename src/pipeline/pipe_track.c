/*
 * pipe_track.c - pipeline runs as MLflow runs, over the tracking REST API.
 *
 * The pipeline gets one parent run; each executed stage a child run
 * (mlflow.parentRunId) carrying its params, the numbers of its metrics
 * files, and lineage tags. Everything here is best effort for the caller:
 * a failure is returned and the runner carries on untracked.
 */
#include "cairn/core.h"
#include "cairn/http.h"
#include "pipe_int.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int cairn_pipeline__rest(const char *uri, const char *method, const char *path, json_t *body,
                         json_t **out)
{
    char url[4096];
    size_t bl = strlen(uri);
    while (bl > 0 && uri[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof(url), "%.*s%s", (int)bl, uri, path);
    char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cairn_buf resp = CAIRN_BUF_INIT(16u << 20);
    int status = 0;
    int rc = cairn_http_fetch(method, url, data ? "application/json" : NULL, data,
                              data ? strlen(data) : 0, &status, &resp);
    free(data); /* jansson's allocation */
    if (rc) {
        cairn_buf_free(&resp);
        return rc;
    }
    json_t *v = json_loadb(resp.ptr ? resp.ptr : "", resp.len, 0, NULL);
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(v, "message"));
        const char *code = json_string_value(json_object_get(v, "error_code"));
        rc = PERR(code && !strcmp(code, "RESOURCE_DOES_NOT_EXIST") ? CAIRN_ENOTFOUND : CAIRN_ERROR,
                  "%s %s: %.150s (HTTP %d)", method, path, msg ? msg : "error", status);
        json_decref(v);
    } else if (!v) {
        rc = PERR(CAIRN_ERROR, "%s %s: the answer is not JSON", method, path);
    } else if (out) {
        *out = v;
    } else {
        json_decref(v);
    }
    cairn_buf_free(&resp);
    return rc;
}

int cairn_pipeline__track_open(pipe_tracker *t, const char *uri, const char *experiment)
{
    memset(t, 0, sizeof(*t));
    t->uri = uri;
    char path[512], enc[300];
    size_t o = 0;
    for (const char *s = experiment; *s && o + 4 < sizeof(enc); s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.')
            enc[o++] = (char)ch;
        else
            o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", ch);
    }
    enc[o] = '\0';
    snprintf(path, sizeof(path), "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", enc);
    json_t *r = NULL;
    int rc = cairn_pipeline__rest(uri, "GET", path, NULL, &r);
    const char *id = NULL;
    if (!rc) {
        id = json_string_value(json_object_get(json_object_get(r, "experiment"), "experiment_id"));
    } else if (rc == CAIRN_ENOTFOUND) {
        json_t *body = json_pack("{s:s}", "name", experiment);
        rc = cairn_pipeline__rest(uri, "POST", "/api/2.0/mlflow/experiments/create", body, &r);
        json_decref(body);
        if (!rc) id = json_string_value(json_object_get(r, "experiment_id"));
    }
    if (!rc && !id) rc = PERR(CAIRN_ERROR, "the tracking server gave no experiment id");
    if (!rc) {
        snprintf(t->exp_id, sizeof(t->exp_id), "%s", id);
        t->on = true;
    }
    json_decref(r);
    return rc;
}

static json_t *tags_json(const cairn_pipeline_kv *tags, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a,
                              json_pack("{s:s,s:s}", "key", tags[i].key, "value", tags[i].value));
    return a;
}

int cairn_pipeline__track_start(pipe_tracker *t, const char *name, const char *parent,
                                const cairn_pipeline_kv *tags, int ntags, char run_id[64])
{
    json_t *jt = tags_json(tags, ntags);
    if (parent)
        json_array_append_new(jt,
                              json_pack("{s:s,s:s}", "key", "mlflow.parentRunId", "value", parent));
    json_array_append_new(
        jt, json_pack("{s:s,s:s}", "key", "mlflow.source.name", "value", "cairn pipeline"));
    json_t *body = json_pack("{s:s,s:s,s:I,s:o}", "experiment_id", t->exp_id, "run_name", name,
                             "start_time", (json_int_t)cairn_time_ms(), "tags", jt);
    json_t *r = NULL;
    int rc = cairn_pipeline__rest(t->uri, "POST", "/api/2.0/mlflow/runs/create", body, &r);
    json_decref(body);
    if (rc) return rc;
    const char *id = json_string_value(
        json_object_get(json_object_get(json_object_get(r, "run"), "info"), "run_id"));
    if (id) snprintf(run_id, 64, "%s", id);
    json_decref(r);
    return id ? 0 : PERR(CAIRN_ERROR, "runs/create answered without a run id");
}

int cairn_pipeline__track_tags(pipe_tracker *t, const char *run_id, const cairn_pipeline_kv *tags,
                               int ntags)
{
    json_t *body = json_pack("{s:s,s:o,s:[],s:[]}", "run_id", run_id, "tags",
                             tags_json(tags, ntags), "params", "metrics");
    int rc = cairn_pipeline__rest(t->uri, "POST", "/api/2.0/mlflow/runs/log-batch", body, NULL);
    json_decref(body);
    return rc;
}

int cairn_pipeline__track_params(pipe_tracker *t, const char *run_id,
                                 const cairn_pipeline_kv *params, int n)
{
    if (!n) return 0;
    json_t *body = json_pack("{s:s,s:o}", "run_id", run_id, "params", tags_json(params, n));
    int rc = cairn_pipeline__rest(t->uri, "POST", "/api/2.0/mlflow/runs/log-batch", body, NULL);
    json_decref(body);
    return rc;
}

/* Appends numeric members of o (prefix.key) to the metrics array. */
static void collect(json_t *arr, json_t *o, const char *prefix, int64_t ts, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        char name[256];
        if (!strcmp(prefix, "") || !strcmp(prefix, "test") || !strcmp(prefix, "metrics"))
            snprintf(name, sizeof(name), "%s", k);
        else
            snprintf(name, sizeof(name), "%s.%s", prefix, k);
        if (json_is_number(v))
            json_array_append_new(arr, json_pack("{s:s,s:f,s:I,s:i}", "key", name, "value",
                                                 json_number_value(v), "timestamp", (json_int_t)ts,
                                                 "step", 0));
        else if (json_is_object(v) && depth < 2)
            collect(arr, v, name, ts, depth + 1);
    }
}

int cairn_pipeline__track_metrics_file(pipe_tracker *t, const char *run_id, const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);
    if (!j) return PERR(CAIRN_EINVALID, "metrics file '%s' is not JSON", path);
    json_t *arr = json_array();
    collect(arr, j, "", cairn_time_ms(), 0);
    json_decref(j);
    int rc = 0;
    if (json_array_size(arr)) {
        json_t *body = json_pack("{s:s,s:O}", "run_id", run_id, "metrics", arr);
        rc = cairn_pipeline__rest(t->uri, "POST", "/api/2.0/mlflow/runs/log-batch", body, NULL);
        json_decref(body);
    }
    json_decref(arr);
    return rc;
}

int cairn_pipeline__track_end(pipe_tracker *t, const char *run_id, bool ok)
{
    json_t *body = json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status",
                             ok ? "FINISHED" : "FAILED", "end_time", (json_int_t)cairn_time_ms());
    int rc = cairn_pipeline__rest(t->uri, "POST", "/api/2.0/mlflow/runs/update", body, NULL);
    json_decref(body);
    return rc;
}

int cairn_pipeline_metric_get(const char *path, const char *name, double *out)
{
    json_t *j = json_load_file(path, 0, NULL);
    if (!j) return PERR(CAIRN_EINVALID, "metrics file '%s' is missing or not JSON", path);
    json_t *v = json_object_get(j, name);
    if (!json_is_number(v)) v = json_object_get(json_object_get(j, "metrics"), name);
    if (!json_is_number(v)) v = json_object_get(json_object_get(j, "test"), name);
    int rc = 0;
    if (json_is_number(v))
        *out = json_number_value(v);
    else
        rc = PERR(CAIRN_ENOTFOUND, "no metric '%s' in %s", name, path);
    json_decref(j);
    return rc;
}
