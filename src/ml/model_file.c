/*
 * model_file.c - the native model file: writing, atomic save, and a strict
 * loader for untrusted bytes. The layout is in docs/internals/model.md.
 *
 * Key idea: the file is a fixed 72-byte header (magic, format version,
 * kind, task, total length, section count, SHA-256 of the whole file with
 * the digest field zeroed), a table of sections {type, offset, length}, and
 * the sections themselves (schema, dense parameters, trees), each 8-byte
 * aligned, little-endian. The loader never trusts a count or an offset:
 * every read goes through a bounds-checked cursor, every count is compared
 * with the bytes left before anything is allocated, and the trees are
 * rebuilt with cairn_trees_new/add_tree, which check each tree's shape.
 * Anything malformed is CAIRN_ECORRUPT with a message naming the problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/core.h"
#include "model_internal.h"

static const char MAGIC[8] = {'C', 'A', 'I', 'R', 'N', 'M', 'D', 'L'};

#define HEADER_SIZE 72
#define DIGEST_OFFSET 40
#define SECTION_ENTRY 24
#define NODE_SIZE 40
#define TREE_ENTRY 16
#define MAX_SECTIONS 64

enum section_type { SEC_SCHEMA = 1, SEC_DENSE = 2, SEC_TREES = 3 };

/* ====================================================================== */
/* Little-endian encoding                                                  */
/* ====================================================================== */

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void put_u32(cairn_buf *b, uint32_t v)
{
    uint8_t t[4];
    le32(t, v);
    cairn_buf_put(b, t, 4);
}
static void put_u64(cairn_buf *b, uint64_t v)
{
    uint8_t t[8];
    le64(t, v);
    cairn_buf_put(b, t, 8);
}
static void put_f64(cairn_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}
static void put_f32(cairn_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(b, u);
}
static void put_str(cairn_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    cairn_buf_put(b, s, n);
}
static void pad8(cairn_buf *b)
{
    static const uint8_t zero[8] = {0};
    if (b->len % 8) cairn_buf_put(b, zero, 8 - b->len % 8);
}

/* ====================================================================== */
/* Digest                                                                  */
/* ====================================================================== */

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

int cairn_model__digest(const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t zero[32] = {0};
    const uint8_t *p = data;
    cairn_sha256 *h;
    char hex[65];
    if (len < HEADER_SIZE)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: header truncated");
    int rc = cairn_sha256_new(&h);
    if (rc) return rc;
    if (!(rc = cairn_sha256_update(h, p, DIGEST_OFFSET)) &&
        !(rc = cairn_sha256_update(h, zero, 32)) &&
        !(rc = cairn_sha256_update(h, p + DIGEST_OFFSET + 32, len - DIGEST_OFFSET - 32)))
        rc = cairn_sha256_final_hex(h, hex);
    cairn_sha256_free(h);
    if (rc) return rc;
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
    return 0;
}

/* ====================================================================== */
/* Writing                                                                 */
/* ====================================================================== */

static void write_schema(const cairn_model *m, cairn_buf *b)
{
    put_u32(b, (uint32_t)m->n_features);
    put_u32(b, (uint32_t)m->n_classes);
    put_u32(b, m->target ? 1u : 0u);
    put_u32(b, 0);
    if (m->target) put_str(b, m->target);
    for (int j = 0; j < m->n_features; j++) {
        const struct cairn_model_feature *f = &m->feat[j];
        put_u32(b, (uint32_t)f->type);
        put_u32(b, (uint32_t)f->ndict);
        put_str(b, f->name);
        for (int32_t k = 0; k < f->ndict; k++)
            put_str(b, f->dict[k]);
    }
    for (int k = 0; k < m->n_classes; k++)
        put_str(b, m->class_labels[k]);
    pad8(b);
}

static void write_dense(const cairn_model *m, cairn_buf *b)
{
    int nclasses = m->kind == CAIRN_MODEL_LOGISTIC ? m->n_classes : 0;
    put_u32(b, (uint32_t)m->rows);
    put_u32(b, (uint32_t)m->n_features);
    put_u32(b, (uint32_t)nclasses);
    put_u32(b, m->intercept ? 1u : 0u);
    for (size_t i = 0; i < (size_t)m->rows * (size_t)m->n_features; i++)
        put_f64(b, m->coef[i]);
    if (m->intercept)
        for (int k = 0; k < m->rows; k++)
            put_f64(b, m->intercept[k]);
    for (int k = 0; k < nclasses; k++)
        put_u32(b, (uint32_t)m->classes[k]);
    pad8(b);
}

