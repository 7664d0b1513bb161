/*
 * cmd_monitor_feedback.c - `cairn monitor feedback FILE --model NAME`: sends
 * delayed ground-truth labels to the server (POST /v2/models/NAME/feedback)
 * in batches, and sums up what the server joined.
 *
 * FILE is CSV with a header naming a request_id (or id) column and a label
 * column, or JSON lines ({"request_id"|"id": ..., "label": ...}); a file
 * whose first non-blank byte is '{' is read as JSON lines. A CSV label that
 * reads as a number is sent as a number, else as a string (a class name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_client.h"

int cmd_monitor_feedback(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_feedback_help(void);

#define MAX_LINE (1 << 20)

void cmd_monitor_feedback_help(void)
{
    printf("usage: cairn monitor feedback FILE --model NAME [--batch N] [--json]\n\n"
           "Attaches ground-truth labels to logged predictions by request id.\n"
           "FILE: CSV with columns request_id (or id) and label, or JSON lines\n"
           "{\"request_id\": \"...\", \"label\": ...}. Row i of a multi-row request is\n"
           "\"<id>/<i>\".\n\n"
           "  --model NAME  deployment or model name the predictions were served under\n"
           "  --batch N     labels per request (default 1000)\n"
           "  --json        print the summed result as JSON\n");
}

/* Splits one CSV line in place into at most max fields (double quotes
 * group, "" is a quote). Returns the field count. */
static int csv_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *w = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"')
                    *w++ = '"', p += 2;
                else if (*p == '"') {
                    p++;
                    break;
                } else if (!*p)
                    break;
                else
                    *w++ = *p++;
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                w++, p++;
        }
        char end = *p;
        *w = '\0';
        f[n++] = start;
        if (end != ',') break;
        p++;
    }
    return n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

typedef struct totals {
    size_t sent, joined, unknown, duplicate, rejected;
    json_t *unknown_ids, *rejected_items;
} totals;

/* Posts one batch; adds the answer to t. 0 or 1 (message printed). */
static int post_batch(const cairn_config *cfg, const char *path, json_t *labels, totals *t)
{
    size_t n = json_array_size(labels);
    if (!n) return 0;
    json_t *body = json_pack("{s:O}", "labels", labels), *out = NULL;
    int rc = cli_call(cfg, "POST", path, body, &out);
    json_decref(body);
    json_array_clear(labels);
    if (rc) return 1;
    t->sent += n;
    t->joined += (size_t)json_integer_value(json_object_get(out, "joined"));
    json_t *u = json_object_get(out, "unknown"), *d = json_object_get(out, "duplicate"),
           *r = json_object_get(out, "rejected");
    t->unknown += json_array_size(u);
    t->duplicate += json_array_size(d);
    t->rejected += json_array_size(r);
    json_array_extend(t->unknown_ids, u);
    json_array_extend(t->rejected_items, r);
    json_decref(out);
    return 0;
}

/* Reads the next label from f into *id / *label (new reference). 1: got
 * one, 0: end, -1: bad line (message printed). */
static int next_label(FILE *f, int jsonl, int id_col, int label_col, char *line, size_t *lineno,
                      json_t **label, char **id)
{
    while (fgets(line, MAX_LINE, f)) {
        (*lineno)++;
        chomp(line);
        if (!*line) continue;
        if (jsonl) {
            json_error_t err;
            json_t *o = json_loads(line, 0, &err);
            json_t *i = json_object_get(o, "request_id");
            if (!i) i = json_object_get(o, "id");
            json_t *l = json_object_get(o, "label");
            if (!json_is_string(i) || !(json_is_number(l) || json_is_string(l))) {
                fprintf(stderr,
                        "cairn monitor feedback: line %zu: want {\"request_id\": string, "
                        "\"label\": number or string}\n",
                        *lineno);
                json_decref(o);
                return -1;
            }
            *id = cairn_strdup(json_string_value(i));
            *label = json_incref(l);
            json_decref(o);
            return 1;
        }
        char *fields[256];
        int nf = csv_split(line, fields, 256);
        if (nf <= id_col || nf <= label_col) {
            fprintf(stderr, "cairn monitor feedback: line %zu: too few columns\n", *lineno);
            return -1;
        }
        double v;
        *id = cairn_strdup(fields[id_col]);
        *label = cairn_parse_double(fields[label_col], &v) ? json_string(fields[label_col])
                                                           : json_real(v);
        cairn_error_clear();
        return 1;
    }
    return 0;
}

