/*
 * trees.c - the tree-ensemble runtime: building (validated appends),
 * accessors, prediction and importance.
 *
 * Key idea: every prediction path goes through one traversal (walk) and one
 * accumulation order (base score, then trees in order), so the batch path
 * and the per-row path agree bit for bit. The batch path gathers 64 rows
 * into a row-major float block and runs tree-outer, row-inner over the
 * block so a tree's nodes stay in cache while the block walks it.
 */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "cairn/trees.h"

#define BLOCK_ROWS 64
#define PARALLEL_MIN_ROWS 2048

/* The walk's compact node: leaves point at themselves, so a walk of
 * `depth` steps needs no leaf test. fi = feature | FN_LEFT | FN_CAT. */
struct fnode {
    float thr;
    uint32_t fi;
    int32_t child[2]; /* [0] right, [1] left */
};
#define FN_LEFT 0x40000000u /* missing goes left */
#define FN_CAT 0x80000000u  /* categorical split */
#define FN_FEAT 0x3FFFFFFFu

struct cairn_trees {
    int n_features;
    int n_outputs;
    cairn_trees_transform transform;
    cairn_trees_split_rule rule;
    char **names; /* (n_features) or NULL */
    double *base; /* (n_outputs) */
    int n_trees, cap_trees;
    uint32_t *start; /* (n_trees) first node of each tree in nodes */
    int32_t *count;  /* (n_trees) nodes per tree */
    int32_t *output; /* (n_trees) output index per tree */
    int32_t *depth;  /* (n_trees) levels below the root */
    cairn_tree_node *nodes;
    struct fnode *fast; /* (n_nodes) compact copy of nodes for the walk */
    size_t n_nodes, cap_nodes;
    uint32_t *bits;
    size_t n_bits, cap_bits;
};

int cairn_trees_new(cairn_trees **out, int n_features, const char *const *feature_names,
                    int n_outputs, cairn_trees_transform transform, const double *base_score)
{
    *out = NULL;
    if (n_features < 0 || (uint32_t)n_features > FN_FEAT || n_outputs < 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "tree ensemble needs n_features >= 0 and n_outputs >= 1");
    if (transform != CAIRN_TREES_IDENTITY && transform != CAIRN_TREES_SIGMOID &&
        transform != CAIRN_TREES_SOFTMAX)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "unknown output transform %d",
                               (int)transform);
    if (transform == CAIRN_TREES_SOFTMAX && n_outputs < 2)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "softmax needs at least 2 outputs");
    cairn_trees *m = cairn_calloc(1, sizeof(*m));
    m->n_features = n_features;
    m->n_outputs = n_outputs;
    m->transform = transform;
    m->rule = CAIRN_TREES_SPLIT_LT;
    m->base = cairn_calloc((size_t)n_outputs, sizeof(double));
    if (base_score) memcpy(m->base, base_score, sizeof(double) * (size_t)n_outputs);
    if (feature_names) {
        m->names = cairn_calloc((size_t)(n_features ? n_features : 1), sizeof(char *));
        for (int i = 0; i < n_features; i++)
            m->names[i] = cairn_strdup(feature_names[i] ? feature_names[i] : "");
    }
    *out = m;
    return 0;
}

void cairn_trees_free(cairn_trees *m)
{
    if (!m) return;
    if (m->names)
        for (int i = 0; i < m->n_features; i++)
            cairn_free(m->names[i]);
    cairn_free(m->names);
    cairn_free(m->base);
    cairn_free(m->start);
    cairn_free(m->count);
    cairn_free(m->output);
    cairn_free(m->depth);
    cairn_free(m->nodes);
    cairn_free(m->fast);
    cairn_free(m->bits);
    cairn_free(m);
}

void cairn_trees_set_split_rule(cairn_trees *m, cairn_trees_split_rule rule)
{
    m->rule = rule == CAIRN_TREES_SPLIT_LE ? CAIRN_TREES_SPLIT_LE : CAIRN_TREES_SPLIT_LT;
}

