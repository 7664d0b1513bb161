/*
 * cairn/data.h - data versioning: content-addressed files and directories
 * tracked by small pointer files (PATH.cairn) that git versions instead of
 * the data, a local object cache, a state cache that spares re-hashing
 * unchanged files, and remotes (a local directory, or S3 through an adapter)
 * behind one small interface.
 *
 * Objects are named by the SHA-256 of their content (64 lowercase hex) and
 * kept at <cache>/ab/cdef... (two hex chars, then the other 62). A directory
 * is one manifest object listing every entry; its pointer names the manifest.
 */
#ifndef CAIRN_DATA_H
#define CAIRN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/common.h"

/* ---- pointer files ---- */

typedef enum cairn_data_kind { CAIRN_DATA_FILE = 0, CAIRN_DATA_DIR = 1 } cairn_data_kind;

/* The content of a PATH.cairn file (a small YAML mapping):
 *   version: 1
 *   kind: file|dir
 *   hash: <64 hex>     the file's content, or the directory's manifest object
 *   size: <bytes>      total bytes of regular files
 *   files: <count>     regular files (1 for a file)
 */
typedef struct cairn_data_pointer {
    cairn_data_kind kind;
    char hash[65];
    uint64_t size;
    uint64_t files;
} cairn_data_pointer;

/* Parses pointer text. `name` prefixes error messages ("name:line: ...").
 * CAIRN_EINVALID for anything malformed: unknown or repeated keys, a missing
 * key, a hash that is not 64 lowercase hex, a size that is not a number.
 * Thread-safe. */
CAIRN_API int cairn_data_pointer_parse(cairn_data_pointer *out, const char *text, size_t n,
                                       const char *name);
/* Reads and parses the pointer file at `path`; CAIRN_ENOTFOUND if absent. */
CAIRN_API int cairn_data_pointer_load(cairn_data_pointer *out, const char *path);
/* Writes the pointer atomically (temp file + rename). */
CAIRN_API int cairn_data_pointer_save(const cairn_data_pointer *p, const char *path);

/* ---- manifests (the object a directory pointer names) ---- */

typedef enum cairn_data_entry_type {
    CAIRN_DATA_ENT_FILE = 'f',
    CAIRN_DATA_ENT_LINK = 'l', /* a symlink, recorded by its target, never followed */
    CAIRN_DATA_ENT_DIR = 'd'   /* an empty directory */
} cairn_data_entry_type;

typedef struct cairn_data_entry {
    char *path;    /* relative, '/'-separated; owned by the manifest */
    char *target;  /* symlink target (LINK only), else NULL */
    char hash[65]; /* FILE only, else "" */
    uint64_t size; /* FILE only */
    unsigned mode; /* permission bits (FILE, DIR) */
    cairn_data_entry_type type;
} cairn_data_entry;

typedef struct cairn_data_manifest {
    cairn_data_entry *entries; /* sorted by path (bytewise) */
    size_t n;
    size_t cap;
} cairn_data_manifest;

/* Text form, one entry a line, tab-separated, sorted by path:
 *   cairn-manifest 1
 *   f <mode octal> <hash> <size> <path>
 *   l <target> <path>
 *   d <mode octal> <path>
 * Paths and targets may hold any byte but NUL, tab and newline. */
CAIRN_API int cairn_data_manifest_parse(cairn_data_manifest *out, const char *text, size_t n,
                                        const char *name);
/* Sorts the entries, then appends the text form to out. CAIRN_EINVALID when
 * a path holds a tab or newline or two entries share a path. */
CAIRN_API int cairn_data_manifest_format(cairn_data_manifest *m, cairn_buf *out);
/* Appends an entry (copies path and target). Can't fail (aborts on OOM). */
CAIRN_API void cairn_data_manifest_add(cairn_data_manifest *m, cairn_data_entry_type type,
                                       const char *path, const char *target, const char *hash,
                                       uint64_t size, unsigned mode);
/* Binary search by path in a sorted (parsed or formatted) manifest; NULL if absent. */
CAIRN_API const cairn_data_entry *cairn_data_manifest_find(const cairn_data_manifest *m,
                                                           const char *path);
/* Frees the entries; the struct itself is the caller's. NULL is a no-op. */
CAIRN_API void cairn_data_manifest_clear(cairn_data_manifest *m);

/* ---- state cache: (path, inode, size, mtime_ns) -> hash ---- */

typedef struct cairn_data_state cairn_data_state;
/* Loads .cairn/state under `cairn_dir`; a missing or unreadable file gives an
 * empty cache (the state is only an optimisation). */
