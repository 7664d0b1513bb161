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

#endif
