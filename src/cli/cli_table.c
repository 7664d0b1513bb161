/*
 * cli_table.c - the list of commands, in the order `cairn --help` shows them.
 */
#include "cli.h"

#define CMD(n) extern int cmd_##n##_run(int, char **, cairn_config *); extern void cmd_##n##_help(void);
CMD(version)
#undef CMD

const cli_command cli_commands[] = {
    {"version", "print the version", cmd_version_run, cmd_version_help},
};
const int cli_ncommands = (int)(sizeof(cli_commands) / sizeof(cli_commands[0]));
