/*
 * serve_api.c - the Open Inference Protocol V2 REST edge: server and model
 * health, metadata, and inference (/v2, /v2/health/..., /v2/models/{m}
 * [/versions/{v}][/ready|/infer]). JSON is decoded here into a frame and
 * the model manager's loaded model predicts it.
 *
 * Key idea: one prefix route owns everything under /v2/, so every answer,
 * including "no such endpoint", has the OIP error shape {"error": "..."}.
 * Input tensors are accepted in two layouts (docs/internals/serve.md): one
 * 2-D numeric tensor [batch, n_features] in the model's feature order, or
 * one 1-D tensor per feature named after it (BYTES for categorical
 * features, matched to the training dictionary by category name).
 * Responses are written with a cairn_buf, %.17g for doubles, so values
 * round-trip exactly.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cairn/serve.h"
#include "serve_internal.h"
#include "monitor_drift.h"
#include "monitor_quality.h"


/* ================= responses ================= */

static void respond_err(cairn_http_req *req, int status, const char *msg)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"error\":");
    cairn_buf_put_json_str(&b, msg, strlen(msg));
    cairn_buf_putc(&b, '}');
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, status, "application/json", body, n);
}

/* Answers with the thread's last error and the status its code maps to. */
static int respond_code(cairn_http_req *req, int code)
{
    respond_err(req, cairn_http_status_for(code), cairn_error_last()->msg);
    return 0;
}

static void respond_buf(cairn_http_req *req, cairn_buf *b)
{
    size_t n;
    char *body = cairn_buf_detach(b, &n);
    cairn_http_respond_take(req, 200, "application/json", body, n);
}

void cairn_serve__model_headers(cairn_http_req *req, const cairn_serve_model *m)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)cairn_serve_model_version(m));
    cairn_http_set_header(req, "X-Model-Name", cairn_serve_model_name(m));
    cairn_http_set_header(req, "X-Model-Version", v);
}

void cairn_serve__put_double(cairn_buf *b, double x)
{
    if (isfinite(x))
        cairn_buf_printf(b, "%.17g", x);
    else
        cairn_buf_puts(b, "null"); /* JSON has no NaN / Inf */
}

/* ================= handlers ================= */

typedef struct route {
    const char *name;    /* model name (arena) */
    const char *version; /* version spec or NULL (arena) */
    const char *action;  /* "", "ready" or "infer" */
} route;

/* Splits "NAME[/versions/V][/ready|/infer]" (rest after "models/"). */
static int parse_model_path(cairn_http_req *req, const char *rest, route *r)
{
    char *p = cairn_http_req_strdup(req, rest);
    char *parts[5];
    int n = 0;
    for (char *s = p; n < 5;) {
        parts[n++] = s;
        char *slash = strchr(s, '/');
        if (!slash) break;
        *slash = '\0';
        s = slash + 1;
    }
    r->name = parts[0];
    r->version = NULL;
    r->action = "";
    int i = 1;
    if (n >= 3 && strcmp(parts[1], "versions") == 0) {
        r->version = parts[2];
        if (!*r->version) return -1;
        i = 3;
    }
    if (i < n) {
        r->action = parts[i++];
        if (strcmp(r->action, "ready") && strcmp(r->action, "infer") &&
            strcmp(r->action, "feedback"))
            return -1;
    }
    if (i != n || !*r->name) return -1;
    return 0;
}

static int version_row(const cairn_value *cols, int ncols, void *payload)
{
    cairn_buf *b = payload;
    if (ncols < 1 || cols[0].type != CAIRN_V_INT) return 0;
    if (b->ptr[b->len - 1] != '[') cairn_buf_putc(b, ',');
    cairn_buf_printf(b, "\"%lld\"", (long long)cols[0].u.i);
    return 0;
}

const char *cairn_serve__task_name(cairn_task t)
{
    switch (t) {
    case CAIRN_TASK_REGRESSION:
        return "regression";
    case CAIRN_TASK_BINARY:
        return "binary";
    case CAIRN_TASK_MULTICLASS:
        return "multiclass";
    case CAIRN_TASK_CLUSTERING:
        return "clustering";
    }
    return "unknown";
}

