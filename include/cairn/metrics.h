/*
 * cairn/metrics.h - model evaluation: classification and regression metrics
 * numerically equal to scikit-learn's, train/test and k-fold splits, and
 * A/B comparison of two models on one test set (paired bootstrap, McNemar).
 *
 * Conventions for every function below:
 * - Inputs are plain C arrays of doubles with n rows. Binary labels are 0 or
 *   1 (1 is the positive class); multiclass labels are the integers 0..k-1
 *   stored as doubles, with probabilities in an (n, k) row-major matrix.
 * - Each returns 0 and writes its value through an out pointer, or returns a
 *   negative cairn_code with a message (cairn_error_last()) and leaves the
 *   outputs unspecified: CAIRN_EINVALID for n == 0, NaN in an input, a label
 *   out of range, or a metric that is undefined for the data (for example
 *   ROC AUC when y_true holds a single class); CAIRN_ENOMEM when a buffer
 *   sized by n cannot be allocated.
 * - No global state: functions are thread-safe on distinct outputs; random
 *   functions draw only from the cairn_ml_rng the caller passes.
 * - Where scikit-learn defines a value on a warning (zero_division), the
 *   value it returns by default is returned (0), without a warning.
 * - Sums are taken in numpy's pairwise order, so results usually match
 *   scikit-learn 1.2 / numpy 1.24 to the last bit (tests allow 1e-12).
 */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include "cairn/common.h"

/* ---- binary classification ------------------------------------------- */

/* Area under the ROC curve (sklearn roc_auc_score): trapezoids over the
 * distinct score thresholds, so tied scores form one diagonal step. y_score
 * is any real score, higher = more positive. CAIRN_EINVALID when y_true is
 * not 0/1 or holds only one class. */
CAIRN_API int cairn_metrics_roc_auc(const double *y_true, const double *y_score, size_t n,
                                    double *out);

/* Average precision (sklearn average_precision_score): sum over thresholds
 * of (R_i - R_{i-1}) * P_i, a step function, not a trapezoid. CAIRN_EINVALID
 * when y_true has no positive (sklearn warns and returns 0 there). */
CAIRN_API int cairn_metrics_average_precision(const double *y_true, const double *y_score, size_t n,
                                              double *out);

/* Binary cross-entropy (sklearn log_loss with labels=[0, 1]): y_prob is
 * P(class 1); probabilities are clipped to [eps, 1 - eps] with eps = DBL_EPSILON
 * (sklearn's eps="auto" for float64) and each row [1-p, p] renormalised.
 * Values outside [0, 1] are clipped, as sklearn does. */
CAIRN_API int cairn_metrics_log_loss(const double *y_true, const double *y_prob, size_t n,
                                     double *out);

/* Multiclass cross-entropy (sklearn log_loss with labels=range(k)): proba is
 * (n, k) row-major; clipped to [eps, 1 - eps] and renormalised per row.
 * k >= 2; y_true in 0..k-1. */
CAIRN_API int cairn_metrics_log_loss_multi(const double *y_true, const double *proba, size_t n,
                                           int k, double *out);

/* Fraction of rows with y_true[i] == y_pred[i] (any label values). */
CAIRN_API int cairn_metrics_accuracy(const double *y_true, const double *y_pred, size_t n,
                                     double *out);

typedef enum cairn_metrics_average {
    CAIRN_METRICS_BINARY = 0,  /* positive class 1 only; labels 0/1 */
    CAIRN_METRICS_MACRO = 1,   /* unweighted mean over classes 0..k-1 */
    CAIRN_METRICS_WEIGHTED = 2 /* mean over classes weighted by true support */
} cairn_metrics_average;

typedef struct cairn_metrics_prf {
    double precision;
    double recall;
    double f1;
} cairn_metrics_prf;

/* Precision, recall and F1 (sklearn precision_recall_fscore_support with
 * labels=range(k)). A ratio with a zero denominator is 0 (sklearn's default
 * zero_division). Every class 0..k-1 counts in the macro mean, present or
 * not. For CAIRN_METRICS_BINARY, k must be 2. */
CAIRN_API int cairn_metrics_prf_score(const double *y_true, const double *y_pred, size_t n, int k,
                                      cairn_metrics_average average, cairn_metrics_prf *out);

/* Confusion matrix: out is (k, k) row-major, out[t * k + p] counts rows with
 * true class t predicted as p (sklearn confusion_matrix, labels=range(k)). */
