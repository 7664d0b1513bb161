/*
 * cmd_quickstart.c - `cairn quickstart` (what `make demo` runs): the whole
 * lifecycle end to end on the embedded default, in a fresh temp project
 * with its own git repository and server home.
 *
 * Key idea: nothing is done behind the user's back. Every step is the real
 * command a user would type, run as a child process of the same binary
 * (`cairn data add`, `cairn pipeline run`, `cairn deploy ...`, `cairn
 * trigger ...`, `cairn lineage ...`) against a real `cairn server`, and
 * the traffic is plain Open Inference Protocol HTTP; the quickstart only
 * reads the answers to print a summary. The example project (cairn.yaml,
 * params, search space, policy) lives in examples/demo/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/core.h"
#include "cairn/csv.h"
#include "cli.h"
#include "cli_client.h"
#include "quickstart.h"

int cmd_quickstart_run(int argc, char **argv, cairn_config *cfg);
void cmd_quickstart_help(void);

#define MODEL "breast-cancer"
#define DEPLOY "demo"
#define DRIFT_FEATURE "mean radius"
#define DRIFT_SCALE 1.8

void cmd_quickstart_help(void)
{
    printf("usage: cairn quickstart [--keep] [--dir DIR] [--source DIR]\n\n"
           "Runs the whole lifecycle end to end on the embedded default, with the real\n"
           "commands, in a fresh temp project (its own git repository and server home):\n"
           "versions the breast-cancer data (cairn data add), starts cairn server with a\n"
           "monitoring policy, runs the pipeline of examples/demo/cairn.yaml (validate,\n"
           "GBDT with a cross-validated grid search, logistic regression, evaluate,\n"
           "compare, register the better one behind an AUC gate as @production), runs\n"
           "it again (all cached), deploys the model, sends Open Inference Protocol\n"
           "traffic, shifts traffic to a second version as a canary, sends drifted\n"
           "traffic until the drift alert fires and its retraining pipeline runs, and\n"
           "prints a summary with the lineage of the served model.\n\n"
           "  --keep        leave the server and the project in place afterwards\n"
           "  --dir DIR     work in DIR (created; kept afterwards) instead of a temp dir\n"
           "  --source DIR  the Cairn source tree holding examples/ (default:\n"
           "                $CAIRN_SOURCE_DIR, else found from the binary's location)\n");
}

/* ---------------------------------------------------------------------- */

static const char *orv_str(const char *s)
{
    return s ? s : "";
}

/* A JSON scalar as text (strings as they are, integers in decimal). */
static const char *jtext(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else snprintf(buf, n, "?");
    return buf;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds the tree holding examples/demo/cairn.yaml: the given dir,
 * $CAIRN_SOURCE_DIR, the binary's directory and its ancestors, the cwd. */
static int find_source(const char *given, const char *exe, char *out, size_t n)
{
    char probe[PATH_MAX + 64];
    const char *env = getenv("CAIRN_SOURCE_DIR");
    const char *fixed[] = {given, given ? NULL : env, NULL};
    for (int i = 0; i < 2; i++) {
        if (!fixed[i]) continue;
        snprintf(probe, sizeof(probe), "%s/examples/demo/cairn.yaml", fixed[i]);
        if (is_file(probe)) return realpath(fixed[i], out) ? 0 : 1;
        if (given) return 1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.4000s", exe);
    for (int up = 0; up < 4; up++) {
        char *sl = strrchr(dir, '/');
        if (!sl || sl == dir) break;
        *sl = '\0';
        snprintf(probe, sizeof(probe), "%s/examples/demo/cairn.yaml", dir);
        if (is_file(probe)) {
            snprintf(out, n, "%s", dir);
            return 0;
        }
    }
    if (is_file("examples/demo/cairn.yaml") && realpath(".", out)) return 0;
    return 1;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return 1;
    int outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (outfd < 0) {
        close(in);
        return 1;
    }
    char b[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, b, sizeof(b))) > 0)
        if (write(outfd, b, (size_t)r) != r) rc = 1;
    if (r < 0) rc = 1;
    close(in);
    if (close(outfd)) rc = 1;
    return rc;
}

static json_t *load_json(const char *dir, const char *name)
{
    char p[4400];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return json_load_file(p, 0, NULL);
}

