/*
 * profile_json.c - profile.json: the versioned format monitoring reads
 * (docs/internals/profile.md). The writer prints every double so it reads
 * back bit for bit; the reader validates every field and count.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cairn/metrics.h"
#include "cairn/profile.h"
#include "profile_internal.h"

/* ====================================================================== */
/* JSON writer                                                             */
/* ====================================================================== */

/* %.17g, with ".0" added when that reads as an integer, so that -0.0 stays
 * negative and every number is read back as the same double. */
static int put_double(cairn_buf *b, double d)
{
    char s[40];
    snprintf(s, sizeof(s), "%.17g", d);
    int rc = cairn_buf_puts(b, s);
    if (!rc && !strpbrk(s, ".e")) rc = cairn_buf_puts(b, ".0");
    return rc;
}

static int put_doubles(cairn_buf *b, const double *v, int n)
{
    int rc = cairn_buf_putc(b, '[');
    for (int i = 0; i < n && !rc; i++) {
        if (i) rc = cairn_buf_puts(b, ", ");
        if (!rc) rc = put_double(b, v[i]);
    }
    return rc ? rc : cairn_buf_putc(b, ']');
}

static int put_counts(cairn_buf *b, const uint64_t *v, int n)
{
    int rc = cairn_buf_putc(b, '[');
    for (int i = 0; i < n && !rc; i++)
        rc = cairn_buf_printf(b, i ? ", %" PRIu64 : "%" PRIu64, v[i]);
    return rc ? rc : cairn_buf_putc(b, ']');
}

/* "key": number, or null for NaN (only a summary with count 0 has NaN). */
static int put_stat(cairn_buf *b, const char *key, double d)
{
    int rc = cairn_buf_printf(b, ", \"%s\": ", key);
    if (rc) return rc;
    return isnan(d) ? cairn_buf_puts(b, "null") : put_double(b, d);
}

static int put_numeric(cairn_buf *b, const struct num_summary *s)
{
    int rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 ", \"missing\": %" PRIu64, s->count,
                              s->missing);
    if (!rc) rc = put_stat(b, "missing_rate", s->missing_rate);
    if (!rc) rc = put_stat(b, "mean", s->mean);
    if (!rc) rc = put_stat(b, "std", s->std);
    if (!rc) rc = put_stat(b, "min", s->min);
    if (!rc) rc = put_stat(b, "max", s->max);
    if (!rc) rc = cairn_buf_puts(b, ",\n     \"quantiles\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, s->edges, s->n_edges);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, s->bin_counts, s->n_edges ? s->n_edges - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "},\n     \"histogram\": {\"edges\": ");
    if (!rc) rc = put_doubles(b, s->hist_edges, s->n_hist);
    if (!rc) rc = cairn_buf_puts(b, ", \"counts\": ");
    if (!rc) rc = put_counts(b, s->hist_counts, s->n_hist ? s->n_hist - 1 : 0);
    if (!rc) rc = cairn_buf_puts(b, "},\n     \"sample\": ");
    if (!rc) rc = put_doubles(b, s->sample, s->n_sample);
    return rc;
}

static int put_categorical(cairn_buf *b, const struct cat_summary *s)
{
    int rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 ", \"missing\": %" PRIu64, s->count,
                              s->missing);
    if (!rc) rc = put_stat(b, "missing_rate", s->missing_rate);
    if (!rc)
        rc = cairn_buf_printf(b, ", \"n_distinct\": %" PRIu64 ",\n     \"categories\": [",
                              s->n_distinct);
    for (int i = 0; i < s->n_cats && !rc; i++) {
        rc = cairn_buf_puts(b, i ? ", {\"value\": " : "{\"value\": ");
        if (!rc) rc = cairn_buf_put_json_str(b, s->names[i], strlen(s->names[i]));
        if (!rc) rc = cairn_buf_printf(b, ", \"count\": %" PRIu64 "}", s->counts[i]);
    }
    if (!rc)
        rc = cairn_buf_printf(
            b, "],\n     \"other\": {\"count\": %" PRIu64 ", \"n_distinct\": %" PRIu64 "}",
            s->other_count, s->other_distinct);
    return rc;
}

