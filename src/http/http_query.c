/*
 * http_query.c - lookup of query arguments, including repeated names and
 * the bracketed forms clients use for lists (`a=1&a=2`, `a[]=1&a[]=2`,
 * `a[0]=1&a[1]=2`).
 *
 * MHD has already split and percent-decoded the arguments; this file only
 * normalises names. Each argument's base length and index are computed once
 * when the table is built, so lookups are plain comparisons.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* Longest index accepted inside brackets; longer digit runs are plain names. */
#define INDEX_DIGITS_MAX 9

size_t cairn_http__query_base_len(const char *key, size_t len, long *index_out)
{
    *index_out = -1;
    if (len < 3 || key[len - 1] != ']') return len;
    if (key[len - 2] == '[') return len - 2; /* "a[]" */
    size_t i = len - 2, digits = 0;
    while (i > 0 && key[i] >= '0' && key[i] <= '9') {
        i--;
        digits++;
    }
    /* i is at the '[' candidate; the base must not be empty */
    if (digits == 0 || digits > INDEX_DIGITS_MAX || key[i] != '[' || i == 0) return len;
    long idx = 0;
    for (size_t k = i + 1; k < len - 1; k++)
        idx = idx * 10 + (key[k] - '0');
    *index_out = idx;
    return i;
}

static bool matches(const struct cairn_http_qarg *a, const char *name, size_t nlen)
{
    if (a->base_len == nlen && memcmp(a->key, name, nlen) == 0) return true;
    /* a literal lookup of a bracketed name ("a[]") */
    return a->base_len != strlen(a->key) && strcmp(a->key, name) == 0;
}

const char *cairn_http__query_first(const struct cairn_http_qarg *args, int n, const char *name)
{
    size_t nlen = strlen(name);
    for (int i = 0; i < n; i++)
        if (matches(&args[i], name, nlen)) return args[i].val;
    return NULL;
}

struct ordered {
    long index;
    int pos;
    const char *val;
};

static int cmp_ordered(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return x->pos - y->pos; /* keeps the sort stable */
}

int cairn_http__query_collect(const struct cairn_http_qarg *args, int n, const char *name,
                              const char **vals, int max)
{
    size_t nlen = strlen(name);
    int got = 0;
    bool all_indexed = true;
    for (int i = 0; i < n && got < max; i++) {
        if (!matches(&args[i], name, nlen)) continue;
        if (args[i].index < 0 || args[i].base_len != nlen) all_indexed = false;
        vals[got++] = args[i].val;
    }
    if (!all_indexed || got < 2) return got;
    /* every match is `name[i]`: order by i (qsort, so a hostile query of
     * thousands of indexes stays O(n log n)) */
    struct ordered *o = cairn_malloc((size_t)got * sizeof(*o));
    int k = 0;
    for (int i = 0; i < n && k < got; i++) {
        if (!matches(&args[i], name, nlen)) continue;
        o[k].index = args[i].index;
        o[k].pos = k;
        o[k].val = args[i].val;
        k++;
    }
    qsort(o, (size_t)got, sizeof(*o), cmp_ordered);
    for (int i = 0; i < got; i++)
        vals[i] = o[i].val;
    cairn_free(o);
    return got;
}
