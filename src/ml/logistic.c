/*
 * logistic.c - binary and multinomial logistic regression, L2 (L-BFGS) or
 * L1 (FISTA with adaptive restart).
 *
 * Key idea: both solvers minimize the same smooth part, the mean log-loss
 *   f(theta) = 1/n sum_i loss_i(theta) [+ 1/(2 C n) ||W||^2 for L2],
 * which is sklearn's objective C sum loss + penalty divided by C n, so the
 * optimum is sklearn's and tolerances are independent of n. Features are
 * copied column-major and centred when there is an intercept (a pure
 * reparameterization: the intercept is unpenalized) or standardized; the
 * coefficients are mapped back to the original scale at the end.
 *
 * Determinism with OpenMP: the linear predictor is computed over fixed
 * blocks of rows (each row's sum has a fixed order) and the per-block losses
 * are added in block order; each gradient entry is one sequential dot
 * product over rows. No result depends on the number of threads.
 *
 * The L-BFGS line search accepts a step on the Armijo rule or, when f has
 * stopped changing above rounding, on a decrease of |directional
 * derivative| (convexity makes that progress); this lets the gradient reach
 * 1e-10 although f cannot resolve such small decreases.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/linear.h"
#include "ml_dense.h"

#define BLOCK 1024 /* rows per deterministic reduction block */
#define HIST 10    /* L-BFGS memory */

struct cairn_logistic {
    int d, nclasses, rows; /* rows = 1 (binary) or nclasses */
    int32_t *classes;      /* (nclasses) sorted labels */
    double *coef;          /* (rows, d) row-major, original scale */
    double *intercept;     /* (rows) */
    char **names;          /* (d) */
    int n_iter;
    bool converged;
};

/* The fitting problem on the transformed matrix. */
struct problem {
    const double *a; /* (n, d) column-major */
    size_t n;
    int d, d1, K;     /* d1 = d + intercept; K = coefficient rows */
    const int32_t *y; /* (n) class index in [0, nclasses) */
    double lam;       /* L2 weight 1/(C n), 0 for L1 */
    bool icpt;
    double *z;   /* (n, K) column-major: linear predictor, then residual p - y */
    double *blk; /* (nblocks) per-block loss sums */
};

static double log1pexp(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static double sigmoid(double z)
{
    if (z >= 0) return 1 / (1 + exp(-z));
    double e = exp(z);
    return e / (1 + e);
}

/* f(theta) and its gradient g (both (K, d1) row-major; the intercept is
 * column d). Overwrites p->z with residuals. */
static double objective(const struct problem *p, const double *theta, double *g)
{
    size_t n = p->n, nblk = (n + BLOCK - 1) / BLOCK;
    int d = p->d, d1 = p->d1, K = p->K;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        size_t lo = b * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
        for (int k = 0; k < K; k++) {
            double *zk = p->z + (size_t)k * n;
            const double *w = theta + (size_t)k * d1;
            double b0 = p->icpt ? w[d] : 0.0;
            for (size_t i = lo; i < hi; i++)
                zk[i] = b0;
            for (int j = 0; j < d; j++) {
                const double *aj = p->a + (size_t)j * n;
                double wj = w[j];
                if (wj == 0) continue;
                for (size_t i = lo; i < hi; i++)
                    zk[i] += wj * aj[i];
            }
        }
        double loss = 0;
        if (K == 1) {
            for (size_t i = lo; i < hi; i++) {
                double zi = p->z[i], yi = p->y[i];
                loss += log1pexp(zi) - yi * zi;
                p->z[i] = sigmoid(zi) - yi;
            }
        } else {
            for (size_t i = lo; i < hi; i++) {
                double m = -INFINITY, s = 0;
                for (int k = 0; k < K; k++)
                    m = fmax(m, p->z[(size_t)k * n + i]);
                for (int k = 0; k < K; k++)
                    s += exp(p->z[(size_t)k * n + i] - m);
                double lse = m + log(s);
                loss += lse - p->z[(size_t)p->y[i] * n + i];
                for (int k = 0; k < K; k++) {
                    double *zki = &p->z[(size_t)k * n + i];
                    *zki = exp(*zki - lse) - (p->y[i] == k ? 1.0 : 0.0);
                }
            }
        }
        p->blk[b] = loss;
    }
    double f = 0;
    for (size_t b = 0; b < nblk; b++)
        f += p->blk[b];
    f /= (double)n;
    double reg = 0;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < d; j++)
            reg += theta[(size_t)k * d1 + j] * theta[(size_t)k * d1 + j];
    f += 0.5 * p->lam * reg;

