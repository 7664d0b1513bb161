/*
 * data_walk.c - listing a data directory and hashing its files in parallel.
 *
 * The walk is one thread of openat/fstatat that never follows a symlink, so
 * a link pointing out of the workspace is recorded, not read. Hashing splits
 * the file list into chunks run on a cairn_pool; each worker owns its hasher
 * and buffer and consults the state cache read-only, and the state is
 * updated afterwards on the calling thread. A file whose size or mtime
 * differs after hashing from before was written meanwhile: it is hashed
 * again, a few times, then reported as CAIRN_ECONFLICT.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data_internal.h"

#define HASH_RETRIES 3

static void list_push(data_filelist *l, const char *path, const struct stat *st, char type,
                      const char *target)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = cairn_realloc(l->v, l->cap * sizeof(*l->v));
    }
    data_file *f = &l->v[l->n++];
    f->path = cairn_strdup(path);
    f->target = target ? cairn_strdup(target) : NULL;
    f->st = *st;
    f->type = type;
}

void cairn_data__filelist_free(data_filelist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        cairn_free(l->v[i].path);
        cairn_free(l->v[i].target);
    }
    cairn_free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Walks the open directory dfd whose relative path is rel ("" at the top). */
static int walk_dir(int dfd, const char *rel, data_filelist *out)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot read directory '%s': %s", rel,
                               strerror(errno));
    }
    int rc = 0;
    struct dirent *de;
    char path[4096];
    while (!rc && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2]))) continue;
        if (strpbrk(nm, "\t\n")) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                 "unsupported name (tab or newline) in '%s'", rel);
            break;
        }
        snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", nm);
        struct stat st;
        if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot stat '%s': %s", path,
                                 strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            list_push(out, path, &st, 'f', NULL);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t tl = readlinkat(dirfd(d), nm, target, sizeof(target) - 1);
            if (tl < 0)
                rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot read link '%s'", path);
            else {
                target[tl] = '\0';
                if (strpbrk(target, "\t\n") || tl == 0)
                    rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                         "unsupported symlink target in '%s'", path);
                else
                    list_push(out, path, &st, 'l', target);
            }
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot open '%s': %s", path,
                                     strerror(errno));
            else {
                size_t n0 = out->n;
                rc = walk_dir(sub, path, out);
                if (!rc && out->n == n0) list_push(out, path, &st, 'd', NULL);
            }
        } else {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                 "'%s' is not a regular file, directory or symlink", path);
        }
    }
    closedir(d);
    return rc;
}

struct walk_task {
    char *abs; /* the subdirectory to walk */
    char *rel; /* its path relative to the top */
    struct stat st;
    data_filelist out;
    int rc;
    char msg[256];
};

static void walk_task_run(void *payload)
{
    struct walk_task *t = payload;
    int fd = open(t->abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        t->rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot open '%s': %s", t->rel,
                                strerror(errno));
    else
        t->rc = walk_dir(fd, t->rel, &t->out);
    if (t->rc) snprintf(t->msg, sizeof(t->msg), "%s", cairn_error_last()->msg);
}

/* Contract in data_internal.h. The top level is read here; its
 * subdirectories are walked in parallel (a stat per file is most of the
 * cost of an unchanged `status`), and the lists joined in readdir order. */
