/*
 * http_server_test.c - a real server on 127.0.0.1 (ephemeral port) driven
 * through cairn_http_fetch: routing, errors, query arguments, request ids,
 * body limits and spooling, deferred answers from other threads (including
 * an answer that arrives before the handler returns), fd responses and the
 * request arena.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn/http.h"
#include "support.h"

static cairn_http_server *srv;
static cairn_buf get_buf; /* the last get()'s body */
static char base[64];

static const char *url(const char *path)
{
    static _Thread_local char u[512];
    snprintf(u, sizeof(u), "%s%s", base, path);
    return u;
}

/* Value of response header `name` in raw header lines, copied into out. */
static const char *find_header(const cairn_buf *hdrs, const char *name, char *out, size_t size)
{
    const char *p = cairn_buf_cstr(hdrs);
    size_t n = strlen(name);
    while ((p = strchr(p, '\n'))) {
        p++;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            while (*p == ' ')
                p++;
            size_t k = strcspn(p, "\r\n");
            if (k >= size) k = size - 1;
            memcpy(out, p, k);
            out[k] = '\0';
            return out;
        }
    }
    return NULL;
}

/* ---- handlers ---- */

static int h_text(cairn_http_req *req, void *payload)
{
    const char *s = payload;
    cairn_http_respond(req, 200, "text/plain", s, strlen(s));
    return 0;
}

static int h_rest(cairn_http_req *req, void *payload)
{
    char out[256];
    snprintf(out, sizeof(out), "%s:%s", (const char *)payload, cairn_http_req_rest(req));
    cairn_http_respond(req, 200, "text/plain", out, strlen(out));
    return 0;
}

static int h_query(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_buf b = CAIRN_BUF_INIT(0);
    const char *names[] = {"a", "l", "m", "n", "plus", "flag", "missing"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(names); i++) {
        const char *vals[8];
        int n = cairn_http_req_query_all(req, names[i], vals, 8);
        const char *first = cairn_http_req_query(req, names[i]);
        cairn_buf_printf(&b, "%s=%s[", names[i], first ? first : "(null)");
        for (int k = 0; k < n; k++)
            cairn_buf_printf(&b, "%s%s", k ? "," : "", vals[k]);
        cairn_buf_puts(&b, "];");
    }
    size_t len;
    char *body = cairn_buf_detach(&b, &len);
    cairn_http_respond_take(req, 200, "text/plain", body, len);
    return 0;
}

static int h_id(cairn_http_req *req, void *payload)
{
    (void)payload;
    const char *id = cairn_http_req_id(req);
    cairn_http_respond(req, 200, "text/plain", id, strlen(id));
    return 0;
}

static int h_echo_len(cairn_http_req *req, void *payload)
{
    (void)payload;
    size_t len;
    const char *b = cairn_http_req_body(req, &len);
    char out[64];
    snprintf(out, sizeof(out), "%zu:%c", len, len ? b[0] : '-');
    assert_int_equal(b[len], '\0');
    cairn_http_respond(req, 200, "text/plain", out, strlen(out));
    return 0;
}

static int h_spooled(cairn_http_req *req, void *payload)
{
    (void)payload;
    size_t len = 0;
    int fd = cairn_http_req_body_fd(req, &len);
    assert_true(fd >= 0);
    size_t mlen;
    cairn_http_req_body(req, &mlen);
    assert_int_equal(mlen, 0);
    cairn_sha256 *h;
    assert_int_equal(cairn_sha256_new(&h), 0);
    char chunk[65536];
    size_t total = 0;
    ssize_t r;
    while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
        cairn_sha256_update(h, chunk, (size_t)r);
        total += (size_t)r;
    }
    char hex[65];
    cairn_sha256_final_hex(h, hex);
    cairn_sha256_free(h);
    char out[128];
    snprintf(out, sizeof(out), "%zu %zu %s", len, total, hex);
    cairn_http_respond(req, 200, "text/plain", out, strlen(out));
    return 0;
}

