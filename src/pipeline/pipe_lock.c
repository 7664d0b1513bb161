/*
 * pipe_lock.c - cairn.lock: what each stage last ran with and produced.
 *
 * YAML, one mapping per stage: cmd, key (the cache key), deps and outs as
 * lists of {path, hash} (outs that are directories carry "type: dir"), and
 * params. It is written whole to a temp file and renamed after every stage
 * that succeeds, so a failure later in the run keeps earlier results.
 * Directory outs are held in memory with a "d:" prefix on the hash.
 */
#include "cairn/core.h"
#include "pipe_int.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

static void put_q(cairn_buf *b, const char *s)
{
    cairn_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            cairn_buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            cairn_buf_puts(b, "\\n");
        else if (ch == '\t')
            cairn_buf_puts(b, "\\t");
        else if (ch < 0x20)
            cairn_buf_printf(b, "\\x%02x", ch);
        else
            cairn_buf_putc(b, (char)ch);
    }
    cairn_buf_putc(b, '"');
}

int cairn_pipeline__lock_write(const pipe_lock *lk, const char *path)
{
    cairn_buf b = CAIRN_BUF_INIT(0);
    cairn_buf_puts(
        &b, "# cairn.lock - written by `cairn pipeline run`; do not edit\nschema: 1\nstages:\n");
    for (int i = 0; i < lk->n; i++) {
        const pipe_lock_entry *e = &lk->e[i];
        cairn_buf_puts(&b, "  ");
        put_q(&b, e->stage);
        cairn_buf_puts(&b, ":\n    cmd: ");
        put_q(&b, e->cmd ? e->cmd : "");
        cairn_buf_printf(&b, "\n    key: %s\n    deps:%s\n", e->key ? e->key : "",
                         e->ndeps ? "" : " []");
        for (int j = 0; j < e->ndeps; j++) {
            cairn_buf_puts(&b, "      - path: ");
            put_q(&b, e->deps[j].key);
            cairn_buf_printf(&b, "\n        hash: %s\n", e->deps[j].value);
        }
        cairn_buf_printf(&b, "    outs:%s\n", e->nouts ? "" : " []");
        for (int j = 0; j < e->nouts; j++) {
            bool dir = !strncmp(e->outs[j].value, "d:", 2);
            cairn_buf_puts(&b, "      - path: ");
            put_q(&b, e->outs[j].key);
            cairn_buf_printf(&b, "\n        hash: %s\n%s", e->outs[j].value + (dir ? 2 : 0),
                             dir ? "        type: dir\n" : "");
        }
        cairn_buf_printf(&b, "    params:%s\n", e->nparams ? "" : " {}");
        for (int j = 0; j < e->nparams; j++) {
            cairn_buf_puts(&b, "      ");
            put_q(&b, e->params[j].key);
            cairn_buf_puts(&b, ": ");
            put_q(&b, e->params[j].value);
            cairn_buf_putc(&b, '\n');
        }
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f)
        rc = PERR(CAIRN_EIO, "cannot write '%s'", tmp);
    else {
        bool ok = fwrite(b.ptr, 1, b.len, f) == b.len;
        if (fclose(f) || !ok || rename(tmp, path)) {
            unlink(tmp);
            rc = PERR(CAIRN_EIO, "cannot write '%s'", path);
        }
    }
    cairn_buf_free(&b);
    return rc;
}

static const char *sc(yaml_document_t *d, int id)
{
    yaml_node_t *n = yaml_document_get_node(d, id);
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void kv_add(cairn_pipeline_kv **kv, int *n, const char *k, const char *v)
{
    *kv = cairn_realloc(*kv, sizeof(**kv) * (size_t)(*n + 1));
    (*kv)[*n].key = cairn_strdup(k);
    (*kv)[*n].value = cairn_strdup(v);
    (*n)++;
}

/* Reads a list of {path, hash[, type]} into kv. */
static void read_files(yaml_document_t *d, yaml_node_t *seq, cairn_pipeline_kv **kv, int *n)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE) return;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *m = yaml_document_get_node(d, *it);
        if (!m || m->type != YAML_MAPPING_NODE) continue;
        const char *path = NULL, *hash = NULL, *type = NULL;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            const char *k = sc(d, p->key), *v = sc(d, p->value);
            if (!k || !v) continue;
            if (!strcmp(k, "path"))
                path = v;
            else if (!strcmp(k, "hash"))
                hash = v;
            else if (!strcmp(k, "type"))
                type = v;
        }
        if (!path || !hash) continue;
        char hv[80];
        snprintf(hv, sizeof(hv), "%s%s", type && !strcmp(type, "dir") ? "d:" : "", hash);
        kv_add(kv, n, path, hv);
    }
}

