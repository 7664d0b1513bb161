/*
 * serve_internal.h - what serve_api.c needs from serve_models.c beyond the
 * public header.
 */
#ifndef CAIRN_SERVE_INTERNAL_H
#define CAIRN_SERVE_INTERNAL_H

#include "cairn/predlog.h"
#include "cairn/serve.h"

#define SERVE_SUBSYS CAIRN_SUBSYS_SERVE

/* Calls cb once per non-deleted version of name (column 0: the version
 * number, ascending). Returns 0 or a store error. Thread-safe. */
int cairn_serve__versions(cairn_serve *s, const char *name, cairn_row_cb cb, void *payload);

/* Names the model version that answers in the response headers
 * (X-Model-Name, X-Model-Version). */
void cairn_serve__model_headers(cairn_http_req *req, const cairn_serve_model *m);
/* A double as JSON with round-trip precision; null for NaN / Inf. */
void cairn_serve__put_double(cairn_buf *b, double x);

/* One inference request that reached a model version, for /metrics. */
typedef struct cairn_serve_obs {
    const char *deployment; /* NULL or "": the request named the model itself */
    const char *model;
    int64_t version;
    int status;        /* the HTTP status answered */
    uint64_t rows;     /* rows predicted (0 on error) */
    int64_t total_ns;  /* the whole request */
    int64_t queue_ns;  /* waiting for a batch; < 0: not batched */
    int64_t compute_ns; /* prediction (of the whole batch); < 0: did not run */
    size_t batch_rows; /* rows predicted together with this request's; 0: none */
} cairn_serve_obs;

/* What every answered prediction leaves behind, whichever protocol asked
 * (OIP V2, KServe V1, MLflow scoring): the prediction log record, the
 * label-join entry and the drift window (serve.monitor), and the
 * deployment's per-target statistics when deployment is not NULL. X holds
 * the request's rows, pred their outputs. */
void cairn_serve__record(cairn_serve *s, const char *request_id, const char *deployment,
                         const cairn_serve_model *sm, const cairn_frame *X, const double *pred,
                         int64_t total_ns);

/* Appends v escaped as a Prometheus label value (backslash, quote, newline). */
void cairn_serve__prom_label(cairn_buf *b, const char *v);

/* Records o. Lock-free once its series exists. Thread-safe. */
void cairn_serve__observe(const cairn_serve_obs *o);

/* Registers the KServe V1 (/v1/models/...) and MLflow scoring (/invocations,
 * /ping) routes of serve_v1.c on srv. CAIRN_EINVALID if a route cannot be added. */
int cairn_serve__mount_v1(cairn_serve *s, cairn_http_server *srv);

/* The prediction log requests append to (NULL: none), set by
 * cairn_serve_runtime_start before serving starts. */
cairn_predlog *cairn_serve__predlog(cairn_serve *s);
void cairn_serve__set_predlog(cairn_serve *s, cairn_predlog *l);

/* Reads the artifact `file` (e.g. "profile.json") stored beside version
 * `version` of model `name` into out (its max is set to the file's size).
 * CAIRN_ENOTFOUND when the version or the file is missing, CAIRN_ETOOBIG,
 * store and blob errors. Thread-safe. */
int cairn_serve__version_file(cairn_serve *s, const char *name, int64_t version, const char *file,
                              cairn_buf *out);

/* The metadata store s was created with (borrowed). */
cairn_store *cairn_serve__store(cairn_serve *s);

/* ---- the OIP V2 inference body (serve_v2.c) ---- */
enum { CAIRN_SERVE_OUT_PREDICT, CAIRN_SERVE_OUT_PROBA };

/* A decoded V2 inference request. */
typedef struct cairn_serve_v2 {
    struct json_t *root; /* the JSON header (owned) */
    const char *id;      /* the request's "id", or NULL (borrowed from root or id_owned) */
    char *id_owned;      /* the "id" the fast decoder copied, or NULL (owned) */
    int want[2];         /* requested outputs, in order (CAIRN_SERVE_OUT_*) */
    int binary[2];       /* 1: output w goes out as binary data */
    int nwant;
    cairn_frame *frame; /* the rows to predict (owned) */
} cairn_serve_v2;

