/*
 * policy.c - the monitoring policy file (include/cairn/monitor_policy.h):
 * libyaml loads the whole document into a node tree, then a schema walk
 * validates and copies it into plain C structs.
 *
 * Key idea: every check happens in one place, the walk, which knows each
 * node's line (libyaml start marks), so every error reads "FILE:LINE:
 * what is wrong" and unknown keys come with the nearest known key as a
 * suggestion. The schema has a fixed depth, so aliases (even recursive
 * ones, which libyaml allows) cannot make the walk loop; counts are
 * bounded. Webhook names are resolved after the walk, since `webhooks:`
 * may come after the rules that use it.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cairn/core.h"
#include "cairn/monitor_policy.h"

#define POLICY_MAX_BYTES ((size_t)1 << 20)
#define MAX_RULES 256
#define MAX_FEATURES 4096
#define MAX_DEPLOYMENTS 1024
#define MAX_HOOKS 256
#define MAX_ARGV 64
#define MAX_NAME 200

typedef struct feat {
    char *name;
    cairn_drift_stat stat;
    double threshold;
} feat;

/* The top level or one deployment's section. window fields are -1 when
 * unset in a deployment section (inherited from the top level). */
typedef struct section {
    char *deployment; /* NULL for the top level */
    cairn_monitor_window window;
    feat *feats;
    int nfeat;
    cairn_monitor_rule *rules;
    int nrules;
    int *hook_lines; /* per rule: line of its webhook value (for resolution errors) */
    char **hook_refs; /* per rule: the webhook value as written, or NULL */
} section;

typedef struct hook {
    char *name, *url;
    int retries;
    int64_t timeout_ms;
} hook;

struct cairn_monitor_policy {
    section top;
    section *deps;
    int ndeps;
    hook *hooks;
    int nhooks;
};

typedef struct ctx {
    yaml_document_t *doc;
    const char *fname;
    cairn_monitor_policy *p;
} ctx;

/* ---- kinds ---- */

static const char *const kind_names[] = {NULL, "drift", "quality", "error_rate", "latency_p99",
                                         "shadow_agreement"};

const char *cairn_alert_kind_name(cairn_alert_kind k)
{
    return (k >= CAIRN_ALERT_DRIFT && k <= CAIRN_ALERT_SHADOW_AGREEMENT) ? kind_names[k] : NULL;
}

int cairn_alert_kind_parse(const char *name, cairn_alert_kind *out)
{
    for (int k = CAIRN_ALERT_DRIFT; k <= CAIRN_ALERT_SHADOW_AGREEMENT; k++)
        if (name && !strcmp(name, kind_names[k])) {
            *out = (cairn_alert_kind)k;
            return 0;
        }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR, "unknown alert kind '%s'",
                           name ? name : "");
}

/* ---- node helpers ---- */

static yaml_node_t *node_at(ctx *c, int idx) { return yaml_document_get_node(c->doc, idx); }

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

/* Sets CAIRN_EINVALID with "FILE:LINE: message" for node n. */
static int fail(ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR, "%s:%d: %s", c->fname, line_of(n), msg);
}

static const char *type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* The scalar's text, or NULL (error set) when n is not a scalar without NULs. */
static const char *scalar(ctx *c, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        fail(c, n, "%s must be a scalar, not %s", what, type_name(n));
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        fail(c, n, "%s contains a NUL byte", what);
        return NULL;
    }
    return s;
}

static int expect_map(ctx *c, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "%s must be a mapping, not %s", what, type_name(n));
    return 0;
}

static int get_str(ctx *c, const yaml_node_t *n, const char *what, const char **out)
{
    const char *s = scalar(c, n, what);
    if (!s) return CAIRN_EINVALID;
    if (!*s) return fail(c, n, "%s must not be empty", what);
    if (strlen(s) > 2048) return fail(c, n, "%s is too long", what);
    *out = s;
    return 0;
}

