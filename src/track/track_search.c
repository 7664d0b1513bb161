/*
 * track_search.c - experiments/search and runs/search. One SQL statement
 * selects the ordered page of ids (filter comparisons are EXISTS probes on
 * indexed child tables; order_by keys are LEFT JOINs), so no search ever
 * loads all runs into memory. Paging is MLflow's offset token.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "track_read.h"
#include "track_search.h"

#define SEARCH_MAX_PARAMS (CAIRN_FILTER_MAX_CMP * 2 + CAIRN_FILTER_MAX_LIST + 16 + 1024)

int cairn_track__view_type(const char *s, const char *column, char *cond, size_t n)
{
    if (!s || !*s || !strcmp(s, "ACTIVE_ONLY") || !strcmp(s, "1"))
        snprintf(cond, n, "%s = 'active'", column);
    else if (!strcmp(s, "DELETED_ONLY") || !strcmp(s, "2"))
        snprintf(cond, n, "%s = 'deleted'", column);
    else if (!strcmp(s, "ALL") || !strcmp(s, "3"))
        snprintf(cond, n, "1 = 1");
    else
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid view type '%.32s': expected ACTIVE_ONLY, DELETED_ONLY or ALL",
                               s);
    return 0;
}

struct ids {
    int64_t *v;
    int n, cap;
};

static int id_row(const cairn_value *c, int n, void *payload)
{
    struct ids *ids = payload;
    (void)n;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 64;
        ids->v = cairn_realloc(ids->v, sizeof(int64_t) * (size_t)ids->cap);
    }
    ids->v[ids->n++] = c[0].u.i;
    return 0;
}

int cairn_track__page_ids(cairn_store *store, const char *sql, cairn_value *params, int nparams,
                          int64_t max, int64_t offset, int64_t **ids_out, int *n_out, int *more)
{
    struct ids ids = {NULL, 0, 0};
    params[nparams] = CAIRN_VINT(max + 1);
    params[nparams + 1] = CAIRN_VINT(offset);
    int rc = cairn_store_query(store, sql, params, nparams + 2, id_row, &ids);
    if (rc < 0) {
        cairn_free(ids.v);
        return rc;
    }
    *more = ids.n > max;
    if (*more) ids.n = (int)max;
    *ids_out = ids.v;
    *n_out = ids.n;
    return 0;
}

/* Reads filter/order_by/max_results/page_token common to both searches. */
struct search_args {
    const char *filter, *token, *view;
    const char *order[CAIRN_ORDER_MAX + 1];
    int norder;
    int64_t max, offset;
};

static int search_args(api_call *call, const char *filter_key, const char *view_key,
                       int64_t def_max, int64_t hard_max, struct search_args *a)
{
    memset(a, 0, sizeof(*a));
    a->max = def_max;
    int rc = cairn_api__str(call, filter_key, 0, &a->filter);
    if (!rc) rc = cairn_api__str(call, "page_token", 0, &a->token);
    if (!rc) rc = cairn_api__str(call, view_key, 0, &a->view);
    if (!rc && !a->view && call->body) {
        json_t *v = json_object_get(call->body, view_key);
        if (json_is_integer(v))
            a->view = json_integer_value(v) == 2 ? "2" : json_integer_value(v) == 3 ? "3" : "1";
    }
    if (!rc) rc = cairn_api__i64(call, "max_results", 0, &a->max, NULL);
    if (rc) return rc;
    int n = cairn_api__str_list(call, "order_by", a->order, CAIRN_ORDER_MAX + 1);
    if (n < 0) return n;
    if (n > CAIRN_ORDER_MAX)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Too many order_by clauses (at most %d)", CAIRN_ORDER_MAX);
    a->norder = n;
    if (a->max < 1 || a->max > hard_max)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Invalid value %lld for parameter 'max_results' supplied. It must be "
                               "at most %lld, and at least 1",
                               (long long)a->max, (long long)hard_max);
    if (a->token && *a->token) return cairn_page_token_decode(a->token, &a->offset);
    return 0;
}

