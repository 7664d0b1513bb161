/*
 * track_artifacts.c - the mlflow-artifacts proxy (upload, download, list,
 * delete under /api/2.0/mlflow-artifacts/artifacts) and the tracking-side
 * artifact listing of a run (/api/2.0/mlflow/artifacts/list, /get-artifact).
 *
 * Key idea: file content lives in the content-addressed blob store and the
 * metadata store keeps a path index (artifacts: path -> sha256, size). A
 * directory is not stored; it is every path that starts with "dir/". Listing
 * a directory walks the index in path order with range queries
 * (`path >= 'dir/' AND path < 'dir0'`, '0' being the byte after '/'), and
 * skips a whole subdirectory with one seek once it has been seen, so a
 * listing costs one query per batch of files plus one per subdirectory,
 * never a scan of the table. Deleting removes index rows only: blobs may be
 * shared by other paths and are collected separately.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "track_internal.h"

#define PROXY "/api/2.0/mlflow-artifacts/artifacts"
#define AJAX_PROXY "/ajax-api/2.0/mlflow-artifacts/artifacts"
#define PATH_MAX_LEN 4096
#define LIST_BATCH 1000
#define SCHEME "mlflow-artifacts:"

/* ================= paths ================= */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int bad_path(const char *path)
{
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "Invalid path: %.300s", path);
}

/* Checks one form of a path: no absolute path, drive letter, backslash,
 * control character, '#', empty, "." or ".." segment. */
static int check_form(const char *p, size_t n)
{
    if (n == 0) return 0;
    if (p[0] == '/' || (n >= 2 && p[1] == ':')) return -1;
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)p[i] : '/';
        if (c == '\\' || c < 0x20 || c == 0x7f || c == '#') return -1;
        if (c != '/') continue;
        size_t len = i - seg;
        if (len == 0 || (len == 1 && p[seg] == '.') ||
            (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
            return -1;
        seg = i + 1;
    }
    return 0;
}

/* Validates an artifact path (already URL-decoded once by the HTTP layer) as
 * MLflow's validate_path_is_safe does, also after up to three further rounds
 * of percent-decoding, so "%2e%2e" or "%252e%252e" cannot smuggle in a
 * traversal. Empty is allowed only when allow_empty. */
static int check_path(const char *path, int allow_empty)
{
    size_t n = strlen(path);
    if (n == 0) return allow_empty ? 0 : bad_path(path);
    if (n > PATH_MAX_LEN) return bad_path(path);
    char *cur = cairn_strndup(path, n), *next = cairn_malloc(n + 1);
    int rc = 0;
    for (int round = 0; round < 4 && rc == 0; round++) {
        size_t len = strlen(cur), k = 0;
        if (check_form(cur, len)) {
            rc = bad_path(path);
            break;
        }
        int changed = 0;
        for (size_t i = 0; i < len; i++) {
            int hi, lo;
            if (cur[i] == '%' && i + 2 < len && (hi = hexval(cur[i + 1])) >= 0 &&
                (lo = hexval(cur[i + 2])) >= 0) {
                char c = (char)(hi * 16 + lo);
                if (c == '\0') {
                    rc = bad_path(path);
                    break;
                }
                next[k++] = c;
                i += 2;
                changed = 1;
            } else {
                next[k++] = cur[i];
            }
        }
        next[k] = '\0';
        if (!changed) break;
        char *tmp = cur;
        cur = next;
        next = tmp;
    }
    cairn_free(cur);
    cairn_free(next);
    return rc;
}

/* Index path of a run-relative artifact: the run's artifact_uri must be
 * mlflow-artifacts:[//authority]/X; writes "X[/sub]" to out. Returns 0, or
 * CAIRN_EUNSUPPORTED for other schemes (not stored here). */
static int root_of(const char *uri, const char *sub, cairn_buf *out)
{
    if (strncmp(uri, SCHEME, strlen(SCHEME)) != 0)
        return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_TRACK,
                               "artifact uri '%.300s' is not served by this server", uri);
    const char *p = uri + strlen(SCHEME);
    if (p[0] == '/' && p[1] == '/') {
        p = strchr(p + 2, '/');
        if (!p) p = "";
    }
    while (*p == '/')
        p++;
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    cairn_buf_put(out, p, n);
    if (sub && *sub) {
        if (out->len) cairn_buf_putc(out, '/');
        cairn_buf_puts(out, sub);
    }
    return 0;
}