static int put_features(cairn_buf *b, const struct cairn_profile_feature *fs, int n)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const struct cairn_profile_feature *f = &fs[i];
        rc = cairn_buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        if (!rc) rc = cairn_buf_put_json_str(b, f->name, strlen(f->name));
        if (!rc)
            rc =
                cairn_buf_puts(b, f->type == CAIRN_PROFILE_NUMERIC ? ", \"type\": \"numeric\""
                                                                   : ", \"type\": \"categorical\"");
        if (!rc)
            rc = f->type == CAIRN_PROFILE_NUMERIC ? put_numeric(b, &f->num)
                                                  : put_categorical(b, &f->cat);
        if (!rc) rc = cairn_buf_putc(b, '}');
    }
    if (!rc && n) rc = cairn_buf_puts(b, "\n  ");
    return rc;
}

int cairn_profile_to_json(const cairn_profile *p, cairn_buf *out)
{
    const cairn_profile_opts *o = &p->opts;
    int rc = cairn_buf_printf(out,
                              "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"n_rows\": %" PRIu64
                              ",\n  \"options\": {\"n_bins\": %d, \"n_hist_bins\": %d, "
                              "\"max_categories\": %d, \"sample_size\": %d, "
                              "\"quantile_rows\": %zu, \"seed\": \"%" PRIu64 "\"},\n"
                              "  \"features\": [",
                              CAIRN_PROFILE_FORMAT, CAIRN_PROFILE_FORMAT_VERSION, p->n_rows,
                              o->n_bins, o->n_hist_bins, o->max_categories, o->sample_size,
                              o->quantile_rows, o->seed);
    if (!rc) rc = put_features(out, p->features, p->n_features);
    if (!rc) rc = cairn_buf_puts(out, "],\n  \"predictions\": [");
    if (!rc) rc = put_features(out, p->predictions, p->n_predictions);
    if (!rc) rc = cairn_buf_puts(out, "]\n}\n");
    return rc;
}

/* ====================================================================== */
/* JSON reader                                                             */
/* ====================================================================== */

/* Every message names the field: "<path>.<key>: <problem>". */
#define BAD(path, key, ...) bad_field(path, key, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int bad_field(const char *path, const char *key,
                                                           const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ERR(CAIRN_EINVALID, "profile %s%s%s: %s", path, *path && *key ? "." : "", key, what);
}

static int get_u64(const json_t *o, const char *path, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return BAD(path, key, "not a non-negative integer");
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_int(const json_t *o, const char *path, const char *key, int *out)
{
    uint64_t u;
    int rc = get_u64(o, path, key, &u);
    if (rc) return rc;
    if (u > INT32_MAX) return BAD(path, key, "too large");
    *out = (int)u;
    return 0;
}

/* A number (integer or real), or NaN for null when `nullable`. */
static int get_num(const json_t *o, const char *path, const char *key, bool nullable, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return BAD(path, key, nullable ? "not a number or null" : "not a number");
    *out = json_number_value(v);
    return 0;
}

static int get_array(const json_t *o, const char *path, const char *key, size_t max,
                     const json_t **out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return BAD(path, key, "missing");
    if (!json_is_array(v)) return BAD(path, key, "not an array");
    if (json_array_size(v) > max) return BAD(path, key, "more than %zu entries", max);
    *out = v;
    return 0;
}

/* Reads `key` (an array of at most max numbers) into *out (cairn_free it). */
static int get_doubles(const json_t *o, const char *path, const char *key, size_t max, double **out,
                       int *n)
{
    const json_t *a;
    int rc = get_array(o, path, key, max, &a);
    if (rc) return rc;
    size_t len = json_array_size(a);
    double *v = cairn_malloc(sizeof(double) * (len ? len : 1));
    for (size_t i = 0; i < len; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x)) {
            cairn_free(v);
            return BAD(path, key, "entry %zu is not a number", i);
        }
        v[i] = json_number_value(x);
    }
    *out = v;
    *n = (int)len;
    return 0;
}

/* Reads `key` (an array of exactly n counts) into *out, checking they add
 * up to total. */
