/*
 * cron.c - five-field cron schedules in UTC (see cron.h). The next firing
 * is found by stepping over days whose date fields match, then over the
 * hours and minutes of a matching day: at most a few thousand steps.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cairn/common.h"
#include "cron.h"

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int bad(const char *field, const char *text)
{
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                           "cron schedule: bad %s field '%.40s' (want *, N, A-B, */N, A-B/N or a "
                           "comma list)",
                           field, text);
}

/* One number or name at *p (advancing it); -1 if none. */
static int atom(const char **p, const char *const *names, int nnames, int name_base)
{
    const char *s = *p;
    if (*s >= '0' && *s <= '9') {
        int v = 0;
        while (*s >= '0' && *s <= '9' && v < 1000)
            v = v * 10 + (*s++ - '0');
        *p = s;
        return v;
    }
    for (int i = 0; names && i < nnames; i++) {
        if (strncasecmp(s, names[i], 3) == 0) {
            *p = s + 3;
            return i + name_base;
        }
    }
    return -1;
}

/* Parses one field into bits lo..hi of *bits. */
static int field(const char *text, size_t len, int lo, int hi, const char *const *names,
                 int nnames, int name_base, const char *what, uint64_t *bits, int *any)
{
    char buf[128];
    if (len == 0 || len >= sizeof(buf)) return bad(what, "");
    memcpy(buf, text, len);
    buf[len] = '\0';
    *bits = 0;
    *any = strcmp(buf, "*") == 0;
    for (char *item = buf, *next; item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        const char *p = item;
        int a, b, step = 1;
        if (*p == '*') {
            a = lo;
            b = hi;
            p++;
        } else {
            if ((a = atom(&p, names, nnames, name_base)) < 0) return bad(what, buf);
            b = a;
            if (*p == '-') {
                p++;
                if ((b = atom(&p, names, nnames, name_base)) < 0) return bad(what, buf);
            }
        }
        if (*p == '/') {
            p++;
            if ((step = atom(&p, NULL, 0, 0)) < 1) return bad(what, buf);
            if (a == b && item[0] != '*') b = hi; /* "5/15": from 5 to the end */
        }
        if (*p || a < lo || b > hi || a > b) return bad(what, buf);
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
    }
    return 0;
}

int cairn_cron_parse(const char *expr, cairn_cron *out)
{
    static const struct {
        const char *name, *expr;
    } shortcuts[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},
                     {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                     {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                     {"@annually", "0 0 1 1 *"}};
    memset(out, 0, sizeof(*out));
    if (!expr) return bad("schedule", "");
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(shortcuts); i++)
        if (strcasecmp(expr, shortcuts[i].name) == 0) expr = shortcuts[i].expr;
    const char *f[5];
    size_t n[5];
    int nf = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        if (nf == 5)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                   "cron schedule '%.80s' has more than 5 fields", expr);
        f[nf] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        n[nf] = (size_t)(p - f[nf]);
        nf++;
    }
    if (nf != 5)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                               "cron schedule '%.80s' needs 5 fields: minute hour "
                               "day-of-month month day-of-week",
                               expr);
    uint64_t b;
    int any, rc;
    if ((rc = field(f[0], n[0], 0, 59, NULL, 0, 0, "minute", &b, &any))) return rc;
    out->minute = b;
    if ((rc = field(f[1], n[1], 0, 23, NULL, 0, 0, "hour", &b, &any))) return rc;
    out->hour = (uint32_t)b;
    if ((rc = field(f[2], n[2], 1, 31, NULL, 0, 0, "day-of-month", &b, &out->dom_any))) return rc;
    out->dom = (uint32_t)b;
    if ((rc = field(f[3], n[3], 1, 12, month_names, 12, 1, "month", &b, &any))) return rc;
    out->month = (uint16_t)b;
    if ((rc = field(f[4], n[4], 0, 7, dow_names, 7, 0, "day-of-week", &b, &out->dow_any)))
        return rc;
    if (b & (1u << 7)) b |= 1; /* 7 is Sunday too */
    out->dow = (uint8_t)(b & 0x7f);
    return 0;
}

static int day_matches(const cairn_cron *c, const struct tm *t)
{
    if (!(c->month & (1u << (t->tm_mon + 1)))) return 0;
    int dom = (c->dom >> t->tm_mday) & 1, dow = (c->dow >> t->tm_wday) & 1;
    if (c->dom_any && c->dow_any) return 1;
    if (c->dom_any) return dow;
    if (c->dow_any) return dom;
    return dom || dow;
}

int64_t cairn_cron_next(const cairn_cron *c, int64_t after_ms)
{
    time_t t = (time_t)(after_ms / 60000 + 1) * 60; /* the next whole minute */
    for (int days = 0; days < 366 * 5 + 2; days++) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (day_matches(c, &tm)) {
            for (int h = tm.tm_hour; h < 24; h++) {
                if (!(c->hour & (1u << h))) continue;
                for (int m = h == tm.tm_hour ? tm.tm_min : 0; m < 60; m++)
                    if (c->minute & ((uint64_t)1 << m))
                        return ((int64_t)t + (int64_t)(h - tm.tm_hour) * 3600 +
                                (int64_t)(m - tm.tm_min) * 60) *
                               1000;
            }
        }
        /* the start of the next day */
        t += (time_t)((23 - tm.tm_hour) * 3600 + (59 - tm.tm_min) * 60 + 60 - tm.tm_sec);
    }
    return -1;
}