int cairn_data__walk(const char *dir, data_filelist *out)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, DATA_SUBSYS,
                               "cannot open directory '%s': %s", dir, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot read '%s'", dir);
    }
    struct walk_task *tasks = NULL;
    size_t nt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2]))) continue;
        struct stat st;
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue;
        if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (strpbrk(nm, "\t\n")) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                 "unsupported name (tab or newline) in '%s'", dir);
            break;
        }
        if (nt == cap) {
            cap = cap ? cap * 2 : 16;
            tasks = cairn_realloc(tasks, cap * sizeof(*tasks));
        }
        struct walk_task *t = &tasks[nt++];
        memset(t, 0, sizeof(*t));
        size_t al = strlen(dir) + strlen(nm) + 2;
        t->abs = cairn_malloc(al);
        snprintf(t->abs, al, "%s/%s", dir, nm);
        t->rel = cairn_strdup(nm);
        t->st = st;
    }
    closedir(d);
    /* the top level's own files (walk_dir skips nothing, so list them with a
     * non-recursive pass: subdirectories are the tasks' job) */
    if (!rc) {
        int fd2 = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d2 = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!d2) {
            if (fd2 >= 0) close(fd2);
            rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot read '%s'", dir);
        }
        char target[4096];
        while (!rc && d2 && (de = readdir(d2)) != NULL) {
            const char *nm = de->d_name;
            if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2]))) continue;
            struct stat st;
            if (fstatat(dirfd(d2), nm, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot stat '%s': %s", nm,
                                     strerror(errno));
                break;
            }
            if (S_ISDIR(st.st_mode)) continue;
            if (strpbrk(nm, "\t\n")) {
                rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                     "unsupported name (tab or newline) in '%s'", dir);
            } else if (S_ISREG(st.st_mode)) {
                list_push(out, nm, &st, 'f', NULL);
            } else if (S_ISLNK(st.st_mode)) {
                ssize_t tl = readlinkat(dirfd(d2), nm, target, sizeof(target) - 1);
                if (tl <= 0) {
                    rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot read link '%s'", nm);
                } else {
                    target[tl] = '\0';
                    if (strpbrk(target, "\t\n"))
                        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                             "unsupported symlink target in '%s'", nm);
                    else
                        list_push(out, nm, &st, 'l', target);
                }
            } else {
                rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                                     "'%s' is not a regular file, directory or symlink", nm);
            }
        }
        if (d2) closedir(d2);
    }
    if (!rc && nt) {
        cairn_pool *pool = NULL;
        if (nt > 1 && cairn_pool_new(&pool, 0) == 0) {
            for (size_t i = 0; i < nt; i++)
                if (cairn_pool_submit(pool, walk_task_run, &tasks[i]) != 0)
                    walk_task_run(&tasks[i]);
            cairn_pool_free(pool);
        } else {
            for (size_t i = 0; i < nt; i++)
                walk_task_run(&tasks[i]);
        }
    }
    for (size_t i = 0; i < nt; i++) {
        struct walk_task *t = &tasks[i];
        if (!rc && t->rc) rc = cairn_error_set(t->rc, DATA_SUBSYS, "%s", t->msg);
        if (!rc) {
            if (t->out.n == 0) list_push(out, t->rel, &t->st, 'd', NULL);
            for (size_t k = 0; k < t->out.n; k++) { /* move entries */
                if (out->n == out->cap) {
                    out->cap = out->cap ? out->cap * 2 : 256;
                    out->v = cairn_realloc(out->v, out->cap * sizeof(*out->v));
                }
                out->v[out->n++] = t->out.v[k];
            }
            t->out.n = 0;
        }
        cairn_data__filelist_free(&t->out);
        cairn_free(t->abs);
        cairn_free(t->rel);
    }
    cairn_free(tasks);
    return rc;
}

/* ---- parallel hashing ---- */

struct hash_job {
    const char *base;
    const char *prefix;
    data_filelist *l;
    const cairn_data_state *st;
    const char *cache_dir;
    char (*hashes)[65];
    unsigned char *fresh; /* 1 where the file was hashed (not from the state) */
    int64_t start_ns;
};

struct hash_task {
    struct hash_job *job;
    size_t from, to;
    int rc;
    char msg[256];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static void state_key(const struct hash_job *j, const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", j->prefix, (*j->prefix && *path) ? "/" : "", path);
}

/* Hashes one file, retrying while it changes under us. */
static int hash_one(struct hash_job *j, data_hasher *hs, data_file *f, char hex[65])
{
    char full[4096];
    snprintf(full, sizeof(full), "%s%s%s", j->base, *f->path ? "/" : "", f->path);
    for (int attempt = 0; attempt < HASH_RETRIES; attempt++) {
        int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot open '%s': %s", full,
                                   strerror(errno));
        struct stat a, b;
        fstat(fd, &a);
        int rc = cairn_data__hash_fd(hs, fd, j->cache_dir, hex, NULL);
        fstat(fd, &b);
        close(fd);
        if (rc) return rc;
        if (a.st_size == b.st_size && mtime_ns(&a) == mtime_ns(&b)) {
            f->st = b;
            return 0;
        }
    }
    return cairn_error_set(CAIRN_ECONFLICT, DATA_SUBSYS,
                           "'%s' kept changing while being hashed; retry when it is stable", full);
}