static int get_counts(const json_t *o, const char *path, const char *key, int n, uint64_t total,
                      uint64_t **out)
{
    const json_t *a;
    int rc = get_array(o, path, key, (size_t)n, &a);
    if (rc) return rc;
    if (json_array_size(a) != (size_t)n)
        return BAD(path, key, "%zu counts for %d bins", json_array_size(a), n);
    uint64_t *v = cairn_malloc(sizeof(uint64_t) * (size_t)(n ? n : 1)), sum = 0;
    for (int i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_integer(x) || json_integer_value(x) < 0) {
            cairn_free(v);
            return BAD(path, key, "entry %d is not a non-negative integer", i);
        }
        v[i] = (uint64_t)json_integer_value(x);
        sum += v[i];
        if (v[i] > total || sum > total) break;
    }
    if (sum != total) {
        cairn_free(v);
        return BAD(path, key, "counts do not add up to the count %" PRIu64, total);
    }
    *out = v;
    return 0;
}

/* Edges: 2..max_bins+1 of them, edges[0] == min, last == max, strictly
 * increasing unless they are [c, c]. */
static int check_edges(const char *path, const char *key, const double *e, int n, int max_bins,
                       double min, double max)
{
    if (n < 2 || n > max_bins + 1) return BAD(path, key, "%d edges, not 2..%d", n, max_bins + 1);
    if (e[0] != min || e[n - 1] != max) return BAD(path, key, "edges do not span [min, max]");
    if (min == max && n != 2) return BAD(path, key, "a constant feature has edges [c, c]");
    for (int i = 1; i < n && min != max; i++)
        if (!(e[i] > e[i - 1])) return BAD(path, key, "edges not strictly increasing at %d", i);
    return 0;
}

/* {"edges": [...], "counts": [...]} under `key` into edges/counts. */
static int get_bins(const json_t *o, const char *path, const char *key, int max_bins,
                    const struct num_summary *s, double **edges, int *n, uint64_t **counts)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "%s.%s", path, key);
    const json_t *b = json_object_get(o, key);
    if (!json_is_object(b)) return BAD(path, key, b ? "not an object" : "missing");
    int rc = get_doubles(b, sub, "edges", (size_t)max_bins + 1, edges, n);
    if (rc) return rc;
    if (s->count == 0) {
        if (*n) return BAD(sub, "edges", "not empty for a feature with no values");
    } else if ((rc = check_edges(sub, "edges", *edges, *n, max_bins, s->min, s->max))) {
        return rc;
    }
    return get_counts(b, sub, "counts", *n ? *n - 1 : 0, s->count, counts);
}

static int get_missing(const json_t *o, const char *path, uint64_t n_rows, uint64_t *count,
                       uint64_t *missing, double *rate)
{
    int rc = get_u64(o, path, "count", count);
    if (!rc) rc = get_u64(o, path, "missing", missing);
    if (!rc) rc = get_num(o, path, "missing_rate", false, rate);
    if (rc) return rc;
    if (*count > n_rows || *missing != n_rows - *count)
        return BAD(path, "missing", "count + missing is not n_rows %" PRIu64, n_rows);
    if (*rate != (double)*missing / (double)n_rows)
        return BAD(path, "missing_rate", "not missing / n_rows");
    return 0;
}

