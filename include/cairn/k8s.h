/*
 * cairn/k8s.h - renders Kubernetes and Argo Workflows manifests.
 *
 * Three inputs, all plain visible structs whose strings are borrowed (the
 * renderers copy nothing and keep nothing):
 *   - cairn_k8s_workload: one container workload (image, command, env and
 *     secrets, resources with nvidia.com/gpu, node selector, tolerations,
 *     PersistentVolumeClaim mounts, service account, limits, metadata);
 *   - cairn_k8s_cron: a schedule, to wrap a workload in a CronJob;
 *   - cairn_k8s_dag: a neutral DAG of steps (name, argv, depends-on names,
 *     input and output paths, retries, timeout, per-step image/resources),
 *     rendered as an Argo Workflow with a DAG template or as one batch/v1
 *     Job per step. Pipelines are converted to it by their exporter.
 *
 * Output is YAML (block style, every ambiguous scalar double-quoted so YAML
 * 1.1 and 1.2 parsers read the same strings) or JSON (which is also YAML).
 * Several manifests are separate YAML documents ("---"), or in JSON one
 * `v1 List` object, which kubectl accepts.
 *
 * The functions are reentrant; they only allocate through cairn_* and write
 * to the caller's buffer. On error the buffer holds what was appended
 * before the failure (the caller frees it either way).
 */
#ifndef CAIRN_K8S_H
#define CAIRN_K8S_H

#include "cairn/buf.h"
#include "cairn/common.h"
#include <stddef.h>

typedef enum cairn_k8s_format { CAIRN_K8S_YAML = 0, CAIRN_K8S_JSON = 1 } cairn_k8s_format;

/* A key/value pair (labels, annotations, node selector, parameters). */
typedef struct cairn_k8s_kv {
    const char *key;
    const char *value;
} cairn_k8s_kv;

/*
 * One environment variable: a literal value, or (secret_name set) the key
 * secret_key of a Secret (valueFrom.secretKeyRef).
 */
typedef struct cairn_k8s_env {
    const char *name;
    const char *value;
    const char *secret_name;
    const char *secret_key;
} cairn_k8s_env;

/* A toleration; op is "Equal" (default when value is set) or "Exists";
 * effect "NoSchedule", "PreferNoSchedule", "NoExecute" or NULL (all). */
typedef struct cairn_k8s_toleration {
    const char *key;
    const char *op;
    const char *value;
    const char *effect;
} cairn_k8s_toleration;

/* A PersistentVolumeClaim mounted into the container. name may be NULL
 * (derived from the claim). */
typedef struct cairn_k8s_volume {
    const char *name;
    const char *claim;
    const char *mount_path;
    int read_only;
} cairn_k8s_volume;

/* Quantities as Kubernetes writes them ("500m", "2", "4Gi"); NULL: unset.
 * A limit left NULL while its request is set stays unset. gpu > 0 sets
 * nvidia.com/gpu in both requests and limits (extended resources must have
 * requests == limits). */
typedef struct cairn_k8s_resources {
    const char *cpu_request, *cpu_limit;
    const char *memory_request, *memory_limit;
    int gpu;
} cairn_k8s_resources;

/* One container workload. Arrays are (pointer, count); NULL/0 is empty. */
typedef struct cairn_k8s_workload {
    const char *name;              /* metadata.name; a DNS-1123 label (checked) */
    const char *namespace_;        /* NULL: none written (kubectl's current one) */
    const char *image;             /* required */
    const char *image_pull_policy; /* NULL: unset */
    const char *const *command;
    size_t ncommand; /* container command */
    const char *const *args;
    size_t nargs; /* container args */
    const char *working_dir;
    const cairn_k8s_env *env;
    size_t nenv;
    const char *const *env_from_secrets;
    size_t nenv_from_secrets; /* envFrom secretRef */
    cairn_k8s_resources resources;
    const cairn_k8s_kv *node_selector;
    size_t nnode_selector;
    const cairn_k8s_toleration *tolerations;
    size_t ntolerations;
    const cairn_k8s_volume *volumes;
    size_t nvolumes;
    const char *service_account;
    const char *restart_policy;      /* "Never" (NULL) or "OnFailure" */
    int backoff_limit;               /* < 0: unset (Kubernetes default 6) */
    long active_deadline_seconds;    /* <= 0: unset */
    long ttl_seconds_after_finished; /* < 0: unset */
    const cairn_k8s_kv *labels;
    size_t nlabels;
    const cairn_k8s_kv *annotations;
    size_t nannotations;
} cairn_k8s_workload;

#define CAIRN_K8S_WORKLOAD_INIT                                                                    \
    {                                                                                              \
        .backoff_limit = -1, .ttl_seconds_after_finished = -1                                      \
    }

/* CronJob settings. concurrency_policy: "Allow", "Forbid" or "Replace"
 * (NULL: Forbid, so a slow training run is never doubled). History limits
 * < 0 are unset. */
typedef struct cairn_k8s_cron {
    const char *schedule; /* five-field cron, required */
    const char *concurrency_policy;
    const char *time_zone; /* NULL: unset */
    int successful_jobs_history_limit;
    int failed_jobs_history_limit;
    int suspend;
} cairn_k8s_cron;

