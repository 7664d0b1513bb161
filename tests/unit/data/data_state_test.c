/*
 * data_state_test.c - the state cache (lookups keyed by path, inode, size
 * and mtime; the racy window; persistence; a damaged file) and the walk +
 * parallel hashing that uses it (unchanged files are not re-hashed,
 * symlinks are recorded, not followed; empty directories are listed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/data.h"
#include "data/data_internal.h"
#include "support.h"

#define H1 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H2 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define SEC 1000000000LL

static void test_lookup_and_persist(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("data_state");
    cairn_data_state *st = NULL;
    char h[65];
    assert_int_equal(cairn_data_state_open(&st, dir), 0);
    assert_int_equal(cairn_data_state_count(st), 0);
    cairn_data_state_set(st, "a/b.txt", 11, 5, 100 * SEC, H1, 200 * SEC);
    cairn_data_state_set(st, "racy", 12, 5, 100 * SEC, H2, 100 * SEC + 1000);
    char key[32];
    for (int i = 0; i < 5000; i++) { /* grow past the first table size */
        snprintf(key, sizeof(key), "many/%d", i);
        cairn_data_state_set(st, key, (uint64_t)i, (uint64_t)i, i * SEC, i % 2 ? H1 : H2,
                             (i + 10) * SEC);
    }
    assert_true(cairn_data_state_lookup(st, "a/b.txt", 11, 5, 100 * SEC, h));
    assert_string_equal(h, H1);
    assert_false(cairn_data_state_lookup(st, "a/b.txt", 99, 5, 100 * SEC, h));     /* inode */
    assert_false(cairn_data_state_lookup(st, "a/b.txt", 11, 6, 100 * SEC, h));     /* size */
    assert_false(cairn_data_state_lookup(st, "a/b.txt", 11, 5, 100 * SEC + 1, h)); /* mtime */
    assert_false(cairn_data_state_lookup(st, "a/b.tx", 11, 5, 100 * SEC, h));
    assert_false(cairn_data_state_lookup(st, "racy", 12, 5, 100 * SEC, h)); /* racily clean */
    assert_int_equal(cairn_data_state_save(st), 0);
    cairn_data_state_free(st);

    assert_int_equal(cairn_data_state_open(&st, dir), 0);
    assert_int_equal(cairn_data_state_count(st), 5002);
    assert_true(cairn_data_state_lookup(st, "a/b.txt", 11, 5, 100 * SEC, h));
    assert_string_equal(h, H1);
    assert_true(cairn_data_state_lookup(st, "many/4321", 4321, 4321, 4321 * SEC, h));
    assert_string_equal(h, H1);
    /* an update replaces, it does not add */
    cairn_data_state_set(st, "a/b.txt", 11, 7, 150 * SEC, H2, 300 * SEC);
    assert_int_equal(cairn_data_state_count(st), 5002);
    assert_true(cairn_data_state_lookup(st, "a/b.txt", 11, 7, 150 * SEC, h));
    assert_string_equal(h, H2);
    cairn_data_state_free(st);

    /* a damaged file is an empty cache, not an error */
    char path[512];
    snprintf(path, sizeof(path), "%s/state", dir);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 0, SEEK_SET);
    fputs("garbage!", f);
    fclose(f);
    assert_int_equal(cairn_data_state_open(&st, dir), 0);
    assert_int_equal(cairn_data_state_count(st), 0);
    cairn_data_state_free(st);
    /* a truncated one keeps what is whole */
    cairn_test_rmrf(dir);
    free(dir);
}

static void write_file(const char *dir, const char *rel, const char *content)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const data_file *)a)->path, ((const data_file *)b)->path);
}

