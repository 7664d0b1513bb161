/*
 * monitor_drift.h - inline drift monitoring in the serving path
 * (monitor_drift.c): every successful prediction updates the current
 * window's sketches of its series' inputs and outputs; at each window's end
 * drift is evaluated against the model version's profile.json, stored,
 * exported on /metrics and signalled to the alert engine.
 */
#ifndef CAIRN_SERVE_MONITOR_DRIFT_H
#define CAIRN_SERVE_MONITOR_DRIFT_H

#include "cairn/http.h"
#include "cairn/serve.h"

/* Starts the window thread. Windows come from the alert engine's policy
 * (cairn_serve__alerts_policy: per deployment), else default_rows /
 * default_seconds. enabled 0: observe does nothing. Call before serving. */
int cairn_serve__drift_start(cairn_serve *s, int enabled, int64_t default_rows,
                             int64_t default_seconds);
/* Closes the open windows (evaluating them), stops the thread, frees every
 * series. Call after the HTTP server has stopped. Safe without a start. */
void cairn_serve__drift_stop(void);

/* 1 when inline monitoring (serve.monitor) is on. */
int cairn_serve__drift_enabled(void);

/* The hot path: adds the n rows of frame X (the request's input columns)
 * and pred (n x k outputs) to the current window of (deployment or "",
 * model, version). The first call for a series loads its profile.json
 * (a version without one is not monitored). Never fails the request. */
void cairn_serve__drift_observe(const char *deployment, const cairn_serve_model *sm,
                                const cairn_frame *X, const double *pred, size_t n, int k);

/* Registers GET /api/2.0/cairn/monitor/status and
 * /api/2.0/cairn/monitor/drift/history. */
int cairn_serve__drift_mount(cairn_http_server *srv);

/* Appends the drift families (Prometheus text 0.0.4). */
void cairn_serve__drift_metrics_write(cairn_buf *out);

#endif