static int h_fd(cairn_http_req *req, void *payload)
{
    const char *path = payload;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    cairn_http_respond_fd(req, 200, "application/octet-stream", fd, (uint64_t)size);
    return 0;
}

static int h_arena(cairn_http_req *req, void *payload)
{
    (void)payload;
    /* many sizes: inline space, shared chunks and dedicated big chunks */
    size_t sizes[] = {1, 7, 16, 100, 900, 3000, 5000, 100000, 33, 4096, 1 << 20};
    unsigned char *blocks[CAIRN_ARRAY_LEN(sizes) * 4];
    size_t nb = 0;
    for (int round = 0; round < 4; round++)
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(sizes); i++) {
            unsigned char *p = cairn_http_req_alloc(req, sizes[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
            memset(p, (int)(nb & 0xff), sizes[i]);
            blocks[nb++] = p;
        }
    for (size_t k = 0; k < nb; k++) {
        size_t sz = sizes[k % CAIRN_ARRAY_LEN(sizes)];
        for (size_t j = 0; j < sz; j += 97)
            assert_int_equal(blocks[k][j], (unsigned char)(k & 0xff));
        assert_int_equal(blocks[k][sz - 1], (unsigned char)(k & 0xff));
    }
    char *s = cairn_http_req_strdup(req, "arena-ok");
    cairn_http_set_header(req, "X-First", "1");
    cairn_http_set_header(req, "X-Second", "2");
    cairn_http_respond(req, 201, "text/plain", s, strlen(s));
    return 0;
}

static int h_fail(cairn_http_req *req, void *payload)
{
    (void)req;
    (void)payload;
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP, "broken on purpose");
}

static int h_silent(cairn_http_req *req, void *payload)
{
    (void)req;
    (void)payload;
    return 0;
}

static int h_error(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_respond_error(req, cairn_http_status_for(CAIRN_ECONFLICT), "RESOURCE_ALREADY_EXISTS",
                             "x \"quoted\"");
    return 0;
}

/* ---- deferred: a queue served by responder threads ---- */

#define QCAP 4096
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cairn_http_req *items[QCAP];
    int head, tail;
    bool stop;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, false};

static int h_defer(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_defer(req);
    pthread_mutex_lock(&q.mu);
    q.items[q.tail++ % QCAP] = req;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return 0;
}

static void *responder(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.head == q.tail && !q.stop)
            pthread_cond_wait(&q.cv, &q.mu);
        if (q.head == q.tail) {
            pthread_mutex_unlock(&q.mu);
            return NULL;
        }
        cairn_http_req *req = q.items[q.head++ % QCAP];
        pthread_mutex_unlock(&q.mu);
        size_t len;
        const char *b = cairn_http_req_body(req, &len);
        char *out = cairn_http_req_alloc(req, len + 16);
        int n = snprintf(out, len + 16, "re:%s", b);
        cairn_http_respond(req, 200, "text/plain", out, (size_t)n);
    }
}

/* Answers from another thread before the handler returns: the handler waits
 * until the answer is stored. */
static void *early_answer(void *arg)
{
    /* req belongs to the server again once answered: touch nothing after */
    cairn_http_respond(arg, 200, "text/plain", "early", 5);
    return NULL;
}

static int h_race(cairn_http_req *req, void *payload)
{
    bool wait = payload != NULL;
    cairn_http_defer(req);
    pthread_t t;
    pthread_create(&t, NULL, early_answer, req);
    if (wait) {
        /* join: the answer is stored before the handler returns (the
         * request is not touched after respond, so this is safe) */
        pthread_join(t, NULL);
    } else {
        pthread_detach(t);
    }
    return 0;
}

/* ---- fixture ---- */

static char fd_file[512];
static char *tmpdir;
static pthread_t responders[3];
static size_t alloc_before;

