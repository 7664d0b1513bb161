/*
 * serve_predlog.c - the prediction log (include/cairn/predlog.h): served
 * predictions appended to size-bounded, rotated segment files that
 * monitoring reads back.
 *
 * Key idea: the HTTP thread only samples and encodes. Encoding writes the
 * record, already framed, into the active half of a double buffer under one
 * short mutex; a full buffer drops the record (counted) instead of waiting.
 * A background thread swaps the halves and does everything slow off the
 * request path: CRC32C of each frame, the schema record a segment still
 * lacks, rotation, deleting the oldest segments to stay under max_bytes,
 * and write(2).
 *
 * Feature names are not repeated per record: the appender interns each
 * distinct (model, version, feature names and types) as a schema with a
 * small id and records carry the id; the writer emits a schema's names once
 * per segment, before its first record there, so every segment reads alone
 * after older ones are deleted. Depends only on cairn_core and frame.h.
 * Format and trade-offs: docs/internals/predlog.md.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/core.h"
#include "cairn/predlog.h"

#define SUBSYS CAIRN_SUBSYS_SERVE

/* ---- on-disk format constants ---- */

#define SEG_MAGIC "CAIRNPLG"
#define SEG_FORMAT 1u
#define SEG_HDR 16  /* magic (8), format version u32, flags u32 */
#define FRAME_HDR 8 /* payload length u32, CRC32C of the payload u32 */

#define REC_SCHEMA 1 /* id, ncols, (type, name) per column */
#define REC_PRED 2   /* one prediction; see encode_pred */

#define COL_F64 1
#define COL_F32 2
#define COL_CAT 3

#define MAX_SEGMENT_READ ((size_t)1 << 30) /* reader refuses larger segment files */
#define STAGE_FLUSH ((size_t)1 << 20)      /* writer write(2)s in chunks of about this */

/* ======================================================================
 * CRC32C (Castagnoli, reflected 0x82F63B78), slice-by-8 tables.
 * ====================================================================== */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

/* CRC32C of n bytes (check value of "123456789" is 0xE3069283). */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
            crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^
            crc_tab[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xff];
    return c ^ 0xFFFFFFFFu;
}

/* ======================================================================
 * Little-endian and varint helpers (writers assume room was checked).
 * ====================================================================== */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32), p[5] = (uint8_t)(v >> 40), p[6] = (uint8_t)(v >> 48);
    p[7] = (uint8_t)(v >> 56);
    return p + 8;
}

/* n values of w bytes each (4 or 8) as little-endian: one copy on a
 * little-endian host. */
static uint8_t *put_le_array(uint8_t *p, const void *src, size_t n, size_t w)
{
    if (n == 0) return p; /* src may be NULL */
    if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        memcpy(p, src, n * w);
        return p + n * w;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        if (w == 4) {
            uint32_t x;
            memcpy(&x, (const uint8_t *)src + 4 * i, 4);
            put32(p, x);
            p += 4;
        } else {
            memcpy(&u, (const uint8_t *)src + 8 * i, 8);
            p = put64(p, u);
        }
    }
    return p;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static size_t vlen(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *putv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Bounded reader over untrusted bytes: every get fails (returns -1) rather
 * than read past end. */
typedef struct rcur {
    const uint8_t *p, *end;
} rcur;

static int getv(rcur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) return -1;
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1) return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int getbytes(rcur *c, size_t n, const uint8_t **out)
{
    if ((size_t)(c->end - c->p) < n) return -1;
    *out = c->p;
    c->p += n;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ======================================================================
 * Segment file names: pred-<sequence, at least 12 digits>.log
 * ====================================================================== */

typedef struct seginfo {
    uint64_t seq;
    uint64_t size;
} seginfo;

/* 1 and *seq when name is a segment file name, else 0. */
static int parse_segname(const char *name, uint64_t *seq)
{
    size_t n = strlen(name);
    if (n < 5 + 12 + 4 || n > 5 + 20 + 4 || strncmp(name, "pred-", 5) != 0 ||
        strcmp(name + n - 4, ".log") != 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 5; i < n - 4; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *seq = v;
    return 1;
}

static void segpath(char *out, size_t cap, const char *dir, uint64_t seq)
{
    snprintf(out, cap, "%s/pred-%012llu.log", dir, (unsigned long long)seq);
}

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const seginfo *)a)->seq, y = ((const seginfo *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Lists the segments of dir, ascending by sequence, with their sizes.
 * *out NULL and *n 0 for a missing or empty dir. CAIRN_EIO if dir exists
 * but cannot be read. */
static int list_segments(const char *dir, seginfo **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return cairn_error_set(CAIRN_EIO, SUBSYS, "cannot list prediction log %s: %s", dir,
                               strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        uint64_t seq;
        struct stat st;
        if (!parse_segname(e->d_name, &seq)) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = cairn_realloc(*out, cap * sizeof(**out));
        }
        (*out)[*n].seq = seq;
        (*out)[(*n)++].size = (uint64_t)st.st_size;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof(**out), seg_cmp);
    return 0;
}

/* ======================================================================
 * Writer
 * ====================================================================== */

/* A distinct feature set of one (model, version). Immutable once made;
 * owned by the log's table. */
typedef struct schema {
    uint32_t id;
    uint64_t hash;
    char *model;
    int64_t version;
    int ncols;
    uint8_t *types; /* (ncols) COL_* */
    char **names;   /* (ncols) */
    uint8_t *frame; /* the whole REC_SCHEMA frame, CRC filled in */
    size_t frame_len;
    struct schema *next; /* hash chain */
} schema;

#define NBUCKETS 1024

struct cairn_predlog {
    char *dir;
    cairn_predlog_opts o;
    uint64_t threshold; /* log when rng < threshold (sample_mode 2) */
    int sample_mode;    /* 0 none, 1 all, 2 sample */
    size_t max_frame;   /* largest frame accepted (header included) */

    pthread_mutex_t mu;
    pthread_cond_t wake;    /* writer waits on it */
    pthread_cond_t flushed; /* flush callers wait on it */
    uint8_t *buf[2];        /* double buffer of framed records, cap bytes each */
    size_t len[2];
    uint64_t nrec[2];
    size_t cap;
    int active; /* appenders write buf[active]; the writer owns the other */
    int closing;
    uint64_t flush_req, flush_done;

    schema *buckets[NBUCKETS]; /* under mu */
    schema **by_id;            /* (nschemas) under mu; the schemas themselves are immutable */
    uint32_t nschemas, by_id_cap;

    pthread_t thread;
    int thread_started;

    /* writer thread only (and open/close when it is not running) */
    int fd;
    uint64_t next_seq;
    uint64_t cur_size; /* bytes of the current segment, staged ones included */
    seginfo *segs;     /* known segments, ascending; the last is current when fd >= 0 */
    size_t nsegs, segs_cap;
    uint64_t disk_total;                              /* bytes of segs on disk */
    uint64_t emitted[CAIRN_PREDLOG_MAX_SCHEMAS / 64]; /* schemas written to the current segment */
    uint8_t *stage;
    size_t stage_len, stage_cap;
    uint64_t stage_recs;
    int failing; /* last I/O attempt failed: log only the first of a streak */

    _Atomic uint64_t appended, sampled_out, dropped, written, bytes_written, io_errors;
    _Atomic uint64_t nsegments, disk_bytes;
};

static _Thread_local uint64_t rng_state;

/* xorshift64*, seeded per thread from the OS on first use. */
static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    if (!x) {
        cairn_random_bytes(&x, sizeof(x));
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t hash_key(const char *model, int64_t version, int ncols)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *s = (const unsigned char *)model; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    h ^= (uint64_t)version * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)ncols << 32;
    return h;
}

