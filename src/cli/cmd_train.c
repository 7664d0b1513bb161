/*
 * cmd_train.c - `cairn train`: reads a CSV, picks the task from the target,
 * holds out a test set (or takes --valid), optionally cross-validates or
 * searches hyperparameters, trains one of the built-in learners, evaluates
 * it and writes the model directory (model.cairn, MLmodel, profile.json,
 * metrics.json, importance.json for trees).
 *
 * Key idea: everything happens locally first; a tracking server, when one is
 * configured (CAIRN_TRACKING_URI, --experiment or --register), only records
 * what was done: one run with every effective option as a param, the GBDT
 * per-round metrics, the final metrics, lineage tags, the model directory
 * uploaded through the mlflow-artifacts proxy, and optionally a registered
 * model version. A run that fails after it was opened is marked FAILED.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/core.h"
#include "cairn/metrics.h"
#include "cairn/profile.h"
#include "cli_client.h"
#include "search.h"
#include "train_common.h"

int cmd_train_run(int argc, char **argv, cairn_config *cfg);
void cmd_train_help(void);

#define MAX_SETS 128
#define MAX_DROP 256

void cmd_train_help(void)
{
    printf("usage: cairn train --data FILE --target COL [--model gbdt|linear|logistic|kmeans]\n"
           "                   [--set key=value ...] [--valid FILE] [--cv K] [--search SPEC.yaml]\n"
           "                   [--experiment NAME] [--register NAME] [--out DIR] [--json]\n"
           "                   [--no-header] [--skip-lines N] [--drop COL ...]\n\n"
           "Trains a model on a CSV file and writes DIR (default ./model): model.cairn,\n"
           "MLmodel, profile.json, metrics.json (and importance.json for gbdt).\n\n"
           "  --data FILE|HASH  the training data: a CSV path, or the SHA-256 of a CSV in\n"
           "                    the artifact store (store.artifacts, default .cairn/objects)\n"
           "  --target COL      the column to predict (optional for kmeans)\n"
           "  --model KIND      gbdt (default), linear, logistic or kmeans\n"
           "  --set key=value   a learner option, e.g. n_rounds=200 learning_rate=0.05\n"
           "                    max_leaves=31 subsample=0.8 early_stopping_rounds=10;\n"
           "                    seed=N, test_size=F, objective=regression|binary|multiclass\n"
           "                    (see docs/train.md for every key)\n"
           "  --valid FILE      evaluate on FILE instead of a held-out split\n"
           "  --cv K            also report K-fold cross-validation (mean ± std)\n"
           "  --search SPEC     hyperparameter search (grid, random, halving) from YAML\n"
           "  --experiment NAME log to the tracking server (CAIRN_TRACKING_URI) in NAME\n"
           "  --register NAME   register the model as a new version of NAME\n"
           "  --out DIR         model directory (default ./model)\n"
           "  --json            print the metrics as JSON\n"
           "  --no-header       the file has no header; columns are c0, c1, ...\n"
           "  --skip-lines N    skip N metadata lines before the header\n"
           "  --drop COL        leave COL out of the features (repeatable)\n");
}

typedef struct train_args {
    const char *data, *target, *valid, *search, *experiment, *register_name, *out;
    const char *model;
    int cv, json;
    const char *sets[MAX_SETS];
    int nsets;
    const char *drop[MAX_DROP];
    cli_ml_read_opts ro;
} train_args;

/* Parses argv into a; returns 0 or the exit code 2 (message printed). */
static int parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof(*a));
    a->ro.has_header = 1;
    a->out = "model";
    a->model = "gbdt";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (!strcmp(o, "--json"))
            a->json = 1;
        else if (!strcmp(o, "--no-header"))
            a->ro.has_header = 0;
        else if (!v)
            return cli_usage_error("train: unknown or incomplete option '%s'", o);
        else if (!strcmp(o, "--data"))
            a->data = argv[++i];
        else if (!strcmp(o, "--target"))
            a->target = argv[++i];
        else if (!strcmp(o, "--model"))
            a->model = argv[++i];
        else if (!strcmp(o, "--valid"))
            a->valid = argv[++i];
        else if (!strcmp(o, "--search"))
            a->search = argv[++i];
        else if (!strcmp(o, "--experiment"))
            a->experiment = argv[++i];
        else if (!strcmp(o, "--register"))
            a->register_name = argv[++i];
        else if (!strcmp(o, "--out"))
            a->out = argv[++i];
        else if (!strcmp(o, "--set")) {
            if (a->nsets == MAX_SETS) return cli_usage_error("train: too many --set options");
            a->sets[a->nsets++] = argv[++i];
        } else if (!strcmp(o, "--drop")) {
            if (a->ro.ndrop == MAX_DROP) return cli_usage_error("train: too many --drop options");
            a->drop[a->ro.ndrop++] = argv[++i];
        } else if (!strcmp(o, "--cv")) {
            if (cairn_parse_i64(argv[++i], &n) || n < 2 || n > 100)
                return cli_usage_error("train: --cv wants a number of folds from 2 to 100");
            a->cv = (int)n;
        } else if (!strcmp(o, "--skip-lines")) {
            if (cairn_parse_i64(argv[++i], &n) || n < 0 || n > 1000000)
                return cli_usage_error("train: --skip-lines wants a number >= 0");
            a->ro.skip_lines = (size_t)n;
        } else {
            return cli_usage_error("train: unknown option '%s'", o);
        }
    }
    a->ro.drop = a->drop;
    if (!a->data) return cli_usage_error("train: --data FILE is required");
    if (!a->target && strcmp(a->model, "kmeans"))
        return cli_usage_error("train: --target COL is required");
    return 0;
}