CAIRN_API int cairn_metrics_confusion(const double *y_true, const double *y_pred, size_t n, int k,
                                      int64_t *out);

typedef enum cairn_metrics_calib_strategy {
    CAIRN_METRICS_CALIB_UNIFORM = 0, /* n_bins equal-width bins on [0, 1] */
    CAIRN_METRICS_CALIB_QUANTILE = 1 /* edges at the y_prob quantiles */
} cairn_metrics_calib_strategy;

/* Reliability curve (sklearn.calibration.calibration_curve). A probability
 * on an inner edge falls in the lower bin. For each non-empty bin, in order:
 * prob_true = fraction of positives, prob_pred = mean y_prob, counts = rows
 * (counts may be NULL). The three arrays hold n_bins entries; *n_out gets
 * the number written. CAIRN_EINVALID when n_bins < 1, y_true is not 0/1 or
 * y_prob is outside [0, 1]. */
CAIRN_API int cairn_metrics_calibration(const double *y_true, const double *y_prob, size_t n,
                                        int n_bins, cairn_metrics_calib_strategy strategy,
                                        double *prob_true, double *prob_pred, int64_t *counts,
                                        int *n_out);

/* ---- regression ------------------------------------------------------- */

/* Mean squared error and its square root (sklearn mean_squared_error). */
CAIRN_API int cairn_metrics_mse(const double *y_true, const double *y_pred, size_t n, double *out);
CAIRN_API int cairn_metrics_rmse(const double *y_true, const double *y_pred, size_t n, double *out);
/* Mean absolute error (sklearn mean_absolute_error). */
CAIRN_API int cairn_metrics_mae(const double *y_true, const double *y_pred, size_t n, double *out);
/* Coefficient of determination (sklearn r2_score, force_finite): a constant
 * y_true gives 1 for a perfect prediction, else 0. CAIRN_EINVALID for n < 2. */
CAIRN_API int cairn_metrics_r2(const double *y_true, const double *y_pred, size_t n, double *out);
/* Mean absolute percentage error as a fraction (sklearn
 * mean_absolute_percentage_error): |y_pred - y_true| / max(|y_true|, eps),
 * eps = DBL_EPSILON, so a zero target gives a very large term. */
CAIRN_API int cairn_metrics_mape(const double *y_true, const double *y_pred, size_t n, double *out);

/* The pct-th percentile of x (numpy.percentile, method "linear"), pct in
 * [0, 100]. x is not modified; a sorted copy is made. */
CAIRN_API int cairn_metrics_percentile(const double *x, size_t n, double pct, double *out);

/* ---- random numbers ---------------------------------------------------- */

/* xoshiro256** state, seeded through splitmix64. A value type: copy it to
 * fork a stream; one state must not be used by two threads at once. */
typedef struct cairn_ml_rng {
    uint64_t s[4];
} cairn_ml_rng;

