/*
 * gbdt.c - the boosting loop: options and label validation, objectives
 * (gradients, base score, metric), row and feature sampling, early
 * stopping, and conversion of grown trees into the cairn_trees runtime.
 *
 * Key idea: everything that could depend on the thread count is either
 * per-row (gradients, margin updates) or summed serially in row order
 * (base score, metrics), and every random draw comes from a splitmix64
 * stream derived from (seed, round, class), so a seed fixes the model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "gbdt_internal.h"

#define PROB_EPS 1e-15
#define HESS_MIN 1e-16

const char *cairn_gbdt_metric_name(cairn_gbdt_objective objective)
{
    switch (objective) {
    case CAIRN_GBDT_REGRESSION:
        return "rmse";
    case CAIRN_GBDT_BINARY:
        return "logloss";
    case CAIRN_GBDT_MULTICLASS:
        return "mlogloss";
    }
    return "unknown";
}

#define INVALID(...) cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, __VA_ARGS__)

static int check_opts(const cairn_gbdt_opts *o)
{
    if (o->version != CAIRN_GBDT_OPTS_VERSION)
        return INVALID("gbdt options version %d, expected %d", o->version, CAIRN_GBDT_OPTS_VERSION);
    if (o->objective != CAIRN_GBDT_REGRESSION && o->objective != CAIRN_GBDT_BINARY &&
        o->objective != CAIRN_GBDT_MULTICLASS)
        return INVALID("unknown gbdt objective %d", (int)o->objective);
    if (o->objective == CAIRN_GBDT_MULTICLASS && (o->num_class < 2 || o->num_class > 65536))
        return INVALID("multiclass needs num_class between 2 and 65536, got %d", o->num_class);
    if (o->n_rounds < 0) return INVALID("n_rounds must be >= 0, got %d", o->n_rounds);
    if (!(o->learning_rate > 0) || !isfinite(o->learning_rate))
        return INVALID("learning_rate must be a positive number");
    if (o->max_leaves < 2 || o->max_leaves > 65536)
        return INVALID("max_leaves must be between 2 and 65536, got %d", o->max_leaves);
    if (o->max_depth < 0) return INVALID("max_depth must be >= 0, got %d", o->max_depth);
    if (!(o->lambda_l2 >= 0) || !isfinite(o->lambda_l2)) return INVALID("lambda_l2 must be >= 0");
    if (!(o->alpha_l1 >= 0) || !isfinite(o->alpha_l1)) return INVALID("alpha_l1 must be >= 0");
    if (o->min_child_samples < 1)
        return INVALID("min_child_samples must be >= 1, got %d", o->min_child_samples);
    if (!(o->min_child_weight >= 0) || !isfinite(o->min_child_weight))
        return INVALID("min_child_weight must be >= 0");
    if (!(o->min_split_gain >= 0) || !isfinite(o->min_split_gain))
        return INVALID("min_split_gain must be >= 0");
    if (!(o->subsample > 0 && o->subsample <= 1)) return INVALID("subsample must be in (0, 1]");
    if (!(o->colsample > 0 && o->colsample <= 1)) return INVALID("colsample must be in (0, 1]");
    if (o->max_bins < 2 || o->max_bins > 255)
        return INVALID("max_bins must be between 2 and 255, got %d", o->max_bins);
    if (o->n_threads < 0) return INVALID("n_threads must be >= 0, got %d", o->n_threads);
    if (o->early_stopping_rounds < 0)
        return INVALID("early_stopping_rounds must be >= 0, got %d", o->early_stopping_rounds);
    if (!(o->cat_smooth >= 0) || !isfinite(o->cat_smooth))
        return INVALID("cat_smooth must be >= 0");
    return 0;
}

static int check_labels(const cairn_gbdt_opts *o, const double *y, size_t n, const char *which)
{
    for (size_t i = 0; i < n; i++) {
        double v = y[i];
        if (!isfinite(v)) return INVALID("%s label at row %zu is not a finite number", which, i);
        if (o->objective == CAIRN_GBDT_BINARY && (v < 0 || v > 1))
            return INVALID("%s label %g at row %zu is outside [0, 1]", which, v, i);
        if (o->objective == CAIRN_GBDT_MULTICLASS && (v < 0 || v >= o->num_class || v != floor(v)))
            return INVALID("%s label %g at row %zu is not a class in 0..%d", which, v, i,
                           o->num_class - 1);
    }
    return 0;
}

static int check_data(const cairn_frame *X, const double *y, const cairn_frame *vX,
                      const double *vy, const cairn_gbdt_opts *o)
{
    if (!X || !y) return INVALID("gbdt needs a training frame and labels");
    if (X->nrows == 0) return INVALID("training frame has no rows");
    if (X->ncols == 0) return INVALID("training frame has no columns");
    if (X->nrows >= UINT32_MAX)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_ML,
                               "training frame has %zu rows, at most %u", X->nrows, UINT32_MAX - 1);
    if (!vX != !vy) return INVALID("validation needs both a frame and labels");
    if (o->early_stopping_rounds > 0 && !vX)
        return INVALID("early_stopping_rounds needs a validation frame");
    int rc = check_labels(o, y, X->nrows, "training");
    if (!rc && vX) rc = check_labels(o, vy, vX->nrows, "validation");
    return rc;
}

/* Row-major float copy (nrows x nf) of the validation frame, its columns
 * matched by name to the training frame's. */
