/*
 * train_common.c - the machinery behind `cairn train` and its sibling
 * commands (see train_common.h): options, data sets, fitting, metrics,
 * cross-validation.
 *
 * Key idea: every option of every learner is one row of a table (name,
 * type, where it lives in cli_ml_opts, allowed range), so `--set key=value`,
 * the search space of `--search` and the params logged to the tracking
 * server are all the same strings, parsed and printed by one piece of code.
 * A data set always carries its target already encoded (class index or
 * value) together with the class names, so folds, validation files and
 * loaded models all agree on what class k means. The tracking server side
 * is in train_track.c.
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "cairn/core.h"
#include "cairn/csv.h"
#include "cairn/http.h"
#include "cairn/metrics.h"
#include "cairn/trees.h"
#include "cli_client.h"
#include "train_common.h"

#define ERR(code, ...) cairn_error_set((code), CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define MAX_CLASSES 1000 /* a numeric target with more distinct values is not a class label */

/* ====================================================================== */
/* Options                                                                 */
/* ====================================================================== */

typedef enum { T_INT, T_DBL, T_U64, T_BOOL, T_ENUM } opt_type;

typedef struct opt_def {
    const char *name;
    unsigned kinds; /* bit (1 << kind); 0 = every kind */
    opt_type type;
    size_t off;               /* offset in cli_ml_opts */
    double lo, hi;            /* inclusive range for numbers */
    const char *want;         /* what a bad value is told it should be */
    const char *const *names; /* T_ENUM: value names, index = stored int */
} opt_def;

#define K(k) (1u << (k))
#define KG K(CAIRN_MODEL_TREES)
#define KL K(CAIRN_MODEL_LINEAR)
#define KR K(CAIRN_MODEL_LOGISTIC)
#define KK K(CAIRN_MODEL_KMEANS)
#define OFF(f) offsetof(cli_ml_opts, f)
#define POS DBL_MIN

static const char *const objective_names[] = {"auto", "regression", "binary", "multiclass", NULL};
static const char *const linear_penalties[] = {"ols", "ridge", "lasso", "elasticnet", NULL};
static const char *const logistic_penalties[] = {"l2", "l1", NULL};

static const opt_def opt_table[] = {
    {"seed", 0, T_U64, OFF(seed), 0, 1.8e19, "a non-negative integer", NULL},
    {"test_size", KG | KL | KR, T_DBL, OFF(test_size), POS, 0.95, "a fraction in (0, 0.95]", NULL},
    {"objective", KG | KL | KR, T_ENUM, OFF(objective), 0, 0, NULL, objective_names},
    /* gbdt */
    {"n_rounds", KG, T_INT, OFF(gbdt.n_rounds), 0, 1e6, "an integer in 0..1000000", NULL},
    {"learning_rate", KG, T_DBL, OFF(gbdt.learning_rate), POS, 1e3, "a number > 0", NULL},
    {"max_leaves", KG, T_INT, OFF(gbdt.max_leaves), 2, 1e6, "an integer >= 2", NULL},
    {"max_depth", KG, T_INT, OFF(gbdt.max_depth), 0, 1e3, "an integer >= 0 (0 = unlimited)", NULL},
    {"lambda_l2", KG, T_DBL, OFF(gbdt.lambda_l2), 0, 1e300, "a number >= 0", NULL},
    {"alpha_l1", KG, T_DBL, OFF(gbdt.alpha_l1), 0, 1e300, "a number >= 0", NULL},
    {"min_child_samples", KG, T_INT, OFF(gbdt.min_child_samples), 1, 2e9, "an integer >= 1", NULL},
    {"min_child_weight", KG, T_DBL, OFF(gbdt.min_child_weight), 0, 1e300, "a number >= 0", NULL},
    {"min_split_gain", KG, T_DBL, OFF(gbdt.min_split_gain), 0, 1e300, "a number >= 0", NULL},
    {"subsample", KG, T_DBL, OFF(gbdt.subsample), POS, 1, "a fraction in (0, 1]", NULL},
    {"colsample", KG, T_DBL, OFF(gbdt.colsample), POS, 1, "a fraction in (0, 1]", NULL},
    {"max_bins", KG, T_INT, OFF(gbdt.max_bins), 2, 255, "an integer in 2..255", NULL},
    {"n_threads", KG, T_INT, OFF(gbdt.n_threads), 0, 4096, "an integer >= 0 (0 = all cores)", NULL},
    {"early_stopping_rounds", KG, T_INT, OFF(gbdt.early_stopping_rounds), 0, 1e6,
     "an integer >= 0 (0 = off)", NULL},
    {"cat_smooth", KG, T_DBL, OFF(gbdt.cat_smooth), 0, 1e300, "a number >= 0", NULL},
    /* linear */
    {"penalty", KL, T_ENUM, OFF(linear.penalty), 0, 0, NULL, linear_penalties},
    {"alpha", KL, T_DBL, OFF(linear.alpha), 0, 1e300, "a number >= 0", NULL},
    {"l1_ratio", KL, T_DBL, OFF(linear.l1_ratio), 0, 1, "a fraction in [0, 1]", NULL},
    {"fit_intercept", KL, T_BOOL, OFF(linear.fit_intercept), 0, 0, NULL, NULL},
    {"standardize", KL, T_BOOL, OFF(linear.standardize), 0, 0, NULL, NULL},
    {"max_iter", KL, T_INT, OFF(linear.max_iter), 1, 1e9, "an integer >= 1", NULL},
    {"tol", KL, T_DBL, OFF(linear.tol), POS, 1, "a number in (0, 1]", NULL},
    /* logistic */
    {"penalty", KR, T_ENUM, OFF(logistic.penalty), 0, 0, NULL, logistic_penalties},
    {"C", KR, T_DBL, OFF(logistic.C), POS, 1e300, "a number > 0", NULL},
    {"fit_intercept", KR, T_BOOL, OFF(logistic.fit_intercept), 0, 0, NULL, NULL},
    {"standardize", KR, T_BOOL, OFF(logistic.standardize), 0, 0, NULL, NULL},
    {"max_iter", KR, T_INT, OFF(logistic.max_iter), 1, 1e9, "an integer >= 1", NULL},
    {"tol", KR, T_DBL, OFF(logistic.tol), POS, 1, "a number in (0, 1]", NULL},
    /* kmeans */
    {"k", KK, T_INT, OFF(kmeans.k), 1, 1e6, "an integer >= 1", NULL},
    {"n_init", KK, T_INT, OFF(kmeans.n_init), 1, 1e4, "an integer >= 1", NULL},
    {"max_iter", KK, T_INT, OFF(kmeans.max_iter), 1, 1e9, "an integer >= 1", NULL},
    {"tol", KK, T_DBL, OFF(kmeans.tol), 0, 1, "a number in [0, 1]", NULL},
};