/* The slice [lo, hi) of the ensemble's bitset pool used by one tree. */
static void tree_cat_slice(const cairn_tree_node *nd, int n, uint32_t *lo, uint32_t *hi)
{
    *lo = UINT32_MAX;
    *hi = 0;
    for (int i = 0; i < n; i++) {
        if (nd[i].left < 0 || !nd[i].is_categorical) continue;
        if (nd[i].cat_offset < *lo) *lo = nd[i].cat_offset;
        if (nd[i].cat_offset + nd[i].cat_words > *hi) *hi = nd[i].cat_offset + nd[i].cat_words;
    }
    if (*lo > *hi) *lo = *hi = 0;
}

/* Trees section: each tree's categorical bitsets are written as its own
 * slice, node cat_offsets relative to it (cairn_trees_add_tree's input). */
static void write_trees(const cairn_trees *t, cairn_buf *b)
{
    int nt = cairn_trees_n_trees(t), K = cairn_trees_n_outputs(t);
    uint64_t n_nodes = 0, n_words = 0;
    for (int i = 0; i < nt; i++) {
        int n;
        uint32_t lo, hi;
        const cairn_tree_node *nd = cairn_trees_tree(t, i, &n);
        tree_cat_slice(nd, n, &lo, &hi);
        n_nodes += (uint64_t)n;
        n_words += hi - lo;
    }
    put_u32(b, (uint32_t)cairn_trees_n_features(t));
    put_u32(b, (uint32_t)K);
    put_u32(b, (uint32_t)cairn_trees_get_transform(t));
    put_u32(b, (uint32_t)cairn_trees_get_split_rule(t));
    put_u32(b, (uint32_t)nt);
    put_u32(b, 0);
    put_u64(b, n_nodes);
    put_u64(b, n_words);
    for (int k = 0; k < K; k++)
        put_f64(b, cairn_trees_base_score(t, k));
    uint32_t start = 0;
    for (int i = 0; i < nt; i++) {
        int n;
        uint32_t lo, hi;
        const cairn_tree_node *nd = cairn_trees_tree(t, i, &n);
        tree_cat_slice(nd, n, &lo, &hi);
        put_u32(b, (uint32_t)cairn_trees_tree_output(t, i));
        put_u32(b, (uint32_t)n);
        put_u32(b, start);
        put_u32(b, hi - lo);
        start += hi - lo;
    }
    for (int i = 0; i < nt; i++) {
        int n;
        uint32_t lo, hi;
        const cairn_tree_node *nd = cairn_trees_tree(t, i, &n);
        tree_cat_slice(nd, n, &lo, &hi);
        for (int q = 0; q < n; q++) {
            const cairn_tree_node *x = &nd[q];
            int leaf = x->left < 0, cat = !leaf && x->is_categorical;
            put_u32(b, (uint32_t)(leaf ? -1 : x->feature));
            put_f32(b, x->threshold);
            put_u32(b, (uint32_t)(leaf ? -1 : x->left));
            put_u32(b, (uint32_t)(leaf ? -1 : x->right));
            put_f64(b, x->value);
            put_f32(b, x->gain);
            put_u32(b, cat ? x->cat_offset - lo : 0);
            put_u32(b, cat ? x->cat_words : 0);
            uint8_t flags[4] = {(uint8_t)(!leaf && x->default_left), (uint8_t)cat, 0, 0};
            cairn_buf_put(b, flags, 4);
        }
    }
    size_t pool_words;
    const uint32_t *pool = cairn_trees_cat_bits(t, &pool_words);
    for (int i = 0; i < nt; i++) {
        int n;
        uint32_t lo, hi;
        const cairn_tree_node *nd = cairn_trees_tree(t, i, &n);
        tree_cat_slice(nd, n, &lo, &hi);
        for (uint32_t w = lo; w < hi; w++)
            put_u32(b, pool[w]);
    }
    pad8(b);
}

