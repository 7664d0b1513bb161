/*
 * track_api.c - the MLflow tracking REST handlers (experiments, runs,
 * metrics). JSON is decoded here and the write units of track.c /
 * track_units.c are submitted; writes answer after their group commit
 * without holding an HTTP thread (cairn_api__submit).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "track_read.h"
#include "track_search.h"
#include "track_decode.h"
#include "track_fastbatch.h"
#include "track_units.h"

static int parse_exp_id(api_call *call, const char *key, int required, int64_t *id, int *present)
{
    const char *s = NULL;
    int rc;
    json_t *v = call->body ? json_object_get(call->body, key) : NULL;
    if (json_is_integer(v)) {
        *id = json_integer_value(v);
        if (present) *present = 1;
        return 0;
    }
    if ((rc = cairn_api__str(call, key, required, &s))) return rc;
    if (present) *present = s != NULL;
    if (!s) return 0;
    if (cairn_parse_i64(s, id) || *id < 0)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK,
                               "No Experiment with id=%.64s exists", s);
    return 0;
}

/* Copies a JSON string into the request arena (JSON lives until api_end,
 * but deferred units outlive the handler). */
static const char *keep(cairn_http_req *req, const char *s) { return s ? cairn_http_req_strdup(req, s) : NULL; }

static void *arena_alloc(void *ctx, size_t n) { return cairn_http_req_alloc(ctx, n); }

/* Reads [{key, value}] into arena-allocated cairn_kv; CAIRN_EINVALID on bad shape. */
static int kv_list(api_call *call, const char *field, int max, cairn_kv **out, int *n)
{
    json_t *arr;
    track_alloc a = {arena_alloc, call->req};
    int rc = cairn_api__array(call, field, &arr);
    if (rc) return rc;
    return cairn_track__decode_kv(arr, field, max, &a, out, n);
}

/* ================= experiments ================= */

static void exp_created(cairn_http_req *req, void *payload);


static int h_exp_create(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    track_exp_create *e = cairn_http_req_alloc(req, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->t = t;
    cairn_kv *tags = NULL;
    int rc = cairn_api__str(&call, "name", 1, &e->name);
    if (!rc) rc = cairn_api__str(&call, "artifact_location", 0, &e->loc);
    if (!rc) rc = kv_list(&call, "tags", 1000, &tags, &e->ntags);
    if (!rc) rc = cairn_track__check_experiment_name(e->name);
    for (int i = 0; !rc && i < e->ntags; i++) rc = cairn_api__check_key("tag", tags[i].key);
    if (rc) FAIL(call, rc);
    e->tags = tags;
    e->name = keep(req, e->name);
    e->loc = keep(req, e->loc);
    cairn_api__end(&call);
    cairn_api__submit(t->store, req, cairn_track__exp_create_unit, e, exp_created);
    return 0;
}

static void exp_created(cairn_http_req *req, void *payload)
{
    track_exp_create *e = payload;
    json_t *r = json_object();
    json_object_set_new(r, "experiment_id", cairn_track__id_str(e->id));
    cairn_api__ok(req, r);
}

static int respond_experiment(api_call *call, cairn_track *t, int64_t id)
{
    json_t *arr;
    int rc = cairn_track__load_experiments(t->store, &id, 1, &arr);
    if (rc) FAIL(*call, rc);
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "No Experiment with id=%lld exists",
                        (long long)id);
        FAIL(*call, CAIRN_ENOTFOUND);
    }
    json_t *r = json_object();
    json_object_set(r, "experiment", json_array_get(arr, 0));
    json_decref(arr);
    cairn_api__end(call);
    cairn_api__ok(call->req, r);
    return 0;
}

static int h_exp_get(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    int64_t id = 0;
    int rc = parse_exp_id(&call, "experiment_id", 1, &id, NULL);
    if (rc) FAIL(call, rc);
    return respond_experiment(&call, payload, id);
}

