#!/usr/bin/env bash
# test_serve_single.sh - `cairn serve --model ...`, the single-model server
# without tracking, as real processes: a GBDT trained by `cairn train`, an
# XGBoost JSON and a LightGBM text fixture served from their files, and a
# model fetched as models:/NAME, models:/NAME@production and models:/NAME/V from a running
# `cairn server`. Checks: ready as soon as the port file appears (the model
# is loaded before listening), V2 infer, KServe V1 predict and /invocations
# (without X-Model-Name) equal `cairn predict` on the same rows (and
# XGBoost's own probabilities), tracking, registry, artifact and deployment
# paths answer 404, bad models and bad registry references exit 1 with one
# clear line, SIGTERM exits 0 and leaves no temp directory behind.
# Needs $CAIRN, curl and node. Prints "N passed, M failed".
set -u
. "$(dirname "$0")/lib/server.sh"
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BC="$SRC/tests/fixtures/csv/breast_cancer.csv"
FX="$SRC/tests/fixtures/import"
command -v node >/dev/null || it_fail "node not found"

pass=0
fail=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "not ok: $name" >&2; fi
}

work=$(it_tmpdir)
cd "$work" || exit 1
unset CAIRN_TRACKING_URI
# Every `cairn serve` below keeps its temp store here, so the test can see it go.
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"

SURL=""
SPID=""
SLOG=""
# Stops a `cairn serve` left running by a failed check (called by server.sh's EXIT trap).
it_extra_cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
}

# serve_start ARGS...: starts `cairn serve ARGS --port 0` in the background and
# waits for its port file; sets SURL, SPID, SLOG. No health polling: the
# server must be ready once the port file exists.
serve_start() {
    local pf="$work/port.$RANDOM"
    SLOG="$work/serve.$RANDOM.log"
    "$CAIRN" serve "$@" --host 127.0.0.1 --port 0 --port-file "$pf" >"$SLOG" 2>&1 &
    SPID=$!
    local deadline=$(( $(now_ms) + ${CAIRN_START_DEADLINE:-20} * 1000 ))
    while [ ! -s "$pf" ]; do
        if ! kill -0 "$SPID" 2>/dev/null; then
            cat "$SLOG" >&2
            SPID=""
            it_fail "cairn serve $* exited during start"
        fi
        [ "$(now_ms)" -lt "$deadline" ] || { cat "$SLOG" >&2; it_fail "cairn serve $* wrote no port file"; }
        sleep 0.02
    done
    SURL="http://127.0.0.1:$(tr -d '[:space:]' <"$pf")"
}

# serve_stop: SIGTERM; true when the server exits 0.
serve_stop() {
    local rc=0
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" || rc=$?
    SPID=""
    [ "$rc" -eq 0 ] || { cat "$SLOG" >&2; echo "cairn serve exited with $rc after SIGTERM" >&2; return 1; }
}

# status METHOD PATH [BODY] [HEADER...]: prints the HTTP status; the body goes to $work/resp.
status() {
    local method=$1 path=$2 body=${3-}
    shift 3 2>/dev/null || shift $#
    local hdr=()
    for h in "$@"; do hdr+=(-H "$h"); done
    if [ -n "$body" ]; then
        curl -sS -o "$work/resp" -w '%{http_code}' --max-time 30 -X "$method" "${hdr[@]}" \
            -H 'Content-Type: application/json' --data-binary "$body" "$SURL$path"
    else
        curl -sS -o "$work/resp" -w '%{http_code}' --max-time 30 -X "$method" "${hdr[@]}" "$SURL$path"
    fi
}
is() { test "$1" = "$2" || { echo "got '$1', want '$2': $(head -c 300 "$work/resp" 2>/dev/null)" >&2; return 1; }; }

