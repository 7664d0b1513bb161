/*
 * ui_assets.h - the web UI's files, embedded at build time
 * (cmake/EmbedAssets.cmake turns every file under ui/ into a byte array).
 */
#ifndef CAIRN_UI_ASSETS_H
#define CAIRN_UI_ASSETS_H

#include <stddef.h>

typedef struct cairn_ui_asset {
    const char *path; /* relative to ui/, e.g. "index.html", "pages/runs.js" */
    const unsigned char *data;
    size_t len;
} cairn_ui_asset;

/* Terminated by an entry whose path is NULL. */
extern const cairn_ui_asset cairn_ui_assets[];

#endif
