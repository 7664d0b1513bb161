/*
 * server_internal.h - what server.c and server_metrics.c share.
 */
#ifndef CAIRN_SERVER_INTERNAL_H
#define CAIRN_SERVER_INTERNAL_H

#include "cairn/http.h"
#include "cairn/serve.h"

/* Appends the whole Prometheus exposition (HTTP responses by code, process,
 * build info, serving) to out, which must have no size limit. */
void cairn_server__metrics_write(const cairn_http_server *http, cairn_serve *serve, cairn_buf *out);

/* What GET /health and GET /metrics answer from (both servers embed one). */
typedef struct cairn_server__probes {
    cairn_http_server *http;
    cairn_serve *serve;
} cairn_server__probes;
/* Registers GET /health (200 "OK" while the process serves) and GET
 * /metrics on p->http; p must outlive the HTTP server. */
int cairn_server__mount_probes(cairn_server__probes *p);

/* ---- pipeline triggers (server_sched.c) ---- */
#include "cairn/store.h"
/* Restores the triggers from the store and registers the
 * /api/2.0/cairn/pipelines/ routes (triggers/create|list|delete, run,
 * runs/list); pipeline logs go under home/pipelines/logs. */
int cairn_server__sched_mount(cairn_http_server *srv, cairn_store *store, const char *home);
/* Starts the scheduler once the server listens on port (children get
 * CAIRN_TRACKING_URI / MLFLOW_TRACKING_URI = this server). */
int cairn_server__sched_start(int port);
/* Stops the scheduler (running pipeline runs go on) and frees the triggers. */
void cairn_server__sched_stop(void);
/* Runs trigger_name now (reason: "manual", "alert:<id>", ...); its run id
 * into run_id (33 bytes) when not NULL. CAIRN_ENOTFOUND, CAIRN_ECONFLICT
 * when it is already running, CAIRN_EBUSY when the scheduler is stopped. */
int cairn_server__sched_fire(const char *trigger_name, const char *reason, char run_id[33]);

#endif