static uint8_t coltype(const cairn_column *c)
{
    return c->type == CAIRN_COL_F32 ? COL_F32 : c->type == CAIRN_COL_CAT ? COL_CAT : COL_F64;
}

static int schema_matches(const schema *s, uint64_t h, const char *model, int64_t version,
                          const cairn_frame *f)
{
    if (s->hash != h || s->version != version || s->ncols != f->ncols || strcmp(s->model, model))
        return 0;
    for (int i = 0; i < f->ncols; i++)
        if (s->types[i] != coltype(&f->cols[i]) ||
            strcmp(s->names[i], f->cols[i].name ? f->cols[i].name : ""))
            return 0;
    return 1;
}

static void schema_free(schema *s)
{
    if (!s) return;
    for (int i = 0; i < s->ncols; i++)
        cairn_free(s->names[i]);
    cairn_free(s->names);
    cairn_free(s->types);
    cairn_free(s->model);
    cairn_free(s->frame);
    cairn_free(s);
}

/* Builds schema `id` for the frame's columns, its frame included. NULL when
 * the frame would pass max_frame. Called under mu. */
static schema *schema_new(const cairn_predlog *l, uint32_t id, uint64_t h, const char *model,
                          int64_t version, const cairn_frame *f)
{
    size_t plen = 1 + vlen(id) + vlen((uint64_t)f->ncols);
    for (int i = 0; i < f->ncols; i++) {
        size_t n = strlen(f->cols[i].name ? f->cols[i].name : "");
        plen += 1 + vlen(n) + n;
        if (plen > l->max_frame) return NULL;
    }
    if (FRAME_HDR + plen > l->max_frame) return NULL;
    schema *s = cairn_calloc(1, sizeof(*s));
    s->id = id;
    s->hash = h;
    s->model = cairn_strdup(model);
    s->version = version;
    s->ncols = f->ncols;
    s->types = cairn_malloc((size_t)f->ncols + 1);
    s->names = cairn_calloc((size_t)f->ncols + 1, sizeof(*s->names));
    s->frame_len = FRAME_HDR + plen;
    s->frame = cairn_malloc(s->frame_len);
    uint8_t *p = s->frame + FRAME_HDR;
    *p++ = REC_SCHEMA;
    p = putv(p, id);
    p = putv(p, (uint64_t)f->ncols);
    for (int i = 0; i < f->ncols; i++) {
        const char *name = f->cols[i].name ? f->cols[i].name : "";
        size_t n = strlen(name);
        s->types[i] = coltype(&f->cols[i]);
        s->names[i] = cairn_strdup(name);
        *p++ = s->types[i];
        p = putv(p, n);
        memcpy(p, name, n);
        p += n;
    }
    CAIRN_ASSERT((size_t)(p - s->frame) == s->frame_len);
    put32(s->frame, (uint32_t)plen);
    put32(s->frame + 4, crc32c(s->frame + FRAME_HDR, plen));
    return s;
}

/* The schema of (model, version, the frame's columns), made on first use.
 * NULL when the table is full or the schema too big. Called under mu. */
static schema *schema_get(cairn_predlog *l, const char *model, int64_t version,
                          const cairn_frame *f)
{
    uint64_t h = hash_key(model, version, f->ncols);
    schema **b = &l->buckets[h & (NBUCKETS - 1)];
    for (schema *s = *b; s; s = s->next)
        if (schema_matches(s, h, model, version, f)) return s;
    if (l->nschemas >= CAIRN_PREDLOG_MAX_SCHEMAS) return NULL;
    schema *s = schema_new(l, l->nschemas, h, model, version, f);
    if (!s) return NULL;
    if (l->nschemas == l->by_id_cap) {
        l->by_id_cap = l->by_id_cap ? l->by_id_cap * 2 : 64;
        l->by_id = cairn_realloc(l->by_id, l->by_id_cap * sizeof(*l->by_id));
    }
    l->by_id[l->nschemas++] = s;
    s->next = *b;
    *b = s;
    return s;
}

