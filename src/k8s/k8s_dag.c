/*
 * k8s_dag.c - a DAG of steps as an Argo Workflow or as a set of Jobs.
 *
 * Key idea: both renderers share one preparation pass that turns step names
 * into DNS-1123 labels, resolves dependencies to indices, orders the steps
 * topologically (Kahn; a leftover step is on a cycle) and builds each step's
 * command. A step with inputs or outputs and a data remote runs as
 *   sh -c 'set -e; cairn data pull ...; STEP ARGV; cairn data push ...'
 * so the content-addressed cache is shared through the remote across
 * machines; the shell words are single-quoted. The Workflow keeps the DAG
 * (tasks with dependencies, retryStrategy, activeDeadlineSeconds); plain
 * Jobs cannot wait for each other, so each only carries a
 * cairn.dev/depends-on annotation.
 */
#include <stdio.h>
#include <string.h>

#include "k8s_internal.h"

#define DAG_TEMPLATE "cairn-dag"
#define PARAM_PREFIX "{{workflow.parameters."

typedef struct prep {
    char label[64]; /* step name as a DNS-1123 label */
    char job[64];   /* DAG-STEP, for the Jobs renderer */
    size_t *deps;   /* indices of the steps it depends on */
    size_t ndeps;
} prep;

typedef struct plan {
    const cairn_k8s_dag *dag;
    char name[64]; /* the DAG's name as a label */
    prep *steps;
    size_t *order; /* topological order (dependencies first) */
} plan;

static void plan_free(plan *p)
{
    if (p->steps)
        for (size_t i = 0; i < p->dag->nsteps; i++)
            cairn_free(p->steps[i].deps);
    cairn_free(p->steps);
    cairn_free(p->order);
}

static int find_label(const plan *p, const char *label)
{
    for (size_t i = 0; i < p->dag->nsteps; i++)
        if (strcmp(p->steps[i].label, label) == 0) return (int)i;
    return -1;
}

/* Kahn's algorithm over p->steps; CAIRN_EINVALID naming a step on a cycle. */
static int plan_order(plan *p)
{
    size_t n = p->dag->nsteps, done = 0;
    size_t *indeg = cairn_calloc(n, sizeof(size_t));
    p->order = cairn_calloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        indeg[i] = p->steps[i].ndeps;
    /* repeated scans keep file order among ready steps; n is small */
    int progress = 1;
    char *placed = cairn_calloc(n, 1);
    while (done < n && progress) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (placed[i] || indeg[i]) continue;
            placed[i] = 1;
            p->order[done++] = i;
            progress = 1;
            for (size_t j = 0; j < n; j++)
                for (size_t k = 0; k < p->steps[j].ndeps; k++)
                    if (p->steps[j].deps[k] == i) indeg[j]--;
        }
    }
    int rc = 0;
    if (done < n) {
        size_t i = 0;
        while (placed[i])
            i++;
        rc = cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "step '%s' is on a dependency cycle",
                             p->dag->steps[i].name);
    }
    cairn_free(placed);
    cairn_free(indeg);
    return rc;
}

