/*
 * serve_v1.c - the two row-oriented scoring protocols next to OIP V2:
 * KServe V1 (GET /v1/models/{m}, POST /v1/models/{m}:predict) and MLflow's
 * scoring server (POST /invocations, GET /ping), on the model manager's
 * name / version / alias rules (docs/internals/serve.md).
 *
 * Key idea: every accepted body is reduced to one "table" - a JSON array of
 * rows, each row either an array (positional: the model's feature order,
 * or the order of dataframe_split's `columns`) or an object (by feature
 * name) - and one builder turns a table into the frame the model predicts,
 * checking every cell (numbers or null for numeric features, strings or
 * null for categorical ones, matched to the training dictionary by name).
 * Both protocols answer {"predictions": [...]}: per row the probability of
 * the positive class (binary), the probability row (multiclass), the value
 * (regression) or the cluster index (clustering); doubles with %.17g.
 *
 * /invocations picks its model from the `X-Model-Name` header (optional
 * `X-Model-Version`: digits, "latest" or an alias; default rule otherwise).
 * Without the header it scores the server's only registered model, as
 * `mlflow models serve` does (400 when there are several). A V1 model name
 * that is a deployment is routed by the deployment's weights, as in V2.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cairn/serve.h"
#include "serve_internal.h"

#define MAX_ROWS ((size_t)1 << 24)
#define PREDICT_SUFFIX ":predict"

/* ================= responses ================= */

enum { SHAPE_V1, SHAPE_MLFLOW };

static const char *mlflow_code(int status)
{
    switch (status) {
    case 400:
    case 415:
        return "BAD_REQUEST";
    case 404:
        return "RESOURCE_DOES_NOT_EXIST";
    case 413:
        return "REQUEST_LIMIT_EXCEEDED";
    case 501:
        return "NOT_IMPLEMENTED";
    case 503:
        return "TEMPORARILY_UNAVAILABLE";
    default:
        return "INTERNAL_ERROR";
    }
}

/* Error in the protocol's shape: V1 {"error": msg}, MLflow
 * {"error_code": ..., "message": msg}. */
static void respond_err(cairn_http_req *req, int shape, int status, const char *msg)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    if (shape == SHAPE_V1) {
        cairn_buf_puts(&b, "{\"error\":");
    } else {
        cairn_buf_printf(&b, "{\"error_code\":\"%s\",\"message\":", mlflow_code(status));
    }
    cairn_buf_put_json_str(&b, msg, strlen(msg));
    cairn_buf_putc(&b, '}');
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, status, "application/json", body, n);
}

/* Answers with the thread's last error and the status its code maps to. */
static int respond_code(cairn_http_req *req, int shape, int code)
{
    respond_err(req, shape, cairn_http_status_for(code), cairn_error_last()->msg);
    return 0;
}

/* ================= tables ================= */

/* Rows of a request. rows: a JSON array (borrowed). by_name: rows are
 * objects keyed by feature name; else arrays of ncols cells, and col[j]
 * is the cell index of model feature j. */
typedef struct table {
    json_t *rows;
    int by_name;
    size_t ncols;
    int *col; /* (n_features) cairn_malloc'd; NULL when by_name */
} table;

static int bad(const char *msg)
{
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "%s", msg);
}

/* Positional table whose cells are in the model's feature order. */
static int table_positional(const cairn_model *m, json_t *rows, table *t)
{
    int nf = cairn_model_n_features(m);
    t->rows = rows;
    t->by_name = 0;
    t->ncols = (size_t)nf;
    t->col = cairn_malloc(sizeof(int) * (size_t)(nf ? nf : 1));
    for (int j = 0; j < nf; j++)
        t->col[j] = j;
    return 0;
}

/* Positional table whose cell order is given by `columns` (names); every
 * model feature must be among them, extra columns are ignored. */
