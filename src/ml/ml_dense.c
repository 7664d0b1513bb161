/*
 * ml_dense.c - frame to dense column-major matrix, for the linear learners.
 */
#include <math.h>
#include <stdint.h>

#include "ml_dense.h"

int cairn_ml__design_matrix(const cairn_frame *x, const char *learner, double **out)
{
    size_t n = x->nrows, d = (size_t)x->ncols;
    *out = NULL;
    for (int j = 0; j < x->ncols; j++)
        if (x->cols[j].type == CAIRN_COL_CAT)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column '%s' is categorical; %s take numeric columns only",
                                   x->cols[j].name, learner);
    if (d && n > SIZE_MAX / sizeof(double) / d)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "design matrix too large");
    double *a = cairn_try_malloc(sizeof(double) * (n && d ? n * d : 1));
    if (!a) return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML, "design matrix too large");
    for (size_t j = 0; j < d; j++) {
        const cairn_column *c = &x->cols[j];
        double *col = a + j * n;
        for (size_t i = 0; i < n; i++) {
            col[i] = c->type == CAIRN_COL_F64 ? c->f64[i] : (double)c->f32[i];
            if (!isfinite(col[i])) {
                cairn_free(a);
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "column '%s' has a missing or infinite value at row %zu",
                                       c->name, i);
            }
        }
    }
    *out = a;
    return 0;
}