/* Payload bytes of the REC_PRED record after its type byte and schema id.
 * SIZE_MAX when the record passes a limit. Lock-free (reads r only). */
static size_t pred_body_size(const cairn_predlog_rec *r, const char *rid, const char *dep,
                             const char *model, size_t limit)
{
    const cairn_frame *f = r->inputs;
    size_t n = f->nrows, a = strlen(rid), b = strlen(dep), c = strlen(model);
    if (n > CAIRN_PREDLOG_MAX_ROWS || f->ncols > CAIRN_PREDLOG_MAX_COLS ||
        r->k > CAIRN_PREDLOG_MAX_K || a > limit || b > limit || c > limit)
        return SIZE_MAX;
    size_t sz = 8 + vlen(a) + a + vlen(b) + b + vlen(c) + c + vlen(zz(r->version)) +
                vlen(zz(r->latency_ns)) + vlen(n) + vlen((uint64_t)r->k) + n * (size_t)r->k * 8;
    for (int j = 0; j < f->ncols && sz <= limit; j++) {
        const cairn_column *col = &f->cols[j];
        if (col->type == CAIRN_COL_F32) {
            sz += 4 * n;
        } else if (col->type == CAIRN_COL_CAT) {
            for (size_t i = 0; i < n; i++) {
                int32_t code = col->codes[i];
                if (code < 0 || code >= col->ndict || !col->dict[code]) {
                    sz += 1;
                } else {
                    size_t m = strlen(col->dict[code]);
                    sz += vlen(m + 1) + m;
                }
            }
        } else {
            sz += 8 * n;
        }
    }
    return sz <= limit ? sz : SIZE_MAX;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p = putv(p, n);
    memcpy(p, s, n);
    return p + n;
}

/*
 * REC_PRED payload: type, schema id (varint), time (i64 LE), request id,
 * deployment, model (varint length + bytes), version and latency (zigzag
 * varints), nrows, k (varints), then per schema column its nrows values
 * (f64 or f32 LE; categorical: varint len+1 then bytes, 0 = missing), then
 * nrows * k f64 LE outputs, row-major. Returns the end.
 */
static uint8_t *encode_pred(uint8_t *p, uint32_t id, int64_t t, const char *rid, const char *dep,
                            const char *model, const cairn_predlog_rec *r)
{
    const cairn_frame *f = r->inputs;
    size_t n = f->nrows;
    *p++ = REC_PRED;
    p = putv(p, id);
    p = put64(p, (uint64_t)t);
    p = put_str(p, rid);
    p = put_str(p, dep);
    p = put_str(p, model);
    p = putv(p, zz(r->version));
    p = putv(p, zz(r->latency_ns));
    p = putv(p, n);
    p = putv(p, (uint64_t)r->k);
    for (int j = 0; j < f->ncols; j++) {
        const cairn_column *col = &f->cols[j];
        if (col->type == CAIRN_COL_F32) {
            p = put_le_array(p, col->f32, n, 4);
        } else if (col->type == CAIRN_COL_CAT) {
            for (size_t i = 0; i < n; i++) {
                int32_t code = col->codes[i];
                if (code < 0 || code >= col->ndict || !col->dict[code]) {
                    *p++ = 0;
                } else {
                    size_t m = strlen(col->dict[code]);
                    p = putv(p, m + 1);
                    memcpy(p, col->dict[code], m);
                    p += m;
                }
            }
        } else {
            p = put_le_array(p, col->f64, n, 8);
        }
    }
    return put_le_array(p, r->outputs, n * (size_t)r->k, 8);
}

int cairn_predlog_append(cairn_predlog *l, const cairn_predlog_rec *r)
{
    if (!l || !r || !r->inputs || r->k < 0 || (r->k > 0 && !r->outputs))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "invalid prediction log record");
    if (l->sample_mode != 1 && (l->sample_mode == 0 || rng_next() >= l->threshold)) {
        atomic_fetch_add_explicit(&l->sampled_out, 1, memory_order_relaxed);
        return 0;
    }
    const char *rid = r->request_id ? r->request_id : "";
    const char *dep = r->deployment ? r->deployment : "";
    const char *model = r->model ? r->model : "";
    int64_t t = r->time_ns ? r->time_ns : now_ns();
    size_t body = pred_body_size(r, rid, dep, model, l->max_frame);
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    schema *s = body == SIZE_MAX ? NULL : schema_get(l, model, r->version, r->inputs);
    size_t plen = s ? 1 + vlen(s->id) + body : 0;
    size_t total = FRAME_HDR + plen;
    int a = l->active;
    if (!s || total > l->max_frame) {
        rc = CAIRN_ETOOBIG;
    } else if (l->cap - l->len[a] < total) {
        rc = CAIRN_EBUSY;
    } else {
        uint8_t *p = l->buf[a] + l->len[a];
        put32(p, (uint32_t)plen); /* the writer fills in the CRC */
        uint8_t *end = encode_pred(p + FRAME_HDR, s->id, t, rid, dep, model, r);
        CAIRN_ASSERT((size_t)(end - p) == total);
        (void)end;
        size_t before = l->len[a];
        l->len[a] += total;
        l->nrec[a]++;
        if (before < l->cap / 2 && l->len[a] >= l->cap / 2) pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->mu);

    if (rc == 0) {
        atomic_fetch_add_explicit(&l->appended, 1, memory_order_relaxed);
        return 0;
    }
    atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
    if (rc == CAIRN_EBUSY)
        return cairn_error_set(rc, SUBSYS, "prediction log buffer full; record dropped");
    return cairn_error_set(rc, SUBSYS, "prediction log record over a size limit; dropped");
}