# rows CSV SKIP NFEAT [complete]: the first NFEAT columns of CSV's data lines
# (after SKIP lines) as a JSON array of rows, empty cells as null; with
# "complete", only rows without empty cells.
rows() {
    node -e '
        const [f, skip, nf, only] = process.argv.slice(1);
        const lines = require("fs").readFileSync(f, "utf8").trim().split("\n").slice(+skip);
        let r = lines.map((l) => l.split(",").slice(0, +nf).map((c) => (c === "" ? null : Number(c))));
        if (only === "complete") r = r.filter((row) => row.every((v) => v !== null));
        console.log(JSON.stringify(r));
    ' "$1" "$2" "$3" "${4-}"
}
# v2_body ROWS_JSON: an OIP V2 request, one FP64 tensor [n, features].
v2_body() {
    node -e 'const r = JSON.parse(process.argv[1]);
        console.log(JSON.stringify({ id: "single-1", inputs: [{ name: "input-0", datatype: "FP64", shape: [r.length, r[0].length], data: r.flat() }] }));' "$1"
}
# same_numbers GOT_JSON_EXPR WANT_FILE COLUMN [REL]: the numbers that the JS
# expression (over o = the response in $work/resp) yields equal column
# COLUMN of the CSV WANT_FILE, exactly or within relative REL.
same_numbers() {
    node -e '
        const fs = require("fs");
        const [expr, wantFile, col, rel] = process.argv.slice(1);
        const o = JSON.parse(fs.readFileSync(process.argv[5], "utf8"));
        let got;
        try { got = eval(expr).map(Number); } catch (e) { console.error("response:", JSON.stringify(o).slice(0, 300)); process.exit(1); }
        const lines = fs.readFileSync(wantFile, "utf8").trim().split("\n");
        const ci = lines[0].split(",").indexOf(col);
        const want = lines.slice(1).map((l) => Number(l.split(",")[ci]));
        if (ci < 0 || got.length !== want.length) { console.error("shape", ci, got.length, want.length); process.exit(1); }
        const tol = Number(rel || 0);
        for (let i = 0; i < want.length; i++) {
            const d = Math.abs(got[i] - want[i]);
            if (!(tol ? d <= tol * Math.max(1e-12, Math.abs(want[i])) : d === 0)) { console.error("row", i, got[i], want[i]); process.exit(1); }
        }
    ' "$1" "$2" "$3" "${4-}" "$work/resp"
}
# one_line_error FILE WORD: FILE holds exactly one line and it contains WORD.
one_line_error() {
    [ "$(wc -l <"$1")" -eq 1 ] && grep -q -- "$2" "$1" || { echo "stderr: $(cat "$1")" >&2; return 1; }
}
# metrics_has REGEX: the /metrics exposition has a line matching REGEX.
metrics_has() { curl -sS --max-time 30 -o "$work/metrics" "$SURL/metrics" && grep -q -- "$1" "$work/metrics"; }
tmp_empty() { [ -z "$(ls -A "$TMPDIR")" ] || { echo "left in TMPDIR: $(ls -A "$TMPDIR")" >&2; return 1; }; }

# ---- a GBDT from `cairn train`, served from its model.cairn ------------------------------
"$CAIRN" train --data "$BC" --no-header --skip-lines 1 --target c30 --set n_rounds=20 --out m_bc >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; it_fail "cairn train"; }
head -n 13 "$BC" | tail -n 12 >bc_rows.csv # 12 data rows, 30 features + label
"$CAIRN" predict --model m_bc --data bc_rows.csv --no-header --out bc_pred.csv || it_fail "cairn predict"
BC_ROWS=$(rows bc_rows.csv 0 30)

