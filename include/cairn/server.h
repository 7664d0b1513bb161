/*
 * cairn/server.h - `cairn server`: one process that opens the metadata store
 * and the artifact store and mounts the modules' routes (tracking, registry,
 * artifacts, health) on one HTTP listener.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include "cairn/config.h"

typedef struct cairn_server cairn_server;

/* Opens stores (running migrations) and prepares routes; does not listen yet.
 * The config is copied where needed and may be freed after this returns. */
CAIRN_API int cairn_server_new(cairn_server **out, const cairn_config *cfg);
/* Binds and serves on background threads. CAIRN_EIO if the port is taken. */
CAIRN_API int cairn_server_start(cairn_server *srv);
CAIRN_API int cairn_server_port(const cairn_server *srv);
/* Stops serving, drains queued writes, closes stores. NULL is a no-op. */
CAIRN_API void cairn_server_free(cairn_server *srv);

#endif
