/*
 * cmd_monitor_drift.c - `cairn monitor drift`: a batch drift report of a
 * current CSV file against a reference (a profile.json, or a CSV file
 * profiled on the fly), as a table, JSON, and/or a self-contained HTML page.
 *
 * Key idea: the current file is never held in memory. It is streamed in
 * chunks (cairn_csv_read_chunks) into one fixed-size sketch per numeric
 * column (with the reference's quantile bins) and one bounded category
 * counter per categorical column, exactly as the inline monitor fills a
 * window; each column is then judged with cairn_drift_eval_sketch /
 * cairn_drift_eval_categories (the default statistic, or the policy's).
 * Exit status: 0 no feature drifted, 1 at least one did (a CI gate),
 * 2 bad usage or bad data (one line on stderr).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cairn/core.h"
#include "cairn/csv.h"
#include "cairn/monitor_policy.h"
#include "cli.h"
#include "monitor_drift.h"

int cmd_monitor_drift(int argc, char **argv, cairn_config *cfg);
void cmd_monitor_drift_help(void);

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define PROFILE_MAX_BYTES ((size_t)256 << 20)
#define HEADER_SEEN 1 /* on_header's "stop, I have the names" */

void cmd_monitor_drift_help(void)
{
    printf("usage: cairn monitor drift --reference FILE --current FILE [--policy FILE]\n"
           "                           [--target COL] [--ignore-missing] [--json]\n"
           "                           [--html report.html]\n\n"
           "Compares every column of the current CSV file with the reference: a\n"
           "profile.json (as `cairn train` saves beside each model) or a CSV file\n"
           "(profiled on the fly). The current file is streamed, so its size does\n"
           "not matter. Each column is judged by its default statistic (KS or\n"
           "chi-square p-value below 0.05 for references of at most 1000 rows,\n"
           "else normalised Wasserstein or Jensen-Shannon distance above 0.1), or\n"
           "by the policy file's `features:` overrides.\n\n"
           "  --reference FILE   profile.json (a .json file) or a reference CSV file\n"
           "  --current FILE     the CSV file to judge\n"
           "  --policy FILE      monitoring policy (YAML); its top-level `features:`\n"
           "  --target COL       a column to leave out (the label)\n"
           "  --ignore-missing   skip columns found in one file only (else an error)\n"
           "  --json             print the full result as JSON instead of a table\n"
           "  --html FILE        also write a self-contained HTML report\n\n"
           "The dataset drifts when at least half of the columns drift.\n"
           "Exit status: 0 no column drifted, 1 at least one column drifted,\n"
           "2 bad usage or bad data.\n");
}

