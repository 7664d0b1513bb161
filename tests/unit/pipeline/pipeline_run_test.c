/*
 * pipeline_run_test.c - cairn_pipeline_run and friends in a temp directory
 * with shell stages: first run, no-op second run, re-run after a dep or
 * param change, outs restored from the cache (directories too), a failure
 * blocking only its downstream, retries, timeouts killing the process
 * group, status reasons, CSV validation reports, metrics lookup and the
 * register gate refusing before any network call.
 */
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

#include "cairn/buf.h"
#include "cairn/core.h"
#include "cairn/pipeline.h"
#include "support.h"

typedef struct events {
    char log[8192];
} events;

static void on_event(const cairn_pipeline_event *ev, void *payload)
{
    events *e = payload;
    static const char *const k[] = {"skip", "restore", "start", "done",
                                    "fail", "blocked", "would", "note"};
    size_t n = strlen(e->log);
    snprintf(e->log + n, sizeof(e->log) - n, "%s:%s ", k[ev->kind], ev->stage ? ev->stage : "-");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int run(const char *dir, events *ev, const cairn_pipeline_kv *sets, int nsets,
               cairn_pipeline_result *res)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/cairn.yaml", dir);
    cairn_pipeline_run_opts o = CAIRN_PIPELINE_RUN_OPTS_INIT;
    o.progress = on_event;
    o.payload = ev;
    o.sets = sets;
    o.nsets = nsets;
    o.jobs = 4;
    ev->log[0] = '\0';
    return cairn_pipeline_run(path, &o, res);
}

static const char *PIPE = "stages:\n"
                          "  a:\n"
                          "    cmd: mkdir -p d && cat in.txt > d/x && echo 1 > d/y\n"
                          "    deps: [in.txt]\n"
                          "    outs: [d]\n"
                          "  b:\n"
                          "    cmd: \"cat d/x > b.txt; echo ${n} >> b.txt\"\n"
                          "    deps: [d]\n"
                          "    params: {n: \"1\"}\n"
                          "    outs: [b.txt]\n"
                          "  c:\n"
                          "    cmd: cat d/y > c.txt\n"
                          "    deps: [d/y]\n"
                          "    outs: [c.txt]\n";

static void test_cache_cycle(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("pipe-run");
    write_file(dir, "cairn.yaml", PIPE);
    write_file(dir, "in.txt", "hello\n");
    events ev;
    cairn_pipeline_result r;
    assert_int_equal(run(dir, &ev, NULL, 0, &r), 0);
    assert_int_equal(r.executed, 3);
    assert_false(r.tracked);
    assert_int_equal(run(dir, &ev, NULL, 0, &r), 0);
    assert_int_equal(r.executed, 0);
    assert_int_equal(r.skipped, 3);
    /* A param change: only b. */
    cairn_pipeline_kv set = {"n", "2"};
    assert_int_equal(run(dir, &ev, &set, 1, &r), 0);
    assert_string_equal(ev.log, "skip:a start:b skip:c done:b ");
    /* Outs removed: restored, the directory included, not re-run. */
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/d' '%s/b.txt'", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run(dir, &ev, &set, 1, &r), 0);
    assert_int_equal(r.restored, 2);
    assert_int_equal(r.executed, 0);
    cairn_buf b = CAIRN_BUF_INIT(0);
    snprintf(cmd, sizeof(cmd), "%s/d/x", dir);
    assert_int_equal(cairn_read_file(cmd, &b), 0);
    assert_string_equal(b.ptr, "hello\n");
    cairn_buf_free(&b);
    /* The dep changes: a and b run; c's dep d/y is unchanged so it is skipped. */
    write_file(dir, "in.txt", "changed\n");
    assert_int_equal(run(dir, &ev, &set, 1, &r), 0);
    assert_int_equal(r.executed, 2);
    assert_non_null(strstr(ev.log, "skip:c"));
    cairn_test_rmrf(dir);
    free(dir);
}

static void status_cb(const char *stage, bool ok, const char *why, void *payload)
{
    cairn_buf *b = payload;
    cairn_buf_printf(b, "%s=%s;", stage, ok ? "ok" : why);
}

