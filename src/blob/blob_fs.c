/*
 * blob_fs.c - the filesystem backend of the content-addressed store.
 *
 * Layout: <root>/ab/cdef... (the first two hex chars of the hash name a
 * directory, the other 62 the file) and <root>/tmp/ for uploads in flight.
 * Key idea: an object appears under its name only complete and durable. An
 * upload goes to tmp/put-<random> (O_EXCL, 0644), is fsynced, then renamed
 * into place and its directory fsynced; a crash at any point leaves at worst
 * an orphan in tmp/, swept at open once it is an hour old. Every path is
 * resolved relative to one directory fd held for the store's life, so the
 * store neither depends on the working directory nor builds long paths. The
 * front (blob.c) has already validated every hash, so names here can't
 * contain '/' or "..". No state is mutated after open: all calls are
 * thread-safe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob_backend.h"

#define TMP_DIR "tmp"
#define TMP_PREFIX "put-"
#define STALE_AFTER_S 3600
#define NAME_LEN (CAIRN_BLOB_HEX_LEN - 2) /* file name under the 2-char directory */

struct fs_backend {
    struct cairn_blob_backend parent;
    int rootfd;
    char *root; /* for messages */
};

struct fs_writer {
    struct cairn_blob_backend_writer parent;
    int fd;
    uint64_t size;
    char tmp[sizeof(TMP_DIR "/" TMP_PREFIX) + 32]; /* relative to rootfd */
};

static const char hexdigits[] = "0123456789abcdef";

/* "ab/cdef..." for hex, relative to the root. */
static void object_path(const char *hex, char rel[CAIRN_BLOB_HEX_LEN + 2])
{
    rel[0] = hex[0];
    rel[1] = hex[1];
    rel[2] = '/';
    memcpy(rel + 3, hex + 2, NAME_LEN + 1);
}

static int io_error(struct fs_backend *fs, const char *what, const char *name)
{
    return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_BLOB, "%s %s/%s: %s", what, fs->root, name,
                           strerror(errno));
}

/* fsyncs directory `name` under the root ("" for the root itself). */
static int fsync_dir(struct fs_backend *fs, const char *name)
{
    int fd = *name ? openat(fs->rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : fs->rootfd;
    if (fd < 0) return io_error(fs, "open", name);
    int rc = 0;
    if (fsync(fd) != 0) rc = io_error(fs, "fsync", name);
    if (fd != fs->rootfd) close(fd);
    return rc;
}

/* ---- upload ---- */

static int fs_writer_open(struct cairn_blob_backend *be, struct cairn_blob_backend_writer **out)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    struct fs_writer *w = cairn_calloc(1, sizeof(*w));
    int err = 0;
    w->parent.backend = be;
    w->fd = -1;
    for (int attempt = 0; attempt < 8 && w->fd < 0; attempt++) {
        unsigned char rnd[16];
        char hex[33];
        cairn_random_bytes(rnd, sizeof(rnd));
        for (int i = 0; i < 16; i++) {
            hex[2 * i] = hexdigits[rnd[i] >> 4];
            hex[2 * i + 1] = hexdigits[rnd[i] & 15];
        }
        hex[32] = '\0';
        snprintf(w->tmp, sizeof(w->tmp), "%s/%s%s", TMP_DIR, TMP_PREFIX, hex);
        w->fd = openat(fs->rootfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        err = errno;
        if (w->fd >= 0 || (err != EEXIST && err != ENOENT)) break;
        /* tmp/ removed behind our back: benign, make it again */
        if (err == ENOENT) mkdirat(fs->rootfd, TMP_DIR, 0755);
    }
    if (w->fd < 0) {
        errno = err;
        int rc = io_error(fs, "create", w->tmp);
        cairn_free(w);
        *out = NULL;
        return rc;
    }
    *out = &w->parent;
    return 0;
}

static int fs_writer_write(struct cairn_blob_backend_writer *bw, const void *data, size_t n)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    const char *p = data;
    while (n > 0) {
        ssize_t r = write(w->fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error((struct fs_backend *)bw->backend, "write", w->tmp);
        p += r;
        n -= (size_t)r;
        w->size += (uint64_t)r;
    }
    return 0;
}

static void fs_writer_abort(struct cairn_blob_backend_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_backend *fs = (struct fs_backend *)bw->backend;
    if (w->fd >= 0) close(w->fd);
    if (unlinkat(fs->rootfd, w->tmp, 0) != 0 && errno != ENOENT)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_BLOB, "could not remove temp file|path=%s/%s",
                  fs->root, w->tmp);
    cairn_free(w);
}

