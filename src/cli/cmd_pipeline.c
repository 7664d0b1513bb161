/*
 * cmd_pipeline.c - `cairn pipeline run|status|dag`, the front of the
 * pipeline module (cairn.yaml, cairn.lock, cached stages).
 *
 * Also the two hidden steps that built-in stage kinds execute as separate
 * processes, so every stage is a forked command with its own log:
 * `cairn pipeline _register` (promotion gate + registry) and
 * `cairn pipeline _validate` (CSV checks of a validate stage).
 */
#include "cairn/core.h"
#include "cairn/pipeline.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_pipeline_run(int argc, char **argv, cairn_config *cfg);
void cmd_pipeline_help(void);
/* cmd_pipeline_export.c (the export engineer's): argv[0] is "export". */
int cmd_pipeline_export(int argc, char **argv, cairn_config *cfg);

#define MAX_SETS 64
#define MAX_TARGETS 64

void cmd_pipeline_help(void)
{
    printf("usage: cairn pipeline run [STAGE...] [--set key=value] [--force] [--jobs N]\n"
           "                          [--dry-run] [--no-deps] [--no-track] [--file cairn.yaml]\n"
           "       cairn pipeline status [--set key=value] [--file cairn.yaml]\n"
           "       cairn pipeline dag [--dot] [--file cairn.yaml]\n"
           "       cairn pipeline export --to argo|k8s ...  (see cairn pipeline export --help)\n\n"
           "Runs the stages of cairn.yaml that are not up to date (their command,\n"
           "params and dep contents hash to a key cairn.lock does not hold, or their\n"
           "outs changed), independent stages in parallel; restores outs from the\n"
           ".cairn/cache when only they are missing. Each executed stage is a run on\n"
           "the tracking server (CAIRN_TRACKING_URI) under one parent run; logs go to\n"
           ".cairn/logs/STAGE.log.\n\n"
           "  --set key=value  override a param (repeatable)\n"
           "  --force          run the selected stages even when up to date\n"
           "  --no-deps        run only the named stages, not their upstream stages\n"
           "  --jobs N         stages run at once (default: number of cores)\n"
           "  --dry-run        print what would run, run nothing\n"
           "  --no-track       do not record runs on the tracking server\n"
           "  --dot            print the graph in Graphviz dot format\n");
}

typedef struct popts {
    const char *file;
    cairn_pipeline_kv sets[MAX_SETS];
    int nsets;
    const char *targets[MAX_TARGETS];
    int ntargets;
    bool force, dry, no_track, dot, no_deps;
    int jobs;
} popts;

/* Parses the options shared by the subcommands; positional args are targets. */
static int parse(int argc, char **argv, popts *o, bool allow_targets)
{
    memset(o, 0, sizeof(*o));
    o->file = "cairn.yaml";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--file") && v)
            o->file = argv[++i];
        else if (!strcmp(a, "--set") && v) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) return cli_usage_error("pipeline: --set wants key=value");
            if (o->nsets == MAX_SETS) return cli_usage_error("pipeline: too many --set options");
            o->sets[o->nsets].key = cairn_strndup(v, (size_t)(eq - v));
            o->sets[o->nsets++].value = cairn_strdup(eq + 1);
            i++;
        } else if (!strcmp(a, "--force"))
            o->force = true;
        else if (!strcmp(a, "--no-deps"))
            o->no_deps = true;
        else if (!strcmp(a, "--dry-run"))
            o->dry = true;
        else if (!strcmp(a, "--no-track"))
            o->no_track = true;
        else if (!strcmp(a, "--dot"))
            o->dot = true;
        else if (!strcmp(a, "--jobs") && v) {
            int64_t n;
            if (cairn_parse_i64(v, &n) || n < 1 || n > 1024)
                return cli_usage_error("pipeline: --jobs wants a number from 1 to 1024");
            o->jobs = (int)n;
            i++;
        } else if (a[0] != '-' && allow_targets && o->ntargets < MAX_TARGETS) {
            o->targets[o->ntargets++] = a;
        } else {
            return cli_usage_error("pipeline: unknown or incomplete option '%s'", a);
        }
    }
    return 0;
}

