/*
 * cmd_k8s.c - `cairn k8s training-job`: renders a Kubernetes Job (or, with
 * --schedule, a CronJob) that runs `cairn train ARGS...` in a container.
 *
 * Key idea: the command only turns flags into a cairn_k8s_workload; all
 * checking and rendering is the k8s module's, so the CLI and `cairn pipeline
 * export` produce manifests the same way. With --data s3://... the container
 * first pulls the data from that remote (`cairn data pull --remote URL`)
 * and then trains, through `sh -c`; with --data CLAIM[:/mount] the claim is
 * mounted read-only (default /data). `cairn k8s dag SPEC.json` renders a
 * neutral DAG described in JSON (for pipelines built elsewhere, and tests);
 * `cairn k8s pipeline` is `cairn pipeline export` (cmd_pipeline_export.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cairn/k8s.h"
#include "cli.h"

int cmd_k8s_run(int argc, char **argv, cairn_config *cfg);
void cmd_k8s_help(void);
int cmd_pipeline_export(int argc, char **argv, cairn_config *cfg);

#define MAX_REPEAT 32

void cmd_k8s_help(void)
{
    printf(
        "usage: cairn k8s training-job --name NAME --image IMAGE [options] -- TRAIN ARGS...\n"
        "       cairn k8s dag SPEC.json [--to argo|k8s] [--json]\n"
        "       cairn k8s pipeline --to argo|k8s [...]   (= cairn pipeline export)\n"
        "\n"
        "dag renders a DAG described in JSON (docs/internals/k8s.md) as an Argo Workflow\n"
        "(default) or as one Job per step.\n"
        "\n"
        "Prints a batch/v1 Job (a CronJob with --schedule) running `cairn train ARGS...`.\n"
        "\n"
        "  --name NAME              Job name (DNS-1123 label)\n"
        "  --image IMAGE            container image with cairn in its PATH\n"
        "  --data s3://BUCKET/PFX   pull the data from this remote before training\n"
        "  --data CLAIM[:/MOUNT]    mount this PersistentVolumeClaim read-only (default /data)\n"
        "  --pvc CLAIM:/MOUNT       mount a claim read-write (checkpoints, outputs; repeatable)\n"
        "  --gpu N                  nvidia.com/gpu request and limit\n"
        "  --cpu C                  cpu request (e.g. 500m, 4)\n"
        "  --memory M               memory request and limit (e.g. 8Gi)\n"
        "  --node-selector K=V      node selector entry (repeatable)\n"
        "  --toleration T           KEY[=VALUE][:EFFECT] (repeatable); no value: Exists\n"
        "  --secret NAME            Secret whose keys become env (S3 credentials: envFrom)\n"
        "  --env K=V                environment variable (repeatable)\n"
        "  --namespace NS           metadata.namespace\n"
        "  --service-account SA     pod service account\n"
        "  --backoff-limit N        retries before the Job fails (default 2)\n"
        "  --deadline SECONDS       activeDeadlineSeconds\n"
        "  --workdir DIR            container working directory\n"
        "  --label K=V              label on the Job and its pods (repeatable)\n"
        "  --schedule CRON          render a CronJob instead (concurrencyPolicy Forbid)\n"
        "  --concurrency POLICY     CronJob concurrencyPolicy: Allow, Forbid or Replace\n"
        "  --json                   JSON instead of YAML\n");
}

/* Splits "k=v" into kv (pointing into s, which is modified); 0 or -1. */
static int split_kv(char *s, cairn_k8s_kv *kv)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s) return -1;
    *eq = '\0';
    kv->key = s;
    kv->value = eq + 1;
    return 0;
}

/* KEY[=VALUE][:EFFECT] into t (pointing into s). */
static int parse_toleration(char *s, cairn_k8s_toleration *t)
{
    memset(t, 0, sizeof(*t));
    char *colon = strrchr(s, ':');
    if (colon) {
        *colon = '\0';
        t->effect = colon + 1;
    }
    char *eq = strchr(s, '=');
    if (eq) {
        *eq = '\0';
        t->value = eq + 1;
        t->op = "Equal";
    } else {
        t->op = "Exists";
    }
    t->key = *s ? s : NULL;
    return 0;
}

/* "CLAIM:/MOUNT" (mount required unless def_mount) into v. */
static int parse_pvc(char *s, const char *def_mount, cairn_k8s_volume *v)
{
    memset(v, 0, sizeof(*v));
    char *colon = strchr(s, ':');
    if (colon) *colon = '\0';
    v->claim = s;
    v->mount_path = colon ? colon + 1 : def_mount;
    return (*s && v->mount_path) ? 0 : -1;
}

