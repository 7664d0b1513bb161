/*
 * serve_runtime.c - starts and stops what serving runs beside the request
 * handlers: dynamic batching, the prediction log, and (at stop) the
 * deployments' shift timer and shadow worker. One place for both servers
 * (`cairn server` and `cairn serve`) to apply cfg->serve.*.
 */
#include "monitor_alerts.h"
#include "monitor_drift.h"
#include "monitor_quality.h"
#include "serve_internal.h"

#include <string.h>

/* Quality windows feed the alert engine (metric names as the policy's). */
static void quality_to_alerts(const char *deployment, const char *metric, double value,
                              int64_t window_end_ms, void *payload)
{
    (void)payload;
    if (strcmp(metric, "f1_macro") == 0) metric = "f1";
    cairn_serve__alerts_signal(deployment, CAIRN_ALERT_QUALITY, metric, value, window_end_ms);
}

int cairn_serve_runtime_start(cairn_serve *s, const cairn_config *cfg)
{
    cairn_serve_set_memory_budget(s, cfg->serve.memory_budget);
    int rc = cairn_serve__batch_start(cfg->serve.batch_max, cfg->serve.batch_delay_us,
                                      cfg->serve.batch_preferred, cfg->serve.batch_eager);
    if (rc) return rc;
    if (cfg->serve.predlog && cfg->serve.predlog_sample > 0) {
        cairn_predlog_opts o = CAIRN_PREDLOG_OPTS_INIT;
        cairn_predlog *l = NULL;
        o.dir = cfg->serve.predlog_dir;
        o.sample = cfg->serve.predlog_sample;
        o.segment_bytes = cfg->serve.predlog_segment_bytes;
        o.max_bytes = cfg->serve.predlog_max_bytes;
        if ((rc = cairn_predlog_open(&l, &o))) {
            cairn_serve__batch_stop();
            return rc;
        }
        cairn_serve__set_predlog(s, l);
    }
    cairn_monitor_policy *policy = NULL;
    if ((cfg->serve.monitor_policy &&
         (rc = cairn_monitor_policy_load(&policy, cfg->serve.monitor_policy))) ||
        (rc = cairn_serve__alerts_start(cairn_serve__store(s), policy))) {
        cairn_serve_runtime_stop(s);
        return rc;
    }
    cairn_quality_opts q = CAIRN_QUALITY_OPTS_INIT;
    q.predlog_dir = cfg->serve.predlog ? cfg->serve.predlog_dir : NULL;
    const cairn_monitor_policy *p = cairn_serve__alerts_policy();
    if (p) { /* the policy's top-level window (labels arrive per deployment) */
        cairn_monitor_window w = cairn_monitor_policy_window(p, NULL);
        q.window_rows = w.rows;
        q.window_seconds = w.seconds;
    }
    cairn_serve__quality_configure(&q);
    cairn_serve__quality_on_window(quality_to_alerts, NULL);
    if ((rc = cairn_serve__drift_start(s, cfg->serve.monitor, 10000, 300))) {
        cairn_serve_runtime_stop(s);
        return rc;
    }
    return 0;
}

void cairn_serve_runtime_stop(cairn_serve *s)
{
    if (!s) return;
    cairn_serve__batch_stop();
    cairn_serve__drift_stop(); /* evaluates the open windows: before the alert engine stops */
    cairn_serve__deploy_shutdown();
    cairn_serve__quality_shutdown();
    cairn_serve__alerts_stop();
    cairn_predlog *l = cairn_serve__predlog(s);
    cairn_serve__set_predlog(s, NULL);
    cairn_predlog_close(l); /* flushes */
}
