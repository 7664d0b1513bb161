/*
 * cairn/pipeline.h - cached DAG pipelines declared in cairn.yaml.
 *
 * A pipeline file declares stages (a command, its deps, params, outs and
 * metrics, or a built-in kind: train, evaluate, register, validate).
 * cairn_pipeline_load parses and validates it (errors as "FILE:LINE: msg"),
 * expands foreach/matrix stages, builds the graph from outs to deps and
 * orders it topologically; the parsed stages are plain visible structs so
 * exporters (Argo, Kubernetes) can render them. cairn_pipeline_run executes
 * the stages that are not up to date, in parallel, caching their outputs in
 * a content-addressed store and recording them in cairn.lock.
 *
 * Nothing here writes to stdout; progress goes to a callback.
 * None of these functions is thread-safe on the same pipeline object.
 */
#ifndef CAIRN_PIPELINE_H
#define CAIRN_PIPELINE_H

#include "cairn/common.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum cairn_stage_kind {
    CAIRN_STAGE_CMD = 0,  /* a user command (cmd:) */
    CAIRN_STAGE_TRAIN,    /* cairn train --data --target --model --out */
    CAIRN_STAGE_EVALUATE, /* cairn evaluate --model --data --target --json > out */
    CAIRN_STAGE_REGISTER, /* register a model dir, move an alias if the gate holds */
    CAIRN_STAGE_VALIDATE  /* CSV data checks (schema, ranges, missing, unique) */
} cairn_stage_kind;

/* A key/value string pair (both owned by the structure holding it). */
typedef struct cairn_pipeline_kv {
    char *key;
    char *value;
} cairn_pipeline_kv;

/* A Kubernetes toleration, for exporters (fields may be NULL). */
typedef struct cairn_pipeline_toleration {
    char *key, *op, *value, *effect;
} cairn_pipeline_toleration;

/* Validation rule for one CSV column (kind: validate). */
typedef struct cairn_pipeline_col_rule {
    char *name;
    char *type; /* "int", "float", "string" or NULL (any) */
    bool has_min, has_max;
    double min, max;
    double max_missing; /* fraction 0..1; < 0 when not set */
    bool unique;
} cairn_pipeline_col_rule;

/*
 * One stage after expansion. Every string is owned by the pipeline and
 * lives until cairn_pipeline_free. Exactly one of cmd / argv is set for
 * CAIRN_STAGE_CMD stages; built-in kinds always have argv (argv[0] is
 * "cairn", replaced by the running binary when executed).
 */
typedef struct cairn_pipeline_stage {
    char *name; /* "train" or "feat@a" for a foreach/matrix item */
    int line;   /* line of the stage in the pipeline file */
    cairn_stage_kind kind;
    char *cmd;   /* shell command run with /bin/sh -c, or NULL */
    char **argv; /* NULL-terminated argument vector, or NULL */
    int argc;
    char **deps; /* paths relative to the pipeline directory */
    int *dep_lines;
    int ndeps;
    char **outs;
    int nouts;
    char **metrics; /* JSON files {name: number} (also nested "test"/"metrics") */
    int nmetrics;
    cairn_pipeline_kv *params; /* resolved values, sorted by key */
    int nparams;
    int retries;        /* extra attempts after a failure */
    int64_t timeout_ms; /* 0: none */
    char *stdout_path;  /* evaluate: stdout goes to this out file, else NULL */
    /* Exporter fields (not used by the local runner). */
    char *image;
    char *cpu, *memory; /* resources requests, as written ("500m", "2Gi") */
    int gpu;
    cairn_pipeline_kv *node_selector;
    int nnode_selector;
    cairn_pipeline_toleration *tolerations;
    int ntolerations;
    /* Built-in kinds. */
    cairn_pipeline_kv *opts; /* kind options as written (data, target, ...) */
    int nopts;
    cairn_pipeline_col_rule *rules; /* validate */
    int nrules;
    double max_missing; /* validate: for every column; < 0 unset */
    /* Graph. */
    int *upstream; /* indices of the stages producing a dep */
    int nupstream;
} cairn_pipeline_stage;

typedef struct cairn_pipeline cairn_pipeline;

/*
 * Parses and validates the pipeline file at path. sets (may be NULL) are
 * --set key=value overrides of params. On failure *out is NULL and the
 * message reads "FILE:LINE: ..." (unknown keys get a suggestion; cycles
 * and missing deps name the stage's line). Codes: CAIRN_EINVALID (bad
 * file), CAIRN_ENOTFOUND (no file), CAIRN_EIO.
 */
CAIRN_API int cairn_pipeline_load(cairn_pipeline **out, const char *path,
                                  const cairn_pipeline_kv *sets, int nsets);
/* As cairn_pipeline_load, from text in memory (not copied; need not be
 * NUL-terminated): name is used in messages, dir is where deps are looked
 * up and the params file is read from. */
CAIRN_API int cairn_pipeline_load_buf(cairn_pipeline **out, const char *name, const char *text,
                                      size_t len, const char *dir, const cairn_pipeline_kv *sets,
                                      int nsets);
CAIRN_API void cairn_pipeline_free(cairn_pipeline *p);
CAIRN_API int cairn_pipeline_nstages(const cairn_pipeline *p);
/* The i-th stage in file order (borrowed); NULL when out of range. */
CAIRN_API const cairn_pipeline_stage *cairn_pipeline_stage_at(const cairn_pipeline *p, int i);
/* Stage indices in a topological order (upstream first; nstages entries). */
CAIRN_API const int *cairn_pipeline_order(const cairn_pipeline *p);
/* Index of the stage named name, or -1. A plain foreach base name is not a stage. */
CAIRN_API int cairn_pipeline_find(const cairn_pipeline *p, const char *name);
/* The directory that deps/outs are relative to (borrowed). */
CAIRN_API const char *cairn_pipeline_dir(const cairn_pipeline *p);

