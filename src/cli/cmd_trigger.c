/*
 * cmd_trigger.c - `cairn trigger create|list|delete|run|runs`: the
 * server's pipeline triggers (cron schedules, watched paths, manual runs;
 * /api/2.0/cairn/pipelines/...). `run NAME --wait` waits for the run and
 * exits with its exit code (what an alert's retrain.pipeline runs).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_client.h"

int cmd_trigger_run(int argc, char **argv, cairn_config *cfg);
void cmd_trigger_help(void);

#define API "/api/2.0/cairn/pipelines/"

void cmd_trigger_help(void)
{
    printf("usage: cairn trigger create NAME [--dir DIR] [--stage S] [--schedule CRON]\n"
           "                            [--watch PATH] [--set KEY=VALUE]... [--json]\n"
           "       cairn trigger list [--json]\n"
           "       cairn trigger delete NAME\n"
           "       cairn trigger run NAME [--wait] [--json]\n"
           "       cairn trigger runs [NAME] [--json]\n\n"
           "A trigger makes `cairn server` run `cairn pipeline run [STAGE] [--set ...]` in\n"
           "DIR (default: the current directory; it holds cairn.yaml): on a cron schedule\n"
           "(five fields, UTC, e.g. \"0 3 * * *\" or @daily), when the content of a watched\n"
           "path changes (relative to DIR), and on `run` (also what an alert's\n"
           "retrain.pipeline does). A trigger never runs twice at once. Each run's output\n"
           "is in the server's home under pipelines/logs/. `run --wait` waits for the run\n"
           "and exits with its exit code.\n");
}

static const char *sv(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static int create(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 3 || argv[2][0] == '-') return cli_usage_error("cairn trigger create: NAME is needed");
    json_t *body = json_pack("{s:s}", "name", argv[2]), *params = json_array();
    char cwd[PATH_MAX];
    const char *dir = NULL;
    int json = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--dir") && v) dir = argv[++i];
        else if (!strcmp(a, "--stage") && v) json_object_set_new(body, "stage", json_string(argv[++i]));
        else if (!strcmp(a, "--schedule") && v)
            json_object_set_new(body, "schedule", json_string(argv[++i]));
        else if (!strcmp(a, "--watch") && v) json_object_set_new(body, "watch", json_string(argv[++i]));
        else if (!strcmp(a, "--set") && v && strchr(v, '=')) json_array_append_new(params, json_string(argv[++i]));
        else {
            json_decref(body);
            json_decref(params);
            return cli_usage_error("cairn trigger create: unexpected argument '%s'", a);
        }
    }
    char abs[PATH_MAX];
    if (!dir) dir = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
    if (!realpath(dir, abs)) {
        json_decref(body);
        json_decref(params);
        return cli_usage_error("cairn trigger create: no directory '%s'", dir);
    }
    json_object_set_new(body, "directory", json_string(abs));
    json_object_set_new(body, "params", params);
    json_t *out = NULL;
    int rc = cli_call(cfg, "POST", API "triggers/create", body, &out);
    json_decref(body);
    if (rc) return 1;
    if (json)
        cli_print_json(out);
    else
        printf("created trigger %s for %s\n", argv[2], abs);
    json_decref(out);
    return 0;
}

static int list(int argc, char **argv, cairn_config *cfg)
{
    int json = argc > 2 && !strcmp(argv[2], "--json");
    if (argc > 2 + json) return cli_usage_error("cairn trigger list: unexpected argument '%s'", argv[2 + json]);
    json_t *out = NULL;
    if (cli_call(cfg, "GET", API "triggers/list", NULL, &out)) return 1;
    if (json) {
        cli_print_json(out);
    } else {
        static const char *const hdr[] = {"NAME", "DIRECTORY", "STAGE", "SCHEDULE", "WATCH",
                                          "NEXT RUN", "RUNNING"};
        cli_table t;
        cli_table_init(&t, 7, hdr);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(out, "triggers"), i, x)
        {
            char next[40] = "-";
            json_t *n = json_object_get(x, "next_run");
            if (json_is_integer(n)) cli_fmt_time(json_integer_value(n), next, sizeof(next));
            const char *row[] = {sv(x, "name"),     sv(x, "directory"), sv(x, "stage"),
                                 sv(x, "schedule"), sv(x, "watch"),     next,
                                 json_is_true(json_object_get(x, "running")) ? "yes" : "no"};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(out);
    return 0;
}

static int delete_trigger(int argc, char **argv, cairn_config *cfg)
{
    if (argc != 3) return cli_usage_error("usage: cairn trigger delete NAME");
    json_t *body = json_pack("{s:s}", "name", argv[2]), *out = NULL;
    int rc = cli_call(cfg, "POST", API "triggers/delete", body, &out);
    json_decref(body);
    json_decref(out);
    return rc ? 1 : 0;
}

/* The run's record from runs/list (NULL if not there yet); the caller decrefs *all. */
static json_t *find_run(cairn_config *cfg, const char *trigger, const char *id, json_t **all)
{
    char path[600];
    snprintf(path, sizeof(path), API "runs/list?max_results=50&trigger=");
    cli_urlencode(trigger, path + strlen(path), sizeof(path) - strlen(path));
    *all = NULL;
    if (cli_call(cfg, "GET", path, NULL, all)) return NULL;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(*all, "runs"), i, r)
        if (!strcmp(sv(r, "id"), id)) return r;
    return NULL;
}

