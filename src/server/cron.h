/*
 * cron.h - five-field cron schedules (minute hour day-of-month month
 * day-of-week), evaluated in UTC, for the pipeline trigger scheduler.
 */
#ifndef CAIRN_SERVER_CRON_H
#define CAIRN_SERVER_CRON_H

#include <stdint.h>

typedef struct cairn_cron {
    uint64_t minute; /* bit m: minute m (0..59) */
    uint32_t hour;   /* bit h: 0..23 */
    uint32_t dom;    /* bit d: day of month 1..31 */
    uint16_t month;  /* bit m: 1..12 */
    uint8_t dow;     /* bit d: 0..6, Sunday = 0 (7 is accepted as Sunday) */
    int dom_any, dow_any; /* the field was "*": as cron, when both day fields
                           * are restricted a day matching either fires */
} cairn_cron;

/* Parses "M H DOM MON DOW": each field *, a number, a range a-b, a step
 * (*|a-b)/n, or a comma list of those; month and day names (jan, mon, ...)
 * and the shortcuts @hourly @daily @weekly @monthly @yearly are accepted.
 * CAIRN_EINVALID with a message naming the field otherwise. */
int cairn_cron_parse(const char *expr, cairn_cron *out);
/* The first minute strictly after after_ms (ms since the epoch) that c
 * matches, in ms; -1 when none within ~5 years (e.g. February 30). */
int64_t cairn_cron_next(const cairn_cron *c, int64_t after_ms);

#endif
