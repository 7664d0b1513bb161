/*
 * train_common.h - what `cairn train`, `predict`, `evaluate`, `compare`,
 * `model` and the hyperparameter search share: learner options set from
 * key=value strings, a data set read from CSV with its target encoded for
 * the task, one fit entry point over every model kind, the metrics of each
 * task, K-fold cross-validation, tracking-server calls (runs, batches of
 * metrics, artifact uploads, registration) and model loading by path or
 * models:/ URI.
 *
 * Errors follow the library model: 0 or a negative cairn_code with the
 * message in cairn_error_last() (subsystem CAIRN_SUBSYS_CLI or the one that
 * failed); commands turn CAIRN_EINVALID from option parsing into exit 2.
 */
#ifndef CAIRN_CLI_TRAIN_COMMON_H
#define CAIRN_CLI_TRAIN_COMMON_H

#include <stdint.h>

#include "cairn/config.h"
#include "cairn/frame.h"
#include "cairn/gbdt.h"
#include "cairn/linear.h"
#include "cairn/model.h"

/* ---- options ------------------------------------------------------------ */

/* Every learner option plus the split settings; set through cli_ml_opts_set. */
typedef struct cli_ml_opts {
    cairn_model_kind kind;
    int objective;    /* 0: chosen from the target; else a cairn_task (--set objective=) */
    uint64_t seed;    /* split, folds, subsampling; also the learners' seed */
    double test_size; /* held-out fraction when no --valid file, (0, 1) */
    cairn_gbdt_opts gbdt;
    cairn_linear_opts linear;
    cairn_logistic_opts logistic;
    cairn_kmeans_opts kmeans;
} cli_ml_opts;

/* One key=value pair, as logged to the tracking server. */
typedef struct cli_ml_kv {
    char key[64];
    char value[128];
} cli_ml_kv;

#define CLI_ML_MAX_PARAMS 40

/* Defaults for a model kind (seed 42, test_size 0.2). */
void cli_ml_opts_init(cli_ml_opts *o, cairn_model_kind kind);
/* "gbdt", "linear", "logistic", "kmeans" <-> kind. parse: CAIRN_EINVALID. */
int cli_ml_kind_parse(const char *s, cairn_model_kind *out);
const char *cli_ml_kind_name(cairn_model_kind kind);
/* Applies one option. CAIRN_EINVALID (message names the key and what it
 * wants) for an unknown key, a bad value or one out of range. */
int cli_ml_opts_set(cli_ml_opts *o, const char *key, const char *value);
/* As cli_ml_opts_set with "key=value". */
int cli_ml_opts_set_kv(cli_ml_opts *o, const char *kv);
/* Writes the effective options of o's kind into out (at most max); returns
 * how many. Can't fail. */
int cli_ml_opts_list(const cli_ml_opts *o, cli_ml_kv *out, int max);
/* The option successive halving spends: "n_rounds" (gbdt) or "max_iter". */
const char *cli_ml_budget_key(const cli_ml_opts *o);
/* The budget's current value. */
int cli_ml_budget(const cli_ml_opts *o);

/* ---- data --------------------------------------------------------------- */

typedef struct cli_ml_read_opts {
    int has_header;          /* 1 unless --no-header (columns are then c0, c1, ...) */
    size_t skip_lines;       /* metadata lines before the header (--skip-lines) */
    const char *const *drop; /* columns left out of the features (--drop), not copied */
    int ndrop;
    const char *blobs;       /* artifact store directory for data given by content hash;
                                NULL: <store.home>/objects of the default home */
} cli_ml_read_opts;

/* The artifact store directory the configuration names (store.artifacts,
 * default <store.home>/objects). */
const char *cli_ml_blob_root(cairn_config *cfg);

/* True when `ref` names stored data by content hash: 64 lowercase hex
 * characters that are not also the name of a file. */
int cli_ml_is_hash_ref(const char *ref);

/* A data set: the feature frame and the target encoded for the task. */
typedef struct cli_ml_data {
    cairn_frame *X; /* the features: every column but the target and dropped ones */
    double *y;      /* (nrows) value or class index 0..n_classes-1; NULL without target */
    size_t nrows;
    char *target; /* NULL without target */
    cairn_task task;
    int n_classes;       /* classification: classes; else 0 */
    char **class_labels; /* (n_classes) names: category names or numbers as text */
} cli_ml_data;

