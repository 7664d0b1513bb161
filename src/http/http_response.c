/*
 * http_response.c - building responses and handing them to MHD from any
 * thread.
 *
 * A request's response moves through an atomic state (http_internal.h):
 *
 *   HANDLER --defer--> DEFERRED --handler returns, suspend--> SUSPENDED
 *      |                  |                                     |
 *      +-----respond------+-----------respond-------------------+--> READY
 *
 * respond() stores the MHD response, then swaps the state to READY; only
 * when it saw SUSPENDED does it resume the connection. The MHD thread, once
 * the handler has returned, queues a READY response at once (the fast path:
 * a synchronous answer, or a deferred one that came back before the handler
 * returned). Otherwise it suspends first and only then publishes SUSPENDED
 * with a compare-and-swap; if the CAS finds READY, a responder slipped in
 * between and the MHD thread resumes the connection itself. So a connection
 * is never suspended after its response is ready, and exactly one resume
 * follows each suspend.
 */
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

#define ERROR_BODY_MAX 8192

void cairn_http_set_header(cairn_http_req *req, const char *name, const char *value)
{
    struct cairn_http_hdr *h = cairn_http_req_alloc(req, sizeof(*h));
    h->name = cairn_http_req_strdup(req, name);
    h->value = cairn_http_req_strdup(req, value);
    h->next = req->hdrs;
    req->hdrs = h;
}

void cairn_http_defer(cairn_http_req *req)
{
    int expect = REQ_S_HANDLER;
    /* a request already answered stays READY */
    atomic_compare_exchange_strong(&req->state, &expect, REQ_S_DEFERRED);
}

/* Adds the common headers and publishes resp as req's answer. Takes
 * ownership of resp (NULL: 500 without body, MHD could not allocate). */
static void publish(cairn_http_req *req, unsigned status, const char *content_type,
                    struct MHD_Response *resp)
{
    if (atomic_exchange(&req->responded, true)) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_HTTP,
                  "second response for one request ignored|request_id=%s", req->id);
        if (resp) MHD_destroy_response(resp);
        return;
    }
    if (!resp) {
        status = 500;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (resp) {
        if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(resp, "X-Request-Id", req->id);
        /* set_header pushes at the front; reverse to keep call order */
        struct cairn_http_hdr *rev = NULL, *h = req->hdrs;
        while (h) {
            struct cairn_http_hdr *next = h->next;
            h->next = rev;
            rev = h;
            h = next;
        }
        req->hdrs = NULL;
        for (h = rev; h; h = h->next)
            MHD_add_response_header(resp, h->name, h->value);
    }
    req->resp = resp;
    req->resp_status = status;
    int prev = atomic_exchange(&req->state, REQ_S_READY);
    /* From here req may already be gone if it was suspended: the MHD thread
     * owns it again after the resume. */
    if (prev == REQ_S_SUSPENDED) MHD_resume_connection(req->conn);
}

void cairn_http_respond(cairn_http_req *req, int status, const char *content_type, const void *body,
                        size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    publish(req, (unsigned)status, content_type, r);
}

static void free_body(void *p)
{
    cairn_free(p);
}

void cairn_http_respond_take(cairn_http_req *req, int status, const char *content_type, char *body,
                             size_t len)
{
    struct MHD_Response *r;
    if (body)
        r = MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) cairn_free(body);
    publish(req, (unsigned)status, content_type, r);
}

void cairn_http_respond_fd(cairn_http_req *req, int status, const char *content_type, int fd,
                           uint64_t size)
{
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (!r && fd >= 0) close(fd);
    publish(req, (unsigned)status, content_type, r);
}

static void default_error(cairn_buf *out, const char *code, const char *msg)
{
    cairn_buf_puts(out, "{\"error_code\":");
    cairn_buf_put_json_str(out, code, strlen(code));
    cairn_buf_puts(out, ",\"message\":");
    cairn_buf_put_json_str(out, msg, strlen(msg));
    cairn_buf_putc(out, '}');
}

void cairn_http__format_error(const cairn_http_server *srv, cairn_buf *out, int status,
                              const char *code, const char *msg)
{
    if (srv->opts.error_fmt)
        srv->opts.error_fmt(out, status, code, msg, srv->opts.error_payload);
    else
        default_error(out, code, msg);
}

void cairn_http_respond_error(cairn_http_req *req, int status, const char *error_code,
                              const char *message)
{
    cairn_buf b = CAIRN_BUF_INIT(ERROR_BODY_MAX);
    cairn_http__format_error(req->srv, &b, status, error_code ? error_code : "INTERNAL_ERROR",
                             message ? message : "");
    if (!b.ptr) /* over the bound: the formatter's buffer was freed */
        default_error(&b, error_code ? error_code : "INTERNAL_ERROR", "error message too long");
    size_t len;
    char *body = cairn_buf_detach(&b, &len);
    cairn_http_respond_take(req, status, "application/json", body, len);
}

void cairn_http__respond_early(struct cairn_http_req *req)
{
    if (req->err_allow) {
        char allow[64];
        cairn_http__methods_str(req->err_allow, allow, sizeof(allow));
        cairn_http_set_header(req, "Allow", allow);
    }
    if (req->err_status == 503) cairn_http_set_header(req, "Connection", "close");
    cairn_http_respond_error(req, req->err_status, req->err_code, req->err_msg);
}

enum MHD_Result cairn_http__queue(struct cairn_http_req *req)
{
    cairn_http_server *srv = req->srv;
    struct MHD_Response *resp = req->resp;
    unsigned status = req->resp_status;
    req->resp = NULL;
    if (status >= 100 && status <= 599) atomic_fetch_add(&srv->counts[status - 100], 1);
    enum MHD_Result rc = resp ? MHD_queue_response(req->conn, status, resp) : MHD_NO;
    if (resp) MHD_destroy_response(resp); /* MHD holds its own reference */
    if (req->pending) {
        req->pending = false;
        atomic_fetch_sub(&srv->pending, 1);
    }
    return rc;
}

enum MHD_Result cairn_http__after_handler(struct cairn_http_req *req, int rc)
{
    int st = atomic_load(&req->state);
    if (st == REQ_S_READY) return cairn_http__queue(req);
    if (st == REQ_S_DEFERRED) {
        MHD_suspend_connection(req->conn);
        int expect = REQ_S_DEFERRED;
        if (!atomic_compare_exchange_strong(&req->state, &expect, REQ_S_SUSPENDED))
            MHD_resume_connection(req->conn); /* answered meanwhile: queued on resume */
        return MHD_YES;
    }
    /* no response and not deferred */
    const cairn_error *e = cairn_error_last();
    const char *msg = rc < 0 && e->code != CAIRN_OK ? e->msg : "handler produced no response";
    if (rc >= 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_HTTP, "handler returned without a response|path=%s",
                  req->path);
    cairn_http_respond_error(req, 500, "INTERNAL_ERROR", msg);
    return cairn_http__queue(req);
}
