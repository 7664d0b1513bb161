#!/usr/bin/env bash
# test_pipeline.sh - `cairn pipeline run|status|dag` and `cairn lineage` in a
# temp git repo against a real `cairn server`: a multi-stage pipeline
# (prepare -> two parallel feature stages -> join -> validate/train ->
# evaluate -> register with a promotion gate) runs, a second run executes
# nothing, changing one input re-runs exactly its downstream stages, a
# failing stage keeps earlier results, the parallel stages overlap, bad
# files are reported with file:line, runs are tracked with lineage tags.
set -euo pipefail
source "$(dirname "$0")/lib/server.sh"
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

home=$(it_tmpdir)
cairn_server_start "$home"
export CAIRN_TRACKING_URI=$CAIRN_URL

repo=$(it_tmpdir)
cd "$repo"
git init -q .
git config user.email t@example.com
git config user.name t

# The data: breast cancer rows, the target moved to the last column already.
cp "$SRC/examples/breast_cancer/breast_cancer.csv" raw.csv
printf '1-15\n' > feat_a.cfg
printf '16-31\n' > feat_b.cfg
printf 'train:\n  n_rounds: 30\n' > params.yaml
cat > feat.sh <<'EOF'
# feat.sh ITEM: the columns named in feat_ITEM.cfg; records when it ran.
set -e
date +%s%N > "when_$1.start"
cols=$(cat "feat_$1.cfg")
cut -d, -f"$cols" data/clean.csv > "features_$1.csv"
sleep 0.5
date +%s%N > "when_$1.end"
EOF
cat > cairn.yaml <<'EOF'
params: params.yaml
stages:
  prepare:
    cmd: mkdir -p data && grep -v '^$' raw.csv > data/clean.csv
    deps: [raw.csv]
    outs: [data/clean.csv]
  validate:
    kind: validate
    data: data/clean.csv
    columns:
      diagnosis: {type: string, max_missing: 0}
      mean radius: {type: float, min: 0, max: 100}
  feat:
    foreach: [a, b]
    cmd: sh feat.sh ${item}
    deps: [data/clean.csv, feat.sh, "feat_${item}.cfg"]
    outs: ["features_${item}.csv"]
  join:
    cmd: paste -d, features_a.csv features_b.csv > train.csv
    deps: [features_a.csv, features_b.csv]
    outs: [train.csv]
  train:
    kind: train
    data: train.csv
    target: diagnosis
    model: gbdt
    out: model
    params: [train.n_rounds]
  evaluate:
    kind: evaluate
    model: model
    data: train.csv
    target: diagnosis
    out: eval.json
  register:
    kind: register
    model: model
    name: bc
    alias: champion
    metrics: [eval.json]
    gate: {metric: auc, min: 0.9}
EOF
git add -A && git commit -qm init

ran() { grep -E ' (running|done in)' "$1" | awk '{print $1}' | sort -u | tr '\n' ' '; }

# --- dag -----------------------------------------------------------------
"$CAIRN" pipeline dag > dag.txt
grep -q '^join  <- feat@a, feat@b$' dag.txt || { cat dag.txt; it_fail "dag text"; }
"$CAIRN" pipeline dag --dot | grep -q '"feat@b" -> "join";' || it_fail "dag --dot"

# --- first run: everything executes ------------------------------------
"$CAIRN" pipeline run --jobs 2 > run1.txt 2> run1.err || { cat run1.txt run1.err; it_fail "first run failed"; }
grep -q '^8 executed, 0 up to date' run1.txt || { cat run1.txt; it_fail "first run counts"; }
grep -q 'tracked as run ' run1.txt || it_fail "first run not tracked"
[ -s model/metrics.json ] && [ -s eval.json ] || it_fail "train/evaluate outs missing"

# The two feature stages overlapped: [start_a, end_a] meets [start_b, end_b].
sa=$(cat when_a.start); ea=$(cat when_a.end); sb=$(cat when_b.start); eb=$(cat when_b.end)
[ "$sa" -lt "$eb" ] && [ "$sb" -lt "$ea" ] || it_fail "feat@a and feat@b did not overlap"

# Lock file: keys, dep hashes equal to the files' SHA-256, out hashes, params.
raw_sha=$(sha256sum raw.csv | cut -d' ' -f1)
train_sha=$(sha256sum train.csv | cut -d' ' -f1)
grep -q "hash: $raw_sha" cairn.lock || it_fail "lock lacks raw.csv's hash"
grep -q "hash: $train_sha" cairn.lock || it_fail "lock lacks train.csv's hash"
grep -q '"train.n_rounds": "30"' cairn.lock || it_fail "lock lacks params"
grep -A1 '"model"' cairn.lock | grep -q 'path' || true
grep -q 'type: dir' cairn.lock || it_fail "lock lacks the model directory out"
[ "$(grep -c '    key: [0-9a-f]\{64\}' cairn.lock)" = 8 ] || it_fail "lock keys"
[ -s .cairn/logs/train.log ] || it_fail "train log missing"

