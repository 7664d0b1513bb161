/*
 * cmd_data.c - `cairn data`: version data files and directories beside git
 * (add, status, diff, checkout, ls, gc) and move their content to and from
 * remotes (remote add/list, push, fetch, pull). A thin shell over
 * include/cairn/data.h: parse flags, open the repository, print results.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/data.h"
#include "cli.h"

int cmd_data_run(int argc, char **argv, cairn_config *cfg);
void cmd_data_help(void);

void cmd_data_help(void)
{
    printf("usage: cairn data <command> [options]\n\n"
           "Versions data with git: content goes to the cache (.cairn/cache at the\n"
           "repository root), git tracks a small pointer file PATH.cairn.\n\n"
           "  add PATH...                 store files/directories, write PATH.cairn and\n"
           "                              a .gitignore entry\n"
           "  status [PATH...]            workspace changes against the pointers\n"
           "  diff A B                    added/removed/modified files between two\n"
           "                              pointers; each is a file or REV:PATH (git)\n"
           "  diff REV PATH               PATH's pointer at git revision REV vs now\n"
           "  checkout [PATH...]          restore data from the cache (reflink, else copy;\n"
           "                              --hardlink links read-only cache files instead)\n"
           "  ls POINTER                  list a pointer's files\n"
           "  gc [--dry-run] [--all-revs] drop cache objects no pointer references\n"
           "  remote add [--default] NAME URL   URL: a directory, file://DIR, s3://B/P\n"
           "  remote list\n"
           "  push [--remote R] [PATH...] send objects missing at the remote\n"
           "  fetch [--remote R] [PATH...] receive objects missing from the cache\n"
           "  pull [--remote R] [PATH...]  fetch, then checkout\n\n"
           "  --jobs N                    threads for hashing and transfers\n");
}

typedef struct data_args {
    cairn_data_opts opts;
    const char *remote;
    bool make_default;
    const char **pos;
    int npos;
} data_args;

/* Splits options from positional arguments; returns 2 on bad usage. */
static int parse_args(int argc, char **argv, data_args *a)
{
    a->pos = cairn_calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--dry-run") || !strcmp(s, "-n"))
            a->opts.dry_run = true;
        else if (!strcmp(s, "--all-revs"))
            a->opts.all_revs = true;
        else if (!strcmp(s, "--hardlink"))
            a->opts.hardlink = true;
        else if (!strcmp(s, "--default"))
            a->make_default = true;
        else if ((!strcmp(s, "--remote") || !strcmp(s, "-r")) && i + 1 < argc)
            a->remote = argv[++i];
        else if ((!strcmp(s, "--jobs") || !strcmp(s, "-j")) && i + 1 < argc) {
            int64_t j;
            if (cairn_parse_i64(argv[++i], &j) != 0 || j < 1 || j > 256)
                return cli_usage_error("data: --jobs takes a number from 1 to 256");
            a->opts.jobs = (int)j;
        } else if (!strcmp(s, "--")) {
            while (++i < argc)
                a->pos[a->npos++] = argv[i];
        } else if (s[0] == '-' && s[1]) {
            return cli_usage_error("data %s: unknown or incomplete option '%s'", argv[1], s);
        } else {
            a->pos[a->npos++] = s;
        }
    }
    return 0;
}

static void print_line(const char *what, const char *path, void *payload)
{
    (void)payload;
    printf("%-10s %s\n", what, path);
}

static void print_ls(const char *what, const char *line, void *payload)
{
    (void)what;
    (void)payload;
    printf("%s\n", line);
}

static void print_remote(const char *name, const char *url, void *payload)
{
    (void)payload;
    printf("%s\t%s\n", name, url);
}

static double secs_since(int64_t t0)
{
    return (double)(cairn_monotonic_ns() - t0) / 1e9;
}

