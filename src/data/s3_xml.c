/*
 * s3_xml.c - just enough XML to read S3 response documents (error bodies,
 * ListObjectsV2 pages, multipart upload ids and results) and to write the
 * CompleteMultipartUpload body.
 *
 * Not a general parser: a tag scanner that finds elements by name (at any
 * depth, matching nested same-name elements) and decodes the text inside.
 * It never reads outside [s, s+n), skips comments, processing instructions,
 * DOCTYPE and CDATA while looking for tags, and reports malformed input as
 * "not found" rather than guessing. S3 documents use no namespace prefixes.
 */
#include <string.h>

#include "cairn/core.h"
#include "s3_internal.h"

enum tag_kind { TAG_START, TAG_END, TAG_EMPTY };

struct tag {
    enum tag_kind kind;
    const char *name;
    size_t name_len;
    size_t begin; /* offset of '<' */
    size_t end;   /* offset just past '>' */
};

/* Offset just past the first `pat` at or after i, or n + 1 when absent. */
static size_t skip_past(const char *s, size_t n, size_t i, const char *pat)
{
    size_t m = strlen(pat);
    for (; i + m <= n; i++)
        if (memcmp(s + i, pat, m) == 0) return i + m;
    return n + 1;
}

static bool starts(const char *s, size_t n, size_t i, const char *pat)
{
    size_t m = strlen(pat);
    return i + m <= n && memcmp(s + i, pat, m) == 0;
}

static bool name_char(char c)
{
    return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '/' && c != '>' && c != '=';
}

/* Finds the next element tag at or after *pos; false at the end or on
 * malformed markup. Advances *pos past the tag. */
static bool next_tag(const char *s, size_t n, size_t *pos, struct tag *t)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && s[i] != '<') i++;
        if (i >= n) return false;
        size_t j;
        if (starts(s, n, i, "<!--"))
            j = skip_past(s, n, i + 4, "-->");
        else if (starts(s, n, i, "<![CDATA["))
            j = skip_past(s, n, i + 9, "]]>");
        else if (starts(s, n, i, "<?"))
            j = skip_past(s, n, i + 2, "?>");
        else if (starts(s, n, i, "<!"))
            j = skip_past(s, n, i + 2, ">");
        else
            break;
        if (j > n) return false;
        i = j;
    }
    t->begin = i;
    size_t k = i + 1;
    t->kind = TAG_START;
    if (k < n && s[k] == '/') {
        t->kind = TAG_END;
        k++;
    }
    t->name = s + k;
    while (k < n && name_char(s[k])) k++;
    t->name_len = (size_t)(s + k - t->name);
    if (t->name_len == 0) return false;
    char quote = 0;
    for (; k < n; k++) {
        if (quote) {
            if (s[k] == quote) quote = 0;
        } else if (s[k] == '"' || s[k] == '\'') {
            quote = s[k];
        } else if (s[k] == '>') {
            break;
        }
    }
    if (k >= n) return false;
    if (t->kind == TAG_START && s[k - 1] == '/') t->kind = TAG_EMPTY;
    t->end = k + 1;
    *pos = t->end;
    return true;
}

static bool is_named(const struct tag *t, const char *name, size_t len)
{
    return t->name_len == len && memcmp(t->name, name, len) == 0;
}

bool cairn_s3__xml_next(const char *s, size_t n, size_t *pos, const char *name,
                        cairn_str *inner)
{
    size_t len = strlen(name), i = *pos;
    struct tag t;
    while (next_tag(s, n, &i, &t)) {
        if (t.kind == TAG_END || !is_named(&t, name, len)) continue;
        if (t.kind == TAG_EMPTY) {
            inner->ptr = s + t.end;
            inner->len = 0;
            *pos = t.end;
            return true;
        }
        size_t start = t.end;
        int depth = 1;
        struct tag u;
        while (next_tag(s, n, &i, &u)) {
            if (!is_named(&u, name, len)) continue;
            if (u.kind == TAG_START) depth++;
            if (u.kind == TAG_END && --depth == 0) {
                inner->ptr = s + start;
                inner->len = u.begin - start;
                *pos = u.end;
                return true;
            }
        }
        return false; /* unclosed */
    }
    return false;
}

bool cairn_s3__xml_find(const char *s, size_t n, const char *name, cairn_str *inner)
{
    size_t pos = 0;
    return cairn_s3__xml_next(s, n, &pos, name, inner);
}

/* Appends code point cp as UTF-8; EINVALID for surrogates, 0 and > U+10FFFF. */
static int put_utf8(cairn_buf *out, unsigned long cp)
{
    char b[4];
    size_t m;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "bad character reference in xml");
    if (cp < 0x80) {
        b[0] = (char)cp;
        m = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        m = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        m = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        m = 4;
    }
    return cairn_buf_put(out, b, m);
}

/* Decodes the entity at s[0] == '&' (at most n bytes); sets *used. */
static int put_entity(cairn_buf *out, const char *s, size_t n, size_t *used)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(named); i++) {
        size_t m = strlen(named[i].name);
        if (n >= m + 1 && memcmp(s + 1, named[i].name, m) == 0) {
            *used = m + 1;
            return cairn_buf_putc(out, named[i].c);
        }
    }
    if (n >= 4 && s[1] == '#') {
        size_t i = 2;
        int base = 10;
        if (s[i] == 'x' || s[i] == 'X') {
            base = 16;
            i++;
        }
        unsigned long cp = 0;
        size_t digits = 0;
        for (; i < n && s[i] != ';' && digits < 8; i++, digits++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                    : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                          : -1;
            if (d < 0) break;
            cp = cp * (unsigned long)base + (unsigned long)d;
        }
        if (digits > 0 && i < n && s[i] == ';') {
            *used = i + 1;
            return put_utf8(out, cp);
        }
    }
    return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "bad entity in xml");
}

int cairn_s3__xml_text(cairn_buf *out, cairn_str inner)
{
    const char *s = inner.ptr;
    size_t n = inner.len, i = 0;
    while (i < n) {
        int rc;
        if (s[i] == '&') {
            size_t used = 0;
            rc = put_entity(out, s + i, n - i, &used);
            i += used;
        } else if (s[i] == '<') {
            if (starts(s, n, i, "<![CDATA[")) {
                size_t j = skip_past(s, n, i + 9, "]]>");
                if (j > n) return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "unclosed cdata in xml");
                rc = cairn_buf_put(out, s + i + 9, j - 3 - (i + 9));
                i = j;
            } else if (starts(s, n, i, "<!--")) {
                size_t j = skip_past(s, n, i + 4, "-->");
                if (j > n) return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "unclosed comment in xml");
                rc = 0;
                i = j;
            } else {
                return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "markup where text was expected in xml");
            }
        } else {
            size_t j = i;
            while (j < n && s[j] != '&' && s[j] != '<') j++;
            rc = cairn_buf_put(out, s + i, j - i);
            i = j;
        }
        if (rc < 0) return rc;
    }
    if (!out->ptr) return cairn_buf_put(out, "", 0);
    return 0;
}

int cairn_s3__xml_escape(cairn_buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&apos;"; break;
        default: break;
        }
        int rc = e ? cairn_buf_puts(out, e) : cairn_buf_putc(out, *s);
        if (rc < 0) return rc;
    }
    return 0;
}
