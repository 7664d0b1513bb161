/*
 * cairn/trees.h - the tree-ensemble runtime: an additive ensemble of binary
 * decision trees with numeric and categorical splits and learned
 * missing-value directions. Cairn's GBDT learner (cairn/gbdt.h) produces one;
 * XGBoost and LightGBM model importers build one with cairn_trees_new() and
 * cairn_trees_add_tree(). Prediction is a batch call over a frame (OpenMP
 * over rows) and an allocation-free per-row call for serving.
 *
 * Output k of a row is base_score[k] plus the leaf values of every tree
 * whose output is k, summed in tree order, then transformed (identity,
 * sigmoid, or softmax over the n_outputs margins).
 *
 * Split semantics, per node:
 *   - missing value (NaN; for a categorical split also any negative code):
 *     go to the default side (default_left);
 *   - numeric: go left if x < threshold (CAIRN_TREES_SPLIT_LT, the default,
 *     as XGBoost) or x <= threshold (CAIRN_TREES_SPLIT_LE, as LightGBM);
 *     x and threshold are compared as float;
 *   - categorical: x is a category code; go left if the code's bit is set in
 *     the node's bitset; codes outside the bitset go right.
 *
 * A cairn_trees is immutable once built; every const function may be called
 * from any number of threads at once.
 */
#ifndef CAIRN_TREES_H
#define CAIRN_TREES_H

#include "cairn/common.h"
#include "cairn/frame.h"

typedef struct cairn_trees cairn_trees;

/* Output transform applied to the summed margins. */
typedef enum cairn_trees_transform {
    CAIRN_TREES_IDENTITY = 0, /* regression: the margin */
    CAIRN_TREES_SIGMOID = 1,  /* binary: 1 / (1 + exp(-margin)), per output */
    CAIRN_TREES_SOFTMAX = 2   /* multiclass: softmax over the n_outputs margins */
} cairn_trees_transform;

/* Comparison used by numeric splits (see the file comment). */
typedef enum cairn_trees_split_rule {
    CAIRN_TREES_SPLIT_LT = 0, /* left if x <  threshold */
    CAIRN_TREES_SPLIT_LE = 1  /* left if x <= threshold */
} cairn_trees_split_rule;

/* Feature importance kinds for cairn_trees_importance(). */
typedef enum cairn_trees_importance_kind {
    CAIRN_TREES_IMPORTANCE_SPLIT = 0, /* number of splits on the feature */
    CAIRN_TREES_IMPORTANCE_GAIN = 1   /* total gain of splits on the feature */
} cairn_trees_importance_kind;

/* Flags for cairn_trees_predict_ex() / cairn_trees_predict_row_ex(). */
#define CAIRN_TREES_RAW_MARGIN 1u /* skip the output transform */

/* One node. Node 0 of a tree is its root. A leaf has left == right == -1
 * (and feature == -1); an inner node has both children. */
typedef struct cairn_tree_node {
    int32_t feature;        /* split feature index, -1 for a leaf */
    float threshold;        /* numeric split threshold (raw value, float) */
    int32_t left, right;    /* child node indices within the tree, -1 for a leaf */
    double value;           /* leaf value (margin contribution); 0 for inner nodes */
    float gain;             /* split gain, for importance; 0 for leaves */
    uint32_t cat_offset;    /* categorical: first word of the left-set bitset */
    uint32_t cat_words;     /* categorical: bitset length in 32-bit words */
    uint8_t default_left;   /* 1: missing values go left */
    uint8_t is_categorical; /* 1: categorical split (threshold unused) */
} cairn_tree_node;

/*
 * A new empty ensemble (no trees) over n_features features with n_outputs
 * outputs. feature_names (n_features strings, copied) may be NULL: then
 * cairn_trees_predict() takes frame columns by position, else by name.
 * base_score (n_outputs values, copied) may be NULL for zeros. SOFTMAX needs
 * n_outputs >= 2. The split rule starts as CAIRN_TREES_SPLIT_LT.
 * Returns 0 or CAIRN_EINVALID; on failure *out is NULL.
 */
