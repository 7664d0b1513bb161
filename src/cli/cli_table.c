/*
 * cli_table.c - the list of commands, in the order `cairn --help` shows them.
 */
#include "cli.h"

#define CMD(n) extern int cmd_##n##_run(int, char **, cairn_config *); extern void cmd_##n##_help(void);
CMD(version)
CMD(server)
CMD(experiments)
CMD(runs)
CMD(models)
CMD(quickstart)
CMD(train)
CMD(predict)
CMD(evaluate)
CMD(compare)
CMD(model)
CMD(deploy)
CMD(serve)
CMD(predictions)
CMD(monitor)
CMD(trigger)
CMD(data)
CMD(k8s)
CMD(pipeline)
CMD(lineage)
CMD(s3)
#undef CMD

const cli_command cli_commands[] = {
    {"server", "serve tracking, registry and artifacts (MLflow REST API)", cmd_server_run, cmd_server_help},
    {"experiments", "list or create experiments", cmd_experiments_run, cmd_experiments_help},
    {"runs", "list, search or show runs", cmd_runs_run, cmd_runs_help},
    {"models", "list or show registered models, move aliases", cmd_models_run, cmd_models_help},
    {"train", "train a model on a CSV file (gbdt, linear, logistic, kmeans), track and register it", cmd_train_run, cmd_train_help},
    {"predict", "predict a CSV file with a model (path or models:/ URI)", cmd_predict_run, cmd_predict_help},
    {"evaluate", "score a model on a labelled CSV file", cmd_evaluate_run, cmd_evaluate_help},
    {"compare", "compare two models on the same rows (bootstrap CI, McNemar)", cmd_compare_run, cmd_compare_help},
    {"model", "inspect a model file", cmd_model_run, cmd_model_help},
    {"deploy", "create, change, list or delete serving deployments (weighted model routing)", cmd_deploy_run, cmd_deploy_help},
    {"serve", "serve one model without tracking (OIP V2, KServe V1, MLflow scoring), for containers", cmd_serve_run, cmd_serve_help},
    {"predictions", "print the prediction log (what served models answered, for monitoring)", cmd_predictions_run, cmd_predictions_help},
    {"monitor", "drift and quality of deployed models, alerts, batch drift reports", cmd_monitor_run, cmd_monitor_help},
    {"data", "version data beside git: add, status, diff, checkout, push/pull to remotes, gc", cmd_data_run, cmd_data_help},
    {"trigger", "pipeline triggers of the server: cron schedules, watched paths, manual runs", cmd_trigger_run, cmd_trigger_help},
    {"pipeline", "run cached pipelines from cairn.yaml: run, status, dag, export to Argo/Kubernetes", cmd_pipeline_run, cmd_pipeline_help},
    {"lineage", "trace a model version back to its pipeline stage and data hashes", cmd_lineage_run, cmd_lineage_help},
    {"k8s", "render Kubernetes/Argo manifests: training Job or CronJob, DAGs, pipeline export", cmd_k8s_run, cmd_k8s_help},
    {"s3", "copy files to and from S3-compatible object storage, list and delete objects", cmd_s3_run, cmd_s3_help},
    {"quickstart", "run the whole job end to end on a fresh temp home (make demo)", cmd_quickstart_run, cmd_quickstart_help},
    {"version", "print the version", cmd_version_run, cmd_version_help},
};
const int cli_ncommands = (int)(sizeof(cli_commands) / sizeof(cli_commands[0]));
