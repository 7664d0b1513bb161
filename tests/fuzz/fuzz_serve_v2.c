/*
 * fuzz_serve_v2.c - the OIP V2 inference body decoder (JSON and the binary
 * tensor data extension) on arbitrary bytes, against a small binary
 * classifier with two numeric features ("a", "b") and one categorical ("c"),
 * trained once in process.
 *
 * Input layout: byte 0 selects the framing. Even: the whole rest is the
 * body, all JSON. Odd: bytes 1..2 (little-endian) are the
 * Inference-Header-Content-Length, the rest the body. Invariants: decode
 * either fails with a message or yields a frame whose row count the model
 * predicts, and the encoder's output for those rows is well formed (its
 * JSON header parses).
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "cairn/gbdt.h"
#include "cairn/model.h"
#include "serve/serve_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cairn_model *the_model(void)
{
    static cairn_model *m;
    if (m) return m;
    enum { N = 64 };
    double a[N], b[N], y[N];
    int32_t c[N];
    const char *dict[] = {"red", "green", "blue"};
    for (int i = 0; i < N; i++) {
        a[i] = i % 7;
        b[i] = (i * 13) % 11;
        c[i] = i % 3;
        y[i] = (a[i] + (c[i] == 1 ? 5 : 0) > 5) ? 1 : 0;
    }
    cairn_frame *f = NULL;
    cairn_frame_new(&f, N);
    cairn_frame_add_f64(f, "a", a);
    cairn_frame_add_f64(f, "b", b);
    cairn_frame_add_cat(f, "c", c, dict, 3);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = CAIRN_GBDT_BINARY;
    o.n_rounds = 5;
    o.min_child_samples = 2;
    o.n_threads = 1;
    cairn_trees *t = NULL;
    if (cairn_gbdt_train(&t, f, y, NULL, NULL, &o, NULL)) __builtin_trap();
    const char *labels[] = {"no", "yes"};
    cairn_model_schema s = {f, "y", CAIRN_TASK_BINARY, 2, labels};
    if (cairn_model_from_trees(&m, t, &s)) __builtin_trap();
    cairn_frame_free(f);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_model *m = the_model();
    if (size < 1) return 0;
    int64_t header_len = -1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        if (size < 3) return 0;
        header_len = data[1] | (data[2] << 8);
        body += 2;
        len -= 2;
    }
    cairn_serve_v2 r;
    int rc = cairn_serve__v2_decode(m, body, len, header_len, &r);
    if (rc) {
        if (rc >= 0 || !cairn_error_last()->msg[0]) __builtin_trap();
    } else {
        size_t n = r.frame->nrows;
        int k = cairn_model_n_outputs(m);
        double *pred = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)k);
        if (cairn_model_predict(m, r.frame, pred, 1) == 0) {
            for (size_t i = 0; i < n * (size_t)k; i++)
                if (isnan(pred[i])) __builtin_trap();
            cairn_buf out = CAIRN_BUF_INIT(0);
            size_t jl = cairn_serve__v2_encode(&out, m, &r, "m", 1, r.id, pred, n, k);
            json_t *j = json_loadb(out.ptr, jl ? jl : out.len, 0, NULL);
            if (!j) __builtin_trap();
            json_decref(j);
            cairn_buf_free(&out);
        }
        cairn_free(pred);
    }
    cairn_serve__v2_free(&r);
    return 0;
}
