/*
 * track_fastbatch.h - a fast decoder for the common log-batch body, reading
 * the raw request bytes without building a jansson tree. It accepts only a
 * plain subset of JSON and answers CAIRN_EUNSUPPORTED for anything else, so
 * the caller falls back to json_loadb + cairn_track__decode_batch and every
 * error message stays that path's.
 */
#ifndef CAIRN_TRACK_FASTBATCH_H
#define CAIRN_TRACK_FASTBATCH_H

#include <stddef.h>

#include "track_decode.h"

/* Decodes a log-batch body of `len` bytes (need not be NUL-terminated) into
 * `out`, with the arrays and NUL-terminated string copies allocated through
 * `a` (nothing else is allocated), and runs cairn_track_batch_check on it.
 *
 * Returns 0 only when json_loadb(JSON_REJECT_DUPLICATES) followed by
 * cairn_track__decode_batch would also succeed and produce the same batch
 * (same strings, values bitwise, timestamps, steps); the caller need not
 * check it again. Returns CAIRN_EUNSUPPORTED (message set) in every other
 * case: the body is outside the subset, or malformed, or fails the check;
 * the caller then decodes it the slow way, which gives the real answer.
 * `out` is unspecified after a failure; what was allocated stays allocated.
 *
 * The subset: one object with keys among run_id, run_uuid, metrics, params,
 * tags (each at most once); metrics [{key, value, timestamp, step}] with
 * value a JSON number or "NaN"/"Infinity"/"-Infinity", timestamp (required)
 * and step (optional) JSON integers within int64 (not "-0"); params and tags
 * [{key, value}] of strings (value optional); strings of printable ASCII
 * without backslashes; no null, no other keys, nothing but whitespace after
 * the object. Thread-safe. */
int cairn_track__fast_batch(const char *body, size_t len, const track_alloc *a,
                            cairn_track_batch *out);

#endif
