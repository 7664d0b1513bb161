/*
 * core_test.c - buffers, errors, base64, hashing, config layers and the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "cairn/config.h"
#include "cairn/core.h"

static void test_buf_limit(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(8);
    assert_int_equal(cairn_buf_puts(&b, "abcd"), 0);
    assert_int_equal(cairn_buf_puts(&b, "efgh"), 0);
    assert_string_equal(cairn_buf_cstr(&b), "abcdefgh");
    assert_int_equal(cairn_buf_putc(&b, 'x'), CAIRN_ETOOBIG);
    /* a failed append frees the buffer */
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    cairn_buf_free(&b);
}

static void test_buf_json_str(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_buf_put_json_str(&b, "a\"b\\\n\x01", 6), 0);
    assert_string_equal(cairn_buf_cstr(&b), "\"a\\\"b\\\\\\n\\u0001\"");
    cairn_buf_free(&b);
}

static void test_error_model(void **state)
{
    (void)state;
    assert_int_equal(cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "no run '%s'", "x"),
                     CAIRN_ENOTFOUND);
    assert_int_equal(cairn_error_last()->code, CAIRN_ENOTFOUND);
    assert_string_equal(cairn_error_last()->msg, "no run 'x'");
    assert_string_equal(cairn_code_name(CAIRN_ETOOBIG), "ETOOBIG");
    cairn_error_clear();
    assert_int_equal(cairn_error_last()->code, CAIRN_OK);
}

static void test_base64_roundtrip(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        cairn_buf e = CAIRN_BUF_INIT(0), d = CAIRN_BUF_INIT(0);
        assert_int_equal(cairn_base64_encode(&e, in[i], strlen(in[i])), 0);
        assert_string_equal(cairn_buf_cstr(&e), want[i]);
        assert_int_equal(cairn_base64_decode(&d, e.ptr, e.len), 0);
        assert_string_equal(cairn_buf_cstr(&d), in[i]);
        cairn_buf_free(&e);
        cairn_buf_free(&d);
    }
    cairn_buf bad = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_base64_decode(&bad, "Zm9v!", 5), CAIRN_EINVALID);
    cairn_buf_free(&bad);
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(cairn_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cairn_sha256 *h;
    assert_int_equal(cairn_sha256_new(&h), 0);
    cairn_sha256_update(h, "a", 1);
    cairn_sha256_update(h, "bc", 2);
    assert_int_equal(cairn_sha256_final_hex(h, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cairn_sha256_free(h);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    int64_t i;
    double d;
    assert_int_equal(cairn_parse_i64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(cairn_parse_i64("4x", &i), CAIRN_EINVALID);
    assert_int_equal(cairn_parse_i64("", &i), CAIRN_EINVALID);
    assert_int_equal(cairn_parse_double("1e3", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(cairn_parse_double("1e3z", &d), CAIRN_EINVALID);
}

static void test_config_layers(void **state)
{
    (void)state;
    char path[] = "/tmp/cairn-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "http:\n  port: 6000\n  body_limit: 1M\nstore.home: /tmp/h\nlog:\n  level: warn\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);

    cairn_config cfg;
    cairn_config_init(&cfg);
    assert_int_equal(cfg.http.port, 5000);
    assert_int_equal(cfg.client.tracking_uri_set, 0);
    assert_int_equal(cairn_config_load_file(&cfg, path), 0);
    assert_int_equal(cfg.http.port, 6000);
    assert_int_equal(cfg.http.body_limit, 1u << 20);
    assert_string_equal(cfg.store.home, "/tmp/h");
    assert_int_equal(cfg.log_level, CAIRN_LOG_WARN);

    char *env[] = {"CAIRN_HTTP_PORT=7000", "CAIRN_TRACKING_URI=http://x:1", "PATH=/bin", NULL};
    assert_int_equal(cairn_config_load_env(&cfg, env), 0);
    assert_int_equal(cfg.http.port, 7000);
    assert_string_equal(cfg.client.tracking_uri, "http://x:1");
    assert_int_equal(cfg.client.tracking_uri_set, 1);

    assert_int_equal(cairn_config_set(&cfg, "http.port", "7100"), 0);
    assert_int_equal(cfg.http.port, 7100);
    assert_int_equal(cairn_config_set(&cfg, "http.port", "x"), CAIRN_EINVALID);
    assert_int_equal(cairn_config_set(&cfg, "nope", "1"), CAIRN_EINVALID);

    assert_int_equal(cairn_config_finish(&cfg), 0);
    assert_string_equal(cfg.store.uri, "/tmp/h/cairn.db");
    cairn_config_free(&cfg);

    /* a bad value in the file is reported with file:line */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "http:\n  port: nope\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    cairn_config_init(&cfg);
    assert_int_equal(cairn_config_load_file(&cfg, path), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, ":2:"));
    cairn_config_free(&cfg);
    unlink(path);
}

static atomic_int counter;
static void bump(void *p)
{
    (void)p;
    atomic_fetch_add(&counter, 1);
}

static void test_pool_runs_everything(void **state)
{
    (void)state;
    cairn_pool *pool;
    assert_int_equal(cairn_pool_new(&pool, 3), 0);
    for (int i = 0; i < 1000; i++) cairn_pool_submit(pool, bump, NULL);
    cairn_pool_free(pool); /* drains */
    assert_int_equal(atomic_load(&counter), 1000);
}

static void test_uuid(void **state)
{
    (void)state;
    char a[33], b[33];
    cairn_uuid_hex(a);
    cairn_uuid_hex(b);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_limit),        cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_error_model),      cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_sha256),           cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_config_layers),    cmocka_unit_test(test_pool_runs_everything),
        cmocka_unit_test(test_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