/* A number at a dotted path in a JSON object (NaN when absent). */
static double jnum(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2) v = json_object_get(v, k2);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "N executed" from a pipeline run's last line (-1 if absent). */
static int executed_count(const cairn_buf *b, int *up_to_date)
{
    const char *s = strstr(cairn_buf_cstr(b), " executed, ");
    if (!s) return -1;
    const char *p = s;
    while (p > cairn_buf_cstr(b) && p[-1] >= '0' && p[-1] <= '9') p--;
    *up_to_date = (int)strtol(s + 11, NULL, 10);
    return (int)strtol(p, NULL, 10);
}

/* ---------------------------------------------------------------------- */
/* Traffic                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct traffic {
    cairn_frame *f;
    int *feat;       /* feature column indices (all but the target) */
    int nfeat;
    int drift_col;   /* index into feat of DRIFT_FEATURE */
    size_t next_row; /* rows are sent round robin */
    long requests, failed;
    long by_version[8]; /* requests answered per version number (1..7) */
} traffic;

static int traffic_load(traffic *t, const char *csv)
{
    memset(t, 0, sizeof(*t));
    cairn_csv_opts co = CAIRN_CSV_OPTS_INIT;
    if (cairn_csv_read_file(&t->f, csv, &co)) return cli_fail();
    t->feat = cairn_calloc((size_t)t->f->ncols, sizeof(int));
    t->drift_col = -1;
    for (int j = 0; j < t->f->ncols; j++) {
        if (!strcmp(t->f->cols[j].name, "diagnosis")) continue;
        if (!strcmp(t->f->cols[j].name, DRIFT_FEATURE)) t->drift_col = t->nfeat;
        t->feat[t->nfeat++] = j;
    }
    return t->drift_col < 0;
}

static void traffic_free(traffic *t)
{
    cairn_frame_free(t->f);
    cairn_free(t->feat);
}

/* One OIP request of `rows` rows to /v2/models/DEPLOY/infer; `scale`
 * multiplies DRIFT_FEATURE (1 = the data as it is). */
static void traffic_send(const qs_ctx *q, traffic *t, int rows, double scale)
{
    cairn_buf body = CAIRN_BUF_INIT(1 << 20);
    cairn_buf_printf(&body, "{\"id\":\"qs-%ld\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[%d,%d],"
                            "\"datatype\":\"FP64\",\"data\":[",
                     t->requests, rows, t->nfeat);
    for (int r = 0; r < rows; r++) {
        size_t row = t->next_row++ % t->f->nrows;
        for (int k = 0; k < t->nfeat; k++) {
            double v = cairn_frame_get(t->f, t->feat[k], row);
            if (k == t->drift_col) v *= scale;
            cairn_buf_printf(&body, "%s%.17g", r || k ? "," : "", v);
        }
    }
    cairn_buf_puts(&body, "]}]}");
    json_t *resp = NULL;
    t->requests++;
    if (cairn_cli__qs_http(q, "POST", "/v2/models/" DEPLOY "/infer", cairn_buf_cstr(&body), &resp)) {
        t->failed++;
    } else {
        long v = strtol(orv_str(json_string_value(json_object_get(resp, "model_version"))), NULL, 10);
        if (v > 0 && v < 8) t->by_version[v]++;
    }
    json_decref(resp);
    cairn_buf_free(&body);
}

/* "production 80% / challenger 20%" from a deployment's targets, into out;
 * the shift's state and weight into *state / *weight. */
static void split_text(json_t *dep, char *out, size_t n, const char **state, int *weight)
{
    size_t len = 0;
    out[0] = '\0';
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(dep, "targets"), i, t) {
        const char *ref = json_string_value(json_object_get(t, "alias"));
        char v[40];
        if (!ref) {
            snprintf(v, sizeof(v), "v%s", orv_str(json_string_value(json_object_get(t, "version"))));
            ref = v;
        }
        int w = snprintf(out + len, n - len, "%s%s %d%%", i ? " / " : "", ref,
                         (int)json_integer_value(json_object_get(t, "weight")));
        if (w < 0 || (size_t)w >= n - len) break;
        len += (size_t)w;
    }
    json_t *sh = json_object_get(dep, "shift");
    *state = json_string_value(json_object_get(sh, "state"));
    *weight = (int)json_integer_value(json_object_get(sh, "weight"));
}