/* Checks that nodes form one tree rooted at 0 with valid fields. */
static int check_tree(const cairn_trees *m, const cairn_tree_node *nodes, int n_nodes,
                      size_t n_cat_words)
{
    if (n_nodes < 1) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "tree has no nodes");
    uint8_t *seen = cairn_calloc((size_t)n_nodes, 1);
    int32_t *stack = cairn_malloc(sizeof(int32_t) * (size_t)n_nodes);
    int rc = 0, top = 0, reached = 0;
    stack[top++] = 0;
    seen[0] = 1;
    while (top > 0 && !rc) {
        const cairn_tree_node *nd = &nodes[stack[--top]];
        reached++;
        if (nd->left < 0 && nd->right < 0) continue;
        if (nd->left < 0 || nd->right < 0 || nd->left >= n_nodes || nd->right >= n_nodes ||
            seen[nd->left] || seen[nd->right] || nd->left == nd->right) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                 "tree nodes do not form a tree rooted at node 0");
            break;
        }
        if (nd->feature < 0 || nd->feature >= m->n_features) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "split feature %d out of range",
                                 (int)nd->feature);
            break;
        }
        if (nd->is_categorical && ((size_t)nd->cat_offset > n_cat_words ||
                                   nd->cat_words > n_cat_words - nd->cat_offset)) {
            rc =
                cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "categorical bitset out of range");
            break;
        }
        seen[nd->left] = seen[nd->right] = 1;
        stack[top++] = nd->left;
        stack[top++] = nd->right;
    }
    if (!rc && reached != n_nodes)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                             "tree has %d nodes unreachable from the root", n_nodes - reached);
    cairn_free(seen);
    cairn_free(stack);
    return rc;
}

/* Fills the compact nodes of one (checked) tree; returns its depth. */
static int32_t fill_fast(struct fnode *f, const cairn_tree_node *t, int n)
{
    int32_t *lvl = cairn_calloc((size_t)n, sizeof(int32_t)), depth = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].left < 0) {
            f[i] = (struct fnode){0.0f, 0, {i, i}};
            continue;
        }
        f[i].thr = t[i].threshold;
        f[i].fi = (uint32_t)t[i].feature | (t[i].default_left ? FN_LEFT : 0) |
                  (t[i].is_categorical ? FN_CAT : 0);
        f[i].child[0] = t[i].right;
        f[i].child[1] = t[i].left;
    }
    /* levels by a pass from the root: children may precede parents */
    int32_t *stack = cairn_malloc(sizeof(int32_t) * (size_t)n);
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
        int i = stack[--top];
        if (lvl[i] > depth) depth = lvl[i];
        if (t[i].left < 0) continue;
        lvl[t[i].left] = lvl[t[i].right] = lvl[i] + 1;
        stack[top++] = t[i].left;
        stack[top++] = t[i].right;
    }
    cairn_free(stack);
    cairn_free(lvl);
    return depth;
}

int cairn_trees_add_tree(cairn_trees *m, int output, const cairn_tree_node *nodes, int n_nodes,
                         const uint32_t *cat_bits, size_t n_cat_words)
{
    if (output < 0 || output >= m->n_outputs)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "tree output %d out of range",
                               output);
    if (n_cat_words > UINT32_MAX - m->n_bits || m->n_nodes + (size_t)n_nodes > UINT32_MAX)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "tree ensemble too large");
    int rc = check_tree(m, nodes, n_nodes, n_cat_words);
    if (rc) return rc;
    if (m->n_trees == m->cap_trees) {
        m->cap_trees = m->cap_trees ? 2 * m->cap_trees : 16;
        m->start = cairn_realloc(m->start, sizeof(uint32_t) * (size_t)m->cap_trees);
        m->count = cairn_realloc(m->count, sizeof(int32_t) * (size_t)m->cap_trees);
        m->output = cairn_realloc(m->output, sizeof(int32_t) * (size_t)m->cap_trees);
        m->depth = cairn_realloc(m->depth, sizeof(int32_t) * (size_t)m->cap_trees);
    }
    if (m->n_nodes + (size_t)n_nodes > m->cap_nodes) {
        while (m->n_nodes + (size_t)n_nodes > m->cap_nodes)
            m->cap_nodes = m->cap_nodes ? 2 * m->cap_nodes : 256;
        m->nodes = cairn_realloc(m->nodes, sizeof(cairn_tree_node) * m->cap_nodes);
        m->fast = cairn_realloc(m->fast, sizeof(struct fnode) * m->cap_nodes);
    }
    if (m->n_bits + n_cat_words > m->cap_bits) {
        while (m->n_bits + n_cat_words > m->cap_bits)
            m->cap_bits = m->cap_bits ? 2 * m->cap_bits : 64;
        m->bits = cairn_realloc(m->bits, sizeof(uint32_t) * m->cap_bits);
    }
    cairn_tree_node *dst = m->nodes + m->n_nodes;
    memcpy(dst, nodes, sizeof(cairn_tree_node) * (size_t)n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        if (dst[i].left < 0) {
            dst[i].left = dst[i].right = dst[i].feature = -1;
            dst[i].is_categorical = 0;
        }
        if (dst[i].is_categorical) dst[i].cat_offset += (uint32_t)m->n_bits;
    }
    if (n_cat_words) memcpy(m->bits + m->n_bits, cat_bits, sizeof(uint32_t) * n_cat_words);
    m->depth[m->n_trees] = fill_fast(m->fast + m->n_nodes, dst, n_nodes);
    m->start[m->n_trees] = (uint32_t)m->n_nodes;
    m->count[m->n_trees] = n_nodes;
    m->output[m->n_trees] = output;
    m->n_trees++;
    m->n_nodes += (size_t)n_nodes;
    m->n_bits += n_cat_words;
    return 0;
}

