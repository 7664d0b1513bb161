/*
 * serve_internal.h - what serve_api.c needs from serve_models.c beyond the
 * public header.
 */
#ifndef CAIRN_SERVE_INTERNAL_H
#define CAIRN_SERVE_INTERNAL_H

#include "cairn/serve.h"

#define SERVE_SUBSYS CAIRN_SUBSYS_SERVE

/* Calls cb once per non-deleted version of name (column 0: the version
 * number, ascending). Returns 0 or a store error. Thread-safe. */
int cairn_serve__versions(cairn_serve *s, const char *name, cairn_row_cb cb, void *payload);

#endif
