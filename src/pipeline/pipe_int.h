/*
 * pipe_int.h - what the pipeline module's files share: the pipeline object,
 * path hashing with its state cache, the lock file, and the tracker.
 */
#ifndef CAIRN_PIPE_INT_H
#define CAIRN_PIPE_INT_H

#include "cairn/blob.h"
#include "cairn/buf.h"
#include "cairn/pipeline.h"
#include <stdbool.h>

/* Errors from this module are reported under the CLI's subsystem until a
 * CAIRN_SUBSYS_PIPELINE exists in common.h. */
#define PIPE_SUBSYS CAIRN_SUBSYS_PIPELINE
#define PERR(code, ...) cairn_error_set((code), PIPE_SUBSYS, __VA_ARGS__)

struct cairn_pipeline {
    char *path;  /* the pipeline file as given */
    char *dir;   /* its directory ("." when none) */
    char *fname; /* the name used in messages */
    cairn_pipeline_stage *stages;
    int nstages, cap;
    int *order;
};

/* ---- pipe_spec.c ---- */
/* Appends to a growable string array (NULL-terminated). */
void cairn_pipeline__strv_push(char ***v, int *n, char *s);

/* ---- pipe_dag.c ---- */
/* Links deps to producing stages, orders them, reports cycles and missing deps. */
int cairn_pipeline__build_graph(cairn_pipeline *p);

/* ---- pipe_hash.c: content hashes of files and directories ---- */
typedef struct pipe_state pipe_state;
/* Opens the (inode,size,mtime) -> hash cache stored at path (may not exist). */
int cairn_pipeline__state_open(pipe_state **out, const char *path);
/* Writes it back when changed, then frees it. NULL is a no-op. */
void cairn_pipeline__state_close(pipe_state *st);
/*
 * The hash of path: a file's SHA-256, or for a directory the SHA-256 of its
 * manifest (sorted "hash size relpath\n" lines). is_dir_out may be NULL.
 * CAIRN_ENOTFOUND when path does not exist. When blob is not NULL the
 * content (and manifests) are also stored there.
 */
int cairn_pipeline__hash_path(pipe_state *st, const char *path, cairn_blob *blob, char hex[65],
                              bool *is_dir_out);
/* Restores path from the cache object hex (a file, or a manifest when is_dir). */
int cairn_pipeline__restore(cairn_blob *blob, const char *path, const char *hex, bool is_dir);

/* ---- pipe_lock.c: cairn.lock ---- */
typedef struct pipe_lock_entry {
    char *stage, *cmd, *key;
    cairn_pipeline_kv *deps;
    int ndeps; /* path -> hash */
    cairn_pipeline_kv *outs;
    int nouts; /* path -> hash ("d:" prefix for dirs) */
    cairn_pipeline_kv *params;
    int nparams;
} pipe_lock_entry;

typedef struct pipe_lock {
    pipe_lock_entry *e;
    int n, cap;
} pipe_lock;

/* Reads the lock at path; a missing file is an empty lock. */
int cairn_pipeline__lock_read(pipe_lock *lk, const char *path);
int cairn_pipeline__lock_write(const pipe_lock *lk, const char *path);
pipe_lock_entry *cairn_pipeline__lock_find(pipe_lock *lk, const char *stage);
/* Replaces (or adds) the entry for e->stage, taking e's contents. */
void cairn_pipeline__lock_put(pipe_lock *lk, pipe_lock_entry *e);
void cairn_pipeline__lock_entry_free(pipe_lock_entry *e);
void cairn_pipeline__lock_free(pipe_lock *lk);
void cairn_pipeline__kv_free(cairn_pipeline_kv *kv, int n);

/* ---- pipe_key.c: cache keys ---- */
/* Computes a stage's dep hashes and cache key into e (stage/cmd/key/deps/
 * params filled). Missing deps: CAIRN_ENOTFOUND naming the dep. */
int cairn_pipeline__stage_key(const cairn_pipeline *p, const cairn_pipeline_stage *s,
                              pipe_state *st, pipe_lock_entry *e);
/* Why e (current) differs from old, or NULL when the keys match. */
const char *cairn_pipeline__why_stale(const pipe_lock_entry *cur, const pipe_lock_entry *old,
                                      char *buf, size_t n);
/* A printable command line of a stage (cairn_malloc'd). */
char *cairn_pipeline__cmd_text(const cairn_pipeline_stage *s);

/* ---- pipe_track.c: MLflow REST ---- */
typedef struct pipe_tracker {
    const char *uri;
    char exp_id[64];
    bool on;
} pipe_tracker;
/* Connects (creating the experiment when missing); CAIRN_EIO when unreachable. */
int cairn_pipeline__track_open(pipe_tracker *t, const char *uri, const char *experiment);
int cairn_pipeline__track_start(pipe_tracker *t, const char *name, const char *parent,
                                const cairn_pipeline_kv *tags, int ntags, char run_id[64]);
int cairn_pipeline__track_tags(pipe_tracker *t, const char *run_id, const cairn_pipeline_kv *tags,
                               int ntags);
int cairn_pipeline__track_params(pipe_tracker *t, const char *run_id,
                                 const cairn_pipeline_kv *params, int n);
/* Logs every numeric entry of a metrics JSON file. */
int cairn_pipeline__track_metrics_file(pipe_tracker *t, const char *run_id, const char *path);
int cairn_pipeline__track_end(pipe_tracker *t, const char *run_id, bool ok);
/* A REST call: body (may be NULL) not taken; *out gets the JSON answer. */
struct json_t;
int cairn_pipeline__rest(const char *uri, const char *method, const char *path, struct json_t *body,
                         struct json_t **out);

#endif