serve_start --model m_bc/model.cairn
check "ready at once (model preloaded)" is "$(status GET /v2/health/ready)" 200
check "model ready at once" is "$(status GET /v2/models/model/ready)" 200
check "models_loaded is 1 before any request" metrics_has '^cairn_models_loaded 1$'
check "live" is "$(status GET /v2/health/live)" 200
check "/health" is "$(status GET /health)" 200
check "/ping" is "$(status GET /ping)" 200
check "default name: file name without extension" is "$(status GET /v2/models/model)" 200
check "metadata names the model" grep -q '"name":"model"' "$work/resp"
check "V2 infer" is "$(status POST /v2/models/model/infer "$(v2_body "$BC_ROWS")")" 200
check "V2 infer equals cairn predict" same_numbers 'o.outputs.find((t) => t.name === "proba").data' bc_pred.csv proba_1
check "V2 infer echoes the id" grep -q '"id":"single-1"' "$work/resp"
check "V1 predict" is "$(status POST /v1/models/model:predict "{\"instances\":$BC_ROWS}")" 200
check "V1 predict equals cairn predict" same_numbers 'o.predictions' bc_pred.csv proba_1
check "/invocations without X-Model-Name" is "$(status POST /invocations "{\"inputs\":$BC_ROWS}")" 200
check "/invocations equals cairn predict" same_numbers 'o.predictions' bc_pred.csv proba_1
check "unknown model 404" is "$(status POST /v2/models/nope/infer "$(v2_body "$BC_ROWS")")" 404
check "/metrics counts the inference" metrics_has '^cairn_inference_requests_total{.*model="model",version="1".*} [1-9]'
for p in /api/2.0/mlflow/experiments/search /api/2.0/mlflow/runs/search \
    "/api/2.0/mlflow/registered-models/search" "/api/2.0/mlflow/registered-models/get?name=model" \
    /api/2.0/mlflow-artifacts/artifacts/serve/model/model.cairn /api/2.0/cairn/deployments/list /version; do
    check "no tracking API: GET $p is 404" is "$(status GET "$p")" 404
done
check "no tracking API: POST experiments/create is 404" is "$(status POST /api/2.0/mlflow/experiments/create '{"name":"x"}')" 404
check "no tracking API: POST deployments/create is 404" is "$(status POST /api/2.0/cairn/deployments/create '{"name":"d","targets":[{"model":"model","weight":100}]}')" 404
check "the temp store exists while serving" test -n "$(ls -A "$TMPDIR")"
check "SIGTERM exits 0" serve_stop
check "temp store removed at exit" tmp_empty

serve_start --model m_bc --name churn
check "--name names the model" is "$(status GET /v2/models/churn/ready)" 200
check "--name: the default name is not served" is "$(status GET /v2/models/m_bc/ready)" 404
check "a model directory is served" is "$(status POST /v1/models/churn:predict "{\"instances\":$BC_ROWS}")" 200
check "directory: V1 equals cairn predict" same_numbers 'o.predictions' bc_pred.csv proba_1
check "SIGINT exits 0 too" bash -c "kill -INT $SPID"
wait "$SPID"
check "exit status after SIGINT is 0" test $? -eq 0
SPID=""

# ---- an XGBoost JSON model and a LightGBM text model, by content -------------------------
"$CAIRN" model import --xgboost "$FX/xgb_bin.json" --out xgb >/dev/null || it_fail "model import"
cp "$FX/xgb_bin.json" xgb_model # no extension: detection is by content
awk -F, 'NR == 1 || ($1 != "" && $2 != "" && $3 != "" && $4 != "")' "$FX/xgb_bin.csv" >xgb_full.csv
"$CAIRN" predict --model xgb --data xgb_full.csv --out xgb_pred.csv || it_fail "predict xgb"
"$CAIRN" predict --model xgb --data "$FX/xgb_bin.csv" --out xgb_pred_all.csv || it_fail "predict xgb all"
XGB_FULL=$(rows xgb_full.csv 1 4)
XGB_ALL=$(rows "$FX/xgb_bin.csv" 1 4)

