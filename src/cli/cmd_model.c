/*
 * cmd_model.c - `cairn model inspect MODEL [--json]`: what a model file
 * holds. --json prints cairn_model_to_json indented; otherwise a summary:
 * kind, task, target, classes, features with their types, and per kind the
 * trees (count, nodes, leaves, top features by gain), coefficients or
 * centroids.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "cairn/csv.h"
#include "cairn/profile.h"
#include "cli_client.h"
#include "train_common.h"

int cmd_model_run(int argc, char **argv, cairn_config *cfg);
void cmd_model_help(void);

void cmd_model_help(void)
{
    printf("usage: cairn model inspect MODEL [--json]\n"
           "       cairn model import (--xgboost FILE.json | --lightgbm FILE.txt) --out DIR\n"
           "                          [--data TRAIN.csv]\n\n"
           "Prints what MODEL (a model directory, a model.cairn file, models:/NAME/VERSION,\n"
           "models:/NAME@ALIAS or runs:/RUN_ID/PATH) holds: a summary, or with --json the\n"
           "whole model (schema, parameters, every tree node) as JSON.\n\n"
           "import reads an XGBoost JSON model (save_model(\"m.json\")) or a LightGBM text\n"
           "model (save_model(\"m.txt\")) into Cairn's tree runtime and writes a model\n"
           "directory (model.cairn, MLmodel) that predict, evaluate and serving use.\n"
           "With --data, the training CSV (columns named as the model's features) also\n"
           "gives the directory a profile.json, the reference that serving's drift\n"
           "monitoring compares traffic against.\n");
}

static void print_trees(json_t *p)
{
    json_t *trees = json_object_get(p, "trees");
    size_t nodes = 0, leaves = 0, i, j;
    json_t *t, *nd;
    json_array_foreach(trees, i, t)
    {
        json_array_foreach(json_object_get(t, "nodes"), j, nd)
        {
            nodes++;
            leaves += json_object_get(nd, "leaf") != NULL;
        }
    }
    printf("trees       %zu (%zu nodes, %zu leaves), transform %s\n", json_array_size(trees), nodes,
           leaves, json_string_value(json_object_get(p, "transform")));
}

static void print_vector(const char *label, json_t *arr, json_t *features)
{
    size_t i;
    json_t *v;
    printf("%s\n", label);
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(json_object_get(json_array_get(features, i), "name"));
        printf("  %-28s %.6g\n", name ? name : "?", json_number_value(v));
    }
}

/* The readable summary from the model's JSON. */
static void print_summary(const cairn_model *m, json_t *j)
{
    json_t *schema = json_object_get(j, "schema"), *p = json_object_get(j, "params");
    json_t *features = json_object_get(schema, "features");
    const char *kind = json_string_value(json_object_get(j, "kind"));
    printf("kind        %s\ntask        %s\n", kind ? kind : "?",
           json_string_value(json_object_get(j, "task")));
    if (cairn_model_target(m)) printf("target      %s\n", cairn_model_target(m));
    printf("outputs     %d\n", cairn_model_n_outputs(m));
    json_t *labels = json_object_get(schema, "class_labels");
    if (json_array_size(labels)) {
        size_t i;
        json_t *v;
        printf("classes    ");
        json_array_foreach(labels, i, v)
            printf(" %s", json_string_value(v) ? json_string_value(v) : "?");
        printf("\n");
    }
    int nf = cairn_model_n_features(m);
    printf("features    %d\n", nf);
    for (int i = 0; i < nf && i < 50; i++)
        printf("  %-28s %s\n", cairn_model_feature_name(m, i),
               cairn_model_feature_type(m, i) == CAIRN_COL_CAT ? "categorical" : "numeric");
    if (nf > 50) printf("  ... %d more\n", nf - 50);
    if (cairn_model_kind_of(m) == CAIRN_MODEL_TREES) {
        print_trees(p);
    } else if (cairn_model_kind_of(m) == CAIRN_MODEL_LINEAR) {
        printf("intercept   %.6g\n", json_number_value(json_object_get(p, "intercept")));
        print_vector("coefficients", json_object_get(p, "coef"), features);
    } else if (cairn_model_kind_of(m) == CAIRN_MODEL_LOGISTIC) {
        json_t *coef = json_object_get(p, "coef"), *icpt = json_object_get(p, "intercept");
        size_t r;
        json_t *row;
        json_array_foreach(coef, r, row)
        {
            char label[64];
            snprintf(label, sizeof(label), "coefficients (row %zu, intercept %.6g)", r,
                     json_number_value(json_array_get(icpt, r)));
            print_vector(label, row, features);
        }
    } else if (cairn_model_kind_of(m) == CAIRN_MODEL_KMEANS) {
        printf("clusters    %lld\n", (long long)json_integer_value(json_object_get(p, "k")));
    }
}

/* Writes dir/profile.json: the reference profile of the model's features
 * in the CSV at data (columns named as the model's features) and of the
 * model's predictions on those rows, as `cairn train` writes for its own
 * models, so imported models are monitored too. */
