/*
 * gbdt_grow.c - growing one tree leaf-wise over the binned matrix.
 *
 * The rows of the tree live in one index array, each leaf owning a
 * contiguous range that a split partitions stably in place (LightGBM's data
 * partition), so every range stays in ascending row order and histogram
 * reads walk the columns forward. Each open leaf keeps its histogram and its
 * best split; the grower repeatedly splits the open leaf with the highest
 * gain (best-first; ties go to the older leaf), builds the histogram of the
 * smaller child from its rows and derives the larger child's by
 * subtracting it from the parent's, in the parent's buffer.
 */
#include <assert.h>
#include <string.h>

#include "gbdt_internal.h"

struct open_leaf {
    int node;
    uint32_t start, cnt;
    int depth;
    struct gbdt_sum sum;
    struct gbdt_bin *hist; /* NULL once the leaf can't be split */
    struct gbdt_split best;
};

int cairn_gbdt__grower_init(struct gbdt_grower *gr, const struct gbdt_data *d,
                            const cairn_gbdt_opts *o, int n_threads)
{
    memset(gr, 0, sizeof(*gr));
    gr->d = d;
    gr->p.lambda = o->lambda_l2;
    gr->p.alpha = o->alpha_l1;
    gr->p.min_child_weight = o->min_child_weight;
    gr->p.min_split_gain = o->min_split_gain;
    gr->p.cat_smooth = o->cat_smooth;
    gr->p.min_child_samples = (uint64_t)o->min_child_samples;
    gr->max_leaves = o->max_leaves;
    gr->max_depth = o->max_depth;
    gr->lr = o->learning_rate;
    gr->nt = n_threads;
    size_t n = d->n ? d->n : 1;
    gr->idx = cairn_try_malloc(sizeof(uint32_t) * n);
    gr->tmp = cairn_try_malloc(sizeof(uint32_t) * n);
    gr->ghbuf = cairn_try_malloc(sizeof(float) * 2 * n);
    size_t hbytes = sizeof(struct gbdt_bin) * (size_t)(d->hsize ? d->hsize : 1);
    gr->hist_mem = cairn_try_malloc(hbytes * (size_t)gr->max_leaves);
    if (!gr->idx || !gr->tmp || !gr->ghbuf || !gr->hist_mem)
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML, "no memory for the tree grower");
    gr->pool = cairn_malloc(sizeof(*gr->pool) * (size_t)gr->max_leaves);
    for (int i = 0; i < gr->max_leaves; i++)
        gr->pool[gr->n_pool++] = gr->hist_mem + (size_t)i * (d->hsize ? d->hsize : 1);
    gr->feats = cairn_malloc(sizeof(int) * (size_t)(d->nf ? d->nf : 1));
    gr->nodes = cairn_malloc(sizeof(*gr->nodes) * 2 * (size_t)gr->max_leaves);
    gr->leaf_start = cairn_malloc(sizeof(uint32_t) * 2 * (size_t)gr->max_leaves);
    gr->leaf_cnt = cairn_malloc(sizeof(uint32_t) * 2 * (size_t)gr->max_leaves);
    return 0;
}

void cairn_gbdt__grower_free(struct gbdt_grower *gr)
{
    cairn_free(gr->idx);
    cairn_free(gr->tmp);
    cairn_free(gr->ghbuf);
    cairn_free(gr->hist_mem);
    cairn_free(gr->pool);
    cairn_free(gr->feats);
    cairn_free(gr->nodes);
    cairn_free(gr->leaf_start);
    cairn_free(gr->leaf_cnt);
    memset(gr, 0, sizeof(*gr));
}

static inline int bin_left(const struct gbdt_bnode *nd, unsigned b)
{
    if (b == 0) return nd->default_left;
    if (nd->is_cat) return (int)((nd->catbits[b >> 5] >> (b & 31)) & 1u);
    return (int)b <= nd->bin;
}

int cairn_gbdt__bin_walk(const struct gbdt_grower *gr, size_t row)
{
    int i = 0;
    while (gr->nodes[i].left >= 0) {
        const struct gbdt_bnode *nd = &gr->nodes[i];
        unsigned b = gr->d->bins[(size_t)nd->feature * gr->d->n + row];
        i = bin_left(nd, b) ? nd->left : nd->right;
    }
    return i;
}

static int new_leaf_node(struct gbdt_grower *gr)
{
    struct gbdt_bnode *nd = &gr->nodes[gr->n_nodes];
    memset(nd, 0, sizeof(*nd));
    nd->feature = nd->left = nd->right = -1;
    return gr->n_nodes++;
}

static int can_split(const struct gbdt_grower *gr, const struct open_leaf *l)
{
    return (gr->max_depth == 0 || l->depth < gr->max_depth) &&
           l->cnt >= 2 * gr->p.min_child_samples;
}

/* Stable in-place partition of a leaf's rows by node nd; returns the count
 * that went left. */
static uint32_t partition(struct gbdt_grower *gr, const struct gbdt_bnode *nd, uint32_t start,
                          uint32_t cnt)
{
    const uint8_t *col = gr->d->bins + (size_t)nd->feature * gr->d->n;
    uint32_t *a = gr->idx + start, nl = 0, nr = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t r = a[i];
        if (bin_left(nd, col[r]))
            a[nl++] = r;
        else
            gr->tmp[nr++] = r;
    }
    memcpy(a + nl, gr->tmp, sizeof(uint32_t) * nr);
    return nl;
}