/* Everything one training produces, freed by train_state_free. */
typedef struct train_state {
    train_args a;
    cli_ml_opts o;
    cli_ml_data all, train, test;
    cli_ml_fit fit;
    cli_ml_metric m[CLI_ML_MAX_METRICS];
    int nm;
    cli_ml_cv cv;
    cli_search_spec spec;
    cli_search_result sr;
    int have_spec, searched;
    double *test_pred;
    int tracking, progress;
    cli_ml_tracker t;
    cli_ml_run run;
    char data_sha[65], git[41];
    int64_t version;
} train_state;

static void train_state_free(train_state *s)
{
    cli_ml_data_free(&s->all);
    cli_ml_data_free(&s->train);
    cli_ml_data_free(&s->test);
    cli_ml_fit_free(&s->fit);
    if (s->have_spec) cli_search_free(&s->spec);
    cli_search_result_free(&s->sr);
    cairn_free(s->test_pred);
}

static const char *task_name(cairn_task t)
{
    switch (t) {
    case CAIRN_TASK_REGRESSION:
        return "regression";
    case CAIRN_TASK_BINARY:
        return "binary";
    case CAIRN_TASK_MULTICLASS:
        return "multiclass";
    default:
        return "clustering";
    }
}

/* Splits s->all into train and test: --valid, the whole set for k-means,
 * else a (stratified) random hold-out of test_size. */
static int split_data(train_state *s)
{
    const cli_ml_data *d = &s->all;
    size_t *tr = NULL, *te = NULL, ntr = 0, nte = 0;
    if (s->a.valid) {
        int rc = cli_ml_data_load_like(&s->test, s->a.valid, &s->a.ro, d);
        if (rc) return rc;
        tr = cairn_malloc(sizeof(size_t) * d->nrows);
        for (size_t i = 0; i < d->nrows; i++)
            tr[i] = i;
        rc = cli_ml_data_take(&s->train, d, tr, d->nrows);
        cairn_free(tr);
        return rc;
    }
    if (s->o.kind == CAIRN_MODEL_KMEANS) {
        tr = cairn_malloc(sizeof(size_t) * d->nrows);
        for (size_t i = 0; i < d->nrows; i++)
            tr[i] = i;
        int rc = cli_ml_data_take(&s->train, d, tr, d->nrows);
        if (!rc) rc = cli_ml_data_take(&s->test, d, tr, d->nrows);
        cairn_free(tr);
        return rc;
    }
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, s->o.seed);
    int strat = d->task == CAIRN_TASK_BINARY || d->task == CAIRN_TASK_MULTICLASS;
    int rc = cairn_split_train_test(d->nrows, s->o.test_size, strat ? d->y : NULL, &rng, &tr, &ntr,
                                    &te, &nte);
    if (!rc) rc = cli_ml_data_take(&s->train, d, tr, ntr);
    if (!rc) rc = cli_ml_data_take(&s->test, d, te, nte);
    cairn_free(tr);
    cairn_free(te);
    return rc;
}

