#!/usr/bin/env bash
# test_triggers.sh - pipeline triggers run by `cairn server`'s scheduler, on
# a real server on 127.0.0.1: a manual run (`cairn trigger run --wait`)
# executes `cairn pipeline run` in the pipeline's directory with tracking
# pointed at the server; a watched path fires a run when its content
# changes (and not when a file is only touched); a schedule reports its next
# firing; a failing pipeline is recorded as failed; a trigger never runs
# twice at once; an alert whose rule has retrain.pipeline runs the pipeline
# through the same entry point; triggers survive a restart; bad requests
# are refused. Prints "N passed, M failed".
set -u
. "$(dirname "$0")/lib/server.sh"

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "not ok: $*" >&2; }

work=$(it_tmpdir)
home="$work/home"
proj="$work/proj"
mkdir -p "$proj/data"
echo "1 2 3" >"$proj/data/input.txt"
cat >"$proj/cairn.yaml" <<'YAML'
stages:
  count:
    cmd: wc -w data/input.txt > count.txt && date +%s%N >> runs.txt
    deps: [data/input.txt]
    outs: [count.txt]
YAML
mkdir -p "$work/broken"
cat >"$work/broken/cairn.yaml" <<'YAML'
stages:
  fail:
    cmd: exit 3
YAML
cat >"$work/policy.yaml" <<YAML
alerts:
  - name: retrain-on-drift
    when: drift
    feature: age
    above: 0.5
    retrain: {pipeline: nightly}
YAML

cairn_server_start "$home" --set "serve.monitor_policy=$work/policy.yaml"
export CAIRN_TRACKING_URI=$CAIRN_URL
api="$CAIRN_URL/api/2.0/cairn/pipelines"

cd "$proj" || exit 1
"$CAIRN" trigger create nightly --schedule "0 3 * * *" --watch data >/dev/null && ok || bad "create a trigger"
"$CAIRN" trigger list --json >"$work/list.json" && ok || bad "list"
python3 - "$work/list.json" <<'PY' && ok || bad "the trigger's schedule and next run"
import json, sys, time
t = json.load(open(sys.argv[1]))["triggers"][0]
assert t["name"] == "nightly" and t["schedule"] == "0 3 * * *" and t["watch"] == "data", t
nxt = t["next_run"] / 1000
assert time.gmtime(nxt).tm_hour == 3 and time.gmtime(nxt).tm_min == 0 and 0 < nxt - time.time() <= 86400, t
PY

# manual run, waited for
"$CAIRN" trigger run nightly --wait >"$work/run.out" 2>&1 && ok || bad "manual run: $(cat "$work/run.out")"
grep -q "succeeded (exit 0)" "$work/run.out" && ok || bad "run --wait reports success: $(cat "$work/run.out")"
[ "$(awk '{print $1}' "$proj/count.txt")" = 3 ] && ok || bad "the pipeline ran in its directory"
runs=$(wc -l <"$proj/runs.txt")

# touching without a content change fires nothing; a change fires a run
touch "$proj/data/input.txt"
sleep 3
[ "$(wc -l <"$proj/runs.txt")" -eq "$runs" ] && ok || bad "a touched, unchanged file fired a run"
echo "1 2 3 4 5" >"$proj/data/input.txt"
deadline=$((SECONDS + 20))
until [ "$(awk '{print $1}' "$proj/count.txt" 2>/dev/null)" = 5 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
[ "$(awk '{print $1}' "$proj/count.txt")" = 5 ] && ok || bad "a changed watched file fired a run"
deadline=$((SECONDS + 20))
until curl -fsS "$api/runs/list?trigger=nightly" | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
sys.exit(0 if any(r["reason"] == "watch" and r["status"] == "succeeded" for r in runs) else 1)' ||
    [ $SECONDS -ge $deadline ]; do sleep 0.2; done
curl -fsS "$api/runs/list?trigger=nightly" >"$work/runs.json"
python3 - "$work/runs.json" <<'PY' && ok || bad "runs recorded with reasons and exit codes"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
reasons = sorted(r["reason"] for r in runs)
assert reasons == ["manual", "watch"], reasons
assert all(r["status"] == "succeeded" and r["exit_code"] == 0 and r["log_path"] for r in runs), runs
PY

# a failing pipeline
"$CAIRN" trigger create broken --dir "$work/broken" >/dev/null && ok || bad "create broken"
"$CAIRN" trigger run broken --wait >"$work/broken.out" 2>&1
[ $? -eq 1 ] && grep -q "failed (exit" "$work/broken.out" && ok || bad "a failing pipeline: $(cat "$work/broken.out")"

# an alert with retrain.pipeline runs the trigger (its run records the alert)
curl -fsS -H 'Content-Type: application/json' -d '{"deployment":"d","kind":"drift","name":"age","value":0.9,"window_end_ms":1000}' \
    "$CAIRN_URL/api/2.0/cairn/monitor/signals" >/dev/null && ok || bad "signal"
alert_run() {
    curl -fsS "$api/runs/list?trigger=nightly" | python3 -c '
import json, sys
runs = [r for r in json.load(sys.stdin)["runs"] if r["reason"].startswith("alert:")]
sys.exit(0 if runs and runs[0]["status"] == "succeeded" else 1)'
}
deadline=$((SECONDS + 30))
until alert_run || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
if alert_run; then ok; else
    bad "the alert ran the pipeline trigger"
    curl -fsS "$api/runs/list?trigger=nightly" >&2
    tail -5 "$CAIRN_LOG" >&2
fi

# bad requests
code=$(curl -s -o "$work/err.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"name":"x","directory":"/nonexistent"}' "$api/triggers/create")
[ "$code" = 400 ] && grep -q "no cairn.yaml" "$work/err.json" && ok || bad "a directory without cairn.yaml: $code"
code=$(curl -s -o "$work/err.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"name\":\"y\",\"directory\":\"$proj\",\"schedule\":\"61 * * * *\"}" "$api/triggers/create")
[ "$code" = 400 ] && grep -q "cron schedule" "$work/err.json" && ok || bad "a bad schedule: $code"
"$CAIRN" trigger create nightly >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "a duplicate name is refused"
"$CAIRN" trigger run nosuch 2>/dev/null
[ $? -eq 1 ] && ok || bad "an unknown trigger"

# restart: triggers come back
cd "$work" || exit 1
cairn_server_stop
cairn_server_start "$home" --set "serve.monitor_policy=$work/policy.yaml"
export CAIRN_TRACKING_URI=$CAIRN_URL
"$CAIRN" trigger list | grep -q nightly && ok || bad "triggers restored on restart"
"$CAIRN" trigger delete broken && ok || bad "delete"
"$CAIRN" trigger list | grep -q broken && bad "deleted trigger still listed" || ok
cairn_server_stop

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
