/*
 * api.c - request decoding and MLflow-shaped responses for the REST edge.
 * MLflow's proto JSON accepts int64 fields as numbers or decimal strings and
 * doubles as numbers or "NaN"/"Infinity" strings; so do these accessors.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "track_decode.h"

int cairn_api__check_json(cairn_http_req *req)
{
    if (cairn_http_req_method(req) != CAIRN_HTTP_POST) return 0;
    const char *ct = cairn_http_req_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) == 0) return 0;
    cairn_http_respond_error(req, 400, "INVALID_PARAMETER_VALUE",
                             "Bad Request. Content-Type header must be one of "
                             "['application/json']");
    return CAIRN_EINVALID;
}

int cairn_api__begin(api_call *call, cairn_http_req *req)
{
    size_t len;
    const char *body = cairn_http_req_body(req, &len);
    call->req = req;
    call->body = NULL;
    if (cairn_api__check_json(req)) return CAIRN_EINVALID;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) i++;
    if (i == len) return 0;
    json_error_t err;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!v || !json_is_object(v)) {
        char msg[300];
        if (v) snprintf(msg, sizeof(msg), "Request body must be a JSON object");
        else snprintf(msg, sizeof(msg), "Malformed JSON request body: %s (line %d, column %d)",
                      err.text, err.line, err.column);
        json_decref(v);
        cairn_http_respond_error(req, 400, "INVALID_PARAMETER_VALUE", msg);
        return CAIRN_EINVALID;
    }
    call->body = v;
    return 0;
}

void cairn_api__end(api_call *call)
{
    json_decref(call->body);
    call->body = NULL;
}

static int missing(const char *key)
{
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                           "Missing value for required parameter '%s'", key);
}

static json_t *body_get(api_call *call, const char *key)
{
    if (!call->body) return NULL;
    json_t *v = json_object_get(call->body, key);
    return json_is_null(v) ? NULL : v;
}

int cairn_api__str(api_call *call, const char *key, int required, const char **out)
{
    json_t *v = body_get(call, key);
    if (v) {
        if (!json_is_string(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for parameter '%s': expected a string", key);
        *out = json_string_value(v);
        return 0;
    }
    const char *q = cairn_http_req_query(call->req, key);
    if (q) {
        *out = q;
        return 0;
    }
    return required ? missing(key) : 0;
}

int cairn_api__i64(api_call *call, const char *key, int required, int64_t *out, int *present)
{
    json_t *v = body_get(call, key);
    const char *s = NULL;
    if (present) *present = 0;
    if (v) {
        if (json_is_integer(v)) {
            *out = json_integer_value(v);
            if (present) *present = 1;
            return 0;
        }
        if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
            fabs(json_real_value(v)) < 9.2e18) {
            *out = (int64_t)json_real_value(v);
            if (present) *present = 1;
            return 0;
        }
        if (!json_is_string(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for parameter '%s': expected an integer", key);
        s = json_string_value(v);
    } else {
        s = cairn_http_req_query(call->req, key);
    }
    if (!s) return required ? missing(key) : 0;
    if (cairn_parse_i64(s, out))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value '%.64s' for parameter '%s': expected an integer", s, key);
    if (present) *present = 1;
    return 0;
}

int cairn_api__dbl(api_call *call, const char *key, int required, double *out)
{
    json_t *v = body_get(call, key);
    if (v) return cairn_track__parse_double(v, key, out);
    const char *q = cairn_http_req_query(call->req, key);
    if (!q) return required ? missing(key) : 0;
    json_t *s = json_string(q);
    int rc = cairn_track__parse_double(s, key, out);
    json_decref(s);
    return rc;
}

int cairn_api__bool(api_call *call, const char *key, int required, int *out)
{
    json_t *v = body_get(call, key);
    if (v) {
        if (json_is_boolean(v)) {
            *out = json_is_true(v);
            return 0;
        }
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            if (!strcmp(s, "true") || !strcmp(s, "false")) {
                *out = s[0] == 't';
                return 0;
            }
        }
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value for parameter '%s': expected a boolean", key);
    }
    const char *q = cairn_http_req_query(call->req, key);
    if (!q) return required ? missing(key) : 0;
    if (!strcmp(q, "true") || !strcmp(q, "True") || !strcmp(q, "1")) *out = 1;
    else if (!strcmp(q, "false") || !strcmp(q, "False") || !strcmp(q, "0")) *out = 0;
    else
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value '%.32s' for parameter '%s': expected a boolean", q, key);
    return 0;
}

int cairn_api__str_list(api_call *call, const char *key, const char **out, int max)
{
    json_t *v = body_get(call, key);
    if (v) {
        if (!json_is_array(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for parameter '%s': expected a list", key);
        size_t n = json_array_size(v);
        if (n > (size_t)max)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Too many values for parameter '%s' (at most %d)", key, max);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (json_is_integer(e)) {
                char tmp[32];
                snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(e));
                out[i] = cairn_http_req_strdup(call->req, tmp);
                continue;
            }
            if (!json_is_string(e))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                       "Invalid value for parameter '%s': expected strings", key);
            out[i] = json_string_value(e);
        }
        return (int)n;
    }
    return cairn_http_req_query_all(call->req, key, out, max);
}

int cairn_api__array(api_call *call, const char *key, json_t **out)
{
    json_t *v = body_get(call, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_array(v))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value for parameter '%s': expected a list", key);
    *out = v;
    return 0;
}

int cairn_api__check_key(const char *what, const char *key)
{
    size_t n = strlen(key);
    if (n == 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "Invalid %s name: ''", what);
    if (n > 250)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "%s name '%.40s...' had length %zu, which exceeded length limit of 250",
                               what, key, n);
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ' ' || c == '/' || c == ':'))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid %s name: '%.250s'. Names may only contain alphanumerics, "
                                   "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) "
                                   "and slashes (/).",
                                   what, key);
    }
    if (key[0] == '/' || !strcmp(key, "..") || strstr(key, "/../") || !strncmp(key, "../", 3) ||
        (n >= 3 && !strcmp(key + n - 3, "/..")))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid %s name: '%.250s'. Names may be treated as files in certain "
                               "cases, and must not resolve to other names when treated as such.",
                               what, key);
    return 0;
}

void cairn_api__ok(cairn_http_req *req, json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17));
    json_decref(value);
    if (!s) {
        cairn_http_respond_error(req, 500, "INTERNAL_ERROR", "cannot encode response");
        return;
    }
    cairn_http_respond(req, 200, "application/json", s, strlen(s));
    free(s); /* allocated by jansson */
}

