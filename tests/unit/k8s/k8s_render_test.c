/*
 * k8s_render_test.c - the YAML emitter's quoting, and the Job, CronJob,
 * Workflow and per-step Jobs renderers. YAML output is read back with
 * libyaml (a YAML 1.1 parser, like kubectl's) into a jansson tree and
 * compared with the JSON rendering of the same manifest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cairn/k8s.h"

/* ---- a small YAML 1.1 loader (libyaml events -> jansson) ---- */

/* Plain scalars resolve as YAML 1.1 would for the types we care about;
 * anything not recognised stays a string. */
static json_t *resolve_plain(const char *s)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                    "on",   "On",   "ON",   "y",   "Y"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO",
                                    "off",   "Off",   "OFF",   "n",  "N"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!strcmp(s, t[i])) return json_true();
        if (!strcmp(s, f[i])) return json_false();
    }
    if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) return json_null();
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && strspn(s, "-+0123456789") == strlen(s)) return json_integer(v);
    double d = strtod(s, &end);
    if (*s && !*end) return json_real(d);
    return json_string(s);
}

static json_t *load_node(yaml_parser_t *p, yaml_event_t *ev);

static json_t *load_next(yaml_parser_t *p)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev)) return NULL;
    json_t *v = load_node(p, &ev);
    yaml_event_delete(&ev);
    return v;
}

/* Builds the node starting with ev (scalar, mapping or sequence start). */
static json_t *load_node(yaml_parser_t *p, yaml_event_t *ev)
{
    if (ev->type == YAML_SCALAR_EVENT) {
        const char *s = (const char *)ev->data.scalar.value;
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return resolve_plain(s);
        return json_string(s);
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        json_t *a = json_array();
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(p, &e)) return NULL;
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                return a;
            }
            json_array_append_new(a, load_node(p, &e));
            yaml_event_delete(&e);
        }
    }
    if (ev->type == YAML_MAPPING_START_EVENT) {
        json_t *o = json_object();
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(p, &e)) return NULL;
            if (e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                return o;
            }
            char *key = strdup((const char *)e.data.scalar.value);
            yaml_event_delete(&e);
            json_object_set_new(o, key, load_next(p));
            free(key);
        }
    }
    return NULL;
}

/* Every document of text, as a JSON array; fails the test on a parse error. */
static json_t *load_yaml(const char *text)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    json_t *docs = json_array();
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            fprintf(stderr, "yaml error: %s at line %zu\n%s\n", p.problem, p.problem_mark.line + 1,
                    text);
            fail();
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            json_array_append_new(docs, load_next(&p));
            continue;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return docs;
}

/* The style libyaml reports for the value of key "k" in a one-key doc. */
static yaml_scalar_style_t value_style(const char *text)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    int scalars = 0;
    for (;;) {
        yaml_event_t ev;
        assert_true(yaml_parser_parse(&p, &ev));
        yaml_event_type_t t = ev.type;
        if (t == YAML_SCALAR_EVENT && ++scalars == 2) style = ev.data.scalar.style;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return style;
}

/* "k: S\nlist:\n  - S\n" built with cairn_k8s_yaml_scalar (malloc'd). */
static char *scalar_doc(const char *str)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_buf_puts(&b, "k: "), 0);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, str, 2, 1), 0);
    if (b.ptr[b.len - 1] != '\n') assert_int_equal(cairn_buf_putc(&b, '\n'), 0);
    assert_int_equal(cairn_buf_puts(&b, "list:\n  - "), 0);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, str, 4, 1), 0);
    if (b.ptr[b.len - 1] != '\n') assert_int_equal(cairn_buf_putc(&b, '\n'), 0);
    char *text = strdup(cairn_buf_cstr(&b));
    cairn_buf_free(&b);
    return text;
}

/* ---- quoting ---- */