static int h_exp_get_by_name(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    const char *name = NULL;
    int64_t id;
    int rc = cairn_api__str(&call, "experiment_name", 1, &name);
    if (!rc) rc = cairn_track__experiment_by_name(t->store, name, &id);
    if (rc) FAIL(call, rc);
    return respond_experiment(&call, t, id);
}

/* Submits a track_unit built by the handler and answers {} after commit. */
static int submit_unit(api_call *call, cairn_track *t, track_unit *u)
{
    cairn_api__end(call);
    cairn_api__submit(t->store, call->req, cairn_track__unit_run, u, NULL);
    return 0;
}

static track_unit *new_unit(cairn_http_req *req)
{
    track_unit *u = cairn_http_req_alloc(req, sizeof(*u));
    memset(u, 0, sizeof(*u));
    return u;
}

static int exp_lifecycle(cairn_http_req *req, cairn_track *t, int deleting)
{
    BEGIN(call, req);
    int64_t id = 0;
    int rc = parse_exp_id(&call, "experiment_id", 1, &id, NULL);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    int64_t now = cairn_time_ms();
    const char *to = deleting ? "deleted" : "active";
    u->s[0] = (track_stmt){"UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                           "WHERE experiment_id = ?",
                           {CAIRN_VTEXT(to), CAIRN_VINT(now), CAIRN_VINT(id)}, 3, 1, 0};
    /* MLflow moves the experiment's runs along with it. */
    u->s[1] = (track_stmt){"UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE "
                           "experiment_id = ?",
                           {CAIRN_VTEXT(to), deleting ? CAIRN_VINT(now) : CAIRN_VNULL, CAIRN_VINT(id)},
                           3, 0, 0};
    u->n = 2;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "No Experiment with id=%lld exists", (long long)id);
    return submit_unit(&call, t, u);
}

static int h_exp_delete(cairn_http_req *req, void *payload) { return exp_lifecycle(req, payload, 1); }
static int h_exp_restore(cairn_http_req *req, void *payload) { return exp_lifecycle(req, payload, 0); }

static int h_exp_update(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    int64_t id = 0;
    const char *name = NULL;
    int rc = parse_exp_id(&call, "experiment_id", 1, &id, NULL);
    if (!rc) rc = cairn_api__str(&call, "new_name", 0, &name);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    int64_t now = cairn_time_ms();
    if (name && *name) {
        u->s[0] = (track_stmt){"UPDATE experiments SET name = ?, last_update_time = ? WHERE "
                               "experiment_id = ? AND lifecycle_stage = 'active'",
                               {CAIRN_VTEXT(keep(req, name)), CAIRN_VINT(now), CAIRN_VINT(id)}, 3, 1, 0};
    } else {
        u->s[0] = (track_stmt){"UPDATE experiments SET last_update_time = ? WHERE experiment_id = ? "
                               "AND lifecycle_stage = 'active'",
                               {CAIRN_VINT(now), CAIRN_VINT(id)}, 2, 1, 0};
    }
    u->n = 1;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "No active Experiment with id=%lld exists", (long long)id);
    return submit_unit(&call, payload, u);
}

static int h_exp_set_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    int64_t id = 0;
    const char *key = NULL, *value = NULL;
    int rc = parse_exp_id(&call, "experiment_id", 1, &id, NULL);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &key);
    if (!rc) rc = cairn_api__str(&call, "value", 1, &value);
    if (!rc) rc = cairn_api__check_key("tag", key);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    u->s[0] = (track_stmt){"UPDATE experiments SET last_update_time = ? WHERE experiment_id = ? AND "
                           "lifecycle_stage = 'active'",
                           {CAIRN_VINT(cairn_time_ms()), CAIRN_VINT(id)}, 2, 1, 0};
    u->s[1] = (track_stmt){"INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                           {CAIRN_VINT(id), CAIRN_VTEXT(keep(req, key)), CAIRN_VTEXT(keep(req, value))},
                           3, 0, 0};
    u->n = 2;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "No active Experiment with id=%lld exists", (long long)id);
    return submit_unit(&call, payload, u);
}

