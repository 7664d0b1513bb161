/*
 * pipe_register.c - the built-in register step: a promotion gate, then a
 * registry version and an alias move, over the MLflow registry REST API.
 *
 * The gate is checked before anything is written, so a model that fails it
 * leaves the registry untouched. The model directory must come from a
 * tracked `cairn train` (its metrics.json names the run), because the
 * version's source is that run's uploaded model artifact.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Checks the gate; CAIRN_EINVALID with the numbers when it does not hold. */
static int check_gate(const cairn_pipeline_register_opts *o, const char *mpath)
{
    if (!o->gate_metric) return 0;
    double v = 0;
    int rc = cairn_pipeline_metric_get(mpath, o->gate_metric, &v);
    if (rc) return rc;
    if (o->has_min && !(v >= o->gate_min))
        return PERR(CAIRN_EINVALID, "promotion gate failed: %s = %.6g is below the minimum %.6g",
                    o->gate_metric, v, o->gate_min);
    if (o->has_max && !(v <= o->gate_max))
        return PERR(CAIRN_EINVALID, "promotion gate failed: %s = %.6g is above the maximum %.6g",
                    o->gate_metric, v, o->gate_max);
    return 0;
}

int cairn_pipeline_register_step(const cairn_pipeline_register_opts *o, int64_t *version_out)
{
    char mpath[4096], own[4096];
    snprintf(own, sizeof(own), "%s/metrics.json", o->model_dir);
    snprintf(mpath, sizeof(mpath), "%s", o->metrics_path ? o->metrics_path : own);
    int rc = check_gate(o, mpath);
    if (rc) return rc;
    if (!o->tracking_uri) return PERR(CAIRN_EINVALID, "register needs a tracking server");
    json_t *m = json_load_file(own, 0, NULL);
    const char *run_id = json_string_value(json_object_get(m, "run_id"));
    if (!run_id) {
        json_decref(m);
        return PERR(CAIRN_EINVALID, "%s names no run_id: train the model with tracking on", own);
    }
    char path[512];
    json_t *r = NULL, *body;
    snprintf(path, sizeof(path), "/api/2.0/mlflow/runs/get?run_id=%s", run_id);
    rc = cairn_pipeline__rest(o->tracking_uri, "GET", path, NULL, &r);
    const char *art = rc ? NULL
                         : json_string_value(json_object_get(
                               json_object_get(json_object_get(r, "run"), "info"), "artifact_uri"));
    char source[1200];
    if (!rc && !art) rc = PERR(CAIRN_ERROR, "run %s has no artifact_uri", run_id);
    if (!rc) snprintf(source, sizeof(source), "%s/model", art);
    json_decref(r);
    r = NULL;
    if (!rc) {
        body = json_pack("{s:s}", "name", o->name);
        rc = cairn_pipeline__rest(o->tracking_uri, "POST",
                                  "/api/2.0/mlflow/registered-models/create", body, NULL);
        json_decref(body);
        if (rc) {
            /* benign: the model usually exists already; the version create below reports real
             * errors */
            rc = 0;
        }
        body = json_pack("{s:s,s:s,s:s}", "name", o->name, "source", source, "run_id", run_id);
        rc = cairn_pipeline__rest(o->tracking_uri, "POST", "/api/2.0/mlflow/model-versions/create",
                                  body, &r);
        json_decref(body);
    }
    const char *ver =
        rc ? NULL
           : json_string_value(json_object_get(json_object_get(r, "model_version"), "version"));
    if (!rc && (!ver || cairn_parse_i64(ver, version_out)))
        rc = PERR(CAIRN_ERROR, "model-versions/create gave no version");
    if (!rc && o->alias) {
        body = json_pack("{s:s,s:s,s:s}", "name", o->name, "alias", o->alias, "version", ver);
        rc = cairn_pipeline__rest(o->tracking_uri, "POST",
                                  "/api/2.0/mlflow/registered-models/alias", body, NULL);
        json_decref(body);
    }
    json_decref(r);
    json_decref(m);
    return rc;
}
