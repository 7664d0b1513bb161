/*
 * data_remote.c - remotes: the cairn_remote interface, the local-directory
 * backend, the remotes named in .cairn/config, and push / fetch.
 *
 * Design: a remote is four operations (has/put/get/list) behind a vtable,
 * so an S3 backend plugs in beside the local one. push and fetch list the
 * remote once, compute what is missing on the other side, and transfer only
 * that on a thread pool. Every object is written under a temp name and
 * renamed, so an interrupted push leaves only complete objects and simply
 * resumes; every transfer re-hashes the content, so a corrupt object in the
 * cache or at the remote is reported, never propagated.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "data_internal.h"

#define TRANSFER_JOBS 8

struct cairn_remote {
    const cairn_remote_ops *ops;
    void *impl;
    char *url;
};

int cairn_remote_new(cairn_remote **out, const cairn_remote_ops *ops, void *impl, const char *url)
{
    cairn_remote *r = cairn_calloc(1, sizeof(*r));
    r->ops = ops;
    r->impl = impl;
    r->url = cairn_strdup(url ? url : "");
    *out = r;
    return 0;
}

int cairn_remote_has(cairn_remote *r, const char *hex)
{
    return r->ops->has(r->impl, hex);
}

int cairn_remote_put(cairn_remote *r, const char *hex, const char *src_path)
{
    return r->ops->put(r->impl, hex, src_path);
}

int cairn_remote_get(cairn_remote *r, const char *hex, const char *dst_path)
{
    return r->ops->get(r->impl, hex, dst_path);
}

int cairn_remote_list(cairn_remote *r, cairn_remote_list_cb cb, void *payload)
{
    return r->ops->list(r->impl, cb, payload);
}

const char *cairn_remote_url(const cairn_remote *r)
{
    return r->url;
}

void cairn_remote_close(cairn_remote *r)
{
    if (!r) return;
    if (r->ops && r->ops->close) r->ops->close(r->impl);
    cairn_free(r->url);
    cairn_free(r);
}

/* ---- the local-directory backend ---- */

struct dir_remote {
    char *dir;
};

static int dir_has(void *impl, const char *hex)
{
    struct dir_remote *d = impl;
    return cairn_data__obj_exists(d->dir, hex);
}

static int dir_put(void *impl, const char *hex, const char *src)
{
    struct dir_remote *d = impl;
    char fan[4096], tmp[4200], dst[4096];
    static _Atomic unsigned long seq;
    snprintf(fan, sizeof(fan), "%s/%.2s", d->dir, hex);
    int rc = cairn_mkdir_p(fan, 0755);
    if (rc) return rc;
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%lu", fan, (long)getpid(), ++seq);
    if ((rc = cairn_data__copy_verify(src, tmp, hex, 0444))) return rc;
    cairn_data__obj_path(d->dir, hex, dst, sizeof(dst));
    if (rename(tmp, dst) != 0) {
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "remote %s: cannot rename to %s: %s", d->dir,
                             dst, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static int dir_get(void *impl, const char *hex, const char *dst)
{
    struct dir_remote *d = impl;
    char src[4096];
    cairn_data__obj_path(d->dir, hex, src, sizeof(src));
    int rc = cairn_data__copy_verify(src, dst, hex, 0444);
    if (rc == CAIRN_ENOTFOUND)
        return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "object %s is not at remote %s", hex,
                               d->dir);
    return rc;
}

static int dir_list(void *impl, cairn_remote_list_cb cb, void *payload)
{
    struct dir_remote *d = impl;
    DIR *top = opendir(d->dir);
    if (!top)
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "remote %s unreachable: %s", d->dir,
                               strerror(errno));
    int rc = 0;
    struct dirent *de;
    char path[4096], hex[65];
    while (!rc && (de = readdir(top)) != NULL) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", d->dir, de->d_name);
        DIR *sub = opendir(path);
        if (!sub) continue;
        struct dirent *oe;
        while (!rc && (oe = readdir(sub)) != NULL) {
            if (strlen(oe->d_name) != 62) continue;
            memcpy(hex, de->d_name, 2);
            memcpy(hex + 2, oe->d_name, 63); /* 62 chars + NUL, lengths checked above */
            if (cairn_blob_hex_valid(hex)) rc = cb(hex, payload);
        }
        closedir(sub);
    }
    closedir(top);
    return rc;
}