#pragma omp parallel for schedule(static)
    for (int j = 0; j < d1; j++) {
        const double *aj = j < d ? p->a + (size_t)j * n : NULL;
        for (int k = 0; k < K; k++) {
            const double *rk = p->z + (size_t)k * n;
            double s = 0;
            if (aj)
                for (size_t i = 0; i < n; i++)
                    s += rk[i] * aj[i];
            else
                for (size_t i = 0; i < n; i++)
                    s += rk[i];
            s /= (double)n;
            if (aj) s += p->lam * theta[(size_t)k * d1 + j];
            g[(size_t)k * d1 + j] = s;
        }
    }
    return f;
}

static double vdot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double maxabs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* L-BFGS from theta = 0 until max|g| <= tol. Returns whether it converged. */
static bool solve_lbfgs(const struct problem *p, double *x, int max_iter, double tol, int *iters)
{
    size_t np = (size_t)p->K * (size_t)p->d1;
    double *g = cairn_malloc(sizeof(double) * np), *xn = cairn_malloc(sizeof(double) * np);
    double *gn = cairn_malloc(sizeof(double) * np), *dir = cairn_malloc(sizeof(double) * np);
    double *s = cairn_malloc(sizeof(double) * np * HIST),
           *yv = cairn_malloc(sizeof(double) * np * HIST);
    double rho[HIST], al[HIST];
    int nh = 0, head = 0; /* history entries, next slot */
    memset(x, 0, sizeof(double) * np);
    double f = objective(p, x, g);
    bool converged = maxabs(g, np) <= tol;
    int it = 0;
    while (!converged && it < max_iter) {
        it++;
        /* two-loop recursion: dir = -H g */
        for (size_t i = 0; i < np; i++)
            dir[i] = -g[i];
        for (int h = 0; h < nh; h++) {
            int idx = (head - 1 - h + HIST) % HIST;
            al[idx] = rho[idx] * vdot(s + idx * np, dir, np);
            for (size_t i = 0; i < np; i++)
                dir[i] -= al[idx] * yv[idx * np + i];
        }
        if (nh) {
            int last = (head - 1 + HIST) % HIST;
            double gamma =
                vdot(s + last * np, yv + last * np, np) / vdot(yv + last * np, yv + last * np, np);
            for (size_t i = 0; i < np; i++)
                dir[i] *= gamma;
        }
        for (int h = nh - 1; h >= 0; h--) {
            int idx = (head - 1 - h + HIST) % HIST;
            double beta = rho[idx] * vdot(yv + idx * np, dir, np);
            for (size_t i = 0; i < np; i++)
                dir[i] += (al[idx] - beta) * s[idx * np + i];
        }
        double gd = vdot(g, dir, np);
        if (!(gd < 0)) { /* not a descent direction: drop the history */
            nh = 0;
            for (size_t i = 0; i < np; i++)
                dir[i] = -g[i];
            gd = vdot(g, dir, np);
        }
        double step = nh ? 1.0 : fmin(1.0, 1.0 / sqrt(vdot(g, g, np)));
        bool ok = false;
        double fn = f;
        for (int ls = 0; ls < 60; ls++) {
            for (size_t i = 0; i < np; i++)
                xn[i] = x[i] + step * dir[i];
            fn = objective(p, xn, gn);
            if (fn <= f + 1e-4 * step * gd) {
                ok = true;
                break;
            }
            /* f no longer resolves the decrease: accept on the slope */
            if (fn - f <= 1e-13 * fabs(f) && fabs(vdot(gn, dir, np)) < fabs(gd)) {
                ok = true;
                break;
            }
            double q = -gd * step * step / (2 * (fn - f - gd * step));
            step = isfinite(q) ? fmin(fmax(q, 0.1 * step), 0.5 * step) : 0.5 * step;
        }
        if (!ok) break;
        double *sh = s + head * np, *yh = yv + head * np;
        for (size_t i = 0; i < np; i++) {
            sh[i] = xn[i] - x[i];
            yh[i] = gn[i] - g[i];
        }
        double sy = vdot(sh, yh, np);
        if (sy > 1e-300) {
            rho[head] = 1 / sy;
            head = (head + 1) % HIST;
            if (nh < HIST) nh++;
        }
        memcpy(x, xn, sizeof(double) * np);
        memcpy(g, gn, sizeof(double) * np);
        f = fn;
        converged = maxabs(g, np) <= tol;
    }
    *iters = it;
    cairn_free(g);
    cairn_free(xn);
    cairn_free(gn);
    cairn_free(dir);
    cairn_free(s);
    cairn_free(yv);
    return converged;
}

