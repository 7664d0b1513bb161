/*
 * serve_api.c - the Open Inference Protocol V2 REST edge: server and model
 * health, metadata, and inference (/v2, /v2/health/..., /v2/models/{m}
 * [/versions/{v}][/ready|/infer]). JSON is decoded here into a frame and
 * the model manager's loaded model predicts it.
 *
 * Key idea: one prefix route owns everything under /v2/, so every answer,
 * including "no such endpoint", has the OIP error shape {"error": "..."}.
 * Input tensors are accepted in two layouts (docs/internals/serve.md): one
 * 2-D numeric tensor [batch, n_features] in the model's feature order, or
 * one 1-D tensor per feature named after it (BYTES for categorical
 * features, matched to the training dictionary by category name).
 * Responses are written with a cairn_buf, %.17g for doubles, so values
 * round-trip exactly.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cairn/serve.h"
#include "serve_internal.h"

#define MAX_DIMS 8
#define MAX_ELEMS ((size_t)1 << 27)
#define MAX_DEPTH 16

/* ================= responses ================= */

static void respond_err(cairn_http_req *req, int status, const char *msg)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"error\":");
    cairn_buf_put_json_str(&b, msg, strlen(msg));
    cairn_buf_putc(&b, '}');
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, status, "application/json", body, n);
}

/* Answers with the thread's last error and the status its code maps to. */
static int respond_code(cairn_http_req *req, int code)
{
    respond_err(req, cairn_http_status_for(code), cairn_error_last()->msg);
    return 0;
}

static void respond_buf(cairn_http_req *req, cairn_buf *b)
{
    size_t n;
    char *body = cairn_buf_detach(b, &n);
    cairn_http_respond_take(req, 200, "application/json", body, n);
}

void cairn_serve__model_headers(cairn_http_req *req, const cairn_serve_model *m)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)cairn_serve_model_version(m));
    cairn_http_set_header(req, "X-Model-Name", cairn_serve_model_name(m));
    cairn_http_set_header(req, "X-Model-Version", v);
}

void cairn_serve__put_double(cairn_buf *b, double x)
{
    if (isfinite(x))
        cairn_buf_printf(b, "%.17g", x);
    else
        cairn_buf_puts(b, "null"); /* JSON has no NaN / Inf */
}

/* ================= tensors ================= */

typedef enum dtype {
    DT_BOOL,
    DT_UINT8,
    DT_UINT16,
    DT_UINT32,
    DT_UINT64,
    DT_INT8,
    DT_INT16,
    DT_INT32,
    DT_INT64,
    DT_FP16,
    DT_FP32,
    DT_FP64,
    DT_BYTES,
    DT_BF16
} dtype;

static const char *const dtype_names[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                          "INT8", "INT16", "INT32",  "INT64",  "FP16",
                                          "FP32", "FP64",  "BYTES",  "BF16"};

/* One decoded input tensor; elems are borrowed from the request JSON. */
typedef struct tensor {
    const char *name;
    dtype type;
    int ndim;
    int64_t shape[MAX_DIMS];
    size_t count;   /* product of shape */
    json_t **elems; /* (count) leaves of data, row-major; cairn_malloc'd */
} tensor;

static int bad(const char *fmt, const char *a, const char *b)
{
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, fmt, a, b);
}

static int parse_dtype(const char *s, dtype *out)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(dtype_names); i++) {
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (dtype)i;
            return 0;
        }
    }
    return bad("input datatype '%.40s' is not an OIP datatype%s", s, "");
}

/* Appends the leaves of data (nested arrays or flat) to t->elems, at most
 * t->count of them; *seen counts every leaf, so a surplus is detected. */
static int flatten(tensor *t, json_t *data, size_t *seen, int depth)
{
    if (!json_is_array(data)) {
        if (*seen < t->count) t->elems[*seen] = data;
        (*seen)++;
        return 0;
    }
    if (depth >= MAX_DEPTH) return bad("input '%.100s': data is nested too deeply%s", t->name, "");
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v)
    {
        if (*seen > t->count) break;
        if (flatten(t, v, seen, depth + 1)) return CAIRN_EINVALID;
    }
    return 0;
}

