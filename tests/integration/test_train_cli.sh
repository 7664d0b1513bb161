#!/usr/bin/env bash
# test_train_cli.sh - cairn train / predict / evaluate / compare / model
# inspect: every model kind trained locally on real data (breast cancer, a
# generated regression set), hyperparameter search (grid, halving), exit
# codes (2 bad usage, 1 failure), then the same against a real server:
# params, per-step metrics, lineage tags, uploaded artifacts, the registered
# version and prediction through models:/NAME/1.
set -u
. "$(dirname "$0")/lib/server.sh"

SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BC="$SRC/tests/fixtures/csv/breast_cancer.csv"
SEARCH="$SRC/tests/fixtures/search"
BCOPT=(--no-header --skip-lines 1) # the first line is metadata; columns are c0..c30, c30 the label

pass=0
fail=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "not ok: $name" >&2; fi
}
# run_cli EXPECTED_CODE ARGS...: runs cairn, keeps stdout/stderr in OUT/ERR
run_cli() {
    local want=$1
    shift
    OUT=$("$CAIRN" "$@" 2>"$ERRF")
    CODE=$?
    ERR=$(cat "$ERRF")
    [ "$CODE" -eq "$want" ] || { echo "cairn $*: exit $CODE, wanted $want; stderr: $ERR" >&2; return 1; }
}
# js EXPR: evaluates EXPR on the JSON read from stdin (bound to o) and prints it.
js() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(eval(process.argv[1]))' "$1"; }
# gt A B: A > B as numbers.
gt() { node -e 'process.exit(Number(process.argv[1]) > Number(process.argv[2]) ? 0 : 1)' "$1" "$2"; }
files_exist() { local d=$1; shift; for f in "$@"; do [ -s "$d/$f" ] || { echo "missing $d/$f" >&2; return 1; }; done; }

work=$(it_tmpdir)
ERRF="$work/stderr"
cd "$work" || exit 1
unset CAIRN_TRACKING_URI

# A regression set with a categorical column: y = 3 x1 - 2 x2 + 5 x3 + 1 + noise (awk's
# seeded generator, so the same file on every run), and a second file for --valid.
gen_reg() { awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed); print "x1,x2,x3,city,y";
    for (i = 0; i < n; i++) { a = rand() * 10; b = rand() * 5; c = rand(); city = (i % 3 == 0) ? "paris" : ((i % 3 == 1) ? "oslo" : "rome");
        printf "%.4f,%.4f,%.4f,%s,%.4f\n", a, b, c, city, 3 * a - 2 * b + 5 * c + 1 + (rand() - 0.5) } }'; }
gen_reg 7 300 >reg.csv
gen_reg 8 100 >reg_valid.csv

# ---- every model kind, locally ------------------------------------------------
check "train gbdt" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --out m_gbdt
check "gbdt model dir" files_exist m_gbdt model.cairn MLmodel profile.json metrics.json importance.json
check "gbdt is binary" test "$(js o.task <m_gbdt/metrics.json)" = binary
check "gbdt auc > 0.95" gt "$(js o.test.auc <m_gbdt/metrics.json)" 0.95
check "gbdt reports every classification metric" test "$(js 'Object.keys(o.test).join()' <m_gbdt/metrics.json)" = "auc,pr_auc,logloss,accuracy,f1_macro"
check "gbdt held out 20%" test "$(js o.rows.test <m_gbdt/metrics.json)" -eq 114
check "MLmodel names the cairn flavor" grep -q "model_file: model.cairn" m_gbdt/MLmodel
check "profile.json is a profile" test "$(js o.format <m_gbdt/profile.json)" = cairn.profile
check "importance has every feature" test "$(js 'Object.keys(o.gain).length' <m_gbdt/importance.json)" -eq 30
check "summary on stdout" grep -q "auc" <<<"$OUT"

check "train logistic" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --model logistic --set standardize=true --out m_log
check "logistic auc > 0.95" gt "$(js o.test.auc <m_log/metrics.json)" 0.95
check "logistic params recorded" test "$(js o.params.standardize <m_log/metrics.json)" = true