/* Upper bound of the largest eigenvalue of A~'A~ / n (A~ = [a, 1] with the
 * intercept column): power iteration on the small Gram matrix, inflated by
 * 10% and capped by Gershgorin's bound, which always holds. */
static double gram_norm(const struct problem *p)
{
    int d1 = p->d1, d = p->d;
    size_t n = p->n;
    double *gm = cairn_malloc(sizeof(double) * (size_t)d1 * (size_t)d1);
#pragma omp parallel for schedule(dynamic)
    for (int j = 0; j < d1; j++)
        for (int k = 0; k <= j; k++) {
            double s = 0;
            if (j < d && k < d)
                s = vdot(p->a + (size_t)j * n, p->a + (size_t)k * n, n);
            else if (j < d || k < d) {
                const double *c = p->a + (size_t)(j < d ? j : k) * n;
                for (size_t i = 0; i < n; i++)
                    s += c[i];
            } else
                s = (double)n;
            gm[j * d1 + k] = gm[k * d1 + j] = s / (double)n;
        }
    double gersh = 0;
    for (int j = 0; j < d1; j++) {
        double r = 0;
        for (int k = 0; k < d1; k++)
            r += fabs(gm[j * d1 + k]);
        gersh = fmax(gersh, r);
    }
    double *v = cairn_malloc(sizeof(double) * (size_t)d1),
           *w = cairn_malloc(sizeof(double) * (size_t)d1);
    for (int j = 0; j < d1; j++)
        v[j] = 1.0 + 0.01 * j;
    double lam = 0;
    for (int it = 0; it < 1000; it++) {
        for (int j = 0; j < d1; j++)
            w[j] = vdot(gm + (size_t)j * d1, v, (size_t)d1);
        double nv = sqrt(vdot(w, w, (size_t)d1));
        if (nv == 0) break;
        lam = nv / sqrt(vdot(v, v, (size_t)d1));
        for (int j = 0; j < d1; j++)
            v[j] = w[j] / nv;
    }
    cairn_free(v);
    cairn_free(w);
    cairn_free(gm);
    return fmin(1.1 * lam, gersh);
}

/* FISTA with adaptive (gradient) restart for f + lam1 ||W||_1 from 0, with
 * the fixed step 1/L where L bounds the Lipschitz constant of grad f. Stops
 * when the gradient mapping's max-abs is <= tol. */
