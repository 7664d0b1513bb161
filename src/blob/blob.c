/*
 * blob.c - the backend-neutral front of the content-addressed store.
 *
 * Key idea: everything that decides what an object is called lives here,
 * once, for every backend. The front picks a backend from the URI, rejects
 * malformed hashes before any backend sees them (so no backend can be led
 * into path traversal), hashes content as it streams through a writer, and
 * compares it with expect_hex before asking the backend to store it. The
 * backend (blob_backend.h) only moves bytes under a name it is given.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "blob_backend.h"

struct cairn_blob {
    struct cairn_blob_backend *backend;
};

struct cairn_blob_writer {
    struct cairn_blob_backend_writer *bw; /* the backend's upload */
    cairn_sha256 *sha;
    uint64_t size;
    int failed; /* a write failed: commit must store nothing */
};

#define READ_CHUNK 65536

bool cairn_blob_hex_valid(const char *hex)
{
    if (!hex) return false;
    for (int i = 0; i < CAIRN_BLOB_HEX_LEN; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return hex[CAIRN_BLOB_HEX_LEN] == '\0';
}

/* 0..64 lowercase hex chars. */
static bool prefix_valid(const char *p)
{
    size_t i = 0;
    for (; p[i] && i <= CAIRN_BLOB_HEX_LEN; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return i <= CAIRN_BLOB_HEX_LEN;
}

static int check_hex(const char *hex)
{
    if (cairn_blob_hex_valid(hex)) return 0;
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_BLOB,
                           "malformed object hash '%.80s' (want 64 lowercase hex chars)",
                           hex ? hex : "(null)");
}

/* The scheme of "scheme://rest" into out (lowercased), or "" for a plain path. */
static void uri_scheme(const char *uri, char *out, size_t cap)
{
    const char *sep = strstr(uri, "://");
    out[0] = '\0';
    if (!sep || sep == uri || (size_t)(sep - uri) >= cap) return;
    for (const char *p = uri; p < sep; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool ok =
            alpha || (p > uri && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok) return; /* not a scheme: a path that happens to contain "://" */
    }
    size_t n = (size_t)(sep - uri);
    for (size_t i = 0; i < n; i++) {
        char c = uri[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

/* The directory named by a file:// URI: file:///abs or file://localhost/abs. */
static int file_uri_path(const char *uri, const char **path_out)
{
    const char *rest = uri + strlen("file://");
    if (strncmp(rest, "localhost/", 10) == 0) rest += strlen("localhost");
    if (rest[0] != '/')
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_BLOB,
                               "file uri '%.200s' needs an absolute path (file:///dir)", uri);
    *path_out = rest;
    return 0;
}

int cairn_blob_open(cairn_blob **out, const char *uri)
{
    struct cairn_blob_backend *be = NULL;
    const char *path = uri;
    char scheme[16];
    int rc;

    *out = NULL;
    if (!uri || !*uri) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_BLOB, "empty store uri");
    uri_scheme(uri, scheme, sizeof(scheme));
    if (strcmp(scheme, "s3") == 0)
        return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_BLOB,
                               "s3 artifact store is not supported yet: '%.200s'", uri);
    if (scheme[0] && strcmp(scheme, "file") != 0)
        return cairn_error_set(CAIRN_EUNSUPPORTED, CAIRN_SUBSYS_BLOB,
                               "no artifact store backend for scheme '%s'", scheme);
    if (scheme[0] && (rc = file_uri_path(uri, &path))) return rc;
    if ((rc = cairn_blob__fs_open(&be, path))) return rc;

    cairn_blob *b = cairn_calloc(1, sizeof(*b));
    b->backend = be;
    *out = b;
    return 0;
}

void cairn_blob_close(cairn_blob *blob)
{
    if (!blob) return;
    blob->backend->free(blob->backend);
    cairn_free(blob);
}

/* ---- writing ---- */

int cairn_blob_writer_open(cairn_blob_writer **out, cairn_blob *blob)
{
    struct cairn_blob_backend_writer *bw = NULL;
    cairn_sha256 *sha = NULL;
    int rc;

    *out = NULL;
    if ((rc = cairn_sha256_new(&sha))) return rc;
    if ((rc = blob->backend->writer_open(blob->backend, &bw))) {
        cairn_sha256_free(sha);
        return rc;
    }
    cairn_blob_writer *w = cairn_calloc(1, sizeof(*w));
    w->bw = bw;
    w->sha = sha;
    *out = w;
    return 0;
}

int cairn_blob_writer_write(cairn_blob_writer *w, const void *data, size_t n)
{
    int rc;
    if (w->failed)
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_BLOB, "write to a failed blob writer");
    if (n == 0) return 0;
    if ((rc = cairn_sha256_update(w->sha, data, n)) ||
        (rc = w->bw->backend->writer_write(w->bw, data, n))) {
        w->failed = 1;
        return rc;
    }
    w->size += n;
    return 0;
}

static void writer_free(cairn_blob_writer *w)
{
    cairn_sha256_free(w->sha);
    cairn_free(w);
}

void cairn_blob_writer_abort(cairn_blob_writer *w)
{
    if (!w) return;
    w->bw->backend->writer_abort(w->bw);
    writer_free(w);
}

/* Names the content by its hash, checks it against expect_hex, and asks the
 * backend to store it. Frees w in every case; on failure nothing is stored. */