static int get_num(ctx *c, const yaml_node_t *n, const char *what, double *out)
{
    const char *s = scalar(c, n, what);
    if (!s) return CAIRN_EINVALID;
    double d;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || cairn_parse_double(s, &d) || !isfinite(d))
        return fail(c, n, "%s must be a number, got '%.40s'", what, s);
    *out = d;
    return 0;
}

static int get_int(ctx *c, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi,
                   int64_t *out)
{
    const char *s = scalar(c, n, what);
    if (!s) return CAIRN_EINVALID;
    int64_t v;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || cairn_parse_i64(s, &v))
        return fail(c, n, "%s must be an integer, got '%.40s'", what, s);
    if (v < lo || v > hi)
        return fail(c, n, "%s must be between %lld and %lld, got %lld", what, (long long)lo,
                    (long long)hi, (long long)v);
    *out = v;
    return 0;
}

/* A duration: an integer number of seconds, or a number followed by ms, s,
 * m, h or d ("1h", "90s", "1.5h"). Bounds in ms. */
static int get_duration(ctx *c, const yaml_node_t *n, const char *what, int64_t lo_ms,
                        int64_t hi_ms, int64_t *out_ms)
{
    const char *s = scalar(c, n, what);
    if (!s) return CAIRN_EINVALID;
    size_t len = strlen(s), num = 0;
    while (num < len && (isdigit((unsigned char)s[num]) || s[num] == '.')) num++;
    char digits[32];
    if (num == 0 || num >= sizeof(digits)) goto bad;
    memcpy(digits, s, num);
    digits[num] = 0;
    double v, mult;
    if (cairn_parse_double(digits, &v)) goto bad;
    const char *unit = s + num;
    if (!*unit || !strcmp(unit, "s")) mult = 1000;
    else if (!strcmp(unit, "ms")) mult = 1;
    else if (!strcmp(unit, "m")) mult = 60e3;
    else if (!strcmp(unit, "h")) mult = 3600e3;
    else if (!strcmp(unit, "d")) mult = 86400e3;
    else goto bad;
    double ms = v * mult;
    if (!(ms >= (double)lo_ms && ms <= (double)hi_ms))
        return fail(c, n, "%s must be between %lld ms and %lld ms, got '%.40s'", what,
                    (long long)lo_ms, (long long)hi_ms, s);
    *out_ms = (int64_t)llround(ms);
    return 0;
bad:
    return fail(c, n, "%s must be a duration such as 90s, 5m, 1h or 2d, got '%.40s'", what, s);
}

/* Levenshtein distance of two short strings (longer ones: a large value). */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int row[41];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Checks that every key of mapping n is a distinct scalar from `known`
 * (NULL-terminated); an unknown key is an error naming the closest known
 * key when one is near. */
static int check_keys(ctx *c, const yaml_node_t *n, const char *where, const char *const *known)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        const char *key = scalar(c, k, "a key");
        if (!key) return CAIRN_EINVALID;
        int found = 0;
        const char *best = NULL;
        int bestd = 3;
        for (const char *const *q = known; *q; q++) {
            if (!strcmp(*q, key)) found = 1;
            int d = edit_distance(key, *q);
            if (d < bestd) bestd = d, best = *q;
        }
        if (!found) {
            if (best)
                return fail(c, k, "unknown key '%.60s' in %s (did you mean '%s'?)", key, where,
                            best);
            return fail(c, k, "unknown key '%.60s' in %s", key, where);
        }
        for (yaml_node_pair_t *o = n->data.mapping.pairs.start; o < p; o++) {
            yaml_node_t *ok = node_at(c, o->key);
            if (ok->type == YAML_SCALAR_NODE && !strcmp((const char *)ok->data.scalar.value, key))
                return fail(c, k, "duplicate key '%.60s' in %s", key, where);
        }
    }
    return 0;
}

/* Checks a name used as a map key or rule name: 1..200 characters from
 * [A-Za-z0-9_.:/-]. */
