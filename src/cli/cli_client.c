/*
 * cli_client.c - REST calls and table output for the client commands.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn/http.h"
#include "cli_client.h"

int cli_call(const cairn_config *cfg, const char *method, const char *path, json_t *body,
             json_t **out)
{
    char url[2048];
    const char *base = cfg->client.tracking_uri;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    snprintf(url, sizeof(url), "%.*s%s", (int)bl, base, path);
    char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cairn_buf resp = CAIRN_BUF_INIT(256u << 20);
    int status = 0;
    int rc = cairn_http_fetch(method, url, data ? "application/json" : NULL, data,
                              data ? strlen(data) : 0, &status, &resp);
    free(data);
    if (rc) {
        fprintf(stderr, "cairn: %s\n", cairn_error_last()->msg);
        cairn_buf_free(&resp);
        return 1;
    }
    json_error_t err;
    json_t *v = json_loadb(cairn_buf_cstr(&resp), resp.len, 0, &err);
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(v, "message"));
        const char *code = json_string_value(json_object_get(v, "error_code"));
        fprintf(stderr, "cairn: %s%s%s (HTTP %d)\n", code ? code : "", code ? ": " : "",
                msg ? msg : cairn_buf_cstr(&resp), status);
        json_decref(v);
        cairn_buf_free(&resp);
        return 1;
    }
    cairn_buf_free(&resp);
    if (!v) {
        fprintf(stderr, "cairn: the server's answer is not JSON: %s\n", err.text);
        return 1;
    }
    *out = v;
    return 0;
}

void cli_table_init(cli_table *t, int ncols, const char *const *headers)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cap = 16;
    t->cells = cairn_calloc((size_t)(t->cap * ncols), sizeof(char *));
    for (int i = 0; i < ncols; i++) t->cells[i] = cairn_strdup(headers[i]);
}

void cli_table_add(cli_table *t, const char *const *cells)
{
    if (t->nrows + 2 > t->cap) {
        t->cap *= 2;
        t->cells = cairn_realloc(t->cells, sizeof(char *) * (size_t)(t->cap * t->ncols));
    }
    t->nrows++;
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = cairn_strdup(cells[i] ? cells[i] : "");
}

void cli_table_print(cli_table *t)
{
    int w[32] = {0};
    for (int r = 0; r <= t->nrows; r++)
        for (int c = 0; c < t->ncols && c < 32; c++) {
            int l = (int)strlen(t->cells[r * t->ncols + c]);
            if (l > 60) l = 60;
            if (l > w[c]) w[c] = l;
        }
    for (int r = 0; r <= t->nrows; r++) {
        for (int c = 0; c < t->ncols && c < 32; c++)
            printf("%-*.*s%s", w[c], 60, t->cells[r * t->ncols + c], c + 1 < t->ncols ? "  " : "\n");
        if (r == 0) {
            for (int c = 0; c < t->ncols && c < 32; c++) {
                for (int k = 0; k < w[c]; k++) putchar('-');
                fputs(c + 1 < t->ncols ? "  " : "\n", stdout);
            }
        }
    }
}

void cli_table_free(cli_table *t)
{
    for (int i = 0; i < (t->nrows + 1) * t->ncols; i++) cairn_free(t->cells[i]);
    cairn_free(t->cells);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (s) puts(s);
    free(s);
}

void cli_fmt_time(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_urlencode(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}
