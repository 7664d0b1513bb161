/*
 * registry_api.c - REST handlers for single registered models and model
 * versions: create, rename, update, delete, get, tags, stages and aliases.
 *
 * Every write is one group-committed write unit (reg_op) answered after its
 * commit without holding an HTTP thread. A unit that answers with an entity
 * reads it back inside its own transaction, so the response shows exactly
 * what was committed; the JSON it built is sent by the done callback, or
 * dropped there if the commit fails.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/track.h" /* cairn_kv */
#include "registry_api.h"
#include "track/api.h"

#define REG_MAX_TAGS 1000
#define REG_MAX_TAG_VALUE 100000

typedef struct reg_op reg_op;
typedef int (*reg_unit_fn)(cairn_store_tx *tx, reg_op *op);

/* One write request: its arguments (copied into the request arena, since
 * the JSON body is freed before the unit runs) and its result. */
struct reg_op {
    cairn_http_req *req;
    cairn_registry *reg;
    reg_unit_fn fn;
    const char *key; /* response field for result; NULL: answer {} */
    json_t *result;  /* built by the unit, sent or dropped by op_done */
    int code;
    char msg[256];
    int64_t now;
    const char *name, *new_name, *description, *source, *run_id, *run_link, *alias;
    const char *tag_key, *tag_value;
    int64_t version;
    cairn_registry_stage stage;
    int archive;
    cairn_kv *tags;
    int ntags;
    int notify; /* 1: the change listeners hear of name (and new_name) after the commit */
};

static const char *keep(cairn_http_req *req, const char *s)
{
    return s ? cairn_http_req_strdup(req, s) : NULL;
}

static reg_op *op_new(cairn_http_req *req, reg_unit_fn fn, const char *key)
{
    reg_op *op = cairn_http_req_alloc(req, sizeof(*op));
    memset(op, 0, sizeof(*op));
    op->req = req;
    op->fn = fn;
    op->key = key;
    op->now = cairn_time_ms();
    return op;
}

/* Writer thread. Drops a result left by an earlier attempt, so a unit the
 * store runs again never leaks; keeps the unit's own error message, since
 * later units of the same batch overwrite the thread's last error. */
static int op_unit(cairn_store_tx *tx, void *payload)
{
    reg_op *op = payload;
    json_decref(op->result);
    op->result = NULL;
    int rc = op->fn(tx, op);
    if (rc < 0) {
        op->code = rc;
        snprintf(op->msg, sizeof(op->msg), "%s", cairn_error_last()->msg);
        json_decref(op->result);
        op->result = NULL;
    }
    return rc;
}

static void op_done(int rc, void *payload)
{
    reg_op *op = payload;
    if (rc == 0) {
        /* before the answer, so a client that waits for it sees the change served */
        if (op->notify) {
            cairn_registry__notify(op->reg, op->name);
            if (op->new_name && strcmp(op->new_name, op->name) != 0)
                cairn_registry__notify(op->reg, op->new_name);
        }
        json_t *r = json_object();
        if (op->key && op->result)
            json_object_set_new(r, op->key, op->result);
        else
            json_decref(op->result);
        op->result = NULL;
        cairn_api__ok(op->req, r);
        return;
    }
    json_decref(op->result);
    op->result = NULL;
    if (op->code != rc) snprintf(op->msg, sizeof(op->msg), "%s", cairn_error_last()->msg);
    cairn_error_set(rc, CAIRN_SUBSYS_REGISTRY, "%s", op->msg);
    cairn_api__fail(op->req, rc);
}

/* Ends the call and queues the op; always produces exactly one response. */
static int submit(api_call *call, cairn_registry *reg, reg_op *op)
{
    cairn_api__end(call);
    op->reg = reg;
    cairn_http_defer(op->req);
    int rc = cairn_store_write_async(reg->store, op_unit, op, op_done, op);
    if (rc) cairn_api__fail(op->req, rc);
    return 0;
}

/* ---- argument helpers ---- */

static int name_arg(api_call *call, const char *key, const char **out)
{
    const char *s = NULL;
    int rc = cairn_api__str(call, key, 1, &s);
    if (rc) return rc;
    if (!*s)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Missing value for required parameter '%s'", key);
    if (strlen(s) > 500)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Registered model name '%.40s...' exceeded length limit of 500", s);
    *out = s;
    return 0;
}

