/*
 * fuzz_pipeline_yaml.c - arbitrary bytes as a cairn.yaml: the loader must
 * accept, or reject with a "fuzz.yaml:LINE: ..." message, without crashing
 * or leaking; an accepted pipeline's order must be a permutation in which
 * every stage comes after its upstream stages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_pipeline *p = NULL;
    /* A directory that does not exist: no params file, every dep missing
     * unless a stage produces it. */
    int rc = cairn_pipeline_load_buf(&p, "fuzz.yaml", (const char *)data, size,
                                     "/nonexistent-cairn-fuzz", NULL, 0);
    if (rc) {
        if (p || strncmp(cairn_error_last()->msg, "fuzz.yaml", 9) != 0) abort();
        return 0;
    }
    int n = cairn_pipeline_nstages(p);
    const int *ord = cairn_pipeline_order(p);
    int *pos = calloc((size_t)n + 1, sizeof(int));
    for (int i = 0; i < n; i++) {
        if (ord[i] < 0 || ord[i] >= n || pos[ord[i]]) abort();
        pos[ord[i]] = i + 1;
    }
    for (int i = 0; i < n; i++) {
        const cairn_pipeline_stage *s = cairn_pipeline_stage_at(p, i);
        if (!s->name || (!s->cmd && !s->argv)) abort();
        for (int u = 0; u < s->nupstream; u++)
            if (pos[s->upstream[u]] >= pos[i]) abort();
    }
    free(pos);
    cairn_pipeline_free(p);
    return 0;
}