static int parse_count(const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > max) return -1;
    *out = v;
    return 0;
}

static int training_job(int argc, char **argv)
{
    cairn_k8s_workload w = CAIRN_K8S_WORKLOAD_INIT;
    cairn_k8s_cron cron = CAIRN_K8S_CRON_INIT;
    cairn_k8s_kv nsel[MAX_REPEAT], labels[MAX_REPEAT];
    cairn_k8s_toleration tols[MAX_REPEAT];
    cairn_k8s_volume vols[MAX_REPEAT + 1];
    cairn_k8s_env env[MAX_REPEAT];
    const char *secrets[1];
    size_t nnsel = 0, nlabels = 0, ntols = 0, nvols = 0, nenv = 0;
    char *data = NULL;
    int json = 0, i;
    long n;
    w.backoff_limit = 2;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (cli_is_help(a)) {
            cmd_k8s_help();
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("%s needs a value (or unknown option)", a);
        char *v = argv[++i];
        if (strcmp(a, "--name") == 0)
            w.name = v;
        else if (strcmp(a, "--image") == 0)
            w.image = v;
        else if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--cpu") == 0)
            w.resources.cpu_request = v;
        else if (strcmp(a, "--memory") == 0)
            w.resources.memory_request = w.resources.memory_limit = v;
        else if (strcmp(a, "--namespace") == 0)
            w.namespace_ = v;
        else if (strcmp(a, "--service-account") == 0)
            w.service_account = v;
        else if (strcmp(a, "--workdir") == 0)
            w.working_dir = v;
        else if (strcmp(a, "--schedule") == 0)
            cron.schedule = v;
        else if (strcmp(a, "--concurrency") == 0)
            cron.concurrency_policy = v;
        else if (strcmp(a, "--secret") == 0) {
            secrets[0] = v;
            w.env_from_secrets = secrets;
            w.nenv_from_secrets = 1;
        } else if (strcmp(a, "--gpu") == 0) {
            if (parse_count(v, 1024, &n))
                return cli_usage_error("--gpu needs a count, got '%s'", v);
            w.resources.gpu = (int)n;
        } else if (strcmp(a, "--backoff-limit") == 0) {
            if (parse_count(v, 1000, &n)) return cli_usage_error("--backoff-limit needs a count");
            w.backoff_limit = (int)n;
        } else if (strcmp(a, "--deadline") == 0) {
            if (parse_count(v, 100L * 365 * 86400, &n) || n == 0)
                return cli_usage_error("--deadline needs a positive number of seconds");
            w.active_deadline_seconds = n;
        } else if (strcmp(a, "--node-selector") == 0 || strcmp(a, "--label") == 0) {
            int is_ns = a[2] == 'n';
            cairn_k8s_kv *arr = is_ns ? nsel : labels;
            size_t *cnt = is_ns ? &nnsel : &nlabels;
            if (*cnt >= MAX_REPEAT) return cli_usage_error("too many %s", a);
            if (split_kv(v, &arr[*cnt])) return cli_usage_error("%s needs KEY=VALUE", a);
            (*cnt)++;
        } else if (strcmp(a, "--env") == 0) {
            cairn_k8s_kv kv;
            if (nenv >= MAX_REPEAT || split_kv(v, &kv)) return cli_usage_error("--env needs K=V");
            env[nenv++] = (cairn_k8s_env){kv.key, kv.value, NULL, NULL};
        } else if (strcmp(a, "--toleration") == 0) {
            if (ntols >= MAX_REPEAT) return cli_usage_error("too many --toleration");
            parse_toleration(v, &tols[ntols++]);
        } else if (strcmp(a, "--pvc") == 0) {
            if (nvols >= MAX_REPEAT || parse_pvc(v, NULL, &vols[nvols]))
                return cli_usage_error("--pvc needs CLAIM:/MOUNT");
            nvols++;
        } else {
            return cli_usage_error("unknown option %s (cairn k8s training-job --help)", a);
        }
    }
    if (!w.name || !w.image) return cli_usage_error("--name and --image are required");

    /* the container: cairn train ARGS, after a pull when data is remote */
    size_t ntrain = (size_t)(argc - i);
    const char **cmd = cairn_calloc(ntrain + 3, sizeof(char *));
    cairn_buf script = CAIRN_BUF_INIT(0);
    int rc = 0;
    if (data && strncmp(data, "s3://", 5) == 0) {
        rc = cairn_buf_puts(&script, "set -e\ncairn data pull --remote ");
        if (rc == 0) rc = cairn_k8s_shell_word(&script, data);
        if (rc == 0) rc = cairn_buf_puts(&script, "\ncairn train");
        for (int k = i; k < argc && rc == 0; k++) {
            rc = cairn_buf_putc(&script, ' ');
            if (rc == 0) rc = cairn_k8s_shell_word(&script, argv[k]);
        }
        if (rc == 0) rc = cairn_buf_putc(&script, '\n');
        cmd[0] = "sh";
        cmd[1] = "-c";
        cmd[2] = cairn_buf_cstr(&script);
        w.ncommand = 3;
    } else {
        if (data) {
            if (parse_pvc(data, "/data", &vols[nvols]))
                return cli_usage_error("--data needs s3://BUCKET/PREFIX or CLAIM[:/MOUNT]");
            vols[nvols++].read_only = 1;
        }
        cmd[0] = "cairn";
        cmd[1] = "train";
        for (int k = i; k < argc; k++)
            cmd[2 + (k - i)] = argv[k];
        w.ncommand = 2 + ntrain;
    }
    w.command = cmd;
    w.node_selector = nsel;
    w.nnode_selector = nnsel;
    w.tolerations = tols;
    w.ntolerations = ntols;
    w.volumes = vols;
    w.nvolumes = nvols;
    w.env = env;
    w.nenv = nenv;
    w.labels = labels;
    w.nlabels = nlabels;

    cairn_buf out = CAIRN_BUF_INIT(0);
    cairn_k8s_format fmt = json ? CAIRN_K8S_JSON : CAIRN_K8S_YAML;
    if (rc == 0)
        rc = cron.schedule ? cairn_k8s_render_cronjob(&w, &cron, fmt, &out)
                           : cairn_k8s_render_job(&w, fmt, &out);
    if (rc == 0) fputs(cairn_buf_cstr(&out), stdout);
    cairn_buf_free(&out);
    cairn_buf_free(&script);
    cairn_free(cmd);
    return rc ? cli_fail() : 0;
}

