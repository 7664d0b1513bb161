# crash_common.sh - the body of the kill -9 tests (SQLite and PostgreSQL).
#
# crash_test_run HOME [server args...]: starts the server, creates a run,
# runs a concurrent log-batch load (lib/crash_load.mjs, 8 writers, an ack log
# per request), SIGKILLs the server about 2 s into the load, restarts it on
# the same home/store and checks that every acknowledged metric point is
# there. Needs server.sh sourced first.

_CRASH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# json_field FIELD.PATH: reads JSON on stdin and prints the field.
json_field() {
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"
}

crash_test_run() {
    local home=$1
    shift
    local work
    work=$(it_tmpdir)
    local acks="$work/acks.log"

    cairn_server_start "$home" "$@"
    echo "server up at $CAIRN_URL (pid $CAIRN_PID)"
    local exp run
    exp=$(mlflow_post experiments/create '{"name":"crash-safety"}' | json_field experiment_id)
    run=$(mlflow_post runs/create "{\"experiment_id\":\"$exp\",\"start_time\":$(now_ms)}" | json_field run.info.run_id)
    [ -n "$run" ] || it_fail "no run id"
    echo "run $run in experiment $exp"

    node "$_CRASH_LIB/crash_load.mjs" load "$CAIRN_URL" "$run" "$acks" 8 30 >"$work/load.out" 2>&1 &
    local loader=$!

    # wait for the load to be under way (first ack), with a deadline
    local deadline=$(( $(now_ms) + 20000 ))
    until grep -q '^ack ' "$acks" 2>/dev/null; do
        kill -0 "$loader" 2>/dev/null || { cat "$work/load.out"; it_fail "loader exited before any ack"; }
        [ "$(now_ms)" -lt "$deadline" ] || it_fail "no acknowledged batch within 20 s"
        sleep 0.05
    done
    # let the load run for about 2 s, then kill -9 the server mid-load
    sleep 2
    local before
    before=$(grep -c '^ack ' "$acks")
    cairn_server_kill
    echo "SIGKILL sent with $before batches acknowledged so far"
    wait "$loader" || { cat "$work/load.out"; it_fail "loader failed"; }
    cat "$work/load.out"

    cairn_server_start "$home" "$@"
    echo "restarted at $CAIRN_URL (pid $CAIRN_PID)"
    local rc=0
    node "$_CRASH_LIB/crash_load.mjs" verify "$CAIRN_URL" "$run" "$acks" || rc=$?
    # the restarted server still takes writes to the same run
    mlflow_post runs/log-metric "{\"run_id\":\"$run\",\"key\":\"after\",\"value\":1,\"timestamp\":$(now_ms),\"step\":0}" >/dev/null ||
        it_fail "the restarted server refused a write"
    cairn_server_stop
    [ "$rc" -eq 0 ] || it_fail "acknowledged writes were lost or a batch was partly applied (see above)"
    echo "1 passed, 0 failed"
}