static int check_name(ctx *c, const yaml_node_t *n, const char *what, const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > MAX_NAME) return fail(c, n, "%s must have 1 to %d characters", what, MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && !strchr("_.:/-*", ch))
            return fail(c, n, "%s '%.60s' may hold only letters, digits and _ . : / -", what, s);
    }
    return 0;
}

#define PAIRS(n, p)                                                                                \
    for (yaml_node_pair_t *p = (n)->data.mapping.pairs.start; p < (n)->data.mapping.pairs.top; p++)

static int npairs(const yaml_node_t *n)
{
    return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* ---- sections ---- */

static int parse_window(ctx *c, const yaml_node_t *n, cairn_monitor_window *w)
{
    static const char *const keys[] = {"rows", "seconds", NULL};
    int rc;
    if ((rc = expect_map(c, n, "window")) || (rc = check_keys(c, n, "window", keys))) return rc;
    PAIRS(n, p)
    {
        const char *k = (const char *)node_at(c, p->key)->data.scalar.value;
        yaml_node_t *v = node_at(c, p->value);
        if (!strcmp(k, "rows")) {
            if ((rc = get_int(c, v, "window.rows", 0, INT64_C(1000000000000), &w->rows))) return rc;
        } else {
            int64_t ms;
            if ((rc = get_duration(c, v, "window.seconds", 0, INT64_C(365) * 86400000, &ms)))
                return rc;
            if (ms % 1000) return fail(c, v, "window.seconds must be whole seconds");
            w->seconds = ms / 1000;
        }
    }
    if (w->rows == 0 && w->seconds == 0)
        return fail(c, n, "a window needs rows or seconds above 0");
    return 0;
}

static int parse_features(ctx *c, const yaml_node_t *n, section *s)
{
    static const char *const keys[] = {"statistic", "threshold", NULL};
    int rc;
    if ((rc = expect_map(c, n, "features"))) return rc;
    if (npairs(n) > MAX_FEATURES) return fail(c, n, "more than %d features", MAX_FEATURES);
    s->feats = cairn_calloc((size_t)npairs(n) + 1, sizeof(feat));
    PAIRS(n, p)
    {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *name;
        if ((rc = get_str(c, k, "a feature name", &name))) return rc;
        for (int i = 0; i < s->nfeat; i++)
            if (!strcmp(s->feats[i].name, name))
                return fail(c, k, "feature '%.60s' appears twice", name);
        if ((rc = expect_map(c, v, "a feature's settings")) ||
            (rc = check_keys(c, v, "a feature's settings", keys)))
            return rc;
        feat *f = &s->feats[s->nfeat++];
        f->name = cairn_strdup(name);
        f->stat = CAIRN_DRIFT_AUTO;
        f->threshold = NAN;
        if (npairs(v) == 0) return fail(c, v, "feature '%.60s' sets neither statistic nor threshold", name);
        PAIRS(v, q)
        {
            const char *key = (const char *)node_at(c, q->key)->data.scalar.value;
            yaml_node_t *val = node_at(c, q->value);
            if (!strcmp(key, "statistic")) {
                const char *st;
                if ((rc = get_str(c, val, "statistic", &st))) return rc;
                if (cairn_drift_stat_parse(st, &f->stat))
                    return fail(c, val,
                                "unknown statistic '%.40s' (psi, ks, chi2, js, wasserstein or auto)",
                                st);
            } else {
                if ((rc = get_num(c, val, "threshold", &f->threshold))) return rc;
                if (f->threshold < 0) return fail(c, val, "threshold must not be negative");
            }
        }
    }
    return 0;
}

static int parse_retrain(ctx *c, const yaml_node_t *n, cairn_monitor_rule *r)
{
    static const char *const keys[] = {"command", "pipeline", "debounce", "max_per_day", NULL};
    int rc;
    if ((rc = expect_map(c, n, "retrain")) || (rc = check_keys(c, n, "retrain", keys))) return rc;
    const yaml_node_t *cmd = NULL, *pipeline = NULL;
    PAIRS(n, p)
    {
        const char *k = (const char *)node_at(c, p->key)->data.scalar.value;
        yaml_node_t *v = node_at(c, p->value);
        if (!strcmp(k, "command")) cmd = v;
        else if (!strcmp(k, "pipeline")) pipeline = v;
        else if (!strcmp(k, "debounce")) {
            if ((rc = get_duration(c, v, "retrain.debounce", 0, INT64_C(30) * 86400000,
                                   &r->debounce_ms)))
                return rc;
        } else {
            int64_t m;
            if ((rc = get_int(c, v, "retrain.max_per_day", 1, 10000, &m))) return rc;
            r->max_per_day = (int)m;
        }
    }
    if (cmd && pipeline) return fail(c, pipeline, "retrain takes a command or a pipeline, not both");
    if (pipeline) {
        /* a pipeline trigger of this server, run through the same entry
         * point as the scheduler's: `cairn trigger run NAME --wait` */
        const char *name = scalar(c, pipeline, "retrain.pipeline");
        if (!name) return CAIRN_EINVALID;
        if (!*name) return fail(c, pipeline, "retrain.pipeline names a pipeline trigger");
        static const char *const run[] = {"/proc/self/exe", "trigger", "run", NULL, "--wait"};
        char **argv = cairn_calloc(CAIRN_ARRAY_LEN(run) + 1, sizeof(char *));
        r->retrain_argv = (const char *const *)argv;
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(run); i++)
            argv[i] = cairn_strdup(run[i] ? run[i] : name);
        r->retrain_argc = (int)CAIRN_ARRAY_LEN(run);
        return 0;
    }
    if (!cmd) return fail(c, n, "retrain needs a command (a list: [program, arg, ...]) or a pipeline");
    if (cmd->type != YAML_SEQUENCE_NODE)
        return fail(c, cmd, "retrain.command must be a list [program, arg, ...], not %s",
                    type_name(cmd));
    int argc = (int)(cmd->data.sequence.items.top - cmd->data.sequence.items.start);
    if (argc < 1 || argc > MAX_ARGV)
        return fail(c, cmd, "retrain.command must have 1 to %d items", MAX_ARGV);
    char **argv = cairn_calloc((size_t)argc + 1, sizeof(char *));
    r->retrain_argv = (const char *const *)argv;
    for (int i = 0; i < argc; i++) {
        yaml_node_t *it = node_at(c, cmd->data.sequence.items.start[i]);
        const char *s = scalar(c, it, "a retrain.command item");
        if (!s) return CAIRN_EINVALID;
        if (i == 0 && !*s) return fail(c, it, "the retrain program must not be empty");
        argv[i] = cairn_strdup(s);
        r->retrain_argc = i + 1;
    }
    return 0;
}