/* ---- cairn k8s dag: a neutral DAG described in JSON ---- */

/* The strings of a JSON array (borrowed from it); NULL when empty. */
static const char **json_strs(json_t *a, size_t *n)
{
    *n = 0;
    if (!json_is_array(a) || json_array_size(a) == 0) return NULL;
    const char **v = cairn_calloc(json_array_size(a), sizeof(char *));
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) v[(*n)++] = json_is_string(x) ? json_string_value(x) : "";
    return v;
}

static cairn_k8s_kv *json_kvs(json_t *o, size_t *n)
{
    *n = 0;
    if (!json_is_object(o) || json_object_size(o) == 0) return NULL;
    cairn_k8s_kv *kv = cairn_calloc(json_object_size(o), sizeof(*kv));
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x)
    {
        kv[*n].key = k;
        kv[(*n)++].value = json_is_string(x) ? json_string_value(x) : "";
    }
    return kv;
}

static cairn_k8s_toleration *json_tols(json_t *a, size_t *n)
{
    *n = 0;
    if (!json_is_array(a) || json_array_size(a) == 0) return NULL;
    cairn_k8s_toleration *t = cairn_calloc(json_array_size(a), sizeof(*t));
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        t[*n].key = json_string_value(json_object_get(x, "key"));
        t[*n].op = json_string_value(json_object_get(x, "operator"));
        t[*n].value = json_string_value(json_object_get(x, "value"));
        t[(*n)++].effect = json_string_value(json_object_get(x, "effect"));
    }
    return t;
}

static void json_resources(json_t *o, cairn_k8s_resources *r)
{
    r->cpu_request = json_string_value(json_object_get(o, "cpu"));
    r->memory_request = r->memory_limit = json_string_value(json_object_get(o, "memory"));
    r->gpu = (int)json_integer_value(json_object_get(o, "gpu"));
}

/* Frees what json_* allocated for one step. */
static void free_step(cairn_k8s_step *s)
{
    cairn_free((void *)s->argv);
    cairn_free((void *)s->depends);
    cairn_free((void *)s->inputs);
    cairn_free((void *)s->outputs);
    cairn_free((void *)s->node_selector);
    cairn_free((void *)s->tolerations);
}

