/*
 * pipe_run.c - runs a pipeline: decides which stages are up to date,
 * executes the rest in parallel, caches outputs, records the lock file,
 * and tracks each executed stage as an MLflow run.
 *
 * One scheduler loop in the calling thread walks the topological order:
 * a stage whose upstream stages have all finished gets its cache key
 * computed (deps hashed through the state cache); when the lock holds the
 * same key and the outs are present with their recorded hashes it is
 * skipped, when they are missing but cached they are restored, otherwise
 * it is forked into its own process group (so a timeout kills everything
 * it started) with stdout/stderr in .cairn/logs/STAGE.log. Children are
 * reaped by pid (never waitpid(-1)), so a host process's other children are
 * left alone. A failed stage blocks only its downstream stages.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_IDLE, S_PENDING, S_RUNNING, S_OK, S_FAILED, S_BLOCKED };

typedef struct job {
    int state;
    pid_t pid;
    int attempt;
    int64_t start_ns, deadline_ns;
    bool timed_out;
    bool would; /* dry run: reported as would-run */
    const pipe_lock_entry *cached; /* skipped or restored from the cache: its lock entry */
    char run_id[64];
    pipe_lock_entry cur;
} job;

typedef struct runner {
    cairn_pipeline *p;
    const cairn_pipeline_run_opts *o;
    cairn_pipeline_result *res;
    job *jobs;
    pipe_state *st;
    cairn_blob *blob;
    pipe_lock lock;
    char lock_path[4096], logs[4096], exe[4096];
    pipe_tracker trk;
    bool track_tried;
    char parent[64];
    int running, jobs_max;
    int first_err;
    char err[256];
} runner;

static void emit(runner *r, cairn_pipeline_event_kind k, const char *stage, int attempt,
                 double secs, const char *msg)
{
    if (!r->o->progress) return;
    cairn_pipeline_event ev = {k, stage, attempt, secs, msg};
    r->o->progress(&ev, r->o->payload);
}

static void set_err(runner *r, const char *stage, const char *msg)
{
    if (r->first_err) return;
    r->first_err = 1;
    snprintf(r->res->failed_stage, sizeof(r->res->failed_stage), "%s", stage);
    snprintf(r->err, sizeof(r->err), "stage '%s' failed: %s", stage, msg);
}

/* ---------------------------------------------------------------------- */
/* Tracking (best effort)                                                  */
/* ---------------------------------------------------------------------- */

static char *hashes_json(const cairn_pipeline_kv *kv, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++) {
        const char *h = kv[i].value;
        json_object_set_new(o, kv[i].key, json_string(strncmp(h, "d:", 2) ? h : h + 2));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    char *c = cairn_strdup(s ? s : "{}");
    free(s); /* jansson's allocation */
    return c;
}

static void track_note(runner *r)
{
    char msg[400];
    snprintf(msg, sizeof(msg), "tracking server %s not reachable (%s); running without tracking",
             r->o->tracking_uri, cairn_error_last()->msg);
    emit(r, CAIRN_PEV_NOTE, NULL, 0, 0, msg);
    r->trk.on = false;
}

/* Opens the tracker and the parent run on first use. */
static void track_begin(runner *r)
{
    if (r->track_tried || !r->o->tracking_uri) return;
    r->track_tried = true;
    if (cairn_pipeline__track_open(&r->trk, r->o->tracking_uri,
                                   r->o->experiment ? r->o->experiment : "Default")) {
        track_note(r);
        return;
    }
    /* a run started by the server's scheduler names its trigger run, so the
     * UI links the two */
    static char none[] = "";
    char *trigger_run = getenv("CAIRN_TRIGGER_RUN_ID");
    cairn_pipeline_kv tags[] = {{"cairn.pipeline", r->p->path},
                                {"cairn.kind", "pipeline"},
                                {"cairn.trigger_run", trigger_run ? trigger_run : none}};
    char name[300];
    snprintf(name, sizeof(name), "pipeline %s", r->p->path);
    if (cairn_pipeline__track_start(&r->trk, name, NULL, tags, trigger_run && *trigger_run ? 3 : 2,
                                    r->parent)) {
        track_note(r);
        return;
    }
    r->res->tracked = true;
    snprintf(r->res->parent_run_id, sizeof(r->res->parent_run_id), "%s", r->parent);
}