static const char *const quality_metrics[] = {"auc", "accuracy", "f1", "rmse", NULL};

static int parse_rule(ctx *c, const yaml_node_t *n, section *s)
{
    static const char *const keys[] = {"name",  "when", "feature", "metric",  "above",
                                       "below", "for",  "webhook", "retrain", NULL};
    int rc;
    if ((rc = expect_map(c, n, "an alert rule")) || (rc = check_keys(c, n, "an alert rule", keys)))
        return rc;
    int idx = s->nrules++;
    cairn_monitor_rule *r = &s->rules[idx];
    r->for_windows = 1;
    r->debounce_ms = 3600000;
    r->max_per_day = 3;
    r->webhook_retries = 3;
    r->webhook_timeout_ms = 5000;
    r->line = line_of(n);
    const yaml_node_t *feature = NULL, *metric = NULL, *above = NULL, *below = NULL, *when = NULL;
    PAIRS(n, p)
    {
        const char *k = (const char *)node_at(c, p->key)->data.scalar.value;
        yaml_node_t *v = node_at(c, p->value);
        const char *str;
        if (!strcmp(k, "name")) {
            if ((rc = get_str(c, v, "name", &str)) || (rc = check_name(c, v, "rule name", str)))
                return rc;
            for (int i = 0; i < idx; i++)
                if (!strcmp(s->rules[i].name, str))
                    return fail(c, v, "two rules are named '%.60s'", str);
            r->name = cairn_strdup(str);
        } else if (!strcmp(k, "when")) {
            cairn_alert_kind kind;
            if ((rc = get_str(c, v, "when", &str))) return rc;
            if (cairn_alert_kind_parse(str, &kind))
                return fail(c, v,
                            "unknown condition '%.40s' (drift, quality, error_rate, latency_p99 "
                            "or shadow_agreement)",
                            str);
            r->kind = kind;
            when = v;
        } else if (!strcmp(k, "feature")) {
            feature = v;
            if ((rc = get_str(c, v, "feature", &str))) return rc;
            cairn_free((char *)r->subject);
            r->subject = cairn_strdup(str);
        } else if (!strcmp(k, "metric")) {
            metric = v;
            if ((rc = get_str(c, v, "metric", &str))) return rc;
            int ok = 0;
            for (const char *const *m = quality_metrics; *m; m++) ok |= !strcmp(*m, str);
            if (!ok) return fail(c, v, "unknown metric '%.40s' (auc, accuracy, f1 or rmse)", str);
            cairn_free((char *)r->subject);
            r->subject = cairn_strdup(str);
        } else if (!strcmp(k, "above") || !strcmp(k, "below")) {
            if (k[0] == 'a') above = v;
            else below = v;
            if ((rc = get_num(c, v, k, &r->threshold))) return rc;
            r->above = k[0] == 'a';
        } else if (!strcmp(k, "for")) {
            int64_t w;
            if ((rc = get_int(c, v, "for", 1, 10000, &w))) return rc;
            r->for_windows = (int)w;
        } else if (!strcmp(k, "webhook")) {
            if ((rc = get_str(c, v, "webhook", &str))) return rc;
            s->hook_refs[idx] = cairn_strdup(str);
            s->hook_lines[idx] = line_of(v);
        } else {
            if ((rc = parse_retrain(c, v, r))) return rc;
        }
    }
    if (!r->name) return fail(c, n, "an alert rule needs a name");
    if (!when) return fail(c, n, "rule '%.60s' needs 'when'", r->name);
    if (feature && metric) return fail(c, metric, "a rule has either feature or metric, not both");
    if (feature && r->kind != CAIRN_ALERT_DRIFT)
        return fail(c, feature, "'feature' applies only to when: drift");
    if (metric && r->kind != CAIRN_ALERT_QUALITY)
        return fail(c, metric, "'metric' applies only to when: quality");
    if (above && below) return fail(c, below, "a rule has either above or below, not both");
    if (!above && !below) return fail(c, n, "rule '%.60s' needs 'above' or 'below'", r->name);
    return 0;
}

