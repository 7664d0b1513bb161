/*
 * cmd_predictions.c - `cairn predictions`: prints the prediction log
 * (include/cairn/predlog.h) as JSON lines or a table, oldest first,
 * optionally from a time, for one deployment or model, up to a count.
 * Reads the segment files directly, so it works with the server running
 * or stopped.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn/predlog.h"
#include "cli.h"

int cmd_predictions_run(int argc, char **argv, cairn_config *cfg);
void cmd_predictions_help(void);

void cmd_predictions_help(void)
{
    printf("usage: cairn predictions [--dir DIR | --home DIR] [--since TIME] [--deployment NAME]\n"
           "                         [--model NAME] [--limit N] [--json]\n\n"
           "Prints logged predictions, oldest first: a table, or with --json one JSON\n"
           "object per line (request_id, time, deployment, model, version, latency_ms,\n"
           "rows, inputs as {feature: [values]}, outputs as one array per row).\n\n"
           "  --dir DIR          prediction log directory (default serve.predlog_dir,\n"
           "                     <home>/predictions)\n"
           "  --home DIR         Cairn home whose log to read (default ./.cairn)\n"
           "  --since TIME       only records at or after TIME: ISO-8601 (2024-05-01,\n"
           "                     2024-05-01T12:00:00Z, ...+02:00) or an age (90s, 15m, 2h, 7d)\n"
           "  --deployment NAME  only records served through deployment NAME\n"
           "  --model NAME       only records of registered model NAME\n"
           "  --limit N          print at most N records\n"
           "  --json             JSON lines instead of a table\n");
}

/* Parses an age ("15m") into ns; -1 if s is not one. */
static int64_t parse_age(const char *s)
{
    char unit = 0, extra;
    long long n;
    if (sscanf(s, "%lld%c%c", &n, &unit, &extra) != 2 || n < 0) return -1;
    int64_t mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (!mul || n > INT64_MAX / 1000000000 / mul) return -1;
    return (int64_t)n * mul * 1000000000;
}

/* Parses --since TIME into unix ns. CAIRN_EINVALID with a message. */
static int parse_since(const char *s, int64_t *out)
{
    int64_t age = parse_age(s);
    if (age >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - age;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = 0, consumed = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) != 3 ||
        consumed != 10)
        goto bad;
    const char *p = s + 10;
    int64_t frac_ns = 0, offset_s = 0;
    if (*p == 'T' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2 || n != 5) goto bad;
        p += 1 + n;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &n) != 1 || n != 2) goto bad;
            p += 3;
            if (*p == '.') {
                int64_t scale = 100000000;
                for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac_ns += (*p - '0') * scale;
            }
        }
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) goto bad;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 1 + n;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        goto bad;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = ((int64_t)timegm(&tm) - offset_s) * 1000000000 + frac_ns;
    return 0;
bad:
    return cairn_error_set(
        CAIRN_EINVALID, CAIRN_SUBSYS_CLI,
        "--since wants ISO-8601 (2024-05-01T12:00:00Z) or an age (15m), got '%s'", s);
}

/* "2024-05-01T12:00:00.123456789Z" */
static void format_time(char *out, size_t cap, int64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09ldZ", base, frac);
}

static void put_num(cairn_buf *b, double x)
{
    if (isfinite(x))
        cairn_buf_printf(b, "%.17g", x);
    else
        cairn_buf_puts(b, "null");
}

static void put_str(cairn_buf *b, const char *s)
{
    if (s)
        cairn_buf_put_json_str(b, s, strlen(s));
    else
        cairn_buf_puts(b, "null");
}

/* One JSON line for e (into b, reset first). */
static void entry_json(cairn_buf *b, const cairn_predlog_entry *e)
{
    char t[48];
    format_time(t, sizeof(t), e->time_ns);
    cairn_buf_reset(b);
    cairn_buf_puts(b, "{\"request_id\":");
    put_str(b, e->request_id);
    cairn_buf_printf(b, ",\"time\":\"%s\",\"deployment\":", t);
    put_str(b, e->deployment);
    cairn_buf_puts(b, ",\"model\":");
    put_str(b, e->model);
    cairn_buf_printf(b, ",\"version\":%lld,\"latency_ms\":", (long long)e->version);
    put_num(b, (double)e->latency_ns / 1e6);
    cairn_buf_printf(b, ",\"rows\":%zu,\"inputs\":{", e->nrows);
    for (int j = 0; j < e->nfeatures; j++) {
        const cairn_predlog_feature *f = &e->features[j];
        if (j) cairn_buf_putc(b, ',');
        put_str(b, f->name);
        cairn_buf_puts(b, ":[");
        for (size_t i = 0; i < e->nrows; i++) {
            if (i) cairn_buf_putc(b, ',');
            if (f->categorical)
                put_str(b, f->cat[i]);
            else
                put_num(b, f->num[i]);
        }
        cairn_buf_putc(b, ']');
    }
    cairn_buf_puts(b, "},\"outputs\":[");
    for (size_t i = 0; i < e->nrows; i++) {
        cairn_buf_puts(b, i ? ",[" : "[");
        for (int o = 0; o < e->k; o++) {
            if (o) cairn_buf_putc(b, ',');
            put_num(b, e->outputs[i * (size_t)e->k + (size_t)o]);
        }
        cairn_buf_putc(b, ']');
    }
    cairn_buf_puts(b, "]}\n");
}

