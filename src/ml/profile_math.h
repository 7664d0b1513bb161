/*
 * profile_math.h - the profile's binning arithmetic (profile.c), shared with
 * whatever must reproduce a profile's edges exactly (the streamed reference
 * builder of `cairn monitor drift`).
 */
#ifndef CAIRN_PROFILE_MATH_H
#define CAIRN_PROFILE_MATH_H

#include <stddef.h>

/* numpy.quantile(x, q, method="linear") of ascending x (n >= 1), with numpy
 * 1.24's arithmetic, bit for bit. */
double cairn_profile__quantile(const double *x, size_t n, double q);
/* The edge rule of quantile and histogram edges: min, then each candidate
 * strictly between the last kept edge and max, then max ([min, min] when
 * they are equal). edges has room for m + 2; returns how many. */
int cairn_profile__edges_finish(double min, double max, const double *cand, int m, double *edges);
/* The bin of v (edges[0] <= v <= edges[n-1], n >= 2): the largest i with
 * edges[i] <= v, the last bin closed. */
int cairn_profile__bin_of(const double *edges, int n, double v);
/* qsort comparator of doubles, ascending. */
int cairn_profile__cmp_double(const void *a, const void *b);

#endif
