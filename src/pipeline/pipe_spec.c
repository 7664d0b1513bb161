/*
 * pipe_spec.c - parses cairn.yaml into expanded stages.
 *
 * The file is loaded as a libyaml document so every node keeps its line;
 * each stage mapping is read once per foreach/matrix item with that item's
 * variables substituted into every string (${item}, ${key}, and the
 * stage's params by name). Built-in kinds are turned into real argument
 * vectors here, so the runner and the exporters see plain commands. Every
 * error is "FILE:LINE: message"; unknown keys get the nearest known key.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_FILE (4u << 20)
#define MAX_STAGES 4096
#define MAX_VARS 16

typedef struct ctx {
    yaml_document_t doc;
    const char *fname;
    cairn_pipeline_kv *params; /* flattened params file + sets */
    int nparams;
    const cairn_pipeline_kv *sets;
    int nsets;
} ctx;

typedef struct vars {
    const char *k[MAX_VARS];
    const char *v[MAX_VARS];
    int n;
} vars;

static const char *const COMMON_KEYS[] = {
    "cmd",    "deps", "params", "outs",      "metrics",       "retries",     "timeout", "foreach",
    "matrix", "kind", "image",  "resources", "node_selector", "tolerations", "desc",    NULL};
static const char *const TRAIN_KEYS[] = {"data", "target", "model", "out", NULL};
static const char *const EVAL_KEYS[] = {"data", "target", "model", "out", NULL};
static const char *const REG_KEYS[] = {"model", "name", "alias", "gate", NULL};
static const char *const VAL_KEYS[] = {"data", "columns", "max_missing", NULL};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

void cairn_pipeline__strv_push(char ***v, int *n, char *s)
{
    *v = cairn_realloc(*v, sizeof(char *) * (size_t)(*n + 2));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static void kv_push(cairn_pipeline_kv **kv, int *n, const char *k, const char *v)
{
    *kv = cairn_realloc(*kv, sizeof(**kv) * (size_t)(*n + 1));
    (*kv)[*n].key = cairn_strdup(k);
    (*kv)[*n].value = cairn_strdup(v);
    (*n)++;
}

static int atoi_safe(const char *s)
{
    int64_t v = 0;
    return cairn_parse_i64(s, &v) || v < 0 || v > 1024 ? 0 : (int)v;
}

static int line_of(const yaml_node_t *nd)
{
    return nd ? (int)nd->start_mark.line + 1 : 0;
}

static int err_at(const ctx *c, const yaml_node_t *nd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int err_at(const ctx *c, const yaml_node_t *nd, const char *fmt, ...)
{
    char msg[220];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return PERR(CAIRN_EINVALID, "%s:%d: %s", c->fname, line_of(nd), msg);
}

static yaml_node_t *node(ctx *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

static const char *scalar(const yaml_node_t *nd)
{
    return nd && nd->type == YAML_SCALAR_NODE ? (const char *)nd->data.scalar.value : NULL;
}

/* Edit distance, bounded to short keys. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31) return 99;
    int d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int m = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < m) m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            d[i][j] = m;
        }
    return d[la][lb];
}

static bool in_list(const char *const *l, const char *k)
{
    for (; l && *l; l++)
        if (!strcmp(*l, k)) return true;
    return false;
}

/* The known key nearest to k among the lists (NULL when none is close). */
static const char *suggest(const char *k, const char *const *const *lists)
{
    const char *best = NULL;
    int bd = 3;
    for (; *lists; lists++)
        for (const char *const *l = *lists; *l; l++) {
            int d = distance(k, *l);
            if (d < bd) {
                bd = d;
                best = *l;
            }
        }
    return best;
}

/* Replaces ${name} by a variable's value; unknown names are kept. */
static char *subst(const char *s, const vars *vs)
{
    if (!s) return NULL;
    cairn_buf b = CAIRN_BUF_INIT(0);
    while (*s) {
        const char *e;
        if (s[0] == '$' && s[1] == '{' && (e = strchr(s + 2, '}'))) {
            size_t n = (size_t)(e - s - 2);
            int hit = -1;
            for (int i = 0; i < vs->n; i++)
                if (strlen(vs->k[i]) == n && !strncmp(vs->k[i], s + 2, n)) hit = i;
            if (hit >= 0) {
                cairn_buf_puts(&b, vs->v[hit]);
                s = e + 1;
                continue;
            }
        }
        cairn_buf_putc(&b, *s++);
    }
    if (!b.ptr) return cairn_strdup("");
    return cairn_buf_detach(&b, NULL);
}

/* A scalar or a sequence of scalars as a string list. */
static int str_list(ctx *c, yaml_node_t *nd, const char *what, const vars *vs, char ***out, int *n,
                    int **lines)
{
    if (scalar(nd)) {
        cairn_pipeline__strv_push(out, n, subst(scalar(nd), vs));
        if (lines) {
            *lines = cairn_realloc(*lines, sizeof(int) * (size_t)*n);
            (*lines)[*n - 1] = line_of(nd);
        }
        return 0;
    }
    if (nd->type != YAML_SEQUENCE_NODE) return err_at(c, nd, "'%s' wants a list of strings", what);
    for (yaml_node_item_t *it = nd->data.sequence.items.start; it < nd->data.sequence.items.top;
         it++) {
        yaml_node_t *x = node(c, *it);
        if (!scalar(x)) return err_at(c, x, "'%s' wants a list of strings", what);
        if (!*scalar(x)) return err_at(c, x, "empty path in '%s'", what);
        cairn_pipeline__strv_push(out, n, subst(scalar(x), vs));
        if (lines) {
            *lines = cairn_realloc(*lines, sizeof(int) * (size_t)*n);
            (*lines)[*n - 1] = line_of(x);
        }
    }
    return 0;
}

/* Parses "30m", "90s", "2h", "500ms" or a plain number of seconds. */
static int parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mul = 1000;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s") || !*end)
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else
        return -1;
    *ms = (int64_t)(v * mul);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Params                                                                  */
/* ---------------------------------------------------------------------- */

/* Flattens a mapping into dotted keys. */
static void flatten(ctx *c, yaml_document_t *d, yaml_node_t *nd, const char *prefix)
{
    if (nd->type != YAML_MAPPING_NODE) return;
    for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(d, pr->key),
                    *v = yaml_document_get_node(d, pr->value);
        if (!scalar(k)) continue;
        char key[256];
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", scalar(k));
        if (scalar(v))
            kv_push(&c->params, &c->nparams, key, scalar(v));
        else
            flatten(c, d, v, key);
    }
}

/* Loads the params file (optional unless referenced). */
static int load_params(ctx *c, const char *dir, const char *file, const yaml_node_t *where)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    cairn_buf b = CAIRN_BUF_INIT(MAX_FILE);
    int rc = cairn_read_file(path, &b);
    if (rc) {
        if (where) return err_at(c, where, "cannot read params file '%s'", file);
        return 0;
    }
    yaml_parser_t ps;
    yaml_document_t d;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)b.ptr, b.len);
    if (!yaml_parser_load(&ps, &d)) {
        rc = PERR(CAIRN_EINVALID, "%s:%d: %s", file, (int)ps.problem_mark.line + 1,
                  ps.problem ? ps.problem : "bad yaml");
        yaml_parser_delete(&ps);
        cairn_buf_free(&b);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (root) flatten(c, &d, root, "");
    yaml_document_delete(&d);
    yaml_parser_delete(&ps);
    cairn_buf_free(&b);
    return 0;
}