/* Decodes one element of `inputs` into t. The caller frees t->elems. */
static int decode_tensor(json_t *in, tensor *t)
{
    memset(t, 0, sizeof(*t));
    if (!json_is_object(in)) return bad("each input must be an object%s%s", "", "");
    json_t *name = json_object_get(in, "name"), *shape = json_object_get(in, "shape"),
           *dt = json_object_get(in, "datatype"), *data = json_object_get(in, "data");
    if (!json_is_string(name)) return bad("an input has no string 'name'%s%s", "", "");
    t->name = json_string_value(name);
    if (!json_is_string(dt)) return bad("input '%.100s' has no string 'datatype'%s", t->name, "");
    if (parse_dtype(json_string_value(dt), &t->type)) return CAIRN_EINVALID;
    if (t->type == DT_FP16 || t->type == DT_BF16)
        return bad("input '%.100s': datatype %s has no JSON representation", t->name,
                   dtype_names[t->type]);
    if (!json_is_array(shape) || json_array_size(shape) == 0 || json_array_size(shape) > MAX_DIMS)
        return bad("input '%.100s': 'shape' must be an array of 1 to 8 dimensions%s", t->name, "");
    t->ndim = (int)json_array_size(shape);
    t->count = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(shape, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return bad("input '%.100s': shape dimensions must be non-negative integers%s", t->name,
                       "");
        t->shape[d] = json_integer_value(x);
        if (t->shape[d] > 0 && t->count > MAX_ELEMS / (size_t)t->shape[d])
            return cairn_error_set(CAIRN_ETOOBIG, SERVE_SUBSYS, "input '%.100s' is too large",
                                   t->name);
        t->count *= (size_t)t->shape[d];
    }
    if (!data) return bad("input '%.100s' has no 'data'%s", t->name, "");
    if (json_object_get(in, "parameters") &&
        json_object_get(json_object_get(in, "parameters"), "binary_data_size"))
        return cairn_error_set(CAIRN_EUNSUPPORTED, SERVE_SUBSYS,
                               "input '%.100s': binary tensor data is not supported", t->name);
    t->elems = cairn_malloc(sizeof(json_t *) * (t->count ? t->count : 1));
    size_t seen = 0;
    if (flatten(t, data, &seen, 0)) return CAIRN_EINVALID;
    if (seen != t->count)
        return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                               "input '%.100s': shape holds %zu elements but data has %s%zu",
                               t->name, t->count, seen > t->count ? "more than " : "",
                               seen > t->count ? t->count : seen);
    return 0;
}

/* Converts element i of a numeric tensor to double, checking it against
 * the datatype (integers in range, booleans for BOOL). null is missing. */
static int elem_f64(const tensor *t, size_t i, double *out)
{
    static const double lo[] = {0, 0, 0, 0, 0, -128, -32768, -2147483648.0, -9.3e18};
    static const double hi[] = {1,   255,   65535,        4294967295.0, 1.9e19,
                                127, 32767, 2147483647.0, 9.3e18};
    json_t *v = t->elems[i];
    if (json_is_null(v) && (t->type == DT_FP32 || t->type == DT_FP64)) {
        *out = NAN;
        return 0;
    }
    switch (t->type) {
    case DT_BOOL:
        if (!json_is_boolean(v)) break;
        *out = json_is_true(v) ? 1.0 : 0.0;
        return 0;
    case DT_FP32:
        if (!json_is_number(v)) break;
        *out = (double)(float)json_number_value(v);
        return 0;
    case DT_FP64:
        if (!json_is_number(v)) break;
        *out = json_number_value(v);
        return 0;
    case DT_BYTES:
        return bad("input '%.100s': BYTES data given for a numeric feature%s", t->name, "");
    default: {
        if (!json_is_integer(v)) break;
        double x = (double)json_integer_value(v);
        if (x < lo[t->type] || x > hi[t->type]) break;
        *out = x;
        return 0;
    }
    }
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                           "input '%.100s': element %zu is not a valid %s value", t->name, i,
                           dtype_names[t->type]);
}

/* Adds a categorical column from a BYTES tensor (n values, stride apart
 * from `first`): the column's own dictionary is the distinct strings, which
 * predict remaps to the training dictionary by name. */
