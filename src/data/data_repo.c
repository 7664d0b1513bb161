/*
 * data_repo.c - the workspace side of data versioning: finding the
 * repository, `add` (hash + store + pointer + .gitignore), `status`,
 * `checkout`, `diff`, `ls` and `gc`.
 *
 * Key idea: every operation reduces a pointer to a manifest (a file pointer
 * is a one-entry manifest) and compares sorted manifests, so status, diff
 * and checkout share one notion of "same content". The workspace side is
 * hashed through the state cache, so with nothing changed `status` costs a
 * directory walk and lookups, never a read of file content.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data_internal.h"

#define MANIFEST_MAX ((size_t)1 << 30)

/* ---- repository ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = cairn_malloc(n);
    snprintf(p, n, "%s%s%s", a, (*a && *b) ? "/" : "", b);
    return p;
}

/* Writes .cairn/.gitignore once, so git tracks .cairn/config but never the
 * cache or the state. */
static int ignore_internals(cairn_data_repo *r)
{
    char *p = path_join(r->cairn_dir, ".gitignore");
    struct stat st;
    int rc = 0;
    if (stat(p, &st) != 0) {
        FILE *f = fopen(p, "w");
        if (!f || fputs("/cache\n/state\n/state.tmp*\n/config.tmp*\n", f) < 0 || fclose(f) != 0)
            rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s", p);
    }
    cairn_free(p);
    return rc;
}

int cairn_data_repo_open(cairn_data_repo **out, const char *start, bool create)
{
    char cur[PATH_MAX];
    if (!realpath(start ? start : ".", cur))
        return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "cannot resolve '%s': %s",
                               start ? start : ".", strerror(errno));
    char probe[PATH_MAX + 16];
    for (;;) {
        snprintf(probe, sizeof(probe), "%s/.cairn", cur);
        bool has_cairn = is_dir(probe);
        snprintf(probe, sizeof(probe), "%s/.git", cur);
        struct stat st;
        if (has_cairn || stat(probe, &st) == 0) break;
        char *slash = strrchr(cur, '/');
        if (!slash || slash == cur)
            return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS,
                                   "not in a repository (no .git or .cairn above '%s')",
                                   start ? start : ".");
        *slash = '\0';
    }
    cairn_data_repo *r = cairn_calloc(1, sizeof(*r));
    r->root = cairn_strdup(cur);
    r->cairn_dir = path_join(cur, ".cairn");
    r->cache = path_join(r->cairn_dir, "cache");
    if (create && (cairn_mkdir_p(r->cache, 0755) != 0 || ignore_internals(r) != 0)) {
        cairn_data_repo_free(r);
        return CAIRN_EIO;
    }
    *out = r;
    return 0;
}

void cairn_data_repo_free(cairn_data_repo *repo)
{
    if (!repo) return;
    cairn_free(repo->root);
    cairn_free(repo->cairn_dir);
    cairn_free(repo->cache);
    cairn_free(repo);
}

const char *cairn_data_repo_root(const cairn_data_repo *repo)
{
    return repo->root;
}

const char *cairn_data_repo_cache_dir(const cairn_data_repo *repo)
{
    return repo->cache;
}

/* Resolves a user path to (absolute, relative-to-root). The last component
 * is not resolved, so a symlink is seen as one. */
static int resolve(cairn_data_repo *repo, const char *path, char **abs_out, char **rel_out)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    char *slash = strrchr(tmp, '/');
    const char *base = slash ? slash + 1 : tmp;
    if (slash == tmp)
        snprintf(dir, sizeof(dir), "/");
    else if (slash) {
        *slash = '\0';
        if (!realpath(tmp, dir))
            return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "no such path '%s'", path);
    } else if (!realpath(".", dir))
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot resolve the current directory");
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "'%s': name a file or directory", path);
    char *abs = path_join(strcmp(dir, "/") == 0 ? "" : dir, base);
    size_t rl = strlen(repo->root);
    if (strncmp(abs, repo->root, rl) != 0 || abs[rl] != '/') {
        cairn_free(abs);
        return cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "'%s' is outside the repository %s",
                               path, repo->root);
    }
    *rel_out = cairn_strdup(abs + rl + 1);
    *abs_out = abs;
    return 0;
}

