/*
 * profile_internal.h - the profile's in-memory layout, shared by the builder
 * and accessors (profile.c) and the JSON writer and reader (profile_json.c).
 */
#ifndef CAIRN_PROFILE_INTERNAL_H
#define CAIRN_PROFILE_INTERNAL_H

#include <stdbool.h>

#include "cairn/profile.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_ML, __VA_ARGS__)
#define MAX_BINS 10000
#define MAX_CATS 1000000
#define MAX_SAMPLE 1000000
#define MAX_OUTPUTS 100000

struct num_summary {
    uint64_t count, missing;
    double missing_rate, mean, std, min, max; /* NaN when count == 0 */
    int n_edges;
    double *edges;        /* (n_edges) */
    uint64_t *bin_counts; /* (n_edges - 1) */
    int n_hist;
    double *hist_edges;    /* (n_hist) */
    uint64_t *hist_counts; /* (n_hist - 1) */
    int n_sample;
    double *sample; /* (n_sample), ascending */
};

struct cat_summary {
    uint64_t count, missing, n_distinct, other_count, other_distinct;
    double missing_rate;
    int n_cats;
    char **names;     /* (n_cats), owned */
    uint64_t *counts; /* (n_cats) */
};

struct cairn_profile_feature {
    char *name; /* owned */
    cairn_profile_type type;
    struct num_summary num; /* type == CAIRN_PROFILE_NUMERIC */
    struct cat_summary cat; /* type == CAIRN_PROFILE_CATEGORICAL */
};

struct cairn_profile {
    uint64_t n_rows;
    cairn_profile_opts opts;
    int n_features;
    struct cairn_profile_feature *features; /* (n_features) */
    int n_predictions;
    struct cairn_profile_feature *predictions; /* (n_predictions) */
    int *by_name;                              /* (n_features) indices sorted by name */
};


/* Validates options; messages name `where`. */
int cairn_profile__check_opts(const cairn_profile_opts *o, const char *where);
/* Builds the sorted name index behind cairn_profile_find; CAIRN_EINVALID on duplicates. */
int cairn_profile__index_names(cairn_profile *p);

#endif