static int parse_alerts(ctx *c, const yaml_node_t *n, section *s)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "alerts must be a list of rules, not %s", type_name(n));
    int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_RULES) return fail(c, n, "more than %d alert rules", MAX_RULES);
    s->rules = cairn_calloc((size_t)cnt + 1, sizeof(cairn_monitor_rule));
    s->hook_refs = cairn_calloc((size_t)cnt + 1, sizeof(char *));
    s->hook_lines = cairn_calloc((size_t)cnt + 1, sizeof(int));
    for (int i = 0; i < cnt; i++) {
        int rc = parse_rule(c, node_at(c, n->data.sequence.items.start[i]), s);
        if (rc) return rc;
    }
    return 0;
}

static int parse_webhooks(ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {"url", "retries", "timeout", NULL};
    cairn_monitor_policy *pol = c->p;
    int rc;
    if ((rc = expect_map(c, n, "webhooks"))) return rc;
    if (npairs(n) > MAX_HOOKS) return fail(c, n, "more than %d webhooks", MAX_HOOKS);
    pol->hooks = cairn_calloc((size_t)npairs(n) + 1, sizeof(hook));
    PAIRS(n, p)
    {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *name, *url = NULL;
        if ((rc = get_str(c, k, "a webhook name", &name)) ||
            (rc = check_name(c, k, "webhook name", name)))
            return rc;
        for (int i = 0; i < pol->nhooks; i++)
            if (!strcmp(pol->hooks[i].name, name))
                return fail(c, k, "webhook '%.60s' appears twice", name);
        if ((rc = expect_map(c, v, "a webhook")) || (rc = check_keys(c, v, "a webhook", keys)))
            return rc;
        hook *h = &pol->hooks[pol->nhooks++];
        h->name = cairn_strdup(name);
        h->retries = 3;
        h->timeout_ms = 5000;
        PAIRS(v, q)
        {
            const char *key = (const char *)node_at(c, q->key)->data.scalar.value;
            yaml_node_t *val = node_at(c, q->value);
            if (!strcmp(key, "url")) {
                if ((rc = get_str(c, val, "url", &url))) return rc;
                if (!cairn_str_startswith(url, "http://") && !cairn_str_startswith(url, "https://"))
                    return fail(c, val, "a webhook url must start with http:// or https://");
                h->url = cairn_strdup(url);
            } else if (!strcmp(key, "retries")) {
                int64_t r;
                if ((rc = get_int(c, val, "retries", 0, 10, &r))) return rc;
                h->retries = (int)r;
            } else {
                if ((rc = get_duration(c, val, "timeout", 1, 300000, &h->timeout_ms))) return rc;
            }
        }
        if (!h->url) return fail(c, v, "webhook '%.60s' needs a url", name);
    }
    return 0;
}