/* ---- writer thread: segments ---- */

static void seg_push(cairn_predlog *l, uint64_t seq, uint64_t size)
{
    if (l->nsegs == l->segs_cap) {
        l->segs_cap = l->segs_cap ? l->segs_cap * 2 : 16;
        l->segs = cairn_realloc(l->segs, l->segs_cap * sizeof(*l->segs));
    }
    l->segs[l->nsegs].seq = seq;
    l->segs[l->nsegs++].size = size;
    l->disk_total += size;
}

static void publish_disk(cairn_predlog *l)
{
    atomic_store_explicit(&l->nsegments, l->nsegs, memory_order_relaxed);
    atomic_store_explicit(&l->disk_bytes, l->disk_total, memory_order_relaxed);
}

/* Deletes the oldest segments (never the current one) until `incoming`
 * more bytes fit under max_bytes. A segment that cannot be deleted is
 * forgotten all the same (logged), so the loop always ends. */
static void enforce_max(cairn_predlog *l, uint64_t incoming)
{
    size_t keep = l->fd >= 0 ? 1 : 0; /* the current segment is the last entry */
    size_t drop = 0;
    uint64_t total = l->disk_total;
    char path[4096];
    while (l->nsegs - drop > keep && total + incoming > l->o.max_bytes) {
        segpath(path, sizeof(path), l->dir, l->segs[drop].seq);
        if (unlink(path) != 0 && errno != ENOENT)
            cairn_log(CAIRN_LOG_WARN, SUBSYS,
                      "cannot delete old prediction log segment|path=%s err=%s", path,
                      strerror(errno));
        total -= l->segs[drop].size;
        drop++;
    }
    if (drop) {
        memmove(l->segs, l->segs + drop, (l->nsegs - drop) * sizeof(*l->segs));
        l->nsegs -= drop;
        l->disk_total = total;
        publish_disk(l);
    }
}

static void io_failed(cairn_predlog *l, const char *what, const char *path, int err)
{
    atomic_fetch_add_explicit(&l->io_errors, 1, memory_order_relaxed);
    if (!l->failing)
        cairn_log(CAIRN_LOG_WARN, SUBSYS,
                  "prediction log %s failed; records dropped|path=%s err=%s", what, path,
                  strerror(err));
    l->failing = 1;
}

/* Writes the staged bytes to the current segment. On failure the staged
 * records are dropped (counted) and the segment is closed, so later records
 * start a fresh segment after the torn one. */