/* Validates dag and fills p. On failure p is freed by the caller. */
static int plan_build(plan *p, const cairn_k8s_dag *dag)
{
    memset(p, 0, sizeof(*p));
    p->dag = dag;
    if (!dag || !dag->name || dag->nsteps == 0 || !dag->steps)
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "a dag needs a name and steps");
    int rc = cairn_k8s_label_name(dag->name, p->name, sizeof(p->name));
    if (rc) return rc;
    if (strcmp(p->name, dag->name))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "dag name '%s' is not a DNS-1123 label (try '%s')", dag->name,
                               p->name);
    p->steps = cairn_calloc(dag->nsteps, sizeof(prep));
    for (size_t i = 0; i < dag->nsteps; i++) {
        const cairn_k8s_step *s = &dag->steps[i];
        if (!s->name) return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "step %zu has no name", i);
        if (s->argc == 0 || !s->argv)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "step '%s' has no command", s->name);
        rc = cairn_k8s_label_name(s->name, p->steps[i].label, 64);
        if (rc) return rc;
        if (strcmp(p->steps[i].label, DAG_TEMPLATE) == 0)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "step name '%s' is reserved for the dag template", s->name);
        char job[160];
        snprintf(job, sizeof(job), "%s-%s", p->name, p->steps[i].label);
        rc = cairn_k8s_label_name(job, p->steps[i].job, 64);
        if (rc) return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->steps[j].label, p->steps[i].label) == 0 ||
                strcmp(p->steps[j].job, p->steps[i].job) == 0)
                return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                       "steps '%s' and '%s' have the same kubernetes name '%s'",
                                       dag->steps[j].name, s->name, p->steps[i].job);
        }
    }
    for (size_t i = 0; i < dag->nsteps; i++) {
        const cairn_k8s_step *s = &dag->steps[i];
        p->steps[i].deps = cairn_calloc(s->ndepends + 1, sizeof(size_t));
        for (size_t k = 0; k < s->ndepends; k++) {
            int j = -1;
            for (size_t m = 0; m < dag->nsteps && j < 0; m++)
                if (s->depends[k] && strcmp(dag->steps[m].name, s->depends[k]) == 0) j = (int)m;
            if (j < 0 && s->depends[k]) {
                char l[64];
                if (cairn_k8s_label_name(s->depends[k], l, sizeof(l)) == 0) j = find_label(p, l);
                cairn_error_clear();
            }
            if (j < 0)
                return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                       "step '%s' depends on unknown step '%s'", s->name,
                                       s->depends[k] ? s->depends[k] : "");
            int dup = 0;
            for (size_t m = 0; m < p->steps[i].ndeps; m++)
                dup |= p->steps[i].deps[m] == (size_t)j;
            if (!dup) p->steps[i].deps[p->steps[i].ndeps++] = (size_t)j;
        }
    }
    return plan_order(p);
}

int cairn_k8s_shell_word(cairn_buf *b, const char *s)
{
    if (*s &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:@%+,-") ==
            strlen(s))
        return cairn_buf_puts(b, s);
    int rc = cairn_buf_putc(b, '\'');
    for (const char *p = s; *p && rc == 0; p++)
        rc = *p == '\'' ? cairn_buf_puts(b, "'\\''") : cairn_buf_putc(b, *p);
    return rc ? rc : cairn_buf_putc(b, '\'');
}

/*
 * Appends s with each {{workflow.parameters.P}} replaced by P's value when
 * substitute, else checks that each referenced P is declared.
 */
static int put_arg(cairn_buf *b, const cairn_k8s_dag *d, const char *step, const char *s,
                   int substitute)
{
    const char *p = s;
    int rc = 0;
    while (rc == 0 && *p) {
        const char *ref = strstr(p, PARAM_PREFIX);
        if (!ref) return cairn_buf_puts(b, p);
        const char *nm = ref + strlen(PARAM_PREFIX), *end = strstr(nm, "}}");
        if (!end) return cairn_buf_puts(b, p);
        const char *val = NULL;
        for (size_t i = 0; i < d->nparameters && !val; i++)
            if (strlen(d->parameters[i].key) == (size_t)(end - nm) &&
                strncmp(d->parameters[i].key, nm, (size_t)(end - nm)) == 0)
                val = d->parameters[i].value ? d->parameters[i].value : "";
        if (!val)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "step '%s' refers to undeclared parameter '%.*s'", step,
                                   (int)(end - nm), nm);
        rc = cairn_buf_put(b, p, (size_t)((substitute ? ref : end + 2) - p));
        if (rc == 0 && substitute) rc = cairn_buf_puts(b, val);
        p = end + 2;
    }
    return rc;
}

/* A string array built by step_command; free with strv_free. */
typedef struct strv {
    char **v;
    size_t n;
} strv;

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        cairn_free(s->v[i]);
    cairn_free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int put_sync(cairn_buf *b, const cairn_k8s_dag *d, const char *verb,
                    const char *const *paths, size_t n)
{
    if (n == 0) return 0;
    int rc = cairn_k8s_shell_word(b, d->cairn_bin ? d->cairn_bin : "cairn");
    if (rc == 0) rc = cairn_buf_printf(b, " data %s --remote ", verb);
    if (rc == 0) rc = cairn_k8s_shell_word(b, d->remote);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = cairn_buf_putc(b, ' ');
        if (rc == 0) rc = cairn_k8s_shell_word(b, paths[i]);
    }
    return rc ? rc : cairn_buf_putc(b, '\n');
}

/* The container command of step s: its argv, or the pull/run/push wrapper
 * when the DAG has a remote and s has inputs or outputs. On failure *out
 * is left empty. */