void cairn_api__empty(cairn_http_req *req) { cairn_http_respond(req, 200, "application/json", "{}", 2); }

const char *cairn_api__error_code(int code, int *status)
{
    switch (code) {
    case CAIRN_ENOTFOUND: *status = 404; return "RESOURCE_DOES_NOT_EXIST";
    case CAIRN_EEXISTS: *status = 400; return "RESOURCE_ALREADY_EXISTS";
    case CAIRN_EINVALID: *status = 400; return "INVALID_PARAMETER_VALUE";
    case CAIRN_ETOOBIG: *status = 400; return "INVALID_PARAMETER_VALUE";
    case CAIRN_ECONFLICT: *status = 400; return "INVALID_STATE";
    case CAIRN_EBUSY: *status = 503; return "TEMPORARILY_UNAVAILABLE";
    case CAIRN_EUNSUPPORTED: *status = 501; return "NOT_IMPLEMENTED";
    case CAIRN_EAUTH: *status = 401; return "UNAUTHENTICATED";
    default: *status = 500; return "INTERNAL_ERROR";
    }
}

void cairn_api__fail(cairn_http_req *req, int code)
{
    int status;
    const char *ec = cairn_api__error_code(code, &status);
    const char *msg = cairn_error_last()->code == code ? cairn_error_last()->msg : "";
    if (!*msg) msg = status == 500 ? "internal error" : cairn_code_name(code);
    if (status == 500) cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_TRACK, "%s", msg);
    cairn_http_respond_error(req, status, ec, msg);
}

void cairn_api__error_fmt(cairn_buf *out, int status, const char *error_code, const char *message,
                          void *payload)
{
    (void)status;
    (void)payload;
    cairn_buf_puts(out, "{\"error_code\":");
    cairn_buf_put_json_str(out, error_code, strlen(error_code));
    cairn_buf_puts(out, ",\"message\":");
    cairn_buf_put_json_str(out, message, strlen(message));
    cairn_buf_putc(out, '}');
}

int cairn_api__route(cairn_http_server *srv, unsigned methods, const char *path,
                     cairn_http_handler handler, void *payload)
{
    char full[256];
    int rc;
    snprintf(full, sizeof(full), "/api/2.0/mlflow%s", path);
    if ((rc = cairn_http_route(srv, methods, full, 0, 0, handler, payload))) return rc;
    snprintf(full, sizeof(full), "/ajax-api/2.0/mlflow%s", path);
    return cairn_http_route(srv, methods, full, 0, 0, handler, payload);
}

/* ---- deferred writes ---- */

struct api_async {
    cairn_http_req *req;
    cairn_write_fn fn;
    void *payload;
    api_ok_fn on_ok;
    int code;
    char msg[256];
};

/* Runs on the writer thread; keeps the unit's own message, since later units
 * in the same batch overwrite the thread's last error before done runs. */
static int async_unit(cairn_store_tx *tx, void *payload)
{
    struct api_async *a = payload;
    int rc = a->fn(tx, a->payload);
    if (rc < 0) {
        a->code = rc;
        snprintf(a->msg, sizeof(a->msg), "%s", cairn_error_last()->msg);
    }
    return rc;
}

static void async_done(int rc, void *payload)
{
    struct api_async *a = payload;
    if (rc == 0) {
        if (a->on_ok) a->on_ok(a->req, a->payload);
        else cairn_api__empty(a->req);
        return;
    }
    if (a->code != rc) snprintf(a->msg, sizeof(a->msg), "%s", cairn_error_last()->msg);
    cairn_error_set(rc, CAIRN_SUBSYS_TRACK, "%s", a->msg);
    cairn_api__fail(a->req, rc);
}

void cairn_api__submit(cairn_store *store, cairn_http_req *req, cairn_write_fn fn, void *payload,
                       api_ok_fn on_ok)
{
    struct api_async *a = cairn_http_req_alloc(req, sizeof(*a));
    a->req = req;
    a->fn = fn;
    a->payload = payload;
    a->on_ok = on_ok;
    a->code = 0;
    a->msg[0] = '\0';
    cairn_http_defer(req);
    int rc = cairn_store_write_async(store, async_unit, a, async_done, a);
    if (rc) cairn_api__fail(req, rc);
}
