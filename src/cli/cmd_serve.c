/*
 * cmd_serve.c - `cairn serve --model PATH|models:/NAME[@ALIAS|/VERSION]`:
 * one model behind the inference protocols (OIP V2, KServe V1, MLflow
 * /invocations), without tracking, for containers. Serves until SIGINT or
 * SIGTERM, then exits 0.
 *
 * Key idea: this command only turns the --model argument into the bytes of
 * a model.cairn file and a name; the server (server_single.c) does the
 * rest. A local file is recognised by its content: the model.cairn magic,
 * a JSON object (an XGBoost model) or a LightGBM text model ("tree" first
 * line); the imports are converted to model.cairn bytes. A models:/ URI is
 * fetched from the tracking server like `cairn predict` does. Any failure
 * before listening prints one line and exits 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/http.h"
#include "cairn/model.h"
#include "cairn/server.h"
#include "cli_client.h"
#include "train_common.h"

int cmd_serve_run(int argc, char **argv, cairn_config *cfg);
void cmd_serve_help(void);

#define MODEL_FILE_MAX ((size_t)2 << 30) /* the model manager's limit too */
#define MODEL_MAGIC "CAIRNMDL"

void cmd_serve_help(void)
{
    printf("usage: cairn serve --model MODEL [--name NAME] [--host H] [--port P]\n"
           "                   [--port-file FILE] [--threads N] [--set KEY=VALUE]...\n\n"
           "Serves one model without tracking (for containers): Open Inference Protocol V2\n"
           "(/v2/...), KServe V1 (/v1/models/...), MLflow scoring (/invocations, /ping),\n"
           "/health, /v2/health/live|ready and /metrics. The model is loaded before the\n"
           "server listens, from a private store in a temp directory ($TMPDIR) removed at\n"
           "exit. serve.* settings apply as in `cairn server`: predictions are logged to\n"
           "serve.predlog_dir (default ./.cairn/predictions; --set serve.predlog=false: off).\n\n"
           "  --model MODEL     a model.cairn file, a model directory holding one, an XGBoost\n"
           "                    JSON model, a LightGBM text model (told apart by content),\n"
           "                    or models:/NAME[@ALIAS|/VERSION] fetched from the tracking\n"
           "                    server at CAIRN_TRACKING_URI (models:/NAME: the production\n"
           "                    alias if set, else the newest version)\n"
           "  --name NAME       the served model's name (default: the file name without its\n"
           "                    extension, or NAME of models:/NAME...)\n"
           "  --host H          listen address (default 127.0.0.1; 0.0.0.0 in a container)\n"
           "  --port P          listen port (default 5000; 0 picks a free one)\n"
           "  --port-file FILE  write the port to FILE once listening\n"
           "  --threads N       HTTP worker threads (default: one per core)\n"
           "  --set KEY=VALUE   any configuration key, e.g. http.body_limit=32M\n\n"
           "/invocations needs no X-Model-Name header: there is one model.\n");
}

static int set(cairn_config *cfg, const char *key, const char *value)
{
    if (cairn_config_set(cfg, key, value)) return cli_usage_error("%s", cairn_error_last()->msg);
    return 0;
}

/* The default name for a path: its last component without the extension
 * (".../churn.json" -> "churn"; a directory keeps its whole name). */
static void name_from_path(const char *path, int is_dir, char *out, size_t n)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t end = len;
    if (!is_dir) {
        for (size_t i = len; i > start + 1; i--) {
            if (path[i - 1] == '.') {
                end = i - 1;
                break;
            }
        }
    }
    snprintf(out, n, "%.*s", (int)(end - start), path + start);
}

/* The NAME of models:/NAME@ALIAS or models:/NAME/VERSION (spec: after
 * "models:/"); the same split cli_ml_model_load makes. */
static void name_from_uri(const char *spec, char *out, size_t n)
{
    const char *at = strrchr(spec, '@'), *slash = strrchr(spec, '/');
    const char *end = at && (!slash || at > slash) ? at : slash ? slash : spec + strlen(spec);
    snprintf(out, n, "%.*s", (int)(end - spec), spec);
}

