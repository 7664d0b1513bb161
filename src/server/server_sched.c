/*
 * server_sched.c - pipeline triggers: cairn server runs `cairn pipeline
 * run` for a directory holding cairn.yaml on a cron schedule, when the
 * content of a watched path changes, or on request (REST, CLI, and the
 * monitoring alerts' retrain.pipeline, all through cairn_server__sched_fire).
 *
 * Key idea: a pipeline run is a child process of the server — the same
 * binary's `pipeline run` command in the pipeline's directory, its output
 * in a log file, its tracking going to this server — so the scheduler only
 * decides when, records each run (pipeline_runs), and reaps children; a
 * trigger never runs twice at once. Watching is two-level: every few
 * seconds a metadata fingerprint (relative path, size, mtime of every file)
 * is taken; only when it moves is the content hashed, and only a content
 * hash different from the one at the trigger's last run fires it, so a
 * touched but unchanged file fires nothing. Triggers and the last content
 * hash are persisted (migration 0008) and restored on restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cairn/core.h"
#include "cairn/store.h"
#include "cron.h"
#include "server_internal.h"
#include "track/api.h"

extern char **environ;

#define API "/api/2.0/cairn/pipelines/"
#define WATCH_EVERY_MS 2000
#define MAX_PARAMS 64
#define MAX_WATCH_FILES 200000

typedef struct trigger {
    struct trigger *next;
    char *name, *dir, *stage, *schedule, *watch;
    char **params;
    int nparams;
    cairn_cron cron;
    int64_t next_ms;      /* next cron firing, -1 none */
    int64_t watch_due_ms; /* next metadata check */
    char meta[65];        /* last metadata fingerprint ("" unknown) */
    char content[65];     /* content hash at the last run (or creation) */
    pid_t pid;            /* running child, 0 none */
    char run_id[33];
} trigger;

/* A run started without a trigger (POST run with a directory). */
typedef struct orphan {
    struct orphan *next;
    pid_t pid;
    char run_id[33];
} orphan;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stop;
    cairn_store *store;
    char *home;   /* logs under home/pipelines/logs */
    char exe[PATH_MAX];
    int port;
    trigger *head;
    orphan *orphans;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ================= triggers in memory ================= */

static void trigger_free(trigger *t)
{
    if (!t) return;
    for (int i = 0; i < t->nparams; i++)
        cairn_free(t->params[i]);
    cairn_free(t->params);
    cairn_free(t->name);
    cairn_free(t->dir);
    cairn_free(t->stage);
    cairn_free(t->schedule);
    cairn_free(t->watch);
    cairn_free(t);
}

static trigger **find_slot(const char *name)
{
    trigger **p = &S.head;
    while (*p && strcmp((*p)->name, name))
        p = &(*p)->next;
    return p;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? cairn_strdup(s) : NULL;
}

/* ================= watching ================= */

typedef struct walk {
    EVP_MD_CTX *meta, *content;
    size_t files;
    int rc;
} walk;

static void hash_str(EVP_MD_CTX *c, const char *s)
{
    EVP_DigestUpdate(c, s, strlen(s) + 1);
}

