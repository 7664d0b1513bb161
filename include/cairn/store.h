/*
 * cairn/store.h - the metadata store: one interface, two backends (SQLite,
 * the embedded default, and PostgreSQL). Modules above (track, registry)
 * write their own SQL in the dialect subset both backends accept, with `?`
 * placeholders; no driver type appears above store/.
 *
 * Writes go through one writer thread that group-commits: concurrent
 * cairn_store_write() calls are queued and executed in one transaction, each
 * inside its own SAVEPOINT so one failing request does not undo the others.
 * A write is acknowledged (its callback called / the call returns) only after
 * the transaction commits. Reads run on a pool of read connections and never
 * wait for the writer (SQLite WAL, PostgreSQL MVCC).
 *
 * SQL subset (both backends): INTEGER/BIGINT/TEXT/DOUBLE PRECISION columns;
 * INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE SET x = excluded.x;
 * LIKE is case-sensitive on both (SQLite runs with case_sensitive_like);
 * case-insensitive matching is written `lower(a) LIKE lower(?)`.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include "cairn/core.h"

typedef struct cairn_store cairn_store;
typedef struct cairn_store_tx cairn_store_tx;

typedef enum cairn_store_dialect {
    CAIRN_STORE_SQLITE = 1,
    CAIRN_STORE_POSTGRES = 2
} cairn_store_dialect;

typedef enum cairn_vtype {
    CAIRN_V_NULL = 0,
    CAIRN_V_INT,
    CAIRN_V_REAL,
    CAIRN_V_TEXT
} cairn_vtype;

/* A bound parameter or a result column. Text is borrowed (not copied):
 * for parameters, valid for the duration of the call; for result columns,
 * valid only inside the row callback. */
typedef struct cairn_value {
    cairn_vtype type;
    union {
        int64_t i;
        double d;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } u;
} cairn_value;

#define CAIRN_VINT(x) ((cairn_value){.type = CAIRN_V_INT, .u.i = (int64_t)(x)})
#define CAIRN_VREAL(x) ((cairn_value){.type = CAIRN_V_REAL, .u.d = (double)(x)})
#define CAIRN_VTEXT(x) ((cairn_value){.type = CAIRN_V_TEXT, .u.s = {(x), strlen(x)}})
#define CAIRN_VTEXTN(x, n) ((cairn_value){.type = CAIRN_V_TEXT, .u.s = {(x), (n)}})
#define CAIRN_VNULL ((cairn_value){.type = CAIRN_V_NULL})

/* Row callback: return 0 to continue, non-zero to stop (that value is
 * returned by the query call). Column values are borrowed. */
typedef int (*cairn_row_cb)(const cairn_value *cols, int ncols, void *payload);

typedef struct cairn_store_opts {
    int version;
    int sync_full;   /* SQLite: synchronous=FULL (fsync each commit) instead of NORMAL */
    int batch_max;   /* most queued writes folded into one transaction (default 512) */
    int readers;     /* read connections (default: 2 x cores) */
} cairn_store_opts;
#define CAIRN_STORE_OPTS_VERSION 1
#define CAIRN_STORE_OPTS_INIT {CAIRN_STORE_OPTS_VERSION, 0, 512, 0}

/* Opens (creating if needed) and migrates a store. `uri` is
 * "postgresql://..." / "postgres://..." for PostgreSQL, otherwise a SQLite
 * file path (optionally "sqlite:" / "sqlite://" prefixed). Runs the numbered
 * migrations; a database whose schema version is newer than this binary
 * knows is refused with CAIRN_EUNSUPPORTED and a message naming both
 * versions. Starts the writer thread. */
CAIRN_API int cairn_store_open(cairn_store **out, const char *uri, const cairn_store_opts *opts);
/* Drains queued writes, stops the writer, closes connections. NULL is a no-op. */
CAIRN_API void cairn_store_close(cairn_store *store);
CAIRN_API cairn_store_dialect cairn_store_dialect_of(const cairn_store *store);
/* Schema version of the open database, and the newest this binary knows. */
CAIRN_API int cairn_store_schema_version(cairn_store *store);
CAIRN_API int cairn_store_schema_latest(void);

/* Read query on a read connection. Thread-safe. Returns 0, the callback's
 * non-zero value, or a negative code (CAIRN_EINVALID for SQL errors,
 * CAIRN_EBUSY, CAIRN_EIO). */
CAIRN_API int cairn_store_query(cairn_store *store, const char *sql, const cairn_value *params,
                                int nparams, cairn_row_cb cb, void *payload);

/* A write unit: runs on the writer thread inside a transaction savepoint.
 * Return 0 to keep its changes, or a negative code to roll back just this
 * unit (the code is handed back to the submitter). It must not block on
 * anything but the database. */
typedef int (*cairn_write_fn)(cairn_store_tx *tx, void *payload);
/* Called on the writer thread after the unit's transaction committed (rc 0)
 * or failed (rc < 0: the unit's own code, or the commit's). Must be quick. */
typedef void (*cairn_write_done)(int rc, void *payload);

/* Queues fn; done(rc, done_payload) follows after commit. When the writer is
 * idle and nothing is queued, fn, the commit and done run at once on the
 * calling thread before this returns (it saves two thread hand-offs per
 * write); otherwise it returns at once and done runs on the writer thread.
 * Callers must accept either. If this returns non-zero, neither fn nor done
 * is ever called. Thread-safe. */
CAIRN_API int cairn_store_write_async(cairn_store *store, cairn_write_fn fn, void *payload,
                                      cairn_write_done done, void *done_payload);
/* Queues fn and blocks until its transaction commits; returns fn's code or
 * the commit's. Thread-safe. */
CAIRN_API int cairn_store_write(cairn_store *store, cairn_write_fn fn, void *payload);

/* Executes one statement inside a write unit; rows (if any) go to cb.
 * CAIRN_EEXISTS on a unique-constraint violation, CAIRN_EINVALID on SQL error. */
CAIRN_API int cairn_tx_exec(cairn_store_tx *tx, const char *sql, const cairn_value *params,
                            int nparams, cairn_row_cb cb, void *payload);
/* Rows changed by the last cairn_tx_exec. */
CAIRN_API int64_t cairn_tx_changes(cairn_store_tx *tx);
CAIRN_API cairn_store_dialect cairn_tx_dialect(cairn_store_tx *tx);

/* Note on cairn_tx_exec: the first statement error in a write unit is
 * sticky. Later cairn_tx_exec calls in that unit return the same code
 * without running, and the unit is rolled back even if its function then
 * returns 0 (PostgreSQL aborts the transaction at the first error; both
 * backends behave that way). Use ON CONFLICT rather than catching
 * CAIRN_EEXISTS and continuing. See docs/internals/store.md. */

#endif
