/*
 * serve_v2.c - the Open Inference Protocol V2 inference body: decoding a
 * request (JSON, or JSON plus the binary tensor data extension) into the
 * frame a model predicts, and encoding the response outputs.
 *
 * Key idea: a tensor is decoded once into a uniform view whose elements are
 * either JSON leaves or slices of the binary region, so the frame builder
 * and the datatype checks have one code path for both encodings. With the
 * binary extension (request header Inference-Header-Content-Length = N),
 * the first N bytes of the body are the JSON header and each input whose
 * parameters carry binary_data_size takes that many bytes of what follows,
 * in input order: fixed-size elements little-endian and row-major, BYTES
 * elements each a 4-byte little-endian length and the bytes. Every byte of
 * the binary region must be claimed by exactly one input. Two input
 * layouts are accepted (docs/internals/serve.md): one 2-D tensor
 * [batch, n_features] in the model's feature order, or one 1-D tensor per
 * feature named after it (BYTES for categorical features).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "serve_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the binary tensor codec assumes a little-endian host"
#endif

#define MAX_DIMS 8
#define MAX_ELEMS ((size_t)1 << 27)
#define MAX_DEPTH 16
#define MAX_INPUTS 100000

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
/* Bytes per element in the binary encoding (0: variable, BYTES). */
static const unsigned char dtype_size[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 0, 2};

/* One decoded input tensor. JSON tensors borrow their leaves from the
 * request JSON; binary tensors point into the request body. */
typedef struct tensor {
    const char *name;
    dtype type;
    int ndim;
    int64_t shape[MAX_DIMS];
    size_t count;               /* product of shape */
    json_t **elems;             /* JSON: (count) leaves, row-major; cairn_malloc'd */
    const unsigned char *raw;   /* binary fixed-size: count * dtype_size bytes */
    const char **strs;          /* binary BYTES: (count) NUL-terminated copies; cairn_malloc'd */
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

/* The binary region of a request and how much of it inputs have claimed. */
typedef struct binregion {
    const unsigned char *p;
    size_t len, used;
    int present; /* the request declared a JSON header length */
} binregion;

/* Takes t's elements from the next `size` bytes of the binary region. */
static int decode_binary(tensor *t, json_t *size_j, binregion *bin)
{
    if (!bin->present)
        return bad("input '%.100s' has binary_data_size but the request has no "
                   "Inference-Header-Content-Length header%s",
                   t->name, "");
    if (!json_is_integer(size_j) || json_integer_value(size_j) < 0)
        return bad("input '%.100s': binary_data_size must be a non-negative integer%s", t->name,
                   "");
    uint64_t size = (uint64_t)json_integer_value(size_j);
    if (size > bin->len - bin->used)
        return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                               "input '%.100s': binary_data_size %llu passes the end of the "
                               "binary data (%zu bytes left)",
                               t->name, (unsigned long long)size, bin->len - bin->used);
    const unsigned char *p = bin->p + bin->used;
    bin->used += (size_t)size;
    if (t->type != DT_BYTES) {
        if (size != (uint64_t)t->count * dtype_size[t->type])
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "input '%.100s': binary_data_size %llu does not hold %zu %s "
                                   "elements (%zu bytes)",
                                   t->name, (unsigned long long)size, t->count,
                                   dtype_names[t->type], t->count * dtype_size[t->type]);
        t->raw = p;
        return 0;
    }
    /* BYTES: [u32 length][bytes] per element; copied NUL-terminated */
    t->strs = cairn_malloc(sizeof(char *) * (t->count ? t->count : 1) + (size_t)size + t->count);
    char *dst = (char *)(t->strs + (t->count ? t->count : 1));
    size_t off = 0;
    for (size_t i = 0; i < t->count; i++) {
        uint32_t n;
        if (size - off < 4) goto short_data;
        memcpy(&n, p + off, 4);
        off += 4;
        if (n > size - off) goto short_data;
        if (memchr(p + off, '\0', n))
            return bad("input '%.100s': a BYTES element contains a NUL byte%s", t->name, "");
        memcpy(dst, p + off, n);
        dst[n] = '\0';
        t->strs[i] = dst;
        dst += n + 1;
        off += n;
    }
    if (off != size)
        return bad("input '%.100s': binary BYTES data is longer than its elements%s", t->name, "");
    return 0;
short_data:
    return bad("input '%.100s': binary BYTES data ends inside an element%s", t->name, "");
}