static void hex(const unsigned char *d, char out[65])
{
    static const char h[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[64] = '\0';
}

/* The SHA-256 of a file's bytes as hex; -1 if it cannot be read. */
static int file_sha256(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(c, buf, (size_t)n);
    close(fd);
    unsigned char d[32];
    EVP_DigestFinal_ex(c, d, NULL);
    EVP_MD_CTX_free(c);
    if (n < 0) return -1;
    hex(d, out);
    return 0;
}

/* Feeds one regular file: its path and metadata, and with w->content its
 * bytes' SHA-256. */
static void walk_file(walk *w, const char *path, const char *rel, const struct stat *st)
{
    char line[64];
    hash_str(w->meta, rel);
    snprintf(line, sizeof(line), "%lld %lld.%09ld", (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    hash_str(w->meta, line);
    if (!w->content) return;
    char digest[65];
    if (file_sha256(path, digest)) {
        w->rc = -1;
        return;
    }
    hash_str(w->content, rel);
    hash_str(w->content, digest);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks path (a file or a directory, in sorted order, skipping .git and
 * .cairn; symlinks are not followed). */
static void walk_path(walk *w, const char *path, const char *rel)
{
    struct stat st;
    if (lstat(path, &st)) {
        hash_str(w->meta, "missing");
        return;
    }
    if (S_ISREG(st.st_mode)) {
        if (++w->files <= MAX_WATCH_FILES) walk_file(w, path, rel, &st);
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *d = opendir(path);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ".git") ||
            !strcmp(e->d_name, ".cairn"))
            continue;
        if (n == cap) names = cairn_realloc(names, sizeof(char *) * (cap = cap ? cap * 2 : 32));
        names[n++] = cairn_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), name_cmp);
    for (size_t i = 0; i < n; i++) {
        char *child = NULL, *crel = NULL;
        size_t lp = strlen(path) + strlen(names[i]) + 2, lr = strlen(rel) + strlen(names[i]) + 2;
        child = cairn_malloc(lp);
        crel = cairn_malloc(lr);
        snprintf(child, lp, "%s/%s", path, names[i]);
        snprintf(crel, lr, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        walk_path(w, child, crel);
        cairn_free(child);
        cairn_free(crel);
        cairn_free(names[i]);
    }
    cairn_free(names);
}

/* The metadata fingerprint of path, and with content its content hash. */
static int fingerprint(const char *path, char meta[65], char *content)
{
    walk w = {EVP_MD_CTX_new(), content ? EVP_MD_CTX_new() : NULL, 0, 0};
    EVP_DigestInit_ex(w.meta, EVP_sha256(), NULL);
    if (w.content) EVP_DigestInit_ex(w.content, EVP_sha256(), NULL);
    walk_path(&w, path, "");
    unsigned char d[32];
    EVP_DigestFinal_ex(w.meta, d, NULL);
    hex(d, meta);
    if (w.content) {
        EVP_DigestFinal_ex(w.content, d, NULL);
        hex(d, content);
    }
    EVP_MD_CTX_free(w.meta);
    EVP_MD_CTX_free(w.content);
    return w.rc;
}

/* The watched path of t, relative paths taken from its directory. */
static void watch_path(const trigger *t, char *out, size_t n)
{
    if (t->watch[0] == '/')
        snprintf(out, n, "%s", t->watch);
    else
        snprintf(out, n, "%s/%s", t->dir, t->watch);
}

/* ================= runs ================= */

typedef struct run_row {
    const char *id, *trigger, *dir, *stage, *reason, *log;
    int64_t started;
} run_row;

static int insert_run(cairn_store_tx *tx, void *payload)
{
    run_row *r = payload;
    cairn_value p[8] = {CAIRN_VTEXT(r->id),
                        r->trigger ? CAIRN_VTEXT(r->trigger) : CAIRN_VNULL,
                        CAIRN_VTEXT(r->dir),
                        r->stage ? CAIRN_VTEXT(r->stage) : CAIRN_VNULL,
                        CAIRN_VTEXT(r->reason),
                        CAIRN_VTEXT("running"),
                        CAIRN_VINT(r->started),
                        CAIRN_VTEXT(r->log)};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO pipeline_runs (id, trigger_name, directory, stage, reason, "
                           "status, started, log_path) VALUES (?,?,?,?,?,?,?,?)",
                           p, 8, NULL, NULL);
    return rc < 0 ? rc : 0;
}

typedef struct finish_row {
    const char *id;
    int exit_code;
    const char *trigger, *content; /* the trigger's new content hash, or NULL */
} finish_row;

static int finish_run(cairn_store_tx *tx, void *payload)
{
    finish_row *f = payload;
    cairn_value p[4] = {CAIRN_VTEXT(f->exit_code == 0 ? "succeeded" : "failed"),
                        CAIRN_VINT(cairn_time_ms()), CAIRN_VINT(f->exit_code), CAIRN_VTEXT(f->id)};
    int rc = cairn_tx_exec(tx,
                           "UPDATE pipeline_runs SET status = ?, finished = ?, exit_code = ? "
                           "WHERE id = ?",
                           p, 4, NULL, NULL);
    return rc < 0 ? rc : 0;
}

static int save_content(cairn_store_tx *tx, void *payload)
{
    finish_row *f = payload;
    cairn_value p[2] = {CAIRN_VTEXT(f->content), CAIRN_VTEXT(f->trigger)};
    int rc = cairn_tx_exec(tx, "UPDATE pipeline_triggers SET content_hash = ? WHERE name = ?", p, 2,
                           NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* Starts `cairn pipeline run [STAGE] [--set K=V]...` in dir; records the
 * run. Caller holds S.mu. Returns the child's pid (> 0) or a cairn code. */
static int spawn_run(const char *trigger_name, const char *dir, const char *stage,
                     char *const *params, int nparams, const char *reason, char run_id[33])
{
    if (!S.running)
        return cairn_error_set(CAIRN_EBUSY, CAIRN_SUBSYS_CORE, "the pipeline scheduler is not running");
    struct stat st;
    char yaml[PATH_MAX];
    snprintf(yaml, sizeof(yaml), "%s/cairn.yaml", dir);
    if (stat(yaml, &st))
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CORE, "no cairn.yaml in '%.300s'", dir);
    cairn_uuid_hex(run_id);
    char log[PATH_MAX + 64], logdir[PATH_MAX];
    snprintf(logdir, sizeof(logdir), "%s/pipelines/logs", S.home);
    int rc = cairn_mkdir_p(logdir, 0755);
    if (rc) return rc;
    snprintf(log, sizeof(log), "%s/%s.log", logdir, run_id);
    const char *argv[8 + 2 * MAX_PARAMS];
    int argc = 0;
    argv[argc++] = "cairn";
    argv[argc++] = "pipeline";
    argv[argc++] = "run";
    if (stage) argv[argc++] = stage;
    for (int i = 0; i < nparams; i++) {
        argv[argc++] = "--set";
        argv[argc++] = params[i];
    }
    argv[argc] = NULL;
    /* the environment, with tracking pointed at this server */
    char uri[64], uri2[96], uri3[96], trun[64];
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d", S.port);
    snprintf(uri2, sizeof(uri2), "CAIRN_TRACKING_URI=%s", uri);
    snprintf(uri3, sizeof(uri3), "MLFLOW_TRACKING_URI=%s", uri);
    size_t ne = 0;
    while (environ[ne])
        ne++;
    snprintf(trun, sizeof(trun), "CAIRN_TRIGGER_RUN_ID=%s", run_id);
    const char **envp = cairn_malloc(sizeof(char *) * (ne + 5));
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "CAIRN_TRACKING_URI=", 19) &&
            strncmp(environ[i], "MLFLOW_TRACKING_URI=", 20) &&
            strncmp(environ[i], "CAIRN_TRIGGER_RUN_ID=", 21))
            envp[k++] = environ[i];
    envp[k++] = uri2;
    envp[k++] = uri3;
    envp[k++] = trun;
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    pid_t pid;
    int err = posix_spawn(&pid, S.exe, &fa, &at, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    cairn_free(envp);
    if (err)
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CORE, "cannot start the pipeline run: %s",
                               strerror(err));
    run_row row = {run_id, trigger_name, dir, stage, reason, log, cairn_time_ms()};
    if (cairn_store_write(S.store, insert_run, &row))
        cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_CORE, "cannot record a pipeline run|error=%s",
                  cairn_error_last()->msg);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_CORE,
              "pipeline run started|id=%s trigger=%s dir=%s reason=%s pid=%d", run_id,
              trigger_name ? trigger_name : "-", dir, reason, (int)pid);
    return (int)pid;
}

