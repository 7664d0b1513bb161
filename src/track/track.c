/*
 * track.c - the tracking service's write side: experiments, runs and
 * log-batch, each a write unit executed by the store's group-committing
 * writer. Integer ids are MAX(id)+1: safe because the store has one writer.
 *
 * A log-batch unit inserts points with ON CONFLICT DO NOTHING, so a re-sent
 * batch (a client retry) costs one index probe per point and changes nothing,
 * and upserts latest_metrics once per distinct key with the batch's newest
 * point (max step, then timestamp, then value), guarded so an older point
 * never replaces a newer one.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track_internal.h"
#include "api.h"

int cairn_track__row_i64(const cairn_value *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0].type == CAIRN_V_INT) *(int64_t *)payload = cols[0].u.i;
    return 0;
}

struct run_row {
    int64_t id;
    int found;
    int active;
};

static int run_row_cb(const cairn_value *c, int n, void *payload)
{
    struct run_row *r = payload;
    (void)n;
    r->found = 1;
    r->id = c[0].u.i;
    r->active = c[1].type == CAIRN_V_TEXT && c[1].u.s.len == 6 && !memcmp(c[1].u.s.ptr, "active", 6);
    return 0;
}

static const char RUN_LOOKUP_SQL[] = "SELECT run_id, lifecycle_stage FROM runs WHERE run_uuid = ?";

int cairn_track__run_lookup(cairn_store_tx *tx, const char *run_uuid, int need_active,
                            int64_t *run_id_out)
{
    struct run_row r = {0, 0, 0};
    cairn_value p = CAIRN_VTEXT(run_uuid);
    int rc = cairn_tx_exec(tx, RUN_LOOKUP_SQL, &p, 1, run_row_cb, &r);
    if (rc < 0) return rc;
    if (!r.found)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "Run with id=%.64s not found",
                               run_uuid);
    if (need_active && !r.active)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "The run %.64s must be in the 'active' state. Current state is "
                               "deleted.",
                               run_uuid);
    *run_id_out = r.id;
    return 0;
}

int cairn_track__run_find(cairn_store *store, const char *run_uuid, int64_t *run_id_out,
                          int *active_out)
{
    struct run_row r = {0, 0, 0};
    cairn_value p = CAIRN_VTEXT(run_uuid);
    int rc = cairn_store_query(store, RUN_LOOKUP_SQL, &p, 1, run_row_cb, &r);
    if (rc < 0) return rc;
    if (!r.found)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "Run with id=%.64s not found",
                               run_uuid);
    *run_id_out = r.id;
    if (active_out) *active_out = r.active;
    return 0;
}

/* ---- experiments ---- */

int cairn_track__check_experiment_name(const char *name)
{
    if (!name || !*name)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid experiment name: ''. Expected a non-empty string.");
    if (strlen(name) > 500)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Experiment name exceeds the maximum length of 500 characters");
    return 0;
}

