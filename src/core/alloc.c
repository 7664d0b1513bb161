/*
 * alloc.c - counted allocation. Every block carries a 16-byte header with its
 * size so the process-wide byte count stays exact (redis zmalloc). Small
 * allocations abort on OOM; cairn_try_malloc is for data-sized requests.
 *
 * CAIRN_TEST_FAIL_ALLOC=N makes the Nth cairn_try_malloc fail (fault injection).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/common.h"

#define HDR 16

static atomic_size_t used;
static atomic_long fail_countdown = -1;
static atomic_int fail_init;

static void oom(size_t n)
{
    fprintf(stderr, "cairn: out of memory allocating %zu bytes\n", n);
    abort();
}

static void *raw_alloc(size_t n, int zero)
{
    if (n > SIZE_MAX - HDR) return NULL;
    char *p = zero ? calloc(1, n + HDR) : malloc(n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof(n));
    atomic_fetch_add(&used, n);
    return p + HDR;
}

void *cairn_malloc(size_t n)
{
    void *p = raw_alloc(n, 0);
    if (!p) oom(n);
    return p;
}

void *cairn_calloc(size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n) oom(SIZE_MAX);
    void *p = raw_alloc(count * n, 1);
    if (!p) oom(count * n);
    return p;
}

void *cairn_try_malloc(size_t n)
{
    if (!atomic_exchange(&fail_init, 1)) {
        const char *e = getenv("CAIRN_TEST_FAIL_ALLOC");
        if (e) atomic_store(&fail_countdown, strtol(e, NULL, 10));
    }
    if (atomic_load(&fail_countdown) > 0 && atomic_fetch_sub(&fail_countdown, 1) == 1) return NULL;
    return raw_alloc(n, 0);
}

void *cairn_realloc(void *p, size_t n)
{
    if (!p) return cairn_malloc(n);
    char *base = (char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof(old));
    if (n > SIZE_MAX - HDR) oom(n);
    char *q = realloc(base, n + HDR);
    if (!q) oom(n);
    memcpy(q, &n, sizeof(n));
    if (n >= old) atomic_fetch_add(&used, n - old);
    else atomic_fetch_sub(&used, old - n);
    return q + HDR;
}

void cairn_free(void *p)
{
    if (!p) return;
    char *base = (char *)p - HDR;
    size_t n;
    memcpy(&n, base, sizeof(n));
    atomic_fetch_sub(&used, n);
    free(base);
}

char *cairn_strndup(const char *s, size_t n)
{
    char *d = cairn_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cairn_strdup(const char *s) { return s ? cairn_strndup(s, strlen(s)) : NULL; }

size_t cairn_alloc_used(void) { return atomic_load(&used); }