/* Decodes an inference body for model m. header_len < 0: the body is all
 * JSON; else its first header_len bytes are JSON and the rest is binary
 * tensor data (Inference-Header-Content-Length). CAIRN_EINVALID with a
 * message for any malformed, mistyped, mis-shaped or truncated input,
 * CAIRN_ETOOBIG for tensors past the element limit. Free r with
 * cairn_serve__v2_free in every case. */
int cairn_serve__v2_decode(const cairn_model *m, const char *body, size_t len, int64_t header_len,
                           cairn_serve_v2 *r);
void cairn_serve__v2_free(cairn_serve_v2 *r);
/* The fast decoder of serve_v2fast.c for the common all-JSON body (an "id"
 * and FP64/FP32 numeric "inputs", nothing else). Returns 1 when it decoded
 * body into r exactly as cairn_serve__v2_decode would (free r with
 * cairn_serve__v2_free), 0 when the body is not of that shape: r is then
 * zeroed, no error is set and the caller decodes the general way. */
int cairn_serve__v2_fast(const cairn_model *m, const char *body, size_t len, cairn_serve_v2 *r);
/* Appends the response for r (n rows of k outputs in pred) to out. Returns
 * the JSON header's length when binary outputs follow it (send it as
 * Inference-Header-Content-Length), else 0. */
size_t cairn_serve__v2_encode(cairn_buf *out, const cairn_model *m, const cairn_serve_v2 *r,
                              const char *model, int64_t version, const char *id,
                              const double *pred, size_t n, int k);
int cairn_serve__is_classifier(const cairn_model *m);
/* "regression", "binary", "multiclass", "clustering". */
const char *cairn_serve__task_name(cairn_task t);
/* Building a categorical column's own dictionary: the code of category s,
 * appending s (borrowed) to dict when index (a JSON object name -> code)
 * has not seen it. dict must have room for every distinct value. */
int32_t cairn_serve__intern(struct json_t *index, const char *s, const char **dict, int32_t *ndict);

/* ---- dynamic batching (serve_batch.c) ---- */
/* One request waiting in a batch. The caller fills model, frame and done,
 * and keeps them alive until done runs. */
typedef struct cairn_serve_batch_item {
    struct cairn_serve_batch_item *next;
    const cairn_model *model; /* the version's loaded model */
    const cairn_frame *frame; /* this request's rows */
    int64_t enqueued_ns;
    /* Called once, on some thread, with this request's rows of predictions
     * (k per row; valid only during the call) or an error code (message in
     * the thread's last error), the time it waited in the queue, the
     * batch's prediction time and row count. */
    void (*done)(struct cairn_serve_batch_item *it, int rc, const double *pred, int64_t queue_ns,
                 int64_t compute_ns, size_t batch_rows);
} cairn_serve_batch_item;

/* Starts batching: at most max_rows rows a batch (<= 1: off), a batch
 * leaves when its oldest member has waited delay_us, or at once when it
 * reaches max_rows or one of the comma-separated preferred sizes; eager:
 * a request that finds its queue empty with no other request in flight
 * runs at once.
 * CAIRN_EINVALID for a bad preferred list. Once per process at a time. */
int cairn_serve__batch_start(int max_rows, int delay_us, const char *preferred, int eager);
/* Answers whatever waits and stops the timer thread. */
void cairn_serve__batch_stop(void);
/* 1 when a request of `rows` rows should be batched. */
int cairn_serve__batch_enabled(size_t rows);
/* Queues it behind (model, version)'s batch; may run the batch (and so
 * it->done) on the calling thread before returning. in_flight: inference
 * requests the server has in flight, this one included (when no other is
 * on its way, an empty queue does not wait). The caller has deferred its
 * HTTP answer and must not touch its request afterwards. */
void cairn_serve__batch_submit(const char *model, int64_t version, cairn_serve_batch_item *it,
                               long in_flight);

#include "serve_deploy.h"

#endif
