/*
 * s3_internal.h - pieces of the S3 client that are tested on their own:
 * AWS Signature Version 4 (s3_sign.c) and the small XML reader for S3
 * responses (s3_xml.c).
 */
#ifndef CAIRN_S3_INTERNAL_H
#define CAIRN_S3_INTERNAL_H

#include <stdbool.h>

#include "cairn/buf.h"
#include "cairn/common.h"

/* Errors of the S3 client are reported under the blob subsystem (object storage). */
#define S3_SUBSYS CAIRN_SUBSYS_DATA

/* A name/value pair (query parameter or header), both unencoded. */
typedef struct s3_kv {
    const char *name;
    const char *value;
} s3_kv;

/* What one SigV4 signature covers. Strings are borrowed. */
typedef struct s3_sigv4 {
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *service;  /* "s3" */
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ"; its first 8 chars are the scope date */
} s3_sigv4;

/* Appends `s` percent-encoded with the RFC 3986 unreserved set kept
 * (A-Z a-z 0-9 - . _ ~), upper-case hex; '/' is kept too when keep_slash. */
int cairn_s3__uri_encode(cairn_buf *out, const char *s, size_t n, bool keep_slash);

/* Builds the SigV4 canonical request into out and the signed-header list
 * ("host;x-amz-date") into signed_headers. path is the raw path ("/bucket/a b");
 * each segment is encoded, '/' kept. query pairs and headers come in any
 * order; they are encoded/lower-cased, trimmed and sorted here. All headers
 * given are signed. payload_hash is the hex SHA-256 or "UNSIGNED-PAYLOAD". */
int cairn_s3__canonical_request(cairn_buf *out, cairn_buf *signed_headers, const char *method,
                                const char *path, const s3_kv *query, size_t nq,
                                const s3_kv *headers, size_t nh, const char *payload_hash);

/* The 32-byte signing key: HMAC chain over date8, region, service, "aws4_request". */
int cairn_s3__signing_key(unsigned char key_out[32], const char *secret_key, const char *date8,
                          const char *region, const char *service);

/* The string to sign for a canonical request. */
int cairn_s3__string_to_sign(cairn_buf *out, const s3_sigv4 *sig, const char *canonical_request);

/* Computes the Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") into out, and the bare signature (64 hex)
 * into signature_out when not NULL. Arguments as for canonical_request. */
int cairn_s3__authorization(cairn_buf *out, char signature_out[65], const s3_sigv4 *sig,
                            const char *method, const char *path, const s3_kv *query, size_t nq,
                            const s3_kv *headers, size_t nh, const char *payload_hash);

/* ---- XML (s3_xml.c): just enough for S3 response documents ---- */

/* Finds the first element named `name` at any depth within [s, s+n) and
 * sets *inner to its content (between start and end tag; empty for <x/>).
 * Returns false if there is none or the document is malformed around it.
 * Comments, processing instructions and CDATA sections are skipped over. */
bool cairn_s3__xml_find(const char *s, size_t n, const char *name, cairn_str *inner);

/* As xml_find, starting at *pos and advancing *pos past the element found:
 * call repeatedly to visit each <Contents> of a listing. */
bool cairn_s3__xml_next(const char *s, size_t n, size_t *pos, const char *name,
                        cairn_str *inner);

/* Appends the text of an element's content with entities (&amp; &lt; &gt;
 * &quot; &apos; &#N; &#xN;) decoded and CDATA unwrapped. CAIRN_EINVALID on a
 * malformed entity or nested markup. */
int cairn_s3__xml_text(cairn_buf *out, cairn_str inner);

/* Appends `s` with & < > " ' escaped. */
int cairn_s3__xml_escape(cairn_buf *out, const char *s);

#endif
