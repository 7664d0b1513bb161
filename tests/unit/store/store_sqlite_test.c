/*
 * store_sqlite_test.c - the store conformance suite on SQLite, plus what is
 * SQLite-only: URI forms, parent directories, WAL, the statement cache, the
 * embedded migrations matching the .sql files, placeholder rewriting.
 */
#include <dirent.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/core.h"
#include "store/store_int.h"
#include "support.h"

static char *conf_new_uri(void)
{
    char *dir = cairn_test_tmpdir("store");
    if (!dir) {
        fprintf(stderr, "cannot make a temp directory\n");
        return NULL;
    }
    size_t n = strlen(dir) + 64;
    char *uri = cairn_malloc(n);
    /* a parent directory that does not exist yet: open creates it */
    snprintf(uri, n, "sqlite:%s/home/cairn.db", dir);
    free(dir);
    return uri;
}

static void conf_drop_uri(char *uri)
{
    char *dir = cairn_strdup(uri + strlen("sqlite:"));
    char *home = strrchr(dir, '/');
    *home = '\0';
    home = strrchr(dir, '/');
    *home = '\0';
    cairn_test_rmrf(dir);
    cairn_free(dir);
    cairn_free(uri);
}

#include "store_conformance.inc"

static void test_uri_forms(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("store-uri");
    assert_non_null(dir);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    char abs_uri[4200], path[4200];
    snprintf(abs_uri, sizeof(abs_uri), "sqlite://%s/c/abs.db", dir); /* sqlite:///abs/path */
    const char *uris[] = {"plain.db", "sqlite:a/b/prefixed.db", "sqlite://rel/slashes.db", abs_uri};
    const char *files[] = {"plain.db", "a/b/prefixed.db", "rel/slashes.db", "c/abs.db"};
    for (int i = 0; i < 4; i++) {
        cairn_store *s = NULL;
        int rc = cairn_store_open(&s, uris[i], NULL);
        if (rc != 0) fail_msg("%s: %s", uris[i], cairn_error_last()->msg);
        assert_int_equal(cairn_store_dialect_of(s), CAIRN_STORE_SQLITE);
        cairn_store_close(s);
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        assert_int_equal(stat(path, &st), 0);
    }
    cairn_store *s = (cairn_store *)0x1;
    assert_int_equal(cairn_store_open(&s, ":memory:", NULL), CAIRN_EINVALID);
    assert_null(s);
    assert_int_equal(cairn_store_open(&s, "sqlite:", NULL), CAIRN_EINVALID);
    assert_int_equal(chdir(cwd), 0);
    cairn_test_rmrf(dir);
    free(dir);
}

/* journal_mode must be WAL (a reader and the writer do not block each other). */
static int text_cb(const cairn_value *cols, int ncols, void *payload)
{
    assert_int_equal(ncols, 1);
    assert_int_equal(cols[0].type, CAIRN_V_TEXT);
    snprintf(payload, 32, "%.*s", (int)cols[0].u.s.len, cols[0].u.s.ptr);
    return 0;
}

static void test_wal_and_pragmas(void **state)
{
    cairn_store *s = open_store(state);
    char mode[32] = "";
    assert_int_equal(cairn_store_query(s, "PRAGMA journal_mode", NULL, 0, text_cb, mode), 0);
    assert_string_equal(mode, "wal");
    assert_int_equal(query_int(s, "PRAGMA synchronous", NULL, 0), 1); /* NORMAL */
    assert_int_equal(query_int(s, "PRAGMA foreign_keys", NULL, 0), 0);
    /* read connections are query-only */
    assert_int_equal(cairn_store_query(s, "INSERT INTO experiment_tags VALUES (1, 'a', 'b')", NULL,
                                       0, NULL, NULL),
                     CAIRN_EIO);
    cairn_store_close(s);

    struct conf *c = *state;
    cairn_store_opts o = CAIRN_STORE_OPTS_INIT;
    o.sync_full = 1;
    o.readers = 1;
    assert_int_equal(cairn_store_open(&s, c->uri, &o), 0);
    assert_int_equal(query_int(s, "PRAGMA synchronous", NULL, 0), 2); /* FULL */
    cairn_store_close(s);
    o.version = 99;
    assert_int_equal(cairn_store_open(&s, c->uri, &o), CAIRN_EINVALID);
}

/* More distinct statements than the cache holds, each reused: the cache
 * is cleared when full and results stay right. */
static int many_sql_fn(cairn_store_tx *tx, void *payload)
{
    int *bad = payload;
    char sql[128];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(sql, sizeof(sql),
                     "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (%d, ?, ?)",
                     i);
            char key[16];
            snprintf(key, sizeof(key), "r%d", round);
            cairn_value p[2] = {CAIRN_VTEXT(key), CAIRN_VTEXT("v")};
            if (cairn_tx_exec(tx, sql, p, 2, NULL, NULL) != 0 || cairn_tx_changes(tx) != 1)
                (*bad)++;
        }
    }
    return 0;
}