int cairn_track__exp_create_unit(cairn_store_tx *tx, void *payload)
{
    track_exp_create *e = payload;
    int64_t max = -1, now = cairn_time_ms();
    int rc = cairn_tx_exec(tx, "SELECT MAX(experiment_id) FROM experiments", NULL, 0,
                           cairn_track__row_i64, &max);
    if (rc < 0) return rc;
    e->id = max + 1;
    char loc[1024];
    if (e->loc && *e->loc) snprintf(loc, sizeof(loc), "%s", e->loc);
    else snprintf(loc, sizeof(loc), "%s/%lld", e->t->artifact_root, (long long)e->id);
    cairn_value p[] = {CAIRN_VINT(e->id), CAIRN_VTEXT(e->name), CAIRN_VTEXT(loc), CAIRN_VINT(now),
                       CAIRN_VINT(now)};
    rc = cairn_tx_exec(tx,
                       "INSERT INTO experiments (experiment_id, name, artifact_location, "
                       "lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, "
                       "'active', ?, ?)",
                       p, 5, NULL, NULL);
    if (rc == CAIRN_EEXISTS)
        return cairn_error_set(CAIRN_EEXISTS, CAIRN_SUBSYS_TRACK,
                               "Experiment '%.500s' already exists.", e->name);
    if (rc < 0) return rc;
    for (int i = 0; i < e->ntags; i++) {
        cairn_value tp[] = {CAIRN_VINT(e->id), CAIRN_VTEXT(e->tags[i].key),
                            CAIRN_VTEXT(e->tags[i].value)};
        rc = cairn_tx_exec(tx,
                           "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                           tp, 3, NULL, NULL);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Sets a run tag; mlflow.runName also renames the run, as MLflow keeps both in step. */
static int set_tag_sql(cairn_store_tx *tx, int64_t run_id, const char *key, const char *value)
{
    cairn_value p[] = {CAIRN_VINT(run_id), CAIRN_VTEXT(key), CAIRN_VTEXT(value)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                           p, 3, NULL, NULL);
    if (rc >= 0 && !strcmp(key, "mlflow.runName")) {
        cairn_value q[] = {CAIRN_VTEXT(value), CAIRN_VINT(run_id)};
        rc = cairn_tx_exec(tx, "UPDATE runs SET name = ? WHERE run_id = ?", q, 2, NULL, NULL);
    }
    return rc < 0 ? rc : 0;
}

struct exp_row {
    int found, active;
    char loc[1024];
};

static int exp_row_cb(const cairn_value *c, int n, void *payload)
{
    struct exp_row *e = payload;
    (void)n;
    e->found = 1;
    e->active = c[0].u.s.len == 6 && !memcmp(c[0].u.s.ptr, "active", 6);
    snprintf(e->loc, sizeof(e->loc), "%.*s", (int)c[1].u.s.len, c[1].u.s.ptr);
    return 0;
}

/* A readable default run name ("keen-otter-417"), as MLflow generates one. */
static void random_name(char *out, size_t n)
{
    static const char *const adj[] = {"bright", "calm", "bold", "keen", "quiet", "swift",
                                      "brave", "clever", "gentle", "lucky", "amber", "silent"};
    static const char *const noun[] = {"cairn", "heron", "otter", "falcon", "maple", "river",
                                       "summit", "lynx", "comet", "willow", "badger", "cedar"};
    unsigned char rb[4];
    cairn_random_bytes(rb, sizeof(rb));
    snprintf(out, n, "%s-%s-%u", adj[rb[0] % 12], noun[rb[1] % 12], (rb[2] | rb[3] << 8) % 1000u);
}

int cairn_track__run_create_unit(cairn_store_tx *tx, void *payload)
{
    track_run_create *r = payload;
    struct exp_row e = {0, 0, ""};
    cairn_value ep = CAIRN_VINT(r->experiment_id);
    int rc = cairn_tx_exec(tx,
                           "SELECT lifecycle_stage, artifact_location FROM experiments "
                           "WHERE experiment_id = ?",
                           &ep, 1, exp_row_cb, &e);
    if (rc < 0) return rc;
    if (!e.found)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK,
                               "No Experiment with id=%lld exists", (long long)r->experiment_id);
    if (!e.active)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "The experiment %lld must be in the 'active' state. Current state "
                               "is deleted.",
                               (long long)r->experiment_id);
    int64_t max = 0;
    rc = cairn_tx_exec(tx, "SELECT MAX(run_id) FROM runs", NULL, 0, cairn_track__row_i64, &max);
    if (rc < 0) return rc;
    r->run_id = max + 1;
    cairn_uuid_hex(r->uuid);
    snprintf(r->artifact_uri, sizeof(r->artifact_uri), "%s/%s/artifacts", e.loc, r->uuid);
    const char *tag_name = NULL;
    for (int i = 0; i < r->ntags; i++)
        if (!strcmp(r->tags[i].key, "mlflow.runName")) tag_name = r->tags[i].value;
    if (r->run_name && *r->run_name) snprintf(r->name, sizeof(r->name), "%s", r->run_name);
    else if (tag_name && *tag_name) snprintf(r->name, sizeof(r->name), "%s", tag_name);
    else random_name(r->name, sizeof(r->name));
    cairn_value p[] = {CAIRN_VINT(r->run_id),       CAIRN_VTEXT(r->uuid),
                       CAIRN_VINT(r->experiment_id), CAIRN_VTEXT(r->name),
                       CAIRN_VTEXT(r->user_id ? r->user_id : ""), CAIRN_VINT(r->start_time),
                       CAIRN_VTEXT(r->artifact_uri)};
    rc = cairn_tx_exec(tx,
                       "INSERT INTO runs (run_id, run_uuid, experiment_id, name, user_id, status, "
                       "start_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, "
                       "'RUNNING', ?, ?, 'active')",
                       p, 7, NULL, NULL);
    if (rc < 0) return rc;
    for (int i = 0; i < r->ntags; i++) {
        if (!strcmp(r->tags[i].key, "mlflow.runName")) continue;
        if ((rc = set_tag_sql(tx, r->run_id, r->tags[i].key, r->tags[i].value))) return rc;
    }
    return set_tag_sql(tx, r->run_id, "mlflow.runName", r->name);
}

int cairn_track_experiment_create(cairn_track *t, const char *name, const char *artifact_location,
                                  const cairn_kv *tags, int ntags, int64_t *id_out)
{
    int rc = cairn_track__check_experiment_name(name);
    for (int i = 0; !rc && i < ntags; i++) rc = cairn_api__check_key("tag", tags[i].key);
    if (rc) return rc;
    track_exp_create e = {t, name, artifact_location, tags, ntags, 0};
    rc = cairn_store_write(t->store, cairn_track__exp_create_unit, &e);
    if (rc == 0 && id_out) *id_out = e.id;
    return rc;
}

/* ---- runs ---- */

int cairn_track_run_create(cairn_track *t, int64_t experiment_id, const char *user_id,
                           const char *run_name, int64_t start_time, const cairn_kv *tags, int ntags,
                           char run_uuid_out[33])
{
    for (int i = 0; i < ntags; i++) {
        int rc = cairn_api__check_key("tag", tags[i].key);
        if (rc) return rc;
    }
    track_run_create r;
    memset(&r, 0, sizeof(r));
    r.t = t;
    r.experiment_id = experiment_id;
    r.user_id = user_id;
    r.run_name = run_name;
    r.start_time = start_time ? start_time : cairn_time_ms();
    r.tags = tags;
    r.ntags = ntags;
    int rc = cairn_store_write(t->store, cairn_track__run_create_unit, &r);
    if (rc == 0) memcpy(run_uuid_out, r.uuid, 33);
    return rc;
}

/* ---- log-batch ---- */

int cairn_track_batch_check(const cairn_track_batch *b)
{
    int rc;
    if (!b->run_uuid || !*b->run_uuid)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'run_id'");
    if (b->nmetrics > CAIRN_TRACK_MAX_METRICS || b->nparams > CAIRN_TRACK_MAX_PARAMS ||
        b->ntags > CAIRN_TRACK_MAX_TAGS ||
        b->nmetrics + b->nparams + b->ntags > CAIRN_TRACK_MAX_ENTITIES)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "A batch logging request can contain at most %d metrics, %d params "
                               "and %d tags (%d in total); got %d metrics, %d params, %d tags",
                               CAIRN_TRACK_MAX_METRICS, CAIRN_TRACK_MAX_PARAMS, CAIRN_TRACK_MAX_TAGS,
                               CAIRN_TRACK_MAX_ENTITIES, b->nmetrics, b->nparams, b->ntags);
    for (int i = 0; i < b->nmetrics; i++)
        if ((rc = cairn_api__check_key("metric", b->metrics[i].key))) return rc;
    for (int i = 0; i < b->nparams; i++) {
        if ((rc = cairn_api__check_key("param", b->params[i].key))) return rc;
        if (strlen(b->params[i].value) > CAIRN_TRACK_MAX_PARAM_VALUE)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Param value for key '%s' exceeds the length limit of %d",
                                   b->params[i].key, CAIRN_TRACK_MAX_PARAM_VALUE);
        for (int j = 0; j < i; j++)
            if (!strcmp(b->params[i].key, b->params[j].key) &&
                strcmp(b->params[i].value, b->params[j].value))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                       "Duplicate parameter keys have been submitted: '%s' with "
                                       "different values",
                                       b->params[i].key);
    }
    for (int i = 0; i < b->ntags; i++) {
        if ((rc = cairn_api__check_key("tag", b->tags[i].key))) return rc;
        if (strlen(b->tags[i].value) > CAIRN_TRACK_MAX_TAG_VALUE)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Tag value for key '%s' exceeds the length limit of %d",
                                   b->tags[i].key, CAIRN_TRACK_MAX_TAG_VALUE);
    }
    return 0;
}

