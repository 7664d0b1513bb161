/*
 * http_router_test.c - the route table and the query-name normalisation,
 * without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_internal.h"

static int h1(cairn_http_req *req, void *payload)
{
    (void)req;
    (void)payload;
    return 0;
}

static void test_match(void **state)
{
    (void)state;
    struct cairn_http_router r;
    cairn_http__router_init(&r);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_GET, "/b", 0, 0, h1, "b-get"), 0);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_POST, "/b", 0, 0, h1, "b-post"), 0);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_GET, "/a", 0, 0, h1, "a"), 0);
    assert_int_equal(
        cairn_http__router_add(&r, CAIRN_HTTP_GET, "/api/", CAIRN_HTTP_ROUTE_PREFIX, 0, h1, "api"),
        0);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_GET | CAIRN_HTTP_PUT, "/api/v2/",
                                            CAIRN_HTTP_ROUTE_PREFIX, 0, h1, "v2"),
                     0);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_DELETE, "/api/v2/x", 0, 0, h1, "x"), 0);
    assert_int_equal(cairn_http__router_add(&r, 0, "/z", 0, 0, h1, NULL), CAIRN_EINVALID);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_GET, "/z", 0, 0, NULL, NULL),
                     CAIRN_EINVALID);
    cairn_http__router_freeze(&r);
    assert_int_equal(cairn_http__router_add(&r, CAIRN_HTTP_GET, "/z", 0, 0, h1, NULL),
                     CAIRN_EINVALID);

    unsigned allow;
    const struct cairn_http_route *rt;
    rt = cairn_http__router_match(&r, "/b", CAIRN_HTTP_POST, &allow);
    assert_non_null(rt);
    assert_string_equal(rt->payload, "b-post");
    rt = cairn_http__router_match(&r, "/b", CAIRN_HTTP_GET, &allow);
    assert_string_equal(rt->payload, "b-get");
    rt = cairn_http__router_match(&r, "/b", CAIRN_HTTP_HEAD, &allow);
    assert_string_equal(rt->payload, "b-get");
    rt = cairn_http__router_match(&r, "/b", CAIRN_HTTP_DELETE, &allow);
    assert_null(rt);
    assert_int_equal(allow, CAIRN_HTTP_GET | CAIRN_HTTP_POST);
    rt = cairn_http__router_match(&r, "/b", 0, &allow);
    assert_null(rt);
    assert_int_equal(allow, CAIRN_HTTP_GET | CAIRN_HTTP_POST);
    rt = cairn_http__router_match(&r, "/bb", CAIRN_HTTP_GET, &allow);
    assert_null(rt);
    assert_int_equal(allow, 0);

    rt = cairn_http__router_match(&r, "/api/v2/models", CAIRN_HTTP_GET, &allow);
    assert_string_equal(rt->payload, "v2");
    rt = cairn_http__router_match(&r, "/api/v1", CAIRN_HTTP_GET, &allow);
    assert_string_equal(rt->payload, "api");
    /* the longer prefix forbids POST, the shorter too: 405 with both masks */
    rt = cairn_http__router_match(&r, "/api/v2/m", CAIRN_HTTP_POST, &allow);
    assert_null(rt);
    assert_int_equal(allow, CAIRN_HTTP_GET | CAIRN_HTTP_PUT);
    /* exact route first; its method mismatch falls back to the prefix */
    rt = cairn_http__router_match(&r, "/api/v2/x", CAIRN_HTTP_DELETE, &allow);
    assert_string_equal(rt->payload, "x");
    rt = cairn_http__router_match(&r, "/api/v2/x", CAIRN_HTTP_PUT, &allow);
    assert_string_equal(rt->payload, "v2");
    rt = cairn_http__router_match(&r, "/api/v2/x", CAIRN_HTTP_PATCH, &allow);
    assert_null(rt);
    assert_int_equal(allow, CAIRN_HTTP_GET | CAIRN_HTTP_PUT | CAIRN_HTTP_DELETE);
    cairn_http__router_free(&r);
}

static void test_methods(void **state)
{
    (void)state;
    char buf[64];
    cairn_http__methods_str(CAIRN_HTTP_GET | CAIRN_HTTP_DELETE | CAIRN_HTTP_HEAD, buf, sizeof(buf));
    assert_string_equal(buf, "GET, DELETE, HEAD");
    cairn_http__methods_str(0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    assert_int_equal(cairn_http__method_bit("PATCH"), CAIRN_HTTP_PATCH);
    assert_int_equal(cairn_http__method_bit("OPTIONS"), 0);
    assert_int_equal(cairn_http__method_bit("get"), 0);
}

static void test_query_names(void **state)
{
    (void)state;
    long idx;
    assert_int_equal(cairn_http__query_base_len("a[]", 3, &idx), 1);
    assert_int_equal(idx, -1);
    assert_int_equal(cairn_http__query_base_len("ab[12]", 6, &idx), 2);
    assert_int_equal(idx, 12);
    assert_int_equal(cairn_http__query_base_len("[]", 2, &idx), 2);
    assert_int_equal(cairn_http__query_base_len("[0]", 3, &idx), 3);
    assert_int_equal(idx, -1);
    assert_int_equal(cairn_http__query_base_len("a[x]", 4, &idx), 4);
    assert_int_equal(cairn_http__query_base_len("a[1234567890]", 13, &idx), 13);
    assert_int_equal(cairn_http__query_base_len("a]", 2, &idx), 2);
    assert_int_equal(cairn_http__query_base_len("", 0, &idx), 0);

    const char *raw[][2] = {{"a", "1"},       {"b[]", "x"},    {"a", "2"},    {"c[2]", "two"},
                            {"c[0]", "zero"}, {"c[1]", "one"}, {"b[]", "y"},  {"d", ""},
                            {"e[1]", "e1"},   {"e", "eplain"}, {"e[0]", "e0"}};
    struct cairn_http_qarg args[CAIRN_ARRAY_LEN(raw)];
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(raw); i++) {
        args[i].key = raw[i][0];
        args[i].val = raw[i][1];
        args[i].base_len = cairn_http__query_base_len(raw[i][0], strlen(raw[i][0]), &args[i].index);
    }
    int n = (int)CAIRN_ARRAY_LEN(raw);
    const char *v[8];
    assert_string_equal(cairn_http__query_first(args, n, "a"), "1");
    assert_string_equal(cairn_http__query_first(args, n, "b"), "x");
    assert_string_equal(cairn_http__query_first(args, n, "b[]"), "x");
    assert_string_equal(cairn_http__query_first(args, n, "d"), "");
    assert_null(cairn_http__query_first(args, n, "zz"));
    assert_int_equal(cairn_http__query_collect(args, n, "a", v, 8), 2);
    assert_string_equal(v[1], "2");
    assert_int_equal(cairn_http__query_collect(args, n, "b", v, 8), 2);
    assert_string_equal(v[0], "x");
    assert_string_equal(v[1], "y");
    /* all indexed: ordered by index */
    assert_int_equal(cairn_http__query_collect(args, n, "c", v, 8), 3);
    assert_string_equal(v[0], "zero");
    assert_string_equal(v[1], "one");
    assert_string_equal(v[2], "two");
    /* mixed forms: order of appearance */
    assert_int_equal(cairn_http__query_collect(args, n, "e", v, 8), 3);
    assert_string_equal(v[0], "e1");
    assert_string_equal(v[1], "eplain");
    assert_string_equal(v[2], "e0");
    /* bounded by max */
    assert_int_equal(cairn_http__query_collect(args, n, "c", v, 2), 2);
    assert_int_equal(cairn_http__query_collect(args, n, "nothing", v, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_query_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
