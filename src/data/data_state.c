/*
 * data_state.c - the state cache: (path, inode, size, mtime_ns) -> SHA-256,
 * so `data add` and `data status` re-hash only files whose metadata changed.
 *
 * Design: one compact binary file, .cairn/state, read whole at open and
 * indexed by an open-addressing hash table over paths that point into the
 * loaded buffer (no allocation per entry). Saved by rewriting to a temp
 * file and renaming, only when something changed. An entry whose mtime lies
 * within RACY_NS of the moment it was hashed is not trusted, since a write
 * in the same timestamp tick would leave the metadata unchanged (git's
 * "racily clean" problem).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data_internal.h"

#define STATE_MAGIC "CAIRNST1"
#define RACY_NS 1000000000LL
#define STATE_MAX ((size_t)1 << 31)

struct st_entry {
    const char *path; /* into st->raw, or owned when `owned` */
    uint64_t ino, size;
    int64_t mtime_ns, hashed_ns;
    unsigned char hash[32];
    uint32_t plen;
    bool owned;
};

struct cairn_data_state {
    char *path;
    cairn_buf raw;
    struct st_entry *e;
    size_t n, cap;
    uint32_t *slot; /* index+1 into e; 0 empty */
    size_t nslot;
    bool dirty;
};

static uint64_t hash_path(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void rehash(cairn_data_state *st)
{
    size_t ns = 1024;
    while (ns < st->n * 2 + 2)
        ns *= 2;
    cairn_free(st->slot);
    st->slot = cairn_calloc(ns, sizeof(*st->slot));
    st->nslot = ns;
    for (size_t i = 0; i < st->n; i++) {
        size_t j = hash_path(st->e[i].path, st->e[i].plen) & (ns - 1);
        while (st->slot[j])
            j = (j + 1) & (ns - 1);
        st->slot[j] = (uint32_t)(i + 1);
    }
}

static struct st_entry *find(const cairn_data_state *st, const char *path, size_t plen)
{
    if (!st->nslot) return NULL;
    size_t j = hash_path(path, plen) & (st->nslot - 1);
    while (st->slot[j]) {
        struct st_entry *e = &st->e[st->slot[j] - 1];
        if (e->plen == plen && memcmp(e->path, path, plen) == 0) return e;
        j = (j + 1) & (st->nslot - 1);
    }
    return NULL;
}

static struct st_entry *append(cairn_data_state *st)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 1024;
        st->e = cairn_realloc(st->e, st->cap * sizeof(*st->e));
    }
    struct st_entry *e = &st->e[st->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

#define REC_FIXED (8 + 8 + 8 + 8 + 32 + 4)

/* Parses the loaded file; on any inconsistency the cache is simply empty. */
static void parse_raw(cairn_data_state *st)
{
    const unsigned char *p = (const unsigned char *)st->raw.ptr;
    size_t n = st->raw.len, off = 12;
    if (n < 12 || memcmp(p, STATE_MAGIC, 8) != 0) return;
    uint32_t count;
    memcpy(&count, p + 8, 4);
    for (uint32_t i = 0; i < count; i++) {
        if (n - off < REC_FIXED) break;
        struct st_entry *e = append(st);
        memcpy(&e->ino, p + off, 8);
        memcpy(&e->size, p + off + 8, 8);
        memcpy(&e->mtime_ns, p + off + 16, 8);
        memcpy(&e->hashed_ns, p + off + 24, 8);
        memcpy(e->hash, p + off + 32, 32);
        memcpy(&e->plen, p + off + 64, 4);
        off += REC_FIXED;
        if (n - off < e->plen) {
            st->n--;
            break;
        }
        e->path = (const char *)p + off;
        off += e->plen;
    }
}

int cairn_data_state_open(cairn_data_state **out, const char *cairn_dir)
{
    cairn_data_state *st = cairn_calloc(1, sizeof(*st));
    size_t pl = strlen(cairn_dir) + 8;
    st->path = cairn_malloc(pl);
    snprintf(st->path, pl, "%s/state", cairn_dir);
    st->raw.max = STATE_MAX;
    if (cairn_read_file(st->path, &st->raw) == 0)
        parse_raw(st);
    else
        cairn_error_clear();
    rehash(st);
    *out = st;
    return 0;
}

static const char hexd[] = "0123456789abcdef";

bool cairn_data_state_lookup(const cairn_data_state *st, const char *path, uint64_t ino,
                             uint64_t size, int64_t mtime_ns, char hash_out[65])
{
    const struct st_entry *e = find(st, path, strlen(path));
    if (!e || e->ino != ino || e->size != size || e->mtime_ns != mtime_ns) return false;
    if (mtime_ns + RACY_NS > e->hashed_ns) return false; /* racily clean: re-hash */
    for (int i = 0; i < 32; i++) {
        hash_out[2 * i] = hexd[e->hash[i] >> 4];
        hash_out[2 * i + 1] = hexd[e->hash[i] & 15];
    }
    hash_out[64] = '\0';
    return true;
}

static int unhex(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

void cairn_data_state_set(cairn_data_state *st, const char *path, uint64_t ino, uint64_t size,
                          int64_t mtime_ns, const char *hash, int64_t hashed_ns)
{
    size_t plen = strlen(path);
    struct st_entry *e = find(st, path, plen);
    if (!e) {
        e = append(st);
        e->path = cairn_strndup(path, plen);
        e->owned = true;
        e->plen = (uint32_t)plen;
        if (st->n * 2 + 2 > st->nslot)
            rehash(st);
        else {
            size_t j = hash_path(path, plen) & (st->nslot - 1);
            while (st->slot[j])
                j = (j + 1) & (st->nslot - 1);
            st->slot[j] = (uint32_t)st->n;
        }
    }
    unsigned char h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(unhex(hash[2 * i]) << 4 | unhex(hash[2 * i + 1]));
    if (e->ino == ino && e->size == size && e->mtime_ns == mtime_ns && e->hashed_ns == hashed_ns &&
        memcmp(e->hash, h, 32) == 0)
        return;
    e->ino = ino;
    e->size = size;
    e->mtime_ns = mtime_ns;
    e->hashed_ns = hashed_ns;
    memcpy(e->hash, h, 32);
    st->dirty = true;
}

size_t cairn_data_state_count(const cairn_data_state *st)
{
    return st->n;
}

int cairn_data_state_save(cairn_data_state *st)
{
    if (!st->dirty) return 0;
    cairn_buf b = CAIRN_BUF_INIT(0);
    uint32_t count = (uint32_t)st->n;
    cairn_buf_put(&b, STATE_MAGIC, 8);
    cairn_buf_put(&b, &count, 4);
    for (size_t i = 0; i < st->n; i++) {
        const struct st_entry *e = &st->e[i];
        unsigned char rec[REC_FIXED];
        memcpy(rec, &e->ino, 8);
        memcpy(rec + 8, &e->size, 8);
        memcpy(rec + 16, &e->mtime_ns, 8);
        memcpy(rec + 24, &e->hashed_ns, 8);
        memcpy(rec + 32, e->hash, 32);
        memcpy(rec + 64, &e->plen, 4);
        cairn_buf_put(&b, rec, REC_FIXED);
        cairn_buf_put(&b, e->path, e->plen);
    }
    size_t pl = strlen(st->path) + 32;
    char *tmp = cairn_malloc(pl);
    snprintf(tmp, pl, "%s.tmp%ld", st->path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        size_t off = 0;
        while (off < b.len && !rc) {
            ssize_t w = write(fd, b.ptr + off, b.len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0)
                rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", tmp,
                                     strerror(errno));
            else
                off += (size_t)w;
        }
        close(fd);
        if (!rc && rename(tmp, st->path) != 0)
            rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot rename %s: %s", tmp,
                                 strerror(errno));
        if (rc)
            unlink(tmp);
        else
            st->dirty = false;
    }
    cairn_free(tmp);
    cairn_buf_free(&b);
    return rc;
}

void cairn_data_state_free(cairn_data_state *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++)
        if (st->e[i].owned) cairn_free((char *)st->e[i].path);
    cairn_free(st->e);
    cairn_free(st->slot);
    cairn_buf_free(&st->raw);
    cairn_free(st->path);
    cairn_free(st);
}