/* MLflow's "latest" ordering: step, then timestamp, then value (NaN lowest). */
static int newer(const cairn_metric *a, const cairn_metric *b)
{
    if (a->step != b->step) return a->step > b->step;
    if (a->timestamp != b->timestamp) return a->timestamp > b->timestamp;
    if (isnan(b->value)) return !isnan(a->value);
    return !isnan(a->value) && a->value > b->value;
}

struct param_row {
    int found;
    char value[CAIRN_TRACK_MAX_PARAM_VALUE + 1];
};

static int param_row_cb(const cairn_value *c, int n, void *payload)
{
    struct param_row *p = payload;
    (void)n;
    p->found = 1;
    size_t len = c[0].u.s.len < CAIRN_TRACK_MAX_PARAM_VALUE ? c[0].u.s.len : CAIRN_TRACK_MAX_PARAM_VALUE;
    memcpy(p->value, c[0].u.s.ptr, len);
    p->value[len] = '\0';
    return 0;
}

static int log_param(cairn_store_tx *tx, int64_t run_id, const char *run_uuid, const cairn_kv *kv)
{
    cairn_value p[] = {CAIRN_VINT(run_id), CAIRN_VTEXT(kv->key), CAIRN_VTEXT(kv->value)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (run_id, key) DO NOTHING",
                           p, 3, NULL, NULL);
    if (rc < 0 || cairn_tx_changes(tx) > 0) return rc < 0 ? rc : 0;
    struct param_row *old = cairn_malloc(sizeof(*old));
    old->found = 0;
    rc = cairn_tx_exec(tx, "SELECT value FROM params WHERE run_id = ? AND key = ?", p, 2,
                       param_row_cb, old);
    if (rc >= 0 && old->found && strcmp(old->value, kv->value) != 0)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                             "Changing param values is not allowed. Param with key='%.250s' was "
                             "already logged with value='%.200s' for run ID='%.64s'. Attempted "
                             "logging new value '%.200s'.",
                             kv->key, old->value, run_uuid, kv->value);
    cairn_free(old);
    return rc < 0 ? rc : 0;
}