static void test_walk_and_hash(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("data_walk");
    char p[1024], cache[1024];
    snprintf(p, sizeof(p), "%s/data/sub/deeper", dir);
    assert_int_equal(cairn_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/data/empty", dir);
    assert_int_equal(cairn_mkdir_p(p, 0755), 0);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    snprintf(p, sizeof(p), "%s/data", dir);
    write_file(p, "hello", "hello");
    write_file(p, "empty file", "");
    write_file(p, "sub/deeper/ü.txt", "hello");
    snprintf(p, sizeof(p), "%s/data/out", dir);
    assert_int_equal(symlink("/etc/hostname", p), 0);
    snprintf(p, sizeof(p), "%s/data", dir);

    data_filelist l = {0};
    assert_int_equal(cairn_data__walk(p, &l), 0);
    qsort(l.v, l.n, sizeof(*l.v), by_path);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].path, "empty");
    assert_int_equal(l.v[0].type, 'd');
    assert_string_equal(l.v[1].path, "empty file");
    assert_string_equal(l.v[3].path, "out");
    assert_int_equal(l.v[3].type, 'l');
    assert_string_equal(l.v[3].target, "/etc/hostname");
    assert_string_equal(l.v[4].path, "sub/deeper/ü.txt");

    /* wait out the racy window so the state is trusted on the second pass */
    struct timespec ts = {1, 100000000};
    nanosleep(&ts, NULL);
    cairn_data_state *st = NULL;
    assert_int_equal(cairn_data_state_open(&st, dir), 0);
    char(*hashes)[65] = calloc(l.n, 65);
    cairn_data_stats stats = {0};
    assert_int_equal(cairn_data__hash_files(p, "data", &l, st, cache, 2, hashes, &stats), 0);
    assert_int_equal(stats.files, 3);
    assert_int_equal(stats.hashed, 3);
    assert_string_equal(hashes[1], H1);
    assert_string_equal(hashes[2], H2);
    assert_string_equal(hashes[4], H2);
    assert_string_equal(hashes[3], ""); /* the link is not read */
    assert_int_equal(cairn_data__obj_exists(cache, H2), 1);
    assert_int_equal(cairn_data__obj_exists(cache, H1), 1);
    cairn_buf b = CAIRN_BUF_INIT(1024);
    assert_int_equal(cairn_data__obj_read(cache, H2, &b), 0);
    assert_string_equal(cairn_buf_cstr(&b), "hello");
    cairn_buf_free(&b);

    memset(&stats, 0, sizeof(stats));
    assert_int_equal(cairn_data__hash_files(p, "data", &l, st, cache, 2, hashes, &stats), 0);
    assert_int_equal(stats.hashed, 0);
    assert_int_equal(stats.cached, 3);
    assert_string_equal(hashes[4], H2);

    /* a corrupted cache object is detected on read */
    char obj[1024];
    cairn_data__obj_path(cache, H2, obj, sizeof(obj));
    chmod(obj, 0644);
    FILE *f = fopen(obj, "w");
    fputs("jello", f);
    fclose(f);
    assert_int_equal(cairn_data__obj_read(cache, H2, &b), CAIRN_ECORRUPT);
    char aside[1100];
    snprintf(aside, sizeof(aside), "%s.corrupt", obj);
    assert_int_equal(access(aside, F_OK), 0); /* moved aside, name free for a repair */
    assert_int_not_equal(access(obj, F_OK), 0);
    f = fopen(obj, "w");
    fputs("jello", f);
    fclose(f);
    char dst[1024];
    snprintf(dst, sizeof(dst), "%s/restored", dir);
    assert_int_equal(cairn_data__copy_verify(obj, dst, H2, 0644), CAIRN_ECORRUPT);
    assert_int_not_equal(access(dst, F_OK), 0); /* nothing half-written left */

    free(hashes);
    cairn_data_state_free(st);
    cairn_data__filelist_free(&l);
    cairn_test_rmrf(dir);
    free(dir);
}

struct writer {
    const char *path;
    atomic_int stop;
};

static void *append_loop(void *arg)
{
    struct writer *w = arg;
    FILE *f = fopen(w->path, "a");
    while (f && !atomic_load(&w->stop)) {
        fputc('x', f);
        fflush(f);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    if (f) fclose(f);
    return NULL;
}

/* A file written to while it is hashed is re-hashed, then refused. */
static void test_changing_file(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("data_change");
    char path[1024];
    snprintf(path, sizeof(path), "%s/growing", dir);
    FILE *f = fopen(path, "w");
    char *chunk = calloc(1, 1 << 20);
    for (int i = 0; i < 64; i++)
        fwrite(chunk, 1, 1 << 20, f);
    fclose(f);
    free(chunk);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    data_file one = {(char *)"", NULL, sb, 'f'};
    data_filelist l = {&one, 1, 1};
    char h[1][65];
    struct writer w = {path, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, append_loop, &w), 0);
    int rc = cairn_data__hash_files(path, "growing", &l, NULL, NULL, 1, h, NULL);
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(rc, CAIRN_ECONFLICT);
    assert_non_null(strstr(cairn_error_last()->msg, "kept changing while being hashed"));
    /* once it is still, it hashes */
    assert_int_equal(cairn_data__hash_files(path, "growing", &l, NULL, NULL, 1, h, NULL), 0);
    assert_int_equal(strlen(h[0]), 64);
    cairn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_and_persist),
        cmocka_unit_test(test_walk_and_hash),
        cmocka_unit_test(test_changing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
