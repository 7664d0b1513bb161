/*
 * fuzz_ml_csv.c - the CSV reader on arbitrary bytes.
 *
 * Each input is read with the default options and with a few variants (no
 * header, ';' and tab delimiters with f32 numbers, row selection, a small
 * category limit). Each read is repeated with the input cut into tiny
 * chunks on several threads; the invariant checked is that the split never
 * changes the outcome: the same code and message, or bitwise-equal frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/csv.h"
#include "ml/csv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_frames(const cairn_frame *a, const cairn_frame *b)
{
    if (a->nrows != b->nrows || a->ncols != b->ncols) abort();
    size_t n = a->nrows;
    for (int j = 0; j < a->ncols; j++) {
        const cairn_column *x = &a->cols[j], *y = &b->cols[j];
        if (strcmp(x->name, y->name) || x->type != y->type) abort();
        if (x->type == CAIRN_COL_F64 && memcmp(x->f64, y->f64, n * sizeof(double))) abort();
        if (x->type == CAIRN_COL_F32 && memcmp(x->f32, y->f32, n * sizeof(float))) abort();
        if (x->type == CAIRN_COL_CAT) {
            if (x->ndict != y->ndict || memcmp(x->codes, y->codes, n * sizeof(int32_t))) abort();
            for (int32_t k = 0; k < x->ndict; k++)
                if (strcmp(x->dict[k], y->dict[k])) abort();
            for (size_t i = 0; i < n; i++)
                if (x->codes[i] < -1 || x->codes[i] >= x->ndict) abort();
        }
    }
}

static void check(const char *s, size_t n, const cairn_csv_opts *o, size_t chunk)
{
    cairn_frame *a = NULL, *b = NULL;
    char msg[256];
    int ra = cairn_csv__read(&a, s, n, "fuzz.csv", o, 0);
    snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
    cairn_csv_opts o2 = *o;
    o2.threads = 3;
    int rb = cairn_csv__read(&b, s, n, "fuzz.csv", &o2, chunk);
    if (ra != rb) abort();
    if (ra && strcmp(msg, cairn_error_last()->msg)) abort();
    if (!ra) same_frames(a, b);
    if (ra && (a || b)) abort();
    cairn_frame_free(a);
    cairn_frame_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t chunk = size ? 1 + data[0] % 23 : 1;
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.threads = 1;
    check(s, size, &o, chunk);

    o.has_header = 0;
    o.skip_lines = 1;
    check(s, size, &o, chunk + 3);

    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.threads = 1;
    o.delimiter = size && data[size - 1] % 2 ? ';' : '\t';
    o.numeric_type = CAIRN_COL_F32;
    o.max_categories = 3;
    check(s, size, &o, chunk);

    o = (cairn_csv_opts)CAIRN_CSV_OPTS_INIT;
    o.threads = 1;
    o.skip_rows = 2;
    o.max_rows = 3;
    o.quote = '\'';
    check(s, size, &o, 2);
    return 0;
}
