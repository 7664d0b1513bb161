/*
 * k8s_internal.h - shared pieces of the k8s module: manifests are built as
 * jansson trees (insertion-ordered, so output follows the order Kubernetes
 * documents use) and serialized once, as YAML or JSON.
 */
#ifndef CAIRN_K8S_INTERNAL_H
#define CAIRN_K8S_INTERNAL_H

#include <jansson.h>

#include "cairn/k8s.h"

/* common.h has no k8s subsystem yet; errors are reported under core. */
#define K8S_SUBSYS CAIRN_SUBSYS_K8S

/* Appends doc as one YAML document (block style, no "---"). */
int cairn_k8s__yaml_doc(cairn_buf *out, json_t *doc);

/* Appends the documents: YAML separated by "---", JSON one object (or a
 * v1 List when n > 1). Steals nothing. */
int cairn_k8s__emit(json_t *const *docs, size_t n, cairn_k8s_format fmt, cairn_buf *out);

/* Checks w (name, image, tolerations, restart policy, volumes). */
int cairn_k8s__check_workload(const cairn_k8s_workload *w);

/* The metadata object for name with w's namespace, labels, annotations. */
json_t *cairn_k8s__metadata(const char *name, const cairn_k8s_workload *w);

/* The pod template spec for w (containers[0] named "main"), without
 * restartPolicy. Never fails (w must have been checked). */
json_t *cairn_k8s__pod_spec(const cairn_k8s_workload *w);

/* The container object of w (name "main" unless name is NULL: no name). */
json_t *cairn_k8s__container(const cairn_k8s_workload *w, const char *name);

/* Tolerations / node selector / resources as JSON; NULL when empty. */
json_t *cairn_k8s__tolerations(const cairn_k8s_toleration *t, size_t n);
json_t *cairn_k8s__kv_object(const cairn_k8s_kv *kv, size_t n);
json_t *cairn_k8s__resources(const cairn_k8s_resources *r);
int cairn_k8s__check_tolerations(const cairn_k8s_toleration *t, size_t n);

/* The Job object (batch/v1) for w named name. */
json_t *cairn_k8s__job(const cairn_k8s_workload *w, const char *name);

#endif
