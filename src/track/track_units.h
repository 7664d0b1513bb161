/*
 * track_units.h - a generic write unit for the many small MLflow writes that
 * are "a few statements, where the first must change a row or the target
 * does not exist" (delete/restore/rename/set-tag/delete-tag).
 */
#ifndef CAIRN_TRACK_UNITS_H
#define CAIRN_TRACK_UNITS_H

#include "cairn/store.h"

#define TRACK_UNIT_MAX_STMTS 4
#define TRACK_UNIT_MAX_PARAMS 6

typedef struct track_stmt {
    const char *sql;
    cairn_value p[TRACK_UNIT_MAX_PARAMS];
    int np;
    int must_change; /* 0 rows changed: CAIRN_ENOTFOUND with nf_msg */
    int run_slot;    /* 1-based parameter slot that receives the resolved run id, 0: none */
} track_stmt;

typedef struct track_unit {
    const char *run_uuid;  /* if set: the run must exist (and be active if need_active) */
    int need_active;
    int64_t run_id;        /* filled from run_uuid before the statements run */
    track_stmt s[TRACK_UNIT_MAX_STMTS];
    int n;
    char nf_msg[400];
    int nf_code;           /* code when must_change fails; default CAIRN_ENOTFOUND */
    void *payload;         /* the submitter's, e.g. for a response callback */
} track_unit;

int cairn_track__unit_run(cairn_store_tx *tx, void *payload);

#endif
