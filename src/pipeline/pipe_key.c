/*
 * pipe_key.c - a stage's cache key and the reasons it went stale.
 *
 * key = SHA-256 over the command text, the resolved params (sorted), the
 * content hash of every dep (sorted by path; code files are deps like any
 * other), the out paths, and for validate stages the rules themselves.
 * The parts are kept in the lock entry too, so `status` can say which one
 * changed instead of only that the key did.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cairn_pipeline__cmd_text(const cairn_pipeline_stage *s)
{
    if (s->cmd) return cairn_strdup(s->cmd);
    cairn_buf b = CAIRN_BUF_INIT(0);
    for (int i = 0; i < s->argc; i++) {
        const char *a = s->argv[i];
        bool plain =
            *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "_-./=:@,+%") == strlen(a);
        if (i) cairn_buf_putc(&b, ' ');
        if (plain) {
            cairn_buf_puts(&b, a);
            continue;
        }
        cairn_buf_putc(&b, '\'');
        for (; *a; a++)
            if (*a == '\'')
                cairn_buf_puts(&b, "'\\''");
            else
                cairn_buf_putc(&b, *a);
        cairn_buf_putc(&b, '\'');
    }
    return b.ptr ? cairn_buf_detach(&b, NULL) : cairn_strdup("");
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const cairn_pipeline_kv *)a)->key, ((const cairn_pipeline_kv *)b)->key);
}

int cairn_pipeline__stage_key(const cairn_pipeline *p, const cairn_pipeline_stage *s,
                              pipe_state *st, pipe_lock_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->stage = cairn_strdup(s->name);
    e->cmd = cairn_pipeline__cmd_text(s);
    int rc = 0;
    for (int i = 0; i < s->ndeps; i++) {
        char path[4096], hex[65];
        snprintf(path, sizeof(path), "%s/%s", p->dir, s->deps[i]);
        rc = cairn_pipeline__hash_path(st, path, NULL, hex, NULL);
        if (rc == CAIRN_ENOTFOUND)
            rc = PERR(CAIRN_ENOTFOUND, "stage '%s': dep '%s' is missing", s->name, s->deps[i]);
        if (rc) return rc;
        e->deps = cairn_realloc(e->deps, sizeof(*e->deps) * (size_t)(e->ndeps + 1));
        e->deps[e->ndeps].key = cairn_strdup(s->deps[i]);
        e->deps[e->ndeps++].value = cairn_strdup(hex);
    }
    if (e->ndeps) qsort(e->deps, (size_t)e->ndeps, sizeof(*e->deps), kv_cmp);
    for (int i = 0; i < s->nparams; i++) {
        e->params = cairn_realloc(e->params, sizeof(*e->params) * (size_t)(e->nparams + 1));
        e->params[e->nparams].key = cairn_strdup(s->params[i].key);
        e->params[e->nparams++].value = cairn_strdup(s->params[i].value);
    }
    cairn_buf m = CAIRN_BUF_INIT(0);
    cairn_buf_printf(&m, "cairn-stage-key 1\ncmd %zu\n%s\n", strlen(e->cmd), e->cmd);
    for (int i = 0; i < e->nparams; i++)
        cairn_buf_printf(&m, "param %s=%s\n", e->params[i].key, e->params[i].value);
    for (int i = 0; i < e->ndeps; i++)
        cairn_buf_printf(&m, "dep %s %s\n", e->deps[i].value, e->deps[i].key);
    for (int i = 0; i < s->nouts; i++)
        cairn_buf_printf(&m, "out %s\n", s->outs[i]);
    for (int i = 0; i < s->nrules; i++) {
        const cairn_pipeline_col_rule *r = &s->rules[i];
        cairn_buf_printf(&m, "rule %s %s %d %.17g %d %.17g %.17g %d\n", r->name,
                         r->type ? r->type : "-", r->has_min, r->min, r->has_max, r->max,
                         r->max_missing, r->unique);
    }
    if (s->kind == CAIRN_STAGE_VALIDATE)
        cairn_buf_printf(&m, "max_missing %.17g\n", s->max_missing);
    char hex[65];
    rc = cairn_sha256_hex(m.ptr, m.len, hex);
    cairn_buf_free(&m);
    if (!rc) e->key = cairn_strdup(hex);
    return rc;
}

static const char *kv_get(const cairn_pipeline_kv *kv, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(kv[i].key, k)) return kv[i].value;
    return NULL;
}

const char *cairn_pipeline__why_stale(const pipe_lock_entry *cur, const pipe_lock_entry *old,
                                      char *buf, size_t n)
{
    if (!old) return snprintf(buf, n, "never run"), buf;
    if (old->key && cur->key && !strcmp(old->key, cur->key)) return NULL;
    size_t o = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + o, n - o, __VA_ARGS__);                                            \
        if (w_ > 0 && (size_t)w_ < n - o) o += (size_t)w_;                                         \
    } while (0)
    buf[0] = '\0';
    if (!old->cmd || strcmp(old->cmd, cur->cmd)) ADD("cmd changed; ");
    for (int i = 0; i < cur->ndeps; i++) {
        const char *h = kv_get(old->deps, old->ndeps, cur->deps[i].key);
        if (!h)
            ADD("new dep %s; ", cur->deps[i].key);
        else if (strcmp(h, cur->deps[i].value))
            ADD("dep %s changed; ", cur->deps[i].key);
    }
    for (int i = 0; i < old->ndeps; i++)
        if (!kv_get(cur->deps, cur->ndeps, old->deps[i].key))
            ADD("dep %s removed; ", old->deps[i].key);
    for (int i = 0; i < cur->nparams; i++) {
        const char *v = kv_get(old->params, old->nparams, cur->params[i].key);
        if (!v || strcmp(v, cur->params[i].value))
            ADD("param %s changed (%s -> %s); ", cur->params[i].key, v ? v : "unset",
                cur->params[i].value);
    }
    for (int i = 0; i < old->nparams; i++)
        if (!kv_get(cur->params, cur->nparams, old->params[i].key))
            ADD("param %s removed; ", old->params[i].key);
    if (o >= 2)
        buf[o - 2] = '\0';
    else
        snprintf(buf, n, "stage definition changed");
#undef ADD
    return buf;
}
