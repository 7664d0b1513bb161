/*
 * cairn/profile.h - the reference profile of a training set: what
 * monitoring compares live traffic against (PSI on quantile bins, KS and
 * Wasserstein on a reference sample, chi-square and Jensen-Shannon on
 * category frequencies, missing-rate, out-of-range and new-category rates).
 *
 * A profile is built from a cairn_frame (every column is a feature) and,
 * optionally, the model's predictions on the same rows. It is saved as
 * profile.json beside the model; the format is described in
 * docs/internals/profile.md and written/read by cairn_profile_to_json and
 * cairn_profile_from_json.
 *
 * Per numeric feature (f32/f64 columns, NaN = missing): count of present
 * values, missing count and rate, mean, population std, min, max, quantile
 * bin edges with the count of reference values per bin, a fixed-width
 * histogram, and a small sorted sample of values. Per categorical feature
 * (code -1 = missing): count, missing count and rate, number of distinct
 * values and the most frequent categories with their counts; the rest is
 * summarised as one bucket named CAIRN_PROFILE_OTHER.
 *
 * Bins: value v lies in bin i when edge[i] <= v < edge[i+1]; the last bin
 * is closed (edge[i] <= v <= edge[last]). Edges are strictly increasing,
 * except for a feature whose present values are all equal to c: its edges
 * are [c, c], one closed bin holding exactly c. Every present reference
 * value lies in [edge[0], edge[last]] = [min, max], so bin counts add up to
 * the count.
 *
 * A profile is immutable once built or loaded: accessors may be called from
 * many threads at once. Every pointer an accessor returns is borrowed and
 * valid until cairn_profile_free. Results never depend on the number of
 * OpenMP threads.
 *
 * Errors: 0 or a negative cairn_code (cairn/common.h), message in
 * cairn_error_last(), subsystem CAIRN_SUBSYS_ML. On failure *out is NULL.
 */
#ifndef CAIRN_PROFILE_H
#define CAIRN_PROFILE_H

#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/common.h"
#include "cairn/frame.h"

/* The name monitoring gives to the bucket of categories beyond max_categories. */
#define CAIRN_PROFILE_OTHER "__other__"
/* The profile.json format this library writes and reads. */
#define CAIRN_PROFILE_FORMAT "cairn.profile"
#define CAIRN_PROFILE_FORMAT_VERSION 1

typedef struct cairn_profile_opts {
    unsigned version;     /* CAIRN_PROFILE_OPTS_VERSION */
    int n_bins;           /* quantile bins for PSI, 1..10000 (edges at the
                           * quantiles i / n_bins before deduplication) */
    int n_hist_bins;      /* fixed-width histogram bins over [min, max], 1..10000 */
    int max_categories;   /* categories kept per categorical feature, 1..1000000;
                           * the rest go to the CAIRN_PROFILE_OTHER bucket */
    int sample_size;      /* sorted reference values kept per numeric feature,
                           * 1..1000000 */
    size_t quantile_rows; /* quantile edges are exact when a feature has at most
                           * this many present values (0: always exact); above
                           * it they come from a deterministic sample of
                           * quantile_rows values. 0 or >= sample_size. */
    uint64_t seed;        /* seeds that sample (see docs/internals/profile.md) */
} cairn_profile_opts;

#define CAIRN_PROFILE_OPTS_VERSION 1
#define CAIRN_PROFILE_OPTS_INIT                                                                    \
    {                                                                                              \
        CAIRN_PROFILE_OPTS_VERSION, 10, 20, 100, 1000, 1000000, 0                                  \
    }

typedef struct cairn_profile cairn_profile;
/* One feature or prediction column of a profile (borrowed from it). */
typedef struct cairn_profile_feature cairn_profile_feature;

typedef enum cairn_profile_type {
    CAIRN_PROFILE_NUMERIC = 1,
    CAIRN_PROFILE_CATEGORICAL = 2
} cairn_profile_type;

/* A borrowed view of a numeric summary. When count == 0 (every value
 * missing) mean, std, min and max are NaN and every array is empty. */
typedef struct cairn_profile_numeric {
    uint64_t count;      /* present (non-missing) values */
    uint64_t missing;    /* count + missing = the profile's n_rows */
    double missing_rate; /* missing / n_rows */
    double mean, std;    /* population std (divides by count) */
    double min, max;
    int n_edges;                 /* quantile edges, 2..n_bins+1 (0 when count == 0) */
    const double *edges;         /* (n_edges) */
    const uint64_t *bin_counts;  /* (n_edges - 1) reference values per quantile bin */
    int n_hist_edges;            /* histogram edges, 2..n_hist_bins+1 (0 when count == 0) */
    const double *hist_edges;    /* (n_hist_edges) */
    const uint64_t *hist_counts; /* (n_hist_edges - 1) */
    int n_sample;                /* min(count, sample_size) */
    const double *sample;        /* (n_sample) ascending reference values */
} cairn_profile_numeric;

