/*
 * model_import_xgb.c - XGBoost's JSON model (booster.save_model("m.json"))
 * into the tree runtime, and the step shared with the LightGBM importer
 * that wraps an imported ensemble into a cairn_model with its schema.
 *
 * Key idea: parse the whole document once into a flat array of values (a
 * small JSON reader of our own, because XGBoost writes NaN and Infinity,
 * which strict JSON parsers refuse), then read the fields the booster
 * needs, checking every length, index and count before anything reaches
 * cairn_trees_add_tree(). Each tree is re-laid out in breadth-first order
 * from its root, so deleted (unreachable) nodes drop out and a node reached
 * twice (a cycle or a shared child) is caught. Numbers are rounded to float
 * where XGBoost holds floats (thresholds, leaves, base score), so the
 * runtime sees exactly XGBoost's values. See docs/internals/import.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/model.h"
#include "cairn/trees.h"
#include "csv_internal.h"
#include "model_import.h"


#define CORRUPT(...) cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, __VA_ARGS__)
#define UNSUPPORTED(...) cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_ML, __VA_ARGS__)

#define MAX_DEPTH 128            /* JSON nesting */
#define MAX_FEATURES (1 << 20)   /* as the model schema allows */
#define MAX_CATEGORY (1 << 24)   /* XGBoost: categories are exact in a float */
#define MAX_CAT_WORDS (1u << 22) /* bitset words per tree */
#define MAX_DICT (1 << 16)       /* categories named in a schema dictionary */

/* ------------------------------------------------------------ JSON reader */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

/* One value. Containers link their children through `next` (an object's
 * children alternate key, value); index 0 is a placeholder, so 0 means
 * "none" for first/next and for lookups. */
struct jv {
    uint8_t type;
    uint8_t b;
    uint32_t next;
    uint32_t first; /* ARR/OBJ: first child; STR: offset in the string pool */
    uint32_t n;     /* ARR: items; OBJ: members; STR: bytes */
    double num;
};

struct jdoc {
    struct jv *v;
    uint32_t nv, cap;
    char *str; /* unescaped strings, each NUL-terminated */
    size_t nstr, capstr;
    const char *p, *end, *start;
    uint32_t root;
};

static int jerr(const struct jdoc *d, const char *what)
{
    return CORRUPT("xgboost model: %s at byte %zu", what, (size_t)(d->p - d->start));
}