static void dir_close(void *impl)
{
    struct dir_remote *d = impl;
    if (!d) return;
    cairn_free(d->dir);
    cairn_free(d);
}

static const cairn_remote_ops dir_ops = {dir_has, dir_put, dir_get, dir_list, dir_close};

int cairn_remote_open_dir(cairn_remote **out, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* create the remote itself, never its parents: a missing parent is
         * more likely an unmounted disk than a wish for a new tree */
        if (errno != ENOENT || mkdir(dir, 0755) != 0)
            return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "remote %s unreachable: %s", dir,
                                   strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "remote %s unreachable: not a directory",
                               dir);
    }
    struct dir_remote *d = cairn_calloc(1, sizeof(*d));
    d->dir = cairn_strdup(dir);
    return cairn_remote_new(out, &dir_ops, d, dir);
}

int cairn_remote_open(cairn_remote **out, const char *url)
{
    if (cairn_str_startswith(url, "file://")) return cairn_remote_open_dir(out, url + 7);
    if (cairn_str_startswith(url, "s3://")) return cairn_data__remote_open_s3(out, url);
    if (strstr(url, "://"))
        return cairn_error_set(CAIRN_EUNSUPPORTED, DATA_SUBSYS, "unsupported remote url '%s'", url);
    return cairn_remote_open_dir(out, url);
}

/* ---- .cairn/config ---- */

typedef struct remote_cfg {
    char *def;
    char **names, **urls;
    size_t n;
} remote_cfg;

static void cfg_free(remote_cfg *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cairn_free(c->names[i]);
        cairn_free(c->urls[i]);
    }
    cairn_free(c->names);
    cairn_free(c->urls);
    cairn_free(c->def);
    memset(c, 0, sizeof(*c));
}

static char *trimdup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) s++, n -= 2;
    return cairn_strndup(s, n);
}

/* Reads .cairn/config (a missing file is an empty config). Errors carry
 * file:line. */
static int cfg_load(cairn_data_repo *repo, remote_cfg *c, char **path_out)
{
    size_t pl = strlen(repo->cairn_dir) + 8;
    char *path = cairn_malloc(pl);
    snprintf(path, pl, "%s/config", repo->cairn_dir);
    *path_out = path;
    cairn_buf b = CAIRN_BUF_INIT(1 << 20);
    int rc = cairn_read_file(path, &b);
    if (rc == CAIRN_ENOTFOUND) {
        cairn_error_clear();
        return 0;
    }
    if (rc) return rc;
    bool in_remotes = false;
    int line = 0;
    for (char *s = b.ptr; s && *s && !rc;) {
        char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        line++;
        char *colon = memchr(s, ':', len);
        bool indented = len && (s[0] == ' ' || s[0] == '\t');
        size_t k = 0;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k == len || s[k] == '#') {
        } else if (!colon) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: expected 'key: value'", path,
                                 line);
        } else if (!indented) {
            char *key = trimdup(s, (size_t)(colon - s));
            char *val = trimdup(colon + 1, len - (size_t)(colon - s) - 1);
            in_remotes = strcmp(key, "remotes") == 0 && !*val;
            if (strcmp(key, "default") == 0) {
                cairn_free(c->def);
                c->def = val;
                val = NULL;
            } else if (!in_remotes) {
                rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: unknown key '%s'", path,
                                     line, key);
            }
            cairn_free(key);
            cairn_free(val);
        } else if (!in_remotes) {
            rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "%s:%d: unexpected indentation", path,
                                 line);
        } else {
            c->names = cairn_realloc(c->names, (c->n + 1) * sizeof(char *));
            c->urls = cairn_realloc(c->urls, (c->n + 1) * sizeof(char *));
            c->names[c->n] = trimdup(s, (size_t)(colon - s));
            c->urls[c->n] = trimdup(colon + 1, len - (size_t)(colon - s) - 1);
            c->n++;
        }
        s = nl ? nl + 1 : NULL;
    }
    cairn_buf_free(&b);
    return rc;
}