/* Tags the pipeline's run with the stages the cache answered (they have no
 * run of their own): cairn.cached_stages = [{stage, deps, outs}] with the
 * lock's path -> hash maps, so lineage and the UI's DAG still see them.
 * Hashes are dropped, then stages, if the tag would pass MLflow's limit. */
static void track_cached(runner *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < r->p->nstages; i++) {
        const pipe_lock_entry *e = r->jobs[i].cached;
        if (!e) continue;
        json_t *deps = json_object(), *outs = json_object();
        for (int k = 0; k < e->ndeps; k++)
            json_object_set_new(deps, e->deps[k].key, json_string(e->deps[k].value));
        for (int k = 0; k < e->nouts; k++) {
            const char *h = e->outs[k].value;
            json_object_set_new(outs, e->outs[k].key, json_string(strncmp(h, "d:", 2) ? h : h + 2));
        }
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o}", "stage", r->p->stages[i].name, "deps",
                                             deps, "outs", outs));
    }
    char *text = NULL;
    for (int pass = 0; json_array_size(arr) && pass < 2; pass++) {
        text = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
        if (text && strlen(text) <= 7500) break;
        free(text); /* jansson's allocation */
        text = NULL;
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) /* keep the paths (for the graph), drop the hashes */
        {
            const char *side[] = {"deps", "outs"};
            for (int k = 0; k < 2; k++) {
                json_t *o = json_object_get(x, side[k]), *keys = json_array();
                const char *key;
                json_t *v;
                json_object_foreach(o, key, v) json_array_append_new(keys, json_string(key));
                json_object_set_new(x, side[k], keys);
            }
        }
    }
    if (text && strlen(text) <= 7500) {
        cairn_pipeline_kv tag = {"cairn.cached_stages", text};
        cairn_pipeline__track_tags(&r->trk, r->parent, &tag, 1);
    }
    free(text);
    json_decref(arr);
}

static void track_stage_start(runner *r, int i)
{
    job *j = &r->jobs[i];
    const cairn_pipeline_stage *s = &r->p->stages[i];
    j->run_id[0] = '\0';
    if (!r->trk.on) return;
    char *deps = hashes_json(j->cur.deps, j->cur.ndeps);
    static const char *const kinds[] = {"cmd", "train", "evaluate", "register", "validate"};
    cairn_pipeline_kv tags[] = {{"cairn.stage", s->name},
                                {"cairn.cache_key", j->cur.key},
                                {"cairn.deps", deps},
                                {"cairn.stage_kind", (char *)kinds[s->kind]},
                                {"cairn.pipeline", r->p->path}};
    if (cairn_pipeline__track_start(&r->trk, s->name, r->parent, tags, 5, j->run_id) ||
        cairn_pipeline__track_params(&r->trk, j->run_id, s->params, s->nparams))
        track_note(r);
    cairn_free(deps);
}