static int valid_matrix(const cairn_frame *X, const cairn_frame *vX, float **out)
{
    int nf = X->ncols;
    float *m = cairn_try_malloc(sizeof(float) * (vX->nrows ? vX->nrows : 1) * (size_t)nf);
    if (!m)
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML, "no memory for the validation set");
    for (int j = 0; j < nf; j++) {
        int c = cairn_frame_find(vX, X->cols[j].name);
        if (c < 0) {
            cairn_free(m);
            return INVALID("validation frame has no column '%s'", X->cols[j].name);
        }
        const cairn_column *col = &vX->cols[c];
        for (size_t i = 0; i < vX->nrows; i++) {
            float v;
            if (col->type == CAIRN_COL_F32)
                v = col->f32[i];
            else if (col->type == CAIRN_COL_F64)
                v = (float)col->f64[i];
            else
                v = col->codes[i] < 0 ? NAN : (float)col->codes[i];
            m[i * (size_t)nf + (size_t)j] = v;
        }
    }
    *out = m;
    return 0;
}

/* Base score per output: mean (L2), log-odds of the mean (logloss), log of
 * the class frequency (softmax). Summed serially in row order. */
static void base_score(const cairn_gbdt_opts *o, const double *y, size_t n, int K, double *base)
{
    if (o->objective == CAIRN_GBDT_MULTICLASS) {
        double *cnt = cairn_calloc((size_t)K, sizeof(double));
        for (size_t i = 0; i < n; i++)
            cnt[(int)y[i]] += 1;
        for (int k = 0; k < K; k++)
            base[k] = log(fmax(cnt[k] / (double)n, 1e-6));
        cairn_free(cnt);
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += y[i];
    double mean = s / (double)n;
    if (o->objective == CAIRN_GBDT_BINARY) {
        mean = fmin(fmax(mean, 1e-6), 1 - 1e-6);
        base[0] = log(mean / (1 - mean));
    } else {
        base[0] = mean;
    }
}

/* Softmax of one row of K margins into p. */
static void softmax(const double *f, int K, double *p)
{
    double mx = f[0], s = 0;
    for (int k = 1; k < K; k++)
        mx = f[k] > mx ? f[k] : mx;
    for (int k = 0; k < K; k++)
        s += (p[k] = exp(f[k] - mx));
    for (int k = 0; k < K; k++)
        p[k] /= s;
}

/* Gradient pairs gh[k] (2n) of every output from margins F (n x K). */
static void gradients(const cairn_gbdt_opts *o, const double *F, const double *y, size_t n, int K,
                      float **gh, int nt)
{
    double kfac = K > 1 ? (double)K / (double)(K - 1) : 1.0;
#pragma omp parallel num_threads(nt)
    {
        double p[256], *pp = K <= 256 ? p : cairn_malloc(sizeof(double) * (size_t)K);
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            if (o->objective == CAIRN_GBDT_REGRESSION) {
                gh[0][2 * i] = (float)(F[i] - y[i]);
                gh[0][2 * i + 1] = 1.0f;
            } else if (o->objective == CAIRN_GBDT_BINARY) {
                double q = 1.0 / (1.0 + exp(-F[i]));
                gh[0][2 * i] = (float)(q - y[i]);
                gh[0][2 * i + 1] = (float)fmax(q * (1 - q), HESS_MIN);
            } else {
                softmax(F + i * (size_t)K, K, pp);
                for (int k = 0; k < K; k++) {
                    gh[k][2 * i] = (float)(pp[k] - (k == (int)y[i]));
                    gh[k][2 * i + 1] = (float)fmax(kfac * pp[k] * (1 - pp[k]), HESS_MIN);
                }
            }
        }
        if (pp != p) cairn_free(pp);
    }
}