static void free_sets(popts *o)
{
    for (int i = 0; i < o->nsets; i++) {
        cairn_free(o->sets[i].key);
        cairn_free(o->sets[i].value);
    }
}

static void progress(const cairn_pipeline_event *ev, void *payload)
{
    (void)payload;
    switch (ev->kind) {
    case CAIRN_PEV_SKIP:
        printf("%-24s up to date, skipped\n", ev->stage);
        break;
    case CAIRN_PEV_RESTORE:
        printf("%-24s restored outs from the cache\n", ev->stage);
        break;
    case CAIRN_PEV_START:
        if (ev->attempt > 1)
            printf("%-24s retry %d\n", ev->stage, ev->attempt - 1);
        else
            printf("%-24s running\n", ev->stage);
        break;
    case CAIRN_PEV_DONE:
        printf("%-24s done in %.2fs\n", ev->stage, ev->seconds);
        break;
    case CAIRN_PEV_FAIL:
        fprintf(stderr, "%-24s FAILED: %s\n", ev->stage, ev->message ? ev->message : "");
        break;
    case CAIRN_PEV_BLOCKED:
        printf("%-24s not run: %s\n", ev->stage, ev->message);
        break;
    case CAIRN_PEV_WOULD_RUN:
        printf("%-24s would run: %s\n", ev->stage, ev->message);
        break;
    case CAIRN_PEV_NOTE:
        fprintf(stderr, "cairn: note: %s\n", ev->message);
        break;
    }
    fflush(stdout);
}

static int do_run(popts *o, cairn_config *cfg)
{
    cairn_pipeline_run_opts ro = CAIRN_PIPELINE_RUN_OPTS_INIT;
    ro.targets = o->targets;
    ro.ntargets = o->ntargets;
    ro.sets = o->sets;
    ro.nsets = o->nsets;
    ro.force = o->force;
    ro.no_deps = o->no_deps;
    ro.dry_run = o->dry;
    ro.jobs = o->jobs;
    ro.tracking_uri = o->no_track ? NULL : cfg->client.tracking_uri;
    ro.progress = progress;
    cairn_pipeline_result res;
    int64_t t0 = cairn_monotonic_ns();
    int rc = cairn_pipeline_run(o->file, &ro, &res);
    double secs = (double)(cairn_monotonic_ns() - t0) / 1e9;
    if (rc && !res.failed_stage[0]) return cli_fail();
    printf("%d executed, %d up to date, %d restored, %d failed, %d not run (%.2fs)%s%s\n",
           res.executed, res.skipped, res.restored, res.failed, res.blocked, secs,
           res.tracked ? "; tracked as run " : "", res.tracked ? res.parent_run_id : "");
    if (rc) {
        fprintf(stderr, "cairn: %s\n", cairn_error_last()->msg);
        return 1;
    }
    return 0;
}

static void status_cb(const char *stage, bool ok, const char *why, void *payload)
{
    int *nstale = payload;
    if (ok) {
        printf("%-24s up to date\n", stage);
    } else {
        printf("%-24s stale: %s\n", stage, why);
        (*nstale)++;
    }
}

