/*
 * k8s_job.c - a container workload as a batch/v1 Job or CronJob.
 *
 * Key idea: the workload is validated once (names, tolerations, volumes,
 * quantities) so that building the JSON tree cannot fail; the tree is then
 * serialized by k8s_yaml.c. Pieces (container, pod spec, Job) are shared
 * with the DAG renderers in k8s_dag.c.
 */
#include <stdio.h>
#include <string.h>

#include "k8s_internal.h"

int cairn_k8s_label_name(const char *name, char *out, size_t n)
{
    if (!name || !out || n < 64)
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "label name: bad arguments");
    size_t len = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && len < 63; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && len > 0) out[len++] = '-';
            if (len < 63) out[len++] = (char)c;
            dash = 0;
        } else {
            dash = 1;
        }
    }
    while (len > 0 && out[len - 1] == '-')
        len--;
    out[len] = '\0';
    if (len == 0)
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "name '%s' has no letters or digits for a kubernetes name", name);
    return 0;
}

/* True when s is a DNS-1123 label of at most max characters. */
static int is_label(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < n - 1);
        if (!ok) return 0;
    }
    return 1;
}

/* True when q is a Kubernetes quantity: digits[.digits][suffix]. */
static int is_quantity(const char *q)
{
    static const char *const suffixes[] = {"",  "m",  "k",  "M",  "G",  "T",  "P",
                                           "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    const char *p = q;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(suffixes); i++)
        if (strcmp(p, suffixes[i]) == 0) return 1;
    return 0;
}

static int check_quantity(const char *what, const char *q)
{
    if (q && !is_quantity(q))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "%s '%s' is not a kubernetes quantity (e.g. 500m, 2, 4Gi)", what, q);
    return 0;
}

static int check_resources(const cairn_k8s_resources *r)
{
    int rc = check_quantity("cpu request", r->cpu_request);
    if (rc == 0) rc = check_quantity("cpu limit", r->cpu_limit);
    if (rc == 0) rc = check_quantity("memory request", r->memory_request);
    if (rc == 0) rc = check_quantity("memory limit", r->memory_limit);
    if (rc == 0 && r->gpu < 0)
        rc = cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "gpu count %d is negative", r->gpu);
    return rc;
}

int cairn_k8s__check_tolerations(const cairn_k8s_toleration *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *op = t[i].op, *eff = t[i].effect;
        if (op && strcmp(op, "Equal") && strcmp(op, "Exists"))
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "toleration operator '%s' is not Equal or Exists", op);
        if (eff && strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") &&
            strcmp(eff, "NoExecute"))
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "toleration effect '%s' is not NoSchedule, PreferNoSchedule "
                                   "or NoExecute",
                                   eff);
        int exists = op ? strcmp(op, "Exists") == 0 : !t[i].value;
        if (exists && t[i].value && *t[i].value)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "toleration with operator Exists cannot have a value");
        if ((!t[i].key || !*t[i].key) && !exists)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "toleration without a key needs operator Exists");
    }
    return 0;
}

int cairn_k8s__check_workload(const cairn_k8s_workload *w)
{
    if (!w) return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "no workload");
    if (!is_label(w->name, 63))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "name '%s' is not a DNS-1123 label (lower case letters, digits, "
                               "'-', at most 63)",
                               w->name ? w->name : "");
    if (w->namespace_ && !is_label(w->namespace_, 63))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "namespace '%s' is not a DNS-1123 label",
                               w->namespace_);
    if (!w->image || !*w->image || strpbrk(w->image, " \t\n"))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "an image without spaces is required");
    if (w->restart_policy && strcmp(w->restart_policy, "Never") &&
        strcmp(w->restart_policy, "OnFailure"))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "restart policy '%s' is not Never or OnFailure (Jobs)",
                               w->restart_policy);
    int rc = check_resources(&w->resources);
    if (rc == 0) rc = cairn_k8s__check_tolerations(w->tolerations, w->ntolerations);
    if (rc) return rc;
    for (size_t i = 0; i < w->nvolumes; i++) {
        const cairn_k8s_volume *v = &w->volumes[i];
        if (!v->claim || !is_label(v->claim, 253) || !v->mount_path || v->mount_path[0] != '/')
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "volume %zu needs a claim name and an absolute mount path", i);
        if (v->name && !is_label(v->name, 63))
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "volume name '%s' is not a DNS-1123 label", v->name);
    }
    for (size_t i = 0; i < w->nenv; i++) {
        const cairn_k8s_env *e = &w->env[i];
        if (!e->name || !*e->name || (!e->secret_name && !e->value) ||
            (e->secret_name && !e->secret_key))
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "env %zu needs a name and a value or a secret name and key", i);
    }
    for (size_t i = 0; i < w->nlabels; i++)
        if (!w->labels[i].key || !w->labels[i].value)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS, "label %zu needs a key and value",
                                   i);
    for (size_t i = 0; i < w->nannotations; i++)
        if (!w->annotations[i].key || !w->annotations[i].value)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "annotation %zu needs a key and value", i);
    for (size_t i = 0; i < w->nnode_selector; i++)
        if (!w->node_selector[i].key || !w->node_selector[i].value)
            return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                                   "node selector %zu needs a key and value", i);
    return 0;
}

