/*
 * validate.c - the built-in validate stage: checks a CSV file against
 * column rules (presence and type, numeric ranges, missing rate,
 * uniqueness) and writes a readable report of every failed check.
 *
 * One pass over the file with the core CSV-free splitter below (quoted
 * fields, doubled quotes); each rule keeps counters, and uniqueness keeps
 * the column's values in a sorted array checked at the end, so memory is
 * bounded by the checked columns only.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 4096
#define MAX_BAD 5

typedef struct colstat {
    int idx; /* column index, -1 when absent */
    long missing, bad_type, below, above;
    long first_bad_row;
    char first_bad[64];
    char **vals; /* for unique */
    long nvals;
    double lo, hi;
} colstat;

/* Splits one CSV line in place into fields (handles quotes). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return -1;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (!*p) break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                    continue;
                }
                if (*p == '"') {
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = '\0';
            while (*p && *p != ',')
                p++;
        } else {
            f[n++] = p;
            while (*p && *p != ',')
                p++;
        }
        if (*p != ',') {
            *p = '\0';
            break;
        }
        *p++ = '\0';
    }
    return n;
}

static bool is_missing(const char *s)
{
    return !*s || !strcmp(s, "NA") || !strcmp(s, "NaN") || !strcmp(s, "nan") || !strcmp(s, "null");
}

static int scmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cairn_pipeline_validate_csv(const char *csv_path, const cairn_pipeline_stage *st, char **report)
{
    *report = NULL;
    FILE *fp = fopen(csv_path, "r");
    if (!fp) return PERR(CAIRN_ENOTFOUND, "cannot open '%s': %s", csv_path, strerror(errno));
    cairn_buf rep = CAIRN_BUF_INIT(0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    char **f = cairn_calloc(MAX_COLS, sizeof(char *));
    char **header = NULL;
    int ncols = 0, failures = 0;
    long rows = 0;
    colstat *cs = cairn_calloc((size_t)(st->nrules ? st->nrules : 1), sizeof(colstat));
    colstat *all = NULL; /* per column, for the file-wide max_missing */
    int rc = 0;
    if ((len = getline(&line, &cap, fp)) <= 0) {
        rc = PERR(CAIRN_EINVALID, "'%s' is empty", csv_path);
        goto done;
    }
    line[strcspn(line, "\r\n")] = '\0';
    ncols = split(line, f, MAX_COLS);
    if (ncols < 0) {
        rc = PERR(CAIRN_ETOOBIG, "'%s' has more than %d columns", csv_path, MAX_COLS);
        goto done;
    }
    header = cairn_calloc((size_t)ncols, sizeof(char *));
    for (int i = 0; i < ncols; i++)
        header[i] = cairn_strdup(f[i]);
    all = cairn_calloc((size_t)ncols, sizeof(colstat));
    for (int r = 0; r < st->nrules; r++) {
        cs[r].idx = -1;
        cs[r].lo = INFINITY;
        cs[r].hi = -INFINITY;
        for (int i = 0; i < ncols; i++)
            if (!strcmp(header[i], st->rules[r].name)) cs[r].idx = i;
        if (cs[r].idx < 0) {
            cairn_buf_printf(&rep, "FAIL column %s: missing from the file (schema)\n",
                             st->rules[r].name);
            failures++;
        }
    }
    while ((len = getline(&line, &cap, fp)) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) continue;
        rows++;
        int n = split(line, f, MAX_COLS);
        if (n != ncols) {
            if (failures < 100)
                cairn_buf_printf(&rep, "FAIL row %ld: %d fields, the header has %d\n", rows + 1, n,
                                 ncols);
            failures++;
            continue;
        }
        for (int i = 0; i < ncols; i++)
            if (is_missing(f[i])) all[i].missing++;
        for (int r = 0; r < st->nrules; r++) {
            const cairn_pipeline_col_rule *ru = &st->rules[r];
            colstat *c = &cs[r];
            if (c->idx < 0) continue;
            const char *v = f[c->idx];
            if (is_missing(v)) {
                c->missing++;
                continue;
            }
            double d = 0;
            bool num = !cairn_parse_double(v, &d);
            bool type_ok = true;
            if (ru->type && !strcmp(ru->type, "float"))
                type_ok = num;
            else if (ru->type && !strcmp(ru->type, "int"))
                type_ok = num && d == floor(d) && strcspn(v, ".eE") == strlen(v);
            if (!type_ok) {
                if (!c->bad_type++) {
                    c->first_bad_row = rows + 1;
                    snprintf(c->first_bad, sizeof(c->first_bad), "%s", v);
                }
                continue;
            }
            if (num) {
                if (d < c->lo) c->lo = d;
                if (d > c->hi) c->hi = d;
                if (ru->has_min && d < ru->min) c->below++;
                if (ru->has_max && d > ru->max) c->above++;
            }
            if (ru->unique) {
                if (c->nvals % 1024 == 0)
                    c->vals = cairn_realloc(c->vals, sizeof(char *) * (size_t)(c->nvals + 1024));
                c->vals[c->nvals++] = cairn_strdup(v);
            }
        }
    }
    for (int r = 0; r < st->nrules; r++) {
        const cairn_pipeline_col_rule *ru = &st->rules[r];
        colstat *c = &cs[r];
        if (c->idx < 0) continue;
        double mr = rows ? (double)c->missing / (double)rows : 0;
        double lim = ru->max_missing >= 0 ? ru->max_missing : st->max_missing;
        if (c->bad_type) {
            cairn_buf_printf(&rep, "FAIL column %s: %ld values are not %s (first: row %ld '%s')\n",
                             ru->name, c->bad_type, ru->type, c->first_bad_row, c->first_bad);
            failures++;
        }
        if (c->below) {
            cairn_buf_printf(&rep, "FAIL column %s: %ld values below min %g (lowest %g)\n",
                             ru->name, c->below, ru->min, c->lo);
            failures++;
        }
        if (c->above) {
            cairn_buf_printf(&rep, "FAIL column %s: %ld values above max %g (highest %g)\n",
                             ru->name, c->above, ru->max, c->hi);
            failures++;
        }
        if (lim >= 0 && mr > lim) {
            cairn_buf_printf(&rep,
                             "FAIL column %s: missing rate %.4f exceeds %.4f (%ld of %ld rows)\n",
                             ru->name, mr, lim, c->missing, rows);
            failures++;
        }
        if (ru->unique && c->nvals > 1) {
            qsort(c->vals, (size_t)c->nvals, sizeof(char *), scmp);
            long dup = 0;
            const char *first = NULL;
            for (long i = 1; i < c->nvals; i++)
                if (!strcmp(c->vals[i], c->vals[i - 1])) {
                    if (!dup++) first = c->vals[i];
                }
            if (dup) {
                cairn_buf_printf(
                    &rep, "FAIL column %s: %ld duplicate values (e.g. '%s'), expected unique\n",
                    ru->name, dup, first);
                failures++;
            }
        }
    }
    if (st->max_missing >= 0)
        for (int i = 0; i < ncols; i++) {
            bool ruled = false;
            for (int r = 0; r < st->nrules; r++)
                ruled |= cs[r].idx == i;
            double mr = rows ? (double)all[i].missing / (double)rows : 0;
            if (!ruled && mr > st->max_missing) {
                cairn_buf_printf(&rep, "FAIL column %s: missing rate %.4f exceeds %.4f\n",
                                 header[i], mr, st->max_missing);
                failures++;
            }
        }
    cairn_buf_printf(&rep, "%s: %ld rows, %d columns, %d rules: %s (%d failed checks)\n", csv_path,
                     rows, ncols, st->nrules, failures ? "FAILED" : "passed", failures);
    if (failures)
        rc = PERR(CAIRN_EINVALID, "data validation of '%s' failed: %d checks", csv_path, failures);
done:
    *report = rep.ptr ? cairn_buf_detach(&rep, NULL) : cairn_strdup("");
    for (int r = 0; r < st->nrules; r++) {
        for (long i = 0; i < cs[r].nvals; i++)
            cairn_free(cs[r].vals[i]);
        cairn_free(cs[r].vals);
    }
    cairn_free(cs);
    cairn_free(all);
    for (int i = 0; header && i < ncols; i++)
        cairn_free(header[i]);
    cairn_free(header);
    cairn_free(f);
    free(line); /* getline's allocation */
    fclose(fp);
    return rc;
}