static int setup(void **state)
{
    (void)state;
    alloc_before = cairn_alloc_used();
    tmpdir = cairn_test_tmpdir("http");
    snprintf(fd_file, sizeof(fd_file), "%s/file.bin", tmpdir);
    FILE *f = fopen(fd_file, "wb");
    for (int i = 0; i < 100000; i++)
        fputc('a' + i % 26, f);
    fclose(f);

    cairn_http_opts o = CAIRN_HTTP_OPTS_INIT;
    o.threads = 2;
    assert_int_equal(cairn_http_server_new(&srv, &o), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/a", 0, 0, h_text, "exact-a"), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_POST, "/a", 0, 0, h_text, "post-a"), 0);
    assert_int_equal(
        cairn_http_route(srv, CAIRN_HTTP_GET, "/p/", CAIRN_HTTP_ROUTE_PREFIX, 0, h_rest, "p"), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/p/deep/", CAIRN_HTTP_ROUTE_PREFIX, 0,
                                      h_rest, "deep"),
                     0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/p/x", 0, 0, h_text, "exact-px"), 0);
    assert_int_equal(
        cairn_http_route(srv, CAIRN_HTTP_PUT | CAIRN_HTTP_DELETE, "/only", 0, 0, h_text, "only"),
        0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/q", 0, 0, h_query, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/id", 0, 0, h_id, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_POST, "/small", 0, 1024, h_echo_len, NULL),
                     0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_POST, "/upload", CAIRN_HTTP_ROUTE_BODY_FILE,
                                      8 << 20, h_spooled, NULL),
                     0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/file", 0, 0, h_fd, fd_file), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/arena", 0, 0, h_arena, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/fail", 0, 0, h_fail, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/silent", 0, 0, h_silent, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/conflict", 0, 0, h_error, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_POST, "/defer", 0, 0, h_defer, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/race-wait", 0, 0, h_race, "w"), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/race", 0, 0, h_race, NULL), 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "", 0, 0, h_text, "x"), CAIRN_EINVALID);
    assert_int_equal(cairn_http_server_start(srv), 0);
    assert_true(cairn_http_server_port(srv) > 0);
    assert_int_equal(cairn_http_route(srv, CAIRN_HTTP_GET, "/late", 0, 0, h_text, "x"),
                     CAIRN_EINVALID);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", cairn_http_server_port(srv));
    q.stop = false;
    for (int i = 0; i < 3; i++)
        pthread_create(&responders[i], NULL, responder, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pthread_mutex_lock(&q.mu);
    q.stop = true;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    for (int i = 0; i < 3; i++)
        pthread_join(responders[i], NULL);
    cairn_http_server_free(srv);
    srv = NULL;
    cairn_buf_free(&get_buf);
    cairn_test_rmrf(tmpdir);
    free(tmpdir);
    /* every request, arena and response body was released */
    assert_int_equal(cairn_alloc_used(), alloc_before);
    return 0;
}

/* GET path, expecting status; returns the body (valid until the next get;
 * main thread only). */
