/*
 * cairn/linear.h - linear regression (OLS, ridge, lasso, elastic net),
 * logistic regression (binary and multinomial, L2 or L1) and k-means, fitted
 * from a cairn_frame and converging to scikit-learn's solutions.
 *
 * Inputs: every column of the feature frame is a feature, in frame order.
 * Numeric columns (f32, f64) only: a categorical column is CAIRN_EINVALID
 * (encode it first), and so is a NaN anywhere in the features or targets.
 *
 * Models are opaque handles that hold their parameters in plain arrays
 * (coefficients, intercepts, centroids) so that they are easy to write out.
 * A fitted model is immutable: predict and the accessors may be called from
 * many threads at once. Fitting uses OpenMP where it pays; results do not
 * depend on the number of threads.
 *
 * Errors: 0 or a negative cairn_code (cairn/common.h), message in
 * cairn_error_last(), subsystem CAIRN_SUBSYS_ML. On failure *out is NULL.
 */
#ifndef CAIRN_LINEAR_H
#define CAIRN_LINEAR_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/common.h"
#include "cairn/frame.h"

/* ====================================================================== */
/* Linear regression                                                       */
/* ====================================================================== */

typedef enum cairn_linear_penalty {
    CAIRN_LINEAR_OLS = 0,       /* min ||y - Xw - b||^2 (minimum-norm w if X is rank deficient) */
    CAIRN_LINEAR_RIDGE = 1,     /* min ||y - Xw - b||^2 + alpha ||w||^2 (sklearn Ridge) */
    CAIRN_LINEAR_LASSO = 2,     /* min 1/(2n) ||y - Xw - b||^2 + alpha ||w||_1 (sklearn Lasso) */
    CAIRN_LINEAR_ELASTICNET = 3 /* min 1/(2n) ||y - Xw - b||^2 + alpha l1_ratio ||w||_1
                                 *     + alpha (1 - l1_ratio) / 2 ||w||^2 (sklearn ElasticNet) */
} cairn_linear_penalty;

typedef struct cairn_linear_opts {
    unsigned version; /* CAIRN_LINEAR_OPTS_VERSION */
    cairn_linear_penalty penalty;
    double alpha;       /* >= 0; ignored by OLS */
    double l1_ratio;    /* in [0, 1]; elastic net only */
    bool fit_intercept; /* b is unpenalized; false fixes b = 0 */
    bool standardize;   /* fit on (x - mean) / std (population std, 1 for a
                         * constant column); coefficients are reported on the
                         * original scale. The penalty applies to the
                         * standardized coefficients, as in
                         * sklearn make_pipeline(StandardScaler(), model). */
    int max_iter;       /* coordinate-descent sweeps (lasso, elastic net) */
    double tol;         /* coordinate descent stops when the duality gap is
                         * <= tol * ||y||^2 (sklearn's rule) */
} cairn_linear_opts;

#define CAIRN_LINEAR_OPTS_VERSION 1
#define CAIRN_LINEAR_OPTS_INIT                                                                     \
    {                                                                                              \
        CAIRN_LINEAR_OPTS_VERSION, CAIRN_LINEAR_OLS, 1.0, 0.5, true, false, 100000, 1e-4           \
    }

typedef struct cairn_linear cairn_linear;

/*
 * Fits a linear regression of y (x->nrows values, owned by the caller) on
 * the columns of x. OLS and ridge are solved in closed form (Cholesky of the
 * Gram matrix; OLS falls back to a symmetric eigen-decomposition giving the
 * minimum-norm solution when X is rank deficient); lasso and elastic net by
 * cyclic coordinate descent with a duality-gap stopping rule.
 * Errors: CAIRN_EINVALID (bad options, nrows < 2, no columns, categorical
 * column, NaN/inf in x or y), CAIRN_ETOOBIG (the matrix does not fit in
 * memory). Not converging within max_iter is not an error: see
 * cairn_linear_n_iter(). Thread-safe (no shared state).
 */
