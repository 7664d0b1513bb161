/*
 * model_import_lgbm.c - LightGBM's text model (booster.save_model("m.txt"))
 * into the tree runtime.
 *
 * Key idea: LightGBM decides numeric splits in double with a missing-value
 * type per node (None: NaN counts as 0; Zero: NaN and |x| <= 1e-35 take the
 * default side; NaN: NaN takes the default side), while the runtime has one
 * rule (left if x <= t as float, NaN to the default side). Since the runtime
 * compares floats, each LightGBM node is a function of a float x that is
 * constant between at most three breakpoints; we cut the float line at
 * those breakpoints, evaluate LightGBM's own decision on each piece, merge
 * equal neighbours and emit a chain of runtime nodes (one node in the usual
 * case; a subtree is copied when a Zero-type node sends two pieces to it).
 * Thresholds become the largest float not above LightGBM's double, so
 * `x <= t` holds for a float x exactly when LightGBM's `x <= threshold` does.
 * See docs/internals/import.md.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/model.h"
#include "cairn/trees.h"
#include "csv_internal.h"
#include "model_import.h"


#define CORRUPT(...) cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_ML, __VA_ARGS__)
#define UNSUPPORTED(...) cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_ML, __VA_ARGS__)

#define MAX_FEATURES (1 << 20)
#define MAX_EMITTED (1 << 22)           /* runtime nodes per tree after expansion */
#define ZERO_THRESHOLD ((double)1e-35f) /* LightGBM's kZeroThreshold */

enum { MISSING_NONE = 0, MISSING_ZERO = 1, MISSING_NAN = 2 };

/* ------------------------------------------------------------ text lines */

struct cursor {
    const char *p, *end;
    long line; /* 1-based number of the last line returned */
};

/* The next line (without its \n or \r\n) into [*s, *e); 0 at end of input. */
static int next_line(struct cursor *c, const char **s, const char **e)
{
    if (c->p >= c->end) return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    *s = c->p;
    *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    if (*e > *s && (*e)[-1] == '\r') (*e)--;
    c->line++;
    return 1;
}

static int is(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - s) == n && !memcmp(s, word, n);
}

/* A key=value line: the key must be `key`; *v the value. */
static int keyval(const char *s, const char *e, const char *key, const char **v)
{
    size_t n = strlen(key);
    if ((size_t)(e - s) <= n || memcmp(s, key, n) || s[n] != '=') return 0;
    *v = s + n + 1;
    return 1;
}

