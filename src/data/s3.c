/*
 * s3.c - the S3 client (include/cairn/s3.h): one signed libcurl request at a
 * time per thread, with retries, and the operations built on it.
 *
 * Key idea: every operation is one or more calls of perform(), which owns
 * signing, transport, retry and error translation; the operations only say
 * what to send and where the response body goes (a bounded buffer or a file
 * descriptor written with pwrite, so a retry simply starts again at offset
 * 0). Each thread keeps its own curl easy handle so connections are reused.
 * Multipart uploads hand each part to a small thread pool; a part reads its
 * slice, hashes it and PUTs it, and the first failure stops the rest and
 * aborts the upload.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/core.h"
#include "cairn/s3.h"
#include "s3_internal.h"

#define MIB (1024ull * 1024ull)
#define DEFAULT_THRESHOLD (64 * MIB)
#define DEFAULT_PART_SIZE (16 * MIB)
#define MIN_PART_SIZE (5 * MIB)
#define MAX_PARTS 10000
#define MAX_KEY_LEN 1024
#define ERRBODY_MAX (64 * 1024)
#define LIST_PAGE_MAX (32 * MIB)
#define BACKOFF_CAP_MS 10000

struct cairn_s3 {
    char *base;      /* "http://host:port" (with the bucket in the host when virtual-hosted) */
    char *host;      /* Host header: authority of base */
    char *region;
    char *bucket;
    char *prefix;
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL if none */
    bool path_style;
    uint64_t threshold;
    uint64_t part_size;
    int parallel;
    int max_retries;
    int retry_base_ms;
    int connect_timeout_ms;
    int stall_timeout_s;
    int timeout_ms;
};

/* One request: what to send and where the answer goes. */
struct req {
    const char *method;
    const char *key; /* full key (with the client prefix); NULL for the bucket */
    s3_kv query[6];
    size_t nq;
    s3_kv hdr[3]; /* extra headers, signed */
    size_t nh;
    const char *body; /* memory body, or */
    int body_fd;      /* file body (-1: none), read from body_off */
    uint64_t body_off;
    uint64_t body_len;
    const char *payload_hash; /* hex SHA-256; NULL: of the empty body */
    cairn_buf *resp;          /* success body sink, or */
    int out_fd;               /* success body file (-1: none) */
    /* results */
    long status;
    char etag[72];
    uint64_t content_length;
    int64_t mtime_ms;
    /* transfer state */
    CURL *h;
    uint64_t sent;
    uint64_t written;
    bool sink_failed;
    int sink_errno;
    cairn_buf errbody;
};

static void req_init(struct req *r, const char *method, const char *key)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->key = key;
    r->body_fd = -1;
    r->out_fd = -1;
}

/* ================================================================ */
/* curl handles                                                      */
/* ================================================================ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static bool curl_ok;

static void drop_handle(void *h) { curl_easy_cleanup(h); }

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
              pthread_key_create(&handle_key, drop_handle) == 0;
}

/* The calling thread's easy handle, reset; NULL if curl is unusable. */
static CURL *thread_handle(void)
{
    pthread_once(&curl_once, curl_setup);
    if (!curl_ok) return NULL;
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

/* ================================================================ */
/* small helpers                                                     */
/* ================================================================ */

static const char *env_or(const char *given, const char *name)
{
    if (given) return given;
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static uint64_t env_u64(const char *name)
{
    const char *v = getenv(name);
    int64_t n;
    if (!v || cairn_parse_i64(v, &n) < 0 || n <= 0) return 0;
    return (uint64_t)n;
}

static bool ieq_prefix(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    return n >= m && strncasecmp(s, p, m) == 0;
}

/* days since 1970-01-01 for a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t civil_ms(int y, int mo, int d, int h, int mi, int s)
{
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000ll + s * 1000ll;
}

/* "2009-10-12T17:50:30.000Z" -> ms; 0 if unparsable. */
static int64_t parse_iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) return 0;
    return civil_ms(y, mo, d, h, mi, sec);
}

/* "Wed, 21 Oct 2015 07:28:00 GMT" -> ms; 0 if unparsable. */
static int64_t parse_http_date_ms(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, h, mi, sec;
    if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d", &d, mon, &y, &h, &mi, &sec) != 6) return 0;
    const char *p = strstr(months, mon);
    if (!p || (p - months) % 3) return 0;
    return civil_ms(y, (int)((p - months) / 3) + 1, d, h, mi, sec);
}

/* Copies an ETag without surrounding quotes into out. */
static void copy_etag(char out[72], const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '"')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '"' || v[n - 1] == '\r' || v[n - 1] == '\n')) n--;
    if (n > 71) n = 71;
    memcpy(out, v, n);
    out[n] = '\0';
}

static int check_key(const char *key)
{
    if (!key || !*key)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "empty s3 key");
    if (strlen(key) > MAX_KEY_LEN)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "s3 key longer than %d bytes", MAX_KEY_LEN);
    return 0;
}

/* The full key (client prefix + key), cairn_malloc'd. */
static char *full_key(const cairn_s3 *s3, const char *key)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&b, "%s%s", s3->prefix, key);
    return cairn_buf_detach(&b, NULL);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Backoff before retry number `attempt` (1-based): "equal jitter", a random
 * delay between half and all of base * 2^(attempt-1), capped. */