/* Model metadata: the 2-D input tensor, the outputs, and (in parameters)
 * the per-feature inputs with their datatypes. */
static int model_metadata(cairn_http_req *req, cairn_serve *s, cairn_serve_model *sm)
{
    const cairn_model *m = cairn_serve_model_get(sm);
    int nf = cairn_model_n_features(m), k = cairn_model_n_outputs(m);
    const char *name = cairn_serve_model_name(sm);
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"name\":");
    cairn_buf_put_json_str(&b, name, strlen(name));
    cairn_buf_puts(&b, ",\"versions\":[");
    int rc = cairn_serve__versions(s, name, version_row, &b);
    if (rc) {
        cairn_buf_free(&b);
        return respond_code(req, rc);
    }
    int has_cat = 0;
    for (int j = 0; j < nf; j++)
        has_cat |= cairn_model_feature_type(m, j) == CAIRN_COL_CAT;
    cairn_buf_printf(&b,
                     "],\"platform\":\"cairn\",\"inputs\":[{\"name\":\"input-0\",\"datatype\":"
                     "\"%s\",\"shape\":[-1,%d]}],\"outputs\":[",
                     has_cat ? "BYTES" : "FP64", nf);
    if (cairn_serve__is_classifier(m))
        cairn_buf_printf(&b, "{\"name\":\"proba\",\"datatype\":\"FP64\",\"shape\":[-1,%d]},", k);
    cairn_buf_printf(&b, "{\"name\":\"predict\",\"datatype\":\"%s\",\"shape\":[-1]}]",
                     cairn_serve__is_classifier(m)                               ? "BYTES"
                     : cairn_model_task(m) == CAIRN_TASK_CLUSTERING ? "INT64"
                                                                    : "FP64");
    cairn_buf_printf(&b,
                     ",\"parameters\":{\"model_version\":\"%lld\",\"task\":\"%s\",\"features\":[",
                     (long long)cairn_serve_model_version(sm), cairn_serve__task_name(cairn_model_task(m)));
    for (int j = 0; j < nf; j++) {
        const char *fn = cairn_model_feature_name(m, j);
        cairn_buf_puts(&b, j ? ",{\"name\":" : "{\"name\":");
        cairn_buf_put_json_str(&b, fn, strlen(fn));
        cairn_buf_printf(&b, ",\"datatype\":\"%s\",\"shape\":[-1]}",
                         cairn_model_feature_type(m, j) == CAIRN_COL_CAT ? "BYTES" : "FP64");
    }
    cairn_buf_puts(&b, "]");
    if (cairn_serve__is_classifier(m)) {
        cairn_buf_puts(&b, ",\"class_labels\":[");
        int nc = cairn_model_task(m) == CAIRN_TASK_BINARY ? 2 : k;
        for (int c = 0; c < nc; c++) {
            const char *l = cairn_model_class_label(m, c);
            if (c) cairn_buf_putc(&b, ',');
            if (l)
                cairn_buf_put_json_str(&b, l, strlen(l));
            else
                cairn_buf_printf(&b, "\"%d\"", c);
        }
        cairn_buf_putc(&b, ']');
    }
    cairn_buf_puts(&b, "}}");
    respond_buf(req, &b);
    return 0;
}

void cairn_serve__record(cairn_serve *s, const char *request_id, const char *deployment,
                         const cairn_serve_model *sm, const cairn_frame *X, const double *pred,
                         int64_t total_ns)
{
    const cairn_model *m = cairn_serve_model_get(sm);
    const char *name = cairn_serve_model_name(sm);
    int64_t version = cairn_serve_model_version(sm);
    int k = cairn_model_n_outputs(m);
    cairn_predlog *log = cairn_serve__predlog(s);
    if (log) {
        cairn_predlog_rec rec = {request_id, 0,        deployment ? deployment : "", name, version,
                                 total_ns,   X,        pred,                         k};
        cairn_predlog_append(log, &rec); /* a full buffer drops (counted), never waits */
    }
    /* counted before the drift window sees the rows: a window this request
     * closes includes it in its request statistics */
    if (deployment) cairn_serve__deploy_observe(deployment, name, version, 1, total_ns);
    if (cairn_serve__drift_enabled()) { /* serve.monitor: the inline monitors */
        /* the outputs, so delayed labels join by request id; the drift window */
        cairn_serve__quality_record(request_id, deployment, name, version, m, pred, X->nrows, k);
        cairn_serve__drift_observe(deployment, sm, X, pred, X->nrows, k);
    }
}