CAIRN_API int cairn_linear_fit(cairn_linear **out, const cairn_frame *x, const double *y,
                               const cairn_linear_opts *opts);
/* Writes x->nrows predictions into out. x must have the model's columns
 * (same count and names, in order). CAIRN_EINVALID otherwise or on NaN. */
CAIRN_API int cairn_linear_predict(const cairn_linear *m, const cairn_frame *x, double *out);
/* Number of features the model was fitted on. */
CAIRN_API int cairn_linear_nfeatures(const cairn_linear *m);
/* (nfeatures) coefficients on the original feature scale; borrowed, valid
 * until cairn_linear_free. */
CAIRN_API const double *cairn_linear_coef(const cairn_linear *m);
CAIRN_API double cairn_linear_intercept(const cairn_linear *m);
/* Coordinate-descent sweeps run (0 for the closed-form solvers) and whether
 * the stopping rule was met (always true for the closed forms). */
CAIRN_API int cairn_linear_n_iter(const cairn_linear *m);
CAIRN_API bool cairn_linear_converged(const cairn_linear *m);
/* NULL is a no-op. */
CAIRN_API void cairn_linear_free(cairn_linear *m);

/* ====================================================================== */
/* Logistic regression                                                     */
/* ====================================================================== */

typedef enum cairn_logistic_penalty {
    CAIRN_LOGISTIC_L2 = 0, /* min C sum_i loss_i + 1/2 ||W||_F^2   (L-BFGS) */
    CAIRN_LOGISTIC_L1 = 1  /* min C sum_i loss_i + sum |W_kj|     (accelerated proximal gradient) */
} cairn_logistic_penalty;

typedef struct cairn_logistic_opts {
    unsigned version; /* CAIRN_LOGISTIC_OPTS_VERSION */
    cairn_logistic_penalty penalty;
    double C;           /* > 0, inverse regularization strength as in sklearn */
    bool fit_intercept; /* intercepts are never penalized */
    bool standardize;   /* as in cairn_linear_opts */
    int max_iter;       /* solver iterations */
    double tol;         /* stop when the largest component of the (projected)
                         * gradient of the objective divided by C*n is <= tol */
} cairn_logistic_opts;

#define CAIRN_LOGISTIC_OPTS_VERSION 1
#define CAIRN_LOGISTIC_OPTS_INIT                                                                   \
    {                                                                                              \
        CAIRN_LOGISTIC_OPTS_VERSION, CAIRN_LOGISTIC_L2, 1.0, true, false, 10000, 1e-8              \
    }

typedef struct cairn_logistic cairn_logistic;

/*
 * Fits a logistic regression of the class labels y (x->nrows int32 values,
 * any values; the classes are their sorted distinct values) on x. Two classes
 * give a binary model (one coefficient row, for the larger class, as sklearn);
 * three or more a multinomial (softmax) model with one row per class, whose
 * intercepts sum to zero. Errors: CAIRN_EINVALID (bad options, fewer than two
 * classes, nrows < 2, categorical column, NaN/inf). Thread-safe.
 */
CAIRN_API int cairn_logistic_fit(cairn_logistic **out, const cairn_frame *x, const int32_t *y,
                                 const cairn_logistic_opts *opts);
/* Writes (x->nrows, nclasses) row-major class probabilities into out. */
CAIRN_API int cairn_logistic_predict_proba(const cairn_logistic *m, const cairn_frame *x,
                                           double *out);
