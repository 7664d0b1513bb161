/*
 * serve_deploy.h - what the inference handlers and /metrics need from
 * serve_deploy.c (deployments: weighted routing of an endpoint name to model
 * versions, shadow traffic, gradual shift with automatic rollback) and
 * serve_deploy_stats.c (per-target health statistics, the shadow worker).
 */
#ifndef CAIRN_SERVE_DEPLOY_H
#define CAIRN_SERVE_DEPLOY_H

#include "cairn/serve.h"

/* ---- deployments (serve_deploy.c) ---- */
/* Loads the deployment table from the store into memory, registers the
 * /api/2.0/cairn/deployments/{create,update,get,list,delete,shift,rollback}
 * routes on srv and starts the shift timer thread (which resumes shifts
 * that were running when the process stopped). One deployment table per
 * process: mounting again replaces it. Returns 0, a store error, or
 * CAIRN_EINVALID if a route cannot be added. */
int cairn_serve__mount_deploy(cairn_serve *s, cairn_http_server *srv);

/* Stops the shift timer thread and the shadow worker (queued shadow jobs
 * are dropped) and frees the deployment table and the statistics. Call
 * after the HTTP server has stopped and before the cairn_serve it was
 * mounted with is freed. Idempotent; a later mount starts afresh. */
void cairn_serve__deploy_shutdown(void);

/* What a deployment's routing chose for one request; request-arena strings. */
typedef struct cairn_serve_pick {
    const char *model, *spec;               /* the primary target */
    const char *shadow_model, *shadow_spec; /* NULL when the deployment has no shadow */
} cairn_serve_pick;

/* If name is a deployment of s, picks one of its targets by weight (the
 * request's X-Cairn-Route-Key header hashed to a bucket 0..99, else a random
 * bucket), fills *out with request-arena copies of the target's model name
 * and version/alias and of the deployment's shadow (NULL if none), sets the
 * X-Cairn-Deployment response header and returns 1. Returns 0 (*out
 * untouched) when name is not a deployment. Reads only memory. Thread-safe. */
int cairn_serve__deploy_pick(cairn_serve *s, cairn_http_req *req, const char *name,
                             cairn_serve_pick *out);

/* Calls cb once per target with a non-zero weight and once for the shadow
 * of every deployment (what must be loaded for the server to be ready).
 * The strings are valid only during the call; cb must not call back into
 * the deployment table. Returns the number of calls. Thread-safe. */
int cairn_serve__deploy_targets(void (*cb)(const char *deployment, const char *model,
                                           const char *spec, void *payload),
                                void *payload);

/* ---- statistics and shadow traffic (serve_deploy_stats.c) ---- */
/* Records one request routed through deployment to model version (version
 * 0 when it could not be resolved): ok = answered 2xx, total_ns = its time.
 * Lock-free once the (deployment, model, version) series exists.
 * Thread-safe. */
void cairn_serve__deploy_observe(const char *deployment, const char *model, int64_t version, int ok,
                                 int64_t total_ns);

/* Queues a copy of one request for the deployment's shadow target, off the
 * response path. Takes ownership of f and primary_pred (cairn_malloc'd;
 * primary_pred holds f->nrows rows of k values, as cairn_model_predict
 * writes them) and frees them in every case. A worker thread acquires the
 * shadow model through s, predicts f and records agreement with the
 * primary's predictions; when the bounded queue is full the copy is
 * dropped and counted. Never fails, never blocks on prediction.
 * Thread-safe. */
void cairn_serve__shadow_submit(cairn_serve *s, const char *deployment, const char *shadow_model,
                                const char *shadow_spec, cairn_frame *f, double *primary_pred,
                                int k, const char *primary_model, int64_t primary_version);

/* Appends the shadow families in the Prometheus text format 0.0.4, each
 * with HELP and TYPE: cairn_shadow_requests_total, cairn_shadow_rows_total,
 * cairn_shadow_agreement_rows_total, cairn_shadow_errors_total
 * {deployment,model,version} (the shadow version), the summary
 * cairn_shadow_abs_diff (_sum, _count: per-row mean absolute difference
 * between shadow and primary outputs, over compared rows) and
 * cairn_shadow_dropped_total{deployment}. out must be unbounded (max 0).
 * Thread-safe. */
void cairn_serve__deploy_metrics_write(cairn_buf *out);

/* Latency buckets of the per-target histograms: 4 per doubling from 1 us. */
#define CAIRN_DSTATS_NB 112

/* Counters of one deployment's traffic to a set of versions, summed. */
typedef struct cairn_dstats {
    uint64_t req, err;
    uint64_t hist[CAIRN_DSTATS_NB];
} cairn_dstats;

/* Sums the series of deployment into *out: only (model, version) when
 * match is 1, every other series of the deployment when match is 0. */
void cairn_serve__dstats_sum(const char *deployment, const char *model, int64_t version, int match,
                             cairn_dstats *out);
/* The q-quantile (0 < q <= 1) of the histogram, in ns: the upper bound of
 * the bucket holding it; 0 when there are no observations. */
double cairn_serve__dstats_quantile_ns(const cairn_dstats *s, double q);
/* Calls cb for every (model, version) series of deployment with its
 * counters, model ascending, then version. */
void cairn_serve__dstats_each(const char *deployment,
                              void (*cb)(const char *model, int64_t version, const cairn_dstats *s,
                                         void *payload),
                              void *payload);

/* Shadow statistics of deployment summed over shadow versions (all zero
 * when it has none). */
typedef struct cairn_shadow_stats {
    uint64_t requests, rows, agree, errors, dropped;
    double abs_diff_sum; /* over compared rows: sum of the per-row mean |shadow - primary| */
} cairn_shadow_stats;
void cairn_serve__shadow_stats(const char *deployment, cairn_shadow_stats *out);

/* Stops the shadow worker and frees every series (serve_deploy_stats.c);
 * called by cairn_serve__deploy_shutdown. */
void cairn_serve__dstats_shutdown(void);

#endif
