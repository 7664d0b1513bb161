/*
 * csv.c - the CSV reader's entry points: options, the header, the parallel
 * split, the column passes, dictionary merging and the resulting frame.
 *
 * Key idea: three cheap parallel scans find exact record boundaries without
 * parsing fields (quote counts per byte range -> the in-quotes parity at each
 * split point -> the first record start after it -> records per chunk), so
 * every chunk knows its global row numbers before any field is parsed and
 * workers write into the final column arrays. A column found categorical
 * only after its numbers were parsed is collected in a second pass over the
 * input. Results never depend on the thread count or the split: numbers are
 * per-row, dictionaries are merged in chunk order, and of all chunks' first
 * errors the one earliest in the input is reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv_internal.h"

static const char *const default_na[] = {
    "",     "NA",   "N/A",  "n/a", "NaN", "nan",     "-NaN",   "-nan",     "null",    "NULL",
    "None", "<NA>", "#N/A", "#NA", "?",   "-1.#IND", "1.#IND", "-1.#QNAN", "1.#QNAN", "#N/A N/A"};

#define AUTO_CHUNK ((size_t)256 << 10)
#define SNIFF_ROWS 64

/* ---- errors ---- */

/* Line and column (1-based; the column in UTF-8 characters) of `at`. */
static void position(const struct csv_ctx *cx, const char *at, size_t *line, size_t *col)
{
    const char *p = cx->data, *q;
    size_t ln = 1;
    while (p < at && (q = memchr(p, '\n', (size_t)(at - p))))
        ln++, p = q + 1;
    if (p == cx->data && cx->end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) && at >= p + 3) p += 3;
    size_t c = 1;
    for (; p < at; p++)
        if (((unsigned char)*p & 0xC0) != 0x80) c++;
    *line = ln;
    *col = c;
}

static int report(const struct csv_ctx *cx, const struct csv_err *e)
{
    size_t line, col;
    position(cx, e->at, &line, &col);
    return cairn_error_set(e->code, CAIRN_SUBSYS_ML, "%s:%zu:%zu: %s", cx->name, line, col,
                           e->reason);
}

/* ---- options ---- */

static int check_opts(const cairn_csv_opts *o)
{
    if (o->version != CAIRN_CSV_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "csv options version %u, want %d",
                               o->version, CAIRN_CSV_OPTS_VERSION);
    char dl = o->delimiter, q = o->quote;
    if (dl == '\0' || dl == '\n' || dl == '\r' || dl == q)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "bad csv delimiter");
    if (q == '\n' || q == '\r')
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "bad csv quote character");
    if (o->numeric_type != CAIRN_COL_F64 && o->numeric_type != CAIRN_COL_F32)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "numeric_type must be f32 or f64");
    if (o->max_columns <= 0 || o->max_field_len == 0 || o->max_categories < 0 || o->threads < 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "bad csv limits");
    if ((o->ntypes && !o->types) || (o->nusecols && !o->usecols) ||
        (o->n_na_tokens && !o->na_tokens))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "csv option list without items");
    for (size_t i = 0; i < o->ntypes; i++)
        if (!o->types[i].name ||
            (o->types[i].type != CAIRN_COL_F32 && o->types[i].type != CAIRN_COL_F64 &&
             o->types[i].type != CAIRN_COL_CAT))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "bad csv type override");
    for (size_t i = 0; i < o->nusecols; i++)
        if (!o->usecols[i])
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "null name in usecols");
    for (size_t i = 0; i < o->n_na_tokens; i++)
        if (!o->na_tokens[i])
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "null csv na token");
    return 0;
}

/* ---- header and columns ---- */

/* Reads the first record at *pp: its field texts into *names_out (nfields
 * of them, owned). With a header, *pp moves past it and duplicate names are
 * an error; without one, names are c0, c1, ... and *pp stays. */
