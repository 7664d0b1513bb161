/*
 * registry_read.c - loads registered models and model versions as MLflow's
 * JSON messages. A page of entities is read with one query for the rows and
 * one per child table (tags, aliases, latest versions) over `name IN (...)`
 * chunks, then the child rows are matched to their parents through a sorted
 * index; never one query per entity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/buf.h"
#include "registry_internal.h"

#define IN_CHUNK 256 /* names per IN (...) list; padded to a power of two */

int cairn_registry__query(reg_db *db, const char *sql, const cairn_value *p, int np,
                          cairn_row_cb cb, void *payload)
{
    if (db->tx) return cairn_tx_exec(db->tx, sql, p, np, cb, payload);
    return cairn_store_query(db->store, sql, p, np, cb, payload);
}

int cairn_registry__row_i64(const cairn_value *c, int n, void *payload)
{
    if (n > 0 && c[0].type == CAIRN_V_INT)
        *(int64_t *)payload = c[0].u.i;
    else if (n > 0 && c[0].type == CAIRN_V_REAL)
        *(int64_t *)payload = (int64_t)c[0].u.d;
    return 0;
}

static json_t *text(const cairn_value *v)
{
    if (v->type != CAIRN_V_TEXT) return json_string("");
    return json_stringn(v->u.s.ptr, v->u.s.len);
}

static int64_t ival(const cairn_value *v)
{
    if (v->type == CAIRN_V_INT) return v->u.i;
    if (v->type == CAIRN_V_REAL) return (int64_t)v->u.d;
    return 0;
}

/* Sets key to the text value unless it is empty (proto JSON omits empty fields). */
static void set_nonempty(json_t *o, const char *key, const cairn_value *v)
{
    if (v->type == CAIRN_V_TEXT && v->u.s.len > 0) json_object_set_new(o, key, text(v));
}

static json_t *version_str(int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    return json_string(b);
}

/* ---- index of loaded entities by (name, version) ---- */

struct ent {
    const char *name; /* borrowed from obj's "name" */
    int64_t version;  /* 0 for registered models */
    json_t *obj;
};

struct index {
    struct ent *e;
    int n;
};

static int ent_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* Indexes arr[from..]; objects must have "name" (and "version" when
 * with_version). Can't fail (small allocations abort on OOM). */
static void index_build(struct index *ix, json_t *arr, size_t from, int with_version)
{
    size_t n = json_array_size(arr) - from;
    ix->e = cairn_malloc(sizeof(*ix->e) * (n ? n : 1));
    ix->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, from + i);
        ix->e[i].name = json_string_value(json_object_get(o, "name"));
        ix->e[i].version = 0;
        if (with_version)
            cairn_parse_i64(json_string_value(json_object_get(o, "version")), &ix->e[i].version);
        ix->e[i].obj = o;
    }
    if (n > 1) qsort(ix->e, n, sizeof(*ix->e), ent_cmp);
}