/* Opens the tracking run when tracking is configured. Only an unreachable
 * server with tracking merely inherited from the environment is benign
 * (everything stays local, with a warning); anything else fails. */
static int start_tracking(train_state *s, const cairn_config *cfg)
{
    int explicit_ = s->a.experiment || s->a.register_name;
    s->tracking = explicit_ || cfg->client.tracking_uri_set;
    if (!s->tracking) return 0;
    s->t.cfg = cfg;
    int rc = cli_ml_experiment(&s->t, s->a.experiment ? s->a.experiment : "Default");
    if (rc == CAIRN_EIO && !explicit_) {
        fprintf(stderr, "cairn: warning: %s; results are kept locally only\n",
                cairn_error_last()->msg);
        s->tracking = 0;
        return 0;
    }
    if (rc) return rc;
    cli_ml_kv tags[6];
    int nt = 0;
    snprintf(tags[nt].key, sizeof(tags[nt].key), "cairn.data.sha256");
    snprintf(tags[nt++].value, sizeof(tags[0].value), "%s", s->data_sha);
    snprintf(tags[nt].key, sizeof(tags[nt].key), "mlflow.source.name");
    snprintf(tags[nt++].value, sizeof(tags[0].value), "cairn train");
    snprintf(tags[nt].key, sizeof(tags[nt].key), "cairn.version");
    snprintf(tags[nt++].value, sizeof(tags[0].value), "%s", CAIRN_VERSION);
    snprintf(tags[nt].key, sizeof(tags[nt].key), "cairn.task");
    snprintf(tags[nt++].value, sizeof(tags[0].value), "%s", task_name(s->all.task));
    if (s->git[0]) {
        snprintf(tags[nt].key, sizeof(tags[nt].key), "mlflow.source.git.commit");
        snprintf(tags[nt++].value, sizeof(tags[0].value), "%s", s->git);
    }
    return cli_ml_run_start(&s->t, cli_ml_kind_name(s->o.kind), NULL, tags, nt, &s->run);
}

/* Puts a metrics object {"name": value} into obj under key. */
static void json_metrics(json_t *obj, const char *key, const cli_ml_metric *m, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, m[i].name, json_real(m[i].value));
    json_object_set_new(obj, key, o);
}

/* The content of metrics.json (also what --json prints). */
static json_t *metrics_json(const train_state *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "model", json_string(cli_ml_kind_name(s->o.kind)));
    json_object_set_new(j, "task", json_string(task_name(s->all.task)));
    if (s->all.target) json_object_set_new(j, "target", json_string(s->all.target));
    json_object_set_new(j, "rows",
                        json_pack("{s:I,s:I}", "train", (json_int_t)s->train.nrows, "test",
                                  (json_int_t)s->test.nrows));
    json_metrics(j, "test", s->m, s->nm);
    if (s->o.kind == CAIRN_MODEL_KMEANS)
        json_object_set_new(j, "inertia", json_real(s->fit.inertia));
    if (s->o.kind == CAIRN_MODEL_TREES)
        json_object_set_new(j, "gbdt",
                            json_pack("{s:i,s:i,s:s}", "rounds", s->fit.n_rounds, "best_round",
                                      s->fit.best_round, "metric", s->fit.round_metric));
    if (s->a.cv) {
        json_t *cv = json_pack("{s:i}", "folds", s->a.cv);
        for (int i = 0; i < s->cv.n; i++)
            json_object_set_new(cv, s->cv.name[i],
                                json_pack("{s:f,s:f}", "mean", s->cv.mean[i], "std", s->cv.std[i]));
        json_object_set_new(j, "cv", cv);
    }
    if (s->searched) {
        const cli_search_trial *b = &s->sr.trials[s->sr.best];
        json_t *p = json_object();
        for (int i = 0; i < b->nparams; i++)
            json_object_set_new(p, b->params[i].key, json_string(b->params[i].value));
        json_object_set_new(j, "search",
                            json_pack("{s:s,s:i,s:i,s:f,s:o}", "metric", s->spec.metric, "trials",
                                      s->sr.ntrials, "best_trial", b->id, "best_cv", b->score,
                                      "best_params", p));
    }
    cli_ml_kv kv[CLI_ML_MAX_PARAMS];
    int n = cli_ml_opts_list(&s->o, kv, CLI_ML_MAX_PARAMS);
    json_t *params = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(params, kv[i].key, json_string(kv[i].value));
    json_object_set_new(j, "params", params);
    if (s->run.id[0]) json_object_set_new(j, "run_id", json_string(s->run.id));
    return j;
}

