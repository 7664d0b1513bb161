/*
 * ui.c - serves the embedded web UI: GET / is ui/index.html, GET /ui/<path>
 * any other file under ui/. The UI is a single page talking to the
 * server's own APIs (MLflow REST, OIP, deployments, monitoring, pipelines,
 * /metrics), so nothing here knows its pages.
 *
 * Key idea: the files are compiled into the binary (ui_assets.c is
 * generated from ui/ by cmake/EmbedAssets.cmake), so a page load fetches
 * nothing from outside the server, and a build's assets never mix with
 * another's: ETags are the build's version plus the file's length and a
 * hash of its bytes.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/ui.h"
#include "ui_assets.h"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},       {".svg", "image/svg+xml"},
        {".json", "application/json"},             {".png", "image/png"},
        {".ico", "image/x-icon"},                  {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < CAIRN_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

static const cairn_ui_asset *find(const char *path)
{
    for (const cairn_ui_asset *a = cairn_ui_assets; a->path; a++)
        if (strcmp(a->path, path) == 0) return a;
    return NULL;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int serve(cairn_http_req *req, const char *path)
{
    const cairn_ui_asset *a = find(path);
    if (!a) {
        cairn_http_respond(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
        return 0;
    }
    char etag[80];
    snprintf(etag, sizeof(etag), "\"%s-%zx-%llx\"", CAIRN_VERSION, a->len,
             (unsigned long long)fnv(a->data, a->len));
    cairn_http_set_header(req, "ETag", etag);
    cairn_http_set_header(req, "Cache-Control", "no-cache");
    cairn_http_set_header(req, "X-Content-Type-Options", "nosniff");
    const char *inm = cairn_http_req_header(req, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
        cairn_http_respond(req, 304, NULL, "", 0);
        return 0;
    }
    cairn_http_respond(req, 200, content_type(path), a->data, a->len);
    return 0;
}

static int h_index(cairn_http_req *req, void *payload)
{
    (void)payload;
    return serve(req, "index.html");
}

static int h_asset(cairn_http_req *req, void *payload)
{
    (void)payload;
    const char *rest = cairn_http_req_rest(req);
    if (strstr(rest, "..")) {
        cairn_http_respond(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
        return 0;
    }
    return serve(req, rest);
}

int cairn_ui_mount(cairn_http_server *srv)
{
    int rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/", 0, 0, h_index, NULL);
    if (!rc) rc = cairn_http_route(srv, CAIRN_HTTP_GET, "/ui/", CAIRN_HTTP_ROUTE_PREFIX, 0, h_asset, NULL);
    return rc;
}

size_t cairn_ui_asset_count(void)
{
    size_t n = 0;
    for (const cairn_ui_asset *a = cairn_ui_assets; a->path; a++)
        n++;
    return n;
}