/* Seeds the generator; every seed (0 included) gives a valid state. */
CAIRN_API void cairn_ml_rng_seed(cairn_ml_rng *rng, uint64_t seed);
/* Next 64 random bits. */
CAIRN_API uint64_t cairn_ml_rng_next(cairn_ml_rng *rng);
/* Uniform integer in [0, bound), without modulo bias; bound > 0. */
CAIRN_API uint64_t cairn_ml_rng_below(cairn_ml_rng *rng, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
CAIRN_API double cairn_ml_rng_uniform(cairn_ml_rng *rng);
/* Fisher-Yates shuffle of idx (n entries) in place. */
CAIRN_API void cairn_ml_rng_shuffle(cairn_ml_rng *rng, size_t *idx, size_t n);

/* ---- splits ------------------------------------------------------------ */

/* Train/test split of rows 0..n-1. The test set has ceil(test_fraction * n)
 * rows (sklearn's rule), test_fraction in (0, 1), and both sets must be
 * non-empty. With stratify (n labels, any values, or NULL) each class gives
 * the test set its proportional share, rounded so that every class is within
 * one row of its ideal share. rng (required) shuffles; both outputs come in
 * random order. *train_out and *test_out are allocated (free with
 * cairn_free) and set to NULL on error. */
CAIRN_API int cairn_split_train_test(size_t n, double test_fraction, const double *stratify,
                                     cairn_ml_rng *rng, size_t **train_out, size_t *n_train,
                                     size_t **test_out, size_t *n_test);

/* K-fold assignment: fold_out (n entries) gets each row's fold in 0..k-1,
 * 2 <= k <= n. Plain (stratify NULL): fold sizes n/k or n/k + 1, as sklearn
 * KFold. Stratified (stratify = n labels): rows are dealt round-robin class
 * after class, so each class's count in each fold is within one of n_c/k and
 * fold sizes still differ by at most one (sklearn StratifiedKFold's
 * allocation). rng shuffles which rows go where; NULL keeps row order (plain:
 * contiguous folds). */
CAIRN_API int cairn_split_kfold(size_t n, int k, const double *stratify, cairn_ml_rng *rng,
                                int *fold_out);

/* Index arrays of one fold from a fold assignment: test = rows with
 * fold_of[i] == fold, train = the rest, both ascending. Outputs allocated as
 * for cairn_split_train_test. */
CAIRN_API int cairn_split_fold_indices(const int *fold_of, size_t n, int fold, size_t **train_out,
                                       size_t *n_train, size_t **test_out, size_t *n_test);

/* ---- A/B comparison ---------------------------------------------------- */

/* A metric as a callback: y_true (n), y_score (n * width, as given to the
 * bootstrap), value through out, 0 or a negative cairn_code. payload is the
 * caller's. May be called from several threads at once (see opts.threads). */
typedef int (*cairn_metrics_cb)(const double *y_true, const double *y_score, size_t n, double *out,
                                void *payload);

typedef struct cairn_bootstrap_opts {
    unsigned version;
    int n_resamples;   /* B, >= 1; default 1000 */
    double confidence; /* CI level in (0, 1); default 0.95 */
    int threads;       /* OpenMP threads; 0 = OpenMP's default, 1 = serial */
} cairn_bootstrap_opts;
#define CAIRN_BOOTSTRAP_OPTS_VERSION 1
#define CAIRN_BOOTSTRAP_OPTS_INIT                                                                  \
    {                                                                                              \
        CAIRN_BOOTSTRAP_OPTS_VERSION, 1000, 0.95, 0                                                \
    }

typedef struct cairn_bootstrap_result {
    double metric_a; /* metric of model A on the full test set */
    double metric_b;
    double diff;   /* metric_a - metric_b */
    double ci_low; /* percentile interval of the resampled differences */
    double ci_high;
    double p_value; /* two-sided, see cairn_compare_bootstrap */
    int n_valid;    /* resamples where both metrics were defined */
} cairn_bootstrap_result;

/* Paired bootstrap of metric(A) - metric(B) on one test set. Each of the B
 * resamples draws n rows with replacement (the same rows for both models),
 * with a stream forked from rng serially, so the result depends on the seed
 * and not on the thread count. Rows are width doubles wide in score_a and
 * score_b ((n, width) row-major; width = k for probability matrices).
 * Resamples where the metric returns CAIRN_EINVALID (e.g. a single class for
 * AUC) are skipped. p_value = min(1, 2 (m + 1) / (n_valid + 1)) where m counts
 * resampled differences on the other side of 0 from the observed one (0
 * itself counts as the other side); an observed 0 gives 1. Errors: the
 * metric's own error on the full set or any error other than CAIRN_EINVALID
 * on a resample; CAIRN_EINVALID for bad options or when no resample was
 * valid. rng advances by one draw per resample. */
CAIRN_API int cairn_compare_bootstrap(const double *y_true, const double *score_a,
                                      const double *score_b, size_t n, size_t width,
                                      cairn_metrics_cb metric, void *payload,
                                      const cairn_bootstrap_opts *opts, cairn_ml_rng *rng,
                                      cairn_bootstrap_result *out);

typedef struct cairn_mcnemar_result {
    int64_t b;        /* A right, B wrong */
    int64_t c;        /* A wrong, B right */
    double statistic; /* exact: min(b, c); else (|b - c| - 1)^2 / (b + c) */
    double p_value;   /* two-sided */
    int exact;        /* 1 when the exact binomial test was used */
} cairn_mcnemar_result;

/* McNemar's test on two models' correctness vectors (n values, each 0 or 1,
 * 1 = that row was predicted right). b + c < 25: exact two-sided binomial
 * test of b ~ Bin(b + c, 1/2) (scipy binomtest), p = 1 when b + c = 0;
 * otherwise chi-square with continuity correction, 1 dof, p = erfc(sqrt(x/2)). */
CAIRN_API int cairn_compare_mcnemar(const double *correct_a, const double *correct_b, size_t n,
                                    cairn_mcnemar_result *out);

#endif