/* One section's body: the keys shared by the top level and deployments. */
static int parse_section_key(ctx *c, const char *key, const yaml_node_t *v, section *s, int *handled)
{
    *handled = 1;
    if (!strcmp(key, "window")) return parse_window(c, v, &s->window);
    if (!strcmp(key, "features")) return parse_features(c, v, s);
    if (!strcmp(key, "alerts")) return parse_alerts(c, v, s);
    *handled = 0;
    return 0;
}

static int parse_deployments(ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {"window", "features", "alerts", NULL};
    cairn_monitor_policy *pol = c->p;
    int rc;
    if ((rc = expect_map(c, n, "deployments"))) return rc;
    if (npairs(n) > MAX_DEPLOYMENTS) return fail(c, n, "more than %d deployments", MAX_DEPLOYMENTS);
    pol->deps = cairn_calloc((size_t)npairs(n) + 1, sizeof(section));
    PAIRS(n, p)
    {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *name;
        if ((rc = get_str(c, k, "a deployment name", &name)) ||
            (rc = check_name(c, k, "deployment name", name)))
            return rc;
        for (int i = 0; i < pol->ndeps; i++)
            if (!strcmp(pol->deps[i].deployment, name))
                return fail(c, k, "deployment '%.60s' appears twice", name);
        if ((rc = expect_map(c, v, "a deployment section")) ||
            (rc = check_keys(c, v, "a deployment section", keys)))
            return rc;
        section *s = &pol->deps[pol->ndeps++];
        s->deployment = cairn_strdup(name);
        s->window.rows = -1;
        s->window.seconds = -1;
        PAIRS(v, q)
        {
            int handled;
            const char *key = (const char *)node_at(c, q->key)->data.scalar.value;
            if ((rc = parse_section_key(c, key, node_at(c, q->value), s, &handled))) return rc;
        }
    }
    return 0;
}

