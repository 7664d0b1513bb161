/*
 * data_gc.c - git access (pointers at other revisions) and garbage
 * collection of the object cache.
 *
 * gc keeps every object referenced by a pointer in the workspace and, with
 * all_revs, by any pointer blob in any commit git can reach (`git rev-list
 * --all` + `git ls-tree -r`, each distinct pointer blob read once). Anything
 * else in the cache is dropped; stale temp files of interrupted writes too.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "data_internal.h"

#define GIT_OUT_MAX ((size_t)256 << 20)

int cairn_data__git(cairn_data_repo *repo, const char *const *argv, cairn_buf *out)
{
    int pfd[2];
    if (pipe(pfd) != 0) return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        close(pfd[0]);
        close(pfd[1]);
        if (chdir(repo->root) != 0) _exit(127);
        execvp("git", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    int rc = 0;
    char buf[65536];
    ssize_t r;
    while ((r = read(pfd[0], buf, sizeof(buf))) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (!rc && (rc = cairn_buf_put(out, buf, (size_t)r))) continue;
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc) return rc;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "git %s %s failed (exit %d)", argv[1],
                               argv[2] ? argv[2] : "",
                               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int cairn_data_git_show(cairn_data_repo *repo, const char *rev, const char *path, cairn_buf *out)
{
    /* path relative to the cwd -> relative to the root, for REV:PATH */
    char cwd[4096], spec[8192];
    if (!getcwd(cwd, sizeof(cwd)))
        return cairn_error_set(CAIRN_EIO, DATA_SUBSYS, "cannot get the current directory");
    size_t rl = strlen(repo->root);
    const char *sub = "";
    char realcwd[4096];
    if (realpath(cwd, realcwd) && strncmp(realcwd, repo->root, rl) == 0 && realcwd[rl] == '/')
        sub = realcwd + rl + 1;
    snprintf(spec, sizeof(spec), "%s:%s%s%s", rev, sub, *sub ? "/" : "", path);
    const char *argv[] = {"git", "show", spec, NULL};
    int rc = cairn_data__git(repo, argv, out);
    if (rc == CAIRN_ENOTFOUND)
        return cairn_error_set(CAIRN_ENOTFOUND, DATA_SUBSYS, "git has no '%s' at revision '%s'",
                               path, rev);
    return rc;
}

/* Adds the objects referenced by pointer blobs at every git revision. */
static int all_revs_objects(cairn_data_repo *repo, data_objset *keep)
{
    cairn_buf revs = CAIRN_BUF_INIT(GIT_OUT_MAX), tree = CAIRN_BUF_INIT(GIT_OUT_MAX);
    cairn_buf blob = CAIRN_BUF_INIT(64 * 1024);
    data_objset seen = {0};
    const char *rl[] = {"git", "rev-list", "--all", NULL};
    int rc = cairn_data__git(repo, rl, &revs);
    if (rc) { /* no commits yet: nothing more to keep */
        cairn_error_clear();
        rc = 0;
        goto cleanup;
    }
    for (char *line = revs.ptr; line && *line && !rc;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        const char *lt[] = {"git", "ls-tree", "-r", line, NULL};
        cairn_buf_reset(&tree);
        if ((rc = cairn_data__git(repo, lt, &tree))) break;
        /* "<mode> blob <oid>\t<path>" */
        for (char *t = tree.ptr; t && *t && !rc;) {
            char *tn = strchr(t, '\n');
            if (tn) *tn = '\0';
            char *tab = strchr(t, '\t');
            size_t pl = tab ? strlen(tab + 1) : 0;
            char *sp = strstr(t, " blob ");
            if (tab && sp && pl > 6 && strcmp(tab + 1 + pl - 6, ".cairn") == 0) {
                char oid[65] = "";
                size_t ol = (size_t)(tab - (sp + 6));
                if (ol < sizeof(oid)) {
                    memcpy(oid, sp + 6, ol);
                    oid[ol] = '\0';
                    char padded[65];
                    snprintf(padded, sizeof(padded), "%-64s", oid);
                    cairn_data__objset_seal(&seen);
                    if (!cairn_data__objset_has(&seen, padded)) {
                        cairn_data__objset_add(&seen, padded);
                        const char *cf[] = {"git", "cat-file", "blob", oid, NULL};
                        cairn_buf_reset(&blob);
                        blob.max = 64 * 1024;
                        if (cairn_data__git(repo, cf, &blob) == 0) {
                            /* a broken historical pointer keeps nothing */
                            size_t missing = 0;
                            if (cairn_data__pointer_objects(repo, cairn_buf_cstr(&blob), tab + 1,
                                                            keep, &missing) != 0)
                                cairn_error_clear();
                        }
                    }
                }
            }
            t = tn ? tn + 1 : NULL;
        }
        line = nl ? nl + 1 : NULL;
    }
cleanup:
    cairn_data__objset_free(&seen);
    cairn_buf_free(&revs);
    cairn_buf_free(&tree);
    cairn_buf_free(&blob);
    return rc;
}

int cairn_data_gc(cairn_data_repo *repo, const cairn_data_opts *opts, cairn_data_report_cb cb,
                  void *payload, cairn_data_stats *stats)
{
    data_objset keep = {0};
    size_t missing = 0;
    int rc = cairn_data__objects(repo, NULL, 0, &keep, &missing);
    if (!rc && opts && opts->all_revs) rc = all_revs_objects(repo, &keep);
    if (rc) goto cleanup;
    cairn_data__objset_seal(&keep);
    bool dry = opts && opts->dry_run;
    DIR *top = opendir(repo->cache);
    if (!top) goto cleanup; /* no cache: nothing to collect */
    struct dirent *de;
    char hex[65], path[4096];
    while ((de = readdir(top)) != NULL) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", repo->cache, de->d_name);
        DIR *sub = opendir(path);
        if (!sub) continue;
        struct dirent *oe;
        while ((oe = readdir(sub)) != NULL) {
            snprintf(path, sizeof(path), "%s/%s/%s", repo->cache, de->d_name, oe->d_name);
            if (cairn_str_startswith(oe->d_name, ".tmp-")) {
                if (!dry) unlink(path);
                continue;
            }
            if (strlen(oe->d_name) != 62) continue;
            memcpy(hex, de->d_name, 2);
            memcpy(hex + 2, oe->d_name, 63); /* 62 chars + NUL, lengths checked above */
            if (!cairn_blob_hex_valid(hex) || cairn_data__objset_has(&keep, hex)) continue;
            struct stat st;
            uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
            if (!dry && unlink(path) != 0) continue;
            if (stats) stats->removed++, stats->bytes += size;
            if (cb) cb(dry ? "would remove" : "removed", hex, payload);
        }
        closedir(sub);
    }
    closedir(top);
cleanup:
    cairn_data__objset_free(&keep);
    return rc;
}