static const char *const tricky[] = {
    "yes",
    "no",
    "Yes",
    "NO",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "",
    "8080",
    "0",
    "-1",
    "1.5",
    "1e3",
    "0x1F",
    "0o17",
    ".inf",
    ".NaN",
    "1:30",
    "12:30:00",
    "2024-01-01",
    "-",
    "- item",
    "--",
    "---",
    "...",
    "a: b",
    "key:",
    "# comment",
    "a #b",
    "*alias",
    "&anchor",
    "!tag",
    "|",
    ">",
    "@at",
    "`tick",
    "%pct",
    "{a: 1}",
    "[1, 2]",
    "'single'",
    "\"double\"",
    " leading",
    "trailing ",
    "line1\nline2",
    "tab\there",
    "ends with newline\n",
    "two newlines\n\n",
    "\nleading newline",
    "back\\slash",
    "=",
    "?",
    "?x",
    ": x",
    "ünïcode",
    "ctrl\x01x",
    "cr\rlf",
    "<<",
};

/* Strings that should stay plain for readability. */
static const char *const readable[] = {
    "cairn",
    "--data",
    "-v",
    "/data/train.csv",
    "python:3.11",
    "nvidia.com/gpu",
    "cairn.dev/depends-on",
    "ghcr.io/org/img:v1.2",
    "s3://bucket/prefix",
    "NoSchedule",
    "with inner spaces",
    "k=v",
    "a,b",
};

static void test_yaml_quoting_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        json_t *doc = json_pack("{s:s,s:[s]}", "k", tricky[i], "list", tricky[i]);
        char *yaml = scalar_doc(tricky[i]);
        json_t *back = load_yaml(yaml);
        if (!json_equal(json_array_get(back, 0), doc)) {
            fprintf(stderr, "string %zu did not round-trip:\n%s\n", i, yaml);
            fail();
        }
        json_decref(back);
        json_decref(doc);
        free(yaml);
    }
}

static void test_yaml_tricky_are_not_plain(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        char *yaml = scalar_doc(tricky[i]);
        if (value_style(yaml) == YAML_PLAIN_SCALAR_STYLE) {
            fprintf(stderr, "tricky string written plain: %s", yaml);
            fail();
        }
        free(yaml);
    }
    for (size_t i = 0; i < sizeof(readable) / sizeof(readable[0]); i++) {
        char *yaml = scalar_doc(readable[i]);
        assert_int_equal(value_style(yaml), YAML_PLAIN_SCALAR_STYLE);
        free(yaml);
    }
}

static void test_yaml_scalar_forms(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, "yes", 0, 0), 0);
    assert_string_equal(cairn_buf_cstr(&b), "\"yes\"");
    cairn_buf_reset(&b);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, "a\"b\\c\x01", 0, 0), 0);
    assert_string_equal(cairn_buf_cstr(&b), "\"a\\\"b\\\\c\\u0001\"");
    cairn_buf_reset(&b);
    /* multi-line: a literal block when allowed, chomping by trailing newlines */
    assert_int_equal(cairn_k8s_yaml_scalar(&b, "set -e\necho hi", 4, 1), 0);
    assert_string_equal(cairn_buf_cstr(&b), "|-\n    set -e\n    echo hi\n");
    cairn_buf_reset(&b);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, "a\n", 2, 1), 0);
    assert_string_equal(cairn_buf_cstr(&b), "|\n  a\n");
    cairn_buf_reset(&b);
    assert_int_equal(cairn_k8s_yaml_scalar(&b, "a\nb", 2, 0), 0);
    assert_string_equal(cairn_buf_cstr(&b), "\"a\\nb\"");
    cairn_buf_free(&b);
}

static void test_label_name_and_shell_word(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(cairn_k8s_label_name("Train_Model v2", out, sizeof(out)), 0);
    assert_string_equal(out, "train-model-v2");
    assert_int_equal(cairn_k8s_label_name("feat@a", out, sizeof(out)), 0);
    assert_string_equal(out, "feat-a");
    assert_int_equal(cairn_k8s_label_name("__", out, sizeof(out)), CAIRN_EINVALID);
    char longname[100];
    memset(longname, 'a', 99);
    longname[99] = '\0';
    assert_int_equal(cairn_k8s_label_name(longname, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), 63);
    cairn_buf b = CAIRN_BUF_INIT(0);
    assert_int_equal(cairn_k8s_shell_word(&b, "data/x.csv"), 0);
    assert_int_equal(cairn_buf_putc(&b, ' '), 0);
    assert_int_equal(cairn_k8s_shell_word(&b, "it's $HOME"), 0);
    assert_int_equal(cairn_buf_putc(&b, ' '), 0);
    assert_int_equal(cairn_k8s_shell_word(&b, ""), 0);
    assert_string_equal(cairn_buf_cstr(&b), "data/x.csv 'it'\\''s $HOME' ''");
    cairn_buf_free(&b);
}