int cairn_data_remote_add(cairn_data_repo *repo, const char *name, const char *url,
                          bool make_default)
{
    if (!*name || strpbrk(name, ": \t\n#") || !*url || strpbrk(url, "\n"))
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "invalid remote name or url");
    remote_cfg c = {0};
    char *path = NULL;
    int rc = cairn_mkdir_p(repo->cairn_dir, 0755);
    if (!rc) rc = cfg_load(repo, &c, &path);
    if (rc) goto cleanup;
    size_t i = 0;
    while (i < c.n && strcmp(c.names[i], name) != 0)
        i++;
    if (i == c.n) {
        c.names = cairn_realloc(c.names, (c.n + 1) * sizeof(char *));
        c.urls = cairn_realloc(c.urls, (c.n + 1) * sizeof(char *));
        c.names[c.n] = cairn_strdup(name);
        c.urls[c.n] = NULL;
        c.n++;
    }
    cairn_free(c.urls[i]);
    c.urls[i] = cairn_strdup(url);
    if (make_default || !c.def) {
        cairn_free(c.def);
        c.def = cairn_strdup(name);
    }
    cairn_buf out = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&out, "# cairn data remotes\ndefault: %s\nremotes:\n", c.def);
    for (size_t k = 0; k < c.n; k++)
        cairn_buf_printf(&out, "  %s: %s\n", c.names[k], c.urls[k]);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fwrite(out.ptr, 1, out.len, f) != out.len || fclose(f) != 0 || rename(tmp, path) != 0)
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", path, strerror(errno));
    cairn_buf_free(&out);
cleanup:
    cfg_free(&c);
    cairn_free(path);
    return rc;
}

int cairn_data_remote_foreach(cairn_data_repo *repo, cairn_data_report_cb cb, void *payload)
{
    remote_cfg c = {0};
    char *path = NULL;
    int rc = cfg_load(repo, &c, &path);
    for (size_t i = 0; i < c.n && !rc; i++)
        cb(c.names[i], c.urls[i], payload);
    cfg_free(&c);
    cairn_free(path);
    return rc;
}

int cairn_data_remote_open_named(cairn_data_repo *repo, const char *name, cairn_remote **out)
{
    remote_cfg c = {0};
    char *path = NULL;
    int rc = cfg_load(repo, &c, &path);
    if (rc) goto cleanup;
    const char *want = name ? name : c.def ? c.def : c.n == 1 ? c.names[0] : NULL;
    if (!want) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS,
                             "no remote configured (cairn data remote add NAME URL)");
        goto cleanup;
    }
    size_t i = 0;
    while (i < c.n && strcmp(c.names[i], want) != 0)
        i++;
    if (i == c.n) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "no remote named '%s'", want);
        goto cleanup;
    }
    rc = cairn_remote_open(out, c.urls[i]);
cleanup:
    cfg_free(&c);
    cairn_free(path);
    return rc;
}

/* ---- push / fetch ---- */

struct xfer {
    cairn_remote *remote;
    const char *cache;
    const char *hex;
    bool push;
    int rc;
    char msg[256];
};

static void xfer_run(void *payload)
{
    struct xfer *x = payload;
    char obj[4096];
    if (x->push) {
        cairn_data__obj_path(x->cache, x->hex, obj, sizeof(obj));
        x->rc = cairn_remote_put(x->remote, x->hex, obj);
    } else {
        static _Atomic unsigned long seq;
        snprintf(obj, sizeof(obj), "%s/.fetch-%ld-%lu", x->cache, (long)getpid(), ++seq);
        x->rc = cairn_remote_get(x->remote, x->hex, obj);
        if (x->rc)
            unlink(obj);
        else
            x->rc = cairn_data__obj_adopt(x->cache, obj, x->hex);
    }
    if (x->rc) snprintf(x->msg, sizeof(x->msg), "%s", cairn_error_last()->msg);
}

