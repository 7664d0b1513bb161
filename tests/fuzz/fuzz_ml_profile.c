/*
 * fuzz_ml_profile.c - arbitrary bytes as a profile.json: the reader must
 * reject or accept without crashing, and an accepted profile must write
 * back to JSON that reads again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cairn/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_profile *p = NULL;
    if (cairn_profile_from_json(&p, (const char *)data, size) != 0) return 0;
    cairn_buf out = CAIRN_BUF_INIT(0);
    if (cairn_profile_to_json(p, &out) != 0) abort();
    cairn_profile *q = NULL;
    if (cairn_profile_from_json(&q, out.ptr, out.len) != 0) abort();
    cairn_profile_free(q);
    cairn_profile_free(p);
    cairn_buf_free(&out);
    return 0;
}