static int h_exp_delete_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    int64_t id = 0;
    const char *key = NULL;
    int rc = parse_exp_id(&call, "experiment_id", 1, &id, NULL);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &key);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    u->s[0] = (track_stmt){"DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                           {CAIRN_VINT(id), CAIRN_VTEXT(keep(req, key))}, 2, 1, 0};
    u->n = 1;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "No tag with name: %.250s in experiment %lld", key,
             (long long)id);
    return submit_unit(&call, payload, u);
}

/* ================= runs ================= */

static void run_created(cairn_http_req *req, void *payload);

static int h_run_create(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    track_run_create *r = cairn_http_req_alloc(req, sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->t = t;
    int present = 0;
    int rc = parse_exp_id(&call, "experiment_id", 0, &r->experiment_id, &present);
    if (!rc) rc = cairn_api__str(&call, "user_id", 0, &r->user_id);
    if (!rc) rc = cairn_api__str(&call, "run_name", 0, &r->run_name);
    if (!rc) rc = cairn_api__i64(&call, "start_time", 0, &r->start_time, NULL);
    cairn_kv *tags = NULL;
    if (!rc) rc = kv_list(&call, "tags", 1000, &tags, &r->ntags);
    for (int i = 0; !rc && i < r->ntags; i++) rc = cairn_api__check_key("tag", tags[i].key);
    if (rc) FAIL(call, rc);
    r->tags = tags;
    if (!present) r->experiment_id = 0;
    r->user_id = keep(req, r->user_id);
    r->run_name = keep(req, r->run_name);
    if (!r->start_time) r->start_time = cairn_time_ms();
    cairn_api__end(&call);
    cairn_api__submit(t->store, req, cairn_track__run_create_unit, r, run_created);
    return 0;
}

static void run_created(cairn_http_req *req, void *payload)
{
    track_run_create *r = payload;
    json_t *info = json_object();
    json_object_set_new(info, "run_id", json_string(r->uuid));
    json_object_set_new(info, "run_uuid", json_string(r->uuid));
    json_object_set_new(info, "run_name", json_string(r->name));
    json_object_set_new(info, "experiment_id", cairn_track__id_str(r->experiment_id));
    json_object_set_new(info, "user_id", json_string(r->user_id ? r->user_id : ""));
    json_object_set_new(info, "status", json_string("RUNNING"));
    json_object_set_new(info, "start_time", json_integer(r->start_time));
    json_object_set_new(info, "artifact_uri", json_string(r->artifact_uri));
    json_object_set_new(info, "lifecycle_stage", json_string("active"));
    json_t *tags = json_array();
    int name_done = 0;
    for (int i = 0; i < r->ntags; i++) {
        const char *v = r->tags[i].value;
        if (!strcmp(r->tags[i].key, "mlflow.runName")) {
            if (name_done) continue;
            v = r->name;
            name_done = 1;
        }
        json_array_append_new(tags, json_pack("{s:s,s:s}", "key", r->tags[i].key, "value", v));
    }
    if (!name_done)
        json_array_append_new(tags, json_pack("{s:s,s:s}", "key", "mlflow.runName", "value", r->name));
    json_t *data = json_pack("{s:[],s:[],s:o}", "metrics", "params", "tags", tags);
    json_t *run = json_pack("{s:o,s:o,s:{}}", "info", info, "data", data, "inputs");
    cairn_api__ok(req, json_pack("{s:o}", "run", run));
}

/* run_id, or the deprecated run_uuid. */
static int run_arg(api_call *call, const char **out)
{
    const char *id = NULL, *uuid = NULL;
    int rc = cairn_api__str(call, "run_id", 0, &id);
    if (!rc) rc = cairn_api__str(call, "run_uuid", 0, &uuid);
    if (rc) return rc;
    *out = id && *id ? id : uuid;
    if (!*out || !**out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'run_id'");
    if (strlen(*out) > 256)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "Run with id=%.64s... not found",
                               *out);
    *out = keep(call->req, *out);
    return 0;
}

static int h_run_get(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    const char *uuid;
    int64_t id;
    json_t *runs;
    int rc = run_arg(&call, &uuid);
    if (!rc) rc = cairn_track__run_find(t->store, uuid, &id, NULL);
    if (!rc) rc = cairn_track__load_runs(t->store, &id, 1, &runs);
    if (rc) FAIL(call, rc);
    json_t *r = json_object();
    json_object_set(r, "run", json_array_get(runs, 0));
    json_decref(runs);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

/* update-run answers with the run's info as committed. */
static void run_updated(cairn_http_req *req, void *payload)
{
    track_unit *u = payload;
    json_t *runs;
    cairn_track *t = u->payload;
    if (cairn_track__load_runs(t->store, &u->run_id, 1, &runs) || json_array_size(runs) == 0) {
        cairn_api__fail(req, CAIRN_ERROR);
        return;
    }
    json_t *r = json_object();
    json_object_set(r, "run_info", json_object_get(json_array_get(runs, 0), "info"));
    json_decref(runs);
    cairn_api__ok(req, r);
}

static int h_run_update(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    const char *uuid, *status = NULL, *name = NULL;
    int64_t end_time = 0;
    int has_end = 0;
    int rc = run_arg(&call, &uuid);
    if (!rc) rc = cairn_api__str(&call, "status", 0, &status);
    if (!rc) rc = cairn_api__i64(&call, "end_time", 0, &end_time, &has_end);
    if (!rc) rc = cairn_api__str(&call, "run_name", 0, &name);
    if (rc) FAIL(call, rc);
    static const char *const statuses[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
    if (status) {
        size_t i;
        for (i = 0; i < CAIRN_ARRAY_LEN(statuses) && strcmp(status, statuses[i]); i++) {}
        if (i == CAIRN_ARRAY_LEN(statuses)) {
            cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                            "Invalid value '%.32s' for parameter 'status': expected one of RUNNING, "
                            "SCHEDULED, FINISHED, FAILED, KILLED",
                            status);
            FAIL(call, CAIRN_EINVALID);
        }
        status = statuses[i];
    }
    track_unit *u = new_unit(req);
    u->run_uuid = uuid;
    u->need_active = 1;
    u->payload = t;
    int n = 0;
    if (status)
        u->s[n++] = (track_stmt){"UPDATE runs SET status = ? WHERE run_id = ?",
                                 {CAIRN_VTEXT(status), CAIRN_VINT(0)}, 2, 0, 2};
    if (has_end)
        u->s[n++] = (track_stmt){"UPDATE runs SET end_time = ? WHERE run_id = ?",
                                 {CAIRN_VINT(end_time), CAIRN_VINT(0)}, 2, 0, 2};
    if (name && *name) {
        const char *nm = keep(req, name);
        u->s[n++] = (track_stmt){"UPDATE runs SET name = ? WHERE run_id = ?",
                                 {CAIRN_VTEXT(nm), CAIRN_VINT(0)}, 2, 0, 2};
        u->s[n++] = (track_stmt){"INSERT INTO tags (run_id, key, value) VALUES (?, "
                                 "'mlflow.runName', ?) ON CONFLICT (run_id, key) DO UPDATE SET "
                                 "value = excluded.value",
                                 {CAIRN_VINT(0), CAIRN_VTEXT(nm)}, 2, 0, 1};
    }
    u->n = n;
    cairn_api__end(&call);
    cairn_api__submit(t->store, req, cairn_track__unit_run, u, run_updated);
    return 0;
}

static int run_lifecycle(cairn_http_req *req, cairn_track *t, int deleting)
{
    BEGIN(call, req);
    const char *uuid;
    int rc = run_arg(&call, &uuid);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    u->s[0] = (track_stmt){"UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
                           {CAIRN_VTEXT(deleting ? "deleted" : "active"),
                            deleting ? CAIRN_VINT(cairn_time_ms()) : CAIRN_VNULL, CAIRN_VTEXT(uuid)},
                           3, 1, 0};
    u->n = 1;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "Run with id=%.64s not found", uuid);
    return submit_unit(&call, t, u);
}

static int h_run_delete(cairn_http_req *req, void *payload) { return run_lifecycle(req, payload, 1); }
static int h_run_restore(cairn_http_req *req, void *payload) { return run_lifecycle(req, payload, 0); }

static int h_run_delete_tag(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    const char *uuid, *key = NULL;
    int rc = run_arg(&call, &uuid);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &key);
    if (rc) FAIL(call, rc);
    track_unit *u = new_unit(req);
    u->run_uuid = uuid;
    u->need_active = 1;
    u->s[0] = (track_stmt){"DELETE FROM tags WHERE run_id = ? AND key = ?",
                           {CAIRN_VINT(0), CAIRN_VTEXT(keep(req, key))}, 2, 1, 1};
    u->n = 1;
    snprintf(u->nf_msg, sizeof(u->nf_msg), "No tag with name: %.250s in run with id %.64s", key, uuid);
    return submit_unit(&call, payload, u);
}