static bool solve_fista(const struct problem *p, double lam1, double *x, int max_iter, double tol,
                        int *iters)
{
    size_t np = (size_t)p->K * (size_t)p->d1;
    /* Hessian of the log-loss: <= 1/4 (binary), <= 1/2 (softmax) times A~'A~/n */
    double lip = gram_norm(p) * (p->K == 1 ? 0.25 : 0.5);
    if (!(lip > 0)) lip = 1;
    double *yk = cairn_calloc(np, sizeof(double)), *g = cairn_malloc(sizeof(double) * np);
    double *xn = cairn_malloc(sizeof(double) * np);
    memset(x, 0, sizeof(double) * np);
    double t = 1, thr = lam1 / lip;
    bool converged = false;
    int it;
    for (it = 0; it < max_iter; it++) {
        objective(p, yk, g);
        double gmap = 0, restart = 0;
        for (size_t i = 0; i < np; i++) {
            double u = yk[i] - g[i] / lip;
            bool is_icpt = p->icpt && (int)(i % (size_t)p->d1) == p->d;
            if (!is_icpt) u = fabs(u) > thr ? copysign(fabs(u) - thr, u) : 0.0;
            xn[i] = u;
            gmap = fmax(gmap, fabs(yk[i] - u));
            restart += (yk[i] - u) * (u - x[i]);
        }
        if (gmap * lip <= tol) {
            memcpy(x, xn, sizeof(double) * np);
            converged = true;
            it++;
            break;
        }
        if (restart > 0) {
            t = 1;
            memcpy(yk, xn, sizeof(double) * np);
        } else {
            double tn = 0.5 * (1 + sqrt(1 + 4 * t * t)), mom = (t - 1) / tn;
            for (size_t i = 0; i < np; i++)
                yk[i] = xn[i] + mom * (xn[i] - x[i]);
            t = tn;
        }
        memcpy(x, xn, sizeof(double) * np);
    }
    *iters = it;
    cairn_free(yk);
    cairn_free(g);
    cairn_free(xn);
    return converged;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct labels of y (n) into *classes (owned by the caller) and
 * each row's class index into idx (n). Returns the number of classes. */
static int find_classes(const int32_t *y, size_t n, int32_t **classes, int32_t *idx)
{
    int32_t *s = cairn_malloc(sizeof(int32_t) * n);
    memcpy(s, y, sizeof(int32_t) * n);
    qsort(s, n, sizeof(int32_t), cmp_i32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s[i] != s[k - 1]) s[k++] = s[i];
    for (size_t i = 0; i < n; i++) {
        const int32_t *hit = bsearch(&y[i], s, k, sizeof(int32_t), cmp_i32);
        idx[i] = (int32_t)(hit - s);
    }
    *classes = s;
    return (int)k;
}

static int check_opts(const cairn_frame *x, const int32_t *y, const cairn_logistic_opts *o)
{
    if (!x || !y || !o || o->version != CAIRN_LOGISTIC_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "logistic: bad arguments");
    if (x->nrows < 2 || x->ncols < 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "logistic: need at least 2 rows and 1 column, got %zu x %d",
                               x->nrows, x->ncols);
    if (o->penalty != CAIRN_LOGISTIC_L2 && o->penalty != CAIRN_LOGISTIC_L1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "logistic: unknown penalty %d",
                               (int)o->penalty);
    if (!(o->C > 0) || !isfinite(o->C) || o->max_iter < 1 || !(o->tol >= 0))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "logistic: C must be > 0, max_iter >= 1 and tol >= 0");
    return 0;
}

