/*
 * monitor_alerts_jobs.c - what an alert transition sets off, on two
 * background threads so that no request or signal ever waits for it:
 * webhook deliveries (JSON POST with retries and exponential backoff, a
 * dead letter after the last failure) and retraining commands (debounced,
 * capped per day, each tracked as an MLflow run linked to the alert).
 *
 * Key ideas: the webhook thread keeps its jobs ordered by next attempt
 * time, so one failing receiver's backoff delays nobody else's first try.
 * The retraining thread runs requests one at a time and records each
 * decision (started or skipped) in monitor_alert_runs before the next
 * one, so debounce and the daily cap are exact even when alerts fire
 * together, and survive restarts. The engine talks to tracking as any
 * MLflow client would, through this server's REST API, the same API the
 * retraining command itself is given (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID).
 * Commands are spawned without a shell (posix_spawnp, argv from the
 * policy), their stdout+stderr tail kept on the run as a tag.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/core.h"
#include "monitor_alerts.h"

extern char **environ;

#define OUTPUT_TAIL 4000
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 60000

typedef struct delivery {
    struct delivery *next;
    char id[33], alert_id[33];
    const cairn_monitor_rule *rule;
    char *event, *body;
    int attempts;
    int last_status;
    char last_error[200];
    int64_t next_at, created;
} delivery;

typedef struct retrain {
    struct retrain *next;
    char alert_id[33];
    const cairn_monitor_rule *rule;
    char *deployment;
} retrain;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    pthread_t hook_thread, retrain_thread;
    cairn_store *store;
    cairn_http_server *srv;
    char host[128];
    delivery *hooks; /* ordered by next_at */
    retrain *jobs, **jobs_tail;
    uint64_t delivered, dead, started, skipped;
} J = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- queueing (callers hold J.mu) ---- */

static void hook_insert(delivery *d)
{
    delivery **p = &J.hooks;
    while (*p && (*p)->next_at <= d->next_at) p = &(*p)->next;
    d->next = *p;
    *p = d;
}

static char *event_json(const cairn_alert_event *ev)
{
    const cairn_monitor_rule *r = ev->rule;
    json_t *o = json_object();
    json_object_set_new(o, "alert_id", json_string(ev->id));
    json_object_set_new(o, "rule", json_string(r->name));
    json_object_set_new(o, "deployment", json_string(ev->deployment));
    json_object_set_new(o, "kind", json_string(cairn_alert_kind_name(r->kind)));
    json_object_set_new(o, "subject", *ev->subject ? json_string(ev->subject) : json_null());
    json_object_set_new(o, "state", json_string(ev->state));
    json_object_set_new(o, "value", isfinite(ev->value) ? json_real(ev->value) : json_null());
    json_object_set_new(o, "threshold", json_real(r->threshold));
    json_object_set_new(o, "condition", json_string(r->above ? "above" : "below"));
    json_object_set_new(o, "for_windows", json_integer(r->for_windows));
    json_object_set_new(o, "started", json_integer(ev->started));
    json_object_set_new(o, "resolved", ev->resolved ? json_integer(ev->resolved) : json_null());
    json_object_set_new(o, "window_end", json_integer(ev->window_end));
    char msg[512];
    snprintf(msg, sizeof(msg), "[%s] %s: %s of deployment '%s'%s%s%s is %.6g (%s %.6g)",
             !strcmp(ev->state, "firing") ? "FIRING" : "RESOLVED", r->name,
             cairn_alert_kind_name(r->kind), ev->deployment, *ev->subject ? " (" : "",
             ev->subject, *ev->subject ? ")" : "", ev->value,
             !strcmp(ev->state, "firing") ? (r->above ? "above" : "below")
                                           : (r->above ? "threshold, above" : "threshold, below"),
             r->threshold);
    json_object_set_new(o, "message", json_string(msg));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = cairn_strdup(s);
    free(s); /* jansson's allocation */
    return out;
}