int cairn_model_to_bytes(const cairn_model *m, cairn_buf *out)
{
    if (!m || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model to bytes: bad arguments");
    /* sections are built in a trusted, unbounded buffer, then copied out */
    cairn_buf b = CAIRN_BUF_INIT(0);
    uint32_t types[3];
    size_t off[3], len[3];
    int ns = 0;
    uint8_t zero[HEADER_SIZE + 2 * SECTION_ENTRY] = {0};
    const int nsec = 2; /* schema, then trees or dense parameters */
    size_t table = HEADER_SIZE + (size_t)nsec * SECTION_ENTRY;
    cairn_buf_put(&b, zero, table);

    types[ns] = SEC_SCHEMA;
    off[ns] = b.len;
    write_schema(m, &b);
    len[ns] = b.len - off[ns];
    ns++;
    types[ns] = m->kind == CAIRN_MODEL_TREES ? SEC_TREES : SEC_DENSE;
    off[ns] = b.len;
    if (m->kind == CAIRN_MODEL_TREES)
        write_trees(m->trees, &b);
    else
        write_dense(m, &b);
    len[ns] = b.len - off[ns];
    ns++;

    uint8_t *h = (uint8_t *)b.ptr;
    memcpy(h, MAGIC, 8);
    le32(h + 8, CAIRN_MODEL_FORMAT_VERSION);
    le32(h + 12, (uint32_t)m->kind);
    le32(h + 16, (uint32_t)m->task);
    le32(h + 20, 0);
    le64(h + 24, (uint64_t)b.len);
    le32(h + 32, (uint32_t)ns);
    le32(h + 36, 0);
    for (int i = 0; i < ns; i++) {
        uint8_t *e = h + HEADER_SIZE + (size_t)i * SECTION_ENTRY;
        le32(e, types[i]);
        le32(e + 4, 0);
        le64(e + 8, (uint64_t)off[i]);
        le64(e + 16, (uint64_t)len[i]);
    }
    int rc = cairn_model__digest(b.ptr, b.len, h + DIGEST_OFFSET);
    if (!rc) rc = cairn_buf_put(out, b.ptr, b.len);
    cairn_buf_free(&b);
    return rc;
}

/* ====================================================================== */
/* Reading                                                                 */
/* ====================================================================== */

/* A bounds-checked cursor over one section. */
struct cur {
    const uint8_t *p;
    size_t len, pos;
    const char *what; /* section name for messages */
};

static int truncated(const struct cur *c)
{
    return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: %s section truncated",
                           c->what);
}

static int get_u32(struct cur *c, uint32_t *v)
{
    if (c->len - c->pos < 4) return truncated(c);
    *v = rd32(c->p + c->pos);
    c->pos += 4;
    return 0;
}
static int get_u64(struct cur *c, uint64_t *v)
{
    if (c->len - c->pos < 8) return truncated(c);
    *v = rd64(c->p + c->pos);
    c->pos += 8;
    return 0;
}
static int get_f64(struct cur *c, double *v)
{
    uint64_t u = 0;
    int rc = get_u64(c, &u);
    if (!rc) memcpy(v, &u, 8);
    return rc;
}
static size_t left(const struct cur *c)
{
    return c->len - c->pos;
}

/* A length-prefixed string as a new C string (no NUL bytes allowed). */
static int get_str(struct cur *c, char **out)
{
    uint32_t n = 0;
    *out = NULL;
    int rc = get_u32(c, &n);
    if (rc) return rc;
    if (n > CAIRN_MODEL_MAX_STRING)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: string of %u bytes in the %s section", n, c->what);
    if (left(c) < n) return truncated(c);
    if (memchr(c->p + c->pos, 0, n))
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: string with a NUL byte in the %s section", c->what);
    *out = cairn_strndup((const char *)c->p + c->pos, n);
    c->pos += n;
    return 0;
}

/* Checks that a count of items of at least `size` bytes each fits in what
 * is left, so no allocation is larger than the file justifies. */
static int check_count(const struct cur *c, uint64_t count, size_t size, const char *what)
{
    if (count > left(c) / size)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: %s count %llu exceeds the %s section", what,
                               (unsigned long long)count, c->what);
    return 0;
}

/* The rest of a section must be zero padding shorter than 8 bytes. */
static int check_end(const struct cur *c)
{
    if (left(c) >= 8)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: %zu unread bytes at the end of the %s section", left(c),
                               c->what);
    for (size_t i = c->pos; i < c->len; i++)
        if (c->p[i])
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: nonzero padding in the %s section", c->what);
    return 0;
}