/* ---- renderers ---- */

/* Renders with f in both formats; checks the YAML reads back as the JSON
 * and returns the JSON document(s) (array of docs). */
typedef int (*render_fn)(const void *in, cairn_k8s_format fmt, cairn_buf *out);

static json_t *render_both(render_fn f, const void *in)
{
    cairn_buf y = CAIRN_BUF_INIT(0), j = CAIRN_BUF_INIT(0);
    int rc = f(in, CAIRN_K8S_YAML, &y);
    if (rc) fprintf(stderr, "render: %s\n", cairn_error_last()->msg);
    assert_int_equal(rc, 0);
    assert_int_equal(f(in, CAIRN_K8S_JSON, &j), 0);
    json_error_t err;
    json_t *js = json_loads(cairn_buf_cstr(&j), 0, &err);
    assert_non_null(js);
    json_t *docs;
    if (json_is_object(js) && !strcmp(json_string_value(json_object_get(js, "kind")), "List")) {
        docs = json_incref(json_object_get(js, "items"));
        json_decref(js);
    } else {
        docs = json_array();
        json_array_append_new(docs, js);
    }
    json_t *ys = load_yaml(cairn_buf_cstr(&y));
    if (!json_equal(ys, docs)) {
        fprintf(stderr, "YAML and JSON differ:\n%s\n%s\n", cairn_buf_cstr(&y), cairn_buf_cstr(&j));
        fail();
    }
    json_decref(ys);
    cairn_buf_free(&y);
    cairn_buf_free(&j);
    return docs;
}

static int job_fn(const void *in, cairn_k8s_format fmt, cairn_buf *out)
{
    return cairn_k8s_render_job(in, fmt, out);
}

static const cairn_k8s_cron *the_cron;
static int cron_fn(const void *in, cairn_k8s_format fmt, cairn_buf *out)
{
    return cairn_k8s_render_cronjob(in, the_cron, fmt, out);
}

static int wf_fn(const void *in, cairn_k8s_format fmt, cairn_buf *out)
{
    return cairn_k8s_render_workflow(in, fmt, out);
}

static int jobs_fn(const void *in, cairn_k8s_format fmt, cairn_buf *out)
{
    return cairn_k8s_render_jobs(in, fmt, out);
}

static const char *const train_cmd[] = {"cairn",    "train", "--data", "/data/train.csv",
                                        "--target", "y",     "--set",  "n_rounds=200"};
static const cairn_k8s_kv gpu_nodes[] = {{"cloud.google.com/gke-accelerator", "nvidia-tesla-t4"},
                                         {"pool", "yes"}};
static const cairn_k8s_toleration gpu_tol[] = {{"nvidia.com/gpu", "Exists", NULL, "NoSchedule"},
                                               {"team", NULL, "ml:research", "NoExecute"}};
static const cairn_k8s_volume pvcs[] = {{NULL, "train-data", "/data", 1},
                                        {"ckpt", "checkpoints", "/ckpt", 0}};
static const cairn_k8s_env envs[] = {{"PORT", "8080", NULL, NULL},
                                     {"AWS_ACCESS_KEY_ID", NULL, "s3-creds", "access-key"}};
static const char *const secrets[] = {"s3-creds"};
static const cairn_k8s_kv labels[] = {{"app.kubernetes.io/part-of", "cairn"}};
static const cairn_k8s_kv annots[] = {{"note", "multi\nline: yes"}};

