/*
 * data_pointer.c - the two text formats of data versioning: the pointer
 * file (PATH.cairn, a flat YAML mapping that people read and may edit) and
 * the directory manifest (a sorted, tab-separated object in the cache).
 *
 * Both parsers are strict and total: any input either parses or yields
 * CAIRN_EINVALID with "name:line: what is wrong", so a hand-edited pointer
 * is refused with the line to fix rather than half-understood.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_internal.h"

#define POINTER_MAX (64 * 1024)

static bool is_hex64(const char *s, size_t n)
{
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Strict unsigned decimal of exactly n bytes. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* Parses one "key: value" line of a pointer into p; `seen` tracks keys. */
static int pointer_line(cairn_data_pointer *p, const char *s, size_t n, const char *name, int line,
                        unsigned *seen)
{
    static const char *const keys[] = {"version", "kind", "hash", "size", "files"};
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: expected 'key: value'", name,
                               line);
    const char *k = s, *v = colon + 1;
    size_t kn = (size_t)(colon - s), vn = n - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) v++, vn -= 2;
    int ki = -1;
    for (int i = 0; i < 5; i++)
        if (strlen(keys[i]) == kn && memcmp(keys[i], k, kn) == 0) ki = i;
    if (ki < 0)
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: unknown key '%.*s'", name, line,
                               (int)(kn > 40 ? 40 : kn), k);
    if (*seen & (1u << ki))
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: repeated key '%s'", name, line,
                               keys[ki]);
    *seen |= 1u << ki;
    uint64_t u = 0;
    switch (ki) {
    case 0:
        if (!parse_u64(v, vn, &u) || u != 1)
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                   "%s:%d: unsupported pointer version (expected 1)", name, line);
        break;
    case 1:
        if (vn == 4 && memcmp(v, "file", 4) == 0)
            p->kind = CAIRN_DATA_FILE;
        else if (vn == 3 && memcmp(v, "dir", 3) == 0)
            p->kind = CAIRN_DATA_DIR;
        else
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                   "%s:%d: kind must be 'file' or 'dir'", name, line);
        break;
    case 2:
        if (!is_hex64(v, vn))
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                   "%s:%d: hash must be 64 lowercase hex characters", name, line);
        memcpy(p->hash, v, 64);
        p->hash[64] = '\0';
        break;
    default:
        if (!parse_u64(v, vn, &u))
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                   "%s:%d: %s must be a non-negative integer", name, line,
                                   keys[ki]);
        if (ki == 3)
            p->size = u;
        else
            p->files = u;
    }
    return 0;
}

int cairn_data_pointer_parse(cairn_data_pointer *out, const char *text, size_t n, const char *name)
{
    cairn_data_pointer p;
    memset(&p, 0, sizeof(p));
    unsigned seen = 0;
    int line = 0;
    size_t i = 0;
    if (!name) name = "pointer";
    while (i < n) {
        const char *s = text + i;
        const char *nl = memchr(s, '\n', n - i);
        size_t len = nl ? (size_t)(nl - s) : n - i;
        i += len + (nl ? 1 : 0);
        line++;
        if (memchr(s, '\0', len))
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: NUL byte", name, line);
        const char *t = s;
        size_t tn = len;
        trim(&t, &tn);
        if (tn == 0 || t[0] == '#' || (tn == 3 && memcmp(t, "---", 3) == 0)) continue;
        if (t != s)
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: unexpected indentation",
                                   name, line);
        int rc = pointer_line(&p, t, tn, name, line, &seen);
        if (rc) return rc;
    }
    static const char *const req[] = {"version", "kind", "hash", "size", "files"};
    for (int k = 0; k < 5; k++)
        if (!(seen & (1u << k)))
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: missing key '%s'", name,
                                   line, req[k]);
    if (p.kind == CAIRN_DATA_FILE && p.files != 1)
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                               "%s:%d: a file pointer must have files: 1", name, line);
    *out = p;
    return 0;
}

