/*
 * track_filter.c - MLflow search filters and order_by clauses compiled to
 * SQL fragments, and MLflow-style page tokens.
 *
 * Design: a single-pass recursive-descent parser reads the text directly
 * (no separate token list) and validates each comparison against a static
 * per-search table of keys, columns and allowed operators as soon as it is
 * read, so every error can name the exact position. All unquoted strings
 * are copied into one pool sized up front (each copy of len bytes consumes
 * at least len input bytes, so 2 * input + slack always suffices); a parsed
 * filter is therefore a handful of allocations and its strings can be bound
 * to SQL as borrowed text. The SQL emitted has `?` placeholders only.
 */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/core.h"
#include "track_filter.h"

/* ---------------------------------------------------------------- tables */

#define OPBIT(op) (1u << (op))
#define OPS_STR                                                                                    \
    (OPBIT(CAIRN_FILTER_EQ) | OPBIT(CAIRN_FILTER_NE) | OPBIT(CAIRN_FILTER_LIKE) |                  \
     OPBIT(CAIRN_FILTER_ILIKE))
#define OPS_LIST (OPBIT(CAIRN_FILTER_IN) | OPBIT(CAIRN_FILTER_NOT_IN))
#define OPS_NUM                                                                                    \
    (OPBIT(CAIRN_FILTER_EQ) | OPBIT(CAIRN_FILTER_NE) | OPBIT(CAIRN_FILTER_LT) |                    \
     OPBIT(CAIRN_FILTER_LE) | OPBIT(CAIRN_FILTER_GT) | OPBIT(CAIRN_FILTER_GE))
#define OPS_EQ_LIST (OPBIT(CAIRN_FILTER_EQ) | OPBIT(CAIRN_FILTER_NE) | OPS_LIST)

#define KBIT(k) (1u << (k))

enum { A_FILTER = 1, A_ORDER = 2, A_NULLABLE = 4 };

/* An attribute (or dataset key) a search knows. */
struct attr_def {
    const char *name;      /* as written in a filter */
    const char *canonical; /* NULL: name itself; else the key this aliases */
    const char *column;    /* SQL expression compared / ordered */
    int integer;           /* 1: integer column, numeric operators */
    unsigned ops;          /* OPBIT set allowed in filters */
    unsigned flags;        /* A_* */
};

static const struct attr_def run_attrs[] = {
    {"run_id", NULL, "r.run_uuid", 0, OPS_STR | OPS_LIST, A_FILTER | A_ORDER},
    {"run_name", NULL, "r.name", 0, OPS_STR, A_FILTER | A_ORDER},
    {"run name", "run_name", "r.name", 0, OPS_STR, A_FILTER | A_ORDER},
    {"user_id", NULL, "r.user_id", 0, OPS_STR, A_FILTER | A_ORDER},
    {"status", NULL, "r.status", 0, OPS_STR, A_FILTER | A_ORDER},
    {"artifact_uri", NULL, "r.artifact_uri", 0, OPS_STR, A_FILTER | A_ORDER},
    {"start_time", NULL, "r.start_time", 1, OPS_NUM, A_FILTER | A_ORDER},
    {"created", "start_time", "r.start_time", 1, OPS_NUM, A_FILTER | A_ORDER},
    {"end_time", NULL, "r.end_time", 1, OPS_NUM, A_FILTER | A_ORDER | A_NULLABLE},
    {NULL, NULL, NULL, 0, 0, 0}};

/* "context" is the run input's tag mlflow.data.context, not a column of
 * datasets: its column names the input_tags alias of its EXISTS shape. */
static const struct attr_def dataset_attrs[] = {
    {"name", NULL, "d.name", 0, OPS_STR | OPS_LIST, A_FILTER},
    {"digest", NULL, "d.digest", 0, OPS_STR | OPS_LIST, A_FILTER},
    {"context", NULL, "it.value", 0, OPS_STR | OPS_LIST, A_FILTER},
    {NULL, NULL, NULL, 0, 0, 0}};

static const struct attr_def experiment_attrs[] = {
    {"name", NULL, "e.name", 0, OPS_STR, A_FILTER | A_ORDER},
    {"creation_time", NULL, "e.creation_time", 1, OPS_NUM, A_FILTER | A_ORDER},
    {"last_update_time", NULL, "e.last_update_time", 1, OPS_NUM, A_FILTER | A_ORDER},
    {"experiment_id", NULL, "e.experiment_id", 1, OPS_NUM, A_ORDER},
    {NULL, NULL, NULL, 0, 0, 0}};

static const struct attr_def registered_model_attrs[] = {
    {"name", NULL, "rm.name", 0, OPS_STR, A_FILTER | A_ORDER},
    {"creation_timestamp", NULL, "rm.creation_time", 1, OPS_NUM, A_ORDER},
    {"last_updated_timestamp", NULL, "rm.last_updated_time", 1, OPS_NUM, A_ORDER},
    {NULL, NULL, NULL, 0, 0, 0}};