check "train kmeans" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --model kmeans --set k=2 --out m_km --json
check "kmeans silhouette" gt "$(js o.test.silhouette <<<"$OUT")" 0
check "kmeans inertia" gt "$(js o.inertia <m_km/metrics.json)" 0

check "train linear with cv" run_cli 0 train --data reg.csv --target y --model linear --drop city --cv 3 --out m_lin
check "linear r2 > 0.99" gt "$(js o.test.r2 <m_lin/metrics.json)" 0.99
check "linear cv rmse mean" gt "$(js o.cv.rmse.mean <m_lin/metrics.json)" 0
check "cv printed as mean ± std" grep -q "±" <<<"$OUT"
check "linear refuses a text column" run_cli 1 train --data reg.csv --target y --model linear --out m_bad
check "text column message" grep -q "column 'city' holds text" <<<"$ERR"
check "gbdt regression, categorical feature, --valid" run_cli 0 train --data reg.csv --valid reg_valid.csv --target y --set n_rounds=60 --set early_stopping_rounds=10 --out m_reg --json
check "regression task" test "$(js o.task <<<"$OUT")" = regression
check "regression r2 > 0.9" gt "$(js o.test.r2 <<<"$OUT")" 0.9
check "--valid rows are the test set" test "$(js o.rows.test <<<"$OUT")" -eq 100

# ---- predict / evaluate / compare / inspect ------------------------------------
check "predict to stdout" run_cli 0 predict --model m_gbdt --data "$BC" "${BCOPT[@]}"
check "predict header" test "$(head -1 <<<"$OUT")" = "proba_1,label"
check "predict one line per row" test "$(wc -l <<<"$OUT")" -eq 570
check "probabilities in [0,1]" awk -F, 'NR > 1 && ($1 < 0 || $1 > 1 || ($2 != 0 && $2 != 1)) { exit 1 }' <<<"$OUT"
check "predict --out" run_cli 0 predict --model m_lin/model.cairn --data reg.csv --out pred.csv
check "regression predictions" test "$(head -1 pred.csv)" = prediction
check "evaluate --json" run_cli 0 evaluate --model m_log --data "$BC" "${BCOPT[@]}" --json
check "evaluate auc > 0.95" gt "$(js o.metrics.auc <<<"$OUT")" 0.95
check "evaluate regression" run_cli 0 evaluate --model m_reg --data reg_valid.csv
check "evaluate prints rmse" grep -q "rmse" <<<"$OUT"
check "compare" run_cli 0 compare m_gbdt m_log --data "$BC" "${BCOPT[@]}"
check "compare verdict" grep -Eq "^(A is better on auc by|B is better on auc by|no significant difference on auc)" <<<"$(tail -1 <<<"$OUT")"
check "compare McNemar" grep -q "McNemar" <<<"$OUT"
check "compare --json" run_cli 0 compare m_gbdt m_log --data "$BC" "${BCOPT[@]}" --metric accuracy --json
check "compare CI ordered" test "$(js 'o.ci_low <= o.diff_b_minus_a && o.diff_b_minus_a <= o.ci_high' <<<"$OUT")" = true
check "compare p in (0,1]" test "$(js 'o.p_value > 0 && o.p_value <= 1' <<<"$OUT")" = true
check "compare a model with itself" run_cli 0 compare m_log m_log --data "$BC" "${BCOPT[@]}"
check "same model: no difference" grep -q "no significant difference" <<<"$OUT"
check "model inspect" run_cli 0 model inspect m_lin
check "inspect shows coefficients" grep -q "coefficients" <<<"$OUT"
check "model inspect --json" run_cli 0 model inspect m_gbdt --json
check "inspect json kind" test "$(js o.kind <<<"$OUT")" = gbdt

# ---- hyperparameter search --------------------------------------------------------
check "grid search" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --set n_rounds=20 --search "$SEARCH/grid.yaml" --out m_grid
check "grid table has 4 trials" test "$(grep -cE '^[1-4]( \*)? ' <<<"$OUT")" -eq 4
check "grid marks the best" grep -qE '^[1-4] \*' <<<"$OUT"
check "grid result in metrics.json" test "$(js o.search.trials <m_grid/metrics.json)" -eq 4
best_lr=$(js o.search.best_params.learning_rate <m_grid/metrics.json)
check "final model uses the best params" test "$(js o.params.learning_rate <m_grid/metrics.json)" = "$best_lr"
check "halving search" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --set n_rounds=27 --search "$SEARCH/halving.yaml" --out m_halv
check "halving reached the full budget" grep -qE '^[0-9]+ \* .* 2 +27 ' <<<"$OUT"
check "halving first rung budget" test "$(grep -cE ' 0 +3 ' <<<"$OUT")" -eq 6

