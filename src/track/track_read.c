/*
 * track_read.c - loading experiments and runs as MLflow JSON. A page of
 * runs is loaded with one query per table (runs, params, tags,
 * latest_metrics, inputs) over `run_id IN (...)`, never one query per run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "track_read.h"

json_t *cairn_track__id_str(int64_t id)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)id);
    return json_string(b);
}

json_t *cairn_track__json_double(double v, int is_nan)
{
    if (is_nan || isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
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

int cairn_track__in_list(cairn_buf *sql, cairn_value *params, const int64_t *ids, int n)
{
    int padded = 1;
    while (padded < n) padded *= 2;
    for (int i = 0; i < padded; i++) {
        cairn_buf_puts(sql, i ? ", ?" : "?");
        params[i] = CAIRN_VINT(ids[i < n ? i : n - 1]);
    }
    return padded;
}

/* Maps an internal id to its position in the requested order. */
struct idmap {
    const int64_t *ids;
    int n;
    int *order; /* indexes into ids, sorted by id */
};

static void idmap_init(struct idmap *m, const int64_t *ids, int n)
{
    m->ids = ids;
    m->n = n;
    m->order = cairn_malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) m->order[i] = i;
    /* stable bottom-up merge sort of positions by id (qsort would need a global key) */
    const int64_t *copy = ids;
    for (int width = 1; width < n; width *= 2) {
        int *tmp = cairn_malloc(sizeof(int) * (size_t)n);
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int a = lo, b = mid, k = lo;
            while (a < mid && b < hi) tmp[k++] = copy[m->order[a]] <= copy[m->order[b]] ? m->order[a++] : m->order[b++];
            while (a < mid) tmp[k++] = m->order[a++];
            while (b < hi) tmp[k++] = m->order[b++];
        }
        memcpy(m->order, tmp, sizeof(int) * (size_t)n);
        cairn_free(tmp);
    }
}

/* Position of id in the request, or -1. Duplicate ids map to the first. */
static int idmap_find(const struct idmap *m, int64_t id)
{
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int64_t v = m->ids[m->order[mid]];
        if (v == id) {
            while (mid > 0 && m->ids[m->order[mid - 1]] == id) mid--;
            return m->order[mid];
        }
        if (v < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static void idmap_free(struct idmap *m) { cairn_free(m->order); }

/* ---- experiments ---- */

struct exp_load {
    struct idmap map;
    json_t **slots;
};

static int exp_row(const cairn_value *c, int n, void *payload)
{
    struct exp_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || l->slots[i]) return 0;
    json_t *e = json_object();
    json_object_set_new(e, "experiment_id", cairn_track__id_str(ival(&c[0])));
    json_object_set_new(e, "name", text(&c[1]));
    json_object_set_new(e, "artifact_location", text(&c[2]));
    json_object_set_new(e, "lifecycle_stage", text(&c[3]));
    json_object_set_new(e, "last_update_time", json_integer(ival(&c[5])));
    json_object_set_new(e, "creation_time", json_integer(ival(&c[4])));
    l->slots[i] = e;
    return 0;
}

static int exp_tag_row(const cairn_value *c, int n, void *payload)
{
    struct exp_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || !l->slots[i]) return 0;
    json_t *tags = json_object_get(l->slots[i], "tags");
    if (!tags) {
        tags = json_array();
        json_object_set_new(l->slots[i], "tags", tags);
    }
    json_t *t = json_object();
    json_object_set_new(t, "key", text(&c[1]));
    json_object_set_new(t, "value", text(&c[2]));
    json_array_append_new(tags, t);
    return 0;
}

