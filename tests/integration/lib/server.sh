# server.sh - start and stop a real `cairn server` from bash integration tests.
#
# Source it, then:
#   cairn_server_start HOME [extra server args...]   # sets CAIRN_URL, CAIRN_PID, CAIRN_LOG
#   cairn_server_stop                                 # SIGTERM, wait for exit
#   cairn_server_kill                                 # SIGKILL, wait for exit (home kept)
#   it_tmpdir                                         # prints a fresh mktemp -d dir (removed at exit)
# Readiness is the --port-file appearing and GET /health answering 200, both
# polled against a deadline (CAIRN_START_DEADLINE seconds, default 20).
# Extra args may include --store postgresql://... for the PostgreSQL store.

: "${CAIRN:=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/build/cairn}"
CAIRN_URL=""
CAIRN_PID=""
CAIRN_LOG=""
_IT_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cairn-it-XXXXXX")

it_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# it_tmpdir: a fresh directory under this test's temp root (safe in $(...)).
it_tmpdir() { mktemp -d "$_IT_ROOT/d-XXXXXX"; }

# _it_cleanup: stops a server left running and removes temp dirs; set as the EXIT trap.
_it_cleanup() {
    if [ -n "$CAIRN_PID" ] && kill -0 "$CAIRN_PID" 2>/dev/null; then
        kill -TERM "$CAIRN_PID" 2>/dev/null || true
        wait "$CAIRN_PID" 2>/dev/null || true
    fi
    if declare -F it_extra_cleanup >/dev/null; then it_extra_cleanup; fi
    rm -rf "$_IT_ROOT"
}
trap _it_cleanup EXIT

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# cairn_server_start HOME [args...]: starts the server in the background.
cairn_server_start() {
    local home=$1
    shift
    mkdir -p "$home"
    local pf="$home/port.$$.$RANDOM"
    CAIRN_LOG="$home/server.$RANDOM.log"
    "$CAIRN" server --home "$home" --host 127.0.0.1 --port 0 --port-file "$pf" "$@" >"$CAIRN_LOG" 2>&1 &
    CAIRN_PID=$!
    local deadline=$(( $(now_ms) + ${CAIRN_START_DEADLINE:-20} * 1000 ))
    local port=""
    while :; do
        if ! kill -0 "$CAIRN_PID" 2>/dev/null; then
            cat "$CAIRN_LOG" >&2
            CAIRN_PID=""
            it_fail "cairn server exited during start"
        fi
        if [ -s "$pf" ]; then
            port=$(tr -d '[:space:]' <"$pf")
            if [ -n "$port" ]; then
                CAIRN_URL="http://127.0.0.1:$port"
                if curl -fsS -o /dev/null --max-time 2 "$CAIRN_URL/health" 2>/dev/null; then
                    rm -f "$pf"
                    return 0
                fi
            fi
        fi
        [ "$(now_ms)" -lt "$deadline" ] || { cat "$CAIRN_LOG" >&2; it_fail "cairn server not ready before the deadline"; }
        sleep 0.02
    done
}

# cairn_server_stop: SIGTERM and wait; fails when the exit status is not 0.
cairn_server_stop() {
    [ -n "$CAIRN_PID" ] || return 0
    kill -TERM "$CAIRN_PID" 2>/dev/null || true
    local rc=0
    wait "$CAIRN_PID" || rc=$?
    CAIRN_PID=""
    [ "$rc" -eq 0 ] || { cat "$CAIRN_LOG" >&2; it_fail "cairn server exited with status $rc after SIGTERM"; }
}

# cairn_server_kill: SIGKILL and wait (the home directory stays as it is).
cairn_server_kill() {
    [ -n "$CAIRN_PID" ] || return 0
    kill -KILL "$CAIRN_PID" 2>/dev/null || true
    wait "$CAIRN_PID" 2>/dev/null || true
    CAIRN_PID=""
}

# mlflow_post ENDPOINT JSON: POST to /api/2.0/mlflow/ENDPOINT, prints the body; fails on non-200.
mlflow_post() {
    curl -fsS --max-time 30 -H 'Content-Type: application/json' -d "$2" "$CAIRN_URL/api/2.0/mlflow/$1"
}

# mlflow_get ENDPOINT QUERY: GET /api/2.0/mlflow/ENDPOINT?QUERY, prints the body; fails on non-200.
mlflow_get() {
    curl -fsS --max-time 30 "$CAIRN_URL/api/2.0/mlflow/$1?$2"
}