/* Resolves each rule's webhook value: a name under webhooks, or a URL. */
static int resolve_hooks(ctx *c, section *s)
{
    cairn_monitor_policy *pol = c->p;
    for (int i = 0; i < s->nrules; i++) {
        const char *ref = s->hook_refs[i];
        if (!ref) continue;
        cairn_monitor_rule *r = &s->rules[i];
        if (strstr(ref, "://")) {
            if (!cairn_str_startswith(ref, "http://") && !cairn_str_startswith(ref, "https://"))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR,
                                       "%s:%d: a webhook url must start with http:// or https://",
                                       c->fname, s->hook_lines[i]);
            r->webhook_url = cairn_strdup(ref);
            continue;
        }
        const hook *h = NULL;
        for (int j = 0; j < pol->nhooks; j++)
            if (!strcmp(pol->hooks[j].name, ref)) h = &pol->hooks[j];
        if (!h)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR,
                                   "%s:%d: no webhook named '%.60s' under webhooks", c->fname,
                                   s->hook_lines[i], ref);
        r->webhook_name = cairn_strdup(h->name);
        r->webhook_url = cairn_strdup(h->url);
        r->webhook_retries = h->retries;
        r->webhook_timeout_ms = h->timeout_ms;
    }
    return 0;
}

static int parse_root(ctx *c)
{
    static const char *const keys[] = {"window", "features", "alerts", "webhooks", "deployments",
                                       NULL};
    cairn_monitor_policy *pol = c->p;
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    int rc;
    if (!root) return 0; /* an empty file: every default */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) return 0;
    if ((rc = expect_map(c, root, "the policy")) || (rc = check_keys(c, root, "the policy", keys)))
        return rc;
    PAIRS(root, p)
    {
        const char *key = (const char *)node_at(c, p->key)->data.scalar.value;
        yaml_node_t *v = node_at(c, p->value);
        int handled;
        if ((rc = parse_section_key(c, key, v, &pol->top, &handled))) return rc;
        if (handled) continue;
        if (!strcmp(key, "webhooks")) rc = parse_webhooks(c, v);
        else rc = parse_deployments(c, v);
        if (rc) return rc;
    }
    if ((rc = resolve_hooks(c, &pol->top))) return rc;
    for (int i = 0; i < pol->ndeps; i++) {
        section *s = &pol->deps[i];
        if ((rc = resolve_hooks(c, s))) return rc;
        if (s->window.rows < 0) s->window.rows = pol->top.window.rows;
        if (s->window.seconds < 0) s->window.seconds = pol->top.window.seconds;
        if (s->window.rows == 0 && s->window.seconds == 0)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR,
                                   "%s: deployment '%s': a window needs rows or seconds above 0",
                                   c->fname, s->deployment);
    }
    return 0;
}

/* ---- lifecycle ---- */

static void section_free(section *s)
{
    for (int i = 0; i < s->nfeat; i++) cairn_free(s->feats[i].name);
    cairn_free(s->feats);
    for (int i = 0; i < s->nrules; i++) {
        cairn_monitor_rule *r = &s->rules[i];
        cairn_free((char *)r->name);
        cairn_free((char *)r->subject);
        cairn_free((char *)r->webhook_name);
        cairn_free((char *)r->webhook_url);
        if (r->retrain_argv)
            for (int j = 0; r->retrain_argv[j]; j++) cairn_free((char *)r->retrain_argv[j]);
        cairn_free((void *)r->retrain_argv);
        cairn_free(s->hook_refs[i]);
    }
    /* a rule that failed half-way may have a hook ref past nrules: none, since
     * nrules counts the rule before its fields are read */
    cairn_free(s->rules);
    cairn_free(s->hook_refs);
    cairn_free(s->hook_lines);
    cairn_free(s->deployment);
}

void cairn_monitor_policy_free(cairn_monitor_policy *p)
{
    if (!p) return;
    section_free(&p->top);
    for (int i = 0; i < p->ndeps; i++) section_free(&p->deps[i]);
    cairn_free(p->deps);
    for (int i = 0; i < p->nhooks; i++) {
        cairn_free(p->hooks[i].name);
        cairn_free(p->hooks[i].url);
    }
    cairn_free(p->hooks);
    cairn_free(p);
}

