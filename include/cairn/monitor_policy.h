/*
 * cairn/monitor_policy.h - the monitoring policy file (YAML): windows,
 * per-feature drift statistic overrides, alert rules and webhooks, for the
 * whole server and per deployment. Library module `monitor`.
 *
 *   window: {rows: 10000, seconds: 300}     # a window closes at whichever comes first
 *   features:
 *     age: {statistic: psi, threshold: 0.2}
 *   webhooks:
 *     ops: {url: "http://hooks.example/cairn", retries: 3, timeout: 5s}
 *   alerts:
 *     - name: age-drift
 *       when: drift                            # drift|quality|error_rate|latency_p99|shadow_agreement
 *       feature: age                           # drift: omitted = each feature on its own; "*" = share drifted
 *       above: 0.2                             # exactly one of above / below
 *       for: 3                                 # consecutive windows (default 1)
 *       webhook: ops                           # a name under webhooks, or a URL
 *       retrain: {command: [./retrain.sh, --fast], debounce: 1h, max_per_day: 3}
 *   deployments:
 *     fraud:                                   # overrides for one deployment
 *       window: {rows: 500}
 *       features: {amount: {statistic: ks}}
 *       alerts: [...]                          # added to the top-level rules (same name replaces)
 *
 * Validation is strict: unknown keys (with a suggestion), wrong types,
 * missing fields and bad values are CAIRN_EINVALID with "FILE:LINE: ..."
 * in the error message. `retrain: {pipeline: NAME}` runs the server's
 * pipeline trigger NAME (as the command `cairn trigger run NAME --wait`,
 * so the retraining run waits for the pipeline and records its outcome).
 *
 * A loaded policy is immutable; every accessor is thread-safe, and the
 * returned pointers live as long as the policy.
 */
#ifndef CAIRN_MONITOR_POLICY_H
#define CAIRN_MONITOR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/common.h"
#include "cairn/drift.h"

typedef struct cairn_monitor_policy cairn_monitor_policy;

/* What a rule watches: the `kind` argument of an alert signal. */
typedef enum cairn_alert_kind {
    CAIRN_ALERT_DRIFT = 1,           /* a drift score per feature ("*": share of drifted features) */
    CAIRN_ALERT_QUALITY = 2,         /* a quality metric per window: auc, accuracy, f1, rmse */
    CAIRN_ALERT_ERROR_RATE = 3,      /* share of failed requests in the window, 0..1 */
    CAIRN_ALERT_LATENCY_P99 = 4,     /* 99th percentile latency in the window, ms */
    CAIRN_ALERT_SHADOW_AGREEMENT = 5 /* shadow agreement rate in the window, 0..1 */
} cairn_alert_kind;

/* "drift", "quality", "error_rate", "latency_p99", "shadow_agreement";
 * NULL for an unknown value. */
CAIRN_API const char *cairn_alert_kind_name(cairn_alert_kind k);
/* Parses a name above; CAIRN_EINVALID otherwise. */
CAIRN_API int cairn_alert_kind_parse(const char *name, cairn_alert_kind *out);

/* Window bounds: a window closes after `rows` predictions or `seconds`,
 * whichever comes first; 0 means no bound of that kind (never both 0).
 * Default {10000 rows, 300 s}, as without a policy. */
typedef struct cairn_monitor_window {
    int64_t rows;
    int64_t seconds;
} cairn_monitor_window;

/* One alert rule, as loaded (all strings owned by the policy). */
typedef struct cairn_monitor_rule {
    const char *name;
    cairn_alert_kind kind;
    const char *subject; /* feature (drift) or metric (quality); NULL: any */
    int above;           /* 1: condition is value > threshold; 0: value < threshold */
    double threshold;
    int for_windows;     /* consecutive windows the condition must hold (>= 1) */
    /* webhook: NULL url when the rule has none */
    const char *webhook_name; /* the webhooks entry, or NULL for an inline URL */
    const char *webhook_url;
    int webhook_retries;      /* attempts after the first (default 3) */
    int64_t webhook_timeout_ms; /* per attempt (default 5000) */
    /* retraining: retrain_argc 0 when the rule has none */
    const char *const *retrain_argv; /* NULL-terminated, retrain_argc entries */
    int retrain_argc;
    int64_t debounce_ms;      /* no new run for this rule within it (default 1 h) */
    int max_per_day;          /* runs in any 24 h for this rule (default 3) */
    int line;                 /* 1-based line of the rule in the file */
} cairn_monitor_rule;

/* Parses a policy from text (len bytes, at most 1 MiB). `name` prefixes
 * error messages (usually the file path). On success *out is the policy
 * (free with cairn_monitor_policy_free). CAIRN_EINVALID with
 * "NAME:LINE: ..." for any problem; CAIRN_ETOOBIG past 1 MiB. */
CAIRN_API int cairn_monitor_policy_parse(cairn_monitor_policy **out, const char *text, size_t len,
                                         const char *name);
/* Reads and parses a file. CAIRN_ENOTFOUND when it cannot be opened. */
CAIRN_API int cairn_monitor_policy_load(cairn_monitor_policy **out, const char *path);
/* NULL is a no-op. */
CAIRN_API void cairn_monitor_policy_free(cairn_monitor_policy *p);

/* The window of deployment (its own section, else the top level). */
CAIRN_API cairn_monitor_window cairn_monitor_policy_window(const cairn_monitor_policy *p,
                                                           const char *deployment);
/* The statistic and threshold configured for feature of deployment (the
 * deployment's section first, then the top level). Returns 1 when the
 * policy names the feature: *stat is its statistic (CAIRN_DRIFT_AUTO if
 * only the threshold is set) and *threshold its threshold (NaN if only the
 * statistic is set). Returns 0 (outputs set to AUTO / NaN) otherwise. */
CAIRN_API int cairn_monitor_policy_feature(const cairn_monitor_policy *p, const char *deployment,
                                           const char *feature, cairn_drift_stat *stat,
                                           double *threshold);
/* The rules that apply to deployment: the top-level rules, with those of
 * the deployment's section added (a rule of the same name replaces the
 * top-level one). Fills up to max pointers and returns the total count. */
CAIRN_API int cairn_monitor_policy_rules(const cairn_monitor_policy *p, const char *deployment,
                                         const cairn_monitor_rule **rules, int max);
/* Every distinct rule in the file (top level, then each deployment
 * section in file order), for listing. Returns the total count. */
CAIRN_API int cairn_monitor_policy_all_rules(const cairn_monitor_policy *p,
                                             const cairn_monitor_rule **rules, int max);

#endif
