/*
 * http_internal.h - the structs shared by the files of the HTTP module and
 * its library-internal functions (cairn_http__*).
 *
 * A request (struct cairn_http_req) lives from MHD's first access-handler
 * call to MHD's completion notification. Its response travels through a
 * small lock-free state machine (see http_response.c and
 * docs/internals/http.md) so that any thread may answer a deferred request.
 */
#ifndef CAIRN_HTTP_INTERNAL_H
#define CAIRN_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cairn/http.h"

#define CAIRN_HTTP_DEFAULT_BODY_LIMIT ((size_t)16 << 20)
/* A rejected request body (404, 405, 413) up to this size is read and
 * discarded so the connection stays usable; a larger one closes it. */
#define CAIRN_HTTP_DRAIN_MAX ((size_t)64 << 20) /* read and drop up to this much of a rejected body, so the client sees the answer instead of a reset */
#define CAIRN_HTTP_REQ_ID_MAX 128
#define CAIRN_HTTP_ARENA_INLINE 1024

/* ---- router (http_router.c) ---- */

struct cairn_http_route {
    char *pattern; /* owned */
    size_t len;
    unsigned methods;
    unsigned flags;
    size_t body_limit; /* 0: server default */
    cairn_http_handler handler;
    void *payload;
    int order; /* registration order, for a stable sort */
};

struct cairn_http_router {
    struct cairn_http_route *exact; /* sorted by pattern once frozen */
    size_t n_exact, cap_exact;
    struct cairn_http_route *prefix; /* sorted longest first once frozen */
    size_t n_prefix, cap_prefix;
    bool frozen;
};

void cairn_http__router_init(struct cairn_http_router *r);
void cairn_http__router_free(struct cairn_http_router *r);
/* Copies pattern. CAIRN_EINVALID for an empty pattern or method mask, or
 * when called after freeze. */
int cairn_http__router_add(struct cairn_http_router *r, unsigned methods, const char *pattern,
                           unsigned flags, size_t body_limit, cairn_http_handler handler,
                           void *payload);
/* Sorts the tables; after this only lookups are allowed (thread-safe). */
void cairn_http__router_freeze(struct cairn_http_router *r);
/* Finds the route for (path, method): exact routes first, then prefixes
 * longest first; the first route allowing the method wins. Returns the
 * route, or NULL with *allow_out set to the union of the methods of the
 * routes whose pattern matched (0: no pattern matched, i.e. 404). `method`
 * is one cairn_http_method bit, or 0 for a method Cairn does not know. */
const struct cairn_http_route *cairn_http__router_match(const struct cairn_http_router *r,
                                                        const char *path, unsigned method,
                                                        unsigned *allow_out);
/* Writes "GET, POST" for a mask into buf (size >= 48). */
void cairn_http__methods_str(unsigned mask, char *buf, size_t size);
/* Method bit for an HTTP method token, 0 if unknown. */
unsigned cairn_http__method_bit(const char *method);

/* ---- query arguments (http_query.c) ---- */

struct cairn_http_qarg {
    const char *key; /* decoded by MHD; not copied */
    const char *val; /* "" when the argument had no '=' */
    size_t base_len; /* length of key without a trailing "[]" or "[digits]" */
    long index;      /* the digits of "[digits]", else -1 */
};

/* Length of key's base name: "a[]" -> 1, "a[12]" -> 1 (index 12), else
 * strlen(key) (index -1). "[]" alone or "a[x]" are plain names. Can't fail. */
size_t cairn_http__query_base_len(const char *key, size_t len, long *index_out);
/* First value for name (exact key or a bracketed form of it), or NULL. */
const char *cairn_http__query_first(const struct cairn_http_qarg *args, int n, const char *name);
/* All values for name: plain and "name[]" forms in order of appearance;
 * when every match is "name[i]", ordered by i (stable). Fills at most max
 * into vals and returns how many it filled. */
int cairn_http__query_collect(const struct cairn_http_qarg *args, int n, const char *name,
                              const char **vals, int max);

/* ---- requests (http_request.c) ---- */

struct cairn_http_chunk {
    struct cairn_http_chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
};

struct cairn_http_hdr {
    struct cairn_http_hdr *next;
    const char *name, *value; /* arena copies */
};

/* Response state of a request; see http_response.c. */
enum {
    REQ_S_HANDLER = 0,   /* handler running (or not started), no response */
    REQ_S_DEFERRED = 1,  /* cairn_http_defer called, handler still on the stack */
    REQ_S_SUSPENDED = 2, /* handler returned, connection suspended */
    REQ_S_READY = 3      /* response stored in req->resp */
};

struct cairn_http_req {
    cairn_http_server *srv;
    struct MHD_Connection *conn;
    const struct cairn_http_route *route; /* NULL when err_status is set */
    cairn_http_method method;
    const char *path; /* MHD's decoded url; valid for the request */
    const char *rest;
    char id[CAIRN_HTTP_REQ_ID_MAX + 1];

    /* body */
    cairn_buf body;
    int body_fd; /* BODY_FILE routes; -1 otherwise */
    size_t body_len;
    size_t body_limit;
    size_t discarded; /* bytes dropped after a rejection */

    /* an error found before the handler: 404/405/413/503 answered at the end */
    int err_status;
    const char *err_code;
    const char *err_msg;
    unsigned err_allow;

    /* query arguments, collected on first use */
    struct cairn_http_qarg *args;
    int n_args;
    bool args_loaded;

    struct cairn_http_hdr *hdrs;
    bool handled; /* the handler has run */
    bool pending; /* counted in srv->pending (see server_free) */

    /* response state machine */
    atomic_int state;
    atomic_bool responded;
    struct MHD_Response *resp;
    unsigned resp_status;

    /* arena: the inline chunk first, then overflow chunks */
    struct cairn_http_chunk *chunks;
    size_t inline_used;
    _Alignas(max_align_t) unsigned char inline_mem[CAIRN_HTTP_ARENA_INLINE];
};

/* Allocates a request for conn and gives it an id (from X-Request-Id when
 * sane). Aborts only on OOM. */
struct cairn_http_req *cairn_http__req_new(cairn_http_server *srv, struct MHD_Connection *conn,
                                           const char *url, const char *method);
/* Frees the arena, body, temp file and any unsent response. */
void cairn_http__req_free(struct cairn_http_req *req);
/* True when s (n bytes) is usable as a request id: 1..128 chars in 0x21..0x7e. */
bool cairn_http__req_id_ok(const char *s, size_t n);

/* ---- server (http_server.c) ---- */

struct cairn_http_server {
    cairn_http_opts opts;
    char *host;
    char *tmpdir;
    struct cairn_http_router router;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int stopping;
    atomic_long pending;          /* requests that may still suspend; see server_free */
    _Atomic uint64_t counts[500]; /* responses by status, 100..599 */
};

/* Builds the error body in the server's shape into out (bounded by the
 * caller). */
void cairn_http__format_error(const cairn_http_server *srv, cairn_buf *out, int status,
                              const char *code, const char *msg);
/* Queues req's stored response on its connection (from MHD's thread, in
 * the access handler). Returns MHD_YES or MHD_NO. */
enum MHD_Result cairn_http__queue(struct cairn_http_req *req);
/* Called after the handler returned: queue, suspend or 500. */
enum MHD_Result cairn_http__after_handler(struct cairn_http_req *req, int rc);
/* Stores an error response built without the handler. */
void cairn_http__respond_early(struct cairn_http_req *req);

#endif