static const struct attr_def model_version_attrs[] = {
    {"name", NULL, "mv.name", 0, OPS_STR, A_FILTER | A_ORDER},
    {"version_number", NULL, "mv.version", 1, OPS_NUM, A_FILTER | A_ORDER},
    {"run_id", NULL, "mv.run_id", 0, OPS_EQ_LIST, A_FILTER},
    {"source_path", NULL, "mv.source", 0, OPS_STR, A_FILTER},
    {"creation_timestamp", NULL, "mv.creation_time", 1, OPS_NUM, A_ORDER},
    {"last_updated_timestamp", NULL, "mv.last_updated_time", 1, OPS_NUM, A_ORDER},
    {NULL, NULL, NULL, 0, 0, 0}};

struct entity_def {
    const char *what; /* "runs", for messages */
    const struct attr_def *attrs;
    unsigned filter_kinds; /* KBIT set of cairn_filter_kind */
    unsigned order_kinds;
    /* EXISTS over the tag table, up to and including "AND t.key = ? AND " */
    const char *tag_exists;
    const char *default_order; /* when no order_by item is given */
    const char *tiebreak;      /* appended after the items */
};

static const struct entity_def entities[CAIRN_FILTER__NENTITY] = {
    [CAIRN_FILTER_RUNS] = {"runs", run_attrs,
                           KBIT(CAIRN_FILTER_ATTRIBUTE) | KBIT(CAIRN_FILTER_METRIC) |
                               KBIT(CAIRN_FILTER_PARAM) | KBIT(CAIRN_FILTER_TAG) |
                               KBIT(CAIRN_FILTER_DATASET),
                           KBIT(CAIRN_FILTER_ATTRIBUTE) | KBIT(CAIRN_FILTER_METRIC) |
                               KBIT(CAIRN_FILTER_PARAM) | KBIT(CAIRN_FILTER_TAG),
                           "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ? "
                           "AND ",
                           "r.start_time DESC, r.run_id ASC", "r.start_time DESC, r.run_id ASC"},
    [CAIRN_FILTER_EXPERIMENTS] = {"experiments", experiment_attrs,
                                  KBIT(CAIRN_FILTER_ATTRIBUTE) | KBIT(CAIRN_FILTER_TAG),
                                  KBIT(CAIRN_FILTER_ATTRIBUTE),
                                  "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = "
                                  "e.experiment_id AND t.key = ? AND ",
                                  "e.creation_time DESC, e.experiment_id ASC",
                                  "e.experiment_id ASC"},
    [CAIRN_FILTER_REGISTERED_MODELS] = {"registered models", registered_model_attrs,
                                        KBIT(CAIRN_FILTER_ATTRIBUTE) | KBIT(CAIRN_FILTER_TAG),
                                        KBIT(CAIRN_FILTER_ATTRIBUTE),
                                        "EXISTS (SELECT 1 FROM registered_model_tags t WHERE "
                                        "t.name = rm.name AND t.key = ? AND ",
                                        "rm.name ASC", "rm.name ASC"},
    [CAIRN_FILTER_MODEL_VERSIONS] = {"model versions", model_version_attrs,
                                     KBIT(CAIRN_FILTER_ATTRIBUTE) | KBIT(CAIRN_FILTER_TAG),
                                     KBIT(CAIRN_FILTER_ATTRIBUTE),
                                     "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = "
                                     "mv.name AND t.version = mv.version AND t.key = ? AND ",
                                     "mv.name ASC, mv.version DESC",
                                     "mv.name ASC, mv.version DESC"},
};

static const struct {
    const char *prefix;
    cairn_filter_kind kind;
} prefixes[] = {
    {"metric", CAIRN_FILTER_METRIC},
    {"metrics", CAIRN_FILTER_METRIC},
    {"param", CAIRN_FILTER_PARAM},
    {"params", CAIRN_FILTER_PARAM},
    {"parameter", CAIRN_FILTER_PARAM},
    {"parameters", CAIRN_FILTER_PARAM},
    {"tag", CAIRN_FILTER_TAG},
    {"tags", CAIRN_FILTER_TAG},
    {"attribute", CAIRN_FILTER_ATTRIBUTE},
    {"attributes", CAIRN_FILTER_ATTRIBUTE},
    {"attr", CAIRN_FILTER_ATTRIBUTE},
    {"run", CAIRN_FILTER_ATTRIBUTE},
    {"dataset", CAIRN_FILTER_DATASET},
    {"datasets", CAIRN_FILTER_DATASET},
};

static const char *const kind_names[] = {"attribute", "metric", "param", "tag", "dataset"};
static const char *const op_names[] = {"=",  "!=",   "<",     "<=", ">",
                                       ">=", "LIKE", "ILIKE", "IN", "NOT IN"};

/* ------------------------------------------------------------ the lexer */

struct lexer {
    const char *s;
    size_t n;   /* strlen(s) */
    size_t pos; /* next byte to read */
    char *pool; /* unquoted strings, NUL-terminated */
    size_t used, cap;
};

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_word(int c)
{
    return is_alpha(c) || is_digit(c);
}
static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of s[0..n) with the NUL-terminated word. */
static int word_is(const char *s, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n && word[i]; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)word[i])) return 0;
    return i == n && word[i] == '\0';
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets CAIRN_EINVALID with a formatted message and returns it. */
static int fail(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "%s", msg);
}

static void skip_ws(struct lexer *lx)
{
    while (lx->pos < lx->n && is_space((unsigned char)lx->s[lx->pos]))
        lx->pos++;
}

static int peek(const struct lexer *lx)
{
    return lx->pos < lx->n ? (unsigned char)lx->s[lx->pos] : 0;
}

