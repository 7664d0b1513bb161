/*
 * cairn/drift.h - drift statistics between a reference (a training set or
 * its profile.json) and current data, and the choice of statistic per
 * column. Library module `monitor` (depends on ml and core only).
 *
 * Which statistic judges a column (cairn_drift_default_stat), as the
 * practitioners' tools do it: with a small reference (at most 1000 rows)
 * the two-sample Kolmogorov-Smirnov test for numeric columns and the
 * chi-square test for categorical ones, judged by p-value (drift when
 * p < 0.05); above 1000 rows the Wasserstein-1 distance normalised by the
 * reference's standard deviation for numeric columns and the
 * Jensen-Shannon distance for categorical ones, judged by distance (drift
 * when > 0.1). PSI is available for either (drift when > 0.1). A policy
 * file overrides statistic and threshold per feature.
 */
#ifndef CAIRN_DRIFT_H
#define CAIRN_DRIFT_H

#include <stdint.h>

#include "cairn/common.h"

typedef enum cairn_drift_stat {
    CAIRN_DRIFT_AUTO = 0,    /* the default choice below */
    CAIRN_DRIFT_PSI = 1,     /* population stability index on the reference's quantile bins */
    CAIRN_DRIFT_KS = 2,      /* two-sample Kolmogorov-Smirnov; score = p-value */
    CAIRN_DRIFT_CHI2 = 3,    /* chi-square on category counts; score = p-value */
    CAIRN_DRIFT_JS = 4,      /* Jensen-Shannon distance (natural log) */
    CAIRN_DRIFT_WASSERSTEIN = 5 /* Wasserstein-1 distance / reference std */
} cairn_drift_stat;

/* Reference rows above which distances replace hypothesis tests. */
#define CAIRN_DRIFT_SMALL_REFERENCE 1000

/* "psi", "ks", "chi2", "js", "wasserstein" ("auto" for AUTO). */
CAIRN_API const char *cairn_drift_stat_name(cairn_drift_stat s);
/* Parses a name above (case-insensitive; also "chi-square",
 * "jensen-shannon", "kolmogorov-smirnov"). CAIRN_EINVALID otherwise. */
CAIRN_API int cairn_drift_stat_parse(const char *name, cairn_drift_stat *out);
/* The statistic for a column given its type and the reference's present
 * value count (see the header comment). Never AUTO. */
CAIRN_API cairn_drift_stat cairn_drift_default_stat(int categorical, uint64_t reference_count);
/* The default threshold of s: 0.05 (a p-value) for KS and chi-square, 0.1
 * for the others. */
CAIRN_API double cairn_drift_default_threshold(cairn_drift_stat s);
/* 1 when score means drift under threshold: p-values below it (KS,
 * chi-square), distances and PSI above it. A NaN score is no drift. */
CAIRN_API int cairn_drift_is_drift(cairn_drift_stat s, double score, double threshold);
/* 1 for statistics whose score is a p-value (smaller = more drift). */
CAIRN_API int cairn_drift_score_is_pvalue(cairn_drift_stat s);

#endif
