/*
 * pipe_dag.c - the stage graph: an edge runs from the stage that lists a
 * path in outs to every stage that lists it (or a path inside it) in deps.
 *
 * Kahn's algorithm gives the order, taking ready stages in file order so
 * the result is stable; whatever it cannot order lies on or behind a
 * cycle, which a walk along upstream edges then names stage by stage.
 */
#include "pipe_int.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* True when dep is out or lies inside the directory out. */
static bool covers(const char *out, const char *dep)
{
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    return !strncmp(out, dep, n) && (dep[n] == '\0' || (dep[n] == '/'));
}

static void add_up(cairn_pipeline_stage *s, int j)
{
    for (int k = 0; k < s->nupstream; k++)
        if (s->upstream[k] == j) return;
    s->upstream = cairn_realloc(s->upstream, sizeof(int) * (size_t)(s->nupstream + 1));
    s->upstream[s->nupstream++] = j;
}

/* Names one cycle reachable upstream from stage i. */
static int report_cycle(cairn_pipeline *p, const int *done, int i)
{
    int *seen = cairn_calloc((size_t)p->nstages, sizeof(int));
    int *path = cairn_calloc((size_t)p->nstages + 1, sizeof(int));
    int n = 0, cur = i;
    while (!seen[cur]) {
        seen[cur] = n + 1;
        path[n++] = cur;
        int next = -1;
        for (int k = 0; k < p->stages[cur].nupstream; k++)
            if (!done[p->stages[cur].upstream[k]]) next = p->stages[cur].upstream[k];
        if (next < 0) break;
        cur = next;
    }
    char msg[200] = "";
    size_t o = 0;
    int start = seen[cur] - 1;
    /* path[start..n) is the cycle walked upstream; print it downstream. */
    for (int k = n - 1; k >= start; k--) {
        int w = snprintf(msg + o, sizeof(msg) - o, "%s -> ", p->stages[path[k]].name);
        if (w > 0 && (size_t)w < sizeof(msg) - o) o += (size_t)w;
    }
    snprintf(msg + o, sizeof(msg) - o, "%s", p->stages[path[n - 1]].name);
    int rc = PERR(CAIRN_EINVALID, "%s:%d: cycle: %s", p->fname, p->stages[cur].line, msg);
    cairn_free(seen);
    cairn_free(path);
    return rc;
}

int cairn_pipeline__build_graph(cairn_pipeline *p)
{
    /* Two stages may not produce the same out. */
    for (int i = 0; i < p->nstages; i++)
        for (int o = 0; o < p->stages[i].nouts; o++)
            for (int j = 0; j < i; j++)
                for (int q = 0; q < p->stages[j].nouts; q++)
                    if (covers(p->stages[j].outs[q], p->stages[i].outs[o]) ||
                        covers(p->stages[i].outs[o], p->stages[j].outs[q]))
                        return PERR(CAIRN_EINVALID,
                                    "%s:%d: out '%s' of stage '%s' overlaps out '%s' of stage '%s'",
                                    p->fname, p->stages[i].line, p->stages[i].outs[o],
                                    p->stages[i].name, p->stages[j].outs[q], p->stages[j].name);
    for (int i = 0; i < p->nstages; i++) {
        cairn_pipeline_stage *s = &p->stages[i];
        for (int d = 0; d < s->ndeps; d++) {
            bool found = false;
            for (int j = 0; j < p->nstages; j++)
                for (int o = 0; o < p->stages[j].nouts; o++)
                    if (covers(p->stages[j].outs[o], s->deps[d])) {
                        found = true;
                        add_up(s, j);
                    }
            if (found) continue;
            char path[4096];
            struct stat stt;
            snprintf(path, sizeof(path), "%s/%s", p->dir, s->deps[d]);
            if (stat(path, &stt))
                return PERR(CAIRN_EINVALID,
                            "%s:%d: stage '%s': dep '%s' does not exist and no stage produces it",
                            p->fname, s->dep_lines ? s->dep_lines[d] : s->line, s->name,
                            s->deps[d]);
        }
    }
    int n = p->nstages;
    p->order = cairn_calloc((size_t)(n ? n : 1), sizeof(int));
    int *done = cairn_calloc((size_t)(n ? n : 1), sizeof(int));
    int k = 0;
    for (bool progress = true; progress && k < n;) {
        progress = false;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            bool ready = true;
            for (int u = 0; u < p->stages[i].nupstream; u++)
                if (!done[p->stages[i].upstream[u]] || p->stages[i].upstream[u] == i) ready = false;
            if (!ready) continue;
            done[i] = 1;
            p->order[k++] = i;
            progress = true;
        }
    }
    int rc = 0;
    if (k < n)
        for (int i = 0; i < n; i++)
            if (!done[i]) {
                rc = report_cycle(p, done, i);
                break;
            }
    cairn_free(done);
    return rc;
}
