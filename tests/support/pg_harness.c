/*
 * pg_harness.c - starts a throwaway PostgreSQL server for the `pg` tests.
 *
 * Key idea: one implementation of "find the binaries, initdb as an
 * unprivileged user, listen on 127.0.0.1 on a free port, wait with a
 * deadline, create a database" lives in tests/support/pg-start.sh, used both
 * by shell integration tests and by this C wrapper, which runs it and reads
 * back the exported URL. Database creation goes through the same script
 * (psql), so this file needs no libpq.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/common.h"
#include "pg_harness.h"
#include "support.h"

struct cairn_pg_harness {
    char *dir;    /* temp dir of a started server; NULL when external */
    char *script; /* path of pg-start.sh */
    char url[512];
    int external;
};

static atomic_int db_counter;

/* Runs `cmd` and keeps the last non-empty stdout line in line. */
static int run_capture(const char *cmd, char *line, size_t n)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char tmp[1024];
    line[0] = '\0';
    while (fgets(tmp, sizeof(tmp), p)) {
        tmp[strcspn(tmp, "\r\n")] = '\0';
        if (tmp[0]) snprintf(line, n, "%s", tmp);
    }
    int st = pclose(p);
    return st == 0 ? 0 : -1;
}

static int safe_for_quotes(const char *s)
{
    return strchr(s, '\'') == NULL;
}

int cairn_pg_harness_start(cairn_pg_harness **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *src = getenv("CAIRN_SOURCE_DIR");
    if (!src || !*src) {
        snprintf(err, errlen,
                 "CAIRN_SOURCE_DIR is not set (run through ctest): cannot find pg-start.sh");
        return -1;
    }
    struct cairn_pg_harness *h = cairn_calloc(1, sizeof(*h));
    size_t n = strlen(src) + 64;
    h->script = cairn_malloc(n);
    snprintf(h->script, n, "%s/tests/support/pg-start.sh", src);
    const char *ext = getenv("CAIRN_TEST_PG_URL");
    if (ext && *ext) {
        snprintf(h->url, sizeof(h->url), "%s", ext);
        h->external = 1;
        *out = h;
        return 0;
    }
    char *dir = cairn_test_tmpdir("pg");
    if (!dir || !safe_for_quotes(dir) || !safe_for_quotes(h->script)) {
        snprintf(err, errlen, "cannot make a temp directory for postgres");
        free(dir);
        cairn_pg_harness_stop(h);
        return -1;
    }
    h->dir = cairn_strdup(dir);
    free(dir);
    char cmd[1200], line[1024];
    snprintf(cmd, sizeof(cmd), "env -u CAIRN_TEST_PG_URL sh '%s' start '%s'", h->script, h->dir);
    const char *prefix = "export CAIRN_TEST_PG_URL='";
    if (run_capture(cmd, line, sizeof(line)) != 0 || strncmp(line, prefix, strlen(prefix)) != 0) {
        snprintf(err, errlen,
                 "could not start postgresql (see stderr above); install the postgresql package "
                 "or set CAIRN_TEST_PG_URL");
        cairn_pg_harness_stop(h);
        return -1;
    }
    snprintf(h->url, sizeof(h->url), "%s", line + strlen(prefix));
    h->url[strcspn(h->url, "'")] = '\0';
    *out = h;
    return 0;
}

const char *cairn_pg_harness_url(const cairn_pg_harness *h)
{
    return h->url;
}

char *cairn_pg_harness_create_db(cairn_pg_harness *h, const char *tag, char *err, size_t errlen)
{
    char name[96], cmd[1600], line[1024];
    snprintf(name, sizeof(name), "%s_%ld_%d", tag, (long)getpid(),
             atomic_fetch_add(&db_counter, 1));
    if (!safe_for_quotes(h->url)) {
        snprintf(err, errlen, "CAIRN_TEST_PG_URL must not contain a single quote");
        return NULL;
    }
    snprintf(cmd, sizeof(cmd), "CAIRN_TEST_PG_URL='%s' sh '%s' createdb '%s'", h->url, h->script,
             name);
    if (run_capture(cmd, line, sizeof(line)) != 0 || strncmp(line, "postgres", 8) != 0) {
        snprintf(err, errlen, "could not create database %s on %s (see stderr above)", name,
                 h->url);
        return NULL;
    }
    return cairn_strdup(line);
}

void cairn_pg_harness_drop_db(cairn_pg_harness *h, const char *url)
{
    if (!h || !url || !h->external) return;
    const char *slash = strrchr(url, '/');
    if (!slash || !safe_for_quotes(slash + 1) || !safe_for_quotes(h->url)) return;
    char name[128], cmd[1600];
    snprintf(name, sizeof(name), "%s", slash + 1);
    name[strcspn(name, "?")] = '\0';
    snprintf(cmd, sizeof(cmd), "CAIRN_TEST_PG_URL='%s' sh '%s' dropdb '%s' >/dev/null", h->url,
             h->script, name);
    if (system(cmd) != 0) fprintf(stderr, "pg_harness: could not drop database %s\n", name);
}

void cairn_pg_harness_stop(cairn_pg_harness *h)
{
    if (!h) return;
    if (h->dir) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s'", h->script, h->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_harness: could not stop the server in %s\n", h->dir);
    }
    cairn_free(h->dir);
    cairn_free(h->script);
    cairn_free(h);
}
