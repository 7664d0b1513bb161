/*
 * catcount.c - the bounded categorical counter of cairn/drift.h: name ->
 * count for at most max_categories names (plus pinned reference names),
 * further names counted in one overflow bucket.
 *
 * Key design idea: entries live in an array in first-seen order and an
 * open-addressing index (FNV-1a, linear probing, power-of-two size kept at
 * most half full) maps names to them, so an add is one hash and usually one
 * probe, with no allocation once a name is known. A merge that would exceed
 * the bound keeps the largest counts (ties by name), which makes the result
 * independent of merge order up to what lands in the overflow bucket.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/drift.h"

#define SUBSYS CAIRN_SUBSYS_MONITOR

struct entry {
    char *name; /* NUL-terminated copy */
    size_t len;
    uint64_t count;
    int pinned;
};

struct cairn_catcount {
    int max;       /* unpinned names kept */
    int n_pinned;
    int n, cap;    /* entries used / allocated */
    struct entry *e;
    int32_t *index; /* (index_size) entry number or -1 */
    size_t index_size;
    uint64_t count, missing, other;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void rebuild_index(cairn_catcount *c, size_t size)
{
    cairn_free(c->index);
    c->index_size = size;
    c->index = cairn_malloc(size * sizeof(int32_t));
    memset(c->index, 0xff, size * sizeof(int32_t));
    for (int i = 0; i < c->n; i++) {
        size_t h = (size_t)fnv1a(c->e[i].name, c->e[i].len) & (size - 1);
        while (c->index[h] >= 0) h = (h + 1) & (size - 1);
        c->index[h] = i;
    }
}

/* Entry number of name, or -1; *slot receives the index slot to fill. */
static int find(const cairn_catcount *c, const char *name, size_t len, size_t *slot)
{
    size_t h = (size_t)fnv1a(name, len) & (c->index_size - 1);
    for (;;) {
        int32_t i = c->index[h];
        if (i < 0) break;
        if (c->e[i].len == len && memcmp(c->e[i].name, name, len) == 0) return i;
        h = (h + 1) & (c->index_size - 1);
    }
    if (slot) *slot = h;
    return -1;
}

/* Appends a new entry (the caller checked the bound). Can't fail (OOM
 * aborts). */
static int insert(cairn_catcount *c, const char *name, size_t len, int pinned)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->e = cairn_realloc(c->e, (size_t)c->cap * sizeof(struct entry));
    }
    if ((size_t)(c->n + 1) * 2 > c->index_size) {
        rebuild_index(c, c->index_size * 2);
    }
    size_t slot = 0;
    find(c, name, len, &slot);
    struct entry *e = &c->e[c->n];
    e->name = cairn_strndup(name, len);
    e->len = len;
    e->count = 0;
    e->pinned = pinned;
    c->index[slot] = c->n;
    return c->n++;
}

int cairn_catcount_new(cairn_catcount **out, const cairn_catcount_opts *opts)
{
    cairn_catcount_opts def = CAIRN_CATCOUNT_OPTS_INIT;
    const cairn_catcount_opts *o = opts ? opts : &def;
    *out = NULL;
    if (o->version != CAIRN_CATCOUNT_OPTS_VERSION || o->max_categories < 1 ||
        o->max_categories > 1000000)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS,
                               "catcount max_categories must be in 1..1000000");
    cairn_catcount *c = cairn_calloc(1, sizeof *c);
    c->max = o->max_categories;
    rebuild_index(c, 32);
    *out = c;
    return 0;
}

int cairn_catcount_new_for_feature(cairn_catcount **out, const cairn_profile_feature *f,
                                   const cairn_catcount_opts *opts)
{
    *out = NULL;
    cairn_profile_categorical cv;
    if (!f || cairn_profile_feature_categorical(f, &cv) != 0)
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "feature is not categorical");
    int rc = cairn_catcount_new(out, opts);
    if (rc) return rc;
    rc = cairn_catcount_pin(*out, cv.names, cv.n_categories);
    if (rc) {
        cairn_catcount_free(*out);
        *out = NULL;
    }
    return rc;
}

void cairn_catcount_free(cairn_catcount *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) cairn_free(c->e[i].name);
    cairn_free(c->e);
    cairn_free(c->index);
    cairn_free(c);
}

