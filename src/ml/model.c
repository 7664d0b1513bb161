/*
 * model.c - the model handle: construction from the learners, the schema,
 * accessors and prediction on frames and single rows.
 *
 * Key idea: the model keeps its own copy of the schema and, for linear,
 * logistic and k-means models, the raw parameter arrays; prediction for
 * those kinds is one row kernel (row_kernel) used by both the batch and the
 * per-row path, so the two agree bit for bit, and the arithmetic follows
 * the learners' own predict functions operation for operation. Trees
 * predict through the cairn_trees runtime on a borrowed "view" frame whose
 * categorical codes have been remapped, by category name, from the input
 * frame's dictionary to the training dictionary (one lookup per dictionary
 * entry, not per row; unseen categories become missing).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cairn/linear.h"
#include "model_internal.h"

#define PARALLEL_MIN_ROWS 2048
#define SMALL_BATCH_ROWS 8 /* below this, trees predict row by row */
#define ROW_STACK_FEATURES 256

/* ====================================================================== */
/* Schema                                                                  */
/* ====================================================================== */

const char *cairn_model__kind_name(cairn_model_kind kind)
{
    switch (kind) {
    case CAIRN_MODEL_TREES:
        return "gbdt";
    case CAIRN_MODEL_LINEAR:
        return "linear";
    case CAIRN_MODEL_LOGISTIC:
        return "logistic";
    case CAIRN_MODEL_KMEANS:
        return "kmeans";
    }
    return "unknown";
}

const char *cairn_model__task_name(cairn_task task)
{
    switch (task) {
    case CAIRN_TASK_REGRESSION:
        return "regression";
    case CAIRN_TASK_BINARY:
        return "binary";
    case CAIRN_TASK_MULTICLASS:
        return "multiclass";
    case CAIRN_TASK_CLUSTERING:
        return "clustering";
    }
    return "unknown";
}

struct dict_entry {
    const char *name;
    int32_t index;
};

static int cmp_dict_entry(const void *a, const void *b)
{
    return strcmp(((const struct dict_entry *)a)->name, ((const struct dict_entry *)b)->name);
}

void cairn_model__sort_dict(struct cairn_model_feature *f)
{
    size_t n = (size_t)(f->ndict > 0 ? f->ndict : 0);
    struct dict_entry *e = cairn_malloc(sizeof(*e) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        e[i] = (struct dict_entry){f->dict[i], (int32_t)i};
    qsort(e, n, sizeof(*e), cmp_dict_entry);
    cairn_free(f->sorted);
    f->sorted = cairn_malloc(sizeof(int32_t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        f->sorted[i] = e[i].index;
    cairn_free(e);
}

/* Training code of category `name` in feature f, or -1 when unseen. */
static int32_t dict_lookup(const struct cairn_model_feature *f, const char *name)
{
    int32_t lo = 0, hi = f->ndict;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->dict[f->sorted[mid]], name);
        if (c == 0) return f->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks a set of names: non-NULL, non-empty unless allow_empty, bounded,
 * unique. `what` names them in the message. */
static int check_names(const char *const *names, int n, const char *what, int allow_empty)
{
    for (int i = 0; i < n; i++) {
        if (!names[i])
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s %d has no name", what, i);
        if (!allow_empty && !names[i][0])
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s %d has an empty name", what,
                                   i);
        if (strlen(names[i]) > CAIRN_MODEL_MAX_STRING)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "%s %d: name too long", what,
                                   i);
    }
    if (n < 2) return 0;
    const char **s = cairn_malloc(sizeof(char *) * (size_t)n);
    memcpy(s, names, sizeof(char *) * (size_t)n);
    qsort(s, (size_t)n, sizeof(char *), cmp_str_ptr);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(s[i - 1], s[i]))
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "duplicate %s name '%s'", what,
                                 s[i]);
    cairn_free(s);
    return rc;
}