# Tracking: a parent run, child runs with parentRunId and lineage tags.
parent=$(sed -n 's/.*tracked as run \([0-9a-f]*\).*/\1/p' run1.txt)
exp=$(mlflow_get experiments/get-by-name experiment_name=Default | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).experiment.experiment_id)')
mlflow_post runs/search "{\"experiment_ids\":[\"$exp\"],\"max_results\":1000}" > runs.json
node - "$parent" "$raw_sha" <<'EOF' || it_fail "tracked runs"
const [parent, rawSha] = process.argv.slice(2);
const runs = JSON.parse(require('fs').readFileSync('runs.json')).runs || [];
const tags = r => Object.fromEntries((r.data.tags || []).map(t => [t.key, t.value]));
const kids = runs.filter(r => tags(r)['mlflow.parentRunId'] === parent);
const stages = new Set(kids.map(r => tags(r)['cairn.stage']));
for (const s of ['prepare', 'validate', 'feat@a', 'feat@b', 'join', 'train', 'evaluate', 'register'])
  if (!stages.has(s)) throw new Error('no child run for ' + s);
const prep = kids.find(r => tags(r)['cairn.stage'] === 'prepare' && tags(r)['cairn.deps']);
if (JSON.parse(tags(prep)['cairn.deps'])['raw.csv'] !== rawSha) throw new Error('cairn.deps of prepare');
if (!/^[0-9a-f]{64}$/.test(tags(prep)['cairn.cache_key'])) throw new Error('cache key tag');
if (!tags(prep)['cairn.outs'].includes('data/clean.csv')) throw new Error('cairn.outs');
const ev = kids.find(r => tags(r)['cairn.stage'] === 'evaluate' && (r.data.metrics || []).length);
if (!ev || !ev.data.metrics.some(m => m.key === 'auc')) throw new Error('evaluate metrics not logged');
EOF

# Registered with the alias, because auc passed the gate.
mlflow_get registered-models/alias "name=bc&alias=champion" | grep -q '"version":"1"' || it_fail "alias champion -> 1"

# Lineage: the version leads back to the train stage and train.csv's hash.
"$CAIRN" lineage models:/bc/1 > lineage.txt || { cat lineage.txt; it_fail "lineage failed"; }
grep -q "train.csv  sha256:$train_sha" lineage.txt || { cat lineage.txt; it_fail "lineage lacks the data hash"; }
grep -q "stage    train" lineage.txt || it_fail "lineage lacks the stage"
grep -q "pipeline run $parent" lineage.txt || it_fail "lineage lacks the pipeline run"

# --- second run: nothing executes ----------------------------------------
"$CAIRN" pipeline run > run2.txt
grep -q '^0 executed, 8 up to date' run2.txt || { cat run2.txt; it_fail "second run executed something"; }
"$CAIRN" pipeline status | grep -q 'everything is up to date' || it_fail "status after run"

# --- one input changes: exactly its downstream stages run ----------------
printf '21-31\n' > feat_b.cfg
"$CAIRN" pipeline status > st.txt
grep -q '^feat@b  *stale: dep feat_b.cfg changed' st.txt || { cat st.txt; it_fail "status names the dep"; }
grep -q '^feat@a  *up to date' st.txt || it_fail "status: feat@a"
"$CAIRN" pipeline run --jobs 2 > run3.txt
[ "$(ran run3.txt)" = "evaluate feat@b join register train " ] || { cat run3.txt; it_fail "wrong stages re-ran: $(ran run3.txt)"; }
# the pipeline's run lists the stages the cache answered, with their deps and outs
mlflow_post runs/search "{\"experiment_ids\":[\"$exp\"],\"filter\":\"tags.cairn.kind = 'pipeline'\",\"max_results\":1,\"order_by\":[\"attributes.start_time DESC\"]}" > last.json
node -e '
const run = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).runs[0];
const tag = (run.data.tags || []).find((t) => t.key === "cairn.cached_stages");
if (!tag) { console.error("no cairn.cached_stages tag"); process.exit(1); }
const cached = JSON.parse(tag.value).map((c) => c.stage).sort().join(" ");
if (cached !== "feat@a prepare validate") { console.error("cached stages:", cached); process.exit(1); }
const prep = JSON.parse(tag.value).find((c) => c.stage === "prepare");
if (!Object.keys(prep.outs).length) { console.error("no outs for prepare"); process.exit(1); }
' last.json || it_fail "the pipeline run names its cached stages"

# --- --set changes a param: train and what follows -------------------------
"$CAIRN" pipeline run --set train.n_rounds=20 --dry-run > dry.txt
grep -q '^train  *would run: .*param train.n_rounds changed (30 -> 20)' dry.txt || { cat dry.txt; it_fail "dry run"; }

