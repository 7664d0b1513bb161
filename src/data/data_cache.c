/*
 * data_cache.c - the workspace object cache: <cache>/ab/cdef..., one file
 * per object, named by the SHA-256 of its content and kept read-only.
 *
 * Design: unlike cairn_blob (which fsyncs every object and its directory,
 * right for a server's single uploads), `data add` stores tens of thousands
 * of small objects at once, so each object is written to a temp name and
 * renamed without fsync, and the batch ends with one syncfs() over the
 * cache's filesystem. A crash before that sync can leave an object with the
 * wrong content under its name; every read path (checkout, push, fetch)
 * hashes what it reads and reports CAIRN_ECORRUPT, so such an object is
 * detected, never silently used.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_internal.h"

#define CHUNK (1 << 20)

void cairn_data__obj_path(const char *dir, const char *hex, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%.2s/%s", dir, hex, hex + 2);
}

int cairn_data__obj_exists(const char *dir, const char *hex)
{
    char p[4096];
    struct stat st;
    cairn_data__obj_path(dir, hex, p, sizeof(p));
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void cairn_data__hasher_init(data_hasher *hs)
{
    if (cairn_sha256_new(&hs->h) != 0) hs->h = NULL;
    hs->cap = CHUNK;
    hs->buf = cairn_malloc(hs->cap);
}

void cairn_data__hasher_fini(data_hasher *hs)
{
    cairn_sha256_free(hs->h);
    cairn_free(hs->buf);
    memset(hs, 0, sizeof(*hs));
}

static int io_err(const char *what, const char *path)
{
    return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "%s %s: %s", what, path, strerror(errno));
}

/* Opens a unique temp file in the fan-out directory of hex (created when
 * missing); the name goes to tmp. */
static int open_tmp(const char *dir, const char *hex, char *tmp, size_t tl)
{
    static _Atomic unsigned long seq;
    unsigned long s = ++seq;
    snprintf(tmp, tl, "%s/%.2s/.tmp-%ld-%lu", dir, hex, (long)getpid(), s);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0 && errno == ENOENT) {
        char d[4096];
        snprintf(d, sizeof(d), "%s/%.2s", dir, hex);
        if (cairn_mkdir_p(d, 0755) != 0) return -1;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    }
    if (fd < 0) io_err("cannot create", tmp);
    return fd;
}

static int write_all(int fd, const void *data, size_t n, const char *path)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return io_err("cannot write", path);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Renames tmp to the object's name (an existing object wins: same content). */
static int commit_tmp(const char *dir, const char *tmp, const char *hex)
{
    char p[4096];
    cairn_data__obj_path(dir, hex, p, sizeof(p));
    if (rename(tmp, p) != 0) {
        int rc = io_err("cannot rename to", p);
        unlink(tmp);
        return rc;
    }
    return 0;
}

int cairn_data__obj_put_buf(const char *dir, const void *data, size_t n, char hex_out[65])
{
    int rc = cairn_sha256_hex(data, n, hex_out);
    if (rc) return rc;
    if (cairn_data__obj_exists(dir, hex_out)) return 0;
    char tmp[4096];
    int fd = open_tmp(dir, hex_out, tmp, sizeof(tmp));
    if (fd < 0) return CAIRN_EIO;
    rc = write_all(fd, data, n, tmp);
    close(fd);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return commit_tmp(dir, tmp, hex_out);
}

static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Contract in data_internal.h. Small files (one chunk) are read once,
 * hashed and, if new, written; larger ones are hashed, then copied by the
 * kernel into a temp file renamed to the hash. The caller re-stats the file
 * afterwards, so a change during either pass is caught. */
int cairn_data__hash_fd(data_hasher *hs, int fd, const char *cache_dir, char hex_out[65],
                        uint64_t *size_out)
{
    if (!hs->h) return cairn_error_set(CAIRN_ERROR, DATA_SUBSYS, "no sha256 context");
    cairn_sha256_reset(hs->h);
    ssize_t r = read_full(fd, hs->buf, hs->cap);
    if (r < 0) return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "read: %s", strerror(errno));
    uint64_t total = (uint64_t)r;
    if ((size_t)r < hs->cap) { /* whole file in one read */
        cairn_sha256_update(hs->h, hs->buf, (size_t)r);
        cairn_sha256_final_hex(hs->h, hex_out);
        if (size_out) *size_out = total;
        if (!cache_dir || cairn_data__obj_exists(cache_dir, hex_out)) return 0;
        char tmp[4096];
        int tfd = open_tmp(cache_dir, hex_out, tmp, sizeof(tmp));
        if (tfd < 0) return CAIRN_EIO;
        int rc = write_all(tfd, hs->buf, (size_t)r, tmp);
        close(tfd);
        if (rc) {
            unlink(tmp);
            return rc;
        }
        return commit_tmp(cache_dir, tmp, hex_out);
    }
    /* large: hash the whole file first, then (if new) let the kernel copy
     * it (copy_file_range), which beats pushing it through user space
     * while the page cache throttles the writes */
    int rc = 0;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    while (r > 0) {
        cairn_sha256_update(hs->h, hs->buf, (size_t)r);
        r = read_full(fd, hs->buf, hs->cap);
        if (r < 0) return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "read: %s", strerror(errno));
        total += (uint64_t)r;
    }
    cairn_sha256_final_hex(hs->h, hex_out);
    if (size_out) *size_out = total;
    if (!cache_dir || cairn_data__obj_exists(cache_dir, hex_out)) return 0;
    char tmp[4096];
    int tfd = open_tmp(cache_dir, hex_out, tmp, sizeof(tmp));
    if (tfd < 0) return CAIRN_EIO;
    off_t in_off = 0;
    uint64_t left = total;
    while (left > 0) {
        ssize_t c =
            copy_file_range(fd, &in_off, tfd, NULL, left > (1u << 30) ? (1u << 30) : left, 0);
        if (c < 0 && errno == EINTR) continue;
        if (c <= 0) break; /* unsupported here, or the file shrank: finish by hand */
        left -= (uint64_t)c;
    }
    if (left > 0 && lseek(fd, in_off, SEEK_SET) == in_off) {
        while (left > 0 && (r = read_full(fd, hs->buf, left < hs->cap ? left : hs->cap)) > 0) {
            if ((rc = write_all(tfd, hs->buf, (size_t)r, tmp))) break;
            left -= (uint64_t)r;
        }
    }
    if (!rc && left > 0) rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "short copy into %s", tmp);
    close(tfd);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return commit_tmp(cache_dir, tmp, hex_out);
}