int cairn_model__new(cairn_model **out, cairn_model_kind kind, const cairn_model_schema *schema,
                     const char *const *default_labels)
{
    *out = NULL;
    if (!schema || !schema->features)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model schema has no features");
    const cairn_frame *F = schema->features;
    if (F->ncols < 0 || F->ncols > CAIRN_MODEL_MAX_FEATURES)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model schema has %d features",
                               F->ncols);
    int n_classes = schema->n_classes;
    switch (schema->task) {
    case CAIRN_TASK_BINARY:
        if (n_classes == 0) n_classes = 2;
        if (n_classes != 2)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "a binary model has 2 classes, the schema says %d", n_classes);
        break;
    case CAIRN_TASK_MULTICLASS:
        if (n_classes < 2 || n_classes > CAIRN_MODEL_MAX_CLASSES)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "a multiclass model needs 2 to %d classes, the schema says %d",
                                   CAIRN_MODEL_MAX_CLASSES, n_classes);
        break;
    case CAIRN_TASK_REGRESSION:
    case CAIRN_TASK_CLUSTERING:
        if (n_classes != 0)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "a %s model has no classes, the schema says %d",
                                   cairn_model__task_name(schema->task), n_classes);
        break;
    default:
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "unknown task %d",
                               (int)schema->task);
    }
    const char **names = cairn_malloc(sizeof(char *) * (size_t)(F->ncols ? F->ncols : 1));
    for (int j = 0; j < F->ncols; j++)
        names[j] = F->cols[j].name;
    int rc = check_names(names, F->ncols, "feature", 0);
    cairn_free(names);
    if (rc) return rc;
    for (int j = 0; j < F->ncols && !rc; j++) {
        const cairn_column *c = &F->cols[j];
        if (c->type != CAIRN_COL_F32 && c->type != CAIRN_COL_F64 && c->type != CAIRN_COL_CAT)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "feature '%s' has an unknown type", c->name);
        if (c->type == CAIRN_COL_CAT) {
            if (c->ndict < 0 || (c->ndict > 0 && !c->dict))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "feature '%s' has a bad dictionary", c->name);
            rc = check_names((const char *const *)c->dict, c->ndict, "category", 1);
        }
    }
    if (rc) return rc;
    if (schema->target && strlen(schema->target) > CAIRN_MODEL_MAX_STRING)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "target name too long");
    const char *const *labels = schema->class_labels ? schema->class_labels : default_labels;
    if (labels && (rc = check_names(labels, n_classes, "class", 1))) return rc;

    cairn_model *m = cairn_calloc(1, sizeof(*m));
    m->kind = kind;
    m->task = schema->task;
    m->n_features = F->ncols;
    m->feat = cairn_calloc((size_t)(F->ncols ? F->ncols : 1), sizeof(*m->feat));
    for (int j = 0; j < F->ncols; j++) {
        const cairn_column *c = &F->cols[j];
        struct cairn_model_feature *f = &m->feat[j];
        f->name = cairn_strdup(c->name);
        f->type = c->type == CAIRN_COL_CAT ? CAIRN_COL_CAT : CAIRN_COL_F64;
        if (f->type == CAIRN_COL_CAT) {
            f->ndict = c->ndict;
            f->dict = cairn_calloc((size_t)(c->ndict ? c->ndict : 1), sizeof(char *));
            for (int32_t k = 0; k < c->ndict; k++)
                f->dict[k] = cairn_strdup(c->dict[k]);
            cairn_model__sort_dict(f);
        }
    }
    m->target = schema->target ? cairn_strdup(schema->target) : NULL;
    m->n_classes = n_classes;
    if (n_classes) {
        m->class_labels = cairn_calloc((size_t)n_classes, sizeof(char *));
        for (int k = 0; k < n_classes; k++) {
            char tmp[16];
            if (!labels) snprintf(tmp, sizeof(tmp), "%d", k);
            m->class_labels[k] = cairn_strdup(labels ? labels[k] : tmp);
        }
    }
    m->n_outputs = m->task == CAIRN_TASK_MULTICLASS ? n_classes : 1;
    *out = m;
    return 0;
}