/* Fires t (caller holds S.mu); a running trigger is not started twice. */
static int fire(trigger *t, const char *reason)
{
    if (t->pid)
        return cairn_error_set(CAIRN_ECONFLICT, CAIRN_SUBSYS_CORE,
                               "trigger '%.100s' is already running (run %s)", t->name, t->run_id);
    int pid = spawn_run(t->name, t->dir, t->stage, t->params, t->nparams, reason, t->run_id);
    if (pid < 0) return pid;
    t->pid = pid;
    return 0;
}

/* Records the end of a finished child. */
static void reaped(const char *run_id, int status, trigger *t)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    finish_row f = {run_id, code, NULL, NULL};
    cairn_store_write(S.store, finish_run, &f);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_CORE, "pipeline run finished|id=%s exit=%d", run_id, code);
    (void)t;
}

/* ================= the scheduler thread ================= */

static void tick(void)
{
    int64_t now = cairn_time_ms();
    for (trigger *t = S.head; t; t = t->next) {
        int status;
        if (t->pid && waitpid(t->pid, &status, WNOHANG) == t->pid) {
            t->pid = 0;
            reaped(t->run_id, status, t);
        }
        if (t->schedule && t->next_ms >= 0 && now >= t->next_ms) {
            if (fire(t, "schedule"))
                cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_CORE, "scheduled pipeline not started|trigger=%s error=%s",
                          t->name, cairn_error_last()->msg);
            t->next_ms = cairn_cron_next(&t->cron, now);
        }
        if (t->watch && now >= t->watch_due_ms) {
            t->watch_due_ms = now + WATCH_EVERY_MS;
            char path[PATH_MAX], meta[65], content[65];
            watch_path(t, path, sizeof(path));
            fingerprint(path, meta, NULL);
            if (strcmp(meta, t->meta) == 0) continue;
            if (fingerprint(path, meta, content)) continue; /* a file vanished mid-hash: next time */
            memcpy(t->meta, meta, sizeof(meta));
            if (strcmp(content, t->content) == 0 || t->pid) continue;
            if (fire(t, "watch")) {
                cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_CORE, "watched pipeline not started|trigger=%s error=%s",
                          t->name, cairn_error_last()->msg);
                continue;
            }
            memcpy(t->content, content, sizeof(content));
            finish_row f = {NULL, 0, t->name, t->content};
            cairn_store_write(S.store, save_content, &f);
        }
    }
    for (orphan **p = &S.orphans; *p;) {
        int status;
        orphan *o = *p;
        if (waitpid(o->pid, &status, WNOHANG) == o->pid) {
            reaped(o->run_id, status, NULL);
            *p = o->next;
            cairn_free(o);
        } else {
            p = &o->next;
        }
    }
}