int cairn_data__copy_verify(const char *src, const char *dst, const char *expect_hex, unsigned mode)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT)
            return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "object %s is not in the cache",
                                   expect_hex);
        return io_err("cannot open", src);
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : 0644);
    if (out < 0) {
        int rc = io_err("cannot create", dst);
        close(in);
        return rc;
    }
    data_hasher hs;
    cairn_data__hasher_init(&hs);
    int rc = 0;
    ssize_t r;
    cairn_sha256_reset(hs.h);
    while ((r = read_full(in, hs.buf, hs.cap)) > 0) {
        cairn_sha256_update(hs.h, hs.buf, (size_t)r);
        if ((rc = write_all(out, hs.buf, (size_t)r, dst))) break;
    }
    if (r < 0 && !rc) rc = io_err("cannot read", src);
    char got[65];
    if (!rc) {
        cairn_sha256_final_hex(hs.h, got);
        if (strcmp(got, expect_hex) != 0) {
            /* move it aside, so the name is free for a repair by fetch,
             * push or add, and the bytes stay for a post-mortem */
            char aside[4200];
            snprintf(aside, sizeof(aside), "%s.corrupt", src);
            bool moved = rename(src, aside) == 0;
            rc = cairn_error_set(CAIRN_ECORRUPT, DATA_SUBSYS,
                                 "corrupt object %s (content hashes to %.12s...)%s", src, got,
                                 moved ? "; moved aside to .corrupt, fetch or add again to repair"
                                       : "");
        }
    }
    cairn_data__hasher_fini(&hs);
    close(in);
    if (close(out) != 0 && !rc) rc = io_err("cannot write", dst);
    if (rc) unlink(dst);
    return rc;
}

int cairn_data__obj_adopt(const char *dir, const char *tmp, const char *hex)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_err("cannot open", tmp);
    data_hasher hs;
    cairn_data__hasher_init(&hs);
    char got[65];
    int rc = cairn_data__hash_fd(&hs, fd, NULL, got, NULL);
    cairn_data__hasher_fini(&hs);
    close(fd);
    if (!rc && strcmp(got, hex) != 0)
        rc = cairn_error_set(CAIRN_ECORRUPT, DATA_SUBSYS,
                             "object %s received corrupt (content hashes to %.12s...)", hex, got);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    char d[4096];
    snprintf(d, sizeof(d), "%s/%.2s", dir, hex);
    if ((rc = cairn_mkdir_p(d, 0755))) {
        unlink(tmp);
        return rc;
    }
    chmod(tmp, 0444);
    return commit_tmp(dir, tmp, hex);
}

int cairn_data__cache_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_err("cannot open", dir);
    int rc = syncfs(fd) != 0 ? io_err("cannot sync", dir) : 0;
    close(fd);
    return rc;
}

int cairn_data__obj_read(const char *dir, const char *hex, cairn_buf *out)
{
    char p[4096];
    cairn_data__obj_path(dir, hex, p, sizeof(p));
    int rc = cairn_read_file(p, out);
    if (rc == CAIRN_ENOTFOUND || (rc && errno == ENOENT))
        return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS,
                               "object %s is not in the cache (run 'cairn data fetch')", hex);
    if (rc) return rc;
    char got[65];
    cairn_sha256_hex(out->ptr ? out->ptr : "", out->len, got);
    if (strcmp(got, hex) != 0) {
        char aside[4200];
        snprintf(aside, sizeof(aside), "%s.corrupt", p);
        rename(p, aside); /* free the name for a repair, as copy_verify does */
        cairn_buf_free(out);
        return cairn_error_set(CAIRN_ECORRUPT, DATA_SUBSYS,
                               "corrupt object %s (content hashes to %.12s...)", p, got);
    }
    return 0;
}