/* Writes a JSON value to dir/name. */
static int write_json(const char *dir, const char *name, json_t *v)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!text) return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_CLI, "cannot encode %s", name);
    size_t len = strlen(text);
    int rc = cli_ml_write_file(path, text, len);
    if (!rc) {
        FILE *f = fopen(path, "a");
        if (f) fputc('\n', f), fclose(f);
    }
    free(text); /* jansson's allocation */
    return rc;
}

/* Writes the model directory: model.cairn, MLmodel, profile.json,
 * importance.json (trees), metrics.json. */
static int write_model_dir(train_state *s)
{
    const char *dir = s->a.out;
    char path[4096];
    int rc = cairn_mkdir_p(dir, 0755);
    if (rc) return rc;
    snprintf(path, sizeof(path), "%s/model.cairn", dir);
    if ((rc = cairn_model_save(s->fit.model, path))) return rc;
    cairn_buf b = CAIRN_BUF_INIT(64u << 20);
    rc = cairn_model_mlmodel_yaml(s->fit.model, s->run.id[0] ? s->run.id : NULL, &b);
    snprintf(path, sizeof(path), "%s/MLmodel", dir);
    if (!rc) rc = cli_ml_write_file(path, b.ptr, b.len);
    cairn_buf_free(&b);
    if (rc) return rc;

    /* Reference profile of the training rows and the model's outputs on them. */
    int no = cairn_model_n_outputs(s->fit.model);
    double *pred = cairn_malloc(sizeof(double) * s->train.nrows * (size_t)no);
    cairn_profile *p = NULL;
    rc = cairn_model_predict(s->fit.model, s->train.X, pred, 0);
    if (!rc) rc = cairn_profile_build(&p, s->train.X, pred, no, NULL);
    cairn_free(pred);
    cairn_buf pb = CAIRN_BUF_INIT(1u << 30);
    if (!rc) rc = cairn_profile_to_json(p, &pb);
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    if (!rc) rc = cli_ml_write_file(path, pb.ptr, pb.len);
    cairn_buf_free(&pb);
    cairn_profile_free(p);
    if (rc) return rc;

    if (s->fit.gain) {
        json_t *imp = json_object(), *g = json_object(), *sp = json_object();
        for (int i = 0; i < cairn_model_n_features(s->fit.model); i++) {
            json_object_set_new(g, cairn_model_feature_name(s->fit.model, i),
                                json_real(s->fit.gain[i]));
            json_object_set_new(sp, cairn_model_feature_name(s->fit.model, i),
                                json_real(s->fit.splits[i]));
        }
        json_object_set_new(imp, "gain", g);
        json_object_set_new(imp, "split", sp);
        rc = write_json(dir, "importance.json", imp);
        json_decref(imp);
        if (rc) return rc;
    }
    json_t *mj = metrics_json(s);
    rc = write_json(dir, "metrics.json", mj);
    json_decref(mj);
    return rc;
}

/* Logs params, per-round and final metrics to the run, uploads the model
 * directory and registers it when asked. */