/* Writes x->nrows predicted class labels (values of cairn_logistic_classes). */
CAIRN_API int cairn_logistic_predict(const cairn_logistic *m, const cairn_frame *x, int32_t *out);
CAIRN_API int cairn_logistic_nfeatures(const cairn_logistic *m);
CAIRN_API int cairn_logistic_nclasses(const cairn_logistic *m);
/* (nclasses) sorted class labels; borrowed. */
CAIRN_API const int32_t *cairn_logistic_classes(const cairn_logistic *m);
/* Rows of the coefficient matrix: 1 for a binary model, nclasses otherwise. */
CAIRN_API int cairn_logistic_ncoef_rows(const cairn_logistic *m);
/* (ncoef_rows, nfeatures) row-major coefficients on the original scale; borrowed. */
CAIRN_API const double *cairn_logistic_coef(const cairn_logistic *m);
/* (ncoef_rows) intercepts; borrowed. */
CAIRN_API const double *cairn_logistic_intercept(const cairn_logistic *m);
CAIRN_API int cairn_logistic_n_iter(const cairn_logistic *m);
CAIRN_API bool cairn_logistic_converged(const cairn_logistic *m);
/* NULL is a no-op. */
CAIRN_API void cairn_logistic_free(cairn_logistic *m);

/* ====================================================================== */
/* K-means                                                                 */
/* ====================================================================== */

typedef struct cairn_kmeans_opts {
    unsigned version;   /* CAIRN_KMEANS_OPTS_VERSION */
    int k;              /* clusters, 1 <= k <= nrows */
    int n_init;         /* restarts from k-means++; the lowest inertia wins */
    int max_iter;       /* Lloyd iterations per restart */
    double tol;         /* stop when the summed squared centroid shift is
                         * <= tol * mean feature variance (sklearn's rule) */
    uint64_t seed;      /* seeds the k-means++ PRNG; same seed, same result */
    const double *init; /* optional (k, nfeatures) row-major initial centroids,
                         * borrowed during the fit; when set, one run from them
                         * and n_init is ignored */
} cairn_kmeans_opts;

#define CAIRN_KMEANS_OPTS_VERSION 1
#define CAIRN_KMEANS_OPTS_INIT                                                                     \
    {                                                                                              \
        CAIRN_KMEANS_OPTS_VERSION, 8, 10, 300, 1e-4, 0, NULL                                       \
    }

typedef struct cairn_kmeans cairn_kmeans;

/*
 * Clusters the rows of x: greedy k-means++ seeding, Lloyd iterations (the
 * assignment step parallel over rows), n_init restarts. An emptied cluster
 * is moved to the point farthest from its centroid. Errors: CAIRN_EINVALID
 * (k < 1, k > nrows, nrows < 2, categorical column, NaN/inf). Thread-safe.
 */
CAIRN_API int cairn_kmeans_fit(cairn_kmeans **out, const cairn_frame *x,
                               const cairn_kmeans_opts *opts);
/* Writes the index of the nearest centroid (ties: the lowest) of each row. */
CAIRN_API int cairn_kmeans_predict(const cairn_kmeans *m, const cairn_frame *x, int32_t *out);
CAIRN_API int cairn_kmeans_k(const cairn_kmeans *m);
CAIRN_API int cairn_kmeans_nfeatures(const cairn_kmeans *m);
/* (k, nfeatures) row-major centroids; borrowed. */
CAIRN_API const double *cairn_kmeans_centroids(const cairn_kmeans *m);
/* Sum of squared distances of the training rows to their nearest centroid. */
CAIRN_API double cairn_kmeans_inertia(const cairn_kmeans *m);
/* Lloyd iterations of the winning restart. */
CAIRN_API int cairn_kmeans_n_iter(const cairn_kmeans *m);
/* NULL is a no-op. */
CAIRN_API void cairn_kmeans_free(cairn_kmeans *m);

/*
 * Mean silhouette coefficient of the labelling (x->nrows labels, any int32
 * values) with Euclidean distances, as sklearn.metrics.silhouette_score: for
 * each row s = (b - a) / max(a, b), with s = 0 for a row alone in its
 * cluster. Exact, O(n^2 d), parallel over rows. sample_size > 0 (and < nrows)
 * scores a random subset of that many rows drawn without replacement with
 * `seed` (not sklearn's draw). Errors: CAIRN_EINVALID (fewer than 2 or more
 * than n - 1 distinct labels, NaN, categorical column).
 */
CAIRN_API int cairn_kmeans_silhouette(const cairn_frame *x, const int32_t *labels,
                                      size_t sample_size, uint64_t seed, double *out);

#endif