void cairn_catcount_reset(cairn_catcount *c)
{
    int k = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].pinned) {
            c->e[k] = c->e[i];
            c->e[k++].count = 0;
        } else {
            cairn_free(c->e[i].name);
        }
    }
    c->n = k;
    rebuild_index(c, c->index_size);
    c->count = c->missing = c->other = 0;
}

int cairn_catcount_pin(cairn_catcount *c, const char *const *names, int n)
{
    if (n < 0 || (n > 0 && !names))
        return cairn_error_set(CAIRN_EINVALID, SUBSYS, "bad names to pin");
    for (int i = 0; i < n; i++) {
        if (!names[i]) return cairn_error_set(CAIRN_EINVALID, SUBSYS, "a pinned name is NULL");
        size_t len = strlen(names[i]);
        if (len > CAIRN_CATCOUNT_MAX_NAME) len = CAIRN_CATCOUNT_MAX_NAME;
        int at = find(c, names[i], len, NULL);
        if (at >= 0) {
            if (!c->e[at].pinned) {
                c->e[at].pinned = 1;
                c->n_pinned++;
            }
            continue;
        }
        insert(c, names[i], len, 1);
        c->n_pinned++;
    }
    return 0;
}

void cairn_catcount_add(cairn_catcount *c, const char *name, size_t len)
{
    if (!name) {
        c->missing++;
        return;
    }
    c->count++;
    if (len > CAIRN_CATCOUNT_MAX_NAME) len = CAIRN_CATCOUNT_MAX_NAME;
    int at = find(c, name, len, NULL);
    if (at < 0) {
        if (c->n - c->n_pinned >= c->max) {
            c->other++;
            return;
        }
        at = insert(c, name, len, 0);
    }
    c->e[at].count++;
}

static int by_count_then_name(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->name, y->name, n);
    if (r) return r;
    return x->len < y->len ? -1 : (x->len > y->len);
}

int cairn_catcount_merge(cairn_catcount *into, const cairn_catcount *from)
{
    for (int i = 0; i < from->n; i++) {
        const struct entry *fe = &from->e[i];
        int at = find(into, fe->name, fe->len, NULL);
        if (at < 0) at = insert(into, fe->name, fe->len, fe->pinned);
        if (fe->pinned) into->e[at].pinned = 1;
        into->e[at].count += fe->count;
    }
    /* recount the pinned names (from may have pinned new ones) */
    into->n_pinned = 0;
    for (int i = 0; i < into->n; i++) into->n_pinned += into->e[i].pinned;
    into->count += from->count;
    into->missing += from->missing;
    into->other += from->other;
    if (into->n - into->n_pinned <= into->max) return 0;
    /* over the bound: keep the pinned names and the largest other counts */
    struct entry *un = cairn_malloc((size_t)into->n * sizeof(struct entry));
    int nu = 0, k = 0;
    for (int i = 0; i < into->n; i++) {
        if (into->e[i].pinned)
            into->e[k++] = into->e[i];
        else
            un[nu++] = into->e[i];
    }
    qsort(un, (size_t)nu, sizeof *un, by_count_then_name);
    for (int i = 0; i < nu; i++) {
        if (i < into->max) {
            into->e[k++] = un[i];
        } else {
            into->other += un[i].count;
            cairn_free(un[i].name);
        }
    }
    cairn_free(un);
    into->n = k;
    rebuild_index(into, into->index_size);
    return 0;
}

uint64_t cairn_catcount_count(const cairn_catcount *c) { return c->count; }
uint64_t cairn_catcount_missing(const cairn_catcount *c) { return c->missing; }
uint64_t cairn_catcount_other(const cairn_catcount *c) { return c->other; }
int cairn_catcount_size(const cairn_catcount *c) { return c->n; }

const char *cairn_catcount_name(const cairn_catcount *c, int i, uint64_t *count)
{
    if (i < 0 || i >= c->n) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = c->e[i].count;
    return c->e[i].name;
}

uint64_t cairn_catcount_get(const cairn_catcount *c, const char *name)
{
    size_t len = strlen(name);
    if (len > CAIRN_CATCOUNT_MAX_NAME) len = CAIRN_CATCOUNT_MAX_NAME;
    int at = find(c, name, len, NULL);
    return at < 0 ? 0 : c->e[at].count;
}