/* Strips trailing slashes of a listing path in place. */
static char *trim_dir(cairn_http_req *req, const char *path)
{
    char *p = cairn_http_req_strdup(req, path ? path : "");
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".json", "application/json"},
        {".txt", "text/plain"},
        {".log", "text/plain"},
        {".md", "text/plain"},
        {".yaml", "text/plain"},
        {".yml", "text/plain"},
        {".csv", "text/csv"},
        {".tsv", "text/tab-separated-values"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".pdf", "application/pdf"},
        /* active content is served as text so it cannot run in the UI's origin */
        {".html", "text/plain"},
        {".htm", "text/plain"},
        {".svg", "text/plain"},
        {".js", "text/plain"},
        {".py", "text/plain"},
    };
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strcmp(base, "MLmodel") || !strcmp(base, "MLproject")) return "text/plain";
    const char *dot = strrchr(base, '.');
    if (dot)
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(types); i++)
            if (!strcasecmp(dot, types[i].ext)) return types[i].type;
    return "application/octet-stream";
}

/* ================= listing ================= */

struct lister {
    const char *dir;   /* "" or "a/b" (no trailing slash) */
    size_t dlen;       /* bytes of "dir/" prefix to strip (0 for the root) */
    const char *shown; /* prefix of the reported paths ("" or "sub/") */
    json_t *files;
    cairn_buf next_lo; /* where the next query starts */
    int skip_equal;    /* the row equal to next_lo was already seen */
    int rows;
    int restart; /* stopped early to skip a subdirectory */
};

static void add_entry(struct lister *l, const char *name, size_t n, int is_dir, int64_t size)
{
    json_t *f = json_object();
    char *p = cairn_malloc(strlen(l->shown) + n + 1);
    memcpy(p, l->shown, strlen(l->shown));
    memcpy(p + strlen(l->shown), name, n);
    p[strlen(l->shown) + n] = '\0';
    json_object_set_new(f, "path", json_string(p));
    json_object_set_new(f, "is_dir", json_boolean(is_dir));
    if (!is_dir) json_object_set_new(f, "file_size", json_integer(size));
    json_array_append_new(l->files, f);
    cairn_free(p);
}

static int list_row(const cairn_value *c, int n, void *payload)
{
    struct lister *l = payload;
    (void)n;
    if (c[0].type != CAIRN_V_TEXT) return 0;
    const char *path = c[0].u.s.ptr;
    size_t len = c[0].u.s.len;
    l->rows++;
    if (l->skip_equal && len == l->next_lo.len && !memcmp(path, l->next_lo.ptr, len)) return 0;
    if (len <= l->dlen) return 0;
    const char *rel = path + l->dlen;
    size_t rlen = len - l->dlen;
    const char *slash = memchr(rel, '/', rlen);
    cairn_buf_reset(&l->next_lo);
    if (!slash) {
        add_entry(l, rel, rlen, 0, c[1].type == CAIRN_V_INT ? c[1].u.i : 0);
        cairn_buf_put(&l->next_lo, path, len);
        l->skip_equal = 1;
        return 0;
    }
    /* a subdirectory: report it once, then seek past "dir/sub/" to "dir/sub0" */
    size_t dn = (size_t)(slash - rel);
    add_entry(l, rel, dn, 1, 0);
    cairn_buf_put(&l->next_lo, path, l->dlen + dn);
    cairn_buf_putc(&l->next_lo, '/' + 1);
    l->skip_equal = 0;
    l->restart = 1;
    return 1;
}

/* Lists the immediate children of `dir` into a new JSON array *out, each
 * path prefixed with `shown`. */
