/*
 * store_sqlite.c - the SQLite backend (embedded default).
 *
 * Key idea: callers reuse a few hundred SQL strings at very high rates, so
 * each connection keeps a cache of prepared statements keyed by SQL text
 * (hash + strcmp, cleared when full). The hot path of a write is then: hash
 * the text, find the statement, bind (text is bound SQLITE_STATIC: no copy),
 * step, reset: no allocation. Connections run in WAL mode with
 * case_sensitive_like so LIKE means what it means on PostgreSQL.
 * SQLite errors are translated to cairn codes here and nowhere else.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define CACHE_MAX 128
#define CACHE_BUCKETS 256 /* power of two, > CACHE_MAX */
#define STACK_COLS 32

struct cached_stmt {
    char *sql;
    uint32_t hash;
    int next; /* bucket chain, -1 ends */
    int busy; /* being stepped (a row callback may run nested statements) */
    sqlite3_stmt *stmt;
};

struct sqlite_conn {
    sqlite3 *db;
    int n;
    int nbusy;
    int buckets[CACHE_BUCKETS];
    struct cached_stmt entries[CACHE_MAX];
};

static uint32_t hash_sql(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Translates a SQLite result code into a cairn code with the message set. */
static int map_error(sqlite3 *db, int src)
{
    int ext = sqlite3_extended_errcode(db);
    const char *msg = sqlite3_errmsg(db);
    int code;
    switch (src & 0xff) {
    case SQLITE_CONSTRAINT:
        code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
                   ? CAIRN_EEXISTS
                   : CAIRN_EINVALID;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = CAIRN_EBUSY;
        break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        code = CAIRN_EIO;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        code = CAIRN_ECORRUPT;
        break;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        code = CAIRN_EINVALID;
        break;
    case SQLITE_NOMEM:
        code = CAIRN_ENOMEM;
        break;
    default:
        code = CAIRN_ERROR;
        break;
    }
    return cairn_error_set(code, CAIRN_SUBSYS_STORE, "sqlite: %s", msg);
}

static void cache_clear(struct sqlite_conn *c)
{
    for (int i = 0; i < c->n; i++) {
        sqlite3_finalize(c->entries[i].stmt);
        cairn_free(c->entries[i].sql);
    }
    c->n = 0;
    memset(c->buckets, 0xff, sizeof(c->buckets));
}

/* Returns the statement for `sql` and its cache slot (*slot_out = -1 when
 * the statement is not cached and must be finalized by the caller). On a
 * miss it is prepared and cached; the cache is cleared when full (benign: it
 * only costs re-preparing). A statement being stepped by an outer call on
 * this connection is never reused or evicted: nested calls get a fresh one. */
static int stmt_get(struct sqlite_conn *c, const char *sql, sqlite3_stmt **out, int *slot_out)
{
    uint32_t h = hash_sql(sql);
    int b = (int)(h & (CACHE_BUCKETS - 1));
    int cacheable = 1;
    for (int i = c->buckets[b]; i >= 0; i = c->entries[i].next) {
        if (c->entries[i].hash == h && strcmp(c->entries[i].sql, sql) == 0) {
            if (c->entries[i].busy) {
                cacheable = 0;
                break;
            }
            *out = c->entries[i].stmt;
            *slot_out = i;
            return 0;
        }
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int src = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (src != SQLITE_OK) return map_error(c->db, src);
    if (!st) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "empty sql statement");
    for (; tail && *tail; tail++) {
        if (*tail != ';' && *tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r') {
            sqlite3_finalize(st);
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                                   "one statement per call (use a script for several)");
        }
    }
    if (c->n == CACHE_MAX) {
        if (c->nbusy == 0)
            cache_clear(c);
        else
            cacheable = 0;
    }
    *out = st;
    *slot_out = -1;
    if (!cacheable) return 0;
    struct cached_stmt *e = &c->entries[c->n];
    e->sql = cairn_strdup(sql);
    e->hash = h;
    e->busy = 0;
    e->stmt = st;
    e->next = c->buckets[b];
    *slot_out = c->n;
    c->buckets[b] = c->n++;
    return 0;
}

static int bind_params(struct sqlite_conn *c, sqlite3_stmt *st, const cairn_value *params, int n)
{
    int want = sqlite3_bind_parameter_count(st);
    if (want != n)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                               "statement has %d parameters, %d given", want, n);
    for (int i = 0; i < n; i++) {
        const cairn_value *v = &params[i];
        int src;
        switch (v->type) {
        case CAIRN_V_INT:
            src = sqlite3_bind_int64(st, i + 1, v->u.i);
            break;
        case CAIRN_V_REAL:
            src = sqlite3_bind_double(st, i + 1, v->u.d);
            break;
        case CAIRN_V_TEXT:
            if (v->u.s.len > 0x7fffffff)
                return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_STORE,
                                       "text parameter too large");
            src = sqlite3_bind_text(st, i + 1, v->u.s.ptr ? v->u.s.ptr : "", (int)v->u.s.len,
                                    SQLITE_STATIC);
            break;
        case CAIRN_V_NULL:
            src = sqlite3_bind_null(st, i + 1);
            break;
        default:
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                                   "bad value type %d for parameter %d", (int)v->type, i + 1);
        }
        if (src != SQLITE_OK) return map_error(c->db, src);
    }
    return 0;
}