static json_t *get_deployment(const qs_ctx *q)
{
    json_t *r = NULL;
    if (cairn_cli__qs_http(q, "GET", "/api/2.0/cairn/deployments/get?name=" DEPLOY, NULL, &r)) return NULL;
    json_t *d = json_incref(json_object_get(r, "deployment"));
    json_decref(r);
    return d;
}

/* Everything the summary prints, collected on the way. */
typedef struct summary {
    int ran1, ran2, cached2;
    char best[32], other[32], verdict[512];
    double auc, accuracy, f1, cv_auc, other_auc;
    char version[16], version2[16];
    long base_requests;
    char split_start[256], split_end[256];
    const char *shift_state;
    char alert[512];
    char retrain[256];
} summary;

static void step(int n, const char *what)
{
    printf("\n[%d/7] %s\n", n, what);
    fflush(stdout);
}

#define SHOW(dir, out, ...)                                                                        \
    do {                                                                                           \
        const char *const av_[] = {__VA_ARGS__, NULL};                                             \
        if (cairn_cli__qs_show(q, (dir), (out), av_) != 0) return 1;                               \
    } while (0)

/* 1: the project, its git repository, the data versioned with cairn data add. */
static int step_data(qs_ctx *q, const char *src)
{
    step(1, "a fresh project with its own git repository; the data versioned beside git");
    static const char *const files[] = {"cairn.yaml", "params.yaml", "search_gbdt.yaml",
                                        "split.sh", "select.sh"};
    char from[PATH_MAX + 64], to[4400];
    snprintf(to, sizeof(to), "%s/data", q->proj);
    if (mkdir(to, 0755) && errno != EEXIST) return 1;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(from, sizeof(from), "%s/examples/demo/%s", src, files[i]);
        snprintf(to, sizeof(to), "%s/%s", q->proj, files[i]);
        if (copy_file(from, to)) return fprintf(stderr, "cairn quickstart: cannot copy %s\n", from), 1;
    }
    snprintf(from, sizeof(from), "%s/examples/breast_cancer/breast_cancer.csv", src);
    snprintf(to, sizeof(to), "%s/data/breast_cancer.csv", q->proj);
    if (copy_file(from, to)) return fprintf(stderr, "cairn quickstart: cannot copy %s\n", from), 1;
    printf("  project %s (examples/demo + examples/breast_cancer/breast_cancer.csv)\n", q->proj);
    SHOW(q->proj, NULL, "git", "init", "-q", "-b", "main", ".");
    SHOW(q->proj, NULL, "cairn", "data", "add", "data/breast_cancer.csv");
    SHOW(q->proj, NULL, "cat", "data/breast_cancer.csv.cairn");
    SHOW(q->proj, NULL, "git", "add", "-A");
    SHOW(q->proj, NULL, "git", "-c", "user.name=cairn quickstart", "-c",
         "user.email=quickstart@cairn.invalid", "commit", "-q", "-m",
         "breast cancer data (pointer), pipeline");
    SHOW(q->proj, NULL, "git", "log", "--stat", "--format=commit %h %s");
    return 0;
}

