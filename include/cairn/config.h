/*
 * cairn/config.h - one configuration struct, a sub-struct per subsystem,
 * filled in layers: cairn_config_init() defaults < file < CAIRN_* environment
 * < flags. After start-up it is immutable and passed explicitly.
 *
 * Every setting has a dotted key ("http.port") used by all layers: the file is
 * YAML (`http: {port: 5000}` or `http.port: 5000`), the environment variable is
 * CAIRN_ plus the key upper-cased with dots as underscores (CAIRN_HTTP_PORT),
 * and flags call cairn_config_set() directly.
 */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include "cairn/core.h"

typedef struct cairn_config {
    struct {
        char *host;          /* http.host, default 127.0.0.1 */
        int port;            /* http.port, default 5000; 0 picks a free port */
        int threads;         /* http.threads, default one per core */
        size_t body_limit;   /* http.body_limit bytes, default 16 MiB */
        size_t artifact_limit; /* http.artifact_limit bytes for artifact uploads, default 1 GiB */
        int timeout_s;       /* http.timeout_s idle connection timeout, default 60 */
    } http;
    struct {
        char *home;          /* store.home, default ./.cairn */
        char *uri;           /* store.uri: sqlite path/URI or postgresql://...; default <home>/cairn.db */
        char *artifacts;     /* store.artifacts: artifact root; default <home>/objects */
        int sync_full;       /* store.sync_full: fsync every commit (default 0: WAL, crash-safe for process death) */
        int batch_max;       /* store.batch_max: most write requests in one group commit, default 512 */
    } store;
    struct {
        size_t memory_budget;  /* serve.memory_budget: bytes of loaded models before LRU eviction, default 1 GiB */
        int batch_max;         /* serve.batch_max: most rows in one dynamic batch; 0 or 1 = batching off (default 0) */
        int batch_delay_us;    /* serve.batch_delay_us: longest wait for a batch to fill, default 500 */
        char *batch_preferred; /* serve.batch_preferred: comma-separated preferred batch sizes, default none */
        int batch_eager;       /* serve.batch_eager: a request with no other in flight does not wait, default 1 */
        int predlog;           /* serve.predlog: append predictions to the prediction log, default 1 */
        char *predlog_dir;     /* serve.predlog_dir: default <home>/predictions */
        double predlog_sample; /* serve.predlog_sample: fraction of predictions logged, 0..1, default 1 */
        size_t predlog_max_bytes;     /* serve.predlog_max_bytes: whole log bound, default 1 GiB */
        size_t predlog_segment_bytes; /* serve.predlog_segment_bytes: rotation size, default 64 MiB */
        int monitor;          /* serve.monitor: inline drift monitoring of predictions, default 1 */
        char *monitor_policy; /* serve.monitor_policy: the monitoring policy file (YAML), default none */
    } serve;
    struct {
        char *tracking_uri;  /* client.tracking_uri (also CAIRN_TRACKING_URI), default http://127.0.0.1:5000 */
        int tracking_uri_set; /* 1 when a layer above the defaults set tracking_uri */
    } client;
    cairn_log_level log_level; /* log.level: debug|info|warn|error|off, default info */
} cairn_config;

CAIRN_API void cairn_config_init(cairn_config *cfg);
CAIRN_API void cairn_config_free(cairn_config *cfg);
/* Sets one dotted key from text. CAIRN_EINVALID (unknown key or bad value, with a message). */
CAIRN_API int cairn_config_set(cairn_config *cfg, const char *key, const char *value);
/* Loads a YAML file of (possibly nested) scalars. Errors carry file:line. */
CAIRN_API int cairn_config_load_file(cairn_config *cfg, const char *path);
/* Applies CAIRN_* variables from envp (NULL-terminated, as environ). Unknown
 * CAIRN_ variables are ignored; bad values are CAIRN_EINVALID. */
CAIRN_API int cairn_config_load_env(cairn_config *cfg, char *const *envp);
/* Fills derived defaults (store.uri and store.artifacts from store.home). */
CAIRN_API int cairn_config_finish(cairn_config *cfg);

#endif
