/*
 * cmd_lineage.c - `cairn lineage models:/NAME/VERSION`: where a model
 * version came from, as recorded by `cairn pipeline run`.
 *
 * The chain is read from the tracking server only: the version names its
 * run; a pipeline stage tags that run with cairn.stage, cairn.cache_key,
 * cairn.deps / cairn.outs (path -> SHA-256) and mlflow.parentRunId, the
 * pipeline's run. Deployments whose targets point at the version (by
 * number or through one of its aliases) are listed last.
 */
#include "cli_client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_lineage_run(int argc, char **argv, cairn_config *cfg);
void cmd_lineage_help(void);

void cmd_lineage_help(void)
{
    printf("usage: cairn lineage models:/NAME/VERSION [--json]\n\n"
           "Prints the chain data hash -> pipeline stage run -> model version, and the\n"
           "deployments serving that version.\n");
}

static const char *orv(const char *a, const char *b)
{
    return a ? a : b;
}

static const char *tag_of(json_t *run, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(run, "data"), "tags"), i, t)
    {
        if (!strcmp(orv(json_string_value(json_object_get(t, "key")), ""), key))
            return json_string_value(json_object_get(t, "value"));
    }
    return NULL;
}

static json_t *get_run(const cairn_config *cfg, const char *id)
{
    char path[256];
    json_t *r = NULL;
    snprintf(path, sizeof(path), "/api/2.0/mlflow/runs/get?run_id=%s", id);
    if (cli_call(cfg, "GET", path, NULL, &r)) return NULL;
    json_t *run = json_incref(json_object_get(r, "run"));
    json_decref(r);
    return run;
}

static void print_hashes(const char *title, const char *js)
{
    json_t *o = js ? json_loads(js, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    printf("  %s:\n", title);
    if (!json_object_size(o)) printf("    (none)\n");
    json_object_foreach(o, k, v) printf("    %s  sha256:%s\n", k, orv(json_string_value(v), "?"));
    json_decref(o);
}

/* True when a deployment target {model, version|alias} points at name/version. */
static bool serves(json_t *tg, const char *name, const char *version, json_t *aliases)
{
    if (strcmp(orv(json_string_value(json_object_get(tg, "model")), ""), name)) return false;
    const char *v = json_string_value(json_object_get(tg, "version"));
    if (v) return !strcmp(v, version);
    const char *al = json_string_value(json_object_get(tg, "alias"));
    size_t i;
    json_t *a;
    json_array_foreach(aliases, i, a)
    {
        if (al && json_is_string(a) && !strcmp(json_string_value(a), al)) return true;
    }
    return false;
}

int cmd_lineage_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        cmd_lineage_help();
        return argc < 2 ? 2 : 0;
    }
    const char *uri = argv[1];
    if (strncmp(uri, "models:/", 8))
        return cli_usage_error("lineage: want models:/NAME/VERSION, got '%s'", uri);
    char name[256], version[64], enc[800], path[1100];
    const char *sl = strrchr(uri + 8, '/');
    if (!sl || sl == uri + 8 || !sl[1] || (size_t)(sl - uri - 8) >= sizeof(name))
        return cli_usage_error("lineage: want models:/NAME/VERSION, got '%s'", uri);
    snprintf(name, sizeof(name), "%.*s", (int)(sl - uri - 8), uri + 8);
    snprintf(version, sizeof(version), "%s", sl + 1);
    cli_urlencode(name, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/2.0/mlflow/model-versions/get?name=%s&version=%s", enc,
             version);
    json_t *mv = NULL;
    if (cli_call(cfg, "GET", path, NULL, &mv)) return 1;
    json_t *ver = json_object_get(mv, "model_version");
    const char *run_id = json_string_value(json_object_get(ver, "run_id"));
    printf("model    %s version %s\n", name, version);
    printf("source   %s\n", orv(json_string_value(json_object_get(ver, "source")), "?"));
    int code = 0;
    json_t *run = run_id && *run_id ? get_run(cfg, run_id) : NULL;
    if (!run) {
        printf("run      (none recorded)\n");
        code = run_id && *run_id ? 1 : 0;
    } else {
        const char *stage = tag_of(run, "cairn.stage");
        printf(
            "run      %s (%s)\n", run_id,
            orv(json_string_value(json_object_get(json_object_get(run, "info"), "run_name")), ""));
        if (tag_of(run, "cairn.data.sha256"))
            printf("trained on data sha256:%s\n", tag_of(run, "cairn.data.sha256"));
        if (!stage) {
            printf("stage    (not made by a pipeline)\n");
        } else {
            printf("stage    %s  cache key %s\n", stage, orv(tag_of(run, "cairn.cache_key"), "?"));
            if (tag_of(run, "cairn.stage_run"))
                printf("  stage run %s\n", tag_of(run, "cairn.stage_run"));
            print_hashes("inputs (deps)", tag_of(run, "cairn.deps"));
            print_hashes("outputs (outs)", tag_of(run, "cairn.outs"));
            const char *parent = tag_of(run, "mlflow.parentRunId");
            json_t *pr = parent ? get_run(cfg, parent) : NULL;
            if (pr) {
                printf(
                    "pipeline run %s (%s, %s)\n", parent, orv(tag_of(pr, "cairn.pipeline"), "?"),
                    orv(json_string_value(json_object_get(json_object_get(pr, "info"), "status")),
                        "?"));
                json_decref(pr);
            }
        }
        json_decref(run);
    }
    json_t *dl = NULL;
    if (!cli_call(cfg, "GET", "/api/2.0/cairn/deployments/list", NULL, &dl)) {
        size_t i, k;
        json_t *d, *tg;
        int n = 0;
        json_array_foreach(json_object_get(dl, "deployments"), i, d)
        {
            json_array_foreach(json_object_get(d, "targets"), k, tg)
            {
                if (serves(tg, name, version, json_object_get(ver, "aliases"))) {
                    printf("%s %s\n", n++ ? "        " : "deployed",
                           orv(json_string_value(json_object_get(d, "name")), "?"));
                    break;
                }
            }
        }
        if (!n) printf("deployed (not deployed)\n");
        json_decref(dl);
    }
    json_decref(mv);
    return code;
}
