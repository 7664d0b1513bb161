/*
 * cmd_quickstart.c - `cairn quickstart` (what `make demo` runs): starts a
 * real server on a fresh temp home, trains a small model for real (linear
 * regression by gradient descent on synthetic data, one run per learning
 * rate, per-step loss logged over the REST API), uploads the best model as
 * an artifact, registers it behind the `production` alias, searches runs by
 * metric, prints what happened, and stops the server (unless --keep).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "cairn/csv.h"
#include "cairn/http.h"
#include "cairn/server.h"
#include "cli_client.h"

int cmd_quickstart_run(int argc, char **argv, cairn_config *cfg);
void cmd_quickstart_help(void);
int cmd_train_run(int argc, char **argv, cairn_config *cfg);
int cmd_compare_run(int argc, char **argv, cairn_config *cfg);

void cmd_quickstart_help(void)
{
    printf("usage: cairn quickstart [--keep] [--home DIR] [--data CSV --target COL]\n\n"
           "Runs the main job end to end on the embedded default: a server on a fresh\n"
           "temp home, an experiment, training runs with per-step metrics, a registered\n"
           "model behind the 'production' alias, and a search by metric.\n"
           "  --keep      leave the server running afterwards (Ctrl-C stops it)\n"
           "  --home DIR  use DIR instead of a fresh temp directory\n"
           "  --data CSV --target COL\n"
           "              also train a GBDT and a logistic regression on CSV with\n"
           "              `cairn train` (tracked in the same experiment), compare them\n"
           "              with a significance test, and register the GBDT\n");
}

#define N_SAMPLES 256
#define N_FEATURES 3
#define N_STEPS 60

/* Deterministic data: y = 2.0*x0 - 3.0*x1 + 0.5*x2 + 1.0 + noise. */
static void make_data(double x[N_SAMPLES][N_FEATURES], double y[N_SAMPLES])
{
    uint64_t s = 42;
    for (int i = 0; i < N_SAMPLES; i++) {
        for (int j = 0; j < N_FEATURES; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i][j] = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        }
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double noise = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.2;
        y[i] = 2.0 * x[i][0] - 3.0 * x[i][1] + 0.5 * x[i][2] + 1.0 + noise;
    }
}

static int post(cairn_config *cfg, const char *path, json_t *body, json_t **out)
{
    json_t *resp = NULL;
    int rc = cli_call(cfg, "POST", path, body, &resp);
    json_decref(body);
    if (out) *out = resp;
    else json_decref(resp);
    return rc;
}

/* One training run: full-batch gradient descent; logs loss per step in one
 * log-batch per 20 steps. Returns the final RMSE through *rmse_out. */
