/*
 * csv_bench.c - the cairn side of the CSV figure of bench/train.
 *
 *   bench_csv_bench FILE THREADS
 *
 * Reads FILE once with cairn_csv_read_file (header, type inference, float64
 * columns, the default NA tokens: the same result as pandas.read_csv with
 * its defaults) on THREADS threads and prints the wall time, the shape, the
 * number of missing values (which the driver checks against pandas') and
 * the process's peak RSS. One read per process, so the peak is the read's.
 * The file has just been written by bench_train_gen, so both readers find it
 * in the page cache.
 */
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>

#include "cairn/core.h"
#include "cairn/csv.h"

int main(int argc, char **argv)
{
    int64_t threads;
    if (argc != 3 || cairn_parse_i64(argv[2], &threads) || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: bench_csv_bench FILE THREADS\n");
        return 2;
    }
    cairn_csv_opts o = CAIRN_CSV_OPTS_INIT;
    o.threads = (int)threads;
    cairn_frame *f;
    int64_t t0 = cairn_monotonic_ns();
    if (cairn_csv_read_file(&f, argv[1], &o)) {
        fprintf(stderr, "csv_bench: %s\n", cairn_error_last()->msg);
        return 1;
    }
    double read_s = (double)(cairn_monotonic_ns() - t0) * 1e-9;
    size_t missing = 0;
    for (int j = 0; j < f->ncols; j++)
        for (size_t i = 0; i < f->nrows; i++)
            missing += isnan(cairn_frame_get(f, j, i));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("read_s %.4f\n", read_s);
    printf("rows %zu\ncols %d\nmissing %zu\n", f->nrows, f->ncols, missing);
    printf("peak_rss_kb %ld\n", ru.ru_maxrss);
    cairn_frame_free(f);
    return 0;
}
