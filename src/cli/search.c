/*
 * search.c - hyperparameter search (grid, random, successive halving) for
 * `cairn train --search`. See search.h for the spec.
 *
 * Key idea: a candidate is a list of key=value strings applied on top of
 * the base options with the same setter as `--set`, so every value in the
 * YAML is checked by the option table before anything trains, and a trial's
 * params are logged exactly as they were applied. Successive halving spends
 * the learner's own iteration budget (GBDT n_rounds, max_iter otherwise):
 * with n candidates and s = floor(log_eta n) rungs after the first, rung i
 * trains every survivor with budget R / eta^(s - i) (R = the base budget)
 * and keeps the best n_i / eta, so the last rung trains at the full budget.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "cairn/core.h"
#include "cairn/metrics.h"
#include "cli_client.h"
#include "search.h"

#define ERR(code, ...) cairn_error_set((code), CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define MAX_CANDIDATES 10000

/* ====================================================================== */
/* Spec                                                                    */
/* ====================================================================== */

void cli_search_free(cli_search_spec *s)
{
    if (!s) return;
    for (int i = 0; i < s->nparams; i++) {
        cli_search_param *p = &s->params[i];
        for (int j = 0; j < p->nvalues; j++)
            cairn_free(p->values[j]);
        cairn_free(p->values);
        cairn_free(p->value_lines);
        cairn_free(p->name);
    }
    cairn_free(s->params);
    cairn_free(s->file);
    memset(s, 0, sizeof(*s));
}

typedef struct yctx {
    yaml_document_t *doc;
    const char *file;
} yctx;

static int bad(const yctx *y, const yaml_node_t *n, const char *what)
{
    return ERR(CAIRN_EINVALID, "%s:%zu: %s", y->file, n ? n->start_mark.line + 1 : 1, what);
}

/* The text of a scalar node, or NULL. */
static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int scalar_int(const yctx *y, const yaml_node_t *n, int lo, int hi, int *out,
                      const char *key)
{
    int64_t v;
    char msg[160];
    const char *t = scalar(n);
    if (!t || cairn_parse_i64(t, &v) || v < lo || v > hi) {
        snprintf(msg, sizeof(msg), "%s wants an integer in %d..%d", key, lo, hi);
        return bad(y, n, msg);
    }
    *out = (int)v;
    return 0;
}

/* "12", "-3": an integer literal. */
static int looks_int(const char *t)
{
    if (*t == '-' || *t == '+') t++;
    return *t && strspn(t, "0123456789") == strlen(t);
}

/* Parses one entry of params: a sequence of scalars or a {low, high, log} map. */
static int parse_param(const yctx *y, const yaml_node_t *key, yaml_node_t *val, cli_search_param *p)
{
    p->name = cairn_strdup(scalar(key));
    p->line = (int)key->start_mark.line + 1;
    if (val->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = val->data.sequence.items.start;
        int n = (int)(val->data.sequence.items.top - it);
        if (n == 0) return bad(y, val, "a parameter's list of values is empty");
        p->values = cairn_calloc((size_t)n, sizeof(char *));
        p->value_lines = cairn_calloc((size_t)n, sizeof(int));
        for (int i = 0; i < n; i++) {
            yaml_node_t *v = yaml_document_get_node(y->doc, it[i]);
            if (!scalar(v)) return bad(y, v, "list values must be scalars");
            p->values[p->nvalues] = cairn_strdup(scalar(v));
            p->value_lines[p->nvalues++] = (int)v->start_mark.line + 1;
        }
        return 0;
    }
    if (val->type != YAML_MAPPING_NODE)
        return bad(y, val, "a parameter is a list of values or a {low, high, log} range");
    int have_lo = 0, have_hi = 0, ints = 1;
    for (yaml_node_pair_t *pr = val->data.mapping.pairs.start; pr < val->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, pr->value);
        const char *ks = scalar(k), *vs = scalar(v);
        if (!ks || !vs) return bad(y, k, "range entries are scalars");
        if (!strcmp(ks, "low") || !strcmp(ks, "high")) {
            double d;
            if (cairn_parse_double(vs, &d) || !isfinite(d))
                return bad(y, v, "low and high are numbers");
            ints &= looks_int(vs);
            if (ks[0] == 'l')
                p->low = d, have_lo = 1;
            else
                p->high = d, have_hi = 1;
        } else if (!strcmp(ks, "log")) {
            if (!strcmp(vs, "true"))
                p->log = 1;
            else if (!strcmp(vs, "false"))
                p->log = 0;
            else
                return bad(y, v, "log is true or false");
        } else {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown range key '%.60s' (low, high, log)", ks);
            return bad(y, k, msg);
        }
    }
    if (!have_lo || !have_hi) return bad(y, val, "a range needs low and high");
    if (!(p->low <= p->high)) return bad(y, val, "a range needs low <= high");
    if (p->log && p->low <= 0) return bad(y, val, "a log range needs low > 0");
    p->integer = ints;
    return 0;
}