/* Converts the current row and hands it to cb; returns cb's value. */
static int emit_row(sqlite3_stmt *st, cairn_value *cols, int ncols, cairn_row_cb cb, void *payload)
{
    for (int i = 0; i < ncols; i++) {
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            cols[i] = CAIRN_VINT(sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT:
            cols[i] = CAIRN_VREAL(sqlite3_column_double(st, i));
            break;
        case SQLITE_NULL:
            cols[i] = CAIRN_VNULL;
            break;
        default: {
            /* text and blobs: pointer first, then the byte count (SQLite's order) */
            const char *t = (const char *)sqlite3_column_text(st, i);
            int len = sqlite3_column_bytes(st, i);
            cols[i] = CAIRN_VTEXTN(t ? t : "", (size_t)len);
        }
        }
    }
    return cb(cols, ncols, payload);
}

static int sq_exec(void *conn, const char *sql, const cairn_value *params, int nparams,
                   cairn_row_cb cb, void *payload, int64_t *changes_out)
{
    struct sqlite_conn *c = conn;
    sqlite3_stmt *st = NULL;
    int slot = -1;
    int rc = stmt_get(c, sql, &st, &slot);
    if (rc < 0) return rc;
    if (slot >= 0) {
        c->entries[slot].busy = 1;
        c->nbusy++;
    }
    if ((rc = bind_params(c, st, params, nparams)) < 0) goto done;
    int ncols = sqlite3_column_count(st);
    cairn_value stack_cols[STACK_COLS];
    cairn_value *cols =
        ncols > STACK_COLS ? cairn_malloc(sizeof(cairn_value) * (size_t)ncols) : stack_cols;
    for (;;) {
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            if (!cb) continue;
            if ((rc = emit_row(st, cols, ncols, cb, payload)) != 0) break;
        } else if (src == SQLITE_DONE) {
            break;
        } else {
            rc = map_error(c->db, src);
            break;
        }
    }
    if (cols != stack_cols) cairn_free(cols);
    if (changes_out) *changes_out = sqlite3_changes64(c->db);
done:
    if (slot < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    c->entries[slot].busy = 0;
    c->nbusy--;
    return rc;
}

static int sq_exec_script(void *conn, const char *sql)
{
    struct sqlite_conn *c = conn;
    int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : map_error(c->db, src);
}

static void sq_disconnect(void *conn)
{
    struct sqlite_conn *c = conn;
    if (!c) return;
    cache_clear(c);
    sqlite3_close(c->db);
    cairn_free(c);
}

/* Runs a PRAGMA and, when want != NULL, checks its first result column. */
static int pragma(struct sqlite_conn *c, const char *sql, const char *want)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (src != SQLITE_OK) return map_error(c->db, src);
    src = sqlite3_step(st);
    int rc = 0;
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = map_error(c->db, src);
    } else if (want) {
        const char *got = src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (!got || strcmp(got, want) != 0)
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_STORE, "sqlite: '%s' gave '%s', not '%s'",
                                 sql, got ? got : "nothing", want);
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_connect(struct cairn_store *s, int writer, void **out)
{
    struct sqlite_conn *c = cairn_calloc(1, sizeof(*c));
    memset(c->buckets, 0xff, sizeof(c->buckets));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int src = sqlite3_open_v2(s->target, &c->db, flags, NULL);
    int rc = 0;
    if (src != SQLITE_OK) {
        rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_STORE, "sqlite: cannot open %s: %s", s->target,
                             c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    if ((rc = pragma(c, "PRAGMA busy_timeout = 10000", NULL)) < 0) goto fail;
    if (writer && (rc = pragma(c, "PRAGMA journal_mode = WAL", "wal")) < 0) goto fail;
    if ((rc = pragma(
             c, s->opts.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
             NULL)) < 0)
        goto fail;
    if ((rc = pragma(c, "PRAGMA case_sensitive_like = ON", NULL)) < 0) goto fail;
    if ((rc = pragma(c, "PRAGMA foreign_keys = OFF", NULL)) < 0) goto fail;
    if (!writer && (rc = pragma(c, "PRAGMA query_only = ON", NULL)) < 0) goto fail;
    /* Readers map the file instead of each keeping a private page cache:
     * the OS pages are shared by every connection, so searches read the
     * database without a read() per page and RSS does not grow per reader. */
    if ((rc = pragma(c, "PRAGMA mmap_size = 1073741824", NULL)) < 0) goto fail;
    *out = c;
    return 0;
fail:
    sq_disconnect(c);
    return rc;
}

static int sq_broken(void *conn)
{
    (void)conn;
    return 0;
}

static int sq_reset(void *conn)
{
    (void)conn;
    return 0;
}

const struct cairn_store_backend cairn_store__sqlite_backend = {
    CAIRN_STORE_SQLITE, "sqlite",  "BEGIN IMMEDIATE", sq_connect, sq_disconnect, sq_exec,
    sq_exec_script,     sq_broken, sq_reset,
};
