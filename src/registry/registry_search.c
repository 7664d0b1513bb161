/*
 * registry_search.c - registered-models/search, model-versions/search and
 * get-latest-versions. Filters and order_by go through the tracking
 * module's parser (track/track_filter.h), which turns them into SQL with
 * `?` placeholders over the aliases rm / mv; pages are offsets carried in
 * MLflow's page-token format. One extra row is fetched to know whether a
 * next page exists.
 */
#include <stdio.h>
#include <string.h>

#include "registry_internal.h"
#include "track/api.h"
#include "track/track_filter.h"

struct search_kind {
    int entity;
    const char *what;   /* for messages */
    const char *select; /* "SELECT <cols> FROM <table> <alias>" */
    const char *field;  /* response array */
    int64_t max_default, max_limit;
    int models; /* 1: registered models, 0: versions */
};

static const struct search_kind kind_models = {CAIRN_FILTER_REGISTERED_MODELS,
                                               "registered models",
                                               "SELECT " REG_RM_COLS " FROM registered_models rm",
                                               "registered_models",
                                               100,
                                               1000,
                                               1};
static const struct search_kind kind_versions = {CAIRN_FILTER_MODEL_VERSIONS,
                                                 "model versions",
                                                 "SELECT " REG_MV_COLS " FROM model_versions mv",
                                                 "model_versions",
                                                 10000,
                                                 200000,
                                                 0};

/* Builds the page query for the parsed filter/order and runs it into arr.
 * Returns 0 or a negative code. */
static int run_page(cairn_registry *reg, const struct search_kind *k, const cairn_filter *f,
                    const cairn_order *o, int64_t limit, int64_t offset, json_t *arr)
{
    int maxp = cairn_filter_nparams(f) + cairn_order_nparams(o) + 3, np = 0;
    cairn_value *p = cairn_calloc((size_t)maxp, sizeof(*p));
    cairn_buf joins = CAIRN_BUF_INIT(0), order = CAIRN_BUF_INIT(0), sql = CAIRN_BUF_INIT(0);
    int rc = cairn_order_to_sql(o, &joins, &order, p, maxp, &np);
    if (!rc) {
        cairn_buf_puts(&sql, k->select);
        cairn_buf_puts(&sql, cairn_buf_cstr(&joins));
        if (k->models) {
            cairn_buf_puts(&sql, " WHERE 1 = 1");
        } else {
            cairn_buf_puts(&sql, " WHERE mv.current_stage <> ?");
            p[np++] = CAIRN_VTEXT(REG_STAGE_DELETED);
        }
        rc = cairn_filter_to_sql(f, &sql, p, maxp, &np);
    }
    if (!rc) {
        cairn_buf_printf(&sql, " ORDER BY %s LIMIT ? OFFSET ?", cairn_buf_cstr(&order));
        p[np++] = CAIRN_VINT(limit);
        p[np++] = CAIRN_VINT(offset);
        reg_db db = {reg->store, NULL};
        if (k->models)
            rc = cairn_registry__load_models(&db, cairn_buf_cstr(&sql), p, np, arr);
        else
            rc = cairn_registry__load_versions(&db, cairn_buf_cstr(&sql), p, np, arr);
    }
    cairn_buf_free(&joins);
    cairn_buf_free(&order);
    cairn_buf_free(&sql);
    cairn_free(p);
    return rc;
}