static int table_columns(const cairn_model *m, json_t *columns, json_t *rows, table *t)
{
    int nf = cairn_model_n_features(m);
    if (!json_is_array(columns)) return bad("dataframe_split needs a 'columns' array");
    size_t nc = json_array_size(columns);
    for (size_t c = 0; c < nc; c++) {
        json_t *name = json_array_get(columns, c);
        if (!json_is_string(name)) return bad("dataframe_split 'columns' must be strings");
        for (size_t d = 0; d < c; d++)
            if (strcmp(json_string_value(json_array_get(columns, d)), json_string_value(name)) == 0)
                return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                       "column '%.100s' is given twice", json_string_value(name));
    }
    t->rows = rows;
    t->by_name = 0;
    t->ncols = nc;
    t->col = cairn_malloc(sizeof(int) * (size_t)(nf ? nf : 1));
    for (int j = 0; j < nf; j++) {
        const char *fname = cairn_model_feature_name(m, j);
        t->col[j] = -1;
        for (size_t c = 0; c < nc && t->col[j] < 0; c++)
            if (strcmp(json_string_value(json_array_get(columns, c)), fname) == 0)
                t->col[j] = (int)c;
        if (t->col[j] < 0)
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "feature '%.100s' is not among the columns", fname);
    }
    return 0;
}

/* Rows given as objects if the first one is an object, else positional. */
static int table_rows(const cairn_model *m, json_t *rows, table *t)
{
    if (json_is_object(json_array_get(rows, 0))) {
        t->rows = rows;
        t->by_name = 1;
        t->ncols = 0;
        t->col = NULL;
        return 0;
    }
    return table_positional(m, rows, t);
}

/* Checks the shape of every row: arrays of t->ncols cells, or objects
 * holding every feature. */
static int table_check(const cairn_model *m, const table *t)
{
    if (!json_is_array(t->rows) || json_array_size(t->rows) == 0)
        return bad("the request holds no rows");
    if (json_array_size(t->rows) > MAX_ROWS)
        return cairn_error_set(CAIRN_ETOOBIG, SERVE_SUBSYS, "too many rows");
    size_t i;
    json_t *row;
    json_array_foreach(t->rows, i, row)
    {
        if (t->by_name) {
            if (!json_is_object(row))
                return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                       "row %zu is not an object like the first row", i);
            for (int j = 0; j < cairn_model_n_features(m); j++)
                if (!json_object_get(row, cairn_model_feature_name(m, j)))
                    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                           "row %zu has no feature '%.100s'", i,
                                           cairn_model_feature_name(m, j));
        } else {
            if (!json_is_array(row))
                return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                       "row %zu is not an array like the first row", i);
            if (json_array_size(row) != t->ncols)
                return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                       "row %zu has %zu values but %zu are expected", i,
                                       json_array_size(row), t->ncols);
        }
    }
    return 0;
}

static json_t *cell(const cairn_model *m, const table *t, size_t i, int j)
{
    json_t *row = json_array_get(t->rows, i);
    if (t->by_name) return json_object_get(row, cairn_model_feature_name(m, j));
    return json_array_get(row, (size_t)t->col[j]);
}

static int cell_error(const cairn_model *m, size_t i, int j, const char *want)
{
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "row %zu: feature '%.100s' needs %s", i,
                           cairn_model_feature_name(m, j), want);
}

/* Adds numeric feature j: numbers, booleans (1/0), null (missing). */
static int add_num(cairn_frame *f, const cairn_model *m, const table *t, int j)
{
    size_t n = f->nrows;
    double *x = cairn_malloc(sizeof(double) * (n ? n : 1));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *v = cell(m, t, i, j);
        if (json_is_number(v))
            x[i] = json_number_value(v);
        else if (json_is_null(v))
            x[i] = NAN;
        else if (json_is_boolean(v))
            x[i] = json_is_true(v) ? 1.0 : 0.0;
        else
            rc = cell_error(m, i, j, "a number or null");
    }
    if (!rc) rc = cairn_frame_add_f64(f, cairn_model_feature_name(m, j), x);
    cairn_free(x);
    return rc;
}

/* Adds categorical feature j from strings (null: missing); the column's
 * dictionary is its distinct strings, remapped by name at predict time. */
static int add_cat(cairn_frame *f, const cairn_model *m, const table *t, int j)
{
    size_t n = f->nrows;
    int32_t *codes = cairn_malloc(sizeof(int32_t) * (n ? n : 1));
    const char **dict = cairn_malloc(sizeof(char *) * (n ? n : 1));
    json_t *index = json_object();
    int32_t ndict = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *v = cell(m, t, i, j);
        if (json_is_null(v)) {
            codes[i] = -1;
        } else if (!json_is_string(v)) {
            rc = cell_error(m, i, j, "a string (category name) or null");
        } else {
            codes[i] = cairn_serve__intern(index, json_string_value(v), dict, &ndict);
        }
    }
    if (!rc) rc = cairn_frame_add_cat(f, cairn_model_feature_name(m, j), codes, dict, ndict);
    json_decref(index);
    cairn_free(codes);
    cairn_free(dict);
    return rc;
}