static const char *param_get(const ctx *c, const char *key)
{
    for (int i = 0; i < c->nsets; i++)
        if (!strcmp(c->sets[i].key, key)) return c->sets[i].value;
    for (int i = 0; i < c->nparams; i++)
        if (!strcmp(c->params[i].key, key)) return c->params[i].value;
    return NULL;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const cairn_pipeline_kv *)a)->key, ((const cairn_pipeline_kv *)b)->key);
}

/* ---------------------------------------------------------------------- */
/* Stages                                                                  */
/* ---------------------------------------------------------------------- */

static const char *opt(const cairn_pipeline_stage *s, const char *k)
{
    for (int i = 0; i < s->nopts; i++)
        if (!strcmp(s->opts[i].key, k)) return s->opts[i].value;
    return NULL;
}

static void argv_push(cairn_pipeline_stage *s, const char *a)
{
    cairn_pipeline__strv_push(&s->argv, &s->argc, cairn_strdup(a));
}

/* Adds a path to a list unless already there. */
static void add_unique(char ***v, int *n, int **lines, int line, const char *p)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*v)[i], p)) return;
    cairn_pipeline__strv_push(v, n, cairn_strdup(p));
    if (lines) {
        *lines = cairn_realloc(*lines, sizeof(int) * (size_t)*n);
        (*lines)[*n - 1] = line;
    }
}

