/*
 * cairn/http.h - the HTTP server (libmicrohttpd: epoll, a thread pool sized
 * to the cores, TCP_NODELAY, keep-alive) with a router, and a small client
 * (libcurl) for the CLI.
 *
 * A handler receives a request whose body is already read (bounded by the
 * route's limit; 413 beyond) and answers with one cairn_http_respond*() call,
 * either before returning or later from any thread after cairn_http_defer():
 * the connection is suspended meanwhile and holds no thread (used to answer
 * only after a group commit).
 *
 * Every response carries an `X-Request-Id` header (the client's if it sent
 * one, else a fresh id).
 */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H

#include "cairn/core.h"

typedef struct cairn_http_server cairn_http_server;
typedef struct cairn_http_req cairn_http_req;

typedef enum cairn_http_method {
    CAIRN_HTTP_GET = 1,
    CAIRN_HTTP_POST = 2,
    CAIRN_HTTP_PUT = 4,
    CAIRN_HTTP_DELETE = 8,
    CAIRN_HTTP_PATCH = 16,
    CAIRN_HTTP_HEAD = 32
} cairn_http_method;

/* Handler: must eventually produce exactly one response for req (directly, or
 * after cairn_http_defer from any thread). The return value is ignored unless
 * negative without a response, in which case a 500 is sent. */
typedef int (*cairn_http_handler)(cairn_http_req *req, void *payload);

/* Formats an error body for errors the HTTP layer itself raises (404 no
 * route, 405, 413 body too large, 400 malformed). Writes into out. */
typedef void (*cairn_http_error_fmt)(cairn_buf *out, int status, const char *error_code,
                                     const char *message, void *payload);

typedef struct cairn_http_opts {
    int version;
    const char *host;        /* default 127.0.0.1 */
    int port;                /* 0: ephemeral; read it with cairn_http_server_port */
    int threads;             /* <= 0: one per core */
    size_t body_limit;       /* default body limit for routes; default 16 MiB */
    int timeout_s;           /* idle connection timeout; default 60 */
    cairn_http_error_fmt error_fmt; /* NULL: {"error_code": ..., "message": ...} */
    void *error_payload;
} cairn_http_opts;
#define CAIRN_HTTP_OPTS_VERSION 1
#define CAIRN_HTTP_OPTS_INIT {CAIRN_HTTP_OPTS_VERSION, NULL, 0, 0, 0, 0, NULL, NULL}

/* Route flags. */
#define CAIRN_HTTP_ROUTE_PREFIX 1u   /* pattern matches any path that starts with it;
                                        the remainder is cairn_http_req_rest() */
#define CAIRN_HTTP_ROUTE_BODY_FILE 2u /* body spooled to an unlinked temp file
                                        (cairn_http_req_body_fd), not memory */

CAIRN_API int cairn_http_server_new(cairn_http_server **out, const cairn_http_opts *opts);
/* Registers a route before start. `methods` is a mask of cairn_http_method.
 * Exact-match routes win over prefix routes; longer prefixes win. body_limit
 * 0 means the server default. Not thread-safe; call before start. */
CAIRN_API int cairn_http_route(cairn_http_server *srv, unsigned methods, const char *pattern,
                               unsigned flags, size_t body_limit, cairn_http_handler handler,
                               void *payload);
/* Binds and starts serving. CAIRN_EIO if the address cannot be bound. */
CAIRN_API int cairn_http_server_start(cairn_http_server *srv);
CAIRN_API int cairn_http_server_port(const cairn_http_server *srv);
/* Stops accepting, finishes in-flight requests, frees. NULL is a no-op. */
CAIRN_API void cairn_http_server_free(cairn_http_server *srv);
/* Counts of responses by status class since start (for /metrics). */
CAIRN_API uint64_t cairn_http_server_responses(const cairn_http_server *srv, int status);

