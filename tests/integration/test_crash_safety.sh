#!/usr/bin/env bash
# test_crash_safety.sh - kill -9 a cairn server (SQLite store) in the middle
# of a concurrent log-batch load; after a restart on the same home every
# acknowledged metric point must be there.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/server.sh"
source "$HERE/lib/crash_common.sh"

home=$(it_tmpdir)
crash_test_run "$home/home"