/* Length of the run of word characters at pos. */
static size_t word_len(const struct lexer *lx, size_t pos)
{
    size_t k = 0;
    while (pos + k < lx->n && is_word((unsigned char)lx->s[pos + k]))
        k++;
    return k;
}

/* Copies s[0..len) into the pool; the pool was sized so this cannot fail. */
static char *pool_copy(struct lexer *lx, const char *s, size_t len)
{
    CAIRN_ASSERT(lx->used + len + 1 <= lx->cap);
    char *dst = lx->pool + lx->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    lx->used += len + 1;
    return dst;
}

/* Describes the token at pos for an error message: the word, one
 * character, or "end of input", into buf. */
static const char *token_at(const struct lexer *lx, size_t pos, char *buf, size_t size)
{
    if (pos >= lx->n) return "end of input";
    size_t k = word_len(lx, pos);
    if (k == 0) k = 1;
    if (k > 40) k = 40;
    snprintf(buf, size, "'%.*s'", (int)k, lx->s + pos);
    return buf;
}

/* Reads the quoted string whose opening quote is at pos into the pool. The
 * quote character is included by doubling it or by a backslash before it;
 * any other backslash is kept as written (so LIKE escapes pass through), a
 * doubled backslash being kept whole. So a value never ends in an odd run of
 * backslashes, which matters for LIKE ... ESCAPE '\': PostgreSQL rejects
 * a pattern ending with its escape character. */
static int read_quoted(struct lexer *lx, const char **out)
{
    char q = lx->s[lx->pos];
    size_t start = lx->pos++;
    CAIRN_ASSERT(lx->used + (lx->n - start) <= lx->cap);
    char *dst = lx->pool + lx->used;
    size_t k = 0;
    for (;;) {
        if (lx->pos >= lx->n)
            return fail("unterminated quoted string starting at position %zu", start);
        char c = lx->s[lx->pos++];
        if (c == q) {
            if (peek(lx) == (unsigned char)q) {
                dst[k++] = q;
                lx->pos++;
                continue;
            }
            break;
        }
        if (c == '\\' && lx->pos < lx->n) {
            char d = lx->s[lx->pos];
            if (d == q) {
                dst[k++] = q;
                lx->pos++;
                continue;
            }
            if (d == '\\') {
                dst[k++] = c;
                dst[k++] = d;
                lx->pos++;
                continue;
            }
        }
        dst[k++] = c;
    }
    dst[k] = '\0';
    lx->used += k + 1;
    *out = dst;
    return 0;
}

/* --------------------------------------------------------- identifiers */

struct ident {
    cairn_filter_kind kind;
    const char *key;             /* canonical key */
    const struct attr_def *attr; /* attributes and dataset keys */
    size_t pos;                  /* where the identifier starts */
};

static const struct attr_def *find_attr(const struct attr_def *tab, const char *key, unsigned flag)
{
    for (; tab->name; tab++)
        if ((tab->flags & flag) && strcmp(tab->name, key) == 0) return tab;
    return NULL;
}

/* Lists the keys of tab having flag, for an error message. */
static void list_attrs(const struct attr_def *tab, unsigned flag, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (; tab->name; tab++) {
        if (!(tab->flags & flag)) continue;
        int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", tab->name);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
}

/* Resolves a parsed prefix and key against the search's tables. */
static int resolve_ident(const struct entity_def *ed, unsigned flag, struct ident *id)
{
    unsigned kinds = flag == A_ORDER ? ed->order_kinds : ed->filter_kinds;
    if (!(kinds & KBIT(id->kind)))
        return fail("invalid identifier '%s.%.64s' at position %zu: %s cannot be %s by %s",
                    kind_names[id->kind], id->key, id->pos, ed->what,
                    flag == A_ORDER ? "ordered" : "filtered", kind_names[id->kind]);
    if (id->kind != CAIRN_FILTER_ATTRIBUTE && id->kind != CAIRN_FILTER_DATASET) return 0;
    const struct attr_def *tab = id->kind == CAIRN_FILTER_DATASET ? dataset_attrs : ed->attrs;
    id->attr = find_attr(tab, id->key, flag);
    if (!id->attr) {
        char keys[160];
        list_attrs(tab, flag, keys, sizeof(keys));
        return fail("invalid %s key '%.64s' at position %zu for %s %s; valid keys are: %s",
                    kind_names[id->kind], id->key, id->pos, ed->what,
                    flag == A_ORDER ? "order_by" : "filter", keys);
    }
    id->key = id->attr->canonical ? id->attr->canonical : id->attr->name;
    return 0;
}

/* Parses `entity.key` or a bare attribute at pos: unquoted keys are word
 * characters and dots (split at the first dot), quoted keys use backticks
 * or double quotes. `flag` is A_FILTER or A_ORDER. */
static int parse_ident(struct lexer *lx, const struct entity_def *ed, unsigned flag,
                       struct ident *id)
{
    char tok[48];
    int c = peek(lx);
    id->pos = lx->pos;
    id->kind = CAIRN_FILTER_ATTRIBUTE;
    id->attr = NULL;
    if (c == '`' || c == '"')
        return read_quoted(lx, &id->key) ? CAIRN_EINVALID : resolve_ident(ed, flag, id);
    if (c == '(' || c == ')')
        return fail("unexpected token '%c' at position %zu: parentheses are not supported", c,
                    lx->pos);
    if (!is_alpha(c)) {
        if (lx->pos >= lx->n) return fail("expected an identifier at end of input");
        return fail("unexpected token %s at position %zu: expected an identifier",
                    token_at(lx, lx->pos, tok, sizeof(tok)), lx->pos);
    }
    size_t start = lx->pos;
    while (lx->pos < lx->n && (is_word(peek(lx)) || peek(lx) == '.'))
        lx->pos++;
    const char *w = lx->s + start;
    size_t wlen = lx->pos - start;
    const char *dot = memchr(w, '.', wlen);
    if (!dot) {
        static const char *const keywords[] = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE"};
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(keywords); i++)
            if (word_is(w, wlen, keywords[i]))
                return fail("unexpected token '%.*s' at position %zu: expected an identifier",
                            (int)wlen, w, start);
        id->key = pool_copy(lx, w, wlen);
        return resolve_ident(ed, flag, id);
    }
    size_t plen = (size_t)(dot - w);
    size_t i;
    for (i = 0; i < CAIRN_ARRAY_LEN(prefixes); i++)
        if (word_is(w, plen, prefixes[i].prefix)) break;
    if (i == CAIRN_ARRAY_LEN(prefixes))
        return fail("invalid identifier '%.*s' at position %zu: unknown entity type '%.*s' "
                    "(expected metrics, params, tags, attributes or datasets)",
                    (int)(wlen > 64 ? 64 : wlen), w, start, (int)(plen > 32 ? 32 : plen), w);
    id->kind = prefixes[i].kind;
    size_t klen = wlen - plen - 1;
    if (klen == 0) {
        c = peek(lx);
        if (c != '`' && c != '"')
            return fail("invalid identifier '%.*s' at position %zu: missing key after '.'",
                        (int)(wlen > 64 ? 64 : wlen), w, start);
        if (read_quoted(lx, &id->key)) return CAIRN_EINVALID;
        if (id->key[0] == '\0') return fail("invalid identifier at position %zu: empty key", start);
    } else {
        id->key = pool_copy(lx, dot + 1, klen);
    }
    return resolve_ident(ed, flag, id);
}