void cairn_model_free(cairn_model *m)
{
    if (!m) return;
    for (int j = 0; j < m->n_features; j++) {
        struct cairn_model_feature *f = &m->feat[j];
        cairn_free(f->name);
        for (int32_t k = 0; k < f->ndict; k++)
            cairn_free(f->dict[k]);
        cairn_free(f->dict);
        cairn_free(f->sorted);
    }
    cairn_free(m->feat);
    cairn_free(m->target);
    if (m->class_labels)
        for (int k = 0; k < m->n_classes; k++)
            cairn_free(m->class_labels[k]);
    cairn_free(m->class_labels);
    cairn_trees_free(m->trees);
    cairn_free(m->coef);
    cairn_free(m->intercept);
    cairn_free(m->classes);
    cairn_free(m);
}

static int all_numeric(const cairn_model *m, int code)
{
    for (int j = 0; j < m->n_features; j++)
        if (m->feat[j].type != CAIRN_COL_F64)
            return cairn_error_set(code, CAIRN_SUBSYS_ML,
                                   "feature '%s' is categorical; a %s model takes numeric features",
                                   m->feat[j].name, cairn_model__kind_name(m->kind));
    return 0;
}

static int check_trees(const cairn_model *m, int code)
{
    const cairn_trees *t = m->trees;
    if (!t) return cairn_error_set(code, CAIRN_SUBSYS_ML, "tree model has no ensemble");
    if (cairn_trees_n_features(t) != m->n_features)
        return cairn_error_set(code, CAIRN_SUBSYS_ML,
                               "tree ensemble has %d features, the schema %d",
                               cairn_trees_n_features(t), m->n_features);
    if (cairn_trees_n_outputs(t) != m->n_outputs)
        return cairn_error_set(
            code, CAIRN_SUBSYS_ML, "tree ensemble has %d outputs, a %s model with this schema %d",
            cairn_trees_n_outputs(t), cairn_model__task_name(m->task), m->n_outputs);
    cairn_trees_transform tr = cairn_trees_get_transform(t);
    if ((m->task == CAIRN_TASK_BINARY && tr != CAIRN_TREES_SIGMOID) ||
        (m->task == CAIRN_TASK_MULTICLASS && tr != CAIRN_TREES_SOFTMAX) ||
        m->task == CAIRN_TASK_CLUSTERING)
        return cairn_error_set(code, CAIRN_SUBSYS_ML,
                               "tree ensemble's output transform does not fit a %s task",
                               cairn_model__task_name(m->task));
    for (int j = 0; j < m->n_features; j++) {
        const char *nm = cairn_trees_feature_name(t, j);
        if (nm && strcmp(nm, m->feat[j].name))
            return cairn_error_set(code, CAIRN_SUBSYS_ML,
                                   "tree feature %d is '%s', the schema says '%s'", j, nm,
                                   m->feat[j].name);
    }
    return 0;
}