/* Transfers each object in `todo` on a pool; the first error is returned
 * (the others were still attempted, so a rerun has less to do). */
static int transfer(cairn_remote *remote, const char *cache, const data_objset *todo, bool push,
                    int jobs, cairn_data_stats *stats)
{
    if (todo->n == 0) return 0;
    struct xfer *x = cairn_calloc(todo->n, sizeof(*x));
    cairn_pool *pool = NULL;
    int rc = cairn_pool_new(&pool, jobs > 0 ? jobs : TRANSFER_JOBS);
    if (rc) {
        cairn_free(x);
        return rc;
    }
    for (size_t i = 0; i < todo->n; i++) {
        x[i] = (struct xfer){remote, cache, todo->v[i], push, 0, ""};
        if (cairn_pool_submit(pool, xfer_run, &x[i]) != 0) xfer_run(&x[i]);
    }
    cairn_pool_free(pool);
    size_t failed = 0;
    for (size_t i = 0; i < todo->n; i++) {
        if (x[i].rc) {
            if (!rc) rc = cairn_error_set(x[i].rc, DATA_SUBSYS, "%s", x[i].msg);
            failed++;
        } else if (stats) {
            stats->transferred++;
        }
    }
    if (failed > 1) cairn_log(CAIRN_LOG_WARN, DATA_SUBSYS, "%zu transfers failed", failed);
    cairn_free(x);
    return rc;
}

static int list_cb(const char *hex, void *payload)
{
    cairn_data__objset_add(payload, hex);
    return 0;
}

int cairn_data_push(cairn_data_repo *repo, cairn_remote *remote, const char *const *pointers, int n,
                    const cairn_data_opts *opts, cairn_data_stats *stats)
{
    data_objset want = {0}, there = {0}, todo = {0};
    int rc = cairn_data__objects(repo, pointers, n, &want, NULL);
    if (!rc) rc = cairn_remote_list(remote, list_cb, &there);
    if (rc) goto cleanup;
    cairn_data__objset_seal(&there);
    for (size_t i = 0; i < want.n; i++) {
        if (cairn_data__objset_has(&there, want.v[i])) continue;
        if (!cairn_data__obj_exists(repo->cache, want.v[i])) {
            rc = cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS,
                                 "object %s is in neither the cache nor the remote", want.v[i]);
            goto cleanup;
        }
        cairn_data__objset_add(&todo, want.v[i]);
    }
    if (stats) stats->files += want.n;
    rc = transfer(remote, repo->cache, &todo, true, opts ? opts->jobs : 0, stats);
cleanup:
    cairn_data__objset_free(&want);
    cairn_data__objset_free(&there);
    cairn_data__objset_free(&todo);
    return rc;
}

int cairn_data_fetch(cairn_data_repo *repo, cairn_remote *remote, const char *const *pointers,
                     int n, const cairn_data_opts *opts, cairn_data_stats *stats)
{
    int rc = cairn_mkdir_p(repo->cache, 0755);
    /* round 1 brings the manifests, round 2 the files they list */
    for (int round = 0; round < 2 && !rc; round++) {
        data_objset want = {0}, todo = {0};
        size_t missing = 0;
        rc = cairn_data__objects(repo, pointers, n, &want, &missing);
        for (size_t i = 0; i < want.n && !rc; i++)
            if (!cairn_data__obj_exists(repo->cache, want.v[i]))
                cairn_data__objset_add(&todo, want.v[i]);
        if (!rc) rc = transfer(remote, repo->cache, &todo, false, opts ? opts->jobs : 0, stats);
        cairn_data__objset_free(&want);
        cairn_data__objset_free(&todo);
        if (!missing) break;
    }
    if (!rc) rc = cairn_data__cache_sync(repo->cache);
    return rc;
}
