/*
 * blob_fs_test.c - the content-addressed store on its filesystem backend,
 * through the public API: identity of put/get, idempotence, the streaming
 * writer, expect_hex, hash validation, listing, deletion, concurrency,
 * put_fd, corruption detection, the stale-temp sweep, and a seeded
 * property test (CAIRN_PROP_ITERS, CAIRN_PROP_SEED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "support.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HELLO_SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

struct fixture {
    char *dir;      /* temp directory (support-allocated) */
    char root[512]; /* <dir>/store, created by cairn_blob_open */
    cairn_blob *blob;
};

/* ---- helpers ---- */

/* splitmix64: a small seeded PRNG, so failures replay from the seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_fill(uint64_t *s, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rng_next(s) >> 24);
}

static unsigned char *random_content(uint64_t seed, size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    rng_fill(&seed, p, n);
    return p;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = cairn_test_tmpdir("blob");
    if (!f->dir) return -1;
    snprintf(f->root, sizeof(f->root), "%s/store", f->dir);
    if (cairn_blob_open(&f->blob, f->root) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cairn_blob_close(f->blob);
    cairn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Regular files directly in dir (0 if it doesn't exist). */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[1024];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) n++;
    }
    closedir(d);
    return n;
}

static int count_temps(struct fixture *f)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/tmp", f->root);
    return count_files(p);
}

/* Object files under every two-char directory of the root. */
static int count_objects(struct fixture *f)
{
    DIR *d = opendir(f->root);
    int n = 0;
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", f->root, e->d_name);
        n += count_files(p);
    }
    closedir(d);
    return n;
}

static void object_file(struct fixture *f, const char *hex, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%.2s/%s", f->root, hex, hex + 2);
}

static void assert_get_equals(cairn_blob *b, const char *hex, const void *data, size_t n)
{
    cairn_buf out = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_blob_get(b, hex, &out), 0);
    assert_int_equal(out.len, n);
    assert_non_null(out.ptr);
    if (n) assert_memory_equal(out.ptr, data, n);
    cairn_buf_free(&out);
}

/* ---- identity ---- */

static void test_put_get_empty(void **state)
{
    struct fixture *f = *state;
    char hex[65], path[700];
    struct stat st;
    assert_int_equal(cairn_blob_put(f->blob, "", 0, hex), 0);
    assert_string_equal(hex, EMPTY_SHA);
    object_file(f, hex, path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_get_equals(f->blob, hex, "", 0);
    assert_int_equal(cairn_blob_exists(f->blob, hex), 1);
}

static void test_put_get_small(void **state)
{
    struct fixture *f = *state;
    char hex[65], path[700], back[8] = {0};
    struct stat st;
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, hex), 0);
    assert_string_equal(hex, HELLO_SHA);
    /* layout: <root>/2c/f24dba..., mode 0644 less the umask */
    object_file(f, hex, path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(022);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0644 & ~mask);
    assert_get_equals(f->blob, hex, "hello", 5);

    int fd = -1;
    uint64_t size = 0;
    assert_int_equal(cairn_blob_open_read(f->blob, hex, &fd, &size), 0);
    assert_int_equal(size, 5);
    assert_int_equal(read(fd, back, sizeof(back)), 5);
    assert_string_equal(back, "hello");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    assert_int_equal(count_temps(f), 0);
}

static void test_put_get_large(void **state)
{
    struct fixture *f = *state;
    size_t n = 5 * 1024 * 1024 + 123;
    unsigned char *data = random_content(42, n);
    char hex[65], want[65];
    assert_int_equal(cairn_blob_put(f->blob, data, n, hex), 0);
    assert_int_equal(cairn_sha256_hex(data, n, want), 0);
    assert_string_equal(hex, want);
    assert_get_equals(f->blob, hex, data, n);

    /* a bound one byte short: CAIRN_ETOOBIG and the buffer freed */
    cairn_buf small = CAIRN_BUF_INIT(n - 1);
    assert_int_equal(cairn_buf_put(&small, "", 0), 0);
    assert_int_equal(cairn_blob_get(f->blob, hex, &small), CAIRN_ETOOBIG);
    assert_null(small.ptr);
    assert_int_equal(small.len, 0);
    /* exactly the size fits */
    cairn_buf exact = CAIRN_BUF_INIT(n);
    assert_int_equal(cairn_blob_get(f->blob, hex, &exact), 0);
    assert_int_equal(exact.len, n);
    assert_memory_equal(exact.ptr, data, n);
    cairn_buf_free(&exact);
    free(data);
}