static void backoff(const cairn_s3 *s3, int attempt)
{
    int64_t d = s3->retry_base_ms;
    for (int i = 1; i < attempt && d < BACKOFF_CAP_MS; i++) d *= 2;
    if (d > BACKOFF_CAP_MS) d = BACKOFF_CAP_MS;
    uint32_t r;
    cairn_random_bytes(&r, sizeof(r));
    sleep_ms(d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1)));
}

/* ================================================================ */
/* one request                                                       */
/* ================================================================ */

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct req *r = userdata;
    uint64_t left = r->body_len - r->sent;
    size_t n = size * nitems;
    if (n > left) n = (size_t)left;
    if (n == 0) return 0;
    if (r->body) {
        memcpy(buf, r->body + r->sent, n);
    } else {
        ssize_t got = pread(r->body_fd, buf, n, (off_t)(r->body_off + r->sent));
        if (got <= 0) {
            r->sink_errno = got < 0 ? errno : EIO;
            r->sink_failed = true;
            return CURL_READFUNC_ABORT;
        }
        n = (size_t)got;
    }
    r->sent += n;
    return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        /* error document: keep the start, enough for Code and Message */
        if (r->errbody.len + n <= ERRBODY_MAX) cairn_buf_put(&r->errbody, ptr, n);
        return n;
    }
    if (r->resp) {
        if (cairn_buf_put(r->resp, ptr, n) < 0) {
            r->sink_failed = true;
            return 0;
        }
    } else if (r->out_fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(r->out_fd, ptr + done, n - done, (off_t)(r->written + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                r->sink_errno = w < 0 ? errno : EIO;
                r->sink_failed = true;
                return 0;
            }
            done += (size_t)w;
        }
    }
    r->written += n;
    return n;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nitems;
    char tmp[128];
    if (ieq_prefix(line, n, "etag:")) {
        copy_etag(r->etag, line + 5, n - 5);
    } else if (ieq_prefix(line, n, "content-length:")) {
        size_t m = n - 15 < sizeof(tmp) - 1 ? n - 15 : sizeof(tmp) - 1;
        memcpy(tmp, line + 15, m);
        tmp[m] = '\0';
        r->content_length = strtoull(tmp, NULL, 10);
    } else if (ieq_prefix(line, n, "last-modified:")) {
        size_t m = n - 14 < sizeof(tmp) - 1 ? n - 14 : sizeof(tmp) - 1;
        memcpy(tmp, line + 14, m);
        tmp[m] = '\0';
        const char *t = tmp;
        while (*t == ' ') t++;
        r->mtime_ms = parse_http_date_ms(t);
    }
    return n;
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* Turns a non-2xx answer into a cairn error carrying S3's Code and Message. */
static int status_error(const cairn_s3 *s3, const struct req *r, int attempts)
{
    const cairn_buf *eb = &r->errbody;
    cairn_buf code = CAIRN_BUF_INIT(256), msg = CAIRN_BUF_INIT(512);
    cairn_str s;
    if (eb->len && cairn_s3__xml_find(eb->ptr, eb->len, "Code", &s)) cairn_s3__xml_text(&code, s);
    if (eb->len && cairn_s3__xml_find(eb->ptr, eb->len, "Message", &s)) cairn_s3__xml_text(&msg, s);
    const char *c = cairn_buf_cstr(&code), *m = cairn_buf_cstr(&msg);
    long st = r->status;
    int rc;
    const char *what = r->key ? r->key : "";
    if (st == 404 && !strcmp(r->method, "HEAD"))
        rc = cairn_error_set(CAIRN_ENOTFOUND, S3_SUBSYS, "no object '%s' in bucket '%s'", what, s3->bucket);
    else if (st == 404 && !strcmp(c, "NoSuchKey"))
        rc = cairn_error_set(CAIRN_ENOTFOUND, S3_SUBSYS, "no object '%s' in bucket '%s'", what, s3->bucket);
    else if (st == 404 && !strcmp(c, "NoSuchBucket"))
        rc = cairn_error_set(CAIRN_ENOTFOUND, S3_SUBSYS, "no bucket '%s' at %s", s3->bucket, s3->base);
    else {
        cairn_code cc = st == 404                 ? CAIRN_ENOTFOUND
                        : st == 401 || st == 403  ? CAIRN_EAUTH
                        : st >= 500 || st == 429  ? CAIRN_EIO
                        : st == 409 || st == 412  ? CAIRN_ECONFLICT
                                                  : CAIRN_ERROR;
        char tries[40] = "";
        if (attempts > 1) snprintf(tries, sizeof(tries), " after %d attempts", attempts);
        rc = cairn_error_set(cc, S3_SUBSYS, "s3 %s %s/%s: %s%s%s (http %ld%s)", r->method,
                             s3->bucket, what, *c ? c : "error", *m ? ": " : "", m, st, tries);
    }
    cairn_buf_free(&code);
    cairn_buf_free(&msg);
    return rc;
}