void cairn_serve__alerts_dispatch(const cairn_alert_event *ev)
{
    const cairn_monitor_rule *r = ev->rule;
    pthread_mutex_lock(&J.mu);
    if (!J.running || J.stop) goto done;
    if (r->webhook_url) {
        delivery *d = cairn_calloc(1, sizeof(*d));
        cairn_uuid_hex(d->id);
        memcpy(d->alert_id, ev->id, sizeof(d->alert_id));
        d->rule = r;
        d->event = cairn_strdup(ev->state);
        d->body = event_json(ev);
        d->created = d->next_at = cairn_time_ms();
        hook_insert(d);
    }
    if (r->retrain_argc > 0 && !strcmp(ev->state, "firing")) {
        retrain *j = cairn_calloc(1, sizeof(*j));
        memcpy(j->alert_id, ev->id, sizeof(j->alert_id));
        j->rule = r;
        j->deployment = cairn_strdup(ev->deployment);
        *J.jobs_tail = j;
        J.jobs_tail = &j->next;
    }
    pthread_cond_broadcast(&J.cv);
done:
    pthread_mutex_unlock(&J.mu);
}

/* ---- webhooks ---- */

static size_t discard(char *p, size_t size, size_t n, void *payload)
{
    (void)p;
    (void)payload;
    return size * n;
}

/* One POST of d's body; fills d->last_status / last_error. 1 on a 2xx. */
static int post_once(delivery *d)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(d->last_error, sizeof(d->last_error), "curl init failed");
        return 0;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "User-Agent: cairn-alerts/" CAIRN_VERSION);
    long timeout = (long)d->rule->webhook_timeout_ms;
    curl_easy_setopt(h, CURLOPT_URL, d->rule->webhook_url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    d->last_status = (int)status;
    if (cc != CURLE_OK)
        snprintf(d->last_error, sizeof(d->last_error), "%.190s",
                 *errbuf ? errbuf : curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        snprintf(d->last_error, sizeof(d->last_error), "HTTP %ld", status);
    else
        d->last_error[0] = 0;
    return cc == CURLE_OK && status >= 200 && status <= 299;
}

static int delivery_unit(cairn_store_tx *tx, void *payload)
{
    delivery *d = payload;
    int ok = !d->last_error[0];
    cairn_value p[] = {CAIRN_VTEXT(d->id),
                       CAIRN_VTEXT(d->alert_id),
                       CAIRN_VTEXT(d->event),
                       d->rule->webhook_name ? CAIRN_VTEXT(d->rule->webhook_name) : CAIRN_VNULL,
                       CAIRN_VTEXT(d->rule->webhook_url),
                       CAIRN_VTEXT(ok ? "delivered" : "dead"),
                       CAIRN_VINT(d->attempts),
                       CAIRN_VINT(d->last_status),
                       ok ? CAIRN_VNULL : CAIRN_VTEXT(d->last_error),
                       CAIRN_VINT(d->created),
                       CAIRN_VINT(cairn_time_ms())};
    return cairn_tx_exec(tx,
                         "INSERT INTO monitor_alert_deliveries (id, alert_id, event, webhook, url, "
                         "state, attempts, last_status, last_error, created, updated) VALUES (?, "
                         "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         p, 11, NULL, NULL);
}

static void delivery_free(delivery *d)
{
    cairn_free(d->event);
    cairn_free(d->body);
    cairn_free(d);
}

static void *hook_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&J.mu);
    while (!J.stop) {
        if (!J.hooks) {
            pthread_cond_wait(&J.cv, &J.mu);
            continue;
        }
        int64_t now = cairn_time_ms();
        if (J.hooks->next_at > now) {
            int64_t until = J.hooks->next_at;
            struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
            pthread_cond_timedwait(&J.cv, &J.mu, &ts); /* CLOCK_REALTIME, as cairn_time_ms */
            continue;
        }
        delivery *d = J.hooks;
        J.hooks = d->next;
        pthread_mutex_unlock(&J.mu);
        d->attempts++;
        int ok = post_once(d);
        int final = ok || d->attempts > d->rule->webhook_retries;
        if (!ok)
            cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_SERVE,
                      "webhook for alert %s, attempt %d failed: %s%s", d->alert_id, d->attempts,
                      d->last_error, final ? " (dead letter)" : "");
        if (final && cairn_store_write(J.store, delivery_unit, d))
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "webhook delivery not recorded: %s",
                      cairn_error_last()->msg);
        pthread_mutex_lock(&J.mu);
        if (final) {
            if (ok) J.delivered++;
            else J.dead++;
            delivery_free(d);
        } else {
            int64_t backoff = BACKOFF_FIRST_MS;
            for (int i = 1; i < d->attempts && backoff < BACKOFF_MAX_MS; i++) backoff *= 2;
            if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
            d->next_at = cairn_time_ms() + backoff;
            hook_insert(d);
        }
    }
    pthread_mutex_unlock(&J.mu);
    return NULL;
}