static void *sched_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&S.mu);
    while (!S.stop) {
        tick();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&S.cv, &S.mu, &ts);
    }
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

/* ================= persistence ================= */

/* Builds a trigger; validates the schedule. The strings are copied. */
static int trigger_make(trigger **out, const char *name, const char *dir, const char *stage,
                        const char *schedule, const char *watch, json_t *params, const char *content)
{
    trigger *t = cairn_calloc(1, sizeof(*t));
    t->name = cairn_strdup(name);
    t->dir = cairn_strdup(dir);
    t->stage = dup_or_null(stage);
    t->schedule = dup_or_null(schedule);
    t->watch = dup_or_null(watch);
    t->next_ms = -1;
    snprintf(t->content, sizeof(t->content), "%s", content ? content : "");
    int rc = 0;
    if (t->schedule && (rc = cairn_cron_parse(t->schedule, &t->cron))) goto fail;
    if (t->schedule) t->next_ms = cairn_cron_next(&t->cron, cairn_time_ms());
    size_t i;
    json_t *v;
    t->params = cairn_calloc(MAX_PARAMS, sizeof(char *));
    json_array_foreach(params, i, v)
    {
        const char *p = json_string_value(v);
        if (!p || !strchr(p, '=') || t->nparams == MAX_PARAMS) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                                 "params must be at most %d strings KEY=VALUE", MAX_PARAMS);
            goto fail;
        }
        t->params[t->nparams++] = cairn_strdup(p);
    }
    *out = t;
    return 0;
