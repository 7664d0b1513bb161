/*
 * cmd_deploy.c - `cairn deploy create|set|list|show|delete`, a client of the
 * server's deployments REST API (/api/2.0/cairn/deployments/...).
 *
 * Key idea: targets are given as model URIs with an optional weight,
 * models:/M@ALIAS[=W] or models:/M/VERSION[=W], and sent as
 * {model, alias|version, weight}; the server validates and normalizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

int cmd_deploy_run(int argc, char **argv, cairn_config *cfg);
void cmd_deploy_help(void);

#define API "/api/2.0/cairn/deployments/"

void cmd_deploy_help(void)
{
    printf("usage: cairn deploy create NAME --target models:/M@ALIAS[=WEIGHT] "
           "[--target models:/M/VERSION[=WEIGHT] ...] [--json]\n"
           "       cairn deploy set NAME --target ... [--json]   (replace the targets)\n"
           "       cairn deploy list [--json]\n"
           "       cairn deploy show NAME [--json]\n"
           "       cairn deploy delete NAME\n"
           "Weights are percentages summing to 100; targets given without one share\n"
           "the rest evenly. OIP requests for /v2/models/NAME are routed by weight\n"
           "(sticky per X-Cairn-Route-Key header).\n");
}

/* Parses one --target value into a JSON target; NULL on bad syntax. */
static json_t *parse_target(const char *uri)
{
    if (strncmp(uri, "models:/", 8)) return NULL;
    char buf[1024];
    if (snprintf(buf, sizeof(buf), "%s", uri + 8) >= (int)sizeof(buf)) return NULL;
    json_t *t = json_object();
    char *eq = strrchr(buf, '=');
    if (eq) {
        *eq = '\0';
        char *end;
        long w = strtol(eq + 1, &end, 10);
        if (!eq[1] || *end || w < 0 || w > 100) goto bad;
        json_object_set_new(t, "weight", json_integer(w));
    }
    char *at = strchr(buf, '@'), *slash = strchr(buf, '/');
    if (at && !slash) {
        *at = '\0';
        if (!at[1]) goto bad;
        json_object_set_new(t, "alias", json_string(at + 1));
    } else if (slash && !at) {
        *slash = '\0';
        if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1)) goto bad;
        json_object_set_new(t, "version", json_string(slash + 1));
    } else {
        goto bad;
    }
    if (!buf[0]) goto bad;
    json_object_set_new(t, "model", json_string(buf));
    return t;
bad:
    json_decref(t);
    return NULL;
}

static void print_dep(json_t *d)
{
    char when[64];
    cli_fmt_time((int64_t)json_integer_value(json_object_get(d, "last_updated_timestamp")), when,
                 sizeof(when));
    printf("deployment  %s\nupdated     %s\n\n", json_string_value(json_object_get(d, "name")),
           when);
    const char *h[] = {"MODEL", "VERSION/ALIAS", "WEIGHT"};
    cli_table t;
    cli_table_init(&t, 3, h);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(d, "targets"), i, x)
    {
        char ref[300], w[16];
        const char *v = json_string_value(json_object_get(x, "version"));
        if (v)
            snprintf(ref, sizeof(ref), "%s", v);
        else
            snprintf(ref, sizeof(ref), "@%s", json_string_value(json_object_get(x, "alias")));
        snprintf(w, sizeof(w), "%lld", (long long)json_integer_value(json_object_get(x, "weight")));
        const char *row[] = {json_string_value(json_object_get(x, "model")), ref, w};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

/* create / set: NAME --target ... [--json]. */
static int write_cmd(int argc, char **argv, cairn_config *cfg, const char *endpoint)
{
    const char *name = NULL;
    int as_json = 0;
    json_t *targets = json_array();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            json_t *t = parse_target(argv[++i]);
            if (!t) {
                json_decref(targets);
                return cli_usage_error("deploy: bad target '%s' (want models:/M@ALIAS[=W] or "
                                       "models:/M/VERSION[=W])",
                                       argv[i]);
            }
            json_array_append_new(targets, t);
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            json_decref(targets);
            return cli_usage_error("deploy %s: unexpected argument '%s'", argv[1], argv[i]);
        }
    }
    if (!name || json_array_size(targets) == 0) {
        json_decref(targets);
        return cli_usage_error("deploy %s: want NAME and at least one --target", argv[1]);
    }
    json_t *body = json_pack("{s:s,s:o}", "name", name, "targets", targets), *resp;
    int rc = cli_call(cfg, "POST", endpoint, body, &resp);
    json_decref(body);
    if (rc) return 1;
    json_t *d = json_object_get(resp, "deployment");
    if (as_json)
        cli_print_json(d);
    else
        print_dep(d);
    json_decref(resp);
    return 0;
}

