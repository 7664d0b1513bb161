/*
 * monitor_quality.h - model quality with delayed labels (monitor_quality.c):
 * ground truth posted after the fact is joined to the logged prediction by
 * request id, stored, and summarised per window (AUC, accuracy, macro F1,
 * log loss; RMSE, MAE) against the metrics recorded when the model was
 * trained. docs/internals/quality.md describes the wire shapes.
 *
 * Life: cairn_serve__quality_configure (any time; before mount is best),
 * cairn_serve__quality_mount (loads the history, registers the REST route),
 * then records and labels from any thread, cairn_serve__quality_shutdown
 * after the HTTP server has stopped.
 */
#ifndef CAIRN_SERVE_MONITOR_QUALITY_H
#define CAIRN_SERVE_MONITOR_QUALITY_H

#include "cairn/http.h"
#include "cairn/model.h"
#include "cairn/serve.h"

typedef struct cairn_quality_opts {
    int64_t window_rows;     /* labels per window; 0: no count bound; default 1000 */
    int64_t window_seconds;  /* a window closes this long after its first label; 0: none; 3600 */
    const char *predlog_dir; /* prediction log scanned for ids not in memory; NULL: none; copied */
    int64_t horizon_seconds; /* how far back that scan reads; default 7 days */
    size_t capacity;         /* recent requests kept in memory for the join; default 65536 */
} cairn_quality_opts;
#define CAIRN_QUALITY_OPTS_INIT                                                                    \
    {                                                                                              \
        1000, 3600, NULL, 7 * 86400, 65536                                                         \
    }

/* Applies o (NULL: the defaults). The in-memory index is emptied when the
 * capacity changes. Thread-safe. */
void cairn_serve__quality_configure(const cairn_quality_opts *o);

/* Reads the open windows and the window counters back from s's store
 * (labels joined since each series' last closed window) and registers
 * GET /api/2.0/cairn/monitor/quality on srv. Returns 0, a store error, or
 * CAIRN_EINVALID if the route cannot be added. */
int cairn_serve__quality_mount(cairn_serve *s, cairn_http_server *srv);

/* Frees the index and the windows (open windows stay recoverable from the
 * store). Idempotent; call after the HTTP server has stopped. */
void cairn_serve__quality_shutdown(void);

/* Remembers one answered request for the join: nrows rows of k outputs
 * (row-major, as cairn_model_predict writes them) of model version m.
 * Request ids: a one-row request is labelled by its id; row i of a longer
 * request by "<id>/<i>" (0-based). Copies everything; one allocation and a
 * short mutex; the oldest request is forgotten past the capacity. Never
 * fails. Thread-safe. */
void cairn_serve__quality_record(const char *request_id, const char *deployment, const char *model,
                                 int64_t version, const cairn_model *m, const double *pred,
                                 size_t nrows, int k);

/* One label to join. */
typedef struct cairn_quality_label {
    const char *id;   /* request id, or "<id>/<row>" */
    const char *text; /* a class name, or NULL */
    double value;     /* when text is NULL: a class index, class name in digits, or target */
} cairn_quality_label;

/* What became of a batch of labels. Arrays hold indexes into the batch;
 * free with cairn_serve__quality_result_free. */
typedef struct cairn_quality_result {
    size_t joined;
    size_t *unknown, nunknown;     /* no prediction of `name` with that id */
    size_t *duplicate, nduplicate; /* already labelled */
    size_t *rejected, nrejected;   /* a label that does not fit the model */
    char **reason;                 /* (nrejected) why */
} cairn_quality_result;

/* Joins labels[0..n) to predictions served under name (a deployment or a
 * model name): found in memory, else in the prediction log (within the
 * horizon). Joined pairs are written to the store (acknowledged = kept),
 * then added to their series' open window; windows that fill or expire
 * close (stored, alerts called). Returns 0 (per-label outcomes in *out) or
 * a store error (nothing joined). Thread-safe. */
int cairn_serve__quality_join(const char *name, const cairn_quality_label *labels, size_t n,
                              cairn_quality_result *out);
void cairn_serve__quality_result_free(cairn_quality_result *r);

/* POST /v2/models/{name}/feedback: body {"labels":[{"id":..,"label":..}]};
 * answers {"joined":n,"unknown":[ids],"duplicate":[ids],"rejected":
 * [{"id","error"}]} or an OIP error ({"error":...}, 400 when malformed). */
int cairn_serve__quality_feedback(cairn_http_req *req, const char *name);

/* Closes windows whose time is up at now_ms (the lazy check runs on every
 * label and query; a timer may call this too). Thread-safe. */
void cairn_serve__quality_tick(int64_t now_ms);

/* Appends gauges cairn_quality_{auc,accuracy,f1,logloss,rmse,mae}
 * {deployment,model,version} (the last closed window of each series, only
 * metrics defined there) and cairn_quality_labels_total{deployment,model,
 * version}, in the Prometheus text format with HELP and TYPE. out must be
 * unbounded. Thread-safe. */
void cairn_serve__quality_metrics_write(cairn_buf *out);

/* Sets the function called at each window close, once per defined metric
 * (names: auc, accuracy, f1_macro, logloss, rmse, mae), with the
 * deployment's name (the model's when the requests named the model),
 * after the window is stored and outside every lock. NULL: none. */
void cairn_serve__quality_on_window(void (*cb)(const char *deployment, const char *metric,
                                               double value, int64_t window_end_ms, void *payload),
                                    void *payload);

/* ---- metrics of one window (exposed for tests) ---- */
enum {
    CAIRN_QM_AUC,
    CAIRN_QM_ACCURACY,
    CAIRN_QM_F1,
    CAIRN_QM_LOGLOSS,
    CAIRN_QM_RMSE,
    CAIRN_QM_MAE,
    CAIRN_QM_COUNT
};
/* Training-metric names of the CAIRN_QM_* indexes ("auc", "f1_macro", ...). */
const char *cairn_serve__quality_metric_name(int i);
/* Computes every metric defined for task over n labelled rows (y: class
 * index or target; out: (n, k)); undefined ones (wrong task, one class for
 * AUC) are NaN. Binary: out holds P(class 1) (k 1) or both classes (k 2). */
void cairn_serve__quality_compute(cairn_task task, int k, const double *y, const double *out,
                                  size_t n, double vals[CAIRN_QM_COUNT]);

#endif
