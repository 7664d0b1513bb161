/*
 * serve_batch.c - dynamic batching: inference requests for the same model
 * version that arrive close together are predicted as one frame.
 *
 * Key idea: no thread waits for a batch. A request that joins a queue has
 * already deferred its HTTP answer (its connection is suspended and holds
 * no thread); the request that fills the batch (max rows reached, or a
 * preferred size hit) predicts the whole batch on its own thread, and one
 * timer thread dispatches batches whose oldest member has waited the
 * configured delay. Eager mode (the default): a request that finds its
 * queue empty while no other inference request is in flight (being decoded
 * or predicted) runs at once: there is nobody to wait for, so batching costs a lone client
 * nothing. Each member is answered through its own completion
 * callback, with the time it queued and the batch's size. Batches are
 * concatenated column by column in the model's feature order (categorical
 * columns get a merged dictionary); if the merged prediction fails, each
 * member is predicted alone so one bad request cannot fail its neighbours.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "serve_internal.h"

#define MAX_PREFERRED 16

typedef struct queue {
    struct queue *next;
    char *model;
    int64_t version;
    cairn_serve_batch_item *head, **tail;
    size_t rows;
    int64_t deadline_ns; /* when the oldest member's wait ends; valid when head */
} queue;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t timer;
    int running, stop;
    int max_rows;
    int64_t delay_ns;
    int npreferred;
    int preferred[MAX_PREFERRED];
    queue *queues;
    long waiting; /* members in all queues */
    int eager;    /* an empty queue does not wait when nobody else is in flight */
} B = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ================= predicting a batch ================= */

/* Adds model feature j of every member to f, members in list order. */
static int concat_column(cairn_frame *f, const cairn_model *m, int j, cairn_serve_batch_item *list,
                         size_t total)
{
    const char *name = cairn_model_feature_name(m, j);
    int rc;
    if (cairn_model_feature_type(m, j) != CAIRN_COL_CAT) {
        double *x = cairn_malloc(sizeof(double) * (total ? total : 1));
        size_t at = 0;
        for (cairn_serve_batch_item *it = list; it; it = it->next) {
            int c = cairn_frame_find(it->frame, name);
            if (c < 0) {
                cairn_free(x);
                return cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "batch member lacks '%s'",
                                       name);
            }
            for (size_t i = 0; i < it->frame->nrows; i++)
                x[at++] = cairn_frame_get(it->frame, c, i);
        }
        rc = cairn_frame_add_f64(f, name, x);
        cairn_free(x);
        return rc;
    }
    /* categorical: one dictionary for the batch, members' codes remapped */
    int32_t *codes = cairn_malloc(sizeof(int32_t) * (total ? total : 1));
    const char **dict = NULL;
    int32_t ndict = 0, cap = 0;
    json_t *index = json_object();
    size_t at = 0;
    rc = 0;
    for (cairn_serve_batch_item *it = list; it && !rc; it = it->next) {
        int c = cairn_frame_find(it->frame, name);
        if (c < 0 || it->frame->cols[c].type != CAIRN_COL_CAT) {
            rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS, "batch member lacks '%s'", name);
            break;
        }
        const cairn_column *col = &it->frame->cols[c];
        int32_t *map = cairn_malloc(sizeof(int32_t) * (col->ndict ? (size_t)col->ndict : 1));
        for (int32_t d = 0; d < col->ndict; d++) {
            json_t *k = json_object_get(index, col->dict[d]);
            if (k) {
                map[d] = (int32_t)json_integer_value(k);
                continue;
            }
            if (ndict == cap) {
                cap = cap ? cap * 2 : 16;
                dict = cairn_realloc(dict, sizeof(char *) * (size_t)cap);
            }
            dict[ndict] = col->dict[d];
            json_object_set_new(index, col->dict[d], json_integer(ndict));
            map[d] = ndict++;
        }
        for (size_t i = 0; i < it->frame->nrows; i++)
            codes[at++] = col->codes[i] < 0 ? -1 : map[col->codes[i]];
        cairn_free(map);
    }
    if (!rc) rc = cairn_frame_add_cat(f, name, codes, dict, ndict);
    json_decref(index);
    cairn_free(dict);
    cairn_free(codes);
    return rc;
}