# --- a failing stage keeps earlier results -------------------------------
sed -n 2p raw.csv > row.tmp && cat row.tmp >> raw.csv   # prepare re-runs and succeeds
printf 'zz\n' > feat_a.cfg      # feat@a fails (cut rejects the list)
set +e
"$CAIRN" pipeline run --jobs 2 > run5.txt 2> run5.err
rc=$?
set -e
[ $rc = 1 ] || it_fail "failing run exit $rc"
grep -q "stage .feat@a. failed" run5.err || { cat run5.err; it_fail "failing stage not named"; }
grep -q '^join  *not run: upstream stage .feat@a. failed' run5.txt || it_fail "join should be blocked"
"$CAIRN" pipeline status > st2.txt
grep -q '^prepare  *up to date' st2.txt || { cat st2.txt; it_fail "prepare's result not kept"; }
grep -q '^feat@b  *up to date' st2.txt || { cat st2.txt; it_fail "feat@b's result not kept"; }
printf '1-15\n' > feat_a.cfg
"$CAIRN" pipeline run > run6.txt
! grep -q '^prepare  *running' run6.txt || it_fail "prepare re-ran after the failure"
grep -q '^feat@a  *running' run6.txt || it_fail "feat@a did not re-run"

# --- outs deleted: restored from the cache, not re-run -------------------
rm -rf model train.csv
"$CAIRN" pipeline run > run7.txt
grep -q '^train  *restored outs from the cache' run7.txt || { cat run7.txt; it_fail "train not restored"; }
[ "$(sha256sum train.csv | cut -d' ' -f1)" = "$(grep -A1 '"train.csv"' cairn.lock | sed -n 's/ *hash: //p' | head -1)" ] || it_fail "restored train.csv differs"
[ -s model/MLmodel ] || it_fail "model dir not restored"

# --- promotion gate that fails: alias does not move ------------------------
cat > strict.yaml <<'EOF'
stages:
  promote:
    kind: register
    model: model
    name: bc
    alias: champion
    metrics: [eval.json]
    gate: {metric: auc, min: 1.5}
EOF
v_before=$(mlflow_get registered-models/alias "name=bc&alias=champion")
set +e
"$CAIRN" pipeline run --file strict.yaml > gate.txt 2> gate.err
rc=$?
set -e
[ $rc = 1 ] || it_fail "gate should fail the stage"
grep -q 'promotion gate failed: auc = .* is below the minimum 1.5' .cairn/logs/promote.log || { cat .cairn/logs/promote.log; it_fail "gate message"; }
[ "$(mlflow_get registered-models/alias "name=bc&alias=champion")" = "$v_before" ] || it_fail "alias moved despite the gate"

# --- validate stage fails with a readable report --------------------------
cat > val.yaml <<'EOF'
stages:
  check:
    kind: validate
    data: raw.csv
    columns:
      mean radius: {type: float, max: 20}
      diagnosis: {unique: true}
EOF
set +e
"$CAIRN" pipeline run --no-track --file val.yaml > val.txt 2>&1
rc=$?
set -e
[ $rc = 1 ] || it_fail "validate should fail"
grep -q 'FAIL column mean radius: .* values above max 20' .cairn/logs/check.log || { cat .cairn/logs/check.log; it_fail "range report"; }
grep -q 'FAIL column diagnosis: .* duplicate values' .cairn/logs/check.log || it_fail "unique report"

# --- bad files: file:line messages --------------------------------------
bad() { # bad FILE EXPECTED-REGEX
    set +e
    "$CAIRN" pipeline run --no-track --file "$1" > bad.out 2>&1
    local rc=$?
    set -e
    [ $rc != 0 ] || it_fail "$1 should be rejected"
    grep -qE "$2" bad.out || { cat bad.out; it_fail "$1: message"; }
}
printf 'stages:\n  a:\n    cmd: touch a\n    deps: [b]\n    outs: [a]\n  b:\n    cmd: touch b\n    deps: [a]\n    outs: [b]\n' > cyc.yaml
bad cyc.yaml 'cyc.yaml:[36]: cycle: (a -> b -> a|b -> a -> b)'
printf 'stages:\n  a:\n    cmd: echo\n    outz: [x]\n' > unk.yaml
bad unk.yaml "unk.yaml:4: unknown key 'outz' in stage 'a' \(did you mean 'outs'\?\)"
printf 'stages:\n  a:\n    cmd: echo\n    deps:\n      - raw.csv\n      - nowhere.csv\n' > miss.yaml
bad miss.yaml "miss.yaml:6: stage 'a': dep 'nowhere.csv' does not exist and no stage produces it"
printf 'stages:\n  t:\n    kind: train\n    data: raw.csv\n' > kind.yaml
bad kind.yaml "kind.yaml:3: stage 't': kind train needs data, target and out"

# --- no server: runs untracked and says so once ----------------------------
printf 'stages:\n  hello:\n    cmd: echo hi > hi.txt\n    outs: [hi.txt]\n' > off.yaml
CAIRN_TRACKING_URI=http://127.0.0.1:9 "$CAIRN" pipeline run --file off.yaml > off.txt 2> off.err
[ "$(grep -c 'not reachable' off.err)" = 1 ] || { cat off.err; it_fail "untracked note"; }

echo "test_pipeline: ok"