static json_t *index_find(const struct index *ix, const char *name, size_t name_len,
                          int64_t version)
{
    int lo = 0, hi = ix->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const struct ent *e = &ix->e[mid];
        int c = strncmp(e->name, name, name_len);
        if (c == 0 && e->name[name_len] != '\0') c = 1;
        if (c == 0) c = e->version < version ? -1 : e->version > version;
        if (c == 0) return e->obj;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Distinct names of the index, in order (borrowed). */
static int index_names(const struct index *ix, const char ***out)
{
    const char **names = cairn_malloc(sizeof(char *) * (size_t)(ix->n ? ix->n : 1));
    int k = 0;
    for (int i = 0; i < ix->n; i++)
        if (k == 0 || strcmp(names[k - 1], ix->e[i].name) != 0) names[k++] = ix->e[i].name;
    *out = names;
    return k;
}

/* Appends "?, ?, ..." for names[0..n) padded to a power of two (repeating
 * the last name, so statement texts stay few for the statement cache) and
 * binds them from params[0]. Returns the number bound. */
static int in_list(cairn_buf *sql, cairn_value *params, const char *const *names, int n)
{
    int padded = 1;
    while (padded < n)
        padded *= 2;
    for (int i = 0; i < padded; i++) {
        cairn_buf_puts(sql, i ? ", ?" : "?");
        params[i] = CAIRN_VTEXT(names[i < n ? i : n - 1]);
    }
    return padded;
}

/* Runs `head` + IN list + `tail` over the names in chunks, calling cb per row. */
static int query_by_names(reg_db *db, const char *head, const char *tail, const char **names, int n,
                          cairn_row_cb cb, void *payload)
{
    cairn_value p[IN_CHUNK];
    for (int off = 0; off < n; off += IN_CHUNK) {
        int k = n - off < IN_CHUNK ? n - off : IN_CHUNK;
        cairn_buf sql = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&sql, head);
        int np = in_list(&sql, p, names + off, k);
        cairn_buf_puts(&sql, tail);
        int rc = cairn_registry__query(db, cairn_buf_cstr(&sql), p, np, cb, payload);
        cairn_buf_free(&sql);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- model versions ---- */

static int version_row(const cairn_value *c, int n, void *payload)
{
    json_t *arr = payload;
    (void)n;
    json_t *o = json_object();
    json_object_set_new(o, "name", text(&c[0]));
    json_object_set_new(o, "version", version_str(ival(&c[1])));
    json_object_set_new(o, "creation_timestamp", json_integer(ival(&c[2])));
    json_object_set_new(o, "last_updated_timestamp", json_integer(ival(&c[3])));
    set_nonempty(o, "user_id", &c[5]);
    json_object_set_new(o, "current_stage", text(&c[6]));
    json_object_set_new(o, "description", text(&c[4]));
    json_object_set_new(o, "source", text(&c[7]));
    json_object_set_new(o, "run_id", text(&c[8]));
    json_object_set_new(o, "status", text(&c[10]));
    set_nonempty(o, "status_message", &c[11]);
    json_object_set_new(o, "tags", json_array());
    set_nonempty(o, "run_link", &c[9]);
    json_object_set_new(o, "aliases", json_array());
    json_array_append_new(arr, o);
    return 0;
}

static int version_tag_row(const cairn_value *c, int n, void *payload)
{
    (void)n;
    if (c[0].type != CAIRN_V_TEXT) return 0;
    json_t *o = index_find(payload, c[0].u.s.ptr, c[0].u.s.len, ival(&c[1]));
    if (!o) return 0;
    json_t *t = json_object();
    json_object_set_new(t, "key", text(&c[2]));
    json_object_set_new(t, "value", text(&c[3]));
    json_array_append_new(json_object_get(o, "tags"), t);
    return 0;
}

static int version_alias_row(const cairn_value *c, int n, void *payload)
{
    (void)n;
    if (c[0].type != CAIRN_V_TEXT) return 0;
    json_t *o = index_find(payload, c[0].u.s.ptr, c[0].u.s.len, ival(&c[2]));
    if (o) json_array_append_new(json_object_get(o, "aliases"), text(&c[1]));
    return 0;
}

int cairn_registry__load_versions(reg_db *db, const char *sql, const cairn_value *p, int np,
                                  json_t *arr)
{
    size_t from = json_array_size(arr);
    int rc = cairn_registry__query(db, sql, p, np, version_row, arr);
    if (rc < 0 || json_array_size(arr) == from) return rc < 0 ? rc : 0;
    struct index ix;
    const char **names;
    index_build(&ix, arr, from, 1);
    int nn = index_names(&ix, &names);
    rc = query_by_names(db,
                        "SELECT name, version, key, value FROM model_version_tags WHERE name IN (",
                        ") ORDER BY name, version, key", names, nn, version_tag_row, &ix);
    if (rc >= 0)
        rc = query_by_names(
            db, "SELECT name, alias, version FROM registered_model_aliases WHERE name IN (",
            ") ORDER BY name, alias", names, nn, version_alias_row, &ix);
    cairn_free(names);
    cairn_free(ix.e);
    return rc < 0 ? rc : 0;
}

int cairn_registry__version_json(reg_db *db, const char *name, int64_t version, json_t **out)
{
    json_t *arr = json_array();
    cairn_value p[] = {CAIRN_VTEXT(name), CAIRN_VINT(version), CAIRN_VTEXT(REG_STAGE_DELETED)};
    int rc =
        cairn_registry__load_versions(db,
                                      "SELECT " REG_MV_COLS " FROM model_versions mv WHERE "
                                      "mv.name = ? AND mv.version = ? AND mv.current_stage <> ?",
                                      p, 3, arr);
    *out = NULL;
    if (rc == 0 && json_array_size(arr) == 0)
        rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_REGISTRY,
                             "Model Version (name=%.500s, version=%lld) not found", name,
                             (long long)version);
    if (rc == 0) *out = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return rc;
}

/* ---- registered models ---- */

static int model_row(const cairn_value *c, int n, void *payload)
{
    json_t *arr = payload;
    (void)n;
    json_t *o = json_object();
    json_object_set_new(o, "name", text(&c[0]));
    json_object_set_new(o, "creation_timestamp", json_integer(ival(&c[1])));
    json_object_set_new(o, "last_updated_timestamp", json_integer(ival(&c[2])));
    set_nonempty(o, "user_id", &c[4]);
    json_object_set_new(o, "description", text(&c[3]));
    json_object_set_new(o, "latest_versions", json_array());
    json_object_set_new(o, "tags", json_array());
    json_object_set_new(o, "aliases", json_array());
    json_array_append_new(arr, o);
    return 0;
}

static int model_tag_row(const cairn_value *c, int n, void *payload)
{
    (void)n;
    if (c[0].type != CAIRN_V_TEXT) return 0;
    json_t *o = index_find(payload, c[0].u.s.ptr, c[0].u.s.len, 0);
    if (!o) return 0;
    json_t *t = json_object();
    json_object_set_new(t, "key", text(&c[1]));
    json_object_set_new(t, "value", text(&c[2]));
    json_array_append_new(json_object_get(o, "tags"), t);
    return 0;
}

static int model_alias_row(const cairn_value *c, int n, void *payload)
{
    (void)n;
    if (c[0].type != CAIRN_V_TEXT) return 0;
    json_t *o = index_find(payload, c[0].u.s.ptr, c[0].u.s.len, 0);
    if (!o) return 0;
    json_t *a = json_object();
    json_object_set_new(a, "alias", text(&c[1]));
    json_object_set_new(a, "version", version_str(ival(&c[2])));
    json_array_append_new(json_object_get(o, "aliases"), a);
    return 0;
}

/* Latest version per stage (MLflow's latest_versions) for the names in
 * chunks, attached to the models of ix in the stage order None, Staging,
 * Production, Archived. */
static int attach_latest(reg_db *db, const struct index *ix, const char **names, int nn)
{
    cairn_value p[IN_CHUNK + 1];
    int rc = 0;
    for (int off = 0; off < nn && rc == 0; off += IN_CHUNK) {
        int k = nn - off < IN_CHUNK ? nn - off : IN_CHUNK;
        cairn_buf sql = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&sql,
                       "SELECT " REG_MV_COLS " FROM model_versions mv JOIN (SELECT name AS n, "
                       "MAX(version) AS v FROM model_versions WHERE name IN (");
        int np = in_list(&sql, p, names + off, k);
        cairn_buf_puts(&sql,
                       ") AND current_stage <> ? GROUP BY name, current_stage) l ON mv.name = "
                       "l.n AND mv.version = l.v ORDER BY mv.name, CASE mv.current_stage "
                       "WHEN 'None' THEN 0 WHEN 'Staging' THEN 1 WHEN 'Production' THEN 2 "
                       "ELSE 3 END");
        p[np++] = CAIRN_VTEXT(REG_STAGE_DELETED);
        json_t *vers = json_array();
        rc = cairn_registry__load_versions(db, cairn_buf_cstr(&sql), p, np, vers);
        cairn_buf_free(&sql);
        for (size_t i = 0; rc == 0 && i < json_array_size(vers); i++) {
            json_t *v = json_array_get(vers, i);
            const char *name = json_string_value(json_object_get(v, "name"));
            json_t *m = index_find(ix, name, strlen(name), 0);
            if (m) json_array_append(json_object_get(m, "latest_versions"), v);
        }
        json_decref(vers);
    }
    return rc;
}

