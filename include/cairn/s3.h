/*
 * cairn/s3.h - a client for S3-compatible object storage (AWS S3, MinIO,
 * Ceph RGW, s3rver, ...) on libcurl, signing every request with AWS
 * Signature Version 4.
 *
 * One client is bound to one bucket and an optional key prefix; every key
 * passed to or returned by these functions is relative to that prefix.
 * Objects at or below the multipart threshold go up in one PUT signed with
 * the SHA-256 of the body; larger ones use a multipart upload whose parts
 * (each also signed with its SHA-256) are sent in parallel by a small thread
 * pool, and the upload is aborted if any part fails. Requests are retried
 * with exponential backoff and jitter on connection errors, timeouts, 5xx
 * and 429; S3 error documents are surfaced as "Code: Message".
 *
 * Error codes used throughout: CAIRN_ENOTFOUND (no such object or bucket),
 * CAIRN_EAUTH (missing or rejected credentials: 401/403), CAIRN_EIO (the
 * server could not be reached or kept failing after the retries, or a local
 * file could not be read or written), CAIRN_EINVALID (bad options or key),
 * CAIRN_ETOOBIG (get_mem beyond its buffer's max), CAIRN_ERROR (anything
 * else the server refused, with its message).
 *
 * Thread safety: a client is immutable after cairn_s3_new, and every
 * operation may be called on the same client from many threads at once.
 */
#ifndef CAIRN_S3_H
#define CAIRN_S3_H

#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/common.h"

typedef struct cairn_s3 cairn_s3;

typedef struct cairn_s3_opts {
    int version;
    /* "http(s)://host[:port]" of an S3-compatible server. NULL: the
     * environment's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself
     * (https://s3.<region>.amazonaws.com). */
    const char *endpoint;
    /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, else "us-east-1". */
    const char *region;
    const char *bucket; /* required */
    /* Prepended to every key ("models/" -> "models/<key>"); NULL or "" for none.
     * Used as given: add the trailing '/' yourself if you want one. */
    const char *prefix;
    /* NULL: $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY / $AWS_SESSION_TOKEN.
     * Access and secret key must both end up set (else CAIRN_EAUTH). */
    const char *access_key;
    const char *secret_key;
    const char *session_token;
    /* 1: http://host/bucket/key; 0: http://bucket.host/key; -1 (default):
     * path-style when an endpoint is given, virtual-hosted for AWS. */
    int path_style;
    /* Objects larger than this use a multipart upload. 0: $CAIRN_S3_MULTIPART_BYTES,
     * else 64 MiB. */
    uint64_t multipart_threshold;
    /* Size of each multipart part. 0: $CAIRN_S3_PART_BYTES, else 16 MiB.
     * Raised to the 5 MiB that S3 requires of every part but the last. */
    uint64_t part_size;
    int parallel;           /* parts in flight per transfer; 0: 4 */
    int max_retries;        /* retries after the first attempt; 0: 4; -1: none */
    int retry_base_ms;      /* first backoff; doubles each retry, capped at 10 s; 0: 200 */
    int connect_timeout_ms; /* 0: 10000 */
    int stall_timeout_s;    /* abort a request moving < 1 byte/s this long; 0: 60 */
    int timeout_ms;         /* whole-request limit; 0: none (large objects) */
} cairn_s3_opts;

#define CAIRN_S3_OPTS_VERSION 1
#define CAIRN_S3_OPTS_INIT {CAIRN_S3_OPTS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, 0, 0, 0, 0, 0, 0, 0, 0}

/* What HEAD or a listing says about an object. */
typedef struct cairn_s3_object {
    const char *key;   /* relative to the client's prefix; borrowed (see the call) */
    uint64_t size;
    char etag[72];     /* without quotes; "" if the server sent none */
    int64_t mtime_ms;  /* last modified, ms since epoch; 0 if unknown */
    int is_prefix;     /* a common prefix ("directory") of a delimited listing:
                          key ends with the delimiter, size/etag unset */
} cairn_s3_object;

/* Creates a client from opts (copied; no pointer in opts is kept). Makes no
 * request. CAIRN_EINVALID for a missing bucket or a malformed endpoint,
 * CAIRN_EAUTH when no credentials are given or in the environment. */
CAIRN_API int cairn_s3_new(cairn_s3 **out, const cairn_s3_opts *opts);
/* NULL is a no-op. No operation may be in flight. */
CAIRN_API void cairn_s3_free(cairn_s3 *s3);

/* HEAD: fills *out (out->key points at `key`). CAIRN_ENOTFOUND when absent. */
CAIRN_API int cairn_s3_head(cairn_s3 *s3, const char *key, cairn_s3_object *out);
/* Uploads the file at `path` as `key` (single PUT or multipart, see above).
 * An object already at `key` is replaced. CAIRN_EIO if the file cannot be read. */
CAIRN_API int cairn_s3_put_file(cairn_s3 *s3, const char *key, const char *path);
/* Uploads len bytes from memory (borrowed for the call) as `key`. */
CAIRN_API int cairn_s3_put_mem(cairn_s3 *s3, const char *key, const void *data, size_t len);
/* Downloads `key` into the file `path`, streamed: written to a temporary file
 * beside it and renamed into place only when complete, so `path` is never
 * left half-written. CAIRN_ENOTFOUND when absent. */
CAIRN_API int cairn_s3_get_file(cairn_s3 *s3, const char *key, const char *path);
/* Appends the object's bytes to out, bounded by out->max (CAIRN_ETOOBIG past
 * it; out is then freed, as cairn_buf does). */
CAIRN_API int cairn_s3_get_mem(cairn_s3 *s3, const char *key, cairn_buf *out);
/* Deletes `key`. Deleting an absent key succeeds (S3 semantics). */
CAIRN_API int cairn_s3_delete(cairn_s3 *s3, const char *key);

/* Called once per listed object, in key order; obj and obj->key are valid
 * only during the call. Return 0 to go on, non-zero to stop the listing
 * (cairn_s3_list then returns that value). */
typedef int (*cairn_s3_list_cb)(const cairn_s3_object *obj, void *payload);
/* Lists the keys starting with `prefix` (relative to the client's prefix;
 * NULL or "" for all) with ListObjectsV2, following continuation tokens.
 * With a delimiter (usually "/"), keys sharing the part up to the next
 * delimiter are reported once, as an is_prefix entry; NULL lists recursively.
 * If the callback is never called, nothing matched. */
CAIRN_API int cairn_s3_list(cairn_s3 *s3, const char *prefix, const char *delimiter,
                            cairn_s3_list_cb cb, void *payload);

/* Splits "s3://bucket/key/path" into a bucket and a key ("" when the URL
 * names only the bucket). Both are cairn_malloc'd for the caller.
 * CAIRN_EINVALID if url is not an s3:// URL with a bucket. */
CAIRN_API int cairn_s3_parse_url(const char *url, char **bucket_out, char **key_out);

#endif