static void entry_row(cairn_buf *b, const cairn_predlog_entry *e)
{
    char t[48];
    format_time(t, sizeof(t), e->time_ns);
    t[23] = 'Z'; /* milliseconds are enough in a table */
    t[24] = '\0';
    cairn_buf_reset(b);
    cairn_buf_printf(b, "%-24s  %-32s  %-12s  %-16s  %7lld  %10.3f  %5zu  ", t, e->request_id,
                     *e->deployment ? e->deployment : "-", e->model, (long long)e->version,
                     (double)e->latency_ns / 1e6, e->nrows);
    for (int o = 0; o < e->k && o < 4; o++)
        cairn_buf_printf(b, "%s%.6g", o ? " " : "", e->nrows ? e->outputs[o] : NAN);
    if (e->k > 4) cairn_buf_puts(b, " ...");
    cairn_buf_putc(b, '\n');
}

int cmd_predictions_run(int argc, char **argv, cairn_config *cfg)
{
    const char *dir = NULL, *deployment = NULL, *model = NULL;
    int64_t since = 0, limit = -1;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!v) return cli_usage_error("predictions: unknown or incomplete option '%s'", a);
        i++;
        if (!strcmp(a, "--dir")) {
            dir = v;
        } else if (!strcmp(a, "--home")) {
            if (cairn_config_set(cfg, "store.home", v))
                return cli_usage_error("%s", cairn_error_last()->msg);
        } else if (!strcmp(a, "--since")) {
            if (parse_since(v, &since)) return cli_usage_error("%s", cairn_error_last()->msg);
        } else if (!strcmp(a, "--deployment")) {
            deployment = v;
        } else if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--limit")) {
            if (cairn_parse_i64(v, &limit) || limit < 0)
                return cli_usage_error("--limit wants a count, got '%s'", v);
        } else {
            return cli_usage_error("predictions: unknown option '%s'", a);
        }
    }
    if (!dir) {
        if (cairn_config_finish(cfg)) return cli_usage_error("%s", cairn_error_last()->msg);
        dir = cfg->serve.predlog_dir;
    }

    cairn_predlog_reader *rd = NULL;
    if (cairn_predlog_reader_open(&rd, dir, since)) return cli_fail();
    cairn_buf line = CAIRN_BUF_INIT(0);
    const cairn_predlog_entry *e;
    int64_t printed = 0;
    int rc = 0, step;
    if (!json)
        printf("%-24s  %-32s  %-12s  %-16s  %7s  %10s  %5s  %s\n", "TIME", "REQUEST_ID",
               "DEPLOYMENT", "MODEL", "VERSION", "LATENCY_MS", "ROWS", "OUTPUTS (row 1)");
    while ((limit < 0 || printed < limit) && (step = cairn_predlog_reader_next(rd, &e)) != 0) {
        if (step < 0) { /* this segment is unreadable; go on with the next */
            fprintf(stderr, "cairn: %s\n", cairn_error_last()->msg);
            rc = 1;
            continue;
        }
        if (deployment && strcmp(e->deployment, deployment)) continue;
        if (model && strcmp(e->model, model)) continue;
        if (json)
            entry_json(&line, e);
        else
            entry_row(&line, e);
        fwrite(line.ptr, 1, line.len, stdout);
        printed++;
    }
    if (cairn_predlog_reader_corrupt(rd))
        fprintf(stderr, "cairn: %llu log segment(s) cut short by a corrupt or truncated record\n",
                (unsigned long long)cairn_predlog_reader_corrupt(rd));
    cairn_buf_free(&line);
    cairn_predlog_reader_free(rd);
    return rc;
}