int cairn_model__check(const cairn_model *m, int code)
{
    switch (m->kind) {
    case CAIRN_MODEL_TREES:
        return check_trees(m, code);
    case CAIRN_MODEL_LINEAR:
        if (m->task != CAIRN_TASK_REGRESSION)
            return cairn_error_set(code, CAIRN_SUBSYS_ML, "a linear model's task is regression");
        if (m->rows != 1 || !m->coef || !m->intercept)
            return cairn_error_set(code, CAIRN_SUBSYS_ML, "linear model parameters are incomplete");
        return all_numeric(m, code);
    case CAIRN_MODEL_LOGISTIC: {
        if (m->task != CAIRN_TASK_BINARY && m->task != CAIRN_TASK_MULTICLASS)
            return cairn_error_set(code, CAIRN_SUBSYS_ML,
                                   "a logistic model's task is binary or multiclass");
        int rows = m->n_classes == 2 ? 1 : m->n_classes;
        if (m->rows != rows || !m->coef || !m->intercept || !m->classes)
            return cairn_error_set(code, CAIRN_SUBSYS_ML,
                                   "logistic model has %d coefficient rows for %d classes", m->rows,
                                   m->n_classes);
        for (int k = 1; k < m->n_classes; k++)
            if (m->classes[k] <= m->classes[k - 1])
                return cairn_error_set(code, CAIRN_SUBSYS_ML,
                                       "logistic model classes are not sorted and distinct");
        return all_numeric(m, code);
    }
    case CAIRN_MODEL_KMEANS:
        if (m->task != CAIRN_TASK_CLUSTERING)
            return cairn_error_set(code, CAIRN_SUBSYS_ML, "a k-means model's task is clustering");
        if (m->rows < 1 || !m->coef)
            return cairn_error_set(code, CAIRN_SUBSYS_ML, "k-means model has no centroids");
        return all_numeric(m, code);
    }
    return cairn_error_set(code, CAIRN_SUBSYS_ML, "unknown model kind %d", (int)m->kind);
}

/* ====================================================================== */
/* Constructors                                                            */
/* ====================================================================== */

int cairn_model_from_trees(cairn_model **out, struct cairn_trees *t,
                           const cairn_model_schema *schema)
{
    *out = NULL;
    if (!t) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "no tree ensemble");
    cairn_model *m;
    int rc = cairn_model__new(&m, CAIRN_MODEL_TREES, schema, NULL);
    if (rc) {
        cairn_trees_free(t);
        return rc;
    }
    m->trees = t;
    if ((rc = cairn_model__check(m, CAIRN_EINVALID))) {
        cairn_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static double *copy_doubles(const double *src, size_t n)
{
    double *d = cairn_malloc(sizeof(double) * (n ? n : 1));
    if (n) memcpy(d, src, sizeof(double) * n);
    return d;
}

/* Common tail of the learner constructors: checks, and on failure frees. */
static int finish(cairn_model **out, cairn_model *m)
{
    int rc = cairn_model__check(m, CAIRN_EINVALID);
    if (rc) {
        cairn_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int cairn_model_from_linear(cairn_model **out, struct cairn_linear *lm,
                            const cairn_model_schema *schema)
{
    *out = NULL;
    if (!lm) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "no linear model");
    cairn_model *m;
    int rc = cairn_model__new(&m, CAIRN_MODEL_LINEAR, schema, NULL);
    if (!rc && cairn_linear_nfeatures(lm) != m->n_features) {
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                             "linear model has %d features, the schema %d",
                             cairn_linear_nfeatures(lm), m->n_features);
        cairn_model_free(m);
    }
    if (rc) {
        cairn_linear_free(lm);
        return rc;
    }
    m->rows = 1;
    m->coef = copy_doubles(cairn_linear_coef(lm), (size_t)m->n_features);
    m->intercept = copy_doubles((const double[]){cairn_linear_intercept(lm)}, 1);
    cairn_linear_free(lm);
    return finish(out, m);
}

int cairn_model_from_logistic(cairn_model **out, struct cairn_logistic *lm,
                              const cairn_model_schema *schema)
{
    *out = NULL;
    if (!lm) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "no logistic model");
    int K = cairn_logistic_nclasses(lm);
    const int32_t *cls = cairn_logistic_classes(lm);
    char **labels = cairn_calloc((size_t)(K > 0 ? K : 1), sizeof(char *));
    for (int k = 0; k < K; k++) {
        char tmp[16];
        snprintf(tmp, sizeof(tmp), "%d", (int)cls[k]);
        labels[k] = cairn_strdup(tmp);
    }
    cairn_model *m = NULL;
    int rc = cairn_model__new(&m, CAIRN_MODEL_LOGISTIC, schema, (const char *const *)labels);
    for (int k = 0; k < K; k++)
        cairn_free(labels[k]);
    cairn_free(labels);
    if (!rc && (cairn_logistic_nfeatures(lm) != m->n_features || K != m->n_classes)) {
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                             "logistic model has %d features and %d classes, the schema %d and %d",
                             cairn_logistic_nfeatures(lm), K, m->n_features, m->n_classes);
        cairn_model_free(m);
    }
    if (rc) {
        cairn_logistic_free(lm);
        return rc;
    }
    m->rows = cairn_logistic_ncoef_rows(lm);
    m->coef = copy_doubles(cairn_logistic_coef(lm), (size_t)m->rows * (size_t)m->n_features);
    m->intercept = copy_doubles(cairn_logistic_intercept(lm), (size_t)m->rows);
    m->classes = cairn_malloc(sizeof(int32_t) * (size_t)K);
    memcpy(m->classes, cls, sizeof(int32_t) * (size_t)K);
    cairn_logistic_free(lm);
    return finish(out, m);
}

