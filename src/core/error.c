/*
 * error.c - the thread-local last error. Set where a failure is detected,
 * passed up unchanged, read where it is handled.
 */
#include <stdio.h>
#include <string.h>

#include "cairn/common.h"

static _Thread_local cairn_error last_error;

const cairn_error *cairn_error_last(void) { return &last_error; }

int cairn_error_set(cairn_code code, int subsys, const char *fmt, ...)
{
    va_list ap;
    last_error.code = code;
    last_error.subsys = subsys;
    va_start(ap, fmt);
    vsnprintf(last_error.msg, sizeof(last_error.msg), fmt, ap);
    va_end(ap);
    return code;
}

void cairn_error_clear(void)
{
    last_error.code = CAIRN_OK;
    last_error.subsys = 0;
    last_error.msg[0] = '\0';
}

const char *cairn_code_name(int code)
{
    static const char *const names[] = {"OK", "ERROR", "ENOTFOUND", "EEXISTS", "EINVALID",
                                        "ECONFLICT", "ETOOBIG", "EBUSY", "EIO", "ECORRUPT",
                                        "EAUTH", "ETIMEOUT", "EUNSUPPORTED", "ENOMEM"};
    int i = -code;
    if (i < 0 || i >= (int)CAIRN_ARRAY_LEN(names)) return "ERROR";
    return names[i];
}

const char *cairn_subsys_name(int subsys)
{
    static const char *const names[] = {"core", "store", "blob", "http", "track",
                                        "registry", "server", "cli", "ml", "serve",
                                        "monitor", "data", "pipeline", "k8s"};
    if (subsys < 0 || subsys >= (int)CAIRN_ARRAY_LEN(names)) return "unknown";
    return names[subsys];
}