static const char *const kind_names[] = {NULL, "gbdt", "linear", "logistic", "kmeans"};

void cli_ml_opts_init(cli_ml_opts *o, cairn_model_kind kind)
{
    cairn_gbdt_opts g = CAIRN_GBDT_OPTS_INIT;
    cairn_linear_opts l = CAIRN_LINEAR_OPTS_INIT;
    cairn_logistic_opts r = CAIRN_LOGISTIC_OPTS_INIT;
    cairn_kmeans_opts k = CAIRN_KMEANS_OPTS_INIT;
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->seed = 42;
    o->test_size = 0.2;
    o->gbdt = g;
    o->linear = l;
    o->logistic = r;
    o->kmeans = k;
    o->linear.max_iter = 10000;
    o->logistic.max_iter = 1000;
    o->logistic.tol = 1e-6;
}

int cli_ml_kind_parse(const char *s, cairn_model_kind *out)
{
    for (int k = 1; k <= 4; k++)
        if (!strcmp(s, kind_names[k])) {
            *out = (cairn_model_kind)k;
            return 0;
        }
    return ERR(CAIRN_EINVALID, "unknown model '%s' (gbdt, linear, logistic, kmeans)", s);
}

const char *cli_ml_kind_name(cairn_model_kind kind)
{
    return kind >= 1 && kind <= 4 ? kind_names[kind] : "unknown";
}

static const opt_def *find_opt(cairn_model_kind kind, const char *key)
{
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(opt_table); i++) {
        const opt_def *d = &opt_table[i];
        if ((d->kinds == 0 || (d->kinds & K(kind))) && !strcmp(d->name, key)) return d;
    }
    return NULL;
}

/* Lists the keys valid for kind into b, comma separated, ending in ", ..."
 * when they do not all fit. */
static void known_keys(cairn_model_kind kind, char *b, size_t n)
{
    size_t o = 0;
    b[0] = '\0';
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(opt_table); i++) {
        const opt_def *d = &opt_table[i];
        if (d->kinds && !(d->kinds & K(kind))) continue;
        size_t need = strlen(d->name) + 2;
        if (o + need + 6 >= n) {
            snprintf(b + o, n - o, ", ...");
            return;
        }
        o += (size_t)snprintf(b + o, n - o, "%s%s", o ? ", " : "", d->name);
    }
}

int cli_ml_opts_set(cli_ml_opts *o, const char *key, const char *value)
{
    const opt_def *d = find_opt(o->kind, key);
    if (!d) {
        char keys[150];
        known_keys(o->kind, keys, sizeof(keys));
        return ERR(CAIRN_EINVALID, "unknown option '%s' for --model %s (known: %s)", key,
                   cli_ml_kind_name(o->kind), keys);
    }
    char *p = (char *)o + d->off;
    double v;
    int64_t iv;
    switch (d->type) {
    case T_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))
            *(bool *)p = true;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no"))
            *(bool *)p = false;
        else
            return ERR(CAIRN_EINVALID, "%s wants true or false, not '%s'", key, value);
        return 0;
    case T_ENUM:
        for (int i = 0; d->names[i]; i++)
            if (!strcmp(d->names[i], value)) {
                *(int *)p = i;
                return 0;
            }
        return ERR(CAIRN_EINVALID, "%s wants one of %s%s%s%s%s%s%s, not '%s'", key, d->names[0],
                   d->names[1] ? ", " : "", d->names[1] ? d->names[1] : "",
                   d->names[1] && d->names[2] ? ", " : "",
                   d->names[1] && d->names[2] ? d->names[2] : "",
                   d->names[1] && d->names[2] && d->names[3] ? ", " : "",
                   d->names[1] && d->names[2] && d->names[3] ? d->names[3] : "", value);
    case T_INT:
    case T_U64:
        if (cairn_parse_i64(value, &iv) || (double)iv < d->lo || (double)iv > d->hi)
            return ERR(CAIRN_EINVALID, "%s wants %s, not '%s'", key, d->want, value);
        if (d->type == T_INT)
            *(int *)p = (int)iv;
        else
            *(uint64_t *)p = (uint64_t)iv;
        return 0;
    case T_DBL:
        if (cairn_parse_double(value, &v) || !isfinite(v) || v < d->lo || v > d->hi)
            return ERR(CAIRN_EINVALID, "%s wants %s, not '%s'", key, d->want, value);
        *(double *)p = v;
        return 0;
    }
    return ERR(CAIRN_ERROR, "option table is corrupt");
}

int cli_ml_opts_set_kv(cli_ml_opts *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return ERR(CAIRN_EINVALID, "--set wants key=value, not '%s'", kv);
    char key[64];
    if ((size_t)(eq - kv) >= sizeof(key)) return ERR(CAIRN_EINVALID, "option name too long");
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    return cli_ml_opts_set(o, key, eq + 1);
}

/* Formats the value of option d in o into out. */
static void format_opt(const cli_ml_opts *o, const opt_def *d, char *out, size_t n)
{
    const char *p = (const char *)o + d->off;
    switch (d->type) {
    case T_BOOL:
        snprintf(out, n, "%s", *(const bool *)p ? "true" : "false");
        break;
    case T_ENUM:
        snprintf(out, n, "%s", d->names[*(const int *)p]);
        break;
    case T_INT:
        snprintf(out, n, "%d", *(const int *)p);
        break;
    case T_U64:
        snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case T_DBL:
        snprintf(out, n, "%.10g", *(const double *)p);
        break;
    }
}

int cli_ml_opts_list(const cli_ml_opts *o, cli_ml_kv *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(opt_table) && n < max; i++) {
        const opt_def *d = &opt_table[i];
        if (d->kinds && !(d->kinds & K(o->kind))) continue;
        snprintf(out[n].key, sizeof(out[n].key), "%s", d->name);
        format_opt(o, d, out[n].value, sizeof(out[n].value));
        n++;
    }
    return n;
}

const char *cli_ml_budget_key(const cli_ml_opts *o)
{
    return o->kind == CAIRN_MODEL_TREES ? "n_rounds" : "max_iter";
}

int cli_ml_budget(const cli_ml_opts *o)
{
    switch (o->kind) {
    case CAIRN_MODEL_TREES:
        return o->gbdt.n_rounds;
    case CAIRN_MODEL_LINEAR:
        return o->linear.max_iter;
    case CAIRN_MODEL_LOGISTIC:
        return o->logistic.max_iter;
    default:
        return o->kmeans.max_iter;
    }
}