/* Adds "/name" to the .gitignore next to abs unless a line already says so. */
static int gitignore_add(const char *abs)
{
    char dir[PATH_MAX], line[PATH_MAX + 4];
    snprintf(dir, sizeof(dir), "%s", abs);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    snprintf(line, sizeof(line), "/%s", slash + 1);
    char *gi = path_join(dir, ".gitignore");
    cairn_buf b = CAIRN_BUF_INIT(16 << 20);
    int rc = cairn_read_file(gi, &b);
    if (rc == CAIRN_ENOTFOUND) rc = 0;
    if (rc) goto cleanup;
    const char *s = cairn_buf_cstr(&b);
    size_t ll = strlen(line);
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == ll && memcmp(p, line, ll) == 0) goto cleanup;
        p += len + (nl ? 1 : 0);
    }
    FILE *f = fopen(gi, "a");
    if (!f) {
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", gi, strerror(errno));
        goto cleanup;
    }
    if (b.len && s[b.len - 1] != '\n') fputc('\n', f);
    fprintf(f, "%s\n", line);
    if (fclose(f) != 0)
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot write %s: %s", gi, strerror(errno));
cleanup:
    cairn_buf_free(&b);
    cairn_free(gi);
    return rc;
}

/* Builds the manifest of a directory from its walk and hashes. */
static void manifest_from_walk(cairn_data_manifest *m, data_filelist *l, char (*hashes)[65],
                               uint64_t *size, uint64_t *files)
{
    for (size_t i = 0; i < l->n; i++) {
        data_file *f = &l->v[i];
        if (f->type == 'f') {
            cairn_data_manifest_add(m, CAIRN_DATA_ENT_FILE, f->path, NULL, hashes[i],
                                    (uint64_t)f->st.st_size, f->st.st_mode);
            *size += (uint64_t)f->st.st_size;
            (*files)++;
        } else if (f->type == 'l') {
            cairn_data_manifest_add(m, CAIRN_DATA_ENT_LINK, f->path, f->target, NULL, 0, 0);
        } else {
            cairn_data_manifest_add(m, CAIRN_DATA_ENT_DIR, f->path, NULL, NULL, 0, f->st.st_mode);
        }
    }
}