int cmd_monitor_feedback(int argc, char **argv, cairn_config *cfg)
{
    const char *file = NULL, *model = NULL;
    int64_t batch = 1000;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (cairn_parse_i64(argv[++i], &batch) || batch < 1 || batch > 100000)
                return cli_usage_error("--batch wants 1..100000, not '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("unknown option '%s' (cairn monitor feedback --help)", argv[i]);
        else if (!file)
            file = argv[i];
        else
            return cli_usage_error("one FILE only");
    }
    if (!file || !model) return cli_usage_error("FILE and --model NAME are needed");
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "cairn monitor feedback: cannot open '%s'\n", file);
        return 2;
    }
    char *line = cairn_malloc(MAX_LINE);
    size_t lineno = 0;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
        ;
    int jsonl = c == '{';
    if (c != EOF) ungetc(c, f);
    int id_col = -1, label_col = -1, rc = 0;
    if (!jsonl) { /* the header */
        char *fields[256];
        int nf = 0;
        if (fgets(line, MAX_LINE, f)) {
            lineno++;
            chomp(line);
            nf = csv_split(line, fields, 256);
        }
        for (int j = 0; j < nf; j++) {
            if (!strcmp(fields[j], "request_id") || (id_col < 0 && !strcmp(fields[j], "id")))
                id_col = j;
            if (!strcmp(fields[j], "label")) label_col = j;
        }
        if (id_col < 0 || label_col < 0) {
            fprintf(stderr,
                    "cairn monitor feedback: '%s': the header needs request_id and label "
                    "columns\n",
                    file);
            rc = 2;
        }
    }
    char path[1024], enc[512];
    cli_urlencode(model, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/v2/models/%s/feedback", enc);
    totals t = {0, 0, 0, 0, 0, json_array(), json_array()};
    json_t *labels = json_array(), *label;
    char *id;
    int got;
    while (!rc && (got = next_label(f, jsonl, id_col, label_col, line, &lineno, &label, &id))) {
        if (got < 0) {
            rc = 2;
            break;
        }
        json_array_append_new(labels, json_pack("{s:s,s:o}", "id", id, "label", label));
        cairn_free(id);
        if (json_array_size(labels) >= (size_t)batch) rc = post_batch(cfg, path, labels, &t);
    }
    if (!rc) rc = post_batch(cfg, path, labels, &t);
    fclose(f);
    cairn_free(line);
    json_decref(labels);
    if (!rc) {
        if (as_json) {
            json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:O,s:O}", "sent", (json_int_t)t.sent, "joined",
                                  (json_int_t)t.joined, "duplicate", (json_int_t)t.duplicate,
                                  "rejected_count", (json_int_t)t.rejected, "unknown",
                                  t.unknown_ids, "rejected", t.rejected_items);
            cli_print_json(o);
            json_decref(o);
        } else {
            printf("sent %zu labels: %zu joined, %zu unknown, %zu duplicate, %zu rejected\n",
                   t.sent, t.joined, t.unknown, t.duplicate, t.rejected);
            for (size_t i = 0; i < json_array_size(t.unknown_ids) && i < 10; i++)
                printf("  unknown id: %s\n", json_string_value(json_array_get(t.unknown_ids, i)));
            for (size_t i = 0; i < json_array_size(t.rejected_items) && i < 10; i++) {
                json_t *r = json_array_get(t.rejected_items, i);
                printf("  rejected %s: %s\n", json_string_value(json_object_get(r, "id")),
                       json_string_value(json_object_get(r, "error")));
            }
        }
    }
    json_decref(t.unknown_ids);
    json_decref(t.rejected_items);
    return rc;
}