int cairn_logistic_fit(cairn_logistic **out, const cairn_frame *x, const int32_t *y,
                       const cairn_logistic_opts *opts)
{
    if (!out) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "logistic: bad arguments");
    *out = NULL;
    int rc = check_opts(x, y, opts);
    if (rc) return rc;
    size_t n = x->nrows;
    int d = x->ncols;
    int32_t *idx = cairn_malloc(sizeof(int32_t) * n), *classes = NULL;
    int nc = find_classes(y, n, &classes, idx);
    if (nc < 2) {
        cairn_free(idx);
        cairn_free(classes);
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "logistic: need at least 2 classes, the target has %d", nc);
    }
    double *a;
    if ((rc = cairn_ml__design_matrix(x, "logistic regression models", &a))) {
        cairn_free(idx);
        cairn_free(classes);
        return rc;
    }
    bool center = opts->fit_intercept || opts->standardize;
    double *mean = cairn_calloc((size_t)d, sizeof(double)),
           *scale = cairn_malloc(sizeof(double) * (size_t)d);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < d; j++) {
        double *c = a + (size_t)j * n, m = 0, v = 0;
        if (center) {
            for (size_t i = 0; i < n; i++)
                m += c[i];
            m /= (double)n;
            for (size_t i = 0; i < n; i++)
                c[i] -= m;
        }
        scale[j] = 1;
        if (opts->standardize) {
            for (size_t i = 0; i < n; i++)
                v += c[i] * c[i];
            v = sqrt(v / (double)n);
            if (v > 10 * 2.220446049250313e-16 * fmax(fabs(m), 1.0)) scale[j] = v; /* constant: 1 */
            for (size_t i = 0; i < n; i++)
                c[i] /= scale[j];
        }
        mean[j] = m;
    }

    struct problem p = {.a = a,
                        .n = n,
                        .d = d,
                        .d1 = d + (opts->fit_intercept ? 1 : 0),
                        .K = nc == 2 ? 1 : nc,
                        .y = idx,
                        .icpt = opts->fit_intercept};
    p.z = cairn_malloc(sizeof(double) * n * (size_t)p.K);
    p.blk = cairn_malloc(sizeof(double) * ((n + BLOCK - 1) / BLOCK));
    size_t np = (size_t)p.K * (size_t)p.d1;
    double *theta = cairn_malloc(sizeof(double) * np);
    cairn_logistic *m = cairn_calloc(1, sizeof(*m));
    double cn = opts->C * (double)n;
    if (opts->penalty == CAIRN_LOGISTIC_L2) {
        p.lam = 1 / cn;
        m->converged = solve_lbfgs(&p, theta, opts->max_iter, opts->tol, &m->n_iter);
    } else {
        p.lam = 0;
        m->converged = solve_fista(&p, 1 / cn, theta, opts->max_iter, opts->tol, &m->n_iter);
    }

    m->d = d;
    m->nclasses = nc;
    m->rows = p.K;
    m->classes = classes;
    m->coef = cairn_malloc(sizeof(double) * (size_t)p.K * (size_t)d);
    m->intercept = cairn_calloc((size_t)p.K, sizeof(double));
    m->names = cairn_calloc((size_t)d, sizeof(char *));
    for (int j = 0; j < d; j++)
        m->names[j] = cairn_strdup(x->cols[j].name);
    double bmean = 0;
    for (int k = 0; k < p.K; k++) {
        double b = opts->fit_intercept ? theta[(size_t)k * p.d1 + d] : 0.0;
        for (int j = 0; j < d; j++) {
            double c = theta[(size_t)k * p.d1 + j] / scale[j];
            m->coef[(size_t)k * d + j] = c;
            b -= c * mean[j];
        }
        m->intercept[k] = b;
        bmean += b;
    }
    /* softmax intercepts are defined up to a common shift: sum them to 0, as
     * sklearn's solvers (started from 0) leave them */
    if (p.K > 1 && opts->fit_intercept)
        for (int k = 0; k < p.K; k++)
            m->intercept[k] -= bmean / p.K;

    cairn_free(theta);
    cairn_free(p.z);
    cairn_free(p.blk);
    cairn_free(mean);
    cairn_free(scale);
    cairn_free(a);
    cairn_free(idx);
    *out = m;
    return 0;
}

/* Checks the frame against the model's columns; CAIRN_EINVALID on mismatch,
 * categorical columns and non-finite values. */