int cairn_pipeline__lock_read(pipe_lock *lk, const char *path)
{
    memset(lk, 0, sizeof(*lk));
    cairn_buf b = CAIRN_BUF_INIT(64u << 20);
    if (cairn_read_file(path, &b)) {
        cairn_buf_free(&b);
        return 0; /* no lock yet */
    }
    yaml_parser_t ps;
    yaml_document_t d;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)(b.ptr ? b.ptr : ""), b.len);
    int rc = 0;
    if (!yaml_parser_load(&ps, &d)) {
        rc = PERR(CAIRN_ECORRUPT, "%s:%d: %s", path, (int)ps.problem_mark.line + 1,
                  ps.problem ? ps.problem : "bad yaml");
        yaml_parser_delete(&ps);
        cairn_buf_free(&b);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d), *stages = NULL;
    if (root && root->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++)
            if (sc(&d, p->key) && !strcmp(sc(&d, p->key), "stages"))
                stages = yaml_document_get_node(&d, p->value);
    if (stages && stages->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = stages->data.mapping.pairs.start;
             p < stages->data.mapping.pairs.top; p++) {
            yaml_node_t *m = yaml_document_get_node(&d, p->value);
            if (!sc(&d, p->key) || !m || m->type != YAML_MAPPING_NODE) continue;
            pipe_lock_entry e = {0};
            e.stage = cairn_strdup(sc(&d, p->key));
            for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top;
                 q++) {
                const char *k = sc(&d, q->key);
                yaml_node_t *v = yaml_document_get_node(&d, q->value);
                if (!k) continue;
                if (!strcmp(k, "cmd") && sc(&d, q->value))
                    e.cmd = cairn_strdup(sc(&d, q->value));
                else if (!strcmp(k, "key") && sc(&d, q->value))
                    e.key = cairn_strdup(sc(&d, q->value));
                else if (!strcmp(k, "deps"))
                    read_files(&d, v, &e.deps, &e.ndeps);
                else if (!strcmp(k, "outs"))
                    read_files(&d, v, &e.outs, &e.nouts);
                else if (!strcmp(k, "params") && v && v->type == YAML_MAPPING_NODE)
                    for (yaml_node_pair_t *r = v->data.mapping.pairs.start;
                         r < v->data.mapping.pairs.top; r++)
                        if (sc(&d, r->key) && sc(&d, r->value))
                            kv_add(&e.params, &e.nparams, sc(&d, r->key), sc(&d, r->value));
            }
            cairn_pipeline__lock_put(lk, &e);
        }
    yaml_document_delete(&d);
    yaml_parser_delete(&ps);
    cairn_buf_free(&b);
    return 0;
}

pipe_lock_entry *cairn_pipeline__lock_find(pipe_lock *lk, const char *stage)
{
    for (int i = 0; i < lk->n; i++)
        if (!strcmp(lk->e[i].stage, stage)) return &lk->e[i];
    return NULL;
}

void cairn_pipeline__lock_entry_free(pipe_lock_entry *e)
{
    cairn_free(e->stage);
    cairn_free(e->cmd);
    cairn_free(e->key);
    cairn_pipeline__kv_free(e->deps, e->ndeps);
    cairn_pipeline__kv_free(e->outs, e->nouts);
    cairn_pipeline__kv_free(e->params, e->nparams);
    memset(e, 0, sizeof(*e));
}

void cairn_pipeline__lock_put(pipe_lock *lk, pipe_lock_entry *e)
{
    pipe_lock_entry *old = cairn_pipeline__lock_find(lk, e->stage);
    if (old) {
        cairn_pipeline__lock_entry_free(old);
        *old = *e;
    } else {
        if (lk->n == lk->cap) {
            lk->cap = lk->cap ? lk->cap * 2 : 16;
            lk->e = cairn_realloc(lk->e, sizeof(*lk->e) * (size_t)lk->cap);
        }
        lk->e[lk->n++] = *e;
    }
    memset(e, 0, sizeof(*e));
}

void cairn_pipeline__lock_free(pipe_lock *lk)
{
    for (int i = 0; i < lk->n; i++)
        cairn_pipeline__lock_entry_free(&lk->e[i]);
    cairn_free(lk->e);
    memset(lk, 0, sizeof(*lk));
}
