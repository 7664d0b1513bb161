/*
 * cmd_deploy.c - `cairn deploy create|update|shift|rollback|status|list|
 * delete`, a client of the server's deployments REST API
 * (/api/2.0/cairn/deployments/...). `set` and `show` stay as the old names
 * of update and status.
 *
 * Key idea: targets are given as model URIs with an optional weight,
 * models:/M@ALIAS[=W] or models:/M/VERSION[=W], and sent as
 * {model, alias|version, weight}; a shadow or a shift destination is
 * MODEL@REF (REF digits: a version, else an alias) or a models:/ URI, and
 * `shift --to` may name only the REF when the deployment serves one model.
 * The server validates and normalizes everything (durations included), so
 * the CLI only shapes requests and prints answers.
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
           "[--target models:/M/VERSION[=WEIGHT] ...]\n"
           "                           [--shadow MODEL@REF] [--json]\n"
           "       cairn deploy update NAME [--target ...] [--shadow MODEL@REF | --no-shadow] "
           "[--json]\n"
           "       cairn deploy shift NAME --to REF|MODEL@REF --step PERCENT --every DURATION\n"
           "                          [--max-error-rate-increase X] [--max-p99-ratio R]\n"
           "                          [--min-requests N] [--json]\n"
           "       cairn deploy rollback NAME [--json]\n"
           "       cairn deploy status NAME [--json]\n"
           "       cairn deploy list [--json]\n"
           "       cairn deploy delete NAME\n"
           "Weights are percentages summing to 100; targets given without one share\n"
           "the rest evenly. OIP requests for /v2/models/NAME are routed by weight\n"
           "(sticky per X-Cairn-Route-Key header). A shadow version gets a copy of\n"
           "the traffic off the response path; its agreement with the answers is\n"
           "shown by status. REF is a version number or an alias name.\n"
           "shift moves STEP percent of the traffic to the new version at once and\n"
           "again every DURATION (\"30s\", \"5m\", \"1h\", or seconds) until it has\n"
           "all of it; before each step, if the new version's error rate exceeds the\n"
           "old ones' by more than X (default 0.05) or its p99 latency is more than R\n"
           "times theirs (default 1.5), with at least N requests (default 20), the\n"
           "weights are rolled back. rollback restores the weights from before the\n"
           "last shift or update at once. (set and show are the old names of update\n"
           "and status.)\n");
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

static int is_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* {model, version|alias} from MODEL@REF or a models:/ URI without weight;
 * a bare REF takes default_model (NULL: refused). NULL on bad syntax. */
static json_t *parse_ref(const char *s, const char *default_model)
{
    if (!strncmp(s, "models:/", 8)) {
        json_t *t = parse_target(s);
        if (t && json_object_get(t, "weight")) {
            json_decref(t);
            return NULL;
        }
        return t;
    }
    const char *at = strrchr(s, '@');
    char model[512];
    const char *ref;
    if (at) {
        if (at == s || (size_t)(at - s) >= sizeof(model)) return NULL;
        memcpy(model, s, (size_t)(at - s));
        model[at - s] = '\0';
        ref = at + 1;
    } else {
        if (!default_model ||
            snprintf(model, sizeof(model), "%s", default_model) >= (int)sizeof(model))
            return NULL;
        ref = s;
    }
    if (!*ref || strchr(ref, '/') || strchr(ref, '@')) return NULL;
    return json_pack("{s:s,s:s}", "model", model, is_digits(ref) ? "version" : "alias", ref);
}

static const char *sv(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* "M/V" or "M@A" for a {model, version|alias} object. */
static void fmt_ref(json_t *o, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(o, "version"));
    snprintf(out, n, "%s%s%s", sv(o, "model"), v ? "/" : "@", v ? v : sv(o, "alias"));
}

static void print_shadow(json_t *sh)
{
    char ref[600];
    fmt_ref(sh, ref, sizeof(ref));
    json_t *st = json_object_get(sh, "stats");
    long long rows = (long long)json_integer_value(json_object_get(st, "rows"));
    printf("shadow      %s: %lld requests, %lld rows, agreement %.1f%% (%lld rows), mean |diff| "
           "%.6g, %lld errors, %lld dropped\n",
           ref, (long long)json_integer_value(json_object_get(st, "requests")), rows,
           100.0 * json_number_value(json_object_get(st, "agreement_rate")),
           (long long)json_integer_value(json_object_get(st, "agreement_rows")),
           json_number_value(json_object_get(st, "mean_abs_diff")),
           (long long)json_integer_value(json_object_get(st, "errors")),
           (long long)json_integer_value(json_object_get(st, "dropped")));
}

