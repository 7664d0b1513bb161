/*
 * model_internal.h - the cairn_model struct shared by model.c (construction,
 * accessors, prediction), model_file.c (native file) and model_json.c (JSON
 * dump, MLmodel YAML).
 *
 * Key idea: a model holds its own copy of the schema and, for linear,
 * logistic and k-means models, the raw parameter arrays (prediction is done
 * here from them), so a model loaded from a file does not depend on the
 * learners' internals. Tree ensembles stay a cairn_trees (owned).
 */
#ifndef CAIRN_ML_MODEL_INTERNAL_H
#define CAIRN_ML_MODEL_INTERNAL_H

#include "cairn/model.h"
#include "cairn/trees.h"

#define CAIRN_MODEL_FORMAT_VERSION 1u

/* Bounds applied to schemas (constructors and file loading alike). */
#define CAIRN_MODEL_MAX_FEATURES (1 << 20)
#define CAIRN_MODEL_MAX_CLASSES (1 << 16)
#define CAIRN_MODEL_MAX_STRING (1u << 16) /* bytes of one name or category */

struct cairn_model_feature {
    char *name;          /* owned */
    cairn_col_type type; /* CAIRN_COL_F64 (numeric) or CAIRN_COL_CAT */
    int32_t ndict;       /* categorical: training dictionary size */
    char **dict;         /* (ndict) owned */
    int32_t *sorted;     /* (ndict) dictionary indices sorted by name, for remapping */
};

struct cairn_model {
    cairn_model_kind kind;
    cairn_task task;
    int n_features;
    struct cairn_model_feature *feat; /* (n_features) */
    char *target;                     /* owned, may be NULL */
    int n_classes;                    /* BINARY 2, MULTICLASS k, else 0 */
    char **class_labels;              /* (n_classes) owned, or NULL when n_classes == 0 */
    int n_outputs;

    cairn_trees *trees; /* TREES: owned */

    /* LINEAR: rows 1; LOGISTIC: 1 (binary) or n_classes; KMEANS: k. */
    int rows;
    double *coef;      /* (rows, n_features) row-major; KMEANS: the centroids */
    double *intercept; /* (rows); NULL for KMEANS */
    int32_t *classes;  /* LOGISTIC: (n_classes) the learner's sorted labels */
};

/*
 * An empty model of `kind` with the schema filled in (feature names, types,
 * dictionaries, target, task, classes, class labels; labels default to
 * default_labels when given (n_classes), else "0".."k-1"). Checks names are
 * non-empty, unique and bounded. Returns 0 or CAIRN_EINVALID; *out NULL on
 * failure. The parameters are left for the caller to fill.
 */
int cairn_model__new(cairn_model **out, cairn_model_kind kind, const cairn_model_schema *schema,
                     const char *const *default_labels);
/* The sorted-index table of feature j's dictionary; can't fail. */
void cairn_model__sort_dict(struct cairn_model_feature *f);
/* Checks that the parameters fit the kind, task and schema (shared by the
 * constructors and the loader). Returns 0 or `code` with a message. */
int cairn_model__check(const cairn_model *m, int code);
/* SHA-256 of a native file of len bytes with its digest field (bytes
 * 40..71) taken as zeros: what the header stores. CAIRN_ECORRUPT if len is
 * shorter than the header. Used by the loader and by the fuzz target to
 * re-seal mutated inputs. */
int cairn_model__digest(const void *data, size_t len, uint8_t out[32]);
/* Names used in JSON and MLmodel: "gbdt", "linear", "logistic", "kmeans";
 * "regression", "binary", "multiclass", "clustering". */
const char *cairn_model__kind_name(cairn_model_kind kind);
const char *cairn_model__task_name(cairn_task task);

#endif