static void test_status(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("pipe-status");
    write_file(dir, "cairn.yaml", PIPE);
    write_file(dir, "in.txt", "hello\n");
    char path[4200];
    snprintf(path, sizeof(path), "%s/cairn.yaml", dir);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_pipeline_status(path, NULL, 0, status_cb, &b), 0);
    assert_non_null(strstr(b.ptr, "a=never run;"));
    cairn_buf_free(&b);
    events ev;
    cairn_pipeline_result r;
    assert_int_equal(run(dir, &ev, NULL, 0, &r), 0);
    write_file(dir, "b.txt", "edited\n");
    cairn_pipeline_kv set = {"n", "5"};
    assert_int_equal(cairn_pipeline_status(path, &set, 1, status_cb, &b), 0);
    assert_string_equal(b.ptr, "a=ok;b=cmd changed; param n changed (1 -> 5);c=ok;");
    cairn_buf_free(&b);
    assert_int_equal(cairn_pipeline_status(path, NULL, 0, status_cb, &b), 0);
    assert_string_equal(b.ptr, "a=ok;b=out b.txt modified;c=ok;");
    cairn_buf_free(&b);
    write_file(dir, "in.txt", "new\n");
    assert_int_equal(cairn_pipeline_status(path, NULL, 0, status_cb, &b), 0);
    assert_string_equal(
        b.ptr, "a=dep in.txt changed;b=upstream stage a is stale;c=upstream stage a is stale;");
    cairn_buf_free(&b);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_failure_retry_timeout(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("pipe-fail");
    write_file(dir, "cairn.yaml",
               "stages:\n"
               "  ok:\n    cmd: echo ok > ok.txt\n    outs: [ok.txt]\n"
               "  flaky:\n    cmd: \"echo x >> tries; [ $(wc -l < tries) -ge 3 ]\"\n"
               "    retries: 2\n"
               "  bad:\n    cmd: exit 4\n    outs: [bad.txt]\n"
               "  after:\n    cmd: cat bad.txt\n    deps: [bad.txt]\n"
               "  slow:\n    cmd: \"sleep 30 & sleep 30; echo done > slow.txt\"\n"
               "    timeout: 200ms\n");
    events ev;
    cairn_pipeline_result r;
    int64_t t0 = cairn_monotonic_ns();
    assert_int_equal(run(dir, &ev, NULL, 0, &r), CAIRN_ERROR);
    assert_true(cairn_monotonic_ns() - t0 < 10 * 1000000000LL); /* the group was killed */
    assert_int_equal(r.executed, 2);                            /* ok, flaky (third attempt) */
    assert_int_equal(r.failed, 2);                              /* bad, slow */
    assert_int_equal(r.blocked, 1);                             /* after */
    assert_string_equal(r.failed_stage, "bad");
    assert_non_null(strstr(cairn_error_last()->msg, "stage 'bad' failed: exit status 4"));
    /* The lock kept what succeeded. */
    assert_int_equal(run(dir, &ev, NULL, 0, &r), CAIRN_ERROR);
    assert_non_null(strstr(ev.log, "skip:ok"));
    assert_non_null(strstr(ev.log, "skip:flaky"));
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_validate_and_gate(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("pipe-val");
    write_file(dir, "d.csv", "id,age,name\n1,30,a\n2,,b\n2,200,\"c,d\"\n4,x,e\n");
    const char *text = "stages:\n  v:\n    kind: validate\n    data: d.csv\n"
                       "    columns:\n      id: {type: int, unique: true}\n"
                       "      age: {type: float, min: 0, max: 120, max_missing: 0.1}\n"
                       "      zip: string\n";
    cairn_pipeline *p = NULL;
    assert_int_equal(cairn_pipeline_load_buf(&p, "v.yaml", text, strlen(text), dir, NULL, 0), 0);
    char csv[4200], *report = NULL;
    snprintf(csv, sizeof(csv), "%s/d.csv", dir);
    assert_int_equal(cairn_pipeline_validate_csv(csv, cairn_pipeline_stage_at(p, 0), &report),
                     CAIRN_EINVALID);
    assert_non_null(strstr(report, "FAIL column zip: missing from the file"));
    assert_non_null(strstr(report, "FAIL column id: 1 duplicate values (e.g. '2')"));
    assert_non_null(strstr(report, "FAIL column age: 1 values are not float (first: row 5 'x')"));
    assert_non_null(strstr(report, "FAIL column age: 1 values above max 120 (highest 200)"));
    assert_non_null(strstr(report, "FAIL column age: missing rate 0.2500 exceeds 0.1000"));
    assert_non_null(strstr(report, "4 rows, 3 columns"));
    cairn_free(report);
    cairn_pipeline_free(p);

    write_file(dir, "m.json", "{\"model\":\"gbdt\",\"test\":{\"auc\":0.8,\"acc\":0.9}}");
    char mp[4200];
    snprintf(mp, sizeof(mp), "%s/m.json", dir);
    double v = 0;
    assert_int_equal(cairn_pipeline_metric_get(mp, "auc", &v), 0);
    assert_true(v > 0.79 && v < 0.81);
    assert_int_equal(cairn_pipeline_metric_get(mp, "f1", &v), CAIRN_ENOTFOUND);
    cairn_pipeline_register_opts ro = {.tracking_uri = "http://127.0.0.1:9",
                                       .model_dir = dir,
                                       .name = "m",
                                       .metrics_path = mp,
                                       .gate_metric = "auc",
                                       .has_min = true,
                                       .gate_min = 0.9};
    int64_t ver = 0;
    assert_int_equal(cairn_pipeline_register_step(&ro, &ver), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg,
                           "promotion gate failed: auc = 0.8 is below the minimum 0.9"));
    cairn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_cycle),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_failure_retry_timeout),
        cmocka_unit_test(test_validate_and_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