static int add_cat(cairn_frame *f, const char *fname, const tensor *t, size_t first, size_t stride,
                   size_t n)
{
    if (t->type != DT_BYTES)
        return bad("input '%.100s': feature '%.100s' is categorical and needs BYTES data", t->name,
                   fname);
    int32_t *codes = cairn_malloc(sizeof(int32_t) * (n ? n : 1));
    const char **dict = cairn_malloc(sizeof(char *) * (n ? n : 1));
    json_t *index = json_object();
    int32_t ndict = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = t->elems[first + i * stride];
        if (json_is_null(v)) {
            codes[i] = -1;
            continue;
        }
        if (!json_is_string(v)) {
            rc = bad("input '%.100s': BYTES elements must be strings%s", t->name, "");
            goto done;
        }
        const char *s = json_string_value(v);
        json_t *k = json_object_get(index, s);
        if (k) {
            codes[i] = (int32_t)json_integer_value(k);
        } else {
            json_object_set_new(index, s, json_integer(ndict));
            dict[ndict] = s;
            codes[i] = ndict++;
        }
    }
    rc = cairn_frame_add_cat(f, fname, codes, dict, ndict);
done:
    json_decref(index);
    cairn_free(codes);
    cairn_free(dict);
    return rc;
}

/* Adds a numeric column from t (n values, stride apart from `first`). */
static int add_num(cairn_frame *f, const char *fname, const tensor *t, size_t first, size_t stride,
                   size_t n)
{
    double *x = cairn_malloc(sizeof(double) * (n ? n : 1));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = elem_f64(t, first + i * stride, &x[i]);
    if (!rc) rc = cairn_frame_add_f64(f, fname, x);
    cairn_free(x);
    return rc;
}

static int feature_index(const cairn_model *m, const char *name)
{
    for (int j = 0; j < cairn_model_n_features(m); j++)
        if (strcmp(cairn_model_feature_name(m, j), name) == 0) return j;
    return -1;
}

/* Builds the frame the model predicts from the decoded inputs (either
 * layout). *out is the caller's. */