/* Builds "/bucket/key" (path-style) or "/key" and the URL to send it to. */
static void request_target(const cairn_s3 *s3, const struct req *r, cairn_buf *path, cairn_buf *url)
{
    if (s3->path_style) cairn_buf_printf(path, "/%s", s3->bucket);
    cairn_buf_putc(path, '/');
    if (r->key) cairn_buf_puts(path, r->key);
    cairn_buf_puts(url, s3->base);
    cairn_s3__uri_encode(url, path->ptr, path->len, true);
    for (size_t i = 0; i < r->nq; i++) {
        cairn_buf_putc(url, i ? '&' : '?');
        cairn_s3__uri_encode(url, r->query[i].name, strlen(r->query[i].name), false);
        cairn_buf_putc(url, '=');
        const char *v = r->query[i].value ? r->query[i].value : "";
        cairn_s3__uri_encode(url, v, strlen(v), false);
    }
}

/* Signs and sends r once on handle h. Returns the curl result; r->status set. */
static CURLcode attempt_once(const cairn_s3 *s3, struct req *r, CURL *h, const char *path,
                             const char *url, char *errbuf)
{
    static const char empty_hash[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char amz_date[17];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
    const char *phash = r->payload_hash ? r->payload_hash : empty_hash;

    s3_kv hs[8];
    size_t nh = 0;
    hs[nh++] = (s3_kv){"host", s3->host};
    hs[nh++] = (s3_kv){"x-amz-content-sha256", phash};
    hs[nh++] = (s3_kv){"x-amz-date", amz_date};
    if (s3->session_token) hs[nh++] = (s3_kv){"x-amz-security-token", s3->session_token};
    for (size_t i = 0; i < r->nh; i++) hs[nh++] = r->hdr[i];

    s3_sigv4 sig = {s3->access_key, s3->secret_key, s3->region, "s3", amz_date};
    cairn_buf auth = CAIRN_BUF_INIT(0);
    if (cairn_s3__authorization(&auth, NULL, &sig, r->method, path, r->query, r->nq, hs, nh, phash) < 0) {
        cairn_buf_free(&auth);
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", cairn_error_last()->msg);
        return CURLE_ABORTED_BY_CALLBACK;
    }
    struct curl_slist *list = NULL;
    cairn_buf line = CAIRN_BUF_INIT(0);
    for (size_t i = 0; i < nh; i++) {
        cairn_buf_reset(&line);
        cairn_buf_printf(&line, "%s: %s", hs[i].name, hs[i].value);
        list = curl_slist_append(list, line.ptr);
    }
    cairn_buf_reset(&line);
    cairn_buf_printf(&line, "Authorization: %s", auth.ptr);
    list = curl_slist_append(list, line.ptr);
    list = curl_slist_append(list, "Expect:");
    if (!strcmp(r->method, "POST") && r->nh == 0) list = curl_slist_append(list, "Content-Type:");
    cairn_buf_free(&line);
    cairn_buf_free(&auth);

    r->status = 0;
    r->etag[0] = '\0';
    r->content_length = 0;
    r->mtime_ms = 0;
    r->sent = 0;
    r->written = 0;
    r->sink_failed = false;
    r->sink_errno = 0;
    r->h = h;
    cairn_buf_reset(&r->errbody);
    if (r->resp) cairn_buf_reset(r->resp);
    errbuf[0] = '\0';

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s3->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)s3->stall_timeout_s);
    if (s3->timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s3->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    bool has_body = r->body || r->body_fd >= 0;
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? r->body_len : 0));
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (has_body || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    return rc;
}

/* Performs r with retries: signs each attempt afresh, retries connection
 * errors, timeouts, 5xx and 429 with backoff, and translates the outcome.
 * 0 only for a 2xx answer whose body reached its sink. */
static int perform(const cairn_s3 *s3, struct req *r)
{
    CURL *h = thread_handle();
    if (!h) return cairn_error_set(CAIRN_ERROR, S3_SUBSYS, "libcurl cannot be initialized");
    cairn_buf path = CAIRN_BUF_INIT(0), url = CAIRN_BUF_INIT(0);
    request_target(s3, r, &path, &url);
    r->errbody = (cairn_buf)CAIRN_BUF_INIT(0);
    char errbuf[CURL_ERROR_SIZE];
    int attempts = 0, out = 0;
    for (;;) {
        attempts++;
        CURLcode rc = attempt_once(s3, r, h, path.ptr, url.ptr, errbuf);
        bool more = attempts <= s3->max_retries;
        if (rc == CURLE_OK) {
            if (r->status >= 200 && r->status < 300) break;
            if ((r->status >= 500 || r->status == 429) && more) {
                cairn_log(CAIRN_LOG_DEBUG, S3_SUBSYS, "s3 retry|method=%s status=%ld attempt=%d",
                          r->method, r->status, attempts);
                backoff(s3, attempts);
                continue;
            }
            out = status_error(s3, r, attempts);
            break;
        }
        if (r->sink_failed) {
            if (r->resp && !r->sink_errno)
                out = cairn_error_set(CAIRN_ETOOBIG, S3_SUBSYS, "s3 object '%s' is larger than %zu bytes",
                                      r->key ? r->key : "", r->resp->max);
            else
                out = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "s3 %s %s: local i/o error: %s", r->method,
                                      r->key ? r->key : "", strerror(r->sink_errno));
            break;
        }
        if (retryable_curl(rc) && more) {
            cairn_log(CAIRN_LOG_DEBUG, S3_SUBSYS, "s3 retry|method=%s error=\"%s\" attempt=%d",
                      r->method, curl_easy_strerror(rc), attempts);
            backoff(s3, attempts);
            continue;
        }
        out = cairn_error_set(retryable_curl(rc) ? CAIRN_EIO : CAIRN_ERROR, S3_SUBSYS,
                              "s3 %s %s: %s (%d attempt%s)", r->method, s3->base,
                              errbuf[0] ? errbuf : curl_easy_strerror(rc), attempts,
                              attempts == 1 ? "" : "s");
        break;
    }
    cairn_buf_free(&r->errbody);
    cairn_buf_free(&path);
    cairn_buf_free(&url);
    return out;
}