static int parse_numeric(const json_t *o, const char *path, const cairn_profile *p,
                         struct num_summary *s)
{
    int rc = get_missing(o, path, p->n_rows, &s->count, &s->missing, &s->missing_rate);
    bool none = s->count == 0;
    const char *stat[4] = {"mean", "std", "min", "max"};
    double *dst[4] = {&s->mean, &s->std, &s->min, &s->max};
    for (int i = 0; i < 4 && !rc; i++) {
        rc = get_num(o, path, stat[i], none, dst[i]);
        if (!rc && none && !isnan(*dst[i])) rc = BAD(path, stat[i], "not null when count is 0");
    }
    if (rc) return rc;
    if (!none && !(s->min <= s->max)) return BAD(path, "min", "greater than max");
    if (!none && !(s->mean >= s->min && s->mean <= s->max))
        return BAD(path, "mean", "outside [min, max]");
    if (!none && !(s->std >= 0)) return BAD(path, "std", "negative");
    rc = get_bins(o, path, "quantiles", p->opts.n_bins, s, &s->edges, &s->n_edges, &s->bin_counts);
    if (!rc)
        rc = get_bins(o, path, "histogram", p->opts.n_hist_bins, s, &s->hist_edges, &s->n_hist,
                      &s->hist_counts);
    if (!rc)
        rc = get_doubles(o, path, "sample", (size_t)p->opts.sample_size, &s->sample, &s->n_sample);
    if (rc) return rc;
    uint64_t want =
        s->count < (uint64_t)p->opts.sample_size ? s->count : (uint64_t)p->opts.sample_size;
    if ((uint64_t)s->n_sample != want)
        return BAD(path, "sample", "%d values, not min(count, sample_size) = %" PRIu64, s->n_sample,
                   want);
    for (int i = 0; i < s->n_sample; i++)
        if (!(s->sample[i] >= s->min && s->sample[i] <= s->max) ||
            (i && !(s->sample[i] >= s->sample[i - 1])))
            return BAD(path, "sample", "not ascending within [min, max] at %d", i);
    return 0;
}

static int parse_categorical(const json_t *o, const char *path, const cairn_profile *p,
                             struct cat_summary *s)
{
    const json_t *cats, *other;
    int rc = get_missing(o, path, p->n_rows, &s->count, &s->missing, &s->missing_rate);
    if (!rc) rc = get_u64(o, path, "n_distinct", &s->n_distinct);
    if (!rc) rc = get_array(o, path, "categories", (size_t)p->opts.max_categories, &cats);
    if (rc) return rc;
    other = json_object_get(o, "other");
    if (!json_is_object(other)) return BAD(path, "other", other ? "not an object" : "missing");
    char sub[128];
    snprintf(sub, sizeof(sub), "%s.other", path);
    if ((rc = get_u64(other, sub, "count", &s->other_count)) ||
        (rc = get_u64(other, sub, "n_distinct", &s->other_distinct)))
        return rc;
    size_t n = json_array_size(cats);
    s->names = cairn_calloc(n ? n : 1, sizeof(char *));
    s->counts = cairn_malloc(sizeof(uint64_t) * (n ? n : 1));
    uint64_t sum = s->other_count;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(cats, i);
        snprintf(sub, sizeof(sub), "%s.categories[%zu]", path, i);
        if (!json_is_object(c)) return BAD(sub, "", "not an object");
        const json_t *v = json_object_get(c, "value");
        if (!json_is_string(v)) return BAD(sub, "value", v ? "not a string" : "missing");
        if ((rc = get_u64(c, sub, "count", &s->counts[i]))) return rc;
        s->names[i] = cairn_strndup(json_string_value(v), json_string_length(v));
        s->n_cats = (int)i + 1;
        if (s->counts[i] == 0) return BAD(sub, "count", "zero");
        if (i && (s->counts[i] > s->counts[i - 1] ||
                  (s->counts[i] == s->counts[i - 1] && strcmp(s->names[i - 1], s->names[i]) >= 0)))
            return BAD(sub, "", "not after the previous category (count descending, then name)");
        if (s->counts[i] > s->count || (sum += s->counts[i]) > s->count)
            return BAD(path, "categories", "counts and other.count exceed count");
    }
    if (sum != s->count)
        return BAD(path, "categories", "counts and other.count do not add up to count");
    if (s->n_distinct != (uint64_t)n + s->other_distinct)
        return BAD(path, "n_distinct", "not the number of categories plus other.n_distinct");
    if ((s->other_count == 0) != (s->other_distinct == 0))
        return BAD(path, "other", "count and n_distinct disagree");
    if (s->other_distinct && n != (size_t)p->opts.max_categories)
        return BAD(path, "other", "not empty while fewer than max_categories are kept");
    return 0;
}