static void skip_ws(struct jdoc *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static uint32_t jnew(struct jdoc *d, uint8_t type)
{
    if (d->nv == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->v = cairn_realloc(d->v, sizeof(struct jv) * d->cap);
    }
    d->v[d->nv] = (struct jv){.type = type};
    return d->nv++;
}

static void str_put(struct jdoc *d, const char *s, size_t n)
{
    if (n == 0) return;
    if (d->nstr + n > d->capstr) {
        while (d->nstr + n > d->capstr)
            d->capstr = d->capstr ? 2 * d->capstr : 1024;
        d->str = cairn_realloc(d->str, d->capstr);
    }
    memcpy(d->str + d->nstr, s, n);
    d->nstr += n;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int h = c >= '0' && c <= '9'                     ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                         : -1;
        if (h < 0) return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* Reads a string at d->p (the opening quote) into the pool; UTF-8 bytes
 * are copied as they are, escapes decoded (\u0000 refused). */
static int jstring(struct jdoc *d, uint32_t *idx)
{
    d->p++;
    size_t off = d->nstr;
    for (;;) {
        const char *s = d->p;
        while (d->p < d->end && *d->p != '"' && *d->p != '\\' && (unsigned char)*d->p >= 0x20)
            d->p++;
        str_put(d, s, (size_t)(d->p - s));
        if (d->p >= d->end) return jerr(d, "unterminated string");
        if (*d->p == '"') break;
        if ((unsigned char)*d->p < 0x20) return jerr(d, "control character in string");
        if (d->end - d->p < 2) return jerr(d, "unterminated string");
        char e = d->p[1], c;
        d->p += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            c = e;
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            uint32_t u, lo;
            if (d->end - d->p < 4 || hex4(d->p, &u)) return jerr(d, "bad \\u escape");
            d->p += 4;
            if (u >= 0xD800 && u < 0xDC00 && d->end - d->p >= 6 && d->p[0] == '\\' &&
                d->p[1] == 'u' && !hex4(d->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                d->p += 6;
            } else if (u >= 0xD800 && u < 0xE000) {
                u = 0xFFFD; /* lone surrogate */
            }
            if (u == 0) return jerr(d, "\\u0000 in string");
            char b[4];
            size_t n;
            if (u < 0x80) {
                b[0] = (char)u, n = 1;
            } else if (u < 0x800) {
                b[0] = (char)(0xC0 | u >> 6), b[1] = (char)(0x80 | (u & 0x3F)), n = 2;
            } else if (u < 0x10000) {
                b[0] = (char)(0xE0 | u >> 12), b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
                b[2] = (char)(0x80 | (u & 0x3F)), n = 3;
            } else {
                b[0] = (char)(0xF0 | u >> 18), b[1] = (char)(0x80 | ((u >> 12) & 0x3F));
                b[2] = (char)(0x80 | ((u >> 6) & 0x3F)), b[3] = (char)(0x80 | (u & 0x3F)), n = 4;
            }
            str_put(d, b, n);
            continue;
        }
        default:
            return jerr(d, "bad escape in string");
        }
        str_put(d, &c, 1);
    }
    d->p++;
    if (d->nstr - off > UINT32_MAX - 1) return jerr(d, "string too long");
    *idx = jnew(d, J_STR);
    d->v[*idx].first = (uint32_t)off;
    d->v[*idx].n = (uint32_t)(d->nstr - off);
    str_put(d, "", 1);
    if (d->nstr > UINT32_MAX) return jerr(d, "strings too long");
    return 0;
}

static int jvalue(struct jdoc *d, uint32_t *idx, int depth);

/* Reads an array or object at d->p; children are chained through next. */
static int jcontainer(struct jdoc *d, uint32_t *idx, int depth)
{
    int is_obj = *d->p == '{';
    char close = is_obj ? '}' : ']';
    uint32_t me = jnew(d, is_obj ? J_OBJ : J_ARR), last = 0, count = 0;
    *idx = me;
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
        return 0;
    }
    for (;;) {
        uint32_t key = 0, val;
        int rc;
        skip_ws(d);
        if (is_obj) {
            if (d->p >= d->end || *d->p != '"') return jerr(d, "expected a member name");
            if ((rc = jstring(d, &key))) return rc;
            skip_ws(d);
            if (d->p >= d->end || *d->p != ':') return jerr(d, "expected ':'");
            d->p++;
        }
        if ((rc = jvalue(d, &val, depth + 1))) return rc;
        uint32_t head = is_obj ? key : val;
        if (is_obj) d->v[key].next = val;
        if (last)
            d->v[last].next = head;
        else
            d->v[me].first = head;
        last = val;
        count++;
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == close) {
            d->p++;
            break;
        }
        return jerr(d, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    d->v[me].n = count;
    return 0;
}

static int match_word(struct jdoc *d, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n)) return 0;
    d->p += n;
    return 1;
}

static int jvalue(struct jdoc *d, uint32_t *idx, int depth)
{
    if (depth > MAX_DEPTH) return jerr(d, "nesting too deep");
    skip_ws(d);
    if (d->p >= d->end) return jerr(d, "unexpected end of input");
    char c = *d->p;
    if (c == '{' || c == '[') return jcontainer(d, idx, depth);
    if (c == '"') return jstring(d, idx);
    if (match_word(d, "true") || match_word(d, "false")) {
        *idx = jnew(d, J_BOOL);
        d->v[*idx].b = c == 't';
        return 0;
    }
    if (match_word(d, "null")) {
        *idx = jnew(d, J_NULL);
        return 0;
    }
    /* numbers, plus the NaN / Infinity / -Infinity XGBoost writes */
    if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I') {
        double v;
        const char *q = cairn_csv__parse_f64(d->p, d->end, &v);
        if (!q) return jerr(d, "bad number");
        if (q < d->end && !strchr(" \t\r\n,]}", *q)) return jerr(d, "bad number");
        d->p = q;
        *idx = jnew(d, J_NUM);
        d->v[*idx].num = v;
        return 0;
    }
    return jerr(d, "unexpected character");
}

/* Parses [json, json+len) into d; the root value is d->v[d->root]. */
static int jparse(struct jdoc *d, const char *json, size_t len)
{
    memset(d, 0, sizeof(*d));
    if (len > (size_t)INT32_MAX)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "xgboost model over 2 GiB");
    d->p = d->start = json;
    d->end = json + len;
    jnew(d, J_NULL); /* index 0: "none" */
    int rc = jvalue(d, &d->root, 0);
    if (rc) return rc;
    skip_ws(d);
    if (d->p != d->end) return jerr(d, "trailing data");
    return 0;
}

