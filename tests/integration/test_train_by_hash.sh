#!/usr/bin/env bash
# test_train_by_hash.sh - data named by content hash: a CSV uploaded through
# the artifact proxy is stored by its SHA-256; `cairn train --data <sha256>`
# reads exactly those bytes from the artifact store, and the run's lineage
# tag names the same hash.
set -u
. "$(dirname "$0")/lib/server.sh"
src="${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
csv="$src/examples/breast_cancer/breast_cancer.csv"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "not ok: $*" >&2; }

home=$(it_tmpdir)
cairn_server_start "$home"
curl -fsS -X PUT --data-binary @"$csv" "$CAIRN_URL/api/2.0/mlflow-artifacts/artifacts/data/breast_cancer.csv" >/dev/null && ok || bad "upload"
sha=$(sha256sum "$csv" | cut -d' ' -f1)
work=$(it_tmpdir)
cd "$work" || exit 1
CAIRN_STORE_HOME="$home" CAIRN_TRACKING_URI="$CAIRN_URL" "$CAIRN" train --data "$sha" --target diagnosis \
    --model logistic --experiment by-hash --out "$work/m" >"$work/out" 2>&1 && ok || { bad "train by hash"; cat "$work/out" >&2; }
grep -q "auc" "$work/out" && ok || bad "metrics printed"
runs=$(mlflow_post runs/search '{"experiment_ids":["1"]}')
node -e '
  const r = JSON.parse(process.argv[1]).runs[0];
  const tag = r.data.tags.find((t) => t.key === "cairn.data.sha256");
  process.exit(tag && tag.value === process.argv[2] ? 0 : 1);
' "$runs" "$sha" && ok || bad "lineage tag names the hash"
missing=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
CAIRN_STORE_HOME="$home" "$CAIRN" train --data "$missing" --target diagnosis --out "$work/x" 2>"$work/err"
[ $? -eq 1 ] && grep -q "no stored data with that hash" "$work/err" && ok || bad "unknown hash is a clear error"
cairn_server_stop
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