/* Adds one path: contract in data.h. */
static int add_one(cairn_data_repo *repo, cairn_data_state *st, const char *path,
                   const cairn_data_opts *opts, cairn_data_stats *stats)
{
    char *abs = NULL, *rel = NULL, *ptr_path = NULL;
    data_filelist l = {0};
    char(*hashes)[65] = NULL;
    cairn_data_manifest m = {0};
    cairn_buf text = CAIRN_BUF_INIT(0);
    int rc = resolve(repo, path, &abs, &rel);
    if (rc) return rc;
    struct stat sb;
    if (lstat(abs, &sb) != 0) {
        rc = cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "no such file or directory '%s'", path);
        goto cleanup;
    }
    size_t al = strlen(abs);
    if (al > 6 && strcmp(abs + al - 6, ".cairn") == 0) {
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "'%s' is a pointer file", path);
        goto cleanup;
    }
    if (strcmp(rel, ".cairn") == 0 || strcmp(rel, ".git") == 0 ||
        cairn_str_startswith(rel, ".cairn/") || cairn_str_startswith(rel, ".git/")) {
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "'%s' is repository metadata", path);
        goto cleanup;
    }
    cairn_data_pointer p = {0};
    if (S_ISLNK(sb.st_mode)) {
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS,
                             "'%s' is a symlink; add the file or directory it points to", path);
        goto cleanup;
    } else if (S_ISREG(sb.st_mode)) {
        data_file one = {(char *)"", NULL, sb, 'f'};
        data_filelist single = {&one, 1, 1};
        char h[1][65];
        cairn_data_stats local = {0};
        rc = cairn_data__hash_files(abs, rel, &single, st, repo->cache, 1, h, &local);
        if (rc) goto cleanup;
        p.kind = CAIRN_DATA_FILE;
        memcpy(p.hash, h[0], 65);
        p.size = (uint64_t)one.st.st_size;
        p.files = 1;
        if (stats) {
            stats->files += local.files, stats->bytes += local.bytes;
            stats->hashed += local.hashed, stats->cached += local.cached;
        }
    } else if (S_ISDIR(sb.st_mode)) {
        if ((rc = cairn_data__walk(abs, &l))) goto cleanup;
        hashes = cairn_malloc((l.n + 1) * sizeof(*hashes));
        rc = cairn_data__hash_files(abs, rel, &l, st, repo->cache, opts ? opts->jobs : 0, hashes,
                                    stats);
        if (rc) goto cleanup;
        p.kind = CAIRN_DATA_DIR;
        manifest_from_walk(&m, &l, hashes, &p.size, &p.files);
        if ((rc = cairn_data_manifest_format(&m, &text))) goto cleanup;
        if ((rc = cairn_data__obj_put_buf(repo->cache, text.ptr, text.len, p.hash))) goto cleanup;
    } else {
        rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "'%s' is not a regular file or directory",
                             path);
        goto cleanup;
    }
    ptr_path = cairn_malloc(al + 8);
    snprintf(ptr_path, al + 8, "%s.cairn", abs);
    if ((rc = cairn_data_pointer_save(&p, ptr_path))) goto cleanup;
    rc = gitignore_add(abs);
cleanup:
    cairn_buf_free(&text);
    cairn_data_manifest_clear(&m);
    cairn_free(hashes);
    cairn_data__filelist_free(&l);
    cairn_free(ptr_path);
    cairn_free(abs);
    cairn_free(rel);
    return rc;
}

int cairn_data_add(cairn_data_repo *repo, const char *const *paths, int n,
                   const cairn_data_opts *opts, cairn_data_stats *stats)
{
    cairn_data_state *st = NULL;
    if (cairn_mkdir_p(repo->cache, 0755) != 0) return CAIRN_EIO;
    cairn_data_state_open(&st, repo->cairn_dir);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = add_one(repo, st, paths[i], opts, stats);
    int rc2 = cairn_data__cache_sync(repo->cache); /* the batch's one durability point */
    int rc3 = cairn_data_state_save(st);
    cairn_data_state_free(st);
    return rc ? rc : rc2 ? rc2 : rc3;
}

/* ---- pointers -> manifests ---- */

/* Loads the manifest a pointer names; a file pointer becomes one entry
 * whose path is "" (the pointer's data path itself). */
static int pointer_manifest(cairn_data_repo *repo, const cairn_data_pointer *p,
                            cairn_data_manifest *m)
{
    if (p->kind == CAIRN_DATA_FILE) {
        cairn_data_manifest_add(m, CAIRN_DATA_ENT_FILE, "", NULL, p->hash, p->size, 0644);
        return 0;
    }
    cairn_buf b = CAIRN_BUF_INIT(MANIFEST_MAX);
    int rc = cairn_data__obj_read(repo->cache, p->hash, &b);
    if (!rc) rc = cairn_data_manifest_parse(m, b.ptr, b.len, p->hash);
    cairn_buf_free(&b);
    return rc;
}

/* Walks and hashes the workspace side of a pointer into a manifest. A
 * missing data path gives an empty manifest. */