void cairn_trees_truncate(cairn_trees *m, int n_trees)
{
    if (n_trees < 0) n_trees = 0;
    if (n_trees >= m->n_trees) return;
    m->n_trees = n_trees;
    /* bitset words past the kept trees stay in the pool: benign. */
    m->n_nodes = n_trees ? m->start[n_trees - 1] + (size_t)m->count[n_trees - 1] : 0;
}

int cairn_trees_n_trees(const cairn_trees *m)
{
    return m->n_trees;
}
int cairn_trees_n_outputs(const cairn_trees *m)
{
    return m->n_outputs;
}
int cairn_trees_n_features(const cairn_trees *m)
{
    return m->n_features;
}
const char *cairn_trees_feature_name(const cairn_trees *m, int feature)
{
    return m->names ? m->names[feature] : NULL;
}
cairn_trees_transform cairn_trees_get_transform(const cairn_trees *m)
{
    return m->transform;
}
cairn_trees_split_rule cairn_trees_get_split_rule(const cairn_trees *m)
{
    return m->rule;
}
double cairn_trees_base_score(const cairn_trees *m, int output)
{
    return m->base[output];
}
const cairn_tree_node *cairn_trees_tree(const cairn_trees *m, int tree, int *n_nodes)
{
    if (n_nodes) *n_nodes = m->count[tree];
    return m->nodes + m->start[tree];
}
int cairn_trees_tree_output(const cairn_trees *m, int tree)
{
    return m->output[tree];
}
const uint32_t *cairn_trees_cat_bits(const cairn_trees *m, size_t *n_words)
{
    if (n_words) *n_words = m->n_bits;
    return m->bits;
}

/* One step of the walk from node i for row x; a leaf returns itself. */
static inline int32_t step(const struct fnode *f, const cairn_tree_node *t, const uint32_t *bits,
                           int le, const float *x, int32_t i)
{
    const struct fnode *nd = &f[i];
    float v = x[nd->fi & FN_FEAT];
    int go_left;
    if (nd->fi & FN_CAT) {
        if (isnan(v) || v < 0) {
            go_left = (nd->fi & FN_LEFT) != 0;
        } else {
            double c = (double)v;
            go_left = c < 32.0 * t[i].cat_words &&
                      ((bits[t[i].cat_offset + ((uint32_t)c >> 5)] >> ((uint32_t)c & 31)) & 1u);
        }
    } else {
        int lt = le ? v <= nd->thr : v < nd->thr;
        go_left = isnan(v) ? (nd->fi & FN_LEFT) != 0 : lt;
    }
    return nd->child[go_left];
}

/* Walks one tree for row x; returns the leaf's index within the tree. */
static inline int walk(const struct fnode *f, const cairn_tree_node *t, const uint32_t *bits,
                       int le, const float *x)
{
    int32_t i = 0;
    while (t[i].left >= 0)
        i = step(f, t, bits, le, x, i);
    return i;
}

int cairn_trees_leaf_index(const cairn_trees *m, int tree, const float *x)
{
    return walk(m->fast + m->start[tree], m->nodes + m->start[tree], m->bits,
                m->rule == CAIRN_TREES_SPLIT_LE, x);
}

/* Applies the output transform in place to one row's n margins. */
static void transform_row(cairn_trees_transform tr, int n, double *out)
{
    if (tr == CAIRN_TREES_SIGMOID) {
        for (int k = 0; k < n; k++)
            out[k] = 1.0 / (1.0 + exp(-out[k]));
    } else if (tr == CAIRN_TREES_SOFTMAX) {
        double mx = out[0], s = 0;
        for (int k = 1; k < n; k++)
            if (out[k] > mx) mx = out[k];
        for (int k = 0; k < n; k++) {
            out[k] = exp(out[k] - mx);
            s += out[k];
        }
        for (int k = 0; k < n; k++)
            out[k] /= s;
    }
}

void cairn_trees_predict_row_ex(const cairn_trees *m, const float *x_row, unsigned flags,
                                double *out)
{
    int le = m->rule == CAIRN_TREES_SPLIT_LE;
    memcpy(out, m->base, sizeof(double) * (size_t)m->n_outputs);
    for (int t = 0; t < m->n_trees; t++) {
        const cairn_tree_node *tr = m->nodes + m->start[t];
        out[m->output[t]] += tr[walk(m->fast + m->start[t], tr, m->bits, le, x_row)].value;
    }
    if (!(flags & CAIRN_TREES_RAW_MARGIN)) transform_row(m->transform, m->n_outputs, out);
}