static int list(int argc, char **argv, cairn_config *cfg)
{
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else return cli_usage_error("deploy list: unexpected argument '%s'", argv[i]);
    }
    json_t *resp;
    if (cli_call(cfg, "GET", API "list", NULL, &resp)) return 1;
    json_t *ds = json_object_get(resp, "deployments");
    if (as_json) {
        cli_print_json(ds);
    } else {
        const char *h[] = {"NAME", "TARGETS", "UPDATED"};
        cli_table t;
        cli_table_init(&t, 3, h);
        size_t i, k;
        json_t *d, *x;
        json_array_foreach(ds, i, d)
        {
            char tg[1024], when[64];
            size_t o = 0;
            tg[0] = '\0';
            json_array_foreach(json_object_get(d, "targets"), k, x)
            {
                const char *v = json_string_value(json_object_get(x, "version"));
                int w = snprintf(tg + o, sizeof(tg) - o, "%s%s%s%s=%lld", o ? ", " : "",
                                 json_string_value(json_object_get(x, "model")), v ? "/" : "@",
                                 v ? v : json_string_value(json_object_get(x, "alias")),
                                 (long long)json_integer_value(json_object_get(x, "weight")));
                if (w < 0 || (size_t)w >= sizeof(tg) - o) break;
                o += (size_t)w;
            }
            cli_fmt_time((int64_t)json_integer_value(json_object_get(d, "last_updated_timestamp")),
                         when, sizeof(when));
            const char *row[] = {json_string_value(json_object_get(d, "name")), tg, when};
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
        else return cli_usage_error("deploy show: unexpected argument '%s'", argv[i]);
    }
    if (!name) return cli_usage_error("deploy show: missing NAME");
    char enc[800], path[1200];
    cli_urlencode(name, enc, sizeof(enc));
    snprintf(path, sizeof(path), API "get?name=%s", enc);
    json_t *resp;
    if (cli_call(cfg, "GET", path, NULL, &resp)) return 1;
    json_t *d = json_object_get(resp, "deployment");
    if (as_json)
        cli_print_json(d);
    else
        print_dep(d);
    json_decref(resp);
    return 0;
}

static int del(int argc, char **argv, cairn_config *cfg)
{
    if (argc != 3 || argv[2][0] == '-') return cli_usage_error("deploy delete: want NAME");
    json_t *body = json_pack("{s:s}", "name", argv[2]), *resp;
    int rc = cli_call(cfg, "POST", API "delete", body, &resp);
    json_decref(body);
    if (rc) return 1;
    json_decref(resp);
    printf("deleted deployment '%s'\n", argv[2]);
    return 0;
}

int cmd_deploy_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("deploy: missing subcommand (create, set, list, show, delete)");
    if (!strcmp(argv[1], "create")) return write_cmd(argc, argv, cfg, API "create");
    if (!strcmp(argv[1], "set")) return write_cmd(argc, argv, cfg, API "update");
    if (!strcmp(argv[1], "list")) return list(argc, argv, cfg);
    if (!strcmp(argv[1], "show")) return show(argc, argv, cfg);
    if (!strcmp(argv[1], "delete")) return del(argc, argv, cfg);
    return cli_usage_error("deploy: unknown subcommand '%s' (create, set, list, show, delete)",
                           argv[1]);
}
