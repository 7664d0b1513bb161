/*
 * data_format_test.c - the pointer file and manifest formats: round trips,
 * and refusal of hand-edited or damaged text with the right file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/data.h"
#include "support.h"

#define H1 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H2 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static int parse(const char *text, cairn_data_pointer *p)
{
    return cairn_data_pointer_parse(p, text, strlen(text), "x.cairn");
}

static void test_pointer_ok(void **state)
{
    (void)state;
    cairn_data_pointer p;
    assert_int_equal(
        parse("# comment\nversion: 1\nkind: dir\nhash: " H1 "\nsize: 12\nfiles: 3\n", &p), 0);
    assert_int_equal(p.kind, CAIRN_DATA_DIR);
    assert_string_equal(p.hash, H1);
    assert_int_equal(p.size, 12);
    assert_int_equal(p.files, 3);
    /* order free, quoted values, CRLF, no final newline */
    assert_int_equal(parse("files: 1\r\nhash: \"" H2 "\"\r\nkind: file\nsize: 0\nversion: 1", &p),
                     0);
    assert_int_equal(p.kind, CAIRN_DATA_FILE);
    assert_string_equal(p.hash, H2);
}

static void expect_bad(const char *text, const char *msg_part)
{
    cairn_data_pointer p;
    assert_int_equal(parse(text, &p), CAIRN_EINVALID);
    const char *m = cairn_error_last()->msg;
    if (!strstr(m, msg_part)) fail_msg("message '%s' lacks '%s'", m, msg_part);
}

static void test_pointer_bad(void **state)
{
    (void)state;
    expect_bad("version: 1\nkind: file\nhash: " H1 "x\nsize: 1\nfiles: 1\n", "x.cairn:3: hash");
    expect_bad("version: 1\nkind: file\nhash: " H1 "\nsize: -1\nfiles: 1\n", "x.cairn:4: size");
    expect_bad("version: 1\nkind: file\nhash: " H1 "\nsize: 1\nfiles: 1\nowner: me\n",
               "x.cairn:6: unknown key 'owner'");
    expect_bad("version: 1\nkind: file\nkind: dir\n", "x.cairn:3: repeated key 'kind'");
    expect_bad("version: 2\n", "x.cairn:1: unsupported pointer version");
    expect_bad("version: 1\nkind: blob\n", "x.cairn:2: kind");
    expect_bad("version: 1\nkind: file\nhash: " H1 "\nsize: 1\n", "missing key 'files'");
    expect_bad("version: 1\nkind: file\n  hash: " H1 "\n", "x.cairn:3: unexpected indentation");
    expect_bad("version: 1\nkind: file\nhash " H1 "\n", "x.cairn:3: expected 'key: value'");
    expect_bad("version: 1\nkind: file\nhash: " H1 "\nsize: 1\nfiles: 2\n", "files: 1");
    expect_bad("version: 1\nsize: 99999999999999999999999\n", "x.cairn:2: size");
}

static void test_pointer_save_load(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("data_fmt");
    char path[512];
    snprintf(path, sizeof(path), "%s/d.cairn", dir);
    cairn_data_pointer p = {CAIRN_DATA_DIR, H2, 123456789012ULL, 42}, q;
    assert_int_equal(cairn_data_pointer_save(&p, path), 0);
    assert_int_equal(cairn_data_pointer_load(&q, path), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    snprintf(path, sizeof(path), "%s/none.cairn", dir);
    assert_int_equal(cairn_data_pointer_load(&q, path), CAIRN_ENOTFOUND);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_manifest_roundtrip(void **state)
{
    (void)state;
    cairn_data_manifest m = {0}, back = {0};
    cairn_data_manifest_add(&m, CAIRN_DATA_ENT_FILE, "z/last file.bin", NULL, H1, 0, 0100644);
    cairn_data_manifest_add(&m, CAIRN_DATA_ENT_LINK, "a link", "../outside/target", NULL, 0, 0);
    cairn_data_manifest_add(&m, CAIRN_DATA_ENT_DIR, "empty dir", NULL, NULL, 0, 0755);
    cairn_data_manifest_add(&m, CAIRN_DATA_ENT_FILE, "ünï/コード.txt", NULL, H2, 5, 0600);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_data_manifest_format(&m, &b), 0);
    static const char head[] =
        "cairn-manifest 1\nl\t../outside/target\ta link\nd\t0755\tempty dir\n";
    assert_true(strncmp(b.ptr, head, sizeof(head) - 1) == 0);
    assert_int_equal(cairn_data_manifest_parse(&back, b.ptr, b.len, "m"), 0);
    assert_int_equal(back.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(back.entries[i].path, m.entries[i].path);
        assert_int_equal(back.entries[i].type, m.entries[i].type);
        assert_int_equal(back.entries[i].mode, m.entries[i].mode);
        assert_int_equal(back.entries[i].size, m.entries[i].size);
        assert_string_equal(back.entries[i].hash, m.entries[i].hash);
    }
    const cairn_data_entry *e = cairn_data_manifest_find(&back, "ünï/コード.txt");
    assert_non_null(e);
    assert_string_equal(e->hash, H2);
    assert_null(cairn_data_manifest_find(&back, "nope"));
    assert_string_equal(cairn_data_manifest_find(&back, "a link")->target, "../outside/target");
    /* the same text again: formatting is canonical */
    cairn_buf b2 = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_data_manifest_format(&back, &b2), 0);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.ptr, b2.ptr, b.len);
    cairn_buf_free(&b);
    cairn_buf_free(&b2);
    cairn_data_manifest_clear(&m);
    cairn_data_manifest_clear(&back);
}

static void test_manifest_bad(void **state)
{
    (void)state;
    cairn_data_manifest m = {0};
    cairn_data_manifest_add(&m, CAIRN_DATA_ENT_FILE, "tab\there", NULL, H1, 0, 0644);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_data_manifest_format(&m, &b), CAIRN_EINVALID);
    cairn_buf_free(&b);
    cairn_data_manifest_clear(&m);
    static const char *const bad[] = {
        "not a manifest\n",
        "cairn-manifest 1\nf\t0644\t" H1 "\t1\n",                           /* missing path */
        "cairn-manifest 1\nf\t0644\t" H1 "\t1\tb\nf\t0644\t" H1 "\t1\ta\n", /* unsorted */
        "cairn-manifest 1\nf\t0644\t" H1 "\t1\ta\nf\t0644\t" H1 "\t1\ta\n", /* repeated */
        "cairn-manifest 1\nf\t9999\t" H1 "\t1\ta\n",                        /* mode */
        "cairn-manifest 1\nx\ta\n",                                         /* type */
        "cairn-manifest 1\nd\t0755\ta",                                     /* truncated */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cairn_data_manifest out = {0};
        assert_int_equal(cairn_data_manifest_parse(&out, bad[i], strlen(bad[i]), "m"),
                         CAIRN_EINVALID);
        assert_int_equal(out.n, 0);
        assert_true(strncmp(cairn_error_last()->msg, "m:", 2) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_ok),        cmocka_unit_test(test_pointer_bad),
        cmocka_unit_test(test_pointer_save_load), cmocka_unit_test(test_manifest_roundtrip),
        cmocka_unit_test(test_manifest_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