/* Turns a built-in kind's options into argv, deps, outs and metrics. */
static int build_kind(ctx *c, yaml_node_t *nd, cairn_pipeline_stage *s)
{
    const char *data = opt(s, "data"), *target = opt(s, "target"), *model = opt(s, "model"),
               *out = opt(s, "out");
    int ln = s->line;
    switch (s->kind) {
    case CAIRN_STAGE_TRAIN:
        if (!data || !target || !out)
            return err_at(c, nd, "stage '%s': kind train needs data, target and out", s->name);
        argv_push(s, "cairn");
        argv_push(s, "train");
        argv_push(s, "--data");
        argv_push(s, data);
        argv_push(s, "--target");
        argv_push(s, target);
        argv_push(s, "--model");
        argv_push(s, model ? model : "gbdt");
        argv_push(s, "--out");
        argv_push(s, out);
        for (int i = 0; i < s->nparams; i++) {
            const char *k = strrchr(s->params[i].key, '.');
            char kv[512];
            snprintf(kv, sizeof(kv), "%s=%s", k ? k + 1 : s->params[i].key, s->params[i].value);
            argv_push(s, "--set");
            argv_push(s, kv);
        }
        add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, data);
        add_unique(&s->outs, &s->nouts, NULL, 0, out);
        {
            char mp[4096];
            snprintf(mp, sizeof(mp), "%s/metrics.json", out);
            add_unique(&s->metrics, &s->nmetrics, NULL, 0, mp);
        }
        break;
    case CAIRN_STAGE_EVALUATE:
        if (!data || !model || !out)
            return err_at(c, nd, "stage '%s': kind evaluate needs model, data and out", s->name);
        argv_push(s, "cairn");
        argv_push(s, "evaluate");
        argv_push(s, "--model");
        argv_push(s, model);
        argv_push(s, "--data");
        argv_push(s, data);
        if (target) {
            argv_push(s, "--target");
            argv_push(s, target);
        }
        argv_push(s, "--json");
        s->stdout_path = cairn_strdup(out);
        add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, model);
        add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, data);
        add_unique(&s->outs, &s->nouts, NULL, 0, out);
        add_unique(&s->metrics, &s->nmetrics, NULL, 0, out);
        break;
    case CAIRN_STAGE_REGISTER: {
        const char *name = opt(s, "name");
        if (!model || !name)
            return err_at(c, nd, "stage '%s': kind register needs model and name", s->name);
        argv_push(s, "cairn");
        argv_push(s, "pipeline");
        argv_push(s, "_register");
        argv_push(s, "--model");
        argv_push(s, model);
        argv_push(s, "--name");
        argv_push(s, name);
        if (opt(s, "alias")) {
            argv_push(s, "--alias");
            argv_push(s, opt(s, "alias"));
        }
        if (s->nmetrics) {
            argv_push(s, "--metrics");
            argv_push(s, s->metrics[0]);
        }
        static const char *const gk[] = {"gate.metric", "gate.min", "gate.max"};
        static const char *const gf[] = {"--gate-metric", "--gate-min", "--gate-max"};
        for (int i = 0; i < 3; i++)
            if (opt(s, gk[i])) {
                argv_push(s, gf[i]);
                argv_push(s, opt(s, gk[i]));
            }
        add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, model);
        for (int i = 0; i < s->nmetrics; i++)
            add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, s->metrics[i]);
        break;
    }
    case CAIRN_STAGE_VALIDATE:
        if (!data) return err_at(c, nd, "stage '%s': kind validate needs data", s->name);
        argv_push(s, "cairn");
        argv_push(s, "pipeline");
        argv_push(s, "_validate");
        argv_push(s, "--file");
        argv_push(s, c->fname);
        argv_push(s, s->name);
        add_unique(&s->deps, &s->ndeps, &s->dep_lines, ln, data);
        break;
    case CAIRN_STAGE_CMD:
        break;
    }
    return 0;
}

