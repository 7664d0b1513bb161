/*
 * fuzz_ml_lgbm.c - the LightGBM text model importer on arbitrary bytes.
 *
 * Each input is imported twice: into a tree ensemble (the parser and
 * checks) and into a model (schema wrapping). The invariants checked: both
 * agree on success or the same error code; a failure leaves *out NULL and
 * sets a message; an accepted ensemble predicts rows built from the input
 * bytes (NaN, category codes, extremes) without faults, the same through
 * the per-row and the model paths.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/model.h"
#include "cairn/trees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cairn_model__lightgbm_trees(cairn_trees **out, int32_t **cat_sizes_out, const char *text,
                                size_t len);

static const float probes[] = {NAN,     0.0f,  -1.0f,     1.0f,     2.0f, 3.0f,  7.0f,  1e-36f,
                               -1e-35f, 1e30f, -INFINITY, INFINITY, 0.5f, 31.0f, 32.0f, 1e9f};

/* Predicts a few rows through the ensemble and the model. */
static void exercise(const cairn_trees *t, const cairn_model *m, const uint8_t *data, size_t size)
{
    int nf = cairn_trees_n_features(t), k = cairn_trees_n_outputs(t);
    if (nf > 4096 || k > 4096) return;
    float *x = malloc(sizeof(float) * (size_t)(nf ? nf : 1));
    double *xd = malloc(sizeof(double) * (size_t)(nf ? nf : 1));
    double *a = malloc(sizeof(double) * (size_t)k), *b = malloc(sizeof(double) * (size_t)k);
    for (int r = 0; r < 4; r++) {
        for (int j = 0; j < nf; j++) {
            uint8_t byte = size ? data[(size_t)(r * 31 + j) % size] : 0;
            x[j] = probes[(byte + r) % (sizeof(probes) / sizeof(probes[0]))];
            xd[j] = x[j];
            if (cairn_model_feature_type(m, j) == CAIRN_COL_CAT)
                xd[j] = isnan(x[j]) || x[j] < 0 || x[j] > 1e6f ? -1 : floor(x[j]);
        }
        cairn_trees_predict_row(t, x, a);
        cairn_trees_predict_row_ex(t, x, CAIRN_TREES_RAW_MARGIN, a);
        if (cairn_model_predict_row(m, xd, b)) abort();
    }
    free(x);
    free(xd);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    cairn_trees *t = (cairn_trees *)&size;
    int32_t *cs = NULL;
    int rt = cairn_model__lightgbm_trees(&t, &cs, s, size);
    if (rt && (t || cs || !cairn_error_last()->msg[0])) abort();
    /* the schema frame grows one column at a time (quadratic under ASan):
     * leave huge feature counts to the ensemble check */
    if (!rt && cairn_trees_n_features(t) > 20000) {
        cairn_trees_free(t);
        cairn_free(cs);
        return 0;
    }
    cairn_model *m = (cairn_model *)&size;
    int rm = cairn_model_import_lightgbm(&m, s, size);
    if (rm && (m || !cairn_error_last()->msg[0])) abort();
    /* the model layer may refuse a schema the ensemble accepted (names) */
    if (rt && !rm) abort();
    if (rt && rm != rt) abort();
    if (!rt && !rm) exercise(t, m, data, size);
    cairn_trees_free(t);
    cairn_free(cs);
    cairn_model_free(m);
    return 0;
}