/* ----------------------------------------------------------- the filter */

/* Reads a comparison operator at pos into *op. */
static int parse_op(struct lexer *lx, const struct ident *id, cairn_filter_op *op)
{
    char tok[48];
    const char *s = lx->s + lx->pos;
    size_t left = lx->n - lx->pos;
    size_t at = lx->pos;
    if (left >= 2 && (!strncmp(s, "!=", 2) || !strncmp(s, "<>", 2))) {
        *op = CAIRN_FILTER_NE;
        lx->pos += 2;
    } else if (left >= 2 && !strncmp(s, "<=", 2)) {
        *op = CAIRN_FILTER_LE;
        lx->pos += 2;
    } else if (left >= 2 && !strncmp(s, ">=", 2)) {
        *op = CAIRN_FILTER_GE;
        lx->pos += 2;
    } else if (left >= 1 && (*s == '<' || *s == '>' || *s == '=')) {
        *op = *s == '<' ? CAIRN_FILTER_LT : *s == '>' ? CAIRN_FILTER_GT : CAIRN_FILTER_EQ;
        lx->pos += 1;
    } else {
        size_t k = word_len(lx, lx->pos);
        if (k && word_is(s, k, "LIKE")) {
            *op = CAIRN_FILTER_LIKE;
        } else if (k && word_is(s, k, "ILIKE")) {
            *op = CAIRN_FILTER_ILIKE;
        } else if (k && word_is(s, k, "IN")) {
            *op = CAIRN_FILTER_IN;
        } else if (k && word_is(s, k, "NOT")) {
            lx->pos += k;
            skip_ws(lx);
            size_t k2 = word_len(lx, lx->pos);
            if (!word_is(lx->s + lx->pos, k2, "IN"))
                return fail("unexpected token %s at position %zu: only NOT IN is supported",
                            token_at(lx, lx->pos, tok, sizeof(tok)), lx->pos);
            lx->pos += k2;
            *op = CAIRN_FILTER_NOT_IN;
            return 0;
        } else {
            return fail("expected a comparison operator after %s '%.64s' at position %zu, "
                        "found %s",
                        kind_names[id->kind], id->key, at, token_at(lx, at, tok, sizeof(tok)));
        }
        lx->pos += k;
    }
    return 0;
}

/* Scans a numeric literal ([+-]digits[.digits][e[+-]digits]) at pos and
 * converts it. *integral says the literal had neither '.' nor exponent. */
static int parse_number(struct lexer *lx, double *num, const char **text, int *integral)
{
    size_t start = lx->pos, digits = 0;
    *integral = 1;
    if (peek(lx) == '-' || peek(lx) == '+') lx->pos++;
    while (is_digit(peek(lx)))
        lx->pos++, digits++;
    if (peek(lx) == '.') {
        *integral = 0;
        lx->pos++;
        while (is_digit(peek(lx)))
            lx->pos++, digits++;
    }
    if (digits && (peek(lx) == 'e' || peek(lx) == 'E')) {
        *integral = 0;
        lx->pos++;
        if (peek(lx) == '-' || peek(lx) == '+') lx->pos++;
        size_t ed = 0;
        while (is_digit(peek(lx)))
            lx->pos++, ed++;
        if (!ed) digits = 0;
    }
    if (!digits || is_word(peek(lx)) || peek(lx) == '.') {
        size_t end = lx->pos;
        while (end < lx->n && (is_word((unsigned char)lx->s[end]) || lx->s[end] == '.'))
            end++;
        size_t len = end - start;
        return fail("invalid number '%.*s' at position %zu", (int)(len > 40 ? 40 : len),
                    lx->s + start, start);
    }
    *text = pool_copy(lx, lx->s + start, lx->pos - start);
    errno = 0;
    *num = strtod(*text, NULL);
    if (!isfinite(*num))
        return fail("number '%.40s' at position %zu is out of range", *text, start);
    return 0;
}