static int run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 3 || argv[2][0] == '-') return cli_usage_error("cairn trigger run: NAME is needed");
    int wait = 0, json = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--wait")) wait = 1;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else return cli_usage_error("cairn trigger run: unexpected argument '%s'", argv[i]);
    }
    json_t *body = json_pack("{s:s}", "trigger", argv[2]), *out = NULL;
    const char *alert = getenv("CAIRN_ALERT_ID"); /* run by an alert's retrain.pipeline */
    if (alert && *alert) json_object_set_new(body, "alert_id", json_string(alert));
    int rc = cli_call(cfg, "POST", API "run", body, &out);
    json_decref(body);
    if (rc) return 1;
    char id[64];
    snprintf(id, sizeof(id), "%s", sv(out, "run_id"));
    json_decref(out);
    printf("pipeline run %s started by trigger %s\n", id, argv[2]);
    fflush(stdout);
    if (!wait) return 0;
    for (;;) {
        json_t *all = NULL, *r = find_run(cfg, argv[2], id, &all);
        if (!all) return 1;
        if (r && strcmp(sv(r, "status"), "running")) {
            int code = (int)json_integer_value(json_object_get(r, "exit_code"));
            if (json)
                cli_print_json(r);
            else
                printf("pipeline run %s %s (exit %d), log %s\n", id, sv(r, "status"), code,
                       sv(r, "log_path"));
            json_decref(all);
            return code == 0 ? 0 : 1;
        }
        json_decref(all);
        usleep(200 * 1000);
    }
}

static int runs(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!name && argv[i][0] != '-') name = argv[i];
        else return cli_usage_error("cairn trigger runs: unexpected argument '%s'", argv[i]);
    }
    char path[600] = API "runs/list";
    if (name) {
        strcat(path, "?trigger=");
        cli_urlencode(name, path + strlen(path), sizeof(path) - strlen(path));
    }
    json_t *out = NULL;
    if (cli_call(cfg, "GET", path, NULL, &out)) return 1;
    if (json) {
        cli_print_json(out);
    } else {
        static const char *const hdr[] = {"RUN", "TRIGGER", "REASON", "STATUS", "EXIT", "STARTED"};
        cli_table t;
        cli_table_init(&t, 6, hdr);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(out, "runs"), i, r)
        {
            char started[40], code[16] = "-";
            cli_fmt_time(json_integer_value(json_object_get(r, "started")), started, sizeof(started));
            if (json_is_integer(json_object_get(r, "exit_code")))
                snprintf(code, sizeof(code), "%lld", (long long)json_integer_value(json_object_get(r, "exit_code")));
            const char *row[] = {sv(r, "id"), sv(r, "trigger"), sv(r, "reason"), sv(r, "status"), code, started};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(out);
    return 0;
}

int cmd_trigger_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("cairn trigger: a verb is needed (cairn trigger --help)");
    for (int i = 1; i < argc; i++) { /* `cairn trigger delete --help` must not delete */
        if (cli_is_help(argv[i])) {
            cmd_trigger_help();
            return 0;
        }
    }
    if (!strcmp(argv[1], "create")) return create(argc, argv, cfg);
    if (!strcmp(argv[1], "list")) return list(argc, argv, cfg);
    if (!strcmp(argv[1], "delete")) return delete_trigger(argc, argv, cfg);
    if (!strcmp(argv[1], "run")) return run(argc, argv, cfg);
    if (!strcmp(argv[1], "runs")) return runs(argc, argv, cfg);
    return cli_usage_error("cairn trigger: unknown verb '%s' (cairn trigger --help)", argv[1]);
}