fail:
    trigger_free(t);
    return rc;
}

static char *text_dup(const cairn_value *v)
{
    char *s = cairn_malloc(v->u.s.len + 1);
    memcpy(s, v->u.s.ptr, v->u.s.len);
    s[v->u.s.len] = '\0';
    return s;
}

static int load_row(const cairn_value *c, int n, void *payload)
{
    (void)payload;
    if (n < 7) return 0;
#define TXT(i) (c[i].type == CAIRN_V_TEXT ? text_dup(&c[i]) : NULL)
    char *name = TXT(0), *dir = TXT(1), *stage = TXT(2), *sched = TXT(3), *watch = TXT(4),
         *params = TXT(5), *content = TXT(6);
#undef TXT
    json_t *pj = json_loads(params ? params : "[]", 0, NULL);
    trigger *t = NULL;
    if (name && dir && !trigger_make(&t, name, dir, stage, sched, watch, pj, content)) {
        t->next = S.head;
        S.head = t;
    } else {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_CORE, "pipeline trigger not restored|name=%s",
                  name ? name : "?");
    }
    json_decref(pj);
    cairn_free(name);
    cairn_free(dir);
    cairn_free(stage);
    cairn_free(sched);
    cairn_free(watch);
    cairn_free(params);
    cairn_free(content);
    return 0;
}

/* ================= REST ================= */

static json_t *trigger_json(const trigger *t)
{
    json_t *o = json_object(), *p = json_array();
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "directory", json_string(t->dir));
    if (t->stage) json_object_set_new(o, "stage", json_string(t->stage));
    if (t->schedule) json_object_set_new(o, "schedule", json_string(t->schedule));
    if (t->watch) json_object_set_new(o, "watch", json_string(t->watch));
    for (int i = 0; i < t->nparams; i++)
        json_array_append_new(p, json_string(t->params[i]));
    json_object_set_new(o, "params", p);
    if (t->schedule && t->next_ms >= 0) json_object_set_new(o, "next_run", json_integer(t->next_ms));
    json_object_set_new(o, "running", json_boolean(t->pid != 0));
    if (t->pid) json_object_set_new(o, "run_id", json_string(t->run_id));
    return o;
}

typedef struct create_ctx {
    trigger *t;
    char *params_json;
} create_ctx;

static int insert_trigger(cairn_store_tx *tx, void *payload)
{
    create_ctx *c = payload;
    trigger *t = c->t;
    cairn_value p[8] = {CAIRN_VTEXT(t->name),
                        CAIRN_VTEXT(t->dir),
                        t->stage ? CAIRN_VTEXT(t->stage) : CAIRN_VNULL,
                        t->schedule ? CAIRN_VTEXT(t->schedule) : CAIRN_VNULL,
                        t->watch ? CAIRN_VTEXT(t->watch) : CAIRN_VNULL,
                        CAIRN_VTEXT(c->params_json),
                        *t->content ? CAIRN_VTEXT(t->content) : CAIRN_VNULL,
                        CAIRN_VINT(cairn_time_ms())};
    int rc = cairn_tx_exec(tx,
                           "INSERT INTO pipeline_triggers (name, directory, stage, schedule, watch, "
                           "params, content_hash, created) VALUES (?,?,?,?,?,?,?,?)",
                           p, 8, NULL, NULL);
    if (rc == CAIRN_EEXISTS)
        return cairn_error_set(CAIRN_EEXISTS, CAIRN_SUBSYS_CORE,
                               "Pipeline trigger '%.100s' already exists.", t->name);
    return rc < 0 ? rc : 0;
}

