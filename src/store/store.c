/*
 * store.c - the backend-independent half of the metadata store: parsing the
 * URI, the reader pool, read queries and schema migrations.
 *
 * Key idea: a backend only knows how to open a connection and run one
 * statement on it; the pool (a mutex-protected free list that grows lazily up
 * to opts.readers), migrations (one transaction per numbered file, with its
 * schema_version bump) and the group-commit writer (store_writer.c) are
 * written once for both.
 */
#include <assert.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MIGRATION_LOCK_PG "SELECT pg_advisory_xact_lock(4242017)"

cairn_error *cairn_store__save_error(void)
{
    cairn_error *e = cairn_malloc(sizeof(*e));
    *e = *cairn_error_last();
    if (e->code == CAIRN_OK) {
        e->code = CAIRN_ERROR;
        e->subsys = CAIRN_SUBSYS_STORE;
        snprintf(e->msg, sizeof(e->msg), "unknown store error");
    }
    return e;
}

/* ---- URI ---- */

/* Picks the backend and the connection target for `uri`; *target_out is a
 * fresh string. SQLite parent directories are created here. */
static int parse_uri(const char *uri, const struct cairn_store_backend **be_out, char **target_out)
{
    if (cairn_str_startswith(uri, "postgresql://") || cairn_str_startswith(uri, "postgres://")) {
        *be_out = &cairn_store__pg_backend;
        *target_out = cairn_strdup(uri);
        return 0;
    }
    const char *path = uri;
    if (cairn_str_startswith(path, "sqlite://"))
        path += strlen("sqlite://");
    else if (cairn_str_startswith(path, "sqlite:"))
        path += strlen("sqlite:");
    if (!*path)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                               "empty sqlite path in store uri");
    if (strcmp(path, ":memory:") == 0 || cairn_str_startswith(path, "file:"))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                               "sqlite store needs a file path (wal mode), not '%s'", path);
    char *copy = cairn_strdup(path);
    char *dir = dirname(copy);
    int rc = 0;
    if (strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0) rc = cairn_mkdir_p(dir, 0755);
    cairn_free(copy);
    if (rc < 0) return rc;
    *be_out = &cairn_store__sqlite_backend;
    *target_out = cairn_strdup(path);
    return 0;
}

/* ---- migrations ---- */

static int read_version_cb(const cairn_value *cols, int ncols, void *payload)
{
    int64_t *v = payload;
    if (ncols >= 1 && cols[0].type == CAIRN_V_INT) *v = cols[0].u.i;
    return 0;
}

/* Copies migration SQL for one dialect: the text of a "/ *!sqlite ... * /" or
 * "/ *!pg ... * /" comment (no spaces inside the delimiters) is kept for that
 * dialect and dropped for the other;
 * everything else is copied as is. An unterminated marker is CAIRN_ECORRUPT
 * (the embedded migrations are tested, so this only guards edits). */
int cairn_store__dialect_sql(const char *sql, cairn_store_dialect d, cairn_buf *out)
{
    static const struct {
        const char *open;
        cairn_store_dialect dialect;
    } marks[] = {{"/*!sqlite ", CAIRN_STORE_SQLITE}, {"/*!pg ", CAIRN_STORE_POSTGRES}};
    const char *p = sql;
    for (;;) {
        const char *next = NULL;
        size_t k = 0;
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(marks); i++) {
            const char *m = strstr(p, marks[i].open);
            if (m && (!next || m < next)) {
                next = m;
                k = i;
            }
        }
        if (!next) return cairn_buf_puts(out, p);
        int rc = cairn_buf_put(out, p, (size_t)(next - p));
        if (rc) return rc;
        const char *body = next + strlen(marks[k].open), *end = strstr(body, "*/");
        if (!end)
            return cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_STORE,
                                   "unterminated dialect marker in migration SQL");
        if (marks[k].dialect == d && (rc = cairn_buf_put(out, body, (size_t)(end - body))))
            return rc;
        p = end + 2;
    }
}

/* Runs one step inside its own transaction: reads the version, and applies
 * migration `m` if the database is older. m == NULL only reads. *version_out
 * receives the version seen (before applying). */