static void track_stage_end(runner *r, int i, bool ok)
{
    job *j = &r->jobs[i];
    const cairn_pipeline_stage *s = &r->p->stages[i];
    if (!r->trk.on || !j->run_id[0]) return;
    char *deps = hashes_json(j->cur.deps, j->cur.ndeps);
    char *outs = hashes_json(j->cur.outs, j->cur.nouts);
    int rc = 0;
    if (ok) {
        cairn_pipeline_kv t[] = {{"cairn.outs", outs}};
        rc = cairn_pipeline__track_tags(&r->trk, j->run_id, t, 1);
        for (int m = 0; !rc && m < s->nmetrics; m++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", r->p->dir, s->metrics[m]);
            rc = cairn_pipeline__track_metrics_file(&r->trk, j->run_id, path);
            if (rc == CAIRN_EINVALID)
                rc = 0; /* benign: a bad metrics file is not a tracking outage */
        }
        /* cairn train made its own run: link it into the pipeline. */
        const char *out = NULL;
        for (int k = 0; k < s->nopts; k++)
            if (!strcmp(s->opts[k].key, "out")) out = s->opts[k].value;
        if (!rc && s->kind == CAIRN_STAGE_TRAIN && out) {
            char mp[4096];
            snprintf(mp, sizeof(mp), "%s/%s/metrics.json", r->p->dir, out);
            json_t *mj = json_load_file(mp, 0, NULL);
            const char *tid = json_string_value(json_object_get(mj, "run_id"));
            if (tid) {
                cairn_pipeline_kv t2[] = {{"mlflow.parentRunId", r->parent},
                                          {"cairn.stage", s->name},
                                          {"cairn.cache_key", j->cur.key},
                                          {"cairn.deps", deps},
                                          {"cairn.outs", outs},
                                          {"cairn.stage_run", j->run_id}};
                rc = cairn_pipeline__track_tags(&r->trk, tid, t2, 6);
                cairn_pipeline_kv t3[] = {{"cairn.train_run", (char *)tid}};
                if (!rc) rc = cairn_pipeline__track_tags(&r->trk, j->run_id, t3, 1);
            }
            json_decref(mj);
        }
    }
    if (!rc) rc = cairn_pipeline__track_end(&r->trk, j->run_id, ok);
    if (rc) track_note(r);
    cairn_free(deps);
    cairn_free(outs);
}

/* ---------------------------------------------------------------------- */
/* Up-to-date checks                                                       */
/* ---------------------------------------------------------------------- */

/* 1: outs match the lock; 0: some out differs or is missing (why says so). */
static int outs_match(runner *r, const pipe_lock_entry *old, bool *missing, char *why, size_t n)
{
    *missing = false;
    for (int k = 0; k < old->nouts; k++) {
        char path[4096], hex[65];
        snprintf(path, sizeof(path), "%s/%s", r->p->dir, old->outs[k].key);
        const char *want = old->outs[k].value;
        if (!strncmp(want, "d:", 2)) want += 2;
        int rc = cairn_pipeline__hash_path(r->st, path, NULL, hex, NULL);
        if (rc == CAIRN_ENOTFOUND) {
            *missing = true;
            snprintf(why, n, "out %s missing", old->outs[k].key);
            return 0;
        }
        if (rc || strcmp(hex, want)) {
            snprintf(why, n, "out %s modified", old->outs[k].key);
            return 0;
        }
    }
    return 1;
}

