/*
 * cmd_pipeline_export.c - `cairn pipeline export --to argo|k8s`: a loaded
 * pipeline (cairn.yaml) as an Argo Workflow or as one Kubernetes Job per
 * stage.
 *
 * Key idea: each stage becomes a step of the k8s module's neutral DAG whose
 * command is `cairn pipeline run STAGE --no-deps` (the stage alone, its
 * cache checked as usual), wrapped, when a data remote is named, between
 * `cairn data pull --remote R INPUTS` and `cairn data push --remote R
 * OUTPUTS`. Inputs are the deps that an upstream stage produces or that are
 * data-versioned (a DEP.cairn pointer exists); other deps (code) are
 * expected in the image or the workspace volume. Outputs are outs and
 * metrics. So each pod starts from the remote and leaves its results there,
 * and the cache works across machines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/k8s.h"
#include "cairn/pipeline.h"
#include "cli.h"

int cmd_pipeline_export(int argc, char **argv, cairn_config *cfg);
void cmd_pipeline_export_help(void);

#define MAX_REPEAT 32

void cmd_pipeline_export_help(void)
{
    printf("usage: cairn pipeline export --to argo|k8s [--file cairn.yaml] [--name NAME]\n"
           "         [--image IMAGE] [--remote NAME] [--secret S3_SECRET] [--pvc CLAIM:/MOUNT]...\n"
           "         [--workdir DIR] [--namespace NS] [--service-account SA]\n"
           "         [--param KEY=DEFAULT]... [--set key=value]... [--deadline SECONDS]\n"
           "         [--cairn BIN] [--json] [--out FILE]\n"
           "\n"
           "Writes the pipeline as an Argo Workflow (a DAG of container templates with\n"
           "retry strategies and deadlines) or as one batch/v1 Job per stage (annotated\n"
           "cairn.dev/depends-on; plain Jobs do not wait for each other: use Argo for\n"
           "ordering). Each step runs `cairn pipeline run STAGE --no-deps`; with --remote\n"
           "it first pulls its inputs and afterwards pushes its outputs (cairn data pull/push).\n"
           "--param declares a workflow parameter passed to every stage as --set KEY=VALUE.\n"
           "Stage image, resources, node_selector and tolerations come from cairn.yaml;\n"
           "--image is the default image.\n");
}

typedef struct export_opts {
    const char *to, *file, *name, *image, *remote, *secret, *workdir, *ns, *sa, *cairn, *out;
    long deadline;
    int json;
    cairn_k8s_kv params[MAX_REPEAT];
    size_t nparams;
    cairn_pipeline_kv sets[MAX_REPEAT];
    int nsets;
    cairn_k8s_volume vols[MAX_REPEAT];
    size_t nvols;
} export_opts;

static int parse_args(int argc, char **argv, export_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cmd_pipeline_export_help();
            return 1;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("pipeline export: %s needs a value", a);
        char *v = argv[++i];
        char *eq = strchr(v, '=');
        if (!strcmp(a, "--to"))
            o->to = v;
        else if (!strcmp(a, "--file"))
            o->file = v;
        else if (!strcmp(a, "--name"))
            o->name = v;
        else if (!strcmp(a, "--image"))
            o->image = v;
        else if (!strcmp(a, "--remote"))
            o->remote = v;
        else if (!strcmp(a, "--secret"))
            o->secret = v;
        else if (!strcmp(a, "--workdir"))
            o->workdir = v;
        else if (!strcmp(a, "--namespace"))
            o->ns = v;
        else if (!strcmp(a, "--service-account"))
            o->sa = v;
        else if (!strcmp(a, "--cairn"))
            o->cairn = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--deadline")) {
            char *end;
            o->deadline = strtol(v, &end, 10);
            if (*end || o->deadline <= 0) return cli_usage_error("--deadline needs seconds");
        } else if (!strcmp(a, "--param") || !strcmp(a, "--set")) {
            if (!eq || eq == v) return cli_usage_error("%s needs KEY=VALUE", a);
            *eq = '\0';
            if (a[2] == 'p') {
                if (o->nparams == MAX_REPEAT) return cli_usage_error("too many --param");
                o->params[o->nparams++] = (cairn_k8s_kv){v, eq + 1};
            } else {
                if (o->nsets == MAX_REPEAT) return cli_usage_error("too many --set");
                o->sets[o->nsets++] = (cairn_pipeline_kv){v, eq + 1};
            }
        } else if (!strcmp(a, "--pvc")) {
            char *colon = strchr(v, ':');
            if (!colon || colon == v || o->nvols == MAX_REPEAT)
                return cli_usage_error("--pvc needs CLAIM:/MOUNT");
            *colon = '\0';
            o->vols[o->nvols++] = (cairn_k8s_volume){NULL, v, colon + 1, 0};
        } else {
            return cli_usage_error("pipeline export: unknown option %s", a);
        }
    }
    if (!o->to || (strcmp(o->to, "argo") && strcmp(o->to, "k8s")))
        return cli_usage_error("pipeline export: --to argo or --to k8s is required");
    return 0;
}

/* Per-stage arrays that the DAG step borrows; freed by step_free. */
typedef struct step_mem {
    const char **argv, **inputs, **outputs, **depends;
    char **owned; /* strings made here (--set KEY={{...}}) */
    size_t nowned;
    cairn_k8s_kv *nsel;
    cairn_k8s_toleration *tols;
} step_mem;

