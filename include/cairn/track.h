/*
 * cairn/track.h - experiment tracking: experiments, runs, params, tags,
 * metrics and dataset inputs, stored through cairn_store and served as the
 * MLflow REST API 2.0 (cairn_track_mount).
 *
 * Writes go through the store's group-committing writer: a call returns (or
 * its done callback fires) only after the data is committed.
 */
#ifndef CAIRN_TRACK_H
#define CAIRN_TRACK_H

#include "cairn/http.h"
#include "cairn/store.h"

typedef struct cairn_track cairn_track;

typedef struct cairn_metric {
    const char *key;
    double value;      /* NaN and +-Inf allowed */
    int64_t timestamp; /* ms since epoch */
    int64_t step;
} cairn_metric;

typedef struct cairn_kv {
    const char *key;
    const char *value;
} cairn_kv;

/* A log-batch request; strings are borrowed until the done callback. */
typedef struct cairn_track_batch {
    const char *run_uuid;
    const cairn_metric *metrics;
    int nmetrics;
    const cairn_kv *params;
    int nparams;
    const cairn_kv *tags;
    int ntags;
} cairn_track_batch;

/* MLflow's per-request limits on log-batch. */
#define CAIRN_TRACK_MAX_METRICS 1000
#define CAIRN_TRACK_MAX_PARAMS 100
#define CAIRN_TRACK_MAX_TAGS 100
#define CAIRN_TRACK_MAX_ENTITIES 1000
#define CAIRN_TRACK_MAX_PARAM_VALUE 6000
#define CAIRN_TRACK_MAX_TAG_VALUE 8000

/* `artifact_root` prefixes new experiments' artifact locations
 * (e.g. "mlflow-artifacts:"). Ensures the "Default" experiment 0 exists. */
CAIRN_API int cairn_track_new(cairn_track **out, cairn_store *store, const char *artifact_root);
CAIRN_API void cairn_track_free(cairn_track *t);
/* Registers the tracking routes under /api/2.0/mlflow and /ajax-api/2.0/mlflow. */
CAIRN_API int cairn_track_mount(cairn_track *t, cairn_http_server *srv);

/* CAIRN_EEXISTS if the name is taken; CAIRN_EINVALID for a bad name. */
CAIRN_API int cairn_track_experiment_create(cairn_track *t, const char *name,
                                            const char *artifact_location, const cairn_kv *tags,
                                            int ntags, int64_t *id_out);
/* CAIRN_ENOTFOUND if the experiment does not exist or is deleted. */
CAIRN_API int cairn_track_run_create(cairn_track *t, int64_t experiment_id, const char *user_id,
                                     const char *run_name, int64_t start_time, const cairn_kv *tags,
                                     int ntags, char run_uuid_out[33]);
/* Checks limits and names (CAIRN_EINVALID), nothing is written on failure. */
CAIRN_API int cairn_track_batch_check(const cairn_track_batch *b);
/* Writes a checked batch and blocks until commit. CAIRN_ENOTFOUND (no run),
 * CAIRN_EINVALID (run not active, or a param changed value). */
CAIRN_API int cairn_track_log_batch(cairn_track *t, const cairn_track_batch *b);
/* As cairn_track_log_batch, answering through done(rc, payload) on the store
 * writer thread. If this returns non-zero, done is never called. */
CAIRN_API int cairn_track_log_batch_async(cairn_track *t, const cairn_track_batch *b,
                                          cairn_write_done done, void *payload);

#include "cairn/blob.h"

/* Mounts the artifact routes: GET /api/2.0/mlflow/artifacts/list (per run)
 * and the mlflow-artifacts proxy (/api/2.0/mlflow-artifacts/artifacts/...:
 * PUT upload, GET download or list, DELETE), whose files are stored in
 * `blob` (content-addressed) with a path index in the metadata store. */
CAIRN_API int cairn_track_artifacts_mount(cairn_track *t, cairn_blob *blob, cairn_http_server *srv,
                                          size_t upload_limit);

#endif