/* Builds leaf l's histogram from its rows into a pooled buffer. */
static void build_hist(struct gbdt_grower *gr, struct open_leaf *l, const float *gh, int all_rows)
{
    l->hist = gr->pool[--gr->n_pool];
    if (all_rows) {
        cairn_gbdt__hist_build(gr->d, gr->feats, gr->nfe, NULL, l->cnt, gh, l->hist, gr->nt);
        return;
    }
    const uint32_t *rows = gr->idx + l->start;
    for (uint32_t i = 0; i < l->cnt; i++) {
        gr->ghbuf[2 * i] = gh[2 * (size_t)rows[i]];
        gr->ghbuf[2 * i + 1] = gh[2 * (size_t)rows[i] + 1];
    }
    cairn_gbdt__hist_build(gr->d, gr->feats, gr->nfe, rows, l->cnt, gr->ghbuf, l->hist, gr->nt);
}

static void release_hist(struct gbdt_grower *gr, struct open_leaf *l)
{
    if (l->hist) gr->pool[gr->n_pool++] = l->hist;
    l->hist = NULL;
}

static void find_best(struct gbdt_grower *gr, struct open_leaf *l)
{
    l->best.feature = -1;
    if (!l->hist || !can_split(gr, l)) return;
    cairn_gbdt__best_split(gr->d, &gr->p, gr->feats, gr->nfe, l->hist, &l->sum, &l->best, gr->nt);
}

/* Splits open leaf `lv[k]` into lv[k] (left) and lv[*nl] (right). */
static void split_leaf(struct gbdt_grower *gr, struct open_leaf *lv, int k, int *n_leaves,
                       const float *gh, int last)
{
    struct open_leaf *p = &lv[k];
    const struct gbdt_split *s = &p->best;
    struct gbdt_bnode *nd = &gr->nodes[p->node];
    int L = new_leaf_node(gr), R = new_leaf_node(gr);
    nd = &gr->nodes[p->node];
    nd->feature = s->feature;
    nd->bin = s->bin;
    nd->is_cat = s->is_cat;
    nd->default_left = s->default_left;
    memcpy(nd->catbits, s->catbits, sizeof(nd->catbits));
    nd->gain = (float)s->gain;
    nd->left = L;
    nd->right = R;
    uint32_t nl = partition(gr, nd, p->start, p->cnt);
    CAIRN_ASSERT(nl == s->left.n);
    struct open_leaf left, right;
    memset(&left, 0, sizeof(left));
    memset(&right, 0, sizeof(right));
    left.node = L;
    left.start = p->start;
    left.cnt = nl;
    left.sum = s->left;
    right.node = R;
    right.start = p->start + nl;
    right.cnt = p->cnt - nl;
    right.sum = s->right;
    left.depth = right.depth = p->depth + 1;
    struct gbdt_bin *parent_hist = p->hist;
    p->hist = NULL;
    left.best.feature = right.best.feature = -1;
    if (!last && (can_split(gr, &left) || can_split(gr, &right))) {
        struct open_leaf *small = left.cnt <= right.cnt ? &left : &right;
        struct open_leaf *big = small == &left ? &right : &left;
        build_hist(gr, small, gh, 0);
        cairn_gbdt__hist_sub(gr->d, gr->feats, gr->nfe, parent_hist, small->hist);
        big->hist = parent_hist;
        parent_hist = NULL;
        find_best(gr, &left);
        find_best(gr, &right);
        if (left.best.feature < 0) release_hist(gr, &left);
        if (right.best.feature < 0) release_hist(gr, &right);
    }
    if (parent_hist) gr->pool[gr->n_pool++] = parent_hist;
    lv[k] = left;
    lv[(*n_leaves)++] = right;
}

void cairn_gbdt__grow(struct gbdt_grower *gr, const uint32_t *bag, size_t n_bag, const float *gh)
{
    const struct gbdt_data *d = gr->d;
    struct open_leaf *lv = cairn_malloc(sizeof(*lv) * (size_t)gr->max_leaves);
    gr->n_nodes = 0;
    int root = new_leaf_node(gr), n_leaves = 1;
    memcpy(gr->idx, bag, sizeof(uint32_t) * n_bag);
    struct open_leaf *r = &lv[0];
    memset(r, 0, sizeof(*r));
    r->node = root;
    r->cnt = (uint32_t)n_bag;
    for (size_t i = 0; i < n_bag; i++) {
        r->sum.g += gh[2 * (size_t)bag[i]];
        r->sum.h += gh[2 * (size_t)bag[i] + 1];
    }
    r->sum.n = n_bag;
    r->best.feature = -1;
    if (gr->max_leaves > 1 && can_split(gr, r)) {
        build_hist(gr, r, gh, n_bag == d->n);
        find_best(gr, r);
        if (r->best.feature < 0) release_hist(gr, r);
    }
    while (n_leaves < gr->max_leaves) {
        int k = -1;
        for (int j = 0; j < n_leaves; j++)
            if (lv[j].best.feature >= 0 && (k < 0 || lv[j].best.gain > lv[k].best.gain)) k = j;
        if (k < 0) break;
        split_leaf(gr, lv, k, &n_leaves, gh, n_leaves + 1 == gr->max_leaves);
    }
    for (int j = 0; j < n_leaves; j++) {
        struct gbdt_bnode *nd = &gr->nodes[lv[j].node];
        nd->value = gr->lr * cairn_gbdt__leaf_weight(&gr->p, lv[j].sum.g, lv[j].sum.h);
        gr->leaf_start[lv[j].node] = lv[j].start;
        gr->leaf_cnt[lv[j].node] = lv[j].cnt;
        release_hist(gr, &lv[j]);
    }
    cairn_free(lv);
}