static int list_dir(cairn_store *store, const char *dir, const char *shown, json_t **out)
{
    struct lister l = {dir, 0, shown, json_array(), CAIRN_BUF_INIT(0), 0, 0, 0};
    cairn_buf hi = CAIRN_BUF_INIT(0);
    int rc = 0;
    if (*dir) {
        l.dlen = strlen(dir) + 1;
        cairn_buf_printf(&l.next_lo, "%s/", dir);
        cairn_buf_printf(&hi, "%s%c", dir, '/' + 1);
    } else {
        cairn_buf_puts(&l.next_lo, "");
    }
    for (;;) {
        char *lo = cairn_strndup(cairn_buf_cstr(&l.next_lo), l.next_lo.len);
        cairn_value p[] = {CAIRN_VTEXT(lo), CAIRN_VTEXT(cairn_buf_cstr(&hi)),
                           CAIRN_VINT(LIST_BATCH)};
        l.rows = 0;
        l.restart = 0;
        if (*dir)
            rc = cairn_store_query(store,
                                   "SELECT path, size FROM artifacts WHERE path >= ? AND path < ? "
                                   "ORDER BY path LIMIT ?",
                                   p, 3, list_row, &l);
        else
            rc = cairn_store_query(store,
                                   "SELECT path, size FROM artifacts WHERE path >= ? ORDER BY path "
                                   "LIMIT ?",
                                   (cairn_value[]){p[0], p[2]}, 2, list_row, &l);
        cairn_free(lo);
        if (rc < 0) break;
        rc = 0;
        if (!l.restart && l.rows < LIST_BATCH) break;
    }
    cairn_buf_free(&l.next_lo);
    cairn_buf_free(&hi);
    if (rc < 0) {
        json_decref(l.files);
        return rc;
    }
    *out = l.files;
    return 0;
}

/* ================= proxy handlers ================= */

struct upload {
    const char *path;
    char sha[65];
    uint64_t size;
};

