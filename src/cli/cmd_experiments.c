/*
 * cmd_experiments.c - `cairn experiments list|create`, a client of the
 * tracking server's REST API.
 */
#include <stdio.h>
#include <string.h>

#include "cli_client.h"

int cmd_experiments_run(int argc, char **argv, cairn_config *cfg);
void cmd_experiments_help(void);

void cmd_experiments_help(void)
{
    printf("usage: cairn experiments list [--all] [--json]\n"
           "       cairn experiments create NAME [--tag KEY=VALUE]... [--json]\n\n"
           "Lists or creates experiments on the tracking server at CAIRN_TRACKING_URI\n"
           "(default http://127.0.0.1:5000).\n");
}

static int list(int argc, char **argv, cairn_config *cfg)
{
    int as_json = 0, all = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (!strcmp(argv[i], "--all")) all = 1;
        else return cli_usage_error("experiments list: unknown option '%s'", argv[i]);
    }
    json_t *all_exps = json_array();
    const char *token = NULL;
    json_t *resp = NULL;
    do {
        json_t *body = json_pack("{s:i,s:s}", "max_results", 1000, "view_type", all ? "ALL" : "ACTIVE_ONLY");
        if (token) json_object_set_new(body, "page_token", json_string(token));
        json_t *next = NULL;
        int rc = cli_call(cfg, "POST", "/api/2.0/mlflow/experiments/search", body, &next);
        json_decref(body);
        json_decref(resp);
        resp = next;
        if (rc) {
            json_decref(all_exps);
            return 1;
        }
        json_array_extend(all_exps, json_object_get(resp, "experiments"));
        token = json_string_value(json_object_get(resp, "next_page_token"));
    } while (token);
    json_decref(resp);
    if (as_json) {
        cli_print_json(all_exps);
    } else {
        const char *h[] = {"ID", "NAME", "STAGE", "CREATED", "ARTIFACTS"};
        cli_table t;
        cli_table_init(&t, 5, h);
        size_t i;
        json_t *e;
        json_array_foreach(all_exps, i, e) {
            char when[32];
            cli_fmt_time(json_integer_value(json_object_get(e, "creation_time")), when, sizeof(when));
            const char *row[] = {json_string_value(json_object_get(e, "experiment_id")),
                                 json_string_value(json_object_get(e, "name")),
                                 json_string_value(json_object_get(e, "lifecycle_stage")), when,
                                 json_string_value(json_object_get(e, "artifact_location"))};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(all_exps);
    return 0;
}

static int create(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL;
    int as_json = 0;
    json_t *tags = json_array();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--tag") && i + 1 < argc) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) {
                json_decref(tags);
                return cli_usage_error("--tag wants KEY=VALUE, got '%s'", kv);
            }
            json_array_append_new(tags, json_pack("{s:s%,s:s}", "key", kv, (size_t)(eq - kv), "value", eq + 1));
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            json_decref(tags);
            return cli_usage_error("experiments create: unexpected argument '%s'", argv[i]);
        }
    }
    if (!name) {
        json_decref(tags);
        return cli_usage_error("experiments create: missing NAME");
    }
    json_t *body = json_pack("{s:s,s:o}", "name", name, "tags", tags), *resp;
    int rc = cli_call(cfg, "POST", "/api/2.0/mlflow/experiments/create", body, &resp);
    json_decref(body);
    if (rc) return 1;
    if (as_json) cli_print_json(resp);
    else printf("created experiment '%s' with id %s\n", name,
                json_string_value(json_object_get(resp, "experiment_id")));
    json_decref(resp);
    return 0;
}

int cmd_experiments_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("experiments: missing subcommand (list, create)");
    if (!strcmp(argv[1], "list")) return list(argc, argv, cfg);
    if (!strcmp(argv[1], "create")) return create(argc, argv, cfg);
    return cli_usage_error("experiments: unknown subcommand '%s' (list, create)", argv[1]);
}
