/*
 * cmd_compare.c - `cairn compare MODEL_A MODEL_B --data FILE`: both models
 * predict the same rows; the difference of one metric gets a paired
 * bootstrap confidence interval and p-value (cairn_compare_bootstrap), and
 * classifiers also get McNemar's test on their right/wrong answers. Ends
 * with a verdict line: "B is better on auc by 0.012 (95% CI 0.004..0.020,
 * p=0.003)" or "no significant difference".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/metrics.h"
#include "cli_client.h"
#include "train_common.h"

int cmd_compare_run(int argc, char **argv, cairn_config *cfg);
void cmd_compare_help(void);

void cmd_compare_help(void)
{
    printf("usage: cairn compare MODEL_A MODEL_B --data FILE [--metric M] [--target COL]\n"
           "                     [--resamples N] [--seed S] [--json] [--no-header] [--skip-lines "
           "N]\n\n"
           "Compares two models (as for cairn predict) on the same labelled rows: the\n"
           "metric of each, their difference with a paired bootstrap 95%% CI and\n"
           "p-value (N resamples, default 1000), and McNemar's test for classifiers.\n"
           "M defaults to auc for classification and rmse for regression.\n");
}

/* The metric the bootstrap resamples: its name, the task and class count. */
typedef struct metric_ctx {
    const char *name;
    cairn_task task;
    int k; /* outputs per row */
} metric_ctx;

/* Macro one-vs-rest mean of a ranking metric over classes present in y. */
static int macro_ovr(int (*fn)(const double *, const double *, size_t, double *), const double *y,
                     const double *p, size_t n, int k, double *out)
{
    double *yb = cairn_malloc(sizeof(double) * n), *s = cairn_malloc(sizeof(double) * n), sum = 0;
    int used = 0;
    for (int c = 0; c < k; c++) {
        for (size_t i = 0; i < n; i++)
            yb[i] = y[i] == c, s[i] = p[i * (size_t)k + (size_t)c];
        double v;
        if (!fn(yb, s, n, &v)) sum += v, used++;
    }
    cairn_free(yb);
    cairn_free(s);
    if (!used)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CLI, "metric undefined on this sample");
    *out = sum / used;
    return 0;
}

/* cairn_metrics_cb over one named metric; scores are n rows of ctx->k values. */
static int metric_cb(const double *y, const double *score, size_t n, double *out, void *payload)
{
    const metric_ctx *c = payload;
    const char *m = c->name;
    int bin = c->task == CAIRN_TASK_BINARY;
    if (!strcmp(m, "rmse")) return cairn_metrics_rmse(y, score, n, out);
    if (!strcmp(m, "mae")) return cairn_metrics_mae(y, score, n, out);
    if (!strcmp(m, "r2")) return cairn_metrics_r2(y, score, n, out);
    if (!strcmp(m, "mape")) return cairn_metrics_mape(y, score, n, out);
    if (!strcmp(m, "auc"))
        return bin ? cairn_metrics_roc_auc(y, score, n, out)
                   : macro_ovr(cairn_metrics_roc_auc, y, score, n, c->k, out);
    if (!strcmp(m, "pr_auc"))
        return bin ? cairn_metrics_average_precision(y, score, n, out)
                   : macro_ovr(cairn_metrics_average_precision, y, score, n, c->k, out);
    if (!strcmp(m, "logloss"))
        return bin ? cairn_metrics_log_loss(y, score, n, out)
                   : cairn_metrics_log_loss_multi(y, score, n, c->k, out);
    double *lab = cairn_malloc(sizeof(double) * n);
    cli_ml_labels(c->task, c->k, score, n, lab);
    int rc;
    if (!strcmp(m, "accuracy")) {
        rc = cairn_metrics_accuracy(y, lab, n, out);
    } else {
        cairn_metrics_prf prf;
        rc = cairn_metrics_prf_score(y, lab, n, bin ? 2 : c->k, CAIRN_METRICS_MACRO, &prf);
        *out = prf.f1;
    }
    cairn_free(lab);
    return rc;
}