/* Makes model.cairn bytes out of a file's content, by what the content is. */
static int bytes_from_content(cairn_buf *in, cairn_buf *out)
{
    cairn_model *m = NULL;
    int rc;
    const char *p = in->ptr ? in->ptr : "";
    size_t i = 0;
    if (in->len >= 8 && !memcmp(p, MODEL_MAGIC, 8)) {
        rc = cairn_model_from_bytes(&m, p, in->len); /* validates; the file itself is served */
        cairn_model_free(m);
        if (!rc) {
            *out = *in;
            *in = (cairn_buf)CAIRN_BUF_INIT(0);
        }
        return rc;
    }
    if (in->len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) i = 3;
    while (i < in->len && strchr(" \t\r\n", p[i]))
        i++;
    if (i < in->len && p[i] == '{')
        rc = cairn_model_import_xgboost(&m, p, in->len);
    else if (in->len - i >= 5 && !memcmp(p + i, "tree", 4) &&
             (p[i + 4] == '\n' || p[i + 4] == '\r'))
        rc = cairn_model_import_lightgbm(&m, p, in->len);
    else
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CLI,
                               "not a model file (want model.cairn, an XGBoost JSON model or a "
                               "LightGBM text model)");
    if (!rc) rc = cairn_model_to_bytes(m, out);
    cairn_model_free(m);
    return rc;
}

/* Reads a local model (file or directory holding model.cairn) into bytes;
 * its default name goes to name. */
static int bytes_from_path(const char *path, cairn_buf *out, char *name, size_t n)
{
    struct stat st;
    char file[4200];
    if (stat(path, &st)) return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CLI, "no such file");
    int is_dir = S_ISDIR(st.st_mode);
    name_from_path(path, is_dir, name, n);
    snprintf(file, sizeof(file), is_dir ? "%s/model.cairn" : "%s", path);
    if (is_dir && stat(file, &st))
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CLI,
                               "the directory holds no model.cairn");
    cairn_buf in = CAIRN_BUF_INIT(MODEL_FILE_MAX);
    int rc = cairn_read_file(file, &in);
    if (!rc) rc = bytes_from_content(&in, out);
    cairn_buf_free(&in);
    return rc;
}

/* The newest version of registered model `name` (any stage), asked of the
 * tracking server with get-latest-versions. CAIRN_ENOTFOUND when the
 * model is unknown or has no version; CAIRN_EIO when the server is down. */
static int latest_version(const cairn_config *cfg, const char *name, int64_t *out)
{
    char enc[1600], url[4096];
    size_t bl = strlen(cfg->client.tracking_uri);
    while (bl > 0 && cfg->client.tracking_uri[bl - 1] == '/')
        bl--;
    cli_urlencode(name, enc, sizeof(enc));
    snprintf(url, sizeof(url), "%.*s/api/2.0/mlflow/registered-models/get-latest-versions?name=%s",
             (int)bl, cfg->client.tracking_uri, enc);
    cairn_buf resp = CAIRN_BUF_INIT((size_t)16 << 20);
    int status = 0, rc = cairn_http_fetch("GET", url, NULL, NULL, 0, &status, &resp);
    json_t *j = rc ? NULL : json_loadb(cairn_buf_cstr(&resp), resp.len, 0, NULL);
    *out = -1;
    if (!rc && status == 200) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "model_versions"), i, v)
        {
            int64_t n;
            const char *s = json_string_value(json_object_get(v, "version"));
            if (s && !cairn_parse_i64(s, &n) && n > *out) *out = n;
        }
        if (*out < 0)
            rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CLI, "model '%.300s' has no version",
                                 name);
    } else if (!rc) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        rc = cairn_error_set(status == 404 ? CAIRN_ENOTFOUND : CAIRN_ERROR, CAIRN_SUBSYS_CLI,
                             "%.300s (HTTP %d)", msg ? msg : cairn_buf_cstr(&resp), status);
    }
    json_decref(j);
    cairn_buf_free(&resp);
    return rc;
}

/* models:/... through the tracking server, as model.cairn bytes. A bare
 * models:/NAME follows the serving rule: the `production` alias if set,
 * else the newest version. */
