/*
 * serve_runtime.c - starts and stops what serving runs beside the request
 * handlers: dynamic batching, the prediction log, and (at stop) the
 * deployments' shift timer and shadow worker. One place for both servers
 * (`cairn server` and `cairn serve`) to apply cfg->serve.*.
 */
#include "serve_internal.h"

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
    return 0;
}

void cairn_serve_runtime_stop(cairn_serve *s)
{
    if (!s) return;
    cairn_serve__batch_stop();
    cairn_serve__deploy_shutdown();
    cairn_predlog *l = cairn_serve__predlog(s);
    cairn_serve__set_predlog(s, NULL);
    cairn_predlog_close(l); /* flushes */
}
