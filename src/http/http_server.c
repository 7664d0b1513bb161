/*
 * http_server.c - the libmicrohttpd daemon: lifecycle, the access handler
 * that reads bodies and runs routes, and shutdown.
 *
 * MHD runs an epoll loop per worker thread (MHD_OPTION_THREAD_POOL_SIZE);
 * each connection stays on one worker. The access handler is called once
 * with the headers (route lookup, limits), once per body piece (appended to
 * a bounded buffer or a temp file), and once at the end, where the handler
 * runs. Errors found early (404, 405, 413) are answered at that last call
 * when the body is small enough to drain, so keep-alive survives them.
 * Deferred answers arrive through http_response.c's state machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

#define CONNECTION_LIMIT 4096
#define LISTEN_BACKLOG 1024
#define CONNECTION_MEMORY (64 * 1024)

/* ---- body handling ---- */

/* Opens an unlinked temp file in dir. Returns the fd or -1 (errno set). */
static int open_spool(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    /* filesystems without O_TMPFILE: create, then unlink at once */
    cairn_buf path = CAIRN_BUF_INIT(4096);
    if (cairn_buf_printf(&path, "%s/cairn-body-XXXXXX", dir) < 0) return -1;
    fd = mkostemp(path.ptr, O_CLOEXEC);
    if (fd >= 0) unlink(path.ptr);
    cairn_buf_free(&path);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void reject(struct cairn_http_req *req, int status, const char *code, const char *msg)
{
    req->err_status = status;
    req->err_code = code;
    req->err_msg = msg;
    req->route = NULL;
}

/* Appends one piece of the body. On overflow the request turns into a 413
 * and the rest is drained. Returns false when the connection must close. */
static bool take_body(struct cairn_http_req *req, const char *data, size_t n)
{
    if (req->err_status) {
        req->discarded += n;
        return req->discarded <= CAIRN_HTTP_DRAIN_MAX;
    }
    if (n > req->body_limit - req->body_len) {
        cairn_buf_free(&req->body);
        reject(req, 413, "REQUEST_LIMIT_EXCEEDED", "request body is too large");
        req->discarded = n;
        return req->discarded <= CAIRN_HTTP_DRAIN_MAX;
    }
    if (req->body_fd >= 0) {
        if (write_all(req->body_fd, data, n) < 0) {
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_HTTP, "cannot spool request body: %s",
                      strerror(errno));
            reject(req, 500, "INTERNAL_ERROR", "cannot store the request body");
            return true;
        }
    } else if (cairn_buf_put(&req->body, data, n) < 0) {
        reject(req, 413, "REQUEST_LIMIT_EXCEEDED", "request body is too large");
        return true;
    }
    req->body_len += n;
    return true;
}

/* ---- the access handler ---- */

/* First call: route and limits. Returns false to answer at once (closing the
 * connection when a body was announced). */
static bool begin_request(cairn_http_server *srv, struct cairn_http_req *req)
{
    /* count first, then check: pairs with server_free's store-then-load */
    atomic_fetch_add(&srv->pending, 1);
    req->pending = true;
    if (atomic_load(&srv->stopping)) {
        reject(req, 503, "TEMPORARILY_UNAVAILABLE", "server is shutting down");
        return true;
    }
    unsigned allow = 0;
    const struct cairn_http_route *rt =
        cairn_http__router_match(&srv->router, req->path, req->method, &allow);
    if (!rt) {
        if (allow) {
            reject(req, 405, "METHOD_NOT_ALLOWED", "method not allowed for this endpoint");
            req->err_allow = allow;
        } else {
            reject(req, 404, "ENDPOINT_NOT_FOUND", "no endpoint for this path");
        }
    } else {
        req->route = rt;
        req->rest = req->path + rt->len;
        req->body_limit = rt->body_limit ? rt->body_limit : srv->opts.body_limit;
        req->body.max = req->body_limit;
    }

    size_t announced = 0;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    int64_t v;
    if (cl && cairn_parse_i64(cl, &v) == 0 && v > 0) announced = (size_t)v;
    if (req->route && announced > req->body_limit)
        reject(req, 413, "REQUEST_LIMIT_EXCEEDED", "request body is too large");
    if (!req->err_status && (req->route->flags & CAIRN_HTTP_ROUTE_BODY_FILE)) {
        req->body_fd = open_spool(srv->tmpdir);
        if (req->body_fd < 0) {
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SUBSYS_HTTP, "cannot create a body spool in %s: %s",
                      srv->tmpdir, strerror(errno));
            reject(req, 500, "INTERNAL_ERROR", "cannot store the request body");
        }
    }
    if (!req->err_status) return true;
    /* a rejected body: answer now if the client waits for 100-continue or
     * the body is too big to drain, otherwise read and drop it */
    const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Expect");
    if (announced > CAIRN_HTTP_DRAIN_MAX || (announced && expect)) return false;
    return true;
}