static void jfree(struct jdoc *d)
{
    cairn_free(d->v);
    cairn_free(d->str);
}

static const char *jstr(const struct jdoc *d, uint32_t i)
{
    return d->str + d->v[i].first;
}

/* Member `key` of object o, or 0 when o is not an object or lacks it. */
static uint32_t jget(const struct jdoc *d, uint32_t o, const char *key)
{
    if (d->v[o].type != J_OBJ) return 0;
    size_t n = strlen(key);
    for (uint32_t k = d->v[o].first; k; k = d->v[d->v[k].next].next)
        if (d->v[k].n == n && !memcmp(jstr(d, k), key, n)) return d->v[k].next;
    return 0;
}

/* The object at path a.b.c from o (NULL-terminated keys); 0 if absent. */
static uint32_t jpath(const struct jdoc *d, uint32_t o, const char *const *keys)
{
    for (; *keys && o; keys++)
        o = jget(d, o, *keys);
    return o;
}

/* A number given as a JSON number or as a string holding one (XGBoost
 * writes parameters as strings). Returns 0 or -1. */
static int jnumber(const struct jdoc *d, uint32_t i, double *out)
{
    if (!i) return -1;
    if (d->v[i].type == J_NUM) {
        *out = d->v[i].num;
        return 0;
    }
    if (d->v[i].type != J_STR) return -1;
    const char *s = jstr(d, i), *e = s + d->v[i].n;
    return cairn_csv__parse_f64(s, e, out) == e && e > s ? 0 : -1;
}