static int check_predict_frame(const cairn_logistic *m, const cairn_frame *x)
{
    if (x->ncols != m->d)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "model has %d features, frame has %d columns", m->d, x->ncols);
    for (int j = 0; j < m->d; j++) {
        const cairn_column *c = &x->cols[j];
        if (strcmp(c->name, m->names[j]))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column %d is '%s', the model expects '%s'", j, c->name,
                                   m->names[j]);
        if (c->type == CAIRN_COL_CAT)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "column '%s' is categorical",
                                   c->name);
        for (size_t i = 0; i < x->nrows; i++)
            if (!isfinite(c->type == CAIRN_COL_F64 ? c->f64[i] : (double)c->f32[i]))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                       "column '%s' has a missing or infinite value at row %zu",
                                       c->name, i);
    }
    return 0;
}

/* Decision values of row i into z (rows). */
static void decision(const cairn_logistic *m, const cairn_frame *x, size_t i, double *z)
{
    for (int k = 0; k < m->rows; k++) {
        double s = m->intercept[k];
        const double *w = m->coef + (size_t)k * m->d;
        for (int j = 0; j < m->d; j++) {
            const cairn_column *c = &x->cols[j];
            s += w[j] * (c->type == CAIRN_COL_F64 ? c->f64[i] : (double)c->f32[i]);
        }
        z[k] = s;
    }
}

int cairn_logistic_predict_proba(const cairn_logistic *m, const cairn_frame *x, double *out)
{
    if (!m || !x || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "logistic: bad arguments");
    int rc = check_predict_frame(m, x);
    if (rc) return rc;
    int K = m->nclasses;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < x->nrows; i++) {
        double *o = out + i * (size_t)K;
        if (m->rows == 1) {
            double z;
            decision(m, x, i, &z);
            o[1] = sigmoid(z);
            o[0] = sigmoid(-z);
        } else {
            decision(m, x, i, o);
            double mx = -INFINITY, s = 0;
            for (int k = 0; k < K; k++)
                mx = fmax(mx, o[k]);
            for (int k = 0; k < K; k++)
                s += (o[k] = exp(o[k] - mx));
            for (int k = 0; k < K; k++)
                o[k] /= s;
        }
    }
    return 0;
}

int cairn_logistic_predict(const cairn_logistic *m, const cairn_frame *x, int32_t *out)
{
    if (!m || !x || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "logistic: bad arguments");
    int rc = check_predict_frame(m, x);
    if (rc) return rc;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < x->nrows; i++) {
        double zs[64], *z = m->rows <= 64 ? zs : cairn_malloc(sizeof(double) * (size_t)m->rows);
        decision(m, x, i, z);
        int best = 0;
        if (m->rows == 1)
            best = z[0] > 0 ? 1 : 0;
        else
            for (int k = 1; k < m->rows; k++)
                if (z[k] > z[best]) best = k;
        out[i] = m->classes[best];
        if (z != zs) cairn_free(z);
    }
    return 0;
}

int cairn_logistic_nfeatures(const cairn_logistic *m)
{
    return m->d;
}
int cairn_logistic_nclasses(const cairn_logistic *m)
{
    return m->nclasses;
}
const int32_t *cairn_logistic_classes(const cairn_logistic *m)
{
    return m->classes;
}
int cairn_logistic_ncoef_rows(const cairn_logistic *m)
{
    return m->rows;
}
const double *cairn_logistic_coef(const cairn_logistic *m)
{
    return m->coef;
}
const double *cairn_logistic_intercept(const cairn_logistic *m)
{
    return m->intercept;
}
int cairn_logistic_n_iter(const cairn_logistic *m)
{
    return m->n_iter;
}
bool cairn_logistic_converged(const cairn_logistic *m)
{
    return m->converged;
}

void cairn_logistic_free(cairn_logistic *m)
{
    if (!m) return;
    for (int j = 0; j < m->d; j++)
        cairn_free(m->names[j]);
    cairn_free(m->names);
    cairn_free(m->classes);
    cairn_free(m->coef);
    cairn_free(m->intercept);
    cairn_free(m);
}