/* Reads a validate stage's columns: {NAME: {type, min, max, max_missing, unique}}. */
static int read_rules(ctx *c, yaml_node_t *nd, cairn_pipeline_stage *s)
{
    if (nd->type != YAML_MAPPING_NODE) return err_at(c, nd, "'columns' wants a mapping");
    static const char *const rk[] = {"type", "min", "max", "max_missing", "unique", NULL};
    for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
        if (!scalar(k)) return err_at(c, k, "column names must be strings");
        s->rules = cairn_realloc(s->rules, sizeof(*s->rules) * (size_t)(s->nrules + 1));
        cairn_pipeline_col_rule *r = &s->rules[s->nrules++];
        memset(r, 0, sizeof(*r));
        r->name = cairn_strdup(scalar(k));
        r->max_missing = -1;
        if (scalar(v)) { /* shorthand: NAME: type */
            r->type = cairn_strdup(scalar(v));
        } else if (v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *kk = node(c, q->key), *vv = node(c, q->value);
                const char *key = scalar(kk), *val = scalar(vv);
                if (!key || !val) return err_at(c, kk, "column rules want scalar values");
                double d = 0;
                if (!in_list(rk, key)) {
                    const char *const *ls[] = {rk, NULL};
                    const char *sg = suggest(key, ls);
                    return err_at(c, kk, "unknown column rule '%s'%s%s%s", key,
                                  sg ? " (did you mean '" : "", sg ? sg : "", sg ? "'?)" : "");
                }
                if (!strcmp(key, "type")) {
                    if (strcmp(val, "int") && strcmp(val, "float") && strcmp(val, "string"))
                        return err_at(c, vv, "column type must be int, float or string");
                    r->type = cairn_strdup(val);
                    continue;
                }
                if (!strcmp(key, "unique")) {
                    r->unique = !strcmp(val, "true") || !strcmp(val, "yes");
                    continue;
                }
                if (cairn_parse_double(val, &d)) return err_at(c, vv, "'%s' wants a number", key);
                if (!strcmp(key, "min"))
                    r->has_min = true, r->min = d;
                else if (!strcmp(key, "max"))
                    r->has_max = true, r->max = d;
                else
                    r->max_missing = d;
            }
        } else {
            return err_at(c, v, "column '%s' wants a type or a mapping of rules", r->name);
        }
    }
    return 0;
}

/* Reads a mapping of scalars (one level of nesting joined with '.') into s->opts. */
static int read_opts_map(ctx *c, yaml_node_t *v, const char *prefix, cairn_pipeline_kv **kv, int *n,
                         const vars *vs)
{
    if (v->type != YAML_MAPPING_NODE) return err_at(c, v, "'%s' wants a mapping", prefix);
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        const char *k = scalar(node(c, q->key)), *val = scalar(node(c, q->value));
        if (!k || !val) return err_at(c, node(c, q->key), "'%s' wants scalar values", prefix);
        char key[256];
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
        char *sv = subst(val, vs);
        kv_push(kv, n, key, sv);
        cairn_free(sv);
    }
    return 0;
}

static cairn_stage_kind kind_of(const char *s, bool *ok)
{
    *ok = true;
    if (!strcmp(s, "train")) return CAIRN_STAGE_TRAIN;
    if (!strcmp(s, "evaluate")) return CAIRN_STAGE_EVALUATE;
    if (!strcmp(s, "register")) return CAIRN_STAGE_REGISTER;
    if (!strcmp(s, "validate")) return CAIRN_STAGE_VALIDATE;
    if (!strcmp(s, "cmd")) return CAIRN_STAGE_CMD;
    *ok = false;
    return CAIRN_STAGE_CMD;
}

static const char *const *kind_keys(cairn_stage_kind k)
{
    switch (k) {
    case CAIRN_STAGE_TRAIN:
        return TRAIN_KEYS;
    case CAIRN_STAGE_EVALUATE:
        return EVAL_KEYS;
    case CAIRN_STAGE_REGISTER:
        return REG_KEYS;
    case CAIRN_STAGE_VALIDATE:
        return VAL_KEYS;
    default:
        return NULL;
    }
}

/* Reads the stage's params (a list of keys from the params file, or an
 * inline mapping) into s->params, applying --set overrides. */
static int read_params(ctx *c, yaml_node_t *v, cairn_pipeline_stage *s, const vars *vs)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *x = node(c, *it);
            const char *k = scalar(x);
            if (!k) return err_at(c, x, "'params' wants keys of the params file");
            const char *val = param_get(c, k);
            if (!val)
                return err_at(c, x, "stage '%s': param '%s' is not in the params file", s->name, k);
            kv_push(&s->params, &s->nparams, k, val);
        }
    } else if (v->type == YAML_MAPPING_NODE) {
        int n0 = s->nparams;
        int rc = read_opts_map(c, v, "", &s->params, &s->nparams, vs);
        if (rc) return rc;
        for (int i = n0; i < s->nparams; i++)
            for (int j = 0; j < c->nsets; j++)
                if (!strcmp(c->sets[j].key, s->params[i].key)) {
                    cairn_free(s->params[i].value);
                    s->params[i].value = cairn_strdup(c->sets[j].value);
                }
    } else {
        return err_at(c, v, "'params' wants a list of keys or a mapping");
    }
    if (s->nparams) qsort(s->params, (size_t)s->nparams, sizeof(*s->params), kv_cmp);
    return 0;
}

