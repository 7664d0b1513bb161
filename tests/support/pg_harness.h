/*
 * pg_harness.h - a PostgreSQL server for the `pg` tests.
 *
 * Uses CAIRN_TEST_PG_URL when set; otherwise starts a throwaway server in a
 * fresh temp directory through tests/support/pg-start.sh (found through
 * CAIRN_SOURCE_DIR, which ctest sets) and stops it at the end. Each test
 * asks for its own database so tests never share state. Failures are
 * reported, never skipped: the caller fails the test with the message.
 */
#ifndef CAIRN_TEST_PG_HARNESS_H
#define CAIRN_TEST_PG_HARNESS_H

#include <stddef.h>

typedef struct cairn_pg_harness cairn_pg_harness;

/* Starts (or attaches to) a server. Returns 0, or -1 with a reason in err. */
int cairn_pg_harness_start(cairn_pg_harness **out, char *err, size_t errlen);
/* URL of the server's default test database (borrowed). */
const char *cairn_pg_harness_url(const cairn_pg_harness *h);
/* Creates a database with a unique name starting with `tag` (lowercase
 * letters, digits, '_'); returns its URL (free with cairn_free) or NULL with a
 * reason in err. */
char *cairn_pg_harness_create_db(cairn_pg_harness *h, const char *tag, char *err, size_t errlen);
/* Drops a database made by cairn_pg_harness_create_db (only needed on an
 * external server; a started one is removed whole). Best effort. */
void cairn_pg_harness_drop_db(cairn_pg_harness *h, const char *url);
/* Stops a started server and removes its directory. NULL is a no-op. */
void cairn_pg_harness_stop(cairn_pg_harness *h);

#endif
