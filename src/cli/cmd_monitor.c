/*
 * cmd_monitor.c - `cairn monitor <verb>`: dispatches to one function per
 * verb (cmd_monitor_<verb>.c), each a client of the server's monitoring API
 * or, for `drift`, a local batch report.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_monitor_run(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_help(void);
int cmd_monitor_feedback(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_feedback_help(void);
int cmd_monitor_alerts(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_alerts_help(void);
int cmd_monitor_status(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_status_help(void);
int cmd_monitor_history(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_history_help(void);
int cmd_monitor_drift(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_drift_help(void);

typedef struct verb {
    const char *name, *summary;
    int (*run)(int, char **, cairn_config *);
    void (*help)(void);
} verb;

/* One row per verb; each verb's functions live in cmd_monitor_<verb>.c. */
static const verb verbs[] = {
    {"status", "drift windows of each monitored deployment: open and last closed",
     cmd_monitor_status, cmd_monitor_status_help},
    {"history", "closed drift windows with per-feature results", cmd_monitor_history,
     cmd_monitor_history_help},
    {"drift", "batch drift report of a CSV file against a reference (table, JSON, HTML)",
     cmd_monitor_drift, cmd_monitor_drift_help},
    {"feedback", "attach ground-truth labels to logged predictions", cmd_monitor_feedback,
     cmd_monitor_feedback_help},
    {"alerts", "list alerts (firing, resolved) and webhook dead letters", cmd_monitor_alerts,
     cmd_monitor_alerts_help},
    {NULL, NULL, NULL, NULL}, /* end */
};

void cmd_monitor_help(void)
{
    printf("usage: cairn monitor VERB [options]\n\n"
           "Model monitoring: drift and quality of deployed models, alerts.\n\nverbs:\n");
    for (const verb *v = verbs; v->name; v++)
        printf("  %-10s %s\n", v->name, v->summary);
    printf("\n`cairn monitor VERB --help` describes each.\n");
}

int cmd_monitor_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2) {
        fprintf(stderr, "cairn monitor: a verb is needed (cairn monitor --help)\n");
        return 2;
    }
    for (const verb *v = verbs; v->name; v++) {
        if (strcmp(v->name, argv[1]) != 0) continue;
        if (argc > 2 && cli_is_help(argv[2])) {
            v->help();
            return 0;
        }
        return v->run(argc - 1, argv + 1, cfg);
    }
    fprintf(stderr, "cairn monitor: unknown verb '%s' (cairn monitor --help)\n", argv[1]);
    return 2;
}
