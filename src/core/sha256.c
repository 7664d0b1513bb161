/*
 * sha256.c - SHA-256 through OpenSSL's EVP interface, with lowercase hex output.
 */
#include <openssl/evp.h>

#include "cairn/core.h"

struct cairn_sha256 {
    EVP_MD_CTX *ctx;
};

int cairn_sha256_new(cairn_sha256 **out)
{
    cairn_sha256 *h = cairn_calloc(1, sizeof(*h));
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        cairn_sha256_free(h);
        *out = NULL;
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_CORE, "sha256 init");
    }
    *out = h;
    return 0;
}

int cairn_sha256_update(cairn_sha256 *h, const void *data, size_t n)
{
    if (EVP_DigestUpdate(h->ctx, data, n) != 1)
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_CORE, "sha256 update");
    return 0;
}

int cairn_sha256_final_hex(cairn_sha256 *h, char hex_out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_CORE, "sha256 final");
    for (int i = 0; i < 32; i++) {
        hex_out[2 * i] = hex[md[i] >> 4];
        hex_out[2 * i + 1] = hex[md[i] & 15];
    }
    hex_out[64] = '\0';
    return 0;
}

int cairn_sha256_reset(cairn_sha256 *h)
{
    if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
        return cairn_error_set(CAIRN_ERROR, CAIRN_SUBSYS_CORE, "sha256 init");
    return 0;
}

void cairn_sha256_free(cairn_sha256 *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->ctx);
    cairn_free(h);
}

int cairn_sha256_hex(const void *data, size_t n, char hex_out[65])
{
    cairn_sha256 *h;
    int rc = cairn_sha256_new(&h);
    if (rc) return rc;
    if (!(rc = cairn_sha256_update(h, data, n))) rc = cairn_sha256_final_hex(h, hex_out);
    cairn_sha256_free(h);
    return rc;
}