/* Restores every out of old from the cache; 0 when all were there. */
static int restore_outs(runner *r, const pipe_lock_entry *old)
{
    for (int k = 0; k < old->nouts; k++) {
        const char *h = old->outs[k].value;
        bool dir = !strncmp(h, "d:", 2);
        if (dir) h += 2;
        if (!r->blob || cairn_blob_exists(r->blob, h) != 1)
            return PERR(CAIRN_ENOTFOUND, "out %s is not in the cache", old->outs[k].key);
    }
    for (int k = 0; k < old->nouts; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", r->p->dir, old->outs[k].key);
        const char *h = old->outs[k].value;
        bool dir = !strncmp(h, "d:", 2);
        int rc = cairn_pipeline__restore(r->blob, path, dir ? h + 2 : h, dir);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Processes                                                               */
/* ---------------------------------------------------------------------- */

static int64_t now_ns(void)
{
    return cairn_monotonic_ns();
}

/* In the child: redirect, set up the environment, exec. Never returns. */
static void child_exec(runner *r, int i)
{
    const cairn_pipeline_stage *s = &r->p->stages[i];
    setpgid(0, 0);
    if (chdir(r->p->dir)) _exit(127);
    char log[4400];
    snprintf(log, sizeof(log), "%s/%s.log", r->logs, s->name);
    int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDONLY);
    if (lfd < 0 || nul < 0) _exit(127);
    int ofd = lfd;
    if (s->stdout_path) {
        ofd = open(s->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (ofd < 0) {
            dprintf(lfd, "cairn: cannot write %s: %s\n", s->stdout_path, strerror(errno));
            _exit(127);
        }
    }
    dup2(nul, 0);
    dup2(ofd, 1);
    dup2(lfd, 2);
    setenv("CAIRN_STAGE", s->name, 1);
    if (r->trk.on) {
        setenv("CAIRN_TRACKING_URI", r->o->tracking_uri, 1);
        setenv("MLFLOW_TRACKING_URI", r->o->tracking_uri, 1);
        if (r->jobs[i].run_id[0]) setenv("MLFLOW_RUN_ID", r->jobs[i].run_id, 1);
        setenv("CAIRN_PIPELINE_RUN_ID", r->parent, 1);
    }
    if (s->cmd) {
        execl("/bin/sh", "sh", "-c", s->cmd, (char *)NULL);
    } else {
        char **argv = s->argv;
        if (s->kind != CAIRN_STAGE_CMD) {
            argv = calloc((size_t)s->argc + 1, sizeof(char *)); /* freed by exec */
            if (!argv) _exit(127);
            argv[0] = r->exe;
            for (int k = 1; k < s->argc; k++)
                argv[k] = s->argv[k];
            execv(r->exe, argv);
        } else {
            execvp(argv[0], argv);
        }
    }
    dprintf(2, "cairn: cannot run stage %s: %s\n", s->name, strerror(errno));
    _exit(127);
}

static int start(runner *r, int i)
{
    job *j = &r->jobs[i];
    const cairn_pipeline_stage *s = &r->p->stages[i];
    j->attempt++;
    if (j->attempt == 1) {
        track_begin(r);
        track_stage_start(r, i);
        /* The log starts empty for each run of the stage. */
        char log[4400];
        snprintf(log, sizeof(log), "%s/%s.log", r->logs, s->name);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) close(fd);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return PERR(CAIRN_EIO, "fork: %s", strerror(errno));
    if (pid == 0) child_exec(r, i);
    setpgid(pid, pid); /* both sides, so a kill never races the child's own call */
    j->pid = pid;
    j->state = S_RUNNING;
    j->timed_out = false;
    j->start_ns = now_ns();
    j->deadline_ns = s->timeout_ms ? j->start_ns + s->timeout_ms * 1000000LL : 0;
    r->running++;
    emit(r, CAIRN_PEV_START, s->name, j->attempt, 0, NULL);
    return 0;
}

static void block_downstream(runner *r, int i)
{
    for (int k = 0; k < r->p->nstages; k++) {
        int d = r->p->order[k];
        job *j = &r->jobs[d];
        if (j->state != S_PENDING) continue;
        for (int u = 0; u < r->p->stages[d].nupstream; u++) {
            int up = r->p->stages[d].upstream[u];
            if (up == i || r->jobs[up].state == S_BLOCKED) {
                j->state = S_BLOCKED;
                r->res->blocked++;
                char msg[300];
                snprintf(msg, sizeof(msg), "upstream stage '%s' failed", r->p->stages[i].name);
                emit(r, CAIRN_PEV_BLOCKED, r->p->stages[d].name, 0, 0, msg);
                break;
            }
        }
    }
}

static void fail_stage(runner *r, int i, const char *msg)
{
    job *j = &r->jobs[i];
    j->state = S_FAILED;
    r->res->failed++;
    set_err(r, r->p->stages[i].name, msg);
    track_stage_end(r, i, false);
    block_downstream(r, i);
}

/* A successful process: hash and cache the outs, record the lock. */
static void finish_ok(runner *r, int i, double secs)
{
    job *j = &r->jobs[i];
    const cairn_pipeline_stage *s = &r->p->stages[i];
    for (int k = 0; k < s->nouts; k++) {
        char path[4096], hex[65], v[80];
        bool dir = false;
        snprintf(path, sizeof(path), "%s/%s", r->p->dir, s->outs[k]);
        int rc = cairn_pipeline__hash_path(r->st, path, r->blob, hex, &dir);
        if (rc) {
            char msg[300];
            snprintf(msg, sizeof(msg), rc == CAIRN_ENOTFOUND ? "it did not produce out '%s'" : "%s",
                     rc == CAIRN_ENOTFOUND ? s->outs[k] : cairn_error_last()->msg);
            emit(r, CAIRN_PEV_FAIL, s->name, j->attempt, secs, msg);
            fail_stage(r, i, msg);
            return;
        }
        snprintf(v, sizeof(v), "%s%s", dir ? "d:" : "", hex);
        j->cur.outs = cairn_realloc(j->cur.outs, sizeof(*j->cur.outs) * (size_t)(j->cur.nouts + 1));
        j->cur.outs[j->cur.nouts].key = cairn_strdup(s->outs[k]);
        j->cur.outs[j->cur.nouts++].value = cairn_strdup(v);
    }
    track_stage_end(r, i, true);
    pipe_lock_entry e = j->cur; /* the lock keeps a copy; j->cur stays for reporting */
    memset(&j->cur, 0, sizeof(j->cur));
    cairn_pipeline__lock_put(&r->lock, &e);
    if (cairn_pipeline__lock_write(&r->lock, r->lock_path)) {
        fail_stage(r, i, cairn_error_last()->msg);
        return;
    }
    j->state = S_OK;
    r->res->executed++;
    emit(r, CAIRN_PEV_DONE, s->name, j->attempt, secs, NULL);
}

/* Reaps finished children and enforces timeouts; returns how many ended. */
static int reap(runner *r)
{
    int ended = 0;
    for (int i = 0; i < r->p->nstages; i++) {
        job *j = &r->jobs[i];
        if (j->state != S_RUNNING) continue;
        int status = 0;
        pid_t w = waitpid(j->pid, &status, WNOHANG);
        if (w == 0) {
            if (j->deadline_ns && now_ns() > j->deadline_ns && !j->timed_out) {
                kill(-j->pid, SIGKILL);
                j->timed_out = true;
            }
            continue;
        }
        ended++;
        r->running--;
        double secs = (double)(now_ns() - j->start_ns) / 1e9;
        const cairn_pipeline_stage *s = &r->p->stages[i];
        bool ok = w == j->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !j->timed_out;
        if (ok) {
            finish_ok(r, i, secs);
            continue;
        }
        char msg[300];
        if (j->timed_out)
            snprintf(msg, sizeof(msg), "timed out after %.1fs (see .cairn/logs/%s.log)", secs,
                     s->name);
        else if (w == j->pid && WIFSIGNALED(status))
            snprintf(msg, sizeof(msg), "killed by signal %d (see .cairn/logs/%s.log)",
                     WTERMSIG(status), s->name);
        else
            snprintf(msg, sizeof(msg), "exit status %d (see .cairn/logs/%s.log)",
                     w == j->pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1, s->name);
        emit(r, CAIRN_PEV_FAIL, s->name, j->attempt, secs, msg);
        if (j->attempt <= s->retries) {
            j->state = S_PENDING; /* retried by the scheduler loop */
            if (start(r, i)) fail_stage(r, i, cairn_error_last()->msg);
        } else {
            fail_stage(r, i, msg);
        }
    }
    return ended;
}

/* Decides a ready stage: skip, restore, would-run, or start. Returns 1 when
 * it is waiting for a free job slot. */
static int consider(runner *r, int i)
{
    job *j = &r->jobs[i];
    const cairn_pipeline_stage *s = &r->p->stages[i];
    if (r->o->dry_run) {
        for (int u = 0; u < s->nupstream; u++)
            if (r->jobs[s->upstream[u]].would) {
                j->state = S_OK;
                j->would = true;
                emit(r, CAIRN_PEV_WOULD_RUN, s->name, 0, 0, "an upstream stage will run");
                return 0;
            }
    }
    if (j->attempt == 0 && !j->cur.key) {
        if (cairn_pipeline__stage_key(r->p, s, r->st, &j->cur)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s", cairn_error_last()->msg);
            emit(r, CAIRN_PEV_FAIL, s->name, 0, 0, msg);
            fail_stage(r, i, msg);
            return 0;
        }
        pipe_lock_entry *old = cairn_pipeline__lock_find(&r->lock, s->name);
        char why[512];
        if (!r->o->force && old && !cairn_pipeline__why_stale(&j->cur, old, why, sizeof(why))) {
            bool missing = false;
            if (outs_match(r, old, &missing, why, sizeof(why))) {
                j->state = S_OK;
                j->cached = old;
                r->res->skipped++;
                emit(r, CAIRN_PEV_SKIP, s->name, 0, 0, NULL);
                return 0;
            }
            if (missing && !r->o->dry_run && !restore_outs(r, old)) {
                j->state = S_OK;
                j->cached = old;
                r->res->restored++;
                emit(r, CAIRN_PEV_RESTORE, s->name, 0, 0, NULL);
                return 0;
            }
        }
        if (r->o->dry_run) {
            j->state = S_OK;
            j->would = true;
            emit(r, CAIRN_PEV_WOULD_RUN, s->name, 0, 0,
                 r->o->force ? "forced"
                 : old       ? cairn_pipeline__why_stale(&j->cur, old, why, sizeof(why)) ? why
                                                                                         : "outs differ"
                             : "never run");
            return 0;
        }
    }
    if (r->running >= r->jobs_max) return 1;
    if (start(r, i)) fail_stage(r, i, cairn_error_last()->msg);
    return 0;
}

/* Marks targets and everything upstream of them as PENDING. */
static int select_stages(runner *r)
{
    cairn_pipeline *p = r->p;
    if (!r->o->ntargets) {
        for (int i = 0; i < p->nstages; i++)
            r->jobs[i].state = S_PENDING;
        return 0;
    }
    for (int t = 0; t < r->o->ntargets; t++) {
        const char *name = r->o->targets[t];
        bool hit = false;
        size_t n = strlen(name);
        for (int i = 0; i < p->nstages; i++)
            if (!strcmp(p->stages[i].name, name) ||
                (!strncmp(p->stages[i].name, name, n) && p->stages[i].name[n] == '@')) {
                r->jobs[i].state = S_PENDING;
                hit = true;
            }
        if (!hit) return PERR(CAIRN_ENOTFOUND, "no stage '%s' in %s", name, p->path);
    }
    if (r->o->no_deps) return 0;
    /* Upstream closure: walk the order backwards. */
    for (int k = p->nstages - 1; k >= 0; k--) {
        int i = p->order[k];
        if (r->jobs[i].state != S_PENDING) continue;
        for (int u = 0; u < p->stages[i].nupstream; u++)
            r->jobs[p->stages[i].upstream[u]].state = S_PENDING;
    }
    return 0;
}

static int open_workspace(runner *r)
{
    char base[3900], cache[4200], state[4200];
    if (strlen(r->p->dir) > 3800) return PERR(CAIRN_ETOOBIG, "pipeline directory path too long");
    snprintf(base, sizeof(base), "%s/.cairn", r->p->dir);
    snprintf(r->logs, sizeof(r->logs), "%s/logs", base);
    snprintf(cache, sizeof(cache), "%s/cache", base);
    snprintf(state, sizeof(state), "%s/pipeline_state", base);
    snprintf(r->lock_path, sizeof(r->lock_path), "%s/cairn.lock", r->p->dir);
    int rc = cairn_pipeline__lock_read(&r->lock, r->lock_path);
    if (!rc) rc = cairn_pipeline__state_open(&r->st, state);
    if (!rc && !r->o->dry_run) {
        rc = cairn_mkdir_p(r->logs, 0755);
        if (!rc) rc = cairn_blob_open(&r->blob, cache);
    } else if (!rc) {
        struct stat sb;
        if (!stat(cache, &sb)) rc = cairn_blob_open(&r->blob, cache);
    }
    return rc;
}

int cairn_pipeline_run(const char *path, const cairn_pipeline_run_opts *opts,
                       cairn_pipeline_result *result)
{
    memset(result, 0, sizeof(*result));
    if (!opts || opts->version != CAIRN_PIPELINE_RUN_OPTS_VERSION)
        return PERR(CAIRN_EINVALID, "pipeline run options of an unknown version");
    runner r = {.o = opts, .res = result};
    int rc = cairn_pipeline_load(&r.p, path, opts->sets, opts->nsets);
    if (rc) return rc;
    r.jobs = cairn_calloc((size_t)(r.p->nstages ? r.p->nstages : 1), sizeof(job));
    r.jobs_max = opts->jobs > 0 ? opts->jobs : cairn_ncpu();
    if (r.jobs_max < 1) r.jobs_max = 1;
    if (opts->cairn_exe) {
        snprintf(r.exe, sizeof(r.exe), "%s", opts->cairn_exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", r.exe, sizeof(r.exe) - 1);
        r.exe[n > 0 ? n : 0] = '\0';
    }
    rc = select_stages(&r);
    if (!rc) rc = open_workspace(&r);
    while (!rc) {
        bool waiting = false;
        for (int k = 0; k < r.p->nstages; k++) {
            int i = r.p->order[k];
            if (r.jobs[i].state != S_PENDING || r.jobs[i].attempt) continue;
            bool ready = true;
            for (int u = 0; u < r.p->stages[i].nupstream; u++) {
                int st = r.jobs[r.p->stages[i].upstream[u]].state;
                if (st != S_OK && st != S_IDLE) ready = false;
            }
            if (ready && consider(&r, i)) waiting = true;
        }
        if (!r.running) {
            bool pending = false;
            for (int i = 0; i < r.p->nstages; i++)
                if (r.jobs[i].state == S_PENDING && !r.jobs[i].attempt) pending = true;
            if (!pending || !waiting) break;
            continue;
        }
        if (!reap(&r)) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (r.trk.on && r.parent[0]) {
        track_cached(&r);
        cairn_pipeline__track_end(&r.trk, r.parent, !r.first_err);
    }
    if (!rc && r.first_err) rc = PERR(CAIRN_ERROR, "%s", r.err);
    for (int i = 0; i < r.p->nstages; i++)
        cairn_pipeline__lock_entry_free(&r.jobs[i].cur);
    cairn_free(r.jobs);
    cairn_pipeline__state_close(r.st);
    cairn_blob_close(r.blob);
    cairn_pipeline__lock_free(&r.lock);
    cairn_pipeline_free(r.p);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Status                                                                  */
/* ---------------------------------------------------------------------- */

int cairn_pipeline_status(const char *path, const cairn_pipeline_kv *sets, int nsets,
                          cairn_pipeline_status_cb cb, void *payload)
{
    cairn_pipeline_run_opts o = CAIRN_PIPELINE_RUN_OPTS_INIT;
    o.dry_run = true;
    cairn_pipeline_result res;
    runner r = {.o = &o, .res = &res};
    int rc = cairn_pipeline_load(&r.p, path, sets, nsets);
    if (rc) return rc;
    r.jobs = cairn_calloc((size_t)(r.p->nstages ? r.p->nstages : 1), sizeof(job));
    rc = open_workspace(&r);
    for (int k = 0; !rc && k < r.p->nstages; k++) {
        int i = r.p->order[k];
        const cairn_pipeline_stage *s = &r.p->stages[i];
        char why[600] = "";
        const char *stale = NULL;
        for (int u = 0; !stale && u < s->nupstream; u++)
            if (r.jobs[s->upstream[u]].state == S_FAILED) {
                snprintf(why, sizeof(why), "upstream stage %s is stale",
                         r.p->stages[s->upstream[u]].name);
                stale = why;
            }
        pipe_lock_entry cur;
        if (!stale && cairn_pipeline__stage_key(r.p, s, r.st, &cur)) {
            snprintf(why, sizeof(why), "%s", cairn_error_last()->msg);
            stale = why;
        } else if (!stale) {
            pipe_lock_entry *old = cairn_pipeline__lock_find(&r.lock, s->name);
            stale = cairn_pipeline__why_stale(&cur, old, why, sizeof(why));
            bool missing;
            if (!stale && !outs_match(&r, old, &missing, why, sizeof(why))) stale = why;
            cairn_pipeline__lock_entry_free(&cur);
        }
        r.jobs[i].state = stale ? S_FAILED : S_OK; /* S_FAILED marks "stale" here */
        cb(s->name, !stale, stale, payload);
    }
    cairn_free(r.jobs);
    cairn_pipeline__state_close(r.st);
    cairn_blob_close(r.blob);
    cairn_pipeline__lock_free(&r.lock);
    cairn_pipeline_free(r.p);
    return rc;
}
