/*
 * fuzz_track_filter.c - feeds arbitrary bytes to the search filter parser
 * (for every search entity, compiling to SQL whenever parsing succeeds), to
 * the order_by parser and to the page-token decoder. Any crash, leak or
 * sanitizer report is a bug; errors are the expected outcome for most
 * inputs.
 */
#include <stdint.h>
#include <string.h>

#include "cairn/core.h"
#include "track/track_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses text as a filter for entity and, if valid, compiles it. */
static void one_filter(int entity, const char *text)
{
    cairn_filter *f = NULL;
    if (cairn_filter_parse(&f, entity, text)) return;
    int need = cairn_filter_nparams(f), np = 0;
    cairn_value *params = cairn_calloc((size_t)need + 1, sizeof(*params));
    cairn_buf sql = CAIRN_BUF_INIT(0);
    if (cairn_filter_to_sql(f, &sql, params, need, &np) || np != need) __builtin_trap();
    /* every '?' has exactly one bound value */
    int marks = 0;
    for (size_t i = 0; i < sql.len; i++)
        marks += sql.ptr[i] == '?';
    if (marks != np) __builtin_trap();
    cairn_buf_free(&sql);
    cairn_free(params);
    cairn_filter_free(f);
}

/* Splits text at '\n' into up to CAIRN_ORDER_MAX + 1 order_by items. */
static void one_order(int entity, char *text)
{
    const char *items[CAIRN_ORDER_MAX + 1];
    int n = 0;
    for (char *p = text; p && n < CAIRN_ORDER_MAX + 1;) {
        items[n++] = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
    }
    cairn_order *o = NULL;
    if (cairn_order_parse(&o, entity, items, n)) return;
    int need = cairn_order_nparams(o), np = 0;
    cairn_value params[CAIRN_ORDER_MAX + 1];
    cairn_buf joins = CAIRN_BUF_INIT(0), ob = CAIRN_BUF_INIT(0);
    if (cairn_order_to_sql(o, &joins, &ob, params, CAIRN_ORDER_MAX + 1, &np) || np != need)
        __builtin_trap();
    cairn_buf_free(&joins);
    cairn_buf_free(&ob);
    cairn_order_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cairn_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    for (int e = 0; e < CAIRN_FILTER__NENTITY; e++)
        one_filter(e, text);
    int64_t off;
    if (cairn_page_token_decode(text, &off) == 0 && off < 0) __builtin_trap();
    for (int e = 0; e < CAIRN_FILTER__NENTITY; e++) {
        memcpy(text, data, size); /* one_order splits the copy in place */
        text[size] = '\0';
        one_order(e, text);
    }
    cairn_free(text);
    return 0;
}
