/*
 * pipeline_spec_test.c - cairn.yaml parsing and the stage graph: foreach
 * and matrix expansion, built-in kinds turned into argv, params and --set,
 * exporter fields, errors with file:line and suggestions, cycles, missing
 * deps, and a seeded property test that the order is a valid topological
 * sort of random DAGs (CAIRN_PROP_ITERS, CAIRN_PROP_SEED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/buf.h"
#include "cairn/core.h"
#include "cairn/pipeline.h"
#include "support.h"

static cairn_pipeline *load(const char *text, const char *dir)
{
    cairn_pipeline *p = NULL;
    int rc = cairn_pipeline_load_buf(&p, "cairn.yaml", text, strlen(text), dir, NULL, 0);
    if (rc) fprintf(stderr, "load: %s\n", cairn_error_last()->msg);
    assert_int_equal(rc, 0);
    return p;
}

static void expect_error(const char *text, const char *msg)
{
    cairn_pipeline *p = (cairn_pipeline *)1;
    int rc = cairn_pipeline_load_buf(&p, "cairn.yaml", text, strlen(text), "/nonexistent-cairn-dir",
                                     NULL, 0);
    assert_int_equal(rc, CAIRN_EINVALID);
    assert_null(p);
    if (!strstr(cairn_error_last()->msg, msg))
        fail_msg("message '%s' lacks '%s'", cairn_error_last()->msg, msg);
}

static const cairn_pipeline_stage *stage(cairn_pipeline *p, const char *name)
{
    int i = cairn_pipeline_find(p, name);
    if (i < 0) fail_msg("no stage %s", name);
    return cairn_pipeline_stage_at(p, i);
}

static void test_foreach_matrix(void **state)
{
    (void)state;
    cairn_pipeline *p = load("stages:\n"
                             "  gen:\n"
                             "    foreach: [a, b]\n"
                             "    cmd: \"make ${item} > out_${item}\"\n"
                             "    outs: [\"out_${item}\"]\n"
                             "  grid:\n"
                             "    matrix: {lr: [1, 2], depth: [3]}\n"
                             "    cmd: [fit, \"--lr=${lr}\", \"--depth=${depth}\", \"${HOME}\"]\n"
                             "    deps: [out_a]\n",
                             "/nonexistent-cairn-dir");
    assert_int_equal(cairn_pipeline_nstages(p), 4);
    assert_string_equal(stage(p, "gen@b")->cmd, "make b > out_b");
    assert_string_equal(stage(p, "gen@b")->outs[0], "out_b");
    const cairn_pipeline_stage *g = stage(p, "grid@2-3");
    assert_int_equal(g->argc, 4);
    assert_string_equal(g->argv[1], "--lr=2");
    assert_string_equal(g->argv[2], "--depth=3");
    assert_string_equal(g->argv[3], "${HOME}"); /* unknown names are kept for the shell */
    assert_null(g->argv[4]);
    assert_int_equal(g->nupstream, 1);
    assert_string_equal(cairn_pipeline_stage_at(p, g->upstream[0])->name, "gen@a");
    assert_int_equal(cairn_pipeline_find(p, "gen"), -1);
    cairn_pipeline_free(p);
}