static const char *get(const char *path, int want_status)
{
    cairn_buf_free(&get_buf);
    cairn_buf b = CAIRN_BUF_INIT(0);
    b.max = 1 << 20;
    int status = 0;
    assert_int_equal(cairn_http_fetch("GET", url(path), NULL, NULL, 0, &status, &b), 0);
    assert_int_equal(status, want_status);
    get_buf = b;
    return cairn_buf_cstr(&get_buf);
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    (void)state;
    assert_string_equal(get("/a", 200), "exact-a");
    assert_string_equal(get("/p/", 200), "p:");
    assert_string_equal(get("/p/some/thing", 200), "p:some/thing");
    assert_string_equal(get("/p/deep/er", 200), "deep:er");
    assert_string_equal(get("/p/x", 200), "exact-px");
    assert_string_equal(get("/p/xy", 200), "p:xy");
    /* percent-decoded path */
    assert_string_equal(get("/p/a%20b", 200), "p:a b");

    cairn_buf b = CAIRN_BUF_INIT(4096);
    int status = 0;
    assert_int_equal(cairn_http_fetch("POST", url("/a"), "text/plain", "x", 1, &status, &b), 0);
    assert_int_equal(status, 200);
    assert_string_equal(cairn_buf_cstr(&b), "post-a");
    cairn_buf_free(&b);

    /* HEAD is served by GET routes, without a body */
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch("HEAD", url("/a"), NULL, NULL, 0, &status, &b), 0);
    assert_int_equal(status, 200);
    assert_int_equal(b.len, 0);
    cairn_buf_free(&b);
    assert_true(cairn_http_server_responses(srv, 200) >= 9);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(4096), h = CAIRN_BUF_INIT(8192);
    int status = 0;
    uint64_t n404 = cairn_http_server_responses(srv, 404);
    assert_int_equal(cairn_http_fetch_ex("GET", url("/nope"), NULL, NULL, NULL, 0, &status, &b, &h),
                     0);
    assert_int_equal(status, 404);
    assert_string_equal(
        cairn_buf_cstr(&b),
        "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"no endpoint for this path\"}");
    char v[160];
    assert_non_null(find_header(&h, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    assert_non_null(find_header(&h, "X-Request-Id", v, sizeof(v)));
    assert_int_equal(cairn_http_server_responses(srv, 404), n404 + 1);
    cairn_buf_free(&b);
    cairn_buf_free(&h);

    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    h = (cairn_buf)CAIRN_BUF_INIT(8192);
    assert_int_equal(cairn_http_fetch_ex("GET", url("/only"), NULL, NULL, NULL, 0, &status, &b, &h),
                     0);
    assert_int_equal(status, 405);
    assert_non_null(strstr(cairn_buf_cstr(&b), "\"error_code\":\"METHOD_NOT_ALLOWED\""));
    assert_non_null(find_header(&h, "Allow", v, sizeof(v)));
    assert_string_equal(v, "PUT, DELETE");
    cairn_buf_free(&b);
    cairn_buf_free(&h);

    /* a rejected request with a body leaves the connection usable */
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch("POST", url("/nope"), "text/plain", "abc", 3, &status, &b),
                     0);
    assert_int_equal(status, 404);
    cairn_buf_free(&b);
    assert_string_equal(get("/a", 200), "exact-a");
}

static void test_query(void **state)
{
    (void)state;
    const char *got =
        get("/q?a=x%20y&l=1&l=2&m[]=3&m%5B%5D=4&n[1]=b&n[0]=a&plus=a+b%2Bc&flag&l=%26", 200);
    assert_string_equal(got, "a=x y[x y];l=1[1,2,&];m=3[3,4];n=b[a,b];plus=a b+c[a b+c];flag=[];"
                             "missing=(null)[];");
}

static void test_request_id(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(4096), h = CAIRN_BUF_INIT(8192);
    int status = 0;
    const char *hdr[] = {"X-Request-Id: client-id-42", NULL};
    assert_int_equal(cairn_http_fetch_ex("GET", url("/id"), hdr, NULL, NULL, 0, &status, &b, &h),
                     0);
    assert_int_equal(status, 200);
    assert_string_equal(cairn_buf_cstr(&b), "client-id-42");
    char v[160];
    assert_non_null(find_header(&h, "X-Request-Id", v, sizeof(v)));
    assert_string_equal(v, "client-id-42");
    cairn_buf_free(&b);
    cairn_buf_free(&h);

    /* generated: 16 hex chars, different each time, and echoed */
    char first[32] = "";
    for (int i = 0; i < 2; i++) {
        b = (cairn_buf)CAIRN_BUF_INIT(4096);
        h = (cairn_buf)CAIRN_BUF_INIT(8192);
        assert_int_equal(
            cairn_http_fetch_ex("GET", url("/id"), NULL, NULL, NULL, 0, &status, &b, &h), 0);
        const char *id = cairn_buf_cstr(&b);
        assert_int_equal(strlen(id), 16);
        assert_int_equal(strspn(id, "0123456789abcdef"), 16);
        assert_non_null(find_header(&h, "X-Request-Id", v, sizeof(v)));
        assert_string_equal(v, id);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", id);
        else
            assert_string_not_equal(first, id);
        cairn_buf_free(&b);
        cairn_buf_free(&h);
    }

    /* an insane id (too long) is replaced */
    char longhdr[300];
    snprintf(longhdr, sizeof(longhdr), "X-Request-Id: %0200d", 7);
    const char *hdr2[] = {longhdr, NULL};
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch_ex("GET", url("/id"), hdr2, NULL, NULL, 0, &status, &b, NULL),
                     0);
    assert_int_equal(strlen(cairn_buf_cstr(&b)), 16);
    cairn_buf_free(&b);
}

