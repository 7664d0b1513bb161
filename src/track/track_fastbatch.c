/*
 * track_fastbatch.c - log-batch bodies decoded straight from the request
 * bytes. Under a log-batch load, building and freeing a jansson tree was
 * about half of the server's CPU; this decoder makes one pass over the
 * bytes with a fixed nesting (object > array > object, plain loops, no
 * recursion) and allocates only the result, through the caller's allocator.
 *
 * Key idea: it is a strict subset recogniser, not a JSON parser. Anything it
 * is not certain jansson (JSON_REJECT_DUPLICATES) plus
 * cairn_track__decode_batch would decode to the very same batch -
 * escapes, non-ASCII, null, unknown or repeated keys, numbers jansson would
 * reject or round differently, malformed input - makes it give up with
 * CAIRN_EUNSUPPORTED, and the caller takes the slow path, which owns every
 * error message. Numbers follow jansson exactly: integer tokens are strtoll
 * values (a metric value is then (double)int64), other tokens are strtod
 * values, with Clinger's exact fast path for short decimals.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track_fastbatch.h"

struct fb {
    const unsigned char *p, *end;
    const track_alloc *a;
};

/* Absent arrays: non-NULL and empty, as the slow path leaves them. */
static const cairn_metric no_metrics[1];
static const cairn_kv no_kv[1];

/* ------------------------------------------------------------- tokens */

static void ws(struct fb *f)
{
    const unsigned char *p = f->p;
    while (p < f->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    f->p = p;
}

/* Skips whitespace, then consumes `c`; -1 if the next byte is not `c`. */
static int expect(struct fb *f, unsigned char c)
{
    ws(f);
    if (f->p < f->end && *f->p == c) {
        f->p++;
        return 0;
    }
    return -1;
}

/* Skips whitespace, then consumes ',' (returns 1) or `close` (returns 0). */
static int next_or_close(struct fb *f, unsigned char close)
{
    ws(f);
    if (f->p < f->end) {
        if (*f->p == ',') {
            f->p++;
            return 1;
        }
        if (*f->p == close) {
            f->p++;
            return 0;
        }
    }
    return -1;
}

/* A string token at f->p of printable ASCII (0x20-0x7f) with no backslash:
 * its bytes are [*s, *s + *n). Anything else (escape, control byte,
 * non-ASCII, end of input) is -1. */
static int str_tok(struct fb *f, const char **s, size_t *n)
{
    const unsigned char *p = f->p, *end = f->end;
    if (p >= end || *p != '"') return -1;
    const unsigned char *q = ++p;
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
        q++;
    if (q >= end || *q != '"') return -1;
    *s = (const char *)p;
    *n = (size_t)(q - p);
    f->p = q + 1;
    return 0;
}

/* Whitespace, a string key, whitespace, ':' and whitespace. */
static int key_tok(struct fb *f, const char **s, size_t *n)
{
    ws(f);
    if (str_tok(f, s, n) || expect(f, ':')) return -1;
    ws(f);
    return 0;
}

static const char *copy(const struct fb *f, const char *s, size_t n)
{
    char *d = f->a->alloc(f->a->ctx, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ------------------------------------------------------------- numbers */

/* Exact powers of ten, for Clinger's fast path. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

struct num {
    int is_int; /* no fraction, no exponent: jansson makes it an integer */
    int64_t i;  /* the integer's value when is_int */
    double d;   /* the number's value as a double (integers: (double)i) */
};

/* A JSON number token at f->p, lexed as jansson lexes it:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. -1 where jansson would
 * fail (bad form, integer outside int64, real overflowing to infinity) and
 * where we choose not to follow it ("-0", reals strtod cannot take whole). */
static int num_tok(struct fb *f, struct num *out)
{
    const unsigned char *p = f->p, *end = f->end, *start = p;
    int neg = 0, sig = 0, big = 0, frac = 0, e10 = 0;
    uint64_t mant = 0;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') return -1;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') return -1; /* leading zero */
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                big = 1;
                e10++;
            }
            p++;
        }
    }
    if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
        /* an integer: jansson's strtoll, ERANGE rejected */
        if (big || (neg ? mant > (uint64_t)INT64_MAX + 1 : mant > (uint64_t)INT64_MAX)) return -1;
        if (neg && mant == 0) return -1; /* "-0": left to the slow path */
        out->is_int = 1;
        out->i = !neg                              ? (int64_t)mant
                 : mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN
                                                   : -(int64_t)mant;
        out->d = (double)out->i;
        f->p = p;
        return 0;
    }
    if (*p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (mant == 0 && *p == '0') {
                frac++; /* leading zero of the fraction: not significant */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
                frac++;
            } else {
                big = 1;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (ev < 100000) ev = ev * 10 + (*p - '0');
            p++;
        }
        e10 += eneg ? -ev : ev;
    }
    e10 -= frac;
    out->is_int = 0;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    /* Clinger: an exact mantissa and an exact power of ten, one correctly
     * rounded IEEE operation - the same double a correct strtod gives. */
    if (!big && mant <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)mant;
        d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
        out->d = neg ? -d : d;
        f->p = p;
        return 0;
    }