int cairn_monitor_policy_parse(cairn_monitor_policy **out, const char *text, size_t len,
                               const char *name)
{
    *out = NULL;
    if (!name) name = "policy";
    if (len > POLICY_MAX_BYTES)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_MONITOR, "%s: larger than 1 MiB", name);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_MONITOR, "yaml parser init");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_MONITOR, "%s:%zu: %s", name,
                                 parser.problem_mark.line + 1,
                                 parser.problem ? parser.problem : "malformed YAML");
        yaml_parser_delete(&parser);
        return rc;
    }
    cairn_monitor_policy *p = cairn_calloc(1, sizeof(*p));
    p->top.window.rows = 10000;
    p->top.window.seconds = 300;
    ctx c = {&doc, name, p};
    int rc = parse_root(&c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) {
        cairn_monitor_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int cairn_monitor_policy_load(cairn_monitor_policy **out, const char *path)
{
    cairn_buf b = CAIRN_BUF_INIT(POLICY_MAX_BYTES + 1);
    *out = NULL;
    int rc = cairn_read_file(path, &b);
    if (rc == CAIRN_ETOOBIG)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_MONITOR, "%s: larger than 1 MiB", path);
    if (rc) return rc;
    rc = cairn_monitor_policy_parse(out, b.ptr ? b.ptr : "", b.len, path);
    cairn_buf_free(&b);
    return rc;
}

/* ---- accessors ---- */

static const section *find_section(const cairn_monitor_policy *p, const char *deployment)
{
    for (int i = 0; deployment && i < p->ndeps; i++)
        if (!strcmp(p->deps[i].deployment, deployment)) return &p->deps[i];
    return NULL;
}

cairn_monitor_window cairn_monitor_policy_window(const cairn_monitor_policy *p,
                                                 const char *deployment)
{
    const section *s = find_section(p, deployment);
    return s ? s->window : p->top.window;
}

static const feat *find_feat(const section *s, const char *feature)
{
    for (int i = 0; s && i < s->nfeat; i++)
        if (!strcmp(s->feats[i].name, feature)) return &s->feats[i];
    return NULL;
}

int cairn_monitor_policy_feature(const cairn_monitor_policy *p, const char *deployment,
                                 const char *feature, cairn_drift_stat *stat, double *threshold)
{
    const feat *f = find_feat(find_section(p, deployment), feature);
    if (!f) f = find_feat(&p->top, feature);
    *stat = f ? f->stat : CAIRN_DRIFT_AUTO;
    *threshold = f ? f->threshold : NAN;
    return f != NULL;
}

int cairn_monitor_policy_rules(const cairn_monitor_policy *p, const char *deployment,
                               const cairn_monitor_rule **rules, int max)
{
    const section *s = find_section(p, deployment);
    int n = 0;
    for (int i = 0; i < p->top.nrules; i++) {
        const cairn_monitor_rule *r = &p->top.rules[i];
        int replaced = 0;
        for (int j = 0; s && j < s->nrules; j++) replaced |= !strcmp(s->rules[j].name, r->name);
        if (replaced) continue;
        if (n < max) rules[n] = r;
        n++;
    }
    for (int j = 0; s && j < s->nrules; j++) {
        if (n < max) rules[n] = &s->rules[j];
        n++;
    }
    return n;
}

int cairn_monitor_policy_all_rules(const cairn_monitor_policy *p, const cairn_monitor_rule **rules,
                                   int max)
{
    int n = 0;
    for (int i = 0; i < p->top.nrules; i++, n++)
        if (n < max) rules[n] = &p->top.rules[i];
    for (int d = 0; d < p->ndeps; d++)
        for (int i = 0; i < p->deps[d].nrules; i++, n++)
            if (n < max) rules[n] = &p->deps[d].rules[i];
    return n;
}