static int build_frame(const cairn_model *m, tensor *ts, int nt, cairn_frame **out)
{
    int nf = cairn_model_n_features(m), rc;
    cairn_frame *f = NULL;
    *out = NULL;
    if (nt == 1 && feature_index(m, ts[0].name) < 0) { /* one [batch, n_features] tensor */
        tensor *t = &ts[0];
        if (t->ndim != 2 || t->shape[1] != nf)
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "input '%.100s' must have shape [batch, %d] (the model's "
                                   "features in order), or name one feature per input",
                                   t->name, nf);
        size_t n = (size_t)t->shape[0];
        if ((rc = cairn_frame_new(&f, n))) return rc;
        for (int j = 0; j < nf && !rc; j++) {
            const char *fname = cairn_model_feature_name(m, j);
            rc = cairn_model_feature_type(m, j) == CAIRN_COL_CAT
                     ? add_cat(f, fname, t, (size_t)j, (size_t)nf, n)
                     : add_num(f, fname, t, (size_t)j, (size_t)nf, n);
        }
    } else { /* one 1-D tensor ([batch] or [batch, 1]) per feature */
        size_t n = 0;
        for (int i = 0; i < nt; i++) {
            tensor *t = &ts[i];
            if (feature_index(m, t->name) < 0)
                return bad("input '%.100s' is not a feature of the model%s", t->name, "");
            for (int k = 0; k < i; k++)
                if (strcmp(ts[k].name, t->name) == 0)
                    return bad("input '%.100s' is given twice%s", t->name, "");
            if (t->ndim > 2 || (t->ndim == 2 && t->shape[1] != 1))
                return bad("input '%.100s' must have shape [batch] or [batch, 1]%s", t->name, "");
            if (i > 0 && (size_t)t->shape[0] != n)
                return bad("input '%.100s' has a different batch size than '%.100s'", t->name,
                           ts[0].name);
            n = (size_t)t->shape[0];
        }
        if (nt != nf) {
            for (int j = 0; j < nf; j++) {
                int found = 0;
                for (int i = 0; i < nt && !found; i++)
                    found = strcmp(ts[i].name, cairn_model_feature_name(m, j)) == 0;
                if (!found)
                    return bad("feature '%.100s' has no input%s", cairn_model_feature_name(m, j),
                               "");
            }
        }
        if ((rc = cairn_frame_new(&f, n))) return rc;
        for (int i = 0; i < nt && !rc; i++) {
            int j = feature_index(m, ts[i].name);
            rc = cairn_model_feature_type(m, j) == CAIRN_COL_CAT
                     ? add_cat(f, ts[i].name, &ts[i], 0, 1, n)
                     : add_num(f, ts[i].name, &ts[i], 0, 1, n);
        }
    }
    if (rc) {
        cairn_frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* ================= output tensors ================= */

enum { OUT_PREDICT, OUT_PROBA };

static int is_classifier(const cairn_model *m)
{
    cairn_task t = cairn_model_task(m);
    return t == CAIRN_TASK_BINARY || t == CAIRN_TASK_MULTICLASS;
}

/* Appends the label of row i's predicted class as a JSON string. */
static void put_label(cairn_buf *b, const cairn_model *m, const double *p, int k)
{
    int best = 0;
    if (cairn_model_task(m) == CAIRN_TASK_BINARY) {
        best = p[0] >= 0.5 ? 1 : 0;
    } else {
        for (int c = 1; c < k; c++)
            if (p[c] > p[best]) best = c;
    }
    const char *l = cairn_model_class_label(m, best);
    char num[16];
    if (!l) {
        snprintf(num, sizeof(num), "%d", best);
        l = num;
    }
    cairn_buf_put_json_str(b, l, strlen(l));
}

/* Appends one output tensor object. pred: (n × k) row-major. */
static void put_output(cairn_buf *b, const cairn_model *m, int which, const double *pred, size_t n,
                       int k)
{
    cairn_task task = cairn_model_task(m);
    cairn_buf_puts(b, "{\"name\":");
    if (which == OUT_PROBA) {
        cairn_buf_printf(b, "\"proba\",\"datatype\":\"FP64\",\"shape\":[%zu,%d],\"data\":[", n, k);
        for (size_t i = 0; i < n * (size_t)k; i++) {
            if (i) cairn_buf_putc(b, ',');
            cairn_serve__put_double(b, pred[i]);
        }
    } else {
        const char *dt = is_classifier(m)                ? "BYTES"
                         : task == CAIRN_TASK_CLUSTERING ? "INT64"
                                                         : "FP64";
        cairn_buf_printf(b, "\"predict\",\"datatype\":\"%s\",\"shape\":[%zu],\"data\":[", dt, n);
        for (size_t i = 0; i < n; i++) {
            if (i) cairn_buf_putc(b, ',');
            if (is_classifier(m))
                put_label(b, m, pred + i * (size_t)k, k);
            else if (task == CAIRN_TASK_CLUSTERING)
                cairn_buf_printf(b, "%lld", (long long)pred[i]);
            else
                cairn_serve__put_double(b, pred[i]);
        }
    }
    cairn_buf_puts(b, "]}");
}

/* Which outputs the request asks for, in order (default: all the model has).
 * Returns how many (<= 2) or CAIRN_EINVALID. */
static int requested_outputs(const cairn_model *m, json_t *outputs, int want[2])
{
    if (!outputs || (json_is_array(outputs) && json_array_size(outputs) == 0)) {
        if (!is_classifier(m)) {
            want[0] = OUT_PREDICT;
            return 1;
        }
        want[0] = OUT_PROBA;
        want[1] = OUT_PREDICT;
        return 2;
    }
    if (!json_is_array(outputs) || json_array_size(outputs) > 2)
        return bad("'outputs' must be an array of at most two outputs%s%s", "", "");
    size_t i;
    json_t *o;
    int n = 0;
    json_array_foreach(outputs, i, o)
    {
        const char *name = json_string_value(json_object_get(o, "name"));
        if (!name) return bad("each requested output needs a string 'name'%s%s", "", "");
        int w = strcmp(name, "predict") == 0                     ? OUT_PREDICT
                : strcmp(name, "proba") == 0 && is_classifier(m) ? OUT_PROBA
                                                                 : -1;
        if (w < 0) return bad("model has no output '%.100s'%s", name, "");
        if (n == 1 && want[0] == w) return bad("output '%.100s' is requested twice%s", name, "");
        want[n++] = w;
    }
    return n;
}

/* ================= handlers ================= */

typedef struct route {
    const char *name;    /* model name (arena) */
    const char *version; /* version spec or NULL (arena) */
    const char *action;  /* "", "ready" or "infer" */
} route;

/* Splits "NAME[/versions/V][/ready|/infer]" (rest after "models/"). */
static int parse_model_path(cairn_http_req *req, const char *rest, route *r)
{
    char *p = cairn_http_req_strdup(req, rest);
    char *parts[5];
    int n = 0;
    for (char *s = p; n < 5;) {
        parts[n++] = s;
        char *slash = strchr(s, '/');
        if (!slash) break;
        *slash = '\0';
        s = slash + 1;
    }
    r->name = parts[0];
    r->version = NULL;
    r->action = "";
    int i = 1;
    if (n >= 3 && strcmp(parts[1], "versions") == 0) {
        r->version = parts[2];
        if (!*r->version) return -1;
        i = 3;
    }
    if (i < n) {
        r->action = parts[i++];
        if (strcmp(r->action, "ready") && strcmp(r->action, "infer")) return -1;
    }
    if (i != n || !*r->name) return -1;
    return 0;
}

static int version_row(const cairn_value *cols, int ncols, void *payload)
{
    cairn_buf *b = payload;
    if (ncols < 1 || cols[0].type != CAIRN_V_INT) return 0;
    if (b->ptr[b->len - 1] != '[') cairn_buf_putc(b, ',');
    cairn_buf_printf(b, "\"%lld\"", (long long)cols[0].u.i);
    return 0;
}

static const char *task_name(cairn_task t)
{
    switch (t) {
    case CAIRN_TASK_REGRESSION:
        return "regression";
    case CAIRN_TASK_BINARY:
        return "binary";
    case CAIRN_TASK_MULTICLASS:
        return "multiclass";
    case CAIRN_TASK_CLUSTERING:
        return "clustering";
    }
    return "unknown";
}

/* Model metadata: the 2-D input tensor, the outputs, and (in parameters)
 * the per-feature inputs with their datatypes. */
static int model_metadata(cairn_http_req *req, cairn_serve *s, cairn_serve_model *sm)
{
    const cairn_model *m = cairn_serve_model_get(sm);
    int nf = cairn_model_n_features(m), k = cairn_model_n_outputs(m);
    const char *name = cairn_serve_model_name(sm);
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"name\":");
    cairn_buf_put_json_str(&b, name, strlen(name));
    cairn_buf_puts(&b, ",\"versions\":[");
    int rc = cairn_serve__versions(s, name, version_row, &b);
    if (rc) {
        cairn_buf_free(&b);
        return respond_code(req, rc);
    }
    int has_cat = 0;
    for (int j = 0; j < nf; j++)
        has_cat |= cairn_model_feature_type(m, j) == CAIRN_COL_CAT;
    cairn_buf_printf(&b,
                     "],\"platform\":\"cairn\",\"inputs\":[{\"name\":\"input-0\",\"datatype\":"
                     "\"%s\",\"shape\":[-1,%d]}],\"outputs\":[",
                     has_cat ? "BYTES" : "FP64", nf);
    if (is_classifier(m))
        cairn_buf_printf(&b, "{\"name\":\"proba\",\"datatype\":\"FP64\",\"shape\":[-1,%d]},", k);
    cairn_buf_printf(&b, "{\"name\":\"predict\",\"datatype\":\"%s\",\"shape\":[-1]}]",
                     is_classifier(m)                               ? "BYTES"
                     : cairn_model_task(m) == CAIRN_TASK_CLUSTERING ? "INT64"
                                                                    : "FP64");
    cairn_buf_printf(&b,
                     ",\"parameters\":{\"model_version\":\"%lld\",\"task\":\"%s\",\"features\":[",
                     (long long)cairn_serve_model_version(sm), task_name(cairn_model_task(m)));
    for (int j = 0; j < nf; j++) {
        const char *fn = cairn_model_feature_name(m, j);
        cairn_buf_puts(&b, j ? ",{\"name\":" : "{\"name\":");
        cairn_buf_put_json_str(&b, fn, strlen(fn));
        cairn_buf_printf(&b, ",\"datatype\":\"%s\",\"shape\":[-1]}",
                         cairn_model_feature_type(m, j) == CAIRN_COL_CAT ? "BYTES" : "FP64");
    }
    cairn_buf_puts(&b, "]");
    if (is_classifier(m)) {
        cairn_buf_puts(&b, ",\"class_labels\":[");
        int nc = cairn_model_task(m) == CAIRN_TASK_BINARY ? 2 : k;
        for (int c = 0; c < nc; c++) {
            const char *l = cairn_model_class_label(m, c);
            if (c) cairn_buf_putc(&b, ',');
            if (l)
                cairn_buf_put_json_str(&b, l, strlen(l));
            else
                cairn_buf_printf(&b, "\"%d\"", c);
        }
        cairn_buf_putc(&b, ']');
    }
    cairn_buf_puts(&b, "}}");
    respond_buf(req, &b);
    return 0;
}