static void step_free(step_mem *m)
{
    for (size_t i = 0; i < m->nowned; i++)
        cairn_free(m->owned[i]);
    cairn_free(m->owned);
    cairn_free(m->argv);
    cairn_free(m->inputs);
    cairn_free(m->outputs);
    cairn_free(m->depends);
    cairn_free(m->nsel);
    cairn_free(m->tols);
}

/* True when path (relative to dir) has a data pointer beside it. */
static int has_pointer(const char *dir, const char *path)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s/%s.cairn", dir, path) >= (int)sizeof(p)) return 0;
    return access(p, F_OK) == 0;
}

/* Fills step s (and its memory m) from stage i of pl. */
static void stage_to_step(const cairn_pipeline *pl, int i, const export_opts *o, cairn_k8s_step *s,
                          step_mem *m)
{
    const cairn_pipeline_stage *st = cairn_pipeline_stage_at(pl, i);
    memset(s, 0, sizeof(*s));
    s->name = st->name;
    /* cairn pipeline run STAGE --no-deps [--file F] [--set K={{workflow.parameters.K}}]... */
    m->argv = cairn_calloc(7 + 2 * o->nparams, sizeof(char *));
    m->owned = cairn_calloc(o->nparams + 1, sizeof(char *));
    size_t n = 0;
    m->argv[n++] = o->cairn ? o->cairn : "cairn";
    m->argv[n++] = "pipeline";
    m->argv[n++] = "run";
    m->argv[n++] = st->name;
    m->argv[n++] = "--no-deps";
    if (o->file) {
        m->argv[n++] = "--file";
        m->argv[n++] = o->file;
    }
    for (size_t k = 0; k < o->nparams; k++) {
        size_t len = strlen(o->params[k].key) * 2 + 32;
        char *arg = cairn_malloc(len);
        snprintf(arg, len, "%s={{workflow.parameters.%s}}", o->params[k].key, o->params[k].key);
        m->owned[m->nowned++] = arg;
        m->argv[n++] = "--set";
        m->argv[n++] = arg;
    }
    s->argv = m->argv;
    s->argc = n;
    /* dependencies and inputs */
    m->depends = cairn_calloc((size_t)st->nupstream + 1, sizeof(char *));
    for (int k = 0; k < st->nupstream; k++)
        m->depends[s->ndepends++] = cairn_pipeline_stage_at(pl, st->upstream[k])->name;
    s->depends = m->depends;
    m->inputs = cairn_calloc((size_t)st->ndeps + 1, sizeof(char *));
    for (int k = 0; k < st->ndeps; k++) {
        int produced = 0;
        for (int u = 0; u < st->nupstream && !produced; u++) {
            const cairn_pipeline_stage *up = cairn_pipeline_stage_at(pl, st->upstream[u]);
            for (int q = 0; q < up->nouts && !produced; q++)
                produced = !strcmp(up->outs[q], st->deps[k]);
        }
        if (produced || has_pointer(cairn_pipeline_dir(pl), st->deps[k]))
            m->inputs[s->ninputs++] = st->deps[k];
    }
    s->inputs = m->inputs;
    m->outputs = cairn_calloc((size_t)(st->nouts + st->nmetrics) + 1, sizeof(char *));
    for (int k = 0; k < st->nouts; k++)
        m->outputs[s->noutputs++] = st->outs[k];
    for (int k = 0; k < st->nmetrics; k++)
        m->outputs[s->noutputs++] = st->metrics[k];
    s->outputs = m->outputs;
    /* limits and placement */
    s->retries = st->retries;
    s->timeout_seconds = (long)((st->timeout_ms + 999) / 1000);
    s->image = st->image;
    s->resources.cpu_request = st->cpu;
    s->resources.memory_request = s->resources.memory_limit = st->memory;
    s->resources.gpu = st->gpu;
    m->nsel = cairn_calloc((size_t)st->nnode_selector + 1, sizeof(cairn_k8s_kv));
    for (int k = 0; k < st->nnode_selector; k++)
        m->nsel[k] = (cairn_k8s_kv){st->node_selector[k].key, st->node_selector[k].value};
    s->node_selector = m->nsel;
    s->nnode_selector = (size_t)st->nnode_selector;
    m->tols = cairn_calloc((size_t)st->ntolerations + 1, sizeof(cairn_k8s_toleration));
    for (int k = 0; k < st->ntolerations; k++) {
        const cairn_pipeline_toleration *t = &st->tolerations[k];
        m->tols[k] = (cairn_k8s_toleration){t->key, t->op, t->value, t->effect};
    }
    s->tolerations = m->tols;
    s->ntolerations = (size_t)st->ntolerations;
}

