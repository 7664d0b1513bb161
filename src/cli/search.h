/*
 * search.h - hyperparameter search for `cairn train --search FILE.yaml`:
 * the YAML spec, candidate generation (grid, random, successive halving)
 * and the trials, each scored by K-fold cross-validation and logged as a
 * nested run when a tracking server is in use.
 *
 * Spec (docs/train.md):
 *   method: grid | random | halving
 *   metric: auc | rmse | ...        direction: max | min (default by metric)
 *   cv: 3   trials: 10 (random; halving with ranges)   seed: 0   eta: 3
 *   params:
 *     learning_rate: [0.05, 0.1]              # a list of values
 *     lambda_l2: {low: 0.001, high: 10, log: true}   # a range (random, halving)
 */
#ifndef CAIRN_CLI_SEARCH_H
#define CAIRN_CLI_SEARCH_H

#include "train_common.h"

typedef enum cli_search_method {
    CLI_SEARCH_GRID = 0,
    CLI_SEARCH_RANDOM = 1,
    CLI_SEARCH_HALVING = 2
} cli_search_method;

typedef struct cli_search_param {
    char *name;
    int line;    /* line of the name in the file, for messages */
    int nvalues; /* a list: its values as text; 0 for a range */
    char **values;
    int *value_lines; /* (nvalues) */
    double low, high; /* a range */
    int log;          /* sample log-uniformly */
    int integer;      /* round samples (both bounds written as integers) */
} cli_search_param;

typedef struct cli_search_spec {
    char *file;
    cli_search_method method;
    char metric[32];
    int metric_line;
    int direction; /* 1 max, -1 min, 0 default by metric */
    int cv;        /* folds, default 3 */
    int trials;    /* random (and halving with ranges) candidates; default 10 / 27 */
    uint64_t seed;
    int eta; /* halving: keep the best 1/eta each rung; default 3 */
    int nparams;
    cli_search_param *params;
} cli_search_spec;

/* Parses the YAML file. CAIRN_EINVALID "FILE:LINE: reason" for a YAML
 * syntax error, an unknown key or a value of the wrong shape; CAIRN_ENOTFOUND
 * when the file can't be opened. On failure s is empty. */
int cli_search_load(cli_search_spec *s, const char *path);
void cli_search_free(cli_search_spec *s);

/* Checks the spec against the options of a model kind and a task: every
 * parameter known and every listed value (and range bound) accepted, the
 * metric one the task reports, halving not searching its own budget.
 * CAIRN_EINVALID "FILE:LINE: reason". */
int cli_search_check(const cli_search_spec *s, const cli_ml_opts *base, cairn_task task);

typedef struct cli_search_trial {
    int id;            /* 1-based */
    cli_ml_kv *params; /* (nparams) this candidate's values */
    int nparams;
    int budget;        /* budget of its last evaluation (halving) or the base budget */
    int rung;          /* last rung reached (halving), else 0 */
    double score, std; /* CV mean and std of the metric at that rung; NaN if it failed */
    char error[256];   /* why training failed, when it did */
    cli_ml_run run;    /* nested run, id empty without tracking */
} cli_search_trial;

typedef struct cli_search_result {
    int ntrials;
    cli_search_trial *trials;
    int best; /* index into trials, -1 when every trial failed */
    cli_ml_opts best_opts;
} cli_search_result;

/*
 * Runs the search over d with the base options (the --set values). With a
 * tracker (t not NULL) every candidate is a nested run of parent_run with
 * its params, the CV metric per rung (cv_<metric>, cv_<metric>_std, budget;
 * step = rung) and status FINISHED or FAILED. progress: one line per
 * evaluation on stderr. A failing trial is recorded, not fatal; the result
 * is CAIRN_EINVALID only when every trial failed (message: the first error).
 */
int cli_search_run(const cli_search_spec *s, const cli_ml_opts *base, const cli_ml_data *d,
                   cli_ml_tracker *t, const char *parent_run, int progress, cli_search_result *r);
/* Prints the trials as a table, best marked with '*'. */
void cli_search_print(const cli_search_spec *s, const cli_search_result *r);
void cli_search_result_free(cli_search_result *r);

#endif
