/*
 * k8s_yaml.c - serializes a jansson tree as block-style YAML.
 *
 * Key idea: a scalar is written plain only when it is unambiguous under
 * both YAML 1.1 (kubectl's go-yaml, PyYAML) and YAML 1.2 (the core schema):
 * it starts with a letter, '_' or '/', or with "-"/"--" and a letter (so
 * command-line flags stay readable), uses a conservative character set, and
 * is none of the 1.1 boolean/null words. Everything else is double-quoted
 * with escapes, except multi-line strings that are safe as a literal block
 * ("|", "|-" or "|+" by their trailing newlines). Numbers and booleans come
 * from JSON numbers and booleans only, so "8080" in the tree stays a string.
 */
#include <string.h>

#include "k8s_internal.h"

/* YAML 1.1 resolves these (any case) to booleans or null. */
static const char *const special_words[] = {"y",     "n",  "yes", "no",  "true",
                                            "false", "on", "off", "null"};

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* True when s can be written as a plain scalar (see the file comment). */
static int plain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (u[0] == '-') {
        i = (n > 1 && u[1] == '-') ? 2 : 1;
        if (i >= n || !is_alpha(u[i])) return 0;
    } else if (!(is_alpha(u[0]) || u[0] == '_' || u[0] == '/')) {
        return 0;
    }
    if (u[n - 1] == ' ' || u[n - 1] == ':') return 0;
    for (; i < n; i++) {
        unsigned char c = u[i];
        if (is_alnum(c) || strchr("_./-=,+@%()", c)) continue;
        if (c == ' ') continue; /* inner space: ": " and " #" are excluded below */
        if (c == ':' && u[i + 1] != ' ' && is_alpha(u[0])) continue;
        return 0; /* '#', quotes, brackets, '*', '&', '!', '|', '>', '?', controls, UTF-8 */
    }
    for (size_t k = 0; k < CAIRN_ARRAY_LEN(special_words); k++)
        if (strcasecmp(s, special_words[k]) == 0) return 0;
    return 1;
}

/* True when s (containing '\n') reads back unchanged as a literal block. */
static int block_ok_for(const char *s)
{
    if (s[0] == ' ' || s[0] == '\n' || s[0] == '\t') return 0;
    const char *line = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n' || c == '\0') {
            /* trailing blanks are kept by YAML but lost by editors; a
             * blank-only line could change the detected indentation */
            if (p > line && (p[-1] == ' ' || p[-1] == '\t')) return 0;
            if (c == '\0') break;
            line = p + 1;
            continue;
        }
        if (c < 0x20 && c != '\t') return 0;
        if (c == 0x7f) return 0;
    }
    return 1;
}

static int put_quoted(cairn_buf *out, const char *s)
{
    int rc = cairn_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        switch (*p) {
        case '"':
            rc = cairn_buf_puts(out, "\\\"");
            break;
        case '\\':
            rc = cairn_buf_puts(out, "\\\\");
            break;
        case '\n':
            rc = cairn_buf_puts(out, "\\n");
            break;
        case '\t':
            rc = cairn_buf_puts(out, "\\t");
            break;
        case '\r':
            rc = cairn_buf_puts(out, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                rc = cairn_buf_printf(out, "\\u%04x", *p);
            else
                rc = cairn_buf_putc(out, (char)*p);
        }
    }
    return rc ? rc : cairn_buf_putc(out, '"');
}

/* Literal block: indicator on the current line, content lines indented. */
static int put_block(cairn_buf *out, const char *s, int indent)
{
    size_t n = strlen(s), trailing = 0;
    while (trailing < n && s[n - 1 - trailing] == '\n')
        trailing++;
    const char *chomp = trailing == 0 ? "-" : trailing == 1 ? "" : "+";
    int rc = cairn_buf_printf(out, "|%s\n", chomp);
    size_t body = n - trailing;
    const char *p = s;
    while (rc == 0 && p < s + body) {
        const char *nl = memchr(p, '\n', (size_t)(s + body - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(s + body - p);
        if (len > 0) rc = cairn_buf_printf(out, "%*s%.*s", indent, "", (int)len, p);
        if (rc == 0) rc = cairn_buf_putc(out, '\n');
        p += len + 1;
    }
    /* kept trailing newlines beyond the line break already written */
    for (size_t k = 1; rc == 0 && k < trailing; k++)
        rc = cairn_buf_putc(out, '\n');
    return rc;
}

int cairn_k8s_yaml_scalar(cairn_buf *out, const char *s, int indent, int block_ok)
{
    if (!out || !s)
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "yaml scalar: null argument");
    if (plain_ok(s)) return cairn_buf_puts(out, s);
    if (block_ok && strchr(s, '\n') && block_ok_for(s)) return put_block(out, s, indent);
    return put_quoted(out, s);
}

static int emit_node(cairn_buf *out, json_t *v, int indent);

/* Writes a non-container value after "key:" or "- " (with its newline).
 * indent is the indentation of that key or dash. */
static int emit_scalar_line(cairn_buf *out, json_t *v, int indent)
{
    int rc;
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        rc = cairn_buf_putc(out, ' ');
        if (rc == 0) rc = cairn_k8s_yaml_scalar(out, s, indent + 2, 1);
        /* a literal block already ends with its newline */
        if (rc == 0 && !(strchr(s, '\n') && !plain_ok(s) && block_ok_for(s)))
            rc = cairn_buf_putc(out, '\n');
        return rc;
    }
    case JSON_INTEGER:
        return cairn_buf_printf(out, " %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
    case JSON_REAL:
        return cairn_buf_printf(out, " %.17g\n", json_real_value(v));
    case JSON_TRUE:
        return cairn_buf_puts(out, " true\n");
    case JSON_FALSE:
        return cairn_buf_puts(out, " false\n");
    case JSON_NULL:
        return cairn_buf_puts(out, " null\n");
    case JSON_OBJECT:
        return cairn_buf_puts(out, " {}\n"); /* empty only */
    case JSON_ARRAY:
        return cairn_buf_puts(out, " []\n"); /* empty only */
    }
    return cairn_error_set(CAIRN_ERROR, K8S_SUBSYS, "yaml: unknown json type");
}