static int parse_features(const json_t *root, const char *key, cairn_profile *p,
                          struct cairn_profile_feature **out, int *n_out, bool numeric_only)
{
    const json_t *a;
    int rc = get_array(root, "", key, INT32_MAX, &a);
    if (rc) return rc;
    int n = (int)json_array_size(a);
    struct cairn_profile_feature *fs = cairn_calloc((size_t)(n ? n : 1), sizeof(*fs));
    *out = fs;
    *n_out = 0;
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "%s[%d]", key, i);
        const json_t *f = json_array_get(a, (size_t)i), *name, *type;
        if (!json_is_object(f)) return BAD(path, "", "not an object");
        *n_out = i + 1;
        name = json_object_get(f, "name");
        type = json_object_get(f, "type");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            strlen(json_string_value(name)) != json_string_length(name))
            return BAD(path, "name", "missing or not a non-empty string");
        fs[i].name = cairn_strdup(json_string_value(name));
        const char *t = json_string_value(type);
        if (t && !strcmp(t, "numeric")) {
            fs[i].type = CAIRN_PROFILE_NUMERIC;
            rc = parse_numeric(f, path, p, &fs[i].num);
        } else if (t && !strcmp(t, "categorical") && !numeric_only) {
            fs[i].type = CAIRN_PROFILE_CATEGORICAL;
            rc = parse_categorical(f, path, p, &fs[i].cat);
        } else {
            rc = BAD(path, "type",
                     numeric_only ? "not \"numeric\"" : "not \"numeric\" or \"categorical\"");
        }
        if (rc) return rc;
    }
    return 0;
}

static int parse_options(const json_t *root, cairn_profile_opts *o)
{
    const json_t *j = json_object_get(root, "options");
    if (!json_is_object(j)) return BAD("", "options", j ? "not an object" : "missing");
    uint64_t qrows;
    int rc = get_int(j, "options", "n_bins", &o->n_bins);
    if (!rc) rc = get_int(j, "options", "n_hist_bins", &o->n_hist_bins);
    if (!rc) rc = get_int(j, "options", "max_categories", &o->max_categories);
    if (!rc) rc = get_int(j, "options", "sample_size", &o->sample_size);
    if (!rc) rc = get_u64(j, "options", "quantile_rows", &qrows);
    if (rc) return rc;
    o->quantile_rows = (size_t)qrows;
    const char *seed = json_string_value(json_object_get(j, "seed"));
    if (!seed || !*seed || strlen(seed) > 20) return BAD("options", "seed", "not a decimal string");
    o->seed = 0;
    for (const char *c = seed; *c; c++) {
        uint64_t d = (uint64_t)(*c - '0');
        if (*c < '0' || *c > '9' || o->seed > (UINT64_MAX - d) / 10)
            return BAD("options", "seed", "not a decimal string below 2^64");
        o->seed = o->seed * 10 + d;
    }
    o->version = CAIRN_PROFILE_OPTS_VERSION;
    return cairn_profile__check_opts(o, "profile options");
}

static int parse_root(const json_t *root, cairn_profile *p)
{
    if (!json_is_object(root)) return ERR(CAIRN_EINVALID, "profile: not a json object");
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, CAIRN_PROFILE_FORMAT))
        return BAD("", "format", "not \"%s\"", CAIRN_PROFILE_FORMAT);
    const json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != CAIRN_PROFILE_FORMAT_VERSION)
        return BAD("", "version", "unsupported (this build reads version %d)",
                   CAIRN_PROFILE_FORMAT_VERSION);
    int rc = get_u64(root, "", "n_rows", &p->n_rows);
    if (rc) return rc;
    if (p->n_rows == 0) return BAD("", "n_rows", "zero");
    if ((rc = parse_options(root, &p->opts))) return rc;
    if ((rc = parse_features(root, "features", p, &p->features, &p->n_features, false))) return rc;
    if ((rc = parse_features(root, "predictions", p, &p->predictions, &p->n_predictions, true)))
        return rc;
    return cairn_profile__index_names(p);
}

int cairn_profile_from_json(cairn_profile **out, const char *json, size_t len)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ERR(CAIRN_EINVALID, "profile: invalid json at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
    cairn_profile *p = cairn_calloc(1, sizeof(*p));
    int rc = parse_root(root, p);
    json_decref(root);
    if (rc)
        cairn_profile_free(p);
    else
        *out = p;
    return rc;
}