/* Predicts every row of t and answers {"predictions": [...]}. */
/* Predicts the table's rows and answers {"predictions": [...]}, observing
 * the request in /metrics as the OIP path does. */
static int predict_table(cairn_http_req *req, int shape, cairn_serve *s, const char *deployment,
                         const cairn_serve_model *sm, const table *t)
{
    const cairn_model *m = cairn_serve_model_get(sm);
    int64_t t0 = cairn_monotonic_ns(), compute_ns = -1;
    cairn_frame *f = NULL;
    double *pred = NULL;
    int rc = table_check(m, t);
    if (!rc) rc = cairn_frame_new(&f, json_array_size(t->rows));
    for (int j = 0; j < cairn_model_n_features(m) && !rc; j++)
        rc = cairn_model_feature_type(m, j) == CAIRN_COL_CAT ? add_cat(f, m, t, j)
                                                             : add_num(f, m, t, j);
    int k = cairn_model_n_outputs(m);
    if (!rc) {
        pred = cairn_malloc(sizeof(double) * f->nrows * (size_t)k);
        int64_t tc = cairn_monotonic_ns();
        rc = cairn_model_predict(m, f, pred, 1);
        compute_ns = cairn_monotonic_ns() - tc;
    }
    if (rc) {
        int64_t total = cairn_monotonic_ns() - t0;
        cairn_serve_obs o = {deployment,
                             cairn_serve_model_name(sm),
                             cairn_serve_model_version(sm),
                             cairn_http_status_for(rc),
                             0,
                             total,
                             -1,
                             compute_ns,
                             0};
        cairn_serve__observe(&o);
        if (deployment)
            cairn_serve__deploy_observe(deployment, cairn_serve_model_name(sm),
                                        cairn_serve_model_version(sm), 0, total);
        respond_code(req, shape, rc);
        goto done;
    }
    cairn_task task = cairn_model_task(m);
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"predictions\":[");
    for (size_t i = 0; i < f->nrows; i++) {
        const double *p = pred + i * (size_t)k;
        if (i) cairn_buf_putc(&b, ',');
        if (task == CAIRN_TASK_MULTICLASS) {
            cairn_buf_putc(&b, '[');
            for (int c = 0; c < k; c++) {
                if (c) cairn_buf_putc(&b, ',');
                cairn_serve__put_double(&b, p[c]);
            }
            cairn_buf_putc(&b, ']');
        } else if (task == CAIRN_TASK_CLUSTERING) {
            cairn_buf_printf(&b, "%lld", (long long)p[0]);
        } else {
            cairn_serve__put_double(&b, p[0]); /* regression value, or P(class 1) */
        }
    }
    cairn_buf_puts(&b, "]}");
    int64_t total = cairn_monotonic_ns() - t0;
    cairn_serve_obs o = {deployment,
                         cairn_serve_model_name(sm),
                         cairn_serve_model_version(sm),
                         200,
                         f->nrows,
                         total,
                         -1,
                         compute_ns,
                         f->nrows};
    cairn_serve__observe(&o);
    cairn_serve__record(s, cairn_http_req_id(req), deployment, sm, f, pred, total);
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, 200, "application/json", body, n);
done:
    cairn_free(pred);
    cairn_frame_free(f);
    return 0;
}

static json_t *parse_body(cairn_http_req *req, int *rc)
{
    size_t len;
    const char *body = cairn_http_req_body(req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    *rc = 0;
    if (!root)
        *rc =
            cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "malformed JSON body: %.200s", jerr.text);
    else if (!json_is_object(root))
        *rc = bad("the JSON body must be an object");
    return root;
}

/* ================= KServe V1 ================= */

