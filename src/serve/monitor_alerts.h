/*
 * monitor_alerts.h - the alert engine of the server (monitor_alerts.c:
 * rule state machines, persistence, REST; monitor_alerts_jobs.c: webhook
 * delivery and retraining on background threads). See
 * docs/internals/alerts.md.
 *
 * Whoever computes a monitoring signal (inline drift, quality with delayed
 * labels, request statistics, shadow agreement, or an external monitor
 * through POST /api/2.0/cairn/monitor/signals) reports it once per window
 * with cairn_serve__alerts_signal; the engine knows nothing of how a value
 * was computed. One engine per process.
 */
#ifndef CAIRN_SERVE_MONITOR_ALERTS_H
#define CAIRN_SERVE_MONITOR_ALERTS_H

#include "cairn/http.h"
#include "cairn/monitor_policy.h"
#include "cairn/store.h"

/* ---- lifecycle (called by the server) ---- */

/* Starts the engine with policy (taken: freed by cairn_serve__alerts_stop,
 * also on failure) over store: restores the firing alerts of the store
 * (alerts whose rule is no longer in the policy are resolved) and starts
 * the webhook and retraining threads. A NULL policy starts an engine with
 * no rules (signals are accepted and ignored; the REST listing still
 * works). Returns 0 or a store error. Not thread-safe against itself. */
int cairn_serve__alerts_start(cairn_store *store, cairn_monitor_policy *policy);

/* Registers POST /api/2.0/cairn/monitor/signals and GET
 * /api/2.0/cairn/monitor/alerts/{list,get,deliveries}. `host` is the
 * listen address (NULL: 127.0.0.1; 0.0.0.0 and :: become 127.0.0.1): with
 * srv's port it forms the tracking URI handed to retraining commands,
 * read when a command starts (so the port may be ephemeral). */
int cairn_serve__alerts_mount(cairn_http_server *srv, const char *host);

/* Stops the threads (a running retraining command is sent SIGTERM; queued
 * webhook deliveries are dropped), frees the state and the policy. Call
 * after the HTTP server stopped and before the store is closed.
 * Idempotent. */
void cairn_serve__alerts_stop(void);

/* ---- the entry point for monitoring code ---- */

/* Reports one signal of a closed window for deployment: kind is what the
 * rules' `when` names; name is the feature (drift; "*" for the share of
 * drifted features, 0..1), the metric (quality: "auc", "accuracy", "f1",
 * "rmse") or NULL (error_rate 0..1, latency_p99 in ms, shadow_agreement
 * 0..1); window_end_ms is when the window closed (<= 0: now). Every rule
 * of the deployment matching (kind, name) advances its state machine:
 * condition held -> one more consecutive window, firing after `for`;
 * condition clear -> resolved. A second signal for the same rule, subject
 * and window (same or older window_end_ms) is ignored, as is a NaN
 * value. Transitions are persisted asynchronously, webhooks and
 * retraining run on background threads: this never blocks on the
 * network or a child process. A no-op when the engine is not started.
 * Thread-safe. */
void cairn_serve__alerts_signal(const char *deployment, cairn_alert_kind kind, const char *name,
                                double value, int64_t window_end_ms);

/* The policy the engine runs (windows and per-feature statistics for the
 * drift code), or NULL when none is loaded. Valid until
 * cairn_serve__alerts_stop. Thread-safe. */
const cairn_monitor_policy *cairn_serve__alerts_policy(void);

/* Appends cairn_alerts_firing{deployment,rule} (gauge), and the counters
 * cairn_alert_transitions_total{state}, cairn_alert_webhook_deliveries_total
 * {outcome="delivered|dead"} and cairn_alert_retrain_runs_total
 * {outcome="started|skipped"} in the Prometheus text format 0.0.4 (HELP
 * and TYPE included). out unbounded. Thread-safe. */
void cairn_serve__alerts_metrics_write(cairn_buf *out);

/* ---- between monitor_alerts.c and monitor_alerts_jobs.c ---- */

/* One alert transition handed to the background threads (copied). */
typedef struct cairn_alert_event {
    char id[33];
    const cairn_monitor_rule *rule; /* owned by the policy, which outlives the jobs */
    char *deployment, *subject;
    const char *state; /* "firing" or "resolved" (static) */
    double value;
    int64_t started, resolved, window_end;
} cairn_alert_event;

/* Queues a webhook delivery of ev (when its rule has a webhook) and, for
 * a firing event of a rule with retrain, a retraining request. Never
 * blocks. */
void cairn_serve__alerts_dispatch(const cairn_alert_event *ev);
int cairn_serve__alerts_jobs_start(cairn_store *store);
void cairn_serve__alerts_jobs_stop(void);
void cairn_serve__alerts_jobs_set_server(cairn_http_server *srv, const char *host);
/* The counters the metrics report. */
void cairn_serve__alerts_jobs_counts(uint64_t *delivered, uint64_t *dead, uint64_t *started,
                                     uint64_t *skipped);

#endif
