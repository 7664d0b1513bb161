/*
 * registry.c - the registry's lifetime, its route table, and the name rules
 * MLflow applies to stages and aliases. Handlers live in registry_api.c
 * (single entities, writes) and registry_search.c (searches); JSON loading
 * in registry_read.c.
 */
#include <assert.h>
#include <string.h>
#include <strings.h>

#include "registry_api.h"
#include "track/api.h"

static const char *const stage_names[] = {"None", "Staging", "Production", "Archived"};

int cairn_registry_stage_parse(const char *s, cairn_registry_stage *out)
{
    for (size_t i = 0; s && i < CAIRN_ARRAY_LEN(stage_names); i++) {
        if (strcasecmp(s, stage_names[i]) == 0) {
            *out = (cairn_registry_stage)i;
            return 0;
        }
    }
    return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                           "Invalid Model Version stage: %.100s. Value must be one of None, "
                           "Staging, Production, Archived.",
                           s ? s : "");
}

const char *cairn_registry_stage_name(cairn_registry_stage stage)
{
    if ((unsigned)stage >= CAIRN_ARRAY_LEN(stage_names)) return "None";
    return stage_names[stage];
}

int cairn_registry_alias_check(const char *alias)
{
    size_t n = alias ? strlen(alias) : 0;
    if (n == 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Registered model alias name cannot be empty.");
    for (size_t i = 0; i < n; i++) {
        char c = alias[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                                   "Invalid alias name: '%.255s'. Names may only contain "
                                   "alphanumerics, underscores (_), and dashes (-).",
                                   alias);
    }
    if (n > 255)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Registered model alias name '%.40s...' had length %zu, which "
                               "exceeded length limit of 255",
                               alias, n);
    if (strcasecmp(alias, "latest") == 0)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "'latest' alias name (case insensitive) is reserved.");
    if ((alias[0] == 'v' || alias[0] == 'V') && n > 1 && strspn(alias + 1, "0123456789") == n - 1)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY,
                               "Version alias name '%s' is reserved.", alias);
    return 0;
}

int cairn_registry_new(cairn_registry **out, cairn_store *store)
{
    *out = NULL;
    if (!store)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_REGISTRY, "registry needs a store");
    cairn_registry *reg = cairn_calloc(1, sizeof(*reg));
    reg->store = store;
    *out = reg;
    return 0;
}

void cairn_registry_free(cairn_registry *reg)
{
    if (!reg) return;
    struct reg_listener *l = reg->listeners, *next;
    for (; l; l = next) {
        next = l->next;
        cairn_free(l);
    }
    cairn_free(reg);
}

void cairn_registry_on_change(cairn_registry *reg, cairn_registry_change_cb cb, void *payload)
{
    CAIRN_ASSERT(reg && cb);
    struct reg_listener *l = cairn_calloc(1, sizeof(*l)), **tail = &reg->listeners;
    l->cb = cb;
    l->payload = payload;
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
}

void cairn_registry__notify(cairn_registry *reg, const char *name)
{
    for (struct reg_listener *l = reg->listeners; l; l = l->next)
        l->cb(name, l->payload);
}

int cairn_registry_mount(cairn_registry *reg, cairn_http_server *srv)
{
    static const struct {
        unsigned methods;
        const char *path;
        cairn_http_handler h;
    } routes[] = {
        {CAIRN_HTTP_POST, "/registered-models/create", cairn_registry__h_model_create},
        {CAIRN_HTTP_POST, "/registered-models/rename", cairn_registry__h_model_rename},
        {CAIRN_HTTP_PATCH, "/registered-models/update", cairn_registry__h_model_update},
        {CAIRN_HTTP_DELETE, "/registered-models/delete", cairn_registry__h_model_delete},
        {CAIRN_HTTP_GET, "/registered-models/get", cairn_registry__h_model_get},
        {CAIRN_HTTP_GET, "/registered-models/search", cairn_registry__h_search_models},
        {CAIRN_HTTP_GET | CAIRN_HTTP_POST, "/registered-models/get-latest-versions",
         cairn_registry__h_latest_versions},
        {CAIRN_HTTP_POST, "/registered-models/set-tag", cairn_registry__h_model_set_tag},
        {CAIRN_HTTP_DELETE, "/registered-models/delete-tag", cairn_registry__h_model_delete_tag},
        {CAIRN_HTTP_POST, "/registered-models/alias", cairn_registry__h_alias_set},
        {CAIRN_HTTP_DELETE, "/registered-models/alias", cairn_registry__h_alias_delete},
        {CAIRN_HTTP_GET, "/registered-models/alias", cairn_registry__h_alias_get},
        {CAIRN_HTTP_POST, "/model-versions/create", cairn_registry__h_version_create},
        {CAIRN_HTTP_PATCH, "/model-versions/update", cairn_registry__h_version_update},
        {CAIRN_HTTP_POST, "/model-versions/transition-stage", cairn_registry__h_version_transition},
        {CAIRN_HTTP_DELETE, "/model-versions/delete", cairn_registry__h_version_delete},
        {CAIRN_HTTP_GET, "/model-versions/get", cairn_registry__h_version_get},
        {CAIRN_HTTP_GET, "/model-versions/search", cairn_registry__h_search_versions},
        {CAIRN_HTTP_GET, "/model-versions/get-download-uri",
         cairn_registry__h_version_download_uri},
        {CAIRN_HTTP_POST, "/model-versions/set-tag", cairn_registry__h_version_set_tag},
        {CAIRN_HTTP_DELETE, "/model-versions/delete-tag", cairn_registry__h_version_delete_tag},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(routes); i++) {
        int rc = cairn_api__route(srv, routes[i].methods, routes[i].path, routes[i].h, reg);
        if (rc) return rc;
    }
    return 0;
}