# ---- bad usage (exit 2, one line) and failures (exit 1) --------------------------------
check "no --data" run_cli 2 train --target c30
check "one line" test "$(wc -l <<<"$ERR")" -eq 1
check "no --target" run_cli 2 train --data "$BC"
check "unknown option" run_cli 2 train --data "$BC" --target c30 --bogus
check "unknown model" run_cli 2 train --data "$BC" --target c30 --model forest
check "unknown --set key" run_cli 2 train --data "$BC" --target c30 --set bogus=1
check "bad --set value" run_cli 2 train --data "$BC" --target c30 --set learning_rate=-1
check "--set without =" run_cli 2 train --data "$BC" --target c30 --set n_rounds
check "bad --cv" run_cli 2 train --data "$BC" --target c30 --cv 1
check "unknown content hash" run_cli 1 train --data 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --target y
check "search: unknown key" run_cli 2 train --data "$BC" "${BCOPT[@]}" --target c30 --search "$SEARCH/bad_key.yaml"
check "search: file:line" grep -q "bad_key.yaml:4: unknown key 'trails'" <<<"$ERR"
check "search: bad value" run_cli 2 train --data "$BC" "${BCOPT[@]}" --target c30 --search "$SEARCH/bad_value.yaml"
check "search: value line" grep -q "bad_value.yaml:7: max_leaves" <<<"$ERR"
check "search: yaml syntax" run_cli 2 train --data "$BC" "${BCOPT[@]}" --target c30 --search "$SEARCH/bad_syntax.yaml"
check "search: syntax line" grep -q "bad_syntax.yaml:[0-9]*:" <<<"$ERR"
check "search: metric of another task" run_cli 2 train --data reg.csv --target y --search "$SEARCH/grid.yaml"
check "predict without model" run_cli 2 predict --data "$BC"
check "compare with one model" run_cli 2 compare m_gbdt --data "$BC"
check "compare regression metric on classifiers" run_cli 2 compare m_gbdt m_log --data "$BC" "${BCOPT[@]}" --metric rmse
check "model without subcommand" run_cli 2 model
check "model unknown subcommand" run_cli 2 model frobnicate m_gbdt
check "missing target column" run_cli 1 train --data "$BC" "${BCOPT[@]}" --target nope
check "missing target message" grep -q "no column 'nope'" <<<"$ERR"
check "missing data file" run_cli 1 train --data "$work/nofile.csv" --target y
check "predict: missing model" run_cli 1 predict --model "$work/none" --data "$BC"
check "predict: features missing" run_cli 1 predict --model m_gbdt --data reg.csv
for c in train predict evaluate compare model; do check "$c --help" run_cli 0 "$c" --help; done
check "unreachable server from the environment is benign" env CAIRN_TRACKING_URI=http://127.0.0.1:9 "$CAIRN" train --data reg.csv --target y --set n_rounds=5 --out m_env >/dev/null 2>"$ERRF"
check "that warns" grep -q "kept locally" "$ERRF"
check "unreachable server with --experiment fails" run_cli 1 train --data reg.csv --target y --set n_rounds=5 --out m_env --experiment x

