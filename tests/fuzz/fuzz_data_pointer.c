/*
 * fuzz_data_pointer.c - arbitrary bytes as a pointer file and as a
 * manifest: each parser must accept or reject (with a "name:line:" message)
 * without crashing or leaking, and what it accepts must format back to text
 * that parses to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_data_pointer p;
    if (cairn_data_pointer_parse(&p, (const char *)data, size, "fuzz") == 0) {
        if (strlen(p.hash) != 64 || (p.kind == CAIRN_DATA_FILE && p.files != 1)) abort();
    } else if (strncmp(cairn_error_last()->msg, "fuzz:", 5) != 0) {
        abort();
    }
    cairn_data_manifest m = {0};
    if (cairn_data_manifest_parse(&m, (const char *)data, size, "fuzz") != 0) {
        if (m.n || strncmp(cairn_error_last()->msg, "fuzz:", 5) != 0) abort();
        return 0;
    }
    cairn_buf b = CAIRN_BUF_INIT(0);
    if (cairn_data_manifest_format(&m, &b) != 0) abort();
    cairn_data_manifest back = {0};
    if (cairn_data_manifest_parse(&back, b.ptr, b.len, "again") != 0 || back.n != m.n) abort();
    for (size_t i = 0; i < m.n; i++)
        if (strcmp(m.entries[i].path, back.entries[i].path) != 0 ||
            m.entries[i].type != back.entries[i].type)
            abort();
    cairn_buf_free(&b);
    cairn_data_manifest_clear(&m);
    cairn_data_manifest_clear(&back);
    return 0;
}
