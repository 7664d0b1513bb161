/*
 * cmd_runs.c - `cairn runs list|show|search`, a client of the tracking
 * server's REST API. `list` is `search` without a filter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

int cmd_runs_run(int argc, char **argv, cairn_config *cfg);
void cmd_runs_help(void);

void cmd_runs_help(void)
{
    printf("usage: cairn runs list --experiment ID|NAME [--max N] [--json]\n"
           "       cairn runs search --experiment ID|NAME [--filter EXPR] [--order-by KEY [ASC|DESC]]...\n"
           "                         [--max N] [--all] [--json]\n"
           "       cairn runs show RUN_ID [--json]\n\n"
           "EXPR is MLflow's search grammar, e.g. \"metrics.rmse < 0.5 AND params.lr = '0.1'\".\n");
}

/* Resolves an experiment given by id or by name into its id string. */
static int experiment_id(cairn_config *cfg, const char *ref, char *out, size_t n)
{
    if (strspn(ref, "0123456789") == strlen(ref) && *ref) {
        snprintf(out, n, "%s", ref);
        return 0;
    }
    char enc[1024], path[1200];
    cli_urlencode(ref, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", enc);
    json_t *resp;
    if (cli_call(cfg, "GET", path, NULL, &resp)) return 1;
    snprintf(out, n, "%s",
             json_string_value(json_object_get(json_object_get(resp, "experiment"), "experiment_id")));
    json_decref(resp);
    return 0;
}

static const char *kv_find(json_t *arr, const char *key)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (!strcmp(json_string_value(json_object_get(e, "key")), key)) return json_string_value(json_object_get(e, "value"));
    return NULL;
}

static void print_runs(json_t *runs)
{
    /* Columns: id, name, status, start, then up to 4 metrics and 4 params seen first. */
    const char *mkeys[4], *pkeys[4];
    int nm = 0, np = 0;
    size_t i, k;
    json_t *r, *e;
    json_array_foreach(runs, i, r) {
        json_t *data = json_object_get(r, "data");
        json_array_foreach(json_object_get(data, "metrics"), k, e) {
            const char *key = json_string_value(json_object_get(e, "key"));
            int j;
            for (j = 0; j < nm && strcmp(mkeys[j], key); j++) {}
            if (j == nm && nm < 4) mkeys[nm++] = key;
        }
        json_array_foreach(json_object_get(data, "params"), k, e) {
            const char *key = json_string_value(json_object_get(e, "key"));
            int j;
            for (j = 0; j < np && strcmp(pkeys[j], key); j++) {}
            if (j == np && np < 4) pkeys[np++] = key;
        }
    }
    const char *h[12] = {"RUN ID", "NAME", "STATUS", "STARTED"};
    char hb[8][80];
    for (int j = 0; j < nm; j++) {
        snprintf(hb[j], sizeof(hb[j]), "metrics.%s", mkeys[j]);
        h[4 + j] = hb[j];
    }
    for (int j = 0; j < np; j++) {
        snprintf(hb[4 + j], sizeof(hb[4 + j]), "params.%s", pkeys[j]);
        h[4 + nm + j] = hb[4 + j];
    }
    cli_table t;
    cli_table_init(&t, 4 + nm + np, h);
    json_array_foreach(runs, i, r) {
        json_t *info = json_object_get(r, "info"), *data = json_object_get(r, "data");
        char when[32], mv[4][32];
        cli_fmt_time(json_integer_value(json_object_get(info, "start_time")), when, sizeof(when));
        const char *row[12] = {json_string_value(json_object_get(info, "run_id")),
                               json_string_value(json_object_get(info, "run_name")),
                               json_string_value(json_object_get(info, "status")), when};
        for (int j = 0; j < nm; j++) {
            mv[j][0] = '\0';
            json_array_foreach(json_object_get(data, "metrics"), k, e) {
                if (strcmp(json_string_value(json_object_get(e, "key")), mkeys[j])) continue;
                json_t *v = json_object_get(e, "value");
                if (json_is_number(v)) snprintf(mv[j], sizeof(mv[j]), "%.6g", json_number_value(v));
                else snprintf(mv[j], sizeof(mv[j]), "%s", json_string_value(v));
            }
            row[4 + j] = mv[j];
        }
        for (int j = 0; j < np; j++) row[4 + nm + j] = kv_find(json_object_get(data, "params"), pkeys[j]);
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

static int search(int argc, char **argv, cairn_config *cfg, int allow_filter)
{
    const char *exp = NULL, *filter = NULL;
    int as_json = 0, all = 0;
    long max = 100;
    json_t *order = json_array();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) as_json = 1;
        else if (!strcmp(a, "--all")) all = 1;
        else if (!strcmp(a, "--experiment") && v) exp = argv[++i];
        else if (allow_filter && !strcmp(a, "--filter") && v) filter = argv[++i];
        else if (allow_filter && !strcmp(a, "--order-by") && v) json_array_append_new(order, json_string(argv[++i]));
        else if (!strcmp(a, "--max") && v) {
            char *end;
            max = strtol(argv[++i], &end, 10);
            if (*end || max < 1 || max > 50000) {
                json_decref(order);
                return cli_usage_error("--max wants a number from 1 to 50000");
            }
        } else {
            json_decref(order);
            return cli_usage_error("runs %s: unknown or incomplete option '%s'", argv[1], a);
        }
    }
    if (!exp) {
        json_decref(order);
        return cli_usage_error("runs %s: --experiment ID|NAME is required", argv[1]);
    }
    char id[64];
    if (experiment_id(cfg, exp, id, sizeof(id))) {
        json_decref(order);
        return 1;
    }
    json_t *body = json_pack("{s:[s],s:i,s:o,s:s}", "experiment_ids", id, "max_results", (int)max,
                             "order_by", order, "run_view_type", all ? "ALL" : "ACTIVE_ONLY");
    if (filter) json_object_set_new(body, "filter", json_string(filter));
    json_t *resp;
    int rc = cli_call(cfg, "POST", "/api/2.0/mlflow/runs/search", body, &resp);
    json_decref(body);
    if (rc) return 1;
    json_t *runs = json_object_get(resp, "runs");
    if (!runs) runs = json_array(), json_object_set_new(resp, "runs", runs);
    if (as_json) cli_print_json(runs);
    else print_runs(runs);
    json_decref(resp);
    return 0;
}