static int workspace_manifest(cairn_data_state *st, const char *abs, const char *rel,
                              const cairn_data_opts *opts, cairn_data_manifest *m,
                              cairn_data_stats *stats)
{
    struct stat sb;
    if (lstat(abs, &sb) != 0) return 0;
    data_filelist l = {0};
    int rc = 0;
    if (S_ISREG(sb.st_mode)) {
        data_file one = {(char *)"", NULL, sb, 'f'};
        data_filelist single = {&one, 1, 1};
        char h[1][65];
        rc = cairn_data__hash_files(abs, rel, &single, st, NULL, 1, h, stats);
        if (!rc)
            cairn_data_manifest_add(m, CAIRN_DATA_ENT_FILE, "", NULL, h[0],
                                    (uint64_t)one.st.st_size, one.st.st_mode);
        return rc;
    }
    if (!S_ISDIR(sb.st_mode)) {
        char t[PATH_MAX];
        ssize_t tl = S_ISLNK(sb.st_mode) ? readlink(abs, t, sizeof(t) - 1) : -1;
        t[tl > 0 ? tl : 0] = '\0';
        cairn_data_manifest_add(m, CAIRN_DATA_ENT_LINK, "", NULL, NULL, 0, 0);
        m->entries[m->n - 1].target = cairn_strdup(t);
        return 0;
    }
    if ((rc = cairn_data__walk(abs, &l))) return rc;
    char(*hashes)[65] = cairn_malloc((l.n + 1) * sizeof(*hashes));
    rc = cairn_data__hash_files(abs, rel, &l, st, NULL, opts ? opts->jobs : 0, hashes, stats);
    uint64_t size = 0, files = 0;
    if (!rc) {
        manifest_from_walk(m, &l, hashes, &size, &files);
        cairn_data__manifest_sort(m);
    }
    cairn_free(hashes);
    cairn_data__filelist_free(&l);
    return rc;
}

static bool entry_same(const cairn_data_entry *a, const cairn_data_entry *b)
{
    if (a->type != b->type) return false;
    if (a->type == CAIRN_DATA_ENT_FILE) return strcmp(a->hash, b->hash) == 0;
    if (a->type == CAIRN_DATA_ENT_LINK)
        return strcmp(a->target ? a->target : "", b->target ? b->target : "") == 0;
    return true;
}

/* Merges two sorted manifests, reporting added/deleted(removed)/modified
 * paths prefixed by `prefix`. Returns the number of differences. */
static uint64_t compare(const cairn_data_manifest *old, const cairn_data_manifest *cur,
                        const char *prefix, const char *gone_word, cairn_data_report_cb cb,
                        void *payload)
{
    size_t i = 0, j = 0;
    uint64_t n = 0;
    char path[PATH_MAX * 2];
    while (i < old->n || j < cur->n) {
        int c = i == old->n   ? 1
                : j == cur->n ? -1
                              : strcmp(old->entries[i].path, cur->entries[j].path);
        const cairn_data_entry *e = c <= 0 ? &old->entries[i] : &cur->entries[j];
        const char *word = NULL;
        if (c < 0)
            word = gone_word, i++;
        else if (c > 0)
            word = "added", j++;
        else {
            if (!entry_same(&old->entries[i], &cur->entries[j])) word = "modified";
            i++, j++;
        }
        if (!word) continue;
        n++;
        snprintf(path, sizeof(path), "%s%s%s", prefix, (*prefix && *e->path) ? "/" : "", e->path);
        if (cb) cb(word, path, payload);
    }
    return n;
}

static int load_pointer_at(cairn_data_repo *repo, const char *ptr_rel, cairn_data_pointer *p,
                           char **abs_data, char **rel_data)
{
    char *abs = path_join(repo->root, ptr_rel);
    int rc = cairn_data_pointer_load(p, abs);
    if (!rc) {
        size_t n = strlen(abs);
        abs[n - 6] = '\0';
        *abs_data = abs;
        *rel_data = cairn_strndup(ptr_rel, strlen(ptr_rel) - 6);
    } else {
        cairn_free(abs);
    }
    return rc;
}

/* Turns user arguments (data paths or pointer paths) into pointer paths
 * relative to the root; all pointers in the repo when n == 0. */
