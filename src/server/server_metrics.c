/*
 * server_metrics.c - the text behind `GET /metrics` (Prometheus text
 * exposition format 0.0.4): HTTP responses by status code, process metrics
 * read from /proc, build info, then the serving families that
 * cairn_serve_metrics_write appends.
 *
 * Key idea: nothing is cached; a scrape reads the HTTP layer's atomic
 * per-status counters and /proc directly, so the endpoint costs nothing
 * between scrapes. A process metric that cannot be read (no /proc) is left
 * out, family and all, rather than reported as a false zero.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/http.h"
#include "cairn/serve.h"

#include "server_internal.h"

static void put_family(cairn_buf *b, const char *name, const char *type, const char *help)
{
    cairn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Reads up to cap-1 bytes of a (small, /proc) file into buf, NUL-terminated.
 * Returns the length, or -1 if it cannot be read. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Resident set size in bytes from /proc/self/statm (second field, pages). */
static int resident_bytes(double *out)
{
    char buf[256], *end;
    if (read_small("/proc/self/statm", buf, sizeof(buf)) <= 0) return -1;
    strtoull(buf, &end, 10); /* size */
    char *p = end;
    unsigned long long pages = strtoull(p, &end, 10);
    long page = sysconf(_SC_PAGESIZE);
    if (end == p || page <= 0) return -1;
    *out = (double)pages * (double)page;
    return 0;
}

/* The `btime` line of /proc/stat: boot time in seconds since the epoch.
 * Read in pieces: the `intr` line before it can be many kilobytes long. */
static int boot_time(unsigned long long *out)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f) return -1;
    char line[512];
    int at_start = 1, rc = -1;
    while (fgets(line, sizeof(line), f)) {
        if (at_start && strncmp(line, "btime ", 6) == 0) {
            char *end;
            *out = strtoull(line + 6, &end, 10);
            rc = end == line + 6 ? -1 : 0;
            break;
        }
        at_start = strchr(line, '\n') != NULL;
    }
    fclose(f);
    return rc;
}

/* Start time (seconds since the epoch) and CPU seconds from /proc/self/stat
 * (fields 14 utime, 15 stime, 22 starttime, in clock ticks since boot) and
 * the boot time from /proc/stat (btime). */
static int stat_times(double *start_out, double *cpu_out)
{
    char buf[1024];
    if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0) return -1;
    char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p) return -1;
    p++;
    unsigned long long field[23] = {0};
    for (int i = 3; i <= 22; i++) { /* field 3 (state) is a letter */
        while (*p == ' ')
            p++;
        if (!*p) return -1;
        char *end;
        field[i] = strtoull(p, &end, 10);
        if (end == p) {
            if (i != 3) return -1;
            end = p + 1;
        }
        p = end;
    }
    long tck = sysconf(_SC_CLK_TCK);
    if (tck <= 0) return -1;
    unsigned long long btime;
    if (boot_time(&btime)) return -1;
    *start_out = (double)btime + (double)field[22] / (double)tck;
    *cpu_out = (double)(field[14] + field[15]) / (double)tck;
    return 0;
}

/* Appends the full /metrics exposition to out (unbounded). Thread-safe. */
void cairn_server__metrics_write(const cairn_http_server *http, cairn_serve *serve, cairn_buf *out)
{
    put_family(out, "cairn_http_responses_total", "counter",
               "HTTP responses sent, by status code.");
    for (int code = 100; code <= 599; code++) {
        uint64_t n = cairn_http_server_responses(http, code);
        if (n)
            cairn_buf_printf(out, "cairn_http_responses_total{code=\"%d\"} %llu\n", code,
                             (unsigned long long)n);
    }
    double rss, start, cpu;
    if (resident_bytes(&rss) == 0) {
        put_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        cairn_buf_printf(out, "process_resident_memory_bytes %.0f\n", rss);
    }
    if (stat_times(&start, &cpu) == 0) {
        put_family(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since the Unix epoch in seconds.");
        cairn_buf_printf(out, "process_start_time_seconds %.3f\n", start);
        put_family(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.");
        cairn_buf_printf(out, "process_cpu_seconds_total %.3f\n", cpu);
    }
    put_family(out, "cairn_build_info", "gauge", "Build information; the value is always 1.");
    cairn_buf_puts(out, "cairn_build_info{version=\"" CAIRN_VERSION "\"} 1\n");
    cairn_serve_metrics_write(serve, out);
}

static int h_health(cairn_http_req *req, void *payload)
{
    (void)payload;
    cairn_http_respond(req, 200, "text/plain", "OK", 2);
    return 0;
}

static int h_metrics(cairn_http_req *req, void *payload)
{
    cairn_server__probes *p = payload;
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_server__metrics_write(p->http, p->serve, &b);
    size_t n;
    char *body = cairn_buf_detach(&b, &n);
    cairn_http_respond_take(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, n);
    return 0;
}

int cairn_server__mount_probes(cairn_server__probes *p)
{
    int rc = cairn_http_route(p->http, CAIRN_HTTP_GET, "/health", 0, 0, h_health, p);
    if (!rc) rc = cairn_http_route(p->http, CAIRN_HTTP_GET, "/metrics", 0, 0, h_metrics, p);
    return rc;
}
