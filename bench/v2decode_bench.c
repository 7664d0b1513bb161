/*
 * v2decode_bench.c - nanoseconds per OIP V2 inference body: the raw-bytes
 * fast decoder (serve_v2fast.c, what cairn_serve__v2_decode tries first)
 * against the general jansson path of serve_v2.c, on the bodies a client
 * of a 20-feature FP64 model sends: 1 row and 32 rows, one [batch, 20]
 * tensor, numbers written short (6 significant digits, the common case of
 * rounded features) and in full (17 digits, what a float64 repr gives).
 *
 * Not built by default. Build by hand against a Release build's static
 * libraries, from the repository root (BUILD = the build directory):
 *
 *   gcc -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/v2decode_bench.c -o v2decode_bench \
 *       $BUILD/libcairn_serve.a $BUILD/libcairn_track.a $BUILD/libcairn_registry.a \
 *       $BUILD/libcairn_ml.a $BUILD/libcairn_store.a $BUILD/libcairn_blob.a \
 *       $BUILD/libcairn_http.a $BUILD/libcairn_core.a -ljansson -lmicrohttpd -lsqlite3 \
 *       -lpq -lcurl -lssl -lcrypto -lyaml -lzstd -lm -lpthread -fopenmp
 *
 * The jansson path is timed through cairn_serve__v2_decode with
 * header_len = body length (the binary extension with an empty binary
 * region), which decodes these bodies the same way but skips the fast
 * decoder. Each figure is the best of 5 runs of at least 0.2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/gbdt.h"
#include "cairn/model.h"
#include "serve/serve_internal.h"

#define NF 20

static cairn_model *wide_model(void)
{
    enum { N = 256 };
    double x[N], y[N];
    char names[NF][8];
    cairn_frame *f = NULL;
    cairn_frame_new(&f, N);
    for (int j = 0; j < NF; j++) {
        snprintf(names[j], sizeof(names[j]), "f%d", j);
        for (int i = 0; i < N; i++)
            x[i] = (double)((i * (j + 7)) % 101) / 10.0;
        cairn_frame_add_f64(f, names[j], x);
    }
    for (int i = 0; i < N; i++)
        y[i] = (double)(i % 13);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.n_rounds = 10;
    o.n_threads = 1;
    cairn_trees *t = NULL;
    cairn_model *m = NULL;
    cairn_model_schema s = {f, "y", CAIRN_TASK_REGRESSION, 0, NULL};
    if (cairn_gbdt_train(&t, f, y, NULL, NULL, &o, NULL) || cairn_model_from_trees(&m, t, &s)) {
        fprintf(stderr, "training failed: %s\n", cairn_error_last()->msg);
        exit(1);
    }
    cairn_frame_free(f);
    return m;
}

/* A body of `rows` rows of NF pseudo-random values, %.6g or %.17g. */
static void make_body(cairn_buf *b, int rows, int full)
{
    unsigned s = 12345;
    cairn_buf_printf(b, "{\"id\":\"bench-%d\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%d,%d],"
                        "\"datatype\":\"FP64\",\"data\":[",
                     rows, rows, NF);
    for (int i = 0; i < rows; i++) {
        cairn_buf_puts(b, i ? ",[" : "[");
        for (int j = 0; j < NF; j++) {
            s = s * 1103515245u + 12345u;
            double v = ((double)(s >> 8) / (double)(1u << 24) - 0.3) * 200.0;
            cairn_buf_printf(b, full ? "%s%.17g" : "%s%.6g", j ? "," : "", v);
        }
        cairn_buf_putc(b, ']');
    }
    cairn_buf_puts(b, "]}]}");
}

/* Best-of-5 nanoseconds per decode (+ free) of body. */
static double time_decode(const cairn_model *m, const cairn_buf *body, int fast)
{
    int64_t hl = fast ? -1 : (int64_t)body->len;
    double best = 1e300;
    for (int rep = 0; rep < 5; rep++) {
        long iters = 0;
        int64_t t0 = cairn_monotonic_ns(), t;
        do {
            for (int k = 0; k < 100; k++) {
                cairn_serve_v2 r;
                if (cairn_serve__v2_decode(m, body->ptr, body->len, hl, &r)) {
                    fprintf(stderr, "decode failed: %s\n", cairn_error_last()->msg);
                    exit(1);
                }
                cairn_serve__v2_free(&r);
            }
            iters += 100;
            t = cairn_monotonic_ns();
        } while (t - t0 < 200000000);
        double ns = (double)(t - t0) / (double)iters;
        if (ns < best) best = ns;
    }
    return best;
}

int main(void)
{
    cairn_model *m = wide_model();
    printf("%-6s %-7s %8s %12s %12s %8s\n", "rows", "digits", "bytes", "jansson ns", "fast ns",
           "speedup");
    static const int rows[] = {1, 32};
    for (int full = 0; full < 2; full++) {
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            cairn_buf body = CAIRN_BUF_INIT(0);
            make_body(&body, rows[i], full);
            cairn_serve_v2 r;
            if (!cairn_serve__v2_fast(m, body.ptr, body.len, &r)) {
                fprintf(stderr, "the fast decoder declined the benchmark body\n");
                return 1;
            }
            cairn_serve__v2_free(&r);
            double slow = time_decode(m, &body, 0), fast = time_decode(m, &body, 1);
            printf("%-6d %-7s %8zu %12.0f %12.0f %7.1fx\n", rows[i], full ? "17" : "6", body.len,
                   slow, fast, slow / fast);
            cairn_buf_free(&body);
        }
    }
    cairn_model_free(m);
    return 0;
}