/* Builds and runs the id query for one search; the caller loads the page. */
static int search_ids(cairn_store *store, int entity, const struct search_args *a,
                      const char *select_from, const char *where, const cairn_value *where_params,
                      int nwhere, int64_t **ids, int *n, int *more)
{
    cairn_filter *f = NULL;
    cairn_order *o = NULL;
    cairn_buf sql = CAIRN_BUF_INIT(0), joins = CAIRN_BUF_INIT(0), order = CAIRN_BUF_INIT(0),
              cond = CAIRN_BUF_INIT(0);
    cairn_value *p = cairn_malloc(sizeof(cairn_value) * SEARCH_MAX_PARAMS);
    int np = 0, rc;
    if ((rc = cairn_filter_parse(&f, entity, a->filter))) goto done;
    if ((rc = cairn_order_parse(&o, entity, a->order, a->norder))) goto done;
    if ((rc = cairn_order_to_sql(o, &joins, &order, p, SEARCH_MAX_PARAMS - 2, &np))) goto done;
    for (int i = 0; i < nwhere && np < SEARCH_MAX_PARAMS - 2; i++) p[np++] = where_params[i];
    if ((rc = cairn_filter_to_sql(f, &cond, p, SEARCH_MAX_PARAMS - 2, &np))) goto done;
    cairn_buf_printf(&sql, "%s%s WHERE %s%s ORDER BY %s LIMIT ? OFFSET ?", select_from,
                     cairn_buf_cstr(&joins), where, cairn_buf_cstr(&cond), cairn_buf_cstr(&order));
    rc = cairn_track__page_ids(store, sql.ptr, p, np, a->max, a->offset, ids, n, more);
done:
    cairn_filter_free(f);
    cairn_order_free(o);
    cairn_buf_free(&sql);
    cairn_buf_free(&joins);
    cairn_buf_free(&order);
    cairn_buf_free(&cond);
    cairn_free(p);
    return rc;
}

static void add_token(json_t *r, int more, const struct search_args *a)
{
    if (!more) return;
    cairn_buf tok = CAIRN_BUF_INIT(0);
    cairn_page_token_encode(a->offset + a->max, &tok);
    json_object_set_new(r, "next_page_token", json_string(cairn_buf_cstr(&tok)));
    cairn_buf_free(&tok);
}

int cairn_track__h_exp_search(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    api_call call;
    struct search_args a;
    char cond[64];
    int64_t *ids = NULL;
    int n = 0, more = 0;
    json_t *exps = NULL;
    if (cairn_api__begin(&call, req)) return 0;
    int rc = search_args(&call, "filter", "view_type", 1000, 50000, &a);
    if (!rc) rc = cairn_track__view_type(a.view, "e.lifecycle_stage", cond, sizeof(cond));
    if (!rc)
        rc = search_ids(t->store, CAIRN_FILTER_EXPERIMENTS, &a, "SELECT e.experiment_id FROM experiments e",
                        cond, NULL, 0, &ids, &n, &more);
    if (!rc) rc = cairn_track__load_experiments(t->store, ids, n, &exps);
    cairn_free(ids);
    if (rc) {
        cairn_api__fail(req, rc);
        cairn_api__end(&call);
        return 0;
    }
    json_t *r = json_object();
    json_object_set_new(r, "experiments", exps);
    add_token(r, more, &a);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}

int cairn_track__h_run_search(cairn_http_req *req, void *payload)
{
    cairn_track *t = payload;
    api_call call;
    struct search_args a;
    const char *exp_ids[1024];
    cairn_value wp[1024];
    int64_t *ids = NULL;
    int n = 0, more = 0;
    json_t *runs = NULL;
    if (cairn_api__begin(&call, req)) return 0;
    int rc = search_args(&call, "filter", "run_view_type", 1000, 50000, &a);
    int ne = rc ? 0 : cairn_api__str_list(&call, "experiment_ids", exp_ids, 1024);
    if (!rc && ne < 0) rc = ne;
    cairn_buf where = CAIRN_BUF_INIT(0);
    char cond[64];
    if (!rc) rc = cairn_track__view_type(a.view, "r.lifecycle_stage", cond, sizeof(cond));
    if (!rc && ne == 0)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                             "Missing value for required parameter 'experiment_ids'");
    if (!rc) {
        cairn_buf_puts(&where, "r.experiment_id IN (");
        for (int i = 0; i < ne; i++) {
            int64_t id;
            if (cairn_parse_i64(exp_ids[i], &id)) {
                rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                     "Invalid experiment id '%.64s'", exp_ids[i]);
                break;
            }
            wp[i] = CAIRN_VINT(id);
            cairn_buf_puts(&where, i ? ", ?" : "?");
        }
        cairn_buf_printf(&where, ") AND %s", cond);
    }
    if (!rc)
        rc = search_ids(t->store, CAIRN_FILTER_RUNS, &a, "SELECT r.run_id FROM runs r", where.ptr, wp,
                        ne, &ids, &n, &more);
    cairn_buf_free(&where);
    if (!rc) rc = cairn_track__load_runs(t->store, ids, n, &runs);
    cairn_free(ids);
    if (rc) {
        cairn_api__fail(req, rc);
        cairn_api__end(&call);
        return 0;
    }
    json_t *r = json_object();
    json_object_set_new(r, "runs", runs);
    add_token(r, more, &a);
    cairn_api__end(&call);
    cairn_api__ok(req, r);
    return 0;
}