/* An integer field in [lo, hi] (number or string); -1 if not one. */
static int jint(const struct jdoc *d, uint32_t i, int64_t lo, int64_t hi, int64_t *out)
{
    double v;
    if (jnumber(d, i, &v) || !(v >= (double)lo && v <= (double)hi) || v != floor(v)) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Array `key` of object o as doubles (numbers or booleans); *n its length.
 * Returns 0, 1 when absent, or CAIRN_ECORRUPT. The caller frees *out. */
static int jarray(const struct jdoc *d, uint32_t o, const char *key, double **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    uint32_t a = jget(d, o, key);
    if (!a) return 1;
    if (d->v[a].type != J_ARR) return CORRUPT("xgboost model: '%s' is not an array", key);
    double *v = cairn_malloc(sizeof(double) * (d->v[a].n ? d->v[a].n : 1));
    uint32_t k = 0;
    for (uint32_t i = d->v[a].first; i; i = d->v[i].next, k++) {
        if (d->v[i].type == J_NUM) {
            v[k] = d->v[i].num;
        } else if (d->v[i].type == J_BOOL) {
            v[k] = d->v[i].b;
        } else {
            cairn_free(v);
            return CORRUPT("xgboost model: '%s' holds a non-number", key);
        }
    }
    *out = v;
    *n = k;
    return 0;
}

/* ------------------------------------------------------- XGBoost reading */

/* The arrays of one tree (all of one length n, except the categories). */
struct xtree {
    uint32_t n;
    double *left, *right, *feat, *cond, *dleft, *stype, *gain;
    double *cats, *cat_nodes, *cat_seg, *cat_size;
    uint32_t n_cats, n_cat_nodes;
};

static void xtree_free(struct xtree *x)
{
    cairn_free(x->left);
    cairn_free(x->right);
    cairn_free(x->feat);
    cairn_free(x->cond);
    cairn_free(x->dleft);
    cairn_free(x->stype);
    cairn_free(x->gain);
    cairn_free(x->cats);
    cairn_free(x->cat_nodes);
    cairn_free(x->cat_seg);
    cairn_free(x->cat_size);
}

/* Reads the arrays of tree object t and checks their lengths. */
static int xtree_read(const struct jdoc *d, uint32_t t, int ti, struct xtree *x)
{
    static const char *const names[] = {"left_children", "right_children", "split_indices",
                                        "split_conditions", "default_left"};
    double **dst[] = {&x->left, &x->right, &x->feat, &x->cond, &x->dleft};
    memset(x, 0, sizeof(*x));
    if (d->v[t].type != J_OBJ) return CORRUPT("xgboost model: tree %d is not an object", ti);
    for (int k = 0; k < 5; k++) {
        uint32_t n;
        int rc = jarray(d, t, names[k], dst[k], &n);
        if (rc > 0) return CORRUPT("xgboost model: tree %d has no '%s'", ti, names[k]);
        if (rc) return rc;
        if (k == 0) x->n = n;
        if (n != x->n)
            return CORRUPT("xgboost model: tree %d: '%s' has %u entries, expected %u", ti, names[k],
                           n, x->n);
    }
    if (x->n == 0) return CORRUPT("xgboost model: tree %d has no nodes", ti);
    uint32_t n;
    int rc = jarray(d, t, "split_type", &x->stype, &n);
    if (rc < 0) return rc;
    if (rc == 0 && n != x->n)
        return CORRUPT("xgboost model: tree %d: 'split_type' has %u entries, expected %u", ti, n,
                       x->n);
    rc = jarray(d, t, "loss_changes", &x->gain, &n);
    if (rc < 0) return rc;
    if (rc == 0 && n != x->n) {
        cairn_free(x->gain);
        x->gain = NULL;
    }
    int64_t nn;
    uint32_t tp = jget(d, t, "tree_param");
    if (tp && jget(d, tp, "num_nodes") &&
        (jint(d, jget(d, tp, "num_nodes"), 0, INT32_MAX, &nn) || nn != (int64_t)x->n))
        return CORRUPT("xgboost model: tree %d: num_nodes does not match its arrays", ti);
    if (tp && jget(d, tp, "size_leaf_vector")) {
        int64_t slv;
        if (jint(d, jget(d, tp, "size_leaf_vector"), 0, INT32_MAX, &slv) || slv > 1)
            return UNSUPPORTED("xgboost model: vector-leaf (multi-target) trees are not supported");
    }
    if (!x->stype) return 0;
    uint32_t ns, nz;
    if ((rc = jarray(d, t, "categories", &x->cats, &x->n_cats)) < 0 ||
        (rc = jarray(d, t, "categories_nodes", &x->cat_nodes, &x->n_cat_nodes)) < 0 ||
        (rc = jarray(d, t, "categories_segments", &x->cat_seg, &ns)) < 0 ||
        (rc = jarray(d, t, "categories_sizes", &x->cat_size, &nz)) < 0)
        return rc;
    if (ns != x->n_cat_nodes || nz != x->n_cat_nodes)
        return CORRUPT("xgboost model: tree %d: categories arrays differ in length", ti);
    return 0;
}

static int as_index(double v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v)) return -1;
    *out = (int64_t)v;
    return 0;
}

/*
 * Converts tree ti (arrays x) into runtime nodes and appends it to m for
 * output `output`; leaves are multiplied by `scale` (DART's weight_drop).
 * Numeric nodes keep XGBoost's children (left if x < threshold).
 * Categorical nodes: XGBoost sends the listed categories right and every
 * other code left, the runtime sends the bitset's codes left and the rest
 * right, so the children are swapped and the default direction flipped.
 * cat_sizes[f] grows to the largest category + 1 seen on feature f.
 */