/* `cairn k8s dag SPEC.json [--to argo|k8s] [--json]`. */
static int render_dag_file(int argc, char **argv)
{
    const char *path = NULL, *to = "argo";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            cmd_k8s_help();
            return 0;
        }
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return cli_usage_error("unknown argument %s (cairn k8s --help)", argv[i]);
    }
    if (!path) return cli_usage_error("cairn k8s dag needs a SPEC.json file");
    if (strcmp(to, "argo") && strcmp(to, "k8s")) return cli_usage_error("--to is argo or k8s");
    json_error_t err;
    json_t *spec = json_load_file(path, 0, &err);
    if (!spec) {
        fprintf(stderr, "cairn: %s:%d: %s\n", path, err.line, err.text);
        return 1;
    }
    json_t *jsteps = json_object_get(spec, "steps");
    size_t nsteps = json_array_size(jsteps);
    cairn_k8s_step *steps = cairn_calloc(nsteps + 1, sizeof(*steps));
    cairn_k8s_dag d = {0};
    d.defaults = (cairn_k8s_workload)CAIRN_K8S_WORKLOAD_INIT;
    d.name = json_string_value(json_object_get(spec, "name"));
    d.remote = json_string_value(json_object_get(spec, "remote"));
    d.active_deadline_seconds = (long)json_integer_value(json_object_get(spec, "deadline"));
    d.parameters = json_kvs(json_object_get(spec, "parameters"), &d.nparameters);
    cairn_k8s_workload *w = &d.defaults;
    w->image = json_string_value(json_object_get(spec, "image"));
    w->working_dir = json_string_value(json_object_get(spec, "workdir"));
    w->service_account = json_string_value(json_object_get(spec, "service_account"));
    w->namespace_ = json_string_value(json_object_get(spec, "namespace"));
    w->env_from_secrets = json_strs(json_object_get(spec, "secrets"), &w->nenv_from_secrets);
    w->node_selector = json_kvs(json_object_get(spec, "node_selector"), &w->nnode_selector);
    w->tolerations = json_tols(json_object_get(spec, "tolerations"), &w->ntolerations);
    w->labels = json_kvs(json_object_get(spec, "labels"), &w->nlabels);
    json_resources(json_object_get(spec, "resources"), &w->resources);
    json_t *pvcs = json_object_get(spec, "pvcs");
    cairn_k8s_volume *vols = cairn_calloc(json_array_size(pvcs) + 1, sizeof(*vols));
    size_t i;
    json_t *x;
    json_array_foreach(pvcs, i, x)
    {
        vols[i].claim = json_string_value(json_object_get(x, "claim"));
        vols[i].mount_path = json_string_value(json_object_get(x, "mount"));
        vols[i].read_only = json_is_true(json_object_get(x, "read_only"));
    }
    w->volumes = vols;
    w->nvolumes = json_array_size(pvcs);
    json_array_foreach(jsteps, i, x)
    {
        cairn_k8s_step *s = &steps[i];
        s->name = json_string_value(json_object_get(x, "name"));
        s->argv = json_strs(json_object_get(x, "argv"), &s->argc);
        s->depends = json_strs(json_object_get(x, "depends"), &s->ndepends);
        s->inputs = json_strs(json_object_get(x, "inputs"), &s->ninputs);
        s->outputs = json_strs(json_object_get(x, "outputs"), &s->noutputs);
        s->retries = (int)json_integer_value(json_object_get(x, "retries"));
        s->timeout_seconds = (long)json_integer_value(json_object_get(x, "timeout"));
        s->image = json_string_value(json_object_get(x, "image"));
        json_resources(x, &s->resources);
        s->node_selector = json_kvs(json_object_get(x, "node_selector"), &s->nnode_selector);
        s->tolerations = json_tols(json_object_get(x, "tolerations"), &s->ntolerations);
    }
    d.steps = steps;
    d.nsteps = nsteps;
    cairn_buf out = CAIRN_BUF_INIT(0);
    cairn_k8s_format fmt = json ? CAIRN_K8S_JSON : CAIRN_K8S_YAML;
    int rc = !strcmp(to, "argo") ? cairn_k8s_render_workflow(&d, fmt, &out)
                                 : cairn_k8s_render_jobs(&d, fmt, &out);
    if (rc == 0) fputs(cairn_buf_cstr(&out), stdout);
    cairn_buf_free(&out);
    for (i = 0; i < nsteps; i++)
        free_step(&steps[i]);
    cairn_free(steps);
    cairn_free(vols);
    cairn_free((void *)d.parameters);
    cairn_free((void *)w->env_from_secrets);
    cairn_free((void *)w->node_selector);
    cairn_free((void *)w->tolerations);
    cairn_free((void *)w->labels);
    json_decref(spec);
    return rc ? cli_fail() : 0;
}

int cmd_k8s_run(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    if (argc < 2 || cli_is_help(argv[1])) {
        cmd_k8s_help();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "training-job") == 0) return training_job(argc - 1, argv + 1);
    if (strcmp(argv[1], "dag") == 0) return render_dag_file(argc - 1, argv + 1);
    if (strcmp(argv[1], "pipeline") == 0) return cmd_pipeline_export(argc - 1, argv + 1, cfg);
    return cli_usage_error("unknown k8s verb '%s' (cairn k8s --help)", argv[1]);
}