static int metric_valid(cairn_task task, const char *m)
{
    static const char *const cls[] = {"auc", "pr_auc", "logloss", "accuracy", "f1_macro", NULL};
    static const char *const reg[] = {"rmse", "mae", "r2", "mape", NULL};
    for (const char *const *l = task == CAIRN_TASK_REGRESSION ? reg : cls; *l; l++)
        if (!strcmp(*l, m)) return 1;
    return 0;
}

typedef struct cmp_args {
    const char *a, *b, *data, *metric, *target;
    int json, resamples;
    uint64_t seed;
    cli_ml_read_opts ro;
} cmp_args;

static int parse(int argc, char **argv, cmp_args *a)
{
    memset(a, 0, sizeof(*a));
    a->ro.has_header = 1;
    a->resamples = 1000;
    a->seed = 42;
    for (int i = 1; i < argc; i++) {
        int r = cli_ml_read_flag(argc, argv, &i, &a->ro);
        if (r < 0) return 2;
        if (r) continue;
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (!strcmp(o, "--json"))
            a->json = 1;
        else if (!strcmp(o, "--data") && v)
            a->data = argv[++i];
        else if (!strcmp(o, "--metric") && v)
            a->metric = argv[++i];
        else if (!strcmp(o, "--target") && v)
            a->target = argv[++i];
        else if (!strcmp(o, "--resamples") && v) {
            if (cairn_parse_i64(argv[++i], &n) || n < 10 || n > 1000000)
                return cli_usage_error("compare: --resamples wants 10..1000000");
            a->resamples = (int)n;
        } else if (!strcmp(o, "--seed") && v) {
            if (cairn_parse_i64(argv[++i], &n) || n < 0)
                return cli_usage_error("compare: --seed wants an integer >= 0");
            a->seed = (uint64_t)n;
        } else if (o[0] != '-' && !a->a)
            a->a = o;
        else if (o[0] != '-' && !a->b)
            a->b = o;
        else
            return cli_usage_error("compare: unknown or incomplete option '%s'", o);
    }
    if (!a->a || !a->b)
        return cli_usage_error("compare: two models are required (MODEL_A MODEL_B)");
    if (!a->data) return cli_usage_error("compare: --data FILE is required");
    return 0;
}

/* Writes the verdict (see the file comment) into out. */
static void verdict(const char *metric, const cairn_bootstrap_result *r, double conf, char *out,
                    size_t n)
{
    int up = cli_ml_higher_better(metric);
    /* gain of B over A in the metric's good direction, with its interval */
    double d = r->metric_b - r->metric_a, lo = -r->ci_high, hi = -r->ci_low;
    double gain = up ? d : -d, glo = up ? lo : -hi, ghi = up ? hi : -lo;
    int pct = (int)lround(conf * 100);
    if (glo > 0)
        snprintf(out, n, "B is better on %s by %.4g (%d%% CI %.4g..%.4g, p=%.3g)", metric, gain,
                 pct, glo, ghi, r->p_value);
    else if (ghi < 0)
        snprintf(out, n, "A is better on %s by %.4g (%d%% CI %.4g..%.4g, p=%.3g)", metric, -gain,
                 pct, -ghi, -glo, r->p_value);
    else
        snprintf(out, n,
                 "no significant difference on %s (B - A = %.4g, %d%% CI %.4g..%.4g, p=%.3g)",
                 metric, d, pct, lo, hi, r->p_value);
}

