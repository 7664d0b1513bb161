/*
 * cairn/common.h - the error model, allocation and small value types that
 * every Cairn module shares.
 *
 * Fallible functions return int: 0 (CAIRN_OK) or a negative cairn_code, and
 * set a thread-local message readable with cairn_error_last().
 */
#ifndef CAIRN_COMMON_H
#define CAIRN_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CAIRN_API __attribute__((visibility("default")))

typedef enum cairn_code {
    CAIRN_OK = 0,
    CAIRN_ERROR = -1, /* unexpected; see cairn_error_last() */
    CAIRN_ENOTFOUND = -2,
    CAIRN_EEXISTS = -3,
    CAIRN_EINVALID = -4,
    CAIRN_ECONFLICT = -5,
    CAIRN_ETOOBIG = -6,
    CAIRN_EBUSY = -7,
    CAIRN_EIO = -8,
    CAIRN_ECORRUPT = -9,
    CAIRN_EAUTH = -10,
    CAIRN_ETIMEOUT = -11,
    CAIRN_EUNSUPPORTED = -12,
    CAIRN_ENOMEM = -13
} cairn_code;

typedef enum cairn_subsys {
    CAIRN_SUBSYS_CORE = 0,
    CAIRN_SUBSYS_STORE,
    CAIRN_SUBSYS_BLOB,
    CAIRN_SUBSYS_HTTP,
    CAIRN_SUBSYS_TRACK,
    CAIRN_SUBSYS_REGISTRY,
    CAIRN_SUBSYS_SERVER,
    CAIRN_SUBSYS_CLI,
    CAIRN_SUBSYS_ML,
    CAIRN_SUBSYS_SERVE,
    CAIRN_SUBSYS_MONITOR,
    CAIRN_SUBSYS_DATA,
    CAIRN_SUBSYS_PIPELINE,
    CAIRN_SUBSYS_K8S,
    CAIRN_SUBSYS__COUNT
} cairn_subsys;

typedef struct cairn_error {
    cairn_code code;
    int subsys;
    char msg[256];
} cairn_error;

/* The calling thread's last error; never NULL. */
CAIRN_API const cairn_error *cairn_error_last(void);
/* Set the thread's error and return `code`, so callers can `return cairn_error_set(...)`. */
CAIRN_API int cairn_error_set(cairn_code code, int subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
CAIRN_API void cairn_error_clear(void);
/* A short upper-case name for a code ("ENOTFOUND"). */
CAIRN_API const char *cairn_code_name(int code);
CAIRN_API const char *cairn_subsys_name(int subsys);

/* Counted allocation (src/core/alloc.c). Small allocations abort through the
 * OOM handler; cairn_try_malloc returns NULL for data-sized requests. */
CAIRN_API void *cairn_malloc(size_t n);
CAIRN_API void *cairn_calloc(size_t count, size_t n);
CAIRN_API void *cairn_realloc(void *p, size_t n);
CAIRN_API void *cairn_try_malloc(size_t n);
CAIRN_API void cairn_free(void *p);
CAIRN_API char *cairn_strdup(const char *s);
CAIRN_API char *cairn_strndup(const char *s, size_t n);
/* Bytes currently allocated through cairn_* (approximate, all threads). */
CAIRN_API size_t cairn_alloc_used(void);

#define CAIRN_ASSERT(x) assert(x)
#define CAIRN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A borrowed string slice. */
typedef struct cairn_str {
    const char *ptr;
    size_t len;
} cairn_str;

#endif
