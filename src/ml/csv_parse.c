/*
 * csv_parse.c - the per-chunk column pass of the CSV reader, and the
 * insertion-ordered string dictionaries behind categorical columns.
 *
 * Key idea: a worker owns a chunk of whole records whose global row numbers
 * are known in advance, so it writes numbers straight into the final column
 * arrays. A numeric field is parsed in place by the number parser and only
 * its terminator is checked (one pass over the bytes); anything else goes
 * through the general tokenizer. Categorical values are interned into a
 * dictionary private to the chunk; csv.c merges the dictionaries in chunk
 * order, which gives first-seen order whatever the split.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv_internal.h"

/* ---- dictionaries ---- */

#define DICT_BLOCK ((size_t)64 << 10)

void cairn_csv__dict_init(struct csv_dict *d)
{
    memset(d, 0, sizeof(*d));
    d->mask = 15;
    d->slots = cairn_malloc(sizeof(int32_t) * (d->mask + 1));
    memset(d->slots, 0xff, sizeof(int32_t) * (d->mask + 1));
}

void cairn_csv__dict_free(struct csv_dict *d)
{
    char *b = d->block;
    while (b) {
        char *prev;
        memcpy(&prev, b, sizeof(prev));
        cairn_free(b);
        b = prev;
    }
    cairn_free(d->slots);
    cairn_free(d->ent);
    memset(d, 0, sizeof(*d));
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 29;
    return h;
}

static const char *arena_copy(struct csv_dict *d, const char *s, size_t n)
{
    const size_t hdr = sizeof(char *);
    if (!d->block || d->block_cap - d->block_used < n + 1) {
        size_t cap = n + 1 + hdr > DICT_BLOCK ? n + 1 + hdr : DICT_BLOCK;
        char *b = cairn_malloc(cap);
        memcpy(b, &d->block, sizeof(char *));
        d->block = b;
        d->block_cap = cap;
        d->block_used = hdr;
    }
    char *dst = d->block + d->block_used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    d->block_used += n + 1;
    return dst;
}

static void dict_grow(struct csv_dict *d)
{
    size_t mask = d->mask * 2 + 1;
    int32_t *slots = cairn_malloc(sizeof(int32_t) * (mask + 1));
    memset(slots, 0xff, sizeof(int32_t) * (mask + 1));
    for (int32_t k = 0; k < d->n; k++) {
        size_t i = d->ent[k].hash & mask;
        while (slots[i] >= 0)
            i = (i + 1) & mask;
        slots[i] = k;
    }
    cairn_free(d->slots);
    d->slots = slots;
    d->mask = mask;
}

int32_t cairn_csv__dict_intern(struct csv_dict *d, const char *s, size_t len, bool *added)
{
    uint64_t h = hash_bytes(s, len);
    size_t i = h & d->mask;
    *added = false;
    for (; d->slots[i] >= 0; i = (i + 1) & d->mask) {
        const struct csv_dict_ent *e = &d->ent[d->slots[i]];
        if (e->hash == h && e->len == len && !memcmp(e->s, s, len)) return d->slots[i];
    }
    if (d->n >= INT32_MAX - 1) return -1;
    if (d->n == d->cap) {
        d->cap = d->cap ? (d->cap > INT32_MAX / 2 ? INT32_MAX : d->cap * 2) : 16;
        d->ent = cairn_realloc(d->ent, sizeof(*d->ent) * (size_t)d->cap);
    }
    d->ent[d->n] = (struct csv_dict_ent){arena_copy(d, s, len), len, h};
    d->slots[i] = d->n;
    *added = true;
    if ((size_t)++d->n * 2 > d->mask + 1) dict_grow(d);
    return d->n - 1;
}

/* ---- values ---- */