serve_start --model "$FX/xgb_bin.json"
check "xgboost: ready at once" is "$(status GET /v2/models/xgb_bin/ready)" 200
check "xgboost: V2 infer" is "$(status POST /v2/models/xgb_bin/infer "$(v2_body "$XGB_FULL")")" 200
check "xgboost: V2 equals cairn predict" same_numbers 'o.outputs.find((t) => t.name === "proba").data' xgb_pred.csv proba_1
check "xgboost: V2 equals XGBoost's probabilities" same_numbers 'o.outputs.find((t) => t.name === "proba").data' xgb_full.csv p0 1e-5
check "xgboost: V1 with missing values" is "$(status POST /v1/models/xgb_bin:predict "{\"instances\":$XGB_ALL}")" 200
check "xgboost: V1 equals cairn predict" same_numbers 'o.predictions' xgb_pred_all.csv proba_1
check "xgboost: V1 equals XGBoost's probabilities" same_numbers 'o.predictions' "$FX/xgb_bin.csv" p0 1e-5
check "xgboost: /invocations without header" is "$(status POST /invocations "{\"inputs\":$XGB_ALL}")" 200
check "xgboost: /invocations equals cairn predict" same_numbers 'o.predictions' xgb_pred_all.csv proba_1
check "xgboost: SIGTERM exits 0" serve_stop

serve_start --model xgb_model
check "xgboost without extension: detected by content" is "$(status GET /v2/models/xgb_model/ready)" 200
check "xgboost without extension: SIGTERM exits 0" serve_stop

"$CAIRN" model import --lightgbm "$FX/lgbm_reg.txt" --out lgbm >/dev/null || it_fail "import lightgbm"
printf 'x0,x1,x2\n1.5,0.25,-3\n-2,4,0.5\n0.1,-0.7,2\n' >lgbm_rows.csv
"$CAIRN" predict --model lgbm --data lgbm_rows.csv --out lgbm_pred.csv || it_fail "predict lightgbm"
serve_start --model "$FX/lgbm_reg.txt" --name lgbm
check "lightgbm: ready at once" is "$(status GET /v2/models/lgbm/ready)" 200
check "lightgbm: V1 predict" is "$(status POST /v1/models/lgbm:predict "{\"instances\":$(rows lgbm_rows.csv 1 3)}")" 200
check "lightgbm: V1 equals cairn predict" same_numbers 'o.predictions' lgbm_pred.csv prediction
check "lightgbm: SIGTERM exits 0" serve_stop
check "no temp store left behind" tmp_empty

# ---- refusals: one clear line, exit 1 ----------------------------------------------------
# refuse NAME WORD ARGS...: `cairn serve ARGS` exits 1 at once with one line naming WORD.
refuse() {
    local name=$1 word=$2
    shift 2
    "$CAIRN" serve --port 0 "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    check "$name: exit 1" is "$rc" 1
    check "$name: one clear line" one_line_error "$work/err" "$word"
}
printf 'hello, this is not a model\n' >junk.txt
refuse "junk file" "not a model file" --model junk.txt
head -c 200 m_bc/model.cairn >truncated.cairn
refuse "truncated model.cairn" "truncated.cairn" --model truncated.cairn
echo '{"learner": 5}' >broken.json
refuse "broken XGBoost JSON" "broken.json" --model broken.json
refuse "missing file" "no such file" --model does/not/exist.cairn
refuse "directory without model.cairn" "holds no model.cairn" --model "$work/tmp"
refuse "a name with a slash" "cannot hold '/'" --model m_bc/model.cairn --name a/b
"$CAIRN" serve --port 0 2>"$work/err"
check "no --model: usage error 2" is "$?" 2
check "refusals leave no temp store" tmp_empty

# ---- models:/ from a running tracking server ---------------------------------------------
refuse "unreachable tracking server" "models:/bc@production" --model models:/bc@production \
    --set client.tracking_uri=http://127.0.0.1:9
cairn_server_start "$work/srv"
export CAIRN_TRACKING_URI="$CAIRN_URL"
"$CAIRN" train --data "$BC" --no-header --skip-lines 1 --target c30 --set n_rounds=20 \
    --experiment single --register bc --out m_reg >/dev/null 2>"$work/err" || { cat "$work/err" >&2; it_fail "train --register"; }
