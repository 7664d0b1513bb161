/*
 * drift_choice.c - naming drift statistics and choosing one per column
 * (see cairn/drift.h for the rule and the default thresholds).
 */
#include <math.h>
#include <strings.h>

#include "cairn/drift.h"

static const struct {
    const char *name;
    cairn_drift_stat stat;
} names[] = {
    {"auto", CAIRN_DRIFT_AUTO},
    {"psi", CAIRN_DRIFT_PSI},
    {"ks", CAIRN_DRIFT_KS},
    {"kolmogorov-smirnov", CAIRN_DRIFT_KS},
    {"chi2", CAIRN_DRIFT_CHI2},
    {"chi-square", CAIRN_DRIFT_CHI2},
    {"js", CAIRN_DRIFT_JS},
    {"jensen-shannon", CAIRN_DRIFT_JS},
    {"wasserstein", CAIRN_DRIFT_WASSERSTEIN},
};

const char *cairn_drift_stat_name(cairn_drift_stat s)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(names); i++)
        if (names[i].stat == s) return names[i].name;
    return "unknown";
}

int cairn_drift_stat_parse(const char *name, cairn_drift_stat *out)
{
    for (size_t i = 0; name && i < CAIRN_ARRAY_LEN(names); i++) {
        if (strcasecmp(names[i].name, name) == 0) {
            *out = names[i].stat;
            return 0;
        }
    }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR,
                           "unknown drift statistic '%.60s' (psi, ks, chi2, js, wasserstein, auto)",
                           name ? name : "");
}

cairn_drift_stat cairn_drift_default_stat(int categorical, uint64_t reference_count)
{
    if (reference_count <= CAIRN_DRIFT_SMALL_REFERENCE)
        return categorical ? CAIRN_DRIFT_CHI2 : CAIRN_DRIFT_KS;
    return categorical ? CAIRN_DRIFT_JS : CAIRN_DRIFT_WASSERSTEIN;
}

int cairn_drift_score_is_pvalue(cairn_drift_stat s)
{
    return s == CAIRN_DRIFT_KS || s == CAIRN_DRIFT_CHI2;
}

double cairn_drift_default_threshold(cairn_drift_stat s)
{
    return cairn_drift_score_is_pvalue(s) ? 0.05 : 0.1;
}

int cairn_drift_is_drift(cairn_drift_stat s, double score, double threshold)
{
    if (isnan(score)) return 0;
    return cairn_drift_score_is_pvalue(s) ? score < threshold : score > threshold;
}