static void test_repeat_put_is_noop(void **state)
{
    struct fixture *f = *state;
    char hex[65], hex2[65], path[700];
    struct stat st1, st2;
    assert_int_equal(cairn_blob_put(f->blob, "same bytes", 10, hex), 0);
    object_file(f, hex, path, sizeof(path));
    /* age the file so a rewrite would show in its mtime without sleeping */
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    assert_int_equal(stat(path, &st1), 0);

    assert_int_equal(cairn_blob_put(f->blob, "same bytes", 10, hex2), 0);
    assert_string_equal(hex, hex2);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_int_equal(st2.st_mtim.tv_sec, 1000000000);
    assert_int_equal(count_objects(f), 1);
    assert_int_equal(count_temps(f), 0);

    /* through the streaming writer too */
    cairn_blob_writer *w;
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    assert_int_equal(cairn_blob_writer_write(w, "same ", 5), 0);
    assert_int_equal(cairn_blob_writer_write(w, "bytes", 5), 0);
    assert_int_equal(cairn_blob_writer_commit(w, hex, hex2, NULL), 0);
    assert_string_equal(hex, hex2);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_mtim.tv_sec, 1000000000);
    assert_int_equal(count_objects(f), 1);
    assert_int_equal(count_temps(f), 0);
}

/* ---- property: random content put-then-get is identity ---- */

/* Writes data through a writer in chunks whose sizes the PRNG picks. */
static int put_chunked(cairn_blob *b, uint64_t *rng, const unsigned char *data, size_t n,
                       char hex[65])
{
    cairn_blob_writer *w;
    uint64_t size = 0;
    int rc = cairn_blob_writer_open(&w, b);
    if (rc) return rc;
    for (size_t off = 0; off < n;) {
        size_t c = 1 + (size_t)(rng_next(rng) % 9000);
        if (c > n - off) c = n - off;
        if ((rc = cairn_blob_writer_write(w, data + off, c))) {
            cairn_blob_writer_abort(w);
            return rc;
        }
        off += c;
    }
    rc = cairn_blob_writer_commit(w, NULL, hex, &size);
    if (rc == 0 && size != n) return -100;
    return rc;
}

static const char *check_one(struct fixture *f, uint64_t *rng, const unsigned char *data, size_t n,
                             int *objects)
{
    char hex[65], want[65];
    cairn_buf out = CAIRN_BUF_INIT(0);
    int had = 0;
    const char *bad = NULL;

    if (cairn_sha256_hex(data, n, want) != 0) return "sha256 failed";
    had = cairn_blob_exists(f->blob, want);
    int rc = (rng_next(rng) & 1) ? cairn_blob_put(f->blob, data, n, hex)
                                 : put_chunked(f->blob, rng, data, n, hex);
    if (rc != 0) return "put failed";
    if (strcmp(hex, want) != 0) return "put returned the wrong hash";
    if (!had) (*objects)++;
    if (count_objects(f) != *objects) return "object count is off (repeat put not a no-op?)";
    if (count_temps(f) != 0) return "a temp file was left behind";
    if (cairn_blob_get(f->blob, hex, &out) != 0) return "get failed";
    if (out.len != n || (n && memcmp(out.ptr, data, n) != 0)) bad = "get differs from what was put";
    cairn_buf_free(&out);
    return bad;
}

