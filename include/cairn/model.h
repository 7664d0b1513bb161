/*
 * cairn/model.h - one handle over every kind of trained model (tree
 * ensembles from the GBDT learner or imported from XGBoost / LightGBM,
 * linear and logistic regression, k-means), with the schema it was trained
 * on, prediction on frames, and the native model file.
 *
 * Native file (see docs/internals/model.md): little-endian, versioned,
 * loadable with one read or mmap; `cairn model inspect` prints it as JSON.
 * A model directory holds that file (model.cairn), MLflow's `MLmodel` (YAML,
 * with a `cairn` flavor and the signature) and `profile.json` (the
 * reference profile monitoring compares live traffic against).
 *
 * Schema: the ordered feature names and types; for categorical features the
 * training dictionary, so a frame with its own dictionary is remapped by
 * category name at prediction time (unseen categories count as missing).
 * Models are immutable after construction; every function taking a const
 * model is thread-safe.
 */
#ifndef CAIRN_MODEL_H
#define CAIRN_MODEL_H

#include "cairn/buf.h"
#include "cairn/frame.h"

typedef struct cairn_model cairn_model;

typedef enum cairn_model_kind {
    CAIRN_MODEL_TREES = 1,    /* gradient-boosted trees (own or imported) */
    CAIRN_MODEL_LINEAR = 2,   /* OLS / ridge / lasso / elastic net */
    CAIRN_MODEL_LOGISTIC = 3, /* binary or multinomial logistic regression */
    CAIRN_MODEL_KMEANS = 4
} cairn_model_kind;

typedef enum cairn_task {
    CAIRN_TASK_REGRESSION = 1,
    CAIRN_TASK_BINARY = 2,     /* outputs: probability of class 1 */
    CAIRN_TASK_MULTICLASS = 3, /* outputs: one probability per class */
    CAIRN_TASK_CLUSTERING = 4  /* outputs: cluster index */
} cairn_task;

/* What the model was trained on; copied by the constructors below. */
typedef struct cairn_model_schema {
    const cairn_frame *features; /* column names, types and categorical dictionaries
                                    (values are not read); the model's feature order */
    const char *target;          /* target column name, may be NULL (k-means) */
    cairn_task task;
    int n_classes;               /* MULTICLASS: number of classes; BINARY: 2; else 0 */
    const char *const *class_labels; /* (n_classes) names of classes 0..k-1, or NULL */
} cairn_model_schema;

/* Constructors take ownership of the learner's model (also on failure, when
 * it is freed). CAIRN_EINVALID if the schema does not fit the learner's
 * model (feature count, class count). */
struct cairn_trees;
struct cairn_linear;
struct cairn_logistic;
struct cairn_kmeans;
CAIRN_API int cairn_model_from_trees(cairn_model **out, struct cairn_trees *t,
                                     const cairn_model_schema *schema);
CAIRN_API int cairn_model_from_linear(cairn_model **out, struct cairn_linear *m,
                                      const cairn_model_schema *schema);
CAIRN_API int cairn_model_from_logistic(cairn_model **out, struct cairn_logistic *m,
                                        const cairn_model_schema *schema);
CAIRN_API int cairn_model_from_kmeans(cairn_model **out, struct cairn_kmeans *m,
                                      const cairn_model_schema *schema);
CAIRN_API void cairn_model_free(cairn_model *m);

CAIRN_API cairn_model_kind cairn_model_kind_of(const cairn_model *m);
CAIRN_API cairn_task cairn_model_task(const cairn_model *m);
CAIRN_API int cairn_model_n_features(const cairn_model *m);
CAIRN_API const char *cairn_model_feature_name(const cairn_model *m, int i);
/* CAIRN_COL_F64 for numeric features (whatever their width), CAIRN_COL_CAT for categorical. */
CAIRN_API cairn_col_type cairn_model_feature_type(const cairn_model *m, int i);
CAIRN_API const char *cairn_model_target(const cairn_model *m);
/* Values per row written by predict: 1 (regression, binary, clustering) or n_classes. */
CAIRN_API int cairn_model_n_outputs(const cairn_model *m);
CAIRN_API const char *cairn_model_class_label(const cairn_model *m, int k);
/* Approximate heap bytes the model holds: schema (names, dictionaries,
 * class labels), coefficient / centroid arrays, tree nodes and bitsets.
 * Allocator overhead is not counted. 0 for NULL. Linear in the number of
 * trees and dictionary entries, so callers compute it once (at load). */
CAIRN_API size_t cairn_model_memory_bytes(const cairn_model *m);

/* Predicts every row of X, whose columns are matched to the model's
 * features by name (extra columns ignored). out: (X->nrows × n_outputs),
 * row-major. CAIRN_EINVALID if a feature is missing or has the wrong type.
 * n_threads 0: all cores; small batches run on the calling thread. */
CAIRN_API int cairn_model_predict(const cairn_model *m, const cairn_frame *X, double *out,
                                  int n_threads);
/* One row given as feature values in the model's order (categorical as
 * training codes, NaN / -1 for missing); no allocation. */
CAIRN_API int cairn_model_predict_row(const cairn_model *m, const double *x, double *out);

/* Native file. save writes atomically (temp + rename). load validates every
 * offset and count: a malformed or truncated file is CAIRN_ECORRUPT with a
 * message, a newer format version CAIRN_EUNSUPPORTED. */
CAIRN_API int cairn_model_save(const cairn_model *m, const char *path);
CAIRN_API int cairn_model_load(cairn_model **out, const char *path);
CAIRN_API int cairn_model_to_bytes(const cairn_model *m, cairn_buf *out);
CAIRN_API int cairn_model_from_bytes(cairn_model **out, const void *data, size_t len);
/* The whole model as JSON (schema, parameters, trees / coefficients / centroids). */
CAIRN_API int cairn_model_to_json(const cairn_model *m, cairn_buf *out);
/* MLflow's MLmodel YAML for this model: flavors (cairn, with the native file
 * name and format version), signature (inputs: feature names and types;
 * outputs), run_id if given, utc_time_created, model_uuid. */
CAIRN_API int cairn_model_mlmodel_yaml(const cairn_model *m, const char *run_id, cairn_buf *out);

/* Imports: XGBoost's JSON model (save_model("x.json")) and LightGBM's text
 * model (save_model("x.txt")) into the tree runtime, predictions equal to
 * theirs. Feature names come from the file when present, else f0..fN-1. */
CAIRN_API int cairn_model_import_xgboost(cairn_model **out, const char *json, size_t len);
CAIRN_API int cairn_model_import_lightgbm(cairn_model **out, const char *text, size_t len);

#endif
