/*
 * registry_api.h - the registry's REST handlers (registry_api.c for single
 * entities and writes, registry_search.c for searches), mounted by
 * registry.c. Each takes the cairn_registry as payload.
 */
#ifndef CAIRN_REGISTRY_API_H
#define CAIRN_REGISTRY_API_H

#include "registry_internal.h"

int cairn_registry__h_model_create(cairn_http_req *req, void *payload);
int cairn_registry__h_model_rename(cairn_http_req *req, void *payload);
int cairn_registry__h_model_update(cairn_http_req *req, void *payload);
int cairn_registry__h_model_delete(cairn_http_req *req, void *payload);
int cairn_registry__h_model_get(cairn_http_req *req, void *payload);
int cairn_registry__h_model_set_tag(cairn_http_req *req, void *payload);
int cairn_registry__h_model_delete_tag(cairn_http_req *req, void *payload);
int cairn_registry__h_alias_set(cairn_http_req *req, void *payload);
int cairn_registry__h_alias_delete(cairn_http_req *req, void *payload);
int cairn_registry__h_alias_get(cairn_http_req *req, void *payload);
int cairn_registry__h_version_create(cairn_http_req *req, void *payload);
int cairn_registry__h_version_update(cairn_http_req *req, void *payload);
int cairn_registry__h_version_transition(cairn_http_req *req, void *payload);
int cairn_registry__h_version_delete(cairn_http_req *req, void *payload);
int cairn_registry__h_version_get(cairn_http_req *req, void *payload);
int cairn_registry__h_version_download_uri(cairn_http_req *req, void *payload);
int cairn_registry__h_version_set_tag(cairn_http_req *req, void *payload);
int cairn_registry__h_version_delete_tag(cairn_http_req *req, void *payload);

#endif