/* Parses "( 'a', "b", ... )" into a pool-backed list of at most
 * CAIRN_FILTER_MAX_LIST strings. */
static int parse_list(struct lexer *lx, cairn_filter_cmp *c)
{
    char tok[48];
    int cap = 0;
    if (peek(lx) != '(')
        return fail("expected '(' after %s at position %zu, found %s", op_names[c->op], lx->pos,
                    token_at(lx, lx->pos, tok, sizeof(tok)));
    lx->pos++;
    c->vtype = CAIRN_FILTER_VLIST;
    for (;;) {
        skip_ws(lx);
        int q = peek(lx);
        if (q != '\'' && q != '"')
            return fail("expected a quoted string in the %s list at position %zu, found %s",
                        op_names[c->op], lx->pos, token_at(lx, lx->pos, tok, sizeof(tok)));
        if (c->nlist == CAIRN_FILTER_MAX_LIST)
            return fail("%s list at position %zu has more than %d values", op_names[c->op], lx->pos,
                        CAIRN_FILTER_MAX_LIST);
        if (c->nlist == cap) {
            cap = cap ? cap * 2 : 8;
            c->list = cairn_realloc(c->list, (size_t)cap * sizeof(*c->list));
        }
        if (read_quoted(lx, &c->list[c->nlist])) return CAIRN_EINVALID;
        c->nlist++;
        skip_ws(lx);
        if (peek(lx) == ')') {
            lx->pos++;
            return 0;
        }
        if (peek(lx) != ',')
            return fail("expected ',' or ')' in the %s list at position %zu, found %s",
                        op_names[c->op], lx->pos, token_at(lx, lx->pos, tok, sizeof(tok)));
        lx->pos++;
    }
}

/* Parses the value after the operator: a list for IN / NOT IN, else a
 * quoted string or a number (kept as VREAL with its text in c->str). */
static int parse_value(struct lexer *lx, cairn_filter_cmp *c, int *integral)
{
    char tok[48];
    int ch = peek(lx);
    *integral = 0;
    if (c->op == CAIRN_FILTER_IN || c->op == CAIRN_FILTER_NOT_IN) return parse_list(lx, c);
    if (ch == '\'' || ch == '"') {
        c->vtype = CAIRN_FILTER_VSTR;
        return read_quoted(lx, &c->str);
    }
    if (is_digit(ch) || ch == '-' || ch == '+' || ch == '.') {
        c->vtype = CAIRN_FILTER_VREAL;
        return parse_number(lx, &c->num, &c->str, integral);
    }
    if (lx->pos >= lx->n) return fail("missing value after '%s' at end of input", op_names[c->op]);
    if (ch == '(')
        return fail("unexpected token '(' at position %zu: parentheses are not supported "
                    "(lists are only allowed after IN / NOT IN)",
                    lx->pos);
    return fail("expected a quoted string or a number at position %zu, found %s", lx->pos,
                token_at(lx, lx->pos, tok, sizeof(tok)));
}

/* Writes "only '=', '!=' ... are supported" for an operator set. */
static void list_ops(unsigned ops, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int op = 0; op <= CAIRN_FILTER_NOT_IN; op++) {
        if (!(ops & OPBIT(op))) continue;
        int w = snprintf(buf + len, size - len, "%s'%s'", len ? ", " : "", op_names[op]);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
}

/* Checks the operator and value type of a parsed comparison against the
 * key's rules and converts integer attributes' values. */
static int validate_cmp(const struct ident *id, cairn_filter_cmp *c, size_t vpos, int integral)
{
    unsigned ops;
    int numeric;
    char allowed[96];
    switch (id->kind) {
    case CAIRN_FILTER_METRIC:
        ops = OPS_NUM, numeric = 1;
        break;
    case CAIRN_FILTER_PARAM:
    case CAIRN_FILTER_TAG:
        ops = OPS_STR, numeric = 0;
        break;
    default:
        ops = id->attr->ops, numeric = id->attr->integer;
        break;
    }
    if (!(ops & OPBIT(c->op))) {
        list_ops(ops, allowed, sizeof(allowed));
        return fail("invalid comparator '%s' for %s '%.64s' at position %zu; only %s are "
                    "supported",
                    op_names[c->op], kind_names[id->kind], c->key, id->pos, allowed);
    }
    if (c->vtype == CAIRN_FILTER_VLIST) return 0;
    if (numeric && c->vtype != CAIRN_FILTER_VREAL)
        return fail("expected a numeric value for %s '%.64s' at position %zu, found a string",
                    kind_names[id->kind], c->key, vpos);
    if (!numeric && c->vtype != CAIRN_FILTER_VSTR)
        return fail("expected a quoted string value for %s '%.64s' at position %zu, found "
                    "'%.40s'",
                    kind_names[id->kind], c->key, vpos, c->str);
    if (id->kind != CAIRN_FILTER_METRIC && numeric) {
        if (integral) {
            char *end;
            errno = 0;
            long long v = strtoll(c->str, &end, 10);
            if (errno || *end) goto not_int;
            c->inum = v;
        } else {
            if (c->num != floor(c->num) || fabs(c->num) >= 9.2e18) goto not_int;
            c->inum = (int64_t)c->num;
        }
        c->vtype = CAIRN_FILTER_VINT;
    }
    if (c->vtype != CAIRN_FILTER_VSTR) c->str = NULL;
    return 0;
not_int:
    return fail("expected an integer value for %s '%.64s' at position %zu, found '%.40s'",
                kind_names[id->kind], c->key, vpos, c->str);
}