/* Re-codes the current error (from a constructor's validation) as corruption. */
static int as_corrupt(const char *prefix)
{
    char msg[sizeof(cairn_error_last()->msg)];
    snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
    return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: %s%s", prefix, msg);
}

/* Parsed schema strings, owned until the model copies them. */
struct schema_tmp {
    uint32_t n_features, n_classes;
    char *target;
    cairn_column *cols; /* (n_features): name, type, dict, ndict */
    char **labels;      /* (n_classes) */
};

static void schema_tmp_free(struct schema_tmp *s)
{
    for (uint32_t j = 0; s->cols && j < s->n_features; j++) {
        cairn_free(s->cols[j].name);
        for (int32_t k = 0; k < s->cols[j].ndict; k++)
            cairn_free(s->cols[j].dict[k]);
        cairn_free(s->cols[j].dict);
    }
    cairn_free(s->cols);
    for (uint32_t k = 0; s->labels && k < s->n_classes; k++)
        cairn_free(s->labels[k]);
    cairn_free(s->labels);
    cairn_free(s->target);
}

static int read_schema(struct cur *c, struct schema_tmp *s)
{
    uint32_t has_target = 0, reserved = 0;
    int rc;
    if ((rc = get_u32(c, &s->n_features)) || (rc = get_u32(c, &s->n_classes)) ||
        (rc = get_u32(c, &has_target)) || (rc = get_u32(c, &reserved)))
        return rc;
    if (has_target > 1 || reserved)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: bad schema flags");
    if (s->n_features > CAIRN_MODEL_MAX_FEATURES || s->n_classes > CAIRN_MODEL_MAX_CLASSES)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: %u features and %u classes are out of range",
                               s->n_features, s->n_classes);
    if (has_target && (rc = get_str(c, &s->target))) return rc;
    /* a feature takes at least 12 bytes, a class label 4 */
    if ((rc = check_count(c, s->n_features, 12, "feature"))) return rc;
    s->cols = cairn_calloc(s->n_features ? s->n_features : 1, sizeof(cairn_column));
    for (uint32_t j = 0; j < s->n_features; j++) {
        cairn_column *col = &s->cols[j];
        uint32_t type = 0, ndict = 0;
        if ((rc = get_u32(c, &type)) || (rc = get_u32(c, &ndict))) return rc;
        if (type != CAIRN_COL_F64 && type != CAIRN_COL_CAT)
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: feature %u has unknown type %u", j, type);
        col->type = (cairn_col_type)type;
        if ((rc = get_str(c, &col->name))) return rc;
        if (type != CAIRN_COL_CAT && ndict)
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: numeric feature %u has a dictionary", j);
        if ((rc = check_count(c, ndict, 4, "category"))) return rc;
        col->dict = cairn_calloc(ndict ? ndict : 1, sizeof(char *));
        for (uint32_t k = 0; k < ndict; k++) {
            col->ndict = (int32_t)k; /* only the strings read so far are freed on error */
            if ((rc = get_str(c, &col->dict[k]))) return rc;
        }
        col->ndict = (int32_t)ndict;
    }
    if ((rc = check_count(c, s->n_classes, 4, "class label"))) return rc;
    s->labels = cairn_calloc(s->n_classes ? s->n_classes : 1, sizeof(char *));
    for (uint32_t k = 0; k < s->n_classes; k++)
        if ((rc = get_str(c, &s->labels[k]))) return rc;
    return check_end(c);
}