/* Reads one side of a diff: "REV:PATH" through git unless it is a file. */
static int diff_side(cairn_data_repo *repo, const char *spec, const char *rev, char **text_out)
{
    cairn_buf b = CAIRN_BUF_INIT(64 * 1024);
    int rc;
    char path[4096];
    if (rev) {
        size_t n = strlen(spec);
        snprintf(path, sizeof(path), "%s%s", spec,
                 (n > 6 && !strcmp(spec + n - 6, ".cairn")) ? "" : ".cairn");
        rc = cairn_data_git_show(repo, rev, path, &b);
    } else {
        const char *colon = strchr(spec, ':');
        FILE *f = fopen(spec, "r");
        if (f) fclose(f);
        if (!f && colon && colon != spec) {
            char r[256];
            snprintf(r, sizeof(r), "%.*s", (int)(colon - spec), spec);
            return diff_side(repo, colon + 1, r, text_out);
        }
        size_t n = strlen(spec);
        snprintf(path, sizeof(path), "%s%s", spec,
                 (n > 6 && !strcmp(spec + n - 6, ".cairn")) ? "" : ".cairn");
        rc = cairn_read_file(path, &b);
        if (rc == CAIRN_ENOTFOUND) {
            cairn_buf_free(&b);
            *text_out = NULL; /* absent: everything added or removed */
            return 0;
        }
    }
    if (rc) return rc;
    *text_out = cairn_buf_detach(&b, NULL);
    if (!*text_out) *text_out = cairn_strdup("");
    return 0;
}

static int run_diff(cairn_data_repo *repo, data_args *a)
{
    if (a->npos != 2) return cli_usage_error("usage: cairn data diff A B  (files or REV:PATH)");
    char *ta = NULL, *tb = NULL;
    int rc;
    /* "diff REV PATH": REV is not a file and PATH(.cairn) is */
    FILE *f = fopen(a->pos[0], "r");
    bool rev_form = !f && !strchr(a->pos[0], ':');
    if (f) fclose(f);
    if (rev_form) {
        rc = diff_side(repo, a->pos[1], a->pos[0], &ta);
        if (!rc) rc = diff_side(repo, a->pos[1], NULL, &tb);
    } else {
        rc = diff_side(repo, a->pos[0], NULL, &ta);
        if (!rc) rc = diff_side(repo, a->pos[1], NULL, &tb);
    }
    cairn_data_stats st = {0};
    if (!rc && !ta && !tb)
        rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CLI, "neither side of the diff exists");
    if (!rc) rc = cairn_data_diff(repo, ta, a->pos[0], tb, a->pos[1], print_line, NULL, &st);
    cairn_free(ta);
    cairn_free(tb);
    if (rc) return cli_fail();
    if (!st.changed) printf("no differences\n");
    return 0;
}

static int run_transfer(cairn_data_repo *repo, data_args *a, const char *sub)
{
    cairn_remote *remote = NULL;
    if (cairn_data_remote_open_named(repo, a->remote, &remote) != 0) return cli_fail();
    cairn_data_stats st = {0};
    int64_t t0 = cairn_monotonic_ns();
    int rc;
    if (!strcmp(sub, "push")) {
        rc = cairn_data_push(repo, remote, a->pos, a->npos, &a->opts, &st);
        if (!rc)
            printf("pushed %llu objects to %s (%llu already there) in %.2fs\n",
                   (unsigned long long)st.transferred, cairn_remote_url(remote),
                   (unsigned long long)(st.files - st.transferred), secs_since(t0));
    } else {
        rc = cairn_data_fetch(repo, remote, a->pos, a->npos, &a->opts, &st);
        if (!rc)
            printf("fetched %llu objects from %s in %.2fs\n", (unsigned long long)st.transferred,
                   cairn_remote_url(remote), secs_since(t0));
        if (!rc && !strcmp(sub, "pull")) {
            cairn_data_stats cs = {0};
            rc = cairn_data_checkout(repo, a->pos, a->npos, &a->opts, NULL, NULL, &cs);
            if (!rc) printf("checked out %llu entries\n", (unsigned long long)cs.changed);
        }
    }
    cairn_remote_close(remote);
    return rc ? cli_fail() : 0;
}

