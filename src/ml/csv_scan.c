/*
 * csv_scan.c - record boundaries and the field tokenizer of the CSV reader.
 *
 * Key idea: under strict RFC 4180 (a quote only opens a field, closes it, or
 * appears doubled inside it) every quote byte flips an "in quotes" state, and
 * a line feed outside quotes ends a record. This "toggle model" needs no
 * field parsing, so record ends can be found with memchr, and the state at
 * any byte is the parity of the quotes before it: workers split the input
 * at arbitrary bytes and re-synchronise exactly. The tokenizer enforces the
 * strict rules, so for valid input both agree; for invalid input the chunk
 * holding the first violation reports it (docs/internals/csv.md).
 */
#include <stdio.h>
#include <string.h>

#include "csv_internal.h"

static inline bool is_pad(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

static const char *fail(struct csv_err *err, const char *at, int code, const char *reason)
{
    err->at = at;
    err->code = code;
    strncpy(err->reason, reason, sizeof(err->reason) - 1);
    err->reason[sizeof(err->reason) - 1] = '\0';
    return NULL;
}

static const char *too_long(struct csv_err *err, const char *at, size_t max)
{
    fail(err, at, CAIRN_ETOOBIG, "");
    snprintf(err->reason, sizeof(err->reason), "field longer than %zu bytes (max_field_len)", max);
    return NULL;
}

/* The rest of a quoted field whose opening quote is at q. */
static const char *quoted_field(const struct csv_dialect *d, const char *q, const char *end,
                                struct csv_field *f, struct csv_err *err)
{
    const char *s = q + 1, *r = s;
    f->quoted = true;
    for (;;) {
        const char *c = memchr(r, d->quote, (size_t)(end - r));
        if (!c) return fail(err, q, CAIRN_EINVALID, "unterminated quoted field");
        if (c + 1 < end && c[1] == d->quote) {
            f->escaped = true;
            r = c + 2;
            continue;
        }
        f->ptr = s;
        f->len = (size_t)(c - s);
        r = c + 1;
        break;
    }
    if (f->len > d->max_field_len) return too_long(err, f->start, d->max_field_len);
    while (r < end && is_pad(*r, d->delim))
        r++;
    f->eol = true;
    if (r == end) return end;
    if (*r == d->delim) {
        f->eol = false;
        return r + 1;
    }
    if (*r == '\n') return r + 1;
    if (*r == '\r' && (r + 1 == end || r[1] == '\n')) return r + 1 == end ? end : r + 2;
    return fail(err, r, CAIRN_EINVALID, "unexpected character after closing quote");
}

const char *cairn_csv__field(const struct csv_dialect *d, const char *p, const char *end,
                             struct csv_field *f, struct csv_err *err)
{
    const char delim = d->delim, quote = d->quote;
    f->start = p;
    f->quoted = f->escaped = false;
    const char *q = p;
    if (quote) {
        while (q < end && is_pad(*q, delim))
            q++;
        if (q < end && *q == quote) return quoted_field(d, q, end, f, err);
    }
    q = p;
    if (quote) {
        for (; q < end; q++) {
            char c = *q;
            if (c == delim || c == '\n') break;
            if (c == quote) return fail(err, q, CAIRN_EINVALID, "quote in unquoted field");
        }
    } else {
        for (; q < end && *q != delim && *q != '\n'; q++) {
        }
    }
    size_t len = (size_t)(q - p);
    f->ptr = p;
    f->eol = q == end || *q == '\n';
    if (f->eol && len && p[len - 1] == '\r') len--;
    if (len > d->max_field_len) return too_long(err, p, d->max_field_len);
    f->len = len;
    return q < end ? q + 1 : end;
}

size_t cairn_csv__blank(const char *p, const char *end)
{
    if (p >= end) return 0;
    if (*p == '\n') return 1;
    if (*p == '\r' && (p + 1 == end || p[1] == '\n')) return p + 1 == end ? 1 : 2;
    return 0;
}

/* The line feed ending the record that starts outside quotes at p (toggle
 * model), or end. */
static const char *record_end(const char *p, const char *end, char quote)
{
    if (!quote) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        return nl ? nl : end;
    }
    for (;;) {
        const char *nq = memchr(p, quote, (size_t)(end - p));
        if (!nq) nq = end;
        const char *nl = memchr(p, '\n', (size_t)(nq - p));
        if (nl) return nl;
        if (nq == end) return end;
        const char *close = memchr(nq + 1, quote, (size_t)(end - nq - 1));
        if (!close) return end;
        p = close + 1;
    }
}

const char *cairn_csv__skip_records(const char *p, const char *end, char quote, size_t n,
                                    size_t *done)
{
    size_t k = 0;
    while (k < n && p < end) {
        size_t b = cairn_csv__blank(p, end);
        if (b) {
            p += b;
            continue;
        }
        const char *e = record_end(p, end, quote);
        p = e < end ? e + 1 : end;
        k++;
    }
    *done = k;
    return p;
}

size_t cairn_csv__count_quotes(const char *p, const char *end, char quote)
{
    size_t n = 0;
    if (!quote) return 0;
    while (p < end) {
        const char *q = memchr(p, quote, (size_t)(end - p));
        if (!q) break;
        n++;
        p = q + 1;
    }
    return n;
}

const char *cairn_csv__sync(const char *p, const char *end, char quote, bool in_quotes)
{
    if (in_quotes) {
        const char *close = memchr(p, quote, (size_t)(end - p));
        if (!close) return end;
        p = close + 1;
    }
    const char *e = record_end(p, end, quote);
    return e < end ? e + 1 : end;
}

size_t cairn_csv__unescape(const struct csv_field *f, char quote, char **buf, size_t *cap)
{
    if (*cap < f->len + 1) {
        size_t n = f->len + 1 > 2 * *cap ? f->len + 1 : 2 * *cap;
        cairn_free(*buf);
        *buf = cairn_malloc(n);
        *cap = n;
    }
    size_t o = 0;
    for (size_t i = 0; i < f->len; i++) {
        (*buf)[o++] = f->ptr[i];
        if (f->ptr[i] == quote && i + 1 < f->len && f->ptr[i + 1] == quote) i++;
    }
    (*buf)[o] = '\0';
    return o;
}
