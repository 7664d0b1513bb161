/*
 * s3_sign_test.c - AWS Signature Version 4 against AWS's published examples,
 * and the S3 client's XML reader.
 *
 * Fixtures (inputs and expected outputs copied from the public documents):
 *  - S3 API Reference, "Signature Calculations for the Authorization Header:
 *    Transferring Payload in a Single Chunk (AWS Signature Version 4)",
 *    examples "GET Object", "PUT Object" and "GET Bucket (List Objects)":
 *    bucket examplebucket, key AKIAIOSFODNN7EXAMPLE, secret
 *    wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z, us-east-1.
 *  - The SigV4 test suite (aws-sig-v4-test-suite, "get-vanilla" and
 *    "get-vanilla-query-order-key-case"): AKIDEXAMPLE, secret
 *    wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, service "service", 20150830T123600Z.
 *  - IAM User Guide, "Examples of the complete Signature Version 4 signing
 *    process": GET iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08,
 *    whose derived signing key and signature the guide prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cairn/core.h"
#include "cairn/s3.h"
#include "data/s3_internal.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static void check_sig(const s3_sigv4 *sig, const char *method, const char *path, const s3_kv *q,
                      size_t nq, const s3_kv *h, size_t nh, const char *payload,
                      const char *want_creq, const char *want_sig, const char *want_auth)
{
    cairn_buf creq = CAIRN_BUF_INIT(0), sh = CAIRN_BUF_INIT(0), auth = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_s3__canonical_request(&creq, &sh, method, path, q, nq, h, nh, payload), 0);
    if (want_creq) assert_string_equal(creq.ptr, want_creq);
    char got[65];
    assert_int_equal(cairn_s3__authorization(&auth, got, sig, method, path, q, nq, h, nh, payload), 0);
    assert_string_equal(got, want_sig);
    if (want_auth) assert_string_equal(auth.ptr, want_auth);
    cairn_buf_free(&creq);
    cairn_buf_free(&sh);
    cairn_buf_free(&auth);
}

/* S3 API Reference, example "GET Object" (range request). */
static void test_s3_get_object(void **state)
{
    (void)state;
    s3_sigv4 sig = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, "us-east-1", "s3", "20130524T000000Z"};
    s3_kv h[] = {{"x-amz-date", "20130524T000000Z"}, {"Range", "bytes=0-9"},
                 {"Host", "examplebucket.s3.amazonaws.com"}, {"x-amz-content-sha256", EMPTY_SHA}};
    check_sig(&sig, "GET", "/test.txt", NULL, 0, h, 4, EMPTY_SHA,
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA,
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

    cairn_buf creq = CAIRN_BUF_INIT(0), sh = CAIRN_BUF_INIT(0), sts = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_s3__canonical_request(&creq, &sh, "GET", "/test.txt", NULL, 0, h, 4, EMPTY_SHA), 0);
    assert_int_equal(cairn_s3__string_to_sign(&sts, &sig, creq.ptr), 0);
    assert_string_equal(sts.ptr, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                                 "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    cairn_buf_free(&creq);
    cairn_buf_free(&sh);
    cairn_buf_free(&sts);
}

/* S3 API Reference, example "PUT Object": '$' in the key is percent-encoded,
 * the payload is signed by its SHA-256, and extra headers are signed. */
static void test_s3_put_object(void **state)
{
    (void)state;
    char payload[65];
    const char *body = "Welcome to Amazon S3.";
    assert_int_equal(cairn_sha256_hex(body, strlen(body), payload), 0);
    assert_string_equal(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    s3_sigv4 sig = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, "us-east-1", "s3", "20130524T000000Z"};
    s3_kv h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256", payload}};
    check_sig(&sig, "PUT", "/test$file.text", NULL, 0, h, 5, payload,
              "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
              "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:"
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
              "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
              "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd", NULL);
}

/* S3 API Reference, example "GET Bucket (List Objects)": query sorted. */
static void test_s3_list_objects(void **state)
{
    (void)state;
    s3_sigv4 sig = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, "us-east-1", "s3", "20130524T000000Z"};
    s3_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    s3_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", EMPTY_SHA}};
    check_sig(&sig, "GET", "/", q, 2, h, 3, EMPTY_SHA,
              "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
              "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
              "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA,
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", NULL);
}