static int step_command(const cairn_k8s_dag *d, const cairn_k8s_step *s, int substitute, strv *out)
{
    int rc = 0;
    cairn_buf b = CAIRN_BUF_INIT(0);
    int wrap = d->remote && (s->ninputs || s->noutputs);
    out->v = cairn_calloc(wrap ? 3 : s->argc, sizeof(char *));
    if (!wrap) {
        for (size_t i = 0; i < s->argc && rc == 0; i++) {
            cairn_buf_reset(&b);
            rc = put_arg(&b, d, s->name, s->argv[i] ? s->argv[i] : "", substitute);
            if (rc == 0) out->v[out->n++] = cairn_strdup(cairn_buf_cstr(&b));
        }
        cairn_buf_free(&b);
        if (rc) strv_free(out);
        return rc;
    }
    rc = cairn_buf_puts(&b, "set -e\n");
    if (rc == 0) rc = put_sync(&b, d, "pull", s->inputs, s->ninputs);
    cairn_buf arg = CAIRN_BUF_INIT(0);
    for (size_t i = 0; i < s->argc && rc == 0; i++) {
        cairn_buf_reset(&arg);
        rc = put_arg(&arg, d, s->name, s->argv[i] ? s->argv[i] : "", substitute);
        if (rc == 0 && i > 0) rc = cairn_buf_putc(&b, ' ');
        if (rc == 0) rc = cairn_k8s_shell_word(&b, cairn_buf_cstr(&arg));
    }
    cairn_buf_free(&arg);
    if (rc == 0) rc = cairn_buf_putc(&b, '\n');
    if (rc == 0) rc = put_sync(&b, d, "push", s->outputs, s->noutputs);
    if (rc == 0) {
        out->v[out->n++] = cairn_strdup("sh");
        out->v[out->n++] = cairn_strdup("-c");
        out->v[out->n++] = cairn_strdup(cairn_buf_cstr(&b));
    }
    cairn_buf_free(&b);
    if (rc) strv_free(out);
    return rc;
}

static int resources_set(const cairn_k8s_resources *r)
{
    return r->cpu_request || r->cpu_limit || r->memory_request || r->memory_limit || r->gpu;
}

/* Step s's workload: the DAG defaults overridden by the step's fields. */
static void step_workload(const cairn_k8s_dag *d, const cairn_k8s_step *s, const strv *cmd,
                          cairn_k8s_workload *w)
{
    *w = d->defaults;
    w->command = (const char *const *)cmd->v;
    w->ncommand = cmd->n;
    w->args = NULL;
    w->nargs = 0;
    if (s->image) w->image = s->image;
    if (resources_set(&s->resources)) w->resources = s->resources;
    if (s->nnode_selector) {
        w->node_selector = s->node_selector;
        w->nnode_selector = s->nnode_selector;
    }
    if (s->ntolerations) {
        w->tolerations = s->tolerations;
        w->ntolerations = s->ntolerations;
    }
    w->restart_policy = NULL;
    w->backoff_limit = s->retries > 0 ? s->retries : 0;
    w->active_deadline_seconds = s->timeout_seconds;
}

/* Labels (or annotations) = base + extra, as a cairn_calloc'd array. */
static cairn_k8s_kv *kv_join(const cairn_k8s_kv *base, size_t nbase, const cairn_k8s_kv *extra,
                             size_t nextra, size_t *n_out)
{
    cairn_k8s_kv *kv = cairn_calloc(nbase + nextra + 1, sizeof(*kv));
    if (nbase) memcpy(kv, base, nbase * sizeof(*kv));
    if (nextra) memcpy(kv + nbase, extra, nextra * sizeof(*kv));
    *n_out = nbase + nextra;
    return kv;
}

/* ---- Argo Workflow ---- */

static json_t *retry_strategy(const cairn_k8s_dag *d, int retries)
{
    json_t *b = json_object();
    json_object_set_new(b, "duration", json_string(d->retry_backoff ? d->retry_backoff : "10s"));
    json_object_set_new(b, "factor",
                        json_integer(d->retry_backoff_factor > 0 ? d->retry_backoff_factor : 2));
    json_object_set_new(b, "maxDuration",
                        json_string(d->retry_backoff_max ? d->retry_backoff_max : "10m"));
    return json_pack("{s:I,s:s,s:o}", "limit", (json_int_t)retries, "retryPolicy", "Always",
                     "backoff", b);
}

