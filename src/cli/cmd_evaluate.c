/*
 * cmd_evaluate.c - `cairn evaluate`: a model's predictions on a labelled CSV
 * file scored with the metrics of its task (classification: auc, pr_auc,
 * logloss, accuracy, f1_macro; regression: rmse, mae, r2, mape; clustering:
 * silhouette). The target column defaults to the one the model was trained on.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/core.h"
#include "cli_client.h"
#include "train_common.h"

int cmd_evaluate_run(int argc, char **argv, cairn_config *cfg);
void cmd_evaluate_help(void);

void cmd_evaluate_help(void)
{
    printf("usage: cairn evaluate --model MODEL --data FILE [--target COL] [--json]\n"
           "                      [--no-header] [--skip-lines N]\n\n"
           "Scores MODEL (as for cairn predict) against the target column of FILE\n"
           "(default: the column the model was trained to predict).\n");
}

static const char *task_name(cairn_task t)
{
    return t == CAIRN_TASK_REGRESSION   ? "regression"
           : t == CAIRN_TASK_BINARY     ? "binary"
           : t == CAIRN_TASK_MULTICLASS ? "multiclass"
                                        : "clustering";
}

int cmd_evaluate_run(int argc, char **argv, cairn_config *cfg)
{
    const char *model = NULL, *data = NULL, *target = NULL;
    int as_json = 0;
    cli_ml_read_opts ro = {1, 0, NULL, 0, NULL};
    ro.blobs = cli_ml_blob_root(cfg);
    for (int i = 1; i < argc; i++) {
        int r = cli_ml_read_flag(argc, argv, &i, &ro);
        if (r < 0) return 2;
        if (r) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--model") && v)
            model = argv[++i];
        else if (!strcmp(argv[i], "--data") && v)
            data = argv[++i];
        else if (!strcmp(argv[i], "--target") && v)
            target = argv[++i];
        else
            return cli_usage_error("evaluate: unknown or incomplete option '%s'", argv[i]);
    }
    if (!model || !data)
        return cli_usage_error("evaluate: --model MODEL and --data FILE are required");
    cairn_model *m = NULL;
    cairn_frame *f = NULL;
    double *pred = NULL, *y = NULL;
    int code = 1;
    if (cli_ml_model_load(cfg, model, &m) || cli_ml_read_csv(&f, data, &ro)) {
        code = cli_fail();
        goto done;
    }
    cairn_task task = cairn_model_task(m);
    if (!target) target = cairn_model_target(m);
    size_t n = f->nrows;
    int col = target ? cairn_frame_find(f, target) : -1;
    if (task != CAIRN_TASK_CLUSTERING && col < 0) {
        fprintf(stderr, "cairn: no target column '%s' in %s\n", target ? target : "(none)", data);
        goto done;
    }
    int no = cairn_model_n_outputs(m);
    pred = cairn_malloc(sizeof(double) * (n ? n : 1) * (size_t)no);
    y = cairn_calloc(n ? n : 1, sizeof(double));
    if (cairn_model_predict(m, f, pred, 0) ||
        (task != CAIRN_TASK_CLUSTERING && cli_ml_encode_target(f, col, m, y))) {
        code = cli_fail();
        goto done;
    }
    /* Silhouette needs the model's features only, not the target column. */
    cairn_frame *X = f;
    cairn_frame *feat = NULL;
    if (task == CAIRN_TASK_CLUSTERING && !cairn_frame_new(&feat, n)) {
        for (int j = 0; j < cairn_model_n_features(m); j++) {
            const cairn_column *c = &f->cols[cairn_frame_find(f, cairn_model_feature_name(m, j))];
            if (c->type == CAIRN_COL_F64)
                cairn_frame_add_f64(feat, c->name, c->f64);
            else if (c->type == CAIRN_COL_F32)
                cairn_frame_add_f32(feat, c->name, c->f32);
        }
        X = feat;
    }
    cli_ml_metric ms[CLI_ML_MAX_METRICS];
    int k = task == CAIRN_TASK_MULTICLASS ? no : task == CAIRN_TASK_BINARY ? 2 : 0;
    int nm = cli_ml_score(task, k, X, y, pred, n, 42, ms);
    cairn_frame_free(feat);
    if (nm < 0) {
        code = cli_fail();
        goto done;
    }
    if (as_json) {
        json_t *j = json_pack("{s:s,s:s,s:I}", "model", model, "task", task_name(task), "rows",
                              (json_int_t)n);
        json_t *mj = json_object();
        for (int i = 0; i < nm; i++)
            json_object_set_new(mj, ms[i].name, json_real(ms[i].value));
        json_object_set_new(j, "metrics", mj);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s (%s) on %zu rows of %s\n", model, task_name(task), n, data);
        for (int i = 0; i < nm; i++)
            printf("  %-10s %.6g\n", ms[i].name, ms[i].value);
    }
    code = 0;
done:
    cairn_free(pred);
    cairn_free(y);
    cairn_frame_free(f);
    cairn_model_free(m);
    return code;
}
