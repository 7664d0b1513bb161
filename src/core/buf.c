/*
 * buf.c - bounded growable buffer (curl dynbuf). A failed append frees the
 * buffer and returns CAIRN_ETOOBIG, so the caller never keeps a half-filled
 * buffer of untrusted input.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/buf.h"

static int grow(cairn_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need < b->len || (b->max && b->len + extra > b->max)) {
        cairn_buf_free(b);
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_CORE, "buffer limit of %zu bytes exceeded",
                               b->max);
    }
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->ptr = cairn_realloc(b->ptr, cap);
    b->cap = cap;
    return 0;
}

int cairn_buf_put(cairn_buf *b, const void *data, size_t n)
{
    int rc = grow(b, n);
    if (rc) return rc;
    if (n) memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int cairn_buf_puts(cairn_buf *b, const char *s) { return cairn_buf_put(b, s, strlen(s)); }

int cairn_buf_putc(cairn_buf *b, char c) { return cairn_buf_put(b, &c, 1); }

int cairn_buf_vprintf(cairn_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "bad format");
    int rc = grow(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cairn_buf_printf(cairn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cairn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int cairn_buf_put_json_str(cairn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = grow(b, n + 2);
    if (rc) return rc;
    b->ptr[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t k = 0;
        switch (c) {
        case '"': esc[k++] = '\\'; esc[k++] = '"'; break;
        case '\\': esc[k++] = '\\'; esc[k++] = '\\'; break;
        case '\n': esc[k++] = '\\'; esc[k++] = 'n'; break;
        case '\r': esc[k++] = '\\'; esc[k++] = 'r'; break;
        case '\t': esc[k++] = '\\'; esc[k++] = 't'; break;
        default:
            if (c < 0x20) {
                esc[k++] = '\\'; esc[k++] = 'u'; esc[k++] = '0'; esc[k++] = '0';
                esc[k++] = hex[c >> 4]; esc[k++] = hex[c & 15];
            } else {
                esc[k++] = (char)c;
            }
        }
        if (k > 1 && (rc = grow(b, k + (n - i)))) return rc;
        memcpy(b->ptr + b->len, esc, k);
        b->len += k;
    }
    b->ptr[b->len++] = '"';
    b->ptr[b->len] = '\0';
    return 0;
}

void cairn_buf_reset(cairn_buf *b)
{
    b->len = 0;
    if (b->ptr) b->ptr[0] = '\0';
}

void cairn_buf_free(cairn_buf *b)
{
    cairn_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

char *cairn_buf_detach(cairn_buf *b, size_t *len_out)
{
    char *p = b->ptr;
    if (!p) p = cairn_strdup("");
    if (len_out) *len_out = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *cairn_buf_cstr(const cairn_buf *b) { return b->ptr ? b->ptr : ""; }