static cairn_k8s_workload train_workload(void)
{
    cairn_k8s_workload w = CAIRN_K8S_WORKLOAD_INIT;
    w.name = "train-gbdt";
    w.image = "ghcr.io/org/cairn:1.0";
    w.command = train_cmd;
    w.ncommand = 8;
    w.env = envs;
    w.nenv = 2;
    w.env_from_secrets = secrets;
    w.nenv_from_secrets = 1;
    w.resources = (cairn_k8s_resources){"2", NULL, "8Gi", "8Gi", 1};
    w.node_selector = gpu_nodes;
    w.nnode_selector = 2;
    w.tolerations = gpu_tol;
    w.ntolerations = 2;
    w.volumes = pvcs;
    w.nvolumes = 2;
    w.service_account = "trainer";
    w.backoff_limit = 3;
    w.active_deadline_seconds = 3600;
    w.labels = labels;
    w.nlabels = 1;
    w.annotations = annots;
    w.nannotations = 1;
    return w;
}

static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, ".")) {
        if (tok[0] >= '0' && tok[0] <= '9')
            v = json_array_get(v, (size_t)strtoul(tok, NULL, 10));
        else
            v = json_object_get(v, strcmp(tok, "GPU") ? tok : "nvidia.com/gpu");
    }
    return v;
}

#define assert_str_at(v, path, s)                                                                  \
    do {                                                                                           \
        json_t *x_ = at((v), (path));                                                              \
        if (!json_is_string(x_)) {                                                                 \
            fprintf(stderr, "no string at %s\n", (path));                                          \
            fail();                                                                                \
        }                                                                                          \
        assert_string_equal(json_string_value(x_), (s));                                           \
    } while (0)
#define assert_int_at(v, path, n) assert_int_equal(json_integer_value(at((v), (path))), (n))

static void test_job(void **state)
{
    (void)state;
    cairn_k8s_workload w = train_workload();
    json_t *docs = render_both(job_fn, &w);
    json_t *job = json_array_get(docs, 0);
    assert_str_at(job, "apiVersion", "batch/v1");
    assert_str_at(job, "kind", "Job");
    assert_str_at(job, "metadata.name", "train-gbdt");
    assert_str_at(job, "metadata.annotations.note", "multi\nline: yes");
    assert_int_at(job, "spec.backoffLimit", 3);
    assert_int_at(job, "spec.activeDeadlineSeconds", 3600);
    json_t *pod = at(job, "spec.template.spec");
    assert_str_at(pod, "restartPolicy", "Never");
    assert_str_at(pod, "serviceAccountName", "trainer");
    assert_str_at(pod, "nodeSelector.pool", "yes");
    assert_str_at(pod, "tolerations.0.operator", "Exists");
    assert_str_at(pod, "tolerations.0.effect", "NoSchedule");
    assert_str_at(pod, "tolerations.1.operator", "Equal");
    assert_str_at(pod, "tolerations.1.value", "ml:research");
    assert_str_at(pod, "volumes.0.name", "train-data");
    assert_str_at(pod, "volumes.0.persistentVolumeClaim.claimName", "train-data");
    assert_str_at(pod, "volumes.1.name", "ckpt");
    json_t *c = at(pod, "containers.0");
    assert_str_at(c, "name", "main");
    assert_str_at(c, "command.7", "n_rounds=200");
    assert_str_at(c, "env.0.value", "8080");
    assert_str_at(c, "env.1.valueFrom.secretKeyRef.name", "s3-creds");
    assert_str_at(c, "envFrom.0.secretRef.name", "s3-creds");
    assert_str_at(c, "resources.requests.GPU", "1");
    assert_str_at(c, "resources.limits.GPU", "1");
    assert_str_at(c, "resources.requests.cpu", "2");
    assert_null(at(c, "resources.limits.cpu"));
    assert_str_at(c, "resources.limits.memory", "8Gi");
    assert_true(json_is_true(at(c, "volumeMounts.0.readOnly")));
    assert_str_at(c, "volumeMounts.1.mountPath", "/ckpt");
    json_decref(docs);
}