/* Multi-row INSERT statements of METRIC_CHUNK rows: one statement per chunk
 * instead of per point cuts the per-statement cost that dominated log-batch.
 * The SQL text for each row count is built once and kept (at most
 * METRIC_CHUNK texts), so the store's statement cache keeps hitting. */
#define METRIC_CHUNK 50

static const char *metric_insert_sql(int rows)
{
    static char *texts[METRIC_CHUNK + 1];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    if (!texts[rows]) {
        cairn_buf b = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&b, "INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan) VALUES ");
        for (int i = 0; i < rows; i++) cairn_buf_puts(&b, i ? ", (?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?)");
        cairn_buf_puts(&b, " ON CONFLICT DO NOTHING");
        texts[rows] = cairn_buf_detach(&b, NULL);
    }
    const char *sql = texts[rows];
    pthread_mutex_unlock(&mu);
    return sql;
}

static int log_metrics(cairn_store_tx *tx, int64_t run_id, const cairn_metric *m, int n)
{
    int rc;
    cairn_value v[METRIC_CHUNK * 6];
    for (int start = 0; start < n; start += METRIC_CHUNK) {
        int rows = n - start < METRIC_CHUNK ? n - start : METRIC_CHUNK;
        for (int r = 0; r < rows; r++) {
            const cairn_metric *x = &m[start + r];
            int nan = isnan(x->value);
            cairn_value *q = &v[r * 6];
            q[0] = CAIRN_VINT(run_id);
            q[1] = CAIRN_VTEXT(x->key);
            q[2] = CAIRN_VINT(x->step);
            q[3] = CAIRN_VINT(x->timestamp);
            q[4] = CAIRN_VREAL(nan ? 0.0 : x->value);
            q[5] = CAIRN_VINT(nan);
        }
        rc = cairn_tx_exec(tx, metric_insert_sql(rows), v, rows * 6, NULL, NULL);
        if (rc < 0) return rc;
    }
    /* One latest_metrics upsert per distinct key, with the batch's newest point.
     * Batches are small (<= 1000), and keys usually few: a quadratic scan over
     * distinct keys stays cheap. */
    int *best = cairn_malloc(sizeof(int) * (size_t)(n ? n : 1));
    int nbest = 0;
    for (int i = 0; i < n; i++) {
        int j;
        for (j = 0; j < nbest; j++)
            if (!strcmp(m[best[j]].key, m[i].key)) break;
        if (j == nbest) best[nbest++] = i;
        else if (newer(&m[i], &m[best[j]])) best[j] = i;
    }
    rc = 0;
    for (int j = 0; j < nbest && rc >= 0; j++) {
        const cairn_metric *b = &m[best[j]];
        int nan = isnan(b->value);
        cairn_value p[] = {CAIRN_VINT(run_id), CAIRN_VTEXT(b->key), CAIRN_VREAL(nan ? 0.0 : b->value),
                           CAIRN_VINT(b->timestamp), CAIRN_VINT(b->step), CAIRN_VINT(nan)};
        rc = cairn_tx_exec(
            tx,
            "INSERT INTO latest_metrics (run_id, key, value, timestamp, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
            "value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, "
            "is_nan = excluded.is_nan WHERE excluded.step > latest_metrics.step OR "
            "(excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp "
            "OR (excluded.timestamp = latest_metrics.timestamp AND excluded.is_nan = 0 AND "
            "(latest_metrics.is_nan = 1 OR excluded.value > latest_metrics.value))))",
            p, 6, NULL, NULL);
    }
    cairn_free(best);
    return rc < 0 ? rc : 0;
}