/* Reads one stage (for one expansion item) into s; vs holds the item's vars. */
static int read_stage(ctx *c, yaml_node_t *nd, cairn_pipeline_stage *s, vars *vs)
{
    s->line = line_of(nd);
    s->max_missing = -1;
    if (nd->type != YAML_MAPPING_NODE) return err_at(c, nd, "stage '%s' wants a mapping", s->name);
    /* First pass: kind and params (their values become ${vars}). */
    yaml_node_t *cmdn = NULL;
    for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top;
         pr++) {
        const char *k = scalar(node(c, pr->key));
        yaml_node_t *v = node(c, pr->value);
        if (!k) return err_at(c, node(c, pr->key), "stage keys must be strings");
        if (!strcmp(k, "kind")) {
            bool ok;
            if (!scalar(v)) return err_at(c, v, "'kind' wants a string");
            s->kind = kind_of(scalar(v), &ok);
            if (!ok)
                return err_at(c, v, "unknown kind '%s' (train, evaluate, register, validate)",
                              scalar(v));
        } else if (!strcmp(k, "params")) {
            int rc = read_params(c, v, s, vs);
            if (rc) return rc;
        }
    }
    for (int i = 0; i < s->nparams && vs->n < MAX_VARS; i++) {
        vs->k[vs->n] = s->params[i].key;
        vs->v[vs->n++] = s->params[i].value;
    }
    const char *const *kk = kind_keys(s->kind);
    for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = node(c, pr->key), *v = node(c, pr->value);
        const char *k = scalar(kn);
        int rc = 0;
        if (!in_list(COMMON_KEYS, k) && !in_list(kk, k)) {
            const char *const *all[] = {COMMON_KEYS, kk ? kk : COMMON_KEYS, NULL};
            const char *sg = suggest(k, all);
            const char *other =
                in_list(TRAIN_KEYS, k) || in_list(REG_KEYS, k) || in_list(VAL_KEYS, k)
                    ? " (a key of a built-in kind: set 'kind')"
                    : "";
            if (sg)
                return err_at(c, kn, "unknown key '%s' in stage '%s' (did you mean '%s'?)", k,
                              s->name, sg);
            return err_at(c, kn, "unknown key '%s' in stage '%s'%s", k, s->name, other);
        }
        if (!strcmp(k, "kind") || !strcmp(k, "params") || !strcmp(k, "foreach") ||
            !strcmp(k, "matrix") || !strcmp(k, "desc"))
            continue;
        if (!strcmp(k, "cmd")) {
            cmdn = v;
            if (scalar(v)) {
                s->cmd = subst(scalar(v), vs);
            } else if (v->type == YAML_SEQUENCE_NODE) {
                char **l = NULL;
                int n = 0;
                rc = str_list(c, v, "cmd", vs, &l, &n, NULL);
                s->argv = l;
                s->argc = n;
                if (!rc && n == 0) rc = err_at(c, v, "stage '%s': empty cmd", s->name);
            } else {
                rc = err_at(c, v, "'cmd' wants a string or a list");
            }
        } else if (!strcmp(k, "deps")) {
            rc = str_list(c, v, k, vs, &s->deps, &s->ndeps, &s->dep_lines);
        } else if (!strcmp(k, "outs")) {
            rc = str_list(c, v, k, vs, &s->outs, &s->nouts, NULL);
        } else if (!strcmp(k, "metrics")) {
            rc = str_list(c, v, k, vs, &s->metrics, &s->nmetrics, NULL);
        } else if (!strcmp(k, "retries")) {
            int64_t r;
            if (!scalar(v) || cairn_parse_i64(scalar(v), &r) || r < 0 || r > 100)
                rc = err_at(c, v, "'retries' wants a number from 0 to 100");
            s->retries = (int)r;
        } else if (!strcmp(k, "timeout")) {
            if (!scalar(v) || parse_duration(scalar(v), &s->timeout_ms))
                rc = err_at(c, v, "'timeout' wants a duration such as 90s, 30m or 2h");
        } else if (!strcmp(k, "image")) {
            if (!scalar(v))
                rc = err_at(c, v, "'image' wants a string");
            else
                s->image = subst(scalar(v), vs);
        } else if (!strcmp(k, "resources")) {
            cairn_pipeline_kv *r = NULL;
            int n = 0;
            rc = read_opts_map(c, v, "", &r, &n, vs);
            for (int i = 0; !rc && i < n; i++) {
                if (!strcmp(r[i].key, "cpu"))
                    s->cpu = cairn_strdup(r[i].value);
                else if (!strcmp(r[i].key, "memory"))
                    s->memory = cairn_strdup(r[i].value);
                else if (!strcmp(r[i].key, "gpu"))
                    s->gpu = atoi_safe(r[i].value);
                else
                    rc = err_at(c, v, "unknown resource '%s' (cpu, memory, gpu)", r[i].key);
            }
            cairn_pipeline__kv_free(r, n);
        } else if (!strcmp(k, "node_selector")) {
            rc = read_opts_map(c, v, "", &s->node_selector, &s->nnode_selector, vs);
        } else if (!strcmp(k, "tolerations")) {
            if (v->type != YAML_SEQUENCE_NODE) rc = err_at(c, v, "'tolerations' wants a list");
            for (yaml_node_item_t *it = rc ? NULL : v->data.sequence.items.start;
                 it && it < v->data.sequence.items.top; it++) {
                cairn_pipeline_kv *t = NULL;
                int n = 0;
                rc = read_opts_map(c, node(c, *it), "toleration", &t, &n, vs);
                if (rc) break;
                s->tolerations = cairn_realloc(s->tolerations, sizeof(*s->tolerations) *
                                                                   (size_t)(s->ntolerations + 1));
                cairn_pipeline_toleration *to = &s->tolerations[s->ntolerations++];
                memset(to, 0, sizeof(*to));
                for (int i = 0; i < n; i++) {
                    const char *tk = t[i].key + strlen("toleration.");
                    char *val = cairn_strdup(t[i].value);
                    if (!strcmp(tk, "key"))
                        to->key = val;
                    else if (!strcmp(tk, "operator"))
                        to->op = val;
                    else if (!strcmp(tk, "value"))
                        to->value = val;
                    else if (!strcmp(tk, "effect"))
                        to->effect = val;
                    else
                        cairn_free(val);
                }
                cairn_pipeline__kv_free(t, n);
            }
        } else if (!strcmp(k, "columns")) {
            rc = read_rules(c, v, s);
        } else if (!strcmp(k, "max_missing")) {
            if (!scalar(v) || cairn_parse_double(scalar(v), &s->max_missing))
                rc = err_at(c, v, "'max_missing' wants a fraction");
        } else if (!strcmp(k, "gate")) {
            rc = read_opts_map(c, v, "gate", &s->opts, &s->nopts, vs);
        } else { /* a scalar option of a built-in kind */
            if (!scalar(v))
                rc = err_at(c, v, "'%s' wants a string", k);
            else {
                char *sv = subst(scalar(v), vs);
                kv_push(&s->opts, &s->nopts, k, sv);
                cairn_free(sv);
            }
        }
        if (rc) return rc;
    }
    if (s->kind == CAIRN_STAGE_CMD) {
        if (!s->cmd && !s->argv) return err_at(c, nd, "stage '%s' has no cmd and no kind", s->name);
        return 0;
    }
    if (cmdn) return err_at(c, cmdn, "stage '%s': a built-in kind takes no cmd", s->name);
    return build_kind(c, nd, s);
}