/* POST .../infer: decodes the request, predicts, answers the outputs. */
static int infer(cairn_http_req *req, cairn_serve_model *sm)
{
    int64_t t0 = cairn_monotonic_ns(), compute_ns = -1;
    const cairn_model *m = cairn_serve_model_get(sm);
    size_t len;
    const char *body = cairn_http_req_body(req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    tensor *ts = NULL;
    int nt = 0, rc = 0, want[2], nw;
    cairn_frame *f = NULL;
    double *pred = NULL;
    if (!root) {
        rc =
            cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "malformed JSON body: %.200s", jerr.text);
        goto done;
    }
    json_t *inputs = json_object_get(root, "inputs"), *id = json_object_get(root, "id");
    if (!json_is_object(root) || !json_is_array(inputs) || json_array_size(inputs) == 0) {
        rc = bad("the request needs a non-empty 'inputs' array%s%s", "", "");
        goto done;
    }
    if (id && !json_is_string(id)) {
        rc = bad("'id' must be a string%s%s", "", "");
        goto done;
    }
    if (json_array_size(inputs) > 100000) {
        rc = bad("too many inputs%s%s", "", "");
        goto done;
    }
    if ((nw = requested_outputs(m, json_object_get(root, "outputs"), want)) < 0) {
        rc = nw;
        goto done;
    }
    ts = cairn_calloc(json_array_size(inputs), sizeof(*ts));
    for (size_t i = 0; i < json_array_size(inputs) && !rc; i++, nt++)
        rc = decode_tensor(json_array_get(inputs, i), &ts[i]);
    if (rc || (rc = build_frame(m, ts, nt, &f))) goto done;
    int k = cairn_model_n_outputs(m);
    pred = cairn_malloc(sizeof(double) * (f->nrows ? f->nrows : 1) * (size_t)k);
    int64_t tc = cairn_monotonic_ns();
    rc = cairn_model_predict(m, f, pred, 1);
    compute_ns = cairn_monotonic_ns() - tc;
    if (rc) goto done;

    const char *name = cairn_serve_model_name(sm);
    const char *rid = id ? json_string_value(id) : cairn_http_req_id(req);
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(&b, "{\"model_name\":");
    cairn_buf_put_json_str(&b, name, strlen(name));
    cairn_buf_printf(
        &b, ",\"model_version\":\"%lld\",\"id\":", (long long)cairn_serve_model_version(sm));
    cairn_buf_put_json_str(&b, rid ? rid : "", rid ? strlen(rid) : 0);
    cairn_buf_puts(&b, ",\"outputs\":[");
    for (int w = 0; w < nw; w++) {
        if (w) cairn_buf_putc(&b, ',');
        put_output(&b, m, want[w], pred, f->nrows, k);
    }
    cairn_buf_puts(&b, "]}");
    cairn_serve__observe(name, cairn_serve_model_version(sm), 1, f->nrows,
                         cairn_monotonic_ns() - t0, compute_ns);
    respond_buf(req, &b);
done:
    if (rc) { /* observed before answering, so a scrape after the answer sees it */
        cairn_serve__observe(cairn_serve_model_name(sm), cairn_serve_model_version(sm), 0, 0,
                             cairn_monotonic_ns() - t0, compute_ns);
        respond_code(req, rc);
    }
    for (int i = 0; i < nt; i++)
        cairn_free(ts[i].elems);
    cairn_free(ts);
    cairn_free(pred);
    cairn_frame_free(f);
    json_decref(root);
    return 0;
}

