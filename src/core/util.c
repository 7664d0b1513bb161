/*
 * util.c - time, randomness, ids, base64, strict number parsing and small
 * filesystem helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/core.h"

int64_t cairn_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cairn_time_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cairn_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cairn_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            abort(); /* no entropy source: nothing sensible to do */
        }
        p += r;
        n -= (size_t)r;
    }
}

void cairn_uuid_hex(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    cairn_random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cairn_base64_encode(cairn_buf *out, const void *data, size_t n)
{
    const unsigned char *s = data;
    int rc;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        if ((rc = cairn_buf_put(out, q, 4))) return rc;
    }
    if (!out->ptr) return cairn_buf_put(out, "", 0);
    return 0;
}

int cairn_base64_decode(cairn_buf *out, const char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0, rc;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *p;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || c == '\0' || !(p = strchr(b64, c)))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "invalid base64");
        acc = (acc << 6) | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)((acc >> bits) & 0xff);
            if ((rc = cairn_buf_put(out, &byte, 1))) return rc;
        }
    }
    if (pad > 2) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "invalid base64");
    if (!out->ptr) return cairn_buf_put(out, "", 0);
    return 0;
}

int cairn_parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "empty number");
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "'%.64s' is not an integer", s);
    *out = v;
    return 0;
}

int cairn_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "empty number");
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(v)))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "'%.64s' is not a number", s);
    *out = v;
    return 0;
}

bool cairn_str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int cairn_mkdir_p(const char *path, unsigned mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CORE, "bad directory path");
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CORE, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CORE, "mkdir %s: %s", tmp, strerror(errno));
    return 0;
}

int cairn_read_file(const char *path, cairn_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO;
        return cairn_error_set(code, CAIRN_SUBSYS_CORE, "open %s: %s", path, strerror(errno));
    }
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CORE, "read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        if ((rc = cairn_buf_put(out, chunk, (size_t)r))) break;
    }
    if (rc == 0 && !out->ptr) rc = cairn_buf_put(out, "", 0);
    close(fd);
    return rc;
}