static int log_run(train_state *s)
{
    cli_ml_kv p[CLI_ML_MAX_PARAMS + 8];
    int np = cli_ml_opts_list(&s->o, p, CLI_ML_MAX_PARAMS);
#define PARAM(k, ...)                                                                              \
    (snprintf(p[np].key, sizeof(p[np].key), "%s", k),                                              \
     snprintf(p[np].value, sizeof(p[np].value), __VA_ARGS__), np++)
    PARAM("model", "%s", cli_ml_kind_name(s->o.kind));
    if (s->all.target) PARAM("target", "%.120s", s->all.target);
    PARAM("train_rows", "%zu", s->train.nrows);
    PARAM("test_rows", "%zu", s->test.nrows);
    if (s->a.cv) PARAM("cv_folds", "%d", s->a.cv);
    if (s->searched) PARAM("search_best_trial", "%d", s->sr.trials[s->sr.best].id);
#undef PARAM
    int rc = cli_ml_log_params(&s->t, s->run.id, p, np);
    if (rc) return rc;

    size_t cap = (size_t)s->fit.n_rounds * 2 + CLI_ML_MAX_METRICS * 3 + 4, n = 0;
    const char **keys = cairn_malloc(sizeof(char *) * cap);
    double *vals = cairn_malloc(sizeof(double) * cap);
    int64_t *steps = cairn_malloc(sizeof(int64_t) * cap);
    char tk[48], vk[48], cvk[CLI_ML_MAX_METRICS * 2][48];
    if (s->fit.train_metric) {
        snprintf(tk, sizeof(tk), "train_%s", s->fit.round_metric);
        snprintf(vk, sizeof(vk), "valid_%s", s->fit.round_metric);
        for (int r = 0; r < s->fit.n_rounds; r++) {
            keys[n] = tk, vals[n] = s->fit.train_metric[r], steps[n++] = r;
            keys[n] = vk, vals[n] = s->fit.valid_metric[r], steps[n++] = r;
        }
    }
    for (int i = 0; i < s->nm; i++)
        keys[n] = s->m[i].name, vals[n] = s->m[i].value, steps[n++] = 0;
    if (s->o.kind == CAIRN_MODEL_KMEANS)
        keys[n] = "inertia", vals[n] = s->fit.inertia, steps[n++] = 0;
    for (int i = 0; s->a.cv && i < s->cv.n; i++) {
        snprintf(cvk[2 * i], sizeof(cvk[0]), "cv_%s_mean", s->cv.name[i]);
        snprintf(cvk[2 * i + 1], sizeof(cvk[0]), "cv_%s_std", s->cv.name[i]);
        keys[n] = cvk[2 * i], vals[n] = s->cv.mean[i], steps[n++] = 0;
        keys[n] = cvk[2 * i + 1], vals[n] = s->cv.std[i], steps[n++] = 0;
    }
    rc = cli_ml_log_metrics(&s->t, s->run.id, keys, vals, steps, n);
    cairn_free(keys);
    cairn_free(vals);
    cairn_free(steps);
    if (rc) return rc;
    if ((rc = cli_ml_upload_dir(&s->t, &s->run, s->a.out, "model"))) return rc;
    if (s->a.register_name) {
        char source[1100];
        snprintf(source, sizeof(source), "%s/model", s->run.artifact_uri);
        rc = cli_ml_register(&s->t, s->a.register_name, source, s->run.id, &s->version);
    }
    return rc;
}

static void print_summary(const train_state *s)
{
    printf("trained %s (%s%s%s) on %zu rows, %s %zu rows, %d features\n",
           cli_ml_kind_name(s->o.kind), task_name(s->all.task), s->all.target ? ", target " : "",
           s->all.target ? s->all.target : "", s->train.nrows,
           s->o.kind == CAIRN_MODEL_KMEANS ? "scored on" : "tested on", s->test.nrows,
           s->train.X->ncols);
    if (s->o.kind == CAIRN_MODEL_TREES && s->fit.n_rounds)
        printf("  rounds     %d (best %d)\n", s->fit.n_rounds, s->fit.best_round + 1);
    if (s->o.kind == CAIRN_MODEL_KMEANS) printf("  %-10s %.6g\n", "inertia", s->fit.inertia);
    for (int i = 0; i < s->nm; i++)
        printf("  %-10s %.6g\n", s->m[i].name, s->m[i].value);
    if (s->a.cv) {
        printf("cross-validation (%d folds):\n", s->a.cv);
        for (int i = 0; i < s->cv.n; i++)
            printf("  %-10s %.6g ± %.4g\n", s->cv.name[i], s->cv.mean[i], s->cv.std[i]);
    }
    printf("model written to %s\n", s->a.out);
    if (s->run.id[0])
        printf("run %s in experiment %s (%s)\n", s->run.id,
               s->a.experiment ? s->a.experiment : "Default", s->t.exp_id);
    if (s->version)
        printf("registered %s version %lld\n", s->a.register_name, (long long)s->version);
}

