/*
 * fuzz_track_request.c - feeds arbitrary bytes to the tracking API's request
 * decoding: JSON parse, then the log-batch decoder and its checks (names,
 * limits, types), the same path the log-batch handler runs before a write.
 * Differential: the raw-bytes fast decoder (track_fastbatch.c) runs on the
 * same bytes, and whenever it succeeds the jansson path must succeed too and
 * decode the very same batch (strings, values bitwise, timestamps, steps).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_decode.h"
#include "track/track_fastbatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct chunks {
    void *blocks[4096];
    int n;
};

static void *fuzz_alloc(void *ctx, size_t n)
{
    struct chunks *c = ctx;
    void *p = cairn_malloc(n ? n : 1);
    if (c->n < (int)(sizeof(c->blocks) / sizeof(c->blocks[0]))) c->blocks[c->n++] = p;
    else abort(); /* the decoder allocates O(entries), bounded by the limits */
    return p;
}

static void free_chunks(struct chunks *c)
{
    for (int i = 0; i < c->n; i++) cairn_free(c->blocks[i]);
    free(c);
}

static int same_str(const char *x, const char *y) { return x && y && !strcmp(x, y); }

static int same_kv(const cairn_kv *x, const cairn_kv *y, int n)
{
    for (int i = 0; i < n; i++)
        if (!same_str(x[i].key, y[i].key) || !same_str(x[i].value, y[i].value)) return 0;
    return 1;
}

/* The fast decoder's batch against the jansson path's: equal, field by field. */
static int same_batch(const cairn_track_batch *x, const cairn_track_batch *y)
{
    if (!same_str(x->run_uuid, y->run_uuid) || x->nmetrics != y->nmetrics ||
        x->nparams != y->nparams || x->ntags != y->ntags)
        return 0;
    for (int i = 0; i < x->nmetrics; i++) {
        const cairn_metric *a = &x->metrics[i], *b = &y->metrics[i];
        if (!same_str(a->key, b->key) || memcmp(&a->value, &b->value, sizeof(double)) ||
            a->timestamp != b->timestamp || a->step != b->step)
            return 0;
    }
    return same_kv(x->params, y->params, x->nparams) && same_kv(x->tags, y->tags, x->ntags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the fast decoder reads an exact-size copy: an over-read is caught by ASan */
    char *raw = cairn_malloc(size ? size : 1);
    memcpy(raw, data, size);
    struct chunks *fc = calloc(1, sizeof(*fc));
    track_alloc fa = {fuzz_alloc, fc};
    cairn_track_batch fb;
    int frc = cairn_track__fast_batch(raw, size, &fa, &fb);
    cairn_free(raw);
    if (frc != 0 && frc != CAIRN_EUNSUPPORTED) abort();

    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!body) {
        if (frc == 0) abort(); /* fast path accepted what jansson rejects */
        free_chunks(fc);
        return 0;
    }
    struct chunks *c = calloc(1, sizeof(*c));
    track_alloc a = {fuzz_alloc, c};
    cairn_track_batch b;
    int src = cairn_track__decode_batch(body, &a, &b);
    if (frc == 0 && (src != 0 || !same_batch(&fb, &b))) abort();
    free_chunks(fc);
    if (src == 0) {
        /* a decoded batch always respects MLflow's limits */
        if (b.nmetrics > CAIRN_TRACK_MAX_METRICS || b.nparams > CAIRN_TRACK_MAX_PARAMS ||
            b.ntags > CAIRN_TRACK_MAX_TAGS || !b.run_uuid || !*b.run_uuid)
            abort();
        for (int i = 0; i < b.nmetrics; i++)
            if (!b.metrics[i].key || !*b.metrics[i].key) abort();
    }
    cairn_kv *kv;
    int n;
    cairn_track__decode_kv(json_object_get(body, "tags"), "tags", 1000, &a, &kv, &n);
    free_chunks(c);
    json_decref(body);
    return 0;
}