/* ====================================================================== */
/* Data                                                                    */
/* ====================================================================== */

int cli_ml_read_flag(int argc, char **argv, int *i, cli_ml_read_opts *ro)
{
    int64_t n;
    if (!strcmp(argv[*i], "--no-header")) {
        ro->has_header = 0;
        return 1;
    }
    if (strcmp(argv[*i], "--skip-lines") != 0) return 0;
    if (*i + 1 >= argc || cairn_parse_i64(argv[*i + 1], &n) || n < 0 || n > 1000000) {
        cli_usage_error("%s: --skip-lines wants a number >= 0", argv[0]);
        return -1;
    }
    ro->skip_lines = (size_t)n;
    *i += 1;
    return 1;
}

const char *cli_ml_blob_root(cairn_config *cfg)
{
    if (cairn_config_finish(cfg)) return NULL;
    return cfg->store.artifacts;
}

int cli_ml_is_hash_ref(const char *ref)
{
    return strlen(ref) == 64 && strspn(ref, "0123456789abcdef") == 64 && access(ref, F_OK) != 0;
}

/* Reads the CSV from a path, or by content hash from the artifact store, so
 * a run can name exactly the bytes it trained on. */
int cli_ml_read_csv(cairn_frame **out, const char *path, const cli_ml_read_opts *ro)
{
    cairn_csv_opts co = CAIRN_CSV_OPTS_INIT;
    co.has_header = ro ? ro->has_header : 1;
    co.skip_lines = ro ? ro->skip_lines : 0;
    if (!cli_ml_is_hash_ref(path)) return cairn_csv_read_file(out, path, &co);
    cairn_blob *blobs = NULL;
    cairn_buf data = CAIRN_BUF_INIT((size_t)8 << 30);
    const char *root = ro && ro->blobs ? ro->blobs : ".cairn/objects";
    int rc = cairn_blob_open(&blobs, root);
    if (!rc) {
        rc = cairn_blob_get(blobs, path, &data);
        if (rc == CAIRN_ENOTFOUND)
            rc = ERR(CAIRN_ENOTFOUND, "no file '%s', and no stored data with that hash in %s", path,
                     root);
    }
    if (!rc) rc = cairn_csv_read_buffer(out, data.ptr ? data.ptr : "", data.len, path, &co);
    cairn_buf_free(&data);
    cairn_blob_close(blobs);
    return rc;
}

void cli_ml_data_free(cli_ml_data *d)
{
    if (!d) return;
    cairn_frame_free(d->X);
    cairn_free(d->y);
    cairn_free(d->target);
    for (int k = 0; k < d->n_classes; k++)
        cairn_free(d->class_labels[k]);
    cairn_free(d->class_labels);
    memset(d, 0, sizeof(*d));
}

/* Appends a copy of column c to f. */
static int copy_column(cairn_frame *f, const cairn_column *c)
{
    switch (c->type) {
    case CAIRN_COL_F32:
        return cairn_frame_add_f32(f, c->name, c->f32);
    case CAIRN_COL_F64:
        return cairn_frame_add_f64(f, c->name, c->f64);
    default:
        return cairn_frame_add_cat(f, c->name, c->codes, (const char *const *)c->dict, c->ndict);
    }
}

/* Text of a numeric class value ("0", "1", "2.5"). */
static void num_label(double v, char *out, size_t n)
{
    snprintf(out, n, "%.15g", v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct values of a numeric column into *vals (at most cap+1 are
 * collected, so *nv > cap means "too many"). Rows with NaN count in *nmiss. */
static int distinct_numeric(const cairn_column *c, size_t n, double **vals, int *nv, int cap,
                            size_t *nmiss)
{
    double *v = cairn_malloc(sizeof(double) * (n ? n : 1));
    size_t m = 0;
    *nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        double x = c->type == CAIRN_COL_F32 ? (double)c->f32[i] : c->f64[i];
        if (isnan(x))
            (*nmiss)++;
        else
            v[m++] = x;
    }
    qsort(v, m, sizeof(double), cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || v[i] != v[u - 1]) v[u++] = v[i];
    *nv = u > (size_t)cap ? cap + 1 : (int)u;
    *vals = v;
    return 0;
}

/* Looks up `name` among labels (n); -1 if absent. */
static int label_index(char *const *labels, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(labels[k], name)) return k;
    return -1;
}

/* Encodes column c (n rows) for a task into y: regression values, or class
 * indices looked up by name among labels. */
static int encode_column(const cairn_column *c, size_t n, cairn_task task, char *const *labels,
                         int ncls, double *y, const char *what)
{
    int *map = NULL;
    if (c->type == CAIRN_COL_CAT) {
        if (task == CAIRN_TASK_REGRESSION)
            return ERR(CAIRN_EINVALID, "%s column '%s' is categorical; the model predicts numbers",
                       what, c->name);
        map = cairn_malloc(sizeof(int) * (size_t)(c->ndict ? c->ndict : 1));
        for (int32_t j = 0; j < c->ndict; j++)
            map[j] = label_index(labels, ncls, c->dict[j]);
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (c->type == CAIRN_COL_CAT) {
            int32_t code = c->codes[i];
            if (code < 0)
                rc = ERR(CAIRN_EINVALID, "%s column '%s' is missing in row %zu", what, c->name,
                         i + 1);
            else if (map[code] < 0)
                rc = ERR(CAIRN_EINVALID,
                         "%s column '%s': class '%s' (row %zu) is not one the model knows", what,
                         c->name, c->dict[code], i + 1);
            else
                y[i] = map[code];
            continue;
        }
        double x = c->type == CAIRN_COL_F32 ? (double)c->f32[i] : c->f64[i];
        if (isnan(x)) {
            rc = ERR(CAIRN_EINVALID, "%s column '%s' is missing in row %zu", what, c->name, i + 1);
        } else if (task == CAIRN_TASK_REGRESSION) {
            y[i] = x;
        } else {
            char lab[64];
            num_label(x, lab, sizeof(lab));
            int k = label_index(labels, ncls, lab);
            if (k < 0)
                rc = ERR(CAIRN_EINVALID,
                         "%s column '%s': class %s (row %zu) is not one the model knows", what,
                         c->name, lab, i + 1);
            y[i] = k;
        }
    }
    cairn_free(map);
    return rc;
}

/* Decides the task of target column c for options o and sets d->task,
 * n_classes and class_labels (see cli_ml_data_load). */