/* ---- request accessors (valid until the response is sent) ---- */
CAIRN_API cairn_http_method cairn_http_req_method(const cairn_http_req *req);
CAIRN_API const char *cairn_http_req_path(const cairn_http_req *req);
/* For PREFIX routes: the part of the path after the pattern ("" if none). */
CAIRN_API const char *cairn_http_req_rest(const cairn_http_req *req);
/* First value of a query argument, or NULL. */
CAIRN_API const char *cairn_http_req_query(const cairn_http_req *req, const char *name);
/* All values of a repeated query argument: `name=a&name=b`, `name[]=a`, `name[0]=a`.
 * Returns how many were found (at most max), filling vals. */
CAIRN_API int cairn_http_req_query_all(const cairn_http_req *req, const char *name,
                                       const char **vals, int max);
/* Header value (case-insensitive name), or NULL. */
CAIRN_API const char *cairn_http_req_header(const cairn_http_req *req, const char *name);
/* Request body in memory (NUL-terminated; len excludes the NUL). Empty if none. */
CAIRN_API const char *cairn_http_req_body(const cairn_http_req *req, size_t *len);
/* For BODY_FILE routes: a readable fd positioned at 0 and the body size. */
CAIRN_API int cairn_http_req_body_fd(const cairn_http_req *req, size_t *len);
CAIRN_API const char *cairn_http_req_id(const cairn_http_req *req);
/* Per-request arena allocation, freed when the request ends. Never NULL. */
CAIRN_API void *cairn_http_req_alloc(cairn_http_req *req, size_t n);
CAIRN_API char *cairn_http_req_strdup(cairn_http_req *req, const char *s);

/* ---- responses ---- */
/* Adds a response header (copied). Call before respond. */
CAIRN_API void cairn_http_set_header(cairn_http_req *req, const char *name, const char *value);
/* Sends a response; the body is copied (or taken, see _take). Thread-safe
 * once the request is deferred. Exactly one respond call per request. */
CAIRN_API void cairn_http_respond(cairn_http_req *req, int status, const char *content_type,
                                  const void *body, size_t len);
/* As respond, taking ownership of a cairn_malloc'd body. */
CAIRN_API void cairn_http_respond_take(cairn_http_req *req, int status, const char *content_type,
                                       char *body, size_t len);
/* Streams an open file (taking ownership of fd) of `size` bytes. */
CAIRN_API void cairn_http_respond_fd(cairn_http_req *req, int status, const char *content_type,
                                     int fd, uint64_t size);
/* Error in the server's error shape (see cairn_http_error_fmt). */
CAIRN_API void cairn_http_respond_error(cairn_http_req *req, int status, const char *error_code,
                                        const char *message);
/* Suspends the connection: the handler returns without responding and some
 * thread later calls a respond function, which resumes it. */
CAIRN_API void cairn_http_defer(cairn_http_req *req);

/* HTTP status for a cairn_code (404 ENOTFOUND, 409 EEXISTS/ECONFLICT, 400
 * EINVALID, 413 ETOOBIG, 503 EBUSY, 401 EAUTH, 501 EUNSUPPORTED, 500 else). */
CAIRN_API int cairn_http_status_for(int code);

/* ---- client (libcurl), for the CLI and tests ---- */
/* Performs one request; body may be NULL. Response body goes to resp (bounded
 * by resp->max) and the status to *status. CAIRN_EIO if no connection. */
CAIRN_API int cairn_http_fetch(const char *method, const char *url, const char *content_type,
                               const void *body, size_t len, int *status, cairn_buf *resp);
/* As cairn_http_fetch, also sending req_headers (a NULL-terminated array of
 * "Name: value" strings; NULL for none) and, when resp_headers is not NULL,
 * appending the raw response header lines to it (bounded by its max).
 * CAIRN_ETOOBIG when the response body or headers pass their buffer's max.
 * Thread-safe; each thread keeps its own connection for reuse. */
CAIRN_API int cairn_http_fetch_ex(const char *method, const char *url,
                                  const char *const *req_headers, const char *content_type,
                                  const void *body, size_t len, int *status, cairn_buf *resp,
                                  cairn_buf *resp_headers);

#endif