/* Decodes one element of `inputs` into t. The caller frees t->elems / strs. */
static int decode_tensor(json_t *in, tensor *t, binregion *bin)
{
    memset(t, 0, sizeof(*t));
    if (!json_is_object(in)) return bad("each input must be an object%s%s", "", "");
    json_t *name = json_object_get(in, "name"), *shape = json_object_get(in, "shape"),
           *dt = json_object_get(in, "datatype"), *data = json_object_get(in, "data"),
           *params = json_object_get(in, "parameters");
    if (!json_is_string(name)) return bad("an input has no string 'name'%s%s", "", "");
    t->name = json_string_value(name);
    if (!json_is_string(dt)) return bad("input '%.100s' has no string 'datatype'%s", t->name, "");
    if (parse_dtype(json_string_value(dt), &t->type)) return CAIRN_EINVALID;
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
    if (params && !json_is_object(params))
        return bad("input '%.100s': 'parameters' must be an object%s", t->name, "");
    json_t *bsize = json_object_get(params, "binary_data_size");
    if (bsize) {
        if (data) return bad("input '%.100s' has both 'data' and binary_data_size%s", t->name, "");
        return decode_binary(t, bsize, bin);
    }
    if (!data) return bad("input '%.100s' has no 'data'%s", t->name, "");
    if (t->type == DT_FP16 || t->type == DT_BF16)
        return bad("input '%.100s': datatype %s has no JSON representation (use binary data)",
                   t->name, dtype_names[t->type]);
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

static double half_to_double(uint16_t h)
{
    int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp(mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp(mant + 1024, exp - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element i of a fixed-size binary tensor as double. 1 for a BOOL byte
 * other than 0 / 1 (invalid), else 0. */
static int raw_f64(const tensor *t, size_t i, double *out)
{
    const unsigned char *p = t->raw + i * dtype_size[t->type];
    union {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
    } u;
    memcpy(&u, p, dtype_size[t->type]);
    switch (t->type) {
    case DT_BOOL:
        if (u.u8 > 1) return 1;
        *out = u.u8;
        return 0;
    case DT_UINT8: *out = u.u8; return 0;
    case DT_UINT16: *out = u.u16; return 0;
    case DT_UINT32: *out = u.u32; return 0;
    case DT_UINT64: *out = (double)u.u64; return 0;
    case DT_INT8: *out = u.i8; return 0;
    case DT_INT16: *out = u.i16; return 0;
    case DT_INT32: *out = u.i32; return 0;
    case DT_INT64: *out = (double)u.i64; return 0;
    case DT_FP16: *out = half_to_double(u.u16); return 0;
    case DT_BF16: {
        uint32_t w = (uint32_t)u.u16 << 16;
        float f;
        memcpy(&f, &w, 4);
        *out = f;
        return 0;
    }
    case DT_FP32: *out = u.f32; return 0;
    case DT_FP64: *out = u.f64; return 0;
    case DT_BYTES: break;
    }
    return 1;
}

/* Converts element i of a numeric tensor to double, checking it against
 * the datatype (integers in range, booleans for BOOL). null is missing. */
static int elem_f64(const tensor *t, size_t i, double *out)
{
    static const double lo[] = {0, 0, 0, 0, 0, -128, -32768, -2147483648.0, -9.3e18};
    static const double hi[] = {1,   255,   65535,        4294967295.0, 1.9e19,
                                127, 32767, 2147483647.0, 9.3e18};
    if (t->type == DT_BYTES)
        return bad("input '%.100s': BYTES data given for a numeric feature%s", t->name, "");
    if (t->raw) {
        if (!raw_f64(t, i, out)) return 0;
        goto invalid;
    }
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
    default: {
        if (!json_is_integer(v)) break;
        double x = (double)json_integer_value(v);
        if (x < lo[t->type] || x > hi[t->type]) break;
        *out = x;
        return 0;
    }
    }
invalid:
    return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                           "input '%.100s': element %zu is not a valid %s value", t->name, i,
                           dtype_names[t->type]);
}

/* Element i of a BYTES tensor: the string, NULL for a JSON null (missing).
 * CAIRN_EINVALID for a JSON leaf that is not a string. */
static int elem_str(const tensor *t, size_t i, const char **out)
{
    if (t->strs) {
        *out = t->strs[i];
        return 0;
    }
    json_t *v = t->elems[i];
    if (json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v)) return bad("input '%.100s': BYTES elements must be strings%s", t->name, "");
    *out = json_string_value(v);
    return 0;
}

int32_t cairn_serve__intern(struct json_t *index, const char *s, const char **dict, int32_t *ndict)
{
    json_t *k = json_object_get(index, s);
    if (k) return (int32_t)json_integer_value(k);
    json_object_set_new(index, s, json_integer(*ndict));
    dict[*ndict] = s;
    return (*ndict)++;
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
        const char *s = NULL;
        if ((rc = elem_str(t, first + i * stride, &s))) goto done;
        if (!s) {
            codes[i] = -1;
            continue;
        }
        codes[i] = cairn_serve__intern(index, s, dict, &ndict);
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

/* ================= requested outputs ================= */

int cairn_serve__is_classifier(const cairn_model *m)
{
    cairn_task t = cairn_model_task(m);
    return t == CAIRN_TASK_BINARY || t == CAIRN_TASK_MULTICLASS;
}

/* A JSON true under key in obj (an object or NULL); -1 when present but not
 * a boolean, 0 when absent. */
static int flag(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* Fills r->want / r->nwant / r->binary from the request's `outputs` and the
 * binary_data_output parameter (default: every output the model has). */
static int requested_outputs(const cairn_model *m, json_t *root, cairn_serve_v2 *r)
{
    json_t *outputs = json_object_get(root, "outputs");
    int all_binary = flag(json_object_get(root, "parameters"), "binary_data_output");
    if (all_binary < 0) return bad("parameter binary_data_output must be a boolean%s%s", "", "");
    if (!outputs || (json_is_array(outputs) && json_array_size(outputs) == 0)) {
        if (!cairn_serve__is_classifier(m)) {
            r->want[0] = CAIRN_SERVE_OUT_PREDICT;
            r->nwant = 1;
        } else {
            r->want[0] = CAIRN_SERVE_OUT_PROBA;
            r->want[1] = CAIRN_SERVE_OUT_PREDICT;
            r->nwant = 2;
        }
        r->binary[0] = r->binary[1] = all_binary;
        return 0;
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
        int w = strcmp(name, "predict") == 0 ? CAIRN_SERVE_OUT_PREDICT
                : strcmp(name, "proba") == 0 && cairn_serve__is_classifier(m)
                    ? CAIRN_SERVE_OUT_PROBA
                    : -1;
        if (w < 0) return bad("model has no output '%.100s'%s", name, "");
        if (n == 1 && r->want[0] == w) return bad("output '%.100s' is requested twice%s", name, "");
        json_t *params = json_object_get(o, "parameters");
        int b = flag(params, "binary_data");
        if (b < 0) return bad("output '%.100s': parameter binary_data must be a boolean%s", name, "");
        r->want[n] = w;
        r->binary[n] = json_object_get(params, "binary_data") ? b : all_binary;
        n++;
    }
    r->nwant = n;
    return 0;
}

/* ================= decoding ================= */

int cairn_serve__v2_decode(const cairn_model *m, const char *body, size_t len, int64_t header_len,
                           cairn_serve_v2 *r)
{
    if (header_len < 0 && cairn_serve__v2_fast(m, body, len, r)) return 0; /* the common shape */
    memset(r, 0, sizeof(*r));
    binregion bin = {NULL, 0, 0, 0};
    size_t jlen = len;
    if (header_len >= 0) {
        if ((uint64_t)header_len > len)
            return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                   "Inference-Header-Content-Length %lld is larger than the "
                                   "body (%zu bytes)",
                                   (long long)header_len, len);
        jlen = (size_t)header_len;
        bin.p = (const unsigned char *)body + jlen;
        bin.len = len - jlen;
        bin.present = 1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, jlen, 0, &jerr);
    if (!root)
        return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "malformed JSON body: %.200s",
                               jerr.text);
    r->root = root;
    json_t *inputs = json_object_get(root, "inputs"), *id = json_object_get(root, "id");
    if (!json_is_object(root) || !json_is_array(inputs) || json_array_size(inputs) == 0)
        return bad("the request needs a non-empty 'inputs' array%s%s", "", "");
    if (id && !json_is_string(id)) return bad("'id' must be a string%s%s", "", "");
    r->id = id ? json_string_value(id) : NULL;
    size_t ni = json_array_size(inputs);
    if (ni > MAX_INPUTS) return bad("too many inputs%s%s", "", "");
    int rc = requested_outputs(m, root, r);
    if (rc) return rc;
    tensor *ts = cairn_calloc(ni, sizeof(*ts));
    int nt = 0;
    for (size_t i = 0; i < ni && !rc; i++, nt++)
        rc = decode_tensor(json_array_get(inputs, i), &ts[i], &bin);
    if (!rc && bin.used != bin.len)
        rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                             "%zu bytes of binary data are not claimed by any input",
                             bin.len - bin.used);
    if (!rc) rc = build_frame(m, ts, nt, &r->frame);
    for (int i = 0; i < nt; i++) {
        cairn_free(ts[i].elems);
        cairn_free(ts[i].strs);
    }
    cairn_free(ts);
    return rc;
}

