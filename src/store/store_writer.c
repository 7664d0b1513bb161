/*
 * store_writer.c - the group-commit writer shared by both backends.
 *
 * Key idea: every write is a "unit" queued to one writer thread that owns
 * the only write connection. The thread takes up to batch_max queued units
 * at once and runs them in one transaction, each inside its own SAVEPOINT so
 * a failing unit rolls back alone; then it commits once and acknowledges
 * every unit. While a batch commits, new units keep queueing, so under load
 * one fsync (or one PostgreSQL round trip for COMMIT) is shared by hundreds
 * of requests. A batch of exactly one unit skips the savepoint and uses the
 * transaction itself (see docs/internals/store.md for the measurement).
 *
 * Uncontended fast path (leader/follower group commit): a unit submitted
 * while the writer is idle and the queue is empty runs at once on the
 * submitting thread, which holds the write connection for that one batch.
 * That saves two thread hand-offs per write when requests arrive one at a
 * time; under load units queue behind the running batch and the writer
 * thread commits them together as before. `busy` makes the two exclusive.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* A blocking writer waiting on its own unit (lives on the caller's stack). */
struct waiter {
    struct store_unit unit;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    int rc;
    cairn_error err;
};

static int run_sql(struct cairn_store *s, const char *sql)
{
    return s->be->exec(s->w.conn, sql, NULL, 0, NULL, NULL, NULL);
}

/* Runs one unit's function and records its result; a statement error that
 * the function swallowed still fails the unit (tx.failed_rc is sticky). */
static void run_unit(struct cairn_store *s, struct store_unit *u)
{
    struct cairn_store_tx tx = {s, s->w.conn, 0, 0};
    cairn_error_clear();
    int rc = u->fn(&tx, u->payload);
    if (rc >= 0 && tx.failed_rc < 0) {
        rc = tx.failed_rc;
        cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_STORE,
                  "write unit returned 0 after a failed statement; rolled back|code=%s",
                  cairn_code_name(rc));
    }
    if (rc > 0) rc = 0;
    u->rc = rc;
    if (rc < 0) u->err = cairn_store__save_error();
}

/* Marks every unit of a failed batch with the error now set on this thread. */
static void fail_batch(struct store_unit *batch, int rc)
{
    for (struct store_unit *u = batch; u; u = u->next) {
        u->rc = rc;
        cairn_free(u->err);
        u->err = cairn_store__save_error();
    }
}

/* Runs a batch in one transaction. Never fails as a whole: the outcome is
 * recorded in each unit's rc. */
static void run_batch(struct cairn_store *s, struct store_unit *batch, int n)
{
    int rc;
    if (s->be->broken(s->w.conn) && s->be->reset(s->w.conn) < 0) {
        fail_batch(batch, cairn_error_last()->code ? (int)cairn_error_last()->code : CAIRN_EIO);
        return;
    }
    if ((rc = run_sql(s, s->be->begin_sql)) < 0) {
        fail_batch(batch, rc);
        return;
    }
    if (n == 1) {
        /* no savepoint: the transaction is the unit */
        run_unit(s, batch);
        if (batch->rc < 0) {
            run_sql(s, "ROLLBACK");
            return;
        }
    } else {
        for (struct store_unit *u = batch; u; u = u->next) {
            if ((rc = run_sql(s, "SAVEPOINT u")) < 0) goto abort;
            run_unit(s, u);
            if (u->rc < 0 && (rc = run_sql(s, "ROLLBACK TO SAVEPOINT u")) < 0) goto abort;
            if ((rc = run_sql(s, "RELEASE SAVEPOINT u")) < 0) goto abort;
        }
    }
    if ((rc = run_sql(s, "COMMIT")) < 0) goto abort;
    return;

abort:
    fail_batch(batch, rc);
    cairn_error *keep = cairn_store__save_error();
    run_sql(s, "ROLLBACK");
    cairn_error_set(keep->code, keep->subsys, "%s", keep->msg);
    cairn_free(keep);
}

/* Acknowledges each unit of a finished batch, restoring its own message
 * on this thread so done() can read cairn_error_last(). */
static void finish_batch(struct store_unit *batch)
{
    struct store_unit *u = batch;
    while (u) {
        struct store_unit *next = u->next;
        if (u->err)
            cairn_error_set(u->err->code, u->err->subsys, "%s", u->err->msg);
        else
            cairn_error_clear();
        cairn_free(u->err);
        u->err = NULL;
        int heap = u->heap;
        if (u->done) u->done(u->rc, u->done_payload);
        if (heap) cairn_free(u);
        u = next;
    }
}