static int show(int argc, char **argv, cairn_config *cfg)
{
    const char *run = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (argv[i][0] != '-' && !run) run = argv[i];
        else return cli_usage_error("runs show: unexpected argument '%s'", argv[i]);
    }
    if (!run) return cli_usage_error("runs show: missing RUN_ID");
    char enc[256], path[400];
    cli_urlencode(run, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/runs/get?run_id=%s", enc);
    json_t *resp;
    if (cli_call(cfg, "GET", path, NULL, &resp)) return 1;
    json_t *r = json_object_get(resp, "run");
    if (as_json) {
        cli_print_json(r);
    } else {
        json_t *info = json_object_get(r, "info"), *data = json_object_get(r, "data");
        char when[32];
        cli_fmt_time(json_integer_value(json_object_get(info, "start_time")), when, sizeof(when));
        printf("run        %s\nname       %s\nexperiment %s\nstatus     %s\nstarted    %s\n"
               "artifacts  %s\n",
               json_string_value(json_object_get(info, "run_id")),
               json_string_value(json_object_get(info, "run_name")),
               json_string_value(json_object_get(info, "experiment_id")),
               json_string_value(json_object_get(info, "status")), when,
               json_string_value(json_object_get(info, "artifact_uri")));
        static const char *const sections[] = {"params", "metrics", "tags"};
        for (int s = 0; s < 3; s++) {
            json_t *arr = json_object_get(data, sections[s]);
            if (!json_array_size(arr)) continue;
            printf("\n%s:\n", sections[s]);
            size_t i;
            json_t *e;
            json_array_foreach(arr, i, e) {
                json_t *v = json_object_get(e, "value");
                if (json_is_number(v))
                    printf("  %-30s %.10g (step %lld)\n", json_string_value(json_object_get(e, "key")),
                           json_number_value(v), (long long)json_integer_value(json_object_get(e, "step")));
                else
                    printf("  %-30s %s\n", json_string_value(json_object_get(e, "key")), json_string_value(v));
            }
        }
    }
    json_decref(resp);
    return 0;
}

int cmd_runs_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("runs: missing subcommand (list, search, show)");
    if (!strcmp(argv[1], "list")) return search(argc, argv, cfg, 0);
    if (!strcmp(argv[1], "search")) return search(argc, argv, cfg, 1);
    if (!strcmp(argv[1], "show")) return show(argc, argv, cfg);
    return cli_usage_error("runs: unknown subcommand '%s' (list, search, show)", argv[1]);
}
