/*
 * cairn/buf.h - a growable byte buffer with a hard maximum size.
 *
 * The content is always NUL-terminated (not counted in len). If an append
 * would pass `max`, the buffer is freed and CAIRN_ETOOBIG returned, so a
 * caller reading untrusted input cannot be made to hold more than `max`.
 */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include "cairn/common.h"

typedef struct cairn_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* 0: unbounded (trusted, program-built content only) */
} cairn_buf;

#define CAIRN_BUF_INIT(maxsize) {NULL, 0, 0, (maxsize)}

CAIRN_API int cairn_buf_put(cairn_buf *b, const void *data, size_t n);
CAIRN_API int cairn_buf_puts(cairn_buf *b, const char *s);
CAIRN_API int cairn_buf_putc(cairn_buf *b, char c);
CAIRN_API int cairn_buf_printf(cairn_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
CAIRN_API int cairn_buf_vprintf(cairn_buf *b, const char *fmt, va_list ap);
/* Appends `s` as a JSON string literal with quotes. */
CAIRN_API int cairn_buf_put_json_str(cairn_buf *b, const char *s, size_t n);
/* Keeps the allocation, sets len to 0. */
CAIRN_API void cairn_buf_reset(cairn_buf *b);
CAIRN_API void cairn_buf_free(cairn_buf *b);
/* Hands the content to the caller (free with cairn_free); buffer becomes empty. */
CAIRN_API char *cairn_buf_detach(cairn_buf *b, size_t *len_out);
/* Content as a C string; "" when empty. */
CAIRN_API const char *cairn_buf_cstr(const cairn_buf *b);

#endif