/* SigV4 test suite "get-vanilla" (service "service"). */
static void test_suite_get_vanilla(void **state)
{
    (void)state;
    s3_sigv4 sig = {"AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service", "20150830T123600Z"};
    s3_kv h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    check_sig(&sig, "GET", "/", NULL, 0, h, 2, EMPTY_SHA,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA,
              "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* SigV4 test suite "get-vanilla-query-order-key-case": parameters sorted by name. */
static void test_suite_query_order(void **state)
{
    (void)state;
    s3_sigv4 sig = {"AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service", "20150830T123600Z"};
    s3_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    s3_kv h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    check_sig(&sig, "GET", "/", q, 2, h, 2, EMPTY_SHA,
              "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
              "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA,
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", NULL);
}

/* IAM User Guide example: the derived signing key and the signature. */
static void test_iam_signing_key(void **state)
{
    (void)state;
    unsigned char key[32];
    char hex[65];
    assert_int_equal(cairn_s3__signing_key(key, SUITE_SECRET, "20150830", "us-east-1", "iam"), 0);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    s3_sigv4 sig = {"AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "iam", "20150830T123600Z"};
    s3_kv q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}};
    s3_kv h[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"Host", "iam.amazonaws.com"},
                 {"X-Amz-Date", "20150830T123600Z"}};
    check_sig(&sig, "GET", "/", q, 2, h, 3, EMPTY_SHA, NULL,
              "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", NULL);
}

static void test_uri_encode(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    const char *s = "a b/c~d_e.f-g+h=i&j%k\xc3\xa9";
    assert_int_equal(cairn_s3__uri_encode(&b, s, strlen(s), true), 0);
    assert_string_equal(b.ptr, "a%20b/c~d_e.f-g%2Bh%3Di%26j%25k%C3%A9");
    cairn_buf_reset(&b);
    assert_int_equal(cairn_s3__uri_encode(&b, "x/y", 3, false), 0);
    assert_string_equal(b.ptr, "x%2Fy");
    cairn_buf_free(&b);
    /* headers: lower-cased names, trimmed values with inner runs of spaces folded */
    cairn_buf creq = CAIRN_BUF_INIT(0), sh = CAIRN_BUF_INIT(0);
    s3_kv h[] = {{"My-Header1", "   value1   a   b  "}, {"Host", "h"}};
    s3_kv q[] = {{"k y", ""}, {"a", "1/2"}};
    assert_int_equal(cairn_s3__canonical_request(&creq, &sh, "GET", "/dir/a b.txt", q, 2, h, 2, "UNSIGNED-PAYLOAD"), 0);
    assert_string_equal(creq.ptr, "GET\n/dir/a%20b.txt\na=1%2F2&k%20y=\nhost:h\nmy-header1:value1 a b\n\n"
                                  "host;my-header1\nUNSIGNED-PAYLOAD");
    cairn_buf_free(&creq);
    cairn_buf_free(&sh);
}

static const char LISTING[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix>p/</Prefix><!-- <Contents>not this</Contents> -->"
    "<IsTruncated>true</IsTruncated><NextContinuationToken>1ueG&amp;x=</NextContinuationToken>"
    "<Contents><Key>p/a &amp; b&#233;&#x4e2d;.txt</Key><Size>12</Size>"
    "<ETag>&quot;abc&quot;</ETag><LastModified>2009-10-12T17:50:30.000Z</LastModified></Contents>"
    "<Contents><Key><![CDATA[p/<raw>]]></Key><Size>0</Size><ETag/></Contents>"
    "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static void test_xml_listing(void **state)
{
    (void)state;
    size_t n = strlen(LISTING), pos = 0;
    cairn_str in, k;
    cairn_buf t = CAIRN_BUF_INIT(1024);
    assert_true(cairn_s3__xml_find(LISTING, n, "NextContinuationToken", &in));
    assert_int_equal(cairn_s3__xml_text(&t, in), 0);
    assert_string_equal(t.ptr, "1ueG&x=");
    assert_true(cairn_s3__xml_next(LISTING, n, &pos, "Contents", &in));
    assert_true(cairn_s3__xml_find(in.ptr, in.len, "Key", &k));
    cairn_buf_reset(&t);
    assert_int_equal(cairn_s3__xml_text(&t, k), 0);
    assert_string_equal(t.ptr, "p/a & b\xc3\xa9\xe4\xb8\xad.txt");
    assert_true(cairn_s3__xml_next(LISTING, n, &pos, "Contents", &in));
    assert_true(cairn_s3__xml_find(in.ptr, in.len, "Key", &k));
    cairn_buf_reset(&t);
    assert_int_equal(cairn_s3__xml_text(&t, k), 0);
    assert_string_equal(t.ptr, "p/<raw>");
    assert_true(cairn_s3__xml_find(in.ptr, in.len, "ETag", &k));
    assert_int_equal((int)k.len, 0);
    assert_false(cairn_s3__xml_next(LISTING, n, &pos, "Contents", &in));
    /* prefixes of names do not match, and truncated documents find nothing */
    assert_false(cairn_s3__xml_find(LISTING, n, "Key2", &in));
    assert_false(cairn_s3__xml_find(LISTING, 200, "Contents", &in));
    assert_false(cairn_s3__xml_find("<a><b>x</a>", 11, "b", &in));
    assert_false(cairn_s3__xml_find("<a", 2, "a", &in));
    /* nested same-name elements are matched by depth */
    assert_true(cairn_s3__xml_find("<a><a>1</a>2</a>", 16, "a", &in));
    assert_int_equal((int)in.len, 9);
    /* malformed text */
    cairn_buf_reset(&t);
    cairn_str bad = {"x &bogus; y", 11};
    assert_int_equal(cairn_s3__xml_text(&t, bad), CAIRN_EINVALID);
    cairn_str bad2 = {"&#0;", 4};
    assert_int_equal(cairn_s3__xml_text(&t, bad2), CAIRN_EINVALID);
    cairn_str bad3 = {"a<b>c</b>", 9};
    assert_int_equal(cairn_s3__xml_text(&t, bad3), CAIRN_EINVALID);
    cairn_buf_free(&t);
    cairn_buf e = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_s3__xml_escape(&e, "a<\"&'>"), 0);
    assert_string_equal(e.ptr, "a&lt;&quot;&amp;&apos;&gt;");
    cairn_buf_free(&e);
}

static void test_parse_url_and_opts(void **state)
{
    (void)state;
    char *b, *k;
    assert_int_equal(cairn_s3_parse_url("s3://bkt/a/b c.txt", &b, &k), 0);
    assert_string_equal(b, "bkt");
    assert_string_equal(k, "a/b c.txt");
    cairn_free(b);
    cairn_free(k);
    assert_int_equal(cairn_s3_parse_url("s3://bkt", &b, &k), 0);
    assert_string_equal(k, "");
    cairn_free(b);
    cairn_free(k);
    assert_int_equal(cairn_s3_parse_url("s3:///x", &b, &k), CAIRN_EINVALID);
    assert_int_equal(cairn_s3_parse_url("http://x/y", &b, &k), CAIRN_EINVALID);
    assert_null(b);

    cairn_s3 *s3 = NULL;
    cairn_s3_opts o = CAIRN_S3_OPTS_INIT;
    o.bucket = "bkt";
    o.access_key = "AK";
    o.secret_key = "SK";
    o.endpoint = "ftp://x";
    assert_int_equal(cairn_s3_new(&s3, &o), CAIRN_EINVALID);
    o.endpoint = "http://127.0.0.1:9/path";
    assert_int_equal(cairn_s3_new(&s3, &o), CAIRN_EINVALID);
    o.endpoint = "http://127.0.0.1:9";
    o.bucket = NULL;
    assert_int_equal(cairn_s3_new(&s3, &o), CAIRN_EINVALID);
    o.bucket = "bkt";
    assert_int_equal(cairn_s3_new(&s3, &o), 0);
    cairn_s3_object obj;
    assert_int_equal(cairn_s3_head(s3, "", &obj), CAIRN_EINVALID);
    cairn_s3_free(s3);
    cairn_s3_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_get_object),    cmocka_unit_test(test_s3_put_object),
        cmocka_unit_test(test_s3_list_objects),  cmocka_unit_test(test_suite_get_vanilla),
        cmocka_unit_test(test_suite_query_order), cmocka_unit_test(test_iam_signing_key),
        cmocka_unit_test(test_uri_encode),       cmocka_unit_test(test_xml_listing),
        cmocka_unit_test(test_parse_url_and_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