static int pointer_list(cairn_data_repo *repo, const char *const *args, int n, data_filelist *out)
{
    if (n == 0) return cairn_data__find_pointers(repo, out);
    for (int i = 0; i < n; i++) {
        char *abs = NULL, *rel = NULL;
        size_t al = strlen(args[i]);
        char *arg = cairn_malloc(al + 8);
        snprintf(arg, al + 8, "%s", args[i]);
        while (al > 1 && arg[al - 1] == '/')
            arg[--al] = '\0';
        if (al < 6 || strcmp(arg + al - 6, ".cairn") != 0) snprintf(arg + al, 8, ".cairn");
        int rc = resolve(repo, arg, &abs, &rel);
        cairn_free(arg);
        if (rc) return rc;
        struct stat st = {0};
        if (stat(abs, &st) != 0) {
            rc = cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "no pointer file '%s'", rel);
            cairn_free(abs);
            cairn_free(rel);
            return rc;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->v = cairn_realloc(out->v, out->cap * sizeof(*out->v));
        }
        out->v[out->n++] = (data_file){rel, NULL, st, 'f'};
        cairn_free(abs);
    }
    return 0;
}

/* Walks from the root for *.cairn files, skipping .git, .cairn and every
 * directory X that has an X.cairn beside it (its data). */
static int find_in(cairn_data_repo *repo, const char *rel, data_filelist *out)
{
    char *abs = path_join(repo->root, rel);
    int fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cairn_free(abs);
    if (fd < 0) return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    data_filelist names = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2]))) continue;
        if (!*rel && (strcmp(nm, ".git") == 0 || strcmp(nm, ".cairn") == 0)) continue;
        struct stat st;
        if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        char *p = path_join(rel, nm);
        if (names.n == names.cap) {
            names.cap = names.cap ? names.cap * 2 : 64;
            names.v = cairn_realloc(names.v, names.cap * sizeof(*names.v));
        }
        names.v[names.n++] = (data_file){p, NULL, st, S_ISDIR(st.st_mode) ? 'd' : 'f'};
    }
    closedir(d);
    for (size_t i = 0; i < names.n && !rc; i++) {
        data_file *f = &names.v[i];
        size_t pl = strlen(f->path);
        if (f->type == 'f' && S_ISREG(f->st.st_mode) && pl > 6 &&
            strcmp(f->path + pl - 6, ".cairn") == 0) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 16;
                out->v = cairn_realloc(out->v, out->cap * sizeof(*out->v));
            }
            out->v[out->n++] = (data_file){cairn_strdup(f->path), NULL, f->st, 'f'};
        } else if (f->type == 'd') {
            char probe[PATH_MAX];
            snprintf(probe, sizeof(probe), "%s/%s.cairn", repo->root, f->path);
            struct stat ps;
            if (stat(probe, &ps) == 0) continue; /* a tracked data directory */
            rc = find_in(repo, f->path, out);
        }
    }
    cairn_data__filelist_free(&names);
    return rc;
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(((const data_file *)a)->path, ((const data_file *)b)->path);
}

int cairn_data__find_pointers(cairn_data_repo *repo, data_filelist *out)
{
    int rc = find_in(repo, "", out);
    if (!rc && out->n) qsort(out->v, out->n, sizeof(*out->v), path_cmp);
    return rc;
}

/* ---- status ---- */