CAIRN_API int cairn_data_state_open(cairn_data_state **out, const char *cairn_dir);
/* Looks up path; true and the hash copied when inode, size and mtime all
 * match and the entry is not "racily clean" (mtime within a second of when
 * it was hashed). Thread-safe against other lookups, not against set. */
CAIRN_API bool cairn_data_state_lookup(const cairn_data_state *st, const char *path, uint64_t ino,
                                       uint64_t size, int64_t mtime_ns, char hash_out[65]);
/* Records a hash computed at time `hashed_ns` (CLOCK_REALTIME ns). */
CAIRN_API void cairn_data_state_set(cairn_data_state *st, const char *path, uint64_t ino,
                                    uint64_t size, int64_t mtime_ns, const char *hash,
                                    int64_t hashed_ns);
/* Writes the state atomically if anything changed. */
CAIRN_API int cairn_data_state_save(cairn_data_state *st);
CAIRN_API size_t cairn_data_state_count(const cairn_data_state *st);
CAIRN_API void cairn_data_state_free(cairn_data_state *st);

/* ---- remotes ---- */

typedef struct cairn_remote cairn_remote;
typedef int (*cairn_remote_list_cb)(const char *hex, void *payload);

/* A remote backend. Every op may be called from several threads at once.
 * - has:  1 if the object is there, 0 if not, or a negative code.
 * - put:  uploads the local file `src_path` as object `hex`. An interrupted
 *         put must never leave a partial object under its final name.
 * - get:  downloads object `hex` into the (new) local file `dst_path`;
 *         CAIRN_ENOTFOUND if absent. The caller checks the content's hash.
 * - list: calls cb for every object; cb returning non-zero stops the walk
 *         and that value is returned.
 * - close: frees `impl`.
 * Unreachable remotes answer CAIRN_EIO (or CAIRN_ETIMEOUT / CAIRN_EAUTH)
 * with a message naming the remote. */
typedef struct cairn_remote_ops {
    int (*has)(void *impl, const char *hex);
    int (*put)(void *impl, const char *hex, const char *src_path);
    int (*get)(void *impl, const char *hex, const char *dst_path);
    int (*list)(void *impl, cairn_remote_list_cb cb, void *payload);
    void (*close)(void *impl);
} cairn_remote_ops;

/* Wraps a backend (ops is borrowed and must outlive the remote; impl is
 * owned and released through ops->close). */
CAIRN_API int cairn_remote_new(cairn_remote **out, const cairn_remote_ops *ops, void *impl,
                               const char *url);
/* Opens by URL: a directory path or file://path (the local backend), or
 * s3://bucket/prefix (objects at prefix/ab/cdef...; endpoint, region and
 * credentials from the environment, see cairn/s3.h). CAIRN_EUNSUPPORTED for
 * other schemes; CAIRN_EIO when a local directory cannot be reached. */
CAIRN_API int cairn_remote_open(cairn_remote **out, const char *url);
/* The local-directory backend: objects at <dir>/ab/cdef..., written to a
 * temp name and renamed. */
CAIRN_API int cairn_remote_open_dir(cairn_remote **out, const char *dir);
CAIRN_API int cairn_remote_has(cairn_remote *r, const char *hex);
CAIRN_API int cairn_remote_put(cairn_remote *r, const char *hex, const char *src_path);
CAIRN_API int cairn_remote_get(cairn_remote *r, const char *hex, const char *dst_path);
CAIRN_API int cairn_remote_list(cairn_remote *r, cairn_remote_list_cb cb, void *payload);
CAIRN_API const char *cairn_remote_url(const cairn_remote *r);
CAIRN_API void cairn_remote_close(cairn_remote *r);

/* ---- the workspace ---- */

typedef struct cairn_data_repo cairn_data_repo;

typedef struct cairn_data_opts {
    int version;
    int jobs;      /* hashing / transfer threads; <= 0: one per core (transfers: 8) */
    bool hardlink; /* checkout: hardlink from the cache (files become read-only) */
    bool dry_run;  /* gc: report, delete nothing */
    bool all_revs; /* gc: also keep objects referenced at any git revision */
} cairn_data_opts;
#define CAIRN_DATA_OPTS_INIT                                                                       \
    {                                                                                              \
        1, 0, false, false, false                                                                  \
    }

/* Finds the repository root from `start` (the nearest ancestor with .git or
 * .cairn) and opens it, creating .cairn/ there when `create` is set.
 * CAIRN_ENOTFOUND when there is none. */