/* Reads the mapping at the root of the document into s. */
static int parse_root(const yctx *y, yaml_node_t *root, cli_search_spec *s)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return bad(y, root, "the spec is a mapping (method, metric, params, ...)");
    yaml_node_t *params = NULL;
    int rc = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         !rc && pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, pr->value);
        const char *ks = scalar(k), *vs = scalar(v);
        int64_t i64;
        if (!ks)
            rc = bad(y, k, "keys are plain names");
        else if (!strcmp(ks, "params")) {
            if (v->type != YAML_MAPPING_NODE) rc = bad(y, v, "params is a mapping of name: values");
            params = v;
        } else if (!vs) {
            char msg[120];
            snprintf(msg, sizeof(msg), "%.40s wants a single value", ks);
            rc = bad(y, v, msg);
        } else if (!strcmp(ks, "method")) {
            if (!strcmp(vs, "grid"))
                s->method = CLI_SEARCH_GRID;
            else if (!strcmp(vs, "random"))
                s->method = CLI_SEARCH_RANDOM;
            else if (!strcmp(vs, "halving"))
                s->method = CLI_SEARCH_HALVING;
            else
                rc = bad(y, v, "method is grid, random or halving");
        } else if (!strcmp(ks, "metric")) {
            snprintf(s->metric, sizeof(s->metric), "%s", vs);
            s->metric_line = (int)v->start_mark.line + 1;
        } else if (!strcmp(ks, "direction")) {
            if (!strcmp(vs, "max") || !strcmp(vs, "maximize"))
                s->direction = 1;
            else if (!strcmp(vs, "min") || !strcmp(vs, "minimize"))
                s->direction = -1;
            else
                rc = bad(y, v, "direction is max or min");
        } else if (!strcmp(ks, "cv")) {
            rc = scalar_int(y, v, 2, 100, &s->cv, "cv");
        } else if (!strcmp(ks, "trials")) {
            rc = scalar_int(y, v, 1, MAX_CANDIDATES, &s->trials, "trials");
        } else if (!strcmp(ks, "eta")) {
            rc = scalar_int(y, v, 2, 100, &s->eta, "eta");
        } else if (!strcmp(ks, "seed")) {
            if (cairn_parse_i64(vs, &i64) || i64 < 0)
                rc = bad(y, v, "seed is a non-negative integer");
            else
                s->seed = (uint64_t)i64;
        } else {
            char msg[160];
            snprintf(
                msg, sizeof(msg),
                "unknown key '%.60s' (method, metric, direction, cv, trials, seed, eta, params)",
                ks);
            rc = bad(y, k, msg);
        }
    }
    if (rc) return rc;
    if (!params || params->data.mapping.pairs.top == params->data.mapping.pairs.start)
        return bad(y, params ? params : root, "params is missing or empty");
    if (!s->metric[0]) return bad(y, root, "metric is missing");
    int n = (int)(params->data.mapping.pairs.top - params->data.mapping.pairs.start);
    s->params = cairn_calloc((size_t)n, sizeof(cli_search_param));
    for (yaml_node_pair_t *pr = params->data.mapping.pairs.start;
         !rc && pr < params->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, pr->key);
        if (!scalar(k)) return bad(y, k, "parameter names are plain names");
        for (int i = 0; i < s->nparams; i++)
            if (!strcmp(s->params[i].name, scalar(k))) return bad(y, k, "parameter listed twice");
        rc = parse_param(y, k, yaml_document_get_node(y->doc, pr->value), &s->params[s->nparams++]);
    }
    if (rc) return rc;
    for (int i = 0; i < s->nparams; i++)
        if (s->method == CLI_SEARCH_GRID && s->params[i].nvalues == 0) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "grid search needs a list of values for '%.60s', not a range",
                     s->params[i].name);
            return ERR(CAIRN_EINVALID, "%s:%d: %s", y->file, s->params[i].line, msg);
        }
    return 0;
}

