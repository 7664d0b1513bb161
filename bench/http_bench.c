/*
 * http_bench.c - throughput of the HTTP layer under wrk: POST /defer is
 * deferred by its handler and answered by a second thread (the group-commit
 * shape), POST /sync answers in the handler. Each is driven with 1 and 64
 * connections; the figures are printed side by side so the cost of the
 * suspend/resume path reads as a ratio.
 *
 * Usage: http_bench [seconds-per-run]   (needs `wrk` on PATH)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/http.h"

#define QCAP 65536

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cairn_http_req *items[QCAP];
    unsigned head, tail;
    int stop;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static const char reply[] = "{\"ok\":true}";

static int h_defer(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_defer(req);
    pthread_mutex_lock(&q.mu);
    q.items[q.tail++ % QCAP] = req;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return 0;
}

static int h_sync(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_respond(req, 200, "application/json", reply, sizeof(reply) - 1);
    return 0;
}

/* Answers queued requests in batches, as a group-commit writer would. */
static void *answerer(void *arg)
{
    (void)arg;
    cairn_http_req *batch[256];
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.head == q.tail && !q.stop)
            pthread_cond_wait(&q.cv, &q.mu);
        if (q.head == q.tail) {
            pthread_mutex_unlock(&q.mu);
            return NULL;
        }
        int n = 0;
        while (q.head != q.tail && n < 256)
            batch[n++] = q.items[q.head++ % QCAP];
        pthread_mutex_unlock(&q.mu);
        for (int i = 0; i < n; i++)
            cairn_http_respond(batch[i], 200, "application/json", reply, sizeof(reply) - 1);
    }
}

static double run_wrk(int port, const char *path, int conns, int secs, const char *lua)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "wrk -t%d -c%d -d%ds -s %s http://127.0.0.1:%d%s 2>&1",
             conns > 1 ? 2 : 1, conns, secs, lua, port, path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    double rps = -1;
    while (fgets(line, sizeof(line), p)) {
        if (strncmp(line, "Requests/sec:", 13) == 0) rps = strtod(line + 13, NULL);
        if (strstr(line, "Non-2xx") || strstr(line, "Socket errors")) fprintf(stderr, "  %s", line);
    }
    pclose(p);
    return rps;
}

int main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 5;
    cairn_log_set_level(CAIRN_LOG_WARN);
    char lua[] = "/tmp/cairn-http-bench-XXXXXX.lua";
    int fd = mkstemps(lua, 4);
    if (fd < 0) return 1;
    const char *script = "wrk.method = \"POST\"\n"
                         "wrk.body = '{\"features\":[1.5,2.5,3.5],\"id\":\"abc\"}'\n"
                         "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
    if (write(fd, script, strlen(script)) < 0) return 1;
    close(fd);

    cairn_http_server *srv;
    cairn_http_opts o = CAIRN_HTTP_OPTS_INIT;
    if (cairn_http_server_new(&srv, &o) < 0 ||
        cairn_http_route(srv, CAIRN_HTTP_POST, "/defer", 0, 0, h_defer, NULL) < 0 ||
        cairn_http_route(srv, CAIRN_HTTP_POST, "/sync", 0, 0, h_sync, NULL) < 0 ||
        cairn_http_server_start(srv) < 0) {
        fprintf(stderr, "http_bench: %s\n", cairn_error_last()->msg);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, answerer, NULL);
    int port = cairn_http_server_port(srv);
    printf("%-8s %6s %12s\n", "handler", "conns", "req/s");
    int conns[] = {1, 64};
    double res[2][2];
    for (int c = 0; c < 2; c++) {
        res[c][0] = run_wrk(port, "/sync", conns[c], secs, lua);
        printf("%-8s %6d %12.0f\n", "sync", conns[c], res[c][0]);
        res[c][1] = run_wrk(port, "/defer", conns[c], secs, lua);
        printf("%-8s %6d %12.0f\n", "deferred", conns[c], res[c][1]);
        printf("deferred/sync at %d conns: %.2f\n", conns[c], res[c][1] / res[c][0]);
    }
    printf("200 responses counted by the server: %llu\n",
           (unsigned long long)cairn_http_server_responses(srv, 200));
    pthread_mutex_lock(&q.mu);
    q.stop = 1;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    pthread_join(t, NULL);
    cairn_http_server_free(srv);
    unlink(lua);
    return 0;
}