/* Steps after the data is loaded and the run (if any) opened. */
static int train_and_save(train_state *s)
{
    int rc;
    if (s->have_spec) {
        rc = cli_search_run(&s->spec, &s->o, &s->all, s->tracking ? &s->t : NULL,
                            s->tracking ? s->run.id : NULL, s->progress, &s->sr);
        if (rc) return rc;
        s->searched = 1;
        s->o = s->sr.best_opts;
        if (!s->a.json) cli_search_print(&s->spec, &s->sr);
    }
    if ((rc = split_data(s))) return rc;
    if (s->a.cv && (rc = cli_ml_cross_validate(&s->o, &s->all, s->a.cv, &s->cv))) return rc;
    int use_valid = s->o.kind == CAIRN_MODEL_TREES;
    if ((rc = cli_ml_train(&s->o, &s->train, use_valid ? &s->test : NULL, s->progress, &s->fit)))
        return rc;
    int no = cairn_model_n_outputs(s->fit.model);
    s->test_pred = cairn_malloc(sizeof(double) * s->test.nrows * (size_t)no);
    if ((rc = cairn_model_predict(s->fit.model, s->test.X, s->test_pred, 0))) return rc;
    s->nm = cli_ml_score(s->all.task, s->all.n_classes, s->test.X, s->test.y, s->test_pred,
                         s->test.nrows, s->o.seed, s->m);
    if (s->nm < 0) return s->nm;
    if ((rc = write_model_dir(s))) return rc;
    if (s->tracking && (rc = log_run(s))) return rc;
    return 0;
}

int cmd_train_run(int argc, char **argv, cairn_config *cfg)
{
    train_state *s = cairn_calloc(1, sizeof(*s));
    int rc = parse_args(argc, argv, &s->a), code = 1;
    cairn_model_kind kind;
    if (rc) {
        code = rc;
        goto done;
    }
    s->a.ro.blobs = cli_ml_blob_root(cfg);
    if (cli_ml_kind_parse(s->a.model, &kind)) {
        code = cli_usage_error("train: %s", cairn_error_last()->msg);
        goto done;
    }
    cli_ml_opts_init(&s->o, kind);
    for (int i = 0; i < s->a.nsets; i++)
        if (cli_ml_opts_set_kv(&s->o, s->a.sets[i])) {
            code = cli_usage_error("train: %s", cairn_error_last()->msg);
            goto done;
        }
    if (s->a.search) {
        if (cli_search_load(&s->spec, s->a.search)) {
            code = cli_usage_error("train: %s", cairn_error_last()->msg);
            goto done;
        }
        s->have_spec = 1;
    }
    if (cli_ml_data_load(&s->all, s->a.data, &s->a.ro, s->a.target, &s->o)) {
        code = cli_fail();
        goto done;
    }
    if (s->have_spec && cli_search_check(&s->spec, &s->o, s->all.task)) {
        code = cli_usage_error("train: %s", cairn_error_last()->msg);
        goto done;
    }
    s->progress = isatty(STDERR_FILENO) && !s->a.json;
    if (cli_ml_file_sha256(s->a.data, s->data_sha)) {
        code = cli_fail();
        goto done;
    }
    if (cli_ml_git_commit(s->a.data, s->git) && cli_ml_git_commit(".", s->git))
        s->git[0] = '\0'; /* benign: not in a repository, so no commit tag */
    if (start_tracking(s, cfg)) {
        code = cli_fail();
        goto done;
    }
    rc = train_and_save(s);
    if (rc) {
        code = cli_fail();
        if (s->run.id[0]) cli_ml_run_end(&s->t, s->run.id, "FAILED");
        goto done;
    }
    if (s->run.id[0] && cli_ml_run_end(&s->t, s->run.id, "FINISHED")) {
        code = cli_fail();
        goto done;
    }
    if (s->a.json) {
        json_t *j = metrics_json(s);
        if (s->version) json_object_set_new(j, "registered_version", json_integer(s->version));
        cli_print_json(j);
        json_decref(j);
    } else {
        print_summary(s);
    }
    code = 0;
done:
    train_state_free(s);
    cairn_free(s);
    return code;
}