# ---- with a tracking server ------------------------------------------------------------
cairn_server_start "$work/srv"
export CAIRN_TRACKING_URI="$CAIRN_URL"
check "train tracked and registered" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --set n_rounds=20 --experiment it-train --register it-model --out m_srv --json
run_id=$(js o.run_id <<<"$OUT")
check "registered version 1" test "$(js o.registered_version <<<"$OUT")" -eq 1
run=$(mlflow_get runs/get "run_id=$run_id")
check "run finished" test "$(js o.run.info.status <<<"$run")" = FINISHED
check "run named by model" test "$(js o.run.info.run_name <<<"$run")" = gbdt
param() { js "(o.run.data.params.find(p => p.key === '$1') || {}).value" <<<"$run"; }
tag() { js "(o.run.data.tags.find(p => p.key === '$1') || {}).value" <<<"$run"; }
check "param n_rounds" test "$(param n_rounds)" = 20
check "param learning_rate" test "$(param learning_rate)" = 0.1
check "param target" test "$(param target)" = c30
check "data sha256 tag" test "$(tag cairn.data.sha256)" = "$(sha256sum "$BC" | cut -d' ' -f1)"
check "source name tag" test "$(tag mlflow.source.name)" = "cairn train"
check "version tag" test -n "$(tag cairn.version)"
if [ -d "$SRC/.git" ]; then check "git commit tag" grep -Eq '^[0-9a-f]{40}$' <<<"$(tag mlflow.source.git.commit)"; fi
hist=$(mlflow_get metrics/get-history "run_id=$run_id&metric_key=train_logloss")
check "per-round train metric" test "$(js o.metrics.length <<<"$hist")" -eq 20
check "steps are rounds" test "$(js 'o.metrics.map(m => m.step).sort((a, b) => a - b).join()' <<<"$hist")" = "$(seq -s, 0 19)"
hist=$(mlflow_get metrics/get-history "run_id=$run_id&metric_key=valid_logloss")
check "per-round valid metric" test "$(js o.metrics.length <<<"$hist")" -eq 20
hist=$(mlflow_get metrics/get-history "run_id=$run_id&metric_key=auc")
check "final auc logged" gt "$(js o.metrics[0].value <<<"$hist")" 0.95
arts=$(mlflow_get artifacts/list "run_id=$run_id&path=model")
check "artifact MLmodel" grep -q '"model/MLmodel"' <<<"$arts"
check "artifact model.cairn" grep -q '"model/model.cairn"' <<<"$arts"
check "artifact profile.json" grep -q '"model/profile.json"' <<<"$arts"
check "uploaded MLmodel is the local one" cmp -s <(curl -fsS "$CAIRN_URL/api/2.0/mlflow-artifacts/artifacts/$(js o.run.info.experiment_id <<<"$run")/$run_id/artifacts/model/MLmodel") m_srv/MLmodel
check "MLmodel carries the run id" grep -Eq "^run_id: '?$run_id'?$" m_srv/MLmodel
ver=$(mlflow_get model-versions/get "name=it-model&version=1")
check "version's run" test "$(js o.model_version.run_id <<<"$ver")" = "$run_id"
check "version's source" test "$(js o.model_version.source <<<"$ver")" = "$(js o.run.info.artifact_uri <<<"$run")/model"
check "predict models:/it-model/1" run_cli 0 predict --model models:/it-model/1 --data "$BC" "${BCOPT[@]}" --out remote.csv
"$CAIRN" predict --model m_srv --data "$BC" "${BCOPT[@]}" --out local.csv
check "registry model predicts as the local one" cmp -s remote.csv local.csv
mlflow_post registered-models/alias '{"name":"it-model","alias":"champion","version":"1"}' >/dev/null
check "evaluate models:/it-model@champion" run_cli 0 evaluate --model models:/it-model@champion --data "$BC" "${BCOPT[@]}" --json
check "unknown version" run_cli 1 predict --model models:/it-model/9 --data "$BC" "${BCOPT[@]}"
check "tracked search" run_cli 0 train --data "$BC" "${BCOPT[@]}" --target c30 --set n_rounds=10 --search "$SEARCH/grid.yaml" --experiment it-search --out m_ssrv --json
parent=$(js o.run_id <<<"$OUT")
runs=$(mlflow_post runs/search "{\"experiment_ids\":[\"$(js o.experiment.experiment_id <<<"$(mlflow_get experiments/get-by-name experiment_name=it-search)")\"]}")
check "four nested trial runs" test "$(js "o.runs.filter(r => (r.data.tags || []).some(t => t.key === 'mlflow.parentRunId' && t.value === '$parent')).length" <<<"$runs")" -eq 4
check "trials carry the cv metric" test "$(js "o.runs.filter(r => (r.data.metrics || []).some(m => m.key === 'cv_auc')).length" <<<"$runs")" -eq 4
cairn_server_stop

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
