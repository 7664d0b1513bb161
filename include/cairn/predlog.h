/*
 * cairn/predlog.h - the prediction log: every prediction served (or a
 * configured sample) appended to a compact, rotated, size-bounded log that
 * monitoring reads (drift windows, delayed-label joins by request id).
 *
 * Writer: cairn_predlog_append() is called on HTTP threads. It samples,
 * encodes the record into an in-memory buffer under a short mutex and
 * returns; it never does I/O and never waits for the disk. A background
 * thread writes the buffer out to segment files (every flush_ms, or sooner
 * when the buffer is half full). When the buffer is full the record is
 * dropped and counted: serving never waits on the log.
 *
 * On disk: a directory of segments pred-<12-digit sequence>.log; each is
 * self-contained (a header, then CRC32C-framed records; feature names are
 * written once per segment in schema records). Rotation at segment_bytes;
 * the oldest segments are deleted so that the whole stays <= max_bytes.
 * The format is described in docs/internals/predlog.md.
 *
 * Reader: iterates the records of every segment in sequence order. A
 * corrupt or torn record (a crash mid-write) ends its segment with a warning
 * and is counted; reading goes on with the next segment.
 */
#ifndef CAIRN_PREDLOG_H
#define CAIRN_PREDLOG_H

#include "cairn/common.h"
#include "cairn/frame.h"

typedef struct cairn_predlog cairn_predlog;

typedef struct cairn_predlog_opts {
    unsigned version;     /* CAIRN_PREDLOG_OPTS_VERSION */
    const char *dir;      /* segment directory, created if missing; copied */
    double sample;        /* fraction of appends logged, 0..1; 0 logs nothing; 1 */
    size_t segment_bytes; /* rotate before a segment passes this; >= 4 KiB; 64 MiB */
    size_t max_bytes;     /* all segments together stay <= this; >= segment_bytes; 1 GiB */
    int flush_ms;         /* longest time a record waits in memory; 1..60000; 200 */
    size_t buffer_bytes;  /* memory for records not yet written (two halves); >= 64 KiB; 4 MiB */
} cairn_predlog_opts;

#define CAIRN_PREDLOG_OPTS_VERSION 1
#define CAIRN_PREDLOG_OPTS_INIT                                                                    \
    {                                                                                              \
        CAIRN_PREDLOG_OPTS_VERSION, NULL, 1.0, (size_t)64 << 20, (size_t)1 << 30, 200,             \
            (size_t)4 << 20                                                                        \
    }

/* Limits shared by writer and reader. A record over a limit is dropped by
 * the writer and is corrupt to the reader. */
#define CAIRN_PREDLOG_MAX_RECORD ((size_t)16 << 20) /* bytes in one encoded record */
#define CAIRN_PREDLOG_MAX_COLS 65536                /* features in one record */
#define CAIRN_PREDLOG_MAX_K 65536                   /* outputs per row */
#define CAIRN_PREDLOG_MAX_ROWS ((size_t)1 << 24)    /* rows in one record */
#define CAIRN_PREDLOG_MAX_SCHEMAS 16384             /* distinct feature sets per writer */

/* One prediction to log. Nothing is kept after cairn_predlog_append returns. */
typedef struct cairn_predlog_rec {
    const char *request_id; /* NULL = "" */
    int64_t time_ns;        /* unix time in ns; 0 = now */
    const char *deployment; /* NULL or "" when the request named a model, not a deployment */
    const char *model;      /* NULL = "" */
    int64_t version;
    int64_t latency_ns;        /* time the request took */
    const cairn_frame *inputs; /* required: nrows rows; categorical codes outside
                                * the dictionary are logged as missing */
    const double *outputs;     /* (nrows, k) row-major; NULL only when k == 0 */
    int k;                     /* outputs per row, 0..CAIRN_PREDLOG_MAX_K */
} cairn_predlog_rec;

typedef struct cairn_predlog_stats {
    uint64_t appended;      /* records accepted into the buffer */
    uint64_t sampled_out;   /* records not logged by the sampling decision */
    uint64_t dropped;       /* accepted-or-offered records lost: buffer full, over a
                             * limit, or in a failed write */
    uint64_t written;       /* records written to segment files */
    uint64_t bytes_written; /* bytes written to segment files (headers and schemas included) */
    uint64_t io_errors;     /* failed segment writes or creations */
    uint64_t segments;      /* segment files in the directory now (as this writer knows) */
    uint64_t disk_bytes;    /* their total size */
} cairn_predlog_stats;

