/*
 * quickstart_proc.c - the quickstart's hands: it runs the real commands as
 * child processes (the running binary for `cairn ...`, git from PATH, the
 * server in the background) and speaks HTTP to the server as any client
 * would. Every child is waited for by pid; nothing is left running unless
 * the caller detaches the server on purpose (--keep).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/common.h"
#include "cairn/core.h"
#include "cairn/http.h"
#include "quickstart.h"

/* Child side of a spawn: never returns. */
static void child_exec(const qs_ctx *q, const char *dir, int outfd, const char *const *argv)
{
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    if (outfd >= 0) {
        dup2(outfd, 1);
        dup2(outfd, 2);
    }
    if (dir && chdir(dir) != 0) _exit(127);
    if (!strcmp(argv[0], "cairn")) {
        char **v = (char **)argv; /* exec does not modify it */
        const char *keep = v[0];
        v[0] = (char *)q->exe;
        execv(q->exe, v);
        v[0] = (char *)keep;
    } else {
        execvp(argv[0], (char **)argv);
    }
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int cairn_cli__qs_run(const qs_ctx *q, const char *dir, cairn_buf *out, const char *const *argv)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        child_exec(q, dir, p[1], argv);
    }
    close(p[1]);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(p[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out) cairn_buf_put(out, chunk, (size_t)n); /* bounded: the tail past max is dropped */
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int cairn_cli__qs_show(const qs_ctx *q, const char *dir, cairn_buf *out, const char *const *argv)
{
    cairn_buf local = CAIRN_BUF_INIT(1 << 20);
    cairn_buf *b = out ? out : &local;
    cairn_buf_reset(b);
    printf("  $");
    for (int i = 0; argv[i]; i++)
        printf(strchr(argv[i], ' ') ? " '%s'" : " %s", argv[i]);
    printf("\n");
    int rc = cairn_cli__qs_run(q, dir, b, argv);
    const char *s = cairn_buf_cstr(b);
    while (*s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        printf("    %.*s\n", n, s);
        s += n + (nl ? 1 : 0);
    }
    if (rc != 0) fprintf(stderr, "cairn quickstart: '%s %s' failed (exit %d)\n", argv[0], argv[1], rc);
    fflush(stdout);
    cairn_buf_free(&local);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cairn_cli__qs_server_start(qs_ctx *q, const char *policy, int detach)
{
    char port_file[4300], log_path[4300], set[4400];
    snprintf(port_file, sizeof(port_file), "%s/port", q->home);
    snprintf(log_path, sizeof(log_path), "%s/server.log", q->home);
    snprintf(set, sizeof(set), "serve.monitor_policy=%s", policy);
    unlink(port_file);
    const char *argv[] = {"cairn", "server", "--home", q->home, "--host", "127.0.0.1", "--port",
                          "0", "--port-file", port_file, "--set", set, NULL};
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "cairn quickstart: cannot write %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return 1;
    }
    if (pid == 0) {
        if (detach) setsid();
        child_exec(q, q->proj, logfd, argv);
    }
    close(logfd);
    q->server = pid;
    for (int waited = 0; waited < 20000; waited += 50) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            q->server = 0;
            fprintf(stderr, "cairn quickstart: the server exited during start; see %s\n", log_path);
            return 1;
        }
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(q->base, sizeof(q->base), "http://127.0.0.1:%d", port);
            json_t *h = NULL;
            if (cairn_cli__qs_http(q, "GET", "/health", NULL, &h) == 0) {
                json_decref(h);
                return 0;
            }
        }
        sleep_ms(50);
    }
    fprintf(stderr, "cairn quickstart: the server did not get ready in 20 s; see %s\n", log_path);
    cairn_cli__qs_server_stop(q);
    return 1;
}

void cairn_cli__qs_server_stop(qs_ctx *q)
{
    if (q->server <= 0) return;
    kill(q->server, SIGTERM);
    for (int waited = 0;; waited += 50) {
        int st;
        pid_t r = waitpid(q->server, &st, WNOHANG);
        if (r == q->server || (r < 0 && errno != EINTR)) break;
        if (waited == 10000) kill(q->server, SIGKILL);
        sleep_ms(50);
    }
    q->server = 0;
}

int cairn_cli__qs_http(const qs_ctx *q, const char *method, const char *path, const char *body,
                       json_t **out)
{
    *out = NULL;
    char url[4400];
    snprintf(url, sizeof(url), "%s%s", q->base, path);
    cairn_buf resp = CAIRN_BUF_INIT(16 << 20);
    int status = 0;
    int rc = cairn_http_fetch(method, url, body ? "application/json" : NULL, body,
                              body ? strlen(body) : 0, &status, &resp);
    if (!rc && status >= 200 && status < 300) {
        *out = resp.len ? json_loadb(resp.ptr, resp.len, 0, NULL) : json_object();
        if (!*out) *out = json_object(); /* a 2xx without JSON (e.g. /health text) */
    }
    cairn_buf_free(&resp);
    return *out ? 0 : 1;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP) rmdir(p);
    else {
        unlink(p);
    }
    return 0;
}

void cairn_cli__qs_rmtree(const char *path)
{
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}
