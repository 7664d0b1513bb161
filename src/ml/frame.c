/*
 * frame.c - building, indexing and subsetting columnar frames.
 */
#include <math.h>
#include <string.h>

#include "cairn/frame.h"

int cairn_frame_new(cairn_frame **out, size_t nrows)
{
    cairn_frame *f = cairn_calloc(1, sizeof(*f));
    f->nrows = nrows;
    *out = f;
    return 0;
}

static void column_free(cairn_column *c)
{
    cairn_free(c->name);
    cairn_free(c->f32);
    cairn_free(c->f64);
    cairn_free(c->codes);
    for (int32_t i = 0; i < c->ndict; i++) cairn_free(c->dict[i]);
    cairn_free(c->dict);
}

void cairn_frame_free(cairn_frame *f)
{
    if (!f) return;
    for (int i = 0; i < f->ncols; i++) column_free(&f->cols[i]);
    cairn_free(f->cols);
    cairn_free(f);
}

static cairn_column *append(cairn_frame *f, const char *name, cairn_col_type type)
{
    f->cols = cairn_realloc(f->cols, sizeof(cairn_column) * (size_t)(f->ncols + 1));
    cairn_column *c = &f->cols[f->ncols++];
    memset(c, 0, sizeof(*c));
    c->name = cairn_strdup(name);
    c->type = type;
    return c;
}

static int check_rows(const cairn_frame *f, size_t elem)
{
    if (f->nrows && elem > SIZE_MAX / f->nrows)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "frame column too large");
    return 0;
}

int cairn_frame_add_f64(cairn_frame *f, const char *name, const double *values)
{
    int rc = check_rows(f, sizeof(double));
    if (rc) return rc;
    cairn_column *c = append(f, name, CAIRN_COL_F64);
    c->f64 = cairn_malloc(sizeof(double) * (f->nrows ? f->nrows : 1));
    if (f->nrows) memcpy(c->f64, values, sizeof(double) * f->nrows);
    return 0;
}

int cairn_frame_add_f32(cairn_frame *f, const char *name, const float *values)
{
    int rc = check_rows(f, sizeof(float));
    if (rc) return rc;
    cairn_column *c = append(f, name, CAIRN_COL_F32);
    c->f32 = cairn_malloc(sizeof(float) * (f->nrows ? f->nrows : 1));
    if (f->nrows) memcpy(c->f32, values, sizeof(float) * f->nrows);
    return 0;
}

int cairn_frame_add_cat(cairn_frame *f, const char *name, const int32_t *codes,
                        const char *const *dict, int32_t ndict)
{
    int rc = check_rows(f, sizeof(int32_t));
    if (rc) return rc;
    for (size_t i = 0; i < f->nrows; i++)
        if (codes[i] < -1 || codes[i] >= ndict)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column '%s': code %d at row %zu is outside its %d categories",
                                   name, codes[i], i, ndict);
    cairn_column *c = append(f, name, CAIRN_COL_CAT);
    c->codes = cairn_malloc(sizeof(int32_t) * (f->nrows ? f->nrows : 1));
    if (f->nrows) memcpy(c->codes, codes, sizeof(int32_t) * f->nrows);
    c->dict = cairn_calloc((size_t)(ndict ? ndict : 1), sizeof(char *));
    for (int32_t i = 0; i < ndict; i++) c->dict[i] = cairn_strdup(dict[i]);
    c->ndict = ndict;
    return 0;
}

int cairn_frame_find(const cairn_frame *f, const char *name)
{
    for (int i = 0; i < f->ncols; i++)
        if (!strcmp(f->cols[i].name, name)) return i;
    return -1;
}

double cairn_frame_get(const cairn_frame *f, int col, size_t row)
{
    const cairn_column *c = &f->cols[col];
    switch (c->type) {
    case CAIRN_COL_F32: return c->f32[row];
    case CAIRN_COL_F64: return c->f64[row];
    case CAIRN_COL_CAT: return c->codes[row] < 0 ? NAN : (double)c->codes[row];
    }
    return NAN;
}

int cairn_frame_take(cairn_frame **out, const cairn_frame *f, const size_t *rows, size_t n)
{
    cairn_frame *t;
    cairn_frame_new(&t, n);
    for (int j = 0; j < f->ncols; j++) {
        const cairn_column *c = &f->cols[j];
        for (size_t i = 0; i < n; i++)
            if (rows[i] >= f->nrows) {
                cairn_frame_free(t);
                *out = NULL;
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "row %zu out of range",
                                       rows[i]);
            }
        cairn_column *d = append(t, c->name, c->type);
        switch (c->type) {
        case CAIRN_COL_F32:
            d->f32 = cairn_malloc(sizeof(float) * (n ? n : 1));
            for (size_t i = 0; i < n; i++) d->f32[i] = c->f32[rows[i]];
            break;
        case CAIRN_COL_F64:
            d->f64 = cairn_malloc(sizeof(double) * (n ? n : 1));
            for (size_t i = 0; i < n; i++) d->f64[i] = c->f64[rows[i]];
            break;
        case CAIRN_COL_CAT:
            d->codes = cairn_malloc(sizeof(int32_t) * (n ? n : 1));
            for (size_t i = 0; i < n; i++) d->codes[i] = c->codes[rows[i]];
            d->dict = cairn_calloc((size_t)(c->ndict ? c->ndict : 1), sizeof(char *));
            for (int32_t k = 0; k < c->ndict; k++) d->dict[k] = cairn_strdup(c->dict[k]);
            d->ndict = c->ndict;
            break;
        }
    }
    *out = t;
    return 0;
}