static int version_arg(api_call *call, int64_t *out)
{
    int rc = cairn_api__i64(call, "version", 1, out, NULL);
    if (!rc && *out < 1)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Model version must be a positive integer, got '%lld'",
                             (long long)*out);
    return rc;
}

static int tag_value_check(const char *key, const char *value)
{
    int rc = cairn_api__check_key("tag", key);
    if (!rc && value && strlen(value) > REG_MAX_TAG_VALUE)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Tag value for key '%.250s' exceeded length limit of %d", key,
                             REG_MAX_TAG_VALUE);
    return rc;
}

/* Reads [{key, value}] into arena-allocated, checked cairn_kv. */
static int tags_arg(api_call *call, cairn_kv **out, int *n)
{
    json_t *arr;
    int rc = cairn_api__array(call, "tags", &arr);
    *out = NULL;
    *n = 0;
    if (rc || !arr) return rc;
    size_t len = json_array_size(arr);
    if (len > REG_MAX_TAGS)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Too many tags: %zu (at most %d)", len, REG_MAX_TAGS);
    cairn_kv *kv = cairn_http_req_alloc(call->req, sizeof(*kv) * (len ? len : 1));
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *k = json_object_get(e, "key"), *v = json_object_get(e, "value");
        if (!json_is_string(k))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                                   "Invalid value for 'tags[%zu].key': expected a string", i);
        if (v && !json_is_null(v) && !json_is_string(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                                   "Invalid value for 'tags[%zu].value': expected a string", i);
        const char *vs = json_is_string(v) ? json_string_value(v) : "";
        if ((rc = tag_value_check(json_string_value(k), vs))) return rc;
        kv[i].key = keep(call->req, json_string_value(k));
        kv[i].value = keep(call->req, vs);
    }
    *out = kv;
    *n = (int)len;
    return 0;
}

/* ---- checks inside units ---- */

static int exec(cairn_store_tx *tx, const char *sql, const cairn_value *p, int np)
{
    int rc = cairn_tx_exec(tx, sql, p, np, NULL, NULL);
    return rc < 0 ? rc : 0;
}

static int model_missing(const char *name)
{
    return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_REGISTRY,
                           "Registered Model with name=%.500s not found", name);
}

static int version_missing(const char *name, int64_t version)
{
    return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_REGISTRY,
                           "Model Version (name=%.500s, version=%lld) not found", name,
                           (long long)version);
}

static int model_exists(cairn_store_tx *tx, const char *name)
{
    int64_t one = 0;
    cairn_value p = CAIRN_VTEXT(name);
    int rc = cairn_tx_exec(tx, "SELECT 1 FROM registered_models WHERE name = ?", &p, 1,
                           cairn_registry__row_i64, &one);
    if (rc < 0) return rc;
    return one ? 0 : model_missing(name);
}

static int version_exists(cairn_store_tx *tx, const char *name, int64_t version)
{
    int64_t one = 0;
    cairn_value p[] = {CAIRN_VTEXT(name), CAIRN_VINT(version), CAIRN_VTEXT(REG_STAGE_DELETED)};
    int rc = cairn_tx_exec(tx,
                           "SELECT 1 FROM model_versions WHERE name = ? AND version = ? AND "
                           "current_stage <> ?",
                           p, 3, cairn_registry__row_i64, &one);
    if (rc < 0) return rc;
    return one ? 0 : version_missing(name, version);
}

static int touch_model(cairn_store_tx *tx, reg_op *op)
{
    cairn_value p[] = {CAIRN_VINT(op->now), CAIRN_VTEXT(op->name)};
    return exec(tx, "UPDATE registered_models SET last_updated_time = ? WHERE name = ?", p, 2);
}

static int model_result(cairn_store_tx *tx, reg_op *op, const char *name)
{
    reg_db db = {NULL, tx};
    return cairn_registry__model_json(&db, name, &op->result);
}

static int version_result(cairn_store_tx *tx, reg_op *op)
{
    reg_db db = {NULL, tx};
    return cairn_registry__version_json(&db, op->name, op->version, &op->result);
}

/* ================= registered models ================= */