/* ---- log-metric / log-parameter / set-tag / log-batch: all one batch unit ---- */

struct batch_req {
    cairn_track *t;
    cairn_track_batch b;
};

static int batch_unit(cairn_store_tx *tx, void *payload);

static int submit_batch(api_call *call, cairn_track *t, struct batch_req *br)
{
    int rc = cairn_track_batch_check(&br->b);
    if (rc) FAIL(*call, rc);
    cairn_api__end(call);
    cairn_api__submit(t->store, call->req, batch_unit, br, NULL);
    return 0;
}

static int batch_unit(cairn_store_tx *tx, void *payload)
{
    struct batch_req *br = payload;
    return cairn_track__batch_unit(tx, &br->b);
}

static struct batch_req *new_batch(cairn_http_req *req, cairn_track *t)
{
    struct batch_req *br = cairn_http_req_alloc(req, sizeof(*br));
    memset(br, 0, sizeof(*br));
    br->t = t;
    return br;
}

static int h_log_metric(cairn_http_req *req, void *payload)
{
    BEGIN(call, req);
    struct batch_req *br = new_batch(req, payload);
    cairn_metric *m = cairn_http_req_alloc(req, sizeof(*m));
    const char *key = NULL;
    int rc = run_arg(&call, &br->b.run_uuid);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &key);
    if (!rc) rc = cairn_api__dbl(&call, "value", 1, &m->value);
    if (!rc) rc = cairn_api__i64(&call, "timestamp", 1, &m->timestamp, NULL);
    m->step = 0;
    if (!rc) rc = cairn_api__i64(&call, "step", 0, &m->step, NULL);
    if (rc) FAIL(call, rc);
    m->key = keep(req, key);
    br->b.metrics = m;
    br->b.nmetrics = 1;
    return submit_batch(&call, payload, br);
}