int cairn_data_status(cairn_data_repo *repo, const char *const *pointers, int n,
                      const cairn_data_opts *opts, cairn_data_report_cb cb, void *payload,
                      cairn_data_stats *stats)
{
    data_filelist ptrs = {0};
    cairn_data_state *st = NULL;
    int rc = pointer_list(repo, pointers, n, &ptrs);
    if (rc) goto cleanup;
    cairn_data_state_open(&st, repo->cairn_dir);
    for (size_t i = 0; i < ptrs.n && !rc; i++) {
        cairn_data_pointer p;
        char *abs = NULL, *rel = NULL;
        cairn_data_manifest want = {0}, have = {0};
        if ((rc = load_pointer_at(repo, ptrs.v[i].path, &p, &abs, &rel))) break;
        rc = pointer_manifest(repo, &p, &want);
        if (!rc) rc = workspace_manifest(st, abs, rel, opts, &have, stats);
        if (!rc) {
            uint64_t d = compare(&want, &have, rel, "deleted", cb, payload);
            if (stats) stats->changed += d;
        }
        cairn_data_manifest_clear(&want);
        cairn_data_manifest_clear(&have);
        cairn_free(abs);
        cairn_free(rel);
    }
    int rc2 = st ? cairn_data_state_save(st) : 0;
    if (!rc) rc = rc2;
cleanup:
    cairn_data_state_free(st);
    cairn_data__filelist_free(&ptrs);
    return rc;
}

/* ---- checkout ---- */

/* Removes whatever is at path (file, link or directory tree). */
static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : -1;
    data_filelist l = {0};
    if (cairn_data__walk(path, &l) != 0) {
        cairn_error_clear();
        return -1;
    }
    for (size_t i = l.n; i-- > 0;) {
        char *p = path_join(path, l.v[i].path);
        if (l.v[i].type == 'd')
            rmdir(p);
        else
            unlink(p);
        cairn_free(p);
    }
    cairn_data__filelist_free(&l);
    /* inner directories, deepest first: retry until empty */
    for (int k = 0; k < 64 && rmdir(path) != 0 && errno == ENOTEMPTY; k++) {
        DIR *d = opendir(path);
        if (!d) break;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.' ||
                (de->d_name[1] && (de->d_name[1] != '.' || de->d_name[2]))) {
                char *p = path_join(path, de->d_name);
                remove_tree(p);
                cairn_free(p);
            }
        closedir(d);
    }
    return 0;
}

static int ensure_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = '\0';
    return cairn_mkdir_p(dir, 0755);
}

/* Materializes one file from the cache: reflink, else hardlink when asked,
 * else a verified copy; through a temp name so a failure leaves no half file. */
static int place_file(cairn_data_repo *repo, const cairn_data_entry *e, const char *dst,
                      bool hardlink)
{
    char src[PATH_MAX], tmp[PATH_MAX + 32];
    cairn_data__obj_path(repo->cache, e->hash, src, sizeof(src));
    snprintf(tmp, sizeof(tmp), "%s.cairn-tmp%ld", dst, (long)getpid());
    int rc = ensure_parent(dst);
    if (rc) return rc;
    unlink(tmp);
    unsigned mode = e->mode ? e->mode : 0644;
    bool done = false;
    if (hardlink && link(src, tmp) == 0) done = true;
    if (!done) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in >= 0) {
            int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
            if (out >= 0 && ioctl(out, FICLONE, in) == 0) done = true;
            if (out >= 0) close(out);
            if (!done) unlink(tmp);
            close(in);
        }
        if (!done && (rc = cairn_data__copy_verify(src, tmp, e->hash, mode))) return rc;
        chmod(tmp, mode);
    }
    if (rename(tmp, dst) != 0) {
        rc = cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot rename to %s: %s", dst,
                             strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static int place_entry(cairn_data_repo *repo, const cairn_data_entry *e, const char *dst,
                       bool hardlink)
{
    if (remove_tree(dst) != 0)
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot replace %s", dst);
    if (e->type == CAIRN_DATA_ENT_FILE) return place_file(repo, e, dst, hardlink);
    int rc = ensure_parent(dst);
    if (rc) return rc;
    if (e->type == CAIRN_DATA_ENT_LINK) {
        if (symlink(e->target, dst) != 0)
            return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot create link %s: %s", dst,
                                   strerror(errno));
        return 0;
    }
    return cairn_mkdir_p(dst, e->mode ? e->mode : 0755);
}

