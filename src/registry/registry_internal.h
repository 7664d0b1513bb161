/*
 * registry_internal.h - the registry's state and the read helpers shared by
 * its handlers (registry_api.c, registry_search.c) and write units.
 *
 * The same loaders run on a read connection (GET handlers) or inside a write
 * unit (so a write can answer with the entity it just changed, read in its
 * own transaction): reg_db carries one or the other.
 */
#ifndef CAIRN_REGISTRY_INTERNAL_H
#define CAIRN_REGISTRY_INTERNAL_H

#include <jansson.h>

#include "cairn/registry.h"

/* One change listener (cairn_registry_on_change), in a list kept in the
 * order added. */
struct reg_listener {
    struct reg_listener *next;
    cairn_registry_change_cb cb;
    void *payload;
};

struct cairn_registry {
    cairn_store *store;
    struct reg_listener *listeners; /* fixed once the server starts */
};

/* Tells every listener that model `name` changed (after the commit). */
void cairn_registry__notify(cairn_registry *reg, const char *name);

/* Stage of a deleted version's tombstone row; never shown, keeps its number. */
#define REG_STAGE_DELETED "Deleted_Internal"

/* Columns every model-version query selects first, in this order. */
#define REG_MV_COLS                                                                                \
    "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, "    \
    "mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, mv.status_message"
/* Columns every registered-model query selects first, in this order. */
#define REG_RM_COLS "rm.name, rm.creation_time, rm.last_updated_time, rm.description, rm.user_id"

/* A read context: a store (read connection) or a write unit's transaction. */
typedef struct reg_db {
    cairn_store *store;
    cairn_store_tx *tx; /* non-NULL: run inside this transaction */
} reg_db;

/* Runs one query on db; as cairn_store_query / cairn_tx_exec. */
int cairn_registry__query(reg_db *db, const char *sql, const cairn_value *p, int np,
                          cairn_row_cb cb, void *payload);

/* Runs `sql` (selecting REG_MV_COLS first) and appends one ModelVersion
 * object per row to arr, then fills their tags and aliases. arr keeps its
 * entries on failure (the caller frees arr). */
int cairn_registry__load_versions(reg_db *db, const char *sql, const cairn_value *p, int np,
                                  json_t *arr);
/* Runs `sql` (selecting REG_RM_COLS first) and appends one RegisteredModel
 * object per row to arr, with tags, aliases and latest_versions. */
int cairn_registry__load_models(reg_db *db, const char *sql, const cairn_value *p, int np,
                                json_t *arr);

/* One version / model as JSON (*out: a new reference). CAIRN_ENOTFOUND with
 * MLflow's message if it does not exist (or is a tombstone). */
int cairn_registry__version_json(reg_db *db, const char *name, int64_t version, json_t **out);
int cairn_registry__model_json(reg_db *db, const char *name, json_t **out);

/* Search handlers (registry_search.c). */
int cairn_registry__h_search_models(cairn_http_req *req, void *payload);
int cairn_registry__h_search_versions(cairn_http_req *req, void *payload);
int cairn_registry__h_latest_versions(cairn_http_req *req, void *payload);

/* Row callback storing the first column as int64 into *(int64_t *)payload. */
int cairn_registry__row_i64(const cairn_value *cols, int ncols, void *payload);

#endif