/*
 * Opens the log in o->dir (created if missing) and starts its writer
 * thread. Existing segments are kept (the oldest deleted if they pass
 * max_bytes); new records go to a new segment numbered after the highest
 * existing one, created on the first write. The writer assumes it is the
 * only one writing to the directory.
 * Errors (*out NULL): CAIRN_EINVALID bad options; CAIRN_EIO the directory
 * cannot be created or listed.
 */
CAIRN_API int cairn_predlog_open(cairn_predlog **out, const cairn_predlog_opts *o);

/*
 * Logs r, or not (sampling), without blocking on I/O. Thread-safe; the hot
 * path of serving. Returns 0 when the record was buffered or sampled out;
 * CAIRN_EBUSY when the buffer was full (dropped, counted); CAIRN_ETOOBIG when
 * the record passes a limit (dropped, counted); CAIRN_EINVALID for a NULL
 * log, record or inputs, or outputs NULL with k > 0.
 */
CAIRN_API int cairn_predlog_append(cairn_predlog *l, const cairn_predlog_rec *r);

/* Writes every buffered record out now and waits until they are on disk
 * (written, not fsynced). For tests and orderly shutdown. Thread-safe. */
CAIRN_API int cairn_predlog_flush(cairn_predlog *l);

/* Counters since open. Thread-safe; cheap enough for every /metrics scrape. */
CAIRN_API void cairn_predlog_stats_get(cairn_predlog *l, cairn_predlog_stats *out);

/* Writes out what is buffered, fsyncs, stops the writer thread and frees.
 * No append may run concurrently or after. NULL is a no-op. */
CAIRN_API void cairn_predlog_close(cairn_predlog *l);

/* ---- reading ---- */

typedef struct cairn_predlog_reader cairn_predlog_reader;

/* One input feature of a logged record. */
typedef struct cairn_predlog_feature {
    const char *name;
    int categorical;        /* 0: values in num; 1: values in cat */
    const double *num;      /* (nrows) NaN = missing; when !categorical */
    const char *const *cat; /* (nrows) NULL = missing; when categorical */
} cairn_predlog_feature;

/* A record as read back. Every pointer is owned by the reader and valid
 * until the next cairn_predlog_reader_next or cairn_predlog_reader_free. */
typedef struct cairn_predlog_entry {
    const char *request_id;
    int64_t time_ns;
    const char *deployment; /* "" when none */
    const char *model;
    int64_t version;
    int64_t latency_ns;
    size_t nrows;
    int nfeatures;
    const cairn_predlog_feature *features; /* (nfeatures) */
    int k;
    const double *outputs; /* (nrows, k) row-major */
    uint64_t segment;      /* sequence number of the segment holding it */
} cairn_predlog_entry;

/*
 * Opens a reader over every segment in dir, oldest first, yielding records
 * whose time_ns >= since_ns (0: all). A directory that does not exist or
 * holds no segment reads as empty. CAIRN_EIO if dir cannot be listed.
 */
CAIRN_API int cairn_predlog_reader_open(cairn_predlog_reader **out, const char *dir,
                                        int64_t since_ns);

/* A reader over one segment held in memory (n bytes at data, borrowed: it
 * must outlive the reader); its records report segment 0. Can't fail for
 * any bytes: a bad header or record ends the segment as in a file. */
CAIRN_API int cairn_predlog_reader_open_mem(cairn_predlog_reader **out, const void *data, size_t n,
                                            int64_t since_ns);

/*
 * Moves to the next record: 1 and *out set, 0 at the end, or a negative code
 * (CAIRN_EIO: a segment could not be read; reading may go on with the next
 * call, which moves to the following segment). Corrupt or truncated records
 * end their segment: a warning is logged and counted, never an error.
 * Not thread-safe (one reader per thread).
 */
CAIRN_API int cairn_predlog_reader_next(cairn_predlog_reader *rd, const cairn_predlog_entry **out);

/* Segments cut short so far by a corrupt or truncated record (or header). */
CAIRN_API uint64_t cairn_predlog_reader_corrupt(const cairn_predlog_reader *rd);

/* NULL is a no-op. */
CAIRN_API void cairn_predlog_reader_free(cairn_predlog_reader *rd);

#endif