static void hash_task_run(void *payload)
{
    struct hash_task *t = payload;
    struct hash_job *j = t->job;
    data_hasher hs;
    cairn_data__hasher_init(&hs);
    char key[4096];
    for (size_t i = t->from; i < t->to && !t->rc; i++) {
        data_file *f = &j->l->v[i];
        if (f->type != 'f') continue;
        state_key(j, f->path, key, sizeof(key));
        if (j->st &&
            cairn_data_state_lookup(j->st, key, f->st.st_ino, (uint64_t)f->st.st_size,
                                    mtime_ns(&f->st), j->hashes[i]) &&
            (!j->cache_dir || cairn_data__obj_exists(j->cache_dir, j->hashes[i])))
            continue;
        t->rc = hash_one(j, &hs, f, j->hashes[i]);
        if (t->rc)
            snprintf(t->msg, sizeof(t->msg), "%s", cairn_error_last()->msg);
        else
            j->fresh[i] = 1;
    }
    cairn_data__hasher_fini(&hs);
}

int cairn_data__hash_files(const char *base, const char *state_prefix, data_filelist *l,
                           cairn_data_state *st, const char *cache_dir, int jobs,
                           char (*hashes)[65], cairn_data_stats *stats)
{
    if (jobs <= 0) jobs = cairn_ncpu();
    struct hash_job j = {base, state_prefix, l, st, cache_dir, hashes, NULL, now_ns()};
    j.fresh = cairn_calloc(l->n + 1, 1);
    for (size_t i = 0; i < l->n; i++)
        hashes[i][0] = '\0';
    size_t chunk = l->n / ((size_t)jobs * 16) + 1;
    if (chunk < 32) chunk = 32;
    if (chunk > 2048) chunk = 2048;
    size_t ntasks = (l->n + chunk - 1) / chunk;
    struct hash_task *tasks = cairn_calloc(ntasks + 1, sizeof(*tasks));
    int rc = 0;
    if (ntasks == 1 || jobs == 1) {
        for (size_t t = 0; t < ntasks; t++) {
            tasks[t] = (struct hash_task){&j, t * chunk,
                                          (t + 1) * chunk > l->n ? l->n : (t + 1) * chunk, 0, ""};
            hash_task_run(&tasks[t]);
        }
    } else {
        cairn_pool *pool = NULL;
        if ((rc = cairn_pool_new(&pool, jobs))) goto cleanup;
        for (size_t t = 0; t < ntasks; t++) {
            tasks[t] = (struct hash_task){&j, t * chunk,
                                          (t + 1) * chunk > l->n ? l->n : (t + 1) * chunk, 0, ""};
            if (cairn_pool_submit(pool, hash_task_run, &tasks[t]) != 0) hash_task_run(&tasks[t]);
        }
        cairn_pool_free(pool);
    }
    for (size_t t = 0; t < ntasks; t++)
        if (tasks[t].rc) {
            rc = cairn_error_set(tasks[t].rc, DATA_SUBSYS, "%s", tasks[t].msg);
            goto cleanup;
        }
    char key[4096];
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].type != 'f') continue;
        if (stats) {
            stats->files++;
            stats->bytes += (uint64_t)l->v[i].st.st_size;
            if (j.fresh[i])
                stats->hashed++;
            else
                stats->cached++;
        }
        if (st && j.fresh[i]) {
            state_key(&j, l->v[i].path, key, sizeof(key));
            cairn_data_state_set(st, key, l->v[i].st.st_ino, (uint64_t)l->v[i].st.st_size,
                                 mtime_ns(&l->v[i].st), hashes[i], j.start_ns);
        }
    }
cleanup:
    cairn_free(tasks);
    cairn_free(j.fresh);
    return rc;
}
