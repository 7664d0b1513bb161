#!/usr/bin/env bash
# test_crash_pg.sh - kill -9 a cairn server on the PostgreSQL store in the
# middle of a concurrent log-batch load; after a restart on the same database
# every acknowledged metric point must be there. PostgreSQL comes from
# tests/support/pg-start.sh (or CAIRN_TEST_PG_URL when set).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${CAIRN_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
source "$HERE/lib/server.sh"
source "$HERE/lib/crash_common.sh"

pgdir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pg-XXXXXX")
it_extra_cleanup() { sh "$SRC/tests/support/pg-start.sh" stop "$pgdir" || true; }
eval "$(sh "$SRC/tests/support/pg-start.sh" start "$pgdir")"
db=crash_$$_$RANDOM
url=$(sh "$SRC/tests/support/pg-start.sh" createdb "$db")
echo "PostgreSQL store: $url"

home=$(it_tmpdir)
crash_test_run "$home/home" --store "$url"
sh "$SRC/tests/support/pg-start.sh" dropdb "$db" || true
