/*
 * linear.c - linear regression: OLS, ridge, lasso and elastic net.
 *
 * Key idea: every variant is fitted on a transformed copy of the design
 * matrix (column-major, centred when there is an intercept or
 * standardization, divided by the population std when standardizing), where
 * the intercept drops out; coefficients are mapped back to the original scale
 * afterwards (w_j / s_j, b = mean(y) - sum_j coef_j mean_j). This is what
 * sklearn does internally (centering) and what a StandardScaler pipeline does
 * (scaling), so the optima coincide.
 *
 * OLS and ridge solve (X'X + alpha I) w = X'y by Cholesky; when that matrix
 * is singular (a constant or collinear column) a Jacobi eigen-decomposition
 * gives the minimum-norm solution, like sklearn's lstsq. Lasso and elastic net
 * use sklearn's cyclic coordinate descent on the n-scaled objective
 *   1/2 ||y - Xw||^2 + l1 ||w||_1 + l2/2 ||w||^2,  l1 = n alpha rho,
 *   l2 = n alpha (1 - rho),
 * stopping on the duality gap <= tol ||y||^2, checked when the largest
 * coordinate change of a sweep is small relative to the largest coordinate.
 */
#include <math.h>
#include <string.h>

#include "cairn/linear.h"
#include "ml_dense.h"

struct cairn_linear {
    int d;
    double *coef; /* (d) on the original scale */
    double intercept;
    char **names; /* (d) feature names, for predict-time checks */
    int n_iter;
    bool converged;
};

static int check_opts(const cairn_frame *x, const double *y, const cairn_linear_opts *o)
{
    if (!x || !y || !o || o->version != CAIRN_LINEAR_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "linear: bad arguments");
    if (x->nrows < 2 || x->ncols < 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "linear: need at least 2 rows and 1 column, got %zu x %d", x->nrows,
                               x->ncols);
    if ((int)o->penalty < CAIRN_LINEAR_OLS || (int)o->penalty > CAIRN_LINEAR_ELASTICNET)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "linear: unknown penalty %d",
                               (int)o->penalty);
    if (!(o->alpha >= 0) || !isfinite(o->alpha) || !(o->l1_ratio >= 0 && o->l1_ratio <= 1))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "linear: alpha must be >= 0 and l1_ratio in [0, 1]");
    if (o->max_iter < 1 || !(o->tol >= 0))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "linear: max_iter must be >= 1 and tol >= 0");
    for (size_t i = 0; i < x->nrows; i++)
        if (!isfinite(y[i]))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "linear: target is missing or infinite at row %zu", i);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Dense symmetric solvers (d is small: the number of features)           */
/* ---------------------------------------------------------------------- */

/* In-place Cholesky of the (d, d) row-major SPD matrix a (lower triangle
 * L). Returns false when a pivot is not clearly positive (singular matrix). */
static bool cholesky(double *a, int d)
{
    double maxdiag = 0;
    for (int i = 0; i < d; i++)
        maxdiag = fmax(maxdiag, a[i * d + i]);
    for (int j = 0; j < d; j++) {
        double s = a[j * d + j];
        for (int k = 0; k < j; k++)
            s -= a[j * d + k] * a[j * d + k];
        if (!(s > 1e-12 * maxdiag) || s <= 0) return false;
        double l = sqrt(s);
        a[j * d + j] = l;
        for (int i = j + 1; i < d; i++) {
            double t = a[i * d + j];
            for (int k = 0; k < j; k++)
                t -= a[i * d + k] * a[j * d + k];
            a[i * d + j] = t / l;
        }
    }
    return true;
}

/* Solves L L' x = b in place (b becomes x). */
static void cholesky_solve(const double *l, int d, double *b)
{
    for (int i = 0; i < d; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++)
            s -= l[i * d + k] * b[k];
        b[i] = s / l[i * d + i];
    }
    for (int i = d - 1; i >= 0; i--) {
        double s = b[i];
        for (int k = i + 1; k < d; k++)
            s -= l[k * d + i] * b[k];
        b[i] = s / l[i * d + i];
    }
}