int cairn_data_pointer_load(cairn_data_pointer *out, const char *path)
{
    cairn_buf b = CAIRN_BUF_INIT(POINTER_MAX);
    int rc = cairn_read_file(path, &b);
    if (rc) return rc;
    rc = cairn_data_pointer_parse(out, b.ptr ? b.ptr : "", b.len, path);
    cairn_buf_free(&b);
    return rc;
}

/* Writes buf to path via a temp file and rename (same directory). */
static int write_atomic(const char *path, const char *data, size_t n)
{
    size_t pl = strlen(path) + 32;
    char *tmp = cairn_malloc(pl);
    snprintf(tmp, pl, "%s.tmp%ld", path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", path, strerror(errno));
        goto cleanup;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", path,
                                 strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && !rc)
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot rename to %s: %s", path,
                             strerror(errno));
    if (rc) unlink(tmp);
cleanup:
    cairn_free(tmp);
    return rc;
}

int cairn_data_pointer_save(const cairn_data_pointer *p, const char *path)
{
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "# cairn data pointer: git tracks this file, the cache holds the data\n"
                     "version: 1\nkind: %s\nhash: %s\nsize: %llu\nfiles: %llu\n",
                     p->kind == CAIRN_DATA_DIR ? "dir" : "file", p->hash,
                     (unsigned long long)p->size, (unsigned long long)p->files);
    return write_atomic(path, text, (size_t)n);
}

/* ---- manifests ---- */

/* Appends an entry taking ownership of path and target (cairn_malloc'd). */
static void add_owned(cairn_data_manifest *m, cairn_data_entry_type type, char *path, char *target,
                      const char *hash, uint64_t size, unsigned mode)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->entries = cairn_realloc(m->entries, m->cap * sizeof(*m->entries));
    }
    cairn_data_entry *e = &m->entries[m->n++];
    e->type = type;
    e->path = path;
    e->target = target;
    if (hash) {
        memcpy(e->hash, hash, 64);
        e->hash[64] = '\0';
    } else {
        e->hash[0] = '\0';
    }
    e->size = size;
    e->mode = mode & 07777;
}

void cairn_data_manifest_add(cairn_data_manifest *m, cairn_data_entry_type type, const char *path,
                             const char *target, const char *hash, uint64_t size, unsigned mode)
{
    if (hash && strlen(hash) != 64) hash = NULL;
    add_owned(m, type, cairn_strdup(path), target ? cairn_strdup(target) : NULL, hash, size, mode);
}

void cairn_data_manifest_clear(cairn_data_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        cairn_free(m->entries[i].path);
        cairn_free(m->entries[i].target);
    }
    cairn_free(m->entries);
    memset(m, 0, sizeof(*m));
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const cairn_data_entry *)a)->path, ((const cairn_data_entry *)b)->path);
}

void cairn_data__manifest_sort(cairn_data_manifest *m)
{
    if (m->n) qsort(m->entries, m->n, sizeof(*m->entries), entry_cmp);
}

const cairn_data_entry *cairn_data_manifest_find(const cairn_data_manifest *m, const char *path)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->entries[mid].path, path);
        if (c == 0) return &m->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool bad_name(const char *s)
{
    return !s || !*s || strpbrk(s, "\t\n") != NULL;
}

int cairn_data_manifest_format(cairn_data_manifest *m, cairn_buf *out)
{
    if (m->n) qsort(m->entries, m->n, sizeof(*m->entries), entry_cmp);
    int rc = cairn_buf_puts(out, "cairn-manifest 1\n");
    for (size_t i = 0; i < m->n && !rc; i++) {
        const cairn_data_entry *e = &m->entries[i];
        if (bad_name(e->path) || (e->type == CAIRN_DATA_ENT_LINK && bad_name(e->target)))
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                   "unsupported name (tab or newline): '%s'", e->path);
        if (i > 0 && strcmp(m->entries[i - 1].path, e->path) == 0)
            return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "duplicate manifest path '%s'",
                                   e->path);
        if (e->type == CAIRN_DATA_ENT_FILE)
            rc = cairn_buf_printf(out, "f\t%04o\t%s\t%llu\t%s\n", e->mode, e->hash,
                                  (unsigned long long)e->size, e->path);
        else if (e->type == CAIRN_DATA_ENT_LINK)
            rc = cairn_buf_printf(out, "l\t%s\t%s\n", e->target, e->path);
        else
            rc = cairn_buf_printf(out, "d\t%04o\t%s\n", e->mode, e->path);
    }
    return rc;
}