/* Inference requests between their handler's start and their answer. */
static atomic_long in_flight;

/* One inference request from decoding to its answer. Heap-allocated so it
 * can outlive the handler while the request waits for a dynamic batch. */
typedef struct infer_ctx {
    cairn_serve_batch_item item; /* first: the batcher hands it back */
    cairn_http_req *req;
    cairn_serve *s;
    cairn_serve_model *sm; /* the reference this request holds */
    cairn_serve_v2 r;
    const char *deployment;    /* request arena, or NULL */
    cairn_serve_pick pick;     /* shadow target (request arena) when deployed */
    int64_t t0;
} infer_ctx;

/* Observes and answers an inference that failed with rc (message in the
 * thread's last error), then frees ctx. */
static void infer_fail(infer_ctx *c, int rc, int64_t queue_ns, int64_t compute_ns)
{
    int status = cairn_http_status_for(rc);
    int64_t total = cairn_monotonic_ns() - c->t0;
    const char *name = cairn_serve_model_name(c->sm);
    int64_t version = cairn_serve_model_version(c->sm);
    cairn_serve_obs o = {c->deployment, name, version, status, 0, total, queue_ns, compute_ns, 0};
    atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
    cairn_serve__observe(&o); /* before answering: a scrape after the answer sees it */
    if (c->deployment) cairn_serve__deploy_observe(c->deployment, name, version, 0, total);
    respond_err(c->req, status, cairn_error_last()->msg);
    cairn_serve_release(c->sm);
    cairn_serve__v2_free(&c->r);
    cairn_free(c);
}

/* Encodes and sends the answer for n rows of predictions, records the
 * request (metrics, deployment statistics, shadow copy), frees ctx. */
static void infer_answer(infer_ctx *c, const double *pred, int64_t queue_ns, int64_t compute_ns,
                         size_t batch_rows)
{
    const cairn_model *m = cairn_serve_model_get(c->sm);
    const char *name = cairn_serve_model_name(c->sm);
    int64_t version = cairn_serve_model_version(c->sm);
    size_t n = c->r.frame->nrows;
    int k = cairn_model_n_outputs(m);
    const char *rid = c->r.id ? c->r.id : cairn_http_req_id(c->req);
    cairn_buf b = CAIRN_BUF_INIT(0);
    size_t json_len = cairn_serve__v2_encode(&b, m, &c->r, name, version, rid, pred, n, k);
    int64_t total = cairn_monotonic_ns() - c->t0;
    cairn_serve_obs o = {c->deployment, name,     version,    200,       n,
                         total,         queue_ns, compute_ns, batch_rows};
    cairn_serve__observe(&o);
    atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
    cairn_serve__record(c->s, rid, c->deployment, c->sm, c->r.frame, pred, total);
    if (c->deployment) {
        if (c->pick.shadow_model) { /* the frame moves to the shadow worker */
            double *copy = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)k);
            memcpy(copy, pred, sizeof(double) * n * (size_t)k);
            cairn_serve__shadow_submit(c->s, c->deployment, c->pick.shadow_model,
                                       c->pick.shadow_spec, c->r.frame, copy, k, name, version);
            c->r.frame = NULL;
        }
    }
    if (json_len) {
        char num[32];
        snprintf(num, sizeof(num), "%zu", json_len);
        cairn_http_set_header(c->req, "Inference-Header-Content-Length", num);
    }
    size_t blen;
    char *out = cairn_buf_detach(&b, &blen);
    cairn_serve_release(c->sm);
    cairn_serve__v2_free(&c->r);
    cairn_http_req *req = c->req;
    cairn_free(c);
    cairn_http_respond_take(req, 200, json_len ? "application/octet-stream" : "application/json",
                            out, blen);
}