/* A borrowed view of a categorical summary. */
typedef struct cairn_profile_categorical {
    uint64_t count;           /* present values */
    uint64_t missing;         /* count + missing = n_rows */
    double missing_rate;      /* missing / n_rows */
    uint64_t n_distinct;      /* distinct present values, kept or not */
    int n_categories;         /* kept categories, <= max_categories */
    const char *const *names; /* (n_categories) by descending count, ties by name (strcmp) */
    const uint64_t *counts;   /* (n_categories) */
    uint64_t other_count;     /* rows whose value is not kept */
    uint64_t other_distinct;  /* distinct values not kept */
} cairn_profile_categorical;

/*
 * Builds the profile of X, and of predictions when not NULL: a row-major
 * (X->nrows, n_outputs) array whose columns are profiled as numeric
 * features named "prediction" (n_outputs == 1) or "prediction_<k>"; NaN
 * marks a missing prediction. n_outputs is ignored when predictions is NULL.
 * opts may be NULL for the defaults. X and predictions are not kept.
 * Features are profiled in parallel (OpenMP); the result does not depend on
 * the thread count.
 * Errors: CAIRN_EINVALID (bad options, no rows, duplicate or empty column
 * names, an infinite value, n_outputs < 1), CAIRN_ENOMEM (a column's values
 * do not fit in memory). Thread-safe (no shared state).
 */
CAIRN_API int cairn_profile_build(cairn_profile **out, const cairn_frame *X,
                                  const double *predictions, int n_outputs,
                                  const cairn_profile_opts *opts);

/*
 * Appends the profile as JSON (format "cairn.profile", version 1) to out.
 * Doubles are written with %.17g (always with a '.' or an exponent), so
 * cairn_profile_from_json reads back the same bits; a profile holds no NaN
 * or infinity (missing summaries are JSON null). The same profile always
 * gives the same bytes.
 * Errors: CAIRN_ETOOBIG (out->max reached; out is freed as cairn_buf says).
 */
CAIRN_API int cairn_profile_to_json(const cairn_profile *p, cairn_buf *out);

/*
 * Parses and validates profile JSON (len bytes, need not be NUL-terminated).
 * Everything cairn_profile_build guarantees is checked: format and version,
 * required fields and their types, counts adding up to n_rows and to each
 * feature's count, strictly increasing edges that start at min and end at
 * max, sorted samples and category lists, unique names. Unknown members are
 * ignored.
 * Errors: CAIRN_EINVALID with a message naming the field
 * ("features[2].quantiles.counts: ..."). Thread-safe.
 */
CAIRN_API int cairn_profile_from_json(cairn_profile **out, const char *json, size_t len);

/* NULL is a no-op. */
CAIRN_API void cairn_profile_free(cairn_profile *p);

/* ---- accessors (the profile must not be NULL) ---------------------------- */

/* Rows of the reference data. */
CAIRN_API uint64_t cairn_profile_n_rows(const cairn_profile *p);
/* The options the profile was built with. */
CAIRN_API cairn_profile_opts cairn_profile_options(const cairn_profile *p);
/* Number of features (frame columns), in frame order. */
CAIRN_API int cairn_profile_n_features(const cairn_profile *p);
/* Feature i (0 <= i < n_features), or NULL when out of range. */
CAIRN_API const cairn_profile_feature *cairn_profile_feature_at(const cairn_profile *p, int i);
/* Index of the feature named `name`, or -1. O(log n_features). */
CAIRN_API int cairn_profile_find(const cairn_profile *p, const char *name);
/* Number of prediction columns (0 when built without predictions). */
CAIRN_API int cairn_profile_n_predictions(const cairn_profile *p);
/* Prediction column k, always numeric, or NULL when out of range. */
CAIRN_API const cairn_profile_feature *cairn_profile_prediction_at(const cairn_profile *p, int k);

CAIRN_API const char *cairn_profile_feature_name(const cairn_profile_feature *f);
CAIRN_API cairn_profile_type cairn_profile_feature_type(const cairn_profile_feature *f);
/* Fills *out with a view of a numeric feature; CAIRN_EINVALID if categorical. */
CAIRN_API int cairn_profile_feature_numeric(const cairn_profile_feature *f,
                                            cairn_profile_numeric *out);
/* Fills *out with a view of a categorical feature; CAIRN_EINVALID if numeric. */
CAIRN_API int cairn_profile_feature_categorical(const cairn_profile_feature *f,
                                                cairn_profile_categorical *out);

#endif
