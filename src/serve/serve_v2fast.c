/*
 * serve_v2fast.c - the common OIP V2 inference body decoded straight from
 * the request bytes. For a 32-row request, building and freeing a jansson
 * tree (a json_t per number, a hash table per object) and walking it was
 * over half of the server's CPU; this decoder makes one pass over the bytes,
 * collecting every number of every input into one growing array of
 * doubles, and then builds the frame from that array.
 *
 * Key idea: it is a strict subset recogniser, not a JSON parser. It accepts
 * only {"id": plain string, "inputs": [...]} whose inputs each have exactly
 * "name", "shape", "datatype" (FP64 or FP32) and "data" (numbers, nested or
 * flat) in either input layout of serve_v2.c, and only when it is certain
 * that json_loadb plus cairn_serve__v2_decode would decode the very same
 * request. Anything else - escapes, non-ASCII, null, booleans, strings in
 * data, unknown or repeated keys, shapes that do not fit, numbers jansson
 * rejects or that we choose not to convert - makes it return 0 without a
 * message, and the caller takes the general path, which owns every error.
 * Numbers follow jansson exactly: integer tokens are strtoll values
 * converted to double, other tokens are strtod values (Clinger's exact
 * fast path for short decimals, strtod itself otherwise, and a real that
 * overflows to infinity is jansson's error, so a fallback here).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

#define FAST_MAX_DIMS 8                /* serve_v2.c: at most 8 dimensions */
#define FAST_MAX_ELEMS ((size_t)1 << 27) /* serve_v2.c: past this, ETOOBIG */
#define FAST_MAX_DEPTH 8               /* array nesting inside "data" */
#define FAST_MAX_INPUTS 100000         /* serve_v2.c: more is an error */

/* The cursor over the body. */
typedef struct px {
    const unsigned char *p, *end;
} px;

/* Every number of the request, in body order. */
typedef struct vals {
    double *v;
    size_t n, cap;
} vals;

/* One input as read: its name is a slice of the body, its elements a slice
 * [off, off + nvals) of the shared value array. */
typedef struct ftensor {
    const char *name;
    size_t nlen;
    int fp32;
    int ndim;
    int64_t shape[FAST_MAX_DIMS];
    size_t count; /* product of shape */
    size_t off, nvals;
} ftensor;

/* ------------------------------------------------------------- tokens */

static void ws(px *x)
{
    const unsigned char *p = x->p;
    while (p < x->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    x->p = p;
}

/* Skips whitespace, then consumes c; -1 if the next byte is not c. */
static int expect(px *x, unsigned char c)
{
    ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return 0;
    }
    return -1;
}

/* Skips whitespace, then consumes ',' (1) or close (0); else -1. */
static int next_or_close(px *x, unsigned char close)
{
    ws(x);
    if (x->p < x->end) {
        if (*x->p == ',') {
            x->p++;
            return 1;
        }
        if (*x->p == close) {
            x->p++;
            return 0;
        }
    }
    return -1;
}

/* A string at x->p of printable ASCII (0x20-0x7f) without backslash: its
 * bytes are [*s, *s + *n). Escapes, control bytes and non-ASCII are -1. */
static int str_tok(px *x, const char **s, size_t *n)
{
    const unsigned char *p = x->p, *end = x->end;
    if (p >= end || *p != '"') return -1;
    const unsigned char *q = ++p;
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
        q++;
    if (q >= end || *q != '"') return -1;
    *s = (const char *)p;
    *n = (size_t)(q - p);
    x->p = q + 1;
    return 0;
}

/* Whitespace, a string key, whitespace, ':' and whitespace. */
static int key_tok(px *x, const char **s, size_t *n)
{
    ws(x);
    if (str_tok(x, s, n) || expect(x, ':')) return -1;
    ws(x);
    return 0;
}

