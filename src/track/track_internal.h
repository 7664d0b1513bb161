/*
 * track_internal.h - the tracking service's state and the helpers its
 * write units and REST handlers share.
 */
#ifndef CAIRN_TRACK_INTERNAL_H
#define CAIRN_TRACK_INTERNAL_H

#include <string.h>

#include "cairn/track.h"

struct cairn_track {
    cairn_store *store;
    char *artifact_root; /* "mlflow-artifacts:" */
    cairn_blob *blob;    /* set by cairn_track_artifacts_mount; not owned */
};

/* Looks up a run by its 32-hex id inside a write unit; CAIRN_ENOTFOUND if
 * missing, CAIRN_EINVALID if `need_active` and the run is deleted. */
int cairn_track__run_lookup(cairn_store_tx *tx, const char *run_uuid, int need_active,
                            int64_t *run_id_out);
/* Same, on a read connection. */
int cairn_track__run_find(cairn_store *store, const char *run_uuid, int64_t *run_id_out,
                          int *active_out);

/* Create-experiment unit; id filled on success. Strings borrowed. */
typedef struct track_exp_create {
    cairn_track *t;
    const char *name, *loc;
    const cairn_kv *tags;
    int ntags;
    int64_t id;
} track_exp_create;
int cairn_track__exp_create_unit(cairn_store_tx *tx, void *payload);

/* Create-run unit; run_id, uuid, name and artifact_uri filled on success. */
typedef struct track_run_create {
    cairn_track *t;
    int64_t experiment_id;
    const char *user_id, *run_name;
    int64_t start_time;
    const cairn_kv *tags;
    int ntags;
    int64_t run_id;
    char uuid[33];
    char name[300];
    char artifact_uri[1200];
} track_run_create;
int cairn_track__run_create_unit(cairn_store_tx *tx, void *payload);

/* Log-batch unit over a checked `const cairn_track_batch *`. */
int cairn_track__batch_unit(cairn_store_tx *tx, void *payload);

/* Validates an experiment name (non-empty, <= 500 chars). */
int cairn_track__check_experiment_name(const char *name);

/* Row callback that stores the first column as int64 into *(int64_t *)payload. */
int cairn_track__row_i64(const cairn_value *cols, int ncols, void *payload);

#endif