static int run_sub(cairn_data_repo *repo, const char *sub, data_args *a)
{
    cairn_data_stats st = {0};
    int64_t t0 = cairn_monotonic_ns();
    if (!strcmp(sub, "add")) {
        if (!a->npos) return cli_usage_error("usage: cairn data add PATH...");
        if (cairn_data_add(repo, a->pos, a->npos, &a->opts, &st)) return cli_fail();
        printf("added %d path(s): %llu files, %llu bytes (%llu hashed, %llu unchanged) in %.2fs\n",
               a->npos, (unsigned long long)st.files, (unsigned long long)st.bytes,
               (unsigned long long)st.hashed, (unsigned long long)st.cached, secs_since(t0));
        return 0;
    }
    if (!strcmp(sub, "status")) {
        if (cairn_data_status(repo, a->pos, a->npos, &a->opts, print_line, NULL, &st))
            return cli_fail();
        if (!st.changed) printf("data is up to date (%llu files)\n", (unsigned long long)st.files);
        return 0;
    }
    if (!strcmp(sub, "checkout")) {
        if (cairn_data_checkout(repo, a->pos, a->npos, &a->opts, print_line, NULL, &st))
            return cli_fail();
        printf("checked out %llu entries\n", (unsigned long long)st.changed);
        return 0;
    }
    if (!strcmp(sub, "diff")) return run_diff(repo, a);
    if (!strcmp(sub, "ls")) {
        if (a->npos != 1) return cli_usage_error("usage: cairn data ls POINTER");
        return cairn_data_ls(repo, a->pos[0], print_ls, NULL) ? cli_fail() : 0;
    }
    if (!strcmp(sub, "gc")) {
        if (a->npos) return cli_usage_error("usage: cairn data gc [--dry-run] [--all-revs]");
        if (cairn_data_gc(repo, &a->opts, print_line, NULL, &st)) return cli_fail();
        printf("%s %llu objects (%llu bytes)\n", a->opts.dry_run ? "would remove" : "removed",
               (unsigned long long)st.removed, (unsigned long long)st.bytes);
        return 0;
    }
    if (!strcmp(sub, "remote")) {
        if (a->npos == 1 && !strcmp(a->pos[0], "list"))
            return cairn_data_remote_foreach(repo, print_remote, NULL) ? cli_fail() : 0;
        if (a->npos == 3 && !strcmp(a->pos[0], "add"))
            return cairn_data_remote_add(repo, a->pos[1], a->pos[2], a->make_default) ? cli_fail()
                                                                                      : 0;
        return cli_usage_error("usage: cairn data remote add [--default] NAME URL | remote list");
    }
    if (!strcmp(sub, "push") || !strcmp(sub, "fetch") || !strcmp(sub, "pull"))
        return run_transfer(repo, a, sub);
    return cli_usage_error("data: unknown command '%s' (see cairn data --help)", sub);
}

int cmd_data_run(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    if (argc < 2 || cli_is_help(argv[1])) {
        cmd_data_help();
        return argc < 2 ? 2 : 0;
    }
    data_args a = {CAIRN_DATA_OPTS_INIT, NULL, false, NULL, 0};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        cairn_free(a.pos);
        return rc;
    }
    cairn_data_repo *repo = NULL;
    bool create = !strcmp(argv[1], "add") || !strcmp(argv[1], "remote");
    if (cairn_data_repo_open(&repo, ".", create) != 0) {
        cairn_free(a.pos);
        return cli_fail();
    }
    rc = run_sub(repo, argv[1], &a);
    cairn_data_repo_free(repo);
    cairn_free(a.pos);
    return rc;
}