/* ================================================================ */
/* client                                                            */
/* ================================================================ */

/* Splits "http(s)://authority[/]" into base and host. */
static int parse_endpoint(const char *ep, char **scheme_out, char **host_out)
{
    const char *rest = NULL;
    if (cairn_str_startswith(ep, "http://")) rest = ep + 7;
    else if (cairn_str_startswith(ep, "https://")) rest = ep + 8;
    if (!rest || !*rest || *rest == '/')
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "s3 endpoint '%s' is not http(s)://host[:port]", ep);
    size_t n = strcspn(rest, "/?#");
    if (rest[n] && strcmp(rest + n, "/") != 0)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "s3 endpoint '%s' must not have a path", ep);
    *scheme_out = cairn_strndup(ep, (size_t)(rest - ep));
    *host_out = cairn_strndup(rest, n);
    for (char *c = *host_out; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return 0;
}

int cairn_s3_new(cairn_s3 **out, const cairn_s3_opts *opts)
{
    *out = NULL;
    if (!opts || opts->version != CAIRN_S3_OPTS_VERSION)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "unsupported cairn_s3_opts version");
    if (!opts->bucket || !*opts->bucket || strchr(opts->bucket, '/'))
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "s3 bucket name missing or invalid");
    const char *ak = env_or(opts->access_key, "AWS_ACCESS_KEY_ID");
    const char *sk = env_or(opts->secret_key, "AWS_SECRET_ACCESS_KEY");
    const char *tok = env_or(opts->session_token, "AWS_SESSION_TOKEN");
    if (!ak || !sk)
        return cairn_error_set(CAIRN_EAUTH, S3_SUBSYS,
                               "no s3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    const char *region = env_or(opts->region, "AWS_REGION");
    if (!region) region = env_or(NULL, "AWS_DEFAULT_REGION");
    if (!region) region = "us-east-1";
    const char *ep = env_or(opts->endpoint, "AWS_ENDPOINT_URL_S3");
    if (!ep) ep = env_or(NULL, "AWS_ENDPOINT_URL");

    char *scheme = NULL, *host = NULL;
    cairn_buf aws = CAIRN_BUF_INIT(0);
    if (!ep) cairn_buf_printf(&aws, "https://s3.%s.amazonaws.com", region);
    int rc = parse_endpoint(ep ? ep : aws.ptr, &scheme, &host);
    cairn_buf_free(&aws);
    if (rc < 0) return rc;

    cairn_s3 *s3 = cairn_calloc(1, sizeof(*s3));
    s3->path_style = opts->path_style < 0 ? ep != NULL : opts->path_style != 0;
    cairn_buf b = CAIRN_BUF_INIT(0);
    if (s3->path_style) {
        s3->host = host;
    } else {
        cairn_buf_printf(&b, "%s.%s", opts->bucket, host);
        s3->host = cairn_buf_detach(&b, NULL);
        cairn_free(host);
    }
    cairn_buf_printf(&b, "%s%s", scheme, s3->host);
    s3->base = cairn_buf_detach(&b, NULL);
    cairn_free(scheme);
    s3->region = cairn_strdup(region);
    s3->bucket = cairn_strdup(opts->bucket);
    s3->prefix = cairn_strdup(opts->prefix ? opts->prefix : "");
    s3->access_key = cairn_strdup(ak);
    s3->secret_key = cairn_strdup(sk);
    s3->session_token = tok ? cairn_strdup(tok) : NULL;
    s3->threshold = opts->multipart_threshold ? opts->multipart_threshold : env_u64("CAIRN_S3_MULTIPART_BYTES");
    if (!s3->threshold) s3->threshold = DEFAULT_THRESHOLD;
    s3->part_size = opts->part_size ? opts->part_size : env_u64("CAIRN_S3_PART_BYTES");
    if (!s3->part_size) s3->part_size = DEFAULT_PART_SIZE;
    if (s3->part_size < MIN_PART_SIZE) s3->part_size = MIN_PART_SIZE;
    s3->parallel = opts->parallel > 0 ? opts->parallel : 4;
    s3->max_retries = opts->max_retries < 0 ? 0 : opts->max_retries ? opts->max_retries : 4;
    s3->retry_base_ms = opts->retry_base_ms > 0 ? opts->retry_base_ms : 200;
    s3->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    s3->stall_timeout_s = opts->stall_timeout_s > 0 ? opts->stall_timeout_s : 60;
    s3->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 0;
    *out = s3;
    return 0;
}