json_t *cairn_k8s__kv_object(const cairn_k8s_kv *kv, size_t n)
{
    if (n == 0) return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *cairn_k8s__tolerations(const cairn_k8s_toleration *t, size_t n)
{
    if (n == 0) return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        if (t[i].key && *t[i].key) json_object_set_new(o, "key", json_string(t[i].key));
        const char *op = t[i].op ? t[i].op : (t[i].value ? "Equal" : "Exists");
        json_object_set_new(o, "operator", json_string(op));
        if (t[i].value && *t[i].value) json_object_set_new(o, "value", json_string(t[i].value));
        if (t[i].effect) json_object_set_new(o, "effect", json_string(t[i].effect));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *cairn_k8s__resources(const cairn_k8s_resources *r)
{
    json_t *req = json_object(), *lim = json_object();
    if (r->cpu_request) json_object_set_new(req, "cpu", json_string(r->cpu_request));
    if (r->memory_request) json_object_set_new(req, "memory", json_string(r->memory_request));
    if (r->cpu_limit) json_object_set_new(lim, "cpu", json_string(r->cpu_limit));
    if (r->memory_limit) json_object_set_new(lim, "memory", json_string(r->memory_limit));
    if (r->gpu > 0) {
        char g[24];
        snprintf(g, sizeof(g), "%d", r->gpu);
        json_object_set_new(req, "nvidia.com/gpu", json_string(g));
        json_object_set_new(lim, "nvidia.com/gpu", json_string(g));
    }
    json_t *res = json_object();
    if (json_object_size(req)) json_object_set(res, "requests", req);
    if (json_object_size(lim)) json_object_set(res, "limits", lim);
    json_decref(req);
    json_decref(lim);
    if (json_object_size(res) == 0) {
        json_decref(res);
        return NULL;
    }
    return res;
}

/* The volume name for v: its own, else the claim turned into a label. */
static void volume_name(const cairn_k8s_volume *v, char out[64])
{
    if (v->name) {
        snprintf(out, 64, "%s", v->name);
    } else if (cairn_k8s_label_name(v->claim, out, 64)) {
        snprintf(out, 64, "data");
        cairn_error_clear();
    }
}

json_t *cairn_k8s__container(const cairn_k8s_workload *w, const char *name)
{
    json_t *c = json_object();
    if (name) json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "image", json_string(w->image));
    if (w->image_pull_policy)
        json_object_set_new(c, "imagePullPolicy", json_string(w->image_pull_policy));
    if (w->ncommand) json_object_set_new(c, "command", string_array(w->command, w->ncommand));
    if (w->nargs) json_object_set_new(c, "args", string_array(w->args, w->nargs));
    if (w->working_dir) json_object_set_new(c, "workingDir", json_string(w->working_dir));
    if (w->nenv) {
        json_t *env = json_array();
        for (size_t i = 0; i < w->nenv; i++) {
            const cairn_k8s_env *e = &w->env[i];
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(e->name));
            if (e->secret_name)
                json_object_set_new(o, "valueFrom",
                                    json_pack("{s:{s:s,s:s}}", "secretKeyRef", "name",
                                              e->secret_name, "key", e->secret_key));
            else
                json_object_set_new(o, "value", json_string(e->value));
            json_array_append_new(env, o);
        }
        json_object_set_new(c, "env", env);
    }
    if (w->nenv_from_secrets) {
        json_t *ef = json_array();
        for (size_t i = 0; i < w->nenv_from_secrets; i++)
            json_array_append_new(
                ef, json_pack("{s:{s:s}}", "secretRef", "name", w->env_from_secrets[i]));
        json_object_set_new(c, "envFrom", ef);
    }
    json_t *res = cairn_k8s__resources(&w->resources);
    if (res) json_object_set_new(c, "resources", res);
    if (w->nvolumes) {
        json_t *mounts = json_array();
        for (size_t i = 0; i < w->nvolumes; i++) {
            char vn[64];
            volume_name(&w->volumes[i], vn);
            json_t *m = json_pack("{s:s,s:s}", "name", vn, "mountPath", w->volumes[i].mount_path);
            if (w->volumes[i].read_only) json_object_set_new(m, "readOnly", json_true());
            json_array_append_new(mounts, m);
        }
        json_object_set_new(c, "volumeMounts", mounts);
    }
    return c;
}