int cairn_track__batch_unit(cairn_store_tx *tx, void *payload)
{
    const cairn_track_batch *b = payload;
    int64_t run_id;
    int rc = cairn_track__run_lookup(tx, b->run_uuid, 1, &run_id);
    if (rc) return rc;
    for (int i = 0; i < b->nparams; i++)
        if ((rc = log_param(tx, run_id, b->run_uuid, &b->params[i])) < 0) return rc;
    for (int i = 0; i < b->ntags; i++)
        if ((rc = set_tag_sql(tx, run_id, b->tags[i].key, b->tags[i].value)) < 0) return rc;
    return log_metrics(tx, run_id, b->metrics, b->nmetrics);
}

int cairn_track_log_batch(cairn_track *t, const cairn_track_batch *b)
{
    return cairn_store_write(t->store, cairn_track__batch_unit, (void *)b);
}

int cairn_track_log_batch_async(cairn_track *t, const cairn_track_batch *b, cairn_write_done done,
                                void *payload)
{
    return cairn_store_write_async(t->store, cairn_track__batch_unit, (void *)b, done, payload);
}

/* ---- lifecycle ---- */

static int ensure_default(cairn_store_tx *tx, void *payload)
{
    cairn_track *t = payload;
    char loc[512];
    int64_t now = cairn_time_ms();
    snprintf(loc, sizeof(loc), "%s/0", t->artifact_root);
    cairn_value p[] = {CAIRN_VTEXT(loc), CAIRN_VINT(now), CAIRN_VINT(now)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO experiments (experiment_id, name, artifact_location, "
                           "lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', "
                           "?, 'active', ?, ?) ON CONFLICT DO NOTHING",
                           p, 3, NULL, NULL);
    return rc < 0 ? rc : 0;
}

int cairn_track_new(cairn_track **out, cairn_store *store, const char *artifact_root)
{
    cairn_track *t = cairn_calloc(1, sizeof(*t));
    t->store = store;
    t->artifact_root = cairn_strdup(artifact_root ? artifact_root : "mlflow-artifacts:");
    int rc = cairn_store_write(store, ensure_default, t);
    if (rc) {
        cairn_track_free(t);
        *out = NULL;
        return rc;
    }
    *out = t;
    return 0;
}

void cairn_track_free(cairn_track *t)
{
    if (!t) return;
    cairn_free(t->artifact_root);
    cairn_free(t);
}