/* Parses one "identifier operator value" at pos into c. */
static int parse_cmp(struct lexer *lx, const struct entity_def *ed, cairn_filter_cmp *c)
{
    struct ident id;
    int integral, rc;
    if ((rc = parse_ident(lx, ed, A_FILTER, &id))) return rc;
    c->kind = id.kind;
    c->key = id.key;
    c->column = id.attr ? id.attr->column : NULL;
    skip_ws(lx);
    if ((rc = parse_op(lx, &id, &c->op))) return rc;
    skip_ws(lx);
    size_t vpos = lx->pos;
    if ((rc = parse_value(lx, c, &integral))) return rc;
    return validate_cmp(&id, c, vpos, integral);
}

static void lexer_init(struct lexer *lx, const char *s, size_t n, char *pool, size_t cap)
{
    lx->s = s;
    lx->n = n;
    lx->pos = 0;
    lx->pool = pool;
    lx->used = 0;
    lx->cap = cap;
}

/* After a comparison: end of input, or AND followed by another one. Sets
 * *more. */
static int parse_joiner(struct lexer *lx, int *more)
{
    char tok[48];
    skip_ws(lx);
    *more = 0;
    if (lx->pos >= lx->n) return 0;
    size_t k = word_len(lx, lx->pos);
    const char *w = lx->s + lx->pos;
    if (k && word_is(w, k, "AND")) {
        lx->pos += k;
        skip_ws(lx);
        if (lx->pos >= lx->n)
            return fail("trailing AND at position %zu: expected a comparison after it",
                        (size_t)(w - lx->s));
        *more = 1;
        return 0;
    }
    if (k && word_is(w, k, "OR"))
        return fail("unexpected token 'OR' at position %zu: only AND is supported", lx->pos);
    if (peek(lx) == '(' || peek(lx) == ')')
        return fail("unexpected token '%c' at position %zu: parentheses are not supported",
                    peek(lx), lx->pos);
    return fail("unexpected token %s at position %zu: expected AND or end of filter",
                token_at(lx, lx->pos, tok, sizeof(tok)), lx->pos);
}

void cairn_filter_free(cairn_filter *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++)
        cairn_free(f->cmp[i].list);
    cairn_free(f->cmp);
    cairn_free(f->pool);
    cairn_free(f);
}

int cairn_filter_parse(cairn_filter **out, int entity, const char *text)
{
    int rc = 0, more = 1;
    *out = NULL;
    if (entity < 0 || entity >= CAIRN_FILTER__NENTITY)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "unknown search entity %d",
                               entity);
    size_t n = text ? strnlen(text, CAIRN_FILTER_MAX_LEN + 1) : 0;
    if (n > CAIRN_FILTER_MAX_LEN)
        return fail("filter is longer than %d characters", CAIRN_FILTER_MAX_LEN);
    cairn_filter *f = cairn_calloc(1, sizeof(*f));
    f->entity = (cairn_filter_entity)entity;
    struct lexer lx;
    size_t cap = 2 * n + 16;
    f->pool = cairn_malloc(cap);
    lexer_init(&lx, text ? text : "", n, f->pool, cap);
    skip_ws(&lx);
    if (lx.pos >= lx.n) goto done;
    f->cmp = cairn_calloc(CAIRN_FILTER_MAX_CMP, sizeof(*f->cmp));
    while (more) {
        if (f->n == CAIRN_FILTER_MAX_CMP) {
            rc = fail("filter has more than %d comparisons (at position %zu)", CAIRN_FILTER_MAX_CMP,
                      lx.pos);
            goto done;
        }
        rc = parse_cmp(&lx, &entities[entity], &f->cmp[f->n]);
        f->n++; /* counted even on error so cairn_filter_free sees its list */
        if (rc) goto done;
        if ((rc = parse_joiner(&lx, &more))) goto done;
    }