int cli_search_load(cli_search_spec *s, const char *path)
{
    memset(s, 0, sizeof(*s));
    s->cv = 3;
    s->eta = 3;
    FILE *f = fopen(path, "rb");
    if (!f) return ERR(CAIRN_ENOTFOUND, "cannot open %s", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = ERR(CAIRN_EINVALID, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "invalid YAML");
    } else {
        yctx y = {&doc, path};
        s->file = cairn_strdup(path);
        rc = parse_root(&y, yaml_document_get_root_node(&doc), s);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (!rc && !s->trials) s->trials = s->method == CLI_SEARCH_HALVING ? 27 : 10;
    if (rc) {
        cairn_error saved = *cairn_error_last();
        cli_search_free(s);
        return cairn_error_set(saved.code, saved.subsys, "%s", saved.msg);
    }
    return 0;
}

/* Metrics each task reports (cli_ml_score). */
static int metric_known(cairn_task task, const char *m)
{
    static const char *const cls[] = {"auc", "pr_auc", "logloss", "accuracy", "f1_macro", NULL};
    static const char *const reg[] = {"rmse", "mae", "r2", "mape", NULL};
    static const char *const clu[] = {"silhouette", NULL};
    const char *const *l = task == CAIRN_TASK_REGRESSION   ? reg
                           : task == CAIRN_TASK_CLUSTERING ? clu
                                                           : cls;
    for (; *l; l++)
        if (!strcmp(*l, m)) return 1;
    return 0;
}

int cli_search_check(const cli_search_spec *s, const cli_ml_opts *base, cairn_task task)
{
    if (!metric_known(task, s->metric))
        return ERR(CAIRN_EINVALID, "%s:%d: metric '%s' is not one this task reports (%s)", s->file,
                   s->metric_line, s->metric,
                   task == CAIRN_TASK_REGRESSION   ? "rmse, mae, r2, mape"
                   : task == CAIRN_TASK_CLUSTERING ? "silhouette"
                                                   : "auc, pr_auc, logloss, accuracy, f1_macro");
    for (int i = 0; i < s->nparams; i++) {
        const cli_search_param *p = &s->params[i];
        cli_ml_opts o = *base;
        int rc = 0, line = p->line;
        if (s->method == CLI_SEARCH_HALVING && !strcmp(p->name, cli_ml_budget_key(base)))
            return ERR(CAIRN_EINVALID, "%s:%d: halving spends %s itself; do not search it", s->file,
                       line, p->name);
        if (!strcmp(p->name, "seed") || !strcmp(p->name, "test_size"))
            return ERR(CAIRN_EINVALID, "%s:%d: '%s' is not a hyperparameter", s->file, line,
                       p->name);
        for (int j = 0; j < p->nvalues && !rc; j++) {
            rc = cli_ml_opts_set(&o, p->name, p->values[j]);
            line = p->value_lines[j];
        }
        if (!p->nvalues) {
            char v[64];
            snprintf(v, sizeof(v), p->integer ? "%.0f" : "%.17g", p->low);
            rc = cli_ml_opts_set(&o, p->name, v);
            snprintf(v, sizeof(v), p->integer ? "%.0f" : "%.17g", p->high);
            if (!rc) rc = cli_ml_opts_set(&o, p->name, v);
        }
        if (rc) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
            return ERR(CAIRN_EINVALID, "%s:%d: %s", s->file, line, msg);
        }
    }
    return 0;
}

/* ====================================================================== */
/* Candidates                                                              */
/* ====================================================================== */