static int model_create_unit(cairn_store_tx *tx, reg_op *op)
{
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VINT(op->now), CAIRN_VINT(op->now),
                       CAIRN_VTEXT(op->description ? op->description : "")};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO registered_models (name, creation_time, last_updated_time, "
                           "description) VALUES (?, ?, ?, ?)",
                           p, 4, NULL, NULL);
    if (rc == CAIRN_EEXISTS)
        return cairn_error_set(CAIRN_EEXISTS, CAIRN_SUBSYS_REGISTRY,
                               "Registered Model (name=%.500s) already exists.", op->name);
    if (rc < 0) return rc;
    for (int i = 0; i < op->ntags; i++) {
        cairn_value t[] = {CAIRN_VTEXT(op->name), CAIRN_VTEXT(op->tags[i].key),
                           CAIRN_VTEXT(op->tags[i].value)};
        if ((rc = exec(tx,
                       "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
                       "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                       t, 3)))
            return rc;
    }
    return model_result(tx, op, op->name);
}

int cairn_registry__h_model_create(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_create_unit, "registered_model");
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "description", 0, &op->description);
    if (!rc) rc = tags_arg(&call, &op->tags, &op->ntags);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->description = keep(req, op->description);
    return submit(&call, payload, op);
}

static int model_rename_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc;
    if (strcmp(op->name, op->new_name) == 0) {
        if ((rc = model_exists(tx, op->name))) return rc;
        return model_result(tx, op, op->name);
    }
    cairn_value p[] = {CAIRN_VTEXT(op->new_name), CAIRN_VINT(op->now), CAIRN_VTEXT(op->name)};
    rc = cairn_tx_exec(
        tx, "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?", p, 3,
        NULL, NULL);
    if (rc == CAIRN_EEXISTS)
        return cairn_error_set(CAIRN_EEXISTS, CAIRN_SUBSYS_REGISTRY,
                               "Registered Model (name=%.500s) already exists.", op->new_name);
    if (rc < 0) return rc;
    if (cairn_tx_changes(tx) == 0) return model_missing(op->name);
    /* versions (tombstones too, so numbers stay taken), tags and aliases follow */
    static const char *const moves[] = {
        "UPDATE model_versions SET name = ? WHERE name = ?",
        "UPDATE model_version_tags SET name = ? WHERE name = ?",
        "UPDATE registered_model_tags SET name = ? WHERE name = ?",
        "UPDATE registered_model_aliases SET name = ? WHERE name = ?",
    };
    cairn_value m[] = {CAIRN_VTEXT(op->new_name), CAIRN_VTEXT(op->name)};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(moves); i++)
        if ((rc = exec(tx, moves[i], m, 2))) return rc;
    /* MLflow also stamps the moved versions */
    cairn_value t[] = {CAIRN_VINT(op->now), CAIRN_VTEXT(op->new_name)};
    if ((rc = exec(tx, "UPDATE model_versions SET last_updated_time = ? WHERE name = ?", t, 2)))
        return rc;
    return model_result(tx, op, op->new_name);
}

int cairn_registry__h_model_rename(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_rename_unit, "registered_model");
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = name_arg(&call, "new_name", &op->new_name);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->new_name = keep(req, op->new_name);
    return submit(&call, payload, op);
}

static int model_update_unit(cairn_store_tx *tx, reg_op *op)
{
    cairn_value p[] = {CAIRN_VTEXT(op->description ? op->description : ""), CAIRN_VINT(op->now),
                       CAIRN_VTEXT(op->name)};
    int rc = exec(
        tx, "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?", p,
        3);
    if (rc) return rc;
    if (cairn_tx_changes(tx) == 0) return model_missing(op->name);
    return model_result(tx, op, op->name);
}

int cairn_registry__h_model_update(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_update_unit, "registered_model");
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "description", 0, &op->description);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->description = keep(req, op->description);
    return submit(&call, payload, op);
}

static int model_delete_unit(cairn_store_tx *tx, reg_op *op)
{
    cairn_value p = CAIRN_VTEXT(op->name);
    int rc = exec(tx, "DELETE FROM registered_models WHERE name = ?", &p, 1);
    if (rc) return rc;
    if (cairn_tx_changes(tx) == 0) return model_missing(op->name);
    static const char *const drops[] = {
        "DELETE FROM model_versions WHERE name = ?",
        "DELETE FROM model_version_tags WHERE name = ?",
        "DELETE FROM registered_model_tags WHERE name = ?",
        "DELETE FROM registered_model_aliases WHERE name = ?",
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(drops); i++)
        if ((rc = exec(tx, drops[i], &p, 1))) return rc;
    return 0;
}