static int models_route(cairn_http_req *req, cairn_serve *s, const char *rest)
{
    route r;
    if (parse_model_path(req, rest, &r)) {
        respond_err(req, 404, "no such endpoint");
        return 0;
    }
    int is_infer = strcmp(r.action, "infer") == 0;
    if (cairn_http_req_method(req) != (is_infer ? CAIRN_HTTP_POST : CAIRN_HTTP_GET)) {
        cairn_http_set_header(req, "Allow", is_infer ? "POST" : "GET");
        respond_err(req, 405, is_infer ? "infer takes POST" : "this endpoint takes GET");
        return 0;
    }
    cairn_serve_model *sm = NULL;
    /* deployments (serve_deploy.c): a name without /versions/ that is a
     * deployment is served by the target its weights pick; the headers and
     * body then name that target's model and resolved version */
    const char *name = r.name, *spec = r.version;
    if (!spec) cairn_serve__deploy_pick(s, req, r.name, &name, &spec);
    int rc = cairn_serve_acquire(s, name, spec, &sm);
    if (rc) return respond_code(req, rc);
    cairn_serve__model_headers(req, sm);
    if (is_infer)
        infer(req, sm);
    else if (*r.action) /* ready: the version resolved and its model loaded */
        cairn_http_respond(req, 200, "text/plain", "", 0);
    else
        model_metadata(req, s, sm);
    cairn_serve_release(sm);
    return 0;
}

