/*
 * fuzz_serve_v2fast.c - differential fuzzing of the raw-bytes OIP V2 body
 * decoder (serve_v2fast.c) against the general jansson path of serve_v2.c.
 *
 * Every input is a whole JSON body, tried against four small GBDT models
 * trained once in process: a binary classifier on ("a", "b"), a regressor
 * on ("a", "b", "c") whose "c" is float32, a classifier whose "c" is
 * categorical (never the fast decoder's), and a regressor on the twenty
 * features "f0".."f19" (the benchmark's shape). Invariants: whenever the
 * fast decoder accepts a body, the general path accepts it too and yields
 * the very same request - frame (row count, column names, order and types,
 * values bit for bit, NaN included), id, requested outputs; whenever it
 * declines, it leaves the result zeroed. The general path alone runs with
 * header_len = len: the binary extension on with an empty binary region,
 * which decodes every body without binary_data_size (all the fast decoder
 * accepts) as header_len < 0 does, but never tries the fast decoder.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cairn/gbdt.h"
#include "cairn/model.h"
#include "serve/serve_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A GBDT model on nf features named names[]: column cat (or -1) is
 * categorical, column f32 (or -1) float32, the rest float64. */
static cairn_model *train(const char *const *names, int nf, int cat, int f32, int binary)
{
    enum { N = 64 };
    double x[N], y[N];
    float xf[N];
    int32_t codes[N];
    const char *dict[] = {"red", "green", "blue"};
    cairn_frame *f = NULL;
    cairn_frame_new(&f, N);
    for (int j = 0; j < nf; j++) {
        for (int i = 0; i < N; i++) {
            x[i] = (double)((i * (j + 3)) % 11);
            xf[i] = (float)x[i];
            codes[i] = (i + j) % 3;
        }
        if (j == cat)
            cairn_frame_add_cat(f, names[j], codes, dict, 3);
        else if (j == f32)
            cairn_frame_add_f32(f, names[j], xf);
        else
            cairn_frame_add_f64(f, names[j], x);
    }
    for (int i = 0; i < N; i++)
        y[i] = binary ? (double)(i % 7 > 3) : (double)(i % 5);
    cairn_gbdt_opts o = CAIRN_GBDT_OPTS_INIT;
    o.objective = binary ? CAIRN_GBDT_BINARY : CAIRN_GBDT_REGRESSION;
    o.n_rounds = 3;
    o.min_child_samples = 2;
    o.n_threads = 1;
    cairn_trees *t = NULL;
    if (cairn_gbdt_train(&t, f, y, NULL, NULL, &o, NULL)) __builtin_trap();
    const char *labels[] = {"no", "yes"};
    cairn_model_schema s = {f, "y", binary ? CAIRN_TASK_BINARY : CAIRN_TASK_REGRESSION,
                            binary ? 2 : 0, binary ? labels : NULL};
    cairn_model *m = NULL;
    if (cairn_model_from_trees(&m, t, &s)) __builtin_trap();
    cairn_frame_free(f);
    return m;
}

enum { NMODELS = 4 };

static cairn_model **models(void)
{
    static cairn_model *ms[NMODELS];
    if (ms[0]) return ms;
    static const char *const abc[] = {"a", "b", "c"};
    static char wide_names[20][4];
    static const char *wide[20];
    for (int j = 0; j < 20; j++) {
        snprintf(wide_names[j], sizeof(wide_names[j]), "f%d", j);
        wide[j] = wide_names[j];
    }
    ms[0] = train(abc, 2, -1, -1, 1);
    ms[1] = train(abc, 3, -1, 2, 0);
    ms[2] = train(abc, 3, 2, -1, 1);
    ms[3] = train(wide, 20, -1, -1, 0);
    return ms;
}

static int same_frame(const cairn_frame *x, const cairn_frame *y)
{
    if (!x || !y || x->nrows != y->nrows || x->ncols != y->ncols) return 0;
    for (int c = 0; c < x->ncols; c++) {
        const cairn_column *a = &x->cols[c], *b = &y->cols[c];
        if (strcmp(a->name, b->name) || a->type != b->type) return 0;
        if (a->type != CAIRN_COL_F64) return 0; /* the fast decoder builds nothing else */
        if (x->nrows && memcmp(a->f64, b->f64, sizeof(double) * x->nrows)) return 0;
    }
    return 1;
}

static int same_request(const cairn_serve_v2 *x, const cairn_serve_v2 *y)
{
    if ((x->id == NULL) != (y->id == NULL) || (x->id && strcmp(x->id, y->id))) return 0;
    if (x->nwant != y->nwant) return 0;
    for (int w = 0; w < x->nwant; w++)
        if (x->want[w] != y->want[w] || x->binary[w] != y->binary[w]) return 0;
    return same_frame(x->frame, y->frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_model **ms = models();
    /* an exact-size copy: an over-read by the fast decoder is caught by ASan */
    char *body = cairn_malloc(size ? size : 1);
    memcpy(body, data, size);
    for (int i = 0; i < NMODELS; i++) {
        cairn_serve_v2 fast, slow;
        memset(&fast, 0xa5, sizeof(fast)); /* it must zero what it declines */
        int ok = cairn_serve__v2_fast(ms[i], body, size, &fast);
        if (ok != 0 && ok != 1) __builtin_trap();
        if (!ok) {
            if (fast.root || fast.id || fast.id_owned || fast.frame || fast.nwant) __builtin_trap();
            /* the integrated decoder: fast attempt, then jansson */
            if (cairn_serve__v2_decode(ms[i], body, size, -1, &slow) == 0 && !slow.frame)
                __builtin_trap();
            cairn_serve__v2_free(&slow);
            continue;
        }
        if (!fast.frame || fast.root) __builtin_trap();
        if (cairn_serve__v2_decode(ms[i], body, size, (int64_t)size, &slow)) __builtin_trap();
        if (!same_request(&fast, &slow)) __builtin_trap();
        cairn_serve__v2_free(&slow);
        cairn_serve__v2_free(&fast);
    }
    cairn_free(body);
    return 0;
}