/* log-parameter and set-tag: one {run_id, key, value} into a one-entry batch. */
static int log_kv(cairn_http_req *req, cairn_track *t, int is_tag)
{
    BEGIN(call, req);
    struct batch_req *br = new_batch(req, t);
    cairn_kv *kv = cairn_http_req_alloc(req, sizeof(*kv));
    int rc = run_arg(&call, &br->b.run_uuid);
    if (!rc) rc = cairn_api__str(&call, "key", 1, &kv->key);
    if (!rc) rc = cairn_api__str(&call, "value", 1, &kv->value);
    if (rc) FAIL(call, rc);
    kv->key = keep(req, kv->key);
    kv->value = keep(req, kv->value);
    if (is_tag) {
        br->b.tags = kv;
        br->b.ntags = 1;
    } else {
        br->b.params = kv;
        br->b.nparams = 1;
    }
    return submit_batch(&call, t, br);
}

static int h_log_param(cairn_http_req *req, void *payload) { return log_kv(req, payload, 0); }
static int h_set_tag(cairn_http_req *req, void *payload) { return log_kv(req, payload, 1); }

static int h_log_batch(cairn_http_req *req, void *payload)
{
    /* The Content-Type check of cairn_api__begin, then the fast decoder on
     * the raw body (already batch-checked); only a body outside its subset
     * is parsed with jansson, whose path owns every error message. */
    if (cairn_api__check_json(req)) return 0;
    size_t len;
    const char *raw = cairn_http_req_body(req, &len);
    struct batch_req *br = new_batch(req, payload);
    track_alloc a = {arena_alloc, req};
    if (cairn_track__fast_batch(raw, len, &a, &br->b) == 0) {
        cairn_api__submit(((cairn_track *)payload)->store, req, batch_unit, br, NULL);
        return 0;
    }
    BEGIN(call, req);
    int rc = cairn_track__decode_batch(call.body, &a, &br->b);
    if (rc) FAIL(call, rc);
    cairn_api__end(&call);
    cairn_api__submit(((cairn_track *)payload)->store, req, batch_unit, br, NULL);
    return 0;
}

