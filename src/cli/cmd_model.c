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
#include "cli_client.h"
#include "train_common.h"

int cmd_model_run(int argc, char **argv, cairn_config *cfg);
void cmd_model_help(void);

void cmd_model_help(void)
{
    printf("usage: cairn model inspect MODEL [--json]\n\n"
           "Prints what MODEL (a model directory, a model.cairn file, models:/NAME/VERSION,\n"
           "models:/NAME@ALIAS or runs:/RUN_ID/PATH) holds: a summary, or with --json the\n"
           "whole model (schema, parameters, every tree node) as JSON.\n");
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

int cmd_model_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) return cli_usage_error("model: missing subcommand (inspect)");
    if (strcmp(argv[1], "inspect") != 0)
        return cli_usage_error("model: unknown subcommand '%s' (inspect)", argv[1]);
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
