/*
 * cmd_version.c - `cairn version`.
 */
#include <stdio.h>

#include "cli.h"

int cmd_version_run(int argc, char **argv, cairn_config *cfg);
void cmd_version_help(void);

void cmd_version_help(void) { printf("usage: cairn version\n\nPrints the version of this binary.\n"); }

int cmd_version_run(int argc, char **argv, cairn_config *cfg)
{
    (void)argv;
    (void)cfg;
    if (argc > 1) return cli_usage_error("version takes no arguments");
    printf("cairn %s\n", CAIRN_VERSION);
    return 0;
}