/* ---- retraining ---- */

typedef struct run_row {
    char id[33];
    const char *alert_id, *rule, *deployment, *run_id, *status, *reason;
    int exit_code, has_exit;
    int64_t started, finished;
} run_row;

static int run_insert_unit(cairn_store_tx *tx, void *payload)
{
    run_row *r = payload;
    cairn_value p[] = {CAIRN_VTEXT(r->id),
                       CAIRN_VTEXT(r->alert_id),
                       CAIRN_VTEXT(r->rule),
                       CAIRN_VTEXT(r->deployment),
                       r->run_id ? CAIRN_VTEXT(r->run_id) : CAIRN_VNULL,
                       CAIRN_VTEXT(r->status),
                       r->reason ? CAIRN_VTEXT(r->reason) : CAIRN_VNULL,
                       CAIRN_VINT(r->started)};
    return cairn_tx_exec(tx,
                         "INSERT INTO monitor_alert_runs (id, alert_id, rule, deployment, run_id, "
                         "status, reason, exit_code, started, finished) VALUES (?, ?, ?, ?, ?, ?, "
                         "?, NULL, ?, NULL)",
                         p, 8, NULL, NULL);
}

static int run_finish_unit(cairn_store_tx *tx, void *payload)
{
    run_row *r = payload;
    cairn_value p[] = {CAIRN_VTEXT(r->status), r->reason ? CAIRN_VTEXT(r->reason) : CAIRN_VNULL,
                       r->has_exit ? CAIRN_VINT(r->exit_code) : CAIRN_VNULL,
                       CAIRN_VINT(r->finished), CAIRN_VTEXT(r->id)};
    return cairn_tx_exec(tx,
                         "UPDATE monitor_alert_runs SET status = ?, reason = ?, exit_code = ?, "
                         "finished = ? WHERE id = ?",
                         p, 5, NULL, NULL);
}

static int row_i64_pair(const cairn_value *c, int n, void *payload)
{
    int64_t *out = payload;
    for (int i = 0; i < n && i < 2; i++) out[i] = c[i].type == CAIRN_V_INT ? c[i].u.i : 0;
    return 0;
}

/* Why a new run of rule for deployment must wait (static string), or NULL. */
static const char *gate(const retrain *j, int64_t now, char *why, size_t whylen)
{
    int64_t v[2] = {0, 0};
    cairn_value p[] = {CAIRN_VTEXT(j->rule->name), CAIRN_VTEXT(j->deployment),
                       CAIRN_VINT(now - 86400000)};
    if (cairn_store_query(J.store,
                          "SELECT COUNT(*), MAX(started) FROM monitor_alert_runs WHERE rule = ? "
                          "AND deployment = ? AND status <> 'skipped' AND started > ?",
                          p, 3, row_i64_pair, v)) {
        snprintf(why, whylen, "store: %s", cairn_error_last()->msg);
        return why;
    }
    if (v[0] > 0 && v[1] > now - j->rule->debounce_ms) {
        snprintf(why, whylen, "debounce: the last run started %lld ms ago (debounce %lld ms)",
                 (long long)(now - v[1]), (long long)j->rule->debounce_ms);
        return why;
    }
    if (v[0] >= j->rule->max_per_day) {
        snprintf(why, whylen, "max_per_day: %lld runs in the last 24 h", (long long)v[0]);
        return why;
    }
    return NULL;
}