/* ---- log-inputs ---- */

struct inputs_req {
    const char *run_uuid;
    int n;
    struct input {
        const char *name, *digest, *source_type, *source, *schema, *profile;
        cairn_kv *tags;
        int ntags;
    } *in;
};

static int inputs_unit(cairn_store_tx *tx, void *payload)
{
    struct inputs_req *r = payload;
    int64_t run_id, exp_id = -1;
    int rc = cairn_track__run_lookup(tx, r->run_uuid, 1, &run_id);
    if (rc) return rc;
    cairn_value rp = CAIRN_VINT(run_id);
    if ((rc = cairn_tx_exec(tx, "SELECT experiment_id FROM runs WHERE run_id = ?", &rp, 1,
                            cairn_track__row_i64, &exp_id)) < 0)
        return rc;
    for (int i = 0; i < r->n; i++) {
        struct input *in = &r->in[i];
        int64_t ds = -1;
        cairn_value q[] = {CAIRN_VINT(exp_id), CAIRN_VTEXT(in->name), CAIRN_VTEXT(in->digest)};
        if ((rc = cairn_tx_exec(tx,
                                "SELECT dataset_id FROM datasets WHERE experiment_id = ? AND name = ? "
                                "AND digest = ?",
                                q, 3, cairn_track__row_i64, &ds)) < 0)
            return rc;
        if (ds < 0) {
            int64_t max = 0;
            if ((rc = cairn_tx_exec(tx, "SELECT MAX(dataset_id) FROM datasets", NULL, 0,
                                    cairn_track__row_i64, &max)) < 0)
                return rc;
            ds = max + 1;
            cairn_value p[] = {CAIRN_VINT(ds), CAIRN_VINT(exp_id), CAIRN_VTEXT(in->name),
                               CAIRN_VTEXT(in->digest), CAIRN_VTEXT(in->source_type),
                               CAIRN_VTEXT(in->source), in->schema ? CAIRN_VTEXT(in->schema) : CAIRN_VNULL,
                               in->profile ? CAIRN_VTEXT(in->profile) : CAIRN_VNULL};
            if ((rc = cairn_tx_exec(tx,
                                    "INSERT INTO datasets (dataset_id, experiment_id, name, digest, "
                                    "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, "
                                    "?, ?)",
                                    p, 8, NULL, NULL)) < 0)
                return rc;
        }
        cairn_value l[] = {CAIRN_VINT(run_id), CAIRN_VINT(ds)};
        if ((rc = cairn_tx_exec(tx,
                                "INSERT INTO run_inputs (run_id, dataset_id) VALUES (?, ?) "
                                "ON CONFLICT DO NOTHING",
                                l, 2, NULL, NULL)) < 0)
            return rc;
        for (int k = 0; k < in->ntags; k++) {
            cairn_value t[] = {CAIRN_VINT(run_id), CAIRN_VINT(ds), CAIRN_VTEXT(in->tags[k].key),
                               CAIRN_VTEXT(in->tags[k].value)};
            if ((rc = cairn_tx_exec(tx,
                                    "INSERT INTO input_tags (run_id, dataset_id, key, value) VALUES "
                                    "(?, ?, ?, ?) ON CONFLICT (run_id, dataset_id, key) DO UPDATE "
                                    "SET value = excluded.value",
                                    t, 4, NULL, NULL)) < 0)
                return rc;
        }
    }
    return 0;
}