/* The batcher's completion callback (any thread). */
static void infer_batched(cairn_serve_batch_item *it, int rc, const double *pred,
                          int64_t queue_ns, int64_t compute_ns, size_t batch_rows)
{
    infer_ctx *c = (infer_ctx *)it;
    if (rc)
        infer_fail(c, rc, queue_ns, compute_ns);
    else
        infer_answer(c, pred, queue_ns, compute_ns, batch_rows);
}

/* POST .../infer: decodes the request, then predicts it at once or joins a
 * dynamic batch (deferring the answer). Takes over the reference to sm. */
static void infer(cairn_http_req *req, cairn_serve *s, cairn_serve_model *sm,
                  const char *deployment, const cairn_serve_pick *pick)
{
    atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
    infer_ctx *c = cairn_calloc(1, sizeof(*c));
    c->t0 = cairn_monotonic_ns();
    c->req = req;
    c->s = s;
    c->sm = sm;
    c->deployment = deployment;
    if (pick) c->pick = *pick;
    const cairn_model *m = cairn_serve_model_get(sm);
    size_t len;
    const char *body = cairn_http_req_body(req, &len);
    const char *hl = cairn_http_req_header(req, "Inference-Header-Content-Length");
    int64_t header_len = -1;
    int rc;
    if (hl && (cairn_parse_i64(hl, &header_len) || header_len < 0))
        rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                             "Inference-Header-Content-Length '%.40s' is not a byte count", hl);
    else
        rc = cairn_serve__v2_decode(m, body, len, header_len, &c->r);
    if (rc) {
        infer_fail(c, rc, -1, -1);
        return;
    }
    size_t n = c->r.frame->nrows;
    if (cairn_serve__batch_enabled(n)) {
        c->item.model = m;
        c->item.frame = c->r.frame;
        c->item.done = infer_batched;
        cairn_http_defer(req); /* before the batch can answer it from another thread */
        cairn_serve__batch_submit(cairn_serve_model_name(sm), cairn_serve_model_version(sm),
                                  &c->item, atomic_load_explicit(&in_flight, memory_order_relaxed));
        return;
    }
    int k = cairn_model_n_outputs(m);
    double *pred = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)k);
    int64_t tc = cairn_monotonic_ns();
    rc = cairn_model_predict(m, c->r.frame, pred, 1);
    int64_t compute_ns = cairn_monotonic_ns() - tc;
    if (rc)
        infer_fail(c, rc, -1, compute_ns);
    else
        infer_answer(c, pred, -1, compute_ns, n);
    cairn_free(pred);
}

static int models_route(cairn_http_req *req, cairn_serve *s, const char *rest)
{
    route r;
    if (parse_model_path(req, rest, &r)) {
        respond_err(req, 404, "no such endpoint");
        return 0;
    }
    int is_infer = strcmp(r.action, "infer") == 0;
    if (!strcmp(r.action, "feedback")) { /* delayed labels (monitor_quality.c) */
        if (cairn_http_req_method(req) != CAIRN_HTTP_POST || r.version) {
            cairn_http_set_header(req, "Allow", "POST");
            respond_err(req, r.version ? 404 : 405,
                        r.version ? "feedback takes no version" : "feedback takes POST");
            return 0;
        }
        return cairn_serve__quality_feedback(req, r.name);
    }
    if (cairn_http_req_method(req) != (is_infer ? CAIRN_HTTP_POST : CAIRN_HTTP_GET)) {
        cairn_http_set_header(req, "Allow", is_infer ? "POST" : "GET");
        respond_err(req, 405, is_infer ? "infer takes POST" : "this endpoint takes GET");
        return 0;
    }
    cairn_serve_model *sm = NULL;
    /* deployments (serve_deploy.c): a name without /versions/ that is a
     * deployment is served by the target its weights pick; the headers and
     * body then name that target's model and resolved version */
    const char *name = r.name, *spec = r.version, *deployment = NULL;
    cairn_serve_pick pick;
    if (!spec && cairn_serve__deploy_pick(s, req, r.name, &pick)) {
        deployment = r.name;
        name = pick.model;
        spec = pick.spec;
    }
    int64_t t0 = cairn_monotonic_ns();
    int rc = cairn_serve_acquire(s, name, spec, &sm);
    if (rc) {
        if (deployment && is_infer) { /* a target that cannot load is a failing target */
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
            int64_t v = -1;
            if (!cairn_serve_resolve(s, name, spec, &v))
                cairn_serve__deploy_observe(deployment, name, v, 0, cairn_monotonic_ns() - t0);
            cairn_error_set(rc, SERVE_SUBSYS, "%s", msg);
        }
        return respond_code(req, rc);
    }
    cairn_serve__model_headers(req, sm);
    if (is_infer) {
        infer(req, s, sm, deployment, deployment ? &pick : NULL); /* takes sm */
        return 0;
    }
    if (*r.action) /* ready: the version resolved and its model loaded */
        cairn_http_respond(req, 200, "text/plain", "", 0);
    else
        model_metadata(req, s, sm);
    cairn_serve_release(sm);
    return 0;
}