/* The DAG name: --name, else the pipeline directory's base name. */
static int dag_name(const cairn_pipeline *pl, const export_opts *o, char out[64])
{
    if (o->name) return cairn_k8s_label_name(o->name, out, 64);
    const char *dir = cairn_pipeline_dir(pl);
    char abs[4096];
    if (!realpath(dir, abs)) snprintf(abs, sizeof(abs), "%s", dir);
    const char *base = strrchr(abs, '/');
    base = base && base[1] ? base + 1 : "pipeline";
    if (cairn_k8s_label_name(base, out, 64)) {
        cairn_error_clear();
        snprintf(out, 64, "pipeline");
    }
    return 0;
}

int cmd_pipeline_export(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    export_opts o;
    memset(&o, 0, sizeof(o));
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : prc;
    cairn_pipeline *pl = NULL;
    int rc = cairn_pipeline_load(&pl, o.file ? o.file : "cairn.yaml", o.sets, o.nsets);
    if (rc) return cli_fail();
    int n = cairn_pipeline_nstages(pl);
    cairn_k8s_step *steps = cairn_calloc((size_t)n + 1, sizeof(*steps));
    step_mem *mem = cairn_calloc((size_t)n + 1, sizeof(*mem));
    const int *order = cairn_pipeline_order(pl);
    for (int k = 0; k < n; k++)
        stage_to_step(pl, order[k], &o, &steps[k], &mem[k]);
    char name[64];
    const char *secrets[1] = {o.secret};
    cairn_k8s_dag d = {0};
    rc = dag_name(pl, &o, name);
    d.name = name;
    d.steps = steps;
    d.nsteps = (size_t)n;
    d.defaults = (cairn_k8s_workload)CAIRN_K8S_WORKLOAD_INIT;
    d.defaults.image = o.image;
    d.defaults.namespace_ = o.ns;
    d.defaults.service_account = o.sa;
    d.defaults.working_dir = o.workdir;
    d.defaults.volumes = o.vols;
    d.defaults.nvolumes = o.nvols;
    if (o.secret) {
        d.defaults.env_from_secrets = secrets;
        d.defaults.nenv_from_secrets = 1;
    }
    d.remote = o.remote;
    d.cairn_bin = o.cairn;
    d.parameters = o.params;
    d.nparameters = o.nparams;
    d.active_deadline_seconds = o.deadline;
    cairn_buf out = CAIRN_BUF_INIT(0);
    cairn_k8s_format fmt = o.json ? CAIRN_K8S_JSON : CAIRN_K8S_YAML;
    if (rc == 0)
        rc = !strcmp(o.to, "argo") ? cairn_k8s_render_workflow(&d, fmt, &out)
                                   : cairn_k8s_render_jobs(&d, fmt, &out);
    if (rc == 0) {
        FILE *f = o.out ? fopen(o.out, "w") : stdout;
        int bad = !f || fputs(cairn_buf_cstr(&out), f) < 0;
        if (f && o.out && fclose(f) != 0) bad = 1;
        if (bad)
            rc = cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_CLI, "cannot write %s",
                                 o.out ? o.out : "stdout");
    }
    cairn_buf_free(&out);
    for (int k = 0; k < n; k++)
        step_free(&mem[k]);
    cairn_free(mem);
    cairn_free(steps);
    cairn_pipeline_free(pl);
    return rc ? cli_fail() : 0;
}
