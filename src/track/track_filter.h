/*
 * track_filter.h - MLflow search filters, order_by clauses and page tokens
 * (internal to the track module; also used by the registry searches).
 *
 * A filter string ("metrics.acc > 0.9 AND params.lr = '0.01'") is parsed
 * into a flat list of AND-ed comparisons, validated against the keys and
 * operators the chosen search allows (docs/internals/search.md), then
 * compiled into a SQL WHERE fragment with `?` placeholders. No user text is
 * ever spliced into SQL.
 *
 * Table aliases the generated SQL refers to (the caller's FROM clause must
 * use them):
 *   CAIRN_FILTER_RUNS               runs r            (r.run_id integer key)
 *   CAIRN_FILTER_EXPERIMENTS        experiments e
 *   CAIRN_FILTER_REGISTERED_MODELS  registered_models rm
 *   CAIRN_FILTER_MODEL_VERSIONS     model_versions mv
 *
 * Parameter convention of the *_to_sql functions: values are written to
 * params[*nparams], params[*nparams + 1], ... and *nparams is advanced, so a
 * caller can bind its own values before and after. Text values are borrowed
 * from the parsed object and stay valid while it lives. None of these
 * functions keeps global state; distinct objects may be used from distinct
 * threads.
 */
#ifndef CAIRN_TRACK_FILTER_H
#define CAIRN_TRACK_FILTER_H

#include "cairn/buf.h"
#include "cairn/store.h"

#define CAIRN_FILTER_MAX_LEN 8192  /* characters of filter text / one order_by item */
#define CAIRN_FILTER_MAX_CMP 64    /* comparisons in one filter */
#define CAIRN_FILTER_MAX_LIST 1000 /* values in one IN (...) list */
#define CAIRN_ORDER_MAX 10         /* order_by items */

/* Which search a filter or order_by belongs to. */
typedef enum cairn_filter_entity {
    CAIRN_FILTER_RUNS = 0,
    CAIRN_FILTER_EXPERIMENTS,
    CAIRN_FILTER_REGISTERED_MODELS,
    CAIRN_FILTER_MODEL_VERSIONS,
    CAIRN_FILTER__NENTITY
} cairn_filter_entity;

/* What an identifier names (its "entity type" prefix). */
typedef enum cairn_filter_kind {
    CAIRN_FILTER_ATTRIBUTE = 0, /* attribute|attributes|attr|run, or no prefix */
    CAIRN_FILTER_METRIC,        /* metric|metrics */
    CAIRN_FILTER_PARAM,         /* param|params|parameter|parameters */
    CAIRN_FILTER_TAG,           /* tag|tags */
    CAIRN_FILTER_DATASET        /* dataset|datasets */
} cairn_filter_kind;

typedef enum cairn_filter_op {
    CAIRN_FILTER_EQ = 0,
    CAIRN_FILTER_NE, /* != or <> */
    CAIRN_FILTER_LT,
    CAIRN_FILTER_LE,
    CAIRN_FILTER_GT,
    CAIRN_FILTER_GE,
    CAIRN_FILTER_LIKE,
    CAIRN_FILTER_ILIKE,
    CAIRN_FILTER_IN,
    CAIRN_FILTER_NOT_IN
} cairn_filter_op;

typedef enum cairn_filter_vtype {
    CAIRN_FILTER_VSTR = 0, /* str */
    CAIRN_FILTER_VREAL,    /* num (metrics) */
    CAIRN_FILTER_VINT,     /* inum (times, version numbers) */
    CAIRN_FILTER_VLIST     /* list[0..nlist) (IN / NOT IN) */
} cairn_filter_vtype;

/* One comparison. All strings are owned by the cairn_filter. */
typedef struct cairn_filter_cmp {
    cairn_filter_kind kind;
    cairn_filter_op op;
    /* metric/param/tag: the key as written, quotes removed; attribute and
     * dataset: the canonical key ("run_name" for "run name", "start_time"
     * for "created") */
    const char *key;
    /* attribute/dataset: the SQL column compared (e.g. "r.name"); else NULL */
    const char *column;
    cairn_filter_vtype vtype;
    const char *str;
    double num;
    int64_t inum;
    const char **list;
    int nlist;
} cairn_filter_cmp;