void cairn_s3_free(cairn_s3 *s3)
{
    if (!s3) return;
    if (s3->secret_key) memset(s3->secret_key, 0, strlen(s3->secret_key));
    cairn_free(s3->base);
    cairn_free(s3->host);
    cairn_free(s3->region);
    cairn_free(s3->bucket);
    cairn_free(s3->prefix);
    cairn_free(s3->access_key);
    cairn_free(s3->secret_key);
    cairn_free(s3->session_token);
    cairn_free(s3);
}

int cairn_s3_parse_url(const char *url, char **bucket_out, char **key_out)
{
    *bucket_out = NULL;
    *key_out = NULL;
    if (!url || !cairn_str_startswith(url, "s3://") || !url[5] || url[5] == '/')
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "'%s' is not an s3://bucket/key url",
                               url ? url : "");
    const char *b = url + 5, *slash = strchr(b, '/');
    *bucket_out = slash ? cairn_strndup(b, (size_t)(slash - b)) : cairn_strdup(b);
    *key_out = cairn_strdup(slash ? slash + 1 : "");
    return 0;
}

/* ================================================================ */
/* operations                                                        */
/* ================================================================ */

int cairn_s3_head(cairn_s3 *s3, const char *key, cairn_s3_object *out)
{
    int rc = check_key(key);
    if (rc < 0) return rc;
    char *fk = full_key(s3, key);
    struct req r;
    req_init(&r, "HEAD", fk);
    rc = perform(s3, &r);
    if (rc == 0) {
        memset(out, 0, sizeof(*out));
        out->key = key;
        out->size = r.content_length;
        memcpy(out->etag, r.etag, sizeof(out->etag));
        out->mtime_ms = r.mtime_ms;
    }
    cairn_free(fk);
    return rc;
}

int cairn_s3_delete(cairn_s3 *s3, const char *key)
{
    int rc = check_key(key);
    if (rc < 0) return rc;
    char *fk = full_key(s3, key);
    struct req r;
    req_init(&r, "DELETE", fk);
    rc = perform(s3, &r);
    cairn_free(fk);
    return rc;
}

int cairn_s3_get_mem(cairn_s3 *s3, const char *key, cairn_buf *out)
{
    int rc = check_key(key);
    if (rc < 0) return rc;
    char *fk = full_key(s3, key);
    cairn_buf tmp = CAIRN_BUF_INIT(out->max ? out->max - (out->len < out->max ? out->len : out->max) : 0);
    struct req r;
    req_init(&r, "GET", fk);
    r.resp = &tmp;
    rc = perform(s3, &r);
    if (rc == 0) rc = cairn_buf_put(out, tmp.ptr ? tmp.ptr : "", tmp.len);
    else if (rc == CAIRN_ETOOBIG) cairn_buf_free(out);
    cairn_buf_free(&tmp);
    cairn_free(fk);
    return rc;
}

int cairn_s3_get_file(cairn_s3 *s3, const char *key, const char *path)
{
    int rc = check_key(key);
    if (rc < 0) return rc;
    cairn_buf tmp = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&tmp, "%s.cairn-part-XXXXXX", path);
    int fd = mkstemp(tmp.ptr);
    if (fd < 0) {
        rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot create '%s': %s", tmp.ptr, strerror(errno));
        cairn_buf_free(&tmp);
        return rc;
    }
    char *fk = full_key(s3, key);
    struct req r;
    req_init(&r, "GET", fk);
    r.out_fd = fd;
    rc = perform(s3, &r);
    if (rc == 0 && r.content_length && r.written != r.content_length)
        rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "s3 object '%s' ended after %llu of %llu bytes", key,
                             (unsigned long long)r.written, (unsigned long long)r.content_length);
    if (rc == 0 && ftruncate(fd, (off_t)r.written) != 0)
        rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot write '%s': %s", tmp.ptr, strerror(errno));
    if (rc == 0 && fchmod(fd, 0644) != 0)
        cairn_log(CAIRN_LOG_WARN, S3_SUBSYS, "cannot chmod the download|path=%s", tmp.ptr);
    if (close(fd) != 0 && rc == 0)
        rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot write '%s': %s", tmp.ptr, strerror(errno));
    if (rc == 0 && rename(tmp.ptr, path) != 0)
        rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot rename into '%s': %s", path, strerror(errno));
    if (rc < 0) unlink(tmp.ptr);
    cairn_buf_free(&tmp);
    cairn_free(fk);
    return rc;
}

/* ---- uploads ---- */

/* What is being uploaded: memory, or a file read with pread. */
struct source {
    const char *mem;
    int fd;
    uint64_t size;
};

