/*
 * cairn/registry.h - the model registry: registered models, their numbered
 * versions, stages, aliases and tags, stored through cairn_store and served
 * as the MLflow Model Registry REST API 2.0 (cairn_registry_mount).
 *
 * Version numbers increase per model from 1 and are never reused: deleting
 * a version leaves a tombstone row that keeps its number taken, as MLflow
 * does. Writes go through the store's group-committing writer and are
 * answered only after their commit.
 */
#ifndef CAIRN_REGISTRY_H
#define CAIRN_REGISTRY_H

#include "cairn/http.h"
#include "cairn/store.h"

typedef struct cairn_registry cairn_registry;

/* Creates a registry over `store` (borrowed; it must outlive the registry).
 * The schema comes from the store's migrations, so nothing is written here.
 * Returns 0; *out is NULL on failure. Thread-safe once created. */
CAIRN_API int cairn_registry_new(cairn_registry **out, cairn_store *store);
/* Frees the registry (not the store). NULL is a no-op. Call after the HTTP
 * server that mounted it has stopped. */
CAIRN_API void cairn_registry_free(cairn_registry *reg);
/* Registers the registry routes (registered-models/..., model-versions/...)
 * under /api/2.0/mlflow and /ajax-api/2.0/mlflow. Call before the server
 * starts. CAIRN_EINVALID if a route cannot be added. */
CAIRN_API int cairn_registry_mount(cairn_registry *reg, cairn_http_server *srv);

/* Called after a committed change that can alter which version a name,
 * alias or "latest" resolves to: a model renamed (once with the old name,
 * once with the new) or deleted, an alias set or deleted, a version
 * created, deleted or moved to another stage. Runs on the thread that
 * acknowledges the write (the store's writer, or the request's thread),
 * before the client gets its answer, so it must be quick and must not
 * write to the store. model_name is borrowed for the call. */
typedef void (*cairn_registry_change_cb)(const char *model_name, void *payload);
/* Adds a change listener (listeners run in the order added). Call before
 * the server that mounted the registry starts; not thread-safe against
 * running writes. Can't fail. */
CAIRN_API void cairn_registry_on_change(cairn_registry *reg, cairn_registry_change_cb cb,
                                        void *payload);

/* MLflow's model-version stages, in the order latest_versions lists them. */
typedef enum cairn_registry_stage {
    CAIRN_REGISTRY_STAGE_NONE = 0,
    CAIRN_REGISTRY_STAGE_STAGING,
    CAIRN_REGISTRY_STAGE_PRODUCTION,
    CAIRN_REGISTRY_STAGE_ARCHIVED
} cairn_registry_stage;

/* Parses a stage name case-insensitively ("production" -> PRODUCTION).
 * CAIRN_EINVALID (message as MLflow words it) for anything else. Thread-safe. */
CAIRN_API int cairn_registry_stage_parse(const char *s, cairn_registry_stage *out);
/* The canonical spelling of a stage ("None", "Staging", ...). Can't fail. */
CAIRN_API const char *cairn_registry_stage_name(cairn_registry_stage stage);
/* Checks an alias name as MLflow does: non-empty, at most 255 characters of
 * [A-Za-z0-9_-], not "latest" (any case) and not a version alias "v<digits>".
 * CAIRN_EINVALID with MLflow's message otherwise. Thread-safe. */
CAIRN_API int cairn_registry_alias_check(const char *alias);

#endif
