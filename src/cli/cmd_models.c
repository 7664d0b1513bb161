/*
 * cmd_models.c - `cairn models list|show|alias`, a client of the registry's
 * REST API.
 */
#include <stdio.h>
#include <string.h>

#include "cli_client.h"

int cmd_models_run(int argc, char **argv, cairn_config *cfg);
void cmd_models_help(void);

void cmd_models_help(void)
{
    printf("usage: cairn models list [--filter EXPR] [--json]\n"
           "       cairn models show NAME [--json]\n"
           "       cairn models alias NAME ALIAS VERSION     (point ALIAS at VERSION)\n"
           "       cairn models alias NAME ALIAS --delete\n");
}

static const char *aliases_of(json_t *aliases, char *buf, size_t n)
{
    size_t i, o = 0;
    json_t *a;
    buf[0] = '\0';
    json_array_foreach(aliases, i, a) {
        const char *name = json_is_string(a) ? json_string_value(a) : json_string_value(json_object_get(a, "alias"));
        const char *ver = json_string_value(json_object_get(a, "version"));
        int w = ver ? snprintf(buf + o, n - o, "%s%s@%s", o ? ", " : "", name, ver)
                    : snprintf(buf + o, n - o, "%s%s", o ? ", " : "", name);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
    return buf;
}

static int list(int argc, char **argv, cairn_config *cfg)
{
    const char *filter = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else return cli_usage_error("models list: unknown or incomplete option '%s'", argv[i]);
    }
    char path[2048] = "/api/2.0/mlflow/registered-models/search?max_results=1000";
    if (filter) {
        char enc[1800];
        cli_urlencode(filter, enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/2.0/mlflow/registered-models/search?max_results=1000&filter=%s", enc);
    }
    json_t *resp;
    if (cli_call(cfg, "GET", path, NULL, &resp)) return 1;
    json_t *models = json_object_get(resp, "registered_models");
    if (as_json) {
        cli_print_json(models ? models : json_array());
    } else {
        const char *h[] = {"NAME", "LATEST", "ALIASES", "DESCRIPTION"};
        cli_table t;
        cli_table_init(&t, 4, h);
        size_t i, k;
        json_t *m, *v;
        json_array_foreach(models, i, m) {
            long long latest = 0;
            json_array_foreach(json_object_get(m, "latest_versions"), k, v) {
                long long n = 0;
                sscanf(json_string_value(json_object_get(v, "version")), "%lld", &n);
                if (n > latest) latest = n;
            }
            char lb[32], ab[512];
            snprintf(lb, sizeof(lb), "%lld", latest);
            const char *row[] = {json_string_value(json_object_get(m, "name")), latest ? lb : "-",
                                 aliases_of(json_object_get(m, "aliases"), ab, sizeof(ab)),
                                 json_string_value(json_object_get(m, "description"))};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(resp);
    return 0;
}

static int show(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (argv[i][0] != '-' && !name) name = argv[i];
        else return cli_usage_error("models show: unexpected argument '%s'", argv[i]);
    }
    if (!name) return cli_usage_error("models show: missing NAME");
    char enc[800], path[3000];
    cli_urlencode(name, enc, sizeof(enc));
    json_t *model, *versions;
    snprintf(path, sizeof(path), "/api/2.0/mlflow/registered-models/get?name=%s", enc);
    if (cli_call(cfg, "GET", path, NULL, &model)) return 1;
    char filter[1200], fenc[2400];
    snprintf(filter, sizeof(filter), "name = '%s'", name);
    cli_urlencode(filter, fenc, sizeof(fenc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/model-versions/search?filter=%s", fenc);
    if (cli_call(cfg, "GET", path, NULL, &versions)) {
        json_decref(model);
        return 1;
    }
    json_t *vs = json_object_get(versions, "model_versions");
    if (as_json) {
        json_t *out = json_pack("{s:O,s:O}", "registered_model",
                                json_object_get(model, "registered_model"), "versions",
                                vs ? vs : json_array());
        cli_print_json(out);
        json_decref(out);
    } else {
        json_t *rm = json_object_get(model, "registered_model");
        char ab[512];
        printf("model    %s\naliases  %s\n\n", name, aliases_of(json_object_get(rm, "aliases"), ab, sizeof(ab)));
        const char *h[] = {"VERSION", "STAGE", "ALIASES", "RUN", "SOURCE"};
        cli_table t;
        cli_table_init(&t, 5, h);
        size_t i;
        json_t *v;
        json_array_foreach(vs, i, v) {
            const char *row[] = {json_string_value(json_object_get(v, "version")),
                                 json_string_value(json_object_get(v, "current_stage")),
                                 aliases_of(json_object_get(v, "aliases"), ab, sizeof(ab)),
                                 json_string_value(json_object_get(v, "run_id")),
                                 json_string_value(json_object_get(v, "source"))};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(model);
    json_decref(versions);
    return 0;
}

static int alias(int argc, char **argv, cairn_config *cfg)
{
    if (argc != 5) return cli_usage_error("models alias: want NAME ALIAS VERSION, or NAME ALIAS --delete");
    const char *name = argv[2], *al = argv[3];
    json_t *resp;
    int rc;
    if (!strcmp(argv[4], "--delete")) {
        json_t *body = json_pack("{s:s,s:s}", "name", name, "alias", al);
        rc = cli_call(cfg, "DELETE", "/api/2.0/mlflow/registered-models/alias", body, &resp);
        json_decref(body);
        if (rc) return 1;
        printf("removed alias '%s' of model '%s'\n", al, name);
    } else {
        json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "alias", al, "version", argv[4]);
        rc = cli_call(cfg, "POST", "/api/2.0/mlflow/registered-models/alias", body, &resp);
        json_decref(body);
        if (rc) return 1;
        printf("models:/%s@%s -> version %s\n", name, al, argv[4]);
    }
    json_decref(resp);
    return 0;
}

int cmd_models_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("models: missing subcommand (list, show, alias)");
    if (!strcmp(argv[1], "list")) return list(argc, argv, cfg);
    if (!strcmp(argv[1], "show")) return show(argc, argv, cfg);
    if (!strcmp(argv[1], "alias")) return alias(argc, argv, cfg);
    return cli_usage_error("models: unknown subcommand '%s' (list, show, alias)", argv[1]);
}
