/*
 * cairn/serve.h - model serving: a model manager that resolves registered
 * model versions (by number, alias or "latest") through the metadata store,
 * loads their model.cairn from the artifact store and keeps them loaded
 * (refcounted), and the Open Inference Protocol V2 REST handlers
 * (/v2/health/..., /v2/models/{name}[/versions/{v}][/ready|/infer]).
 *
 * Name rule: a model is asked for as NAME plus an optional version spec.
 * No spec: the version the `production` alias points at if that alias is
 * set, else the newest version. A spec of digits is a version number,
 * "latest" the newest version, anything else an alias name. Deleted
 * versions are never served. See docs/internals/serve.md.
 */
#ifndef CAIRN_SERVE_H
#define CAIRN_SERVE_H

#include "cairn/blob.h"
#include "cairn/config.h"
#include "cairn/http.h"
#include "cairn/model.h"
#include "cairn/store.h"

typedef struct cairn_serve cairn_serve;
/* One loaded model version, shared by every request that uses it. */
typedef struct cairn_serve_model cairn_serve_model;

/* Alias consulted when a model is asked for by name only. */
#define CAIRN_SERVE_DEFAULT_ALIAS "production"

/* Creates a model manager over store and blob (both borrowed; they must
 * outlive it). Returns 0; *out is NULL on failure. Thread-safe once created. */
CAIRN_API int cairn_serve_new(cairn_serve **out, cairn_store *store, cairn_blob *blob);
/* Frees the manager and every cached model. Call after the HTTP server that
 * mounted it has stopped and every acquired model was released. NULL is a no-op. */
CAIRN_API void cairn_serve_free(cairn_serve *s);
/* Registers the OIP routes (/v2 and /v2/...) on srv. Call before the server
 * starts. CAIRN_EINVALID if a route cannot be added. */
CAIRN_API int cairn_serve_mount(cairn_serve *s, cairn_http_server *srv);
/* As cairn_serve_mount without the deployments API: only the inference
 * protocols (OIP V2, KServe V1, MLflow /invocations and /ping). */
CAIRN_API int cairn_serve_mount_inference(cairn_serve *s, cairn_http_server *srv);

/* Resolves name + spec (NULL or "" for the default rule above) to a version
 * number without loading anything. CAIRN_ENOTFOUND when the model, version
 * or alias does not exist. Thread-safe. */
CAIRN_API int cairn_serve_resolve(cairn_serve *s, const char *name, const char *spec,
                                  int64_t *version_out);
/* Resolves name + spec and returns the loaded model with one reference the
 * caller owns (release it with cairn_serve_release). The first request for a
 * version loads it; concurrent requests for the same version wait for that
 * one load. A failed load is not cached (the next request tries again).
 * CAIRN_ENOTFOUND (no such model/version/alias, or its model file is not in
 * the artifact store), CAIRN_ECORRUPT (unreadable model file),
 * CAIRN_EUNSUPPORTED (source outside this server's artifact store).
 * Thread-safe. */
CAIRN_API int cairn_serve_acquire(cairn_serve *s, const char *name, const char *spec,
                                  cairn_serve_model **out);
/* Drops a reference taken by acquire. NULL is a no-op. Thread-safe. */
CAIRN_API void cairn_serve_release(cairn_serve_model *m);
/* Accessors; valid while the caller holds a reference. */
CAIRN_API const cairn_model *cairn_serve_model_get(const cairn_serve_model *m);
CAIRN_API const char *cairn_serve_model_name(const cairn_serve_model *m);
CAIRN_API int64_t cairn_serve_model_version(const cairn_serve_model *m);
/* Number of distinct model versions currently loaded (for tests, metrics). */
CAIRN_API int cairn_serve_loaded_count(cairn_serve *s);
/* Number of model-file loads performed since creation (for tests). */
CAIRN_API uint64_t cairn_serve_load_count(cairn_serve *s);

/* ---- memory, eviction, hot swap ----
 * Resolutions (name, spec) -> version are cached in memory, so a request
 * for a model already loaded runs no SQL. They are kept right by
 * cairn_serve_invalidate (wired to the registry's change listener) and
 * re-checked against the store every refresh interval (other processes
 * sharing a PostgreSQL store). When a cached name or alias moves to a
 * version not loaded yet, the old version keeps answering while the new
 * one loads beside it, then the cache switches to it: no request waits or
 * fails for a swap. A version that no longer exists stops being served at
 * once. */

