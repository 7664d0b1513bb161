/*
 * cairn/gbdt.h - histogram-based gradient-boosted decision trees.
 *
 * Trains on a cairn_frame: numeric columns are quantile-binned (at most
 * max_bins bins, NaN in a bin of its own), categorical columns are split
 * natively by partitioning their categories (LightGBM's gradient/hessian
 * ordering). Trees grow leaf-wise, best gain first, up to max_leaves leaves.
 * Missing values follow a direction learned per split. The result is a
 * cairn_trees ensemble (cairn/trees.h) whose numeric splits send x < threshold
 * left, threshold being the upper bound of the last bin on the left.
 *
 * The same data, options and seed give the same model whatever n_threads.
 * See docs/internals/gbdt.md.
 */
#ifndef CAIRN_GBDT_H
#define CAIRN_GBDT_H

#include "cairn/common.h"
#include "cairn/frame.h"
#include "cairn/trees.h"

typedef enum cairn_gbdt_objective {
    CAIRN_GBDT_REGRESSION = 0, /* squared error; metric RMSE; base score = mean(y) */
    CAIRN_GBDT_BINARY = 1,     /* logloss, y in [0, 1]; base score = log-odds of mean(y) */
    CAIRN_GBDT_MULTICLASS = 2  /* softmax over num_class, y in {0..num_class-1}; mlogloss */
} cairn_gbdt_objective;

/*
 * Called after each boosting round (0-based) with the training metric and
 * the validation metric (NaN without a validation frame). Metrics are RMSE,
 * logloss or multiclass logloss by objective. Return nonzero to stop
 * training early (the trees built so far are kept).
 */
typedef int (*cairn_gbdt_round_cb)(int round, double train_metric, double valid_metric,
                                   void *payload);

#define CAIRN_GBDT_OPTS_VERSION 1

typedef struct cairn_gbdt_opts {
    int version; /* CAIRN_GBDT_OPTS_VERSION */
    cairn_gbdt_objective objective;
    int num_class;                /* MULTICLASS: number of classes (>= 2) */
    int n_rounds;                 /* boosting rounds (>= 0) */
    double learning_rate;         /* shrinkage, > 0 */
    int max_leaves;               /* leaves per tree (>= 2), leaf-wise growth */
    int max_depth;                /* 0 = unlimited */
    double lambda_l2;             /* L2 penalty on leaf weights (>= 0) */
    double alpha_l1;              /* L1 penalty on leaf weights (>= 0) */
    int min_child_samples;        /* rows per leaf (>= 1) */
    double min_child_weight;      /* hessian sum per leaf (>= 0) */
    double min_split_gain;        /* a split must gain more than this (>= 0) */
    double subsample;             /* fraction of rows per round, (0, 1] */
    double colsample;             /* fraction of features per tree, (0, 1] */
    int max_bins;                 /* bins per feature including the missing bin, 2..255 */
    uint64_t seed;                /* seeds row and feature sampling and bin sampling */
    int n_threads;                /* 0 = all cores */
    int early_stopping_rounds;    /* 0 = off; needs a validation frame */
    double cat_smooth;            /* categorical: ordering uses G / (H + cat_smooth) */
    cairn_gbdt_round_cb on_round; /* optional, see above */
    void *payload;                /* passed to on_round */
} cairn_gbdt_opts;

#define CAIRN_GBDT_OPTS_INIT                                                                       \
    {                                                                                              \
        .version = CAIRN_GBDT_OPTS_VERSION, .objective = CAIRN_GBDT_REGRESSION, .num_class = 0,    \
        .n_rounds = 100, .learning_rate = 0.1, .max_leaves = 31, .max_depth = 0, .lambda_l2 = 1.0, \
        .alpha_l1 = 0.0, .min_child_samples = 20, .min_child_weight = 1e-3, .min_split_gain = 0.0, \
        .subsample = 1.0, .colsample = 1.0, .max_bins = 255, .seed = 0, .n_threads = 0,            \
        .early_stopping_rounds = 0, .cat_smooth = 10.0, .on_round = NULL, .payload = NULL          \
    }

/* What training did (optional output of cairn_gbdt_train). */
typedef struct cairn_gbdt_info {
    int rounds_run;           /* rounds trained before stopping */
    int best_round;           /* with early stopping: the kept best round, else rounds_run - 1 */
    double best_valid_metric; /* lowest validation metric seen (NaN without validation) */
} cairn_gbdt_info;

/*
 * Trains an ensemble. X: the features (every column is a feature; categorical
 * columns are split natively); y: X->nrows labels. valid_X/valid_y (both or
 * neither) give a validation set whose columns are matched to X's by name;
 * categorical codes must use the training dictionaries. With
 * early_stopping_rounds > 0 training stops when the validation metric has
 * not improved for that many rounds and the model keeps the best round's
 * trees. info may be NULL.
 *
 * On success *out owns a new ensemble (free with cairn_trees_free) whose
 * transform matches the objective (identity, sigmoid, softmax) and whose
 * feature names are X's column names. Returns 0, CAIRN_EINVALID (bad
 * options, NaN or out-of-range label, mismatched validation frame; message
 * set), CAIRN_ETOOBIG (2^32-1 rows or more) or CAIRN_ENOMEM (a data-sized
 * buffer could not be allocated). On failure *out is NULL.
 * Thread-safe: concurrent calls share nothing.
 */
CAIRN_API int cairn_gbdt_train(cairn_trees **out, const cairn_frame *X, const double *y,
                               const cairn_frame *valid_X, const double *valid_y,
                               const cairn_gbdt_opts *opts, cairn_gbdt_info *info);

/* Name of the objective's metric: "rmse", "logloss" or "mlogloss". */
CAIRN_API const char *cairn_gbdt_metric_name(cairn_gbdt_objective objective);

#endif