int cairn_model_from_kmeans(cairn_model **out, struct cairn_kmeans *km,
                            const cairn_model_schema *schema)
{
    *out = NULL;
    if (!km) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "no k-means model");
    cairn_model *m;
    int rc = cairn_model__new(&m, CAIRN_MODEL_KMEANS, schema, NULL);
    if (!rc && cairn_kmeans_nfeatures(km) != m->n_features) {
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                             "k-means model has %d features, the schema %d",
                             cairn_kmeans_nfeatures(km), m->n_features);
        cairn_model_free(m);
    }
    if (rc) {
        cairn_kmeans_free(km);
        return rc;
    }
    m->rows = cairn_kmeans_k(km);
    m->coef = copy_doubles(cairn_kmeans_centroids(km), (size_t)m->rows * (size_t)m->n_features);
    cairn_kmeans_free(km);
    return finish(out, m);
}

/* ====================================================================== */
/* Accessors                                                               */
/* ====================================================================== */

cairn_model_kind cairn_model_kind_of(const cairn_model *m)
{
    return m->kind;
}
cairn_task cairn_model_task(const cairn_model *m)
{
    return m->task;
}
int cairn_model_n_features(const cairn_model *m)
{
    return m->n_features;
}
const char *cairn_model_feature_name(const cairn_model *m, int i)
{
    return i >= 0 && i < m->n_features ? m->feat[i].name : NULL;
}
cairn_col_type cairn_model_feature_type(const cairn_model *m, int i)
{
    return i >= 0 && i < m->n_features ? m->feat[i].type : CAIRN_COL_F64;
}
const char *cairn_model_target(const cairn_model *m)
{
    return m->target;
}
int cairn_model_n_outputs(const cairn_model *m)
{
    return m->n_outputs;
}
const char *cairn_model_class_label(const cairn_model *m, int k)
{
    return m->class_labels && k >= 0 && k < m->n_classes ? m->class_labels[k] : NULL;
}

/* Heap of a string as the allocator holds it (the terminator included). */
static size_t str_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Sums what the model's arrays hold, from their counts (a model is
 * immutable, so the answer never changes). Tree ensembles are counted
 * through the public accessors: each node is stored twice (the full node
 * and the compact copy the walk uses, 16 bytes), plus four 32-bit words of
 * per-tree bookkeeping, the categorical bitsets, the base scores and the
 * feature names. Allocator headers and unused array capacity are not
 * counted, so the figure is a slight underestimate. */