/* Fills trial t's params from value indices (grid) or by sampling. */
static void fill_trial(const cli_search_spec *s, cli_search_trial *t, const int *idx,
                       cairn_ml_rng *rng)
{
    t->nparams = s->nparams;
    t->params = cairn_calloc((size_t)s->nparams, sizeof(cli_ml_kv));
    for (int i = 0; i < s->nparams; i++) {
        const cli_search_param *p = &s->params[i];
        cli_ml_kv *kv = &t->params[i];
        snprintf(kv->key, sizeof(kv->key), "%s", p->name);
        if (p->nvalues) {
            int j = idx ? idx[i] : (int)cairn_ml_rng_below(rng, (uint64_t)p->nvalues);
            snprintf(kv->value, sizeof(kv->value), "%s", p->values[j]);
            continue;
        }
        double u = cairn_ml_rng_uniform(rng), v;
        if (p->log)
            v = exp(log(p->low) + u * (log(p->high) - log(p->low)));
        else
            v = p->low + u * (p->high - p->low);
        if (p->integer)
            snprintf(kv->value, sizeof(kv->value), "%.0f",
                     floor(v + 0.5 > p->high ? p->high : v + 0.5));
        else
            snprintf(kv->value, sizeof(kv->value), "%.6g", v);
    }
}

/* The candidates of the spec: the grid's product, or `trials` samples. */
static int make_candidates(const cli_search_spec *s, cli_search_result *r)
{
    int all_lists = 1;
    double grid = 1;
    for (int i = 0; i < s->nparams; i++) {
        all_lists &= s->params[i].nvalues > 0;
        grid *= s->params[i].nvalues > 0 ? s->params[i].nvalues : 1;
    }
    int use_grid = s->method == CLI_SEARCH_GRID || (s->method == CLI_SEARCH_HALVING && all_lists);
    if (use_grid && grid > MAX_CANDIDATES)
        return ERR(CAIRN_EINVALID, "%s: the grid has %.0f candidates (at most %d)", s->file, grid,
                   MAX_CANDIDATES);
    int n = use_grid ? (int)grid : s->trials;
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, s->seed);
    r->trials = cairn_calloc((size_t)n, sizeof(cli_search_trial));
    int *idx = cairn_calloc((size_t)s->nparams, sizeof(int));
    for (int t = 0; t < n; t++) {
        cli_search_trial *tr = &r->trials[r->ntrials++];
        tr->id = t + 1;
        tr->score = tr->std = NAN;
        fill_trial(s, tr, use_grid ? idx : NULL, &rng);
        for (int i = s->nparams - 1; use_grid && i >= 0; i--) { /* odometer, last param fastest */
            if (++idx[i] < s->params[i].nvalues) break;
            idx[i] = 0;
        }
    }
    cairn_free(idx);
    return 0;
}

/* ====================================================================== */
/* Running                                                                 */
/* ====================================================================== */

typedef struct run_ctx {
    const cli_search_spec *s;
    const cli_ml_opts *base;
    const cli_ml_data *d;
    cli_ml_tracker *t;
    const char *parent;
    int progress, sign; /* sign: +1 when larger is better */
} run_ctx;

/* Applies trial tr (and a budget when > 0) on top of the base options. */
static int trial_opts(const run_ctx *c, const cli_search_trial *tr, int budget, cli_ml_opts *o)
{
    *o = *c->base;
    for (int i = 0; i < tr->nparams; i++) {
        int rc = cli_ml_opts_set(o, tr->params[i].key, tr->params[i].value);
        if (rc) return rc;
    }
    if (budget > 0) {
        char b[32];
        snprintf(b, sizeof(b), "%d", budget);
        return cli_ml_opts_set(o, cli_ml_budget_key(o), b);
    }
    return 0;
}

/* Opens trial tr's nested run and logs its params (once). Tracking
 * failures are reported and then ignored: the search goes on locally. */
static void trial_run_open(const run_ctx *c, cli_search_trial *tr, int log_budget)
{
    if (!c->t || tr->run.id[0]) return;
    char name[64];
    snprintf(name, sizeof(name), "trial-%d", tr->id);
    cli_ml_kv tags[1];
    snprintf(tags[0].key, sizeof(tags[0].key), "mlflow.source.name");
    snprintf(tags[0].value, sizeof(tags[0].value), "cairn train --search");
    cli_ml_opts o;
    cli_ml_kv p[CLI_ML_MAX_PARAMS];
    int np = 0;
    if (cli_ml_run_start(c->t, name, c->parent, tags, 1, &tr->run) || trial_opts(c, tr, 0, &o)) {
        fprintf(stderr, "cairn: warning: trial %d not tracked: %s\n", tr->id,
                cairn_error_last()->msg);
        tr->run.id[0] = '\0';
        return;
    }
    int all = cli_ml_opts_list(&o, p, CLI_ML_MAX_PARAMS);
    for (int i = 0; i < all; i++) /* halving's budget changes per rung: a metric, not a param */
        if (log_budget || strcmp(p[i].key, cli_ml_budget_key(&o))) p[np++] = p[i];
    if (cli_ml_log_params(c->t, tr->run.id, p, np))
        fprintf(stderr, "cairn: warning: trial %d params: %s\n", tr->id, cairn_error_last()->msg);
}