/* SHA-256 (hex) of [off, off+len) of src. */
static int source_hash(const struct source *src, uint64_t off, uint64_t len, char hex[65])
{
    if (src->mem) return cairn_sha256_hex(src->mem + off, (size_t)len, hex);
    cairn_sha256 *h = NULL;
    int rc = cairn_sha256_new(&h);
    if (rc < 0) return rc;
    size_t cap = 1 << 20;
    char *buf = cairn_malloc(cap);
    uint64_t done = 0;
    while (rc == 0 && done < len) {
        size_t want = len - done < cap ? (size_t)(len - done) : cap;
        ssize_t got = pread(src->fd, buf, want, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot read the upload: %s",
                                 got < 0 ? strerror(errno) : "file shrank");
            break;
        }
        rc = cairn_sha256_update(h, buf, (size_t)got);
        done += (uint64_t)got;
    }
    if (rc == 0) rc = cairn_sha256_final_hex(h, hex);
    cairn_free(buf);
    cairn_sha256_free(h);
    return rc;
}

static int put_single(const cairn_s3 *s3, const char *fk, const struct source *src)
{
    char hex[65];
    int rc = source_hash(src, 0, src->size, hex);
    if (rc < 0) return rc;
    struct req r;
    req_init(&r, "PUT", fk);
    r.body = src->mem;
    r.body_fd = src->mem ? -1 : src->fd;
    r.body_len = src->size;
    r.payload_hash = hex;
    if (!src->mem && src->size == 0) r.body_fd = -1;
    return perform(s3, &r);
}

struct upload {
    const cairn_s3 *s3;
    const char *key; /* full key */
    char *upload_id;
    const struct source *src;
    uint64_t part_size;
    int nparts;
    char (*etags)[72];
    atomic_int failed;
    pthread_mutex_t lock;
    cairn_error err; /* the first part failure */
};

struct part_task {
    struct upload *up;
    int index; /* 0-based; part number index + 1 */
};

/* Uploads one part: reads its slice into memory (files), hashes it, PUTs
 * it with retries, and records its ETag. A failure is recorded once in the
 * upload, and parts not yet started then do nothing. */
