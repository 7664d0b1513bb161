/*
 * api.h - the MLflow REST edge shared by track/ and registry/: request
 * argument decoding (JSON body for POST/PATCH/DELETE, query string for GET,
 * both accepted where MLflow accepts both), MLflow's error shape, and JSON
 * responses. Everything JSON stays here and in *_api.c files.
 */
#ifndef CAIRN_TRACK_API_H
#define CAIRN_TRACK_API_H

#include <jansson.h>

#include "cairn/http.h"

/* One decoded request. `body` is NULL for GET (or an empty body). */
typedef struct api_call {
    cairn_http_req *req;
    json_t *body;
} api_call;

/* MLflow answers 400 to a POST whose body is not declared as JSON: responds
 * so and returns CAIRN_EINVALID, else 0. cairn_api__begin calls it. */
int cairn_api__check_json(cairn_http_req *req);

/* Handler prologue and error exit shared by the REST handlers: BEGIN decodes
 * the request (answering it on malformed input), FAIL answers with the
 * MLflow error for rc and frees the decoded body. */
#define BEGIN(call, req)                                                                           \
    api_call call;                                                                                 \
    if (cairn_api__begin(&call, req)) return 0

#define FAIL(call, rc)                                                                             \
    do {                                                                                           \
        cairn_api__fail((call).req, rc);                                                           \
        cairn_api__end(&(call));                                                                   \
        return 0;                                                                                  \
    } while (0)

/* Decodes the request's JSON body (if any). On malformed JSON responds 400
 * INVALID_PARAMETER_VALUE and returns CAIRN_EINVALID; the caller just returns. */
int cairn_api__begin(api_call *call, cairn_http_req *req);
void cairn_api__end(api_call *call);

/* Argument accessors: look in the JSON body, then the query string. A value
 * of the wrong JSON type is an error (CAIRN_EINVALID, message set). Missing
 * optional arguments leave *out unchanged and return 0; `required` makes a
 * missing argument CAIRN_EINVALID ("Missing value for required parameter 'x'"). */
int cairn_api__str(api_call *call, const char *key, int required, const char **out);
int cairn_api__i64(api_call *call, const char *key, int required, int64_t *out, int *present);
int cairn_api__dbl(api_call *call, const char *key, int required, double *out);
int cairn_api__bool(api_call *call, const char *key, int required, int *out);
/* A repeated string argument: JSON array of strings, or repeated query args.
 * Returns the count (<= max) or a negative code. */
int cairn_api__str_list(api_call *call, const char *key, const char **out, int max);
/* The JSON array at key in the body (NULL if absent); CAIRN_EINVALID if not an array. */
int cairn_api__array(api_call *call, const char *key, json_t **out);

/* Validates an entity name (metric/param/tag key) as MLflow does: non-empty,
 * at most 250 chars, no leading '/', no '..' path segments, characters from
 * [A-Za-z0-9_ ./:-]. */
int cairn_api__check_key(const char *what, const char *key);

/* Responds with the JSON value (takes the reference) compactly, status 200. */
void cairn_api__ok(cairn_http_req *req, json_t *value);
/* Responds `{}` with 200. */
void cairn_api__empty(cairn_http_req *req);
/* Responds with MLflow's error body for a cairn_code, using the thread's last
 * error message: ENOTFOUND 404 RESOURCE_DOES_NOT_EXIST, EEXISTS 400
 * RESOURCE_ALREADY_EXISTS, EINVALID 400 INVALID_PARAMETER_VALUE, ECONFLICT 400
 * INVALID_STATE, ETOOBIG 400 INVALID_PARAMETER_VALUE, EBUSY 503
 * TEMPORARILY_UNAVAILABLE, else 500 INTERNAL_ERROR. */
void cairn_api__fail(cairn_http_req *req, int code);
/* The same mapping, for handlers that format their own body. */
const char *cairn_api__error_code(int code, int *status);
/* Formats the MLflow error shape; usable as the server's cairn_http_error_fmt. */
void cairn_api__error_fmt(cairn_buf *out, int status, const char *error_code, const char *message,
                          void *payload);

/* Mounts `handler` at /api/2.0/mlflow<path> and /ajax-api/2.0/mlflow<path>. */
int cairn_api__route(cairn_http_server *srv, unsigned methods, const char *path,
                     cairn_http_handler handler, void *payload);

#include "cairn/store.h"

/* Runs `fn` as a group-committed write unit for this request and answers it
 * after commit without holding an HTTP thread: on success `on_ok(req,
 * payload)` responds (NULL: `{}`), on failure the MLflow error body carries
 * the unit's own message. payload must live until the response (allocate it
 * from the request arena). Always produces exactly one response. */
typedef void (*api_ok_fn)(cairn_http_req *req, void *payload);
void cairn_api__submit(cairn_store *store, cairn_http_req *req, cairn_write_fn fn, void *payload,
                       api_ok_fn on_ok);

#endif