done:
    if (rc) {
        cairn_filter_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* -------------------------------------------------------------- to SQL */

static int bind(cairn_value *params, int max, int *np, cairn_value v)
{
    if (*np >= max)
        return cairn_error_set(CAIRN_ETOOBIG, CAIRN_SUBSYS_TRACK,
                               "search needs more than %d sql parameters", max);
    params[(*np)++] = v;
    return 0;
}

static cairn_value text_value(const char *s)
{
    return CAIRN_VTEXTN(s, strlen(s));
}

/* Appends "<col> <op> ?" (or the LIKE / IN shape) and binds the value(s). */
static int put_predicate(cairn_buf *sql, const char *col, const cairn_filter_cmp *c,
                         cairn_value *params, int max, int *np)
{
    int rc;
    switch (c->op) {
    case CAIRN_FILTER_LIKE:
        rc = cairn_buf_printf(sql, "%s LIKE ? ESCAPE '\\'", col);
        break;
    case CAIRN_FILTER_ILIKE:
        rc = cairn_buf_printf(sql, "lower(%s) LIKE lower(?) ESCAPE '\\'", col);
        break;
    case CAIRN_FILTER_IN:
    case CAIRN_FILTER_NOT_IN:
        if ((rc = cairn_buf_printf(sql, "%s %s (", col, op_names[c->op]))) return rc;
        for (int i = 0; i < c->nlist; i++) {
            if ((rc = cairn_buf_puts(sql, i ? ", ?" : "?"))) return rc;
            if ((rc = bind(params, max, np, text_value(c->list[i])))) return rc;
        }
        return cairn_buf_putc(sql, ')');
    default:
        rc = cairn_buf_printf(sql, "%s %s ?", col, op_names[c->op]);
        break;
    }
    if (rc) return rc;
    cairn_value v = c->vtype == CAIRN_FILTER_VREAL  ? CAIRN_VREAL(c->num)
                    : c->vtype == CAIRN_FILTER_VINT ? CAIRN_VINT(c->inum)
                                                    : text_value(c->str);
    return bind(params, max, np, v);
}

int cairn_filter_nparams(const cairn_filter *f)
{
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const cairn_filter_cmp *c = &f->cmp[i];
        n += c->vtype == CAIRN_FILTER_VLIST ? c->nlist : 1;
        if (c->kind == CAIRN_FILTER_METRIC || c->kind == CAIRN_FILTER_PARAM ||
            c->kind == CAIRN_FILTER_TAG)
            n++;
    }
    return n;
}

/* The EXISTS prefix of a comparison that needs one (ends with "AND "),
 * whether it binds the key first, and the column compared. */
static const char *exists_shape(const cairn_filter *f, const cairn_filter_cmp *c, int *bind_key,
                                const char **col)
{
    *bind_key = 1;
    switch (c->kind) {
    case CAIRN_FILTER_METRIC:
        *col = "m.value";
        return "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = ? "
               "AND m.is_nan = 0 AND ";
    case CAIRN_FILTER_PARAM:
        *col = "p.value";
        return "EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = ? AND ";
    case CAIRN_FILTER_TAG:
        *col = "t.value";
        return entities[f->entity].tag_exists;
    case CAIRN_FILTER_DATASET:
        *bind_key = 0;
        *col = c->column;
        if (strcmp(c->key, "context") == 0)
            return "EXISTS (SELECT 1 FROM run_inputs ri JOIN input_tags it ON it.run_id = "
                   "ri.run_id AND it.dataset_id = ri.dataset_id WHERE ri.run_id = r.run_id AND "
                   "it.key = 'mlflow.data.context' AND ";
        return "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = "
               "ri.dataset_id WHERE ri.run_id = r.run_id AND ";
    default:
        *bind_key = 0;
        *col = c->column;
        return NULL;
    }
}