static void test_prop_put_get_identity(void **state)
{
    struct fixture *f = *state;
    int64_t iters = 200, seed_env = 0;
    const char *s = getenv("CAIRN_PROP_ITERS");
    if (s && cairn_parse_i64(s, &iters) != 0) fail_msg("bad CAIRN_PROP_ITERS '%s'", s);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    s = getenv("CAIRN_PROP_SEED");
    if (s) {
        if (cairn_parse_i64(s, &seed_env) != 0) fail_msg("bad CAIRN_PROP_SEED '%s'", s);
        seed = (uint64_t)seed_env;
    }
    uint64_t rng = seed;
    unsigned char *prev = NULL;
    size_t prev_n = 0;
    int objects = 0;

    for (int64_t i = 0; i < iters; i++) {
        uint64_t r = rng_next(&rng) % 100;
        size_t n = r < 70   ? rng_next(&rng) % 1025
                   : r < 95 ? rng_next(&rng) % 65537
                            : rng_next(&rng) % (1 << 20);
        unsigned char *data;
        if (prev && r % 5 == 0) { /* sometimes put the previous content again */
            n = prev_n;
            data = malloc(n ? n : 1);
            memcpy(data, prev, n);
        } else {
            data = random_content(rng_next(&rng), n);
        }
        const char *bad = check_one(f, &rng, data, n, &objects);
        if (bad)
            fail_msg("property failed at iteration %lld (size %zu): %s; rerun with "
                     "CAIRN_PROP_SEED=%lld",
                     (long long)i, n, bad, (long long)seed);
        free(prev);
        prev = data;
        prev_n = n;
    }
    free(prev);
}

/* ---- the streaming writer ---- */

static void test_writer_odd_chunks(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {1, 3, 7, 4093, 65537, 2, 131071, 11};
    size_t n = 1024 * 1024 + 7;
    unsigned char *data = random_content(7, n);
    char hex1[65], hex2[65];
    uint64_t size = 0;
    cairn_blob_writer *w;

    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t c = sizes[k % CAIRN_ARRAY_LEN(sizes)];
        if (c > n - off) c = n - off;
        assert_int_equal(cairn_blob_writer_write(w, data + off, c), 0);
        off += c;
    }
    assert_int_equal(cairn_blob_writer_write(w, data, 0), 0);
    assert_int_equal(cairn_blob_writer_commit(w, NULL, hex1, &size), 0);
    assert_int_equal(size, n);
    assert_int_equal(cairn_blob_put(f->blob, data, n, hex2), 0);
    assert_string_equal(hex1, hex2);
    assert_int_equal(count_objects(f), 1);
    assert_get_equals(f->blob, hex1, data, n);
    free(data);
}

static void test_writer_expect_hex(void **state)
{
    struct fixture *f = *state;
    char hex[65], wrong[65];
    cairn_blob_writer *w;

    /* matching expectation: stored */
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    assert_int_equal(cairn_blob_writer_write(w, "hello", 5), 0);
    assert_int_equal(cairn_blob_writer_commit(w, HELLO_SHA, hex, NULL), 0);
    assert_string_equal(hex, HELLO_SHA);
    assert_int_equal(cairn_blob_delete(f->blob, HELLO_SHA), 0);

    /* mismatch: CAIRN_ECORRUPT, neither object nor temp left */
    assert_int_equal(cairn_sha256_hex("hellp", 5, wrong), 0);
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    assert_int_equal(cairn_blob_writer_write(w, "hello", 5), 0);
    assert_int_equal(count_temps(f), 1); /* the upload is in flight */
    assert_int_equal(cairn_blob_writer_commit(w, wrong, hex, NULL), CAIRN_ECORRUPT);
    assert_int_equal(cairn_error_last()->code, CAIRN_ECORRUPT);
    assert_int_equal(cairn_blob_exists(f->blob, HELLO_SHA), 0);
    assert_int_equal(cairn_blob_exists(f->blob, wrong), 0);
    assert_int_equal(count_objects(f), 0);
    assert_int_equal(count_temps(f), 0);

    /* a malformed expectation: CAIRN_EINVALID, nothing left */
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    assert_int_equal(cairn_blob_writer_write(w, "hello", 5), 0);
    assert_int_equal(cairn_blob_writer_commit(w, "2CF24DBA", hex, NULL), CAIRN_EINVALID);
    assert_int_equal(count_objects(f), 0);
    assert_int_equal(count_temps(f), 0);
}

static void test_writer_abort(void **state)
{
    struct fixture *f = *state;
    cairn_blob_writer *w;
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0);
    assert_int_equal(cairn_blob_writer_write(w, "partial", 7), 0);
    assert_int_equal(count_temps(f), 1);
    cairn_blob_writer_abort(w);
    assert_int_equal(count_temps(f), 0);
    assert_int_equal(count_objects(f), 0);
    cairn_blob_writer_abort(NULL);
}

