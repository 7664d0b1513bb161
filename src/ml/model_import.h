/*
 * model_import.h - what the XGBoost and LightGBM importers share, internal
 * to ml/: each parses its format into a tree ensemble plus the number of
 * categories of each feature (NULL when none is categorical), and
 * cairn_model__import_finish wraps that in a model with its schema.
 */
#ifndef CAIRN_MODEL_IMPORT_H
#define CAIRN_MODEL_IMPORT_H

#include "cairn/model.h"
#include "cairn/trees.h"

/* CAIRN_ECORRUPT for malformed input, CAIRN_EUNSUPPORTED for models the
 * runtime cannot express. On success the caller owns *out and *cat_sizes_out
 * (cairn_free); cat_sizes_out may be NULL. */
int cairn_model__xgboost_trees(cairn_trees **out, int32_t **cat_sizes_out, const char *json,
                               size_t len);
int cairn_model__lightgbm_trees(cairn_trees **out, int32_t **cat_sizes_out, const char *text,
                                size_t len);
/* The common end of both importers: frees the nf feature names, and hands
 * out m and cat_sizes when rc is 0 (cat_sizes freed when cat_sizes_out is
 * NULL), or frees both and returns rc. */
int cairn_model__import_done(int rc, char **names, int nf, cairn_trees *m, int32_t *cat_sizes,
                             cairn_trees **out, int32_t **cat_sizes_out);
/* Takes t and cat_sizes (also on failure). */
int cairn_model__import_finish(cairn_model **out, cairn_trees *t, int32_t *cat_sizes);

#endif