/* POST {m}:predict with {"instances": [row, ...]}. */
static int v1_predict(cairn_http_req *req, cairn_serve *s, const char *deployment,
                      const cairn_serve_model *sm)
{
    const cairn_model *m = cairn_serve_model_get(sm);
    int rc;
    table t = {NULL, 0, 0, NULL};
    json_t *root = parse_body(req, &rc);
    if (!rc) {
        json_t *inst = json_object_get(root, "instances");
        if (!json_is_array(inst) || json_array_size(inst) == 0)
            rc = bad("the request needs a non-empty 'instances' array");
        else
            rc = table_rows(m, inst, &t);
    }
    if (rc)
        respond_code(req, SHAPE_V1, rc);
    else
        predict_table(req, SHAPE_V1, s, deployment, sm, &t);
    cairn_free(t.col);
    json_decref(root);
    return 0;
}

/* Everything under /v1/models/: "NAME[/versions/V]" (GET: readiness) and
 * "NAME[/versions/V]:predict" (POST). */
static int h_v1_models(cairn_http_req *req, void *payload)
{
    cairn_serve *s = payload;
    char *name = cairn_http_req_strdup(req, cairn_http_req_rest(req));
    size_t n = strlen(name), sl = strlen(PREDICT_SUFFIX);
    int is_predict = n > sl && strcmp(name + n - sl, PREDICT_SUFFIX) == 0;
    if (is_predict) name[n - sl] = '\0';
    const char *version = NULL;
    char *vs = strstr(name, "/versions/");
    if (vs) {
        *vs = '\0';
        version = vs + strlen("/versions/");
    }
    if (!*name || (version && (!*version || strchr(version, '/'))) || strchr(name, '/') ||
        strchr(name, ':')) {
        respond_err(req, SHAPE_V1, 404, "no such endpoint");
        return 0;
    }
    if (cairn_http_req_method(req) != (is_predict ? CAIRN_HTTP_POST : CAIRN_HTTP_GET)) {
        cairn_http_set_header(req, "Allow", is_predict ? "POST" : "GET");
        respond_err(req, SHAPE_V1, 405,
                    is_predict ? "predict takes POST" : "this endpoint takes GET");
        return 0;
    }
    cairn_serve_model *sm = NULL;
    const char *model = name, *deployment = NULL;
    cairn_serve_pick pick;
    if (!version && cairn_serve__deploy_pick(s, req, name, &pick)) {
        deployment = name;
        model = pick.model;
        version = pick.spec;
    }
    int rc = cairn_serve_acquire(s, model, version, &sm);
    if (rc) return respond_code(req, SHAPE_V1, rc);
    cairn_serve__model_headers(req, sm);
    if (is_predict) {
        v1_predict(req, s, deployment, sm);
    } else { /* ready: the version resolved and its model is loaded */
        const char *mn = cairn_serve_model_name(sm);
        cairn_buf b = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&b, "{\"name\":");
        cairn_buf_put_json_str(&b, mn, strlen(mn));
        cairn_buf_puts(&b, ",\"ready\":true}");
        size_t bn;
        char *body = cairn_buf_detach(&b, &bn);
        cairn_http_respond_take(req, 200, "application/json", body, bn);
    }
    cairn_serve_release(sm);
    return 0;
}

/* ================= MLflow scoring server ================= */

/* Builds the table of an /invocations body: exactly one of
 * dataframe_split, dataframe_records, instances, inputs. */
static int mlflow_table(const cairn_model *m, json_t *root, table *t)
{
    static const char *const keys[] = {"dataframe_split", "dataframe_records", "instances",
                                       "inputs"};
    int which = -1;
    for (int i = 0; i < 4; i++) {
        if (!json_object_get(root, keys[i])) continue;
        if (which >= 0)
            return bad("the body must hold exactly one of dataframe_split, dataframe_records, "
                       "instances, inputs");
        which = i;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int known = 0;
        for (int i = 0; i < 4; i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known)
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "unsupported key '%.100s' in the request body", key);
    }
    if (which < 0)
        return bad("the body must hold one of dataframe_split, dataframe_records, instances, "
                   "inputs");
    json_t *in = json_object_get(root, keys[which]);
    switch (which) {
    case 0: {
        if (!json_is_object(in)) return bad("dataframe_split must be an object");
        json_t *data = json_object_get(in, "data");
        if (!json_is_array(data) || json_array_size(data) == 0)
            return bad("dataframe_split needs a non-empty 'data' array");
        return table_columns(m, json_object_get(in, "columns"), data, t);
    }
    case 1:
        if (!json_is_array(in) || json_array_size(in) == 0 ||
            !json_is_object(json_array_get(in, 0)))
            return bad("dataframe_records must be a non-empty array of objects");
        return table_rows(m, in, t);
    case 2:
        if (!json_is_array(in) || json_array_size(in) == 0)
            return bad("instances must be a non-empty array");
        return table_rows(m, in, t);
    default:
        if (!json_is_array(in) || json_array_size(in) == 0 || !json_is_array(json_array_get(in, 0)))
            return bad("inputs must be a non-empty 2-D list [rows][features]");
        return table_positional(m, in, t);
    }
}