static void flush_stage(cairn_predlog *l)
{
    if (!l->stage_len) return;
    enforce_max(l, l->stage_len);
    size_t off = 0;
    int err = 0;
    while (off < l->stage_len) {
        ssize_t w = write(l->fd, l->stage + off, l->stage_len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    seginfo *cur = &l->segs[l->nsegs - 1];
    cur->size += off;
    l->disk_total += off;
    atomic_fetch_add_explicit(&l->bytes_written, off, memory_order_relaxed);
    if (err) {
        char path[4096];
        segpath(path, sizeof(path), l->dir, cur->seq);
        io_failed(l, "write", path, err);
        atomic_fetch_add_explicit(&l->dropped, l->stage_recs, memory_order_relaxed);
        close(l->fd);
        l->fd = -1;
    } else {
        atomic_fetch_add_explicit(&l->written, l->stage_recs, memory_order_relaxed);
        l->failing = 0;
    }
    l->stage_len = 0;
    l->stage_recs = 0;
    publish_disk(l);
}

static void stage_put(cairn_predlog *l, const uint8_t *p, size_t n)
{
    if (l->stage_len + n > l->stage_cap) {
        while (l->stage_len + n > l->stage_cap)
            l->stage_cap = l->stage_cap ? l->stage_cap * 2 : STAGE_FLUSH * 2;
        l->stage = cairn_realloc(l->stage, l->stage_cap);
    }
    memcpy(l->stage + l->stage_len, p, n);
    l->stage_len += n;
}

/* Closes the current segment (staged bytes written, data fsynced). */
static void close_segment(cairn_predlog *l)
{
    if (l->fd < 0) return;
    flush_stage(l);
    if (l->fd < 0) return;
    if (fdatasync(l->fd) != 0)
        cairn_log(CAIRN_LOG_WARN, SUBSYS, "prediction log fdatasync failed|err=%s",
                  strerror(errno));
    close(l->fd);
    l->fd = -1;
}

/* Creates the next segment and stages its header. -1 when it cannot. */
static int open_segment(cairn_predlog *l)
{
    char path[4096];
    int fd = -1;
    for (int tries = 0; tries < 1000 && fd < 0; tries++) {
        segpath(path, sizeof(path), l->dir, l->next_seq++);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        io_failed(l, "segment creation", path, errno);
        return -1;
    }
    l->fd = fd;
    seg_push(l, l->next_seq - 1, 0);
    memset(l->emitted, 0, sizeof(l->emitted));
    uint8_t hdr[SEG_HDR];
    memcpy(hdr, SEG_MAGIC, 8);
    put32(hdr + 8, SEG_FORMAT);
    put32(hdr + 12, 0);
    stage_put(l, hdr, sizeof(hdr));
    l->cur_size = SEG_HDR;
    publish_disk(l);
    return 0;
}

/* Writes one swapped-out buffer of nrec framed records: CRCs, missing
 * schema records, rotation. Writer thread only. */
static void write_buffer(cairn_predlog *l, uint8_t *p, size_t n, uint64_t nrec)
{
    size_t off = 0;
    uint64_t done = 0;
    while (off < n) {
        uint8_t *fr = p + off;
        size_t plen = get32(fr), flen = FRAME_HDR + plen;
        rcur c = {fr + FRAME_HDR + 1, fr + flen};
        uint64_t id = 0;
        getv(&c, &id); /* our own encoding: cannot fail */
        int need = !(l->emitted[id / 64] >> (id % 64) & 1);
        schema *s = NULL;
        if (need) {
            pthread_mutex_lock(&l->mu);
            s = l->by_id[id];
            pthread_mutex_unlock(&l->mu);
        }
        size_t group = flen + (s ? s->frame_len : 0);
        if (l->fd >= 0 && l->cur_size + group > l->o.segment_bytes) close_segment(l);
        if (l->fd < 0) {
            if (open_segment(l) != 0) {
                atomic_fetch_add_explicit(&l->dropped, nrec - done, memory_order_relaxed);
                return;
            }
            if (!s) { /* a new segment has no schema yet */
                pthread_mutex_lock(&l->mu);
                s = l->by_id[id];
                pthread_mutex_unlock(&l->mu);
            }
        }
        if (!(l->emitted[id / 64] >> (id % 64) & 1)) {
            stage_put(l, s->frame, s->frame_len);
            l->cur_size += s->frame_len;
            l->emitted[id / 64] |= (uint64_t)1 << (id % 64);
        }
        put32(fr + 4, crc32c(fr + FRAME_HDR, plen));
        stage_put(l, fr, flen);
        l->cur_size += flen;
        l->stage_recs++;
        done++;
        off += flen;
        if (l->stage_len >= STAGE_FLUSH) flush_stage(l);
    }
    if (l->fd >= 0) flush_stage(l);
}

static void deadline_ts(struct timespec *ts, int64_t ms)
{
    ts->tv_sec = (time_t)(ms / 1000);
    ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

/* The writer thread: waits for half a buffer, the flush interval, a flush
 * request or close; swaps the halves; writes the full one out of the lock. */
static void *writer_main(void *arg)
{
    cairn_predlog *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        int64_t deadline = mono_ms() + l->o.flush_ms;
        struct timespec ts;
        deadline_ts(&ts, deadline);
        while (!l->closing && l->flush_req == l->flush_done && l->len[l->active] < l->cap / 2 &&
               mono_ms() < deadline)
            pthread_cond_timedwait(&l->wake, &l->mu, &ts);
        uint64_t target = l->flush_req;
        int full = l->active;
        l->active ^= 1;
        size_t n = l->len[full];
        uint64_t nrec = l->nrec[full];
        pthread_mutex_unlock(&l->mu);
        if (n) write_buffer(l, l->buf[full], n, nrec);
        pthread_mutex_lock(&l->mu);
        l->len[full] = 0;
        l->nrec[full] = 0;
        l->flush_done = target;
        pthread_cond_broadcast(&l->flushed);
        if (l->closing && l->len[l->active] == 0) break;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int check_opts(const cairn_predlog_opts *o)
{
    if (!o || o->version != CAIRN_PREDLOG_OPTS_VERSION || !o->dir || !*o->dir)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "prediction log options need a version and a dir");
    if (!(o->sample >= 0 && o->sample <= 1))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "prediction log sample must be within 0..1");
    if (o->segment_bytes < 4096 || o->segment_bytes > MAX_SEGMENT_READ ||
        o->max_bytes < o->segment_bytes)
        return cairn_error_set(
            CAIRN_EINVALID, SUBSYS,
            "prediction log segment_bytes must be 4 KiB..1 GiB and <= max_bytes");
    if (o->flush_ms < 1 || o->flush_ms > 60000)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "prediction log flush_ms must be 1..60000");
    if (o->buffer_bytes < 65536 || o->buffer_bytes > ((size_t)1 << 32))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "prediction log buffer_bytes must be 64 KiB..4 GiB");
    return 0;
}

static void free_log(cairn_predlog *l)
{
    for (uint32_t i = 0; i < l->nschemas; i++)
        schema_free(l->by_id[i]);
    cairn_free(l->by_id);
    cairn_free(l->buf[0]);
    cairn_free(l->buf[1]);
    cairn_free(l->segs);
    cairn_free(l->stage);
    cairn_free(l->dir);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->flushed);
    cairn_free(l);
}

int cairn_predlog_open(cairn_predlog **out, const cairn_predlog_opts *o)
{
    *out = NULL;
    int rc = check_opts(o);
    if (rc) return rc;
    if ((rc = cairn_mkdir_p(o->dir, 0755))) return rc; /* EINVALID or EIO, message set */
    cairn_predlog *l = cairn_calloc(1, sizeof(*l));
    l->o = *o;
    l->dir = cairn_strdup(o->dir);
    l->o.dir = l->dir;
    l->fd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->flushed, NULL);
    if ((rc = list_segments(l->dir, &l->segs, &l->nsegs))) goto fail;
    l->segs_cap = l->nsegs;
    for (size_t i = 0; i < l->nsegs; i++)
        l->disk_total += l->segs[i].size;
    l->next_seq = l->nsegs ? l->segs[l->nsegs - 1].seq + 1 : 1;
    enforce_max(l, 0);
    publish_disk(l);

    l->sample_mode = o->sample <= 0 ? 0 : o->sample >= 1 ? 1 : 2;
    if (l->sample_mode == 2) l->threshold = (uint64_t)(o->sample * 18446744073709551616.0);
    l->cap = o->buffer_bytes / 2;
    /* a record and its schema must fit a fresh segment together, and a buffer */
    l->max_frame = (o->segment_bytes - SEG_HDR) / 2;
    if (l->max_frame > l->cap) l->max_frame = l->cap;
    if (l->max_frame > FRAME_HDR + CAIRN_PREDLOG_MAX_RECORD)
        l->max_frame = FRAME_HDR + CAIRN_PREDLOG_MAX_RECORD;
    l->buf[0] = cairn_try_malloc(l->cap);
    l->buf[1] = cairn_try_malloc(l->cap);
    if (!l->buf[0] || !l->buf[1]) {
        rc = cairn_error_set(CAIRN_ENOMEM, SUBSYS, "cannot allocate the prediction log buffer");
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
        rc = cairn_error_set(CAIRN_ERROR, SUBSYS, "cannot start the prediction log writer");
        goto fail;
    }
    l->thread_started = 1;
    *out = l;
    return 0;