/* The pod volumes of w, one per distinct volume name. */
static json_t *pod_volumes(const cairn_k8s_workload *w)
{
    json_t *vols = json_array(), *seen = json_object();
    for (size_t i = 0; i < w->nvolumes; i++) {
        char vn[64];
        volume_name(&w->volumes[i], vn);
        if (json_object_get(seen, vn)) continue;
        json_object_set_new(seen, vn, json_true());
        json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", vn, "persistentVolumeClaim",
                                              "claimName", w->volumes[i].claim));
    }
    json_decref(seen);
    return vols;
}

json_t *cairn_k8s__pod_spec(const cairn_k8s_workload *w)
{
    json_t *spec = json_object();
    if (w->service_account)
        json_object_set_new(spec, "serviceAccountName", json_string(w->service_account));
    json_t *ns = cairn_k8s__kv_object(w->node_selector, w->nnode_selector);
    if (ns) json_object_set_new(spec, "nodeSelector", ns);
    json_t *tol = cairn_k8s__tolerations(w->tolerations, w->ntolerations);
    if (tol) json_object_set_new(spec, "tolerations", tol);
    json_t *containers = json_array();
    json_array_append_new(containers, cairn_k8s__container(w, "main"));
    json_object_set_new(spec, "containers", containers);
    if (w->nvolumes) json_object_set_new(spec, "volumes", pod_volumes(w));
    return spec;
}

json_t *cairn_k8s__metadata(const char *name, const cairn_k8s_workload *w)
{
    json_t *md = json_object();
    if (name) json_object_set_new(md, "name", json_string(name));
    if (w->namespace_) json_object_set_new(md, "namespace", json_string(w->namespace_));
    json_t *l = cairn_k8s__kv_object(w->labels, w->nlabels);
    if (l) json_object_set_new(md, "labels", l);
    json_t *a = cairn_k8s__kv_object(w->annotations, w->nannotations);
    if (a) json_object_set_new(md, "annotations", a);
    return md;
}

/* The Job spec (limits and pod template) of w. */
static json_t *job_spec(const cairn_k8s_workload *w)
{
    json_t *spec = json_object();
    if (w->backoff_limit >= 0)
        json_object_set_new(spec, "backoffLimit", json_integer(w->backoff_limit));
    if (w->active_deadline_seconds > 0)
        json_object_set_new(spec, "activeDeadlineSeconds",
                            json_integer(w->active_deadline_seconds));
    if (w->ttl_seconds_after_finished >= 0)
        json_object_set_new(spec, "ttlSecondsAfterFinished",
                            json_integer(w->ttl_seconds_after_finished));
    json_t *tmpl = json_object();
    json_t *labels = cairn_k8s__kv_object(w->labels, w->nlabels);
    if (labels) json_object_set_new(tmpl, "metadata", json_pack("{s:o}", "labels", labels));
    json_t *pod = cairn_k8s__pod_spec(w);
    json_object_set_new(pod, "restartPolicy",
                        json_string(w->restart_policy ? w->restart_policy : "Never"));
    json_object_set_new(tmpl, "spec", pod);
    json_object_set_new(spec, "template", tmpl);
    return spec;
}

