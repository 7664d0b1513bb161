/*
 * fuzz_monitor_sketch.c - arbitrary bytes as a serialised numeric sketch:
 * the reader must reject or accept without crashing; an accepted sketch
 * must answer every query, serialise back to the same bytes, and merge
 * with itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/drift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_sketch *s = NULL;
    if (cairn_sketch_deserialize(&s, data, size) != 0) return 0;
    cairn_buf out = CAIRN_BUF_INIT(0);
    if (cairn_sketch_serialize(s, &out) != 0) abort();
    if (out.len != size || memcmp(out.ptr, data, size) != 0) abort();
    for (int q = 0; q <= 4; q++) (void)cairn_sketch_quantile(s, q / 4.0);
    (void)cairn_sketch_cdf(s, 0.0);
    (void)cairn_sketch_ks_error(s);
    (void)cairn_sketch_w1_error(s);
    cairn_sketch *c = NULL;
    if (cairn_sketch_copy(&c, s) != 0 || cairn_sketch_merge(c, s) != 0) abort();
    if (cairn_sketch_count(s) > 0) {
        cairn_drift_test t;
        double w;
        if (cairn_drift_ks_sketch(s, c, &t) != 0) abort();
        if (cairn_drift_wasserstein_sketch(s, c, &w) != 0) abort();
    }
    cairn_sketch_free(c);
    cairn_sketch_free(s);
    cairn_buf_free(&out);
    return 0;
}
