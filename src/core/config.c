/*
 * config.c - layered configuration: defaults < YAML file < CAIRN_* environment
 * < flags. One table maps each dotted key to its field and type, so every
 * layer accepts exactly the same keys.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cairn/config.h"

enum kind { K_STR, K_INT, K_SIZE, K_BOOL, K_LEVEL, K_FRACTION };

struct key {
    const char *name;
    enum kind kind;
    size_t offset;
};

#define F(field) offsetof(cairn_config, field)
static const struct key keys[] = {
    {"http.host", K_STR, F(http.host)},
    {"http.port", K_INT, F(http.port)},
    {"http.threads", K_INT, F(http.threads)},
    {"http.body_limit", K_SIZE, F(http.body_limit)},
    {"http.artifact_limit", K_SIZE, F(http.artifact_limit)},
    {"http.timeout_s", K_INT, F(http.timeout_s)},
    {"store.home", K_STR, F(store.home)},
    {"store.uri", K_STR, F(store.uri)},
    {"store.artifacts", K_STR, F(store.artifacts)},
    {"store.sync_full", K_BOOL, F(store.sync_full)},
    {"store.batch_max", K_INT, F(store.batch_max)},
    {"serve.memory_budget", K_SIZE, F(serve.memory_budget)},
    {"serve.batch_max", K_INT, F(serve.batch_max)},
    {"serve.batch_delay_us", K_INT, F(serve.batch_delay_us)},
    {"serve.batch_preferred", K_STR, F(serve.batch_preferred)},
    {"serve.batch_eager", K_BOOL, F(serve.batch_eager)},
    {"serve.predlog", K_BOOL, F(serve.predlog)},
    {"serve.predlog_dir", K_STR, F(serve.predlog_dir)},
    {"serve.predlog_sample", K_FRACTION, F(serve.predlog_sample)},
    {"serve.predlog_max_bytes", K_SIZE, F(serve.predlog_max_bytes)},
    {"serve.predlog_segment_bytes", K_SIZE, F(serve.predlog_segment_bytes)},
    {"serve.monitor", K_BOOL, F(serve.monitor)},
    {"serve.monitor_policy", K_STR, F(serve.monitor_policy)},
    {"client.tracking_uri", K_STR, F(client.tracking_uri)},
    {"log.level", K_LEVEL, F(log_level)},
};
#undef F

void cairn_config_init(cairn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->http.host = cairn_strdup("127.0.0.1");
    cfg->http.port = 5000;
    cfg->http.threads = 0;
    cfg->http.body_limit = 16u << 20;
    cfg->http.artifact_limit = (size_t)1 << 30;
    cfg->http.timeout_s = 60;
    cfg->store.home = cairn_strdup(".cairn");
    cfg->store.batch_max = 512;
    cfg->serve.memory_budget = (size_t)1 << 30;
    cfg->serve.batch_delay_us = 500;
    cfg->serve.batch_eager = 1;
    cfg->serve.predlog = 1;
    cfg->serve.monitor = 1;
    cfg->serve.predlog_sample = 1.0;
    cfg->serve.predlog_max_bytes = (size_t)1 << 30;
    cfg->serve.predlog_segment_bytes = (size_t)64 << 20;
    cfg->client.tracking_uri = cairn_strdup("http://127.0.0.1:5000");
    cfg->log_level = CAIRN_LOG_INFO;
}

void cairn_config_free(cairn_config *cfg)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(keys); i++) {
        if (keys[i].kind != K_STR) continue;
        char **p = (char **)((char *)cfg + keys[i].offset);
        cairn_free(*p);
        *p = NULL;
    }
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    double n = strtod(v, &end);
    if (end == v || n < 0) return -1;
    while (*end == ' ') end++;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1024.0 * 1024; end++; break;
    case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (toupper((unsigned char)*end) == 'I') end++;
    if (toupper((unsigned char)*end) == 'B') end++;
    if (*end) return -1;
    *out = (size_t)(n * mul);
    return 0;
}

int cairn_config_set(cairn_config *cfg, const char *key, const char *value)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(keys); i++) {
        if (strcmp(keys[i].name, key) != 0) continue;
        void *field = (char *)cfg + keys[i].offset;
        int64_t n;
        switch (keys[i].kind) {
        case K_STR:
            cairn_free(*(char **)field);
            *(char **)field = cairn_strdup(value);
            if (field == (void *)&cfg->client.tracking_uri) cfg->client.tracking_uri_set = 1;
            return 0;
        case K_INT:
            if (cairn_parse_i64(value, &n) || n < 0 || n > 1000000000)
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                       "%s: '%s' is not a non-negative integer", key, value);
            *(int *)field = (int)n;
            return 0;
        case K_SIZE:
            if (parse_size(value, (size_t *)field))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                       "%s: '%s' is not a size (e.g. 16M)", key, value);
            return 0;
        case K_BOOL:
            if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes")) {
                *(int *)field = 1;
            } else if (!strcmp(value, "0") || !strcasecmp(value, "false") ||
                       !strcasecmp(value, "no")) {
                *(int *)field = 0;
            } else {
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                       "%s: '%s' is not a boolean", key, value);
            }
            return 0;
        case K_FRACTION: {
            char *end;
            double x = strtod(value, &end);
            if (end == value || *end || !(x >= 0 && x <= 1))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                       "%s: '%s' is not a fraction between 0 and 1", key, value);
            *(double *)field = x;
            return 0;
        }
        case K_LEVEL:
            if (cairn_log_parse_level(value, (cairn_log_level *)field))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s: unknown level '%s'",
                                       key, value);
            return 0;
        }
    }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "unknown setting '%s'", key);
}

/* Walks a YAML mapping, joining nested keys with dots. */
static int load_mapping(cairn_config *cfg, yaml_parser_t *p, const char *path, const char *prefix)
{
    yaml_event_t ev;
    char key[256] = "";
    int have_key = 0;
    for (;;) {
        if (!yaml_parser_parse(p, &ev))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s:%zu: %s", path,
                                   p->problem_mark.line + 1, p->problem ? p->problem : "bad YAML");
        int line = (int)ev.start_mark.line + 1;
        int rc = 0;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (!have_key) {
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s:%d: expected a key",
                                       path, line);
            }
            snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
                     (const char *)ev.data.scalar.value);
            have_key = 1;
        } else {
            have_key = 0;
            if (ev.type == YAML_SCALAR_EVENT) {
                rc = cairn_config_set(cfg, key, (const char *)ev.data.scalar.value);
                if (rc) {
                    char msg[256];
                    snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
                    rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s:%d: %s", path, line,
                                         msg);
                }
            } else if (ev.type == YAML_MAPPING_START_EVENT) {
                rc = load_mapping(cfg, p, path, key);
            } else {
                rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                     "%s:%d: '%s' must be a scalar or a mapping", path, line, key);
            }
        }
        yaml_event_delete(&ev);
        if (rc) return rc;
    }
}