static void test_body_limit(void **state)
{
    (void)state;
    char body[4096];
    memset(body, 'z', sizeof(body));
    cairn_buf b = CAIRN_BUF_INIT(4096);
    int status = 0;
    uint64_t n413 = cairn_http_server_responses(srv, 413);
    assert_int_equal(
        cairn_http_fetch("POST", url("/small"), "text/plain", body, sizeof(body), &status, &b), 0);
    assert_int_equal(status, 413);
    assert_non_null(strstr(cairn_buf_cstr(&b), "\"error_code\":\"REQUEST_LIMIT_EXCEEDED\""));
    cairn_buf_free(&b);
    assert_int_equal(cairn_http_server_responses(srv, 413), n413 + 1);

    /* the same server (and connection) keeps serving */
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch("POST", url("/small"), "text/plain", body, 1024, &status, &b),
                     0);
    assert_int_equal(status, 200);
    assert_string_equal(cairn_buf_cstr(&b), "1024:z");
    cairn_buf_free(&b);

    /* far beyond what is drained: answered at once */
    size_t big = 3 << 20;
    char *huge = malloc(big);
    memset(huge, 'y', big);
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    int rc = cairn_http_fetch("POST", url("/small"), "text/plain", huge, big, &status, &b);
    assert_int_equal(rc, 0);
    assert_int_equal(status, 413);
    cairn_buf_free(&b);
    free(huge);
    /* the same without 100-continue: the body arrives unasked */
    const char *no_expect[] = {"Expect:", NULL};
    huge = malloc(big);
    memset(huge, 'y', big);
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    rc = cairn_http_fetch_ex("POST", url("/small"), no_expect, "text/plain", huge, big, &status, &b,
                             NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(status, 413);
    cairn_buf_free(&b);
    free(huge);
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch("POST", url("/small"), "text/plain", "hi", 2, &status, &b),
                     0);
    assert_int_equal(status, 200);
    assert_string_equal(cairn_buf_cstr(&b), "2:h");
    cairn_buf_free(&b);

    /* an empty body */
    b = (cairn_buf)CAIRN_BUF_INIT(4096);
    assert_int_equal(cairn_http_fetch("POST", url("/small"), NULL, NULL, 0, &status, &b), 0);
    assert_string_equal(cairn_buf_cstr(&b), "0:-");
    cairn_buf_free(&b);

    /* the client's own bound */
    b = (cairn_buf)CAIRN_BUF_INIT(10);
    assert_int_equal(cairn_http_fetch("GET", url("/file"), NULL, NULL, 0, &status, &b),
                     CAIRN_ETOOBIG);
    cairn_buf_free(&b);
}

static void test_body_file(void **state)
{
    (void)state;
    size_t n = 5 * 1000 * 1000 + 17;
    unsigned char *data = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    char hex[65], want[128];
    assert_int_equal(cairn_sha256_hex(data, n, hex), 0);
    snprintf(want, sizeof(want), "%zu %zu %s", n, n, hex);
    cairn_buf b = CAIRN_BUF_INIT(4096);
    int status = 0;
    assert_int_equal(
        cairn_http_fetch("POST", url("/upload"), "application/octet-stream", data, n, &status, &b),
        0);
    assert_int_equal(status, 200);
    assert_string_equal(cairn_buf_cstr(&b), want);
    cairn_buf_free(&b);
    free(data);
}