/* Scores trial tr by cross-validation at `budget` (0: the base budget) and
 * logs the result at step `rung`. */
static void evaluate(const run_ctx *c, cli_search_trial *tr, int budget, int rung)
{
    cli_ml_opts o;
    cli_ml_cv cv;
    int rc = trial_opts(c, tr, budget, &o);
    tr->budget = cli_ml_budget(&o);
    tr->rung = rung;
    trial_run_open(c, tr, budget == 0);
    if (!rc) rc = cli_ml_cross_validate(&o, c->d, c->s->cv, &cv);
    if (rc) {
        tr->score = tr->std = NAN;
        memcpy(tr->error, cairn_error_last()->msg, sizeof(tr->error));
    } else {
        tr->score = cli_ml_cv_get(&cv, c->s->metric, &tr->std);
        if (isnan(tr->score))
            snprintf(tr->error, sizeof(tr->error), "%s is undefined on a fold", c->s->metric);
    }
    if (c->progress) {
        fprintf(stderr, "trial %d", tr->id);
        for (int i = 0; i < tr->nparams; i++)
            fprintf(stderr, " %s=%s", tr->params[i].key, tr->params[i].value);
        if (budget) fprintf(stderr, " %s=%d", cli_ml_budget_key(&o), budget);
        if (isnan(tr->score))
            fprintf(stderr, ": failed (%s)\n", tr->error);
        else
            fprintf(stderr, ": cv %s %.5f ± %.5f\n", c->s->metric, tr->score, tr->std);
    }
    if (c->t && tr->run.id[0] && !isnan(tr->score)) {
        char k1[48], k2[56];
        snprintf(k1, sizeof(k1), "cv_%s", c->s->metric);
        snprintf(k2, sizeof(k2), "cv_%s_std", c->s->metric);
        const char *keys[3] = {k1, k2, "budget"};
        double vals[3] = {tr->score, tr->std, tr->budget};
        int64_t steps[3] = {rung, rung, rung};
        if (cli_ml_log_metrics(c->t, tr->run.id, keys, vals, steps, 3))
            fprintf(stderr, "cairn: warning: trial %d metrics: %s\n", tr->id,
                    cairn_error_last()->msg);
    }
}

/* A trial's place in a rung's ranking. */
typedef struct rank_item {
    double key; /* sign * score, NaN last */
    int idx;
} rank_item;

