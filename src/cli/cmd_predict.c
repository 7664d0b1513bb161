/*
 * cmd_predict.c - `cairn predict`: loads a model (directory, file,
 * models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH), predicts
 * every row of a CSV file and writes the predictions as CSV: `prediction`
 * for regression and clustering, one `proba_<class>` column per model
 * output plus the predicted `label` for classification.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cairn/core.h"
#include "cli_client.h"
#include "train_common.h"

int cmd_predict_run(int argc, char **argv, cairn_config *cfg);
void cmd_predict_help(void);

void cmd_predict_help(void)
{
    printf("usage: cairn predict --model MODEL --data FILE [--out FILE] [--no-header] "
           "[--skip-lines N]\n\n"
           "MODEL is a model directory (holding model.cairn), a model file,\n"
           "models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH (the last three\n"
           "through the tracking server at CAIRN_TRACKING_URI).\n"
           "Writes CSV to FILE or stdout: 'prediction' (regression, clustering), or\n"
           "'proba_<class>' per model output and 'label' (classification).\n");
}

/* Writes s as one CSV field, quoted when it holds a delimiter, quote or line end. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Name of class k: the model's label, or its index. */
static const char *class_name(const cairn_model *m, int k, char *buf, size_t n)
{
    const char *l = cairn_model_class_label(m, k);
    if (l) return l;
    snprintf(buf, n, "%d", k);
    return buf;
}

/* Writes the header and one line per row. Returns 0 or CAIRN_EIO. */
static int write_predictions(FILE *f, const cairn_model *m, const double *pred, size_t n)
{
    cairn_task task = cairn_model_task(m);
    int no = cairn_model_n_outputs(m),
        cls = task == CAIRN_TASK_BINARY || task == CAIRN_TASK_MULTICLASS;
    char buf[32], name[600];
    if (!cls) {
        fputs("prediction\n", f);
    } else {
        for (int k = 0; k < no; k++) {
            /* binary models have one output: the probability of class 1 */
            snprintf(name, sizeof(name), "proba_%s",
                     class_name(m, task == CAIRN_TASK_BINARY ? 1 : k, buf, sizeof(buf)));
            csv_field(f, name);
            fputc(',', f);
        }
        fputs("label\n", f);
    }
    double *lab = cairn_malloc(sizeof(double) * (n ? n : 1));
    cli_ml_labels(task, no, pred, n, lab);
    for (size_t i = 0; i < n; i++) {
        if (!cls) {
            if (task == CAIRN_TASK_CLUSTERING)
                fprintf(f, "%d\n", (int)pred[i]);
            else
                fprintf(f, "%.17g\n", pred[i]);
            continue;
        }
        for (int k = 0; k < no; k++)
            fprintf(f, "%.17g,", pred[i * (size_t)no + (size_t)k]);
        csv_field(f, class_name(m, (int)lab[i], buf, sizeof(buf)));
        fputc('\n', f);
    }
    cairn_free(lab);
    return ferror(f) ? cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CLI, "cannot write the predictions")
                     : 0;
}

int cmd_predict_run(int argc, char **argv, cairn_config *cfg)
{
    const char *model = NULL, *data = NULL, *out = NULL;
    cli_ml_read_opts ro = {1, 0, NULL, 0, NULL};
    ro.blobs = cli_ml_blob_root(cfg);
    for (int i = 1; i < argc; i++) {
        int r = cli_ml_read_flag(argc, argv, &i, &ro);
        if (r < 0) return 2;
        if (r) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v)
            model = argv[++i];
        else if (!strcmp(argv[i], "--data") && v)
            data = argv[++i];
        else if (!strcmp(argv[i], "--out") && v)
            out = argv[++i];
        else
            return cli_usage_error("predict: unknown or incomplete option '%s'", argv[i]);
    }
    if (!model || !data)
        return cli_usage_error("predict: --model MODEL and --data FILE are required");
    cairn_model *m = NULL;
    cairn_frame *f = NULL;
    double *pred = NULL;
    int code = 1;
    if (cli_ml_model_load(cfg, model, &m) || cli_ml_read_csv(&f, data, &ro)) {
        code = cli_fail();
        goto done;
    }
    pred =
        cairn_malloc(sizeof(double) * (f->nrows ? f->nrows : 1) * (size_t)cairn_model_n_outputs(m));
    if (cairn_model_predict(m, f, pred, 0)) {
        code = cli_fail();
        goto done;
    }
    FILE *fp = out ? fopen(out, "w") : stdout;
    if (!fp) {
        fprintf(stderr, "cairn: cannot create %s\n", out);
        goto done;
    }
    int rc = write_predictions(fp, m, pred, f->nrows);
    if (out && fclose(fp) && !rc)
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CLI, "cannot write %s", out);
    code = rc ? cli_fail() : 0;
done:
    cairn_free(pred);
    cairn_frame_free(f);
    cairn_model_free(m);
    return code;
}