static int h_v2(cairn_http_req *req, void *payload)
{
    (void)payload;
    static const char body[] =
        "{\"name\":\"cairn\",\"version\":\"" CAIRN_VERSION "\",\"extensions\":[\"binary_tensor_data\"]}";
    cairn_http_respond(req, 200, "application/json", body, sizeof(body) - 1);
    return 0;
}

static int no_row(const cairn_value *cols, int ncols, void *payload)
{
    (void)cols;
    (void)ncols;
    (void)payload;
    return 0;
}

typedef struct ready_ctx {
    cairn_serve *s;
    int ok;
    char why[512];
} ready_ctx;

/* Readiness of one deployment target: loaded, or loaded now. */
static void ready_target(const char *deployment, const char *model, const char *spec,
                         void *payload)
{
    ready_ctx *r = payload;
    if (!r->ok || cairn_serve_is_loaded(r->s, model, spec)) return;
    if (cairn_serve_preload(r->s, model, spec)) {
        r->ok = 0;
        snprintf(r->why, sizeof(r->why), "deployment '%.100s': model '%.100s' (%.40s) cannot load: %.120s",
                 deployment, model, spec && *spec ? spec : "default", cairn_error_last()->msg);
    }
}

static int h_v2_prefix(cairn_http_req *req, void *payload)
{
    cairn_serve *s = payload;
    const char *rest = cairn_http_req_rest(req);
    int get = cairn_http_req_method(req) == CAIRN_HTTP_GET;
    if (!strcmp(rest, "health/live") || !strcmp(rest, "health/ready")) {
        if (!get) {
            respond_err(req, 405, "this endpoint takes GET");
            return 0;
        }
        /* ready: the metadata store answers a read and every deployment's
         * targets are loaded (a probe loads those that are not) */
        if (rest[7] == 'r') {
            ready_ctx rc = {s, 1, ""};
            if (cairn_serve__versions(s, "", no_row, NULL)) {
                respond_err(req, 503, cairn_error_last()->msg);
                return 0;
            }
            cairn_serve__deploy_targets(ready_target, &rc);
            if (!rc.ok) {
                respond_err(req, 503, rc.why);
                return 0;
            }
        }
        cairn_http_respond(req, 200, "text/plain", "", 0);
        return 0;
    }
    if (!strcmp(rest, "")) return h_v2(req, payload);
    if (!strncmp(rest, "models/", 7)) return models_route(req, s, rest + 7);
    respond_err(req, 404, "no such endpoint");
    return 0;
}

int cairn_serve_mount_inference(cairn_serve *s, cairn_http_server *srv)
{
    unsigned methods =
        CAIRN_HTTP_GET | CAIRN_HTTP_POST | CAIRN_HTTP_PUT | CAIRN_HTTP_DELETE | CAIRN_HTTP_PATCH;
    int rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/v2", 0, 0, h_v2, s);
    if (!rc)
        rc = cairn_http_route(srv, methods, "/v2/", CAIRN_HTTP_ROUTE_PREFIX, 0, h_v2_prefix, s);
    if (!rc) rc = cairn_serve__mount_v1(s, srv);
    return rc;
}

int cairn_serve_mount(cairn_serve *s, cairn_http_server *srv)
{
    int rc = cairn_serve_mount_inference(s, srv);
    if (!rc) rc = cairn_serve__mount_deploy(s, srv);
    if (!rc) rc = cairn_serve__quality_mount(s, srv);
    if (!rc) rc = cairn_serve__drift_mount(srv);
    return rc;
}