/* Row callback: appends the name in column 0 to a NUL-separated list. */
static int collect_name(const cairn_value *cols, int ncols, void *payload)
{
    cairn_buf *b = payload;
    if (ncols < 1 || cols[0].type != CAIRN_V_TEXT) return 0;
    if (b->len) cairn_buf_putc(b, '\0');
    cairn_buf_put(b, cols[0].u.s.ptr, cols[0].u.s.len);
    return 0;
}

static int count_names(cairn_buf *b)
{
    if (!b->len) return 0;
    int n = 1;
    for (size_t i = 0; i < b->len; i++)
        n += b->ptr[i] == '\0';
    return n;
}

static int h_invocations(cairn_http_req *req, void *payload)
{
    cairn_serve *s = payload;
    const char *ct = cairn_http_req_header(req, "Content-Type");
    if (!ct || strncmp(ct, "application/json", 16) != 0 ||
        (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        respond_err(req, SHAPE_MLFLOW, 415,
                    "content type must be application/json (dataframe_split, dataframe_records, "
                    "instances or inputs)");
        return 0;
    }
    const char *name = cairn_http_req_header(req, "X-Model-Name");
    const char *version = cairn_http_req_header(req, "X-Model-Version");
    if (!name || !*name) { /* as `mlflow models serve`: the server's one model */
        cairn_buf only = CAIRN_BUF_INIT(0);
        int n = 0;
        int qrc = cairn_store_query(cairn_serve__store(s),
                                    "SELECT name FROM registered_models ORDER BY name LIMIT 2",
                                    NULL, 0, collect_name, &only);
        if (qrc >= 0) n = count_names(&only);
        if (qrc < 0 || n != 1) {
            cairn_buf_free(&only);
            respond_err(req, SHAPE_MLFLOW, 400,
                        qrc < 0 ? cairn_error_last()->msg
                        : n == 0
                            ? "this server has no registered model to score"
                            : "this server has several models: the X-Model-Name header names "
                              "the one to score");
            return 0;
        }
        name = cairn_http_req_strdup(req, cairn_buf_cstr(&only));
        cairn_buf_free(&only);
    }
    cairn_serve_model *sm = NULL;
    int rc = cairn_serve_acquire(s, name, version, &sm);
    if (rc) return respond_code(req, SHAPE_MLFLOW, rc);
    cairn_serve__model_headers(req, sm);
    const cairn_model *m = cairn_serve_model_get(sm);
    table t = {NULL, 0, 0, NULL};
    json_t *root = parse_body(req, &rc);
    if (!rc) rc = mlflow_table(m, root, &t);
    if (rc)
        respond_code(req, SHAPE_MLFLOW, rc);
    else
        predict_table(req, SHAPE_MLFLOW, s, NULL, sm, &t);
    cairn_free(t.col);
    json_decref(root);
    cairn_serve_release(sm);
    return 0;
}

static int h_ping(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_respond(req, 200, "application/json", "\n", 1);
    return 0;
}

int cairn_serve__mount_v1(cairn_serve *s, cairn_http_server *srv)
{
    int rc = cairn_http_route(srv, CAIRN_HTTP_GET | CAIRN_HTTP_POST, "/v1/models/",
                              CAIRN_HTTP_ROUTE_PREFIX, 0, h_v1_models, s);
    if (!rc) rc = cairn_http_route(srv, CAIRN_HTTP_POST, "/invocations", 0, 0, h_invocations, s);
    if (!rc) rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/ping", 0, 0, h_ping, s);
    return rc;
}