/* Consumes a reading flag at argv[*i] (--no-header, --skip-lines N),
 * advancing *i past its value: 1 when consumed, 0 when argv[*i] is another
 * flag, -1 for a bad value (usage message printed). */
int cli_ml_read_flag(int argc, char **argv, int *i, cli_ml_read_opts *ro);
/* Reads a CSV file into a frame (CAIRN_EINVALID "path:line:col: ..."). */
int cli_ml_read_csv(cairn_frame **out, const char *path, const cli_ml_read_opts *ro);

/*
 * Reads `path`, takes `target` out of the features (NULL: none, k-means only)
 * and decides the task (see docs/train.md): k-means clusters; logistic is
 * binary or multiclass by class count; gbdt and linear regress unless the
 * target is categorical or holds exactly the values 0 and 1, or
 * o->objective says otherwise. CAIRN_ENOTFOUND when the target column is
 * missing; CAIRN_EINVALID for a target that does not fit the task (missing
 * values, one class, categories for linear regression). On failure d is
 * left empty.
 */
int cli_ml_data_load(cli_ml_data *d, const char *path, const cli_ml_read_opts *ro,
                     const char *target, const cli_ml_opts *o);
/* Reads a second file (--valid) shaped like `like`: the same feature
 * columns in the same order, categorical codes remapped onto like's
 * dictionaries (unseen categories become missing), the target encoded with
 * like's classes (an unknown class is CAIRN_EINVALID). */
int cli_ml_data_load_like(cli_ml_data *d, const char *path, const cli_ml_read_opts *ro,
                          const cli_ml_data *like);
/* The rows `idx` of d as a new data set sharing nothing with d. */
int cli_ml_data_take(cli_ml_data *out, const cli_ml_data *d, const size_t *idx, size_t n);
void cli_ml_data_free(cli_ml_data *d);

/* Encodes column `col` of f as targets for a model's task: regression
 * values, or class indices by the model's class labels. y: (f->nrows).
 * CAIRN_EINVALID for a missing value or an unknown class. */
int cli_ml_encode_target(const cairn_frame *f, int col, const cairn_model *m, double *y);

/* ---- fitting -------------------------------------------------------------- */

/* Per-round progress: GBDT rounds, drawn on stderr when `progress` is set. */
typedef struct cli_ml_fit {
    cairn_model *model;       /* owned by the caller after cli_ml_fit */
    double *gain, *splits;    /* gbdt: (n_features) importance; else NULL */
    double inertia;           /* k-means: training inertia */
    int n_rounds;             /* gbdt: rounds run */
    int best_round;           /* gbdt: kept round (early stopping) */
    double *train_metric;     /* gbdt: (n_rounds) per-round training metric */
    double *valid_metric;     /* gbdt: (n_rounds) per-round validation metric, NaN without */
    const char *round_metric; /* gbdt: "rmse", "logloss", "mlogloss" */
} cli_ml_fit;

/* Fits o's model kind on train (and v, may be NULL: GBDT's validation set
 * for per-round metrics and early stopping). progress: 1 draws a progress
 * line on stderr. On success r holds the model and extras (free with
 * cli_ml_fit_free); on failure r is empty. */
int cli_ml_train(const cli_ml_opts *o, const cli_ml_data *train, const cli_ml_data *v, int progress,
                 cli_ml_fit *r);
void cli_ml_fit_free(cli_ml_fit *r);

/* ---- metrics -------------------------------------------------------------- */

#define CLI_ML_MAX_METRICS 8

typedef struct cli_ml_metric {
    const char *name; /* static string */
    double value;
} cli_ml_metric;

/* The metrics of a task on n rows: classification auc, pr_auc, logloss,
 * accuracy, f1_macro (pred: probabilities as the model writes them);
 * regression rmse, mae, r2, mape; clustering silhouette (pred: cluster
 * indices; X needed, at most 2000 rows sampled with seed). Metrics undefined
 * for the data (one class in y) are left out. Returns how many were written,
 * or a negative cairn_code. */