static enum MHD_Result run_handler(struct cairn_http_req *req)
{
    req->handled = true;
    if (req->err_status) {
        cairn_http__respond_early(req);
        return cairn_http__queue(req);
    }
    if (req->body_fd >= 0 && lseek(req->body_fd, 0, SEEK_SET) < 0) {
        reject(req, 500, "INTERNAL_ERROR", "cannot rewind the request body");
        cairn_http__respond_early(req);
        return cairn_http__queue(req);
    }
    cairn_error_clear();
    int rc = req->route->handler(req, req->route->payload);
    return cairn_http__after_handler(req, rc);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    cairn_http_server *srv = cls;
    struct cairn_http_req *req = *con_cls;
    if (!req) {
        req = cairn_http__req_new(srv, conn, url, method);
        *con_cls = req;
        if (!begin_request(srv, req)) {
            req->handled = true;
            cairn_http__respond_early(req);
            return cairn_http__queue(req);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return take_body(req, upload_data, n) ? MHD_YES : MHD_NO;
    }
    if (!req->handled) return run_handler(req);
    /* resumed after a deferred answer */
    if (atomic_load(&req->state) == REQ_S_READY) return cairn_http__queue(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    cairn_http_server *srv = cls;
    struct cairn_http_req *req = *con_cls;
    if (!req) return;
    if (req->pending) atomic_fetch_sub(&srv->pending, 1);
    cairn_http__req_free(req);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    int one = 1;
    /* benign if it fails: only latency suffers */
    (void)setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (CAIRN_LOG_WARN < cairn_log_get_level()) return;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_HTTP, "microhttpd: %s", line);
}

/* ---- lifecycle ---- */

int cairn_http_server_new(cairn_http_server **out, const cairn_http_opts *opts)
{
    *out = NULL;
    cairn_http_opts o = CAIRN_HTTP_OPTS_INIT;
    if (opts) {
        if (opts->version != CAIRN_HTTP_OPTS_VERSION)
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP,
                                   "unsupported http options version %d", opts->version);
        o = *opts;
    }
    if (o.port < 0 || o.port > 65535)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP, "invalid port %d", o.port);
    if (o.threads <= 0) o.threads = cairn_ncpu();
    if (o.body_limit == 0) o.body_limit = CAIRN_HTTP_DEFAULT_BODY_LIMIT;
    if (o.timeout_s <= 0) o.timeout_s = 60;
    cairn_http_server *srv = cairn_calloc(1, sizeof(*srv));
    srv->host = cairn_strdup(o.host ? o.host : "127.0.0.1");
    o.host = srv->host;
    srv->opts = o;
    /* read once at startup: where BODY_FILE routes spool uploads */
    const char *tmp = getenv("TMPDIR");
    srv->tmpdir = cairn_strdup(tmp && tmp[0] ? tmp : "/tmp");
    cairn_http__router_init(&srv->router);
    *out = srv;
    return 0;
}

int cairn_http_route(cairn_http_server *srv, unsigned methods, const char *pattern, unsigned flags,
                     size_t body_limit, cairn_http_handler handler, void *payload)
{
    return cairn_http__router_add(&srv->router, methods, pattern, flags, body_limit, handler,
                                  payload);
}

/* Resolves host:port into *ss. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res)
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "cannot resolve %s: %s", host,
                               gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int cairn_http_server_start(cairn_http_server *srv)
{
    if (srv->daemon)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP, "server already started");
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = resolve(srv->host, srv->opts.port, &ss, &sslen);
    if (rc < 0) return rc;
    cairn_http__router_freeze(&srv->router);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->opts.timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv},
        {srv->opts.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->opts.threads,
         NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                                   /* the logger first, as MHD asks */
                                   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_ARRAY,
                                   ops, MHD_OPTION_END);
    if (!srv->daemon)
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "cannot listen on %s:%d", srv->host,
                               srv->opts.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? (int)di->port : srv->opts.port;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SUBSYS_HTTP, "listening|host=%s port=%d threads=%d", srv->host,
              srv->port, srv->opts.threads);
    return 0;
}

int cairn_http_server_port(const cairn_http_server *srv)
{
    return srv->port;
}

uint64_t cairn_http_server_responses(const cairn_http_server *srv, int status)
{
    if (status < 100 || status > 599) return 0;
    return atomic_load(&srv->counts[status - 100]);
}

/* Waits until no request can still be (or become) suspended: MHD panics if
 * stopped with a suspended connection, and the deferred answers are owed by
 * the application, which must produce them. */
static void wait_pending(cairn_http_server *srv)
{
    int64_t start = cairn_monotonic_ns(), warned = start;
    struct timespec ts = {0, 1000000};
    while (atomic_load(&srv->pending) > 0) {
        nanosleep(&ts, NULL);
        int64_t now = cairn_monotonic_ns();
        if (now - warned > 5000000000LL) {
            warned = now;
            cairn_log(CAIRN_LOG_WARN, CAIRN_SUBSYS_HTTP,
                      "waiting for deferred requests before stopping|pending=%ld",
                      (long)atomic_load(&srv->pending));
        }
    }
}

void cairn_http_server_free(cairn_http_server *srv)
{
    if (!srv) return;
    if (srv->daemon) {
        atomic_store(&srv->stopping, 1);
        MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
        if (lfd != MHD_INVALID_SOCKET) close(lfd);
        wait_pending(srv);
        MHD_stop_daemon(srv->daemon);
    }
    cairn_http__router_free(&srv->router);
    cairn_free(srv->tmpdir);
    cairn_free(srv->host);
    cairn_free(srv);
}