#endif
    char tmp[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof(tmp)) return -1;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    char *stop;
    out->d = strtod(tmp, &stop);
    if (stop != tmp + n || isinf(out->d)) return -1; /* locale, or jansson's overflow error */
    f->p = p;
    return 0;
}

/* timestamp / step: a JSON integer within int64 (a real, even integral, is
 * left to the slow path). */
static int int_tok(struct fb *f, int64_t *out)
{
    struct num v;
    if (num_tok(f, &v) || !v.is_int) return -1;
    *out = v.i;
    return 0;
}

/* A metric value: a number, or the strings "NaN", "Infinity", "-Infinity". */
static int value_tok(struct fb *f, double *out)
{
    if (f->p < f->end && *f->p == '"') {
        const char *s;
        size_t n;
        if (str_tok(f, &s, &n)) return -1;
        if (n == 3 && !memcmp(s, "NaN", 3))
            *out = NAN;
        else if (n == 8 && !memcmp(s, "Infinity", 8))
            *out = INFINITY;
        else if (n == 9 && !memcmp(s, "-Infinity", 9))
            *out = -INFINITY;
        else
            return -1;
        return 0;
    }
    struct num v;
    if (num_tok(f, &v)) return -1;
    *out = v.d;
    return 0;
}

/* ------------------------------------------------------------- keys */

enum { K_RUN_ID, K_RUN_UUID, K_METRICS, K_PARAMS, K_TAGS, K_KEY, K_VALUE, K_TIMESTAMP, K_STEP };

static int key_is(const char *s, size_t n, const char *want, size_t wn)
{
    return n == wn && !memcmp(s, want, n);
}

static int top_key(const char *s, size_t n)
{
    if (key_is(s, n, "run_id", 6)) return K_RUN_ID;
    if (key_is(s, n, "metrics", 7)) return K_METRICS;
    if (key_is(s, n, "params", 6)) return K_PARAMS;
    if (key_is(s, n, "tags", 4)) return K_TAGS;
    if (key_is(s, n, "run_uuid", 8)) return K_RUN_UUID;
    return -1;
}

static int entry_key(const char *s, size_t n)
{
    if (key_is(s, n, "key", 3)) return K_KEY;
    if (key_is(s, n, "value", 5)) return K_VALUE;
    if (key_is(s, n, "timestamp", 9)) return K_TIMESTAMP;
    if (key_is(s, n, "step", 4)) return K_STEP;
    return -1;
}

/* ------------------------------------------------------------- arrays */

/* The smallest element is {"key":"","value":0,"timestamp":0}, 34 bytes plus
 * a ',' or the ']', so `rem` bytes after '[' hold at most rem/35 metrics;
 * likewise {"key":""} bounds params and tags at rem/11. One allocation of
 * min(bound, limit) elements; an array past the limit is the slow path's. */
static size_t capacity(const struct fb *f, size_t min_bytes, size_t limit)
{
    size_t cap = (size_t)(f->end - f->p) / min_bytes + 1;
    return cap < limit ? cap : limit;
}