static int read_header(struct csv_ctx *cx, const cairn_csv_opts *o, const char **pp,
                       char ***names_out, int *n_out)
{
    const char *p = *pp;
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    char *scratch = NULL;
    size_t scap = 0;
    struct csv_dict seen;
    cairn_csv__dict_init(&seen);
    struct csv_err err = {0};
    for (;;) {
        struct csv_field f;
        const char *next = cairn_csv__field(&cx->d, p, cx->end, &f, &err);
        if (!next) {
            rc = report(cx, &err);
            goto cleanup;
        }
        if (n == o->max_columns) {
            err = (struct csv_err){f.start, CAIRN_ETOOBIG, ""};
            snprintf(err.reason, sizeof(err.reason), "more than %d columns (max_columns)",
                     o->max_columns);
            rc = report(cx, &err);
            goto cleanup;
        }
        const char *s = f.ptr;
        size_t len = f.len;
        if (f.escaped) {
            len = cairn_csv__unescape(&f, cx->d.quote, &scratch, &scap);
            s = scratch;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = cairn_realloc(names, sizeof(char *) * (size_t)cap);
        }
        if (o->has_header) {
            bool added;
            if (memchr(s, '\0', len)) {
                err = (struct csv_err){f.start, CAIRN_EINVALID, "nul byte in column name"};
                rc = report(cx, &err);
                goto cleanup;
            }
            cairn_csv__dict_intern(&seen, s, len, &added);
            if (!added) {
                err = (struct csv_err){f.start, CAIRN_EINVALID, ""};
                char ex[48];
                snprintf(ex, sizeof(ex), "%.*s", len > 40 ? 40 : (int)len, s);
                snprintf(err.reason, sizeof(err.reason), "duplicate column name '%s'", ex);
                rc = report(cx, &err);
                goto cleanup;
            }
            names[n++] = cairn_strndup(s, len);
        } else {
            char nm[24];
            snprintf(nm, sizeof(nm), "c%d", n);
            names[n++] = cairn_strdup(nm);
        }
        p = next;
        if (f.eol) break;
    }
    if (o->has_header) *pp = p;
cleanup:
    cairn_free(scratch);
    cairn_csv__dict_free(&seen);
    if (rc) {
        for (int i = 0; i < n; i++)
            cairn_free(names[i]);
        cairn_free(names);
        names = NULL;
        n = 0;
    }
    *names_out = names;
    *n_out = n;
    return rc;
}

static int find_name(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

/* Chooses the kept columns (cx->map, cx->cols) and their types; takes the
 * names it keeps, frees the others. */
static int plan_columns(struct csv_ctx *cx, const cairn_csv_opts *o, char **names, int n)
{
    int rc = 0;
    bool *keep = cairn_calloc((size_t)n, sizeof(bool));
    cairn_col_type *type = cairn_calloc((size_t)n, sizeof(cairn_col_type));
    bool *forced = cairn_calloc((size_t)n, sizeof(bool));
    for (int i = 0; i < n; i++)
        keep[i] = o->usecols == NULL, type[i] = o->numeric_type;
    for (size_t k = 0; k < o->nusecols; k++) {
        int i = find_name(names, n, o->usecols[k]);
        if (i < 0) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s: no column named '%.60s'",
                                 cx->name, o->usecols[k]);
            goto cleanup;
        }
        keep[i] = true;
    }
    for (size_t k = 0; k < o->ntypes; k++) {
        int i = find_name(names, n, o->types[k].name);
        if (i < 0) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s: no column named '%.60s'",
                                 cx->name, o->types[k].name);
            goto cleanup;
        }
        type[i] = o->types[k].type;
        forced[i] = true;
    }
    cx->nfields = n;
    cx->map = cairn_malloc(sizeof(int) * (size_t)n);
    cx->cols = cairn_calloc((size_t)n, sizeof(struct csv_col));
    for (int i = 0; i < n; i++) {
        cx->map[i] = -1;
        if (!keep[i]) continue;
        struct csv_col *c = &cx->cols[cx->ncols];
        cx->map[i] = cx->ncols++;
        c->src = i;
        c->name = names[i];
        names[i] = NULL;
        c->type = type[i];
        c->forced = forced[i];
        atomic_init(&c->notnum, false);
        atomic_init(&c->overflow, false);
    }