fail:
    free_log(l);
    return rc;
}

int cairn_predlog_flush(cairn_predlog *l)
{
    if (!l) return cairn_error_set(CAIRN_EINVALID, SUBSYS, "no prediction log");
    pthread_mutex_lock(&l->mu);
    uint64_t want = ++l->flush_req;
    pthread_cond_signal(&l->wake);
    while (l->flush_done < want)
        pthread_cond_wait(&l->flushed, &l->mu);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void cairn_predlog_stats_get(cairn_predlog *l, cairn_predlog_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!l) return;
    out->appended = atomic_load_explicit(&l->appended, memory_order_relaxed);
    out->sampled_out = atomic_load_explicit(&l->sampled_out, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&l->dropped, memory_order_relaxed);
    out->written = atomic_load_explicit(&l->written, memory_order_relaxed);
    out->bytes_written = atomic_load_explicit(&l->bytes_written, memory_order_relaxed);
    out->io_errors = atomic_load_explicit(&l->io_errors, memory_order_relaxed);
    out->segments = atomic_load_explicit(&l->nsegments, memory_order_relaxed);
    out->disk_bytes = atomic_load_explicit(&l->disk_bytes, memory_order_relaxed);
}

void cairn_predlog_close(cairn_predlog *l)
{
    if (!l) return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->closing = 1;
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    close_segment(l);
    free_log(l);
}

/* ======================================================================
 * Reader
 * ====================================================================== */

typedef struct rschema {
    int ncols;
    uint8_t *types;
    char **names; /* point into namebuf */
    char *namebuf;
} rschema;

struct cairn_predlog_reader {
    char *dir;
    seginfo *segs;
    size_t nsegs, iseg;
    int64_t since;
    int mem; /* one in-memory segment */

    int in_seg;
    const uint8_t *data;
    size_t len, pos;
    uint8_t *owned;
    uint64_t seq;
    rschema **schemas; /* (CAIRN_PREDLOG_MAX_SCHEMAS) by id, this segment's */
    size_t schemas_hi; /* ids below this may be set */

    cairn_predlog_entry e;
    cairn_predlog_feature *feat;
    size_t feat_cap;
    double *nums;
    size_t nums_cap;
    const char **cats;
    size_t cats_cap;
    char *strs;
    size_t strs_cap;
    uint64_t corrupt;
};

static void rschema_free(rschema *s)
{
    if (!s) return;
    cairn_free(s->types);
    cairn_free(s->names);
    cairn_free(s->namebuf);
    cairn_free(s);
}

static void end_segment(cairn_predlog_reader *rd)
{
    for (size_t i = 0; i < rd->schemas_hi; i++) {
        rschema_free(rd->schemas[i]);
        rd->schemas[i] = NULL;
    }
    rd->schemas_hi = 0;
    cairn_free(rd->owned);
    rd->owned = NULL;
    rd->data = NULL;
    rd->len = rd->pos = 0;
    rd->in_seg = 0;
}

static void seg_name(const cairn_predlog_reader *rd, char *out, size_t cap)
{
    if (rd->mem)
        snprintf(out, cap, "<memory>");
    else
        segpath(out, cap, rd->dir, rd->seq);
}

/* Counts and logs a corrupt or truncated segment tail, then ends it. */
static void corrupt_tail(cairn_predlog_reader *rd, const char *why)
{
    char name[4096];
    seg_name(rd, name, sizeof(name));
    rd->corrupt++;
    cairn_log(CAIRN_LOG_WARN, SUBSYS,
              "prediction log segment cut short: %s; rest skipped|path=%s offset=%zu", why, name,
              rd->pos);
    end_segment(rd);
}

/* Frees and reallocates *p to hold at least need bytes (contents lost).
 * -1 when the allocation fails. */
static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    cairn_free(*p);
    *cap = need < 256 ? 256 : need;
    *p = cairn_try_malloc(*cap);
    if (!*p) {
        *cap = 0;
        return -1;
    }
    return 0;
}

