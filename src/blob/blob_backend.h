/*
 * blob_backend.h - the vtable a content-addressed store backend implements
 * (libgit2 git_odb_backend). blob.c is the backend-neutral front: it parses
 * the URI, validates every hash, hashes written content and checks
 * expect_hex, then calls the backend. A backend therefore only ever sees
 * well-formed 64-char lowercase hex names and never decides an object's
 * name itself; it stores bytes under the name it is given.
 *
 * A backend embeds `struct cairn_blob_backend` as its first member and its
 * writer embeds `struct cairn_blob_backend_writer` likewise. All entry
 * points must be safe to call from many threads at once.
 */
#ifndef CAIRN_BLOB_BACKEND_H
#define CAIRN_BLOB_BACKEND_H

#include "cairn/blob.h"

#define CAIRN_BLOB_HEX_LEN 64

struct cairn_blob_backend;

/* One in-progress upload; owned by the front's cairn_blob_writer. */
struct cairn_blob_backend_writer {
    struct cairn_blob_backend *backend;
};

struct cairn_blob_backend {
    const char *name; /* "fs", "s3", ... for messages */

    /* Frees the backend; NULL-safe at the front. Can't fail. */
    void (*free)(struct cairn_blob_backend *be);

    /* Starts an upload of unnamed content. */
    int (*writer_open)(struct cairn_blob_backend *be, struct cairn_blob_backend_writer **out);
    /* Appends n bytes. On failure the writer stays valid and must be aborted. */
    int (*writer_write)(struct cairn_blob_backend_writer *w, const void *data, size_t n);
    /* Stores the written bytes as object `hex` (already computed and checked
     * by the front) and durably so when this returns 0. If the object is
     * already present the upload is dropped. Always frees `w`. */
    int (*writer_commit)(struct cairn_blob_backend_writer *w, const char *hex);
    /* Discards the upload and frees `w`. Can't fail. */
    void (*writer_abort)(struct cairn_blob_backend_writer *w);

    /* A readable fd (caller closes) and the size; CAIRN_ENOTFOUND if absent. */
    int (*open_read)(struct cairn_blob_backend *be, const char *hex, int *fd_out,
                     uint64_t *size_out);
    /* 1 if present, 0 if absent, a negative code on error. */
    int (*exists)(struct cairn_blob_backend *be, const char *hex);
    /* CAIRN_ENOTFOUND if absent. */
    int (*remove)(struct cairn_blob_backend *be, const char *hex);
    /* Calls cb in ascending hash order for objects whose name starts with
     * `prefix` (validated: 0..64 lowercase hex). A non-zero cb result stops
     * the walk and is returned. */
    int (*list)(struct cairn_blob_backend *be, const char *prefix, cairn_blob_list_cb cb,
                void *payload);
};

/* Opens (creating if missing) a filesystem store rooted at `root`. */
int cairn_blob__fs_open(struct cairn_blob_backend **out, const char *root);

#endif
