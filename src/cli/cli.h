/*
 * cli.h - the command table shared by main.c and the command files.
 * Each command lives in its own cmd_<name>.c and returns a process exit
 * code: 0 success, 1 failure, 2 bad usage (one line on stderr).
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include "cairn/config.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, cairn_config *cfg);
    void (*help)(void);
} cli_command;

extern const cli_command cli_commands[];
extern const int cli_ncommands;

/* Prints "cairn: <msg>" and returns 2 (bad usage). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "cairn: <last error message>" and returns 1. */
int cli_fail(void);
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