cleanup:
    for (int i = 0; i < n; i++)
        cairn_free(names[i]);
    cairn_free(names);
    cairn_free(keep);
    cairn_free(type);
    cairn_free(forced);
    return rc;
}

/* Marks inferred columns categorical when one of the first kept rows holds
 * a non-number, so the common case needs one pass. Serial and independent
 * of the split; stops quietly at malformed input (the passes report it). */
static void sniff(struct csv_ctx *cx, const char *p, const char *end)
{
    size_t done;
    struct csv_err err;
    p = cairn_csv__skip_records(p, end, cx->d.quote, cx->skip, &done);
    for (size_t r = 0; r < SNIFF_ROWS && r < cx->nrows && p < end;) {
        size_t b = cairn_csv__blank(p, end);
        if (b) {
            p += b;
            continue;
        }
        for (int nf = 0;; nf++) {
            struct csv_field f;
            const char *next = cairn_csv__field(&cx->d, p, end, &f, &err);
            if (!next) return;
            int ci = nf < cx->nfields ? cx->map[nf] : -1;
            struct csv_col *c = ci >= 0 ? &cx->cols[ci] : NULL;
            if (c && !c->forced && c->type != CAIRN_COL_CAT && !f.escaped &&
                !cairn_csv__is_na(cx, f.ptr, f.len)) {
                const char *s = f.ptr;
                size_t n = f.len;
                while (n && (*s == ' ' || *s == '\t') && *s != cx->d.delim)
                    s++, n--;
                while (n && (s[n - 1] == ' ' || s[n - 1] == '\t') && s[n - 1] != cx->d.delim)
                    n--;
                double v;
                if (cairn_csv__parse_f64(s, s + n, &v) != s + n) c->type = CAIRN_COL_CAT;
            }
            p = next;
            if (f.eol) break;
        }
        r++;
    }
}

/* ---- the parallel split ---- */

/* Cuts [beg, end) into chunks of whole records and counts their records. */
static struct csv_chunk *split(struct csv_ctx *cx, const char *beg, const char *end, int nt,
                               size_t chunk_bytes, int *n_out, size_t *total_out)
{
    size_t len = (size_t)(end - beg);
    size_t target = chunk_bytes ? chunk_bytes : AUTO_CHUNK;
    size_t n = len / target + 1;
    if (!chunk_bytes && n > (size_t)nt * 4) n = (size_t)nt * 4;
    if (!chunk_bytes && nt == 1) n = 1;
    if (n > len) n = len ? len : 1;
    if (n > (1u << 20)) n = 1u << 20;
    const int nc = (int)n;
    struct csv_chunk *ch = cairn_calloc(n, sizeof(*ch));
    size_t *quotes = cairn_calloc(n, sizeof(size_t));
    const char quote = cx->d.quote;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < nc; i++)
        quotes[i] = cairn_csv__count_quotes(beg + len * (size_t)i / n,
                                            beg + len * (size_t)(i + 1) / n, quote);
    size_t total_quotes = 0;
    for (int i = 0; i < nc; i++)
        total_quotes += quotes[i];
    if (!total_quotes) cx->d.quote = '\0'; /* fast path: no quoting anywhere */
    const char q2 = cx->d.quote;
    size_t parity = 0;
    for (int i = 0; i < nc; i++) {
        size_t qi = quotes[i];
        quotes[i] = parity & 1; /* parity before chunk i */
        parity += qi;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < nc; i++)
        ch[i].beg =
            i == 0 ? beg : cairn_csv__sync(beg + len * (size_t)i / n, end, q2, quotes[i] != 0);
    for (int i = 0; i < nc; i++)
        ch[i].end = i + 1 < nc ? ch[i + 1].beg : end;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < nc; i++)
        cairn_csv__skip_records(ch[i].beg, ch[i].end, q2, SIZE_MAX, &ch[i].nrec);
    size_t total = 0;
    for (int i = 0; i < nc; i++)
        ch[i].row0 = total, total += ch[i].nrec;
    cairn_free(quotes);
    *n_out = nc;
    *total_out = total;
    return ch;
}