/* Predicts the members of list (at least two) as one frame into pred. */
static int predict_merged(const cairn_model *m, cairn_serve_batch_item *list, size_t total,
                          double *pred)
{
    cairn_frame *f = NULL;
    int rc = cairn_frame_new(&f, total);
    for (int j = 0; !rc && j < cairn_model_n_features(m); j++)
        rc = concat_column(f, m, j, list, total);
    if (!rc) rc = cairn_model_predict(m, f, pred, 1);
    cairn_frame_free(f);
    return rc;
}

/* Predicts and completes every member of list; consumes the list. */
static void run_batch(cairn_serve_batch_item *list)
{
    size_t total = 0, n = 0;
    for (cairn_serve_batch_item *it = list; it; it = it->next) {
        total += it->frame->nrows;
        n++;
    }
    const cairn_model *m = list->model;
    int k = cairn_model_n_outputs(m);
    double *pred = cairn_malloc(sizeof(double) * (total ? total : 1) * (size_t)k);
    int64_t start = cairn_monotonic_ns();
    int rc = n == 1 ? cairn_model_predict(m, list->frame, pred, 1)
                    : predict_merged(m, list, total, pred);
    int64_t compute = cairn_monotonic_ns() - start;
    size_t at = 0;
    for (cairn_serve_batch_item *it = list, *next; it; it = next) {
        next = it->next; /* done() may free it */
        size_t rows = it->frame->nrows;
        double *mine = pred + at * (size_t)k;
        int64_t queue_ns = start - it->enqueued_ns, c = compute;
        int irc = rc;
        if (rc && n > 1) { /* alone, so one member's failure is its own */
            int64_t t = cairn_monotonic_ns();
            irc = cairn_model_predict(m, it->frame, mine, 1);
            c = cairn_monotonic_ns() - t;
        }
        it->done(it, irc, mine, queue_ns, c, rc ? rows : total);
        at += rows;
    }
    cairn_free(pred);
}

/* ================= queues ================= */

static queue *queue_get(const char *model, int64_t version)
{
    for (queue *q = B.queues; q; q = q->next)
        if (q->version == version && strcmp(q->model, model) == 0) return q;
    queue *q = cairn_calloc(1, sizeof(*q));
    q->model = cairn_strdup(model);
    q->version = version;
    q->tail = &q->head;
    q->next = B.queues;
    B.queues = q;
    return q;
}

static cairn_serve_batch_item *queue_take(queue *q)
{
    cairn_serve_batch_item *list = q->head;
    for (cairn_serve_batch_item *it = list; it; it = it->next)
        B.waiting--;
    q->head = NULL;
    q->tail = &q->head;
    q->rows = 0;
    return list;
}

static int is_preferred(size_t rows)
{
    for (int i = 0; i < B.npreferred; i++)
        if ((size_t)B.preferred[i] == rows) return 1;
    return 0;
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&B.mu);
    while (!B.stop) {
        int64_t now = cairn_monotonic_ns(), next = INT64_MAX;
        cairn_serve_batch_item *due[64];
        int ndue = 0;
        for (queue *q = B.queues; q && ndue < 64; q = q->next) {
            if (!q->head) continue;
            if (q->deadline_ns <= now)
                due[ndue++] = queue_take(q);
            else if (q->deadline_ns < next)
                next = q->deadline_ns;
        }
        if (ndue) {
            pthread_mutex_unlock(&B.mu);
            for (int i = 0; i < ndue; i++)
                run_batch(due[i]);
            pthread_mutex_lock(&B.mu);
            continue;
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&B.cv, &B.mu);
        } else {
            /* the condition variable runs on CLOCK_MONOTONIC (see init) */
            struct timespec ts = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
            pthread_cond_timedwait(&B.cv, &B.mu, &ts);
        }
    }
    /* stopping: whatever still waits is answered now */
    for (queue *q = B.queues; q; q = q->next) {
        if (!q->head) continue;
        cairn_serve_batch_item *list = queue_take(q);
        pthread_mutex_unlock(&B.mu);
        run_batch(list);
        pthread_mutex_lock(&B.mu);
    }
    pthread_mutex_unlock(&B.mu);
    return NULL;
}