int cairn_registry__h_model_delete(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_delete_unit, NULL);
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    return submit(&call, payload, op);
}

int cairn_registry__h_model_get(cairn_http_req *req, void *payload)
{
    cairn_registry *reg = payload;
    BEGIN(call, req);
    const char *name = NULL;
    json_t *m = NULL;
    reg_db db = {reg->store, NULL};
    int rc = name_arg(&call, "name", &name);
    if (!rc) rc = cairn_registry__model_json(&db, name, &m);
    if (rc) FAIL(call, rc);
    json_t *r = json_object();
    json_object_set_new(r, "registered_model", m);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

static int model_set_tag_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = model_exists(tx, op->name);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VTEXT(op->tag_key), CAIRN_VTEXT(op->tag_value)};
    return exec(tx,
                "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                p, 3);
}

int cairn_registry__h_model_set_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_set_tag_unit, NULL);
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &op->tag_key);
    if (!rc) rc = cairn_api__str(&call, "value", 1, &op->tag_value);
    if (!rc) rc = tag_value_check(op->tag_key, op->tag_value);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->tag_key = keep(req, op->tag_key);
    op->tag_value = keep(req, op->tag_value);
    return submit(&call, payload, op);
}

/* As MLflow: the model must exist; a missing tag is not an error. */
static int model_delete_tag_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = model_exists(tx, op->name);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VTEXT(op->tag_key)};
    return exec(tx, "DELETE FROM registered_model_tags WHERE name = ? AND key = ?", p, 2);
}

int cairn_registry__h_model_delete_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, model_delete_tag_unit, NULL);
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &op->tag_key);
    if (!rc) rc = cairn_api__check_key("tag", op->tag_key);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->tag_key = keep(req, op->tag_key);
    return submit(&call, payload, op);
}

/* ================= aliases ================= */

static int alias_set_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = model_exists(tx, op->name);
    if (!rc) rc = version_exists(tx, op->name, op->version);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VTEXT(op->alias), CAIRN_VINT(op->version)};
    return exec(tx,
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                p, 3);
}

int cairn_registry__h_alias_set(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, alias_set_unit, NULL);
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "alias", 1, &op->alias);
    if (!rc) rc = cairn_registry_alias_check(op->alias);
    if (!rc) rc = version_arg(&call, &op->version);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->alias = keep(req, op->alias);
    return submit(&call, payload, op);
}

static int alias_delete_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = model_exists(tx, op->name);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VTEXT(op->alias)};
    return exec(tx, "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", p, 2);
}

int cairn_registry__h_alias_delete(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, alias_delete_unit, NULL);
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "alias", 1, &op->alias);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->alias = keep(req, op->alias);
    return submit(&call, payload, op);
}

