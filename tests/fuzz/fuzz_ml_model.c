/*
 * fuzz_ml_model.c - the native model loader on arbitrary bytes.
 *
 * Each input is loaded twice: as given (which mostly exercises the header
 * and checksum checks), and re-sealed - the header's total length set to
 * the input's size and the SHA-256 recomputed - so mutations reach the
 * section parsers and the tree rebuilding behind the checksum. A model
 * that loads must predict on a small frame, dump as JSON and MLmodel, and
 * save to bytes that load again to the same bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/model.h"
#include "ml/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 3-row frame whose columns carry the model's feature names and types,
 * categorical columns with a dictionary of their own. */
static cairn_frame *frame_for(const cairn_model *m)
{
    cairn_frame *X;
    if (cairn_frame_new(&X, 3)) abort();
    static const double v[3] = {-1.5, 0.25, NAN};
    static const int32_t codes[3] = {0, 1, -1};
    static const char *const dict[] = {"a", "zz"};
    for (int j = 0; j < cairn_model_n_features(m); j++) {
        const char *name = cairn_model_feature_name(m, j);
        int rc = cairn_model_feature_type(m, j) == CAIRN_COL_CAT
                     ? cairn_frame_add_cat(X, name, codes, dict, 2)
                     : cairn_frame_add_f64(X, name, v);
        if (rc) abort();
    }
    return X;
}

static void exercise(const cairn_model *m)
{
    cairn_frame *X = frame_for(m);
    int K = cairn_model_n_outputs(m), nf = cairn_model_n_features(m);
    double *out = malloc(sizeof(double) * 3 * (size_t)K);
    if (cairn_model_predict(m, X, out, 1)) abort();
    double *x = calloc((size_t)(nf ? nf : 1), sizeof(double)), *o = malloc(sizeof(double) * K);
    if (cairn_model_predict_row(m, x, o)) abort();
    free(x);
    free(o);
    free(out);
    cairn_frame_free(X);

    cairn_buf b = CAIRN_BUF_INIT(0), again = CAIRN_BUF_INIT(0);
    if (cairn_model_to_json(m, &b)) abort();
    cairn_buf_reset(&b);
    if (cairn_model_mlmodel_yaml(m, "run", &b)) abort();
    cairn_buf_reset(&b);
    if (cairn_model_to_bytes(m, &b)) abort();
    cairn_model *m2 = NULL;
    if (cairn_model_from_bytes(&m2, b.ptr, b.len)) abort();
    if (cairn_model_to_bytes(m2, &again) || again.len != b.len || memcmp(again.ptr, b.ptr, b.len))
        abort();
    cairn_model_free(m2);
    cairn_buf_free(&b);
    cairn_buf_free(&again);
}

static void load(const uint8_t *p, size_t n)
{
    cairn_model *m = NULL;
    int rc = cairn_model_from_bytes(&m, p, n);
    if (rc == 0) {
        exercise(m);
        cairn_model_free(m);
    } else if (m || (rc != CAIRN_ECORRUPT && rc != CAIRN_EUNSUPPORTED)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    if (size < 72 || size > (1u << 24)) return 0;
    uint8_t *p = malloc(size);
    memcpy(p, data, size);
    for (int i = 0; i < 8; i++)
        p[24 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    if (cairn_model__digest(p, size, p + 40) == 0) load(p, size);
    free(p);
    return 0;
}