/* ---- validation and absence ---- */

static void test_malformed_hashes(void **state)
{
    struct fixture *f = *state;
    char upper[65], victim[700], traversal[65], slash[65], longer[66];
    cairn_buf out = CAIRN_BUF_INIT(0);
    int fd = -1;
    uint64_t size;

    /* a file beside the store that a traversal would reach */
    snprintf(victim, sizeof(victim), "%s/victim", f->dir);
    FILE *v = fopen(victim, "w");
    assert_non_null(v);
    fclose(v);

    memcpy(upper, HELLO_SHA, 65);
    for (int i = 0; i < 64; i++)
        if (upper[i] >= 'a' && upper[i] <= 'f') upper[i] = (char)(upper[i] - 'a' + 'A');
    /* 64 chars, all of them ordinary except the path separators */
    memset(traversal, 'a', 64);
    memcpy(traversal, "../victim/", 10);
    traversal[64] = '\0';
    memcpy(slash, HELLO_SHA, 65);
    slash[2] = '/';
    memcpy(longer, HELLO_SHA, 64);
    longer[64] = 'a';
    longer[65] = '\0';

    const char *bad[] = {"",
                         "2cf24dba",
                         HELLO_SHA + 1,
                         longer,
                         upper,
                         "../..",
                         "../victim",
                         traversal,
                         slash,
                         "zzf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                         " cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                         NULL};
    char real[65];
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, real), 0); /* the real one exists */
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
        assert_false(cairn_blob_hex_valid(bad[i]));
        assert_int_equal(cairn_blob_get(f->blob, bad[i], &out), CAIRN_EINVALID);
        assert_int_equal(cairn_blob_open_read(f->blob, bad[i], &fd, &size), CAIRN_EINVALID);
        assert_int_equal(cairn_blob_exists(f->blob, bad[i]), CAIRN_EINVALID);
        assert_int_equal(cairn_blob_delete(f->blob, bad[i]), CAIRN_EINVALID);
        assert_int_equal(cairn_error_last()->code, CAIRN_EINVALID);
    }
    assert_true(cairn_blob_hex_valid(HELLO_SHA));
    assert_int_equal(access(victim, F_OK), 0);
    assert_int_equal(cairn_blob_exists(f->blob, HELLO_SHA), 1);
    cairn_buf_free(&out);
}

static void test_missing(void **state)
{
    struct fixture *f = *state;
    cairn_buf out = CAIRN_BUF_INIT(0);
    int fd = -1;
    uint64_t size;
    assert_int_equal(cairn_blob_get(f->blob, HELLO_SHA, &out), CAIRN_ENOTFOUND);
    assert_int_equal(cairn_blob_open_read(f->blob, HELLO_SHA, &fd, &size), CAIRN_ENOTFOUND);
    assert_int_equal(fd, -1);
    assert_int_equal(cairn_blob_exists(f->blob, HELLO_SHA), 0);
    assert_int_equal(cairn_blob_delete(f->blob, HELLO_SHA), CAIRN_ENOTFOUND);
    /* a sibling in the same directory doesn't make it present */
    char hex[65], other[65];
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, hex), 0);
    memcpy(other, HELLO_SHA, 65);
    other[63] = other[63] == '0' ? '1' : '0';
    assert_int_equal(cairn_blob_exists(f->blob, other), 0);
    assert_int_equal(cairn_blob_get(f->blob, other, &out), CAIRN_ENOTFOUND);
    cairn_buf_free(&out);
}

/* ---- listing and deletion ---- */

struct listing {
    char (*hex)[65];
    uint64_t *size;
    int n;
    int stop_after; /* 0: never */
};

static int collect(const char *hex, uint64_t size, void *payload)
{
    struct listing *l = payload;
    l->hex = realloc(l->hex, (size_t)(l->n + 1) * sizeof(*l->hex));
    l->size = realloc(l->size, (size_t)(l->n + 1) * sizeof(*l->size));
    memcpy(l->hex[l->n], hex, 65);
    l->size[l->n] = size;
    l->n++;
    return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

static void listing_free(struct listing *l)
{
    free(l->hex);
    free(l->size);
    memset(l, 0, sizeof(*l));
}

struct entry {
    char hex[65];
    uint64_t size;
    int present;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->hex, ((const struct entry *)b)->hex);
}