/* ---- passes ---- */

/* Runs one column pass over every chunk; reports the earliest error. */
static int run_pass(struct csv_ctx *cx, struct csv_chunk *ch, int nc, int nt)
{
    for (int i = 0; i < nc; i++) {
        ch[i].err.at = NULL;
        ch[i].dicts = cairn_calloc((size_t)cx->ncols, sizeof(struct csv_dict));
        for (int k = 0; k < cx->ncols; k++)
            if (cx->cols[k].cat_pass) cairn_csv__dict_init(&ch[i].dicts[k]);
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < nc; i++)
        cairn_csv__parse_chunk(cx, &ch[i]);
    for (int i = 0; i < nc; i++)
        if (ch[i].err.at) return report(cx, &ch[i].err);
    return 0;
}

static void free_dicts(struct csv_ctx *cx, struct csv_chunk *ch, int nc)
{
    for (int i = 0; i < nc; i++) {
        if (!ch[i].dicts) continue;
        for (int k = 0; k < cx->ncols; k++)
            if (ch[i].dicts[k].slots) cairn_csv__dict_free(&ch[i].dicts[k]);
        cairn_free(ch[i].dicts);
        ch[i].dicts = NULL;
    }
}

/* Rows of chunk i kept in the frame: [*lo, *hi) in frame row numbers. */
static void kept_rows(const struct csv_ctx *cx, const struct csv_chunk *c, size_t *lo, size_t *hi)
{
    size_t a = c->row0, b = c->row0 + c->nrec, s = cx->skip, e = cx->skip + cx->nrows;
    a = a < s ? s : a;
    b = b > e ? e : b;
    *lo = a - s;
    *hi = b > a ? b - s : a - s;
}

static int too_many(const struct csv_ctx *cx, const struct csv_col *c)
{
    return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML,
                           "%s: column '%.60s' has more than %d distinct values (max_categories)",
                           cx->name, c->name,
                           cx->max_categories ? cx->max_categories : INT32_MAX - 2);
}

/* Merges the chunk dictionaries of every cat_pass column in chunk order
 * and rewrites the codes to the merged numbering. */
static int merge_dicts(struct csv_ctx *cx, struct csv_chunk *ch, int nc, int nt)
{
    for (int k = 0; k < cx->ncols; k++) {
        struct csv_col *c = &cx->cols[k];
        if (!c->cat_pass) continue;
        if (atomic_load(&c->overflow)) return too_many(cx, c);
        struct csv_dict g;
        cairn_csv__dict_init(&g);
        int32_t **remap = cairn_calloc((size_t)nc, sizeof(int32_t *));
        bool over = false;
        for (int i = 0; i < nc && !over; i++) {
            const struct csv_dict *d = &ch[i].dicts[k];
            remap[i] = cairn_malloc(sizeof(int32_t) * (size_t)(d->n ? d->n : 1));
            for (int32_t e = 0; e < d->n && !over; e++) {
                bool added;
                remap[i][e] = cairn_csv__dict_intern(&g, d->ent[e].s, d->ent[e].len, &added);
                over = remap[i][e] < 0 || (cx->max_categories > 0 && g.n > cx->max_categories);
            }
        }
        if (!over) {
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int i = 0; i < nc; i++) {
                size_t lo, hi;
                kept_rows(cx, &ch[i], &lo, &hi);
                for (size_t r = lo; r < hi; r++)
                    if (c->codes[r] >= 0) c->codes[r] = remap[i][c->codes[r]];
            }
            c->ndict = g.n;
            c->dict = cairn_calloc((size_t)(g.n ? g.n : 1), sizeof(char *));
            for (int32_t e = 0; e < g.n; e++)
                c->dict[e] = cairn_strndup(g.ent[e].s, g.ent[e].len);
        }
        for (int i = 0; i < nc; i++)
            cairn_free(remap[i]);
        cairn_free(remap);
        cairn_csv__dict_free(&g);
        if (over) return too_many(cx, c);
    }
    return 0;
}