static int read_dense(struct cur *c, cairn_model *m)
{
    uint32_t rows = 0, cols = 0, nclasses = 0, has_icpt = 0;
    int rc;
    if ((rc = get_u32(c, &rows)) || (rc = get_u32(c, &cols)) || (rc = get_u32(c, &nclasses)) ||
        (rc = get_u32(c, &has_icpt)))
        return rc;
    if (cols != (uint32_t)m->n_features)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: parameters for %u features, the schema has %d", cols,
                               m->n_features);
    if (has_icpt != (m->kind != CAIRN_MODEL_KMEANS) ||
        nclasses != (uint32_t)(m->kind == CAIRN_MODEL_LOGISTIC ? m->n_classes : 0))
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: parameter layout does not fit a %s model",
                               cairn_model__kind_name(m->kind));
    if (rows < 1 || rows > INT_MAX)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: %u parameter rows",
                               rows);
    uint64_t n = (uint64_t)rows * cols;
    if ((rc = check_count(c, n, 8, "coefficient"))) return rc;
    m->rows = (int)rows;
    m->coef = cairn_malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (uint64_t i = 0; i < n; i++)
        get_f64(c, &m->coef[i]);
    if (has_icpt) {
        if ((rc = check_count(c, rows, 8, "intercept"))) return rc;
        m->intercept = cairn_malloc(sizeof(double) * rows);
        for (uint32_t k = 0; k < rows; k++)
            get_f64(c, &m->intercept[k]);
    }
    if (nclasses) {
        if ((rc = check_count(c, nclasses, 4, "class"))) return rc;
        m->classes = cairn_malloc(sizeof(int32_t) * nclasses);
        for (uint32_t k = 0; k < nclasses; k++) {
            uint32_t v = 0;
            get_u32(c, &v);
            m->classes[k] = (int32_t)v;
        }
    }
    return check_end(c);
}

/* Decodes one 40-byte node; flags must be 0/1 and padding zero. */
static int read_node(struct cur *c, cairn_tree_node *nd)
{
    const uint8_t *p = c->p + c->pos;
    uint32_t u;
    nd->feature = (int32_t)rd32(p);
    u = rd32(p + 4);
    memcpy(&nd->threshold, &u, 4);
    nd->left = (int32_t)rd32(p + 8);
    nd->right = (int32_t)rd32(p + 12);
    uint64_t v = rd64(p + 16);
    memcpy(&nd->value, &v, 8);
    u = rd32(p + 24);
    memcpy(&nd->gain, &u, 4);
    nd->cat_offset = rd32(p + 28);
    nd->cat_words = rd32(p + 32);
    nd->default_left = p[36];
    nd->is_categorical = p[37];
    c->pos += NODE_SIZE;
    if (p[36] > 1 || p[37] > 1 || p[38] || p[39])
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: bad tree node flags");
    return 0;
}

struct tree_entry {
    int32_t output;
    uint32_t n_nodes, cat_start, cat_words;
};

static int read_trees(struct cur *c, cairn_model *m)
{
    uint32_t nf = 0, K = 0, transform = 0, rule = 0, nt = 0, reserved = 0;
    uint64_t n_nodes = 0, n_words = 0;
    int rc;
    if ((rc = get_u32(c, &nf)) || (rc = get_u32(c, &K)) || (rc = get_u32(c, &transform)) ||
        (rc = get_u32(c, &rule)) || (rc = get_u32(c, &nt)) || (rc = get_u32(c, &reserved)) ||
        (rc = get_u64(c, &n_nodes)) || (rc = get_u64(c, &n_words)))
        return rc;
    if (nf != (uint32_t)m->n_features || K != (uint32_t)m->n_outputs)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: trees for %u features and %u outputs, the schema "
                               "gives %d and %d",
                               nf, K, m->n_features, m->n_outputs);
    if (rule > CAIRN_TREES_SPLIT_LE || reserved || nt > INT_MAX)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: bad trees header");
    if ((rc = check_count(c, K, 8, "base score")) ||
        (rc = check_count(c, nt, TREE_ENTRY, "tree")) ||
        (rc = check_count(c, n_nodes, NODE_SIZE, "node")) ||
        (rc = check_count(c, n_words, 4, "bitset word")))
        return rc;
    double *base = cairn_malloc(sizeof(double) * K);
    for (uint32_t k = 0; k < K; k++)
        get_f64(c, &base[k]);
    const char **names = cairn_malloc(sizeof(char *) * (nf ? nf : 1));
    for (uint32_t j = 0; j < nf; j++)
        names[j] = m->feat[j].name;
    rc = cairn_trees_new(&m->trees, (int)nf, names, (int)K, (cairn_trees_transform)transform, base);
    cairn_free(names);
    cairn_free(base);
    if (rc) return as_corrupt("");
    cairn_trees_set_split_rule(m->trees, (cairn_trees_split_rule)rule);

    struct tree_entry *te = cairn_malloc(sizeof(*te) * (nt ? nt : 1));
    uint64_t sum_nodes = 0, sum_words = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t out = 0;
        get_u32(c, &out);
        get_u32(c, &te[i].n_nodes);
        get_u32(c, &te[i].cat_start);
        get_u32(c, &te[i].cat_words);
        te[i].output = (int32_t)out;
        if (te[i].n_nodes < 1 || te[i].n_nodes > INT_MAX || te[i].cat_start != sum_words) {
            cairn_free(te);
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: bad entry for tree %u", i);
        }
        sum_nodes += te[i].n_nodes;
        sum_words += te[i].cat_words;
    }
    if (sum_nodes != n_nodes || sum_words != n_words ||
        (rc = check_count(c, n_nodes, NODE_SIZE, "node"))) {
        cairn_free(te);
        return rc ? rc
                  : cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                    "model file: tree table does not add up to its node and "
                                    "bitset counts");
    }
    cairn_tree_node *nodes = cairn_malloc(sizeof(*nodes) * (size_t)(n_nodes ? n_nodes : 1));
    for (uint64_t i = 0; i < n_nodes && !rc; i++)
        rc = read_node(c, &nodes[i]);
    if (!rc) rc = check_count(c, n_words, 4, "bitset word");
    uint32_t *words = NULL;
    if (!rc) {
        words = cairn_malloc(sizeof(uint32_t) * (size_t)(n_words ? n_words : 1));
        for (uint64_t i = 0; i < n_words; i++)
            get_u32(c, &words[i]);
    }
    size_t at = 0;
    for (uint32_t i = 0; i < nt && !rc; i++) {
        if (cairn_trees_add_tree(m->trees, te[i].output, nodes + at, (int)te[i].n_nodes,
                                 words + te[i].cat_start, te[i].cat_words)) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "tree %u: ", i);
            rc = as_corrupt(prefix);
        }
        at += te[i].n_nodes;
    }
    cairn_free(words);
    cairn_free(nodes);
    cairn_free(te);
    return rc ? rc : check_end(c);
}

