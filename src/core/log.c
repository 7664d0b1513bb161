/*
 * log.c - one logfmt sink. A line is `ts=... level=... subsys=... msg="..."`
 * followed by any key=value pairs the caller put after a '|' in the message.
 * The level is checked before formatting (the cairn_log macro).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cairn/core.h"

static atomic_int log_level = CAIRN_LOG_INFO;
static cairn_log_cb log_cb;
static void *log_payload;

void cairn_log_set_level(cairn_log_level level) { atomic_store(&log_level, (int)level); }
cairn_log_level cairn_log_get_level(void) { return (cairn_log_level)atomic_load(&log_level); }

void cairn_log_set_callback(cairn_log_cb cb, void *payload)
{
    log_cb = cb;
    log_payload = payload;
}

int cairn_log_parse_level(const char *s, cairn_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < (int)CAIRN_ARRAY_LEN(names); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (cairn_log_level)i;
            return 0;
        }
    }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "unknown log level '%s'", s);
}

void cairn_log_(cairn_log_level level, int subsys, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    char msg[1024], line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char *kv = strchr(msg, '|');
    if (kv) *kv++ = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '"') *p = '\'';

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s subsys=%s msg=\"%s\"%s%s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level], cairn_subsys_name(subsys), msg,
                     kv ? " " : "", kv ? kv : "");
    if (n < 0) return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (log_cb) log_cb(line, len, log_payload);
    else fwrite(line, 1, len, stderr);
}