/* Parses [s, e) as a whole integer in [lo, hi]. */
static int parse_int(const char *s, const char *e, int64_t lo, int64_t hi, int64_t *out)
{
    double v;
    if (s == e || cairn_csv__parse_f64(s, e, &v) != e || !(v >= (double)lo && v <= (double)hi) ||
        v != floor(v))
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Space-separated numbers of [s, e) into *out (n_expect of them; the caller
 * frees). Returns 0 or -1 (wrong count or not a number). */
static int parse_array(const char *s, const char *e, size_t n_expect, double **out)
{
    double *v = cairn_malloc(sizeof(double) * (n_expect ? n_expect : 1));
    size_t k = 0;
    while (s < e) {
        while (s < e && *s == ' ')
            s++;
        if (s == e) break;
        const char *q = k < n_expect ? cairn_csv__parse_f64(s, e, &v[k]) : NULL;
        if (!q || (q < e && *q != ' ')) {
            cairn_free(v);
            return -1;
        }
        k++;
        s = q;
    }
    if (k != n_expect) {
        cairn_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

static int as_int(double v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v)) return -1;
    *out = (int64_t)v;
    return 0;
}

/* ------------------------------------------------------------ one tree */

/* One tree's fields as read. Internal nodes 0..L-2; a child c < 0 is leaf ~c. */
struct ltree {
    int64_t num_leaves, num_cat;
    double *feat, *thr, *dtype, *left, *right, *leaf, *gain, *cat_b, *cat_t;
    size_t n_cat_t;
};

static void ltree_free(struct ltree *t)
{
    cairn_free(t->feat);
    cairn_free(t->thr);
    cairn_free(t->dtype);
    cairn_free(t->left);
    cairn_free(t->right);
    cairn_free(t->leaf);
    cairn_free(t->gain);
    cairn_free(t->cat_b);
    cairn_free(t->cat_t);
}

/* Reads the key=value lines of one Tree= block (up to a blank line or the
 * next block). The arrays are parsed once num_leaves and num_cat are known. */
static int ltree_read(struct cursor *c, int ti, struct ltree *t)
{
    struct {
        const char *key;
        const char *s, *e;
    } f[] = {{"num_leaves", 0, 0},     {"num_cat", 0, 0},       {"split_feature", 0, 0},
             {"threshold", 0, 0},      {"decision_type", 0, 0}, {"left_child", 0, 0},
             {"right_child", 0, 0},    {"leaf_value", 0, 0},    {"split_gain", 0, 0},
             {"cat_boundaries", 0, 0}, {"cat_threshold", 0, 0}, {"is_linear", 0, 0}};
    enum { NL, NC, SF, TH, DT, LC, RC, LV, SG, CB, CT, IL, NF };
    memset(t, 0, sizeof(*t));
    const char *s, *e;
    for (;;) {
        const char *save = c->p;
        long save_line = c->line;
        if (!next_line(c, &s, &e) || s == e) break;
        if ((size_t)(e - s) >= 5 && !memcmp(s, "Tree=", 5)) {
            c->p = save;
            c->line = save_line;
            break;
        }
        if (is(s, e, "end of trees")) {
            c->p = save;
            c->line = save_line;
            break;
        }
        for (int k = 0; k < NF; k++) {
            const char *v;
            if (keyval(s, e, f[k].key, &v)) {
                f[k].s = v;
                f[k].e = e;
                break;
            }
        }
    }
    if (!f[NL].s || parse_int(f[NL].s, f[NL].e, 1, INT32_MAX, &t->num_leaves))
        return CORRUPT("lightgbm model: tree %d: bad or missing num_leaves", ti);
    if (f[NC].s && parse_int(f[NC].s, f[NC].e, 0, INT32_MAX, &t->num_cat))
        return CORRUPT("lightgbm model: tree %d: bad num_cat", ti);
    if (f[IL].s) {
        int64_t lin;
        if (parse_int(f[IL].s, f[IL].e, 0, 1, &lin))
            return CORRUPT("lightgbm model: tree %d: bad is_linear", ti);
        if (lin) return UNSUPPORTED("lightgbm model: linear trees are not supported");
    }
    size_t L = (size_t)t->num_leaves;
    if (!f[LV].s || parse_array(f[LV].s, f[LV].e, L, &t->leaf))
        return CORRUPT("lightgbm model: tree %d: leaf_value does not hold %zu numbers", ti, L);
    if (L == 1) return 0;
    double **dst[] = {&t->feat, &t->thr, &t->dtype, &t->left, &t->right};
    for (int k = SF; k <= RC; k++) {
        if (k == DT && !f[DT].s) { /* absent: numeric, missing type None, default right */
            t->dtype = cairn_calloc(L - 1, sizeof(double));
            continue;
        }
        if (!f[k].s || parse_array(f[k].s, f[k].e, L - 1, dst[k - SF]))
            return CORRUPT("lightgbm model: tree %d: %s does not hold %zu numbers", ti, f[k].key,
                           L - 1);
    }
    if (f[SG].s && parse_array(f[SG].s, f[SG].e, L - 1, &t->gain)) t->gain = NULL;
    if (t->num_cat > 0) {
        int64_t last = 0;
        if (!f[CB].s || parse_array(f[CB].s, f[CB].e, (size_t)t->num_cat + 1, &t->cat_b))
            return CORRUPT("lightgbm model: tree %d: bad cat_boundaries", ti);
        for (int64_t k = 0; k <= t->num_cat; k++)
            if (as_int(t->cat_b[k], k ? (int64_t)t->cat_b[k - 1] : 0, INT32_MAX, &last))
                return CORRUPT("lightgbm model: tree %d: bad cat_boundaries", ti);
        t->n_cat_t = (size_t)last;
        if (!f[CT].s || parse_array(f[CT].s, f[CT].e, t->n_cat_t, &t->cat_t))
            return CORRUPT("lightgbm model: tree %d: bad cat_threshold", ti);
        for (size_t k = 0; k < t->n_cat_t; k++)
            if (as_int(t->cat_t[k], 0, UINT32_MAX, &last))
                return CORRUPT("lightgbm model: tree %d: bad cat_threshold", ti);
    }
    return 0;
}

/* Largest float not above v (v not NaN). */
static float float_floor(double v)
{
    float f = (float)v;
    if ((double)f > v) f = nextafterf(f, -INFINITY);
    return f;
}

/* LightGBM's NumericalDecision for a finite-or-infinite float x:
 * 1 left, 0 right. */
static int lgbm_goes_left(double x, double thr, int missing, int default_left)
{
    if (missing == MISSING_ZERO && x >= -ZERO_THRESHOLD && x <= ZERO_THRESHOLD) return default_left;
    return x <= thr;
}

/* The pieces of a numeric node over the float line: cut[i] ends piece i
 * (x <= cut[i]), the last piece runs to +inf; side[i] 1 left, 0 right.
 * Returns the number of pieces (1..4) and the NaN side in *nan_left. */
static int pieces(double thr, int missing, int default_left, float *cut, int *side, int *nan_left)
{
    float b[3];
    int nb = 0;
    b[nb++] = float_floor(thr);
    if (missing == MISSING_ZERO) {
        b[nb++] = nextafterf(-(float)ZERO_THRESHOLD, -INFINITY);
        b[nb++] = (float)ZERO_THRESHOLD;
    }
    for (int i = 1; i < nb; i++) /* sort the (at most 3) cuts */
        for (int j = i; j > 0 && b[j] < b[j - 1]; j--) {
            float tmp = b[j];
            b[j] = b[j - 1];
            b[j - 1] = tmp;
        }
    int n = 0;
    for (int i = 0; i < nb; i++) {
        if (b[i] == INFINITY || (n && b[i] == cut[n - 1])) continue;
        int s = lgbm_goes_left(b[i], thr, missing, default_left);
        if (n && side[n - 1] == s)
            cut[n - 1] = b[i]; /* extends the previous piece */
        else
            cut[n] = b[i], side[n++] = s;
    }
    int s_last = lgbm_goes_left(INFINITY, thr, missing, default_left);
    if (n && side[n - 1] == s_last)
        n--; /* the last cut separates nothing: its piece joins the tail */
    side[n++] = s_last;
    /* pieces alternate now; cut[n-1] is unused (the tail) */
    if (missing == MISSING_NAN)
        *nan_left = default_left;
    else /* None: NaN is 0; Zero: NaN is 0, which is zero, the default */
        *nan_left = lgbm_goes_left(0.0, thr, missing, default_left);
    return n;
}

/* A pending subtree: LightGBM child `ref` goes into runtime node `slot`'s
 * child `left` (slot -1: the root). */
struct task {
    int32_t ref;
    int32_t slot;
    uint8_t left;
};

struct emitter {
    cairn_tree_node *nodes;
    size_t n, cap;
    struct task *stack;
    size_t top, scap;
};

static int emit_node(struct emitter *em, int ti, int32_t *idx)
{
    if (em->n >= MAX_EMITTED)
        return UNSUPPORTED("lightgbm model: tree %d expands beyond %d nodes", ti, MAX_EMITTED);
    if (em->n == em->cap) {
        em->cap = em->cap ? 2 * em->cap : 64;
        em->nodes = cairn_realloc(em->nodes, sizeof(cairn_tree_node) * em->cap);
    }
    em->nodes[em->n] = (cairn_tree_node){.feature = -1, .left = -1, .right = -1};
    *idx = (int32_t)em->n++;
    return 0;
}

static void push(struct emitter *em, int32_t ref, int32_t slot, int left)
{
    if (em->top == em->scap) {
        em->scap = em->scap ? 2 * em->scap : 64;
        em->stack = cairn_realloc(em->stack, sizeof(struct task) * em->scap);
    }
    em->stack[em->top++] = (struct task){ref, slot, (uint8_t)left};
}

static void link_slot(struct emitter *em, const struct task *tk, int32_t idx)
{
    if (tk->slot < 0) return;
    if (tk->left)
        em->nodes[tk->slot].left = idx;
    else
        em->nodes[tk->slot].right = idx;
}

/* Checks the shape (children in range, every node reached at most once)
 * and the per-node fields of a read tree. */
static int ltree_check(const struct ltree *t, int ti, int nf)
{
    const int64_t L = t->num_leaves;
    uint8_t *seen_in = cairn_calloc((size_t)L, 1), *seen_leaf = cairn_calloc((size_t)L, 1);
    int32_t *stack = cairn_malloc(sizeof(int32_t) * (size_t)L);
    int rc = 0, top = 0;
    stack[top++] = 0;
    seen_in[0] = 1;
    while (top > 0 && !rc) {
        int32_t i = stack[--top];
        int64_t f, dt, ch[2];
        if (as_int(t->feat[i], 0, nf - 1, &f) || as_int(t->dtype[i], 0, 127, &dt) ||
            ((dt >> 2) & 3) == 3 || as_int(t->left[i], -L, L - 2, &ch[0]) ||
            as_int(t->right[i], -L, L - 2, &ch[1]) || isnan(t->thr[i])) {
            rc = CORRUPT("lightgbm model: tree %d: bad fields at node %d", ti, i);
            break;
        }
        if (dt & 1) {
            int64_t k;
            if (as_int(t->thr[i], 0, t->num_cat - 1, &k)) {
                rc = CORRUPT("lightgbm model: tree %d: categorical split %d has no bitset", ti, i);
                break;
            }
        }
        for (int s = 0; s < 2; s++) {
            uint8_t *seen = ch[s] < 0 ? &seen_leaf[~ch[s]] : &seen_in[ch[s]];
            if (*seen) {
                rc = CORRUPT("lightgbm model: tree %d: node reached twice (cycle or shared child)",
                             ti);
                break;
            }
            *seen = 1;
            if (ch[s] >= 0) stack[top++] = (int32_t)ch[s];
        }
    }
    cairn_free(seen_in);
    cairn_free(seen_leaf);
    cairn_free(stack);
    return rc;
}

/*
 * Converts a checked tree into runtime nodes (see the file comment) and
 * appends it to m for output `output`, leaves multiplied by `scale`.
 * cat_sizes[f] grows to the highest category bit set + 1 on feature f.
 */
static int ltree_build(cairn_trees *m, const struct ltree *t, int ti, int output, double scale,
                       int32_t *cat_sizes)
{
    struct emitter em = {0};
    uint32_t *bits = NULL;
    int rc = 0;
    if (t->num_leaves == 1) {
        cairn_tree_node leaf = {
            .feature = -1, .left = -1, .right = -1, .value = t->leaf[0] * scale};
        return cairn_trees_add_tree(m, output, &leaf, 1, NULL, 0);
    }
    if ((rc = ltree_check(t, ti, cairn_trees_n_features(m)))) return rc;
    if (t->n_cat_t) {
        bits = cairn_malloc(sizeof(uint32_t) * t->n_cat_t);
        for (size_t k = 0; k < t->n_cat_t; k++)
            bits[k] = (uint32_t)t->cat_t[k];
    }
    push(&em, 0, -1, 0);
    while (em.top > 0 && !rc) {
        struct task tk = em.stack[--em.top];
        int32_t idx;
        if (tk.ref < 0) { /* a leaf */
            if ((rc = emit_node(&em, ti, &idx))) break;
            em.nodes[idx].value = t->leaf[~tk.ref] * scale;
            link_slot(&em, &tk, idx);
            continue;
        }
        const int32_t i = tk.ref, lc = (int32_t)t->left[i], rc_ = (int32_t)t->right[i];
        const int dt = (int)t->dtype[i], feat = (int)t->feat[i];
        const float gain = t->gain ? (float)t->gain[i] : 0.0f;
        if (dt & 1) { /* categorical: NaN and negative codes go right, as LightGBM on x86 */
            int k = (int)t->thr[i];
            uint32_t off = (uint32_t)t->cat_b[k], words = (uint32_t)t->cat_b[k + 1] - off;
            if ((rc = emit_node(&em, ti, &idx))) break;
            em.nodes[idx] = (cairn_tree_node){.feature = feat,
                                              .left = -1,
                                              .right = -1,
                                              .gain = gain,
                                              .cat_offset = off,
                                              .cat_words = words,
                                              .is_categorical = 1};
            link_slot(&em, &tk, idx);
            for (uint32_t w = words; w-- > 0;)
                if (bits[off + w]) {
                    int32_t top = (int32_t)(32 * w + 31 - (uint32_t)__builtin_clz(bits[off + w]));
                    if (cat_sizes[feat] < top + 1) cat_sizes[feat] = top + 1;
                    break;
                }
            if (cat_sizes[feat] < 0) cat_sizes[feat] = 0;
            push(&em, rc_, idx, 0);
            push(&em, lc, idx, 1);
            continue;
        }
        float cut[4];
        int side[4], nan_left;
        int np = pieces(t->thr[i], (dt >> 2) & 3, (dt >> 1) & 1, cut, side, &nan_left);
        if (np == 1 && side[0] == nan_left) { /* the node decides nothing */
            push(&em, side[0] ? lc : rc_, tk.slot, tk.left);
            continue;
        }
        if (np == 1) { /* numbers one way, NaN the other */
            if ((rc = emit_node(&em, ti, &idx))) break;
            em.nodes[idx] = (cairn_tree_node){.feature = feat, .threshold = INFINITY, .gain = gain};
            link_slot(&em, &tk, idx);
            push(&em, side[0] ? rc_ : lc, idx, 0);
            push(&em, side[0] ? lc : rc_, idx, 1);
            continue;
        }
        /* a chain: node j sends piece j left, the rest on; NaN leaves at the
         * first node whose piece goes its way (pieces alternate) */
        int32_t prev = -1;
        for (int j = 0; j < np - 1; j++) {
            if ((rc = emit_node(&em, ti, &idx))) break;
            int last = j == np - 2;
            em.nodes[idx] =
                (cairn_tree_node){.feature = feat,
                                  .threshold = cut[j],
                                  .gain = j ? 0.0f : gain,
                                  .default_left = (uint8_t)(side[j] == nan_left ||
                                                            (last && side[j + 1] != nan_left))};
            if (prev < 0)
                link_slot(&em, &tk, idx);
            else
                em.nodes[prev].right = idx;
            push(&em, side[j] ? lc : rc_, idx, 1);
            if (last) push(&em, side[j + 1] ? lc : rc_, idx, 0);
            prev = idx;
        }
    }
    if (!rc) rc = cairn_trees_add_tree(m, output, em.nodes, (int)em.n, bits, t->n_cat_t);
    cairn_free(em.nodes);
    cairn_free(em.stack);
    cairn_free(bits);
    return rc;
}

/* ------------------------------------------------------------ the header */

struct lheader {
    int64_t num_class, ntpi, max_feature_idx;
    int average_output;
    const char *obj_s, *obj_e;
    const char *names_s, *names_e;
};

/* Maps the objective line to a transform and a leaf scale (sigmoid's
 * coefficient, folded into the leaves). */
static int lobjective(const struct lheader *h, cairn_trees_transform *tr, double *scale)
{
    const char *s = h->obj_s, *e = h->obj_e;
    const char *sp = memchr(s, ' ', (size_t)(e - s));
    const char *ne = sp ? sp : e;
    *scale = 1.0;
    /* options: "sigmoid:x", "num_class:k", "sqrt" */
    for (const char *o = ne; o < e;) {
        while (o < e && *o == ' ')
            o++;
        const char *oe = memchr(o, ' ', (size_t)(e - o));
        if (!oe) oe = e;
        if ((size_t)(oe - o) > 8 && !memcmp(o, "sigmoid:", 8)) {
            if (cairn_csv__parse_f64(o + 8, oe, scale) != oe || !(*scale > 0) || !isfinite(*scale))
                return CORRUPT("lightgbm model: bad sigmoid coefficient");
        } else if (is(o, oe, "sqrt")) {
            return UNSUPPORTED("lightgbm model: regression with sqrt is not supported");
        }
        o = oe;
    }
    if (is(s, ne, "regression") || is(s, ne, "regression_l1") || is(s, ne, "huber") ||
        is(s, ne, "fair") || is(s, ne, "quantile") || is(s, ne, "mape")) {
        *tr = CAIRN_TREES_IDENTITY;
        *scale = 1.0;
        if (h->ntpi != 1) return CORRUPT("lightgbm model: regression with several trees per round");
    } else if (is(s, ne, "binary") || is(s, ne, "cross_entropy") || is(s, ne, "xentropy")) {
        *tr = CAIRN_TREES_SIGMOID;
        if (h->ntpi != 1) return CORRUPT("lightgbm model: binary with several trees per round");
    } else if (is(s, ne, "multiclass") || is(s, ne, "softmax")) {
        *tr = CAIRN_TREES_SOFTMAX;
        *scale = 1.0;
        if (h->ntpi != h->num_class || h->num_class < 2)
            return CORRUPT("lightgbm model: multiclass needs num_class trees per round");
    } else if (is(s, ne, "multiclassova") || is(s, ne, "ova")) {
        *tr = CAIRN_TREES_SIGMOID;
        if (h->ntpi != h->num_class || h->num_class < 2)
            return CORRUPT("lightgbm model: multiclassova needs num_class trees per round");
    } else {
        return UNSUPPORTED("lightgbm objective '%.*s' is not supported", (int)(ne - s), s);
    }
    return 0;
}

/* Reads the header block up to the first Tree= line (left unread). */
static int lheader_read(struct cursor *c, struct lheader *h)
{
    const char *s, *e, *v;
    memset(h, 0, sizeof(*h));
    h->num_class = 1;
    h->ntpi = -1;
    h->max_feature_idx = -2;
    do {
        if (!next_line(c, &s, &e)) return CORRUPT("lightgbm model: empty input");
    } while (s == e);
    if (!is(s, e, "tree")) return CORRUPT("lightgbm model: first line is not 'tree'");
    for (;;) {
        const char *save = c->p;
        long save_line = c->line;
        if (!next_line(c, &s, &e)) break;
        if ((size_t)(e - s) >= 5 && !memcmp(s, "Tree=", 5)) {
            c->p = save;
            c->line = save_line;
            break;
        }
        if (is(s, e, "end of trees")) {
            c->p = save;
            c->line = save_line;
            break;
        }
        if (keyval(s, e, "num_class", &v)) {
            if (parse_int(v, e, 1, 1 << 16, &h->num_class))
                return CORRUPT("lightgbm model: bad num_class");
        } else if (keyval(s, e, "num_tree_per_iteration", &v)) {
            if (parse_int(v, e, 1, 1 << 16, &h->ntpi))
                return CORRUPT("lightgbm model: bad num_tree_per_iteration");
        } else if (keyval(s, e, "max_feature_idx", &v)) {
            if (parse_int(v, e, -1, MAX_FEATURES - 1, &h->max_feature_idx))
                return CORRUPT("lightgbm model: bad max_feature_idx");
        } else if (keyval(s, e, "objective", &v)) {
            h->obj_s = v;
            h->obj_e = e;
        } else if (keyval(s, e, "feature_names", &v)) {
            h->names_s = v;
            h->names_e = e;
        } else if (is(s, e, "average_output")) {
            h->average_output = 1;
        }
    }
    if (h->max_feature_idx < -1) return CORRUPT("lightgbm model: no max_feature_idx");
    /* LightGBM always writes the names; requiring them also keeps the work
     * proportional to the input (no million default names from one line) */
    if (!h->names_s) return CORRUPT("lightgbm model: no feature_names");
    if (!h->obj_s)
        return UNSUPPORTED("lightgbm model: no objective (custom objectives are not supported)");
    if (h->ntpi < 0) h->ntpi = h->num_class;
    return 0;
}

/* Feature names from the header (space-separated), exactly nf of them. */
static int lnames(const struct lheader *h, int nf, char ***out)
{
    char **names = cairn_calloc((size_t)(nf ? nf : 1), sizeof(char *));
    const char *p = h->names_s, *e = h->names_e;
    for (int j = 0; j < nf; j++) {
        if (p) {
            while (p < e && *p == ' ')
                p++;
            const char *q = p;
            while (q < e && *q != ' ')
                q++;
            if (q == p) {
                for (int k = 0; k < j; k++)
                    cairn_free(names[k]);
                cairn_free(names);
                return CORRUPT("lightgbm model: feature_names does not list %d features", nf);
            }
            names[j] = cairn_strndup(p, (size_t)(q - p));
            p = q;
        } else {
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "f%d", j);
            names[j] = cairn_strdup(tmp);
        }
    }
    if (p) {
        while (p < e && *p == ' ')
            p++;
        if (p != e) {
            for (int k = 0; k < nf; k++)
                cairn_free(names[k]);
            cairn_free(names);
            return CORRUPT("lightgbm model: feature_names does not list %d features", nf);
        }
    }
    *out = names;
    return 0;
}

