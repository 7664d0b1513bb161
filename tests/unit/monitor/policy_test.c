/*
 * policy_test.c - the monitoring policy parser: a complete valid file read
 * back through the accessors (windows, per-deployment inheritance, feature
 * overrides, rule merging, webhook resolution, defaults), and each class
 * of error reported with its file name and line.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cairn/monitor_policy.h"

static const char VALID[] =
    "# a policy\n"                                               /* 1 */
    "window: {rows: 500, seconds: 5m}\n"                         /* 2 */
    "features:\n"                                                /* 3 */
    "  age: {statistic: psi, threshold: 0.2}\n"                  /* 4 */
    "  city: {statistic: chi-square}\n"                          /* 5 */
    "webhooks:\n"                                                /* 6 */
    "  ops: {url: 'https://hooks.example/x', retries: 5, timeout: 2s}\n" /* 7 */
    "alerts:\n"                                                  /* 8 */
    "  - name: age-drift\n"                                      /* 9 */
    "    when: drift\n"                                          /* 10 */
    "    feature: age\n"                                         /* 11 */
    "    above: 0.2\n"                                           /* 12 */
    "    for: 3\n"                                               /* 13 */
    "    webhook: ops\n"                                         /* 14 */
    "    retrain: {command: [./retrain.sh, --fast], debounce: 2h, max_per_day: 2}\n" /* 15 */
    "  - name: auc-floor\n"                                      /* 16 */
    "    when: quality\n"                                        /* 17 */
    "    metric: auc\n"                                          /* 18 */
    "    below: 0.7\n"                                           /* 19 */
    "    webhook: http://127.0.0.1:9/direct\n"                   /* 20 */
    "deployments:\n"                                             /* 21 */
    "  fraud:\n"                                                 /* 22 */
    "    window: {rows: 100}\n"                                  /* 23 */
    "    features: {age: {threshold: 0.5}}\n"                    /* 24 */
    "    alerts:\n"                                              /* 25 */
    "      - {name: auc-floor, when: quality, metric: auc, below: 0.9}\n" /* 26 */
    "      - {name: slow, when: latency_p99, above: 250}\n";     /* 27 */

