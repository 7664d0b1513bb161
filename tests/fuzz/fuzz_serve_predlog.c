/*
 * fuzz_serve_predlog.c - feeds arbitrary bytes to the prediction log
 * reader as one segment (cairn_predlog_reader_open_mem) and walks every
 * record it yields, touching each name, value and string so the sanitizers
 * see any read out of bounds. A bad header or record must end the segment
 * (counted), never crash or leak. Each input is read twice: as given, and
 * with the CRC of every frame recomputed, so that mutated payloads get past
 * the checksum to the record decoder. The corpus holds real segments
 * written by the writer and truncated / corrupted copies of them.
 */
#include <stdint.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/predlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void touch(const char *s)
{
    if (!s) __builtin_trap();
    sink += strlen(s);
}

/* Bitwise CRC32C, as the segment format uses (kept apart from the
 * library's table version on purpose). */
static uint32_t crc32c_bits(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int j = 0; j < 8; j++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Walks the frames after the 16-byte header (u32 length, u32 CRC,
 * payload) and rewrites each CRC to match its payload. */
static void fix_crcs(uint8_t *p, size_t n)
{
    size_t off = 16;
    while (off + 8 <= n) {
        uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                       (uint32_t)p[off + 3] << 24;
        if (len > n - off - 8) break;
        uint32_t c = crc32c_bits(p + off + 8, len);
        for (int i = 0; i < 4; i++)
            p[off + 4 + i] = (uint8_t)(c >> (8 * i));
        off += 8 + (size_t)len;
    }
}

static void read_segment(const uint8_t *data, size_t size)
{
    cairn_predlog_reader *rd = NULL;
    if (cairn_predlog_reader_open_mem(&rd, data, size, 0) != 0) __builtin_trap();
    const cairn_predlog_entry *e;
    int rc;
    while ((rc = cairn_predlog_reader_next(rd, &e)) == 1) {
        touch(e->request_id);
        touch(e->deployment);
        touch(e->model);
        if (e->nfeatures < 0 || e->k < 0 || e->nrows > CAIRN_PREDLOG_MAX_ROWS) __builtin_trap();
        for (int j = 0; j < e->nfeatures; j++) {
            const cairn_predlog_feature *f = &e->features[j];
            touch(f->name);
            for (size_t i = 0; i < e->nrows; i++) {
                if (f->categorical) {
                    if (f->cat[i]) touch(f->cat[i]);
                } else {
                    sink += f->num[i] == f->num[i];
                }
            }
        }
        for (size_t i = 0; i < e->nrows * (size_t)e->k; i++)
            sink += e->outputs[i] == e->outputs[i];
    }
    /* in memory nothing can fail but allocation */
    if (rc != 0 && rc != CAIRN_ENOMEM) __builtin_trap();
    cairn_predlog_reader_free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_log_set_level(CAIRN_LOG_OFF);
    read_segment(data, size);
    uint8_t *copy = cairn_malloc(size + 1);
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    read_segment(copy, size);
    cairn_free(copy);
    return 0;
}