/* The container template of step i. */
static int step_template(const plan *p, size_t i, json_t **out)
{
    const cairn_k8s_dag *d = p->dag;
    const cairn_k8s_step *s = &d->steps[i];
    strv cmd = {0};
    int rc = step_command(d, s, 0, &cmd);
    if (rc) return rc;
    cairn_k8s_workload w;
    step_workload(d, s, &cmd, &w);
    w.name = p->steps[i].label;
    rc = cairn_k8s__check_workload(&w);
    if (rc) {
        strv_free(&cmd);
        return rc;
    }
    json_t *t = json_object();
    json_object_set_new(t, "name", json_string(p->steps[i].label));
    cairn_k8s_kv extra[] = {{"cairn.dev/step", p->steps[i].label}};
    size_t nl;
    cairn_k8s_kv *labels = kv_join(w.labels, w.nlabels, extra, 1, &nl);
    json_object_set_new(t, "metadata",
                        json_pack("{s:o}", "labels", cairn_k8s__kv_object(labels, nl)));
    cairn_free(labels);
    if (s->retries > 0) json_object_set_new(t, "retryStrategy", retry_strategy(d, s->retries));
    if (s->timeout_seconds > 0)
        json_object_set_new(t, "activeDeadlineSeconds", json_integer(s->timeout_seconds));
    json_t *ns = cairn_k8s__kv_object(w.node_selector, w.nnode_selector);
    if (ns) json_object_set_new(t, "nodeSelector", ns);
    json_t *tol = cairn_k8s__tolerations(w.tolerations, w.ntolerations);
    if (tol) json_object_set_new(t, "tolerations", tol);
    json_object_set_new(t, "container", cairn_k8s__container(&w, "main"));
    strv_free(&cmd);
    *out = t;
    return 0;
}

/* Workflow-level PVC volumes (each distinct claim once). */
static json_t *workflow_volumes(const cairn_k8s_workload *w)
{
    json_t *vols = json_array(), *seen = json_object();
    for (size_t i = 0; i < w->nvolumes; i++) {
        char vn[64];
        if (w->volumes[i].name)
            snprintf(vn, sizeof(vn), "%s", w->volumes[i].name);
        else if (cairn_k8s_label_name(w->volumes[i].claim, vn, sizeof(vn)))
            snprintf(vn, sizeof(vn), "data");
        if (json_object_get(seen, vn)) continue;
        json_object_set_new(seen, vn, json_true());
        json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", vn, "persistentVolumeClaim",
                                              "claimName", w->volumes[i].claim));
    }
    json_decref(seen);
    return vols;
}

int cairn_k8s_render_workflow(const cairn_k8s_dag *dag, cairn_k8s_format fmt, cairn_buf *out)
{
    plan p;
    json_t *wf = NULL, *templates = NULL;
    int rc = plan_build(&p, dag);
    if (rc) goto cleanup;
    const cairn_k8s_workload *def = &dag->defaults;
    templates = json_array();
    json_t *tasks = json_array();
    json_array_append_new(templates,
                          json_pack("{s:s,s:{s:o}}", "name", DAG_TEMPLATE, "dag", "tasks", tasks));
    for (size_t k = 0; k < dag->nsteps; k++) {
        size_t i = p.order[k];
        json_t *t;
        rc = step_template(&p, i, &t);
        if (rc) goto cleanup;
        json_array_append_new(templates, t);
        json_t *task =
            json_pack("{s:s,s:s}", "name", p.steps[i].label, "template", p.steps[i].label);
        if (p.steps[i].ndeps) {
            json_t *deps = json_array();
            for (size_t m = 0; m < p.steps[i].ndeps; m++)
                json_array_append_new(deps, json_string(p.steps[p.steps[i].deps[m]].label));
            json_object_set_new(task, "dependencies", deps);
        }
        json_array_append_new(tasks, task);
    }
    wf = json_object();
    json_object_set_new(wf, "apiVersion", json_string("argoproj.io/v1alpha1"));
    json_object_set_new(wf, "kind", json_string("Workflow"));
    cairn_k8s_kv extra[] = {{"cairn.dev/pipeline", p.name}};
    size_t nl;
    cairn_k8s_kv *labels = kv_join(def->labels, def->nlabels, extra, 1, &nl);
    cairn_k8s_workload mw = *def;
    mw.labels = labels;
    mw.nlabels = nl;
    json_t *md = cairn_k8s__metadata(dag->fixed_name ? p.name : NULL, &mw);
    cairn_free(labels);
    if (!dag->fixed_name) { /* generateName first, where a reader looks for the name */
        char gen[80];
        snprintf(gen, sizeof(gen), "%s-", p.name);
        json_t *named = json_pack("{s:s}", "generateName", gen);
        json_object_update(named, md);
        json_decref(md);
        md = named;
    }
    json_object_set_new(wf, "metadata", md);
    json_t *spec = json_object();
    json_object_set_new(spec, "entrypoint", json_string(DAG_TEMPLATE));
    if (def->service_account)
        json_object_set_new(spec, "serviceAccountName", json_string(def->service_account));
    if (dag->active_deadline_seconds > 0)
        json_object_set_new(spec, "activeDeadlineSeconds",
                            json_integer(dag->active_deadline_seconds));
    if (dag->nparameters) {
        json_t *params = json_array();
        for (size_t i = 0; i < dag->nparameters; i++) {
            if (!dag->parameters[i].key || !*dag->parameters[i].key) {
                json_decref(params);
                json_decref(spec);
                rc = cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "parameter %zu has no name", i);
                goto cleanup;
            }
            json_t *pp = json_pack("{s:s}", "name", dag->parameters[i].key);
            if (dag->parameters[i].value)
                json_object_set_new(pp, "value", json_string(dag->parameters[i].value));
            json_array_append_new(params, pp);
        }
        json_object_set_new(spec, "arguments", json_pack("{s:o}", "parameters", params));
    }
    if (def->nvolumes) json_object_set_new(spec, "volumes", workflow_volumes(def));
    json_object_set(spec, "templates", templates);
    json_object_set_new(wf, "spec", spec);
    rc = cairn_k8s__emit(&wf, 1, fmt, out);
