/*
 * serve_internal.h - what serve_api.c needs from serve_models.c beyond the
 * public header.
 */
#ifndef CAIRN_SERVE_INTERNAL_H
#define CAIRN_SERVE_INTERNAL_H

#include "cairn/serve.h"

#define SERVE_SUBSYS CAIRN_SUBSYS_SERVE

/* Calls cb once per non-deleted version of name (column 0: the version
 * number, ascending). Returns 0 or a store error. Thread-safe. */
int cairn_serve__versions(cairn_serve *s, const char *name, cairn_row_cb cb, void *payload);

/* Records one infer request that reached model version (name, version):
 * its outcome, the rows predicted (0 on error), its total time and its
 * prediction time (compute_ns < 0: prediction did not run, not recorded).
 * Lock-free once the version's series exists. Thread-safe. */
/* Names the model version that answers in the response headers
 * (X-Model-Name, X-Model-Version). */
void cairn_serve__model_headers(cairn_http_req *req, const cairn_serve_model *m);
/* A double as JSON with round-trip precision; null for NaN / Inf. */
void cairn_serve__put_double(cairn_buf *b, double x);

void cairn_serve__observe(const char *model, int64_t version, int ok, uint64_t rows,
                          int64_t total_ns, int64_t compute_ns);

/* Registers the KServe V1 (/v1/models/...) and MLflow scoring (/invocations,
 * /ping) routes of serve_v1.c on srv. CAIRN_EINVALID if a route cannot be added. */
int cairn_serve__mount_v1(cairn_serve *s, cairn_http_server *srv);

/* The metadata store s was created with (borrowed). */
cairn_store *cairn_serve__store(cairn_serve *s);

#include "serve_deploy.h"

#endif
