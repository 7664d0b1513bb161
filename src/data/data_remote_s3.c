/*
 * data_remote_s3.c - the S3 backend of cairn_remote: an adapter from the
 * four remote operations onto the S3 client of include/cairn/s3.h.
 *
 * Objects live at s3://bucket/prefix/ab/cdef..., the layout of the local
 * cache and of directory remotes, so a remote can be mirrored with any S3
 * tool. An S3 PUT becomes visible only when complete (multipart uploads
 * only on completion), so an interrupted push never leaves a partial object
 * under its name and a rerun sends just what is missing. Before an upload
 * the local object is re-hashed, so a corrupt cache object is reported, not
 * published; downloads are checked by the caller (cairn_data_fetch).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cairn/blob.h"
#include "cairn/s3.h"
#include "data_internal.h"

struct s3_remote {
    cairn_s3 *s3;
};

static void object_key(const char *hex, char key[68])
{
    snprintf(key, 68, "%.2s/%s", hex, hex + 2);
}

static int s3r_has(void *impl, const char *hex)
{
    struct s3_remote *r = impl;
    char key[68];
    cairn_s3_object o;
    object_key(hex, key);
    int rc = cairn_s3_head(r->s3, key, &o);
    if (rc == CAIRN_ENOTFOUND) {
        cairn_error_clear();
        return 0;
    }
    return rc ? rc : 1;
}

static int s3r_put(void *impl, const char *hex, const char *src)
{
    struct s3_remote *r = impl;
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, DATA_SUBSYS,
                               "cannot open %s: %s", src, strerror(errno));
    data_hasher hs;
    cairn_data__hasher_init(&hs);
    char got[65];
    int rc = cairn_data__hash_fd(&hs, fd, NULL, got, NULL);
    cairn_data__hasher_fini(&hs);
    close(fd);
    if (rc) return rc;
    if (strcmp(got, hex) != 0)
        return cairn_error_set(CAIRN_ECORRUPT, DATA_SUBSYS,
                               "corrupt object %s (content hashes to %.12s...)", src, got);
    char key[68];
    object_key(hex, key);
    return cairn_s3_put_file(r->s3, key, src);
}

static int s3r_get(void *impl, const char *hex, const char *dst)
{
    struct s3_remote *r = impl;
    char key[68];
    object_key(hex, key);
    return cairn_s3_get_file(r->s3, key, dst);
}

struct list_ctx {
    cairn_remote_list_cb cb;
    void *payload;
};

static int s3r_list_one(const cairn_s3_object *o, void *payload)
{
    struct list_ctx *c = payload;
    const char *k = o->key;
    char hex[65];
    if (o->is_prefix || strlen(k) != 65 || k[2] != '/') return 0;
    memcpy(hex, k, 2);
    memcpy(hex + 2, k + 3, 63);
    if (!cairn_blob_hex_valid(hex)) return 0; /* not ours */
    return c->cb(hex, c->payload);
}

static int s3r_list(void *impl, cairn_remote_list_cb cb, void *payload)
{
    struct s3_remote *r = impl;
    struct list_ctx c = {cb, payload};
    return cairn_s3_list(r->s3, "", NULL, s3r_list_one, &c);
}

static void s3r_close(void *impl)
{
    struct s3_remote *r = impl;
    if (!r) return;
    cairn_s3_free(r->s3);
    cairn_free(r);
}

static const cairn_remote_ops s3_ops = {s3r_has, s3r_put, s3r_get, s3r_list, s3r_close};

/* Opens s3://bucket[/prefix]; endpoint, region and credentials come from
 * the environment as cairn_s3_new documents. Makes no request. */
int cairn_data__remote_open_s3(cairn_remote **out, const char *url)
{
    char *bucket = NULL, *key = NULL, *prefix = NULL;
    int rc = cairn_s3_parse_url(url, &bucket, &key);
    if (rc) return rc;
    size_t kl = strlen(key);
    prefix = cairn_malloc(kl + 2);
    snprintf(prefix, kl + 2, "%s%s", key, (kl && key[kl - 1] != '/') ? "/" : "");
    cairn_s3_opts o = CAIRN_S3_OPTS_INIT;
    o.bucket = bucket;
    o.prefix = prefix;
    struct s3_remote *r = cairn_calloc(1, sizeof(*r));
    rc = cairn_s3_new(&r->s3, &o);
    if (!rc)
        rc = cairn_remote_new(out, &s3_ops, r, url);
    else
        cairn_free(r);
    cairn_free(bucket);
    cairn_free(key);
    cairn_free(prefix);
    return rc;
}