#define N_LIST 300

/* e: sorted by hash. The listing must be exactly the present entries with
 * the prefix, in that order, with their sizes. */
static void assert_listing(struct fixture *f, const char *prefix, const struct entry *e)
{
    struct listing l = {0};
    int want = 0;
    assert_int_equal(cairn_blob_list(f->blob, prefix, collect, &l), 0);
    for (int i = 0; i < N_LIST; i++) {
        if (!e[i].present || strncmp(e[i].hex, prefix, strlen(prefix)) != 0) continue;
        assert_true(want < l.n);
        assert_string_equal(l.hex[want], e[i].hex);
        assert_int_equal(l.size[want], e[i].size);
        want++;
    }
    assert_int_equal(l.n, want);
    listing_free(&l);
}

static void test_list_and_delete(void **state)
{
    struct fixture *f = *state;
    static struct entry e[N_LIST];
    char junk[700];

    for (int i = 0; i < N_LIST; i++) {
        unsigned char *d = random_content(1000 + (uint64_t)i, (size_t)i + 1);
        assert_int_equal(cairn_blob_put(f->blob, d, (size_t)i + 1, e[i].hex), 0);
        free(d);
        e[i].size = (uint64_t)i + 1;
        e[i].present = 1;
    }
    qsort(e, N_LIST, sizeof(e[0]), cmp_entry);
    /* stray files that are not objects are not listed */
    snprintf(junk, sizeof(junk), "%s/%.2s/README", f->root, e[0].hex);
    fclose(fopen(junk, "w"));
    snprintf(junk, sizeof(junk), "%s/%.2s/%.61sX", f->root, e[0].hex, e[0].hex + 2);
    fclose(fopen(junk, "w"));
    cairn_blob_writer *w;
    assert_int_equal(cairn_blob_writer_open(&w, f->blob), 0); /* an upload in flight */

    struct listing all = {0};
    assert_int_equal(cairn_blob_list(f->blob, NULL, collect, &all), 0);
    assert_int_equal(all.n, N_LIST);
    listing_free(&all);

    char p1[2] = {e[150].hex[0], 0}, p2[3] = {e[150].hex[0], e[150].hex[1], 0};
    char p3[4] = {e[150].hex[0], e[150].hex[1], e[150].hex[2], 0};
    char p5[6];
    memcpy(p5, e[151].hex, 5);
    p5[5] = '\0';
    const char *prefixes[] = {"", "a", "ab", "abc", "0", "f", p1, p2, p3, p5, e[7].hex};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(prefixes); i++)
        assert_listing(f, prefixes[i], e);

    /* a prefix no object has */
    char none[4] = "000";
    for (int k = 0; k < 4096; k++) {
        snprintf(none, sizeof(none), "%03x", k);
        int hit = 0;
        for (int i = 0; i < N_LIST; i++)
            hit |= strncmp(e[i].hex, none, 3) == 0;
        if (!hit) break;
    }
    struct listing l = {0};
    assert_int_equal(cairn_blob_list(f->blob, none, collect, &l), 0);
    assert_int_equal(l.n, 0);

    /* the callback's non-zero result stops the walk and is returned */
    l.stop_after = 5;
    assert_int_equal(cairn_blob_list(f->blob, "", collect, &l), 7);
    assert_int_equal(l.n, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(l.hex[i], e[i].hex);
    listing_free(&l);

    /* malformed prefixes */
    const char *badp[] = {"A", "g", "../", "ab/",
                          "0123456789abcdef0123456789abcdef"
                          "0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(badp); i++)
        assert_int_equal(cairn_blob_list(f->blob, badp[i], collect, &l), CAIRN_EINVALID);
    assert_int_equal(l.n, 0);

    /* delete every third object */
    for (int i = 0; i < N_LIST; i += 3) {
        assert_int_equal(cairn_blob_delete(f->blob, e[i].hex), 0);
        e[i].present = 0;
        assert_int_equal(cairn_blob_exists(f->blob, e[i].hex), 0);
        assert_int_equal(cairn_blob_delete(f->blob, e[i].hex), CAIRN_ENOTFOUND);
    }
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(prefixes); i++)
        assert_listing(f, prefixes[i], e);
    assert_int_equal(cairn_blob_exists(f->blob, e[1].hex), 1);
    assert_int_equal(count_objects(f), N_LIST - (N_LIST + 2) / 3 + 2); /* + the two stray files */
    cairn_blob_writer_abort(w);
}