int cairn_blob_writer_commit(cairn_blob_writer *w, const char *expect_hex, char hex_out[65],
                             uint64_t *size_out)
{
    struct cairn_blob_backend *be = w->bw->backend;
    char hex[65];
    int rc;

    if (w->failed) {
        rc = cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_BLOB, "commit of a failed blob writer");
        goto abort;
    }
    if (expect_hex && (rc = check_hex(expect_hex))) goto abort;
    if ((rc = cairn_sha256_final_hex(w->sha, hex))) goto abort;
    if (expect_hex && strcmp(hex, expect_hex) != 0) {
        rc = cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_BLOB, "content hashes to %s, expected %s",
                             hex, expect_hex);
        goto abort;
    }
    rc = be->writer_commit(w->bw, hex); /* consumes w->bw */
    if (rc == 0) {
        if (hex_out) memcpy(hex_out, hex, sizeof(hex));
        if (size_out) *size_out = w->size;
    }
    writer_free(w);
    return rc;

abort:
    cairn_blob_writer_abort(w);
    return rc;
}

int cairn_blob_put(cairn_blob *blob, const void *data, size_t n, char hex_out[65])
{
    cairn_blob_writer *w;
    int rc = cairn_blob_writer_open(&w, blob);
    if (rc) return rc;
    if ((rc = cairn_blob_writer_write(w, data, n))) {
        cairn_blob_writer_abort(w);
        return rc;
    }
    return cairn_blob_writer_commit(w, NULL, hex_out, NULL);
}

/* Reads fd to EOF through a writer. The fd is left open for the caller. */
int cairn_blob_put_fd(cairn_blob *blob, int fd, char hex_out[65], uint64_t *size_out)
{
    cairn_blob_writer *w;
    int rc = cairn_blob_writer_open(&w, blob);
    if (rc) return rc;
    char *chunk = cairn_malloc(READ_CHUNK);
    for (;;) {
        ssize_t r = read(fd, chunk, READ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_BLOB, "read from fd %d: %s", fd,
                                 strerror(errno));
            break;
        }
        if (r == 0) break;
        if ((rc = cairn_blob_writer_write(w, chunk, (size_t)r))) break;
    }
    cairn_free(chunk);
    if (rc) {
        cairn_blob_writer_abort(w);
        return rc;
    }
    return cairn_blob_writer_commit(w, NULL, hex_out, size_out);
}

/* ---- reading ---- */

int cairn_blob_open_read(cairn_blob *blob, const char *hex, int *fd_out, uint64_t *size_out)
{
    int rc = check_hex(hex);
    if (rc) return rc;
    return blob->backend->open_read(blob->backend, hex, fd_out, size_out);
}

/* Appends the object to out, hashing as it reads. On failure out is freed. */
static int read_verified(int fd, const char *hex, uint64_t size, cairn_buf *out)
{
    cairn_sha256 *sha = NULL;
    char *chunk = NULL;
    char got[65];
    int rc;

    if (out->max && (out->len > out->max || size > out->max - out->len)) {
        rc = cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_BLOB,
                             "object %.12s... is %llu bytes, over the %zu byte limit", hex,
                             (unsigned long long)size, out->max);
        goto cleanup;
    }
    if ((rc = cairn_sha256_new(&sha))) goto cleanup;
    chunk = cairn_malloc(READ_CHUNK);
    for (;;) {
        ssize_t r = read(fd, chunk, READ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_BLOB, "read object %.12s...: %s", hex,
                                 strerror(errno));
            break;
        }
        if (r == 0) break;
        if ((rc = cairn_sha256_update(sha, chunk, (size_t)r))) break;
        if ((rc = cairn_buf_put(out, chunk, (size_t)r))) break;
    }
    if (!rc && !out->ptr) rc = cairn_buf_put(out, "", 0);
    if (!rc && !(rc = cairn_sha256_final_hex(sha, got)) && strcmp(got, hex) != 0)
        rc = cairn_error_set(CAIRN_ECORRUPT, CAIRN_SUBSYS_BLOB,
                             "object %s is corrupt: its content hashes to %s", hex, got);

cleanup:
    cairn_free(chunk);
    cairn_sha256_free(sha);
    if (rc) cairn_buf_free(out);
    return rc;
}

int cairn_blob_get(cairn_blob *blob, const char *hex, cairn_buf *out)
{
    uint64_t size = 0;
    int fd = -1;
    int rc = cairn_blob_open_read(blob, hex, &fd, &size);
    if (rc) {
        cairn_buf_free(out);
        return rc;
    }
    rc = read_verified(fd, hex, size, out);
    close(fd);
    return rc;
}

int cairn_blob_exists(cairn_blob *blob, const char *hex)
{
    int rc = check_hex(hex);
    if (rc) return rc;
    return blob->backend->exists(blob->backend, hex);
}

int cairn_blob_delete(cairn_blob *blob, const char *hex)
{
    int rc = check_hex(hex);
    if (rc) return rc;
    return blob->backend->remove(blob->backend, hex);
}

int cairn_blob_list(cairn_blob *blob, const char *prefix, cairn_blob_list_cb cb, void *payload)
{
    if (!prefix) prefix = "";
    if (!prefix_valid(prefix))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_BLOB,
                               "malformed hash prefix '%.80s' (want up to 64 lowercase hex chars)",
                               prefix);
    return blob->backend->list(blob->backend, prefix, cb, payload);
}