"$CAIRN" predict --model m_reg --data bc_rows.csv --no-header --out reg_pred.csv || it_fail "predict m_reg"
serve_start --model models:/bc
check "models:/bc without an alias: the newest version" is "$(status POST /v1/models/bc:predict "{\"instances\":$BC_ROWS}")" 200
check "models:/bc (newest, v1) equals cairn predict" same_numbers 'o.predictions' reg_pred.csv proba_1
check "models:/bc: SIGTERM exits 0" serve_stop
# A second, different version; production stays on version 1.
"$CAIRN" train --data "$BC" --no-header --skip-lines 1 --target c30 --set n_rounds=3 \
    --experiment single --register bc --out m_reg2 >/dev/null 2>"$work/err" || { cat "$work/err" >&2; it_fail "train v2"; }
"$CAIRN" predict --model m_reg2 --data bc_rows.csv --no-header --out reg2_pred.csv || it_fail "predict m_reg2"
check "version 2 predicts differently" bash -c '! cmp -s reg_pred.csv reg2_pred.csv'
mlflow_post registered-models/alias '{"name":"bc","alias":"production","version":"1"}' >/dev/null || it_fail "set alias"

serve_start --model models:/bc
check "models:/bc with production set: the alias wins over the newest" is "$(status POST /v1/models/bc:predict "{\"instances\":$BC_ROWS}")" 200
check "models:/bc serves version 1" same_numbers 'o.predictions' reg_pred.csv proba_1
check "models:/bc (alias): SIGTERM exits 0" serve_stop

serve_start --model models:/bc@production
check "models:/bc@production: ready at once" is "$(status GET /v2/models/bc/ready)" 200
check "models:/: V2 infer" is "$(status POST /v2/models/bc/infer "$(v2_body "$BC_ROWS")")" 200
check "models:/: V2 equals cairn predict of the registered model" same_numbers 'o.outputs.find((t) => t.name === "proba").data' reg_pred.csv proba_1
check "models:/: /invocations without header" is "$(status POST /invocations "{\"inputs\":$BC_ROWS}")" 200
check "models:/: the tracking API is not served here" is "$(status GET /api/2.0/mlflow/registered-models/get?name=bc)" 404
check "models:/: SIGTERM exits 0" serve_stop
serve_start --model models:/bc/1 --name v1
check "models:/bc/1 --name v1" is "$(status POST /v1/models/v1:predict "{\"instances\":$BC_ROWS}")" 200
check "models:/bc/1 equals cairn predict" same_numbers 'o.predictions' reg_pred.csv proba_1
check "models:/bc/1: SIGTERM exits 0" serve_stop
refuse "unknown alias" "models:/bc@nope" --model models:/bc@nope
refuse "unknown version" "models:/bc/7" --model models:/bc/7
serve_start --model models:/bc/2
check "models:/bc/2 equals cairn predict of version 2" is "$(status POST /v1/models/bc:predict "{\"instances\":$BC_ROWS}")" 200
check "models:/bc/2 serves version 2" same_numbers 'o.predictions' reg2_pred.csv proba_1
check "models:/bc/2: SIGTERM exits 0" serve_stop
refuse "unknown bare model" "models:/nobody" --model models:/nobody
refuse "unknown model" "models:/nobody@production" --model models:/nobody@production
refuse "models:/ without a name" "want models:/NAME" --model models:/
"$CAIRN" serve --model m_bc --port "${CAIRN_URL##*:}" >"$work/out" 2>"$work/err"
check "port taken: exit 1" is "$?" 1
check "port taken: the last line says so" bash -c "tail -n 1 '$work/err' | grep -q '^cairn: .*${CAIRN_URL##*:}'"
cairn_server_stop
check "no temp store left at the end" tmp_empty

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
