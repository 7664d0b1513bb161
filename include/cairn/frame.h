/*
 * cairn/frame.h - a columnar data frame: the input of every learner, metric
 * and profile in ml/. Columns are numeric (float32 or float64, NaN marks a
 * missing value) or categorical (int32 codes into a dictionary, -1 marks a
 * missing value). The struct is visible so learners read columns directly;
 * build frames with the functions below or the CSV reader (cairn/csv.h).
 */
#ifndef CAIRN_FRAME_H
#define CAIRN_FRAME_H

#include "cairn/common.h"

typedef enum cairn_col_type {
    CAIRN_COL_F32 = 1,
    CAIRN_COL_F64 = 2,
    CAIRN_COL_CAT = 3
} cairn_col_type;

typedef struct cairn_column {
    char *name;          /* owned */
    cairn_col_type type;
    float *f32;          /* (nrows) when type == CAIRN_COL_F32, NaN = missing; owned */
    double *f64;         /* (nrows) when type == CAIRN_COL_F64, NaN = missing; owned */
    int32_t *codes;      /* (nrows) when type == CAIRN_COL_CAT, -1 = missing; owned */
    char **dict;         /* (ndict) category names, code i names dict[i]; owned */
    int32_t ndict;
} cairn_column;

typedef struct cairn_frame {
    size_t nrows;
    int ncols;
    cairn_column *cols; /* (ncols), owned */
} cairn_frame;

/* An empty frame of nrows rows and no columns. */
CAIRN_API int cairn_frame_new(cairn_frame **out, size_t nrows);
/* Frees the frame and every column. NULL is a no-op. */
CAIRN_API void cairn_frame_free(cairn_frame *f);
/* Appends a numeric column, copying `values` (nrows of them). */
CAIRN_API int cairn_frame_add_f64(cairn_frame *f, const char *name, const double *values);
CAIRN_API int cairn_frame_add_f32(cairn_frame *f, const char *name, const float *values);
/* Appends a categorical column, copying codes (nrows, -1 = missing) and the
 * dictionary (ndict names). CAIRN_EINVALID if a code is out of range. */
CAIRN_API int cairn_frame_add_cat(cairn_frame *f, const char *name, const int32_t *codes,
                                  const char *const *dict, int32_t ndict);
/* Index of the column named `name`, or -1. */
CAIRN_API int cairn_frame_find(const cairn_frame *f, const char *name);
/* Value of a numeric column as double (categorical: the code, -1 -> NaN). */
CAIRN_API double cairn_frame_get(const cairn_frame *f, int col, size_t row);
/* A new frame with the given rows (indices into f, may repeat) of every column. */
CAIRN_API int cairn_frame_take(cairn_frame **out, const cairn_frame *f, const size_t *rows,
                               size_t n);

#endif