static int xtree_build(cairn_trees *m, const struct xtree *x, int ti, int output, float scale,
                       int32_t *cat_sizes)
{
    const uint32_t n = x->n;
    const int nf = cairn_trees_n_features(m);
    int32_t *newid = cairn_malloc(sizeof(int32_t) * n), *order = cairn_malloc(sizeof(int32_t) * n);
    int32_t *catk = cairn_malloc(sizeof(int32_t) * n); /* node -> categories entry, -1 */
    cairn_tree_node *nodes = cairn_calloc(n, sizeof(cairn_tree_node));
    uint32_t *bits = NULL;
    size_t n_bits = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n; i++)
        newid[i] = catk[i] = -1;
    for (uint32_t k = 0; k < x->n_cat_nodes; k++) {
        int64_t nd;
        if (as_index(x->cat_nodes[k], 0, (int64_t)n - 1, &nd) || catk[nd] >= 0) {
            rc = CORRUPT("xgboost model: tree %d: bad categories_nodes entry", ti);
            goto cleanup;
        }
        catk[nd] = (int32_t)k;
    }
    /* breadth-first from the root: new ids in visit order */
    uint32_t head = 0, tail = 0;
    order[tail++] = 0;
    newid[0] = 0;
    while (head < tail) {
        uint32_t i = (uint32_t)order[head++];
        int64_t l, r;
        if (as_index(x->left[i], -1, (int64_t)n - 1, &l) ||
            as_index(x->right[i], -1, (int64_t)n - 1, &r) || (l < 0) != (r < 0)) {
            rc = CORRUPT("xgboost model: tree %d: node %u has bad children", ti, i);
            goto cleanup;
        }
        if (l < 0) continue;
        if (newid[l] >= 0 || newid[r] >= 0 || l == r) {
            rc = CORRUPT("xgboost model: tree %d: node reached twice (cycle or shared child)", ti);
            goto cleanup;
        }
        newid[l] = (int32_t)tail;
        order[tail++] = (int32_t)l;
        newid[r] = (int32_t)tail;
        order[tail++] = (int32_t)r;
    }
    for (uint32_t j = 0; j < tail; j++) {
        uint32_t i = (uint32_t)order[j];
        cairn_tree_node *nd = &nodes[j];
        if (x->left[i] < 0) {
            *nd = (cairn_tree_node){.feature = -1, .left = -1, .right = -1};
            nd->value = (double)(float)x->cond[i] * (double)scale;
            if (!isfinite(nd->value)) {
                rc = CORRUPT("xgboost model: tree %d: leaf value is not finite", ti);
                goto cleanup;
            }
            continue;
        }
        int64_t f;
        if (as_index(x->feat[i], 0, nf - 1, &f)) {
            rc = CORRUPT("xgboost model: tree %d: split feature out of range", ti);
            goto cleanup;
        }
        nd->feature = (int32_t)f;
        nd->left = newid[(int64_t)x->left[i]];
        nd->right = newid[(int64_t)x->right[i]];
        nd->default_left = x->dleft[i] != 0;
        nd->gain = x->gain ? (float)x->gain[i] : 0.0f;
        if (!x->stype || x->stype[i] == 0) {
            nd->threshold = (float)x->cond[i];
            continue;
        }
        if (x->stype[i] != 1 || catk[i] < 0) {
            rc = CORRUPT("xgboost model: tree %d: bad categorical split at node %u", ti, i);
            goto cleanup;
        }
        int64_t seg, size;
        uint32_t k = (uint32_t)catk[i];
        if (as_index(x->cat_seg[k], 0, x->n_cats, &seg) ||
            as_index(x->cat_size[k], 0, (int64_t)x->n_cats - seg, &size)) {
            rc = CORRUPT("xgboost model: tree %d: categories segment out of range", ti);
            goto cleanup;
        }
        int64_t maxc = -1, c;
        for (int64_t s = seg; s < seg + size; s++) {
            if (as_index(x->cats[s], 0, MAX_CATEGORY - 1, &c)) {
                rc = CORRUPT("xgboost model: tree %d: category out of range", ti);
                goto cleanup;
            }
            if (c > maxc) maxc = c;
        }
        size_t words = (size_t)(maxc + 1 + 31) / 32;
        if (n_bits + words > MAX_CAT_WORDS) {
            rc = UNSUPPORTED("xgboost model: tree %d: categorical bitsets too large", ti);
            goto cleanup;
        }
        bits = cairn_realloc(bits, sizeof(uint32_t) * (n_bits + words + 1));
        memset(bits + n_bits, 0, sizeof(uint32_t) * words);
        for (int64_t s = seg; s < seg + size; s++) {
            c = (int64_t)x->cats[s];
            bits[n_bits + (size_t)(c >> 5)] |= 1u << (c & 31);
        }
        nd->is_categorical = 1;
        nd->cat_offset = (uint32_t)n_bits;
        nd->cat_words = (uint32_t)words;
        n_bits += words;
        int32_t tmp = nd->left;
        nd->left = nd->right;
        nd->right = tmp;
        nd->default_left = !nd->default_left;
        if (cat_sizes[f] < maxc + 1) cat_sizes[f] = (int32_t)(maxc + 1);
        if (cat_sizes[f] < 0) cat_sizes[f] = 0;
    }
    rc = cairn_trees_add_tree(m, output, nodes, (int)tail, bits, n_bits);
cleanup:
    cairn_free(newid);
    cairn_free(order);
    cairn_free(catk);
    cairn_free(nodes);
    cairn_free(bits);
    return rc;
}

