/*
 * quickstart.h - what `cairn quickstart` (cmd_quickstart.c) shares with its
 * helpers (quickstart_proc.c): child processes of the real commands (the
 * running binary, git, the server) and the HTTP calls it makes as a client.
 */
#ifndef CAIRN_CLI_QUICKSTART_H
#define CAIRN_CLI_QUICKSTART_H

#include <jansson.h>
#include <sys/types.h>

#include "cairn/buf.h"

typedef struct qs_ctx {
    char exe[4096];  /* the running binary: argv[0] "cairn" of every child */
    char work[4096]; /* the temp root: project/ and home/ below it */
    char proj[4200]; /* the project: its own git repository */
    char home[4200]; /* the server's home */
    char base[128];  /* http://127.0.0.1:PORT */
    pid_t server;    /* 0 when not running */
} qs_ctx;

/* Runs argv (argv[0] "cairn" means the running binary, else PATH) in dir,
 * stdin /dev/null, stdout+stderr captured into out (may be NULL: dropped).
 * Returns the exit status, or -1 when it could not run or was killed. */
int cairn_cli__qs_run(const qs_ctx *q, const char *dir, cairn_buf *out, const char *const *argv);
/* As cairn_cli__qs_run, then prints "  $ CMD" and the output indented; on
 * a failure also says so on stderr. Returns the exit status. */
int cairn_cli__qs_show(const qs_ctx *q, const char *dir, cairn_buf *out, const char *const *argv);
/* Starts `cairn server` on the home with the policy file, port 0, and
 * waits (20 s at most) for its port file and GET /health. detach: in its
 * own session (for --keep). Sets q->server and q->base. 0 or 1 (printed). */
int cairn_cli__qs_server_start(qs_ctx *q, const char *policy, int detach);
/* SIGTERM to the server and waits for it (10 s, then SIGKILL). */
void cairn_cli__qs_server_stop(qs_ctx *q);
/* GET or POST (body not NULL: JSON) q->base + path; the parsed answer in
 * *out when HTTP 2xx (0), else 1 with *out NULL. */
int cairn_cli__qs_http(const qs_ctx *q, const char *method, const char *path, const char *body,
                       json_t **out);
/* Removes a directory tree (no symlinks followed). */
void cairn_cli__qs_rmtree(const char *path);

#endif
