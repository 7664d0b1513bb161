/*
 * cairn/blob.h - the content-addressed artifact store. Objects are named by
 * the SHA-256 of their content (64 lowercase hex). The interface is
 * backend-neutral; the filesystem backend keeps objects at
 * <root>/ab/cdef... (first two hex chars as a directory), writing each to a
 * temp file while hashing, fsyncing, then renaming into place. A put of
 * content already present is a no-op.
 */
#ifndef CAIRN_BLOB_H
#define CAIRN_BLOB_H

#include "cairn/core.h"

typedef struct cairn_blob cairn_blob;
typedef struct cairn_blob_writer cairn_blob_writer;

/* Opens a store at `uri`: a directory path (or file://path), created if missing.
 * CAIRN_EUNSUPPORTED for schemes without a backend. */
CAIRN_API int cairn_blob_open(cairn_blob **out, const char *uri);
CAIRN_API void cairn_blob_close(cairn_blob *blob);

/* Stores a buffer; writes its hash to hex_out. Idempotent. Thread-safe. */
CAIRN_API int cairn_blob_put(cairn_blob *blob, const void *data, size_t n, char hex_out[65]);
/* Streams content from a readable fd until EOF. Idempotent. Thread-safe. */
CAIRN_API int cairn_blob_put_fd(cairn_blob *blob, int fd, char hex_out[65], uint64_t *size_out);

/* Streaming put: open, write chunks, then commit (which names the object by
 * its hash) or abort. If `expect_hex` is non-NULL, commit fails with
 * CAIRN_ECORRUPT when the content's hash differs and stores nothing. */
CAIRN_API int cairn_blob_writer_open(cairn_blob_writer **out, cairn_blob *blob);
CAIRN_API int cairn_blob_writer_write(cairn_blob_writer *w, const void *data, size_t n);
CAIRN_API int cairn_blob_writer_commit(cairn_blob_writer *w, const char *expect_hex,
                                       char hex_out[65], uint64_t *size_out);
CAIRN_API void cairn_blob_writer_abort(cairn_blob_writer *w);

/* Streaming get: a read-only fd for the object and its size (caller closes).
 * CAIRN_ENOTFOUND if absent; CAIRN_EINVALID for a malformed hash. */
CAIRN_API int cairn_blob_open_read(cairn_blob *blob, const char *hex, int *fd_out,
                                   uint64_t *size_out);
/* Reads a whole object into out (bounded by out->max). */
CAIRN_API int cairn_blob_get(cairn_blob *blob, const char *hex, cairn_buf *out);
CAIRN_API int cairn_blob_exists(cairn_blob *blob, const char *hex);
/* Removes an object; CAIRN_ENOTFOUND if absent. */
CAIRN_API int cairn_blob_delete(cairn_blob *blob, const char *hex);

/* Calls cb for each object whose hash starts with prefix (may be ""), in
 * hash order. cb returns non-zero to stop (that value is returned). */
typedef int (*cairn_blob_list_cb)(const char *hex, uint64_t size, void *payload);
CAIRN_API int cairn_blob_list(cairn_blob *blob, const char *prefix, cairn_blob_list_cb cb,
                              void *payload);

/* Notes on the contracts above:
 * - cairn_blob_exists returns 1 if present, 0 if absent, or a negative code
 *   (CAIRN_EINVALID for a malformed hash).
 * - Every hash argument must be exactly 64 lowercase hex chars, checked
 *   before any I/O; anything else is CAIRN_EINVALID. A list prefix must be
 *   0..64 lowercase hex chars.
 * - cairn_blob_writer_commit frees the writer whether it succeeds or not; a
 *   writer not committed is released with cairn_blob_writer_abort (NULL is a
 *   no-op). After a failed write, commit fails and stores nothing.
 *   hex_out and size_out may be NULL in commit and put_fd.
 * - cairn_blob_get appends to out and checks the content against its name:
 *   CAIRN_ECORRUPT if they differ, CAIRN_ETOOBIG past out->max. On failure
 *   out is freed, as cairn_buf does on a failed append.
 * - A writer is used by one thread at a time; the store itself is shared. */

/* True if hex is a well-formed object name (64 lowercase hex chars); NULL is
 * false. Can't fail. Thread-safe. */
CAIRN_API bool cairn_blob_hex_valid(const char *hex);

#endif