static int migrate_step(struct cairn_store *s, const struct cairn_store_migration *m,
                        int64_t *version_out)
{
    void *c = s->w.conn;
    const struct cairn_store_backend *be = s->be;
    int rc = be->exec(c, be->begin_sql, NULL, 0, NULL, NULL, NULL);
    if (rc < 0) return rc;
    if (be->dialect == CAIRN_STORE_POSTGRES &&
        (rc = be->exec(c, MIGRATION_LOCK_PG, NULL, 0, NULL, NULL, NULL)) < 0)
        goto fail;
    rc = be->exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL,
                  0, NULL, NULL, NULL);
    if (rc < 0) goto fail;
    int64_t v = 0;
    if ((rc = be->exec(c, "SELECT max(version) FROM schema_version", NULL, 0, read_version_cb, &v,
                       NULL)) < 0)
        goto fail;
    *version_out = v;
    if (m && v < m->version) {
        cairn_value p = CAIRN_VINT(m->version);
        cairn_buf sql = CAIRN_BUF_INIT(0);
        if ((rc = cairn_store__dialect_sql(m->sql, be->dialect, &sql)) < 0 ||
            (rc = be->exec_script(c, cairn_buf_cstr(&sql))) < 0) {
            cairn_buf_free(&sql);
            goto fail;
        }
        cairn_buf_free(&sql);
        if ((rc = be->exec(c, "DELETE FROM schema_version", NULL, 0, NULL, NULL, NULL)) < 0)
            goto fail;
        if ((rc = be->exec(c, "INSERT INTO schema_version (version) VALUES (?)", &p, 1, NULL, NULL,
                           NULL)) < 0)
            goto fail;
        cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_STORE, "applied migration|file=%s", m->name);
    }
    if ((rc = be->exec(c, "COMMIT", NULL, 0, NULL, NULL, NULL)) < 0) goto fail;
    return 0;
fail:;
    cairn_error *keep = cairn_store__save_error();
    be->exec(c, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
    cairn_error_set(keep->code, keep->subsys, "%s", keep->msg);
    cairn_free(keep);
    return rc;
}

/* Brings the schema up to the newest embedded migration, refusing a
 * database newer than this binary (CAIRN_EUNSUPPORTED). */
static int migrate(struct cairn_store *s)
{
    int latest = cairn_store_schema_latest();
    int64_t v = 0;
    int rc = migrate_step(s, NULL, &v);
    if (rc < 0) return rc;
    if (v > latest)
        return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_STORE,
                               "database schema version %lld is newer than this cairn binary "
                               "supports (%d); upgrade cairn",
                               (long long)v, latest);
    for (int i = 0; i < cairn_store__nmigrations; i++) {
        const struct cairn_store_migration *m = &cairn_store__migrations[i];
        if (m->version <= v) continue;
        int64_t seen = 0;
        if ((rc = migrate_step(s, m, &seen)) < 0) return rc;
        if (seen > latest) /* another process upgraded it meanwhile */
            return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_STORE,
                                   "database schema version %lld is newer than this cairn binary "
                                   "supports (%d); upgrade cairn",
                                   (long long)seen, latest);
        v = seen > m->version ? seen : m->version;
    }
    s->schema_version = (int)v;
    return 0;
}

int cairn_store_schema_latest(void)
{
    int latest = 0;
    for (int i = 0; i < cairn_store__nmigrations; i++)
        if (cairn_store__migrations[i].version > latest)
            latest = cairn_store__migrations[i].version;
    return latest;
}

int cairn_store_schema_version(cairn_store *s)
{
    return s ? s->schema_version : 0;
}

cairn_store_dialect cairn_store_dialect_of(const cairn_store *s)
{
    return s->be->dialect;
}

/* ---- open / close ---- */

static void close_readers(struct cairn_store *s)
{
    for (int i = 0; i < s->nfree; i++)
        s->be->disconnect(s->rfree[i]);
    s->nfree = 0;
    cairn_free(s->rfree);
    s->rfree = NULL;
}

int cairn_store_open(cairn_store **out, const char *uri, const cairn_store_opts *opts)
{
    *out = NULL;
    if (!uri) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "no store uri");
    cairn_store_opts o = CAIRN_STORE_OPTS_INIT;
    if (opts) {
        if (opts->version < 1 || opts->version > CAIRN_STORE_OPTS_VERSION)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                                   "unknown store options version %d", opts->version);
        o = *opts;
    }
    if (o.batch_max <= 0) o.batch_max = 512;
    if (o.readers <= 0) o.readers = 2 * cairn_ncpu();
    if (o.readers < 1) o.readers = 1;

    struct cairn_store *s = cairn_calloc(1, sizeof(*s));
    s->opts = o;
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcond, NULL);
    s->rfree = cairn_calloc((size_t)o.readers, sizeof(void *));
    int rc = parse_uri(uri, &s->be, &s->target);
    if (rc < 0) goto fail;
    if ((rc = s->be->connect(s, 1, &s->w.conn)) < 0) goto fail;
    if ((rc = migrate(s)) < 0) goto fail;
    if ((rc = cairn_store__writer_start(s)) < 0) goto fail;
    *out = s;
    return 0;