void cairn_trees_predict_row(const cairn_trees *m, const float *x_row, double *out)
{
    cairn_trees_predict_row_ex(m, x_row, 0, out);
}

/* Maps model features to frame columns: by name when the model has names,
 * else by position. cols_out has n_features entries. */
static int map_columns(const cairn_trees *m, const cairn_frame *X, int *cols_out)
{
    for (int j = 0; j < m->n_features; j++) {
        int c = m->names ? cairn_frame_find(X, m->names[j]) : (j < X->ncols ? j : -1);
        if (c < 0) {
            if (m->names)
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "frame has no column '%s'",
                                       m->names[j]);
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "frame has %d columns, the model needs %d", X->ncols,
                                   m->n_features);
        }
        cols_out[j] = c;
    }
    return 0;
}

/* Fills xb (rows r0..r0+nr, n_features floats each) from the frame. */
static void gather_block(const cairn_frame *X, const int *cols, int nf, size_t r0, int nr,
                         float *xb)
{
    for (int j = 0; j < nf; j++) {
        const cairn_column *c = &X->cols[cols[j]];
        for (int r = 0; r < nr; r++) {
            size_t i = r0 + (size_t)r;
            float v;
            if (c->type == CAIRN_COL_F32)
                v = c->f32[i];
            else if (c->type == CAIRN_COL_F64)
                v = (float)c->f64[i];
            else
                v = c->codes[i] < 0 ? NAN : (float)c->codes[i];
            xb[(size_t)r * (size_t)nf + (size_t)j] = v;
        }
    }
}

int cairn_trees_predict_ex(const cairn_trees *m, const cairn_frame *X, unsigned flags, double *out,
                           int n_threads)
{
    int *cols = cairn_malloc(sizeof(int) * (size_t)(m->n_features ? m->n_features : 1));
    int rc = map_columns(m, X, cols);
    if (rc) {
        cairn_free(cols);
        return rc;
    }
    const int nf = m->n_features, K = m->n_outputs, le = m->rule == CAIRN_TREES_SPLIT_LE;
    const size_t n = X->nrows;
    const long n_blocks = (long)((n + BLOCK_ROWS - 1) / BLOCK_ROWS);
    int nt = n_threads > 0 ? n_threads : omp_get_num_procs();
    if (n < PARALLEL_MIN_ROWS) nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *xb = cairn_malloc(sizeof(float) * BLOCK_ROWS * (size_t)(nf ? nf : 1));
        int32_t pos[BLOCK_ROWS];
#pragma omp for schedule(static)
        for (long b = 0; b < n_blocks; b++) {
            size_t r0 = (size_t)b * BLOCK_ROWS;
            int nr = (int)(n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS);
            gather_block(X, cols, nf, r0, nr, xb);
            double *o = out + r0 * (size_t)K;
            for (int r = 0; r < nr; r++)
                memcpy(o + (size_t)r * K, m->base, sizeof(double) * K);
            for (int t = 0; t < m->n_trees; t++) {
                /* all rows of the block step down together, depth times:
                 * independent walks the CPU overlaps, no leaf test */
                const cairn_tree_node *tr = m->nodes + m->start[t];
                const struct fnode *f = m->fast + m->start[t];
                int k = m->output[t];
                for (int r = 0; r < nr; r++)
                    pos[r] = 0;
                for (int lv = 0; lv < m->depth[t]; lv++)
                    for (int r = 0; r < nr; r++)
                        pos[r] = step(f, tr, m->bits, le, xb + (size_t)r * nf, pos[r]);
                for (int r = 0; r < nr; r++)
                    o[(size_t)r * K + k] += tr[pos[r]].value;
            }
            if (!(flags & CAIRN_TREES_RAW_MARGIN))
                for (int r = 0; r < nr; r++)
                    transform_row(m->transform, K, o + (size_t)r * K);
        }
        cairn_free(xb);
    }
    cairn_free(cols);
    return 0;
}

int cairn_trees_predict(const cairn_trees *m, const cairn_frame *X, double *out, int n_threads)
{
    return cairn_trees_predict_ex(m, X, 0, out, n_threads);
}

void cairn_trees_importance(const cairn_trees *m, cairn_trees_importance_kind kind, double *out)
{
    for (int j = 0; j < m->n_features; j++)
        out[j] = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const cairn_tree_node *nd = &m->nodes[i];
        if (nd->left < 0) continue;
        out[nd->feature] += kind == CAIRN_TREES_IMPORTANCE_GAIN ? (double)nd->gain : 1.0;
    }
}