int cairn_track__load_experiments(cairn_store *store, const int64_t *ids, int n, json_t **out)
{
    struct exp_load l;
    int rc = 0;
    *out = json_array();
    if (n == 0) return 0;
    idmap_init(&l.map, ids, n);
    l.slots = cairn_calloc((size_t)n, sizeof(json_t *));
    int cap = 1;
    while (cap < n) cap *= 2;
    cairn_value *p = cairn_malloc(sizeof(cairn_value) * (size_t)cap);
    cairn_buf sql = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&sql, "SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                         "creation_time, last_update_time FROM experiments WHERE experiment_id IN (");
    int np = cairn_track__in_list(&sql, p, ids, n);
    cairn_buf_puts(&sql, ")");
    rc = cairn_store_query(store, sql.ptr, p, np, exp_row, &l);
    if (rc >= 0) {
        cairn_buf_reset(&sql);
        cairn_buf_puts(&sql, "SELECT experiment_id, key, value FROM experiment_tags WHERE "
                             "experiment_id IN (");
        cairn_track__in_list(&sql, p, ids, n);
        cairn_buf_puts(&sql, ") ORDER BY experiment_id, key");
        rc = cairn_store_query(store, sql.ptr, p, np, exp_tag_row, &l);
    }
    for (int i = 0; i < n; i++) {
        if (!l.slots[i]) continue;
        if (rc >= 0) json_array_append(*out, l.slots[i]);
        json_decref(l.slots[i]);
    }
    cairn_buf_free(&sql);
    cairn_free(p);
    cairn_free(l.slots);
    idmap_free(&l.map);
    return rc < 0 ? rc : 0;
}

int cairn_track__experiment_by_name(cairn_store *store, const char *name, int64_t *id_out)
{
    int64_t id = -1;
    cairn_value p = CAIRN_VTEXT(name);
    int rc = cairn_store_query(store, "SELECT experiment_id FROM experiments WHERE name = ?", &p, 1,
                               cairn_track__row_i64, &id);
    if (rc < 0) return rc;
    if (id < 0)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK,
                               "Could not find experiment with name '%.500s'", name);
    *id_out = id;
    return 0;
}

/* ---- runs ---- */

struct run_load {
    struct idmap map;
    json_t **runs;   /* Run objects */
};

static json_t *run_data(json_t *run, const char *field)
{
    json_t *data = json_object_get(run, "data");
    json_t *arr = json_object_get(data, field);
    if (!arr) {
        arr = json_array();
        json_object_set_new(data, field, arr);
    }
    return arr;
}

static int run_info_row(const cairn_value *c, int n, void *payload)
{
    struct run_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || l->runs[i]) return 0;
    json_t *info = json_object();
    json_object_set_new(info, "run_id", text(&c[1]));
    json_object_set_new(info, "run_uuid", text(&c[1]));
    json_object_set_new(info, "run_name", text(&c[3]));
    json_object_set_new(info, "experiment_id", cairn_track__id_str(ival(&c[2])));
    json_object_set_new(info, "user_id", text(&c[4]));
    json_object_set_new(info, "status", text(&c[5]));
    json_object_set_new(info, "start_time", json_integer(ival(&c[6])));
    if (c[7].type != CAIRN_V_NULL) json_object_set_new(info, "end_time", json_integer(ival(&c[7])));
    json_object_set_new(info, "artifact_uri", text(&c[8]));
    json_object_set_new(info, "lifecycle_stage", text(&c[9]));
    json_t *run = json_object();
    json_object_set_new(run, "info", info);
    json_object_set_new(run, "data", json_object());
    json_object_set_new(run, "inputs", json_object());
    l->runs[i] = run;
    return 0;
}

static int kv_row(const cairn_value *c, int n, void *payload, const char *field)
{
    struct run_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || !l->runs[i]) return 0;
    json_t *kv = json_object();
    json_object_set_new(kv, "key", text(&c[1]));
    json_object_set_new(kv, "value", text(&c[2]));
    json_array_append_new(run_data(l->runs[i], field), kv);
    return 0;
}

static int param_row(const cairn_value *c, int n, void *p) { return kv_row(c, n, p, "params"); }
static int tag_row(const cairn_value *c, int n, void *p) { return kv_row(c, n, p, "tags"); }

static int metric_row(const cairn_value *c, int n, void *payload)
{
    struct run_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || !l->runs[i]) return 0;
    json_t *m = json_object();
    json_object_set_new(m, "key", text(&c[1]));
    json_object_set_new(m, "value",
                        cairn_track__json_double(c[2].type == CAIRN_V_REAL ? c[2].u.d : (double)ival(&c[2]),
                                                 (int)ival(&c[5])));
    json_object_set_new(m, "timestamp", json_integer(ival(&c[3])));
    json_object_set_new(m, "step", json_integer(ival(&c[4])));
    json_array_append_new(run_data(l->runs[i], "metrics"), m);
    return 0;
}

