/*
 * cairn/ui.h - the embedded web UI (module ui): GET / and GET /ui/<file>.
 */
#ifndef CAIRN_UI_H
#define CAIRN_UI_H

#include "cairn/http.h"

/* Registers GET / (the UI's index.html) and GET /ui/ (its other files). */
CAIRN_API int cairn_ui_mount(cairn_http_server *srv);
/* Number of embedded files. */
CAIRN_API size_t cairn_ui_asset_count(void);

#endif