/* The objective's metric of margins F (n x K) against y, summed serially. */
static double metric(const cairn_gbdt_opts *o, const double *F, const double *y, size_t n, int K)
{
    double s = 0;
    double p[256], *pp = K <= 256 ? p : cairn_malloc(sizeof(double) * (size_t)K);
    for (size_t i = 0; i < n; i++) {
        if (o->objective == CAIRN_GBDT_REGRESSION) {
            double e = F[i] - y[i];
            s += e * e;
        } else if (o->objective == CAIRN_GBDT_BINARY) {
            double q = 1.0 / (1.0 + exp(-F[i]));
            q = fmin(fmax(q, PROB_EPS), 1 - PROB_EPS);
            s -= y[i] * log(q) + (1 - y[i]) * log(1 - q);
        } else {
            softmax(F + i * (size_t)K, K, pp);
            s -= log(fmax(pp[(int)y[i]], PROB_EPS));
        }
    }
    if (pp != p) cairn_free(pp);
    s /= (double)n;
    return o->objective == CAIRN_GBDT_REGRESSION ? sqrt(s) : s;
}

/* Picks the features of one tree into gr->feats (ascending). */
static void sample_features(struct gbdt_grower *gr, double colsample, uint64_t *rng)
{
    int nf = gr->d->nf;
    for (int j = 0; j < nf; j++)
        gr->feats[j] = j;
    int take = (int)floor(colsample * nf + 0.5);
    if (take < 1) take = 1;
    if (take < nf) {
        for (int j = 0; j < take; j++) { /* partial Fisher-Yates */
            int r = j + (int)(gbdt_rand(rng) % (uint64_t)(nf - j));
            int t = gr->feats[j];
            gr->feats[j] = gr->feats[r];
            gr->feats[r] = t;
        }
        uint8_t *on = cairn_calloc((size_t)nf, 1);
        for (int j = 0; j < take; j++)
            on[gr->feats[j]] = 1;
        int q = 0;
        for (int j = 0; j < nf; j++)
            if (on[j]) gr->feats[q++] = j;
        cairn_free(on);
    }
    gr->nfe = take < nf ? take : nf;
}

/* Converts the grown tree into runtime nodes and appends it to m. */
static int add_grown_tree(cairn_trees *m, const struct gbdt_grower *gr, int output)
{
    const struct gbdt_data *d = gr->d;
    cairn_tree_node *nodes = cairn_calloc((size_t)gr->n_nodes, sizeof(*nodes));
    uint32_t *bits = NULL;
    size_t n_bits = 0;
    for (int i = 0; i < gr->n_nodes; i++) {
        const struct gbdt_bnode *b = &gr->nodes[i];
        cairn_tree_node *t = &nodes[i];
        t->feature = b->feature;
        t->left = b->left;
        t->right = b->right;
        if (b->left < 0) {
            t->value = b->value;
            continue;
        }
        t->gain = b->gain;
        t->default_left = b->default_left;
        const struct gbdt_feature *F = &d->feat[b->feature];
        if (!b->is_cat) {
            t->threshold = F->cuts[b->bin - 1];
            continue;
        }
        int32_t maxc = -1;
        for (int k = 1; k < F->nbins; k++)
            if ((b->catbits[k >> 5] >> (k & 31)) & 1u)
                maxc = F->code_of_bin[k] > maxc ? F->code_of_bin[k] : maxc;
        uint32_t words = (uint32_t)(maxc / 32 + 1);
        bits = cairn_realloc(bits, sizeof(uint32_t) * (n_bits + words));
        memset(bits + n_bits, 0, sizeof(uint32_t) * words);
        for (int k = 1; k < F->nbins; k++)
            if ((b->catbits[k >> 5] >> (k & 31)) & 1u) {
                int32_t c = F->code_of_bin[k];
                bits[n_bits + (size_t)(c >> 5)] |= 1u << (c & 31);
            }
        t->is_categorical = 1;
        t->cat_offset = (uint32_t)n_bits;
        t->cat_words = words;
        n_bits += words;
    }
    int rc = cairn_trees_add_tree(m, output, nodes, gr->n_nodes, bits, n_bits);
    cairn_free(nodes);
    cairn_free(bits);
    return rc;
}