static bool parse_mode(const char *s, size_t n, unsigned *out)
{
    if (n == 0 || n > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7') return false;
        v = v * 8 + (unsigned)(s[i] - '0');
    }
    if (v > 07777) return false;
    *out = v;
    return true;
}

/* Splits s[0..n) at tabs into at most `max` fields; returns the count, or
 * -1 when there are more. The last field keeps no tab. */
static int split_tabs(const char *s, size_t n, const char **f, size_t *fl, int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\t') {
            if (k == max) return -1;
            f[k] = s + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* Parses one manifest line into m. */
static int manifest_line(cairn_data_manifest *m, const char *s, size_t len, const char *name,
                         int line)
{
    const char *f[5];
    size_t fl[5];
    int k = split_tabs(s, len, f, fl, 5);
    unsigned mode = 0;
    uint64_t size = 0;
    char hash[65] = "";
    int rc = 0;
    if (k == 5 && fl[0] == 1 && f[0][0] == 'f' && parse_mode(f[1], fl[1], &mode) &&
        is_hex64(f[2], fl[2]) && parse_u64(f[3], fl[3], &size) && fl[4] > 0) {
        memcpy(hash, f[2], 64);
        hash[64] = '\0';
        add_owned(m, CAIRN_DATA_ENT_FILE, cairn_strndup(f[4], fl[4]), NULL, hash, size, mode);
    } else if (k == 3 && fl[0] == 1 && f[0][0] == 'l' && fl[1] > 0 && fl[2] > 0) {
        add_owned(m, CAIRN_DATA_ENT_LINK, cairn_strndup(f[2], fl[2]), cairn_strndup(f[1], fl[1]),
                  NULL, 0, 0);
    } else if (k == 3 && fl[0] == 1 && f[0][0] == 'd' && parse_mode(f[1], fl[1], &mode) &&
               fl[2] > 0) {
        add_owned(m, CAIRN_DATA_ENT_DIR, cairn_strndup(f[2], fl[2]), NULL, NULL, 0, mode);
    } else {
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: malformed manifest entry", name,
                             line);
    }
    if (!rc && m->n > 1 && strcmp(m->entries[m->n - 2].path, m->entries[m->n - 1].path) >= 0)
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                             "%s:%d: manifest entries not sorted or repeated", name, line);
    return rc;
}

int cairn_data_manifest_parse(cairn_data_manifest *out, const char *text, size_t n,
                              const char *name)
{
    cairn_data_manifest m = {0};
    static const char magic[] = "cairn-manifest 1\n";
    if (!name) name = "manifest";
    if (n < sizeof(magic) - 1 || memcmp(text, magic, sizeof(magic) - 1) != 0)
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:1: not a cairn manifest", name);
    size_t i = sizeof(magic) - 1;
    int line = 1, rc = 0;
    while (i < n) {
        const char *s = text + i;
        const char *nl = memchr(s, '\n', n - i);
        line++;
        if (!nl) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: truncated manifest", name,
                                 line);
            break;
        }
        size_t len = (size_t)(nl - s);
        i += len + 1;
        if (memchr(s, '\0', len)) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: NUL byte", name, line);
            break;
        }
        if ((rc = manifest_line(&m, s, len, name, line))) break;
    }
    if (rc) {
        cairn_data_manifest_clear(&m);
        return rc;
    }
    *out = m;
    return 0;
}