/* 3 and 4: the pipeline, twice. */
static int step_pipeline(qs_ctx *q, summary *s)
{
    step(3, "the pipeline of cairn.yaml: validate, train (GBDT grid search + CV, logistic), "
            "evaluate, compare, register behind a gate");
    cairn_buf out = CAIRN_BUF_INIT(1 << 20);
    SHOW(q->proj, NULL, "cairn", "pipeline", "dag");
    int rc = cairn_cli__qs_show(q, q->proj, &out, (const char *const[]){"cairn", "pipeline", "run", NULL});
    int dummy;
    s->ran1 = executed_count(&out, &dummy);
    if (rc) {
        cairn_buf_free(&out);
        return 1;
    }
    SHOW(q->proj, NULL, "cat", ".cairn/logs/select.log");
    json_t *cmp = load_json(q->proj, "compare.json");
    snprintf(s->verdict, sizeof(s->verdict), "%s; McNemar p=%.3g",
             orv_str(json_string_value(json_object_get(cmp, "verdict"))), jnum(cmp, "mcnemar", "p_value"));
    json_decref(cmp);
    json_t *best = load_json(q->proj, "best/metrics.json"), *ev = load_json(q->proj, "best/eval.json");
    const char *run = json_string_value(json_object_get(best, "run_id"));
    json_t *g = load_json(q->proj, "models/gbdt/metrics.json");
    int gbdt_won = run && !strcmp(run, orv_str(json_string_value(json_object_get(g, "run_id"))));
    json_decref(g);
    snprintf(s->best, sizeof(s->best), "%s", gbdt_won ? "gbdt" : "logistic");
    snprintf(s->other, sizeof(s->other), "%s", gbdt_won ? "logistic" : "gbdt");
    s->auc = jnum(ev, "auc", NULL);
    if (isnan(s->auc)) s->auc = jnum(ev, "metrics", "auc");
    s->accuracy = jnum(ev, "accuracy", NULL);
    if (isnan(s->accuracy)) s->accuracy = jnum(ev, "metrics", "accuracy");
    s->f1 = jnum(ev, "f1_macro", NULL);
    if (isnan(s->f1)) s->f1 = jnum(ev, "metrics", "f1_macro");
    s->cv_auc = jnum(json_object_get(best, "cv"), "auc", "mean");
    json_decref(best);
    json_decref(ev);
    json_t *rm = NULL;
    if (cairn_cli__qs_http(q, "GET", "/api/2.0/mlflow/registered-models/get?name=" MODEL, NULL, &rm)) {
        fprintf(stderr, "cairn quickstart: the pipeline registered no model '" MODEL "'\n");
        cairn_buf_free(&out);
        return 1;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(rm, "registered_model"), "aliases"), i, a)
        if (!strcmp(orv_str(json_string_value(json_object_get(a, "alias"))), "production"))
            snprintf(s->version, sizeof(s->version), "%s", orv_str(json_string_value(json_object_get(a, "version"))));
    json_decref(rm);
    SHOW(q->proj, NULL, "cairn", "models", "show", MODEL);

    step(4, "the same pipeline again: nothing changed, so every stage is cached");
    rc = cairn_cli__qs_show(q, q->proj, &out, (const char *const[]){"cairn", "pipeline", "run", NULL});
    s->ran2 = executed_count(&out, &s->cached2);
    cairn_buf_free(&out);
    return rc || !s->version[0];
}

/* Registers the other model's train run as a new version and points the
 * `challenger` alias at it. */
static int register_challenger(qs_ctx *q, summary *s)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "models/%s/metrics.json", s->other);
    json_t *m = load_json(q->proj, rel), *run = NULL, *ver = NULL;
    const char *run_id = json_string_value(json_object_get(m, "run_id"));
    char path[512];
    snprintf(path, sizeof(path), "/api/2.0/mlflow/runs/get?run_id=%s", orv_str(run_id));
    int rc = 1;
    if (run_id && !cairn_cli__qs_http(q, "GET", path, NULL, &run)) {
        const char *art = json_string_value(
            json_object_get(json_object_get(json_object_get(run, "run"), "info"), "artifact_uri"));
        json_t *body = json_pack("{s:s,s:s+,s:s,s:s}", "name", MODEL, "source", orv_str(art), "/model",
                                 "run_id", run_id, "description", "the pipeline's other candidate");
        char *txt = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        printf("  POST /api/2.0/mlflow/model-versions/create {name: %s, source: %s/model}\n", MODEL,
               orv_str(art));
        if (txt && !cairn_cli__qs_http(q, "POST", "/api/2.0/mlflow/model-versions/create", txt, &ver)) {
            snprintf(s->version2, sizeof(s->version2), "%s",
                     orv_str(json_string_value(json_object_get(json_object_get(ver, "model_version"), "version"))));
            rc = !s->version2[0];
        }
        free(txt);
    }
    snprintf(rel, sizeof(rel), "eval_%s.json", s->other);
    json_t *ev = load_json(q->proj, rel);
    s->other_auc = jnum(json_object_get(ev, "metrics"), "auc", NULL);
    json_decref(ev);
    json_decref(m);
    json_decref(run);
    json_decref(ver);
    if (rc) return fprintf(stderr, "cairn quickstart: registering the %s model failed\n", s->other), 1;
    printf("    version %s (%s)\n", s->version2, s->other);
    SHOW(q->proj, NULL, "cairn", "models", "alias", MODEL, "challenger", s->version2);
    return 0;
}

/* Sends traffic for ms milliseconds: a request of `rows` rows every 50 ms
 * (a steady trickle, so monitoring windows fill at a readable pace). */
