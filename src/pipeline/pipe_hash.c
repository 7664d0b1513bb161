/*
 * pipe_hash.c - content hashes of deps and outs, and the cache they live in.
 *
 * A file's hash is the SHA-256 of its bytes, the same name the blob store
 * gives it, so hashing and caching an out are one pass (cairn_blob_put_fd).
 * A directory's hash is the SHA-256 of its manifest: one "hash size path"
 * line per file, sorted by relative path. A small state cache
 * (.cairn/pipeline_state: inode, size, mtime -> hash) lets a no-op run stat
 * files instead of reading them; an entry is trusted only while all three
 * match, as git's index does.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct st_ent {
    char *path;
    uint64_t ino, size;
    int64_t mtime_ns;
    char hex[65];
} st_ent;

struct pipe_state {
    char *file;
    st_ent *e;
    int n, cap;
    bool sorted, dirty;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const st_ent *)a)->path, ((const st_ent *)b)->path);
}

int cairn_pipeline__state_open(pipe_state **out, const char *path)
{
    pipe_state *st = cairn_calloc(1, sizeof(*st));
    st->file = cairn_strdup(path);
    st->sorted = true;
    cairn_buf b = CAIRN_BUF_INIT(256u << 20);
    if (!cairn_read_file(path, &b) && b.ptr) {
        char *line = b.ptr, *nl;
        for (; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) break;
            *nl = '\0';
            char hex[65];
            unsigned long long ino, size;
            long long mt;
            int off = 0;
            if (sscanf(line, "%64s %llu %lld %llu %n", hex, &size, &mt, &ino, &off) != 4 || !off ||
                !cairn_blob_hex_valid(hex))
                continue; /* benign: a damaged line is just re-hashed */
            if (st->n == st->cap) {
                st->cap = st->cap ? st->cap * 2 : 64;
                st->e = cairn_realloc(st->e, sizeof(*st->e) * (size_t)st->cap);
            }
            st_ent *e = &st->e[st->n++];
            e->path = cairn_strdup(line + off);
            e->ino = ino;
            e->size = size;
            e->mtime_ns = mt;
            memcpy(e->hex, hex, 65);
        }
        if (st->n) qsort(st->e, (size_t)st->n, sizeof(*st->e), ent_cmp);
    }
    cairn_buf_free(&b);
    *out = st;
    return 0;
}

static st_ent *state_find(pipe_state *st, const char *path)
{
    if (!st->n) return NULL;
    if (!st->sorted) {
        qsort(st->e, (size_t)st->n, sizeof(*st->e), ent_cmp);
        st->sorted = true;
    }
    st_ent key = {.path = (char *)path};
    return bsearch(&key, st->e, (size_t)st->n, sizeof(*st->e), ent_cmp);
}

static void state_put(pipe_state *st, const char *path, const struct stat *sb, const char *hex)
{
    st_ent *e = state_find(st, path);
    if (!e) {
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 64;
            st->e = cairn_realloc(st->e, sizeof(*st->e) * (size_t)st->cap);
        }
        e = &st->e[st->n++];
        e->path = cairn_strdup(path);
        st->sorted = false;
    }
    e->ino = (uint64_t)sb->st_ino;
    e->size = (uint64_t)sb->st_size;
    e->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    memcpy(e->hex, hex, 65);
    st->dirty = true;
}

void cairn_pipeline__state_close(pipe_state *st)
{
    if (!st) return;
    if (st->dirty) {
        cairn_buf b = CAIRN_BUF_INIT(0);
        for (int i = 0; i < st->n; i++)
            cairn_buf_printf(&b, "%s %llu %lld %llu %s\n", st->e[i].hex,
                             (unsigned long long)st->e[i].size, (long long)st->e[i].mtime_ns,
                             (unsigned long long)st->e[i].ino, st->e[i].path);
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp%d", st->file, (int)getpid());
        FILE *f = fopen(tmp, "w");
        /* benign: a state cache that cannot be written only costs re-hashing */
        if (f) {
            bool ok = fwrite(b.ptr ? b.ptr : "", 1, b.len, f) == b.len;
            ok = !fclose(f) && ok;
            if (!ok || rename(tmp, st->file)) unlink(tmp);
        }
        cairn_buf_free(&b);
    }
    for (int i = 0; i < st->n; i++)
        cairn_free(st->e[i].path);
    cairn_free(st->e);
    cairn_free(st->file);
    cairn_free(st);
}