static int choose_task(cli_ml_data *d, const cairn_column *c, const cli_ml_opts *o)
{
    size_t n = d->nrows, nmiss = 0;
    int is_cat = c->type == CAIRN_COL_CAT, nv = 0;
    double *vals = NULL;
    char **names = NULL;
    if (is_cat) {
        for (size_t i = 0; i < n; i++)
            nmiss += c->codes[i] < 0;
        nv = c->ndict;
        names = cairn_calloc((size_t)(nv ? nv : 1), sizeof(char *));
        for (int j = 0; j < nv; j++)
            names[j] = cairn_strdup(c->dict[j]);
        qsort(names, (size_t)nv, sizeof(char *), cmp_str);
    } else {
        distinct_numeric(c, n, &vals, &nv, MAX_CLASSES, &nmiss);
    }
    int rc = 0;
    cairn_task task;
    if (nmiss) {
        rc = ERR(CAIRN_EINVALID, "target column '%s' has %zu missing values", c->name, nmiss);
        goto cleanup;
    }
    if (o->kind == CAIRN_MODEL_LOGISTIC) {
        task = nv == 2 ? CAIRN_TASK_BINARY : CAIRN_TASK_MULTICLASS;
        if (o->objective == CAIRN_TASK_REGRESSION) {
            rc = ERR(CAIRN_EINVALID, "logistic regression does not do objective=regression");
            goto cleanup;
        }
    } else if (o->objective) {
        task = (cairn_task)o->objective;
    } else if (is_cat) {
        task = nv == 2 ? CAIRN_TASK_BINARY : CAIRN_TASK_MULTICLASS;
    } else {
        task = nv == 2 && vals[0] == 0 && vals[1] == 1 ? CAIRN_TASK_BINARY : CAIRN_TASK_REGRESSION;
    }
    if (o->kind == CAIRN_MODEL_LINEAR && task != CAIRN_TASK_REGRESSION) {
        rc = ERR(CAIRN_EINVALID,
                 is_cat ? "target column '%s' is categorical; --model linear predicts numbers (try "
                          "--model logistic or gbdt)"
                        : "--model linear does regression only (target '%s'); try --model logistic",
                 c->name);
        goto cleanup;
    }
    if (task == CAIRN_TASK_REGRESSION && is_cat) {
        rc = ERR(CAIRN_EINVALID,
                 "target column '%s' is categorical; objective=regression needs numbers", c->name);
        goto cleanup;
    }
    if (task != CAIRN_TASK_REGRESSION) {
        if (nv < 2) {
            rc = ERR(CAIRN_EINVALID, "target column '%s' has a single class", c->name);
            goto cleanup;
        }
        if (nv > MAX_CLASSES || (!is_cat && nv > 100 && o->kind == CAIRN_MODEL_LOGISTIC)) {
            rc = ERR(CAIRN_EINVALID,
                     "target column '%s' has %s%d distinct values; too many classes", c->name,
                     nv > MAX_CLASSES ? "more than " : "", nv > MAX_CLASSES ? MAX_CLASSES : nv);
            goto cleanup;
        }
        if (task == CAIRN_TASK_BINARY && nv != 2) {
            rc = ERR(CAIRN_EINVALID, "objective=binary needs 2 classes; target '%s' has %d",
                     c->name, nv);
            goto cleanup;
        }
        d->n_classes = nv;
        if (is_cat) {
            d->class_labels = names;
            names = NULL;
        } else {
            d->class_labels = cairn_calloc((size_t)nv, sizeof(char *));
            for (int k = 0; k < nv; k++) {
                char lab[64];
                num_label(vals[k], lab, sizeof(lab));
                d->class_labels[k] = cairn_strdup(lab);
            }
        }
    }
    d->task = task;
cleanup:
    if (names)
        for (int j = 0; j < nv; j++)
            cairn_free(names[j]);
    cairn_free(names);
    cairn_free(vals);
    return rc;
}

int cli_ml_data_load(cli_ml_data *d, const char *path, const cli_ml_read_opts *ro,
                     const char *target, const cli_ml_opts *o)
{
    memset(d, 0, sizeof(*d));
    cairn_frame *f = NULL;
    int rc = cli_ml_read_csv(&f, path, ro);
    if (rc) return rc;
    int tcol = -1;
    if (target && (tcol = cairn_frame_find(f, target)) < 0) {
        char cols[300];
        size_t w = 0;
        cols[0] = '\0';
        for (int j = 0; j < f->ncols && w + 40 < sizeof(cols); j++)
            w += (size_t)snprintf(cols + w, sizeof(cols) - w, "%s%s", j ? ", " : "",
                                  f->cols[j].name);
        rc = ERR(CAIRN_ENOTFOUND, "no column '%s' in %s (columns: %s%s)", target, path, cols,
                 w + 40 >= sizeof(cols) ? ", ..." : "");
        goto fail;
    }
    for (int j = 0; ro && j < ro->ndrop; j++)
        if (cairn_frame_find(f, ro->drop[j]) < 0) {
            rc = ERR(CAIRN_ENOTFOUND, "--drop: no column '%s' in %s", ro->drop[j], path);
            goto fail;
        }
    d->nrows = f->nrows;
    if ((rc = cairn_frame_new(&d->X, f->nrows))) goto fail;
    for (int j = 0; j < f->ncols; j++) {
        int skip = j == tcol;
        for (int k = 0; ro && k < ro->ndrop; k++)
            skip |= !strcmp(ro->drop[k], f->cols[j].name);
        if (!skip && (rc = copy_column(d->X, &f->cols[j]))) goto fail;
    }
    if (d->X->ncols == 0) {
        rc = ERR(CAIRN_EINVALID, "%s has no feature columns", path);
        goto fail;
    }
    if (f->nrows < 2) {
        rc = ERR(CAIRN_EINVALID, "%s has %zu data rows; training needs more", path, f->nrows);
        goto fail;
    }
    if (o->kind == CAIRN_MODEL_KMEANS) d->task = CAIRN_TASK_CLUSTERING;
    if (tcol >= 0) {
        d->target = cairn_strdup(target);
        if (o->kind != CAIRN_MODEL_KMEANS) {
            if ((rc = choose_task(d, &f->cols[tcol], o))) goto fail;
            d->y = cairn_malloc(sizeof(double) * f->nrows);
            rc = encode_column(&f->cols[tcol], f->nrows, d->task, d->class_labels, d->n_classes,
                               d->y, "target");
            if (rc) goto fail;
        }
    } else if (o->kind != CAIRN_MODEL_KMEANS) {
        rc = ERR(CAIRN_EINVALID, "--model %s needs --target", cli_ml_kind_name(o->kind));
        goto fail;
    }
    cairn_frame_free(f);
    return 0;
fail:
    cairn_frame_free(f);
    cli_ml_data_free(d);
    return rc;
}

