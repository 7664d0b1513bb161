/*
 * cli_client.h - what the client commands share: one REST call to the
 * tracking server (CAIRN_TRACKING_URI) returning parsed JSON, and a plain
 * text table printer.
 */
#ifndef CAIRN_CLI_CLIENT_H
#define CAIRN_CLI_CLIENT_H

#include <jansson.h>

#include "cli.h"

/* Calls METHOD <tracking_uri><path> with an optional JSON body (not taken).
 * On HTTP success stores the response in *out and returns 0; otherwise prints
 * the server's error message and returns 1. */
int cli_call(const cairn_config *cfg, const char *method, const char *path, json_t *body,
             json_t **out);

/* A table: set headers, add rows of strings, print with aligned columns. */
typedef struct cli_table {
    int ncols, nrows, cap;
    char **cells; /* nrows+1 rows of ncols; row 0 is the header */
} cli_table;
void cli_table_init(cli_table *t, int ncols, const char *const *headers);
void cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(cli_table *t);
void cli_table_free(cli_table *t);

/* Prints a JSON value, indented, to stdout. */
void cli_print_json(json_t *v);
/* "2026-11-22 15:04:05" from ms since epoch (UTC). */
void cli_fmt_time(int64_t ms, char *out, size_t n);
/* URL-encodes s into out (bounded). */
void cli_urlencode(const char *s, char *out, size_t n);

#endif
