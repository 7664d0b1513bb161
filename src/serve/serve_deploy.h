/*
 * serve_deploy.h - what the inference handlers need from serve_deploy.c
 * (deployments: weighted routing of an endpoint name to model versions).
 */
#ifndef CAIRN_SERVE_DEPLOY_H
#define CAIRN_SERVE_DEPLOY_H

#include "cairn/serve.h"

/* ---- deployments (serve_deploy.c) ---- */
/* Loads the deployment table from the store into memory and registers the
 * /api/2.0/cairn/deployments/{create,update,get,list,delete} routes on srv.
 * One deployment table per process: mounting again replaces it. Returns 0,
 * a store error, or CAIRN_EINVALID if a route cannot be added. */
int cairn_serve__mount_deploy(cairn_serve *s, cairn_http_server *srv);

/* If name is a deployment of s, picks one of its targets by weight (the
 * request's X-Cairn-Route-Key header hashed to a bucket 0..99, else a random
 * bucket), sets *model and *spec to request-arena copies of the target's
 * model name and version/alias, and returns 1. Returns 0 (outputs
 * untouched) when name is not a deployment. Reads only memory. Thread-safe. */
int cairn_serve__deploy_pick(cairn_serve *s, cairn_http_req *req, const char *name,
                             const char **model, const char **spec);

#endif