static int is_nonempty_container(json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

/* Mapping entries at indent; the first key is written without indentation
 * when first_inline (it follows "- " of a sequence item). */
static int emit_mapping(cairn_buf *out, json_t *obj, int indent, int first_inline)
{
    const char *key;
    json_t *val;
    int first = 1, rc = 0;
    json_object_foreach(obj, key, val)
    {
        if (!(first && first_inline)) rc = cairn_buf_printf(out, "%*s", indent, "");
        first = 0;
        if (rc == 0) rc = cairn_k8s_yaml_scalar(out, key, 0, 0);
        if (rc == 0) rc = cairn_buf_putc(out, ':');
        if (rc) return rc;
        if (is_nonempty_container(val)) {
            rc = cairn_buf_putc(out, '\n');
            if (rc == 0) rc = emit_node(out, val, indent + 2);
        } else {
            rc = emit_scalar_line(out, val, indent);
        }
        if (rc) return rc;
    }
    return 0;
}

/* Sequence items at indent. */
static int emit_sequence(cairn_buf *out, json_t *arr, int indent)
{
    size_t i;
    json_t *item;
    int rc = 0;
    json_array_foreach(arr, i, item)
    {
        rc = cairn_buf_printf(out, "%*s-", indent, "");
        if (rc) return rc;
        if (json_is_object(item) && json_object_size(item) > 0) {
            rc = cairn_buf_putc(out, ' ');
            if (rc == 0) rc = emit_mapping(out, item, indent + 2, 1);
        } else if (json_is_array(item) && json_array_size(item) > 0) {
            rc = cairn_buf_putc(out, '\n');
            if (rc == 0) rc = emit_sequence(out, item, indent + 2);
        } else {
            rc = emit_scalar_line(out, item, indent);
        }
        if (rc) return rc;
    }
    return 0;
}

/* A non-empty container starting on a fresh line at indent. */
static int emit_node(cairn_buf *out, json_t *v, int indent)
{
    if (json_is_object(v)) return emit_mapping(out, v, indent, 0);
    return emit_sequence(out, v, indent);
}

int cairn_k8s__yaml_doc(cairn_buf *out, json_t *doc)
{
    if (is_nonempty_container(doc)) return emit_node(out, doc, 0);
    int rc = emit_scalar_line(out, doc, -1);
    return rc;
}

/* json_dump_callback sink: appends to the cairn_buf in data. */
static int put_json_chunk(const char *chunk, size_t n, void *data)
{
    return cairn_buf_put(data, chunk, n) ? -1 : 0;
}

int cairn_k8s__emit(json_t *const *docs, size_t n, cairn_k8s_format fmt, cairn_buf *out)
{
    int rc = 0;
    if (fmt == CAIRN_K8S_JSON) {
        json_t *top = docs[0], *list = NULL;
        if (n != 1) {
            list = json_object();
            json_t *items = json_array();
            json_object_set_new(list, "apiVersion", json_string("v1"));
            json_object_set_new(list, "kind", json_string("List"));
            for (size_t i = 0; i < n; i++)
                json_array_append(items, docs[i]);
            json_object_set_new(list, "items", items);
            top = list;
        }
        rc = json_dump_callback(top, put_json_chunk, out, JSON_INDENT(2)) ? CAIRN_ENOMEM : 0;
        json_decref(list);
        if (rc) return cairn_error_set(CAIRN_ENOMEM, K8S_SUBSYS, "json: output too large");
        rc = cairn_buf_putc(out, '\n');
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0) rc = cairn_buf_puts(out, "---\n");
        if (rc == 0) rc = cairn_k8s__yaml_doc(out, docs[i]);
    }
    return rc;
}
