/*
 * cairn/server.h - `cairn server`: one process that opens the metadata store
 * and the artifact store and mounts the modules' routes (tracking, registry,
 * artifacts, health) on one HTTP listener.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include "cairn/config.h"

typedef struct cairn_server cairn_server;

/* Opens stores (running migrations) and prepares routes; does not listen yet.
 * The config is copied where needed and may be freed after this returns. */
CAIRN_API int cairn_server_new(cairn_server **out, const cairn_config *cfg);
/* Binds and serves on background threads. CAIRN_EIO if the port is taken. */
CAIRN_API int cairn_server_start(cairn_server *srv);
CAIRN_API int cairn_server_port(const cairn_server *srv);
/* Stops serving, drains queued writes, closes stores. NULL is a no-op. */
CAIRN_API void cairn_server_free(cairn_server *srv);

/* ---- single-model server (`cairn serve`, server_single.c) ---- */

/* One model served without tracking: a private embedded store (SQLite and
 * an object directory in a fresh temp directory under $TMPDIR or /tmp,
 * removed by cairn_server_single_free) holds the model as version 1 of
 * `model_name` with the `production` alias, and the HTTP listener mounts
 * only the inference protocols (OIP V2, KServe V1, MLflow /invocations and
 * /ping), /health and /metrics: no tracking, registry or artifact API. */
typedef struct cairn_server_single cairn_server_single;

/* Creates the temp store, stores model_bytes (a model.cairn file, copied)
 * and loads the model, so the server is ready as soon as it listens; does
 * not listen yet. model_name: 1..200 characters, no '/' or control
 * characters. Uses cfg->http.* and, as `cairn server` does, cfg->serve.*
 * (memory budget, batching, prediction log); cfg may be freed after this
 * returns. CAIRN_EINVALID (bad name or serve settings), CAIRN_ECORRUPT
 * (model bytes that do not load), CAIRN_EIO (temp directory, prediction
 * log); *out is NULL on failure and the temp directory is removed. */
CAIRN_API int cairn_server_single_new(cairn_server_single **out, const cairn_config *cfg,
                                      const char *model_name, const void *model_bytes,
                                      size_t len);
/* Binds and serves on background threads. CAIRN_EIO if the port is taken. */
CAIRN_API int cairn_server_single_start(cairn_server_single *srv);
CAIRN_API int cairn_server_single_port(const cairn_server_single *srv);
/* Stops serving (in-flight requests finish), frees the model and removes the
 * temp directory. NULL is a no-op. */
CAIRN_API void cairn_server_single_free(cairn_server_single *srv);

#endif
