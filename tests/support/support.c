/*
 * support.c - helpers shared by the unit tests: temp directories.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

char *cairn_test_tmpdir(const char *tag)
{
    char tmpl[256];
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/cairn-%s-XXXXXX", base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void cairn_test_rmrf(const char *dir)
{
    char cmd[512];
    if (!dir || strncmp(dir, "/tmp/", 5) != 0) return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}