json_t *cairn_k8s__job(const cairn_k8s_workload *w, const char *name)
{
    json_t *job = json_object();
    json_object_set_new(job, "apiVersion", json_string("batch/v1"));
    json_object_set_new(job, "kind", json_string("Job"));
    json_object_set_new(job, "metadata", cairn_k8s__metadata(name, w));
    json_object_set_new(job, "spec", job_spec(w));
    return job;
}

int cairn_k8s_render_job(const cairn_k8s_workload *w, cairn_k8s_format fmt, cairn_buf *out)
{
    int rc = cairn_k8s__check_workload(w);
    if (rc) return rc;
    json_t *job = cairn_k8s__job(w, w->name);
    rc = cairn_k8s__emit(&job, 1, fmt, out);
    json_decref(job);
    return rc;
}

/* True when s looks like a cron schedule: five fields or an @macro. */
static int is_schedule(const char *s)
{
    if (!s || !*s) return 0;
    if (s[0] == '@') {
        static const char *const macros[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                             "@daily",  "@midnight", "@hourly"};
        for (size_t i = 0; i < CAIRN_ARRAY_LEN(macros); i++)
            if (strcmp(s, macros[i]) == 0) return 1;
        return 0;
    }
    int fields = 0, in = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ' ') {
            in = 0;
            continue;
        }
        if (!strchr("0123456789*/,-?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", *p))
            return 0;
        if (!in) fields++;
        in = 1;
    }
    return fields == 5;
}

int cairn_k8s_render_cronjob(const cairn_k8s_workload *w, const cairn_k8s_cron *cron,
                             cairn_k8s_format fmt, cairn_buf *out)
{
    int rc = cairn_k8s__check_workload(w);
    if (rc) return rc;
    /* Job names are the CronJob's name plus an 11-character suffix. */
    if (strlen(w->name) > 52)
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "cronjob name '%s' is longer than 52 characters", w->name);
    if (!cron || !is_schedule(cron->schedule))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "schedule '%s' is not five cron fields or an @macro",
                               cron && cron->schedule ? cron->schedule : "");
    const char *pol = cron->concurrency_policy ? cron->concurrency_policy : "Forbid";
    if (strcmp(pol, "Allow") && strcmp(pol, "Forbid") && strcmp(pol, "Replace"))
        return cairn_error_set(CAIRN_EINVALID, K8S_SUBSYS,
                               "concurrency policy '%s' is not Allow, Forbid or Replace", pol);
    json_t *cj = json_object();
    json_object_set_new(cj, "apiVersion", json_string("batch/v1"));
    json_object_set_new(cj, "kind", json_string("CronJob"));
    json_object_set_new(cj, "metadata", cairn_k8s__metadata(w->name, w));
    json_t *spec = json_object();
    json_object_set_new(spec, "schedule", json_string(cron->schedule));
    if (cron->time_zone) json_object_set_new(spec, "timeZone", json_string(cron->time_zone));
    json_object_set_new(spec, "concurrencyPolicy", json_string(pol));
    if (cron->suspend) json_object_set_new(spec, "suspend", json_true());
    if (cron->successful_jobs_history_limit >= 0)
        json_object_set_new(spec, "successfulJobsHistoryLimit",
                            json_integer(cron->successful_jobs_history_limit));
    if (cron->failed_jobs_history_limit >= 0)
        json_object_set_new(spec, "failedJobsHistoryLimit",
                            json_integer(cron->failed_jobs_history_limit));
    json_t *jt = json_object();
    json_t *labels = cairn_k8s__kv_object(w->labels, w->nlabels);
    if (labels) json_object_set_new(jt, "metadata", json_pack("{s:o}", "labels", labels));
    json_object_set_new(jt, "spec", job_spec(w));
    json_object_set_new(spec, "jobTemplate", jt);
    json_object_set_new(cj, "spec", spec);
    rc = cairn_k8s__emit(&cj, 1, fmt, out);
    json_decref(cj);
    return rc;
}