/* This server's base URL for MLflow clients, into out. 0 or CAIRN_EBUSY. */
static int tracking_uri(char *out, size_t n)
{
    pthread_mutex_lock(&J.mu);
    int port = J.srv ? cairn_http_server_port(J.srv) : 0;
    const char *h = J.host;
    if (!*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::")) h = "127.0.0.1";
    snprintf(out, n, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h, port);
    pthread_mutex_unlock(&J.mu);
    if (port <= 0)
        return cairn_error_set(CAIRN_EBUSY, CAIRN_SUBSYS_SERVE, "the HTTP server is not listening");
    return 0;
}

/* An MLflow REST call to this server: body a JSON object (taken) or NULL
 * for GET; *out the decoded answer on 2xx (caller decrefs). */
static int mlflow(const char *base, const char *method, const char *path, json_t *body,
                  json_t **out)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s/api/2.0/mlflow/%s", base, path);
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    cairn_buf resp = CAIRN_BUF_INIT(1 << 20);
    int status = 0;
    int rc = cairn_http_fetch_ex(method, url, NULL, b ? "application/json" : NULL, b,
                                 b ? strlen(b) : 0, &status, &resp, NULL);
    free(b); /* jansson's */
    if (!rc && (status < 200 || status > 299))
        rc = cairn_error_set(status == 404 ? CAIRN_ENOTFOUND : CAIRN_ERROR, CAIRN_SUBSYS_SERVE,
                             "tracking %s answered %d: %.120s", path, status, cairn_buf_cstr(&resp));
    if (!rc && out) {
        *out = json_loadb(resp.ptr ? resp.ptr : "", resp.len, 0, NULL);
        if (!*out)
            rc = cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_SERVE, "tracking %s: not JSON", path);
    }
    cairn_buf_free(&resp);
    return rc;
}

/* Finds or creates the "retraining" experiment, then creates a run with
 * the alert's tags; run_id filled. */
static int create_run(const char *base, const retrain *j, int64_t now, char run_id[64])
{
    json_t *ans = NULL;
    int rc = mlflow(base, "GET", "experiments/get-by-name?experiment_name=retraining", NULL, &ans);
    if (rc == CAIRN_ENOTFOUND) {
        rc = mlflow(base, "POST", "experiments/create", json_pack("{s:s}", "name", "retraining"),
                    NULL);
        if (!rc)
            rc = mlflow(base, "GET", "experiments/get-by-name?experiment_name=retraining", NULL,
                        &ans);
    }
    if (rc) return rc;
    const char *exp = json_string_value(
        json_object_get(json_object_get(ans, "experiment"), "experiment_id"));
    if (!exp) {
        json_decref(ans);
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_SERVE, "tracking: no experiment id");
    }
    char name[300];
    snprintf(name, sizeof(name), "retrain-%s-%s", j->deployment, j->rule->name);
    json_t *req = json_pack(
        "{s:s, s:I, s:s, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "experiment_id", exp,
        "start_time", (json_int_t)now, "run_name", name, "tags", "key", "cairn.alert.id", "value",
        j->alert_id, "key", "cairn.alert.rule", "value", j->rule->name, "key", "cairn.deployment",
        "value", j->deployment, "key", "mlflow.user", "value", "cairn-alerts");
    json_decref(ans);
    ans = NULL;
    if ((rc = mlflow(base, "POST", "runs/create", req, &ans))) return rc;
    const char *id =
        json_string_value(json_object_get(json_object_get(json_object_get(ans, "run"), "info"),
                                          "run_id"));
    if (!id || strlen(id) >= 64)
        rc = cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_SERVE, "tracking: no run id");
    else
        snprintf(run_id, 64, "%s", id);
    json_decref(ans);
    return rc;
}

/* The child's environment: ours without the variables we set, then ours. */
static char **child_env(char *const *extra, int nextra)
{
    int n = 0;
    while (environ && environ[n]) n++;
    char **env = cairn_calloc((size_t)(n + nextra + 1), sizeof(char *));
    int k = 0;
    for (int i = 0; i < n; i++) {
        int overridden = 0;
        for (int e = 0; e < nextra; e++) {
            size_t klen = (size_t)(strchr(extra[e], '=') - extra[e]) + 1;
            if (!strncmp(environ[i], extra[e], klen)) overridden = 1;
        }
        if (!overridden) env[k++] = environ[i];
    }
    for (int e = 0; e < nextra; e++) env[k++] = extra[e];
    return env;
}

/* Appends n bytes to the tail buffer, keeping the last OUTPUT_TAIL bytes. */
static void tail_put(cairn_buf *tail, const char *p, size_t n)
{
    cairn_buf_put(tail, p, n);
    if (tail->len > 2 * OUTPUT_TAIL) {
        memmove(tail->ptr, tail->ptr + tail->len - OUTPUT_TAIL, OUTPUT_TAIL);
        tail->len = OUTPUT_TAIL;
        tail->ptr[tail->len] = 0;
    }
}

