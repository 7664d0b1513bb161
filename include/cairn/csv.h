/*
 * cairn/csv.h - a fast, multi-threaded CSV reader that produces a
 * cairn_frame (cairn/frame.h).
 *
 * Input is RFC 4180: fields separated by a delimiter, records by LF or CRLF,
 * quoted fields may hold delimiters, line breaks and doubled quotes; the last
 * record may lack a line end; a leading UTF-8 byte order mark is skipped.
 * Blank lines (empty, or a lone CR) are skipped everywhere. Spaces and tabs
 * around a quoted field are ignored. A quote character inside an unquoted
 * field is an error (strict RFC 4180; it keeps the parallel split exact).
 *
 * Types: a column is numeric until one of its non-missing values is not a
 * number; then it is categorical, its dictionary in first-seen order (the
 * same whatever the thread count). A number is, after trimming spaces and
 * tabs, `[+-]digits[.digits][(e|E)[+-]digits]` (either digit run may be
 * empty but not both), or inf/infinity/nan (any case, optional sign). Its
 * value equals strtod() (strtof() for f32 columns) of the text, correctly
 * rounded, in the C locale. A field whose trimmed text equals one of the NA
 * tokens is missing (NaN in numeric columns, code -1 in categorical ones);
 * category names are the field's exact text (quotes removed, not trimmed).
 *
 * Errors carry "name:line:column: reason" (line and column 1-based, the
 * column counted in UTF-8 characters), e.g.
 *   data.csv:17:9: unterminated quoted field
 *   data.csv:4:1: row has 5 fields, header has 6
 * Thread-safety: the functions are reentrant; each call uses its own
 * OpenMP team of opts->threads threads.
 */
#ifndef CAIRN_CSV_H
#define CAIRN_CSV_H

#include "cairn/common.h"
#include "cairn/frame.h"

#define CAIRN_CSV_OPTS_VERSION 1

/* A per-column type override: `name` must name a column of the file (a
 * header name, or "c0", "c1", ... without a header). `type` is
 * CAIRN_COL_F32, CAIRN_COL_F64 (a non-number is then an error) or
 * CAIRN_COL_CAT (every value is a category, numbers included). */
typedef struct cairn_csv_coltype {
    const char *name;
    cairn_col_type type;
} cairn_csv_coltype;

typedef struct cairn_csv_opts {
    unsigned version;  /* CAIRN_CSV_OPTS_VERSION */
    char delimiter;    /* ','; not '\n', '\r', NUL or the quote */
    char quote;        /* '"'; NUL disables quoting (quotes are literal) */
    int has_header;    /* 1: the first record names the columns; 0: names c0, c1, ... */
    size_t skip_lines; /* records ignored before the header (metadata lines); 0 */
    /* NA tokens; NULL = the default set: "" "NA" "N/A" "n/a" "NaN" "nan"
     * "-NaN" "-nan" "null" "NULL" "None" "<NA>" "#N/A" "#NA" "?" "-1.#IND"
     * "1.#IND" "-1.#QNAN" "1.#QNAN" "#N/A N/A". Non-NULL with n_na_tokens 0:
     * no NA tokens. Not copied; must outlive the call. */
    const char *const *na_tokens;
    size_t n_na_tokens;
    const cairn_csv_coltype *types; /* (ntypes) overrides, not copied */
    size_t ntypes;
    cairn_col_type numeric_type; /* type of inferred numeric columns: CAIRN_COL_F64 or _F32 */
    /* Distinct non-missing values allowed in one categorical column; a
     * column with more is an error (CAIRN_ETOOBIG). 0: no limit, every
     * distinct value is kept as a category. */
    int32_t max_categories;
    size_t skip_rows;           /* data rows skipped (only scanned for record ends); 0 */
    size_t max_rows;            /* data rows kept after skip_rows; 0 = all */
    const char *const *usecols; /* (nusecols) names of the columns to keep, NULL = all;
                                 * kept in file order; the others are not stored */
    size_t nusecols;
    int threads;            /* OpenMP threads; 0 = one per core */
    uint64_t max_file_size; /* bytes; larger input is CAIRN_ETOOBIG; 8 GiB */
    size_t max_field_len;   /* bytes in one field; 16 MiB */
    int max_columns;        /* fields in one record; 100000 */
} cairn_csv_opts;

#define CAIRN_CSV_OPTS_INIT                                                                        \
    {                                                                                              \
        CAIRN_CSV_OPTS_VERSION, ',', '"', 1, 0, NULL, 0, NULL, 0, CAIRN_COL_F64, 0, 0, 0, NULL, 0, \
            0, (uint64_t)8 << 30, (size_t)16 << 20, 100000                                         \
    }

/*
 * Reads the CSV file at `path` (memory-mapped) into a new frame, *out, which
 * the caller frees with cairn_frame_free. `opts` may be NULL (defaults).
 * Errors (*out NULL, nothing leaked):
 *   CAIRN_EINVALID  malformed input ("path:line:col: reason", "path: empty
 *                   file"), bad options, duplicate header names, an unknown
 *                   name in usecols or types;
 *   CAIRN_ETOOBIG   a limit passed: max_file_size, max_field_len,
 *                   max_columns, max_categories;
 *   CAIRN_ENOTFOUND no such file; CAIRN_EIO other I/O errors;
 *   CAIRN_ENOMEM    the columns could not be allocated.
 * A header with no data rows is fine: a frame of 0 rows.
 */
CAIRN_API int cairn_csv_read_file(cairn_frame **out, const char *path, const cairn_csv_opts *opts);

/*
 * As cairn_csv_read_file, from `len` bytes at `data` (not copied, need not
 * be NUL-terminated). `name_for_errors` prefixes messages (NULL: "<buffer>").
 */
CAIRN_API int cairn_csv_read_buffer(cairn_frame **out, const char *data, size_t len,
                                    const char *name_for_errors, const cairn_csv_opts *opts);

/*
 * Streams the CSV file at `path` in chunks of about chunk_bytes bytes
 * (1 MiB .. 1 GiB; a record longer than that grows the chunk up to
 * opts->max_field_len * 4 + chunk_bytes): each chunk is the header plus
 * whole records, parsed by cairn_csv_read_buffer with `opts` into a frame
 * handed to cb(chunk, first_row, payload) (first_row: the 0-based data row
 * of the chunk's first row; the frame is freed after cb returns). cb is
 * called at least once (a file with only a header gives one frame of 0
 * rows). Memory is bounded by the chunk size, not by the file's length.
 * Types are inferred per chunk: give opts->types for columns whose type
 * must not depend on the chunk. Error messages carry the file's real line
 * numbers. opts->skip_rows, max_rows and skip_lines must be 0.
 * Returns 0, a nonzero value returned by cb (streaming stops), or the
 * errors of cairn_csv_read_file (CAIRN_EINVALID "path: empty file" for an
 * empty file, CAIRN_ENOTFOUND, CAIRN_EIO, ...).
 */
typedef int (*cairn_csv_chunk_cb)(const cairn_frame *chunk, uint64_t first_row, void *payload);
CAIRN_API int cairn_csv_read_chunks(const char *path, const cairn_csv_opts *opts,
                                    size_t chunk_bytes, cairn_csv_chunk_cb cb, void *payload);

#endif
