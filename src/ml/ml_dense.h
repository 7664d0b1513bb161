/*
 * ml_dense.h - dense numeric matrices from frames, shared by the learners
 * that work on them (linear, logistic), internal to ml/.
 */
#ifndef CAIRN_ML_DENSE_H
#define CAIRN_ML_DENSE_H

#include "cairn/frame.h"

/* Copies the features of x into a new column-major (nrows, ncols) matrix
 * (cairn_free it). CAIRN_EINVALID for a categorical column (the message says
 * `learner` takes numeric columns only) or a missing / infinite value,
 * CAIRN_ETOOBIG when it does not fit. */
int cairn_ml__design_matrix(const cairn_frame *x, const char *learner, double **out);

#endif