static int train(cairn_config *cfg, const char *exp_id, double lr, double x[N_SAMPLES][N_FEATURES],
                 double y[N_SAMPLES], char run_id[64], double *rmse_out, double w_out[N_FEATURES + 1])
{
    char name[64];
    snprintf(name, sizeof(name), "linreg-lr-%g", lr);
    json_t *resp;
    if (post(cfg, "/api/2.0/mlflow/runs/create",
             json_pack("{s:s,s:s,s:I,s:[{s:s,s:s}]}", "experiment_id", exp_id, "run_name", name,
                       "start_time", (json_int_t)cairn_time_ms(), "tags", "key", "mlflow.source.name",
                       "value", "cairn quickstart"),
             &resp))
        return 1;
    snprintf(run_id, 64, "%s", json_string_value(json_object_get(json_object_get(json_object_get(resp, "run"), "info"), "run_id")));
    json_decref(resp);
    char lrs[32];
    snprintf(lrs, sizeof(lrs), "%g", lr);
    if (post(cfg, "/api/2.0/mlflow/runs/log-batch",
             json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "run_id", run_id, "params", "key",
                       "learning_rate", "value", lrs, "key", "steps", "value", "60", "key", "model",
                       "value", "linear_regression"),
             NULL))
        return 1;
    double w[N_FEATURES + 1] = {0};
    json_t *metrics = json_array();
    double rmse = 0;
    for (int step = 0; step < N_STEPS; step++) {
        double g[N_FEATURES + 1] = {0}, sse = 0;
        for (int i = 0; i < N_SAMPLES; i++) {
            double pred = w[N_FEATURES];
            for (int j = 0; j < N_FEATURES; j++) pred += w[j] * x[i][j];
            double err = pred - y[i];
            sse += err * err;
            for (int j = 0; j < N_FEATURES; j++) g[j] += err * x[i][j];
            g[N_FEATURES] += err;
        }
        for (int j = 0; j <= N_FEATURES; j++) w[j] -= lr * 2.0 * g[j] / N_SAMPLES;
        rmse = sqrt(sse / N_SAMPLES);
        json_array_append_new(metrics, json_pack("{s:s,s:f,s:I,s:i}", "key", "rmse", "value", rmse,
                                                 "timestamp", (json_int_t)cairn_time_ms(), "step", step));
        if (json_array_size(metrics) == 20 || step == N_STEPS - 1) {
            if (post(cfg, "/api/2.0/mlflow/runs/log-batch",
                     json_pack("{s:s,s:o}", "run_id", run_id, "metrics", metrics), NULL))
                return 1;
            metrics = json_array();
        }
    }
    json_decref(metrics);
    if (post(cfg, "/api/2.0/mlflow/runs/update",
             json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", "FINISHED", "end_time",
                       (json_int_t)cairn_time_ms()),
             NULL))
        return 1;
    *rmse_out = rmse;
    memcpy(w_out, w, sizeof(w));
    return 0;
}

/* Uploads the model (coefficients as JSON) through the artifact proxy. */
static int upload_model(cairn_config *cfg, const char *exp_id, const char *run_id,
                        const double w[N_FEATURES + 1], char *uri, size_t n)
{
    json_t *model = json_pack("{s:s,s:[f,f,f],s:f}", "kind", "linear_regression", "coef", w[0], w[1],
                              w[2], "intercept", w[N_FEATURES]);
    char *body = json_dumps(model, JSON_INDENT(2));
    json_decref(model);
    char url[1024];
    snprintf(url, sizeof(url), "%s/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model/model.json",
             cfg->client.tracking_uri, exp_id, run_id);
    cairn_buf resp = CAIRN_BUF_INIT(1 << 20);
    int status = 0;
    int rc = cairn_http_fetch("PUT", url, "application/json", body, strlen(body), &status, &resp);
    free(body);
    cairn_buf_free(&resp);
    if (rc || status != 200) {
        fprintf(stderr, "cairn: artifact upload failed (HTTP %d)\n", status);
        return 1;
    }
    snprintf(uri, n, "mlflow-artifacts:/%s/%s/artifacts/model", exp_id, run_id);
    return 0;
}

/* The learners' part of the job, through the same commands users run:
 * `cairn train` for a GBDT and a logistic regression (tracked in the
 * quickstart experiment, the GBDT registered), then `cairn compare`. */
static int train_and_compare(cairn_config *cfg, const char *home, const char *data,
                             const char *target)
{
    char gbdt_dir[4200], logit_dir[4200];
    snprintf(gbdt_dir, sizeof(gbdt_dir), "%s/models/gbdt", home);
    snprintf(logit_dir, sizeof(logit_dir), "%s/models/logistic", home);
    char *gbdt[] = {"train", "--data", (char *)data, "--target", (char *)target, "--model", "gbdt",
                    "--set", "n_rounds=200", "--set", "early_stopping_rounds=20",
                    "--experiment", "quickstart", "--register", "quickstart-gbdt",
                    "--out", gbdt_dir};
    char *logit[] = {"train", "--data", (char *)data, "--target", (char *)target, "--model",
                     "logistic", "--set", "standardize=1", "--experiment", "quickstart", "--out",
                     logit_dir};
    char *cmp[] = {"compare", gbdt_dir, logit_dir, "--data", (char *)data, "--target", (char *)target};
    printf("\n  cairn train --model gbdt on %s\n", data);
    fflush(stdout);
    if (cmd_train_run((int)(sizeof(gbdt) / sizeof(gbdt[0])), gbdt, cfg)) return 1;
    printf("\n  cairn train --model logistic on %s\n", data);
    fflush(stdout);
    if (cmd_train_run((int)(sizeof(logit) / sizeof(logit[0])), logit, cfg)) return 1;
    printf("\n  cairn compare gbdt logistic\n");
    fflush(stdout);
    return cmd_compare_run((int)(sizeof(cmp) / sizeof(cmp[0])), cmp, cfg) ? 1 : 0;
}