static void *writer_main(void *arg)
{
    struct cairn_store *s = arg;
    struct store_writer *w = &s->w;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->busy || (!w->head && !w->stopping))
            pthread_cond_wait(&w->cond, &w->mu);
        if (!w->head) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        w->busy = 1;
        struct store_unit *batch = w->head, *last = w->head;
        int n = 1;
        while (last->next && n < s->opts.batch_max) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head) w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);

        run_batch(s, batch, n);
        finish_batch(batch);
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

int cairn_store__writer_start(struct cairn_store *s)
{
    struct store_writer *w = &s->w;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, s) != 0)
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_STORE, "cannot start the writer thread");
    w->started = 1;
    return 0;
}

void cairn_store__writer_stop(struct cairn_store *s)
{
    struct store_writer *w = &s->w;
    if (!w->started) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    w->started = 0;
}

/* Appends a unit to the queue, or runs it at once on this thread when the
 * writer is idle (the fast path above); CAIRN_EBUSY once the store is closing.
 * The writer thread itself always queues (its blocking writes are refused). */
static int enqueue(struct cairn_store *s, struct store_unit *u)
{
    struct store_writer *w = &s->w;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return cairn_error_set(CAIRN_EBUSY, CAIRN_SUBSYS_STORE, "store is closing");
    }
    u->next = NULL;
    if (!w->busy && !w->head && !pthread_equal(pthread_self(), w->thread)) {
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        cairn_error saved = *cairn_error_last();
        run_batch(s, u, 1);
        finish_batch(u);
        cairn_error_set(saved.code, saved.subsys, "%s", saved.msg);
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
        /* units that queued meanwhile, or a stop request, wake the writer */
        if (w->head || w->stopping) pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    int was_empty = w->head == NULL;
    if (w->tail)
        w->tail->next = u;
    else
        w->head = u;
    w->tail = u;
    /* the writer only sleeps on an empty queue */
    if (was_empty) pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int cairn_store_write_async(cairn_store *s, cairn_write_fn fn, void *payload, cairn_write_done done,
                            void *done_payload)
{
    if (!s || !fn)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "no store or write function");
    struct store_unit *u = cairn_malloc(sizeof(*u));
    *u = (struct store_unit){NULL, fn, payload, done, done_payload, 0, 1, NULL};
    int rc = enqueue(s, u);
    if (rc < 0) cairn_free(u);
    return rc;
}

static void waiter_done(int rc, void *payload)
{
    struct waiter *wt = payload;
    pthread_mutex_lock(&wt->mu);
    wt->rc = rc;
    if (rc < 0) wt->err = *cairn_error_last();
    wt->done = 1;
    pthread_cond_signal(&wt->cond);
    pthread_mutex_unlock(&wt->mu);
}

int cairn_store_write(cairn_store *s, cairn_write_fn fn, void *payload)
{
    if (!s || !fn)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "no store or write function");
    if (s->w.started && pthread_equal(pthread_self(), s->w.thread))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                               "blocking write from the writer thread would deadlock");
    struct waiter wt;
    memset(&wt, 0, sizeof(wt));
    wt.unit = (struct store_unit){NULL, fn, payload, waiter_done, &wt, 0, 0, NULL};
    pthread_mutex_init(&wt.mu, NULL);
    pthread_cond_init(&wt.cond, NULL);
    int rc = enqueue(s, &wt.unit);
    if (rc == 0) {
        pthread_mutex_lock(&wt.mu);
        while (!wt.done)
            pthread_cond_wait(&wt.cond, &wt.mu);
        pthread_mutex_unlock(&wt.mu);
        rc = wt.rc;
        if (rc < 0) cairn_error_set(wt.err.code, wt.err.subsys, "%s", wt.err.msg);
    }
    pthread_mutex_destroy(&wt.mu);
    pthread_cond_destroy(&wt.cond);
    return rc;
}

int cairn_tx_exec(cairn_store_tx *tx, const char *sql, const cairn_value *params, int nparams,
                  cairn_row_cb cb, void *payload)
{
    if (!tx || !sql)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE, "no transaction or sql");
    if (tx->failed_rc < 0)
        return cairn_error_set(tx->failed_rc, CAIRN_SUBSYS_STORE,
                               "an earlier statement of this write unit failed");
    tx->changes = 0;
    int rc = tx->store->be->exec(tx->conn, sql, params, nparams, cb, payload, &tx->changes);
    if (rc < 0) tx->failed_rc = rc;
    return rc;
}

int64_t cairn_tx_changes(cairn_store_tx *tx)
{
    return tx ? tx->changes : 0;
}

cairn_store_dialect cairn_tx_dialect(cairn_store_tx *tx)
{
    return tx->store->be->dialect;
}