/* ---------------------------------------------------------------------- */
/* Expansion and the whole file                                            */
/* ---------------------------------------------------------------------- */

static yaml_node_t *map_get(ctx *c, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++)
        if (scalar(node(c, pr->key)) && !strcmp(scalar(node(c, pr->key)), key))
            return node(c, pr->value);
    return NULL;
}

static bool name_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static cairn_pipeline_stage *new_stage(cairn_pipeline *p)
{
    if (p->nstages == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->stages = cairn_realloc(p->stages, sizeof(*p->stages) * (size_t)p->cap);
    }
    cairn_pipeline_stage *s = &p->stages[p->nstages++];
    memset(s, 0, sizeof(*s));
    return s;
}

static int add_item(ctx *c, cairn_pipeline *p, yaml_node_t *nd, const char *base,
                    const char *suffix, vars *vs)
{
    if (p->nstages >= MAX_STAGES) return err_at(c, nd, "more than %d stages", MAX_STAGES);
    cairn_pipeline_stage *s = new_stage(p);
    char name[256];
    snprintf(name, sizeof(name), "%s%s%s", base, suffix ? "@" : "", suffix ? suffix : "");
    s->name = cairn_strdup(name);
    for (int i = 0; i < p->nstages - 1; i++)
        if (!strcmp(p->stages[i].name, name))
            return err_at(c, nd, "stage '%s' is defined twice", name);
    return read_stage(c, nd, s, vs);
}