size_t cairn_model_memory_bytes(const cairn_model *m)
{
    if (!m) return 0;
    size_t n = sizeof(*m) + str_bytes(m->target);
    n += (size_t)m->n_features * sizeof(struct cairn_model_feature);
    for (int j = 0; j < m->n_features; j++) {
        const struct cairn_model_feature *f = &m->feat[j];
        n += str_bytes(f->name);
        n += (size_t)f->ndict * (sizeof(char *) + sizeof(int32_t));
        for (int32_t k = 0; k < f->ndict; k++)
            n += str_bytes(f->dict[k]);
    }
    if (m->class_labels) {
        n += (size_t)m->n_classes * sizeof(char *);
        for (int k = 0; k < m->n_classes; k++)
            n += str_bytes(m->class_labels[k]);
    }
    if (m->coef) n += (size_t)m->rows * (size_t)m->n_features * sizeof(double);
    if (m->intercept) n += (size_t)m->rows * sizeof(double);
    if (m->classes) n += (size_t)m->n_classes * sizeof(int32_t);
    if (m->trees) {
        const cairn_trees *t = m->trees;
        int nt = cairn_trees_n_trees(t);
        size_t nodes = 0, words = 0;
        for (int i = 0; i < nt; i++) {
            int c = 0;
            cairn_trees_tree(t, i, &c);
            nodes += (size_t)c;
        }
        cairn_trees_cat_bits(t, &words);
        n += nodes * (sizeof(cairn_tree_node) + 16) + (size_t)nt * 4 * sizeof(int32_t);
        n += words * sizeof(uint32_t) + (size_t)cairn_trees_n_outputs(t) * sizeof(double);
        for (int j = 0; j < cairn_trees_n_features(t); j++) {
            const char *name = cairn_trees_feature_name(t, j);
            if (name) n += sizeof(char *) + str_bytes(name);
        }
    }
    return n;
}

/* ====================================================================== */
/* Prediction                                                              */
/* ====================================================================== */

/* Numerically stable logistic function, as the logistic learner's. */
static double sigmoid(double z)
{
    if (z >= 0) return 1 / (1 + exp(-z));
    double e = exp(z);
    return e / (1 + e);
}

/*
 * One row of a linear, logistic or k-means model: x (n_features doubles,
 * NaN = missing) into out (n_outputs). Sums run intercept first, then
 * features in order, as the learners' predict functions do. Any NaN in x
 * gives NaN outputs (k-means: NaN instead of a cluster index).
 */
static void row_kernel(const cairn_model *m, const double *x, double *out)
{
    const int d = m->n_features;
    if (m->kind == CAIRN_MODEL_KMEANS) {
        int best = 0;
        double bd = INFINITY;
        for (int q = 0; q < m->rows; q++) {
            const double *c = m->coef + (size_t)q * d;
            double s = 0;
            for (int j = 0; j < d; j++) {
                double t = x[j] - c[j];
                s += t * t;
            }
            if (isnan(s)) {
                out[0] = NAN;
                return;
            }
            if (q == 0 || s < bd) {
                bd = s;
                best = q;
            }
        }
        out[0] = (double)best;
        return;
    }
    if (m->kind == CAIRN_MODEL_LINEAR || m->rows == 1) {
        double s = m->intercept[0];
        for (int j = 0; j < d; j++)
            s += m->coef[j] * x[j];
        out[0] = m->kind == CAIRN_MODEL_LINEAR ? s : sigmoid(s);
        return;
    }
    /* multinomial logistic: softmax over the rows' decision values */
    const int K = m->rows;
    for (int k = 0; k < K; k++) {
        double s = m->intercept[k];
        const double *w = m->coef + (size_t)k * d;
        for (int j = 0; j < d; j++)
            s += w[j] * x[j];
        out[k] = s;
    }
    double mx = -INFINITY, s = 0;
    for (int k = 0; k < K; k++)
        mx = fmax(mx, out[k]);
    for (int k = 0; k < K; k++)
        s += (out[k] = exp(out[k] - mx));
    for (int k = 0; k < K; k++)
        out[k] /= s;
}

