/*
 * data_internal.h - what the files of src/data share: the error subsystem,
 * the repository handle, the local object cache and the tree walk.
 */
#ifndef CAIRN_DATA_INTERNAL_H
#define CAIRN_DATA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cairn/core.h"
#include "cairn/data.h"

/* Data errors are reported under the blob subsystem (the object store)
 * until common.h grows a CAIRN_SUBSYS_DATA. */
#define DATA_SUBSYS CAIRN_SUBSYS_DATA

struct cairn_data_repo {
    char *root;      /* repository root (absolute) */
    char *cairn_dir; /* <root>/.cairn */
    char *cache;     /* <root>/.cairn/cache */
};

/* ---- object cache (data_cache.c) ---- */
/* Writes the object path of hex under dir into out (size >= strlen(dir)+68). */
void cairn_data__obj_path(const char *dir, const char *hex, char *out, size_t outlen);
/* 1 if the object exists in the cache dir, 0 if not. */
int cairn_data__obj_exists(const char *dir, const char *hex);
/* Stores a buffer as an object (no fsync: callers sync once at the end). */
int cairn_data__obj_put_buf(const char *dir, const void *data, size_t n, char hex_out[65]);
/* Per-thread hashing scratch: a reusable hasher and read buffer. */
typedef struct data_hasher {
    cairn_sha256 *h;
    char *buf;
    size_t cap;
} data_hasher;
void cairn_data__hasher_init(data_hasher *hs);
void cairn_data__hasher_fini(data_hasher *hs);
/* Hashes the open file fd from its start and, if cache_dir is non-NULL and
 * the object is absent, stores the content there (temp name, then rename to
 * the hash; no fsync). */
int cairn_data__hash_fd(data_hasher *hs, int fd, const char *cache_dir, char hex_out[65],
                        uint64_t *size_out);
/* Copies src to a new file dst while hashing it; CAIRN_ECORRUPT when the
 * content's hash is not expect_hex: dst is removed and src renamed to
 * src.corrupt (so a later fetch, push or add can store a good copy). */
int cairn_data__copy_verify(const char *src, const char *dst, const char *expect_hex,
                            unsigned mode);
/* Moves the downloaded file tmp to its object name after checking its hash. */
int cairn_data__obj_adopt(const char *dir, const char *tmp, const char *hex);
/* One syncfs over the cache's filesystem: the batch's single durability point. */
int cairn_data__cache_sync(const char *dir);
/* Reads a (small) object fully, checking its hash (a corrupt one is moved
 * aside as copy_verify does). */
int cairn_data__obj_read(const char *dir, const char *hex, cairn_buf *out);

/* Sorts a manifest's entries by path (data_pointer.c). */
void cairn_data__manifest_sort(cairn_data_manifest *m);

/* The S3 backend of cairn_remote (data_remote_s3.c). */
int cairn_data__remote_open_s3(cairn_remote **out, const char *url);

/* ---- tree walk (data_walk.c) ---- */
typedef struct data_file {
    char *path; /* relative to the walked directory */
    char *target;
    struct stat st;
    char type; /* 'f', 'l', 'd' (empty directory) */
} data_file;

typedef struct data_filelist {
    data_file *v;
    size_t n, cap;
} data_filelist;

/* Walks dir recursively (never following symlinks), appending regular
 * files, symlinks and empty directories. CAIRN_EINVALID for names with tab
 * or newline and for other file types. */
int cairn_data__walk(const char *dir, data_filelist *out);
void cairn_data__filelist_free(data_filelist *l);

/* Hashes every regular file of l (relative to base) in parallel, consulting
 * and updating the state cache; hashes[i] receives file i's hash (others "").
 * With cache_dir set, content is also stored in the cache. */
int cairn_data__hash_files(const char *base, const char *state_prefix, data_filelist *l,
                           cairn_data_state *st, const char *cache_dir, int jobs,
                           char (*hashes)[65], cairn_data_stats *stats);

/* ---- pointers in the workspace (data_repo.c) ---- */
/* Collects the pointer files under the repository root (skipping .git,
 * .cairn and the data directories the pointers name). Paths relative to root. */
int cairn_data__find_pointers(cairn_data_repo *repo, data_filelist *out);

/* A set of object names: append, then seal (sort + dedupe), then query. */
typedef struct data_objset {
    char (*v)[65];
    size_t n, cap;
} data_objset;
void cairn_data__objset_add(data_objset *s, const char *hex);
void cairn_data__objset_seal(data_objset *s);
bool cairn_data__objset_has(const data_objset *s, const char *hex);
void cairn_data__objset_free(data_objset *s);
/* Adds what one pointer text references (see data_repo.c). */
int cairn_data__pointer_objects(cairn_data_repo *repo, const char *text, const char *name,
                                data_objset *out, size_t *missing);
/* Objects referenced by the pointers (all in the repo when n == 0), sealed.
 * With `missing` non-NULL, directory manifests absent from the cache are
 * counted there instead of failing. */
int cairn_data__objects(cairn_data_repo *repo, const char *const *pointers, int n, data_objset *out,
                        size_t *missing);
/* Runs git with argv (NULL-terminated) in the repo root; stdout into out.
 * CAIRN_ENOTFOUND when git exits non-zero. */
int cairn_data__git(cairn_data_repo *repo, const char *const *argv, cairn_buf *out);

#endif