int cairn_registry__load_models(reg_db *db, const char *sql, const cairn_value *p, int np,
                                json_t *arr)
{
    size_t from = json_array_size(arr);
    int rc = cairn_registry__query(db, sql, p, np, model_row, arr);
    if (rc < 0 || json_array_size(arr) == from) return rc < 0 ? rc : 0;
    struct index ix;
    const char **names;
    index_build(&ix, arr, from, 0);
    int nn = index_names(&ix, &names);
    rc = query_by_names(db, "SELECT name, key, value FROM registered_model_tags WHERE name IN (",
                        ") ORDER BY name, key", names, nn, model_tag_row, &ix);
    if (rc >= 0)
        rc = query_by_names(
            db, "SELECT name, alias, version FROM registered_model_aliases WHERE name IN (",
            ") ORDER BY name, alias", names, nn, model_alias_row, &ix);
    if (rc >= 0) rc = attach_latest(db, &ix, names, nn);
    cairn_free(names);
    cairn_free(ix.e);
    return rc < 0 ? rc : 0;
}

int cairn_registry__model_json(reg_db *db, const char *name, json_t **out)
{
    json_t *arr = json_array();
    cairn_value p = CAIRN_VTEXT(name);
    int rc = cairn_registry__load_models(db,
                                         "SELECT " REG_RM_COLS " FROM registered_models rm "
                                         "WHERE rm.name = ?",
                                         &p, 1, arr);
    *out = NULL;
    if (rc == 0 && json_array_size(arr) == 0)
        rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_REGISTRY,
                             "Registered Model with name=%.500s not found", name);
    if (rc == 0) *out = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return rc;
}
