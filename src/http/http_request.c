/*
 * http_request.c - the request object: creation with its id, the
 * per-request arena, and the accessors handlers use.
 *
 * The arena starts inside the request itself (one allocation serves a small
 * request entirely) and grows by chained chunks; everything is released at
 * once when MHD reports the request complete (h2o req->pool).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

#define CHUNK_MIN 4096

/* ---- ids ---- */

/* splitmix64 over a per-thread random seed: unique enough for log
 * correlation and far cheaper than a getrandom() call per request. */
static uint64_t next_id64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        cairn_random_bytes(&state, sizeof(state));
        seeded = true;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool cairn_http__req_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > CAIRN_HTTP_REQ_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

static void set_id(struct cairn_http_req *req)
{
    const char *in = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_HEADER_KIND, "X-Request-Id",
                                      strlen("X-Request-Id"), &in, &n) == MHD_YES &&
        in && cairn_http__req_id_ok(in, n)) {
        memcpy(req->id, in, n);
        req->id[n] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t v = next_id64();
    for (int i = 15; i >= 0; i--) {
        req->id[i] = hex[v & 15];
        v >>= 4;
    }
    req->id[16] = '\0';
}

struct cairn_http_req *cairn_http__req_new(cairn_http_server *srv, struct MHD_Connection *conn,
                                           const char *url, const char *method)
{
    /* not calloc: the inline arena needs no zeroing */
    struct cairn_http_req *req = cairn_malloc(sizeof(*req));
    memset(req, 0, offsetof(struct cairn_http_req, inline_mem));
    req->srv = srv;
    req->conn = conn;
    req->path = url;
    req->rest = "";
    req->method = (cairn_http_method)cairn_http__method_bit(method);
    req->body_fd = -1;
    atomic_init(&req->state, REQ_S_HANDLER);
    atomic_init(&req->responded, false);
    set_id(req);
    return req;
}

void cairn_http__req_free(struct cairn_http_req *req)
{
    if (!req) return;
    if (req->resp) MHD_destroy_response(req->resp);
    if (req->body_fd >= 0) close(req->body_fd);
    cairn_buf_free(&req->body);
    struct cairn_http_chunk *c = req->chunks;
    while (c) {
        struct cairn_http_chunk *next = c->next;
        cairn_free(c);
        c = next;
    }
    cairn_free(req);
}

/* ---- arena ---- */

#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

void *cairn_http_req_alloc(cairn_http_req *req, size_t n)
{
    size_t need = ALIGN_UP(n ? n : 1);
    if (need <= CAIRN_HTTP_ARENA_INLINE - req->inline_used) {
        void *p = req->inline_mem + req->inline_used;
        req->inline_used += need;
        return p;
    }
    struct cairn_http_chunk *c = req->chunks;
    if (c && need <= c->cap - c->used) {
        void *p = c->data + c->used;
        c->used += need;
        return p;
    }
    /* a big request gets a chunk of its own, behind the current one, so the
     * current chunk's free space stays usable */
    size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
    struct cairn_http_chunk *nc = cairn_malloc(sizeof(*nc) + cap);
    nc->cap = cap;
    nc->used = need;
    if (c && need > CHUNK_MIN) {
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        req->chunks = nc;
    }
    return nc->data;
}

char *cairn_http_req_strdup(cairn_http_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = cairn_http_req_alloc(req, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* ---- accessors ---- */

cairn_http_method cairn_http_req_method(const cairn_http_req *req)
{
    return req->method;
}
const char *cairn_http_req_path(const cairn_http_req *req)
{
    return req->path;
}
const char *cairn_http_req_rest(const cairn_http_req *req)
{
    return req->rest;
}
const char *cairn_http_req_id(const cairn_http_req *req)
{
    return req->id;
}

struct collect {
    cairn_http_req *req;
    int cap;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)value_size;
    struct collect *c = cls;
    cairn_http_req *req = c->req;
    if (!key) return MHD_YES;
    if (req->n_args == c->cap) {
        int ncap = c->cap ? c->cap * 2 : 8;
        struct cairn_http_qarg *na = cairn_http_req_alloc(req, (size_t)ncap * sizeof(*na));
        if (req->n_args) memcpy(na, req->args, (size_t)req->n_args * sizeof(*na));
        req->args = na;
        c->cap = ncap;
    }
    struct cairn_http_qarg *a = &req->args[req->n_args++];
    a->key = key;
    a->val = value ? value : "";
    a->base_len = cairn_http__query_base_len(key, key_size, &a->index);
    return MHD_YES;
}

/* Collects the arguments once. The request accessors are not called
 * concurrently (the contract hands a request to one thread at a time), so
 * this needs no lock. */
static void load_args(cairn_http_req *req)
{
    if (req->args_loaded) return;
    struct collect c = {req, 0};
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    req->args_loaded = true;
}

const char *cairn_http_req_query(const cairn_http_req *req, const char *name)
{
    cairn_http_req *r = (cairn_http_req *)req; /* lazily filled cache */
    load_args(r);
    return cairn_http__query_first(r->args, r->n_args, name);
}

int cairn_http_req_query_all(const cairn_http_req *req, const char *name, const char **vals,
                             int max)
{
    cairn_http_req *r = (cairn_http_req *)req;
    if (max <= 0) return 0;
    load_args(r);
    return cairn_http__query_collect(r->args, r->n_args, name, vals, max);
}

const char *cairn_http_req_header(const cairn_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *cairn_http_req_body(const cairn_http_req *req, size_t *len)
{
    if (len) *len = req->body.len;
    return cairn_buf_cstr(&req->body);
}

int cairn_http_req_body_fd(const cairn_http_req *req, size_t *len)
{
    if (len) *len = req->body_fd >= 0 ? req->body_len : 0;
    return req->body_fd;
}