/* Adds the tree just grown (output k) to the training margins F. */
static void update_train(const struct gbdt_grower *gr, double *F, int K, int k,
                         const uint8_t *in_bag, int nt)
{
    for (int i = 0; i < gr->n_nodes; i++) {
        const struct gbdt_bnode *nd = &gr->nodes[i];
        if (nd->left >= 0) continue;
        const uint32_t *rows = gr->idx + gr->leaf_start[i];
        for (uint32_t j = 0; j < gr->leaf_cnt[i]; j++)
            F[(size_t)rows[j] * K + k] += nd->value;
    }
    if (!in_bag) return;
    size_t n = gr->d->n;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t r = 0; r < n; r++)
        if (!in_bag[r]) F[r * K + k] += gr->nodes[cairn_gbdt__bin_walk(gr, r)].value;
}

/* Adds tree t of m to the validation margins V (nv x K) from rows xv. */
static void update_valid(const cairn_trees *m, int t, const float *xv, size_t nv, int nf, double *V,
                         int K, int nt)
{
    const cairn_tree_node *nodes = cairn_trees_tree(m, t, NULL);
    int k = cairn_trees_tree_output(m, t);
#pragma omp parallel for schedule(static) num_threads(nt) if (nv > 4096)
    for (size_t i = 0; i < nv; i++)
        V[i * K + k] += nodes[cairn_trees_leaf_index(m, t, xv + i * (size_t)nf)].value;
}

struct train_state {
    struct gbdt_data d;
    struct gbdt_grower gr;
    double *F, *V, *base;
    float **gh;
    float *xv;
    uint32_t *bag;
    uint8_t *in_bag;
};

static void state_free(struct train_state *s, int K)
{
    cairn_gbdt__data_free(&s->d);
    cairn_gbdt__grower_free(&s->gr);
    cairn_free(s->F);
    cairn_free(s->V);
    cairn_free(s->base);
    if (s->gh)
        for (int k = 0; k < K; k++)
            cairn_free(s->gh[k]);
    cairn_free(s->gh);
    cairn_free(s->xv);
    cairn_free(s->bag);
    cairn_free(s->in_bag);
}

/* Draws this round's bag (ascending rows) into s->bag; returns its size. */
static size_t draw_bag(struct train_state *s, double subsample, uint64_t seed, int round)
{
    size_t n = s->d.n, nb = 0;
    if (subsample >= 1) {
        for (size_t i = 0; i < n; i++)
            s->bag[i] = (uint32_t)i;
        return n;
    }
    uint64_t rng = seed ^ (0xA24BAED4963EE407ull * (uint64_t)(round + 1));
    for (size_t i = 0; i < n; i++) {
        s->in_bag[i] = gbdt_unif(&rng) < subsample;
        if (s->in_bag[i]) s->bag[nb++] = (uint32_t)i;
    }
    if (nb == 0) { /* keep at least one row: benign for tiny data */
        s->bag[nb++] = 0;
        s->in_bag[0] = 1;
    }
    return nb;
}