static int bytes_from_registry(const cairn_config *cfg, const char *ref, cairn_buf *out, char *name,
                               size_t n)
{
    cairn_model *m = NULL;
    int rc;
    name_from_uri(ref + 8, name, n);
    if (!*name)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CLI,
                               "want models:/NAME, models:/NAME@ALIAS or models:/NAME/VERSION");
    if (strpbrk(ref + 8, "@/")) {
        rc = cli_ml_model_load(cfg, ref, &m);
    } else {
        char uri[1200];
        int64_t v;
        snprintf(uri, sizeof(uri), "%s@production", ref);
        rc = cli_ml_model_load(cfg, uri, &m);
        /* MLflow answers an unset alias with INVALID_PARAMETER_VALUE */
        if ((rc == CAIRN_ENOTFOUND || rc == CAIRN_EINVALID) &&
            !(rc = latest_version(cfg, ref + 8, &v))) {
            snprintf(uri, sizeof(uri), "%s/%lld", ref, (long long)v);
            rc = cli_ml_model_load(cfg, uri, &m);
        }
    }
    if (!rc) rc = cairn_model_to_bytes(m, out);
    cairn_model_free(m);
    return rc;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int bad = fprintf(f, "%d\n", port) < 0;
    bad |= fclose(f) != 0;
    return bad || rename(tmp, path) != 0 ? -1 : 0;
}

/* Parses the flags into cfg and the locals; returns 0 or an exit code. */
static int parse_args(int argc, char **argv, cairn_config *cfg, const char **model,
                      const char **name, const char **port_file)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model") && v)
            *model = v;
        else if (!strcmp(a, "--name") && v)
            *name = v;
        else if (!strcmp(a, "--port-file") && v)
            *port_file = v;
        else if (!strcmp(a, "--host") && v)
            rc = set(cfg, "http.host", v);
        else if (!strcmp(a, "--port") && v)
            rc = set(cfg, "http.port", v);
        else if (!strcmp(a, "--threads") && v)
            rc = set(cfg, "http.threads", v);
        else if (!strcmp(a, "--set") && v) {
            const char *eq = strchr(v, '=');
            if (!eq) return cli_usage_error("--set wants KEY=VALUE, got '%s'", v);
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)(eq - v), v);
            rc = set(cfg, key, eq + 1);
        } else
            return cli_usage_error("serve: unknown or incomplete option '%s'", a);
        if (rc) return rc;
        i++;
    }
    if (!*model) return cli_usage_error("serve: --model PATH or models:/NAME@ALIAS is required");
    if (*name && !**name) return cli_usage_error("serve: --name is empty");
    if (cairn_config_finish(cfg)) return cli_usage_error("%s", cairn_error_last()->msg);
    return 0;
}

int cmd_serve_run(int argc, char **argv, cairn_config *cfg)
{
    const char *model = NULL, *name = NULL, *port_file = NULL;
    int rc = parse_args(argc, argv, cfg, &model, &name, &port_file);
    if (rc) return rc;

    cairn_buf bytes = CAIRN_BUF_INIT(0);
    char default_name[512];
    if (!strncmp(model, "models:/", 8))
        rc = bytes_from_registry(cfg, model, &bytes, default_name, sizeof(default_name));
    else
        rc = bytes_from_path(model, &bytes, default_name, sizeof(default_name));
    if (rc) {
        fprintf(stderr, "cairn: cannot serve %s: %s\n", model, cairn_error_last()->msg);
        cairn_buf_free(&bytes);
        return 1;
    }
    if (!name) name = default_name;

    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    cairn_server_single *srv = NULL;
    rc = cairn_server_single_new(&srv, cfg, name, bytes.ptr, bytes.len);
    cairn_buf_free(&bytes);
    if (rc || (rc = cairn_server_single_start(srv))) {
        int code = cli_fail();
        cairn_server_single_free(srv);
        return code;
    }
    int port = cairn_server_single_port(srv);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVER, "serving|addr=http://%s:%d model=%s source=%s",
              cfg->http.host, port, name, model);
    if (port_file && write_port_file(port_file, port)) {
        cairn_server_single_free(srv);
        return cli_usage_error("cannot write port file %s", port_file);
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVER, "stopping|signal=%d", sig);
    cairn_server_single_free(srv);
    return 0;
}