static int h_trigger_create(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL, *dir = NULL, *stage = NULL, *schedule = NULL, *watch = NULL;
    json_t *params = NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (!rc) rc = cairn_api__str(&call, "directory", 1, &dir);
    if (!rc) rc = cairn_api__str(&call, "stage", 0, &stage);
    if (!rc) rc = cairn_api__str(&call, "schedule", 0, &schedule);
    if (!rc) rc = cairn_api__str(&call, "watch", 0, &watch);
    if (!rc) rc = cairn_api__array(&call, "params", &params);
    if (!rc && (!*name || strlen(name) > 200 || strchr(name, '/')))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                             "a trigger name is 1 to 200 characters without '/'");
    if (!rc && dir[0] != '/')
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                             "directory must be an absolute path on the server");
    struct stat st;
    char yaml[PATH_MAX];
    snprintf(yaml, sizeof(yaml), "%s/cairn.yaml", dir ? dir : "");
    if (!rc && stat(yaml, &st))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "no cairn.yaml in '%.300s'", dir);
    trigger *t = NULL;
    json_t *empty = json_array();
    if (!rc) rc = trigger_make(&t, name, dir, stage, schedule, watch, params ? params : empty, NULL);
    json_decref(empty);
    if (rc) FAIL(call, rc);
    if (t->watch) { /* the content now: only a later change fires */
        char path[PATH_MAX];
        watch_path(t, path, sizeof(path));
        fingerprint(path, t->meta, t->content);
    }
    json_t *pj = json_array();
    for (int i = 0; i < t->nparams; i++)
        json_array_append_new(pj, json_string(t->params[i]));
    create_ctx c = {t, json_dumps(pj, JSON_COMPACT)};
    json_decref(pj);
    pthread_mutex_lock(&S.mu);
    if (*find_slot(name)) {
        rc = cairn_error_set(CAIRN_EEXISTS, CAIRN_SUBSYS_CORE,
                             "Pipeline trigger '%.100s' already exists.", name);
    } else if (!(rc = cairn_store_write(S.store, insert_trigger, &c))) {
        t->next = S.head;
        S.head = t;
    }
    json_t *out = rc ? NULL : json_pack("{s:o}", "trigger", trigger_json(t));
    pthread_mutex_unlock(&S.mu);
    free(c.params_json);
    if (rc) {
        trigger_free(t);
        FAIL(call, rc);
    }
    cairn_api__ok(req, out);
    cairn_api__end(&call);
    return 0;
}

static int h_trigger_list(cairn_http_req *req, void *payload)
{
    (void)payload;
    json_t *arr = json_array();
    pthread_mutex_lock(&S.mu);
    for (trigger *t = S.head; t; t = t->next)
        json_array_append_new(arr, trigger_json(t));
    pthread_mutex_unlock(&S.mu);
    cairn_api__ok(req, json_pack("{s:o}", "triggers", arr));
    return 0;
}

static int delete_trigger(cairn_store_tx *tx, void *payload)
{
    cairn_value p = CAIRN_VTEXT((const char *)payload);
    int rc = cairn_tx_exec(tx, "DELETE FROM pipeline_triggers WHERE name = ?", &p, 1, NULL, NULL);
    return rc < 0 ? rc : 0;
}

static int h_trigger_delete(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL;
    int rc = cairn_api__str(&call, "name", 1, &name);
    if (rc) FAIL(call, rc);
    pthread_mutex_lock(&S.mu);
    trigger **p = find_slot(name), *t = *p;
    if (!t)
        rc = cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CORE,
                             "Pipeline trigger '%.100s' not found.", name);
    else if (!(rc = cairn_store_write(S.store, delete_trigger, (void *)name))) {
        *p = t->next;
        if (t->pid) { /* its run goes on; it is reaped as an orphan */
            orphan *o = cairn_calloc(1, sizeof(*o));
            o->pid = t->pid;
            memcpy(o->run_id, t->run_id, sizeof(o->run_id));
            o->next = S.orphans;
            S.orphans = o;
        }
        trigger_free(t);
    }
    pthread_mutex_unlock(&S.mu);
    if (rc) FAIL(call, rc);
    cairn_api__empty(req);
    cairn_api__end(&call);
    return 0;
}