static int is_key(const char *s, size_t n, const char *want)
{
    size_t wn = strlen(want);
    return n == wn && memcmp(s, want, n) == 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* ------------------------------------------------------------- numbers */

/* The powers of ten a double holds exactly (Clinger's fast path). */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A JSON number at x->p as the double json_number_value gives for it.
 * jansson's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; without
 * fraction and exponent it is an integer (strtoll, out of range is an
 * error), else a real (strtod, infinity is an error). -1 for anything
 * jansson rejects and for reals longer than we copy. */
static int num_tok(px *x, double *out)
{
    const unsigned char *p = x->p, *end = x->end, *start = p;
    int neg = 0, sig = 0, dropped = 0, e10 = 0;
    uint64_t mant = 0;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (!is_digit(p, end)) return -1;
    const unsigned char *ip = p;
    if (*p == '0') {
        p++;
        if (is_digit(p, end)) return -1; /* a leading zero */
    } else {
        while (is_digit(p, end)) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                dropped = 1;
                if (e10 < 100000) e10++; /* clamped: such a token is too long below */
            }
            p++;
        }
    }
    if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
        /* an integer: 19 digits fit in uint64_t; 20 or more pass int64 */
        if (p - ip > 19) return -1;
        if (mant > (uint64_t)INT64_MAX + (uint64_t)neg) return -1; /* strtoll's ERANGE */
        int64_t i = !neg                                 ? (int64_t)mant
                    : mant == (uint64_t)INT64_MAX + 1u ? INT64_MIN
                                                       : -(int64_t)mant; /* "-0" is 0 */
        *out = (double)i;
        x->p = p;
        return 0;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(p, end)) return -1;
        while (is_digit(p, end)) {
            if (mant == 0 && *p == '0') {
                if (e10 > -100000) e10--; /* a leading zero: not significant */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
                e10--;
            } else {
                dropped = 1;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (!is_digit(p, end)) return -1;
        while (is_digit(p, end)) {
            if (ev < 100000) ev = ev * 10 + (*p - '0');
            p++;
        }
        e10 += eneg ? -ev : ev;
    }
    size_t n = (size_t)(p - start);
    char tmp[64];
    if (n >= sizeof(tmp)) return -1; /* long tokens are left to the general path */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    /* Clinger: an exact mantissa times or over an exact power of ten is one
     * correctly rounded operation, the double a correct strtod returns. */
    if (!dropped && mant <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)mant;
        d = e10 < 0 ? d / exact_pow10[-e10] : d * exact_pow10[e10];
        *out = neg ? -d : d;
        x->p = p;
        return 0;
    }
#endif
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    char *stop;
    double d = strtod(tmp, &stop);
    if (stop != tmp + n || isinf(d)) return -1; /* a foreign locale; jansson's overflow */
    *out = d;
    x->p = p;
    return 0;
}

/* A shape dimension: a non-negative integer without sign, at most 18
 * digits (a real, "-0" or a negative is left to the general path). */
static int dim_tok(px *x, int64_t *out)
{
    const unsigned char *p = x->p, *end = x->end;
    if (!is_digit(p, end)) return -1;
    int64_t v = 0;
    if (*p == '0') {
        p++;
    } else {
        for (int nd = 0; is_digit(p, end); nd++, p++) {
            if (nd == 18) return -1;
            v = v * 10 + (*p - '0');
        }
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))) return -1;
    *out = v;
    x->p = p;
    return 0;
}

/* ------------------------------------------------------------- inputs */

static void push(vals *v, double d)
{
    if (v->n == v->cap) {
        v->cap *= 2;
        v->v = cairn_realloc(v->v, sizeof(double) * v->cap);
    }
    v->v[v->n++] = d;
}

/* "data": a number or arrays of them nested at most FAST_MAX_DEPTH deep,
 * flattened row-major (any nesting: serve_v2.c counts leaves, not rows). */
static int data_tok(px *x, vals *v)
{
    int depth = 0;
    for (;;) {
        ws(x);
        if (x->p < x->end && *x->p == '[') {
            if (depth == FAST_MAX_DEPTH) return -1;
            depth++;
            x->p++;
            ws(x);
            if (x->p < x->end && *x->p == ']') {
                x->p++;
                depth--;
            } else {
                continue; /* the array's first element */
            }
        } else {
            double d;
            if (num_tok(x, &d)) return -1;
            push(v, d);
        }
        /* after a value: close arrays until one goes on with ',' */
        for (;;) {
            if (depth == 0) return 0;
            int more = next_or_close(x, ']');
            if (more < 0) return -1;
            if (more) break;
            depth--;
        }
    }
}