/* Runs argv with env, stdout+stderr into tail; *exit_code is the exit
 * status (128 + signal when killed). Sends SIGTERM when the engine stops. */
static int run_command(const char *const *argv, char **env, cairn_buf *tail, int *exit_code)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_SERVE, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_SERVE, "cannot start %s: %s", argv[0],
                               strerror(err));
    }
    int termed = 0, status = 0, reaped = 0;
    char chunk[4096];
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 200);
        if (pr > 0) {
            ssize_t r = read(fds[0], chunk, sizeof(chunk));
            if (r > 0) {
                tail_put(tail, chunk, (size_t)r);
                continue;
            }
            if (r == 0 || errno != EINTR) break; /* EOF: every writer closed */
        }
        pthread_mutex_lock(&J.mu);
        int stop = J.stop;
        pthread_mutex_unlock(&J.mu);
        if (stop && !termed) {
            kill(pid, SIGTERM);
            termed = 1;
        }
        /* a child that left a grandchild holding the pipe: stop at its exit */
        if (waitpid(pid, &status, WNOHANG) == pid) {
            reaped = 1;
            break;
        }
    }
    close(fds[0]);
    if (!reaped)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

static void finish_run(const char *base, const char *run_id, int exit_code, const char *output,
                       int64_t end)
{
    char code[16];
    snprintf(code, sizeof(code), "%d", exit_code);
    json_t *tags = json_pack("{s:s, s:[{s:s,s:s},{s:s,s:s}]}", "run_id", run_id, "tags", "key",
                             "cairn.retrain.exit_code", "value", code, "key",
                             "cairn.retrain.output", "value", output);
    if (mlflow(base, "POST", "runs/log-batch", tags, NULL) ||
        mlflow(base, "POST", "runs/update",
               json_pack("{s:s, s:s, s:I}", "run_id", run_id, "status",
                         exit_code == 0 ? "FINISHED" : "FAILED", "end_time", (json_int_t)end),
               NULL))
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "retraining run %s not ended: %s", run_id,
                  cairn_error_last()->msg);
}

/* One retraining request: gate, create the tracked run, run the command,
 * end the run, record every step in monitor_alert_runs. */
static void retrain_one(const retrain *j)
{
    int64_t now = cairn_time_ms();
    char why[300], run_id[64] = "", base[256];
    run_row row = {.alert_id = j->alert_id, .rule = j->rule->name, .deployment = j->deployment,
                   .started = now};
    cairn_uuid_hex(row.id);
    const char *skip = gate(j, now, why, sizeof(why));
    int rc = 0;
    if (skip) {
        row.status = "skipped";
        row.reason = skip;
    } else if ((rc = tracking_uri(base, sizeof(base))) || (rc = create_run(base, j, now, run_id))) {
        snprintf(why, sizeof(why), "tracking: %s", cairn_error_last()->msg);
        row.status = "failed";
        row.reason = why;
    } else {
        row.status = "running";
        row.run_id = run_id;
    }
    if (cairn_store_write(J.store, run_insert_unit, &row))
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "retraining decision not recorded: %s",
                  cairn_error_last()->msg);
    pthread_mutex_lock(&J.mu);
    if (skip) J.skipped++;
    else if (!rc) J.started++;
    pthread_mutex_unlock(&J.mu);
    if (skip || rc) {
        cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVE, "retraining for alert %s not started: %s",
                  j->alert_id, row.reason);
        return;
    }
    char v_id[64], v_rule[300], v_dep[300], v_uri[300], v_curi[300], v_run[100];
    snprintf(v_id, sizeof(v_id), "CAIRN_ALERT_ID=%s", j->alert_id);
    snprintf(v_rule, sizeof(v_rule), "CAIRN_ALERT_RULE=%s", j->rule->name);
    snprintf(v_dep, sizeof(v_dep), "CAIRN_DEPLOYMENT=%s", j->deployment);
    snprintf(v_uri, sizeof(v_uri), "MLFLOW_TRACKING_URI=%s", base);
    snprintf(v_curi, sizeof(v_curi), "CAIRN_TRACKING_URI=%s", base);
    snprintf(v_run, sizeof(v_run), "MLFLOW_RUN_ID=%s", run_id);
    char *extra[] = {v_id, v_rule, v_dep, v_uri, v_curi, v_run};
    char **env = child_env(extra, 6);
    cairn_buf tail = CAIRN_BUF_INIT(0);
    int exit_code = -1;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_SERVE, "retraining for alert %s: run %s starts %s",
              j->alert_id, run_id, j->rule->retrain_argv[0]);
    rc = run_command(j->rule->retrain_argv, env, &tail, &exit_code);
    cairn_free(env);
    if (rc) {
        snprintf(why, sizeof(why), "%s", cairn_error_last()->msg);
        tail_put(&tail, why, strlen(why));
        exit_code = 127;
    }
    row.finished = cairn_time_ms();
    finish_run(base, run_id, exit_code, cairn_buf_cstr(&tail), row.finished);
    row.status = exit_code == 0 ? "finished" : "failed";
    row.has_exit = 1;
    row.exit_code = exit_code;
    row.reason = rc ? why : NULL;
    if (cairn_store_write(J.store, run_finish_unit, &row))
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_SERVE, "retraining result not recorded: %s",
                  cairn_error_last()->msg);
    cairn_buf_free(&tail);
}

