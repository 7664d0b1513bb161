/*
 * csv_internal.h - the CSV reader's internal pieces, shared by csv.c (API,
 * header, orchestration), csv_scan.c (record boundaries, field tokenizer),
 * csv_num.c (number parsing) and csv_parse.c (parallel column passes and
 * categorical dictionaries). See docs/internals/csv.md.
 */
#ifndef CAIRN_ML_CSV_INTERNAL_H
#define CAIRN_ML_CSV_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cairn/csv.h"

/* ---- numbers (csv_num.c) ---- */

/* Parses the longest number at [p, end) by the grammar of cairn/csv.h (no
 * surrounding whitespace). Returns the byte after it, or NULL if none
 * starts at p. *out equals strtod()/strtof() of that text exactly. */
const char *cairn_csv__parse_f64(const char *p, const char *end, double *out);
const char *cairn_csv__parse_f32(const char *p, const char *end, float *out);

/* ---- scanning (csv_scan.c) ---- */

/* A field as the tokenizer found it. */
struct csv_field {
    const char *ptr; /* content: inside the quotes when quoted, still escaped */
    size_t len;
    const char *start; /* first byte of the field, for error positions */
    bool quoted;
    bool escaped; /* holds doubled quotes; unescape before use */
    bool eol;     /* the field ended its record (line end or end of input) */
};

/* A parse error found by a worker: its byte position and reason. */
struct csv_err {
    const char *at; /* NULL: none */
    int code;
    char reason[200];
};

/* Dialect and bounds shared by every tokenizer call. */
struct csv_dialect {
    char delim;
    char quote; /* NUL: none */
    size_t max_field_len;
};

/* Reads one field at p (a field start) within [p, end). Returns the byte
 * after its terminator (the delimiter or line end), or NULL with *err set
 * (unterminated quote, quote in an unquoted field, junk after a closing
 * quote, field too long). */
const char *cairn_csv__field(const struct csv_dialect *d, const char *p, const char *end,
                             struct csv_field *f, struct csv_err *err);

/* Length of a blank line starting at p (1 for "\n", 2 for "\r\n", 1 for a
 * final lone "\r"), or 0 if the line holds something. */
size_t cairn_csv__blank(const char *p, const char *end);

/* Skips up to `n` non-blank records from p under the toggle model (every
 * quote flips the in-quotes state; a line feed outside quotes ends a
 * record). Returns the position after the last record skipped and stores
 * the number skipped in *done. */
const char *cairn_csv__skip_records(const char *p, const char *end, char quote, size_t n,
                                    size_t *done);

/* Number of quote bytes in [p, end). */
size_t cairn_csv__count_quotes(const char *p, const char *end, char quote);

/* The first record start strictly after position p, given whether p lies
 * inside quotes under the toggle model; `end` if none. */
const char *cairn_csv__sync(const char *p, const char *end, char quote, bool in_quotes);

/* Copies f's content into *buf (grown as needed, *cap its size) with
 * doubled quotes collapsed; returns the length. */
size_t cairn_csv__unescape(const struct csv_field *f, char quote, char **buf, size_t *cap);

/* ---- dictionaries (csv_parse.c) ---- */

/* An insertion-ordered set of strings: code i is the i-th distinct string
 * added. Strings are copied into the dictionary's own arena. */
struct csv_dict {
    int32_t *slots; /* (mask+1) entry index or -1 */
    size_t mask;
    struct csv_dict_ent {
        const char *s;
        size_t len;
        uint64_t hash;
    } * ent; /* (n) in first-seen order */
    int32_t n, cap;
    char *block; /* current arena block, linked through its first pointer */
    size_t block_used, block_cap;
};

void cairn_csv__dict_init(struct csv_dict *d);
void cairn_csv__dict_free(struct csv_dict *d);
/* Code of s, adding it if new (*added set). -1 when the dictionary already
 * holds INT32_MAX - 1 entries. */
int32_t cairn_csv__dict_intern(struct csv_dict *d, const char *s, size_t len, bool *added);

/* ---- the read (csv.c, csv_parse.c) ---- */

enum csv_kind { CSV_NUM = 0, CSV_CAT = 1 };

struct csv_col {
    int src;              /* field index in the record */
    char *name;           /* owned until moved into the frame */
    cairn_col_type type;  /* F32/F64 numeric, CAT */
    bool forced;          /* type from opts->types */
    atomic_bool notnum;   /* an inferred numeric column met a non-number */
    atomic_bool overflow; /* a chunk saw more than max_categories values */
    bool cat_pass;        /* collected as categorical in the current pass */
    double *f64;
    float *f32;
    int32_t *codes;
    char **dict;
    int32_t ndict;
};

struct csv_chunk {
    const char *beg, *end;  /* whole records */
    size_t nrec;            /* non-blank records in [beg, end) */
    size_t row0;            /* global index of the first of them */
    struct csv_dict *dicts; /* (ncols) per column, used for cat_pass columns */
    struct csv_err err;
    char *scratch;
    size_t scratch_cap;
};

struct csv_ctx {
    const char *name;       /* for messages */
    const char *data, *end; /* the whole input, for line:column */
    struct csv_dialect d;
    int nfields;          /* fields per record */
    int *map;             /* (nfields) column index or -1 */
    struct csv_col *cols; /* (ncols) */
    int ncols;
    const char *const *na;
    size_t *na_len; /* (nna) */
    size_t nna;
    bool na_numeric; /* some NA token reads as a number: test NA first */
    size_t skip, nrows;
    int32_t max_categories;
    bool cat_only;           /* this pass collects only the cat_pass columns */
    const char *header_what; /* "header" or "first row" */
};

/* Parses the selected rows of chunk `ch` into the columns: numeric columns
 * not yet known to be categorical, and the cat_pass columns into
 * ch->dicts. Returns false with ch->err set at the first error. */
bool cairn_csv__parse_chunk(const struct csv_ctx *cx, struct csv_chunk *ch);

/* Whether the trimmed text is one of the NA tokens. */
bool cairn_csv__is_na(const struct csv_ctx *cx, const char *s, size_t len);

/* Test hook: as cairn_csv_read_buffer, with the input cut into chunks of
 * about `chunk_bytes` (0: automatic), so small inputs exercise the
 * parallel split and the dictionary merge. */
int cairn_csv__read(cairn_frame **out, const char *data, size_t len, const char *name,
                    const cairn_csv_opts *opts, size_t chunk_bytes);

#endif
