/*
 * model_json.c - text views of a model: the whole model as JSON (what
 * `cairn model inspect` prints) and MLflow's MLmodel YAML.
 *
 * Key idea: both are built with jansson (escaping, number formatting and
 * key order are jansson's), never by string pasting; names from the data
 * are made valid UTF-8 first. The MLmodel file carries only the `cairn`
 * flavor (no python_function flavor that nothing could load), and its
 * signature is written the way MLflow writes one: JSON strings inside
 * YAML, produced with Python json.dumps' default separators and ASCII
 * escapes, then put in a YAML single-quoted scalar.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cairn/core.h"
#include "model_internal.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0.0.0"
#endif

/* ====================================================================== */
/* Helpers                                                                 */
/* ====================================================================== */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], k, cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        k = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 3, cp = c & 0x07;
    else
        return 0;
    if (n < k + 1) return 0;
    for (unsigned i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k + 1;
}

/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD. */
static json_t *jstr(const char *s)
{
    if (!s) return json_null();
    size_t n = strlen(s);
    cairn_buf b = CAIRN_BUF_INIT(0);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            cairn_buf_put(&b, s + i, k);
            i += k;
        } else {
            cairn_buf_puts(&b, "\xef\xbf\xbd");
            i++;
        }
    }
    json_t *j = json_stringn(cairn_buf_cstr(&b), b.len);
    cairn_buf_free(&b);
    return j;
}

/* A JSON number, or null for NaN and infinities (JSON has neither). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jnums(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jnum(v[i]));
    return a;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return cairn_buf_put(data, buffer, size) ? -1 : 0;
}

/* Appends j (consumed) to out as text. */
static int dump(json_t *j, size_t flags, cairn_buf *out)
{
    if (!j) return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_ML, "model json: could not build");
    int rc = json_dump_callback(j, dump_cb, out, flags);
    json_decref(j);
    if (rc)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML,
                               "model json does not fit the output buffer");
    return 0;
}

/* ====================================================================== */
/* Model as JSON                                                           */
/* ====================================================================== */

static json_t *schema_json(const cairn_model *m)
{
    json_t *feats = json_array();
    for (int j = 0; j < m->n_features; j++) {
        const struct cairn_model_feature *f = &m->feat[j];
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(f->name));
        json_object_set_new(o, "type",
                            json_string(f->type == CAIRN_COL_CAT ? "categorical" : "numeric"));
        if (f->type == CAIRN_COL_CAT) {
            json_t *d = json_array();
            for (int32_t k = 0; k < f->ndict; k++)
                json_array_append_new(d, jstr(f->dict[k]));
            json_object_set_new(o, "categories", d);
        }
        json_array_append_new(feats, o);
    }
    json_t *s = json_object();
    json_object_set_new(s, "features", feats);
    json_object_set_new(s, "target", jstr(m->target));
    json_object_set_new(s, "n_classes", json_integer(m->n_classes));
    json_t *labels = json_array();
    for (int k = 0; k < m->n_classes; k++)
        json_array_append_new(labels, jstr(m->class_labels[k]));
    json_object_set_new(s, "class_labels", labels);
    return s;
}

/* One node: a leaf {"id", "leaf"} or a split {"id", "feature",
 * "feature_name", "threshold" | "categories", "left", "right",
 * "default_left", "gain"}. */
static json_t *node_json(const cairn_model *m, const cairn_tree_node *nd, int id,
                         const uint32_t *bits)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    if (nd->left < 0) {
        json_object_set_new(o, "leaf", jnum(nd->value));
        return o;
    }
    const struct cairn_model_feature *f = &m->feat[nd->feature];
    json_object_set_new(o, "feature", json_integer(nd->feature));
    json_object_set_new(o, "feature_name", jstr(f->name));
    if (nd->is_categorical) {
        json_t *codes = json_array(), *names = json_array();
        for (uint32_t w = 0; w < nd->cat_words; w++)
            for (uint32_t bit = 0; bit < 32; bit++)
                if (bits[nd->cat_offset + w] >> bit & 1u) {
                    uint32_t code = w * 32 + bit;
                    json_array_append_new(codes, json_integer(code));
                    json_array_append_new(names, (int64_t)code < f->ndict ? jstr(f->dict[code])
                                                                          : json_null());
                }
        json_object_set_new(o, "categories", codes);
        json_object_set_new(o, "category_names", names);
    } else {
        json_object_set_new(o, "threshold", jnum((double)nd->threshold));
    }
    json_object_set_new(o, "left", json_integer(nd->left));
    json_object_set_new(o, "right", json_integer(nd->right));
    json_object_set_new(o, "default_left", json_boolean(nd->default_left));
    json_object_set_new(o, "gain", jnum((double)nd->gain));
    return o;
}

