/*
 * pool.c - a fixed-size thread pool with an unbounded FIFO of tasks.
 * cairn_pool_free drains the queue before joining, so submitted work is
 * never silently dropped.
 */
#include <pthread.h>
#include <unistd.h>

#include "cairn/core.h"

struct task {
    cairn_task_fn fn;
    void *payload;
    struct task *next;
};

struct cairn_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *head, *tail;
    int stopping;
    int n;
    pthread_t *threads;
};

int cairn_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *worker(void *arg)
{
    cairn_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        struct task *t = p->head;
        if (!t) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->head = t->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        t->fn(t->payload);
        cairn_free(t);
    }
}

int cairn_pool_new(cairn_pool **out, int n_threads)
{
    cairn_pool *p = cairn_calloc(1, sizeof(*p));
    if (n_threads <= 0) n_threads = cairn_ncpu();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = cairn_calloc((size_t)n_threads, sizeof(pthread_t));
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            cairn_pool_free(p);
            *out = NULL;
            return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_CORE, "cannot start pool thread");
        }
        p->n++;
    }
    *out = p;
    return 0;
}

int cairn_pool_submit(cairn_pool *p, cairn_task_fn fn, void *payload)
{
    struct task *t = cairn_malloc(sizeof(*t));
    t->fn = fn;
    t->payload = payload;
    t->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail) p->tail->next = t;
    else p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void cairn_pool_free(cairn_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    cairn_free(p->threads);
    cairn_free(p);
}