/* "shape": an array of 1 to 8 dimensions; t->count is their product. */
static int shape_tok(px *x, ftensor *t)
{
    if (expect(x, '[')) return -1;
    t->ndim = 0;
    t->count = 1;
    int more;
    do {
        if (t->ndim == FAST_MAX_DIMS) return -1;
        ws(x);
        int64_t d;
        if (dim_tok(x, &d)) return -1;
        if (d > 0 && t->count > FAST_MAX_ELEMS / (uint64_t)d) return -1;
        t->count *= (size_t)d;
        t->shape[t->ndim++] = d;
    } while ((more = next_or_close(x, ']')) == 1);
    return more;
}

enum { K_NAME = 1, K_SHAPE = 2, K_DATATYPE = 4, K_DATA = 8, K_ALL = 15 };

/* One element of "inputs": exactly the four keys, each once, any order. */
static int tensor_tok(px *x, ftensor *t, vals *v)
{
    unsigned seen = 0;
    if (expect(x, '{')) return -1;
    int more;
    do {
        const char *k, *s;
        size_t kn, sn;
        unsigned bit;
        if (key_tok(x, &k, &kn)) return -1;
        bit = is_key(k, kn, "name")       ? K_NAME
              : is_key(k, kn, "shape")    ? K_SHAPE
              : is_key(k, kn, "datatype") ? K_DATATYPE
              : is_key(k, kn, "data")     ? K_DATA
                                          : 0;
        if (!bit || (seen & bit)) return -1; /* unknown ("parameters"...) or repeated */
        seen |= bit;
        switch (bit) {
        case K_NAME:
            if (str_tok(x, &t->name, &t->nlen)) return -1;
            break;
        case K_SHAPE:
            if (shape_tok(x, t)) return -1;
            break;
        case K_DATATYPE:
            if (str_tok(x, &s, &sn)) return -1;
            if (is_key(s, sn, "FP64"))
                t->fp32 = 0;
            else if (is_key(s, sn, "FP32"))
                t->fp32 = 1;
            else
                return -1;
            break;
        default:
            t->off = v->n;
            if (data_tok(x, v)) return -1;
            t->nvals = v->n - t->off;
            break;
        }
    } while ((more = next_or_close(x, '}')) == 1);
    if (more < 0 || seen != K_ALL || t->nvals != t->count) return -1;
    return 0;
}

/* "inputs": a non-empty array of tensors; *ts grows as needed. */
static int inputs_tok(px *x, ftensor **ts, int *nt, vals *v)
{
    int cap = 0, more;
    if (expect(x, '[')) return -1;
    do {
        if (*nt == FAST_MAX_INPUTS) return -1;
        if (*nt == cap) {
            cap = cap ? cap * 2 : 32;
            *ts = cairn_realloc(*ts, sizeof(ftensor) * (size_t)cap);
        }
        ftensor *t = &(*ts)[*nt];
        memset(t, 0, sizeof(*t));
        (*nt)++;
        if (tensor_tok(x, t, v)) return -1;
    } while ((more = next_or_close(x, ']')) == 1);
    return more;
}

/* ------------------------------------------------------------- the frame */

/* Index of the model feature named by t's name (the first one, as
 * serve_v2.c's feature_index), or -1. */
static int feature_of(const cairn_model *m, const ftensor *t)
{
    int nf = cairn_model_n_features(m);
    for (int j = 0; j < nf; j++) {
        const char *f = cairn_model_feature_name(m, j);
        if (strncmp(f, t->name, t->nlen) == 0 && f[t->nlen] == '\0') return j;
    }
    return -1;
}

/* Builds the frame exactly as serve_v2.c's build_frame would from the same
 * inputs, or returns -1 wherever build_frame would fail (or might: a
 * categorical feature, which needs BYTES data, is never handled here). */