/*
 * Builds the tree ensemble of a LightGBM text model. *cat_sizes_out as for
 * cairn_model__xgboost_trees(). Returns 0, CAIRN_ECORRUPT (malformed,
 * truncated before "end of trees") or CAIRN_EUNSUPPORTED (linear trees,
 * objectives whose output the runtime cannot produce).
 */
int cairn_model__lightgbm_trees(cairn_trees **out, int32_t **cat_sizes_out, const char *text,
                                size_t len)
{
    struct cursor c = {text, text + len, 0};
    struct lheader h;
    cairn_trees *m = NULL;
    char **names = NULL;
    int32_t *cat_sizes = NULL;
    int nf = 0, rc;
    const char *s, *e;
    *out = NULL;
    if (cat_sizes_out) *cat_sizes_out = NULL;
    /* a truncated file is corrupt, whatever line it was cut in */
    int ended = 0;
    for (struct cursor c2 = c; !ended && next_line(&c2, &s, &e);)
        ended = is(s, e, "end of trees");
    if (!ended) return CORRUPT("lightgbm model: no 'end of trees' line (truncated file?)");
    if ((rc = lheader_read(&c, &h))) return rc;
    nf = (int)(h.max_feature_idx + 1);
    cairn_trees_transform tr = CAIRN_TREES_IDENTITY;
    double scale = 1;
    if ((rc = lobjective(&h, &tr, &scale))) return rc;
    if ((rc = lnames(&h, nf, &names))) return rc;
    const int K = (int)h.ntpi;
    if ((rc = cairn_trees_new(&m, nf, (const char *const *)names, K, tr, NULL))) goto cleanup;
    cairn_trees_set_split_rule(m, CAIRN_TREES_SPLIT_LE);
    cat_sizes = cairn_malloc(sizeof(int32_t) * (size_t)(nf ? nf : 1));
    for (int j = 0; j < nf; j++)
        cat_sizes[j] = -1;
    /* average_output (random forest): count the trees first */
    if (h.average_output) {
        struct cursor c2 = c;
        long n = 0;
        while (next_line(&c2, &s, &e) && !is(s, e, "end of trees"))
            n += (size_t)(e - s) >= 5 && !memcmp(s, "Tree=", 5);
        if (n % K) {
            rc = CORRUPT("lightgbm model: %ld trees is not a whole number of rounds", n);
            goto cleanup;
        }
        if (n) scale /= (double)(n / K);
    }
    int ti = 0;
    ended = 0;
    while (next_line(&c, &s, &e)) {
        if (s == e) continue;
        if (is(s, e, "end of trees")) {
            ended = 1;
            break;
        }
        int64_t id;
        const char *v;
        if (!keyval(s, e, "Tree", &v) || parse_int(v, e, ti, ti, &id)) {
            rc = CORRUPT("lightgbm model: line %ld: expected Tree=%d", c.line, ti);
            goto cleanup;
        }
        struct ltree t;
        rc = ltree_read(&c, ti, &t);
        if (!rc) rc = ltree_build(m, &t, ti, ti % K, scale, cat_sizes);
        ltree_free(&t);
        if (rc) goto cleanup;
        ti++;
    }
    if (!ended)
        rc = CORRUPT("lightgbm model: no 'end of trees' (truncated file?)");
    else if (ti % K)
        rc = CORRUPT("lightgbm model: %d trees is not a whole number of rounds", ti);
cleanup:
    return cairn_model__import_done(rc, names, nf, m, cat_sizes, out, cat_sizes_out);
}

int cairn_model_import_lightgbm(cairn_model **out, const char *text, size_t len)
{
    cairn_trees *t;
    int32_t *cat_sizes;
    *out = NULL;
    if (!text && len)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "lightgbm model: no input");
    int rc = cairn_model__lightgbm_trees(&t, &cat_sizes, text ? text : "", len);
    if (rc) return rc;
    return cairn_model__import_finish(out, t, cat_sizes);
}