/* Serving: the registered GBDT answers an Open Inference Protocol request
 * for the first row of the data, as any KServe / Triton client would send it. */
static int serve_one(cairn_config *cfg, const char *data, const char *target)
{
    cairn_frame *f = NULL;
    cairn_csv_opts co = CAIRN_CSV_OPTS_INIT;
    if (cairn_csv_read_file(&f, data, &co)) return cli_fail();
    json_t *row = json_array();
    int nf = 0;
    for (int j = 0; j < f->ncols; j++) {
        if (!strcmp(f->cols[j].name, target) || f->cols[j].type == CAIRN_COL_CAT) continue;
        json_array_append_new(row, json_real(cairn_frame_get(f, j, 0)));
        nf++;
    }
    cairn_frame_free(f);
    json_t *body = json_pack("{s:s,s:[{s:s,s:[i,i],s:s,s:o}]}", "id", "quickstart-1", "inputs",
                             "name", "input-0", "shape", 1, nf, "datatype", "FP64", "data", row);
    json_t *resp = NULL;
    printf("\n  POST /v2/models/quickstart-gbdt/infer (Open Inference Protocol, first row)\n");
    int rc = cli_call(cfg, "POST", "/v2/models/quickstart-gbdt/infer", body, &resp);
    json_decref(body);
    if (rc) return 1;
    size_t i;
    json_t *o;
    printf("    model %s version %s\n", json_string_value(json_object_get(resp, "model_name")),
           json_string_value(json_object_get(resp, "model_version")));
    json_array_foreach(json_object_get(resp, "outputs"), i, o) {
        char *d = json_dumps(json_object_get(o, "data"), JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("    %-8s %s\n", json_string_value(json_object_get(o, "name")), d ? d : "?");
        free(d);
    }
    json_decref(resp);
    return 0;
}

int cmd_quickstart_run(int argc, char **argv, cairn_config *cfg)
{
    int keep = 0, rc = 1;
    const char *home = NULL, *data = NULL, *target = NULL;
    char tmp[] = "/tmp/cairn-quickstart-XXXXXX";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (!strcmp(argv[i], "--home") && i + 1 < argc) home = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
        else return cli_usage_error("quickstart: unknown option '%s'", argv[i]);
    }
    if (!data != !target) return cli_usage_error("quickstart: --data and --target go together");
    if (!home && !(home = mkdtemp(tmp))) return cli_usage_error("quickstart: cannot make a temp dir");
    cairn_config_set(cfg, "store.home", home);
    cairn_config_set(cfg, "http.port", "0");
    cairn_free(cfg->store.uri);
    cairn_free(cfg->store.artifacts);
    cfg->store.uri = cfg->store.artifacts = NULL;
    if (cairn_config_finish(cfg)) return cli_fail();
    cairn_log_set_level(CAIRN_LOG_WARN);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    cairn_server *srv;
    if (cairn_server_new(&srv, cfg) || cairn_server_start(srv)) return cli_fail();
    char base[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", cairn_server_port(srv));
    cairn_config_set(cfg, "client.tracking_uri", base);
    printf("cairn quickstart\n  server    %s (home %s)\n", base, home);

    static double x[N_SAMPLES][N_FEATURES], y[N_SAMPLES];
    make_data(x, y);
    json_t *resp;
    if (post(cfg, "/api/2.0/mlflow/experiments/create",
             json_pack("{s:s,s:[{s:s,s:s}]}", "name", "quickstart", "tags", "key", "team", "value", "demo"),
             &resp))
        goto out;
    char exp_id[32];
    snprintf(exp_id, sizeof(exp_id), "%s", json_string_value(json_object_get(resp, "experiment_id")));
    json_decref(resp);
    printf("  experiment 'quickstart' (id %s)\n\n  %-22s %-34s %s\n", exp_id, "run", "id", "final rmse");

    static const double rates[] = {0.01, 0.05, 0.1, 0.3};
    char best_run[64] = "";
    double best = INFINITY, best_w[N_FEATURES + 1] = {0};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        char run_id[64];
        double rmse, w[N_FEATURES + 1];
        if (train(cfg, exp_id, rates[i], x, y, run_id, &rmse, w)) goto out;
        printf("  linreg-lr-%-12g %-34s %.4f\n", rates[i], run_id, rmse);
        if (rmse < best) {
            best = rmse;
            memcpy(best_w, w, sizeof(w));
            snprintf(best_run, sizeof(best_run), "%s", run_id);
        }
    }

    char source[512];
    if (upload_model(cfg, exp_id, best_run, best_w, source, sizeof(source))) goto out;
    if (post(cfg, "/api/2.0/mlflow/registered-models/create",
             json_pack("{s:s,s:s}", "name", "quickstart-linreg", "description",
                       "linear regression trained by cairn quickstart"),
             NULL) ||
        post(cfg, "/api/2.0/mlflow/model-versions/create",
             json_pack("{s:s,s:s,s:s}", "name", "quickstart-linreg", "source", source, "run_id", best_run),
             &resp))
        goto out;
    const char *version = json_string_value(json_object_get(json_object_get(resp, "model_version"), "version"));
    char ver[16];
    snprintf(ver, sizeof(ver), "%s", version ? version : "1");
    json_decref(resp);
    if (post(cfg, "/api/2.0/mlflow/registered-models/alias",
             json_pack("{s:s,s:s,s:s}", "name", "quickstart-linreg", "alias", "production", "version", ver),
             NULL))
        goto out;
    printf("\n  registered models:/quickstart-linreg@production -> version %s (run %s, rmse %.4f)\n",
           ver, best_run, best);

    if (post(cfg, "/api/2.0/mlflow/runs/search",
             json_pack("{s:[s],s:s,s:[s],s:i}", "experiment_ids", exp_id, "filter", "metrics.rmse < 0.5",
                       "order_by", "metrics.rmse ASC", "max_results", 10),
             &resp))
        goto out;
    json_t *runs = json_object_get(resp, "runs");
    printf("  search 'metrics.rmse < 0.5' ordered by rmse: %zu runs\n", json_array_size(runs));
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) printf("    %s\n", json_string_value(json_object_get(json_object_get(r, "info"), "run_name")));
    json_decref(resp);

    if (data && train_and_compare(cfg, home, data, target)) goto out;

    if (data && serve_one(cfg, data, target)) goto out;

    rc = 0;
    if (keep) {
        printf("\n  look around (Ctrl-C stops the server):\n"
               "    CAIRN_TRACKING_URI=%s cairn runs search --experiment quickstart "
               "--order-by 'metrics.rmse ASC'\n"
               "    CAIRN_TRACKING_URI=%s cairn models show quickstart-gbdt\n"
               "    curl %s/v2/models/quickstart-gbdt\n",
               base, base, base);
        fflush(stdout);
        int sig;
        sigwait(&sigs, &sig);
    }
out:
    cairn_server_free(srv);
    if (rc == 0)
        printf("\n  server stopped; data kept in %s\n"
               "  explore it: cairn server --home %s   (or: cairn quickstart --keep)\n",
               home, home);
    return rc;
}