int cairn_model_predict_row(const cairn_model *m, const double *x, double *out)
{
    if (!m || !x || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model predict: bad arguments");
    if (m->kind != CAIRN_MODEL_TREES) {
        row_kernel(m, x, out);
        return 0;
    }
    float stack[ROW_STACK_FEATURES] = {0};
    float *xf = m->n_features <= ROW_STACK_FEATURES
                    ? stack
                    : cairn_malloc(sizeof(float) * (size_t)m->n_features);
    for (int j = 0; j < m->n_features; j++) {
        double v = x[j];
        if (m->feat[j].type == CAIRN_COL_CAT && !(v >= 0 && v < (double)m->feat[j].ndict))
            v = NAN; /* missing, negative or unseen code */
        xf[j] = (float)v;
    }
    cairn_trees_predict_row(m->trees, xf, out);
    if (xf != stack) cairn_free(xf);
    return 0;
}

/* Input columns bound to the model's features for one predict call. */
struct bound {
    const cairn_column **col; /* (n_features) borrowed from X */
    const int32_t **codes;    /* (n_features) categorical: codes in training terms */
    int32_t **owned;          /* (n_features) remapped code arrays we allocated */
};

static void bound_free(struct bound *b, int n)
{
    if (b->owned)
        for (int j = 0; j < n; j++)
            cairn_free(b->owned[j]);
    cairn_free(b->owned);
    cairn_free(b->codes);
    cairn_free(b->col);
}

/*
 * Codes of categorical column c in the training dictionary of f: the
 * input's own codes when its dictionary is a prefix of the training one,
 * else a new array (*owned) remapped by name, unseen categories -> -1.
 */
static int remap_codes(const struct cairn_model_feature *f, const cairn_column *c, size_t nrows,
                       const int32_t **codes, int32_t **owned)
{
    int32_t nd = c->ndict > 0 ? c->ndict : 0;
    int32_t *map = cairn_malloc(sizeof(int32_t) * (size_t)(nd ? nd : 1));
    int identity = nd <= f->ndict;
    for (int32_t k = 0; k < nd; k++) {
        map[k] = c->dict && c->dict[k] ? dict_lookup(f, c->dict[k]) : -1;
        if (map[k] != k) identity = 0;
    }
    if (identity) {
        cairn_free(map);
        *codes = c->codes;
        return 0;
    }
    int32_t *r = cairn_try_malloc(sizeof(int32_t) * (nrows ? nrows : 1));
    if (!r) {
        cairn_free(map);
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML,
                               "no memory to remap categories of '%s'", f->name);
    }
    for (size_t i = 0; i < nrows; i++) {
        int32_t v = c->codes[i];
        r[i] = v >= 0 && v < nd ? map[v] : -1;
    }
    cairn_free(map);
    *codes = r;
    *owned = r;
    return 0;
}

/* Finds each model feature in X by name and checks its type; remaps
 * categorical codes. CAIRN_EINVALID when a feature is missing or mistyped. */
static int bind_columns(const cairn_model *m, const cairn_frame *X, struct bound *b)
{
    size_t n = (size_t)(m->n_features ? m->n_features : 1);
    b->col = cairn_calloc(n, sizeof(*b->col));
    b->codes = cairn_calloc(n, sizeof(*b->codes));
    b->owned = cairn_calloc(n, sizeof(*b->owned));
    for (int j = 0; j < m->n_features; j++) {
        const struct cairn_model_feature *f = &m->feat[j];
        int c = cairn_frame_find(X, f->name);
        if (c < 0)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "feature '%s' is missing from the input", f->name);
        const cairn_column *col = &X->cols[c];
        b->col[j] = col;
        if (f->type == CAIRN_COL_CAT) {
            if (col->type != CAIRN_COL_CAT)
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "feature '%s' is categorical, the input column is numeric",
                                       f->name);
            int rc = remap_codes(f, col, X->nrows, &b->codes[j], &b->owned[j]);
            if (rc) return rc;
        } else if (col->type != CAIRN_COL_F64 && col->type != CAIRN_COL_F32) {
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "feature '%s' is numeric, the input column is categorical",
                                   f->name);
        }
    }
    return 0;
}