static void test_kinds_and_fields(void **state)
{
    (void)state;
    char *dir = cairn_test_tmpdir("pipe-spec");
    char path[4200];
    snprintf(path, sizeof(path), "%s/params.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("train:\n  n_rounds: 50\n  lr: 0.1\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/d.csv", dir);
    f = fopen(path, "w");
    fputs("a,y\n1,2\n", f);
    fclose(f);
    const char *text = "stages:\n"
                       "  t:\n"
                       "    kind: train\n"
                       "    data: d.csv\n"
                       "    target: y\n"
                       "    out: m\n"
                       "    params: [train.n_rounds]\n"
                       "    retries: 2\n"
                       "    timeout: 30m\n"
                       "    image: ghcr.io/x/cairn:1\n"
                       "    resources: {cpu: 500m, memory: 2Gi, gpu: 1}\n"
                       "    node_selector: {pool: gpu}\n"
                       "    tolerations:\n"
                       "      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n"
                       "  e:\n"
                       "    kind: evaluate\n"
                       "    model: m\n"
                       "    data: d.csv\n"
                       "    target: y\n"
                       "    out: e.json\n"
                       "  r:\n"
                       "    kind: register\n"
                       "    model: m\n"
                       "    name: bc\n"
                       "    metrics: [e.json]\n"
                       "    gate: {metric: auc, min: 0.9}\n"
                       "  v:\n"
                       "    kind: validate\n"
                       "    data: d.csv\n"
                       "    max_missing: 0.1\n"
                       "    columns: {a: {type: int, min: 0, unique: true}, y: float}\n";
    cairn_pipeline_kv sets[] = {{"train.n_rounds", "70"}};
    cairn_pipeline *p = NULL;
    int rc = cairn_pipeline_load_buf(&p, "x.yaml", text, strlen(text), dir, sets, 1);
    if (rc) fail_msg("%s", cairn_error_last()->msg);
    const cairn_pipeline_stage *t = stage(p, "t");
    assert_int_equal(t->kind, CAIRN_STAGE_TRAIN);
    const char *want[] = {"cairn",   "train", "--data", "d.csv", "--target", "y",
                          "--model", "gbdt",  "--out",  "m",     "--set",    "n_rounds=70"};
    assert_int_equal(t->argc, 12);
    for (int i = 0; i < 12; i++)
        assert_string_equal(t->argv[i], want[i]);
    assert_int_equal(t->retries, 2);
    assert_int_equal(t->timeout_ms, 30 * 60 * 1000);
    assert_string_equal(t->image, "ghcr.io/x/cairn:1");
    assert_string_equal(t->cpu, "500m");
    assert_string_equal(t->memory, "2Gi");
    assert_int_equal(t->gpu, 1);
    assert_string_equal(t->node_selector[0].value, "gpu");
    assert_int_equal(t->ntolerations, 1);
    assert_string_equal(t->tolerations[0].op, "Exists");
    assert_string_equal(t->outs[0], "m");
    assert_string_equal(t->metrics[0], "m/metrics.json");
    const cairn_pipeline_stage *e = stage(p, "e");
    assert_string_equal(e->stdout_path, "e.json");
    assert_int_equal(e->nupstream, 1);
    const cairn_pipeline_stage *r = stage(p, "r");
    assert_string_equal(r->argv[2], "_register");
    int found = 0;
    for (int i = 0; i + 1 < r->argc; i++)
        if (!strcmp(r->argv[i], "--gate-min") && !strcmp(r->argv[i + 1], "0.9")) found = 1;
    assert_true(found);
    assert_int_equal(r->nupstream, 2); /* t (model) and e (e.json) */
    const cairn_pipeline_stage *v = stage(p, "v");
    assert_int_equal(v->nrules, 2);
    assert_true(v->rules[0].unique && v->rules[0].has_min && !v->rules[0].has_max);
    assert_string_equal(v->rules[1].type, "float");
    assert_true(v->max_missing > 0.09 && v->max_missing < 0.11);
    /* Order: t before e before r. */
    const int *ord = cairn_pipeline_order(p);
    int pt = -1, pe = -1, pr = -1;
    for (int i = 0; i < cairn_pipeline_nstages(p); i++) {
        const char *n = cairn_pipeline_stage_at(p, ord[i])->name;
        if (!strcmp(n, "t")) pt = i;
        if (!strcmp(n, "e")) pe = i;
        if (!strcmp(n, "r")) pr = i;
    }
    assert_true(pt < pe && pe < pr);
    cairn_pipeline_free(p);
    cairn_test_rmrf(dir);
    free(dir);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("stages:\n  a:\n    cmd: x\n    dpes: [y]\n",
                 "cairn.yaml:4: unknown key 'dpes' in stage 'a' (did you mean 'deps'?)");
    expect_error("stagse: {}\n",
                 "cairn.yaml:1: unknown top-level key 'stagse' (did you mean 'stages'?)");
    expect_error("stages:\n  a:\n    cmd: x\n    target: y\n",
                 "cairn.yaml:4: unknown key 'target'");
    expect_error(
        "stages:\n  a:\n    cmd: x\n    deps:\n      - missing.txt\n",
        "cairn.yaml:5: stage 'a': dep 'missing.txt' does not exist and no stage produces it");
    expect_error("stages:\n  a:\n    cmd: x\n    deps: [b]\n    outs: [a]\n"
                 "  b:\n    cmd: y\n    deps: [a]\n    outs: [b]\n",
                 "cycle: ");
    expect_error("stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o/p]\n",
                 "overlaps out 'o'");
    expect_error("stages:\n  a:\n    cmd: x\n    timeout: soon\n",
                 "cairn.yaml:4: 'timeout' wants a duration");
    expect_error("stages:\n  a:\n    kind: fit\n", "cairn.yaml:3: unknown kind 'fit'");
    expect_error(
        "stages:\n  a:\n    kind: train\n    cmd: x\n    data: d\n    target: t\n    out: o\n",
        "a built-in kind takes no cmd");
    expect_error("stages:\n  a:\n    cmd: x\n    params: [nope]\n",
                 "param 'nope' is not in the params file");
    expect_error("stages:\n  a: [\n", "cairn.yaml:");
    expect_error("stages:\n  a:\n    deps: []\n", "stage 'a' has no cmd and no kind");
    expect_error("stages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n", "defined twice");
    expect_error("stages:\n  a:\n    cmd: x\n    foreach: []\n",
                 "'foreach' wants a non-empty list");
}

/* Seeded PRNG (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void test_topo_property(void **state)
{
    (void)state;
    const char *it = getenv("CAIRN_PROP_ITERS"), *sd = getenv("CAIRN_PROP_SEED");
    int iters = it ? atoi(it) : 200; /* NOLINT: test code */
    uint64_t seed = sd ? strtoull(sd, NULL, 10) : 0x9e3779b97f4a7c15ULL;
    printf("topo property: seed %llu, %d iterations\n", (unsigned long long)seed, iters);
    uint64_t s = seed;
    for (int k = 0; k < iters; k++) {
        int n = 1 + (int)(rnd(&s) % 12);
        cairn_buf b = CAIRN_BUF_INIT(0);
        cairn_buf_puts(&b, "stages:\n");
        /* Stage i may depend on outs of stages j < i (a DAG), listed in shuffled names. */
        int perm[12];
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(rnd(&s) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int edge[12][12] = {{0}};
        for (int q = 0; q < n; q++) {
            int i = perm[q];
            cairn_buf_printf(&b, "  s%d:\n    cmd: x\n    outs: [o%d]\n    deps: [", i, i);
            int first = 1;
            for (int j = 0; j < i; j++)
                if (rnd(&s) % 3 == 0) {
                    cairn_buf_printf(&b, "%so%d", first ? "" : ", ", j);
                    first = 0;
                    edge[j][i] = 1;
                }
            cairn_buf_puts(&b, "]\n");
        }
        cairn_pipeline *p = NULL;
        if (cairn_pipeline_load_buf(&p, "r.yaml", b.ptr, b.len, "/nonexistent", NULL, 0))
            fail_msg("seed %llu iter %d: %s", (unsigned long long)seed, k, cairn_error_last()->msg);
        const int *ord = cairn_pipeline_order(p);
        int pos[12];
        for (int i = 0; i < n; i++) {
            int id = atoi(cairn_pipeline_stage_at(p, ord[i])->name + 1); /* NOLINT: test code */
            pos[id] = i;
        }
        for (int a = 0; a < n; a++)
            for (int c = 0; c < n; c++)
                if (edge[a][c] && pos[a] >= pos[c])
                    fail_msg("seed %llu iter %d: s%d must precede s%d", (unsigned long long)seed, k,
                             a, c);
        cairn_pipeline_free(p);
        cairn_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreach_matrix),
        cmocka_unit_test(test_kinds_and_fields),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_topo_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