void cairn_serve__v2_free(cairn_serve_v2 *r)
{
    if (!r) return;
    cairn_frame_free(r->frame);
    json_decref(r->root);
    cairn_free(r->id_owned);
    memset(r, 0, sizeof(*r));
}

/* ================= encoding ================= */

/* The class index row i predicts (binary: p >= 0.5). */
static int best_class(const cairn_model *m, const double *p, int k)
{
    if (cairn_model_task(m) == CAIRN_TASK_BINARY) return p[0] >= 0.5 ? 1 : 0;
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

/* Label of class c (its index as text when the model has no labels). */
static const char *class_label(const cairn_model *m, int c, char num[16])
{
    const char *l = cairn_model_class_label(m, c);
    if (l) return l;
    snprintf(num, 16, "%d", c);
    return num;
}

static void put_u32(cairn_buf *b, uint32_t v)
{
    cairn_buf_put(b, &v, 4);
}

/* Appends output `which` as binary data to bin; returns its size. */
static size_t put_output_binary(cairn_buf *bin, const cairn_model *m, int which, const double *pred,
                                size_t n, int k)
{
    size_t start = bin->len;
    cairn_task task = cairn_model_task(m);
    if (which == CAIRN_SERVE_OUT_PROBA) {
        cairn_buf_put(bin, pred, sizeof(double) * n * (size_t)k);
    } else if (cairn_serve__is_classifier(m)) {
        char num[16];
        for (size_t i = 0; i < n; i++) {
            const char *l = class_label(m, best_class(m, pred + i * (size_t)k, k), num);
            size_t ln = strlen(l);
            put_u32(bin, (uint32_t)ln);
            cairn_buf_put(bin, l, ln);
        }
    } else if (task == CAIRN_TASK_CLUSTERING) {
        for (size_t i = 0; i < n; i++) {
            int64_t c = (int64_t)pred[i];
            cairn_buf_put(bin, &c, 8);
        }
    } else {
        cairn_buf_put(bin, pred, sizeof(double) * n);
    }
    return bin->len - start;
}

/* Appends one output tensor object (data inline, or its binary size). */
static void put_output(cairn_buf *b, cairn_buf *bin, const cairn_model *m, int which, int binary,
                       const double *pred, size_t n, int k)
{
    cairn_task task = cairn_model_task(m);
    cairn_buf_puts(b, "{\"name\":");
    if (which == CAIRN_SERVE_OUT_PROBA)
        cairn_buf_printf(b, "\"proba\",\"datatype\":\"FP64\",\"shape\":[%zu,%d]", n, k);
    else
        cairn_buf_printf(b, "\"predict\",\"datatype\":\"%s\",\"shape\":[%zu]",
                         cairn_serve__is_classifier(m)    ? "BYTES"
                         : task == CAIRN_TASK_CLUSTERING ? "INT64"
                                                         : "FP64",
                         n);
    if (binary) {
        size_t sz = put_output_binary(bin, m, which, pred, n, k);
        cairn_buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", sz);
        return;
    }
    cairn_buf_puts(b, ",\"data\":[");
    if (which == CAIRN_SERVE_OUT_PROBA) {
        for (size_t i = 0; i < n * (size_t)k; i++) {
            if (i) cairn_buf_putc(b, ',');
            cairn_serve__put_double(b, pred[i]);
        }
    } else {
        char num[16];
        for (size_t i = 0; i < n; i++) {
            if (i) cairn_buf_putc(b, ',');
            if (cairn_serve__is_classifier(m)) {
                const char *l = class_label(m, best_class(m, pred + i * (size_t)k, k), num);
                cairn_buf_put_json_str(b, l, strlen(l));
            } else if (task == CAIRN_TASK_CLUSTERING) {
                cairn_buf_printf(b, "%lld", (long long)pred[i]);
            } else {
                cairn_serve__put_double(b, pred[i]);
            }
        }
    }
    cairn_buf_puts(b, "]}");
}

size_t cairn_serve__v2_encode(cairn_buf *out, const cairn_model *m, const cairn_serve_v2 *r,
                              const char *model, int64_t version, const char *id,
                              const double *pred, size_t n, int k)
{
    cairn_buf bin = CAIRN_BUF_INIT(0);
    cairn_buf_puts(out, "{\"model_name\":");
    cairn_buf_put_json_str(out, model, strlen(model));
    cairn_buf_printf(out, ",\"model_version\":\"%lld\",\"id\":", (long long)version);
    cairn_buf_put_json_str(out, id ? id : "", id ? strlen(id) : 0);
    cairn_buf_puts(out, ",\"outputs\":[");
    for (int w = 0; w < r->nwant; w++) {
        if (w) cairn_buf_putc(out, ',');
        put_output(out, &bin, m, r->want[w], r->binary[w], pred, n, k);
    }
    cairn_buf_puts(out, "]}");
    size_t json_len = 0;
    int any_binary = 0;
    for (int w = 0; w < r->nwant; w++)
        any_binary |= r->binary[w];
    if (any_binary) {
        json_len = out->len;
        if (bin.len) cairn_buf_put(out, bin.ptr, bin.len);
    }
    cairn_buf_free(&bin);
    return json_len;
}