/* MLflow answers a missing alias with INVALID_PARAMETER_VALUE (400), not 404. */
int cairn_registry__h_alias_get(cairn_http_req *req, void *payload)
{
    cairn_registry *reg = payload;
    BEGIN(call, req);
    const char *name = NULL, *alias = NULL;
    int64_t version = 0;
    json_t *v = NULL;
    reg_db db = {reg->store, NULL};
    int rc = name_arg(&call, "name", &name);
    if (!rc) rc = cairn_api__str(&call, "alias", 1, &alias);
    if (!rc) {
        cairn_value p[] = {CAIRN_VTEXT(name), CAIRN_VTEXT(alias)};
        rc = cairn_store_query(reg->store,
                               "SELECT version FROM registered_model_aliases WHERE name = ? AND "
                               "alias = ?",
                               p, 2, cairn_registry__row_i64, &version);
        if (rc > 0) rc = 0;
    }
    if (!rc && version == 0)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Registered model alias %.255s not found.", alias);
    if (!rc) rc = cairn_registry__version_json(&db, name, version, &v);
    if (rc) FAIL(call, rc);
    json_t *r = json_object();
    json_object_set_new(r, "model_version", v);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

/* ================= model versions ================= */

static int version_create_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = model_exists(tx, op->name);
    if (rc) return rc;
    /* the store has one writer, so MAX + 1 cannot race; tombstones count */
    int64_t max = 0;
    cairn_value n = CAIRN_VTEXT(op->name);
    if ((rc = cairn_tx_exec(tx, "SELECT MAX(version) FROM model_versions WHERE name = ?", &n, 1,
                            cairn_registry__row_i64, &max)) < 0)
        return rc;
    op->version = max + 1;
    cairn_value p[] = {CAIRN_VTEXT(op->name),
                       CAIRN_VINT(op->version),
                       CAIRN_VINT(op->now),
                       CAIRN_VINT(op->now),
                       CAIRN_VTEXT(op->description ? op->description : ""),
                       CAIRN_VTEXT(op->source),
                       CAIRN_VTEXT(op->run_id ? op->run_id : ""),
                       CAIRN_VTEXT(op->run_link ? op->run_link : "")};
    if ((rc = exec(tx,
                   "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                   "description, current_stage, source, run_id, run_link, status) VALUES (?, ?, ?, "
                   "?, ?, 'None', ?, ?, ?, 'READY')",
                   p, 8)))
        return rc;
    for (int i = 0; i < op->ntags; i++) {
        cairn_value t[] = {CAIRN_VTEXT(op->name), CAIRN_VINT(op->version),
                           CAIRN_VTEXT(op->tags[i].key), CAIRN_VTEXT(op->tags[i].value)};
        if ((rc =
                 exec(tx,
                      "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, "
                      "?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                      t, 4)))
            return rc;
    }
    if ((rc = touch_model(tx, op))) return rc;
    return version_result(tx, op);
}

int cairn_registry__h_version_create(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_create_unit, "model_version");
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = cairn_api__str(&call, "source", 1, &op->source);
    if (!rc) rc = cairn_api__str(&call, "run_id", 0, &op->run_id);
    if (!rc) rc = cairn_api__str(&call, "run_link", 0, &op->run_link);
    if (!rc) rc = cairn_api__str(&call, "description", 0, &op->description);
    if (!rc) rc = tags_arg(&call, &op->tags, &op->ntags);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->source = keep(req, op->source);
    op->run_id = keep(req, op->run_id);
    op->run_link = keep(req, op->run_link);
    op->description = keep(req, op->description);
    return submit(&call, payload, op);
}

static int version_update_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = version_exists(tx, op->name, op->version);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->description ? op->description : ""), CAIRN_VINT(op->now),
                       CAIRN_VTEXT(op->name), CAIRN_VINT(op->version)};
    if ((rc =
             exec(tx,
                  "UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? "
                  "AND version = ?",
                  p, 4)))
        return rc;
    return version_result(tx, op);
}

int cairn_registry__h_version_update(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_update_unit, "model_version");
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = version_arg(&call, &op->version);
    if (!rc) rc = cairn_api__str(&call, "description", 0, &op->description);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->description = keep(req, op->description);
    return submit(&call, payload, op);
}

static int version_transition_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = version_exists(tx, op->name, op->version);
    if (rc) return rc;
    const char *stage = cairn_registry_stage_name(op->stage);
    cairn_value p[] = {CAIRN_VTEXT(stage), CAIRN_VINT(op->now), CAIRN_VTEXT(op->name),
                       CAIRN_VINT(op->version)};
    if ((rc = exec(tx,
                   "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name "
                   "= ? AND version = ?",
                   p, 4)))
        return rc;
    if (op->archive) {
        cairn_value a[] = {CAIRN_VINT(op->now), CAIRN_VTEXT(op->name), CAIRN_VINT(op->version),
                           CAIRN_VTEXT(stage)};
        if ((rc =
                 exec(tx,
                      "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? "
                      "WHERE name = ? AND version <> ? AND current_stage = ?",
                      a, 4)))
            return rc;
    }
    if ((rc = touch_model(tx, op))) return rc;
    return version_result(tx, op);
}

int cairn_registry__h_version_transition(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_transition_unit, "model_version");
    op->notify = 1;
    const char *stage = NULL;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = version_arg(&call, &op->version);
    if (!rc) rc = cairn_api__str(&call, "stage", 1, &stage);
    if (!rc) rc = cairn_registry_stage_parse(stage, &op->stage);
    if (!rc) rc = cairn_api__bool(&call, "archive_existing_versions", 0, &op->archive);
    if (!rc && op->archive && op->stage != CAIRN_REGISTRY_STAGE_STAGING &&
        op->stage != CAIRN_REGISTRY_STAGE_PRODUCTION)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Model version transition cannot archive existing model versions "
                             "because '%s' is not an Active stage. Valid stages are Staging, "
                             "Production",
                             cairn_registry_stage_name(op->stage));
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    return submit(&call, payload, op);
}