static void valid_policy(void **state)
{
    (void)state;
    cairn_monitor_policy *p = NULL;
    assert_int_equal(cairn_monitor_policy_parse(&p, VALID, strlen(VALID), "p.yaml"), 0);

    cairn_monitor_window w = cairn_monitor_policy_window(p, NULL);
    assert_int_equal(w.rows, 500);
    assert_int_equal(w.seconds, 300);
    w = cairn_monitor_policy_window(p, "fraud");
    assert_int_equal(w.rows, 100);
    assert_int_equal(w.seconds, 300); /* inherited */
    w = cairn_monitor_policy_window(p, "other");
    assert_int_equal(w.rows, 500);

    cairn_drift_stat st;
    double thr;
    assert_int_equal(cairn_monitor_policy_feature(p, NULL, "age", &st, &thr), 1);
    assert_int_equal(st, CAIRN_DRIFT_PSI);
    assert_true(thr == 0.2);
    assert_int_equal(cairn_monitor_policy_feature(p, "fraud", "age", &st, &thr), 1);
    assert_int_equal(st, CAIRN_DRIFT_AUTO);
    assert_true(thr == 0.5);
    assert_int_equal(cairn_monitor_policy_feature(p, "fraud", "city", &st, &thr), 1);
    assert_int_equal(st, CAIRN_DRIFT_CHI2);
    assert_true(isnan(thr));
    assert_int_equal(cairn_monitor_policy_feature(p, NULL, "zip", &st, &thr), 0);

    const cairn_monitor_rule *r[8];
    assert_int_equal(cairn_monitor_policy_rules(p, "other", r, 8), 2);
    assert_string_equal(r[0]->name, "age-drift");
    assert_int_equal(r[0]->kind, CAIRN_ALERT_DRIFT);
    assert_string_equal(r[0]->subject, "age");
    assert_int_equal(r[0]->above, 1);
    assert_true(r[0]->threshold == 0.2);
    assert_int_equal(r[0]->for_windows, 3);
    assert_string_equal(r[0]->webhook_name, "ops");
    assert_string_equal(r[0]->webhook_url, "https://hooks.example/x");
    assert_int_equal(r[0]->webhook_retries, 5);
    assert_int_equal(r[0]->webhook_timeout_ms, 2000);
    assert_int_equal(r[0]->retrain_argc, 2);
    assert_string_equal(r[0]->retrain_argv[0], "./retrain.sh");
    assert_string_equal(r[0]->retrain_argv[1], "--fast");
    assert_null(r[0]->retrain_argv[2]);
    assert_int_equal(r[0]->debounce_ms, 7200000);
    assert_int_equal(r[0]->max_per_day, 2);
    assert_int_equal(r[0]->line, 9);
    assert_string_equal(r[1]->name, "auc-floor");
    assert_null(r[1]->webhook_name);
    assert_string_equal(r[1]->webhook_url, "http://127.0.0.1:9/direct");
    assert_int_equal(r[1]->webhook_retries, 3); /* defaults */
    assert_int_equal(r[1]->webhook_timeout_ms, 5000);
    assert_int_equal(r[1]->retrain_argc, 0);
    assert_int_equal(r[1]->for_windows, 1);

    /* fraud: auc-floor replaced by its own, slow added */
    assert_int_equal(cairn_monitor_policy_rules(p, "fraud", r, 8), 3);
    assert_string_equal(r[0]->name, "age-drift");
    assert_string_equal(r[1]->name, "auc-floor");
    assert_true(r[1]->threshold == 0.9);
    assert_int_equal(r[1]->line, 26);
    assert_string_equal(r[2]->name, "slow");
    assert_int_equal(r[2]->kind, CAIRN_ALERT_LATENCY_P99);
    assert_null(r[2]->subject);
    assert_null(r[2]->webhook_url);
    assert_int_equal(cairn_monitor_policy_all_rules(p, r, 8), 4);
    cairn_monitor_policy_free(p);
}

static void empty_policy_has_defaults(void **state)
{
    (void)state;
    cairn_monitor_policy *p = NULL;
    assert_int_equal(cairn_monitor_policy_parse(&p, "", 0, "e.yaml"), 0);
    cairn_monitor_window w = cairn_monitor_policy_window(p, "x");
    assert_int_equal(w.rows, 10000);
    assert_int_equal(w.seconds, 300);
    const cairn_monitor_rule *r[1];
    assert_int_equal(cairn_monitor_policy_rules(p, "x", r, 1), 0);
    cairn_monitor_policy_free(p);
}

static void kinds_round_trip(void **state)
{
    (void)state;
    for (int k = CAIRN_ALERT_DRIFT; k <= CAIRN_ALERT_SHADOW_AGREEMENT; k++) {
        cairn_alert_kind back;
        assert_int_equal(cairn_alert_kind_parse(cairn_alert_kind_name((cairn_alert_kind)k), &back), 0);
        assert_int_equal(back, k);
    }
    cairn_alert_kind back;
    assert_int_equal(cairn_alert_kind_parse("latency", &back), CAIRN_EINVALID);
    assert_null(cairn_alert_kind_name((cairn_alert_kind)9));
}