static void test_fd_response(void **state)
{
    (void)state;
    const char *got = get("/file", 200);
    assert_int_equal(strlen(got), 100000);
    for (int i = 0; i < 100000; i += 1013)
        assert_int_equal(got[i], 'a' + i % 26);
}

static void test_arena_and_headers(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(4096), h = CAIRN_BUF_INIT(8192);
    int status = 0;
    assert_int_equal(
        cairn_http_fetch_ex("GET", url("/arena"), NULL, NULL, NULL, 0, &status, &b, &h), 0);
    assert_int_equal(status, 201);
    assert_string_equal(cairn_buf_cstr(&b), "arena-ok");
    char v[64];
    assert_non_null(find_header(&h, "X-First", v, sizeof(v)));
    assert_string_equal(v, "1");
    assert_non_null(find_header(&h, "X-Second", v, sizeof(v)));
    assert_string_equal(v, "2");
    assert_true(strstr(cairn_buf_cstr(&h), "X-First") < strstr(cairn_buf_cstr(&h), "X-Second"));
    cairn_buf_free(&b);
    cairn_buf_free(&h);
}

static void test_handler_errors(void **state)
{
    (void)state;
    assert_string_equal(get("/fail", 500),
                        "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"broken on purpose\"}");
    assert_non_null(strstr(get("/silent", 500), "handler produced no response"));
    assert_string_equal(
        get("/conflict", 409),
        "{\"error_code\":\"RESOURCE_ALREADY_EXISTS\",\"message\":\"x \\\"quoted\\\"\"}");
}

#define CLIENTS 4
#define PER_CLIENT 150

static void *deferred_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int bad = 0;
    for (int i = 0; i < PER_CLIENT; i++) {
        char body[64], want[80];
        snprintf(body, sizeof(body), "{\"client\":%d,\"i\":%d}", id, i);
        snprintf(want, sizeof(want), "re:%s", body);
        cairn_buf b = CAIRN_BUF_INIT(4096);
        int status = 0;
        if (cairn_http_fetch("POST", url("/defer"), "application/json", body, strlen(body), &status,
                             &b) != 0 ||
            status != 200 || strcmp(cairn_buf_cstr(&b), want) != 0)
            bad++;
        cairn_buf_free(&b);
    }
    return (void *)(intptr_t)bad;
}

static void test_deferred_many(void **state)
{
    (void)state;
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], NULL, deferred_client, (void *)(intptr_t)i);
    int bad = 0;
    for (int i = 0; i < CLIENTS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (int)(intptr_t)r;
    }
    assert_int_equal(bad, 0);
}

static void test_deferred_race(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        assert_string_equal(get("/race-wait", 200), "early");
        assert_string_equal(get("/race", 200), "early");
    }
}

static void test_client_errors(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, note it, close it */
    cairn_http_server *tmp;
    cairn_http_opts o = CAIRN_HTTP_OPTS_INIT;
    o.threads = 1;
    assert_int_equal(cairn_http_server_new(&tmp, &o), 0);
    assert_int_equal(cairn_http_server_start(tmp), 0);
    int port = cairn_http_server_port(tmp);
    cairn_http_server_free(tmp);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", port);
    cairn_buf b = CAIRN_BUF_INIT(100);
    int status = -1;
    assert_int_equal(cairn_http_fetch("GET", u, NULL, NULL, 0, &status, &b), CAIRN_EIO);
    assert_int_equal(status, 0);
    char want[128];
    snprintf(want, sizeof(want), "cannot connect to %s: Connection refused", u);
    assert_string_equal(cairn_error_last()->msg, want);
    cairn_buf_free(&b);

    /* the port is taken: start fails with EIO */
    cairn_http_server *dup;
    o.port = cairn_http_server_port(srv);
    assert_int_equal(cairn_http_server_new(&dup, &o), 0);
    assert_int_equal(cairn_http_server_start(dup), CAIRN_EIO);
    cairn_http_server_free(dup);
}