/* Leaves a tombstone so the number is never handed out again (MLflow does
 * the same); its tags and aliases go. */
static int version_delete_unit(cairn_store_tx *tx, reg_op *op)
{
    cairn_value p[] = {CAIRN_VTEXT(REG_STAGE_DELETED), CAIRN_VINT(op->now), CAIRN_VTEXT(op->name),
                       CAIRN_VINT(op->version), CAIRN_VTEXT(REG_STAGE_DELETED)};
    int rc =
        exec(tx,
             "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description "
             "= '', user_id = '', source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', "
             "run_link = '', status_message = '' WHERE name = ? AND version = ? AND "
             "current_stage <> ?",
             p, 5);
    if (rc) return rc;
    if (cairn_tx_changes(tx) == 0) return version_missing(op->name, op->version);
    cairn_value k[] = {CAIRN_VTEXT(op->name), CAIRN_VINT(op->version)};
    if ((rc = exec(tx, "DELETE FROM model_version_tags WHERE name = ? AND version = ?", k, 2)) ||
        (rc =
             exec(tx, "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", k, 2)))
        return rc;
    return touch_model(tx, op);
}

int cairn_registry__h_version_delete(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_delete_unit, NULL);
    op->notify = 1;
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = version_arg(&call, &op->version);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    return submit(&call, payload, op);
}

/* Loads the version named by the request's name/version into *out. */
static int version_read(api_call *call, cairn_registry *reg, json_t **out)
{
    const char *name = NULL;
    int64_t version = 0;
    reg_db db = {reg->store, NULL};
    int rc = name_arg(call, "name", &name);
    if (!rc) rc = version_arg(call, &version);
    if (!rc) rc = cairn_registry__version_json(&db, name, version, out);
    return rc;
}

int cairn_registry__h_version_get(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    json_t *v = NULL;
    int rc = version_read(&call, payload, &v);
    if (rc) FAIL(call, rc);
    json_t *r = json_object();
    json_object_set_new(r, "model_version", v);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

int cairn_registry__h_version_download_uri(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    json_t *v = NULL;
    int rc = version_read(&call, payload, &v);
    if (rc) FAIL(call, rc);
    json_t *r = json_object();
    json_object_set(r, "artifact_uri", json_object_get(v, "source"));
    json_decref(v);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

static int version_set_tag_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = version_exists(tx, op->name, op->version);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VINT(op->version), CAIRN_VTEXT(op->tag_key),
                       CAIRN_VTEXT(op->tag_value)};
    return exec(tx,
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                p, 4);
}

int cairn_registry__h_version_set_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_set_tag_unit, NULL);
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = version_arg(&call, &op->version);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &op->tag_key);
    if (!rc) rc = cairn_api__str(&call, "value", 1, &op->tag_value);
    if (!rc) rc = tag_value_check(op->tag_key, op->tag_value);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->tag_key = keep(req, op->tag_key);
    op->tag_value = keep(req, op->tag_value);
    return submit(&call, payload, op);
}

static int version_delete_tag_unit(cairn_store_tx *tx, reg_op *op)
{
    int rc = version_exists(tx, op->name, op->version);
    if (rc) return rc;
    cairn_value p[] = {CAIRN_VTEXT(op->name), CAIRN_VINT(op->version), CAIRN_VTEXT(op->tag_key)};
    return exec(tx, "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", p,
                3);
}

int cairn_registry__h_version_delete_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    reg_op *op = op_new(req, version_delete_tag_unit, NULL);
    int rc = name_arg(&call, "name", &op->name);
    if (!rc) rc = version_arg(&call, &op->version);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &op->tag_key);
    if (!rc) rc = cairn_api__check_key("tag", op->tag_key);
    if (rc) FAIL(call, rc);
    op->name = keep(req, op->name);
    op->tag_key = keep(req, op->tag_key);
    return submit(&call, payload, op);
}
