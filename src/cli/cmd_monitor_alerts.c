/*
 * cmd_monitor_alerts.c - `cairn monitor alerts`: the alerts of the
 * server's monitoring policy (GET /api/2.0/cairn/monitor/alerts/list) as
 * a table or JSON, and with --deliveries the webhook dead letters
 * (GET .../alerts/deliveries?state=dead).
 */
#include <stdio.h>
#include <string.h>

#include "cli_client.h"

int cmd_monitor_alerts(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_alerts_help(void);

void cmd_monitor_alerts_help(void)
{
    printf("usage: cairn monitor alerts [--deployment D] [--state firing|resolved] [--json]\n"
           "       cairn monitor alerts --deliveries [--all] [--json]\n\n"
           "Lists the alerts raised by the server's monitoring policy, newest first.\n"
           "With --deliveries, lists the webhook deliveries that failed after their last\n"
           "retry (dead letters); --all lists the delivered ones too.\n\n"
           "options:\n"
           "  --deployment D  only alerts of deployment D\n"
           "  --state S       only firing or only resolved alerts\n"
           "  --max N         at most N rows (default 100)\n"
           "  --json          the server's JSON answer\n");
}

static const char *sv(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void fmt_when(json_t *o, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) cli_fmt_time(json_integer_value(v), out, n);
    else snprintf(out, n, "-");
}

static void print_alerts(json_t *arr)
{
    static const char *const hdr[] = {"ID", "RULE", "DEPLOYMENT", "SUBJECT", "STATE",
                                       "VALUE", "STARTED", "RESOLVED"};
    cli_table t;
    cli_table_init(&t, 8, hdr);
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        char value[40], started[40], resolved[40];
        json_t *v = json_object_get(a, "value");
        if (json_is_number(v))
            snprintf(value, sizeof(value), "%.4g %s %.4g", json_number_value(v),
                     !strcmp(sv(a, "condition"), "above") ? ">" : "<",
                     json_number_value(json_object_get(a, "threshold")));
        else snprintf(value, sizeof(value), "-");
        fmt_when(a, "started", started, sizeof(started));
        fmt_when(a, "resolved", resolved, sizeof(resolved));
        const char *subject = *sv(a, "subject") ? sv(a, "subject") : "-";
        const char *row[] = {sv(a, "id"), sv(a, "rule"), sv(a, "deployment"), subject,
                             sv(a, "state"), value, started, resolved};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

static void print_deliveries(json_t *arr)
{
    static const char *const hdr[] = {"ALERT", "EVENT", "URL", "STATE", "ATTEMPTS", "ERROR",
                                      "WHEN"};
    cli_table t;
    cli_table_init(&t, 7, hdr);
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char attempts[24], when[40];
        snprintf(attempts, sizeof(attempts), "%lld",
                 (long long)json_integer_value(json_object_get(d, "attempts")));
        fmt_when(d, "updated", when, sizeof(when));
        const char *err = *sv(d, "last_error") ? sv(d, "last_error") : "-";
        const char *row[] = {sv(d, "alert_id"), sv(d, "event"), sv(d, "url"), sv(d, "state"),
                             attempts, err, when};
        cli_table_add(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

int cmd_monitor_alerts(int argc, char **argv, cairn_config *cfg)
{
    const char *dep = NULL, *state = NULL, *max = "100";
    int json = 0, deliveries = 0, all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--deliveries")) deliveries = 1;
        else if (!strcmp(a, "--all")) all = 1;
        else if (!strcmp(a, "--deployment") && v) dep = argv[++i];
        else if (!strcmp(a, "--state") && v) state = argv[++i];
        else if (!strcmp(a, "--max") && v) max = argv[++i];
        else return cli_usage_error("cairn monitor alerts: unexpected argument '%s'", a);
    }
    int64_t n;
    if (cairn_parse_i64(max, &n) || n < 1 || n > 10000)
        return cli_usage_error("--max wants a number from 1 to 10000, got '%s'", max);
    if (state && strcmp(state, "firing") && strcmp(state, "resolved"))
        return cli_usage_error("--state wants firing or resolved, got '%s'", state);
    if (deliveries && (dep || state))
        return cli_usage_error("--deliveries takes neither --deployment nor --state");
    char path[1024], enc[600];
    if (deliveries) {
        snprintf(path, sizeof(path), "/api/2.0/cairn/monitor/alerts/deliveries?max_results=%lld%s",
                 (long long)n, all ? "" : "&state=dead");
    } else {
        int k = snprintf(path, sizeof(path), "/api/2.0/cairn/monitor/alerts/list?max_results=%lld",
                         (long long)n);
        if (dep) {
            cli_urlencode(dep, enc, sizeof(enc));
            k += snprintf(path + k, sizeof(path) - (size_t)k, "&deployment=%s", enc);
        }
        if (state) snprintf(path + k, sizeof(path) - (size_t)k, "&state=%s", state);
    }
    json_t *out = NULL;
    if (cli_call(cfg, "GET", path, NULL, &out)) return 1;
    if (json) cli_print_json(out);
    else if (deliveries) print_deliveries(json_object_get(out, "deliveries"));
    else print_alerts(json_object_get(out, "alerts"));
    json_decref(out);
    return 0;
}