cleanup:
    json_decref(templates);
    json_decref(wf);
    plan_free(&p);
    return rc;
}

/* ---- Jobs ---- */

/* The Job of step i; dependencies named in an annotation. */
static int step_job(const plan *p, size_t i, json_t **out)
{
    const cairn_k8s_dag *d = p->dag;
    const cairn_k8s_step *s = &d->steps[i];
    strv cmd = {0};
    int rc = step_command(d, s, 1, &cmd);
    if (rc) return rc;
    cairn_k8s_workload w;
    step_workload(d, s, &cmd, &w);
    w.name = p->steps[i].job;
    cairn_buf deps = CAIRN_BUF_INIT(0);
    for (size_t m = 0; m < p->steps[i].ndeps && rc == 0; m++)
        rc = cairn_buf_printf(&deps, "%s%s", m ? "," : "", p->steps[p->steps[i].deps[m]].job);
    cairn_k8s_kv lx[] = {{"cairn.dev/pipeline", p->name}, {"cairn.dev/step", p->steps[i].label}};
    cairn_k8s_kv ax[] = {{"cairn.dev/step-name", s->name},
                         {"cairn.dev/depends-on", cairn_buf_cstr(&deps)}};
    size_t nl, na;
    cairn_k8s_kv *labels = kv_join(w.labels, w.nlabels, lx, 2, &nl);
    cairn_k8s_kv *annots = kv_join(w.annotations, w.nannotations, ax, 2, &na);
    w.labels = labels;
    w.nlabels = nl;
    w.annotations = annots;
    w.nannotations = na;
    if (rc == 0) rc = cairn_k8s__check_workload(&w);
    if (rc == 0) *out = cairn_k8s__job(&w, w.name);
    cairn_free(labels);
    cairn_free(annots);
    cairn_buf_free(&deps);
    strv_free(&cmd);
    return rc;
}

int cairn_k8s_render_jobs(const cairn_k8s_dag *dag, cairn_k8s_format fmt, cairn_buf *out)
{
    plan p;
    json_t **docs = NULL;
    size_t ndocs = 0;
    int rc = plan_build(&p, dag);
    if (rc) goto cleanup;
    docs = cairn_calloc(dag->nsteps, sizeof(json_t *));
    for (size_t k = 0; k < dag->nsteps && rc == 0; k++) {
        rc = step_job(&p, p.order[k], &docs[ndocs]);
        if (rc == 0) ndocs++;
    }
    if (rc == 0) rc = cairn_k8s__emit(docs, ndocs, fmt, out);
cleanup:
    for (size_t i = 0; i < ndocs; i++)
        json_decref(docs[i]);
    cairn_free(docs);
    plan_free(&p);
    return rc;
}