static json_t *trees_json(const cairn_model *m)
{
    static const char *const transforms[] = {"identity", "sigmoid", "softmax"};
    const cairn_trees *t = m->trees;
    int K = cairn_trees_n_outputs(t);
    json_t *p = json_object();
    json_object_set_new(p, "n_features", json_integer(cairn_trees_n_features(t)));
    json_object_set_new(p, "n_outputs", json_integer(K));
    json_object_set_new(p, "transform", json_string(transforms[cairn_trees_get_transform(t)]));
    json_object_set_new(
        p, "split_rule",
        json_string(cairn_trees_get_split_rule(t) == CAIRN_TREES_SPLIT_LE ? "le" : "lt"));
    json_t *base = json_array();
    for (int k = 0; k < K; k++)
        json_array_append_new(base, jnum(cairn_trees_base_score(t, k)));
    json_object_set_new(p, "base_score", base);
    const uint32_t *bits = cairn_trees_cat_bits(t, NULL);
    json_t *trees = json_array();
    for (int i = 0; i < cairn_trees_n_trees(t); i++) {
        int n;
        const cairn_tree_node *nd = cairn_trees_tree(t, i, &n);
        json_t *tree = json_object(), *nodes = json_array();
        json_object_set_new(tree, "output", json_integer(cairn_trees_tree_output(t, i)));
        for (int q = 0; q < n; q++)
            json_array_append_new(nodes, node_json(m, &nd[q], q, bits));
        json_object_set_new(tree, "nodes", nodes);
        json_array_append_new(trees, tree);
    }
    json_object_set_new(p, "trees", trees);
    return p;
}

/* (rows, n_features) matrix as an array of row arrays. */
static json_t *matrix_json(const double *a, int rows, int cols)
{
    json_t *o = json_array();
    for (int r = 0; r < rows; r++)
        json_array_append_new(o, jnums(a + (size_t)r * (size_t)cols, (size_t)cols));
    return o;
}

static json_t *dense_json(const cairn_model *m)
{
    json_t *p = json_object();
    if (m->kind == CAIRN_MODEL_LINEAR) {
        json_object_set_new(p, "coef", jnums(m->coef, (size_t)m->n_features));
        json_object_set_new(p, "intercept", jnum(m->intercept[0]));
    } else if (m->kind == CAIRN_MODEL_LOGISTIC) {
        json_t *cls = json_array();
        for (int k = 0; k < m->n_classes; k++)
            json_array_append_new(cls, json_integer(m->classes[k]));
        json_object_set_new(p, "classes", cls);
        json_object_set_new(p, "coef", matrix_json(m->coef, m->rows, m->n_features));
        json_object_set_new(p, "intercept", jnums(m->intercept, (size_t)m->rows));
    } else {
        json_object_set_new(p, "k", json_integer(m->rows));
        json_object_set_new(p, "centroids", matrix_json(m->coef, m->rows, m->n_features));
    }
    return p;
}

int cairn_model_to_json(const cairn_model *m, cairn_buf *out)
{
    if (!m || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model to json: bad arguments");
    json_t *o = json_object();
    json_object_set_new(o, "format_version", json_integer(CAIRN_MODEL_FORMAT_VERSION));
    json_object_set_new(o, "kind", json_string(cairn_model__kind_name(m->kind)));
    json_object_set_new(o, "task", json_string(cairn_model__task_name(m->task)));
    json_object_set_new(o, "n_outputs", json_integer(m->n_outputs));
    json_object_set_new(o, "schema", schema_json(m));
    json_object_set_new(o, "params", m->kind == CAIRN_MODEL_TREES ? trees_json(m) : dense_json(m));
    int rc = dump(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17), out);
    if (!rc) rc = cairn_buf_putc(out, '\n');
    return rc;
}

/* ====================================================================== */
/* MLmodel                                                                 */
/* ====================================================================== */

/* Appends s as a YAML scalar: single-quoted ('' for ') when every byte is
 * printable, else double-quoted with \xNN escapes for control bytes.
 * s must be valid UTF-8. */
static int yaml_scalar(cairn_buf *b, const char *s)
{
    int plain = 1;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u < 0x20 || *u == 0x7f) plain = 0;
    int rc = cairn_buf_putc(b, plain ? '\'' : '"');
    for (const unsigned char *u = (const unsigned char *)s; *u && !rc; u++) {
        if (plain)
            rc = *u == '\'' ? cairn_buf_puts(b, "''") : cairn_buf_putc(b, (char)*u);
        else if (*u < 0x20 || *u == 0x7f)
            rc = cairn_buf_printf(b, "\\x%02x", *u);
        else if (*u == '"' || *u == '\\')
            rc = cairn_buf_printf(b, "\\%c", *u);
        else
            rc = cairn_buf_putc(b, (char)*u);
    }
    return rc ? rc : cairn_buf_putc(b, plain ? '\'' : '"');
}