/* Allocates a column's array for its current type. */
static int alloc_col(struct csv_ctx *cx, struct csv_col *c)
{
    size_t n = cx->nrows ? cx->nrows : 1;
    size_t el = c->type == CAIRN_COL_F64   ? sizeof(double)
                : c->type == CAIRN_COL_F32 ? sizeof(float)
                                           : sizeof(int32_t);
    if (n > SIZE_MAX / el) return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "csv too large");
    void *a = cairn_try_malloc(n * el);
    if (!a)
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML,
                               "no memory for %zu rows of column '%.60s'", cx->nrows, c->name);
    if (c->type == CAIRN_COL_F64)
        c->f64 = a;
    else if (c->type == CAIRN_COL_F32)
        c->f32 = a;
    else
        c->codes = a;
    return 0;
}

/* Moves the columns into a new frame. */
static cairn_frame *to_frame(struct csv_ctx *cx)
{
    cairn_frame *f;
    cairn_frame_new(&f, cx->nrows);
    f->cols = cairn_calloc((size_t)(cx->ncols ? cx->ncols : 1), sizeof(cairn_column));
    f->ncols = cx->ncols;
    for (int k = 0; k < cx->ncols; k++) {
        struct csv_col *c = &cx->cols[k];
        cairn_column *d = &f->cols[k];
        d->name = c->name;
        d->type = c->type;
        d->f64 = c->f64;
        d->f32 = c->f32;
        d->codes = c->codes;
        d->dict = c->dict;
        d->ndict = c->ndict;
        if (c->type == CAIRN_COL_CAT && !d->dict) d->dict = cairn_calloc(1, sizeof(char *));
        memset(c, 0, sizeof(*c));
    }
    return f;
}

static void free_ctx(struct csv_ctx *cx)
{
    for (int k = 0; k < cx->ncols; k++) {
        struct csv_col *c = &cx->cols[k];
        cairn_free(c->name);
        cairn_free(c->f64);
        cairn_free(c->f32);
        cairn_free(c->codes);
        for (int32_t e = 0; e < c->ndict; e++)
            cairn_free(c->dict[e]);
        cairn_free(c->dict);
    }
    cairn_free(cx->cols);
    cairn_free(cx->map);
    cairn_free(cx->na_len);
}

/* Pass 1 (numbers and known categorical columns), pass 2 if inference
 * turned columns categorical, then the merges. */
static int read_columns(struct csv_ctx *cx, struct csv_chunk *ch, int nc, int nt)
{
    int rc = 0;
    for (int k = 0; k < cx->ncols && !rc; k++) {
        cx->cols[k].cat_pass = cx->cols[k].type == CAIRN_COL_CAT;
        rc = alloc_col(cx, &cx->cols[k]);
    }
    if (!rc) rc = run_pass(cx, ch, nc, nt);
    if (!rc) rc = merge_dicts(cx, ch, nc, nt);
    free_dicts(cx, ch, nc);
    if (rc) return rc;
    bool again = false;
    for (int k = 0; k < cx->ncols && !rc; k++) {
        struct csv_col *c = &cx->cols[k];
        c->cat_pass = !c->forced && c->type != CAIRN_COL_CAT && atomic_load(&c->notnum);
        if (!c->cat_pass) continue;
        again = true;
        cairn_free(c->f64);
        cairn_free(c->f32);
        c->f64 = NULL;
        c->f32 = NULL;
        c->type = CAIRN_COL_CAT;
        rc = alloc_col(cx, c);
    }
    if (rc || !again) return rc;
    cx->cat_only = true;
    rc = run_pass(cx, ch, nc, nt);
    if (!rc) rc = merge_dicts(cx, ch, nc, nt);
    free_dicts(cx, ch, nc);
    return rc;
}

