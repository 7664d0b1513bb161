/*
 * http_status.c - the one table that maps cairn_code to an HTTP status
 * (STYLE.md §4): errors are translated once, at the HTTP edge.
 */
#include "http_internal.h"

int cairn_http_status_for(int code)
{
    switch (code) {
    case CAIRN_OK:
        return 200;
    case CAIRN_ENOTFOUND:
        return 404;
    case CAIRN_EEXISTS:
    case CAIRN_ECONFLICT:
        return 409;
    case CAIRN_EINVALID:
        return 400;
    case CAIRN_ETOOBIG:
        return 413;
    case CAIRN_EBUSY:
        return 503;
    case CAIRN_EAUTH:
        return 401;
    case CAIRN_EUNSUPPORTED:
        return 501;
    default:
        return 500;
    }
}