int cli_ml_score(cairn_task task, int n_classes, const cairn_frame *X, const double *y,
                 const double *pred, size_t n, uint64_t seed, cli_ml_metric *out);
/* 1 when a larger value is better (auc, accuracy, r2, ...), 0 otherwise. */
int cli_ml_higher_better(const char *metric);
/* Predicted labels from model outputs: binary p >= 0.5, multiclass argmax,
 * clustering/regression the value itself. */
void cli_ml_labels(cairn_task task, int n_outputs, const double *pred, size_t n, double *out);

/* Mean and population std of each metric over K folds. */
typedef struct cli_ml_cv {
    int n;
    const char *name[CLI_ML_MAX_METRICS];
    double mean[CLI_ML_MAX_METRICS], std[CLI_ML_MAX_METRICS];
} cli_ml_cv;

/* Stratified (classification) or plain K-fold cross-validation of o on d,
 * folds drawn with o->seed. CAIRN_EINVALID for k < 2 or k > rows. */
int cli_ml_cross_validate(const cli_ml_opts *o, const cli_ml_data *d, int k, cli_ml_cv *out);
/* Value of `metric` in cv, or NaN. */
double cli_ml_cv_get(const cli_ml_cv *cv, const char *metric, double *std_out);

/* ---- tracking server ------------------------------------------------------- */

/* A connection to the tracking server of cfg (client.tracking_uri). */
typedef struct cli_ml_tracker {
    const cairn_config *cfg;
    char exp_id[64];
} cli_ml_tracker;

/* One run: its id and artifact root. */
typedef struct cli_ml_run {
    char id[64];
    char artifact_uri[1024];
} cli_ml_run;

/* JSON-free REST helpers; every failure sets the error message (the
 * server's error_code and message) and returns a negative code: CAIRN_EIO
 * when the server can't be reached. */
int cli_ml_experiment(cli_ml_tracker *t, const char *name);
int cli_ml_run_start(cli_ml_tracker *t, const char *run_name, const char *parent_run,
                     const cli_ml_kv *tags, int ntags, cli_ml_run *out);
int cli_ml_log_params(cli_ml_tracker *t, const char *run_id, const cli_ml_kv *p, int n);
/* Metrics key[i] = value[i] at step[i], sent in log-batch chunks of 1000. */
int cli_ml_log_metrics(cli_ml_tracker *t, const char *run_id, const char *const *key,
                       const double *value, const int64_t *step, size_t n);
/* Uploads the regular files of local dir `dir` under `sub` of the run's artifacts. */
int cli_ml_upload_dir(cli_ml_tracker *t, const cli_ml_run *run, const char *dir, const char *sub);
int cli_ml_run_end(cli_ml_tracker *t, const char *run_id, const char *status);
/* Creates the registered model `name` if needed and a version with source
 * and run_id; its number goes to *version. */
int cli_ml_register(cli_ml_tracker *t, const char *name, const char *source, const char *run_id,
                    int64_t *version);

/* ---- models ------------------------------------------------------------------ */

/*
 * Loads a model from a directory holding model.cairn, a model file, or a
 * URI: models:/NAME/VERSION, models:/NAME@ALIAS (resolved through the
 * registry of cfg's tracking server, the version's source downloaded
 * through the mlflow-artifacts proxy) or runs:/RUN_ID/PATH.
 */
int cli_ml_model_load(const cairn_config *cfg, const char *ref, cairn_model **out);

/* ---- small helpers -------------------------------------------------------- */

/* SHA-256 of a file's content as 64 hex characters. */
int cli_ml_file_sha256(const char *path, char hex[65]);
/* The commit checked out in the git repository holding `start` (a file or
 * directory), found by reading .git/HEAD and its ref by hand. 0 and the
 * 40-hex id, or CAIRN_ENOTFOUND outside a repository. */
int cli_ml_git_commit(const char *start, char out[41]);
/* Writes len bytes to path (temp file + rename). */
int cli_ml_write_file(const char *path, const void *data, size_t len);

#endif