static void upload_part(void *payload)
{
    struct part_task *t = payload;
    struct upload *up = t->up;
    if (atomic_load(&up->failed)) return;
    uint64_t off = (uint64_t)t->index * up->part_size;
    uint64_t len = up->src->size - off < up->part_size ? up->src->size - off : up->part_size;
    char *buf = NULL;
    int rc = 0;
    if (!up->src->mem) {
        buf = cairn_try_malloc((size_t)len);
        if (!buf) rc = cairn_error_set(CAIRN_ENOMEM, S3_SUBSYS, "no memory for a %llu-byte part",
                                       (unsigned long long)len);
        for (uint64_t done = 0; rc == 0 && done < len;) {
            ssize_t got = pread(up->src->fd, buf + done, (size_t)(len - done), (off_t)(off + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                rc = cairn_error_set(CAIRN_EIO, S3_SUBSYS, "cannot read the upload: %s",
                                     got < 0 ? strerror(errno) : "file shrank");
            else
                done += (uint64_t)got;
        }
    }
    const char *data = up->src->mem ? up->src->mem + off : buf;
    char hex[65], num[16];
    if (rc == 0) rc = cairn_sha256_hex(data, (size_t)len, hex);
    if (rc == 0) {
        snprintf(num, sizeof(num), "%d", t->index + 1);
        struct req r;
        req_init(&r, "PUT", up->key);
        r.query[r.nq++] = (s3_kv){"partNumber", num};
        r.query[r.nq++] = (s3_kv){"uploadId", up->upload_id};
        r.body = data;
        r.body_len = len;
        r.payload_hash = hex;
        rc = perform(up->s3, &r);
        if (rc == 0 && !r.etag[0])
            rc = cairn_error_set(CAIRN_ERROR, S3_SUBSYS, "s3 sent no etag for part %d of '%s'",
                                 t->index + 1, up->key);
        if (rc == 0) memcpy(up->etags[t->index], r.etag, sizeof(r.etag));
    }
    cairn_free(buf);
    if (rc < 0) {
        pthread_mutex_lock(&up->lock);
        if (!atomic_load(&up->failed)) up->err = *cairn_error_last();
        atomic_store(&up->failed, 1);
        pthread_mutex_unlock(&up->lock);
    }
}

/* POST ?uploads: starts a multipart upload and stores its id. */
static int create_upload(struct upload *up)
{
    cairn_buf resp = CAIRN_BUF_INIT(1 << 20), id = CAIRN_BUF_INIT(4096);
    struct req r;
    req_init(&r, "POST", up->key);
    r.query[r.nq++] = (s3_kv){"uploads", NULL};
    r.resp = &resp;
    int rc = perform(up->s3, &r);
    cairn_str s;
    if (rc == 0 && !(resp.len && cairn_s3__xml_find(resp.ptr, resp.len, "UploadId", &s)))
        rc = cairn_error_set(CAIRN_ERROR, S3_SUBSYS, "s3 answered CreateMultipartUpload without an UploadId");
    if (rc == 0) rc = cairn_s3__xml_text(&id, s);
    if (rc == 0) up->upload_id = cairn_buf_detach(&id, NULL);
    cairn_buf_free(&resp);
    cairn_buf_free(&id);
    return rc;
}

/* POST ?uploadId: joins the parts. S3 may answer 200 with an Error document. */
static int complete_upload(struct upload *up)
{
    cairn_buf body = CAIRN_BUF_INIT(0), resp = CAIRN_BUF_INIT(1 << 20);
    cairn_buf_puts(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 0; i < up->nparts; i++) {
        cairn_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        cairn_buf_putc(&body, '"');
        cairn_s3__xml_escape(&body, up->etags[i]);
        cairn_buf_puts(&body, "\"</ETag></Part>");
    }
    cairn_buf_puts(&body, "</CompleteMultipartUpload>");
    char hex[65];
    int rc = cairn_sha256_hex(body.ptr, body.len, hex);
    struct req r;
    req_init(&r, "POST", up->key);
    r.query[r.nq++] = (s3_kv){"uploadId", up->upload_id};
    r.hdr[r.nh++] = (s3_kv){"content-type", "application/xml"};
    r.body = body.ptr;
    r.body_len = body.len;
    r.payload_hash = hex;
    r.resp = &resp;
    if (rc == 0) rc = perform(up->s3, &r);
    cairn_str s;
    if (rc == 0 && resp.len && cairn_s3__xml_find(resp.ptr, resp.len, "Error", &s)) {
        cairn_buf code = CAIRN_BUF_INIT(256), msg = CAIRN_BUF_INIT(512);
        cairn_str c, m;
        if (cairn_s3__xml_find(s.ptr, s.len, "Code", &c)) cairn_s3__xml_text(&code, c);
        if (cairn_s3__xml_find(s.ptr, s.len, "Message", &m)) cairn_s3__xml_text(&msg, m);
        rc = cairn_error_set(CAIRN_ERROR, S3_SUBSYS, "s3 CompleteMultipartUpload %s/%s: %s: %s",
                             up->s3->bucket, up->key, cairn_buf_cstr(&code), cairn_buf_cstr(&msg));
        cairn_buf_free(&code);
        cairn_buf_free(&msg);
    }
    cairn_buf_free(&body);
    cairn_buf_free(&resp);
    return rc;
}

/* DELETE ?uploadId: best effort; keeps the caller's error. */
static void abort_upload(struct upload *up)
{
    cairn_error saved = *cairn_error_last();
    struct req r;
    req_init(&r, "DELETE", up->key);
    r.query[r.nq++] = (s3_kv){"uploadId", up->upload_id};
    if (perform(up->s3, &r) < 0)
        cairn_log(CAIRN_LOG_WARN, S3_SUBSYS, "s3 multipart upload not aborted|key=%s upload_id=%s",
                  up->key, up->upload_id);
    cairn_error_set(saved.code, saved.subsys, "%s", saved.msg);
}

static int put_multipart(const cairn_s3 *s3, const char *fk, const struct source *src)
{
    uint64_t psize = s3->part_size;
    while ((src->size + psize - 1) / psize > MAX_PARTS) psize *= 2;
    struct upload up = {.s3 = s3, .key = fk, .src = src, .part_size = psize};
    up.nparts = (int)((src->size + psize - 1) / psize);
    atomic_init(&up.failed, 0);
    pthread_mutex_init(&up.lock, NULL);
    int rc = create_upload(&up);
    if (rc < 0) {
        pthread_mutex_destroy(&up.lock);
        return rc;
    }
    up.etags = cairn_calloc((size_t)up.nparts, sizeof(*up.etags));
    struct part_task *tasks = cairn_calloc((size_t)up.nparts, sizeof(*tasks));
    cairn_pool *pool = NULL;
    rc = cairn_pool_new(&pool, s3->parallel < up.nparts ? s3->parallel : up.nparts);
    for (int i = 0; rc == 0 && i < up.nparts; i++) {
        tasks[i] = (struct part_task){&up, i};
        rc = cairn_pool_submit(pool, upload_part, &tasks[i]);
    }
    if (rc < 0) atomic_store(&up.failed, 1);
    cairn_pool_free(pool); /* waits for the parts */
    if (rc == 0 && atomic_load(&up.failed)) rc = cairn_error_set(up.err.code, up.err.subsys, "%s", up.err.msg);
    if (rc == 0) rc = complete_upload(&up);
    if (rc < 0) abort_upload(&up);
    cairn_free(tasks);
    cairn_free(up.etags);
    cairn_free(up.upload_id);
    pthread_mutex_destroy(&up.lock);
    return rc;
}

static int put_source(cairn_s3 *s3, const char *key, const struct source *src)
{
    int rc = check_key(key);
    if (rc < 0) return rc;
    char *fk = full_key(s3, key);
    rc = src->size > s3->threshold ? put_multipart(s3, fk, src) : put_single(s3, fk, src);
    cairn_free(fk);
    return rc;
}

int cairn_s3_put_mem(cairn_s3 *s3, const char *key, const void *data, size_t len)
{
    struct source src = {data ? data : "", -1, len};
    return put_source(s3, key, &src);
}

int cairn_s3_put_file(cairn_s3 *s3, const char *key, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, S3_SUBSYS,
                               "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "'%s' is not a regular file", path);
    } else {
        struct source src = {NULL, fd, (uint64_t)st.st_size};
        rc = put_source(s3, key, &src);
    }
    close(fd);
    return rc;
}

/* ---- listing ---- */

/* Reads the text of child `name` of [s, s+n) into out (reset first). */
static int child_text(cairn_buf *out, const char *s, size_t n, const char *name)
{
    cairn_str in;
    cairn_buf_reset(out);
    if (!cairn_s3__xml_find(s, n, name, &in)) return cairn_buf_put(out, "", 0);
    return cairn_s3__xml_text(out, in);
}

/* Reports one listed key (full key in `full`) with the client prefix removed. */
static int report(const cairn_s3 *s3, cairn_s3_object *obj, const char *full, cairn_s3_list_cb cb,
                  void *payload)
{
    size_t pl = strlen(s3->prefix);
    if (strncmp(full, s3->prefix, pl) != 0) return 0; /* not ours; cannot happen with a sane server */
    obj->key = full + pl;
    return cb(obj, payload);
}

/* Walks one ListObjectsV2 page: objects, then common prefixes. Sets *stop to
 * the callback's non-zero answer. */
static int list_page(const cairn_s3 *s3, const cairn_buf *page, cairn_s3_list_cb cb, void *payload,
                     int *stop)
{
    cairn_buf key = CAIRN_BUF_INIT(4 * MAX_KEY_LEN), val = CAIRN_BUF_INIT(4096);
    cairn_str in;
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && !*stop && cairn_s3__xml_next(page->ptr, page->len, &pos, "Contents", &in)) {
        cairn_s3_object obj;
        memset(&obj, 0, sizeof(obj));
        rc = child_text(&key, in.ptr, in.len, "Key");
        if (rc == 0) rc = child_text(&val, in.ptr, in.len, "Size");
        int64_t size = 0;
        if (rc == 0 && cairn_parse_i64(val.ptr, &size) < 0)
            rc = cairn_error_set(CAIRN_ECORRUPT, S3_SUBSYS, "s3 listing has a bad size '%s'", val.ptr);
        obj.size = (uint64_t)size;
        if (rc == 0) rc = child_text(&val, in.ptr, in.len, "ETag");
        if (rc == 0) copy_etag(obj.etag, val.ptr, val.len);
        if (rc == 0) rc = child_text(&val, in.ptr, in.len, "LastModified");
        if (rc == 0) obj.mtime_ms = parse_iso_ms(val.ptr);
        if (rc == 0) *stop = report(s3, &obj, key.ptr, cb, payload);
    }
    pos = 0;
    while (rc == 0 && !*stop && cairn_s3__xml_next(page->ptr, page->len, &pos, "CommonPrefixes", &in)) {
        cairn_s3_object obj;
        memset(&obj, 0, sizeof(obj));
        obj.is_prefix = 1;
        rc = child_text(&key, in.ptr, in.len, "Prefix");
        if (rc == 0) *stop = report(s3, &obj, key.ptr, cb, payload);
    }
    cairn_buf_free(&key);
    cairn_buf_free(&val);
    return rc;
}