static int do_dag(popts *o)
{
    cairn_pipeline *p = NULL;
    if (cairn_pipeline_load(&p, o->file, o->sets, o->nsets)) return cli_fail();
    const int *ord = cairn_pipeline_order(p);
    int n = cairn_pipeline_nstages(p);
    if (o->dot) {
        printf("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
        for (int k = 0; k < n; k++)
            printf("  \"%s\";\n", cairn_pipeline_stage_at(p, ord[k])->name);
        for (int k = 0; k < n; k++) {
            const cairn_pipeline_stage *s = cairn_pipeline_stage_at(p, ord[k]);
            for (int u = 0; u < s->nupstream; u++)
                printf("  \"%s\" -> \"%s\";\n", cairn_pipeline_stage_at(p, s->upstream[u])->name,
                       s->name);
        }
        printf("}\n");
    } else {
        for (int k = 0; k < n; k++) {
            const cairn_pipeline_stage *s = cairn_pipeline_stage_at(p, ord[k]);
            printf("%s", s->name);
            if (s->nupstream) {
                printf("  <- ");
                for (int u = 0; u < s->nupstream; u++)
                    printf("%s%s", u ? ", " : "", cairn_pipeline_stage_at(p, s->upstream[u])->name);
            }
            printf("\n");
        }
    }
    cairn_pipeline_free(p);
    return 0;
}

/* cairn pipeline _register --model DIR --name N [--alias A] [--metrics F]
 *                          [--gate-metric M] [--gate-min X] [--gate-max Y] */
static int do_register(int argc, char **argv, cairn_config *cfg)
{
    cairn_pipeline_register_opts o = {0};
    o.tracking_uri = cfg->client.tracking_uri;
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--model"))
            o.model_dir = v;
        else if (!strcmp(a, "--name"))
            o.name = v;
        else if (!strcmp(a, "--alias"))
            o.alias = v;
        else if (!strcmp(a, "--metrics"))
            o.metrics_path = v;
        else if (!strcmp(a, "--gate-metric"))
            o.gate_metric = v;
        else if (!strcmp(a, "--gate-min") && !cairn_parse_double(v, &o.gate_min))
            o.has_min = true;
        else if (!strcmp(a, "--gate-max") && !cairn_parse_double(v, &o.gate_max))
            o.has_max = true;
        else
            return cli_usage_error("pipeline _register: bad option '%s'", a);
    }
    if (!o.model_dir || !o.name)
        return cli_usage_error("pipeline _register: --model and --name are required");
    int64_t ver = 0;
    if (cairn_pipeline_register_step(&o, &ver)) return cli_fail();
    printf("registered %s version %lld%s%s\n", o.name, (long long)ver, o.alias ? ", alias " : "",
           o.alias ? o.alias : "");
    return 0;
}

/* cairn pipeline _validate --file cairn.yaml STAGE */
static int do_validate(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[0], "--file"))
        return cli_usage_error("pipeline _validate: --file FILE STAGE");
    cairn_pipeline *p = NULL;
    if (cairn_pipeline_load(&p, argv[1], NULL, 0)) return cli_fail();
    int i = cairn_pipeline_find(p, argv[2]);
    const cairn_pipeline_stage *s = cairn_pipeline_stage_at(p, i);
    int code = 0;
    if (!s || s->kind != CAIRN_STAGE_VALIDATE) {
        code = cli_usage_error("pipeline _validate: no validate stage '%s'", argv[2]);
    } else {
        const char *data = NULL;
        for (int k = 0; k < s->nopts; k++)
            if (!strcmp(s->opts[k].key, "data")) data = s->opts[k].value;
        char *report = NULL;
        int rc = cairn_pipeline_validate_csv(data, s, &report);
        if (report) printf("%s", report);
        cairn_free(report);
        if (rc) code = cli_fail();
    }
    cairn_pipeline_free(p);
    return code;
}

int cmd_pipeline_run(int argc, char **argv, cairn_config *cfg)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        cmd_pipeline_help();
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "_register")) return do_register(argc - 2, argv + 2, cfg);
    if (!strcmp(sub, "_validate")) return do_validate(argc - 2, argv + 2);
    if (!strcmp(sub, "export")) return cmd_pipeline_export(argc - 1, argv + 1, cfg);
    popts o;
    int code = parse(argc - 2, argv + 2, &o, !strcmp(sub, "run"));
    if (code) {
        free_sets(&o);
        return code;
    }
    if (!strcmp(sub, "run")) {
        code = do_run(&o, cfg);
    } else if (!strcmp(sub, "status")) {
        int nstale = 0;
        code = cairn_pipeline_status(o.file, o.sets, o.nsets, status_cb, &nstale) ? cli_fail() : 0;
        if (!code && !nstale) printf("everything is up to date\n");
    } else if (!strcmp(sub, "dag")) {
        code = do_dag(&o);
    } else {
        code = cli_usage_error("pipeline: unknown subcommand '%s' (run, status, dag, export)", sub);
    }
    free_sets(&o);
    return code;
}