#define CAIRN_K8S_CRON_INIT                                                                        \
    {                                                                                              \
        .successful_jobs_history_limit = -1, .failed_jobs_history_limit = -1                       \
    }

/*
 * One DAG step. argv is the step's own command (for a pipeline stage,
 * `cairn pipeline run STAGE --no-deps`); it may contain Argo parameter
 * references "{{workflow.parameters.P}}", which the Jobs renderer replaces
 * by the parameter's value. inputs are pulled from the DAG's remote before
 * argv runs and outputs pushed after it succeeds. image NULL, resources all
 * unset, or node_selector/tolerations NULL fall back to the DAG defaults.
 */
typedef struct cairn_k8s_step {
    const char *name;
    const char *const *argv;
    size_t argc;
    const char *const *depends;
    size_t ndepends; /* names of other steps */
    const char *const *inputs;
    size_t ninputs;
    const char *const *outputs;
    size_t noutputs;
    int retries;          /* extra attempts; <= 0: none */
    long timeout_seconds; /* <= 0: none */
    const char *image;
    cairn_k8s_resources resources;
    const cairn_k8s_kv *node_selector;
    size_t nnode_selector;
    const cairn_k8s_toleration *tolerations;
    size_t ntolerations;
} cairn_k8s_step;

/*
 * A DAG. defaults gives what every step's container shares: image, env,
 * envFrom secrets (the S3 credentials), working_dir, volumes, service
 * account, node selector, tolerations, resources, labels, annotations;
 * defaults.name is ignored (name is used). Its command/args are ignored.
 */
typedef struct cairn_k8s_dag {
    const char *name; /* DNS-1123 label; Workflow generateName is name + "-" */
    const cairn_k8s_step *steps;
    size_t nsteps;
    cairn_k8s_workload defaults;
    const char *remote;    /* data remote for pull/push; NULL: no data sync */
    const char *cairn_bin; /* NULL: "cairn" */
    const cairn_k8s_kv *parameters;
    size_t nparameters;            /* name, default value */
    const char *retry_backoff;     /* Argo backoff.duration, NULL: "10s" */
    int retry_backoff_factor;      /* <= 0: 2 */
    const char *retry_backoff_max; /* NULL: "10m" */
    long active_deadline_seconds;  /* the whole workflow; <= 0: none */
    int fixed_name;                /* Workflow: metadata.name instead of generateName */
} cairn_k8s_dag;

/*
 * Appends a batch/v1 Job for w to out. CAIRN_EINVALID when a required
 * field is missing or malformed (name not a DNS-1123 label, no image,
 * a toleration effect or restart policy unknown).
 */
CAIRN_API int cairn_k8s_render_job(const cairn_k8s_workload *w, cairn_k8s_format fmt,
                                   cairn_buf *out);

/* Appends a batch/v1 CronJob running w on cron's schedule. CAIRN_EINVALID
 * as cairn_k8s_render_job, or for a missing schedule / unknown policy. */
CAIRN_API int cairn_k8s_render_cronjob(const cairn_k8s_workload *w, const cairn_k8s_cron *cron,
                                       cairn_k8s_format fmt, cairn_buf *out);

/*
 * Appends an argoproj.io/v1alpha1 Workflow: entrypoint "main", a DAG
 * template "main" with one task per step (dependencies from depends), one
 * container template per step with retryStrategy and activeDeadlineSeconds,
 * arguments.parameters from dag->parameters. CAIRN_EINVALID for an empty
 * DAG, duplicate or malformed step names (after turning them into DNS-1123
 * labels), an unknown dependency, or a cycle (the message names a step).
 */
CAIRN_API int cairn_k8s_render_workflow(const cairn_k8s_dag *dag, cairn_k8s_format fmt,
                                        cairn_buf *out);

/*
 * Appends one batch/v1 Job per step, in a topological order, named
 * DAG-STEP, each annotated cairn.dev/depends-on with the Job names it must
 * wait for (plain Jobs have no ordering: use the Workflow for that).
 * Errors as cairn_k8s_render_workflow.
 */
CAIRN_API int cairn_k8s_render_jobs(const cairn_k8s_dag *dag, cairn_k8s_format fmt, cairn_buf *out);

/*
 * Writes name as a DNS-1123 label into out (size n >= 64): lower case,
 * runs of other characters as one '-', trimmed, at most 63 characters.
 * CAIRN_EINVALID when nothing is left.
 */
CAIRN_API int cairn_k8s_label_name(const char *name, char *out, size_t n);

/*
 * Appends s to out as a YAML scalar: plain when every YAML 1.1 and 1.2
 * parser reads it back as that string, else double-quoted (or, with
 * block_ok and several lines, a literal block "|" whose lines are indented
 * by indent spaces). Exposed for tests and other emitters.
 */
CAIRN_API int cairn_k8s_yaml_scalar(cairn_buf *out, const char *s, int indent, int block_ok);

/* Appends s as one POSIX shell word: as is when made only of safe
 * characters, else single-quoted (' written as '\''). */
CAIRN_API int cairn_k8s_shell_word(cairn_buf *out, const char *s);

#endif