typedef struct cairn_filter {
    cairn_filter_entity entity;
    int n;                 /* 0: match everything */
    cairn_filter_cmp *cmp; /* (n) */
    char *pool;            /* backing store of every string above */
} cairn_filter;

/* Parses `text` (NULL, empty or blank: match all) as a filter for `entity`.
 * On success *out is a new filter (free with cairn_filter_free). Returns
 * CAIRN_EINVALID with a message naming the 0-based position and the problem
 * for any syntax or validation error (unknown key, operator not allowed for
 * that key, wrong value type, OR, parentheses, more than
 * CAIRN_FILTER_MAX_LEN characters, CAIRN_FILTER_MAX_CMP comparisons or
 * CAIRN_FILTER_MAX_LIST list values); *out is then NULL. */
int cairn_filter_parse(cairn_filter **out, int entity, const char *text);
void cairn_filter_free(cairn_filter *f);

/* Number of `?` values cairn_filter_to_sql will bind. */
int cairn_filter_nparams(const cairn_filter *f);

/* Appends one " AND <predicate>" per comparison to `sql` (nothing for an
 * empty filter) and binds its values as described above. Metric and
 * integer-attribute values bind as CAIRN_V_REAL / CAIRN_V_INT, everything
 * else as borrowed CAIRN_V_TEXT. A run (experiment, model, version) lacking
 * the metric/param/tag named in a comparison never matches it. Returns
 * CAIRN_ETOOBIG if max_params is too small or `sql` reaches its limit. */
int cairn_filter_to_sql(const cairn_filter *f, cairn_buf *sql, cairn_value *params, int max_params,
                        int *nparams);

/* ---- order_by ---- */

typedef struct cairn_order_item {
    cairn_filter_kind kind; /* ATTRIBUTE, or METRIC/PARAM/TAG for runs */
    const char *key;        /* as for cairn_filter_cmp.key */
    const char *column;     /* attributes: the SQL column; else NULL */
    int desc;               /* 1: DESC, 0: ASC (the default) */
    int nullable;           /* the column may be NULL (sorted last) */
} cairn_order_item;

typedef struct cairn_order {
    cairn_filter_entity entity;
    int n;
    cairn_order_item items[CAIRN_ORDER_MAX];
    char *pool;
} cairn_order;

/* Parses order_by items such as "metrics.`f1 score` DESC", "params.lr",
 * "attributes.start_time ASC", "name". n may be 0 (default order). Returns
 * CAIRN_EINVALID for an unknown or unorderable key, a bad direction, or
 * more than CAIRN_ORDER_MAX items; *out is then NULL. */
int cairn_order_parse(cairn_order **out, int entity, const char *const *items, int n);
void cairn_order_free(cairn_order *o);

/* Number of `?` values cairn_order_to_sql will bind (all in `joins`). */
int cairn_order_nparams(const cairn_order *o);

/* Appends to `joins` one " LEFT JOIN ..." per metric/param/tag item (their
 * key values are bound as described above, so the caller binds these before
 * the WHERE values) and to `order_by` the comma-separated ORDER BY list,
 * without the keyword: the items (rows missing the key last, NaN metrics
 * after numbers), then the search's tie-breakers, or the default order
 * when o->n == 0 (runs: r.start_time DESC, r.run_id; experiments:
 * creation_time DESC, experiment_id; registered models: name; model
 * versions: name, version DESC). Returns CAIRN_ETOOBIG as
 * cairn_filter_to_sql does. */
int cairn_order_to_sql(const cairn_order *o, cairn_buf *joins, cairn_buf *order_by,
                       cairn_value *params, int max_params, int *nparams);

/* ---- page tokens: base64 of the JSON {"offset": N}, as MLflow emits ---- */

/* Appends the token for `offset` (>= 0) to out. CAIRN_EINVALID for a
 * negative offset; CAIRN_ETOOBIG if out reaches its limit. */
int cairn_page_token_encode(int64_t offset, cairn_buf *out);
/* Decodes a token into *offset. NULL or "" is the first page (offset 0).
 * CAIRN_EINVALID ("invalid page token ...") for anything else malformed:
 * bad base64, bad JSON, a missing, non-integer or negative offset. */
int cairn_page_token_decode(const char *tok, int64_t *offset);

#endif