/* Moves the upload to its name, durably: fsync the file, rename, fsync the
 * directory (and the root when the directory is new). If an object of that
 * name and size is already there the temp is dropped unsynced and the
 * existing file (and its mtime) left alone; its directory is still fsynced,
 * since a racing writer may have renamed it in without syncing yet. Two
 * writers racing on new content may both rename; the second atomically
 * replaces identical bytes, which is benign. Frees bw. */
static int fs_writer_commit(struct cairn_blob_backend_writer *bw, const char *hex)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_backend *fs = (struct fs_backend *)bw->backend;
    char rel[CAIRN_BLOB_HEX_LEN + 2], dir[3] = {hex[0], hex[1], '\0'};
    struct stat st;
    int rc = 0, fd = w->fd;

    object_path(hex, rel);
    w->fd = -1;
    if (fstatat(fs->rootfd, rel, &st, 0) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == w->size) {
        close(fd);
        rc = fsync_dir(fs, dir); /* already stored: idempotent no-op */
        goto cleanup;
    }
    if (fsync(fd) != 0) {
        rc = io_error(fs, "fsync", w->tmp);
        close(fd);
        goto cleanup;
    }
    if (close(fd) != 0) {
        rc = io_error(fs, "close", w->tmp);
        goto cleanup;
    }
    if (mkdirat(fs->rootfd, dir, 0755) == 0) {
        if ((rc = fsync_dir(fs, ""))) goto cleanup; /* the new directory's entry */
    } else if (errno != EEXIST) {
        rc = io_error(fs, "mkdir", dir);
        goto cleanup;
    }
    if (renameat(fs->rootfd, w->tmp, fs->rootfd, rel) != 0) {
        rc = io_error(fs, "rename to", rel);
        goto cleanup;
    }
    rc = fsync_dir(fs, dir);
    cairn_free(w);
    return rc;

cleanup:
    unlinkat(fs->rootfd, w->tmp, 0);
    cairn_free(w);
    return rc;
}

/* ---- read, test, remove ---- */

static int fs_open_read(struct cairn_blob_backend *be, const char *hex, int *fd_out,
                        uint64_t *size_out)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    char rel[CAIRN_BLOB_HEX_LEN + 2];
    struct stat st;

    object_path(hex, rel);
    int fd = openat(fs->rootfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_BLOB, "no object %s", hex);
    if (fd < 0) return io_error(fs, "open", rel);
    if (fstat(fd, &st) != 0) {
        int rc = io_error(fs, "stat", rel);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_BLOB, "object %s is not a regular file",
                               hex);
    }
    *fd_out = fd;
    if (size_out) *size_out = (uint64_t)st.st_size;
    return 0;
}

static int fs_exists(struct cairn_blob_backend *be, const char *hex)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    char rel[CAIRN_BLOB_HEX_LEN + 2];
    struct stat st;

    object_path(hex, rel);
    if (fstatat(fs->rootfd, rel, &st, 0) == 0) return S_ISREG(st.st_mode) ? 1 : 0;
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    return io_error(fs, "stat", rel);
}

static int fs_remove(struct cairn_blob_backend *be, const char *hex)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    char rel[CAIRN_BLOB_HEX_LEN + 2], dir[3] = {hex[0], hex[1], '\0'};

    object_path(hex, rel);
    if (unlinkat(fs->rootfd, rel, 0) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_BLOB, "no object %s", hex);
        return io_error(fs, "unlink", rel);
    }
    /* the empty directory stays: removing it would race with a put into it */
    return fsync_dir(fs, dir);
}

/* ---- listing ---- */