CAIRN_API int cairn_trees_new(cairn_trees **out, int n_features, const char *const *feature_names,
                              int n_outputs, cairn_trees_transform transform,
                              const double *base_score);
/* Frees the ensemble. NULL is a no-op. */
CAIRN_API void cairn_trees_free(cairn_trees *m);
/* Sets the numeric comparison used by every split of the ensemble. */
CAIRN_API void cairn_trees_set_split_rule(cairn_trees *m, cairn_trees_split_rule rule);

/*
 * Appends one tree contributing to output `output` (0 <= output < n_outputs).
 * nodes (n_nodes, copied) must form one tree rooted at node 0: each node
 * reached exactly once, features < n_features. Categorical nodes index
 * cat_bits (n_cat_words words, copied; may be NULL when 0) through
 * cat_offset/cat_words, which are rebased into the ensemble's own pool.
 * Returns 0 or CAIRN_EINVALID (the ensemble is unchanged on error).
 */
CAIRN_API int cairn_trees_add_tree(cairn_trees *m, int output, const cairn_tree_node *nodes,
                                   int n_nodes, const uint32_t *cat_bits, size_t n_cat_words);
/* Keeps only the first n_trees trees (no-op if n_trees >= the count). */
CAIRN_API void cairn_trees_truncate(cairn_trees *m, int n_trees);

/* Accessors; all can't fail. Indices must be in range. */
CAIRN_API int cairn_trees_n_trees(const cairn_trees *m);
CAIRN_API int cairn_trees_n_outputs(const cairn_trees *m);
CAIRN_API int cairn_trees_n_features(const cairn_trees *m);
/* Feature name, borrowed for the ensemble's lifetime; NULL if unnamed. */
CAIRN_API const char *cairn_trees_feature_name(const cairn_trees *m, int feature);
CAIRN_API cairn_trees_transform cairn_trees_get_transform(const cairn_trees *m);
CAIRN_API cairn_trees_split_rule cairn_trees_get_split_rule(const cairn_trees *m);
CAIRN_API double cairn_trees_base_score(const cairn_trees *m, int output);
/* Tree `tree`'s nodes (borrowed until the ensemble changes or is freed). */
CAIRN_API const cairn_tree_node *cairn_trees_tree(const cairn_trees *m, int tree, int *n_nodes);
/* The output tree `tree` contributes to. */
CAIRN_API int cairn_trees_tree_output(const cairn_trees *m, int tree);
/* The categorical bitset pool (borrowed), its length in words in *n_words. */
CAIRN_API const uint32_t *cairn_trees_cat_bits(const cairn_trees *m, size_t *n_words);

/* Index of the leaf that row x (n_features floats) reaches in tree `tree`. */
CAIRN_API int cairn_trees_leaf_index(const cairn_trees *m, int tree, const float *x);

/*
 * Predicts one row for serving: x_row holds n_features floats (NaN for
 * missing, category codes as floats), out receives n_outputs values.
 * No allocation, can't fail. _ex takes CAIRN_TREES_RAW_MARGIN.
 */
CAIRN_API void cairn_trees_predict_row(const cairn_trees *m, const float *x_row, double *out);
CAIRN_API void cairn_trees_predict_row_ex(const cairn_trees *m, const float *x_row, unsigned flags,
                                          double *out);

/*
 * Predicts every row of X into out (X->nrows x n_outputs, row-major).
 * Features are frame columns found by name (or by position when the model
 * has no names); categorical columns give their codes. Results equal
 * cairn_trees_predict_row() bit for bit and do not depend on n_threads
 * (0 = all cores; OpenMP over row blocks for large batches).
 * Returns 0 or CAIRN_EINVALID (a feature column is missing).
 */
CAIRN_API int cairn_trees_predict(const cairn_trees *m, const cairn_frame *X, double *out,
                                  int n_threads);
CAIRN_API int cairn_trees_predict_ex(const cairn_trees *m, const cairn_frame *X, unsigned flags,
                                     double *out, int n_threads);

/* Feature importance into out (n_features values, overwritten). */
CAIRN_API void cairn_trees_importance(const cairn_trees *m, cairn_trees_importance_kind kind,
                                      double *out);

#endif