static int fast_frame(const cairn_model *m, ftensor *ts, int nt, vals *v, cairn_frame **out)
{
    int nf = cairn_model_n_features(m);
    cairn_frame *f = NULL;
    for (int i = 0; i < nt; i++) /* FP32: each element rounded to float first */
        if (ts[i].fp32)
            for (size_t k = 0; k < ts[i].nvals; k++)
                v->v[ts[i].off + k] = (double)(float)v->v[ts[i].off + k];
    if (nt == 1 && feature_of(m, &ts[0]) < 0) { /* one [batch, n_features] tensor */
        ftensor *t = &ts[0];
        if (t->ndim != 2 || t->shape[1] != nf) return -1;
        for (int j = 0; j < nf; j++)
            if (cairn_model_feature_type(m, j) == CAIRN_COL_CAT) return -1;
        size_t n = (size_t)t->shape[0];
        const double *src = v->v + t->off;
        double *col = cairn_malloc(sizeof(double) * (n ? n : 1));
        cairn_frame_new(&f, n);
        for (int j = 0; j < nf; j++) {
            for (size_t i = 0; i < n; i++)
                col[i] = src[i * (size_t)nf + (size_t)j];
            if (cairn_frame_add_f64(f, cairn_model_feature_name(m, j), col)) {
                cairn_free(col);
                cairn_frame_free(f);
                return -1;
            }
        }
        cairn_free(col);
    } else { /* one [batch] or [batch, 1] tensor per feature, each once */
        if (nt != nf) return -1;
        unsigned char *used = cairn_calloc((size_t)nf, 1);
        int *fidx = cairn_malloc(sizeof(int) * (size_t)nt);
        int ok = 1;
        for (int i = 0; i < nt && ok; i++) {
            ftensor *t = &ts[i];
            int j = feature_of(m, t);
            ok = j >= 0 && !used[j] && cairn_model_feature_type(m, j) != CAIRN_COL_CAT &&
                 (t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1)) &&
                 t->shape[0] == ts[0].shape[0];
            if (ok) used[j] = 1;
            fidx[i] = j;
        }
        if (ok) {
            cairn_frame_new(&f, (size_t)ts[0].shape[0]);
            for (int i = 0; i < nt && ok; i++) /* columns in input order */
                ok = cairn_frame_add_f64(f, cairn_model_feature_name(m, fidx[i]),
                                         v->v + ts[i].off) == 0;
            if (!ok) cairn_frame_free(f);
        }
        cairn_free(used);
        cairn_free(fidx);
        if (!ok) return -1;
    }
    *out = f;
    return 0;
}

/* ------------------------------------------------------------- entry */

int cairn_serve__v2_fast(const cairn_model *m, const char *body, size_t len, cairn_serve_v2 *r)
{
    px x = {(const unsigned char *)body, (const unsigned char *)body + len};
    vals v = {NULL, 0, 0};
    ftensor *ts = NULL;
    int nt = 0, ok = 0, has_id = 0, has_inputs = 0, more = -1;
    const char *id = NULL;
    size_t idn = 0;
    cairn_frame *f = NULL;

    memset(r, 0, sizeof(*r));
    /* a number and its separator take 2 bytes: len / 2 + 1 bounds the count */
    v.cap = len / 2 + 1 < 65536 ? len / 2 + 1 : 65536;
    v.v = cairn_malloc(sizeof(double) * v.cap);
    if (expect(&x, '{')) goto done;
    do {
        const char *k;
        size_t kn;
        if (key_tok(&x, &k, &kn)) goto done;
        if (is_key(k, kn, "id") && !has_id) {
            has_id = 1;
            if (str_tok(&x, &id, &idn)) goto done;
        } else if (is_key(k, kn, "inputs") && !has_inputs) {
            has_inputs = 1;
            if (inputs_tok(&x, &ts, &nt, &v)) goto done;
        } else {
            goto done; /* "outputs", "parameters", a repeated key... */
        }
    } while ((more = next_or_close(&x, '}')) == 1);
    ws(&x);
    if (more < 0 || !has_inputs || x.p != x.end) goto done;
    if (fast_frame(m, ts, nt, &v, &f)) goto done;

    /* what requested_outputs gives for no "outputs" and no "parameters" */
    r->frame = f;
    if (has_id) r->id = r->id_owned = cairn_strndup(id, idn);
    if (cairn_serve__is_classifier(m)) {
        r->want[0] = CAIRN_SERVE_OUT_PROBA;
        r->want[1] = CAIRN_SERVE_OUT_PREDICT;
        r->nwant = 2;
    } else {
        r->want[0] = CAIRN_SERVE_OUT_PREDICT;
        r->nwant = 1;
    }
    ok = 1;
done:
    cairn_free(v.v);
    cairn_free(ts);
    return ok;
}