static int cmp_rank(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    int xn = isnan(x->key), yn = isnan(y->key);
    if (xn != yn) return xn - yn;
    if (!xn && x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->idx - y->idx; /* stable: earlier trial first */
}

/* Successive halving over the trials (see the file comment). */
static void halving(const run_ctx *c, cli_search_result *r)
{
    int eta = c->s->eta, n = r->ntrials, R = cli_ml_budget(c->base);
    int s_max = 0;
    for (double m = eta; m <= n; m *= eta)
        s_max++;
    int *alive = cairn_malloc(sizeof(int) * (size_t)n), nalive = n;
    rank_item *rank = cairn_malloc(sizeof(rank_item) * (size_t)n);
    for (int i = 0; i < n; i++)
        alive[i] = i;
    for (int rung = 0; rung <= s_max && nalive > 0; rung++) {
        double div = pow(eta, s_max - rung);
        int budget = nalive == 1 ? R : (int)fmax(1.0, floor(R / div));
        for (int i = 0; i < nalive; i++)
            evaluate(c, &r->trials[alive[i]], budget, rung);
        if (budget == R) break;
        for (int i = 0; i < nalive; i++)
            rank[i] = (rank_item){c->sign * r->trials[alive[i]].score, alive[i]};
        qsort(rank, (size_t)nalive, sizeof(rank_item), cmp_rank);
        int keep = nalive / eta > 0 ? nalive / eta : 1;
        for (int i = 0; i < keep; i++)
            alive[i] = rank[i].idx;
        nalive = keep;
    }
    cairn_free(alive);
    cairn_free(rank);
}

int cli_search_run(const cli_search_spec *s, const cli_ml_opts *base, const cli_ml_data *d,
                   cli_ml_tracker *t, const char *parent_run, int progress, cli_search_result *r)
{
    memset(r, 0, sizeof(*r));
    r->best = -1;
    int rc = make_candidates(s, r);
    if (rc) return rc;
    int sign = s->direction ? s->direction : (cli_ml_higher_better(s->metric) ? 1 : -1);
    run_ctx c = {s, base, d, t, parent_run, progress, sign};
    if (s->method == CLI_SEARCH_HALVING)
        halving(&c, r);
    else
        for (int i = 0; i < r->ntrials; i++)
            evaluate(&c, &r->trials[i], 0, 0);
    /* Best: the highest rung first (halving), then the score. */
    for (int i = 0; i < r->ntrials; i++) {
        cli_search_trial *tr = &r->trials[i];
        if (isnan(tr->score)) continue;
        if (r->best < 0) {
            r->best = i;
            continue;
        }
        cli_search_trial *b = &r->trials[r->best];
        if (tr->rung > b->rung || (tr->rung == b->rung && sign * tr->score > sign * b->score))
            r->best = i;
    }
    for (int i = 0; t && i < r->ntrials; i++)
        if (r->trials[i].run.id[0] &&
            cli_ml_run_end(t, r->trials[i].run.id,
                           isnan(r->trials[i].score) ? "FAILED" : "FINISHED"))
            fprintf(stderr, "cairn: warning: trial %d: %s\n", r->trials[i].id,
                    cairn_error_last()->msg);
    if (r->best < 0)
        return ERR(CAIRN_EINVALID, "every trial failed; the first: %s",
                   r->ntrials ? r->trials[0].error : "no candidates");
    return trial_opts(&c, &r->trials[r->best],
                      s->method == CLI_SEARCH_HALVING ? cli_ml_budget(base) : 0, &r->best_opts);
}

void cli_search_print(const cli_search_spec *s, const cli_search_result *r)
{
    int np = s->nparams, halv = s->method == CLI_SEARCH_HALVING, nc = 0;
    const char *h[40];
    char metric_h[48];
    snprintf(metric_h, sizeof(metric_h), "CV %s", s->metric);
    h[nc++] = "TRIAL";
    for (int i = 0; i < np && nc < 34; i++)
        h[nc++] = s->params[i].name;
    if (halv) h[nc++] = "RUNG", h[nc++] = "BUDGET";
    h[nc++] = metric_h;
    h[nc++] = "STD";
    cli_table tb;
    cli_table_init(&tb, nc, h);
    for (int t = 0; t < r->ntrials; t++) {
        const cli_search_trial *tr = &r->trials[t];
        char id[16], rung[16], budget[16], score[32], std[32];
        const char *row[40];
        int k = 0;
        snprintf(id, sizeof(id), "%d%s", tr->id, t == r->best ? " *" : "");
        row[k++] = id;
        for (int i = 0; i < np && k < 34; i++)
            row[k++] = tr->params[i].value;
        snprintf(rung, sizeof(rung), "%d", tr->rung);
        snprintf(budget, sizeof(budget), "%d", tr->budget);
        if (halv) row[k++] = rung, row[k++] = budget;
        if (isnan(tr->score))
            snprintf(score, sizeof(score), "failed");
        else
            snprintf(score, sizeof(score), "%.5f", tr->score);
        if (isnan(tr->std))
            std[0] = '\0';
        else
            snprintf(std, sizeof(std), "%.5f", tr->std);
        row[k++] = score;
        row[k++] = std;
        cli_table_add(&tb, row);
    }
    cli_table_print(&tb);
    cli_table_free(&tb);
}

void cli_search_result_free(cli_search_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->ntrials; i++)
        cairn_free(r->trials[i].params);
    cairn_free(r->trials);
    memset(r, 0, sizeof(*r));
}
