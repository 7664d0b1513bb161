/*
 * http_router.c - maps (path, method) to a route.
 *
 * Exact routes live in an array sorted by pattern and are found with
 * bsearch; prefix routes live in an array sorted longest pattern first and
 * are scanned (there are few of them). Several routes may share a pattern
 * with different methods. Tables are built before the server starts and are
 * read-only afterwards, so lookups need no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static const struct {
    unsigned bit;
    const char *name;
} method_names[] = {
    {CAIRN_HTTP_GET, "GET"},       {CAIRN_HTTP_POST, "POST"},   {CAIRN_HTTP_PUT, "PUT"},
    {CAIRN_HTTP_DELETE, "DELETE"}, {CAIRN_HTTP_PATCH, "PATCH"}, {CAIRN_HTTP_HEAD, "HEAD"},
};

unsigned cairn_http__method_bit(const char *method)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(method_names); i++)
        if (strcmp(method, method_names[i].name) == 0) return method_names[i].bit;
    return 0;
}

void cairn_http__methods_str(unsigned mask, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(method_names); i++) {
        if (!(mask & method_names[i].bit)) continue;
        size_t n = strlen(method_names[i].name);
        if (off + n + 3 > size) break;
        if (off) {
            memcpy(buf + off, ", ", 2);
            off += 2;
        }
        memcpy(buf + off, method_names[i].name, n);
        off += n;
        buf[off] = '\0';
    }
}

void cairn_http__router_init(struct cairn_http_router *r)
{
    memset(r, 0, sizeof(*r));
}

void cairn_http__router_free(struct cairn_http_router *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_exact; i++)
        cairn_free(r->exact[i].pattern);
    for (size_t i = 0; i < r->n_prefix; i++)
        cairn_free(r->prefix[i].pattern);
    cairn_free(r->exact);
    cairn_free(r->prefix);
    memset(r, 0, sizeof(*r));
}

int cairn_http__router_add(struct cairn_http_router *r, unsigned methods, const char *pattern,
                           unsigned flags, size_t body_limit, cairn_http_handler handler,
                           void *payload)
{
    if (r->frozen)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP,
                               "routes must be added before the server starts");
    if (!pattern || !pattern[0] || !handler || (methods & 63u) == 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP,
                               "a route needs a pattern, a handler and a method");
    bool prefix = (flags & CAIRN_HTTP_ROUTE_PREFIX) != 0;
    struct cairn_http_route **tab = prefix ? &r->prefix : &r->exact;
    size_t *n = prefix ? &r->n_prefix : &r->n_exact;
    size_t *cap = prefix ? &r->cap_prefix : &r->cap_exact;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *tab = cairn_realloc(*tab, *cap * sizeof(**tab));
    }
    struct cairn_http_route *rt = &(*tab)[(*n)++];
    rt->pattern = cairn_strdup(pattern);
    rt->len = strlen(pattern);
    rt->methods = methods & 63u;
    rt->flags = flags;
    rt->body_limit = body_limit;
    rt->handler = handler;
    rt->payload = payload;
    rt->order = (int)(r->n_exact + r->n_prefix);
    return 0;
}

static int cmp_exact(const void *a, const void *b)
{
    const struct cairn_http_route *x = a, *y = b;
    int c = strcmp(x->pattern, y->pattern);
    return c ? c : x->order - y->order;
}

static int cmp_prefix(const void *a, const void *b)
{
    const struct cairn_http_route *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->order - y->order;
}

void cairn_http__router_freeze(struct cairn_http_router *r)
{
    if (r->n_exact) qsort(r->exact, r->n_exact, sizeof(*r->exact), cmp_exact);
    if (r->n_prefix) qsort(r->prefix, r->n_prefix, sizeof(*r->prefix), cmp_prefix);
    r->frozen = true;
}

static int cmp_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct cairn_http_route *)elem)->pattern);
}

/* HEAD is served by GET routes too. */
static bool allows(const struct cairn_http_route *rt, unsigned method)
{
    if (rt->methods & method) return true;
    return method == CAIRN_HTTP_HEAD && (rt->methods & CAIRN_HTTP_GET);
}

const struct cairn_http_route *cairn_http__router_match(const struct cairn_http_router *r,
                                                        const char *path, unsigned method,
                                                        unsigned *allow_out)
{
    unsigned allow = 0;
    *allow_out = 0;
    if (r->n_exact) {
        const struct cairn_http_route *hit =
            bsearch(path, r->exact, r->n_exact, sizeof(*r->exact), cmp_key);
        if (hit) {
            /* walk back to the first route with this pattern, then forward */
            while (hit > r->exact && strcmp(hit[-1].pattern, path) == 0)
                hit--;
            const struct cairn_http_route *end = r->exact + r->n_exact;
            for (; hit < end && strcmp(hit->pattern, path) == 0; hit++) {
                if (allows(hit, method)) return hit;
                allow |= hit->methods;
            }
        }
    }
    for (size_t i = 0; i < r->n_prefix; i++) {
        const struct cairn_http_route *rt = &r->prefix[i];
        if (strncmp(path, rt->pattern, rt->len) != 0) continue;
        if (allows(rt, method)) return rt;
        allow |= rt->methods;
    }
    *allow_out = allow;
    return NULL;
}