/* Expands a stage with foreach (a list of scalars) or matrix (key: [values]). */
static int expand(ctx *c, cairn_pipeline *p, const char *base, yaml_node_t *nd)
{
    yaml_node_t *fe = map_get(c, nd, "foreach"), *mx = map_get(c, nd, "matrix");
    vars vs = {.n = 0};
    if (fe && mx) return err_at(c, mx, "stage '%s': use foreach or matrix, not both", base);
    if (fe) {
        if (fe->type != YAML_SEQUENCE_NODE ||
            fe->data.sequence.items.top == fe->data.sequence.items.start)
            return err_at(c, fe, "'foreach' wants a non-empty list of values");
        for (yaml_node_item_t *it = fe->data.sequence.items.start; it < fe->data.sequence.items.top;
             it++) {
            const char *item = scalar(node(c, *it));
            if (!item || !name_ok(item))
                return err_at(c, node(c, *it),
                              "foreach items must be names (letters, digits, _-.)");
            vs.n = 1;
            vs.k[0] = "item";
            vs.v[0] = item;
            int rc = add_item(c, p, nd, base, item, &vs);
            if (rc) return rc;
        }
        return 0;
    }
    if (mx) {
        if (mx->type != YAML_MAPPING_NODE) return err_at(c, mx, "'matrix' wants key: [values]");
        int nk = (int)(mx->data.mapping.pairs.top - mx->data.mapping.pairs.start);
        if (nk < 1 || nk > 8) return err_at(c, mx, "'matrix' wants 1 to 8 keys");
        yaml_node_t *lists[8];
        const char *keys[8];
        int len[8], idx[8] = {0};
        for (int i = 0; i < nk; i++) {
            yaml_node_pair_t *pr = mx->data.mapping.pairs.start + i;
            keys[i] = scalar(node(c, pr->key));
            lists[i] = node(c, pr->value);
            if (!keys[i] || lists[i]->type != YAML_SEQUENCE_NODE)
                return err_at(c, mx, "'matrix' wants key: [values]");
            len[i] = (int)(lists[i]->data.sequence.items.top - lists[i]->data.sequence.items.start);
            if (len[i] == 0) return err_at(c, lists[i], "matrix key '%s' has no values", keys[i]);
        }
        for (;;) {
            char suffix[200] = "";
            size_t o = 0;
            vs.n = nk;
            for (int i = 0; i < nk; i++) {
                const char *v = scalar(node(c, lists[i]->data.sequence.items.start[idx[i]]));
                if (!v || !name_ok(v)) return err_at(c, lists[i], "matrix values must be names");
                vs.k[i] = keys[i];
                vs.v[i] = v;
                int w = snprintf(suffix + o, sizeof(suffix) - o, "%s%s", i ? "-" : "", v);
                if (w > 0 && (size_t)w < sizeof(suffix) - o) o += (size_t)w;
            }
            int rc = add_item(c, p, nd, base, suffix, &vs);
            if (rc) return rc;
            int i = nk - 1;
            while (i >= 0 && ++idx[i] == len[i])
                idx[i--] = 0;
            if (i < 0) break;
        }
        return 0;
    }
    return add_item(c, p, nd, base, NULL, &vs);
}

/* Parses the whole document into p. */
static int parse_doc(ctx *c, cairn_pipeline *p)
{
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    if (!root) return PERR(CAIRN_EINVALID, "%s:1: empty pipeline file", c->fname);
    if (root->type != YAML_MAPPING_NODE) return err_at(c, root, "the top level wants a mapping");
    static const char *const top[] = {"stages", "params", NULL};
    yaml_node_t *stages = NULL, *params = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = node(c, pr->key);
        const char *k = scalar(kn);
        if (k && !strcmp(k, "stages"))
            stages = node(c, pr->value);
        else if (k && !strcmp(k, "params"))
            params = node(c, pr->value);
        else {
            const char *const *ls[] = {top, NULL};
            const char *sg = k ? suggest(k, ls) : NULL;
            return err_at(c, kn, "unknown top-level key '%s'%s%s%s", k ? k : "?",
                          sg ? " (did you mean '" : "", sg ? sg : "", sg ? "'?)" : "");
        }
    }
    if (params && !scalar(params)) return err_at(c, params, "'params' wants a file name");
    int rc = load_params(c, p->dir, params ? scalar(params) : "params.yaml", params);
    if (rc) return rc;
    if (!stages) return err_at(c, root, "no 'stages'");
    if (stages->type != YAML_MAPPING_NODE) return err_at(c, stages, "'stages' wants a mapping");
    for (yaml_node_pair_t *pr = stages->data.mapping.pairs.start;
         pr < stages->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(c, pr->key);
        const char *k = scalar(kn);
        if (!k || !name_ok(k)) return err_at(c, kn, "stage names use letters, digits, _ - and .");
        rc = expand(c, p, k, node(c, pr->value));
        if (rc) return rc;
    }
    return 0;
}

