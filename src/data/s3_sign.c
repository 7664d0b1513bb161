/*
 * s3_sign.c - AWS Signature Version 4 for the S3 client.
 *
 * Pure functions from request parts to the Authorization header, so that
 * they can be checked against AWS's published examples byte for byte: the
 * canonical request (method, encoded path, sorted encoded query, sorted
 * lower-cased headers, signed-header list, payload hash), the string to sign
 * over its SHA-256, and the signature HMAC-SHA256'd with a key derived from
 * the secret through date, region and service (OpenSSL's one-shot HMAC).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "s3_internal.h"

#define SIGN_MAX_PARAMS 32

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int cairn_s3__uri_encode(cairn_buf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = cairn_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = cairn_buf_put(out, esc, 3);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* An encoded query pair or a normalized header, for sorting. */
struct pair {
    char *name;
    char *value;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encoded_dup(const char *s)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_s3__uri_encode(&b, s, strlen(s), false);
    return cairn_buf_detach(&b, NULL);
}

/* Lower-cases a header name; trims the value and folds inner runs of spaces
 * to one, as SigV4 requires. */
static void normalize_header(const s3_kv *h, struct pair *p)
{
    p->name = cairn_strdup(h->name);
    for (char *c = p->name; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    cairn_buf b = CAIRN_BUF_INIT(0);
    const char *v = h->value;
    while (*v == ' ' || *v == '\t') v++;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (space) cairn_buf_putc(&b, ' ');
        space = false;
        cairn_buf_putc(&b, *v);
    }
    p->value = cairn_buf_detach(&b, NULL);
    if (!p->value) p->value = cairn_strdup("");
}

static void free_pairs(struct pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cairn_free(p[i].name);
        cairn_free(p[i].value);
    }
}

int cairn_s3__canonical_request(cairn_buf *out, cairn_buf *signed_headers, const char *method,
                                const char *path, const s3_kv *query, size_t nq,
                                const s3_kv *headers, size_t nh, const char *payload_hash)
{
    if (nq > SIGN_MAX_PARAMS || nh > SIGN_MAX_PARAMS)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "too many query parameters or headers");
    struct pair qs[SIGN_MAX_PARAMS], hs[SIGN_MAX_PARAMS];
    for (size_t i = 0; i < nq; i++) {
        qs[i].name = encoded_dup(query[i].name);
        qs[i].value = encoded_dup(query[i].value ? query[i].value : "");
        if (!qs[i].name) qs[i].name = cairn_strdup("");
        if (!qs[i].value) qs[i].value = cairn_strdup("");
    }
    for (size_t i = 0; i < nh; i++) normalize_header(&headers[i], &hs[i]);
    qsort(qs, nq, sizeof(qs[0]), pair_cmp);
    qsort(hs, nh, sizeof(hs[0]), pair_cmp);

    int rc = cairn_buf_printf(out, "%s\n", method);
    if (rc == 0) rc = cairn_s3__uri_encode(out, path, strlen(path), true);
    if (rc == 0 && !*path) rc = cairn_buf_putc(out, '/');
    if (rc == 0) rc = cairn_buf_putc(out, '\n');
    for (size_t i = 0; rc == 0 && i < nq; i++)
        rc = cairn_buf_printf(out, "%s%s=%s", i ? "&" : "", qs[i].name, qs[i].value);
    if (rc == 0) rc = cairn_buf_putc(out, '\n');
    for (size_t i = 0; rc == 0 && i < nh; i++)
        rc = cairn_buf_printf(out, "%s:%s\n", hs[i].name, hs[i].value);
    if (rc == 0) rc = cairn_buf_putc(out, '\n');
    for (size_t i = 0; rc == 0 && i < nh; i++)
        rc = cairn_buf_printf(signed_headers, "%s%s", i ? ";" : "", hs[i].name);
    if (rc == 0) rc = cairn_buf_printf(out, "%s\n%s", cairn_buf_cstr(signed_headers), payload_hash);
    free_pairs(qs, nq);
    free_pairs(hs, nh);
    return rc;
}

static int hmac(unsigned char out[32], const void *key, size_t keylen, const char *msg)
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) ||
        len != 32)
        return cairn_error_set(CAIRN_ERROR, S3_SUBSYS, "hmac-sha256 is unavailable");
    return 0;
}

int cairn_s3__signing_key(unsigned char key_out[32], const char *secret_key, const char *date8,
                          const char *region, const char *service)
{
    cairn_buf k = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&k, "AWS4%s", secret_key);
    unsigned char a[32], b[32];
    int rc = hmac(a, k.ptr, k.len, date8);
    if (rc == 0) rc = hmac(b, a, 32, region);
    if (rc == 0) rc = hmac(a, b, 32, service);
    if (rc == 0) rc = hmac(key_out, a, 32, "aws4_request");
    memset(k.ptr, 0, k.len);
    cairn_buf_free(&k);
    return rc;
}

static void scope(char *out, size_t n, const s3_sigv4 *sig)
{
    snprintf(out, n, "%.8s/%s/%s/aws4_request", sig->amz_date, sig->region, sig->service);
}

int cairn_s3__string_to_sign(cairn_buf *out, const s3_sigv4 *sig, const char *canonical_request)
{
    char hash[65], sc[256];
    int rc = cairn_sha256_hex(canonical_request, strlen(canonical_request), hash);
    if (rc < 0) return rc;
    scope(sc, sizeof(sc), sig);
    return cairn_buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%s\n%s", sig->amz_date, sc, hash);
}

int cairn_s3__authorization(cairn_buf *out, char signature_out[65], const s3_sigv4 *sig,
                            const char *method, const char *path, const s3_kv *query, size_t nq,
                            const s3_kv *headers, size_t nh, const char *payload_hash)
{
    if (strlen(sig->amz_date) != 16)
        return cairn_error_set(CAIRN_EINVALID, S3_SUBSYS, "bad x-amz-date '%s'", sig->amz_date);
    cairn_buf creq = CAIRN_BUF_INIT(0), signed_h = CAIRN_BUF_INIT(0), sts = CAIRN_BUF_INIT(0);
    unsigned char key[32], mac[32];
    char date8[9], sc[256], hex[65];
    memcpy(date8, sig->amz_date, 8);
    date8[8] = '\0';
    int rc = cairn_s3__canonical_request(&creq, &signed_h, method, path, query, nq, headers, nh,
                                         payload_hash);
    if (rc == 0) rc = cairn_s3__string_to_sign(&sts, sig, cairn_buf_cstr(&creq));
    if (rc == 0) rc = cairn_s3__signing_key(key, sig->secret_key, date8, sig->region, sig->service);
    if (rc == 0) rc = hmac(mac, key, 32, cairn_buf_cstr(&sts));
    if (rc == 0) {
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        scope(sc, sizeof(sc), sig);
        rc = cairn_buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                              sig->access_key, sc, cairn_buf_cstr(&signed_h), hex);
        if (rc == 0 && signature_out) memcpy(signature_out, hex, 65);
    }
    memset(key, 0, sizeof(key));
    cairn_buf_free(&creq);
    cairn_buf_free(&signed_h);
    cairn_buf_free(&sts);
    return rc;
}