/* ================= interface ================= */

int cairn_serve__batch_start(int max_rows, int delay_us, const char *preferred, int eager)
{
    pthread_mutex_lock(&B.mu);
    int rc = 0;
    if (B.running) goto done;
    B.max_rows = max_rows;
    B.eager = eager;
    B.delay_ns = (int64_t)delay_us * 1000;
    B.npreferred = 0;
    for (const char *p = preferred ? preferred : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p) break;
        int64_t v = 0;
        const char *s = p;
        while (*p >= '0' && *p <= '9' && v < 1000000)
            v = v * 10 + (*p++ - '0');
        if (p == s || (*p && *p != ',' && *p != ' ') || v < 1 || v > max_rows ||
            B.npreferred == MAX_PREFERRED) {
            rc = cairn_error_set(CAIRN_EINVALID, SERVE_SUBSYS,
                                 "serve.batch_preferred must list up to %d sizes between 1 and "
                                 "serve.batch_max (%d), comma-separated",
                                 MAX_PREFERRED, max_rows);
            goto done;
        }
        B.preferred[B.npreferred++] = (int)v;
    }
    if (max_rows <= 1) goto done; /* batching off: nothing to run */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&B.cv);
    pthread_cond_init(&B.cv, &ca);
    pthread_condattr_destroy(&ca);
    B.stop = 0;
    if (pthread_create(&B.timer, NULL, timer_main, NULL)) {
        rc = cairn_error_set(CAIRN_ENOMEM, SERVE_SUBSYS, "cannot start the batching thread");
        goto done;
    }
    B.running = 1;
done:
    pthread_mutex_unlock(&B.mu);
    return rc;
}

void cairn_serve__batch_stop(void)
{
    pthread_mutex_lock(&B.mu);
    int running = B.running;
    B.stop = 1;
    pthread_cond_broadcast(&B.cv);
    pthread_mutex_unlock(&B.mu);
    if (running) pthread_join(B.timer, NULL);
    pthread_mutex_lock(&B.mu);
    for (queue *q = B.queues, *next; q; q = next) {
        next = q->next;
        cairn_free(q->model);
        cairn_free(q);
    }
    B.queues = NULL;
    B.running = 0;
    B.max_rows = 0;
    pthread_mutex_unlock(&B.mu);
}

int cairn_serve__batch_enabled(size_t rows)
{
    return B.running && B.max_rows > 1 && rows < (size_t)B.max_rows;
}

void cairn_serve__batch_submit(const char *model, int64_t version, cairn_serve_batch_item *it,
                               long in_flight)
{
    it->next = NULL;
    it->enqueued_ns = cairn_monotonic_ns();
    cairn_serve_batch_item *take = NULL;
    pthread_mutex_lock(&B.mu);
    queue *q = queue_get(model, version);
    int was_empty = q->head == NULL;
    /* nobody else is being decoded: waiting could only add latency */
    int alone = B.eager && was_empty && in_flight - B.waiting <= 1;
    *q->tail = it;
    q->tail = &it->next;
    q->rows += it->frame->nrows;
    B.waiting++;
    if (alone || q->rows >= (size_t)B.max_rows || is_preferred(q->rows) || B.stop) {
        take = queue_take(q);
    } else if (was_empty) {
        q->deadline_ns = it->enqueued_ns + B.delay_ns;
        pthread_cond_signal(&B.cv);
    }
    pthread_mutex_unlock(&B.mu);
    if (take) run_batch(take);
}