/* Maps the objective to the runtime's transform and the stored base score
 * (a probability for logistic objectives) to the base margin, computed in
 * float as XGBoost 1.7 does (ProbToMargin on a float). */
static int xobjective(const char *name, double base_score, int num_class, cairn_trees_transform *tr,
                      double *margin)
{
    float bs = (float)base_score;
    if (!strcmp(name, "reg:squarederror") || !strcmp(name, "reg:linear") ||
        !strcmp(name, "reg:squaredlogerror") || !strcmp(name, "reg:pseudohubererror") ||
        !strcmp(name, "reg:absoluteerror")) {
        *tr = CAIRN_TREES_IDENTITY;
        *margin = bs;
    } else if (!strcmp(name, "binary:logistic") || !strcmp(name, "reg:logistic") ||
               !strcmp(name, "binary:logitraw")) {
        if (!(bs > 0.0f && bs < 1.0f))
            return CORRUPT("xgboost model: base_score %g is not a probability", base_score);
        *tr = strcmp(name, "binary:logitraw") ? CAIRN_TREES_SIGMOID : CAIRN_TREES_IDENTITY;
        *margin = (double)(-logf(1.0f / bs - 1.0f));
    } else if (!strcmp(name, "multi:softprob") || !strcmp(name, "multi:softmax")) {
        if (num_class < 2) return CORRUPT("xgboost model: %s needs num_class >= 2", name);
        *tr = CAIRN_TREES_SOFTMAX;
        *margin = bs;
    } else {
        return UNSUPPORTED("xgboost objective '%s' is not supported", name);
    }
    if (num_class >= 2 && *tr != CAIRN_TREES_SOFTMAX)
        return CORRUPT("xgboost model: num_class %d with objective %s", num_class, name);
    if (!isfinite(*margin)) return CORRUPT("xgboost model: base_score is not finite");
    return 0;
}

/* Feature names (feature_names, else f0..) and categorical marks
 * (feature_types "c") of the learner; names has nf entries to free. */
static int xfeatures(const struct jdoc *d, uint32_t learner, int nf, char ***names_out,
                     int32_t *cat_sizes)
{
    uint32_t fn = jget(d, learner, "feature_names"), ft = jget(d, learner, "feature_types");
    if (fn && (d->v[fn].type != J_ARR || (d->v[fn].n != 0 && d->v[fn].n != (uint32_t)nf)))
        return CORRUPT("xgboost model: feature_names does not list %d features", nf);
    if (ft && (d->v[ft].type != J_ARR || (d->v[ft].n != 0 && d->v[ft].n != (uint32_t)nf)))
        return CORRUPT("xgboost model: feature_types does not list %d features", nf);
    char **names = cairn_calloc((size_t)(nf ? nf : 1), sizeof(char *));
    uint32_t a = fn && d->v[fn].n ? d->v[fn].first : 0;
    uint32_t b = ft && d->v[ft].n ? d->v[ft].first : 0;
    for (int j = 0; j < nf; j++) {
        char tmp[32];
        if (a) {
            if (d->v[a].type != J_STR || d->v[a].n == 0) {
                for (int k = 0; k < j; k++)
                    cairn_free(names[k]);
                cairn_free(names);
                return CORRUPT("xgboost model: feature name %d is not a non-empty string", j);
            }
            names[j] = cairn_strdup(jstr(d, a));
            a = d->v[a].next;
        } else {
            snprintf(tmp, sizeof(tmp), "f%d", j);
            names[j] = cairn_strdup(tmp);
        }
        if (b) {
            if (d->v[b].type == J_STR && !strcmp(jstr(d, b), "c")) cat_sizes[j] = 0;
            b = d->v[b].next;
        }
    }
    *names_out = names;
    return 0;
}

/*
 * Builds the tree ensemble of an XGBoost JSON model. *cat_sizes_out (may
 * be NULL: not wanted) receives n_features entries, freed by the caller
 * with cairn_free: -1 for a numeric feature, else the number of category
 * codes the model distinguishes (largest category in a split + 1).
 * Returns 0, CAIRN_ECORRUPT (malformed), CAIRN_EUNSUPPORTED (gblinear, an
 * objective whose output the runtime cannot produce) or CAIRN_ETOOBIG.
 */