/* A column spec as MLflow's ColSpec.to_dict writes it: type, name, required. */
static json_t *colspec(const char *type, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    if (name) json_object_set_new(o, "name", jstr(name));
    json_object_set_new(o, "required", json_true());
    return o;
}

/* Python's json.dumps writes \u escapes with lowercase hex, jansson with
 * uppercase: lowercase them in place (escaped backslashes are skipped). */
static void lower_u_escapes(cairn_buf *b)
{
    for (size_t i = 0; i + 1 < b->len; i++) {
        if (b->ptr[i] != '\\') continue;
        if (b->ptr[i + 1] == 'u')
            for (size_t k = i + 2; k < i + 6 && k < b->len; k++)
                if (b->ptr[k] >= 'A' && b->ptr[k] <= 'F') b->ptr[k] = (char)(b->ptr[k] - 'A' + 'a');
        i++;
    }
}

/* The signature's inputs and outputs as JSON text (json.dumps style). */
static int signature_strings(const cairn_model *m, cairn_buf *in, cairn_buf *outs)
{
    json_t *a = json_array();
    for (int j = 0; j < m->n_features; j++)
        json_array_append_new(
            a, colspec(m->feat[j].type == CAIRN_COL_CAT ? "string" : "double", m->feat[j].name));
    const size_t flags = JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17);
    int rc = dump(a, flags, in);
    if (rc) return rc;
    lower_u_escapes(in);
    json_t *o = json_array();
    if (m->task == CAIRN_TASK_MULTICLASS)
        for (int k = 0; k < m->n_classes; k++)
            json_array_append_new(o, colspec("double", m->class_labels[k]));
    else if (m->task == CAIRN_TASK_CLUSTERING)
        json_array_append_new(o, colspec("long", "cluster"));
    else if (m->task == CAIRN_TASK_BINARY)
        json_array_append_new(o, colspec("double", m->class_labels[1]));
    else
        json_array_append_new(o, colspec("double", m->target));
    rc = dump(o, flags, outs);
    if (!rc) lower_u_escapes(outs);
    return rc;
}

static void utc_now(char out[32])
{
    int64_t us = cairn_time_us();
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, 32, "%s.%06d", day, (int)(us % 1000000));
}

int cairn_model_mlmodel_yaml(const cairn_model *m, const char *run_id, cairn_buf *out)
{
    if (!m || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "mlmodel: bad arguments");
    if (run_id) {
        size_t n = strlen(run_id);
        for (size_t i = 0; i < n;) {
            size_t k = utf8_seq((const unsigned char *)run_id + i, n - i);
            if (!k)
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "run id is not valid UTF-8");
            i += k;
        }
    }
    cairn_buf in = CAIRN_BUF_INIT(0), outs = CAIRN_BUF_INIT(0);
    int rc = signature_strings(m, &in, &outs);
    char uuid[33], when[32];
    cairn_uuid_hex(uuid);
    utc_now(when);
    if (!rc)
        rc = cairn_buf_printf(out,
                              "artifact_path: model\n"
                              "flavors:\n"
                              "  cairn:\n"
                              "    cairn_version: '%s'\n"
                              "    format_version: %u\n"
                              "    kind: %s\n"
                              "    model_file: model.cairn\n"
                              "    task: %s\n"
                              "model_uuid: %s\n",
                              CAIRN_VERSION, CAIRN_MODEL_FORMAT_VERSION,
                              cairn_model__kind_name(m->kind), cairn_model__task_name(m->task),
                              uuid);
    if (!rc && run_id) {
        rc = cairn_buf_puts(out, "run_id: ");
        if (!rc) rc = yaml_scalar(out, run_id);
        if (!rc) rc = cairn_buf_putc(out, '\n');
    }
    if (!rc) rc = cairn_buf_puts(out, "signature:\n  inputs: ");
    if (!rc) rc = yaml_scalar(out, cairn_buf_cstr(&in));
    if (!rc) rc = cairn_buf_puts(out, "\n  outputs: ");
    if (!rc) rc = yaml_scalar(out, cairn_buf_cstr(&outs));
    if (!rc) rc = cairn_buf_printf(out, "\n  params: null\nutc_time_created: '%s'\n", when);
    cairn_buf_free(&in);
    cairn_buf_free(&outs);
    return rc;
}