static int ds_field(api_call *call, json_t *ds, const char *f, int required, const char **out, size_t i)
{
    json_t *v = json_object_get(ds, f);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'datasets[%zu].dataset.%s'", i, f);
    }
    if (!json_is_string(v))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value for 'datasets[%zu].dataset.%s': expected a string", i, f);
    *out = keep(call->req, json_string_value(v));
    return 0;
}

static int h_log_inputs(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    struct inputs_req *r = cairn_http_req_alloc(req, sizeof(*r));
    json_t *arr;
    int rc = run_arg(&call, &r->run_uuid);
    if (!rc) rc = cairn_api__array(&call, "datasets", &arr);
    if (rc) FAIL(call, rc);
    size_t n = json_array_size(arr);
    if (n > 1000) {
        cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "Too many datasets: %zu (at most 1000)", n);
        FAIL(call, CAIRN_EINVALID);
    }
    r->n = (int)n;
    r->in = cairn_http_req_alloc(req, sizeof(*r->in) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        json_t *di = json_array_get(arr, i), *ds = json_object_get(di, "dataset");
        struct input *in = &r->in[i];
        memset(in, 0, sizeof(*in));
        if (!json_is_object(ds)) {
            cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                            "Missing value for required parameter 'datasets[%zu].dataset'", i);
            FAIL(call, CAIRN_EINVALID);
        }
        if ((rc = ds_field(&call, ds, "name", 1, &in->name, i)) ||
            (rc = ds_field(&call, ds, "digest", 1, &in->digest, i)) ||
            (rc = ds_field(&call, ds, "source_type", 1, &in->source_type, i)) ||
            (rc = ds_field(&call, ds, "source", 1, &in->source, i)) ||
            (rc = ds_field(&call, ds, "schema", 0, &in->schema, i)) ||
            (rc = ds_field(&call, ds, "profile", 0, &in->profile, i)))
            FAIL(call, rc);
        json_t *tags = json_object_get(di, "tags");
        if (tags && !json_is_array(tags)) {
            cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                            "Invalid value for 'datasets[%zu].tags': expected a list", i);
            FAIL(call, CAIRN_EINVALID);
        }
        in->ntags = (int)json_array_size(tags);
        in->tags = cairn_http_req_alloc(req, sizeof(cairn_kv) * (size_t)(in->ntags ? in->ntags : 1));
        for (int k = 0; k < in->ntags; k++) {
            json_t *e = json_array_get(tags, (size_t)k);
            json_t *kk = json_object_get(e, "key"), *vv = json_object_get(e, "value");
            if (!json_is_string(kk) || !json_is_string(vv)) {
                cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                "Invalid input tag in 'datasets[%zu].tags': key and value must be "
                                "strings",
                                i);
                FAIL(call, CAIRN_EINVALID);
            }
            in->tags[k].key = keep(req, json_string_value(kk));
            in->tags[k].value = keep(req, json_string_value(vv));
        }
    }
    cairn_api__end(&call);
    cairn_api__submit(t->store, req, inputs_unit, r, NULL);
    return 0;
}

/* ---- metric history ---- */

struct hist {
    json_t *arr;
    int n;
};

static int hist_row(const cairn_value *c, int n, void *payload)
{
    struct hist *h = payload;
    (void)n;
    json_t *m = json_object();
    json_object_set_new(m, "key", json_stringn(c[0].u.s.ptr, c[0].u.s.len));
    json_object_set_new(m, "value", cairn_track__json_double(c[1].type == CAIRN_V_REAL ? c[1].u.d
                                                                                       : (double)c[1].u.i,
                                                             (int)c[4].u.i));
    json_object_set_new(m, "timestamp", json_integer(c[2].u.i));
    json_object_set_new(m, "step", json_integer(c[3].u.i));
    json_array_append_new(h->arr, m);
    h->n++;
    return 0;
}