/* Checks magic, version, length, digest and the section table; fills the
 * offsets of the sections this version knows (0 when absent). */
static int read_header(const uint8_t *p, size_t len, uint32_t *kind, uint32_t *task,
                       size_t sec_off[4], size_t sec_len[4])
{
    if (len < 12 || memcmp(p, MAGIC, 8))
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "not a cairn model file (bad magic)");
    uint32_t version = rd32(p + 8);
    if (version > CAIRN_MODEL_FORMAT_VERSION)
        return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_ML,
                               "model file format version %u is newer than this cairn reads (%u)",
                               version, CAIRN_MODEL_FORMAT_VERSION);
    if (version == 0)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: format version 0");
    if (len < HEADER_SIZE)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: header truncated");
    uint64_t total = rd64(p + 24);
    if (total != len)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: %zu bytes, the header says %llu (truncated?)", len,
                               (unsigned long long)total);
    uint8_t digest[32];
    int rc = cairn_model__digest(p, len, digest);
    if (rc) return rc;
    if (memcmp(digest, p + DIGEST_OFFSET, 32))
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: checksum mismatch");
    *kind = rd32(p + 12);
    *task = rd32(p + 16);
    uint32_t ns = rd32(p + 32);
    if (rd32(p + 20) || rd32(p + 36))
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: nonzero reserved header fields");
    if (ns > MAX_SECTIONS || (len - HEADER_SIZE) / SECTION_ENTRY < ns)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: section count %u out of range", ns);
    size_t prev_end = HEADER_SIZE + (size_t)ns * SECTION_ENTRY;
    for (int t = 0; t < 4; t++)
        sec_off[t] = sec_len[t] = 0;
    for (uint32_t i = 0; i < ns; i++) {
        const uint8_t *e = p + HEADER_SIZE + (size_t)i * SECTION_ENTRY;
        uint32_t type = rd32(e);
        uint64_t off = rd64(e + 8), slen = rd64(e + 16);
        if (rd32(e + 4) || off % 8 || off < prev_end || off > len || slen > len - off)
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: section %u lies outside the file or overlaps", i);
        prev_end = (size_t)(off + slen);
        if (type < 1 || type > 3) continue; /* a section this version does not know: skipped */
        if (sec_off[type])
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                   "model file: section type %u appears twice", type);
        sec_off[type] = (size_t)off;
        sec_len[type] = (size_t)slen;
    }
    return 0;
}

