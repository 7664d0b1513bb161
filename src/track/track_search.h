/*
 * track_search.h - experiments/search and runs/search handlers: the filter
 * and order_by compile to one indexed SQL query for a page of ids, then the
 * page is loaded with one query per child table (track_read.c).
 */
#ifndef CAIRN_TRACK_SEARCH_H
#define CAIRN_TRACK_SEARCH_H

#include "cairn/http.h"
#include "track_filter.h"

int cairn_track__h_exp_search(cairn_http_req *req, void *payload);
int cairn_track__h_run_search(cairn_http_req *req, void *payload);

/* Parses MLflow's view type: "ACTIVE_ONLY" (default), "DELETED_ONLY", "ALL",
 * or 1/2/3. Writes the lifecycle SQL condition for `column` into cond. */
int cairn_track__view_type(const char *s, const char *column, char *cond, size_t n);

/* Runs "SELECT <id_col> FROM <from> <joins> WHERE <where> <filter> ORDER BY
 * <order> LIMIT max+1 OFFSET offset" and collects ids; *more is set when
 * another page exists. params holds joins' then where's then filter's
 * values (nparams total). */
int cairn_track__page_ids(cairn_store *store, const char *sql, cairn_value *params, int nparams,
                          int64_t max, int64_t offset, int64_t **ids_out, int *n_out, int *more);

#endif
