/*
 * http_client.c - a small blocking HTTP client on libcurl's easy interface,
 * for the CLI and tests.
 *
 * Each thread keeps one easy handle (reset between requests) so successive
 * requests reuse the connection. Responses land in the caller's bounded
 * cairn_buf; transport failures become CAIRN_EIO with a readable message.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "http_internal.h"

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 60000L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static CURLcode global_rc = CURLE_OK;

static void drop_handle(void *h)
{
    curl_easy_cleanup(h);
}

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (global_rc == CURLE_OK && pthread_key_create(&handle_key, drop_handle) != 0)
        global_rc = CURLE_FAILED_INIT;
}

/* The calling thread's handle, reset to defaults; NULL if curl is unusable. */
static CURL *thread_handle(void)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) return NULL;
    CURL *h = pthread_getspecific(handle_key);
    if (h) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h && pthread_setspecific(handle_key, h) != 0) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

struct sink {
    cairn_buf *buf;
    bool overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (!s->buf) return n;
    if (cairn_buf_put(s->buf, ptr, n) < 0) {
        s->overflow = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

static int transport_error(CURL *h, CURLcode rc, const char *url, const char *errbuf)
{
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "cannot connect to %s: %s", url,
                               os_errno ? strerror((int)os_errno) : "connection failed");
    case CURLE_COULDNT_RESOLVE_HOST:
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "cannot resolve the host of %s", url);
    case CURLE_OPERATION_TIMEDOUT:
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "request to %s timed out", url);
    default:
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_HTTP, "request to %s failed: %s", url,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
}

int cairn_http_fetch_ex(const char *method, const char *url, const char *const *req_headers,
                        const char *content_type, const void *body, size_t len, int *status,
                        cairn_buf *resp, cairn_buf *resp_headers)
{
    if (!method || !url || !status)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_HTTP, "fetch needs a method and a url");
    *status = 0;
    CURL *h = thread_handle();
    if (!h) return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_HTTP, "libcurl is not usable");

    int rc = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    cairn_buf ct = CAIRN_BUF_INIT(0);
    struct sink body_sink = {resp, false}, head_sink = {resp_headers, false};

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body_sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &head_sink);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (content_type) {
        cairn_buf_printf(&ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct.ptr);
    }
    for (const char *const *p = req_headers; p && *p; p++)
        hdrs = curl_slist_append(hdrs, *p);
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
    } else if (body_sink.overflow || head_sink.overflow) {
        rc =
            cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_HTTP, "response from %s is too large", url);
    } else {
        rc = transport_error(h, cc, url, errbuf);
    }
    /* the handle outlives this call: detach everything on our stack */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    cairn_buf_free(&ct);
    return rc;
}

int cairn_http_fetch(const char *method, const char *url, const char *content_type,
                     const void *body, size_t len, int *status, cairn_buf *resp)
{
    return cairn_http_fetch_ex(method, url, NULL, content_type, body, len, status, resp, NULL);
}
