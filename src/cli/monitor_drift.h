/*
 * monitor_drift.h - shared by the `cairn monitor drift` batch report files:
 * cmd_monitor_drift.c (arguments, streaming, evaluation, table and JSON),
 * monitor_drift_ref.c (a reference profile streamed from a CSV file) and
 * monitor_drift_html.c (the self-contained HTML report).
 */
#ifndef CAIRN_CLI_MONITOR_DRIFT_H
#define CAIRN_CLI_MONITOR_DRIFT_H

#include <stdint.h>

#include "cairn/drift.h"
#include "cairn/profile.h"

/* Bytes of CSV parsed at a time (current and reference files). */
#define CLI_DRIFT_CHUNK_BYTES ((size_t)8 << 20)
/* Present values per numeric reference column that quantile edges and the
 * sample are computed from exactly; above, a deterministic sample of them. */
#define CLI_DRIFT_REF_QUANTILE_ROWS 100000
/* Distinct values a categorical column of a reference CSV may hold. */
#define CLI_DRIFT_REF_MAX_DISTINCT 100000

/* One evaluated column. */
typedef struct cli_drift_feature {
    const char *name;                /* borrowed from the profile */
    const cairn_profile_feature *pf; /* borrowed from the profile */
    int categorical;
    cairn_drift_opts opts; /* statistic and threshold asked for */
    cairn_sketch *sk;      /* numeric: current values */
    cairn_catcount *cc;    /* categorical: current values */
    cairn_drift_result r;  /* valid after evaluation */
    double error_bound;    /* numeric KS / Wasserstein from a sketch: |approx - exact| bound */
} cli_drift_feature;

/* The whole report. */
typedef struct cli_drift_report {
    const char *reference, *current; /* paths as given */
    const char *target;              /* excluded column, or NULL */
    uint64_t reference_rows, current_rows;
    int n;
    cli_drift_feature *f; /* (n) */
    int drifted;
    double share;      /* drifted / n (0 when n == 0) */
    int dataset_drift; /* share >= 0.5 */
    int n_skipped;
    char **skipped; /* (n_skipped) "name (where)" of columns not compared */
} cli_drift_report;

/* Builds a profile of the CSV file at path (every column except `exclude`,
 * which may be NULL) in a bounded number of streamed passes; equal to
 * cairn_profile_build's default profile when each numeric column has at
 * most CLI_DRIFT_REF_QUANTILE_ROWS present values. *rows receives the row
 * count. CAIRN_EINVALID (malformed CSV, infinite value, no data rows),
 * CAIRN_ETOOBIG (a categorical column with too many distinct values),
 * CAIRN_ENOTFOUND. */
int cli_drift_profile_from_csv(cairn_profile **out, const char *path, const char *exclude);

/* Writes the HTML report to path. CAIRN_EIO when the file cannot be
 * written. */
int cli_drift_write_html(const cli_drift_report *r, const char *path);

#endif