static void test_job_errors(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_k8s_workload w = train_workload();
    w.name = "Bad_Name";
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "DNS-1123"));
    w = train_workload();
    w.image = NULL;
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    w = train_workload();
    w.resources.memory_limit = "8 GB";
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    cairn_k8s_toleration bad = {"k", NULL, "v", "NoRun"};
    w = train_workload();
    w.tolerations = &bad;
    w.ntolerations = 1;
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    cairn_k8s_toleration bad2 = {"k", "Exists", "v", NULL};
    w.tolerations = &bad2;
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    cairn_k8s_volume rel = {NULL, "claim", "data", 0};
    w = train_workload();
    w.volumes = &rel;
    w.nvolumes = 1;
    assert_int_equal(cairn_k8s_render_job(&w, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_int_equal(b.len, 0);
    cairn_buf_free(&b);
}

static void test_cronjob(void **state)
{
    (void)state;
    cairn_k8s_workload w = train_workload();
    cairn_k8s_cron cron = CAIRN_K8S_CRON_INIT;
    cron.schedule = "0 3 * * 1-5";
    cron.successful_jobs_history_limit = 2;
    the_cron = &cron;
    json_t *docs = render_both(cron_fn, &w);
    json_t *cj = json_array_get(docs, 0);
    assert_str_at(cj, "kind", "CronJob");
    assert_str_at(cj, "spec.schedule", "0 3 * * 1-5");
    assert_str_at(cj, "spec.concurrencyPolicy", "Forbid");
    assert_int_at(cj, "spec.successfulJobsHistoryLimit", 2);
    assert_null(at(cj, "spec.failedJobsHistoryLimit"));
    assert_str_at(cj, "spec.jobTemplate.spec.template.spec.containers.0.image",
                  "ghcr.io/org/cairn:1.0");
    json_decref(docs);

    cairn_buf b = CAIRN_BUF_INIT(0);
    cron.schedule = "every day";
    assert_int_equal(cairn_k8s_render_cronjob(&w, &cron, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    cron.schedule = "@daily";
    cron.concurrency_policy = "Sometimes";
    assert_int_equal(cairn_k8s_render_cronjob(&w, &cron, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    cron.concurrency_policy = "Replace";
    assert_int_equal(cairn_k8s_render_cronjob(&w, &cron, CAIRN_K8S_YAML, &b), 0);
    assert_non_null(strstr(cairn_buf_cstr(&b), "schedule: \"@daily\""));
    cairn_buf_free(&b);
}

/* prepare -> featurize, prepare -> split, (featurize, split) -> train */
static const char *const a_prep[] = {"cairn", "pipeline", "run", "prepare", "--no-deps"};
static const char *const a_feat[] = {"cairn",
                                     "pipeline",
                                     "run",
                                     "featurize",
                                     "--no-deps",
                                     "--set",
                                     "depth={{workflow.parameters.depth}}"};
static const char *const a_split[] = {"cairn", "pipeline", "run", "split", "--no-deps"};
static const char *const a_train[] = {"cairn", "pipeline", "run", "train_model", "--no-deps"};
static const char *const d_prep[] = {"prepare"};
static const char *const d_train[] = {"featurize", "split"};
static const char *const in_raw[] = {"data/raw.csv"};
static const char *const out_prep[] = {"data/clean.csv"};
static const char *const out_model[] = {"model dir"};
static const cairn_k8s_kv params[] = {{"depth", "6"}};
static const cairn_k8s_kv t4[] = {{"gpu", "t4"}};

static cairn_k8s_step steps[4];

static cairn_k8s_dag make_dag(void)
{
    memset(steps, 0, sizeof(steps));
    steps[0] = (cairn_k8s_step){.name = "prepare",
                                .argv = a_prep,
                                .argc = 5,
                                .inputs = in_raw,
                                .ninputs = 1,
                                .outputs = out_prep,
                                .noutputs = 1};
    steps[1] = (cairn_k8s_step){.name = "featurize",
                                .argv = a_feat,
                                .argc = 7,
                                .depends = d_prep,
                                .ndepends = 1,
                                .retries = 2};
    steps[2] = (cairn_k8s_step){.name = "split",
                                .argv = a_split,
                                .argc = 5,
                                .depends = d_prep,
                                .ndepends = 1,
                                .timeout_seconds = 600};
    steps[3] = (cairn_k8s_step){.name = "train_model",
                                .argv = a_train,
                                .argc = 5,
                                .depends = d_train,
                                .ndepends = 2,
                                .outputs = out_model,
                                .noutputs = 1,
                                .retries = 1,
                                .timeout_seconds = 7200,
                                .resources = {"4", NULL, "16Gi", "16Gi", 2},
                                .node_selector = t4,
                                .nnode_selector = 1,
                                .tolerations = gpu_tol,
                                .ntolerations = 1};
    /* file order differs from dependency order */
    cairn_k8s_step tmp = steps[0];
    steps[0] = steps[3];
    steps[3] = tmp;
    cairn_k8s_dag d = {0};
    d.name = "churn";
    d.steps = steps;
    d.nsteps = 4;
    d.defaults = (cairn_k8s_workload)CAIRN_K8S_WORKLOAD_INIT;
    d.defaults.image = "ghcr.io/org/churn:abc";
    d.defaults.env_from_secrets = secrets;
    d.defaults.nenv_from_secrets = 1;
    d.defaults.volumes = pvcs;
    d.defaults.nvolumes = 2;
    d.defaults.working_dir = "/workspace";
    d.defaults.service_account = "pipelines";
    d.remote = "s3store";
    d.parameters = params;
    d.nparameters = 1;
    d.active_deadline_seconds = 86400;
    return d;
}

static void test_workflow(void **state)
{
    (void)state;
    cairn_k8s_dag d = make_dag();
    json_t *docs = render_both(wf_fn, &d);
    json_t *wf = json_array_get(docs, 0);
    assert_str_at(wf, "apiVersion", "argoproj.io/v1alpha1");
    assert_str_at(wf, "kind", "Workflow");
    assert_str_at(wf, "metadata.generateName", "churn-");
    assert_str_at(wf, "spec.entrypoint", "cairn-dag");
    assert_int_at(wf, "spec.activeDeadlineSeconds", 86400);
    assert_str_at(wf, "spec.arguments.parameters.0.name", "depth");
    assert_str_at(wf, "spec.arguments.parameters.0.value", "6");
    assert_str_at(wf, "spec.volumes.1.persistentVolumeClaim.claimName", "checkpoints");
    json_t *tmpl = at(wf, "spec.templates");
    assert_int_equal(json_array_size(tmpl), 5);
    assert_str_at(tmpl, "0.name", "cairn-dag");
    json_t *tasks = at(tmpl, "0.dag.tasks");
    /* topological order: prepare first, train-model last with two deps */
    assert_str_at(tasks, "0.name", "prepare");
    assert_null(at(tasks, "0.dependencies"));
    assert_str_at(tasks, "3.name", "train-model");
    assert_str_at(tasks, "3.dependencies.0", "featurize");
    assert_str_at(tasks, "3.dependencies.1", "split");
    json_t *train = NULL, *feat = NULL, *prep = NULL;
    for (size_t i = 1; i < 5; i++) {
        const char *n = json_string_value(at(json_array_get(tmpl, i), "name"));
        if (!strcmp(n, "train-model")) train = json_array_get(tmpl, i);
        if (!strcmp(n, "featurize")) feat = json_array_get(tmpl, i);
        if (!strcmp(n, "prepare")) prep = json_array_get(tmpl, i);
    }
    assert_non_null(train);
    assert_int_at(train, "retryStrategy.limit", 1);
    assert_str_at(train, "retryStrategy.backoff.duration", "10s");
    assert_int_at(train, "activeDeadlineSeconds", 7200);
    assert_str_at(train, "nodeSelector.gpu", "t4");
    assert_str_at(train, "container.resources.limits.GPU", "2");
    assert_str_at(train, "container.workingDir", "/workspace");
    assert_str_at(train, "container.envFrom.0.secretRef.name", "s3-creds");
    assert_str_at(train, "container.command.0", "sh");
    assert_str_at(train, "container.command.2",
                  "set -e\ncairn pipeline run train_model --no-deps\n"
                  "cairn data push --remote s3store 'model dir'\n");
    assert_str_at(prep, "container.command.2",
                  "set -e\ncairn data pull --remote s3store data/raw.csv\n"
                  "cairn pipeline run prepare --no-deps\n"
                  "cairn data push --remote s3store data/clean.csv\n");
    /* no data to sync: the argv itself, parameter reference kept for Argo */
    assert_str_at(feat, "container.command.0", "cairn");
    assert_str_at(feat, "container.command.6", "depth={{workflow.parameters.depth}}");
    assert_int_at(feat, "retryStrategy.limit", 2);
    assert_null(at(feat, "activeDeadlineSeconds"));
    json_decref(docs);
}

static void test_jobs(void **state)
{
    (void)state;
    cairn_k8s_dag d = make_dag();
    json_t *docs = render_both(jobs_fn, &d);
    assert_int_equal(json_array_size(docs), 4);
    /* dependencies first; the depends-on annotation names Jobs */
    assert_str_at(docs, "0.metadata.name", "churn-prepare");
    assert_str_at(docs, "3.metadata.name", "churn-train-model");
    json_t *an = at(docs, "3.metadata.annotations");
    assert_string_equal(json_string_value(json_object_get(an, "cairn.dev/depends-on")),
                        "churn-featurize,churn-split");
    assert_string_equal(json_string_value(json_object_get(an, "cairn.dev/step-name")),
                        "train_model");
    assert_string_equal(json_string_value(json_object_get(at(docs, "0.metadata.annotations"),
                                                          "cairn.dev/depends-on")),
                        "");
    assert_string_equal(
        json_string_value(json_object_get(at(docs, "3.metadata.labels"), "cairn.dev/pipeline")),
        "churn");
    assert_int_at(docs, "3.spec.backoffLimit", 1);
    assert_int_at(docs, "3.spec.activeDeadlineSeconds", 7200);
    assert_int_at(docs, "0.spec.backoffLimit", 0);
    assert_str_at(docs, "3.spec.template.spec.tolerations.0.key", "nvidia.com/gpu");
    assert_str_at(docs, "3.spec.template.spec.containers.0.resources.requests.GPU", "2");
    /* parameters are substituted: plain Jobs have no workflow parameters */
    for (size_t i = 0; i < 4; i++) {
        json_t *cmd = at(json_array_get(docs, i), "spec.template.spec.containers.0.command");
        if (json_array_size(cmd) == 7)
            assert_string_equal(json_string_value(json_array_get(cmd, 6)), "depth=6");
    }
    assert_str_at(docs, "1.metadata.name", "churn-featurize");
    assert_str_at(docs, "1.spec.template.spec.containers.0.command.6", "depth=6");
    json_decref(docs);
}

static void test_dag_errors(void **state)
{
    (void)state;
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_k8s_dag d = make_dag();
    const char *const cyc[] = {"train_model"};
    steps[3].depends = cyc; /* prepare <- train_model: a cycle */
    steps[3].ndepends = 1;
    assert_int_equal(cairn_k8s_render_workflow(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "cycle"));
    assert_int_equal(cairn_k8s_render_jobs(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    d = make_dag();
    const char *const unknown[] = {"nope"};
    steps[1].depends = unknown;
    assert_int_equal(cairn_k8s_render_workflow(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "unknown step 'nope'"));
    d = make_dag();
    steps[1].name = "SPLIT"; /* the same kubernetes name as "split" */
    assert_int_equal(cairn_k8s_render_workflow(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    d = make_dag();
    d.nparameters = 0;
    assert_int_equal(cairn_k8s_render_workflow(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_non_null(strstr(cairn_error_last()->msg, "undeclared parameter 'depth'"));
    d = make_dag();
    d.name = "Churn";
    assert_int_equal(cairn_k8s_render_workflow(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    d = make_dag();
    d.nsteps = 0;
    assert_int_equal(cairn_k8s_render_jobs(&d, CAIRN_K8S_YAML, &b), CAIRN_EINVALID);
    assert_int_equal(b.len, 0);
    cairn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_scalar_forms),
        cmocka_unit_test(test_yaml_quoting_round_trips),
        cmocka_unit_test(test_yaml_tricky_are_not_plain),
        cmocka_unit_test(test_label_name_and_shell_word),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_job_errors),
        cmocka_unit_test(test_cronjob),
        cmocka_unit_test(test_workflow),
        cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_dag_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