int cairn_data_checkout(cairn_data_repo *repo, const char *const *pointers, int n,
                        const cairn_data_opts *opts, cairn_data_report_cb cb, void *payload,
                        cairn_data_stats *stats)
{
    data_filelist ptrs = {0};
    cairn_data_state *st = NULL;
    int rc = pointer_list(repo, pointers, n, &ptrs);
    if (rc) goto cleanup;
    cairn_data_state_open(&st, repo->cairn_dir);
    char dst[PATH_MAX];
    for (size_t i = 0; i < ptrs.n && !rc; i++) {
        cairn_data_pointer p;
        char *abs = NULL, *rel = NULL;
        cairn_data_manifest want = {0}, have = {0};
        if ((rc = load_pointer_at(repo, ptrs.v[i].path, &p, &abs, &rel))) break;
        rc = pointer_manifest(repo, &p, &want);
        if (!rc) {
            struct stat sb;
            /* a directory replaced by a file (or the reverse) starts over */
            if (lstat(abs, &sb) == 0 && (p.kind == CAIRN_DATA_DIR) != S_ISDIR(sb.st_mode))
                remove_tree(abs);
            rc = workspace_manifest(st, abs, rel, opts, &have, NULL);
        }
        if (!rc && p.kind == CAIRN_DATA_DIR) rc = cairn_mkdir_p(abs, 0755);
        for (size_t k = 0; k < want.n && !rc; k++) {
            const cairn_data_entry *e = &want.entries[k];
            const cairn_data_entry *h = cairn_data_manifest_find(&have, e->path);
            if (h && entry_same(e, h)) continue;
            if (snprintf(dst, sizeof(dst), "%s%s%s", abs, *e->path ? "/" : "", e->path) >=
                (int)sizeof(dst)) {
                rc = cairn_error_set(CAIRN_EINVALID, DATA_SUBSYS, "path too long: %s", e->path);
                break;
            }
            rc = place_entry(repo, e, dst, opts && opts->hardlink);
            if (!rc && stats) stats->changed++;
            if (!rc && cb) {
                snprintf(dst, sizeof(dst), "%s%s%s", rel, *e->path ? "/" : "", e->path);
                cb(h ? "restored" : "created", dst, payload);
            }
        }
        cairn_data_manifest_clear(&want);
        cairn_data_manifest_clear(&have);
        cairn_free(abs);
        cairn_free(rel);
    }
    int rc2 = st ? cairn_data_state_save(st) : 0;
    if (!rc) rc = rc2;
cleanup:
    cairn_data_state_free(st);
    cairn_data__filelist_free(&ptrs);
    return rc;
}

/* ---- diff, ls ---- */

int cairn_data_diff(cairn_data_repo *repo, const char *a_text, const char *a_name,
                    const char *b_text, const char *b_name, cairn_data_report_cb cb, void *payload,
                    cairn_data_stats *stats)
{
    cairn_data_manifest a = {0}, b = {0};
    cairn_data_pointer p;
    int rc = 0;
    if (a_text && !(rc = cairn_data_pointer_parse(&p, a_text, strlen(a_text), a_name)))
        rc = pointer_manifest(repo, &p, &a);
    if (!rc && b_text && !(rc = cairn_data_pointer_parse(&p, b_text, strlen(b_text), b_name)))
        rc = pointer_manifest(repo, &p, &b);
    if (!rc) {
        uint64_t d = compare(&a, &b, "", "removed", cb, payload);
        if (stats) stats->changed += d;
    }
    cairn_data_manifest_clear(&a);
    cairn_data_manifest_clear(&b);
    return rc;
}

