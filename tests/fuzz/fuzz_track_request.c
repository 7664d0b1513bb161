/*
 * fuzz_track_request.c - feeds arbitrary bytes to the tracking API's request
 * decoding: JSON parse, then the log-batch decoder and its checks (names,
 * limits, types), the same path the log-batch handler runs before a write.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_decode.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!body) return 0;
    struct chunks *c = calloc(1, sizeof(*c));
    track_alloc a = {fuzz_alloc, c};
    cairn_track_batch b;
    if (cairn_track__decode_batch(body, &a, &b) == 0) {
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
    for (int i = 0; i < c->n; i++) cairn_free(c->blocks[i]);
    free(c);
    json_decref(body);
    return 0;
}