int cairn_model__xgboost_trees(cairn_trees **out, int32_t **cat_sizes_out, const char *json,
                               size_t len)
{
    static const char *const p_param[] = {"learner_model_param", NULL};
    static const char *const p_obj[] = {"objective", "name", NULL};
    struct jdoc d;
    cairn_trees *m = NULL;
    char **names = NULL;
    int32_t *cat_sizes = NULL;
    double *tinfo = NULL, *wdrop = NULL;
    int nf = 0, rc;
    *out = NULL;
    if (cat_sizes_out) *cat_sizes_out = NULL;
    if ((rc = jparse(&d, json, len))) goto cleanup;
    uint32_t learner = jget(&d, d.root, "learner");
    uint32_t param = jpath(&d, learner, p_param);
    uint32_t oname = jpath(&d, learner, p_obj);
    uint32_t gb = jget(&d, learner, "gradient_booster");
    if (!learner || !param || !gb || !oname || d.v[oname].type != J_STR) {
        rc = CORRUPT("xgboost model: no learner, learner_model_param, objective or booster");
        goto cleanup;
    }
    int64_t num_class = 0, num_feature, num_target = 1;
    double base_score;
    if (jint(&d, jget(&d, param, "num_feature"), 0, MAX_FEATURES, &num_feature) ||
        jint(&d, jget(&d, param, "num_class"), 0, 1 << 16, &num_class) ||
        jnumber(&d, jget(&d, param, "base_score"), &base_score) ||
        (jget(&d, param, "num_target") &&
         jint(&d, jget(&d, param, "num_target"), 0, INT32_MAX, &num_target))) {
        rc = CORRUPT("xgboost model: bad num_feature, num_class, num_target or base_score");
        goto cleanup;
    }
    if (num_target > 1) {
        rc = UNSUPPORTED("xgboost model: multi-target models are not supported");
        goto cleanup;
    }
    nf = (int)num_feature;
    cairn_trees_transform tr = CAIRN_TREES_IDENTITY;
    double margin = 0;
    if ((rc = xobjective(jstr(&d, oname), base_score, (int)num_class, &tr, &margin))) goto cleanup;
    uint32_t gname = jget(&d, gb, "name"), model = 0;
    const char *gn = gname && d.v[gname].type == J_STR ? jstr(&d, gname) : "";
    if (!strcmp(gn, "gbtree")) {
        model = jget(&d, gb, "model");
    } else if (!strcmp(gn, "dart")) {
        model = jget(&d, jget(&d, gb, "gbtree"), "model");
        uint32_t nw;
        if (jarray(&d, gb, "weight_drop", &wdrop, &nw)) {
            rc = CORRUPT("xgboost model: dart booster without weight_drop");
            goto cleanup;
        }
        uint32_t trees_a = jget(&d, model, "trees");
        if (trees_a && d.v[trees_a].type == J_ARR && nw != d.v[trees_a].n) {
            rc = CORRUPT("xgboost model: weight_drop has %u entries for %u trees", nw,
                         d.v[trees_a].n);
            goto cleanup;
        }
    } else if (!strcmp(gn, "gblinear")) {
        rc = UNSUPPORTED("xgboost model: the gblinear booster is not supported");
        goto cleanup;
    } else {
        rc = UNSUPPORTED("xgboost model: unknown booster '%s'", gn);
        goto cleanup;
    }
    uint32_t trees = jget(&d, model, "trees");
    if (!trees || d.v[trees].type != J_ARR) {
        rc = CORRUPT("xgboost model: no trees array");
        goto cleanup;
    }
    uint32_t n_trees = d.v[trees].n, n_info;
    rc = jarray(&d, model, "tree_info", &tinfo, &n_info);
    if (rc || n_info != n_trees) {
        rc = rc < 0 ? rc : CORRUPT("xgboost model: tree_info does not list every tree");
        goto cleanup;
    }
    cat_sizes = cairn_malloc(sizeof(int32_t) * (size_t)(nf ? nf : 1));
    for (int j = 0; j < nf; j++)
        cat_sizes[j] = -1;
    if ((rc = xfeatures(&d, learner, nf, &names, cat_sizes))) goto cleanup;
    int n_out = num_class >= 2 ? (int)num_class : 1;
    double *base = cairn_malloc(sizeof(double) * (size_t)n_out);
    for (int k = 0; k < n_out; k++)
        base[k] = margin;
    rc = cairn_trees_new(&m, nf, (const char *const *)names, n_out, tr, base);
    cairn_free(base);
    if (rc) goto cleanup;
    cairn_trees_set_split_rule(m, CAIRN_TREES_SPLIT_LT);
    uint32_t t = d.v[trees].first;
    for (uint32_t i = 0; i < n_trees; i++, t = d.v[t].next) {
        int64_t group;
        if (as_index(tinfo[i], 0, n_out - 1, &group)) {
            rc = CORRUPT("xgboost model: tree_info[%u] out of range", i);
            goto cleanup;
        }
        float scale = wdrop ? (float)wdrop[i] : 1.0f;
        struct xtree x;
        rc = xtree_read(&d, t, (int)i, &x);
        if (!rc) rc = xtree_build(m, &x, (int)i, (int)group, scale, cat_sizes);
        xtree_free(&x);
        if (rc) goto cleanup;
    }
cleanup:
    jfree(&d);
    cairn_free(tinfo);
    cairn_free(wdrop);
    return cairn_model__import_done(rc, names, nf, m, cat_sizes, out, cat_sizes_out);
}

