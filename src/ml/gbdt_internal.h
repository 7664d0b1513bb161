/*
 * gbdt_internal.h - shared structures of the GBDT learner: the binned
 * training matrix, histograms, split candidates and the tree grower.
 * Internal to src/ml/gbdt*.c.
 */
#ifndef CAIRN_GBDT_INTERNAL_H
#define CAIRN_GBDT_INTERNAL_H

#include <stdint.h>

#include "cairn/frame.h"
#include "cairn/gbdt.h"

#define GBDT_MAX_BINS 256      /* bins per feature including bin 0 (missing) */
#define GBDT_CAT_WORDS 8       /* a left set over bins: 256 bits */
#define GBDT_BIN_SAMPLE 200000 /* rows sampled to compute quantile cuts */

/* One feature's binning. Bin 0 holds missing values. Numeric: value bins
 * 1..nbins-1, where bin b holds cuts[b-2] <= v < cuts[b-1] (cuts has nbins-2
 * ascending boundaries). Categorical: bin b holds code code_of_bin[b]; the
 * optional other_bin gathers categories beyond the bin budget and never
 * joins a left set. */
struct gbdt_feature {
    int nbins;
    uint32_t hoff; /* offset of this feature's bins in a histogram */
    uint8_t is_cat;
    float *cuts;          /* numeric, (nbins-2) */
    int32_t *code_of_bin; /* categorical, (nbins); -1 for bin 0, -2 for other */
    int other_bin;        /* categorical: index of the other bin, 0 if none */
};

/* The binned training matrix, feature-major. */
struct gbdt_data {
    size_t n;
    int nf;
    uint8_t *bins;             /* (nf, n): feature-major, for partitions */
    uint8_t *rbins;            /* (n, nf): row-major, for histograms */
    struct gbdt_feature *feat; /* (nf) */
    uint32_t hsize;            /* bins over all features */
};

/* One histogram bin: sums of gradient and hessian and the row count. */
struct gbdt_bin {
    double g, h;
    uint64_t n;
};

/* Node totals. */
struct gbdt_sum {
    double g, h;
    uint64_t n;
};

/* Training parameters the split search needs. */
struct gbdt_params {
    double lambda, alpha, min_child_weight, min_split_gain, cat_smooth;
    uint64_t min_child_samples;
};

/* A split candidate. gain <= 0 or feature < 0 means none. Numeric: bins
 * 1..bin go left. Categorical: bins whose bit is set in catbits go left.
 * Bin 0 (missing) goes left iff default_left. */
struct gbdt_split {
    double gain;
    int feature;
    int bin;
    uint8_t default_left, is_cat;
    struct gbdt_sum left, right;
    uint32_t catbits[GBDT_CAT_WORDS];
};

/* A node of a tree being grown, in bin space. Leaf: left < 0. */
struct gbdt_bnode {
    int feature, bin, left, right;
    uint8_t default_left, is_cat;
    uint32_t catbits[GBDT_CAT_WORDS];
    double value; /* leaf: weight times learning rate */
    float gain;
};

/* Grower workspace, reused across trees. */
struct gbdt_grower {
    const struct gbdt_data *d;
    struct gbdt_params p;
    int max_leaves, max_depth, nt;
    double lr;
    uint32_t *idx;          /* (n) rows of the tree, grouped by leaf */
    uint32_t *tmp;          /* (n) partition scratch */
    float *ghbuf;           /* (2n) gradients gathered for one node */
    struct gbdt_bin **pool; /* (max_leaves) free histogram buffers */
    int n_pool;
    struct gbdt_bin *hist_mem;
    int *feats; /* (nf) features of the current tree */
    int nfe;
    struct gbdt_bnode *nodes; /* (2 * max_leaves) */
    int n_nodes;
    uint32_t *leaf_start, *leaf_cnt; /* per node: rows in idx (leaves) */
};

/* splitmix64: the one PRNG of the learner, seeded explicitly. */
static inline uint64_t gbdt_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double gbdt_unif(uint64_t *s)
{
    return (double)(gbdt_rand(s) >> 11) * 0x1.0p-53;
}

/* gbdt_bin.c: bins every column of X (n_threads > 0). Returns 0 or
 * CAIRN_EINVALID; on failure d is left freeable. */
int cairn_gbdt__bin(struct gbdt_data *d, const cairn_frame *X, int max_bins, uint64_t seed,
                    int n_threads);
void cairn_gbdt__data_free(struct gbdt_data *d);
/* Bin of a raw value of feature f (NaN -> 0). */
int cairn_gbdt__bin_value(const struct gbdt_feature *f, float v);

/* gbdt_hist.c: histogram of rows idx[0..m) (gh: (2m) gathered gradient
 * pairs, or NULL with idx = NULL for rows 0..m-1 reading gh_all) over the
 * features feats[0..nfe). */
void cairn_gbdt__hist_build(const struct gbdt_data *d, const int *feats, int nfe,
                            const uint32_t *idx, size_t m, const float *gh, struct gbdt_bin *hist,
                            int n_threads);
/* big -= small over feats (histogram subtraction). */
void cairn_gbdt__hist_sub(const struct gbdt_data *d, const int *feats, int nfe,
                          struct gbdt_bin *big, const struct gbdt_bin *small);
/* Best split of a node with totals `tot` over feats; out->feature = -1 when
 * none. Deterministic: ties go to the lower feature index. */
void cairn_gbdt__best_split(const struct gbdt_data *d, const struct gbdt_params *p,
                            const int *feats, int nfe, const struct gbdt_bin *hist,
                            const struct gbdt_sum *tot, struct gbdt_split *out, int n_threads);
/* Leaf weight -T(G)/(H + lambda) with T the L1 soft threshold. */
double cairn_gbdt__leaf_weight(const struct gbdt_params *p, double g, double h);

/* gbdt_grow.c */
int cairn_gbdt__grower_init(struct gbdt_grower *gr, const struct gbdt_data *d,
                            const cairn_gbdt_opts *o, int n_threads);
void cairn_gbdt__grower_free(struct gbdt_grower *gr);
/* Grows one tree on rows bag[0..n_bag) (ascending) with gradient pairs gh
 * (2n, by row) over features feats. The result is gr->nodes[0..n_nodes);
 * leaves' rows are gr->idx[leaf_start..+leaf_cnt). Can't fail. */
void cairn_gbdt__grow(struct gbdt_grower *gr, const uint32_t *bag, size_t n_bag, const float *gh);
/* Leaf reached by row `row` of the binned data in the grown tree. */
int cairn_gbdt__bin_walk(const struct gbdt_grower *gr, size_t row);

#endif