/* Trees: a borrowed frame in model order, named as the model's features,
 * categorical columns pointing at training-dictionary codes. */
static int predict_trees(const cairn_model *m, const cairn_frame *X, const struct bound *b,
                         double *out, int n_threads)
{
    cairn_column *cols = cairn_calloc((size_t)(m->n_features ? m->n_features : 1), sizeof(*cols));
    for (int j = 0; j < m->n_features; j++) {
        cols[j] = *b->col[j];
        cols[j].name = m->feat[j].name;
        if (m->feat[j].type == CAIRN_COL_CAT) {
            cols[j].codes = (int32_t *)b->codes[j];
            cols[j].dict = m->feat[j].dict;
            cols[j].ndict = m->feat[j].ndict;
        }
    }
    cairn_frame view = {X->nrows, m->n_features, cols};
    int rc = cairn_trees_predict(m->trees, &view, out, n_threads);
    cairn_free(cols);
    return rc;
}

/* Trees, a few rows (online serving): each row gathered straight into the
 * float vector the walk reads, without the block machinery's allocations
 * and parallel region. Same walk and sums as the block path. */
static void predict_trees_rows(const cairn_model *m, const cairn_frame *X, const struct bound *b,
                               double *out)
{
    float stack[ROW_STACK_FEATURES];
    const int d = m->n_features, K = m->n_outputs;
    float *xf = d <= ROW_STACK_FEATURES ? stack : cairn_malloc(sizeof(float) * (size_t)d);
    for (size_t i = 0; i < X->nrows; i++) {
        for (int j = 0; j < d; j++) {
            const cairn_column *c = b->col[j];
            if (m->feat[j].type == CAIRN_COL_CAT) {
                int32_t v = b->codes[j][i];
                xf[j] = v >= 0 && v < m->feat[j].ndict ? (float)v : NAN;
            } else {
                xf[j] = c->type == CAIRN_COL_F64 ? (float)c->f64[i] : c->f32[i];
            }
        }
        cairn_trees_predict_row(m->trees, xf, out + i * (size_t)K);
    }
    if (xf != stack) cairn_free(xf);
}

/* Linear, logistic, k-means: rows gathered into x and run through
 * row_kernel, in parallel over rows for large batches. */
static void predict_dense(const cairn_model *m, const cairn_frame *X, const struct bound *b,
                          double *out, int n_threads)
{
    const size_t n = X->nrows;
    const int d = m->n_features, K = m->n_outputs;
    int nt = n_threads > 0 ? n_threads : omp_get_num_procs();
    if (n < PARALLEL_MIN_ROWS) nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        double *x = cairn_malloc(sizeof(double) * (size_t)(d ? d : 1));
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                const cairn_column *c = b->col[j];
                x[j] = c->type == CAIRN_COL_F64 ? c->f64[i] : (double)c->f32[i];
            }
            row_kernel(m, x, out + i * (size_t)K);
        }
        cairn_free(x);
    }
}

int cairn_model_predict(const cairn_model *m, const cairn_frame *X, double *out, int n_threads)
{
    if (!m || !X || !out || (X->ncols > 0 && !X->cols))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "model predict: bad arguments");
    struct bound b = {0};
    int rc = bind_columns(m, X, &b);
    if (!rc) {
        if (m->kind == CAIRN_MODEL_TREES && X->nrows <= SMALL_BATCH_ROWS)
            predict_trees_rows(m, X, &b, out);
        else if (m->kind == CAIRN_MODEL_TREES)
            rc = predict_trees(m, X, &b, out, n_threads);
        else
            predict_dense(m, X, &b, out, n_threads);
    }
    bound_free(&b, m->n_features);
    return rc;
}