/* Stopping while a deferred request is outstanding waits for its answer. */
static cairn_http_req *parked;
static atomic_int parked_set;

static int h_park(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_defer(req);
    parked = req;
    atomic_store(&parked_set, 1);
    return 0;
}

struct park_client {
    char url[128];
    int status;
    char body[32];
};

static void *park_client_fn(void *arg)
{
    struct park_client *c = arg;
    cairn_buf b = CAIRN_BUF_INIT(4096);
    cairn_http_fetch("GET", c->url, NULL, NULL, 0, &c->status, &b);
    snprintf(c->body, sizeof(c->body), "%s", cairn_buf_cstr(&b));
    cairn_buf_free(&b);
    return NULL;
}

static void *free_server(void *arg)
{
    cairn_http_server_free(arg);
    return NULL;
}

static void test_free_waits_for_deferred(void **state)
{
    (void)state;
    size_t before = cairn_alloc_used();
    cairn_http_server *s;
    cairn_http_opts o = CAIRN_HTTP_OPTS_INIT;
    o.threads = 1;
    assert_int_equal(cairn_http_server_new(&s, &o), 0);
    assert_int_equal(cairn_http_route(s, CAIRN_HTTP_GET, "/park", 0, 0, h_park, NULL), 0);
    assert_int_equal(cairn_http_server_start(s), 0);
    struct park_client c = {.status = 0};
    snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/park", cairn_http_server_port(s));
    atomic_store(&parked_set, 0);
    pthread_t ct, ft;
    pthread_create(&ct, NULL, park_client_fn, &c);
    int64_t deadline = cairn_monotonic_ns() + 10000000000LL;
    while (!atomic_load(&parked_set) && cairn_monotonic_ns() < deadline)
        sched_yield();
    assert_true(atomic_load(&parked_set));
    pthread_create(&ft, NULL, free_server, s);
    cairn_http_respond(parked, 200, "text/plain", "late", 4);
    pthread_join(ct, NULL);
    pthread_join(ft, NULL);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body, "late");
    assert_int_equal(cairn_alloc_used(), before);
}

static void test_status_table(void **state)
{
    (void)state;
    assert_int_equal(cairn_http_status_for(CAIRN_ENOTFOUND), 404);
    assert_int_equal(cairn_http_status_for(CAIRN_EEXISTS), 409);
    assert_int_equal(cairn_http_status_for(CAIRN_ECONFLICT), 409);
    assert_int_equal(cairn_http_status_for(CAIRN_EINVALID), 400);
    assert_int_equal(cairn_http_status_for(CAIRN_ETOOBIG), 413);
    assert_int_equal(cairn_http_status_for(CAIRN_EBUSY), 503);
    assert_int_equal(cairn_http_status_for(CAIRN_EAUTH), 401);
    assert_int_equal(cairn_http_status_for(CAIRN_EUNSUPPORTED), 501);
    assert_int_equal(cairn_http_status_for(CAIRN_ERROR), 500);
    assert_int_equal(cairn_http_status_for(CAIRN_EIO), 500);
    assert_int_equal(cairn_http_status_for(CAIRN_ECORRUPT), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_query),          cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_body_limit),     cmocka_unit_test(test_body_file),
        cmocka_unit_test(test_fd_response),    cmocka_unit_test(test_arena_and_headers),
        cmocka_unit_test(test_handler_errors), cmocka_unit_test(test_deferred_many),
        cmocka_unit_test(test_deferred_race),  cmocka_unit_test(test_client_errors),
    };
    const struct CMUnitTest standalone[] = {
        cmocka_unit_test(test_free_waits_for_deferred),
        cmocka_unit_test(test_status_table),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    rc |= cmocka_run_group_tests(standalone, NULL, NULL);
    return rc;
}