static void test_statement_cache_overflow(void **state)
{
    cairn_store *s = open_store(state);
    int bad = 0;
    assert_int_equal(cairn_store_write(s, many_sql_fn, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM experiment_tags", NULL, 0), 900);
    cairn_store_close(s);
}

/* The migrations compiled in must be byte-identical to the .sql files, and
 * every .sql file must be compiled in (scripts/gen-migrations). */
static void test_embedded_migrations_match_files(void **state)
{
    (void)state;
    const char *src = getenv("CAIRN_SOURCE_DIR");
    if (!src) fail_msg("CAIRN_SOURCE_DIR is not set (run through ctest)");
    char dirpath[4096], path[4400];
    snprintf(dirpath, sizeof(dirpath), "%s/src/store/migrations", src);
    int on_disk = 0;
    DIR *d = opendir(dirpath);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0) on_disk++;
    }
    closedir(d);
    assert_int_equal(cairn_store__nmigrations, on_disk);
    int prev = 0;
    for (int i = 0; i < cairn_store__nmigrations; i++) {
        const struct cairn_store_migration *m = &cairn_store__migrations[i];
        assert_true(m->version > prev);
        prev = m->version;
        assert_int_equal(atoi(m->name), m->version);
        snprintf(path, sizeof(path), "%s/%s", dirpath, m->name);
        cairn_buf b = CAIRN_BUF_INIT(1 << 20);
        if (cairn_read_file(path, &b) != 0) fail_msg("%s: %s", path, cairn_error_last()->msg);
        if (strcmp(cairn_buf_cstr(&b), m->sql) != 0)
            fail_msg("%s differs from the embedded copy: run scripts/gen-migrations", m->name);
        cairn_buf_free(&b);
    }
    assert_int_equal(cairn_store_schema_latest(), prev);
}

static void rewrite_is(const char *in, const char *want, int want_n)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    int n = -1;
    assert_int_equal(cairn_store__rewrite_placeholders(in, &b, &n), 0);
    assert_string_equal(cairn_buf_cstr(&b), want);
    assert_int_equal(n, want_n);
    cairn_buf_free(&b);
}

static void test_placeholder_rewrite(void **state)
{
    (void)state;
    rewrite_is("SELECT 1", "SELECT 1", 0);
    rewrite_is("", "", 0);
    rewrite_is("a = ? AND b = ?", "a = $1 AND b = $2", 2);
    rewrite_is("x = '?' AND y = ?", "x = '?' AND y = $1", 1);
    rewrite_is("x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1", 1);
    rewrite_is("\"we?ird\" = ? -- a ? comment\n AND z = ?",
               "\"we?ird\" = $1 -- a ? comment\n AND z = $2", 2);
    rewrite_is("/* ? */ ? - ?/2", "/* ? */ $1 - $2/2", 2);
    rewrite_is("E'\\' ?' || ?", "E'\\' ?' || $1", 1);
    rewrite_is("'unterminated ?", "'unterminated ?", 0);
}

/* Dialect markers in migration SQL keep their text for one backend only. */
static void test_dialect_markers(void **state)
{
    (void)state;
    const char *sql = "CREATE TABLE t (id /*!sqlite INTEGER*//*!pg BIGINT*/ PRIMARY KEY) "
                      "/*!sqlite WITHOUT ROWID*/; -- /* plain comment */";
    cairn_buf a = CAIRN_BUF_INIT(0), b = CAIRN_BUF_INIT(0), c = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_store__dialect_sql(sql, CAIRN_STORE_SQLITE, &a), 0);
    assert_string_equal(cairn_buf_cstr(&a), "CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID; "
                                            "-- /* plain comment */");
    assert_int_equal(cairn_store__dialect_sql(sql, CAIRN_STORE_POSTGRES, &b), 0);
    assert_string_equal(cairn_buf_cstr(&b), "CREATE TABLE t (id BIGINT PRIMARY KEY) ; -- /* plain comment */");
    assert_int_equal(cairn_store__dialect_sql("x /*!pg never closed", CAIRN_STORE_SQLITE, &c),
                     CAIRN_ECORRUPT);
    cairn_buf_free(&a);
    cairn_buf_free(&b);
    cairn_buf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CONFORMANCE_TESTS,
        cmocka_unit_test(test_uri_forms),
        cmocka_unit_test_setup_teardown(test_wal_and_pragmas, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache_overflow, conf_setup, conf_teardown),
        cmocka_unit_test(test_embedded_migrations_match_files),
        cmocka_unit_test(test_placeholder_rewrite),
        cmocka_unit_test(test_dialect_markers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
