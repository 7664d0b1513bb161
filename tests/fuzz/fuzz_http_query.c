/*
 * fuzz_http_query.c - the query-argument table: name normalisation
 * (`a[]`, `a[3]`) and lookups of first and all values.
 *
 * The input is split like a query string (`&` between arguments, the first
 * `=` between name and value; no percent-decoding, which MHD does before
 * this code runs). The first argument's name is then looked up, and the
 * invariants checked: every collected value exists in the table, and the
 * first value equals the first collected one unless indexes reordered them.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/common.h"
#include "http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = cairn_malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct cairn_http_qarg args[MAX_ARGS];
    int n = 0;
    char *p = s;
    while (p && *p && n < MAX_ARGS) {
        char *amp = strchr(p, '&');
        if (amp) *amp++ = '\0';
        char *eq = strchr(p, '=');
        if (eq) *eq++ = '\0';
        args[n].key = p;
        args[n].val = eq ? eq : "";
        args[n].base_len = cairn_http__query_base_len(p, strlen(p), &args[n].index);
        if (args[n].base_len > strlen(p)) abort();
        if (args[n].index >= 0 && p[args[n].base_len] != '[') abort();
        n++;
        p = amp;
    }
    if (n > 0) {
        const char *vals[MAX_ARGS];
        char name[64];
        size_t bl = args[0].base_len < sizeof(name) - 1 ? args[0].base_len : sizeof(name) - 1;
        memcpy(name, args[0].key, bl);
        name[bl] = '\0';
        int got = cairn_http__query_collect(args, n, name, vals, MAX_ARGS);
        const char *first = cairn_http__query_first(args, n, name);
        if (got > n || (got > 0) != (first != NULL)) abort();
        for (int i = 0; i < got; i++) {
            bool found = false;
            for (int k = 0; k < n && !found; k++)
                found = args[k].val == vals[i];
            if (!found) abort();
        }
        /* a short vals array is honoured */
        if (cairn_http__query_collect(args, n, name, vals, 1) > 1) abort();
        (void)cairn_http__query_first(args, n, args[0].key);
    }
    cairn_free(s);
    return 0;
}
