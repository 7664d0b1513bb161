/*
 * track_read.h - the read side: loads experiments and runs from the store
 * and shapes them as MLflow's JSON messages (Experiment, Run).
 */
#ifndef CAIRN_TRACK_READ_H
#define CAIRN_TRACK_READ_H

#include <jansson.h>

#include "track_internal.h"

/* Appends "?, ?, ..." for n ids to sql and fills params; n is padded up to a
 * bucket size (repeating the last id) so statement texts stay few and the
 * store's statement cache keeps working. Returns the padded count. */
int cairn_track__in_list(cairn_buf *sql, cairn_value *params, const int64_t *ids, int n);

/* Experiments with the given ids, in that order, as JSON Experiment objects. */
int cairn_track__load_experiments(cairn_store *store, const int64_t *ids, int n, json_t **out);
/* Looks up an experiment id by name; CAIRN_ENOTFOUND if none. */
int cairn_track__experiment_by_name(cairn_store *store, const char *name, int64_t *id_out);

/* Runs with the given internal ids, in that order, as JSON Run objects
 * ({info, data: {metrics, params, tags}, inputs}). */
int cairn_track__load_runs(cairn_store *store, const int64_t *ids, int n, json_t **out);

/* int64 as a JSON string ("12"), as MLflow sends ids. */
json_t *cairn_track__id_str(int64_t id);
/* A double as JSON: numbers, or "NaN"/"Infinity"/"-Infinity" strings as proto JSON does. */
json_t *cairn_track__json_double(double v, int is_nan);

#endif
