/*
 * cairn/core.h - logging, time, hashing, randomness, base64, JSON helpers and
 * a thread pool. Everything here knows nothing of the rest of Cairn.
 */
#ifndef CAIRN_CORE_H
#define CAIRN_CORE_H

#include <stdbool.h>
#include <stdio.h>

#include "cairn/buf.h"
#include "cairn/common.h"

/* ---- logging: logfmt lines on one sink (stderr unless a callback is set) ---- */
typedef enum cairn_log_level {
    CAIRN_LOG_DEBUG = 0,
    CAIRN_LOG_INFO = 1,
    CAIRN_LOG_WARN = 2,
    CAIRN_LOG_ERROR = 3,
    CAIRN_LOG_OFF = 4
} cairn_log_level;

typedef void (*cairn_log_cb)(const char *line, size_t len, void *payload);
CAIRN_API void cairn_log_set_level(cairn_log_level level);
CAIRN_API cairn_log_level cairn_log_get_level(void);
CAIRN_API int cairn_log_parse_level(const char *s, cairn_log_level *out);
CAIRN_API void cairn_log_set_callback(cairn_log_cb cb, void *payload);
/* msg is printf-formatted; extra key=value pairs may follow in the text
 * after a "|" separator: cairn_log_(..., "listening|port=%d", port). */
CAIRN_API void cairn_log_(cairn_log_level level, int subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define cairn_log(level, subsys, ...)                                    \
    do {                                                                 \
        if ((level) >= cairn_log_get_level()) cairn_log_((level), (subsys), __VA_ARGS__); \
    } while (0)

/* ---- time ---- */
CAIRN_API int64_t cairn_time_ms(void);       /* wall clock, ms since epoch */
CAIRN_API int64_t cairn_time_us(void);       /* wall clock, µs since epoch */
CAIRN_API int64_t cairn_monotonic_ns(void);  /* monotonic clock */

/* ---- SHA-256 (OpenSSL EVP) ---- */
typedef struct cairn_sha256 cairn_sha256;
CAIRN_API int cairn_sha256_new(cairn_sha256 **out);
CAIRN_API int cairn_sha256_update(cairn_sha256 *h, const void *data, size_t n);
/* Writes 64 hex chars + NUL into hex_out and frees nothing; reusable after cairn_sha256_reset. */
CAIRN_API int cairn_sha256_final_hex(cairn_sha256 *h, char hex_out[65]);
CAIRN_API int cairn_sha256_reset(cairn_sha256 *h);
CAIRN_API void cairn_sha256_free(cairn_sha256 *h);
CAIRN_API int cairn_sha256_hex(const void *data, size_t n, char hex_out[65]);

/* ---- randomness and ids ---- */
CAIRN_API void cairn_random_bytes(void *out, size_t n);
/* 32 lowercase hex chars, as MLflow run ids. */
CAIRN_API void cairn_uuid_hex(char out[33]);

/* ---- base64 (standard alphabet, padded) ---- */
CAIRN_API int cairn_base64_encode(cairn_buf *out, const void *data, size_t n);
/* Decodes into out; CAIRN_EINVALID on malformed input. */
CAIRN_API int cairn_base64_decode(cairn_buf *out, const char *s, size_t n);

/* ---- strings ---- */
/* Strict decimal parse of the whole string; CAIRN_EINVALID otherwise. */
CAIRN_API int cairn_parse_i64(const char *s, int64_t *out);
CAIRN_API int cairn_parse_double(const char *s, double *out);
CAIRN_API bool cairn_str_startswith(const char *s, const char *prefix);

/* ---- filesystem helpers ---- */
/* mkdir -p; existing directories are fine. */
CAIRN_API int cairn_mkdir_p(const char *path, unsigned mode);
/* Reads a whole file into out (bounded by out->max). */
CAIRN_API int cairn_read_file(const char *path, cairn_buf *out);

/* ---- thread pool ---- */
typedef struct cairn_pool cairn_pool;
typedef void (*cairn_task_fn)(void *payload);
/* n_threads <= 0 means one per online core. */
CAIRN_API int cairn_pool_new(cairn_pool **out, int n_threads);
/* Queues fn(payload); never blocks on the task itself. Thread-safe. */
CAIRN_API int cairn_pool_submit(cairn_pool *pool, cairn_task_fn fn, void *payload);
/* Waits for queued tasks to finish, then frees. NULL is a no-op. */
CAIRN_API void cairn_pool_free(cairn_pool *pool);
CAIRN_API int cairn_ncpu(void);

#endif