int cairn_s3_list(cairn_s3 *s3, const char *prefix, const char *delimiter, cairn_s3_list_cb cb,
                  void *payload)
{
    char *fp = full_key(s3, prefix ? prefix : "");
    cairn_buf page = CAIRN_BUF_INIT(LIST_PAGE_MAX), token = CAIRN_BUF_INIT(8192),
              flag = CAIRN_BUF_INIT(64);
    int rc = 0, stop = 0;
    for (;;) {
        struct req r;
        req_init(&r, "GET", NULL);
        r.query[r.nq++] = (s3_kv){"list-type", "2"};
        r.query[r.nq++] = (s3_kv){"prefix", fp};
        if (delimiter && *delimiter) r.query[r.nq++] = (s3_kv){"delimiter", delimiter};
        if (token.len) r.query[r.nq++] = (s3_kv){"continuation-token", token.ptr};
        page = (cairn_buf)CAIRN_BUF_INIT(LIST_PAGE_MAX);
        r.resp = &page;
        rc = perform(s3, &r);
        if (rc == 0 && !page.len)
            rc = cairn_error_set(CAIRN_ECORRUPT, S3_SUBSYS, "s3 sent an empty listing");
        if (rc == 0) rc = list_page(s3, &page, cb, payload, &stop);
        if (rc == 0 && !stop) rc = child_text(&flag, page.ptr, page.len, "IsTruncated");
        bool more = rc == 0 && !stop && !strcmp(flag.ptr, "true");
        if (more) {
            rc = child_text(&token, page.ptr, page.len, "NextContinuationToken");
            if (rc == 0 && !token.len)
                rc = cairn_error_set(CAIRN_ECORRUPT, S3_SUBSYS,
                                     "s3 listing is truncated but has no continuation token");
        }
        cairn_buf_free(&page);
        if (rc < 0 || !more) break;
    }
    cairn_buf_free(&token);
    cairn_buf_free(&flag);
    cairn_free(fp);
    return rc < 0 ? rc : stop;
}
