#!/usr/bin/env bash
# test_cli.sh - the client commands against a real server: tables, --json,
# exit codes (0 ok, 1 server-side failure, 2 bad usage with one line), help.
set -u
. "$(dirname "$0")/lib/server.sh"

pass=0
fail=0
check() { # check NAME CONDITION-COMMAND...
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

home=$(it_tmpdir)
ERRF="$home/stderr"
cairn_server_start "$home/srv"
export CAIRN_TRACKING_URI="$CAIRN_URL"

check "create experiment" run_cli 0 experiments create cli-exp --tag team=ml
check "create says the id" grep -q "created experiment 'cli-exp' with id 1" <<<"$OUT"
check "duplicate experiment fails with the server's message" run_cli 1 experiments create cli-exp
check "duplicate message is one line" test "$(wc -l <<<"$ERR")" -eq 1
check "duplicate message names the error" grep -q "RESOURCE_ALREADY_EXISTS" <<<"$ERR"
check "list experiments" run_cli 0 experiments list
check "list shows the experiment" grep -q "cli-exp" <<<"$OUT"
check "list --json" run_cli 0 experiments list --json
check "json lists two experiments" test "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).length)' <<<"$OUT")" -eq 2

# runs made over the REST API, then read through the CLI
for lr in 0.1 0.01; do
    run=$(mlflow_post runs/create "{\"experiment_id\":\"1\",\"run_name\":\"lr-$lr\"}" |
        node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).run.info.run_id)')
    mlflow_post runs/log-batch "{\"run_id\":\"$run\",\"params\":[{\"key\":\"lr\",\"value\":\"$lr\"}],\"metrics\":[{\"key\":\"rmse\",\"value\":$lr,\"timestamp\":1,\"step\":0}]}" >/dev/null
done
check "runs list by name" run_cli 0 runs list --experiment cli-exp
check "runs list shows both runs" test "$(grep -c 'lr-0' <<<"$OUT")" -eq 2
check "runs search with filter" run_cli 0 runs search --experiment 1 --filter "params.lr = '0.01'" --json
check "search finds one run" test "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).length)' <<<"$OUT")" -eq 1
check "runs search order" run_cli 0 runs search --experiment cli-exp --order-by "metrics.rmse ASC"
check "ordered by rmse" test "$(grep -o 'lr-0[.0-9]*' <<<"$OUT" | head -1)" = "lr-0.01"
check "bad filter is a server error" run_cli 1 runs search --experiment 1 --filter "metrics.rmse >"
check "bad filter message" grep -q "INVALID_PARAMETER_VALUE" <<<"$ERR"
run_id=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0))[0].info.run_id)' < <("$CAIRN" runs search --experiment 1 --json))
check "runs show" run_cli 0 runs show "$run_id"
check "show lists the param" grep -q "lr" <<<"$OUT"
check "unknown run" run_cli 1 runs show 0123456789abcdef0123456789abcdef

# models: register over REST, alias through the CLI
mlflow_post registered-models/create '{"name":"cli-model"}' >/dev/null
mlflow_post model-versions/create "{\"name\":\"cli-model\",\"source\":\"mlflow-artifacts:/1/x\",\"run_id\":\"$run_id\"}" >/dev/null
check "alias set" run_cli 0 models alias cli-model production 1
check "models list" run_cli 0 models list
check "list shows the alias" grep -q "production@1" <<<"$OUT"
check "models show" run_cli 0 models show cli-model --json
check "show has the version" grep -q '"version": "1"' <<<"$OUT"
check "alias delete" run_cli 0 models alias cli-model production --delete
check "alias on a missing version" run_cli 1 models alias cli-model production 9

# bad usage: exit 2 with one line
check "no command" run_cli 2
check "unknown command" run_cli 2 frobnicate
check "unknown command is one line" test "$(wc -l <<<"$ERR")" -eq 1
check "unknown subcommand" run_cli 2 runs frobnicate
check "missing argument" run_cli 2 runs search
check "bad option" run_cli 2 experiments list --bogus
bad_config() {
    CAIRN_HTTP_PORT=notaport "$CAIRN" server --port-file /dev/null >/dev/null 2>"$ERRF"
    [ $? -eq 2 ] && grep -q "http.port: 'notaport' is not a non-negative integer" "$ERRF"
}
check "bad config value" bad_config
check "help" run_cli 0 --help
check "help lists commands" grep -q "experiments" <<<"$OUT"
for c in server experiments runs models quickstart version; do
    check "help for $c" run_cli 0 "$c" --help
done

# no server: a clear failure, exit 1
no_server() { CAIRN_TRACKING_URI=http://127.0.0.1:9 run_cli 1 experiments list && grep -q "cannot connect" <<<"$ERR"; }
check "no server" no_server

cairn_server_stop
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