static int write_profile(const cairn_model *m, const char *data, const char *dir)
{
    cairn_frame *csv = NULL;
    cairn_profile *p = NULL;
    int nf = cairn_model_n_features(m), k = cairn_model_n_outputs(m);
    int rc = cairn_csv_read_file(&csv, data, NULL);
    if (rc) return rc;
    cairn_column *cols = cairn_calloc((size_t)(nf ? nf : 1), sizeof(*cols));
    for (int j = 0; j < nf && !rc; j++) {
        int c = cairn_frame_find(csv, cairn_model_feature_name(m, j));
        if (c < 0)
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                 "%s has no column '%s' (a feature of the model)", data,
                                 cairn_model_feature_name(m, j));
        else
            cols[j] = csv->cols[c]; /* borrowed: the view owns nothing */
    }
    cairn_frame view = {csv->nrows, nf, cols};
    double *pred = cairn_malloc(sizeof(double) * (csv->nrows ? csv->nrows : 1) * (size_t)k);
    if (!rc) rc = cairn_model_predict(m, &view, pred, 0);
    if (!rc) rc = cairn_profile_build(&p, &view, pred, k, NULL);
    cairn_buf pb = CAIRN_BUF_INIT(1u << 30);
    if (!rc) rc = cairn_profile_to_json(p, &pb);
    char path[4200];
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    if (!rc) rc = cli_ml_write_file(path, pb.ptr, pb.len);
    cairn_buf_free(&pb);
    cairn_profile_free(p);
    cairn_free(pred);
    cairn_free(cols);
    cairn_frame_free(csv);
    return rc;
}

/* `cairn model import`: a foreign tree model into a model directory. */
static int import_model(int argc, char **argv)
{
    const char *xgb = NULL, *lgbm = NULL, *out = NULL, *data = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--xgboost") && v) xgb = argv[++i];
        else if (!strcmp(argv[i], "--lightgbm") && v) lgbm = argv[++i];
        else if (!strcmp(argv[i], "--out") && v) out = argv[++i];
        else if (!strcmp(argv[i], "--data") && v) data = argv[++i];
        else return cli_usage_error("model import: unknown or incomplete option '%s'", argv[i]);
    }
    if (!xgb == !lgbm) return cli_usage_error("model import: give one of --xgboost FILE or --lightgbm FILE");
    if (!out) return cli_usage_error("model import: --out DIR is required");
    cairn_buf in = CAIRN_BUF_INIT((size_t)1 << 30), yaml = CAIRN_BUF_INIT(0);
    cairn_model *m = NULL;
    char path[4200];
    int rc = cairn_read_file(xgb ? xgb : lgbm, &in);
    if (!rc) rc = xgb ? cairn_model_import_xgboost(&m, in.ptr, in.len)
                      : cairn_model_import_lightgbm(&m, in.ptr, in.len);
    if (!rc) rc = cairn_mkdir_p(out, 0755);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/model.cairn", out);
        rc = cairn_model_save(m, path);
    }
    if (!rc) rc = cairn_model_mlmodel_yaml(m, NULL, &yaml);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/MLmodel", out);
        rc = cli_ml_write_file(path, yaml.ptr, yaml.len);
    }
    if (!rc && data) rc = write_profile(m, data, out);
    int code = rc ? cli_fail() : 0;
    if (!rc)
        printf("imported %s model (%d features, %d outputs) into %s\n", xgb ? "XGBoost" : "LightGBM",
               cairn_model_n_features(m), cairn_model_n_outputs(m), out);
    cairn_model_free(m);
    cairn_buf_free(&in);
    cairn_buf_free(&yaml);
    return code;
}

int cmd_model_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("model: missing subcommand (inspect, import)");
    if (!strcmp(argv[1], "import")) return import_model(argc, argv);
    if (strcmp(argv[1], "inspect") != 0)
        return cli_usage_error("model: unknown subcommand '%s' (inspect, import)", argv[1]);
    const char *ref = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (argv[i][0] != '-' && !ref)
            ref = argv[i];
        else
            return cli_usage_error("model inspect: unexpected argument '%s'", argv[i]);
    }
    if (!ref) return cli_usage_error("model inspect: missing MODEL");
    cairn_model *m = NULL;
    cairn_buf b = CAIRN_BUF_INIT(0);
    if (cli_ml_model_load(cfg, ref, &m) || cairn_model_to_json(m, &b)) {
        cairn_model_free(m);
        cairn_buf_free(&b);
        return cli_fail();
    }
    json_error_t err;
    json_t *j = json_loadb(b.ptr, b.len, 0, &err);
    cairn_buf_free(&b);
    int code = 0;
    if (!j) {
        fprintf(stderr, "cairn: the model's JSON does not parse: %s\n", err.text);
        code = 1;
    } else if (as_json) {
        cli_print_json(j);
    } else {
        print_summary(m, j);
    }
    json_decref(j);
    cairn_model_free(m);
    return code;
}
