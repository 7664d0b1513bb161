/*
 * fuzz_monitor_policy.c - arbitrary bytes as a monitoring policy file: the
 * parser must accept or reject (with a "name:line:" message) without
 * crashing or leaking, and every accessor of an accepted policy must work.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/monitor_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_monitor_policy *p = NULL;
    if (cairn_monitor_policy_parse(&p, (const char *)data, size, "fuzz") != 0) {
        if (p || strncmp(cairn_error_last()->msg, "fuzz", 4) != 0) abort();
        return 0;
    }
    const cairn_monitor_rule *r[64];
    int n = cairn_monitor_policy_all_rules(p, r, 64);
    for (int i = 0; i < n && i < 64; i++) {
        if (!r[i]->name || !cairn_alert_kind_name(r[i]->kind) || r[i]->for_windows < 1) abort();
        for (int j = 0; j < r[i]->retrain_argc; j++)
            if (!r[i]->retrain_argv[j]) abort();
        cairn_monitor_window w = cairn_monitor_policy_window(p, "fraud");
        if (w.rows < 0 || w.seconds < 0 || (w.rows == 0 && w.seconds == 0)) abort();
    }
    cairn_drift_stat st;
    double thr;
    cairn_monitor_policy_feature(p, "fraud", "age", &st, &thr);
    cairn_monitor_policy_rules(p, "fraud", r, 64);
    cairn_monitor_policy_free(p);
    return 0;
}