typedef struct args {
    const char *reference, *current, *policy, *target, *html;
    int json, ignore_missing;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **dst = !strcmp(o, "--reference") ? &a->reference
                           : !strcmp(o, "--current") ? &a->current
                           : !strcmp(o, "--policy")  ? &a->policy
                           : !strcmp(o, "--target")  ? &a->target
                           : !strcmp(o, "--html")    ? &a->html
                                                     : NULL;
        if (dst) {
            if (i + 1 >= argc) return cli_usage_error("monitor drift: %s needs a value", o);
            *dst = argv[++i];
        } else if (!strcmp(o, "--json")) {
            a->json = 1;
        } else if (!strcmp(o, "--ignore-missing")) {
            a->ignore_missing = 1;
        } else {
            return cli_usage_error(
                "monitor drift: unknown option '%s' (cairn monitor drift --help)", o);
        }
    }
    if (!a->reference || !a->current)
        return cli_usage_error("monitor drift: --reference and --current are required");
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The reference: a profile.json (name ending in .json), else a CSV file. */
static int load_reference(cairn_profile **out, const args *a)
{
    if (!ends_with(a->reference, ".json"))
        return cli_drift_profile_from_csv(out, a->reference, a->target);
    cairn_buf b = CAIRN_BUF_INIT(PROFILE_MAX_BYTES);
    int rc = cairn_read_file(a->reference, &b);
    if (!rc) {
        rc = cairn_profile_from_json(out, b.ptr ? b.ptr : "", b.len);
        if (rc) rc = ERR(rc, "%s: %s", a->reference, cairn_error_last()->msg);
    }
    cairn_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Matching the current file's columns with the reference                 */
/* ---------------------------------------------------------------------- */

typedef struct header {
    int n;
    char **names;
} header;

static int on_header(const cairn_frame *f, uint64_t first_row, void *payload)
{
    (void)first_row;
    header *h = payload;
    h->n = f->ncols;
    h->names = cairn_calloc((size_t)f->ncols + 1, sizeof(char *));
    for (int j = 0; j < f->ncols; j++)
        h->names[j] = cairn_strdup(f->cols[j].name);
    return HEADER_SEEN;
}

static void header_free(header *h)
{
    for (int j = 0; j < h->n; j++)
        cairn_free(h->names[j]);
    cairn_free(h->names);
}

static int in_header(const header *h, const char *name)
{
    for (int j = 0; j < h->n; j++)
        if (!strcmp(h->names[j], name)) return 1;
    return 0;
}

/* Appends ", name" (or "name") to a bounded list for one error line. */
static void list_add(char *list, size_t cap, const char *name)
{
    size_t k = strlen(list);
    if (k + 8 >= cap) return;
    snprintf(list + k, cap - k, "%s'%s'", k ? ", " : "", name);
}

/*
 * Fills r->f with the profile's features (then prediction columns) that the
 * current header has, except the target. Columns in one file only are an
 * error, or with ignore_missing are listed in r->skipped.
 */
static int match_columns(cli_drift_report *r, const cairn_profile *p, const header *h,
                         const args *a)
{
    int nf = cairn_profile_n_features(p), np = cairn_profile_n_predictions(p);
    char only_ref[400] = "", only_cur[400] = "";
    int n_ref = 0, n_cur = 0;
    r->f = cairn_calloc((size_t)(nf + np) + 1, sizeof(cli_drift_feature));
    r->skipped = cairn_calloc((size_t)(nf + h->n) + 1, sizeof(char *));
    for (int i = 0; i < nf + np; i++) {
        const cairn_profile_feature *pf =
            i < nf ? cairn_profile_feature_at(p, i) : cairn_profile_prediction_at(p, i - nf);
        const char *name = cairn_profile_feature_name(pf);
        if (a->target && !strcmp(name, a->target)) continue;
        if (!in_header(h, name)) {
            if (i >= nf) continue; /* prediction columns are optional */
            list_add(only_ref, sizeof(only_ref), name);
            n_ref++;
            char buf[300];
            snprintf(buf, sizeof(buf), "%s (reference only)", name);
            r->skipped[r->n_skipped++] = cairn_strdup(buf);
            continue;
        }
        cli_drift_feature *f = &r->f[r->n++];
        f->name = name;
        f->pf = pf;
        f->categorical = cairn_profile_feature_type(pf) == CAIRN_PROFILE_CATEGORICAL;
    }
    for (int j = 0; j < h->n; j++) {
        const char *name = h->names[j];
        if ((a->target && !strcmp(name, a->target)) || cairn_profile_find(p, name) >= 0) continue;
        int is_pred = 0;
        for (int k = 0; k < np; k++)
            is_pred |= !strcmp(name, cairn_profile_feature_name(cairn_profile_prediction_at(p, k)));
        if (is_pred) continue;
        list_add(only_cur, sizeof(only_cur), name);
        n_cur++;
        char buf[300];
        snprintf(buf, sizeof(buf), "%s (current only)", name);
        r->skipped[r->n_skipped++] = cairn_strdup(buf);
    }
    if ((n_ref || n_cur) && !a->ignore_missing)
        return ERR(CAIRN_EINVALID,
                   "columns do not match:%s%s%s%s (--target COL leaves one out, "
                   "--ignore-missing skips them)",
                   n_ref ? " in the reference only: " : "", only_ref,
                   n_cur ? (n_ref ? "; in the current file only: " : " in the current file only: ")
                         : "",
                   only_cur);
    if (r->n == 0)
        return ERR(CAIRN_EINVALID, "%s and %s have no column in common", a->reference, a->current);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Streaming the current file                                             */
/* ---------------------------------------------------------------------- */

static int on_chunk(const cairn_frame *f, uint64_t first_row, void *payload)
{
    (void)first_row;
    cli_drift_report *r = payload;
    r->current_rows += f->nrows;
    for (int i = 0; i < r->n; i++) {
        cli_drift_feature *d = &r->f[i];
        int j = cairn_frame_find(f, d->name);
        if (j < 0) return ERR(CAIRN_ERROR, "column '%s' missing from a chunk", d->name);
        const cairn_column *c = &f->cols[j];
        if (!d->categorical) {
            cairn_sketch_add_n(d->sk, c->f64, f->nrows, 1);
            continue;
        }
        for (size_t k = 0; k < f->nrows; k++) {
            int32_t code = c->codes[k];
            const char *s = code < 0 ? NULL : c->dict[code];
            cairn_catcount_add(d->cc, s, s ? strlen(s) : 0);
        }
    }
    return 0;
}

/* Creates the sketches and counters, then streams the current file with
 * each column's type fixed by the reference (a non-number in a numeric
 * column is a "not a number" error with its line). */
static int stream_current(cli_drift_report *r, const args *a)
{
    const char **use = cairn_calloc((size_t)r->n + 1, sizeof(char *));
    cairn_csv_coltype *types = cairn_calloc((size_t)r->n + 1, sizeof(cairn_csv_coltype));
    int rc = 0;
    for (int i = 0; i < r->n && !rc; i++) {
        cli_drift_feature *d = &r->f[i];
        use[i] = d->name;
        types[i].name = d->name;
        types[i].type = d->categorical ? CAIRN_COL_CAT : CAIRN_COL_F64;
        rc = d->categorical ? cairn_catcount_new_for_feature(&d->cc, d->pf, NULL)
                            : cairn_sketch_new_for_feature(&d->sk, d->pf, NULL);
    }
    if (!rc) {
        cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
        o.usecols = use;
        o.nusecols = (size_t)r->n;
        o.types = types;
        o.ntypes = (size_t)r->n;
        rc = cairn_csv_read_chunks(a->current, &o, CLI_DRIFT_CHUNK_BYTES, on_chunk, r);
    }
    if (!rc && r->current_rows == 0) rc = ERR(CAIRN_EINVALID, "%s: no data rows", a->current);
    cairn_free(use);
    cairn_free(types);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Evaluation and output                                                  */
/* ---------------------------------------------------------------------- */

static int evaluate(cli_drift_report *r, const cairn_monitor_policy *policy)
{
    r->drifted = 0;
    for (int i = 0; i < r->n; i++) {
        cli_drift_feature *d = &r->f[i];
        cairn_drift_opts o = CAIRN_DRIFT_OPTS_INIT;
        if (policy) cairn_monitor_policy_feature(policy, NULL, d->name, &o.stat, &o.threshold);
        d->opts = o;
        int rc = d->categorical ? cairn_drift_eval_categories(d->pf, d->cc, &o, &d->r)
                                : cairn_drift_eval_sketch(d->pf, d->sk, &o, &d->r);
        if (rc) return ERR(rc, "column '%s': %s", d->name, cairn_error_last()->msg);
        d->error_bound = 0;
        if (!d->categorical && d->r.count > 0) {
            cairn_profile_numeric pn;
            cairn_profile_feature_numeric(d->pf, &pn);
            if (d->r.stat == CAIRN_DRIFT_KS) d->error_bound = cairn_sketch_ks_error(d->sk);
            if (d->r.stat == CAIRN_DRIFT_WASSERSTEIN)
                d->error_bound =
                    cairn_sketch_w1_error(d->sk) / fmax(pn.std, CAIRN_DRIFT_WASSERSTEIN_MIN_STD);
        }
        r->drifted += d->r.drift != 0;
    }
    r->share = r->n ? (double)r->drifted / r->n : 0;
    r->dataset_drift = r->n > 0 && r->share >= 0.5;
    return 0;
}

static void fmt_num(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.4g", v);
}

static void print_table(const cli_drift_report *r)
{
    printf("%-24s %-11s %-11s %10s %9s %-5s %8s %8s %8s\n", "FEATURE", "TYPE", "STATISTIC", "SCORE",
           "THRESHOLD", "DRIFT", "MISSING", "OUTRANGE", "NEWCAT");
    for (int i = 0; i < r->n; i++) {
        const cli_drift_feature *d = &r->f[i];
        char score[32], thr[32];
        fmt_num(score, sizeof(score), d->r.score);
        fmt_num(thr, sizeof(thr), d->r.threshold);
        printf("%-24.60s %-11s %-11s %10s %9s %-5s %7.2f%% %7.2f%% %7.2f%%\n", d->name,
               d->categorical ? "categorical" : "numeric", cairn_drift_stat_name(d->r.stat), score,
               thr, d->r.drift ? "YES" : "no", 100 * d->r.missing_rate,
               100 * d->r.out_of_range_rate, 100 * d->r.new_category_rate);
    }
    printf("\n%d of %d columns drifted (%.1f%%); dataset drift: %s (rule: share >= 50%%)\n",
           r->drifted, r->n, 100 * r->share, r->dataset_drift ? "YES" : "no");
    for (int i = 0; i < r->n_skipped; i++)
        printf("skipped: %s\n", r->skipped[i]);
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *report_json(const cli_drift_report *r)
{
    json_t *feats = json_array(), *skipped = json_array();
    for (int i = 0; i < r->n; i++) {
        const cli_drift_feature *d = &r->f[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(d->name));
        json_object_set_new(o, "type", json_string(d->categorical ? "categorical" : "numeric"));
        json_object_set_new(o, "statistic", json_string(cairn_drift_stat_name(d->r.stat)));
        json_object_set_new(o, "statistic_value", jnum(d->r.statistic));
        json_object_set_new(o, "score", jnum(d->r.score));
        json_object_set_new(o, "score_is_pvalue",
                            json_boolean(cairn_drift_score_is_pvalue(d->r.stat)));
        json_object_set_new(o, "threshold", jnum(d->r.threshold));
        json_object_set_new(o, "drift", json_boolean(d->r.drift));
        json_object_set_new(o, "approximate", json_boolean(d->r.approximate));
        json_object_set_new(o, "error_bound", json_real(d->error_bound));
        json_object_set_new(o, "count", json_integer((json_int_t)d->r.count));
        json_object_set_new(o, "missing", json_integer((json_int_t)d->r.missing));
        json_object_set_new(o, "missing_rate", jnum(d->r.missing_rate));
        json_object_set_new(o, "out_of_range_rate", jnum(d->r.out_of_range_rate));
        json_object_set_new(o, "new_category_rate", jnum(d->r.new_category_rate));
        json_array_append_new(feats, o);
    }
    for (int i = 0; i < r->n_skipped; i++)
        json_array_append_new(skipped, json_string(r->skipped[i]));
    json_t *s = json_object();
    json_object_set_new(s, "features", json_integer(r->n));
    json_object_set_new(s, "drifted", json_integer(r->drifted));
    json_object_set_new(s, "share", json_real(r->share));
    json_object_set_new(s, "dataset_drift", json_boolean(r->dataset_drift));
    json_object_set_new(s, "dataset_drift_rule", json_string("share >= 0.5"));
    json_t *j = json_object();
    json_object_set_new(j, "reference", json_string(r->reference));
    json_object_set_new(j, "current", json_string(r->current));
    json_object_set_new(j, "reference_rows", json_integer((json_int_t)r->reference_rows));
    json_object_set_new(j, "current_rows", json_integer((json_int_t)r->current_rows));
    json_object_set_new(j, "target", r->target ? json_string(r->target) : json_null());
    json_object_set_new(j, "summary", s);
    json_object_set_new(j, "features", feats);
    json_object_set_new(j, "skipped", skipped);
    return j;
}

static void report_free(cli_drift_report *r)
{
    for (int i = 0; i < r->n; i++) {
        cairn_sketch_free(r->f[i].sk);
        cairn_catcount_free(r->f[i].cc);
    }
    for (int i = 0; i < r->n_skipped; i++)
        cairn_free(r->skipped[i]);
    cairn_free(r->skipped);
    cairn_free(r->f);
}

/* Prints "cairn: <last error>" and returns 2: every failure here is bad
 * usage or bad data, since 1 means "drift". */
static int fail2(void)
{
    fprintf(stderr, "cairn: %s\n", cairn_error_last()->msg);
    return 2;
}

int cmd_monitor_drift(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    cairn_profile *p = NULL;
    cairn_monitor_policy *policy = NULL;
    header h = {0, NULL};
    cli_drift_report r = {0};
    r.reference = a.reference;
    r.current = a.current;
    r.target = a.target;
    int status = 2;

    if (a.policy && cairn_monitor_policy_load(&policy, a.policy) != 0) goto fail;
    if (load_reference(&p, &a) != 0) goto fail;
    r.reference_rows = cairn_profile_n_rows(p);
    rc = cairn_csv_read_chunks(a.current, NULL, CLI_DRIFT_CHUNK_BYTES, on_header, &h);
    if (rc != 0 && rc != HEADER_SEEN) goto fail;
    if (match_columns(&r, p, &h, &a) != 0) goto fail;
    if (a.ignore_missing)
        for (int i = 0; i < r.n_skipped; i++)
            fprintf(stderr, "cairn: warning: skipping column %s\n", r.skipped[i]);
    if (stream_current(&r, &a) != 0 || evaluate(&r, policy) != 0) goto fail;

    if (a.json) {
        json_t *j = report_json(&r);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        if (s) printf("%s\n", s);
        free(s); /* allocated by jansson */
        json_decref(j);
    } else {
        print_table(&r);
    }
    if (a.html && cli_drift_write_html(&r, a.html) != 0) goto fail;
    status = r.drifted ? 1 : 0;
    goto cleanup;

fail:
    status = fail2();
cleanup:
    report_free(&r);
    header_free(&h);
    cairn_profile_free(p);
    cairn_monitor_policy_free(policy);
    return status;
}