int cairn_config_load_file(cairn_config *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CORE, "cannot open %s", path);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = 0, done = 0;
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s:%zu: %s", path,
                                 p.problem_mark.line + 1, p.problem ? p.problem : "bad YAML");
            break;
        }
        if (ev.type == YAML_MAPPING_START_EVENT) rc = load_mapping(cfg, &p, path, "");
        else if (ev.type == YAML_STREAM_END_EVENT) done = 1;
        else if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "%s:%zu: expected a mapping",
                                 path, ev.start_mark.line + 1);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

int cairn_config_load_env(cairn_config *cfg, char *const *envp)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, "CAIRN_", 6) != 0) continue;
        const char *eq = strchr(e, '=');
        if (!eq) continue;
        char name[128];
        size_t n = (size_t)(eq - e - 6);
        if (n >= sizeof(name)) continue;
        if (n == 12 && !strncmp(e + 6, "TRACKING_URI", 12)) {
            cairn_free(cfg->client.tracking_uri);
            cfg->client.tracking_uri = cairn_strdup(eq + 1);
            cfg->client.tracking_uri_set = 1;
            continue;
        }
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(keys); i++) {
            const char *k = keys[i].name;
            size_t kl = strlen(k);
            if (kl != n) continue;
            int match = 1;
            for (size_t j = 0; j < n && match; j++) {
                char want = k[j] == '.' ? '_' : (char)toupper((unsigned char)k[j]);
                match = want == e[6 + j];
            }
            if (!match) continue;
            memcpy(name, k, kl + 1);
            int rc = cairn_config_set(cfg, name, eq + 1);
            if (rc) return rc;
        }
    }
    return 0;
}

int cairn_config_finish(cairn_config *cfg)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    if (!cfg->store.uri) {
        cairn_buf_printf(&b, "%s/cairn.db", cfg->store.home);
        cfg->store.uri = cairn_buf_detach(&b, NULL);
    }
    if (!cfg->store.artifacts) {
        cairn_buf_printf(&b, "%s/objects", cfg->store.home);
        cfg->store.artifacts = cairn_buf_detach(&b, NULL);
    }
    if (!cfg->serve.predlog_dir) {
        cairn_buf_printf(&b, "%s/predictions", cfg->store.home);
        cfg->serve.predlog_dir = cairn_buf_detach(&b, NULL);
    }
    if (cfg->serve.predlog_segment_bytes < 4096 ||
        cfg->serve.predlog_max_bytes < cfg->serve.predlog_segment_bytes)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                               "serve.predlog_segment_bytes must be >= 4K and <= "
                               "serve.predlog_max_bytes");
    if (cfg->store.batch_max < 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "store.batch_max must be >= 1");
    return 0;
}