/* Cyclic Jacobi eigen-decomposition of the symmetric (d, d) row-major a:
 * on return a's diagonal holds the eigenvalues and v (d, d) the
 * eigenvectors as columns. */
static void jacobi_eigen(double *a, double *v, int d)
{
    for (int i = 0; i < d * d; i++)
        v[i] = 0;
    for (int i = 0; i < d; i++)
        v[i * d + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, tot = 0;
        for (int p = 0; p < d; p++)
            for (int q = 0; q < d; q++) {
                double t = a[p * d + q] * a[p * d + q];
                tot += t;
                if (p != q) off += t;
            }
        if (off <= 1e-30 * tot || off == 0) break;
        for (int p = 0; p < d - 1; p++)
            for (int q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (apq == 0) continue;
                double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < d; k++) { /* columns p, q */
                    double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for (int k = 0; k < d; k++) { /* rows p, q */
                    double apk = a[p * d + k], aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < d; k++) {
                    double vkp = v[k * d + p], vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
}

/* Minimum-norm solution of the symmetric PSD system g w = b (g is
 * destroyed): eigenvalues below 1e-12 of the largest are treated as 0. */
static void pinv_solve(double *g, int d, const double *b, double *w)
{
    double *v = cairn_malloc(sizeof(double) * (size_t)d * (size_t)d);
    jacobi_eigen(g, v, d);
    double lmax = 0;
    for (int i = 0; i < d; i++)
        lmax = fmax(lmax, g[i * d + i]);
    for (int j = 0; j < d; j++)
        w[j] = 0;
    for (int e = 0; e < d; e++) {
        double lam = g[e * d + e];
        if (!(lam > 1e-12 * lmax)) continue;
        double proj = 0; /* v_e' b / lambda */
        for (int k = 0; k < d; k++)
            proj += v[k * d + e] * b[k];
        proj /= lam;
        for (int j = 0; j < d; j++)
            w[j] += proj * v[j * d + e];
    }
    cairn_free(v);
}

/* Ridge / OLS on the transformed (n, d) column-major a and target y:
 * (a'a + alpha I) w = a'y. */
static void solve_ridge(const double *a, size_t n, int d, const double *y, double alpha, double *w)
{
    double *g = cairn_malloc(sizeof(double) * (size_t)d * (size_t)d);
    double *b = cairn_malloc(sizeof(double) * (size_t)d);
    /* Each entry is one sequential dot product: deterministic in any thread count. */
#pragma omp parallel for schedule(dynamic)
    for (int j = 0; j < d; j++) {
        const double *cj = a + (size_t)j * n;
        for (int k = 0; k <= j; k++) {
            const double *ck = a + (size_t)k * n;
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += cj[i] * ck[i];
            g[j * d + k] = g[k * d + j] = s;
        }
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += cj[i] * y[i];
        b[j] = s;
    }
    for (int j = 0; j < d; j++)
        g[j * d + j] += alpha;
    double *l = cairn_malloc(sizeof(double) * (size_t)d * (size_t)d);
    memcpy(l, g, sizeof(double) * (size_t)d * (size_t)d);
    if (cholesky(l, d)) {
        memcpy(w, b, sizeof(double) * (size_t)d);
        cholesky_solve(l, d, w);
    } else {
        pinv_solve(g, d, b, w);
    }
    cairn_free(l);
    cairn_free(b);
    cairn_free(g);
}

/* ---------------------------------------------------------------------- */
/* Coordinate descent (lasso, elastic net)                                */
/* ---------------------------------------------------------------------- */

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Duality gap of 1/2||y - aw||^2 + l1||w||_1 + l2/2||w||^2 at w with
 * residual r = y - aw (sklearn's enet_coordinate_descent formula). */
static double enet_gap(const double *a, size_t n, int d, const double *y, const double *w,
                       const double *r, double l1, double l2)
{
    double dual_norm = 0, w_norm2 = 0, l1_norm = 0;
    for (int j = 0; j < d; j++) {
        double xta = dot(a + (size_t)j * n, r, n) - l2 * w[j];
        dual_norm = fmax(dual_norm, fabs(xta));
        w_norm2 += w[j] * w[j];
        l1_norm += fabs(w[j]);
    }
    double r_norm2 = dot(r, r, n), cst, gap;
    if (dual_norm > l1) {
        cst = l1 / dual_norm;
        gap = 0.5 * (r_norm2 + r_norm2 * cst * cst);
    } else {
        cst = 1.0;
        gap = r_norm2;
    }
    gap += l1 * l1_norm - cst * dot(r, y, n) + 0.5 * l2 * (1 + cst * cst) * w_norm2;
    return gap;
}

/* Cyclic coordinate descent from w = 0. Sets *iters and returns whether the
 * gap rule was met. */
static bool solve_enet(const double *a, size_t n, int d, const double *y, double l1, double l2,
                       int max_iter, double tol, double *w, int *iters)
{
    double *r = cairn_malloc(sizeof(double) * n);
    double *norm2 = cairn_malloc(sizeof(double) * (size_t)d);
    memcpy(r, y, sizeof(double) * n);
    for (int j = 0; j < d; j++) {
        w[j] = 0;
        norm2[j] = dot(a + (size_t)j * n, a + (size_t)j * n, n);
    }
    double gap_tol = tol * dot(y, y, n);
    bool converged = false;
    int it;
    for (it = 0; it < max_iter; it++) {
        double w_max = 0, dw_max = 0;
        for (int j = 0; j < d; j++) {
            if (norm2[j] == 0) continue;
            const double *c = a + (size_t)j * n;
            double wj = w[j];
            double rho = dot(c, r, n) + wj * norm2[j];
            double z = fabs(rho) - l1;
            double nw = z > 0 ? copysign(z, rho) / (norm2[j] + l2) : 0.0;
            if (nw != wj) {
                double delta = wj - nw;
                for (size_t i = 0; i < n; i++)
                    r[i] += delta * c[i];
                w[j] = nw;
            }
            dw_max = fmax(dw_max, fabs(nw - wj));
            w_max = fmax(w_max, fabs(nw));
        }
        if (w_max == 0 || dw_max / w_max <= tol || it == max_iter - 1) {
            if (enet_gap(a, n, d, y, w, r, l1, l2) <= gap_tol) {
                converged = true;
                it++;
                break;
            }
        }
    }
    *iters = it;
    cairn_free(norm2);
    cairn_free(r);
    return converged;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                             */
/* ---------------------------------------------------------------------- */

int cairn_linear_fit(cairn_linear **out, const cairn_frame *x, const double *y,
                     const cairn_linear_opts *opts)
{
    if (!out) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "linear: bad arguments");
    *out = NULL;
    int rc = check_opts(x, y, opts);
    if (rc) return rc;
    double *a;
    if ((rc = cairn_ml__design_matrix(x, "linear models", &a))) return rc;

    size_t n = x->nrows;
    int d = x->ncols;
    bool center = opts->fit_intercept || opts->standardize;
    double *mean = cairn_calloc((size_t)d, sizeof(double));
    double *scale = cairn_malloc(sizeof(double) * (size_t)d);
    double *yc = cairn_malloc(sizeof(double) * n);
    double *w = cairn_calloc((size_t)d, sizeof(double));

    /* centre and scale each column of a in place */
#pragma omp parallel for schedule(static)
    for (int j = 0; j < d; j++) {
        double *c = a + (size_t)j * n;
        double m = 0, v = 0;
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
            /* a constant column keeps scale 1 (StandardScaler's rule): no 0/0 */
            if (v > 10 * 2.220446049250313e-16 * fmax(fabs(m), 1.0)) scale[j] = v;
            for (size_t i = 0; i < n; i++)
                c[i] /= scale[j];
        }
        mean[j] = m;
    }
    double ymean = 0;
    if (opts->fit_intercept) {
        for (size_t i = 0; i < n; i++)
            ymean += y[i];
        ymean /= (double)n;
    }
    for (size_t i = 0; i < n; i++)
        yc[i] = y[i] - ymean;

    cairn_linear *m = cairn_calloc(1, sizeof(*m));
    m->d = d;
    m->converged = true;
    switch (opts->penalty) {
    case CAIRN_LINEAR_OLS:
        solve_ridge(a, n, d, yc, 0.0, w);
        break;
    case CAIRN_LINEAR_RIDGE:
        solve_ridge(a, n, d, yc, opts->alpha, w);
        break;
    case CAIRN_LINEAR_LASSO:
    case CAIRN_LINEAR_ELASTICNET: {
        double rho = opts->penalty == CAIRN_LINEAR_LASSO ? 1.0 : opts->l1_ratio;
        double l1 = opts->alpha * rho * (double)n, l2 = opts->alpha * (1 - rho) * (double)n;
        m->converged = solve_enet(a, n, d, yc, l1, l2, opts->max_iter, opts->tol, w, &m->n_iter);
        break;
    }
    }

    m->coef = cairn_malloc(sizeof(double) * (size_t)d);
    m->names = cairn_calloc((size_t)d, sizeof(char *));
    m->intercept = ymean;
    for (int j = 0; j < d; j++) {
        m->coef[j] = w[j] / scale[j];
        m->intercept -= m->coef[j] * mean[j];
        m->names[j] = cairn_strdup(x->cols[j].name);
    }
    cairn_free(w);
    cairn_free(yc);
    cairn_free(scale);
    cairn_free(mean);
    cairn_free(a);
    *out = m;
    return 0;
}

/* Checks that x has the model's columns, numeric and finite. */
static int check_predict_frame(const cairn_frame *x, int d, char *const *names)
{
    if (x->ncols != d)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                               "model has %d features, frame has %d columns", d, x->ncols);
    for (int j = 0; j < d; j++) {
        const cairn_column *c = &x->cols[j];
        if (strcmp(c->name, names[j]))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML,
                                   "column %d is '%s', the model expects '%s'", j, c->name,
                                   names[j]);
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

int cairn_linear_predict(const cairn_linear *m, const cairn_frame *x, double *out)
{
    if (!m || !x || !out)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_ML, "linear: bad arguments");
    int rc = check_predict_frame(x, m->d, m->names);
    if (rc) return rc;
    for (size_t i = 0; i < x->nrows; i++)
        out[i] = m->intercept;
    for (int j = 0; j < m->d; j++) {
        const cairn_column *c = &x->cols[j];
        double w = m->coef[j];
        if (c->type == CAIRN_COL_F64)
            for (size_t i = 0; i < x->nrows; i++)
                out[i] += w * c->f64[i];
        else
            for (size_t i = 0; i < x->nrows; i++)
                out[i] += w * (double)c->f32[i];
    }
    return 0;
}

int cairn_linear_nfeatures(const cairn_linear *m)
{
    return m->d;
}
const double *cairn_linear_coef(const cairn_linear *m)
{
    return m->coef;
}
double cairn_linear_intercept(const cairn_linear *m)
{
    return m->intercept;
}
int cairn_linear_n_iter(const cairn_linear *m)
{
    return m->n_iter;
}
bool cairn_linear_converged(const cairn_linear *m)
{
    return m->converged;
}

void cairn_linear_free(cairn_linear *m)
{
    if (!m) return;
    for (int j = 0; j < m->d; j++)
        cairn_free(m->names[j]);
    cairn_free(m->names);
    cairn_free(m->coef);
    cairn_free(m);
}