/* Each bad file and the message its first problem must produce. */
static const struct {
    const char *yaml, *msg;
} BAD[] = {
    {"window: {rows: 10}\nfeatures:\n  age: {statistc: psi}\n",
     "b.yaml:3: unknown key 'statistc' in a feature's settings (did you mean 'statistic'?)"},
    {"windw: {rows: 10}\n", "b.yaml:1: unknown key 'windw' in the policy (did you mean 'window'?)"},
    {"window: {rows: ten}\n", "b.yaml:1: window.rows must be an integer, got 'ten'"},
    {"window: {rows: 0, seconds: 0}\n", "b.yaml:1: a window needs rows or seconds above 0"},
    {"window:\n  seconds: 5 minutes\n",
     "b.yaml:2: window.seconds must be a duration such as 90s, 5m, 1h or 2d, got '5 minutes'"},
    {"features:\n  age: {statistic: mmd}\n",
     "b.yaml:2: unknown statistic 'mmd' (psi, ks, chi2, js, wasserstein or auto)"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n  - name: a\n    when: drift\n    above: 2\n",
     "b.yaml:5: two rules are named 'a'"},
    {"alerts:\n  - name: a\n    when: drifting\n    above: 1\n",
     "b.yaml:3: unknown condition 'drifting' (drift, quality, error_rate, latency_p99 or "
     "shadow_agreement)"},
    {"alerts:\n  - name: a\n    when: drift\n", "b.yaml:2: rule 'a' needs 'above' or 'below'"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    below: 2\n",
     "b.yaml:5: a rule has either above or below, not both"},
    {"alerts:\n  - when: drift\n    above: 1\n", "b.yaml:2: an alert rule needs a name"},
    {"alerts:\n  - name: a\n    when: error_rate\n    feature: age\n    above: 1\n",
     "b.yaml:4: 'feature' applies only to when: drift"},
    {"alerts:\n  - name: a\n    when: quality\n    metric: mse\n    above: 1\n",
     "b.yaml:4: unknown metric 'mse' (auc, accuracy, f1 or rmse)"},
    {"alerts:\n  - name: a\n    when: drift\n    above: '0.2'\n",
     "b.yaml:4: above must be a number, got '0.2'"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    for: 0\n",
     "b.yaml:5: for must be between 1 and 10000, got 0"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    webhook: ops\n",
     "b.yaml:5: no webhook named 'ops' under webhooks"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    webhook: ftp://x/y\n",
     "b.yaml:5: a webhook url must start with http:// or https://"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    retrain:\n      pipeline: train\n      "
     "command: [x]\n",
     "b.yaml:6: retrain takes a command or a pipeline, not both"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    retrain: {command: ./x.sh}\n",
     "b.yaml:5: retrain.command must be a list [program, arg, ...], not a scalar"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    retrain: {debounce: 1h}\n",
     "b.yaml:5: retrain needs a command (a list: [program, arg, ...]) or a pipeline"},
    {"alerts:\n  - name: a\n    when: drift\n    above: 1\n    retrain: {command: [x], debounce: 1y}\n",
     "b.yaml:5: retrain.debounce must be a duration such as 90s, 5m, 1h or 2d, got '1y'"},
    {"alerts: {name: a}\n", "b.yaml:1: alerts must be a list of rules, not a mapping"},
    {"webhooks:\n  ops: {retries: 2}\n", "b.yaml:2: webhook 'ops' needs a url"},
    {"webhooks:\n  ops: {url: 'http://x', retries: 11}\n",
     "b.yaml:2: retries must be between 0 and 10, got 11"},
    {"deployments:\n  fraud:\n    webhooks: {}\n",
     "b.yaml:3: unknown key 'webhooks' in a deployment section"},
    {"window: {rows: 1}\nwindow: {rows: 2}\n", "b.yaml:2: duplicate key 'window' in the policy"},
    {"- a\n- b\n", "b.yaml:1: the policy must be a mapping, not a list"},
    {"window: {rows: [1\n", "b.yaml:2: did not find expected ',' or ']'"},
};

static void errors_name_their_line(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        cairn_monitor_policy *p = (cairn_monitor_policy *)1;
        int rc = cairn_monitor_policy_parse(&p, BAD[i].yaml, strlen(BAD[i].yaml), "b.yaml");
        if (rc != CAIRN_EINVALID || strcmp(cairn_error_last()->msg, BAD[i].msg) != 0)
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc,
                     cairn_error_last()->msg, BAD[i].msg);
        assert_null(p);
    }
}

static void load_reports_missing_file(void **state)
{
    (void)state;
    cairn_monitor_policy *p = NULL;
    assert_int_equal(cairn_monitor_policy_load(&p, "/nonexistent/cairn/policy.yaml"),
                     CAIRN_ENOTFOUND);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_policy),
        cmocka_unit_test(empty_policy_has_defaults),
        cmocka_unit_test(kinds_round_trip),
        cmocka_unit_test(errors_name_their_line),
        cmocka_unit_test(load_reports_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