/* ------------------------------------------------------ model wrapping */

/*
 * Wraps an imported ensemble into a model: the schema's features are the
 * ensemble's named features, numeric, or categorical when cat_sizes[j] >= 0
 * with the dictionary "0".."K-1" (the file holds no category names: a
 * category is named by its code). The task follows the transform. Takes
 * ownership of t and cat_sizes, also on failure.
 */
int cairn_model__import_done(int rc, char **names, int nf, cairn_trees *m, int32_t *cat_sizes,
                             cairn_trees **out, int32_t **cat_sizes_out)
{
    if (names)
        for (int j = 0; j < nf; j++)
            cairn_free(names[j]);
    cairn_free(names);
    if (rc) {
        cairn_trees_free(m);
        cairn_free(cat_sizes);
        return rc;
    }
    *out = m;
    if (cat_sizes_out)
        *cat_sizes_out = cat_sizes;
    else
        cairn_free(cat_sizes);
    return 0;
}

int cairn_model__import_finish(cairn_model **out, cairn_trees *t, int32_t *cat_sizes)
{
    cairn_frame *f = NULL;
    char **dict = NULL;
    int32_t dict_n = 0;
    int rc = cairn_frame_new(&f, 0);
    const int nf = cairn_trees_n_features(t), k = cairn_trees_n_outputs(t);
    for (int j = 0; !rc && j < nf; j++) {
        const char *name = cairn_trees_feature_name(t, j);
        if (cat_sizes[j] < 0) {
            rc = cairn_frame_add_f64(f, name, NULL);
            continue;
        }
        if (cat_sizes[j] > MAX_DICT) {
            rc = UNSUPPORTED("imported model: feature '%s' has more than %d categories", name,
                             MAX_DICT);
            break;
        }
        while (dict_n < cat_sizes[j]) {
            char tmp[16];
            snprintf(tmp, sizeof(tmp), "%d", (int)dict_n);
            dict = cairn_realloc(dict, sizeof(char *) * (size_t)(dict_n + 1));
            dict[dict_n++] = cairn_strdup(tmp);
        }
        rc = cairn_frame_add_cat(f, name, NULL, (const char *const *)dict, cat_sizes[j]);
    }
    for (int32_t i = 0; i < dict_n; i++)
        cairn_free(dict[i]);
    cairn_free(dict);
    cairn_free(cat_sizes);
    if (rc) {
        cairn_frame_free(f);
        cairn_trees_free(t);
        return rc;
    }
    cairn_model_schema s = {.features = f, .target = NULL};
    cairn_trees_transform tr = cairn_trees_get_transform(t);
    if (tr == CAIRN_TREES_IDENTITY) {
        s.task = CAIRN_TASK_REGRESSION;
    } else if (k == 1) {
        s.task = CAIRN_TASK_BINARY;
        s.n_classes = 2;
    } else {
        s.task = CAIRN_TASK_MULTICLASS;
        s.n_classes = k;
    }
    rc = cairn_model_from_trees(out, t, &s);
    cairn_frame_free(f);
    return rc;
}

int cairn_model_import_xgboost(cairn_model **out, const char *json, size_t len)
{
    cairn_trees *t;
    int32_t *cat_sizes;
    *out = NULL;
    if (!json && len)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "xgboost model: no input");
    int rc = cairn_model__xgboost_trees(&t, &cat_sizes, json ? json : "", len);
    if (rc) return rc;
    return cairn_model__import_finish(out, t, cat_sizes);
}
