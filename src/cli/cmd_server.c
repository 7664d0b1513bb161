/*
 * cmd_server.c - `cairn server`: serve tracking, registry and artifacts
 * until SIGINT or SIGTERM, then drain queued writes and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "cairn/server.h"
#include "cli.h"

int cmd_server_run(int argc, char **argv, cairn_config *cfg);
void cmd_server_help(void);

void cmd_server_help(void)
{
    printf("usage: cairn server [--home DIR | --store URI --artifacts DIR] [--host H] [--port P]\n"
           "                    [--port-file FILE] [--threads N] [--set KEY=VALUE]...\n\n"
           "Serves the MLflow tracking and registry REST API and the artifact proxy.\n\n"
           "  --home DIR        embedded home: DIR/cairn.db (SQLite) and DIR/objects (default ./.cairn)\n"
           "  --store URI       metadata store: a SQLite path or postgresql://user@host:port/db\n"
           "  --artifacts DIR   artifact (content-addressed) store directory\n"
           "  --host H          listen address (default 127.0.0.1)\n"
           "  --port P          listen port (default 5000; 0 picks a free one)\n"
           "  --port-file FILE  write the port to FILE once listening\n"
           "  --threads N       HTTP worker threads (default: one per core)\n"
           "  --set KEY=VALUE   any configuration key, e.g. http.body_limit=32M\n\n"
           "Environment: CAIRN_<KEY> for any key (CAIRN_HTTP_PORT=5001); a YAML file with\n"
           "cairn --config FILE server ...\n");
}

static int set(cairn_config *cfg, const char *key, const char *value)
{
    if (cairn_config_set(cfg, key, value)) return cli_usage_error("%s", cairn_error_last()->msg);
    return 0;
}

int cmd_server_run(int argc, char **argv, cairn_config *cfg)
{
    const char *port_file = NULL;
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port-file") && v) port_file = v;
        else if (!strcmp(a, "--home") && v) rc = set(cfg, "store.home", v);
        else if (!strcmp(a, "--store") && v) rc = set(cfg, "store.uri", v);
        else if (!strcmp(a, "--artifacts") && v) rc = set(cfg, "store.artifacts", v);
        else if (!strcmp(a, "--host") && v) rc = set(cfg, "http.host", v);
        else if (!strcmp(a, "--port") && v) rc = set(cfg, "http.port", v);
        else if (!strcmp(a, "--threads") && v) rc = set(cfg, "http.threads", v);
        else if (!strcmp(a, "--set") && v) {
            const char *eq = strchr(v, '=');
            if (!eq) return cli_usage_error("--set wants KEY=VALUE, got '%s'", v);
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)(eq - v), v);
            rc = set(cfg, key, eq + 1);
        } else return cli_usage_error("server: unknown or incomplete option '%s'", a);
        if (rc) return rc;
        rc = 0;
        i++;
    }
    if (cairn_config_finish(cfg)) return cli_usage_error("%s", cairn_error_last()->msg);
    if (!strchr(cfg->store.uri, ':') || !strncmp(cfg->store.uri, "sqlite:", 7))
        if (cairn_mkdir_p(cfg->store.home, 0755)) return cli_fail();

    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    cairn_server *srv;
    if (cairn_server_new(&srv, cfg) || cairn_server_start(srv)) {
        rc = cli_fail();
        return rc;
    }
    int port = cairn_server_port(srv);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVER, "listening|addr=http://%s:%d store=%s",
              cfg->http.host, port, cfg->store.uri);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
            cairn_server_free(srv);
            return cli_usage_error("cannot write port file %s", port_file);
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVER, "stopping|signal=%d", sig);
    cairn_server_free(srv);
    return 0;
}