/* POST run {trigger} or {directory[, stage][, params]}: starts a run now. */
static int h_run(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL, *dir = NULL, *stage = NULL, *alert = NULL;
    json_t *params = NULL;
    int rc = cairn_api__str(&call, "trigger", 0, &name);
    if (!rc) rc = cairn_api__str(&call, "alert_id", 0, &alert);
    if (!rc) rc = cairn_api__str(&call, "directory", 0, &dir);
    if (!rc) rc = cairn_api__str(&call, "stage", 0, &stage);
    if (!rc) rc = cairn_api__array(&call, "params", &params);
    if (!rc && !name == !dir)
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                             "give either 'trigger' or 'directory'");
    if (!rc && dir && dir[0] != '/')
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE,
                             "directory must be an absolute path on the server");
    if (rc) FAIL(call, rc);
    char run_id[33] = "", reason[80] = "manual";
    if (alert) { /* an alert's retraining: the run records which alert */
        size_t n = strspn(alert, "0123456789abcdefABCDEF-");
        if (!*alert || n != strlen(alert) || n > 64) {
            rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "alert_id is not an alert id");
            FAIL(call, rc);
        }
        snprintf(reason, sizeof(reason), "alert:%s", alert);
    }
    if (name) {
        rc = cairn_server__sched_fire(name, reason, run_id);
    } else {
        trigger *tmp = NULL;
        json_t *empty = json_array();
        rc = trigger_make(&tmp, "-", dir, stage, NULL, NULL, params ? params : empty, NULL);
        json_decref(empty);
        if (!rc) {
            pthread_mutex_lock(&S.mu);
            int pid = spawn_run(NULL, dir, tmp->stage, tmp->params, tmp->nparams, reason, run_id);
            if (pid > 0) {
                orphan *o = cairn_calloc(1, sizeof(*o));
                o->pid = pid;
                memcpy(o->run_id, run_id, sizeof(o->run_id));
                o->next = S.orphans;
                S.orphans = o;
            } else {
                rc = pid;
            }
            pthread_mutex_unlock(&S.mu);
        }
        trigger_free(tmp);
    }
    if (rc) FAIL(call, rc);
    cairn_api__ok(req, json_pack("{s:s}", "run_id", run_id));
    cairn_api__end(&call);
    return 0;
}

static json_t *text_or_null(const cairn_value *c)
{
    return c->type == CAIRN_V_TEXT ? json_stringn(c->u.s.ptr, c->u.s.len) : json_null();
}

static int run_json_row(const cairn_value *c, int n, void *payload)
{
    json_t *arr = payload;
    if (n < 10) return 0;
    json_t *o = json_object();
    json_object_set_new(o, "id", text_or_null(&c[0]));
    json_object_set_new(o, "trigger", text_or_null(&c[1]));
    json_object_set_new(o, "directory", text_or_null(&c[2]));
    json_object_set_new(o, "stage", text_or_null(&c[3]));
    json_object_set_new(o, "reason", text_or_null(&c[4]));
    json_object_set_new(o, "status", text_or_null(&c[5]));
    json_object_set_new(o, "started", json_integer(c[6].u.i));
    json_object_set_new(o, "finished", c[7].type == CAIRN_V_INT ? json_integer(c[7].u.i) : json_null());
    json_object_set_new(o, "exit_code", c[8].type == CAIRN_V_INT ? json_integer(c[8].u.i) : json_null());
    json_object_set_new(o, "log_path", text_or_null(&c[9]));
    json_array_append_new(arr, o);
    return 0;
}