/* Runs the boosting rounds into model m. */
static int boost(struct train_state *s, cairn_trees *m, const double *y, const cairn_frame *vX,
                 const double *vy, const cairn_gbdt_opts *o, int K, int nt, cairn_gbdt_info *info)
{
    size_t n = s->d.n, nv = vX ? vX->nrows : 0;
    int nf = s->d.nf, best_round = -1, round = 0;
    double best = INFINITY;
    for (round = 0; round < o->n_rounds; round++) {
        gradients(o, s->F, y, n, K, s->gh, nt);
        size_t nb = draw_bag(s, o->subsample, o->seed, round);
        for (int k = 0; k < K; k++) {
            uint64_t rng = o->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(round * K + k + 1));
            sample_features(&s->gr, o->colsample, &rng);
            cairn_gbdt__grow(&s->gr, s->bag, nb, s->gh[k]);
            update_train(&s->gr, s->F, K, k, nb < n ? s->in_bag : NULL, nt);
            int rc = add_grown_tree(m, &s->gr, k);
            if (rc) return rc;
            if (vX) update_valid(m, cairn_trees_n_trees(m) - 1, s->xv, nv, nf, s->V, K, nt);
        }
        double vm = vX ? metric(o, s->V, vy, nv, K) : NAN;
        if (vX && vm < best) {
            best = vm;
            best_round = round;
        }
        int stop = 0;
        if (o->on_round) stop = o->on_round(round, metric(o, s->F, y, n, K), vm, o->payload);
        if (o->early_stopping_rounds > 0 && round - best_round >= o->early_stopping_rounds) {
            round++;
            break;
        }
        if (stop) {
            round++;
            break;
        }
    }
    if (o->early_stopping_rounds > 0 && best_round >= 0)
        cairn_trees_truncate(m, (best_round + 1) * K);
    if (info) {
        info->rounds_run = round;
        info->best_round = o->early_stopping_rounds > 0 && best_round >= 0 ? best_round : round - 1;
        info->best_valid_metric = vX && best_round >= 0 ? best : NAN;
    }
    return 0;
}

int cairn_gbdt_train(cairn_trees **out, const cairn_frame *X, const double *y,
                     const cairn_frame *valid_X, const double *valid_y, const cairn_gbdt_opts *opts,
                     cairn_gbdt_info *info)
{
    *out = NULL;
    if (!opts) return INVALID("gbdt needs options");
    int rc = check_opts(opts);
    if (!rc) rc = check_data(X, y, valid_X, valid_y, opts);
    if (rc) return rc;
    const int K = opts->objective == CAIRN_GBDT_MULTICLASS ? opts->num_class : 1;
    const int nt = opts->n_threads > 0 ? opts->n_threads : omp_get_num_procs();
    const size_t n = X->nrows;
    struct train_state s;
    memset(&s, 0, sizeof(s));
    cairn_trees *m = NULL;
    const char **names = cairn_malloc(sizeof(char *) * (size_t)X->ncols);
    for (int j = 0; j < X->ncols; j++)
        names[j] = X->cols[j].name;
    if ((rc = cairn_gbdt__bin(&s.d, X, opts->max_bins, opts->seed, nt))) goto cleanup;
    if ((rc = cairn_gbdt__grower_init(&s.gr, &s.d, opts, nt))) goto cleanup;
    if (valid_X && (rc = valid_matrix(X, valid_X, &s.xv))) goto cleanup;
    s.base = cairn_malloc(sizeof(double) * (size_t)K);
    base_score(opts, y, n, K, s.base);
    s.F = cairn_try_malloc(sizeof(double) * n * (size_t)K);
    s.gh = cairn_calloc((size_t)K, sizeof(float *));
    for (int k = 0; k < K && s.F; k++)
        if (!(s.gh[k] = cairn_try_malloc(sizeof(float) * 2 * n))) break;
    if (!s.F || !s.gh[K - 1]) {
        rc = cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_ML, "no memory for gradients");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(s.F + i * (size_t)K, s.base, sizeof(double) * (size_t)K);
    if (valid_X) {
        size_t nv = valid_X->nrows;
        s.V = cairn_malloc(sizeof(double) * (nv ? nv : 1) * (size_t)K);
        for (size_t i = 0; i < nv; i++)
            memcpy(s.V + i * (size_t)K, s.base, sizeof(double) * (size_t)K);
    }
    s.bag = cairn_malloc(sizeof(uint32_t) * n);
    s.in_bag = cairn_malloc(n);
    cairn_trees_transform tr = opts->objective == CAIRN_GBDT_REGRESSION ? CAIRN_TREES_IDENTITY
                               : opts->objective == CAIRN_GBDT_BINARY   ? CAIRN_TREES_SIGMOID
                                                                        : CAIRN_TREES_SOFTMAX;
    if ((rc = cairn_trees_new(&m, X->ncols, names, K, tr, s.base))) goto cleanup;
    rc = boost(&s, m, y, valid_X, valid_y, opts, K, nt, info);
cleanup:
    state_free(&s, K);
    cairn_free(names);
    if (rc) {
        cairn_trees_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
