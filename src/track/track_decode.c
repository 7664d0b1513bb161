/*
 * track_decode.c - JSON request bodies to cairn_track_batch and friends.
 * Every field is type-checked; the first problem is reported with the
 * field's path, in MLflow's INVALID_PARAMETER_VALUE wording.
 */
#include <math.h>
#include <string.h>

#include "track_decode.h"

static const char *copy(const track_alloc *a, const char *s)
{
    size_t n = strlen(s);
    char *d = a->alloc(a->ctx, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

int cairn_track__parse_double(json_t *v, const char *what, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "NaN")) *out = NAN;
        else if (!strcmp(s, "Infinity")) *out = INFINITY;
        else if (!strcmp(s, "-Infinity")) *out = -INFINITY;
        else if (cairn_parse_double(s, out)) goto bad;
        return 0;
    }
bad:
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                           "Invalid value for '%s': expected a number", what);
}

int cairn_track__parse_i64(json_t *v, const char *what, int required, int64_t *out)
{
    if (!v || json_is_null(v)) {
        if (required)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Missing value for required parameter '%s'", what);
        *out = 0;
        return 0;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && !cairn_parse_i64(json_string_value(v), out)) return 0;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9.2e18) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                           "Invalid value for '%s': expected an integer", what);
}

static int want_array(json_t *arr, const char *field)
{
    if (arr && !json_is_null(arr) && !json_is_array(arr))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value for parameter '%s': expected a list", field);
    return 0;
}

int cairn_track__decode_kv(json_t *arr, const char *field, int max, const track_alloc *a,
                           cairn_kv **out, int *n)
{
    int rc = want_array(arr, field);
    *out = NULL;
    *n = 0;
    if (rc) return rc;
    size_t len = json_array_size(arr);
    if ((int)len > max)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Too many entries in '%s': %zu (at most %d)", field, len, max);
    cairn_kv *kv = a->alloc(a->ctx, sizeof(cairn_kv) * (len ? len : 1));
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *k = json_object_get(e, "key"), *v = json_object_get(e, "value");
        if (!json_is_string(k))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for '%s[%zu].key': expected a string", field, i);
        if (v && !json_is_null(v) && !json_is_string(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for '%s[%zu].value': expected a string", field, i);
        kv[i].key = copy(a, json_string_value(k));
        kv[i].value = copy(a, json_is_string(v) ? json_string_value(v) : "");
    }
    *out = kv;
    *n = (int)len;
    return 0;
}

int cairn_track__decode_metrics(json_t *arr, const track_alloc *a, cairn_metric **out, int *n)
{
    int rc = want_array(arr, "metrics");
    *out = NULL;
    *n = 0;
    if (rc) return rc;
    size_t len = json_array_size(arr);
    if (len > CAIRN_TRACK_MAX_METRICS)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "A batch logging request can contain at most %d metrics; got %zu",
                               CAIRN_TRACK_MAX_METRICS, len);
    cairn_metric *m = a->alloc(a->ctx, sizeof(*m) * (len ? len : 1));
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *k = json_object_get(e, "key"), *v = json_object_get(e, "value");
        if (!json_is_string(k))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Invalid value for 'metrics[%zu].key': expected a string", i);
        if (!v || json_is_null(v))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                   "Missing value for required parameter 'metrics[%zu].value'", i);
        m[i].key = copy(a, json_string_value(k));
        if ((rc = cairn_track__parse_double(v, "metrics.value", &m[i].value)) ||
            (rc = cairn_track__parse_i64(json_object_get(e, "timestamp"), "metrics.timestamp", 1,
                                        &m[i].timestamp)) ||
            (rc = cairn_track__parse_i64(json_object_get(e, "step"), "metrics.step", 0, &m[i].step)))
            return rc;
    }
    *out = m;
    *n = (int)len;
    return 0;
}

int cairn_track__decode_batch(json_t *body, const track_alloc *a, cairn_track_batch *b)
{
    memset(b, 0, sizeof(*b));
    if (!json_is_object(body))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'run_id'");
    json_t *id = json_object_get(body, "run_id");
    if (!json_is_string(id) || !*json_string_value(id)) id = json_object_get(body, "run_uuid");
    if (id && !json_is_null(id) && !json_is_string(id))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value for parameter 'run_id': expected a string");
    if (!json_is_string(id) || !*json_string_value(id))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'run_id'");
    b->run_uuid = copy(a, json_string_value(id));
    cairn_metric *m;
    cairn_kv *p, *t;
    int rc = cairn_track__decode_metrics(json_object_get(body, "metrics"), a, &m, &b->nmetrics);
    if (!rc) rc = cairn_track__decode_kv(json_object_get(body, "params"), "params",
                                         CAIRN_TRACK_MAX_PARAMS, a, &p, &b->nparams);
    if (!rc) rc = cairn_track__decode_kv(json_object_get(body, "tags"), "tags", CAIRN_TRACK_MAX_TAGS,
                                         a, &t, &b->ntags);
    if (rc) return rc;
    b->metrics = m;
    b->params = p;
    b->tags = t;
    return cairn_track_batch_check(b);
}
