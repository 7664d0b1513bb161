/*
 * monitor_internal.h - declarations shared by the monitor module's files
 * (not public API): the sketch's layout, the p-value helpers, and the
 * piecewise-linear distribution ("knots") the sketch statistics use.
 */
#ifndef CAIRN_MONITOR_INTERNAL_H
#define CAIRN_MONITOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/drift.h"

/* |z| below this many scales goes to the zero bucket; above ZMAX to the
 * outermost buckets. */
#define CAIRN_SKETCH_ZMIN 1e-3
#define CAIRN_SKETCH_ZMAX 1e6

struct cairn_sketch {
    double alpha, center, scale;
    double inv_scale, inv_lng; /* 1 / scale, 1 / ln(gamma) */
    double lng;                /* ln(gamma) */
    int kmin;                  /* bucket exponent of ZMIN */
    int nk;                    /* buckets per sign; positions 0 .. 2 nk */
    uint64_t *buckets;         /* (2 nk + 1): negative (descending |z|), zero, positive */
    uint64_t count, missing;
    double min, max, sum, sumsq;
    int n_edges;               /* 0 or >= 2 */
    double *edges;             /* (n_edges) */
    uint64_t *bins;            /* (n_edges - 1) */
    uint64_t below, above;     /* values outside [edges[0], edges[last]] */
};

/* A distribution as a piecewise-linear quantile function: knots (p[i], x[i])
 * with p non-decreasing from 0 to 1 and x non-decreasing; between two knots
 * with p[i] < p[i+1] Q is linear, equal p's make a jump. A sorted sample of
 * n values is the step function (i/n, v_i), ((i+1)/n, v_i). */
struct cairn_knots {
    size_t n;
    double *p, *x;
};

int cairn_sketch__knots(const cairn_sketch *s, struct cairn_knots *out);
int cairn_sketch__sample_knots(const double *v, size_t n, struct cairn_knots *out);
void cairn_sketch__knots_free(struct cairn_knots *k);
/* sup_x |F_a(x) - F_b(x)| and the integral of |Q_a - Q_b| over p. */
double cairn_drift__knots_ks(const struct cairn_knots *a, const struct cairn_knots *b);
double cairn_drift__knots_w1(const struct cairn_knots *a, const struct cairn_knots *b);
/* Lower and upper value bounds of bucket position pos. */
void cairn_sketch__bucket_range(const cairn_sketch *s, int pos, double *lo, double *hi);

double cairn_drift__ks_p(uint64_t n1, uint64_t n2, double *d, cairn_drift_ks_method method);
double cairn_drift__smirnov(uint64_t n, double x);
double cairn_drift__gammaincc(double a, double x);
void cairn_drift__matmul(double *out, const double *a, const double *b, int m);
/* Sorts v ascending (radix sort on the IEEE bits, NaN-free input). */
int cairn_drift__sort(double *v, size_t n);
/* The numpy-1.24 linear quantile of a sorted array. */
double cairn_drift__quantile_sorted(const double *v, size_t n, double q);

#endif
