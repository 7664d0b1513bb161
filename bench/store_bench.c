/*
 * store_bench.c - group-commit throughput of the SQLite store.
 *
 * 100,000 single-row INSERT units submitted with cairn_store_write_async
 * from 4 threads; reports units/s. Then the cost of a unit-level savepoint:
 * 100,000 inserts inside one unit, plain versus each wrapped in
 * SAVEPOINT/RELEASE. Not built by CMake; compile against a build tree:
 *   cc -O2 -Iinclude bench/store_bench.c BUILD/libcairn_store.a BUILD/libcairn_core.a \
 *      -lsqlite3 -lpq -ljansson -lyaml -lcrypto -lpthread -lm -o store_bench
 *   ./store_bench [DIR]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/store.h"

#define THREADS 4
#define UNITS 100000

struct unit {
    int64_t id;
};

static atomic_int done_count, fail_count;
static cairn_store *store;

static int insert_fn(cairn_store_tx *tx, void *payload)
{
    struct unit *u = payload;
    cairn_value p[4] = {CAIRN_VINT(u->id), CAIRN_VTEXT("loss"), CAIRN_VINT(u->id),
                        CAIRN_VREAL(0.5)};
    return cairn_tx_exec(
        tx, "INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES (?, ?, 0, ?, ?)", p,
        4, NULL, NULL);
}

static void done_fn(int rc, void *payload)
{
    (void)payload;
    if (rc != 0) atomic_fetch_add(&fail_count, 1);
    atomic_fetch_add(&done_count, 1);
}

static void *submit(void *arg)
{
    struct unit *units = arg;
    for (int i = 0; i < UNITS / THREADS; i++)
        if (cairn_store_write_async(store, insert_fn, &units[i], done_fn, NULL) != 0) abort();
    return NULL;
}

static int many_fn(cairn_store_tx *tx, void *payload)
{
    int savepoints = *(int *)payload;
    for (int i = 0; i < UNITS; i++) {
        cairn_value p[4] = {CAIRN_VINT(1000000 + i), CAIRN_VTEXT("acc"), CAIRN_VINT(i),
                            CAIRN_VREAL(0.25)};
        if (savepoints && cairn_tx_exec(tx, "SAVEPOINT b", NULL, 0, NULL, NULL) != 0) return -1;
        if (cairn_tx_exec(
                tx,
                "INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES (?, ?, 0, ?, ?)",
                p, 4, NULL, NULL) != 0)
            return -1;
        if (savepoints && cairn_tx_exec(tx, "RELEASE SAVEPOINT b", NULL, 0, NULL, NULL) != 0)
            return -1;
    }
    return 0;
}

static int clear_fn(cairn_store_tx *tx, void *payload)
{
    (void)payload;
    return cairn_tx_exec(tx, "DELETE FROM metrics WHERE run_id >= 1000000", NULL, 0, NULL, NULL);
}

int main(int argc, char **argv)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "sqlite:%s/bench.db", argc > 1 ? argv[1] : "/tmp/cairn-store-bench");
    cairn_log_set_level(CAIRN_LOG_WARN);
    if (cairn_store_open(&store, uri, NULL) != 0) {
        fprintf(stderr, "open: %s\n", cairn_error_last()->msg);
        return 1;
    }
    struct unit *units = cairn_calloc(UNITS, sizeof(*units));
    for (int i = 0; i < UNITS; i++)
        units[i].id = cairn_time_us() * 8 + i;
    pthread_t th[THREADS];
    int64_t t0 = cairn_monotonic_ns();
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, submit, units + t * (UNITS / THREADS));
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    while (atomic_load(&done_count) < UNITS)
        sched_yield();
    double secs = (double)(cairn_monotonic_ns() - t0) / 1e9;
    printf("async single-row insert units: %d in %.3f s = %.0f units/s (%d failed)\n", UNITS, secs,
           UNITS / secs, atomic_load(&fail_count));

    for (int sp = 0; sp < 2; sp++) {
        int64_t t1 = cairn_monotonic_ns();
        if (cairn_store_write(store, many_fn, &sp) != 0)
            fprintf(stderr, "%s\n", cairn_error_last()->msg);
        double s2 = (double)(cairn_monotonic_ns() - t1) / 1e9;
        printf("%d inserts in one unit %s savepoints: %.3f s = %.2f us/insert\n", UNITS,
               sp ? "with" : "without", s2, s2 * 1e6 / UNITS);
        cairn_store_write(store, clear_fn, NULL);
    }
    cairn_store_close(store);
    cairn_free(units);
    return 0;
}