typedef struct name_idx {
    const char *name;
    int32_t idx;
} name_idx;

static int cmp_name_idx(const void *a, const void *b)
{
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

/* Appends column c of another file to X, conformed to the training column
 * like: numbers stay numbers, categories are remapped onto like's
 * dictionary by name (unseen: -1). */
static int conform_column(cairn_frame *X, const cairn_column *like, const cairn_column *c, size_t n,
                          const char *path)
{
    if (like->type != CAIRN_COL_CAT) {
        if (c->type == CAIRN_COL_CAT)
            return ERR(CAIRN_EINVALID, "%s: column '%s' holds text; the training data has numbers",
                       path, c->name);
        return copy_column(X, c);
    }
    name_idx *sorted = cairn_malloc(sizeof(name_idx) * (size_t)(like->ndict ? like->ndict : 1));
    for (int32_t j = 0; j < like->ndict; j++)
        sorted[j] = (name_idx){like->dict[j], j};
    qsort(sorted, (size_t)like->ndict, sizeof(name_idx), cmp_name_idx);
    int32_t *codes = cairn_malloc(sizeof(int32_t) * (n ? n : 1));
    int32_t *map = NULL;
    if (c->type == CAIRN_COL_CAT) {
        map = cairn_malloc(sizeof(int32_t) * (size_t)(c->ndict ? c->ndict : 1));
        for (int32_t j = 0; j < c->ndict; j++) {
            name_idx key = {c->dict[j], 0};
            name_idx *hit =
                bsearch(&key, sorted, (size_t)like->ndict, sizeof(name_idx), cmp_name_idx);
            map[j] = hit ? hit->idx : -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (c->type == CAIRN_COL_CAT) {
            codes[i] = c->codes[i] < 0 ? -1 : map[c->codes[i]];
            continue;
        }
        double x = c->type == CAIRN_COL_F32 ? (double)c->f32[i] : c->f64[i];
        char lab[64];
        num_label(x, lab, sizeof(lab));
        name_idx key = {lab, 0};
        name_idx *hit =
            isnan(x) ? NULL
                     : bsearch(&key, sorted, (size_t)like->ndict, sizeof(name_idx), cmp_name_idx);
        codes[i] = hit ? hit->idx : -1;
    }
    int rc =
        cairn_frame_add_cat(X, like->name, codes, (const char *const *)like->dict, like->ndict);
    cairn_free(map);
    cairn_free(codes);
    cairn_free(sorted);
    return rc;
}

int cli_ml_data_load_like(cli_ml_data *d, const char *path, const cli_ml_read_opts *ro,
                          const cli_ml_data *like)
{
    memset(d, 0, sizeof(*d));
    cairn_frame *f = NULL;
    int rc = cli_ml_read_csv(&f, path, ro);
    if (rc) return rc;
    d->nrows = f->nrows;
    d->task = like->task;
    if (f->nrows == 0) {
        rc = ERR(CAIRN_EINVALID, "%s has no data rows", path);
        goto fail;
    }
    if ((rc = cairn_frame_new(&d->X, f->nrows))) goto fail;
    for (int j = 0; j < like->X->ncols; j++) {
        const cairn_column *lc = &like->X->cols[j];
        int c = cairn_frame_find(f, lc->name);
        if (c < 0) {
            rc = ERR(CAIRN_EINVALID, "%s has no column '%s' (a feature of the training data)", path,
                     lc->name);
            goto fail;
        }
        if ((rc = conform_column(d->X, lc, &f->cols[c], f->nrows, path))) goto fail;
    }
    if (like->target) {
        d->target = cairn_strdup(like->target);
        int c = cairn_frame_find(f, like->target);
        if (c < 0) {
            rc = ERR(CAIRN_ENOTFOUND, "no column '%s' in %s", like->target, path);
            goto fail;
        }
        if (like->y) {
            d->n_classes = like->n_classes;
            d->class_labels = cairn_calloc((size_t)(like->n_classes + 1), sizeof(char *));
            for (int k = 0; k < like->n_classes; k++)
                d->class_labels[k] = cairn_strdup(like->class_labels[k]);
            d->y = cairn_malloc(sizeof(double) * f->nrows);
            rc = encode_column(&f->cols[c], f->nrows, d->task, d->class_labels, d->n_classes, d->y,
                               "target");
            if (rc) goto fail;
        }
    }
    cairn_frame_free(f);
    return 0;
fail:
    cairn_frame_free(f);
    cli_ml_data_free(d);
    return rc;
}

int cli_ml_data_take(cli_ml_data *out, const cli_ml_data *d, const size_t *idx, size_t n)
{
    memset(out, 0, sizeof(*out));
    int rc = cairn_frame_take(&out->X, d->X, idx, n);
    if (rc) return rc;
    out->nrows = n;
    out->task = d->task;
    if (d->y) {
        out->y = cairn_malloc(sizeof(double) * (n ? n : 1));
        for (size_t i = 0; i < n; i++)
            out->y[i] = d->y[idx[i]];
    }
    if (d->target) out->target = cairn_strdup(d->target);
    out->n_classes = d->n_classes;
    if (d->n_classes) {
        out->class_labels = cairn_calloc((size_t)d->n_classes, sizeof(char *));
        for (int k = 0; k < d->n_classes; k++)
            out->class_labels[k] = cairn_strdup(d->class_labels[k]);
    }
    return 0;
}

int cli_ml_encode_target(const cairn_frame *f, int col, const cairn_model *m, double *y)
{
    cairn_task task = cairn_model_task(m);
    int ncls = task == CAIRN_TASK_BINARY       ? 2
               : task == CAIRN_TASK_MULTICLASS ? cairn_model_n_outputs(m)
                                               : 0;
    char **labels = cairn_calloc((size_t)(ncls + 1), sizeof(char *));
    for (int k = 0; k < ncls; k++) {
        const char *l = cairn_model_class_label(m, k);
        char buf[32];
        snprintf(buf, sizeof(buf), "%d", k);
        labels[k] = cairn_strdup(l ? l : buf);
    }
    int rc = encode_column(&f->cols[col], f->nrows, task, labels, ncls, y, "target");
    for (int k = 0; k < ncls; k++)
        cairn_free(labels[k]);
    cairn_free(labels);
    return rc;
}

/* ====================================================================== */
/* Fitting                                                                 */
/* ====================================================================== */

void cli_ml_fit_free(cli_ml_fit *r)
{
    if (!r) return;
    cairn_model_free(r->model);
    cairn_free(r->gain);
    cairn_free(r->splits);
    cairn_free(r->train_metric);
    cairn_free(r->valid_metric);
    memset(r, 0, sizeof(*r));
}

typedef struct round_state {
    cli_ml_fit *r;
    int cap, total, progress;
    int64_t last_draw_ns;
} round_state;

/* GBDT's per-round callback: records both metrics and redraws the
 * progress line at most every 100 ms (and on the last round). */
static int on_round(int round, double train_metric, double valid_metric, void *payload)
{
    round_state *s = payload;
    cli_ml_fit *r = s->r;
    if (round >= s->cap) {
        s->cap = s->cap ? s->cap * 2 : 128;
        r->train_metric = cairn_realloc(r->train_metric, sizeof(double) * (size_t)s->cap);
        r->valid_metric = cairn_realloc(r->valid_metric, sizeof(double) * (size_t)s->cap);
    }
    r->train_metric[round] = train_metric;
    r->valid_metric[round] = valid_metric;
    r->n_rounds = round + 1;
    if (s->progress) {
        int64_t now = cairn_monotonic_ns();
        if (now - s->last_draw_ns > 100000000 || round + 1 == s->total) {
            s->last_draw_ns = now;
            int width = 30,
                fill = s->total ? (int)((int64_t)(round + 1) * width / s->total) : width;
            char bar[64];
            for (int i = 0; i < width; i++)
                bar[i] = i < fill ? '#' : '.';
            bar[width] = '\0';
            fprintf(stderr, "\r[%s] round %d/%d  train %s %.5f", bar, round + 1, s->total,
                    r->round_metric, train_metric);
            if (!isnan(valid_metric))
                fprintf(stderr, "  valid %s %.5f", r->round_metric, valid_metric);
            fflush(stderr);
        }
    }
    return 0;
}

/* CAIRN_EINVALID when X has a categorical column (linear learners). */
static int numeric_only(const cairn_frame *X, cairn_model_kind kind)
{
    for (int j = 0; j < X->ncols; j++)
        if (X->cols[j].type == CAIRN_COL_CAT)
            return ERR(CAIRN_EINVALID,
                       "column '%s' holds text; --model %s takes numeric features only (use "
                       "--model gbdt, or --drop %s)",
                       X->cols[j].name, cli_ml_kind_name(kind), X->cols[j].name);
    return 0;
}

static int fit_gbdt(const cli_ml_opts *o, const cli_ml_data *t, const cli_ml_data *v, int progress,
                    cli_ml_fit *r, cairn_model_schema *schema)
{
    cairn_gbdt_opts g = o->gbdt;
    g.seed = o->seed;
    g.objective = t->task == CAIRN_TASK_REGRESSION ? CAIRN_GBDT_REGRESSION
                  : t->task == CAIRN_TASK_BINARY   ? CAIRN_GBDT_BINARY
                                                   : CAIRN_GBDT_MULTICLASS;
    g.num_class = t->task == CAIRN_TASK_MULTICLASS ? t->n_classes : 0;
    if (g.early_stopping_rounds > 0 && !v)
        return ERR(CAIRN_EINVALID, "early_stopping_rounds needs a validation set");
    round_state s = {r, 0, g.n_rounds, progress, 0};
    r->round_metric = cairn_gbdt_metric_name(g.objective);
    g.on_round = on_round;
    g.payload = &s;
    cairn_trees *trees = NULL;
    cairn_gbdt_info info;
    int rc = cairn_gbdt_train(&trees, t->X, t->y, v ? v->X : NULL, v ? v->y : NULL, &g, &info);
    if (progress && r->n_rounds) fputc('\n', stderr);
    if (rc) return rc;
    r->n_rounds = info.rounds_run;
    r->best_round = info.best_round;
    int nf = cairn_trees_n_features(trees);
    r->gain = cairn_calloc((size_t)(nf ? nf : 1), sizeof(double));
    r->splits = cairn_calloc((size_t)(nf ? nf : 1), sizeof(double));
    cairn_trees_importance(trees, CAIRN_TREES_IMPORTANCE_GAIN, r->gain);
    cairn_trees_importance(trees, CAIRN_TREES_IMPORTANCE_SPLIT, r->splits);
    return cairn_model_from_trees(&r->model, trees, schema);
}

int cli_ml_train(const cli_ml_opts *o, const cli_ml_data *t, const cli_ml_data *v, int progress,
                 cli_ml_fit *r)
{
    memset(r, 0, sizeof(*r));
    cairn_model_schema schema = {t->X, t->target, t->task, t->n_classes,
                                 (const char *const *)t->class_labels};
    int rc;
    if (o->kind == CAIRN_MODEL_TREES) {
        rc = fit_gbdt(o, t, v, progress, r, &schema);
    } else if ((rc = numeric_only(t->X, o->kind))) {
        /* message set */
    } else if (o->kind == CAIRN_MODEL_LINEAR) {
        cairn_linear *m = NULL;
        rc = cairn_linear_fit(&m, t->X, t->y, &o->linear);
        if (!rc) rc = cairn_model_from_linear(&r->model, m, &schema);
    } else if (o->kind == CAIRN_MODEL_LOGISTIC) {
        int32_t *lab = cairn_malloc(sizeof(int32_t) * (t->nrows ? t->nrows : 1));
        for (size_t i = 0; i < t->nrows; i++)
            lab[i] = (int32_t)t->y[i];
        cairn_logistic *m = NULL;
        rc = cairn_logistic_fit(&m, t->X, lab, &o->logistic);
        cairn_free(lab);
        if (!rc && cairn_logistic_nclasses(m) != t->n_classes) {
            int seen = cairn_logistic_nclasses(m);
            cairn_logistic_free(m);
            rc = ERR(CAIRN_EINVALID, "the training rows hold %d of the %d classes", seen,
                     t->n_classes);
        }
        if (!rc) rc = cairn_model_from_logistic(&r->model, m, &schema);
    } else {
        cairn_kmeans_opts k = o->kmeans;
        k.seed = o->seed;
        cairn_kmeans *m = NULL;
        rc = cairn_kmeans_fit(&m, t->X, &k);
        if (!rc) {
            r->inertia = cairn_kmeans_inertia(m);
            rc = cairn_model_from_kmeans(&r->model, m, &schema);
        }
    }
    if (rc) {
        cairn_error saved = *cairn_error_last();
        r->model = NULL; /* constructors leave it NULL on failure */
        cli_ml_fit_free(r);
        return cairn_error_set(saved.code, saved.subsys, "%s", saved.msg);
    }
    return 0;
}

/* ====================================================================== */
/* Metrics                                                                 */
/* ====================================================================== */

int cli_ml_higher_better(const char *m)
{
    static const char *const up[] = {"auc", "pr_auc", "accuracy", "f1_macro", "r2", "silhouette"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(up); i++)
        if (!strcmp(m, up[i])) return 1;
    return 0;
}

void cli_ml_labels(cairn_task task, int n_outputs, const double *pred, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        if (task == CAIRN_TASK_BINARY) {
            out[i] = pred[i] >= 0.5 ? 1.0 : 0.0;
        } else if (task == CAIRN_TASK_MULTICLASS) {
            const double *p = pred + i * (size_t)n_outputs;
            int best = 0;
            for (int k = 1; k < n_outputs; k++)
                if (p[k] > p[best]) best = k;
            out[i] = best;
        } else {
            out[i] = pred[i];
        }
    }
}

/* Macro mean over classes of a binary ranking metric, one-vs-rest. Classes
 * on which it is undefined (absent from y) are skipped; CAIRN_EINVALID when
 * none is defined. */
static int macro_ovr(int (*fn)(const double *, const double *, size_t, double *), const double *y,
                     const double *proba, size_t n, int k, double *out)
{
    double *yb = cairn_malloc(sizeof(double) * n), *s = cairn_malloc(sizeof(double) * n);
    double sum = 0;
    int used = 0;
    for (int c = 0; c < k; c++) {
        for (size_t i = 0; i < n; i++) {
            yb[i] = y[i] == c;
            s[i] = proba[i * (size_t)k + (size_t)c];
        }
        double v;
        if (fn(yb, s, n, &v) == 0) {
            sum += v;
            used++;
        }
    }
    cairn_free(yb);
    cairn_free(s);
    if (!used) return ERR(CAIRN_EINVALID, "no class has both positives and negatives");
    *out = sum / used;
    return 0;
}

/* Adds a metric when rc says it is defined; returns the new count. */
static int add_metric(cli_ml_metric *out, int n, const char *name, int rc, double v)
{
    if (rc == 0 && !isnan(v)) out[n++] = (cli_ml_metric){name, v};
    return n;
}

int cli_ml_score(cairn_task task, int n_classes, const cairn_frame *X, const double *y,
                 const double *pred, size_t n, uint64_t seed, cli_ml_metric *out)
{
    int m = 0, rc;
    double v = NAN;
    if (n == 0) return ERR(CAIRN_EINVALID, "no rows to score");
    if (task == CAIRN_TASK_REGRESSION) {
        rc = cairn_metrics_rmse(y, pred, n, &v);
        m = add_metric(out, m, "rmse", rc, v);
        rc = cairn_metrics_mae(y, pred, n, &v);
        m = add_metric(out, m, "mae", rc, v);
        rc = cairn_metrics_r2(y, pred, n, &v);
        m = add_metric(out, m, "r2", rc, v);
        rc = cairn_metrics_mape(y, pred, n, &v);
        m = add_metric(out, m, "mape", rc, v);
    } else if (task == CAIRN_TASK_CLUSTERING) {
        int32_t *lab = cairn_malloc(sizeof(int32_t) * n);
        for (size_t i = 0; i < n; i++)
            lab[i] = (int32_t)pred[i];
        rc = cairn_kmeans_silhouette(X, lab, n > 2000 ? 2000 : 0, seed, &v);
        cairn_free(lab);
        m = add_metric(out, m, "silhouette", rc, v);
    } else {
        int k = task == CAIRN_TASK_BINARY ? 2 : n_classes;
        double *lab = cairn_malloc(sizeof(double) * n);
        cli_ml_labels(task, k, pred, n, lab);
        if (task == CAIRN_TASK_BINARY) {
            rc = cairn_metrics_roc_auc(y, pred, n, &v);
            m = add_metric(out, m, "auc", rc, v);
            rc = cairn_metrics_average_precision(y, pred, n, &v);
            m = add_metric(out, m, "pr_auc", rc, v);
            rc = cairn_metrics_log_loss(y, pred, n, &v);
            m = add_metric(out, m, "logloss", rc, v);
        } else {
            rc = macro_ovr(cairn_metrics_roc_auc, y, pred, n, k, &v);
            m = add_metric(out, m, "auc", rc, v);
            rc = macro_ovr(cairn_metrics_average_precision, y, pred, n, k, &v);
            m = add_metric(out, m, "pr_auc", rc, v);
            rc = cairn_metrics_log_loss_multi(y, pred, n, k, &v);
            m = add_metric(out, m, "logloss", rc, v);
        }
        rc = cairn_metrics_accuracy(y, lab, n, &v);
        m = add_metric(out, m, "accuracy", rc, v);
        cairn_metrics_prf prf;
        rc = cairn_metrics_prf_score(y, lab, n, k, CAIRN_METRICS_MACRO, &prf);
        m = add_metric(out, m, "f1_macro", rc, rc ? NAN : prf.f1);
        cairn_free(lab);
    }
    cairn_error_clear();
    return m;
}

/* ====================================================================== */
/* Cross-validation                                                        */
/* ====================================================================== */

double cli_ml_cv_get(const cli_ml_cv *cv, const char *metric, double *std_out)
{
    for (int i = 0; i < cv->n; i++)
        if (!strcmp(cv->name[i], metric)) {
            if (std_out) *std_out = cv->std[i];
            return cv->mean[i];
        }
    if (std_out) *std_out = NAN;
    return NAN;
}

int cli_ml_cross_validate(const cli_ml_opts *o, const cli_ml_data *d, int k, cli_ml_cv *out)
{
    memset(out, 0, sizeof(*out));
    if (k < 2 || (size_t)k > d->nrows)
        return ERR(CAIRN_EINVALID, "--cv wants 2..%zu folds, not %d", d->nrows, k);
    int *fold = cairn_malloc(sizeof(int) * d->nrows);
    cairn_ml_rng rng;
    cairn_ml_rng_seed(&rng, o->seed);
    int strat = d->task == CAIRN_TASK_BINARY || d->task == CAIRN_TASK_MULTICLASS;
    int rc = cairn_split_kfold(d->nrows, k, strat ? d->y : NULL, &rng, fold);
    double sum[CLI_ML_MAX_METRICS] = {0}, sq[CLI_ML_MAX_METRICS] = {0};
    int cnt[CLI_ML_MAX_METRICS] = {0};
    for (int f = 0; f < k && !rc; f++) {
        size_t *tr = NULL, *te = NULL, ntr = 0, nte = 0;
        cli_ml_data a, b;
        cli_ml_fit r;
        if ((rc = cairn_split_fold_indices(fold, d->nrows, f, &tr, &ntr, &te, &nte))) break;
        rc = cli_ml_data_take(&a, d, tr, ntr);
        if (!rc && (rc = cli_ml_data_take(&b, d, te, nte))) cli_ml_data_free(&a);
        cairn_free(tr);
        cairn_free(te);
        if (rc) break;
        rc = cli_ml_train(o, &a, o->kind == CAIRN_MODEL_TREES ? &b : NULL, 0, &r);
        if (!rc) {
            int no = cairn_model_n_outputs(r.model);
            double *pred = cairn_malloc(sizeof(double) * nte * (size_t)no);
            rc = cairn_model_predict(r.model, b.X, pred, 0);
            cli_ml_metric ms[CLI_ML_MAX_METRICS];
            int nm = rc ? 0 : cli_ml_score(d->task, d->n_classes, b.X, b.y, pred, nte, o->seed, ms);
            for (int i = 0; i < nm; i++) {
                int j;
                for (j = 0; j < out->n && strcmp(out->name[j], ms[i].name); j++) {
                }
                if (j == out->n) out->name[out->n++] = ms[i].name;
                sum[j] += ms[i].value;
                sq[j] += ms[i].value * ms[i].value;
                cnt[j]++;
            }
            cairn_free(pred);
            cli_ml_fit_free(&r);
        }
        cli_ml_data_free(&a);
        cli_ml_data_free(&b);
    }
    for (int j = 0; j < out->n; j++) {
        out->mean[j] = sum[j] / cnt[j];
        double var = sq[j] / cnt[j] - out->mean[j] * out->mean[j];
        out->std[j] = var > 0 ? sqrt(var) : 0;
    }
    cairn_free(fold);
    return rc;
}

/* ====================================================================== */
/* Helpers                                                                 */
/* ====================================================================== */

int cli_ml_file_sha256(const char *path, char hex[65])
{
    if (cli_ml_is_hash_ref(path)) { /* stored by content: the name is the hash */
        memcpy(hex, path, 65);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return ERR(CAIRN_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
    cairn_sha256 *h = NULL;
    int rc = cairn_sha256_new(&h);
    char *buf = cairn_malloc(1u << 20);
    size_t n;
    while (!rc && (n = fread(buf, 1, 1u << 20, f)) > 0)
        rc = cairn_sha256_update(h, buf, n);
    if (!rc && ferror(f)) rc = ERR(CAIRN_EIO, "cannot read %s", path);
    if (!rc) rc = cairn_sha256_final_hex(h, hex);
    cairn_sha256_free(h);
    cairn_free(buf);
    fclose(f);
    return rc;
}

/* snprintf that reports truncation: 0, or -1 when out was too small. */
static int fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int w = vsnprintf(out, n, f, ap);
    va_end(ap);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* Reads the first line of a small file into out (without the line end). */
static int read_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *ok = fgets(out, (int)n, f);
    fclose(f);
    if (!ok) return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int is_hex40(const char *s)
{
    return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

#define PATHLEN 4096

/* Resolves HEAD in a git directory: a detached id, or a ref read from its
 * loose file or packed-refs under common (a worktree's main git dir, or
 * gitdir itself). 0, or -1 when it cannot be resolved. */
static int resolve_head(const char *gitdir, const char *common, char out[41])
{
    char path[PATHLEN], line[512], val[512];
    if (fmt(path, sizeof(path), "%s/HEAD", gitdir) || read_line(path, line, sizeof(line)))
        return -1;
    if (is_hex40(line)) {
        memcpy(out, line, 41);
        return 0;
    }
    if (strncmp(line, "ref: ", 5) != 0) return -1;
    const char *ref = line + 5;
    if (!fmt(path, sizeof(path), "%s/%s", common, ref) && !read_line(path, val, sizeof(val)) &&
        is_hex40(val)) {
        memcpy(out, val, 41);
        return 0;
    }
    if (fmt(path, sizeof(path), "%s/packed-refs", common)) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int rc = -1;
    while (rc && fgets(val, sizeof(val), f)) {
        val[strcspn(val, "\r\n")] = '\0';
        if (strlen(val) > 41 && val[40] == ' ' && !strcmp(val + 41, ref)) {
            val[40] = '\0';
            if (is_hex40(val)) {
                memcpy(out, val, 41);
                rc = 0;
            }
        }
    }
    fclose(f);
    return rc;
}

/* Cuts the last component off an absolute path ("/a/b" -> "/a", "/a" -> "/"). */
static void parent_dir(char *dir)
{
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
}

/* Finds the git directory for a working directory holding .git (a
 * directory, or a file "gitdir: X" as in worktrees and submodules) and the
 * common directory holding its refs. */
static int git_dirs(const char *dir, const char *dotgit, int is_dir, char *gitdir, char *common)
{
    char line[PATHLEN];
    if (is_dir) {
        if (fmt(gitdir, PATHLEN, "%s", dotgit)) return -1;
    } else if (!read_line(dotgit, line, sizeof(line)) && !strncmp(line, "gitdir: ", 8)) {
        if (line[8] == '/' ? fmt(gitdir, PATHLEN, "%s", line + 8)
                           : fmt(gitdir, PATHLEN, "%s/%s", dir, line + 8))
            return -1;
    } else {
        return -1;
    }
    char path[PATHLEN];
    if (!fmt(path, sizeof(path), "%s/commondir", gitdir) && !read_line(path, line, sizeof(line)))
        return line[0] == '/' ? fmt(common, PATHLEN, "%s", line)
                              : fmt(common, PATHLEN, "%s/%s", gitdir, line);
    return fmt(common, PATHLEN, "%s", gitdir);
}

int cli_ml_git_commit(const char *start, char out[41])
{
    char dir[PATH_MAX > PATHLEN ? PATH_MAX : PATHLEN];
    struct stat st;
    if (!realpath(start, dir)) return ERR(CAIRN_ENOTFOUND, "no such path %s", start);
    if (!stat(dir, &st) && !S_ISDIR(st.st_mode)) parent_dir(dir);
    for (;;) {
        char dotgit[PATHLEN], gitdir[PATHLEN], common[PATHLEN];
        if (fmt(dotgit, sizeof(dotgit), "%s/.git", strcmp(dir, "/") ? dir : ""))
            return ERR(CAIRN_ETOOBIG, "path too long");
        if (!stat(dotgit, &st)) {
            if (git_dirs(dir, dotgit, S_ISDIR(st.st_mode), gitdir, common) ||
                resolve_head(gitdir, common, out))
                return ERR(CAIRN_ENOTFOUND, "cannot resolve HEAD of the repository at %s", dir);
            return 0;
        }
        if (!strcmp(dir, "/")) break;
        parent_dir(dir);
    }
    return ERR(CAIRN_ENOTFOUND, "%s is not inside a git repository", start);
}

int cli_ml_write_file(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return ERR(CAIRN_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return ERR(CAIRN_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}