int cairn_pipeline_load_buf(cairn_pipeline **out, const char *name, const char *text, size_t len,
                            const char *dir, const cairn_pipeline_kv *sets, int nsets)
{
    *out = NULL;
    if (len > MAX_FILE) return PERR(CAIRN_EINVALID, "%s: larger than 4 MiB", name);
    cairn_pipeline *p = cairn_calloc(1, sizeof(*p));
    p->path = cairn_strdup(name);
    p->dir = cairn_strdup(dir && *dir ? dir : ".");
    p->fname = cairn_strdup(name);
    ctx c = {.fname = p->fname, .sets = sets, .nsets = nsets};
    yaml_parser_t ps;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)(text ? text : ""), text ? len : 0);
    int rc;
    if (!yaml_parser_load(&ps, &c.doc)) {
        rc = PERR(CAIRN_EINVALID, "%s:%d: %s", p->fname,
                  (int)(ps.problem_mark.line ? ps.problem_mark.line : ps.context_mark.line) + 1,
                  ps.problem ? ps.problem : "not valid yaml");
        yaml_parser_delete(&ps);
        cairn_pipeline_free(p);
        return rc;
    }
    rc = parse_doc(&c, p);
    if (!rc) rc = cairn_pipeline__build_graph(p);
    yaml_document_delete(&c.doc);
    yaml_parser_delete(&ps);
    cairn_pipeline__kv_free(c.params, c.nparams);
    if (rc) {
        cairn_pipeline_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int cairn_pipeline_load(cairn_pipeline **out, const char *path, const cairn_pipeline_kv *sets,
                        int nsets)
{
    *out = NULL;
    cairn_buf b = CAIRN_BUF_INIT(MAX_FILE);
    int rc = cairn_read_file(path, &b);
    if (rc) return rc == CAIRN_ETOOBIG ? PERR(CAIRN_EINVALID, "%s: larger than 4 MiB", path) : rc;
    const char *sl = strrchr(path, '/');
    char *dir = sl ? cairn_strndup(path, sl > path ? (size_t)(sl - path) : 1) : cairn_strdup(".");
    rc = cairn_pipeline_load_buf(out, path, b.ptr, b.len, dir, sets, nsets);
    cairn_free(dir);
    cairn_buf_free(&b);
    return rc;
}

static void strv_free(char **v, int n)
{
    for (int i = 0; i < n; i++)
        cairn_free(v[i]);
    cairn_free(v);
}

void cairn_pipeline__kv_free(cairn_pipeline_kv *kv, int n)
{
    for (int i = 0; i < n; i++) {
        cairn_free(kv[i].key);
        cairn_free(kv[i].value);
    }
    cairn_free(kv);
}

void cairn_pipeline_free(cairn_pipeline *p)
{
    if (!p) return;
    for (int i = 0; i < p->nstages; i++) {
        cairn_pipeline_stage *s = &p->stages[i];
        cairn_free(s->name);
        cairn_free(s->cmd);
        strv_free(s->argv, s->argc);
        strv_free(s->deps, s->ndeps);
        cairn_free(s->dep_lines);
        strv_free(s->outs, s->nouts);
        strv_free(s->metrics, s->nmetrics);
        cairn_pipeline__kv_free(s->params, s->nparams);
        cairn_free(s->stdout_path);
        cairn_free(s->image);
        cairn_free(s->cpu);
        cairn_free(s->memory);
        cairn_pipeline__kv_free(s->node_selector, s->nnode_selector);
        for (int j = 0; j < s->ntolerations; j++) {
            cairn_free(s->tolerations[j].key);
            cairn_free(s->tolerations[j].op);
            cairn_free(s->tolerations[j].value);
            cairn_free(s->tolerations[j].effect);
        }
        cairn_free(s->tolerations);
        cairn_pipeline__kv_free(s->opts, s->nopts);
        for (int j = 0; j < s->nrules; j++) {
            cairn_free(s->rules[j].name);
            cairn_free(s->rules[j].type);
        }
        cairn_free(s->rules);
        cairn_free(s->upstream);
    }
    cairn_free(p->stages);
    cairn_free(p->order);
    cairn_free(p->path);
    cairn_free(p->dir);
    cairn_free(p->fname);
    cairn_free(p);
}

int cairn_pipeline_nstages(const cairn_pipeline *p)
{
    return p->nstages;
}

const cairn_pipeline_stage *cairn_pipeline_stage_at(const cairn_pipeline *p, int i)
{
    return i >= 0 && i < p->nstages ? &p->stages[i] : NULL;
}

const int *cairn_pipeline_order(const cairn_pipeline *p)
{
    return p->order;
}

const char *cairn_pipeline_dir(const cairn_pipeline *p)
{
    return p->dir;
}

int cairn_pipeline_find(const cairn_pipeline *p, const char *name)
{
    for (int i = 0; i < p->nstages; i++)
        if (!strcmp(p->stages[i].name, name)) return i;
    return -1;
}