static int input_row(const cairn_value *c, int n, void *payload)
{
    struct run_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || !l->runs[i]) return 0;
    json_t *inputs = json_object_get(l->runs[i], "inputs");
    json_t *arr = json_object_get(inputs, "dataset_inputs");
    if (!arr) {
        arr = json_array();
        json_object_set_new(inputs, "dataset_inputs", arr);
    }
    json_t *ds = json_object();
    json_object_set_new(ds, "name", text(&c[2]));
    json_object_set_new(ds, "digest", text(&c[3]));
    json_object_set_new(ds, "source_type", text(&c[4]));
    json_object_set_new(ds, "source", text(&c[5]));
    if (c[6].type == CAIRN_V_TEXT) json_object_set_new(ds, "schema", text(&c[6]));
    if (c[7].type == CAIRN_V_TEXT) json_object_set_new(ds, "profile", text(&c[7]));
    json_t *in = json_object();
    json_object_set_new(in, "tags", json_array());
    json_object_set_new(in, "dataset", ds);
    json_object_set_new(in, "_dataset_id", json_integer(ival(&c[1])));
    json_array_append_new(arr, in);
    return 0;
}

static int input_tag_row(const cairn_value *c, int n, void *payload)
{
    struct run_load *l = payload;
    (void)n;
    int i = idmap_find(&l->map, ival(&c[0]));
    if (i < 0 || !l->runs[i]) return 0;
    json_t *arr = json_object_get(json_object_get(l->runs[i], "inputs"), "dataset_inputs");
    size_t k;
    json_t *in;
    json_array_foreach(arr, k, in) {
        if (json_integer_value(json_object_get(in, "_dataset_id")) != ival(&c[1])) continue;
        json_t *t = json_object();
        json_object_set_new(t, "key", text(&c[2]));
        json_object_set_new(t, "value", text(&c[3]));
        json_array_append_new(json_object_get(in, "tags"), t);
    }
    return 0;
}

int cairn_track__load_runs(cairn_store *store, const int64_t *ids, int n, json_t **out)
{
    static const struct {
        const char *head, *tail;
        cairn_row_cb cb;
    } parts[] = {
        {"SELECT run_id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
         "artifact_uri, lifecycle_stage FROM runs WHERE run_id IN (",
         ")", run_info_row},
        {"SELECT run_id, key, value FROM params WHERE run_id IN (", ") ORDER BY run_id, key",
         param_row},
        {"SELECT run_id, key, value FROM tags WHERE run_id IN (", ") ORDER BY run_id, key", tag_row},
        {"SELECT run_id, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_id IN (",
         ") ORDER BY run_id, key", metric_row},
        {"SELECT ri.run_id, d.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, "
         "d.profile FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE "
         "ri.run_id IN (",
         ") ORDER BY ri.run_id, d.dataset_id", input_row},
        {"SELECT run_id, dataset_id, key, value FROM input_tags WHERE run_id IN (",
         ") ORDER BY run_id, dataset_id, key", input_tag_row},
    };
    struct run_load l;
    int rc = 0;
    *out = json_array();
    if (n == 0) return 0;
    idmap_init(&l.map, ids, n);
    l.runs = cairn_calloc((size_t)n, sizeof(json_t *));
    int cap = 1;
    while (cap < n) cap *= 2;
    cairn_value *p = cairn_malloc(sizeof(cairn_value) * (size_t)cap);
    cairn_buf sql = CAIRN_BUF_INIT(0);
    for (size_t k = 0; k < CAIRN_ARRAY_LEN(parts) && rc >= 0; k++) {
        cairn_buf_reset(&sql);
        cairn_buf_puts(&sql, parts[k].head);
        int np = cairn_track__in_list(&sql, p, ids, n);
        cairn_buf_puts(&sql, parts[k].tail);
        rc = cairn_store_query(store, sql.ptr, p, np, parts[k].cb, &l);
    }
    for (int i = 0; i < n; i++) {
        if (!l.runs[i]) continue;
        json_t *data = json_object_get(l.runs[i], "data");
        if (!json_object_get(data, "metrics")) json_object_set_new(data, "metrics", json_array());
        if (!json_object_get(data, "params")) json_object_set_new(data, "params", json_array());
        if (!json_object_get(data, "tags")) json_object_set_new(data, "tags", json_array());
        json_t *arr = json_object_get(json_object_get(l.runs[i], "inputs"), "dataset_inputs");
        size_t k;
        json_t *in;
        json_array_foreach(arr, k, in) json_object_del(in, "_dataset_id");
        if (rc >= 0) json_array_append(*out, l.runs[i]);
        json_decref(l.runs[i]);
    }
    cairn_buf_free(&sql);
    cairn_free(p);
    cairn_free(l.runs);
    idmap_free(&l.map);
    return rc < 0 ? rc : 0;
}