static int h_get_history(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    BEGIN(call, req);
    const char *uuid, *key = NULL, *token = NULL;
    int64_t max = 25000, run_id, offset = 0;
    int rc = run_arg(&call, &uuid);
    if (!rc) rc = cairn_api__str(&call, "metric_key", 1, &key);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc) rc = cairn_api__str(&call, "page_token", 0, &token);
    if (!rc && token && *token) rc = cairn_page_token_decode(token, &offset);
    if (!rc && (max < 1 || max > 25000))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                             "Invalid value %lld for parameter 'max_results': it must be between 1 "
                             "and 25000",
                             (long long)max);
    if (!rc) rc = cairn_track__run_find(t->store, uuid, &run_id, NULL);
    if (rc) FAIL(call, rc);
    struct hist h = {json_array(), 0};
    cairn_value p[] = {CAIRN_VINT(run_id), CAIRN_VTEXT(key), CAIRN_VINT(max + 1), CAIRN_VINT(offset)};
    rc = cairn_store_query(t->store,
                           "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_id = ? "
                           "AND key = ? ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
                           p, 4, hist_row, &h);
    if (rc < 0) {
        json_decref(h.arr);
        FAIL(call, rc);
    }
    json_t *r = json_object();
    if (h.n > max) {
        json_array_remove(h.arr, (size_t)max);
        cairn_buf tok = CAIRN_BUF_INIT(0);
        cairn_page_token_encode(offset + max, &tok);
        json_object_set_new(r, "next_page_token", json_string(cairn_buf_cstr(&tok)));
        cairn_buf_free(&tok);
    }
    json_object_set_new(r, "metrics", h.arr);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

/* ================= routes ================= */

int cairn_track_mount(cairn_track *t, cairn_http_server *srv)
{
    static const struct {
        unsigned methods;
        const char *path;
        cairn_http_handler h;
    } routes[] = {
        {CAIRN_HTTP_POST, "/experiments/create", h_exp_create},
        {CAIRN_HTTP_GET, "/experiments/get", h_exp_get},
        {CAIRN_HTTP_GET, "/experiments/get-by-name", h_exp_get_by_name},
        {CAIRN_HTTP_GET | CAIRN_HTTP_POST, "/experiments/search", cairn_track__h_exp_search},
        {CAIRN_HTTP_POST, "/experiments/update", h_exp_update},
        {CAIRN_HTTP_POST, "/experiments/delete", h_exp_delete},
        {CAIRN_HTTP_POST, "/experiments/restore", h_exp_restore},
        {CAIRN_HTTP_POST, "/experiments/set-experiment-tag", h_exp_set_tag},
        {CAIRN_HTTP_POST, "/experiments/delete-experiment-tag", h_exp_delete_tag},
        {CAIRN_HTTP_POST, "/runs/create", h_run_create},
        {CAIRN_HTTP_GET, "/runs/get", h_run_get},
        {CAIRN_HTTP_POST, "/runs/update", h_run_update},
        {CAIRN_HTTP_POST, "/runs/delete", h_run_delete},
        {CAIRN_HTTP_POST, "/runs/restore", h_run_restore},
        {CAIRN_HTTP_POST, "/runs/search", cairn_track__h_run_search},
        {CAIRN_HTTP_POST, "/runs/log-metric", h_log_metric},
        {CAIRN_HTTP_POST, "/runs/log-parameter", h_log_param},
        {CAIRN_HTTP_POST, "/runs/set-tag", h_set_tag},
        {CAIRN_HTTP_POST, "/runs/delete-tag", h_run_delete_tag},
        {CAIRN_HTTP_POST, "/runs/log-batch", h_log_batch},
        {CAIRN_HTTP_POST, "/runs/log-inputs", h_log_inputs},
        {CAIRN_HTTP_GET, "/metrics/get-history", h_get_history},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(routes); i++) {
        int rc = cairn_api__route(srv, routes[i].methods, routes[i].path, routes[i].h, t);
        if (rc) return rc;
    }
    return 0;
}
