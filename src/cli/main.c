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
        if (argc > i + 1 && cli_is_help(argv[i + 1])) {
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