static int h_runs_list(cairn_http_req *req, void *payload)
{
    (void)payload;
    BEGIN(call, req);
    const char *name = NULL;
    int64_t max = 100;
    int rc = cairn_api__str(&call, "trigger", 0, &name);
    if (!rc) rc = cairn_api__i64(&call, "max_results", 0, &max, NULL);
    if (!rc && (max < 1 || max > 10000))
        rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "max_results must be in 1..10000");
    if (rc) FAIL(call, rc);
    json_t *arr = json_array();
    cairn_value p[3] = {CAIRN_VINT(name != NULL), CAIRN_VTEXT(name ? name : ""), CAIRN_VINT(max)};
    rc = cairn_store_query(S.store,
                           "SELECT id, trigger_name, directory, stage, reason, status, started, "
                           "finished, exit_code, log_path FROM pipeline_runs WHERE (? = 0 OR "
                           "trigger_name = ?) ORDER BY started DESC LIMIT ?",
                           p, 3, run_json_row, arr);
    if (rc < 0) {
        json_decref(arr);
        FAIL(call, rc);
    }
    cairn_api__ok(req, json_pack("{s:o}", "runs", arr));
    cairn_api__end(&call);
    return 0;
}

/* ================= interface ================= */

int cairn_server__sched_fire(const char *trigger_name, const char *reason, char run_id[33])
{
    pthread_mutex_lock(&S.mu);
    trigger *t = *find_slot(trigger_name);
    int rc = t ? fire(t, reason)
               : cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_CORE,
                                 "Pipeline trigger '%.100s' not found.", trigger_name);
    if (!rc && run_id) memcpy(run_id, t->run_id, 33);
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int cairn_server__sched_mount(cairn_http_server *srv, cairn_store *store, const char *home)
{
    S.store = store;
    cairn_free(S.home);
    S.home = cairn_strdup(home);
    pthread_mutex_lock(&S.mu);
    int rc = cairn_store_query(store,
                               "SELECT name, directory, stage, schedule, watch, params, "
                               "content_hash FROM pipeline_triggers ORDER BY created DESC",
                               NULL, 0, load_row, NULL);
    pthread_mutex_unlock(&S.mu);
    if (rc < 0) return rc;
    static const struct {
        const char *path;
        unsigned methods;
        cairn_http_handler h;
    } routes[] = {
        {API "triggers/create", CAIRN_HTTP_POST, h_trigger_create},
        {API "triggers/list", CAIRN_HTTP_GET, h_trigger_list},
        {API "triggers/delete", CAIRN_HTTP_POST | CAIRN_HTTP_DELETE, h_trigger_delete},
        {API "run", CAIRN_HTTP_POST, h_run},
        {API "runs/list", CAIRN_HTTP_GET, h_runs_list},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(routes) && !rc; i++)
        rc = cairn_http_route(srv, routes[i].methods, routes[i].path, 0, 0, routes[i].h, NULL);
    return rc;
}

int cairn_server__sched_start(int port)
{
    ssize_t n = readlink("/proc/self/exe", S.exe, sizeof(S.exe) - 1);
    if (n <= 0) return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CORE, "cannot find the cairn binary");
    S.exe[n] = '\0';
    S.port = port;
    S.stop = 0;
    if (pthread_create(&S.thread, NULL, sched_main, NULL))
        return cairn_error_set(CAIRN_ENOMEM, CAIRN_SUBSYS_CORE, "cannot start the scheduler");
    S.running = 1;
    return 0;
}

void cairn_server__sched_stop(void)
{
    pthread_mutex_lock(&S.mu);
    int running = S.running;
    S.stop = 1;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    if (running) pthread_join(S.thread, NULL);
    pthread_mutex_lock(&S.mu);
    S.running = 0;
    /* runs still going on keep going (they are their own sessions); their
     * status stays "running" in the store */
    while (S.head) {
        trigger *t = S.head;
        S.head = t->next;
        trigger_free(t);
    }
    while (S.orphans) {
        orphan *o = S.orphans;
        S.orphans = o->next;
        cairn_free(o);
    }
    cairn_free(S.home);
    S.home = NULL;
    pthread_mutex_unlock(&S.mu);
}