/* Reads the whole file of the segment at rd->iseg into rd->owned. */
static int load_file(cairn_predlog_reader *rd, uint64_t seq)
{
    char path[4096];
    segpath(path, sizeof(path), rd->dir, seq);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1; /* deleted by rotation meanwhile */
        return cairn_error_set(CAIRN_EIO, SUBSYS, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = cairn_error_set(CAIRN_EIO, SUBSYS, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size > MAX_SEGMENT_READ) {
        rc =
            cairn_error_set(CAIRN_ETOOBIG, SUBSYS, "prediction log segment %s is over 1 GiB", path);
        goto out;
    }
    size_t n = (size_t)st.st_size, got = 0;
    rd->owned = cairn_try_malloc(n ? n : 1);
    if (!rd->owned) {
        rc = cairn_error_set(CAIRN_ENOMEM, SUBSYS, "cannot allocate %zu bytes for %s", n, path);
        goto out;
    }
    while (got < n) {
        ssize_t r = read(fd, rd->owned + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = cairn_error_set(CAIRN_EIO, SUBSYS, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break; /* shrank meanwhile */
        got += (size_t)r;
    }
    rd->data = rd->owned;
    rd->len = got;
out:
    close(fd);
    if (rc) {
        cairn_free(rd->owned);
        rd->owned = NULL;
    }
    return rc;
}

/* Starts the segment in rd->data: checks its header. 0 when the segment
 * may be read, 1 when it ended at the header (counted). */
static int start_segment(cairn_predlog_reader *rd)
{
    rd->in_seg = 1;
    rd->pos = 0;
    if (rd->len < SEG_HDR || memcmp(rd->data, SEG_MAGIC, 8) != 0) {
        corrupt_tail(rd,
                     rd->len < SEG_HDR && !memcmp(rd->data, SEG_MAGIC, rd->len < 8 ? rd->len : 8)
                         ? "truncated header"
                         : "not a prediction log segment");
        return 1;
    }
    if (get32(rd->data + 8) != SEG_FORMAT) {
        corrupt_tail(rd, "unsupported format version");
        return 1;
    }
    rd->pos = SEG_HDR;
    return 0;
}

/* Next segment into rd->data. 1 loaded, 0 none left, < 0 error (that
 * segment is skipped on the next call). */
static int next_segment(cairn_predlog_reader *rd)
{
    while (rd->iseg < rd->nsegs) {
        rd->seq = rd->segs[rd->iseg++].seq;
        int rc = load_file(rd, rd->seq);
        if (rc == 1) continue;
        if (rc < 0) return rc;
        if (start_segment(rd) == 0) return 1;
    }
    return 0;
}

static int decode_schema(cairn_predlog_reader *rd, const uint8_t *p, size_t n)
{
    rcur c = {p + 1, p + n};
    uint64_t id, ncols;
    if (getv(&c, &id) || id >= CAIRN_PREDLOG_MAX_SCHEMAS || getv(&c, &ncols) ||
        ncols > CAIRN_PREDLOG_MAX_COLS || ncols * 2 > (uint64_t)(c.end - c.p))
        return -1;
    rschema *s = cairn_calloc(1, sizeof(*s));
    s->ncols = (int)ncols;
    s->types = cairn_malloc(ncols + 1);
    s->names = cairn_calloc(ncols + 1, sizeof(*s->names));
    s->namebuf = cairn_malloc(n + ncols + 1); /* names are at most n bytes together */
    char *q = s->namebuf;
    for (uint64_t i = 0; i < ncols; i++) {
        const uint8_t *t, *name;
        uint64_t len;
        if (getbytes(&c, 1, &t) || (*t != COL_F64 && *t != COL_F32 && *t != COL_CAT) ||
            getv(&c, &len) || getbytes(&c, len, &name)) {
            rschema_free(s);
            return -1;
        }
        s->types[i] = *t;
        memcpy(q, name, len);
        q[len] = '\0';
        s->names[i] = q;
        q += len + 1;
    }
    rschema_free(rd->schemas[id]);
    rd->schemas[id] = s;
    if (id >= rd->schemas_hi) rd->schemas_hi = id + 1;
    return 0;
}

/* Copies a varint-length string into the string arena (sized so it cannot
 * overflow: see decode_pred). */
static int get_str(rcur *c, char **arena, const char **out)
{
    uint64_t len;
    const uint8_t *b;
    if (getv(c, &len) || getbytes(c, len, &b)) return -1;
    memcpy(*arena, b, len);
    (*arena)[len] = '\0';
    *out = *arena;
    *arena += len + 1;
    return 0;
}

/* Decodes a REC_PRED payload into rd->e. -1 corrupt, -2 out of memory. */
static int decode_pred(cairn_predlog_reader *rd, const uint8_t *p, size_t n)
{
    cairn_predlog_entry *e = &rd->e;
    rcur c = {p + 1, p + n};
    uint64_t id, v, lat, nrows, k;
    const uint8_t *tb;
    const rschema *s;
    if (getv(&c, &id) || id >= CAIRN_PREDLOG_MAX_SCHEMAS || !(s = rd->schemas[id]) ||
        getbytes(&c, 8, &tb))
        return -1;
    /* strings: at most n bytes plus a NUL each, and there are fewer than n
     * strings, so 2n + 16 bytes hold them all */
    if (grow((void **)&rd->strs, &rd->strs_cap, 2 * n + 16)) return -2;
    char *arena = rd->strs;
    if (get_str(&c, &arena, &e->request_id) || get_str(&c, &arena, &e->deployment) ||
        get_str(&c, &arena, &e->model) || getv(&c, &v) || getv(&c, &lat) || getv(&c, &nrows) ||
        getv(&c, &k) || nrows > CAIRN_PREDLOG_MAX_ROWS || k > CAIRN_PREDLOG_MAX_K)
        return -1;
    /* the least the values can take, before anything is sized by them */
    uint64_t min = nrows * k * 8, nnum = 0, ncat = 0;
    for (int j = 0; j < s->ncols; j++) {
        uint8_t t = s->types[j];
        min += nrows * (t == COL_F64 ? 8 : t == COL_F32 ? 4 : 1);
        if (t == COL_CAT)
            ncat++;
        else
            nnum++;
    }
    if (min > (uint64_t)(c.end - c.p)) return -1;
    if (grow((void **)&rd->nums, &rd->nums_cap, (nrows * (nnum + k) + 1) * sizeof(double)) ||
        grow((void **)&rd->cats, &rd->cats_cap, (nrows * ncat + 1) * sizeof(char *)) ||
        grow((void **)&rd->feat, &rd->feat_cap, ((size_t)s->ncols + 1) * sizeof(*rd->feat)))
        return -2;
    double *num = rd->nums;
    const char **cat = rd->cats;
    for (int j = 0; j < s->ncols; j++) {
        cairn_predlog_feature *f = &rd->feat[j];
        f->name = s->names[j];
        f->categorical = s->types[j] == COL_CAT;
        f->num = NULL;
        f->cat = NULL;
        if (s->types[j] == COL_CAT) {
            f->cat = cat;
            for (uint64_t i = 0; i < nrows; i++) {
                uint64_t len;
                const uint8_t *b;
                if (getv(&c, &len)) return -1;
                if (len == 0) {
                    *cat++ = NULL;
                    continue;
                }
                if (getbytes(&c, len - 1, &b)) return -1;
                memcpy(arena, b, len - 1);
                arena[len - 1] = '\0';
                *cat++ = arena;
                arena += len;
            }
        } else {
            f->num = num;
            size_t w = s->types[j] == COL_F32 ? 4 : 8;
            const uint8_t *b;
            if (getbytes(&c, w * nrows, &b)) return -1;
            for (uint64_t i = 0; i < nrows; i++) {
                if (w == 4) {
                    uint32_t u = get32(b + 4 * i);
                    float x;
                    memcpy(&x, &u, 4);
                    *num++ = x;
                } else {
                    uint64_t u = get64(b + 8 * i);
                    memcpy(num++, &u, 8);
                }
            }
        }
    }
    const uint8_t *ob;
    if (getbytes(&c, nrows * k * 8, &ob)) return -1;
    e->outputs = num;
    for (uint64_t i = 0; i < nrows * k; i++) {
        uint64_t u = get64(ob + 8 * i);
        memcpy(num++, &u, 8);
    }
    /* bytes after the known fields are ignored: room for later additions */
    e->time_ns = (int64_t)get64(tb);
    e->version = unzz(v);
    e->latency_ns = unzz(lat);
    e->nrows = (size_t)nrows;
    e->k = (int)k;
    e->nfeatures = s->ncols;
    e->features = rd->feat;
    e->segment = rd->seq;
    return 0;
}

int cairn_predlog_reader_next(cairn_predlog_reader *rd, const cairn_predlog_entry **out)
{
    *out = NULL;
    for (;;) {
        if (!rd->in_seg) {
            if (rd->mem) return 0;
            int rc = next_segment(rd);
            if (rc <= 0) return rc;
        }
        size_t left = rd->len - rd->pos;
        if (left == 0) {
            end_segment(rd);
            continue;
        }
        if (left < FRAME_HDR) {
            corrupt_tail(rd, "truncated record header");
            continue;
        }
        const uint8_t *fr = rd->data + rd->pos;
        size_t plen = get32(fr);
        if (plen == 0 || plen > CAIRN_PREDLOG_MAX_RECORD) {
            corrupt_tail(rd, "bad record length");
            continue;
        }
        if (plen > left - FRAME_HDR) {
            corrupt_tail(rd, "truncated record");
            continue;
        }
        const uint8_t *p = fr + FRAME_HDR;
        if (crc32c(p, plen) != get32(fr + 4)) {
            corrupt_tail(rd, "record checksum mismatch");
            continue;
        }
        int rc = 0;
        if (p[0] == REC_SCHEMA)
            rc = decode_schema(rd, p, plen);
        else if (p[0] == REC_PRED)
            rc = decode_pred(rd, p, plen);
        /* other record types are skipped: room for later additions */
        if (rc == -2) { /* skip the record, so the next call goes on */
            rd->pos += FRAME_HDR + plen;
            return cairn_error_set(CAIRN_ENOMEM, SUBSYS, "cannot allocate a prediction log record");
        }
        if (rc) {
            corrupt_tail(rd, "malformed record");
            continue;
        }
        rd->pos += FRAME_HDR + plen;
        if (p[0] == REC_PRED && rd->e.time_ns >= rd->since) {
            *out = &rd->e;
            return 1;
        }
    }
}

static cairn_predlog_reader *reader_new(int64_t since)
{
    cairn_predlog_reader *rd = cairn_calloc(1, sizeof(*rd));
    rd->since = since;
    rd->schemas = cairn_calloc(CAIRN_PREDLOG_MAX_SCHEMAS, sizeof(*rd->schemas));
    return rd;
}

int cairn_predlog_reader_open(cairn_predlog_reader **out, const char *dir, int64_t since_ns)
{
    *out = NULL;
    if (!dir) return cairn_error_set(CAIRN_EINVALID, SUBSYS, "no prediction log dir");
    cairn_predlog_reader *rd = reader_new(since_ns);
    rd->dir = cairn_strdup(dir);
    int rc = list_segments(dir, &rd->segs, &rd->nsegs);
    if (rc) {
        cairn_predlog_reader_free(rd);
        return rc;
    }
    *out = rd;
    return 0;
}

int cairn_predlog_reader_open_mem(cairn_predlog_reader **out, const void *data, size_t n,
                                  int64_t since_ns)
{
    cairn_predlog_reader *rd = reader_new(since_ns);
    static const uint8_t empty[1];
    rd->mem = 1;
    rd->data = data ? data : empty;
    rd->len = data ? n : 0;
    start_segment(rd);
    *out = rd;
    return 0;
}

uint64_t cairn_predlog_reader_corrupt(const cairn_predlog_reader *rd)
{
    return rd ? rd->corrupt : 0;
}

void cairn_predlog_reader_free(cairn_predlog_reader *rd)
{
    if (!rd) return;
    end_segment(rd);
    cairn_free(rd->schemas);
    cairn_free(rd->segs);
    cairn_free(rd->dir);
    cairn_free(rd->feat);
    cairn_free(rd->nums);
    cairn_free(rd->cats);
    cairn_free(rd->strs);
    cairn_free(rd);
}
