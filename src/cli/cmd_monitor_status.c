/*
 * cmd_monitor_status.c - `cairn monitor status` (the open and last closed
 * drift window of each monitored series, GET /api/2.0/cairn/monitor/status)
 * and `cairn monitor history` (closed windows with per-feature results,
 * GET /api/2.0/cairn/monitor/drift/history), as tables or JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_client.h"

int cmd_monitor_status(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_status_help(void);
int cmd_monitor_history(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_history_help(void);

void cmd_monitor_status_help(void)
{
    printf("usage: cairn monitor status [--deployment D] [--model M] [--json]\n\n"
           "Shows each monitored series (deployment, model version): its window\n"
           "settings, the rows in the open window, and per feature the statistic,\n"
           "score, threshold and verdict of the last closed window.\n");
}

void cmd_monitor_history_help(void)
{
    printf("usage: cairn monitor history --deployment D | --model M [--version V]\n"
           "                             [--feature F] [--max N] [--json]\n\n"
           "Lists closed drift windows, newest first, with per-feature results and\n"
           "the window's request error rate, p99 latency and shadow agreement.\n");
}

static const char *sv(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void num(json_t *v, char *out, size_t n)
{
    if (json_is_number(v))
        snprintf(out, n, "%.4g", json_number_value(v));
    else
        snprintf(out, n, "-");
}

/* Appends "?key=value" or "&key=value" (value URL-encoded) to path. */
static void add_query(char *path, size_t n, const char *key, const char *value)
{
    char enc[600];
    cli_urlencode(value, enc, sizeof(enc));
    size_t k = strlen(path);
    snprintf(path + k, n - k, "%s%s=%s", strchr(path, '?') ? "&" : "?", key, enc);
}

static void print_features(json_t *feats)
{
    static const char *const hdr[] = {"FEATURE", "STATISTIC", "SCORE", "THRESHOLD", "DRIFT",
                                      "MISSING", "OUT OF RANGE", "NEW CATEGORY"};
    cli_table t;
    cli_table_init(&t, 8, hdr);
    size_t i;
    json_t *f;
    json_array_foreach(feats, i, f)
    {
        char score[32], thr[32], miss[32], oor[32], newc[32];
        num(json_object_get(f, "score"), score, sizeof(score));
        num(json_object_get(f, "threshold"), thr, sizeof(thr));
        num(json_object_get(f, "missing_rate"), miss, sizeof(miss));
        num(json_object_get(f, "out_of_range_rate"), oor, sizeof(oor));
        num(json_object_get(f, "new_category_rate"), newc, sizeof(newc));
        const char *row[] = {sv(f, "feature"), sv(f, "statistic"), score, thr,
                             json_is_true(json_object_get(f, "drift")) ? "yes" : "no",
                             miss, oor, newc};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

int cmd_monitor_status(int argc, char **argv, cairn_config *cfg)
{
    const char *dep = NULL, *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--deployment") && v) dep = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else return cli_usage_error("cairn monitor status: unexpected argument '%s'", a);
    }
    char path[1400] = "/api/2.0/cairn/monitor/status";
    if (dep) add_query(path, sizeof(path), "deployment", dep);
    if (model) add_query(path, sizeof(path), "model", model);
    json_t *out = NULL;
    if (cli_call(cfg, "GET", path, NULL, &out)) return 1;
    if (json) {
        cli_print_json(out);
        json_decref(out);
        return 0;
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(out, "series"), i, s)
    {
        json_t *w = json_object_get(s, "window"), *cur = json_object_get(s, "current");
        printf("%s%s%s version %s: ", *sv(s, "deployment") ? sv(s, "deployment") : "",
               *sv(s, "deployment") ? " -> " : "", sv(s, "model"), sv(s, "version"));
        if (!json_is_true(json_object_get(s, "monitored"))) {
            printf("not monitored (%s)\n\n", sv(s, "reason"));
            continue;
        }
        printf("window %lld rows / %lld s, open window %lld rows, %lld windows closed\n",
               (long long)json_integer_value(json_object_get(w, "rows")),
               (long long)json_integer_value(json_object_get(w, "seconds")),
               (long long)json_integer_value(json_object_get(cur, "rows")),
               (long long)json_integer_value(json_object_get(s, "windows_closed")));
        json_t *last = json_object_get(s, "last_window");
        if (last) {
            char when[40];
            cli_fmt_time(json_integer_value(json_object_get(last, "end")), when, sizeof(when));
            printf("last window (closed %s): %lld features drifted\n", when,
                   (long long)json_integer_value(json_object_get(last, "drifted")));
            print_features(json_object_get(last, "features"));
        }
        printf("\n");
    }
    json_decref(out);
    return 0;
}

int cmd_monitor_history(int argc, char **argv, cairn_config *cfg)
{
    const char *dep = NULL, *model = NULL, *version = NULL, *feature = NULL, *max = "20";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--deployment") && v) dep = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--version") && v) version = argv[++i];
        else if (!strcmp(a, "--feature") && v) feature = argv[++i];
        else if (!strcmp(a, "--max") && v) max = argv[++i];
        else return cli_usage_error("cairn monitor history: unexpected argument '%s'", a);
    }
    if (!dep && !model) return cli_usage_error("cairn monitor history: --deployment or --model is needed");
    int64_t n;
    if (cairn_parse_i64(max, &n) || n < 1 || n > 10000)
        return cli_usage_error("--max wants a number from 1 to 10000, got '%s'", max);
    char path[2400] = "/api/2.0/cairn/monitor/drift/history";
    if (dep) add_query(path, sizeof(path), "deployment", dep);
    if (model) add_query(path, sizeof(path), "model", model);
    if (version) add_query(path, sizeof(path), "version", version);
    if (feature) add_query(path, sizeof(path), "feature", feature);
    add_query(path, sizeof(path), "max_results", max);
    json_t *out = NULL;
    if (cli_call(cfg, "GET", path, NULL, &out)) return 1;
    if (json) {
        cli_print_json(out);
        json_decref(out);
        return 0;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(out, "windows"), i, w)
    {
        char end[40], err[32], p99[32], agree[32];
        cli_fmt_time(json_integer_value(json_object_get(w, "end")), end, sizeof(end));
        num(json_object_get(w, "error_rate"), err, sizeof(err));
        num(json_object_get(w, "p99_ms"), p99, sizeof(p99));
        num(json_object_get(w, "shadow_agreement"), agree, sizeof(agree));
        printf("%s %s version %s, window closed %s: %lld rows, %lld of %lld features drifted, "
               "error rate %s, p99 %s ms, shadow agreement %s\n",
               *sv(w, "deployment") ? sv(w, "deployment") : "-", sv(w, "model"), sv(w, "version"),
               end, (long long)json_integer_value(json_object_get(w, "rows")),
               (long long)json_integer_value(json_object_get(w, "drifted")),
               (long long)json_integer_value(json_object_get(w, "features")), err, p99, agree);
        print_features(json_object_get(w, "results"));
        printf("\n");
    }
    json_decref(out);
    return 0;
}