/* ---- concurrency ---- */

#define N_THREADS 8

struct racer {
    cairn_blob *blob;
    pthread_barrier_t *barrier;
    const unsigned char *data;
    size_t n;
    int rc;
    char hex[65];
};

static void *race_put(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->barrier);
    r->rc = cairn_blob_put(r->blob, r->data, r->n, r->hex);
    return NULL;
}

static void test_concurrent_same_content(void **state)
{
    struct fixture *f = *state;
    for (int round = 0; round < 4; round++) {
        size_t n = round == 0 ? 0 : (size_t)round * 700 * 1024 + 3;
        unsigned char *data = random_content(99 + (uint64_t)round, n);
        char want[65];
        pthread_barrier_t barrier;
        pthread_t th[N_THREADS];
        struct racer r[N_THREADS];

        assert_int_equal(cairn_sha256_hex(data, n, want), 0);
        assert_int_equal(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
        for (int i = 0; i < N_THREADS; i++) {
            r[i] = (struct racer){f->blob, &barrier, data, n, -1, {0}};
            assert_int_equal(pthread_create(&th[i], NULL, race_put, &r[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        for (int i = 0; i < N_THREADS; i++) {
            assert_int_equal(r[i].rc, 0);
            assert_string_equal(r[i].hex, want);
        }
        assert_int_equal(count_objects(f), round + 1);
        assert_int_equal(count_temps(f), 0);
        assert_get_equals(f->blob, want, data, n);
        free(data);
    }
}

/* ---- put_fd ---- */

struct feeder {
    int fd;
    const unsigned char *data;
    size_t n;
};

static void *feed_pipe(void *arg)
{
    struct feeder *fe = arg;
    for (size_t off = 0; off < fe->n;) {
        size_t c = fe->n - off < 10007 ? fe->n - off : 10007;
        ssize_t w = write(fe->fd, fe->data + off, c);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) break;
        off += (size_t)w;
    }
    close(fe->fd);
    return NULL;
}

static void test_put_fd_pipe(void **state)
{
    struct fixture *f = *state;
    size_t n = 3 * 1024 * 1024 + 5;
    unsigned char *data = random_content(5, n);
    int p[2];
    pthread_t th;
    char hex[65], want[65];
    uint64_t size = 0;

    assert_int_equal(pipe(p), 0);
    struct feeder fe = {p[1], data, n};
    assert_int_equal(pthread_create(&th, NULL, feed_pipe, &fe), 0);
    assert_int_equal(cairn_blob_put_fd(f->blob, p[0], hex, &size), 0);
    pthread_join(th, NULL);
    close(p[0]);
    assert_int_equal(cairn_sha256_hex(data, n, want), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, n);
    assert_get_equals(f->blob, hex, data, n);
    assert_int_equal(count_temps(f), 0);
    free(data);
}

static void test_put_fd_file(void **state)
{
    struct fixture *f = *state;
    char path[700], hex[65], want[65];
    size_t n = 200000;
    unsigned char *data = random_content(11, n);
    uint64_t size = 0;

    snprintf(path, sizeof(path), "%s/input.bin", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(cairn_blob_put_fd(f->blob, fd, hex, &size), 0);
    close(fd);
    assert_int_equal(cairn_sha256_hex(data, n, want), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, n);
    assert_get_equals(f->blob, hex, data, n);

    /* an unreadable fd: CAIRN_EIO and no temp left */
    assert_int_equal(cairn_blob_put_fd(f->blob, -1, hex, &size), CAIRN_EIO);
    assert_int_equal(count_temps(f), 0);
    assert_int_equal(count_objects(f), 1);
    free(data);
}

/* ---- integrity, open, crash leftovers ---- */

static void test_corrupt_object_detected(void **state)
{
    struct fixture *f = *state;
    char hex[65], path[700];
    cairn_buf out = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, hex), 0);
    object_file(f, hex, path, sizeof(path));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("jello", fp);
    fclose(fp);
    assert_int_equal(cairn_blob_get(f->blob, hex, &out), CAIRN_ECORRUPT);
    assert_null(out.ptr);
    /* a put of the true content with a different size repairs it */
    fp = fopen(path, "w");
    fputs("jelly!", fp);
    fclose(fp);
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, hex), 0);
    assert_get_equals(f->blob, hex, "hello", 5);
}

static void test_open_variants(void **state)
{
    struct fixture *f = *state;
    cairn_blob *b = (cairn_blob *)f; /* poison: must be reset to NULL on failure */
    char uri[700], path[700], hex[65];

    /* file:// names the same store */
    assert_int_equal(cairn_blob_put(f->blob, "hello", 5, hex), 0);
    snprintf(uri, sizeof(uri), "file://%s", f->root);
    assert_int_equal(cairn_blob_open(&b, uri), 0);
    assert_int_equal(cairn_blob_exists(b, HELLO_SHA), 1);
    cairn_blob_close(b);
    assert_int_equal(cairn_blob_open(&b, "file://relative/dir"), CAIRN_EINVALID);
    assert_null(b);

    /* a missing nested root is created */
    snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
    assert_int_equal(cairn_blob_open(&b, path), 0);
    assert_int_equal(cairn_blob_put(b, "x", 1, hex), 0);
    cairn_blob_close(b);

    /* a regular file is not a store */
    snprintf(path, sizeof(path), "%s/plain", f->dir);
    fclose(fopen(path, "w"));
    b = (cairn_blob *)f;
    assert_true(cairn_blob_open(&b, path) < 0);
    assert_null(b);

    /* s3:// has no backend yet: a clear CAIRN_EUNSUPPORTED */
    b = (cairn_blob *)f;
    assert_int_equal(cairn_blob_open(&b, "s3://bucket/prefix"), CAIRN_EUNSUPPORTED);
    assert_null(b);
    assert_non_null(strstr(cairn_error_last()->msg, "s3"));
    assert_int_equal(cairn_blob_open(&b, "S3://bucket"), CAIRN_EUNSUPPORTED);
    assert_int_equal(cairn_blob_open(&b, "gs://bucket"), CAIRN_EUNSUPPORTED);
    assert_int_equal(cairn_blob_open(&b, ""), CAIRN_EINVALID);
    assert_int_equal(cairn_blob_open(&b, NULL), CAIRN_EINVALID);
    cairn_blob_close(NULL);
}

static void touch_tmp(struct fixture *f, const char *name, time_t mtime)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/tmp/%s", f->root, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("half an upload", fp);
    fclose(fp);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_stale_temps_swept_at_open(void **state)
{
    struct fixture *f = *state;
    char path[700];
    time_t now = time(NULL);
    cairn_blob *b;

    touch_tmp(f, "put-00000000000000000000000000000001", now - 2 * 3600);
    touch_tmp(f, "put-00000000000000000000000000000002", now - 60);
    touch_tmp(f, "other-file", now - 2 * 3600);
    assert_int_equal(cairn_blob_open(&b, f->root), 0);
    snprintf(path, sizeof(path), "%s/tmp/put-00000000000000000000000000000001", f->root);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/tmp/put-00000000000000000000000000000002", f->root);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/tmp/other-file", f->root);
    assert_int_equal(access(path, F_OK), 0);
    cairn_blob_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_put_get_empty),
        T(test_put_get_small),
        T(test_put_get_large),
        T(test_repeat_put_is_noop),
        T(test_prop_put_get_identity),
        T(test_writer_odd_chunks),
        T(test_writer_expect_hex),
        T(test_writer_abort),
        T(test_malformed_hashes),
        T(test_missing),
        T(test_list_and_delete),
        T(test_concurrent_same_content),
        T(test_put_fd_pipe),
        T(test_put_fd_file),
        T(test_corrupt_object_detected),
        T(test_open_variants),
        T(test_stale_temps_swept_at_open),
#undef T
    };
    cairn_log_set_level(CAIRN_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