static void traffic_for(const qs_ctx *q, traffic *t, int64_t ms, int rows, double scale)
{
    int64_t end = cairn_time_ms() + ms;
    while (cairn_time_ms() < end) {
        traffic_send(q, t, rows, scale);
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
}

/* 5: deployment, OIP traffic, a second version, a canary shift. */
static int step_serve(qs_ctx *q, summary *s, traffic *t)
{
    step(5, "serving: a deployment on @production, Open Inference Protocol traffic, a canary shift");
    SHOW(q->proj, NULL, "cairn", "deploy", "create", DEPLOY, "--target", "models:/" MODEL "@production");
    for (int i = 0; i < 60; i++) traffic_send(q, t, 5, 1.0);
    s->base_requests = t->requests - t->failed;
    printf("  POST %s/v2/models/" DEPLOY "/infer x %ld (5 rows each, FP64 [5,30]): %ld answered, "
           "all by version %s\n",
           q->base, t->requests, s->base_requests, s->version);
    if (t->failed || t->by_version[strtol(s->version, NULL, 10) & 7] != t->requests)
        return fprintf(stderr, "cairn quickstart: %ld requests failed\n", t->failed), 1;
    if (register_challenger(q, s)) return 1;
    SHOW(q->proj, NULL, "cairn", "deploy", "shift", DEPLOY, "--to", "challenger", "--step", "10",
         "--every", "2s", "--max-p99-ratio", "20");
    json_t *d = get_deployment(q);
    int w = 0;
    split_text(d, s->split_start, sizeof(s->split_start), &s->shift_state, &w);
    json_decref(d);
    printf("  split now: %s\n", s->split_start);
    long before[8];
    for (int round = 0; round < 3; round++) {
        memcpy(before, t->by_version, sizeof(before));
        traffic_for(q, t, 2100, 2, 1.0);
        d = get_deployment(q);
        char split[256];
        const char *state;
        split_text(d, split, sizeof(split), &state, &w);
        long v1 = t->by_version[strtol(s->version, NULL, 10) & 7] - before[strtol(s->version, NULL, 10) & 7];
        long v2 = t->by_version[strtol(s->version2, NULL, 10) & 7] - before[strtol(s->version2, NULL, 10) & 7];
        printf("  after %.1f s more traffic: answered by v%s %ld, v%s %ld; split now: %s (shift %s, "
               "challenger at %d%%)\n",
               2.1, s->version, v1, s->version2, v2, split, orv_str(state), w);
        snprintf(s->split_end, sizeof(s->split_end), "%s", split);
        static char state_keep[32];
        snprintf(state_keep, sizeof(state_keep), "%s", orv_str(state));
        s->shift_state = state_keep;
        json_decref(d);
        fflush(stdout);
    }
    SHOW(q->proj, NULL, "cairn", "deploy", "status", DEPLOY);
    return 0;
}

/* The first firing alert of the deployment, or NULL. */
static json_t *firing_alert(const qs_ctx *q)
{
    json_t *r = NULL;
    if (cairn_cli__qs_http(q, "GET", "/api/2.0/cairn/monitor/alerts/list?state=firing&deployment=" DEPLOY,
                           NULL, &r))
        return NULL;
    json_t *a = json_incref(json_array_get(json_object_get(r, "alerts"), 0));
    json_decref(r);
    return a;
}

/* The newest run of trigger `retrain` started by an alert, or NULL. */
static json_t *alert_run(const qs_ctx *q)
{
    json_t *r = NULL;
    if (cairn_cli__qs_http(q, "GET", "/api/2.0/cairn/pipelines/runs/list?trigger=retrain", NULL, &r))
        return NULL;
    size_t i;
    json_t *run, *found = NULL;
    json_array_foreach(json_object_get(r, "runs"), i, run)
        if (!strncmp(orv_str(json_string_value(json_object_get(run, "reason"))), "alert:", 6)) {
            found = json_incref(run);
            break;
        }
    json_decref(r);
    return found;
}

/* 6: the retrain trigger, drifted traffic, the alert, the retraining run. */
static int step_drift(qs_ctx *q, summary *s, traffic *t)
{
    step(6, "monitoring: drifted traffic ('" DRIFT_FEATURE "' x1.8) until the drift alert fires "
            "and retrains");
    SHOW(q->proj, NULL, "cairn", "trigger", "create", "retrain", "--dir", q->proj);
    long sent = t->requests;
    json_t *a = NULL;
    int64_t deadline = cairn_time_ms() + 40000;
    while (!(a = firing_alert(q)) && cairn_time_ms() < deadline)
        for (int i = 0; i < 10; i++) traffic_send(q, t, 10, DRIFT_SCALE);
    printf("  POST /v2/models/" DEPLOY "/infer x %ld (10 rows each, '" DRIFT_FEATURE "' scaled by %.1f)\n",
           t->requests - sent, DRIFT_SCALE);
    if (!a) return fprintf(stderr, "cairn quickstart: no drift alert fired in 40 s\n"), 1;
    char idb[64];
    snprintf(s->alert, sizeof(s->alert), "%s on %s: '%s' score %.3g above %.3g (alert %s)",
             orv_str(json_string_value(json_object_get(a, "rule"))),
             orv_str(json_string_value(json_object_get(a, "deployment"))),
             orv_str(json_string_value(json_object_get(a, "subject"))), jnum(a, "value", NULL),
             jnum(a, "threshold", NULL), jtext(json_object_get(a, "id"), idb, sizeof(idb)));
    json_decref(a);
    SHOW(q->proj, NULL, "cairn", "monitor", "alerts", "--deployment", DEPLOY);
    json_t *run = NULL;
    deadline = cairn_time_ms() + 60000;
    for (;;) {
        json_decref(run);
        run = alert_run(q);
        const char *st = json_string_value(json_object_get(run, "status"));
        if ((st && strcmp(st, "running")) || cairn_time_ms() > deadline) break;
        struct timespec ts = {0, 200000000L};
        nanosleep(&ts, NULL);
    }
    if (!run) return fprintf(stderr, "cairn quickstart: the alert started no retraining run in 60 s\n"), 1;
    snprintf(s->retrain, sizeof(s->retrain), "pipeline run %s of trigger retrain, reason %s: %s",
             jtext(json_object_get(run, "id"), idb, sizeof(idb)),
             orv_str(json_string_value(json_object_get(run, "reason"))),
             orv_str(json_string_value(json_object_get(run, "status"))));
    json_decref(run);
    SHOW(q->proj, NULL, "cairn", "trigger", "runs", "retrain");
    return 0;
}

/* 7: the lineage of the served model and the summary. */
static int step_summary(qs_ctx *q, summary *s, int64_t t0)
{
    step(7, "summary");
    char uri[128];
    snprintf(uri, sizeof(uri), "models:/" MODEL "/%s", s->version);
    SHOW(q->proj, NULL, "cairn", "lineage", uri);
    json_t *g = load_json(q->proj, "models/gbdt/metrics.json");
    printf("\n  what ran       %d pipeline stages (cairn pipeline run); the second run: %d ran, "
           "%d cached\n",
           s->ran1, s->ran2, s->cached2);
    printf("  GBDT search    grid of 4 scored by 3-fold CV; the best's 5-fold CV auc %.4f +- %.4f\n",
           jnum(json_object_get(g, "cv"), "auc", "mean"), jnum(json_object_get(g, "cv"), "auc", "std"));
    json_decref(g);
    printf("  compare        %s\n", s->verdict);
    printf("  best model     %s, registered as " MODEL " version %s @production "
           "(gate auc >= 0.9 passed): test auc %.4f, accuracy %.4f, f1 %.4f\n",
           s->best, s->version, s->auc, s->accuracy, s->f1);
    printf("  challenger     %s, version %s (test auc %.4f)\n", s->other, s->version2, s->other_auc);
    printf("  deployment     " DEPLOY ": %ld requests on @production, then a canary shift "
           "(10%% every 2 s): split %s -> %s (shift %s)\n",
           s->base_requests, s->split_start, s->split_end, orv_str(s->shift_state));
    printf("  alert          %s\n", s->alert);
    printf("  retraining     %s\n", s->retrain);
    printf("  lineage        %s (above)\n", uri);
    printf("  UI             %s/\n", q->base);
    printf("  took           %.1f s\n", (double)(cairn_time_ms() - t0) / 1000.0);
    return 0;
}

int cmd_quickstart_run(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    int keep = 0;
    const char *dir = NULL, *source = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--source") && i + 1 < argc) source = argv[++i];
        else return cli_usage_error("quickstart: unknown option '%s'", argv[i]);
    }
    int64_t t0 = cairn_time_ms();
    static qs_ctx qc;
    qs_ctx *q = &qc;
    ssize_t n = readlink("/proc/self/exe", q->exe, sizeof(q->exe) - 1);
    if (n <= 0) return cli_usage_error("quickstart: cannot find the running binary");
    q->exe[n] = '\0';
    char src[PATH_MAX];
    if (find_source(source, q->exe, src, sizeof(src)))
        return cli_usage_error("quickstart: no examples/demo/cairn.yaml found; give --source DIR "
                               "(the Cairn source tree)");
    if (dir) {
        if (mkdir(dir, 0755) && errno != EEXIST)
            return cli_usage_error("quickstart: cannot create '%s': %s", dir, strerror(errno));
        if (!realpath(dir, q->work)) return cli_usage_error("quickstart: bad --dir '%s'", dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(q->work, sizeof(q->work), "%s/cairn-quickstart-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(q->work)) return cli_usage_error("quickstart: cannot make a temp dir");
    }
    snprintf(q->proj, sizeof(q->proj), "%.4000s/project", q->work);
    snprintf(q->home, sizeof(q->home), "%.4000s/home", q->work);
    if ((mkdir(q->proj, 0755) && errno != EEXIST) || (mkdir(q->home, 0755) && errno != EEXIST))
        return cli_usage_error("quickstart: cannot create directories in '%s'", q->work);
    char proj_git[4300];
    snprintf(proj_git, sizeof(proj_git), "%.4200s/.git", q->proj);
    if (access(proj_git, F_OK) == 0)
        return cli_usage_error("quickstart: '%s' already holds a project; give a fresh --dir", q->work);

    /* Pipeline commands name `cairn`: this binary, first on PATH. */
    size_t plen = strlen(q->exe) + strlen(orv_str(getenv("PATH"))) + 2;
    char *path = cairn_malloc(plen);
    snprintf(path, plen, "%.*s:%s", (int)(strrchr(q->exe, '/') - q->exe), q->exe,
             orv_str(getenv("PATH")));
    setenv("PATH", path, 1);
    cairn_free(path);
    unsetenv("CAIRN_TRACKING_URI");
    unsetenv("MLFLOW_TRACKING_URI");

    printf("cairn quickstart: the whole lifecycle with the real commands (work dir %s)\n", q->work);
    summary s;
    memset(&s, 0, sizeof(s));
    traffic t;
    memset(&t, 0, sizeof(t));
    int rc = step_data(q, src);
    if (!rc) {
        char policy[PATH_MAX + 64];
        snprintf(policy, sizeof(policy), "%s/examples/demo/policy.yaml", src);
        step(2, "cairn server: embedded SQLite store, artifacts, serving and monitoring");
        printf("  $ cairn server --home %s --port 0 --set serve.monitor_policy=%s\n", q->home, policy);
        rc = cairn_cli__qs_server_start(q, policy, keep);
        if (!rc) {
            printf("    listening on %s (pid %d); policy: windows of 100 rows, PSI on '" DRIFT_FEATURE
                   "', alert rule radius-drift retrains with trigger 'retrain'\n",
                   q->base, (int)q->server);
            setenv("CAIRN_TRACKING_URI", q->base, 1);
        }
    }
    if (!rc) rc = step_pipeline(q, &s);
    if (!rc) {
        char csv[4400];
        snprintf(csv, sizeof(csv), "%.4200s/test.csv", q->proj);
        rc = traffic_load(&t, csv);
    }
    if (!rc) rc = step_serve(q, &s, &t);
    if (!rc) rc = step_drift(q, &s, &t);
    if (!rc) rc = step_summary(q, &s, t0);
    traffic_free(&t);

    if (keep && !rc) {
        printf("\n  the server keeps running (pid %d); look around:\n"
               "    open %s/\n"
               "    export CAIRN_TRACKING_URI=%s\n"
               "    cd %s && cairn pipeline status && cairn deploy status " DEPLOY "\n"
               "  stop it with: kill %d   (then remove %s)\n",
               (int)q->server, q->base, q->base, q->proj, (int)q->server, q->work);
        return 0;
    }
    cairn_cli__qs_server_stop(q);
    if (dir || keep) printf("\n  server stopped; the project and home are kept in %s\n", q->work);
    else {
        cairn_cli__qs_rmtree(q->work);
        printf("\n  server stopped; %s removed (cairn quickstart --keep leaves it running)\n", q->work);
    }
    if (rc) fprintf(stderr, "cairn quickstart: failed\n");
    return rc ? 1 : 0;
}