int cairn_filter_to_sql(const cairn_filter *f, cairn_buf *sql, cairn_value *params, int max_params,
                        int *nparams)
{
    int rc;
    for (int i = 0; i < f->n; i++) {
        const cairn_filter_cmp *c = &f->cmp[i];
        int bind_key;
        const char *col;
        const char *exists = exists_shape(f, c, &bind_key, &col);
        if ((rc = cairn_buf_puts(sql, " AND "))) return rc;
        if (exists && (rc = cairn_buf_puts(sql, exists))) return rc;
        if (bind_key && (rc = bind(params, max_params, nparams, text_value(c->key)))) return rc;
        if ((rc = put_predicate(sql, col, c, params, max_params, nparams))) return rc;
        if (exists && (rc = cairn_buf_putc(sql, ')'))) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ order_by */

void cairn_order_free(cairn_order *o)
{
    if (!o) return;
    cairn_free(o->pool);
    cairn_free(o);
}

/* Parses one order_by item "<identifier> [ASC|DESC]" into it. */
static int parse_order_item(struct lexer *lx, const struct entity_def *ed, cairn_order_item *it)
{
    char tok[48];
    struct ident id;
    int rc;
    skip_ws(lx);
    if (lx->pos >= lx->n) return fail("empty order_by item");
    if ((rc = parse_ident(lx, ed, A_ORDER, &id))) return rc;
    it->kind = id.kind;
    it->key = id.key;
    it->column = id.attr ? id.attr->column : NULL;
    it->nullable = id.attr ? (id.attr->flags & A_NULLABLE) != 0 : 0;
    skip_ws(lx);
    size_t k = word_len(lx, lx->pos);
    if (k && word_is(lx->s + lx->pos, k, "DESC")) {
        it->desc = 1;
        lx->pos += k;
    } else if (k && word_is(lx->s + lx->pos, k, "ASC")) {
        lx->pos += k;
    }
    skip_ws(lx);
    if (lx->pos < lx->n)
        return fail("unexpected token %s at position %zu in order_by '%.64s': expected ASC, "
                    "DESC or the end",
                    token_at(lx, lx->pos, tok, sizeof(tok)), lx->pos, lx->s);
    return 0;
}

int cairn_order_parse(cairn_order **out, int entity, const char *const *items, int n)
{
    int rc = 0;
    *out = NULL;
    if (entity < 0 || entity >= CAIRN_FILTER__NENTITY)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "unknown search entity %d",
                               entity);
    if (n < 0 || n > CAIRN_ORDER_MAX)
        return fail("order_by has %d items; at most %d are supported", n, CAIRN_ORDER_MAX);
    size_t cap = 16;
    for (int i = 0; i < n; i++) {
        size_t len = items[i] ? strnlen(items[i], CAIRN_FILTER_MAX_LEN + 1) : 0;
        if (len > CAIRN_FILTER_MAX_LEN)
            return fail("order_by item %d is longer than %d characters", i, CAIRN_FILTER_MAX_LEN);
        cap += 2 * len + 16;
    }
    cairn_order *o = cairn_calloc(1, sizeof(*o));
    o->entity = (cairn_filter_entity)entity;
    o->pool = cairn_malloc(cap);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        struct lexer lx;
        const char *s = items[i] ? items[i] : "";
        size_t len = strlen(s);
        lexer_init(&lx, s, len, o->pool + used, 2 * len + 16);
        if ((rc = parse_order_item(&lx, &entities[entity], &o->items[i]))) break;
        used += lx.used;
        o->n++;
    }
    if (rc) {
        cairn_order_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int cairn_order_nparams(const cairn_order *o)
{
    int n = 0;
    for (int i = 0; i < o->n; i++)
        n += o->items[i].kind != CAIRN_FILTER_ATTRIBUTE;
    return n;
}

int cairn_order_to_sql(const cairn_order *o, cairn_buf *joins, cairn_buf *order_by,
                       cairn_value *params, int max_params, int *nparams)
{
    static const char *const join_table[] = {
        [CAIRN_FILTER_METRIC] = "latest_metrics",
        [CAIRN_FILTER_PARAM] = "params",
        [CAIRN_FILTER_TAG] = "tags",
    };
    const struct entity_def *ed = &entities[o->entity];
    int rc;
    if (o->n == 0) return cairn_buf_puts(order_by, ed->default_order);
    for (int i = 0; i < o->n; i++) {
        const cairn_order_item *it = &o->items[i];
        const char *dir = it->desc ? "DESC" : "ASC";
        if (it->kind == CAIRN_FILTER_ATTRIBUTE) {
            if (it->nullable)
                rc = cairn_buf_printf(order_by, "(%s IS NULL) ASC, %s %s, ", it->column, it->column,
                                      dir);
            else
                rc = cairn_buf_printf(order_by, "%s %s, ", it->column, dir);
            if (rc) return rc;
            continue;
        }
        /* metrics, params and tags exist only for runs (the parser refuses
         * them elsewhere), so the join is always against r */
        if ((rc = cairn_buf_printf(joins,
                                   " LEFT JOIN %s o%d ON o%d.run_id = r.run_id AND "
                                   "o%d.key = ?",
                                   join_table[it->kind], i, i, i)))
            return rc;
        if ((rc = bind(params, max_params, nparams, text_value(it->key)))) return rc;
        if (it->kind == CAIRN_FILTER_METRIC)
            rc = cairn_buf_printf(
                order_by, "(o%d.value IS NULL) ASC, o%d.is_nan ASC, o%d.value %s, ", i, i, i, dir);
        else
            rc = cairn_buf_printf(order_by, "(o%d.value IS NULL) ASC, o%d.value %s, ", i, i, dir);
        if (rc) return rc;
    }
    return cairn_buf_puts(order_by, ed->tiebreak);
}

/* ---------------------------------------------------------- page tokens */

#define PAGE_TOKEN_MAX 1024

int cairn_page_token_encode(int64_t offset, cairn_buf *out)
{
    char json[48];
    if (offset < 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "negative page offset %lld",
                               (long long)offset);
    int n = snprintf(json, sizeof(json), "{\"offset\": %lld}", (long long)offset);
    return cairn_base64_encode(out, json, (size_t)n);
}

int cairn_page_token_decode(const char *tok, int64_t *offset)
{
    cairn_buf raw = CAIRN_BUF_INIT(PAGE_TOKEN_MAX);
    json_t *root = NULL, *off = NULL;
    int rc = CAIRN_EINVALID;
    *offset = 0;
    if (!tok || !*tok) return 0;
    size_t n = strnlen(tok, PAGE_TOKEN_MAX + 1);
    if (n > PAGE_TOKEN_MAX)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                               "invalid page token: longer than %d characters", PAGE_TOKEN_MAX);
    if (cairn_base64_decode(&raw, tok, n)) {
        cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK, "invalid page token: not base64");
        goto cleanup;
    }
    root = json_loadb(raw.ptr, raw.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                        "invalid page token: not a json object");
        goto cleanup;
    }
    off = json_object_get(root, "offset");
    if (!json_is_integer(off) || json_integer_value(off) < 0) {
        cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_TRACK,
                        "invalid page token: no non-negative integer offset");
        goto cleanup;
    }
    *offset = (int64_t)json_integer_value(off);
    rc = 0;
cleanup:
    json_decref(root);
    cairn_buf_free(&raw);
    return rc;
}
