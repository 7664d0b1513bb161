/*
 * track_decode.h - decoding of MLflow request bodies into the tracking C
 * API's types, independent of HTTP so it can be fuzzed on its own. Strings
 * are copied through the caller's allocator (the request arena in the
 * server), because the JSON is freed before deferred writes run.
 */
#ifndef CAIRN_TRACK_DECODE_H
#define CAIRN_TRACK_DECODE_H

#include <jansson.h>

#include "cairn/track.h"

typedef struct track_alloc {
    void *(*alloc)(void *ctx, size_t n); /* never returns NULL */
    void *ctx;
} track_alloc;

/* Proto JSON double: a number, or "NaN" / "Infinity" / "-Infinity" / a decimal string. */
int cairn_track__parse_double(json_t *v, const char *what, double *out);
/* Proto JSON int64: a number or a decimal string; absent -> 0 unless required. */
int cairn_track__parse_i64(json_t *v, const char *what, int required, int64_t *out);
/* [{key, value}] (absent: 0 entries); at most max entries. */
int cairn_track__decode_kv(json_t *arr, const char *field, int max, const track_alloc *a,
                           cairn_kv **out, int *n);
/* [{key, value, timestamp, step}] (absent: 0 entries); at most CAIRN_TRACK_MAX_METRICS. */
int cairn_track__decode_metrics(json_t *arr, const track_alloc *a, cairn_metric **out, int *n);
/* A whole log-batch body ({run_id|run_uuid, metrics, params, tags}), checked
 * with cairn_track_batch_check. CAIRN_EINVALID with MLflow's message. */
int cairn_track__decode_batch(json_t *body, const track_alloc *a, cairn_track_batch *b);

#endif