/* Progress events from cairn_pipeline_run. */
typedef enum cairn_pipeline_event_kind {
    CAIRN_PEV_SKIP,    /* up to date */
    CAIRN_PEV_RESTORE, /* outs restored from the cache */
    CAIRN_PEV_START,   /* attempt started (attempt >= 1) */
    CAIRN_PEV_DONE,
    CAIRN_PEV_FAIL,      /* attempt failed; message says why */
    CAIRN_PEV_BLOCKED,   /* not run because an upstream stage failed */
    CAIRN_PEV_WOULD_RUN, /* --dry-run */
    CAIRN_PEV_NOTE       /* informational (e.g. tracking unreachable) */
} cairn_pipeline_event_kind;

typedef struct cairn_pipeline_event {
    cairn_pipeline_event_kind kind;
    const char *stage; /* NULL for NOTE */
    int attempt;
    double seconds; /* DONE/FAIL: duration */
    const char *message;
} cairn_pipeline_event;

typedef void (*cairn_pipeline_progress_cb)(const cairn_pipeline_event *ev, void *payload);

typedef struct cairn_pipeline_run_opts {
    unsigned version;
    const char *const *targets; /* run these (and their upstream); NULL: all */
    int ntargets;
    const cairn_pipeline_kv *sets;
    int nsets;
    bool force;               /* run even when up to date */
    bool dry_run;             /* report what would run, run nothing */
    int jobs;                 /* parallel stages; <= 0: cairn_ncpu() */
    const char *tracking_uri; /* MLflow REST base; NULL: no tracking */
    const char *experiment;   /* NULL: "Default" */
    const char *cairn_exe;    /* binary for built-in kinds; NULL: /proc/self/exe */
    cairn_pipeline_progress_cb progress;
    void *payload;
    bool no_deps; /* with targets: run only them, not their upstream */
} cairn_pipeline_run_opts;

#define CAIRN_PIPELINE_RUN_OPTS_VERSION 1
#define CAIRN_PIPELINE_RUN_OPTS_INIT                                                               \
    {                                                                                              \
        CAIRN_PIPELINE_RUN_OPTS_VERSION, NULL, 0, NULL, 0, false, false, 0, NULL, NULL, NULL,      \
            NULL, NULL, false                                                                      \
    }

typedef struct cairn_pipeline_result {
    int executed, skipped, restored, failed, blocked;
    bool tracked;           /* a tracking server answered */
    char failed_stage[128]; /* first failing stage, or "" */
    char parent_run_id[64]; /* the pipeline's tracked run, or "" */
} cairn_pipeline_result;

/*
 * Loads path and runs the selected stages. Returns 0 when every selected
 * stage succeeded or was up to date; CAIRN_ERROR when a stage failed
 * (result->failed_stage names it, the error message says why); load errors
 * as cairn_pipeline_load. The lock file (cairn.lock beside path) is updated
 * after each stage that succeeds. Tracking failures are benign: the run
 * goes on untracked and a NOTE event says so once.
 */
CAIRN_API int cairn_pipeline_run(const char *path, const cairn_pipeline_run_opts *opts,
                                 cairn_pipeline_result *result);

/* Per-stage status for `cairn pipeline status`. */
typedef void (*cairn_pipeline_status_cb)(const char *stage, bool up_to_date, const char *why,
                                         void *payload);
/*
 * Calls cb for each stage in topological order with whether it is up to
 * date and, if not, why (which dep/param/cmd changed, outs missing, never
 * run, upstream stale). Returns 0 or a load error.
 */
CAIRN_API int cairn_pipeline_status(const char *path, const cairn_pipeline_kv *sets, int nsets,
                                    cairn_pipeline_status_cb cb, void *payload);

/*
 * Validates a CSV file against a validate stage's rules, appending a
 * readable report to *report (cairn_malloc'd, caller frees). Returns 0
 * when every check passes, CAIRN_EINVALID when one fails, or a read error.
 */
CAIRN_API int cairn_pipeline_validate_csv(const char *csv_path, const cairn_pipeline_stage *st,
                                          char **report);

/*
 * The built-in register step: reads the metrics file, checks the gate
 * (gate_metric >= gate_min and/or <= gate_max; NULL metric: no gate), and
 * only then registers model_dir's tracked model (its metrics.json run_id)
 * as a new version of name and points alias at it. CAIRN_EINVALID with a
 * clear message when the gate fails; *version_out gets the new version.
 */
typedef struct cairn_pipeline_register_opts {
    const char *tracking_uri;
    const char *model_dir;
    const char *name;
    const char *alias;        /* may be NULL */
    const char *metrics_path; /* NULL: model_dir/metrics.json */
    const char *gate_metric;  /* may be NULL */
    bool has_min, has_max;
    double gate_min, gate_max;
} cairn_pipeline_register_opts;
CAIRN_API int cairn_pipeline_register_step(const cairn_pipeline_register_opts *o,
                                           int64_t *version_out);

/* Looks up a metric in a metrics JSON file: top level, then inside the
 * "metrics" or "test" objects. CAIRN_ENOTFOUND when absent. */
CAIRN_API int cairn_pipeline_metric_get(const char *path, const char *name, double *out);

#endif
