/*
 * main.c - `cairn <command> ...`: loads the layered configuration (defaults,
 * --config file, CAIRN_* environment) and dispatches to a command.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: cairn [--config FILE] <command> [args]\n\ncommands:\n");
    for (int i = 0; i < cli_ncommands; i++)
        fprintf(f, "  %-12s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "\nRun 'cairn <command> --help' for a command's options.\n");
}

/* `cairn CMD VERB ... --help`: the command's help, for commands whose verbs
 * do not answer --help themselves (never running the verb). Arguments
 * after "--" belong to a wrapped program and are not looked at. */
static int verb_wants_help(const char *cmd, int argc, char **argv)
{
    static const char *const own[] = {"monitor", "s3", "k8s", "trigger", NULL};
    for (int k = 0; own[k]; k++)
        if (strcmp(cmd, own[k]) == 0) return 0;
    if (strcmp(cmd, "pipeline") == 0 && argc > 1 && strcmp(argv[1], "export") == 0) return 0;
    for (int j = 2; j < argc && strcmp(argv[j], "--") != 0; j++)
        if (cli_is_help(argv[j])) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    cairn_config cfg;
    int i = 1, rc;
    const char *config_file = NULL;

    cairn_config_init(&cfg);
    while (i < argc && argv[i][0] == '-') {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            cairn_config_free(&cfg);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("cairn %s\n", CAIRN_VERSION);
            cairn_config_free(&cfg);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_file = argv[i + 1];
            i += 2;
        } else {
            cairn_config_free(&cfg);
            return cli_usage_error("unknown option '%s' (see cairn --help)", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        cairn_config_free(&cfg);
        return 2;
    }
    if ((config_file && cairn_config_load_file(&cfg, config_file)) ||
        cairn_config_load_env(&cfg, environ)) {
        rc = cli_usage_error("%s", cairn_error_last()->msg);
        cairn_config_free(&cfg);
        return rc;
    }
    cairn_log_set_level(cfg.log_level);
    for (int c = 0; c < cli_ncommands; c++) {
        if (strcmp(cli_commands[c].name, argv[i]) != 0) continue;
        if ((argc > i + 1 && cli_is_help(argv[i + 1])) || verb_wants_help(argv[i], argc - i, argv + i)) {
            cli_commands[c].help();
            rc = 0;
        } else {
            rc = cli_commands[c].run(argc - i, argv + i, &cfg);
        }
        cairn_config_free(&cfg);
        return rc;
    }
    cairn_config_free(&cfg);
    return cli_usage_error("unknown command '%s' (see cairn --help)", argv[i]);
}