fail:
    cairn_store_close(s);
    return rc;
}

void cairn_store_close(cairn_store *s)
{
    if (!s) return;
    cairn_store__writer_stop(s);
    if (s->w.conn && s->be) s->be->disconnect(s->w.conn);
    pthread_mutex_lock(&s->rmu);
    CAIRN_ASSERT(s->nfree == s->nopen); /* no query may be running during close */
    if (s->be) close_readers(s);
    pthread_mutex_unlock(&s->rmu);
    cairn_free(s->rfree);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rcond);
    cairn_free(s->target);
    cairn_free(s);
}

/* ---- reads ---- */

/* Takes a read connection from the pool, opening one if the pool may grow,
 * else waiting for one to be released. */
static int reader_acquire(struct cairn_store *s, void **out)
{
    pthread_mutex_lock(&s->rmu);
    for (;;) {
        if (s->nfree > 0) {
            *out = s->rfree[--s->nfree];
            pthread_mutex_unlock(&s->rmu);
            return 0;
        }
        if (s->nopen < s->opts.readers) break;
        pthread_cond_wait(&s->rcond, &s->rmu);
    }
    s->nopen++;
    pthread_mutex_unlock(&s->rmu);
    int rc = s->be->connect(s, 0, out);
    if (rc < 0) {
        pthread_mutex_lock(&s->rmu);
        s->nopen--;
        pthread_cond_signal(&s->rcond);
        pthread_mutex_unlock(&s->rmu);
    }
    return rc;
}

/* Returns a read connection; a broken one is closed instead of pooled. */
static void reader_release(struct cairn_store *s, void *c)
{
    int broken = s->be->broken(c);
    if (broken) s->be->disconnect(c);
    pthread_mutex_lock(&s->rmu);
    if (broken)
        s->nopen--;
    else
        s->rfree[s->nfree++] = c;
    pthread_cond_signal(&s->rcond);
    pthread_mutex_unlock(&s->rmu);
}

int cairn_store_query(cairn_store *s, const char *sql, const cairn_value *params, int nparams,
                      cairn_row_cb cb, void *payload)
{
    if (!s || !sql) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "no store or sql");
    void *c;
    int rc = reader_acquire(s, &c);
    if (rc < 0) return rc;
    rc = s->be->exec(c, sql, params, nparams, cb, payload, NULL);
    reader_release(s, c);
    return rc;
}

/* ---- PostgreSQL placeholder rewriting (here so it is testable alone) ---- */

int cairn_store__rewrite_placeholders(const char *sql, cairn_buf *out, int *count_out)
{
    int n = 0, rc = 0;
    const char *p = sql;
    while (*p && rc == 0) {
        const char *start = p;
        if (*p == '\'' || *p == '"') {
            /* quoted string or identifier; a doubled quote is an escaped one */
            char q = *p++;
            int backslash = q == '\'' && start > sql && (start[-1] == 'E' || start[-1] == 'e');
            while (*p) {
                if (backslash && *p == '\\' && p[1])
                    p += 2;
                else if (*p == q && p[1] == q)
                    p += 2;
                else if (*p++ == q)
                    break;
            }
            rc = cairn_buf_put(out, start, (size_t)(p - start));
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            rc = cairn_buf_put(out, start, (size_t)(p - start));
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/'))
                p++;
            if (*p) p += 2;
            rc = cairn_buf_put(out, start, (size_t)(p - start));
        } else if (*p == '?') {
            rc = cairn_buf_printf(out, "$%d", ++n);
            p++;
        } else {
            while (*p && *p != '\'' && *p != '"' && *p != '?' && *p != '-' && *p != '/')
                p++;
            if (p == start) p++; /* a lone '-' or '/' */
            rc = cairn_buf_put(out, start, (size_t)(p - start));
        }
    }
    if (rc == 0 && !out->ptr) rc = cairn_buf_put(out, "", 0);
    *count_out = n;
    return rc;
}