int cairn_data_ls(cairn_data_repo *repo, const char *pointer, cairn_data_report_cb cb,
                  void *payload)
{
    data_filelist ptrs = {0};
    const char *args[1] = {pointer};
    cairn_data_manifest m = {0};
    char *abs = NULL, *rel = NULL;
    cairn_data_pointer p;
    int rc = pointer_list(repo, args, 1, &ptrs);
    if (!rc) rc = load_pointer_at(repo, ptrs.v[0].path, &p, &abs, &rel);
    if (!rc) rc = pointer_manifest(repo, &p, &m);
    char line[PATH_MAX * 2];
    for (size_t i = 0; i < m.n && !rc; i++) {
        const cairn_data_entry *e = &m.entries[i];
        const char *path = *e->path ? e->path : rel;
        if (e->type == CAIRN_DATA_ENT_FILE)
            snprintf(line, sizeof(line), "%s %12llu %s", e->hash, (unsigned long long)e->size,
                     path);
        else if (e->type == CAIRN_DATA_ENT_LINK)
            snprintf(line, sizeof(line), "%-64s %12s %s -> %s", "link", "-", path, e->target);
        else
            snprintf(line, sizeof(line), "%-64s %12s %s/", "dir", "-", path);
        if (cb)
            cb(e->type == CAIRN_DATA_ENT_FILE   ? "f"
               : e->type == CAIRN_DATA_ENT_LINK ? "l"
                                                : "d",
               line, payload);
    }
    cairn_data_manifest_clear(&m);
    cairn_data__filelist_free(&ptrs);
    cairn_free(abs);
    cairn_free(rel);
    return rc;
}

/* ---- object sets ---- */

void cairn_data__objset_add(data_objset *s, const char *hex)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = cairn_realloc(s->v, s->cap * sizeof(*s->v));
    }
    memcpy(s->v[s->n++], hex, 65);
}

static int hex_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

void cairn_data__objset_seal(data_objset *s)
{
    if (s->n == 0) return;
    qsort(s->v, s->n, sizeof(*s->v), hex_cmp);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (w == 0 || memcmp(s->v[w - 1], s->v[i], 64) != 0) memmove(s->v[w++], s->v[i], 65);
    s->n = w;
}

bool cairn_data__objset_has(const data_objset *s, const char *hex)
{
    return s->n && bsearch(hex, s->v, s->n, sizeof(*s->v), hex_cmp) != NULL;
}

void cairn_data__objset_free(data_objset *s)
{
    cairn_free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Adds the objects a pointer text references: its hash and, when its
 * manifest is in the cache, every file of it. A missing manifest is counted
 * in *missing (or is an error when missing is NULL). */
int cairn_data__pointer_objects(cairn_data_repo *repo, const char *text, const char *name,
                                data_objset *out, size_t *missing)
{
    cairn_data_pointer p;
    int rc = cairn_data_pointer_parse(&p, text, strlen(text), name);
    if (rc) return rc;
    cairn_data__objset_add(out, p.hash);
    if (p.kind != CAIRN_DATA_DIR) return 0;
    if (missing && !cairn_data__obj_exists(repo->cache, p.hash)) {
        (*missing)++;
        return 0;
    }
    cairn_data_manifest m = {0};
    if ((rc = pointer_manifest(repo, &p, &m))) return rc;
    for (size_t i = 0; i < m.n; i++)
        if (m.entries[i].type == CAIRN_DATA_ENT_FILE)
            cairn_data__objset_add(out, m.entries[i].hash);
    cairn_data_manifest_clear(&m);
    return 0;
}

int cairn_data__objects(cairn_data_repo *repo, const char *const *pointers, int n, data_objset *out,
                        size_t *missing)
{
    data_filelist ptrs = {0};
    int rc = pointer_list(repo, pointers, n, &ptrs);
    cairn_buf b = CAIRN_BUF_INIT(64 * 1024);
    for (size_t i = 0; i < ptrs.n && !rc; i++) {
        char *abs = path_join(repo->root, ptrs.v[i].path);
        cairn_buf_reset(&b);
        b.max = 64 * 1024;
        if (!(rc = cairn_read_file(abs, &b)))
            rc = cairn_data__pointer_objects(repo, cairn_buf_cstr(&b), abs, out, missing);
        cairn_free(abs);
    }
    cairn_buf_free(&b);
    cairn_data__filelist_free(&ptrs);
    if (!rc) cairn_data__objset_seal(out);
    return rc;
}