int cairn_csv__read(cairn_frame **out, const char *data, size_t len, const char *name,
                    const cairn_csv_opts *opts, size_t chunk_bytes)
{
    *out = NULL;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    if (opts) o = *opts;
    int rc = check_opts(&o);
    if (rc) return rc;
    struct csv_ctx cx = {0};
    cx.name = name ? name : "<buffer>";
    if (o.max_file_size && len > o.max_file_size)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML,
                               "%s: %zu bytes, more than max_file_size (%llu)", cx.name, len,
                               (unsigned long long)o.max_file_size);
    if (!data) len = 0;
    cx.data = data;
    cx.end = data + len;
    cx.d = (struct csv_dialect){o.delimiter, o.quote, o.max_field_len};
    cx.na = o.na_tokens ? o.na_tokens : default_na;
    cx.nna = o.na_tokens ? o.n_na_tokens : CAIRN_ARRAY_LEN(default_na);
    cx.na_len = cairn_malloc(sizeof(size_t) * (cx.nna ? cx.nna : 1));
    for (size_t i = 0; i < cx.nna; i++) {
        cx.na_len[i] = strlen(cx.na[i]);
        double v;
        const char *t = cx.na[i];
        size_t tn = cx.na_len[i];
        while (tn && (*t == ' ' || *t == '\t'))
            t++, tn--;
        while (tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t'))
            tn--;
        /* a token that reads as NaN is missing either way */
        if (tn && cairn_csv__parse_f64(t, t + tn, &v) == t + tn && !isnan(v)) cx.na_numeric = true;
    }
    cx.max_categories = o.max_categories;
    cx.header_what = o.has_header ? "header" : "first row";
    cx.skip = o.skip_rows;
    int nt = o.threads ? o.threads : omp_get_num_procs();
    if (nt > 256) nt = 256;
    struct csv_chunk *ch = NULL;
    int nc = 0;

    const char *p = cx.data, *end = cx.end;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    size_t done, b;
    p = cairn_csv__skip_records(p, end, o.quote, o.skip_lines, &done);
    while ((b = cairn_csv__blank(p, end)))
        p += b;
    if (p >= end) {
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s: empty file", cx.name);
        goto cleanup;
    }
    char **names;
    int nnames;
    if ((rc = read_header(&cx, &o, &p, &names, &nnames))) goto cleanup;
    if ((rc = plan_columns(&cx, &o, names, nnames))) goto cleanup;
    if (o.max_rows) {
        size_t want = o.skip_rows > SIZE_MAX - o.max_rows ? SIZE_MAX : o.skip_rows + o.max_rows;
        end = cairn_csv__skip_records(p, end, o.quote, want, &done);
    }
    size_t total;
    ch = split(&cx, p, end, nt, chunk_bytes, &nc, &total);
    cx.nrows = total > cx.skip ? total - cx.skip : 0;
    sniff(&cx, p, end);
    if ((rc = read_columns(&cx, ch, nc, nt))) goto cleanup;
    *out = to_frame(&cx);
cleanup:
    if (ch) {
        free_dicts(&cx, ch, nc);
        for (int i = 0; i < nc; i++)
            cairn_free(ch[i].scratch);
        cairn_free(ch);
    }
    free_ctx(&cx);
    return rc;
}

int cairn_csv_read_buffer(cairn_frame **out, const char *data, size_t len,
                          const char *name_for_errors, const cairn_csv_opts *opts)
{
    return cairn_csv__read(out, data, len, name_for_errors, opts, 0);
}

int cairn_csv_read_file(cairn_frame **out, const char *path, const cairn_csv_opts *opts)
{
    *out = NULL;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    if (opts) o = *opts;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, CAIRN_SUBSYS_ML,
                               "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (o.max_file_size && (uint64_t)st.st_size > o.max_file_size) {
        close(fd);
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML,
                               "%s: %zu bytes, more than max_file_size (%llu)", path, len,
                               (unsigned long long)o.max_file_size);
    }
    if (len == 0) {
        close(fd);
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s: empty file", path);
    }
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (m == MAP_FAILED)
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_ML, "%s: mmap: %s", path, strerror(err));
    madvise(m, len, MADV_WILLNEED);
    int rc = cairn_csv__read(out, m, len, path, opts, 0);
    munmap(m, len);
    return rc;
}