int cairn_model_from_bytes(cairn_model **out, const void *data, size_t len)
{
    if (!out) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model: no output");
    *out = NULL;
    if (!data && len) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model: no data");
    const uint8_t *p = data ? data : (const uint8_t *)"";
    uint32_t kind = 0, task = 0;
    size_t off[4], slen[4];
    int rc = read_header(p, len, &kind, &task, off, slen);
    if (rc) return rc;
    if (kind < CAIRN_MODEL_TREES || kind > CAIRN_MODEL_KMEANS)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: unknown kind %u",
                               kind);
    if (task < CAIRN_TASK_REGRESSION || task > CAIRN_TASK_CLUSTERING)
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, "model file: unknown task %u",
                               task);
    int params = kind == CAIRN_MODEL_TREES ? SEC_TREES : SEC_DENSE;
    if (!off[SEC_SCHEMA] || !off[params])
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                               "model file: the %s section is missing",
                               !off[SEC_SCHEMA] ? "schema" : "parameters");

    struct schema_tmp s = {0};
    struct cur c = {p + off[SEC_SCHEMA], slen[SEC_SCHEMA], 0, "schema"};
    cairn_model *m = NULL;
    if (!(rc = read_schema(&c, &s))) {
        cairn_frame F = {0, (int)s.n_features, s.cols};
        cairn_model_schema sc = {&F, s.target, (cairn_task)task, (int)s.n_classes,
                                 (const char *const *)s.labels};
        if (cairn_model__new(&m, (cairn_model_kind)kind, &sc, NULL)) rc = as_corrupt("");
        /* BINARY's class count 0 is normalised by __new; the file must say 2 */
        if (!rc && (uint32_t)m->n_classes != s.n_classes)
            rc = cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML,
                                 "model file: %u classes for a %s model", s.n_classes,
                                 cairn_model__task_name(m->task));
    }
    schema_tmp_free(&s);
    if (!rc) {
        c = (struct cur){p + off[params], slen[params], 0,
                         params == SEC_TREES ? "trees" : "parameters"};
        rc = params == SEC_TREES ? read_trees(&c, m) : read_dense(&c, m);
    }
    if (!rc) rc = cairn_model__check(m, CAIRN_ECORRUPT);
    if (rc) {
        cairn_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ====================================================================== */
/* Files                                                                   */
/* ====================================================================== */

static int write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "write %s: %s", path,
                                   strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes the rename durable: fsync of the directory holding path. */
static void sync_parent(const char *path)
{
    char *dir = cairn_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        dir[0] = '.', dir[1] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    cairn_free(dir);
}

int cairn_model_save(const cairn_model *m, const char *path)
{
    if (!m || !path)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model save: bad arguments");
    cairn_buf b = CAIRN_BUF_INIT(0);
    int rc = cairn_model_to_bytes(m, &b);
    if (rc) return rc;
    cairn_buf tmp = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp.ptr);
    if (fd < 0) {
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "create %s: %s", tmp.ptr, strerror(errno));
        goto cleanup;
    }
    rc = write_all(fd, b.ptr, b.len, tmp.ptr);
    if (!rc && fsync(fd))
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "fsync %s: %s", tmp.ptr, strerror(errno));
    if (close(fd) && !rc)
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "close %s: %s", tmp.ptr, strerror(errno));
    if (!rc && rename(tmp.ptr, path))
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "rename %s to %s: %s", tmp.ptr, path,
                             strerror(errno));
    if (rc)
        unlink(tmp.ptr);
    else
        sync_parent(path);
cleanup:
    cairn_buf_free(&tmp);
    cairn_buf_free(&b);
    return rc;
}

int cairn_model_load(cairn_model **out, const char *path)
{
    if (!out || !path)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model load: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, CAIRN_SUBSYS_ML,
                               "open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st)) {
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "%s is not a regular file", path);
    } else if (st.st_size == 0) {
        rc = cairn_model_from_bytes(out, NULL, 0);
    } else {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "mmap %s: %s", path, strerror(errno));
        } else {
            rc = cairn_model_from_bytes(out, map, (size_t)st.st_size);
            munmap(map, (size_t)st.st_size);
        }
    }
    close(fd);
    return rc;
}