/* Hashes (and with blob, stores) one regular file. */
static int hash_file(pipe_state *st, const char *path, const struct stat *sb, cairn_blob *blob,
                     char hex[65])
{
    st_ent *e = st ? state_find(st, path) : NULL;
    int64_t mt = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    if (e && e->ino == (uint64_t)sb->st_ino && e->size == (uint64_t)sb->st_size &&
        e->mtime_ns == mt && (!blob || cairn_blob_exists(blob, e->hex) == 1)) {
        memcpy(hex, e->hex, 65);
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PERR(CAIRN_EIO, "cannot read '%s': %s", path, strerror(errno));
    int rc = 0;
    if (blob) {
        rc = cairn_blob_put_fd(blob, fd, hex, NULL);
    } else {
        cairn_sha256 *h = NULL;
        rc = cairn_sha256_new(&h);
        char buf[1 << 16];
        ssize_t r;
        while (!rc && (r = read(fd, buf, sizeof(buf))) != 0) {
            if (r < 0) {
                if (errno == EINTR) continue;
                rc = PERR(CAIRN_EIO, "cannot read '%s': %s", path, strerror(errno));
                break;
            }
            rc = cairn_sha256_update(h, buf, (size_t)r);
        }
        if (!rc) rc = cairn_sha256_final_hex(h, hex);
        cairn_sha256_free(h);
    }
    close(fd);
    if (!rc && st) state_put(st, path, sb, hex);
    return rc;
}

typedef struct flist {
    char **v;
    int n;
} flist;

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the regular files under root/rel (relative paths). */
static int walk(const char *root, const char *rel, flist *fl, int depth)
{
    if (depth > 64) return PERR(CAIRN_EINVALID, "'%s' nests deeper than 64 directories", root);
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return PERR(CAIRN_EIO, "cannot list '%s': %s", path, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char r2[4096], full[8400];
        int w = snprintf(r2, sizeof(r2), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (w < 0 || (size_t)w >= sizeof(r2)) {
            rc = PERR(CAIRN_ETOOBIG, "path too long under '%s'", root);
            break;
        }
        snprintf(full, sizeof(full), "%s/%s", root, r2);
        struct stat sb;
        if (stat(full, &sb)) continue; /* benign: a dangling link holds no content */
        if (S_ISDIR(sb.st_mode))
            rc = walk(root, r2, fl, depth + 1);
        else if (S_ISREG(sb.st_mode))
            cairn_pipeline__strv_push(&fl->v, &fl->n, cairn_strdup(r2));
    }
    closedir(d);
    return rc;
}

int cairn_pipeline__hash_path(pipe_state *st, const char *path, cairn_blob *blob, char hex[65],
                              bool *is_dir_out)
{
    struct stat sb;
    if (stat(path, &sb)) return PERR(CAIRN_ENOTFOUND, "'%s' does not exist", path);
    if (is_dir_out) *is_dir_out = S_ISDIR(sb.st_mode);
    if (!S_ISDIR(sb.st_mode)) return hash_file(st, path, &sb, blob, hex);
    flist fl = {0};
    int rc = walk(path, "", &fl, 0);
    if (fl.n) qsort(fl.v, (size_t)fl.n, sizeof(char *), str_cmp);
    cairn_buf man = CAIRN_BUF_INIT(0);
    for (int i = 0; !rc && i < fl.n; i++) {
        char full[8192], fh[65];
        struct stat fs;
        snprintf(full, sizeof(full), "%s/%s", path, fl.v[i]);
        if (stat(full, &fs)) continue;
        rc = hash_file(st, full, &fs, blob, fh);
        if (!rc)
            rc =
                cairn_buf_printf(&man, "%s %llu %s\n", fh, (unsigned long long)fs.st_size, fl.v[i]);
    }
    if (!rc) {
        const char *m = man.ptr ? man.ptr : "";
        rc = blob ? cairn_blob_put(blob, m, man.len, hex) : cairn_sha256_hex(m, man.len, hex);
    }
    cairn_buf_free(&man);
    for (int i = 0; i < fl.n; i++)
        cairn_free(fl.v[i]);
    cairn_free(fl.v);
    return rc;
}

/* Copies object hex to path through a temp file and a rename. */
static int restore_file(cairn_blob *blob, const char *path, const char *hex)
{
    int in = -1;
    uint64_t size = 0;
    int rc = cairn_blob_open_read(blob, hex, &in, &size);
    if (rc) return rc;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) {
        *sl = '\0';
        rc = cairn_mkdir_p(dir, 0755);
        if (rc) {
            close(in);
            return rc;
        }
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.restore%d", path, (int)getpid());
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return PERR(CAIRN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    char buf[1 << 16];
    ssize_t r;
    while ((r = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)r) != r) {
            r = -1;
            break;
        }
    close(in);
    if (close(out) || r < 0 || rename(tmp, path)) {
        unlink(tmp);
        return PERR(CAIRN_EIO, "cannot restore '%s'", path);
    }
    return 0;
}

int cairn_pipeline__restore(cairn_blob *blob, const char *path, const char *hex, bool is_dir)
{
    if (!is_dir) return restore_file(blob, path, hex);
    cairn_buf man = CAIRN_BUF_INIT(256u << 20);
    int rc = cairn_blob_get(blob, hex, &man);
    if (rc) return rc;
    rc = cairn_mkdir_p(path, 0755);
    for (char *line = man.ptr, *nl; !rc && line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break;
        *nl = '\0';
        char fh[65];
        unsigned long long size;
        int off = 0;
        if (sscanf(line, "%64s %llu %n", fh, &size, &off) != 2 || !off) {
            rc = PERR(CAIRN_ECORRUPT, "bad manifest line in cache object %s", hex);
            break;
        }
        char full[8192];
        snprintf(full, sizeof(full), "%s/%s", path, line + off);
        rc = restore_file(blob, full, fh);
    }
    cairn_buf_free(&man);
    return rc;
}
