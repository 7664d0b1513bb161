#!/usr/bin/env bash
# test_demo.sh - `make demo` is `cairn quickstart`: the whole lifecycle with
# the real commands. Runs it in a temp dir and checks the output for each
# step's result (data versioned, 9 stages ran then 0, model registered with
# metrics, deployment split, shift progressed, alert fired, retraining run,
# lineage, UI address), that it took under two minutes, and that no process
# it started is left behind; then --keep leaves a server that answers.
set -u
. "$(dirname "$0")/lib/server.sh"
src="${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "not ok: $*" >&2; }

work=$(it_tmpdir)
start=$SECONDS
out=$("$CAIRN" quickstart --dir "$work/qs" --source "$src" 2>&1)
code=$?
took=$((SECONDS - start))
expect() { if grep -qE -- "$1" <<<"$out"; then ok; else bad "output lacks /$1/"; fi; }
[ "$code" -eq 0 ] && ok || { bad "exit $code"; echo "$out" | tail -40 >&2; }
[ "$took" -lt 120 ] && ok || bad "took ${took}s (limit 120s)"
echo "quickstart took ${took}s" >&2
# 1: data versioned and committed
expect '^    hash: [0-9a-f]{64}$'
expect 'data/breast_cancer\.csv\.cairn +\| +6 \+'
[ -f "$work/qs/project/data/breast_cancer.csv.cairn" ] && ok || bad "no pointer file"
git -C "$work/qs/project" ls-files | grep -qx 'data/breast_cancer.csv.cairn' && ok || bad "pointer not committed"
git -C "$work/qs/project" ls-files | grep -qx 'data/breast_cancer.csv' && bad "the data itself is in git" || ok
# 2: server
expect 'listening on http://127\.0\.0\.1:[0-9]+ \(pid [0-9]+\)'
# 3 and 4: the pipeline ran, then all cached
expect '^    9 executed, 0 up to date'
expect '^    0 executed, 9 up to date'
expect 'second run: 0 ran, 9 cached'
expect 'search_gbdt +done in'
expect 'McNemar p='
expect 'best model +(gbdt|logistic), registered as breast-cancer version 1 @production \(gate auc >= 0\.9 passed\): test auc (0\.9|1\.0)'
expect 'aliases +production@1'
# 5: deployment, OIP traffic, canary shift moving
expect 'x 60 \(5 rows each, FP64 \[5,30\]\): 60 answered, all by version 1'
expect 'challenger +(gbdt|logistic), version 2'
expect 'split now: production 90% / challenger 10%'
expect 'split now: production 70% / challenger 30% \(shift running'
expect 'answered by v1 [0-9]+, v2 [1-9][0-9]*'
# 6: the drift alert fired and started the retraining pipeline
expect 'radius-drift +demo +mean radius +firing'
expect 'retrain +alert:[0-9a-f]+ +succeeded +0'
expect 'retraining +pipeline run [0-9a-f]+ of trigger retrain, reason alert:[0-9a-f]+: succeeded'
# 7: lineage and UI
expect '^    stage +train_logistic|^    stage +\(not made by a pipeline\)'
expect '^    deployed demo'
expect 'UI +http://127\.0\.0\.1:[0-9]+/$'
expect 'server stopped'
# nothing left running that it started
sleep 0.5
if pgrep -f -- "$work/qs" >/dev/null; then bad "processes left: $(pgrep -af -- "$work/qs")"; else ok; fi
# a used --dir is refused (bad usage)
"$CAIRN" quickstart --dir "$work/qs" --source "$src" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "a used --dir is not refused"
"$CAIRN" quickstart --bogus >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "an unknown option is not bad usage"

# --keep: the server stays up and answers, until killed
out=$("$CAIRN" quickstart --keep --dir "$work/keep" --source "$src" 2>&1)
code=$?
[ "$code" -eq 0 ] && ok || { bad "--keep exit $code"; echo "$out" | tail -20 >&2; }
pid=$(sed -n 's/.*stop it with: kill \([0-9]*\).*/\1/p' <<<"$out")
url=$(sed -n 's|^    open \(http://127\.0\.0\.1:[0-9]*\)/$|\1|p' <<<"$out")
if [ -n "$pid" ] && [ -n "$url" ] && kill -0 "$pid" 2>/dev/null; then
    ok
    curl -fsS "$url/api/2.0/cairn/deployments/get?name=demo" | grep -q '"name":"demo"' && ok || bad "kept server does not answer"
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { bad "kept server did not stop"; kill -KILL "$pid"; } || ok
else
    bad "--keep left no server (pid '$pid', url '$url')"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
