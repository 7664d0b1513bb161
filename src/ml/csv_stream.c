/*
 * csv_stream.c - cairn_csv_read_chunks: a CSV file of any size read as a
 * sequence of frames, in memory bounded by the chunk size.
 *
 * Key idea: the whole-file reader (csv.c) stays the only parser. This file
 * only cuts the byte stream at record ends: it reads about chunk_bytes at a
 * time, finds the last line feed outside quotes (every quote character
 * toggles the state, which is exact for RFC 4180 since doubled quotes toggle
 * twice and a quote inside an unquoted field is an error anyway), and hands
 * "header + whole records" to cairn_csv_read_buffer. The remainder is moved
 * to the front of the buffer for the next chunk. Error messages from the
 * parser carry chunk-relative line numbers; they are rewritten with the
 * number of lines consumed before the chunk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/csv.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)
#define MIN_CHUNK ((size_t)1 << 20)
#define MAX_CHUNK ((size_t)1 << 30)

struct stream {
    FILE *fp;
    const char *path;
    char *buf;  /* [header][data] */
    size_t hdr; /* header bytes at the front of buf */
    size_t len; /* bytes in buf */
    size_t cap;
    size_t limit; /* the most data bytes one chunk may need */
    int eof;
    char quote;
};

/* Reads up to `want` more bytes into s->buf (growing it). Sets s->eof at
 * the end of the file. CAIRN_EIO on a read error, CAIRN_ETOOBIG past the
 * limit. */
static int fill(struct stream *s, size_t want)
{
    if (s->len - s->hdr + want > s->limit) want = s->limit - (s->len - s->hdr);
    if (want == 0)
        return ERR(CAIRN_ETOOBIG, "%s: a record is longer than %zu bytes", s->path, s->limit);
    if (s->len + want > s->cap) {
        size_t cap = s->len + want;
        char *nb = cairn_try_malloc(cap);
        if (!nb) return ERR(CAIRN_ENOMEM, "%s: no memory for a %zu-byte chunk", s->path, cap);
        if (s->len) memcpy(nb, s->buf, s->len);
        cairn_free(s->buf);
        s->buf = nb;
        s->cap = cap;
    }
    size_t got = fread(s->buf + s->len, 1, want, s->fp);
    s->len += got;
    if (got < want) {
        if (ferror(s->fp)) return ERR(CAIRN_EIO, "%s: read error", s->path);
        s->eof = 1;
    }
    return 0;
}

/* The end (one past the line feed) of the last record that ends in
 * buf[from, len), scanning from a point outside quotes; 0 when none does.
 * With first_only, the end of the first such record. */
static size_t record_end(const struct stream *s, size_t from, int first_only)
{
    size_t last = 0;
    int inq = 0;
    for (size_t i = from; i < s->len; i++) {
        char c = s->buf[i];
        if (s->quote && c == s->quote)
            inq = !inq;
        else if (c == '\n' && !inq) {
            last = i + 1;
            if (first_only) break;
        }
    }
    return last;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

/* Rewrites the pending error's "path:LINE:" with the file's line number:
 * LINE - hdr_lines + before (lines the header holds are not shifted). */
static int fix_line(int rc, const char *path, uint64_t hdr_lines, uint64_t before)
{
    const cairn_error *e = cairn_error_last();
    size_t pl = strlen(path);
    if (strncmp(e->msg, path, pl) != 0 || e->msg[pl] != ':') return rc;
    char *end;
    unsigned long long line = strtoull(e->msg + pl + 1, &end, 10);
    if (end == e->msg + pl + 1 || *end != ':' || line <= hdr_lines) return rc;
    char rest[sizeof(e->msg)];
    snprintf(rest, sizeof(rest), "%s", end);
    return cairn_error_set(e->code, e->subsys, "%s:%llu%s", path,
                           (unsigned long long)(line - hdr_lines + before), rest);
}

int cairn_csv_read_chunks(const char *path, const cairn_csv_opts *opts, size_t chunk_bytes,
                          cairn_csv_chunk_cb cb, void *payload)
{
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    if (opts) o = *opts;
    if (!path || !cb) return ERR(CAIRN_EINVALID, "csv chunks: path and callback are required");
    if (o.skip_rows || o.max_rows || o.skip_lines)
        return ERR(CAIRN_EINVALID, "csv chunks: skip_rows, max_rows and skip_lines must be 0");
    if (chunk_bytes < MIN_CHUNK) chunk_bytes = MIN_CHUNK;
    if (chunk_bytes > MAX_CHUNK) chunk_bytes = MAX_CHUNK;

    struct stream s = {0};
    s.path = path;
    s.quote = o.quote;
    s.limit = chunk_bytes + 4 * (o.max_field_len ? o.max_field_len : ((size_t)16 << 20));
    s.fp = fopen(path, "rb");
    if (!s.fp)
        return errno == ENOENT ? ERR(CAIRN_ENOTFOUND, "%s: no such file", path)
                               : ERR(CAIRN_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = 0;
    uint64_t hdr_lines = 0, before = 0, first_row = 0;

    /* the header: the first record (grown until it ends or the file does) */
    if (o.has_header) {
        size_t end = 0;
        while (!(end = record_end(&s, 0, 1)) && !s.eof)
            if ((rc = fill(&s, chunk_bytes)) != 0) goto cleanup;
        s.hdr = end ? end : s.len;
        hdr_lines = count_lines(s.buf, s.hdr);
        before = hdr_lines;
    }

    for (int calls = 0;; calls++) {
        size_t cut = 0;
        while (!s.eof && !(cut = record_end(&s, s.hdr, 0)))
            if ((rc = fill(&s, chunk_bytes)) != 0) goto cleanup;
        if (!s.eof && s.len - s.hdr < chunk_bytes) {
            /* top the chunk up to its size before parsing */
            if ((rc = fill(&s, chunk_bytes - (s.len - s.hdr))) != 0) goto cleanup;
            cut = record_end(&s, s.hdr, 0);
        }
        if (s.eof) cut = s.len;
        if (cut == 0) cut = s.hdr; /* nothing after the header */
        if (calls > 0 && cut == s.hdr) break;

        cairn_frame *f = NULL;
        rc = cairn_csv_read_buffer(&f, s.buf, cut, path, &o);
        if (rc != 0) {
            rc = fix_line(rc, path, hdr_lines, before);
            goto cleanup;
        }
        size_t nrows = f->nrows;
        rc = cb(f, first_row, payload);
        cairn_frame_free(f);
        if (rc != 0) goto cleanup;
        first_row += nrows;
        before += count_lines(s.buf + s.hdr, cut - s.hdr);
        memmove(s.buf + s.hdr, s.buf + cut, s.len - cut);
        s.len -= cut - s.hdr;
        if (s.eof && s.len == s.hdr) break;
    }

cleanup:
    fclose(s.fp);
    cairn_free(s.buf);
    return rc;
}