static void *retrain_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&J.mu);
    while (!J.stop) {
        retrain *j = J.jobs;
        if (!j) {
            pthread_cond_wait(&J.cv, &J.mu);
            continue;
        }
        J.jobs = j->next;
        if (!J.jobs) J.jobs_tail = &J.jobs;
        pthread_mutex_unlock(&J.mu);
        retrain_one(j);
        cairn_free(j->deployment);
        cairn_free(j);
        pthread_mutex_lock(&J.mu);
    }
    pthread_mutex_unlock(&J.mu);
    return NULL;
}

/* ---- lifecycle ---- */

int cairn_serve__alerts_jobs_start(cairn_store *store)
{
    cairn_serve__alerts_jobs_stop();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_lock(&J.mu);
    J.store = store;
    J.stop = 0;
    J.jobs = NULL;
    J.jobs_tail = &J.jobs;
    J.hooks = NULL;
    int rc = 0;
    if (pthread_create(&J.hook_thread, NULL, hook_main, NULL)) rc = -1;
    else if (pthread_create(&J.retrain_thread, NULL, retrain_main, NULL)) {
        J.stop = 1;
        pthread_cond_broadcast(&J.cv);
        pthread_mutex_unlock(&J.mu);
        pthread_join(J.hook_thread, NULL);
        pthread_mutex_lock(&J.mu);
        rc = -1;
    }
    if (!rc) J.running = 1;
    pthread_mutex_unlock(&J.mu);
    if (rc) {
        curl_global_cleanup();
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_SERVE, "cannot start the alert threads");
    }
    return 0;
}

void cairn_serve__alerts_jobs_set_server(cairn_http_server *srv, const char *host)
{
    pthread_mutex_lock(&J.mu);
    J.srv = srv;
    snprintf(J.host, sizeof(J.host), "%s", host ? host : "");
    pthread_mutex_unlock(&J.mu);
}

void cairn_serve__alerts_jobs_stop(void)
{
    pthread_mutex_lock(&J.mu);
    if (!J.running) {
        pthread_mutex_unlock(&J.mu);
        return;
    }
    J.stop = 1;
    pthread_cond_broadcast(&J.cv);
    pthread_mutex_unlock(&J.mu);
    pthread_join(J.hook_thread, NULL);
    pthread_join(J.retrain_thread, NULL);
    pthread_mutex_lock(&J.mu);
    while (J.hooks) {
        delivery *d = J.hooks;
        J.hooks = d->next;
        delivery_free(d);
    }
    while (J.jobs) {
        retrain *j = J.jobs;
        J.jobs = j->next;
        cairn_free(j->deployment);
        cairn_free(j);
    }
    J.jobs_tail = &J.jobs;
    J.running = 0;
    J.srv = NULL;
    pthread_mutex_unlock(&J.mu);
    curl_global_cleanup();
}

void cairn_serve__alerts_jobs_counts(uint64_t *delivered, uint64_t *dead, uint64_t *started,
                                     uint64_t *skipped)
{
    pthread_mutex_lock(&J.mu);
    *delivered = J.delivered;
    *dead = J.dead;
    *started = J.started;
    *skipped = J.skipped;
    pthread_mutex_unlock(&J.mu);
}
