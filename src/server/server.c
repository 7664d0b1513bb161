/*
 * server.c - wires the modules into one process: store + blob underneath,
 * tracking, registry and artifact routes on one HTTP listener, plus /health
 * and /version. Nothing here knows a route's internals.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/blob.h"
#include "cairn/registry.h"
#include "cairn/serve.h"
#include "cairn/server.h"
#include "cairn/store.h"
#include "cairn/track.h"
#include "cairn/ui.h"
#include "server_internal.h"
#include "serve/monitor_alerts.h"
#include "track/api.h"

struct cairn_server {
    cairn_store *store;
    cairn_blob *blob;
    cairn_track *track;
    cairn_registry *registry;
    cairn_serve *serve;
    cairn_http_server *http;
    cairn_server__probes probes; /* /health and /metrics answer from it */
};

/* The registry's change listener: the model manager re-resolves what it
 * serves of that model (hot swap). Runs before the registry write is
 * answered; cairn_http_server_free finishes those requests, so it never
 * runs after the manager is freed. */
static void on_registry_change(const char *model_name, void *payload)
{
    cairn_serve_invalidate(payload, model_name);
}

static int h_version(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_respond(req, 200, "text/plain", CAIRN_VERSION, strlen(CAIRN_VERSION));
    return 0;
}

int cairn_server_new(cairn_server **out, const cairn_config *cfg)
{
    cairn_server *s = cairn_calloc(1, sizeof(*s));
    cairn_store_opts so = CAIRN_STORE_OPTS_INIT;
    cairn_http_opts ho = CAIRN_HTTP_OPTS_INIT;
    int rc;
    *out = NULL;
    so.sync_full = cfg->store.sync_full;
    so.batch_max = cfg->store.batch_max;
    if ((rc = cairn_store_open(&s->store, cfg->store.uri, &so))) goto fail;
    if ((rc = cairn_blob_open(&s->blob, cfg->store.artifacts))) goto fail;
    if ((rc = cairn_track_new(&s->track, s->store, "mlflow-artifacts:"))) goto fail;
    if ((rc = cairn_registry_new(&s->registry, s->store))) goto fail;
    if ((rc = cairn_serve_new(&s->serve, s->store, s->blob))) goto fail;
    if ((rc = cairn_serve_runtime_start(s->serve, cfg))) goto fail;
    cairn_registry_on_change(s->registry, on_registry_change, s->serve);

    ho.host = cfg->http.host;
    ho.port = cfg->http.port;
    ho.threads = cfg->http.threads;
    ho.body_limit = cfg->http.body_limit;
    ho.timeout_s = cfg->http.timeout_s;
    ho.error_fmt = cairn_api__error_fmt;
    if ((rc = cairn_http_server_new(&s->http, &ho))) goto fail;
    s->probes = (cairn_server__probes){s->http, s->serve};
    if ((rc = cairn_server__mount_probes(&s->probes)) ||
        (rc = cairn_http_route(s->http, CAIRN_HTTP_GET, "/version", 0, 0, h_version, s)) ||
        (rc = cairn_track_mount(s->track, s->http)) ||
        (rc = cairn_track_artifacts_mount(s->track, s->blob, s->http, cfg->http.artifact_limit)) ||
        (rc = cairn_registry_mount(s->registry, s->http)) ||
        (rc = cairn_serve_mount(s->serve, s->http)) ||
        (rc = cairn_serve__alerts_mount(s->http, cfg->http.host)) ||
        (rc = cairn_server__sched_mount(s->http, s->store, cfg->store.home)) ||
        (rc = cairn_ui_mount(s->http)))
        goto fail;
    *out = s;
    return 0;
fail:
    cairn_server_free(s);
    return rc;
}

int cairn_server_start(cairn_server *s)
{
    int rc = cairn_http_server_start(s->http);
    if (!rc) rc = cairn_server__sched_start(cairn_http_server_port(s->http));
    return rc;
}

int cairn_server_port(const cairn_server *s) { return cairn_http_server_port(s->http); }

void cairn_server_free(cairn_server *s)
{
    if (!s) return;
    cairn_http_server_free(s->http); /* first: no new requests reach the modules */
    cairn_server__sched_stop();
    cairn_serve_runtime_stop(s->serve);
    cairn_serve_free(s->serve);
    cairn_registry_free(s->registry);
    cairn_track_free(s->track);
    cairn_store_close(s->store);     /* drains queued writes */
    cairn_blob_close(s->blob);
    cairn_free(s);
}