static int search(cairn_http_req *req, cairn_registry *reg, const struct search_kind *k)
{
    BEGIN(call, req);
    const char *filter = NULL, *token = NULL, *items[CAIRN_ORDER_MAX + 1];
    int64_t max = k->max_default, offset = 0;
    cairn_filter *f = NULL;
    cairn_order *o = NULL;
    json_t *arr = json_array();
    int n_items = 0;
    int rc = cairn_api__str(&call, "filter", 0, &filter);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc) rc = cairn_api__str(&call, "page_token", 0, &token);
    if (!rc) {
        n_items = cairn_api__str_list(&call, "order_by", items, CAIRN_ORDER_MAX + 1);
        if (n_items < 0) rc = n_items;
    }
    if (!rc && max < 1)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Invalid value for request parameter max_results. It must be at "
                             "least 1, but got value %lld",
                             (long long)max);
    if (!rc && max > k->max_limit)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                             "Invalid value for request parameter max_results. It must be at "
                             "most %lld, but got value %lld",
                             (long long)k->max_limit, (long long)max);
    if (!rc && token && *token) rc = cairn_page_token_decode(token, &offset);
    if (!rc) rc = cairn_filter_parse(&f, k->entity, filter);
    if (!rc) rc = cairn_order_parse(&o, k->entity, items, n_items);
    if (!rc) rc = run_page(reg, k, f, o, max + 1, offset, arr);
    cairn_filter_free(f);
    cairn_order_free(o);
    if (rc) {
        json_decref(arr);
        cairn_api__fail(req, rc);
        cairn_api__end(&call);
        return 0;
    }
    json_t *r = json_object();
    if ((int64_t)json_array_size(arr) > max) {
        json_array_remove(arr, (size_t)max);
        cairn_buf tok = CAIRN_BUF_INIT(0);
        cairn_page_token_encode(offset + max, &tok);
        json_object_set_new(r, "next_page_token", json_string(cairn_buf_cstr(&tok)));
        cairn_buf_free(&tok);
    }
    json_object_set_new(r, k->field, arr);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

int cairn_registry__h_search_models(cairn_http_req *req, void *payload)
{
    return search(req, payload, &kind_models);
}

int cairn_registry__h_search_versions(cairn_http_req *req, void *payload)
{
    return search(req, payload, &kind_versions);
}

/* get-latest-versions: the highest version in each requested stage (all
 * stages when none is given), in stage order. */
int cairn_registry__h_latest_versions(cairn_http_req *req, void *payload)
{
    cairn_registry *reg = payload;
    BEGIN(call, req);
    const char *name = NULL, *stages[8];
    int want[4] = {0, 0, 0, 0};
    json_t *arr = json_array(), *out = json_array();
    reg_db db = {reg->store, NULL};
    int rc = cairn_api__str(&call, "name", 1, &name);
    int ns = rc ? 0 : cairn_api__str_list(&call, "stages", stages, 8);
    if (!rc && ns < 0) rc = ns;
    for (int i = 0; !rc && i < ns; i++) {
        cairn_registry_stage s;
        if (!(rc = cairn_registry_stage_parse(stages[i], &s))) want[s] = 1;
    }
    if (!rc && ns == 0) want[0] = want[1] = want[2] = want[3] = 1;
    if (!rc) {
        int64_t one = 0;
        cairn_value p = CAIRN_VTEXT(name);
        rc = cairn_store_query(reg->store, "SELECT 1 FROM registered_models WHERE name = ?", &p, 1,
                               cairn_registry__row_i64, &one);
        if (rc > 0) rc = 0;
        if (!rc && !one)
            rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_REGISTRY,
                                 "Registered Model with name=%.500s not found", name);
    }
    if (!rc) {
        cairn_value p[] = {CAIRN_VTEXT(name), CAIRN_VTEXT(REG_STAGE_DELETED), CAIRN_VTEXT(name)};
        rc = cairn_registry__load_versions(
            &db,
            "SELECT " REG_MV_COLS " FROM model_versions mv JOIN (SELECT MAX(version) AS v FROM "
            "model_versions WHERE name = ? AND current_stage <> ? GROUP BY current_stage) l ON "
            "mv.version = l.v WHERE mv.name = ? ORDER BY CASE mv.current_stage WHEN 'None' THEN 0 "
            "WHEN 'Staging' THEN 1 WHEN 'Production' THEN 2 ELSE 3 END",
            p, 3, arr);
    }
    if (rc) {
        json_decref(arr);
        json_decref(out);
        cairn_api__fail(req, rc);
        cairn_api__end(&call);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        cairn_registry_stage s;
        if (cairn_registry_stage_parse(json_string_value(json_object_get(v, "current_stage")),
                                       &s) == 0 &&
            want[s])
            json_array_append(out, v);
    }
    json_decref(arr);
    json_t *r = json_object();
    json_object_set_new(r, "model_versions", out);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}