CAIRN_API int cairn_data_repo_open(cairn_data_repo **out, const char *start, bool create);
CAIRN_API void cairn_data_repo_free(cairn_data_repo *repo);
CAIRN_API const char *cairn_data_repo_root(const cairn_data_repo *repo);
CAIRN_API const char *cairn_data_repo_cache_dir(const cairn_data_repo *repo);

/* Per-path report lines go through this callback: a status word ("added",
 * "modified", "deleted", "pushed", ...) and a path. NULL prints nothing. */
typedef void (*cairn_data_report_cb)(const char *what, const char *path, void *payload);

/* Summary counters filled by the operations below (any may be NULL). */
typedef struct cairn_data_stats {
    uint64_t files, bytes, hashed, cached, transferred, removed, changed;
} cairn_data_stats;

/* Stores each path (file or directory) in the cache, writes PATH.cairn and a
 * .gitignore entry. CAIRN_EINVALID for a symlink, a path outside the repo or
 * names with tab/newline; CAIRN_ECONFLICT when a file keeps changing while
 * it is hashed. */
CAIRN_API int cairn_data_add(cairn_data_repo *repo, const char *const *paths, int n,
                             const cairn_data_opts *opts, cairn_data_stats *stats);
/* Compares the workspace with the pointers (all pointers in the repo when
 * n == 0). Reports each difference; stats->changed counts them. */
CAIRN_API int cairn_data_status(cairn_data_repo *repo, const char *const *pointers, int n,
                                const cairn_data_opts *opts, cairn_data_report_cb cb, void *payload,
                                cairn_data_stats *stats);
/* Restores data from the cache. CAIRN_ENOTFOUND when objects are missing
 * (fetch first); CAIRN_ECORRUPT when a cache object fails its hash. */
CAIRN_API int cairn_data_checkout(cairn_data_repo *repo, const char *const *pointers, int n,
                                  const cairn_data_opts *opts, cairn_data_report_cb cb,
                                  void *payload, cairn_data_stats *stats);
/* Diff of two pointers, each given as its text (a missing side is NULL:
 * everything added or removed). Needs the manifests in the cache. */
CAIRN_API int cairn_data_diff(cairn_data_repo *repo, const char *a_text, const char *a_name,
                              const char *b_text, const char *b_name, cairn_data_report_cb cb,
                              void *payload, cairn_data_stats *stats);
/* The text of `path` (relative to the current directory) at git revision
 * `rev`, through `git show REV:./PATH` run in the repository. CAIRN_ENOTFOUND
 * when git knows no such file there. */
CAIRN_API int cairn_data_git_show(cairn_data_repo *repo, const char *rev, const char *path,
                                  cairn_buf *out);
/* Lists a pointer's entries: cb("f"|"l"|"d", line) with "hash size path". */
CAIRN_API int cairn_data_ls(cairn_data_repo *repo, const char *pointer, cairn_data_report_cb cb,
                            void *payload);
/* Removes cache objects no pointer references (dry_run: only reports). */
CAIRN_API int cairn_data_gc(cairn_data_repo *repo, const cairn_data_opts *opts,
                            cairn_data_report_cb cb, void *payload, cairn_data_stats *stats);
/* Sends the objects of the pointers (all when n == 0) missing at the remote. */
CAIRN_API int cairn_data_push(cairn_data_repo *repo, cairn_remote *remote,
                              const char *const *pointers, int n, const cairn_data_opts *opts,
                              cairn_data_stats *stats);
/* Receives the objects missing from the cache; each is checked by hash. */
CAIRN_API int cairn_data_fetch(cairn_data_repo *repo, cairn_remote *remote,
                               const char *const *pointers, int n, const cairn_data_opts *opts,
                               cairn_data_stats *stats);

/* ---- remotes configured in .cairn/config ----
 *   default: NAME
 *   remotes:
 *     NAME: URL
 */
CAIRN_API int cairn_data_remote_add(cairn_data_repo *repo, const char *name, const char *url,
                                    bool make_default);
/* cb(name, url) for each remote, in file order. */
CAIRN_API int cairn_data_remote_foreach(cairn_data_repo *repo, cairn_data_report_cb cb,
                                        void *payload);
/* Opens the named remote, or the default (or only) one when name is NULL.
 * CAIRN_ENOTFOUND when there is no such remote. */
CAIRN_API int cairn_data_remote_open_named(cairn_data_repo *repo, const char *name,
                                           cairn_remote **out);

#endif