static bool name_ok(const char *name, const char *prefix)
{
    size_t i = 0;
    for (; name[i]; i++) {
        char c = name[i];
        if (i >= NAME_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return i == NAME_LEN && strncmp(name, prefix, strlen(prefix)) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Collects the object names in `dir` that start with `prefix` (the part of
 * the caller's prefix after the directory's two chars), sorted. *names_out
 * is an array of *n_out NAME_LEN+1 byte names (cairn_free it). A missing
 * directory is empty. */
static int read_names(struct fs_backend *fs, const char *dir, const char *prefix, char **names_out,
                      size_t *n_out)
{
    char *names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    *names_out = NULL;
    *n_out = 0;
    int dfd = openat(fs->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return (errno == ENOENT || errno == ENOTDIR) ? 0 : io_error(fs, "open", dir);
    DIR *d = fdopendir(dfd);
    if (!d) {
        rc = io_error(fs, "opendir", dir);
        close(dfd);
        return rc;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) rc = io_error(fs, "readdir", dir);
            break;
        }
        if (!name_ok(e->d_name, prefix)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = cairn_realloc(names, cap * (NAME_LEN + 1));
        }
        memcpy(names + n * (NAME_LEN + 1), e->d_name, NAME_LEN + 1);
        n++;
    }
    closedir(d);
    if (rc) {
        cairn_free(names);
        return rc;
    }
    if (n > 1) qsort(names, n, NAME_LEN + 1, cmp_names);
    *names_out = names;
    *n_out = n;
    return 0;
}

/* Visits only the directories whose two chars agree with the prefix, in
 * order, so the whole walk is in hash order. Names are gathered per
 * directory before any callback, so cb may put or delete. */
static int fs_list(struct cairn_blob_backend *be, const char *prefix, cairn_blob_list_cb cb,
                   void *payload)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    size_t plen = strlen(prefix);
    const char *rest = plen > 2 ? prefix + 2 : "";
    int rc = 0;

    for (int i = 0; i < 256 && rc == 0; i++) {
        char dir[3] = {hexdigits[i >> 4], hexdigits[i & 15], '\0'};
        if (strncmp(dir, prefix, plen < 2 ? plen : 2) != 0) continue;
        char *names;
        size_t n;
        if ((rc = read_names(fs, dir, rest, &names, &n))) break;
        for (size_t k = 0; k < n && rc == 0; k++) {
            char hex[CAIRN_BLOB_HEX_LEN + 1], rel[CAIRN_BLOB_HEX_LEN + 2];
            struct stat st;
            hex[0] = dir[0];
            hex[1] = dir[1];
            memcpy(hex + 2, names + k * (NAME_LEN + 1), NAME_LEN + 1);
            object_path(hex, rel);
            if (fstatat(fs->rootfd, rel, &st, 0) != 0) {
                if (errno == ENOENT) continue; /* deleted since the readdir: benign */
                rc = io_error(fs, "stat", rel);
                break;
            }
            if (!S_ISREG(st.st_mode)) continue;
            rc = cb(hex, (uint64_t)st.st_size, payload);
        }
        cairn_free(names);
    }
    return rc;
}

/* ---- open / close ---- */

/* Removes tmp/put-* files untouched for an hour: uploads of a process that
 * died. Best effort; failures are benign and ignored. An upload that is
 * still running keeps its mtime fresh by writing. */
static void sweep_stale(struct fs_backend *fs)
{
    int tfd = openat(fs->rootfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0) return;
    DIR *d = fdopendir(tfd);
    if (!d) {
        close(tfd);
        return;
    }
    time_t cutoff = time(NULL) - STALE_AFTER_S;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) continue;
        if (fstatat(tfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode) || st.st_mtime >= cutoff) continue;
        if (unlinkat(tfd, e->d_name, 0) == 0) removed++;
    }
    closedir(d);
    if (removed)
        cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_BLOB, "removed stale temp files|root=%s count=%d",
                  fs->root, removed);
}

static void fs_free(struct cairn_blob_backend *be)
{
    struct fs_backend *fs = (struct fs_backend *)be;
    if (fs->rootfd >= 0) close(fs->rootfd);
    cairn_free(fs->root);
    cairn_free(fs);
}

int cairn_blob__fs_open(struct cairn_blob_backend **out, const char *root)
{
    int rc;

    *out = NULL;
    if ((rc = cairn_mkdir_p(root, 0755))) return rc;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOTDIR ? CAIRN_EINVALID : CAIRN_EIO, CAIRN_SUBSYS_BLOB,
                               "open store %s: %s", root, strerror(errno));
    if (mkdirat(fd, TMP_DIR, 0755) != 0 && errno != EEXIST) {
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_BLOB, "mkdir %s/%s: %s", root, TMP_DIR,
                             strerror(errno));
        close(fd);
        return rc;
    }

    struct fs_backend *fs = cairn_calloc(1, sizeof(*fs));
    fs->parent.name = "fs";
    fs->parent.free = fs_free;
    fs->parent.writer_open = fs_writer_open;
    fs->parent.writer_write = fs_writer_write;
    fs->parent.writer_commit = fs_writer_commit;
    fs->parent.writer_abort = fs_writer_abort;
    fs->parent.open_read = fs_open_read;
    fs->parent.exists = fs_exists;
    fs->parent.remove = fs_remove;
    fs->parent.list = fs_list;
    fs->rootfd = fd;
    fs->root = cairn_strdup(root);
    sweep_stale(fs);
    *out = &fs->parent;
    return 0;
}