/* Heap bytes of the model m holds (cairn_model_memory_bytes plus the
 * entry's own), computed once at load. */
CAIRN_API size_t cairn_serve_model_memory(const cairn_serve_model *m);
/* Bytes of all loaded models, including versions dropped from the cache
 * that a request still holds. Thread-safe. */
CAIRN_API size_t cairn_serve_memory_used(cairn_serve *s);
/* Sets the memory budget (0: unlimited, the default). When a load takes
 * the total over it, least-recently-used loaded versions that no request
 * holds are unloaded until it fits again (a version in use is never
 * unloaded); an unloaded version loads again on its next use. Lowering the
 * budget evicts at once. Thread-safe. */
CAIRN_API void cairn_serve_set_memory_budget(cairn_serve *s, size_t bytes);
/* Sets how often cached resolutions are re-checked against the store by the
 * manager's background thread (default 2000 ms; 0 turns it off). Thread-safe. */
CAIRN_API void cairn_serve_set_refresh_ms(cairn_serve *s, int ms);
/* Calls cb once per loaded version: its name, version and bytes, in no
 * particular order. cb runs under the manager's lock and must not call
 * back into s. Thread-safe. */
CAIRN_API void cairn_serve_foreach_loaded(cairn_serve *s,
                                          void (*cb)(const char *name, int64_t version,
                                                     size_t bytes, void *payload),
                                          void *payload);
/* Resolves name + spec, loads that version (or waits for its load) and keeps
 * it cached without holding a reference. Returns the error acquire would.
 * Thread-safe. */
CAIRN_API int cairn_serve_preload(cairn_serve *s, const char *name, const char *spec);
/* 1 when name + spec resolves (from the cache when it is there, else from
 * the store) to a version that is loaded and ready; else 0 (also on any
 * error). Never loads. Thread-safe. */
CAIRN_API int cairn_serve_is_loaded(cairn_serve *s, const char *name, const char *spec);
/* Model `name` changed in the registry (the registry's change listener):
 * re-resolves its cached specs now; a spec whose target is already loaded
 * switches at once, one whose target must load keeps its version while the
 * background thread loads the new one and then switches; a spec or version
 * that no longer exists is dropped. Quick, never loads, never writes to
 * the store. Thread-safe. */
CAIRN_API void cairn_serve_invalidate(cairn_serve *s, const char *name);

/* ---- the serving runtime (serve_runtime.c) ---- */
/* Applies cfg->serve.* to s: the memory budget, dynamic batching
 * (serve.batch_max > 1 starts the batching thread) and the prediction log
 * (serve.predlog: opened in serve.predlog_dir). Call once, after
 * cairn_serve_new and before the HTTP server starts. CAIRN_EINVALID for a
 * bad serve.batch_preferred, or the prediction log's open error. */
CAIRN_API int cairn_serve_runtime_start(cairn_serve *s, const cairn_config *cfg);
/* Stops what runtime_start started and the deployments' background work
 * (shift timer, shadow worker), answering requests still waiting for a
 * batch and flushing the prediction log. Call after the HTTP server has
 * stopped, before cairn_serve_free. Safe without a start. */
CAIRN_API void cairn_serve_runtime_stop(cairn_serve *s);

/* ---- metrics (serve_metrics.c) ---- */
/* Appends the serving metric families in the Prometheus text exposition
 * format 0.0.4, each with its HELP and TYPE lines:
 * cairn_inference_requests_total{model,version,outcome="ok"|"error"},
 * cairn_inference_rows_total{model,version}, the histograms
 * cairn_inference_duration_seconds and cairn_inference_compute_seconds
 * (buckets 50 us .. 5 s) and the gauge cairn_models_loaded (from s).
 * Inference series are process-wide, one per model version that has
 * answered an infer request. out must be unbounded (max 0). Thread-safe. */
CAIRN_API void cairn_serve_metrics_write(cairn_serve *s, cairn_buf *out);

#endif