static int upload_unit(cairn_store_tx *tx, void *payload)
{
    struct upload *u = payload;
    cairn_value p[] = {CAIRN_VTEXT(u->path), CAIRN_VTEXT(u->sha), CAIRN_VINT((int64_t)u->size),
                       CAIRN_VINT(cairn_time_ms())};
    int rc =
        cairn_tx_exec(tx,
                      "INSERT INTO artifacts (path, sha256, size, created) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, size = "
                      "excluded.size, created = excluded.created",
                      p, 4, NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* PUT <path>: the body (spooled to a temp file by the HTTP layer) is hashed
 * into the blob store on this thread, then the index row is upserted by a
 * group-committed unit and the client answered after commit. */
static int h_upload(cairn_http_req *req, cairn_track *c)
{
    const char *path = cairn_http_req_rest(req);
    int rc = check_path(path, 0);
    if (rc) {
        cairn_api__fail(req, rc);
        return 0;
    }
    struct upload *u = cairn_http_req_alloc(req, sizeof(*u));
    u->path = cairn_http_req_strdup(req, path);
    size_t len = 0;
    int fd = cairn_http_req_body_fd(req, &len);
    if (fd >= 0) {
        rc = cairn_blob_put_fd(c->blob, fd, u->sha, &u->size);
    } else {
        const char *body = cairn_http_req_body(req, &len);
        rc = cairn_blob_put(c->blob, body, len, u->sha);
        u->size = len;
    }
    if (rc) {
        cairn_api__fail(req, rc);
        return 0;
    }
    cairn_api__submit(c->store, req, upload_unit, u, NULL);
    return 0;
}

struct blob_ref {
    char sha[65];
    int found;
};

static int blob_row(const cairn_value *c, int n, void *payload)
{
    struct blob_ref *b = payload;
    (void)n;
    if (c[0].type == CAIRN_V_TEXT && c[0].u.s.len == 64) {
        memcpy(b->sha, c[0].u.s.ptr, 64);
        b->sha[64] = '\0';
        b->found = 1;
    }
    return 0;
}

/* Streams the file at index path `path`; 404 if there is none. */
static void send_file(cairn_http_req *req, cairn_track *c, const char *path)
{
    struct blob_ref b = {{0}, 0};
    cairn_value p = CAIRN_VTEXT(path);
    int rc = cairn_store_query(c->store, "SELECT sha256 FROM artifacts WHERE path = ?", &p, 1,
                               blob_row, &b);
    if (rc < 0) {
        cairn_api__fail(req, rc);
        return;
    }
    if (!b.found) {
        cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "Artifact '%.300s' does not exist",
                        path);
        cairn_api__fail(req, CAIRN_ENOTFOUND);
        return;
    }
    int fd = -1;
    uint64_t size = 0;
    if ((rc = cairn_blob_open_read(c->blob, b.sha, &fd, &size))) {
        cairn_api__fail(req, rc);
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char disp[600];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%.500s\"", base);
    for (char *q = disp + 22; *q; q++)
        if (*q == '"' && q[1] != '\0') *q = '_';
    cairn_http_set_header(req, "Content-Disposition", disp);
    cairn_http_set_header(req, "X-Content-Type-Options", "nosniff");
    cairn_http_respond_fd(req, 200, content_type(path), fd, size);
}

static void respond_files(cairn_http_req *req, json_t *files, const char *root_uri)
{
    json_t *r = json_object();
    if (root_uri) json_object_set_new(r, "root_uri", json_string(root_uri));
    json_object_set_new(r, "files", files);
    cairn_api__ok(req, r);
}

/* GET ...artifacts?path=<dir>: immediate children, by basename. */
static int proxy_list(cairn_http_req *req, cairn_track *c)
{
    const char *q = cairn_http_req_query(req, "path");
    char *dir = trim_dir(req, q);
    json_t *files = NULL;
    int rc = check_path(dir, 1);
    if (!rc) rc = list_dir(c->store, dir, "", &files);
    if (rc) {
        cairn_api__fail(req, rc);
        return 0;
    }
    respond_files(req, files, NULL);
    return 0;
}

struct del {
    const char *path, *lo, *hi;
};

static int delete_unit(cairn_store_tx *tx, void *payload)
{
    struct del *d = payload;
    cairn_value p[] = {CAIRN_VTEXT(d->path), CAIRN_VTEXT(d->lo), CAIRN_VTEXT(d->hi)};
    int rc = cairn_tx_exec(tx, "DELETE FROM artifacts WHERE path = ? OR (path >= ? AND path < ?)",
                           p, 3, NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* DELETE <path>: the file, or everything under the directory. Blobs stay. */
static int h_delete(cairn_http_req *req, cairn_track *c)
{
    char *path = trim_dir(req, cairn_http_req_rest(req));
    int rc = check_path(path, 0);
    if (rc) {
        cairn_api__fail(req, rc);
        return 0;
    }
    struct del *d = cairn_http_req_alloc(req, sizeof(*d));
    size_t n = strlen(path);
    char *lo = cairn_http_req_alloc(req, n + 2), *hi = cairn_http_req_alloc(req, n + 2);
    memcpy(lo, path, n);
    memcpy(hi, path, n);
    lo[n] = '/';
    hi[n] = '/' + 1;
    lo[n + 1] = hi[n + 1] = '\0';
    d->path = path;
    d->lo = lo;
    d->hi = hi;
    cairn_api__submit(c->store, req, delete_unit, d, NULL);
    return 0;
}

static int h_proxy(cairn_http_req *req, void *payload)
{
    cairn_track *c = payload;
    switch (cairn_http_req_method(req)) {
    case CAIRN_HTTP_PUT:
        return h_upload(req, c);
    case CAIRN_HTTP_DELETE:
        return h_delete(req, c);
    default:
        break;
    }
    const char *path = cairn_http_req_rest(req);
    if (!*path) return proxy_list(req, c);
    int rc = check_path(path, 0);
    if (rc) {
        cairn_api__fail(req, rc);
        return 0;
    }
    send_file(req, c, path);
    return 0;
}

static int h_proxy_list(cairn_http_req *req, void *payload)
{
    return proxy_list(req, payload);
}

/* ================= run-scoped routes ================= */

struct run_uri {
    char *uri;
};

static int uri_row(const cairn_value *c, int n, void *payload)
{
    struct run_uri *r = payload;
    (void)n;
    if (c[0].type == CAIRN_V_TEXT && !r->uri) r->uri = cairn_strndup(c[0].u.s.ptr, c[0].u.s.len);
    return 0;
}

/* The run's artifact_uri (cairn_malloc'd) for the request's run_id/run_uuid. */
static int run_artifact_uri(cairn_http_req *req, cairn_track *c, char **out)
{
    const char *id = cairn_http_req_query(req, "run_id");
    if (!id || !*id) id = cairn_http_req_query(req, "run_uuid");
    if (!id || !*id)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "Missing value for required parameter 'run_id'");
    struct run_uri r = {NULL};
    cairn_value p = CAIRN_VTEXT(id);
    int rc = cairn_store_query(c->store, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", &p,
                               1, uri_row, &r);
    if (rc < 0) return rc;
    if (!r.uri)
        return cairn_error_set(CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK, "Run with id=%.64s not found",
                               id);
    *out = r.uri;
    return 0;
}

/* GET /api/2.0/mlflow/artifacts/list?run_id=&path=: children of the run's
 * artifact directory (or of path inside it), paths relative to the root. */
static int h_run_list(cairn_http_req *req, void *payload)
{
    cairn_track *c = payload;
    char *uri = NULL;
    char *sub = trim_dir(req, cairn_http_req_query(req, "path"));
    cairn_buf dir = CAIRN_BUF_INIT(0), shown = CAIRN_BUF_INIT(0);
    json_t *files = NULL;
    int rc = check_path(sub, 1);
    if (!rc) rc = run_artifact_uri(req, c, &uri);
    if (!rc) {
        rc = root_of(uri, sub, &dir);
        if (rc == CAIRN_EUNSUPPORTED) { /* stored elsewhere: nothing to list here */
            rc = 0;
            files = json_array();
        } else if (!rc) {
            if (*sub) cairn_buf_printf(&shown, "%s/", sub);
            rc = list_dir(c->store, cairn_buf_cstr(&dir), cairn_buf_cstr(&shown), &files);
        }
    }
    if (rc)
        cairn_api__fail(req, rc);
    else
        respond_files(req, files, uri);
    cairn_free(uri);
    cairn_buf_free(&dir);
    cairn_buf_free(&shown);
    return 0;
}

/* GET /get-artifact?run_id=&path=: the UI's download of one run artifact. */
static int h_get_artifact(cairn_http_req *req, void *payload)
{
    cairn_track *c = payload;
    char *uri = NULL;
    const char *sub = cairn_http_req_query(req, "path");
    cairn_buf full = CAIRN_BUF_INIT(0);
    int rc = sub && *sub ? check_path(sub, 0)
                         : cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                                           "Missing value for required parameter 'path'");
    if (!rc) rc = run_artifact_uri(req, c, &uri);
    if (!rc) rc = root_of(uri, sub, &full);
    if (rc)
        cairn_api__fail(req, rc);
    else
        send_file(req, c, cairn_buf_cstr(&full));
    cairn_free(uri);
    cairn_buf_free(&full);
    return 0;
}

/* ================= mount ================= */

int cairn_track_artifacts_mount(cairn_track *t, cairn_blob *blob, cairn_http_server *srv,
                                size_t upload_limit)
{
    if (!t || !blob || !srv)
        return cairn_error_set(
            CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
            "artifact routes need a tracking service, a blob store and a server");
    cairn_track *c = t;
    c->blob = blob; /* the routes reach the blob store through the tracking service */

    static const char *const bases[] = {PROXY, AJAX_PROXY};
    int rc = 0;
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bases) && !rc; i++) {
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "%s/", bases[i]);
        rc = cairn_http_route(srv, CAIRN_HTTP_PUT, prefix,
                              CAIRN_HTTP_ROUTE_PREFIX | CAIRN_HTTP_ROUTE_BODY_FILE, upload_limit,
                              h_proxy, c);
        if (!rc)
            rc = cairn_http_route(srv, CAIRN_HTTP_GET | CAIRN_HTTP_DELETE, prefix,
                                  CAIRN_HTTP_ROUTE_PREFIX, 0, h_proxy, c);
        if (!rc) rc = cairn_http_route(srv, CAIRN_HTTP_GET, bases[i], 0, 0, h_proxy_list, c);
    }
    if (!rc) rc = cairn_api__route(srv, CAIRN_HTTP_GET, "/artifacts/list", h_run_list, c);
    if (!rc) rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/get-artifact", 0, 0, h_get_artifact, c);
    return rc;
}