static void print_shift(json_t *s)
{
    char ref[600], when[64] = "";
    fmt_ref(json_object_get(s, "to"), ref, sizeof(ref));
    printf("shift       to %s: %s at %lld%% (step %lld%% every %gs; rollback if error rate > "
           "old + %g or p99 > %g x old, after %lld requests)\n",
           ref, sv(s, "state"), (long long)json_integer_value(json_object_get(s, "weight")),
           (long long)json_integer_value(json_object_get(s, "step")),
           json_number_value(json_object_get(s, "every_seconds")),
           json_number_value(json_object_get(s, "max_error_rate_increase")),
           json_number_value(json_object_get(s, "max_p99_ratio")),
           (long long)json_integer_value(json_object_get(s, "min_requests")));
    json_t *next = json_object_get(s, "next_step_timestamp");
    if (next) {
        cli_fmt_time((int64_t)json_integer_value(next), when, sizeof(when));
        printf("next step   %s\n", when);
    }
    if (json_object_get(s, "reason")) printf("reason      %s\n", sv(s, "reason"));
}

static void print_targets(json_t *targets)
{
    const char *h[] = {"MODEL", "VERSION/ALIAS", "WEIGHT"};
    cli_table t;
    cli_table_init(&t, 3, h);
    size_t i;
    json_t *x;
    json_array_foreach(targets, i, x)
    {
        char ref[300], w[16];
        const char *v = json_string_value(json_object_get(x, "version"));
        if (v)
            snprintf(ref, sizeof(ref), "%s", v);
        else
            snprintf(ref, sizeof(ref), "@%s", sv(x, "alias"));
        snprintf(w, sizeof(w), "%lld", (long long)json_integer_value(json_object_get(x, "weight")));
        const char *row[] = {sv(x, "model"), ref, w};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

static void print_stats(json_t *stats)
{
    if (!json_array_size(stats)) return;
    printf("\ntraffic since the server started:\n");
    const char *h[] = {"MODEL", "VERSION", "REQUESTS", "ERRORS", "ERROR_RATE", "P50_MS", "P99_MS"};
    cli_table t;
    cli_table_init(&t, 7, h);
    size_t i;
    json_t *x;
    json_array_foreach(stats, i, x)
    {
        char req[32], err[32], rate[32], p50[32], p99[32];
        snprintf(req, sizeof(req), "%lld",
                 (long long)json_integer_value(json_object_get(x, "requests")));
        snprintf(err, sizeof(err), "%lld",
                 (long long)json_integer_value(json_object_get(x, "errors")));
        snprintf(rate, sizeof(rate), "%.4f", json_number_value(json_object_get(x, "error_rate")));
        snprintf(p50, sizeof(p50), "%.3f", json_number_value(json_object_get(x, "p50_ms")));
        snprintf(p99, sizeof(p99), "%.3f", json_number_value(json_object_get(x, "p99_ms")));
        const char *row[] = {sv(x, "model"), sv(x, "version"), req, err, rate, p50, p99};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

/* The status view: header lines, the targets, the per-version traffic. */
static void print_dep(json_t *d)
{
    char when[64];
    cli_fmt_time((int64_t)json_integer_value(json_object_get(d, "last_updated_timestamp")), when,
                 sizeof(when));
    printf("deployment  %s\nupdated     %s\n", sv(d, "name"), when);
    if (json_object_get(d, "shadow")) print_shadow(json_object_get(d, "shadow"));
    if (json_object_get(d, "shift")) print_shift(json_object_get(d, "shift"));
    printf("\n");
    print_targets(json_object_get(d, "targets"));
    json_t *prev = json_object_get(d, "rollback_targets");
    if (json_array_size(prev)) {
        printf("\nrollback restores:\n");
        print_targets(prev);
    }
    print_stats(json_object_get(d, "stats"));
}

/* Prints the deployment in a {deployment: ...} answer and frees it. */
static int show_answer(json_t *resp, int as_json)
{
    json_t *d = json_object_get(resp, "deployment");
    if (as_json)
        cli_print_json(d);
    else
        print_dep(d);
    json_decref(resp);
    return 0;
}

/* GET get?name=NAME into *out. Returns 0 or 1 (error printed). */
static int get_dep(cairn_config *cfg, const char *name, json_t **out)
{
    char enc[800], path[1200];
    cli_urlencode(name, enc, sizeof(enc));
    snprintf(path, sizeof(path), API "get?name=%s", enc);
    return cli_call(cfg, "GET", path, NULL, out);
}

/* create / update: NAME [--target ...] [--shadow REF | --no-shadow] [--json]. */
static int write_cmd(int argc, char **argv, cairn_config *cfg, const char *endpoint)
{
    const char *name = NULL;
    int as_json = 0, create = !strcmp(endpoint, API "create");
    json_t *targets = json_array(), *shadow = NULL;
    for (int i = 2; i < argc; i++) {
        const char *err = NULL, *hint = "";
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            json_t *t = parse_target(argv[++i]);
            if (t)
                json_array_append_new(targets, t);
            else
                err = "bad target", hint = " (want models:/M@ALIAS[=W] or models:/M/VERSION[=W])";
        } else if (!strcmp(argv[i], "--shadow") && i + 1 < argc && !shadow) {
            if (!(shadow = parse_ref(argv[++i], NULL)))
                err = "bad shadow", hint = " (want MODEL@VERSION or MODEL@ALIAS)";
        } else if (!strcmp(argv[i], "--no-shadow") && !create && !shadow) {
            shadow = json_null();
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            err = "unexpected argument";
        }
        if (err) {
            json_decref(targets);
            json_decref(shadow);
            return cli_usage_error("deploy %s: %s '%s'%s", argv[1], err, argv[i], hint);
        }
    }
    if (!name || (json_array_size(targets) == 0 && (create || !shadow))) {
        json_decref(targets);
        json_decref(shadow);
        return cli_usage_error("deploy %s: want NAME and at least one --target%s", argv[1],
                               create ? "" : " or --shadow");
    }
    json_t *body = json_pack("{s:s}", "name", name), *resp;
    if (json_array_size(targets))
        json_object_set_new(body, "targets", targets);
    else
        json_decref(targets);
    if (shadow) json_object_set_new(body, "shadow", shadow);
    int rc = cli_call(cfg, "POST", endpoint, body, &resp);
    json_decref(body);
    if (rc) return 1;
    return show_answer(resp, as_json);
}

/* shift NAME --to REF --step P --every D [--max-error-rate-increase X]
 * [--max-p99-ratio R] [--min-requests N] [--json]. */
static int shift(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL, *to = NULL, *step = NULL, *every = NULL, *err_inc = NULL, *p99 = NULL,
               *minreq = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--to"))
            slot = &to;
        else if (!strcmp(argv[i], "--step"))
            slot = &step;
        else if (!strcmp(argv[i], "--every"))
            slot = &every;
        else if (!strcmp(argv[i], "--max-error-rate-increase"))
            slot = &err_inc;
        else if (!strcmp(argv[i], "--max-p99-ratio"))
            slot = &p99;
        else if (!strcmp(argv[i], "--min-requests"))
            slot = &minreq;
        if (slot && i + 1 < argc && !*slot) {
            *slot = argv[++i];
        } else if (!slot && argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            return cli_usage_error("deploy shift: unexpected argument '%s'", argv[i]);
        }
    }
    if (!name || !to || !step || !every)
        return cli_usage_error("deploy shift: want NAME --to REF --step PERCENT --every DURATION");
    double num[3];
    const char *const nums[] = {step, err_inc, p99};
    for (int k = 0; k < 3; k++) {
        char *end;
        if (!nums[k]) continue;
        num[k] = strtod(nums[k], &end);
        if (end == nums[k] || *end)
            return cli_usage_error("deploy shift: '%s' is not a number", nums[k]);
    }
    char *end;
    long long mr = minreq ? strtoll(minreq, &end, 10) : 0;
    if (minreq && (end == minreq || *end))
        return cli_usage_error("deploy shift: '%s' is not a whole number", minreq);

    /* a bare REF names a version or alias of the deployment's model */
    json_t *dep = NULL, *target = NULL;
    if (!strchr(to, '@') && strncmp(to, "models:/", 8)) {
        if (get_dep(cfg, name, &dep)) return 1;
        json_t *ts = json_object_get(json_object_get(dep, "deployment"), "targets");
        const char *model = sv(json_array_get(ts, 0), "model");
        for (size_t i = 1; i < json_array_size(ts); i++)
            if (strcmp(model, sv(json_array_get(ts, i), "model"))) model = NULL;
        if (!model) {
            json_decref(dep);
            return cli_usage_error("deploy shift: '%s' serves several models; give --to MODEL@REF",
                                   name);
        }
        target = parse_ref(to, model);
    } else {
        target = parse_ref(to, NULL);
    }
    json_decref(dep);
    if (!target)
        return cli_usage_error("deploy shift: bad --to '%s' (want REF, MODEL@REF or a models:/ "
                               "URI)",
                               to);
    json_t *body = json_pack("{s:s,s:o,s:f,s:s}", "name", name, "to", target, "step", num[0],
                             "every", every),
           *resp;
    if (err_inc) json_object_set_new(body, "max_error_rate_increase", json_real(num[1]));
    if (p99) json_object_set_new(body, "max_p99_ratio", json_real(num[2]));
    if (minreq) json_object_set_new(body, "min_requests", json_integer(mr));
    if (num[0] == (long long)num[0])
        json_object_set_new(body, "step", json_integer((long long)num[0]));
    int rc = cli_call(cfg, "POST", API "shift", body, &resp);
    json_decref(body);
    if (rc) return 1;
    return show_answer(resp, as_json);
}

static int rollback(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return cli_usage_error("deploy rollback: unexpected argument '%s'", argv[i]);
    }
    if (!name) return cli_usage_error("deploy rollback: missing NAME");
    json_t *body = json_pack("{s:s}", "name", name), *resp;
    int rc = cli_call(cfg, "POST", API "rollback", body, &resp);
    json_decref(body);
    if (rc) return 1;
    return show_answer(resp, as_json);
}

static int list(int argc, char **argv, cairn_config *cfg)
{
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else
            return cli_usage_error("deploy list: unexpected argument '%s'", argv[i]);
    }
    json_t *resp;
    if (cli_call(cfg, "GET", API "list", NULL, &resp)) return 1;
    json_t *ds = json_object_get(resp, "deployments");
    if (as_json) {
        cli_print_json(ds);
    } else {
        const char *h[] = {"NAME", "TARGETS", "SHADOW", "SHIFT", "UPDATED"};
        cli_table t;
        cli_table_init(&t, 5, h);
        size_t i, k;
        json_t *d, *x;
        json_array_foreach(ds, i, d)
        {
            char tg[1024], when[64], shadow[600] = "-", sh[64] = "-";
            size_t o = 0;
            tg[0] = '\0';
            json_array_foreach(json_object_get(d, "targets"), k, x)
            {
                char ref[600];
                fmt_ref(x, ref, sizeof(ref));
                int w = snprintf(tg + o, sizeof(tg) - o, "%s%s=%lld", o ? ", " : "", ref,
                                 (long long)json_integer_value(json_object_get(x, "weight")));
                if (w < 0 || (size_t)w >= sizeof(tg) - o) break;
                o += (size_t)w;
            }
            if (json_object_get(d, "shadow"))
                fmt_ref(json_object_get(d, "shadow"), shadow, sizeof(shadow));
            json_t *s = json_object_get(d, "shift");
            if (s)
                snprintf(sh, sizeof(sh), "%s %lld%%", sv(s, "state"),
                         (long long)json_integer_value(json_object_get(s, "weight")));
            cli_fmt_time((int64_t)json_integer_value(json_object_get(d, "last_updated_timestamp")),
                         when, sizeof(when));
            const char *row[] = {sv(d, "name"), tg, shadow, sh, when};
            cli_table_add(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    json_decref(resp);
    return 0;
}

static int status(int argc, char **argv, cairn_config *cfg)
{
    const char *name = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return cli_usage_error("deploy %s: unexpected argument '%s'", argv[1], argv[i]);
    }
    if (!name) return cli_usage_error("deploy %s: missing NAME", argv[1]);
    json_t *resp;
    if (get_dep(cfg, name, &resp)) return 1;
    return show_answer(resp, as_json);
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

#define VERBS "create, update, shift, rollback, status, list, delete"

int cmd_deploy_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("deploy: missing subcommand (" VERBS ")");
    const char *v = argv[1];
    if (!strcmp(v, "create")) return write_cmd(argc, argv, cfg, API "create");
    if (!strcmp(v, "update") || !strcmp(v, "set")) return write_cmd(argc, argv, cfg, API "update");
    if (!strcmp(v, "shift")) return shift(argc, argv, cfg);
    if (!strcmp(v, "rollback")) return rollback(argc, argv, cfg);
    if (!strcmp(v, "status") || !strcmp(v, "show")) return status(argc, argv, cfg);
    if (!strcmp(v, "list")) return list(argc, argv, cfg);
    if (!strcmp(v, "delete")) return del(argc, argv, cfg);
    return cli_usage_error("deploy: unknown subcommand '%s' (" VERBS ")", v);
}