static inline bool is_pad(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

static void trim(const char **s, size_t *n, char delim)
{
    while (*n && is_pad(**s, delim))
        (*s)++, (*n)--;
    while (*n && is_pad((*s)[*n - 1], delim))
        (*n)--;
}

bool cairn_csv__is_na(const struct csv_ctx *cx, const char *s, size_t len)
{
    trim(&s, &len, cx->d.delim);
    for (size_t i = 0; i < cx->nna; i++)
        if (cx->na_len[i] == len && !memcmp(cx->na[i], s, len)) return true;
    return false;
}

static bool chunk_fail(struct csv_chunk *ch, const char *at, int code)
{
    ch->err.at = at;
    ch->err.code = code;
    return false;
}

/* Writes up to 40 bytes of s into out, control bytes as '?'. */
static void excerpt(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = n > 40 ? 40 : n, o = 0;
    for (size_t i = 0; i < k && o + 1 < cap; i++)
        out[o++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (n > k && o + 4 < cap) memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
}

static inline void store_num(struct csv_col *c, size_t row, double v, float fv)
{
    if (c->type == CAIRN_COL_F64)
        c->f64[row] = v;
    else
        c->f32[row] = fv;
}

/* Stores a field that the fast path did not take. */
static bool store_field(const struct csv_ctx *cx, struct csv_chunk *ch, int ci,
                        const struct csv_field *f, size_t row)
{
    struct csv_col *c = &cx->cols[ci];
    if (!c->cat_pass && !c->forced && atomic_load_explicit(&c->notnum, memory_order_relaxed))
        return true;
    const char *s = f->ptr;
    size_t n = f->len;
    if (f->escaped) {
        n = cairn_csv__unescape(f, cx->d.quote, &ch->scratch, &ch->scratch_cap);
        s = ch->scratch;
    }
    if (c->cat_pass) {
        if (cairn_csv__is_na(cx, s, n)) {
            c->codes[row] = -1;
            return true;
        }
        if (memchr(s, '\0', n)) {
            snprintf(ch->err.reason, sizeof(ch->err.reason),
                     "nul byte in a value of column '%.60s'", c->name);
            return chunk_fail(ch, f->start, CAIRN_EINVALID);
        }
        struct csv_dict *d = &ch->dicts[ci];
        if (cx->max_categories > 0 && d->n > cx->max_categories) {
            /* benign: the read fails with max_categories; stop growing */
            atomic_store_explicit(&c->overflow, true, memory_order_relaxed);
            c->codes[row] = -1;
            return true;
        }
        bool added;
        int32_t code = cairn_csv__dict_intern(d, s, n, &added);
        if (code < 0 || (cx->max_categories > 0 && d->n > cx->max_categories))
            atomic_store_explicit(&c->overflow, true, memory_order_relaxed);
        c->codes[row] = code;
        return true;
    }
    trim(&s, &n, cx->d.delim);
    double v = NAN;
    float fv = NAN;
    if (!cairn_csv__is_na(cx, s, n)) {
        const char *r = c->type == CAIRN_COL_F64 ? cairn_csv__parse_f64(s, s + n, &v)
                                                 : cairn_csv__parse_f32(s, s + n, &fv);
        if (r != s + n) {
            if (!c->forced) {
                atomic_store_explicit(&c->notnum, true, memory_order_relaxed);
                return true;
            }
            char ex[48];
            excerpt(ex, sizeof(ex), s, n);
            snprintf(ch->err.reason, sizeof(ch->err.reason),
                     "value '%s' in column '%.60s' is not a number (type forced to %s)", ex,
                     c->name, c->type == CAIRN_COL_F64 ? "f64" : "f32");
            return chunk_fail(ch, f->start, CAIRN_EINVALID);
        }
    }
    store_num(c, row, v, fv);
    return true;
}

/* The fast path: a number at p followed by padding and a terminator.
 * Returns the byte after the terminator (*eol set), or NULL to fall back. */
static inline const char *fast_number(const struct csv_ctx *cx, struct csv_col *c, const char *p,
                                      const char *end, size_t row, bool *eol)
{
    const char delim = cx->d.delim;
    while (p < end && is_pad(*p, delim))
        p++;
    double v = 0;
    float fv = 0;
    const char *r = c->type == CAIRN_COL_F64 ? cairn_csv__parse_f64(p, end, &v)
                                             : cairn_csv__parse_f32(p, end, &fv);
    if (!r) return NULL;
    while (r < end && is_pad(*r, delim))
        r++;
    if (r == end) {
        *eol = true;
    } else if (*r == delim) {
        *eol = false;
        r++;
    } else if (*r == '\n') {
        *eol = true;
        r++;
    } else if (*r == '\r' && (r + 1 == end || r[1] == '\n')) {
        *eol = true;
        r += r + 1 == end ? 1 : 2;
    } else {
        return NULL;
    }
    store_num(c, row, v, fv);
    return r;
}

bool cairn_csv__parse_chunk(const struct csv_ctx *cx, struct csv_chunk *ch)
{
    const char *p = ch->beg, *end = ch->end;
    size_t row = ch->row0;
    const size_t lim = ch->row0 + ch->nrec;
    const size_t stop = cx->skip + cx->nrows < lim ? cx->skip + cx->nrows : lim;
    if (row < cx->skip) {
        size_t done;
        p = cairn_csv__skip_records(p, end, cx->d.quote, cx->skip - row, &done);
        row += done;
    }
    while (p < end && row < stop) {
        size_t b = cairn_csv__blank(p, end);
        if (b) {
            p += b;
            continue;
        }
        const char *rec = p;
        const size_t out = row - cx->skip;
        int nf = 0;
        for (;;) {
            int ci = nf < cx->nfields ? cx->map[nf] : -1;
            struct csv_col *c = ci >= 0 ? &cx->cols[ci] : NULL;
            if (c && cx->cat_only && !c->cat_pass) c = NULL, ci = -1;
            if (c && !c->cat_pass && !cx->na_numeric &&
                (c->forced || !atomic_load_explicit(&c->notnum, memory_order_relaxed))) {
                bool eol;
                const char *r = fast_number(cx, c, p, end, out, &eol);
                if (r) {
                    p = r;
                    nf++;
                    if (eol) break;
                    continue;
                }
            }
            struct csv_field f;
            const char *next = cairn_csv__field(&cx->d, p, end, &f, &ch->err);
            if (!next) return false;
            if (c && !store_field(cx, ch, ci, &f, out)) return false;
            nf++;
            p = next;
            if (f.eol) break;
        }
        if (nf != cx->nfields) {
            snprintf(ch->err.reason, sizeof(ch->err.reason), "row has %d fields, %s has %d", nf,
                     cx->header_what, cx->nfields);
            return chunk_fail(ch, rec, CAIRN_EINVALID);
        }
        row++;
    }
    return true;
}
