/*
 * csv_num.c - decimal number parsing for the CSV reader, exactly equal to
 * strtod()/strtof() in the C locale.
 *
 * Key idea (Clinger's fast path): when the decimal significand w has at most
 * 19 digits with w <= 2^53 (2^24 for float) and the decimal exponent e has
 * |e| <= 22 (10 for float), both w and 10^|e| are exact doubles (floats), so
 * one IEEE multiply or divide, correctly rounded by the hardware, gives the
 * correctly rounded value of w * 10^e, which is what strtod returns. Every
 * other input goes to strtod_l/strtof_l with a C locale, so the result is
 * strtod's by construction. Most data files ("12.5", "0.000431") take the
 * fast path.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "csv_internal.h"

static const double pow10_d[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float pow10_f[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* The C locale for strtod_l, made once; (locale_t)0 if newlocale failed,
 * then plain strtod (right unless the host changed LC_NUMERIC). */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

struct numscan {
    bool neg;
    uint64_t w;  /* first 19 significant digits */
    long e;      /* value = w * 10^e (before truncation) */
    bool trunc;  /* a non-zero digit beyond the 19th was dropped */
    int special; /* 0: decimal, 1: infinity, 2: nan */
};

static bool match_ci(const char *p, const char *end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n) return false;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i]) return false;
    return true;
}

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* Scans the grammar of cairn/csv.h; returns the end of the number or NULL.
 * More than 19 significant digits set trunc (the slow path decides). */
static const char *scan(const char *p, const char *end, struct numscan *s)
{
    const char *q = p;
    s->neg = false;
    s->special = 0;
    s->trunc = false;
    if (q < end && (*q == '+' || *q == '-')) s->neg = *q++ == '-';
    if (q < end && ((*q | 0x20) == 'i' || (*q | 0x20) == 'n')) {
        if (match_ci(q, end, "infinity", 8)) return s->special = 1, q + 8;
        if (match_ci(q, end, "inf", 3)) return s->special = 1, q + 3;
        if (match_ci(q, end, "nan", 3)) return s->special = 2, q + 3;
        return NULL;
    }
    /* one pass: digits accumulate into w; nsig counts significant ones */
    const char *i0 = q;
    uint64_t w = 0;
    int nsig = 0;
    for (; q < end && is_digit(*q); q++) {
        w = w * 10 + (uint64_t)(*q - '0');
        nsig += w != 0;
    }
    bool any = q != i0;
    long e = 0;
    if (q < end && *q == '.') {
        const char *f0 = ++q;
        for (; q < end && is_digit(*q); q++) {
            w = w * 10 + (uint64_t)(*q - '0');
            nsig += w != 0;
        }
        e = -(long)(q - f0);
        any |= q != f0;
    }
    if (!any) return NULL;
    s->w = w;
    if (nsig > 19) { /* w wrapped or lost digits: recount exactly */
        s->trunc = true;
        s->w = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *r = q + 1;
        bool eneg = false;
        if (r < end && (*r == '+' || *r == '-')) eneg = *r++ == '-';
        if (r < end && is_digit(*r)) {
            long x = 0;
            for (; r < end && is_digit(*r); r++)
                if (x < 100000000) x = x * 10 + (*r - '0'); /* saturate; strtod sees the text */
            e += eneg ? -x : x;
            q = r;
        }
    }
    s->e = e;
    return q;
}

/* strtod/strtof of [p, q) through a NUL-terminated copy. */
static double slow_d(const char *p, const char *q, bool as_float, float *fout)
{
    char small[128];
    size_t n = (size_t)(q - p);
    char *buf = n < sizeof(small) ? small : cairn_malloc(n + 1);
    memcpy(buf, p, n);
    buf[n] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    double d = 0;
    if (as_float)
        *fout = c_locale ? strtof_l(buf, NULL, c_locale) : strtof(buf, NULL);
    else
        d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small) cairn_free(buf);
    return d;
}

const char *cairn_csv__parse_f64(const char *p, const char *end, double *out)
{
    struct numscan s;
    const char *q = scan(p, end, &s);
    if (!q) return NULL;
    double v;
    if (s.special) {
        v = s.special == 1 ? INFINITY : NAN;
    } else if (s.w == 0) {
        v = 0.0;
    } else if (!s.trunc && s.w <= (UINT64_C(1) << 53) && s.e >= -22 && s.e <= 22) {
        v = (double)s.w;
        v = s.e >= 0 ? v * pow10_d[s.e] : v / pow10_d[-s.e];
    } else {
        *out = slow_d(p, q, false, NULL);
        return q;
    }
    *out = s.neg ? -v : v;
    return q;
}

const char *cairn_csv__parse_f32(const char *p, const char *end, float *out)
{
    struct numscan s;
    const char *q = scan(p, end, &s);
    if (!q) return NULL;
    float v;
    if (s.special) {
        v = s.special == 1 ? INFINITY : NAN;
    } else if (s.w == 0) {
        v = 0.0f;
    } else if (!s.trunc && s.w <= (UINT64_C(1) << 24) && s.e >= -10 && s.e <= 10) {
        v = (float)s.w;
        v = s.e >= 0 ? v * pow10_f[s.e] : v / pow10_f[-s.e];
    } else {
        slow_d(p, q, true, out);
        return q;
    }
    *out = s.neg ? -v : v;
    return q;
}