static int h_v2(cairn_http_req *req, void *payload)
{
    (void)payload;
    static const char body[] =
        "{\"name\":\"cairn\",\"version\":\"" CAIRN_VERSION "\",\"extensions\":[]}";
    cairn_http_respond(req, 200, "application/json", body, sizeof(body) - 1);
    return 0;
}

static int no_row(const cairn_value *cols, int ncols, void *payload)
{
    (void)cols;
    (void)ncols;
    (void)payload;
    return 0;
}

static int h_v2_prefix(cairn_http_req *req, void *payload)
{
    cairn_serve *s = payload;
    const char *rest = cairn_http_req_rest(req);
    int get = cairn_http_req_method(req) == CAIRN_HTTP_GET;
    if (!strcmp(rest, "health/live") || !strcmp(rest, "health/ready")) {
        if (!get) {
            respond_err(req, 405, "this endpoint takes GET");
            return 0;
        }
        /* ready: the metadata store answers a read */
        if (rest[7] == 'r' && cairn_serve__versions(s, "", no_row, NULL)) {
            respond_err(req, 503, cairn_error_last()->msg);
            return 0;
        }
        cairn_http_respond(req, 200, "text/plain", "", 0);
        return 0;
    }
    if (!strcmp(rest, "")) return h_v2(req, payload);
    if (!strncmp(rest, "models/", 7)) return models_route(req, s, rest + 7);
    respond_err(req, 404, "no such endpoint");
    return 0;
}

int cairn_serve_mount(cairn_serve *s, cairn_http_server *srv)
{
    unsigned methods =
        CAIRN_HTTP_GET | CAIRN_HTTP_POST | CAIRN_HTTP_PUT | CAIRN_HTTP_DELETE | CAIRN_HTTP_PATCH;
    int rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/v2", 0, 0, h_v2, s);
    if (!rc)
        rc = cairn_http_route(srv, methods, "/v2/", CAIRN_HTTP_ROUTE_PREFIX, 0, h_v2_prefix, s);
    if (!rc) rc = cairn_serve__mount_v1(s, srv);
    if (!rc) rc = cairn_serve__mount_deploy(s, srv);
    return rc;
}
