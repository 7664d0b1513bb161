#!/usr/bin/env bash
# test_quickstart.sh - `make demo` is `cairn quickstart`: it must run the
# whole job end to end on a fresh home and leave no server behind.
set -u
. "$(dirname "$0")/lib/server.sh"
src="${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
home=$(it_tmpdir)
out=$("$CAIRN" quickstart --home "$home/qs" --data "$src/examples/breast_cancer/breast_cancer.csv" --target diagnosis 2>&1)
code=$?
pass=0
fail=0
expect() { if grep -q -- "$1" <<<"$out"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "not ok: output lacks '$1'" >&2; fi; }
[ "$code" -eq 0 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "not ok: exit $code" >&2; }
expect "experiment 'quickstart'"
expect "registered models:/quickstart-linreg@production -> version 1"
expect "search 'metrics.rmse < 0.5' ordered by rmse: 3 runs"
expect "trained gbdt (binary, target diagnosis) on 455 rows"
expect "registered quickstart-gbdt version 1"
expect "trained logistic (binary, target diagnosis)"
expect "McNemar:"
expect "model quickstart-gbdt version 1"
expect "server stopped"
[ -s "$home/qs/models/gbdt/model.cairn" ] && [ -s "$home/qs/models/gbdt/profile.json" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "not ok: model dir" >&2; }
# the same home serves again: the data was kept
cairn_server_start "$home/qs"
mlflow_get registered-models/get "name=quickstart-gbdt" | grep -q '"name":"quickstart-gbdt"' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "not ok: registry kept" >&2; }
cairn_server_stop
"$CAIRN" quickstart --data x.csv >/dev/null 2>&1
[ $? -eq 2 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "not ok: --data without --target is bad usage" >&2; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