/* metrics: [{key, value, timestamp, step?}, ...] at f->p. */
static int metrics_tok(struct fb *f, const cairn_metric **out, int *nout)
{
    if (f->p >= f->end || *f->p != '[') return -1;
    f->p++;
    size_t cap = capacity(f, 35, CAIRN_TRACK_MAX_METRICS);
    cairn_metric *m = f->a->alloc(f->a->ctx, sizeof(*m) * cap);
    size_t n = 0;
    ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
    } else {
        int more;
        do {
            if (n == cap || expect(f, '{')) return -1;
            cairn_metric *e = &m[n++];
            unsigned seen = 0;
            e->step = 0;
            do {
                const char *k;
                size_t kn;
                if (key_tok(f, &k, &kn)) return -1;
                int which = entry_key(k, kn);
                if (which < 0 || (seen & (1u << which))) return -1;
                seen |= 1u << which;
                int rc;
                switch (which) {
                case K_KEY:
                    rc = str_tok(f, &k, &kn);
                    if (!rc) e->key = copy(f, k, kn);
                    break;
                case K_VALUE:
                    rc = value_tok(f, &e->value);
                    break;
                case K_TIMESTAMP:
                    rc = int_tok(f, &e->timestamp);
                    break;
                default:
                    rc = int_tok(f, &e->step);
                    break;
                }
                if (rc || (more = next_or_close(f, '}')) < 0) return -1;
            } while (more);
            unsigned need = 1u << K_KEY | 1u << K_VALUE | 1u << K_TIMESTAMP;
            if ((seen & need) != need) return -1;
            if ((more = next_or_close(f, ']')) < 0) return -1;
        } while (more);
    }
    *out = m;
    *nout = (int)n;
    return 0;
}

/* params / tags: [{key, value?}, ...] of strings at f->p, at most max. */
static int kv_tok(struct fb *f, int max, const cairn_kv **out, int *nout)
{
    if (f->p >= f->end || *f->p != '[') return -1;
    f->p++;
    size_t cap = capacity(f, 11, (size_t)max);
    cairn_kv *kv = f->a->alloc(f->a->ctx, sizeof(*kv) * cap);
    size_t n = 0;
    ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
    } else {
        int more;
        do {
            if (n == cap || expect(f, '{')) return -1;
            cairn_kv *e = &kv[n++];
            unsigned seen = 0;
            e->value = "";
            do {
                const char *k, *s;
                size_t kn, sn;
                if (key_tok(f, &k, &kn)) return -1;
                int which = entry_key(k, kn);
                if ((which != K_KEY && which != K_VALUE) || (seen & (1u << which))) return -1;
                seen |= 1u << which;
                if (str_tok(f, &s, &sn)) return -1;
                if (which == K_KEY)
                    e->key = copy(f, s, sn);
                else
                    e->value = copy(f, s, sn);
                if ((more = next_or_close(f, '}')) < 0) return -1;
            } while (more);
            if (!(seen & (1u << K_KEY))) return -1;
            if ((more = next_or_close(f, ']')) < 0) return -1;
        } while (more);
    }
    *out = kv;
    *nout = (int)n;
    return 0;
}

/* ------------------------------------------------------------- body */

int cairn_track__fast_batch(const char *body, size_t len, const track_alloc *a,
                            cairn_track_batch *out)
{
    struct fb f = {(const unsigned char *)body, (const unsigned char *)body + len, a};
    const char *id[2] = {NULL, NULL}; /* run_id, run_uuid */
    size_t idn[2] = {0, 0};
    unsigned seen = 0;
    int more;

    memset(out, 0, sizeof(*out));
    out->metrics = no_metrics;
    out->params = no_kv;
    out->tags = no_kv;
    if (!body || expect(&f, '{')) goto unsupported;
    do {
        const char *k;
        size_t kn;
        if (key_tok(&f, &k, &kn)) goto unsupported;
        int which = top_key(k, kn);
        if (which < 0 || (seen & (1u << which))) goto unsupported;
        seen |= 1u << which;
        int rc;
        switch (which) {
        case K_RUN_ID:
        case K_RUN_UUID:
            rc = str_tok(&f, &id[which], &idn[which]);
            break;
        case K_METRICS:
            rc = metrics_tok(&f, &out->metrics, &out->nmetrics);
            break;
        case K_PARAMS:
            rc = kv_tok(&f, CAIRN_TRACK_MAX_PARAMS, &out->params, &out->nparams);
            break;
        default:
            rc = kv_tok(&f, CAIRN_TRACK_MAX_TAGS, &out->tags, &out->ntags);
            break;
        }
        if (rc || (more = next_or_close(&f, '}')) < 0) goto unsupported;
    } while (more);
    ws(&f);
    if (f.p != f.end) goto unsupported;
    /* decode_batch: run_id unless absent or empty, then run_uuid */
    int use = id[K_RUN_ID] && idn[K_RUN_ID] ? K_RUN_ID : K_RUN_UUID;
    if (!id[use] || !idn[use]) goto unsupported;
    out->run_uuid = copy(&f, id[use], idn[use]);
    if (cairn_track_batch_check(out)) goto unsupported;
    return 0;
unsupported:
    return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_TRACK,
                           "log-batch body outside the fast decoder's subset");
}