int cmd_compare_run(int argc, char **argv, cairn_config *cfg)
{
    cmp_args a;
    int rc = parse(argc, argv, &a), code = 1;
    if (rc) return rc;
    a.ro.blobs = cli_ml_blob_root(cfg);
    cairn_model *ma = NULL, *mb = NULL;
    cairn_frame *f = NULL;
    double *pa = NULL, *pb = NULL, *y = NULL, *ca = NULL, *cb = NULL;
    if (cli_ml_model_load(cfg, a.a, &ma) || cli_ml_model_load(cfg, a.b, &mb) ||
        cli_ml_read_csv(&f, a.data, &a.ro)) {
        code = cli_fail();
        goto done;
    }
    cairn_task task = cairn_model_task(ma);
    int k = cairn_model_n_outputs(ma);
    if (task != cairn_model_task(mb) || k != cairn_model_n_outputs(mb)) {
        fprintf(stderr,
                "cairn: the models do different tasks; compare needs two models of one task\n");
        goto done;
    }
    if (task == CAIRN_TASK_CLUSTERING) {
        fprintf(stderr, "cairn: compare needs supervised models (k-means has no target)\n");
        goto done;
    }
    const char *metric = a.metric ? a.metric : task == CAIRN_TASK_REGRESSION ? "rmse" : "auc";
    if (!metric_valid(task, metric)) {
        code = cli_usage_error("compare: metric '%s' does not apply to %s models", metric,
                               task == CAIRN_TASK_REGRESSION ? "regression" : "classification");
        goto done;
    }
    const char *target = a.target ? a.target : cairn_model_target(ma);
    int col = target ? cairn_frame_find(f, target) : -1;
    if (col < 0) {
        fprintf(stderr, "cairn: no target column '%s' in %s\n", target ? target : "(none)", a.data);
        goto done;
    }
    size_t n = f->nrows;
    pa = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)k);
    pb = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)k);
    y = cairn_malloc(sizeof(double) * (n ? n : 1));
    if (cairn_model_predict(ma, f, pa, 0) || cairn_model_predict(mb, f, pb, 0) ||
        cli_ml_encode_target(f, col, ma, y)) {
        code = cli_fail();
        goto done;
    }
    metric_ctx mc = {metric, task, k};
    cairn_bootstrap_opts bo = CAIRN_BOOTSTRAP_OPTS_INIT;
    bo.n_resamples = a.resamples;
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, a.seed);
    cairn_bootstrap_result br;
    if (cairn_compare_bootstrap(y, pa, pb, n, (size_t)k, metric_cb, &mc, &bo, &rng, &br)) {
        code = cli_fail();
        goto done;
    }
    cairn_mcnemar_result mn;
    int have_mn = 0;
    if (task != CAIRN_TASK_REGRESSION) {
        ca = cairn_malloc(sizeof(double) * n);
        cb = cairn_malloc(sizeof(double) * n);
        cli_ml_labels(task, k, pa, n, ca);
        cli_ml_labels(task, k, pb, n, cb);
        for (size_t i = 0; i < n; i++)
            ca[i] = ca[i] == y[i], cb[i] = cb[i] == y[i];
        have_mn = cairn_compare_mcnemar(ca, cb, n, &mn) == 0;
    }
    char line[400];
    verdict(metric, &br, bo.confidence, line, sizeof(line));
    if (a.json) {
        json_t *j = json_pack(
            "{s:s,s:s,s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:s}", "model_a", a.a, "model_b", a.b,
            "metric", metric, "rows", (json_int_t)n, "metric_a", br.metric_a, "metric_b",
            br.metric_b, "diff_b_minus_a", br.metric_b - br.metric_a, "ci_low", -br.ci_high,
            "ci_high", -br.ci_low, "p_value", br.p_value, "resamples", br.n_valid, "verdict", line);
        if (have_mn)
            json_object_set_new(j, "mcnemar",
                                json_pack("{s:I,s:I,s:f,s:f,s:b}", "a_right_b_wrong",
                                          (json_int_t)mn.b, "a_wrong_b_right", (json_int_t)mn.c,
                                          "statistic", mn.statistic, "p_value", mn.p_value, "exact",
                                          mn.exact));
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("%zu rows of %s\n  A %-40s %s %.6g\n  B %-40s %s %.6g\n", n, a.data, a.a, metric,
               br.metric_a, a.b, metric, br.metric_b);
        if (have_mn)
            printf("McNemar: A right/B wrong %lld, A wrong/B right %lld, p=%.3g%s\n",
                   (long long)mn.b, (long long)mn.c, mn.p_value, mn.exact ? " (exact)" : "");
        printf("%s\n", line);
    }
    code = 0;
done:
    cairn_free(pa);
    cairn_free(pb);
    cairn_free(y);
    cairn_free(ca);
    cairn_free(cb);
    cairn_frame_free(f);
    cairn_model_free(ma);
    cairn_model_free(mb);
    return code;
}
