#!/usr/bin/env bash
# test_monitor_drift_cli.sh - `cairn monitor drift`, the batch drift report:
# exit codes (0 no drift, 1 drift, 2 bad usage or data), the JSON result
# against SciPy on the same data (within the sketch error bound the report
# states), a policy override, --ignore-missing, the self-contained HTML
# report (no external reference, one <svg> per column plus the score chart,
# each well-formed XML), a current file streamed in several chunks, and bad
# input: mismatched columns, empty files, a malformed profile.json, a policy
# with an error, a non-number in a numeric column (with its real line).
set -u
. "$(dirname "$0")/lib/server.sh"

SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BC="$SRC/examples/breast_cancer/breast_cancer.csv" # header + 569 rows, 30 numeric + diagnosis
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

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
# jq_py EXPR: evaluates a Python expression on the JSON in $OUT (bound to o).
jq_py() { printf '%s' "$OUT" | "$PY" -c 'import json,sys; o=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
err_has() { grep -q -- "$1" <<<"$ERR" || { echo "stderr lacks '$1': $ERR" >&2; return 1; }; }
one_line() { [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || { echo "not one line: $ERR" >&2; return 1; }; }
D="monitor drift"

work=$(it_tmpdir)
ERRF="$work/stderr"
cd "$work" || exit 1

# data: the reference; a copy with "mean radius" (column 1) scaled by 1.3
# and "mean texture" (column 2) shifted by +2; the same rows repeated 40 times
awk -F, 'BEGIN{OFS=","} NR>1{$1=$1*1.3; $2=$2+2} {print}' "$BC" >shifted.csv
{ head -1 "$BC"; for _ in $(seq 40); do tail -n +2 "$BC"; done; } >big.csv
cut -d, -f1-29 "$BC" >fewer.csv
: >empty.csv
head -1 "$BC" >header_only.csv
awk -F, 'BEGIN{OFS=","} NR==20001{$3="oops"} {print}' big.csv >bad_value.csv
printf '{"format": "cairn.profile", "version": 1, "n_rows": 3, "features": [' >bad_profile.json
printf 'features:\n  "mean radius": {statistic: wasserstein}\n' >pol_w.yaml
printf 'features:\n  "mean radius":\n    statistic: nonsense\n' >pol_bad.yaml

# ---- exit codes and the table ------------------------------------------
check "same data: exit 0" run_cli 0 $D --reference "$BC" --current "$BC"
check "table lists columns" grep -q "^mean radius " <<<"$OUT"
check "table summary" grep -q "0 of 31 columns drifted" <<<"$OUT"
check "shifted: exit 1" run_cli 1 $D --reference "$BC" --current shifted.csv --target diagnosis
check "shifted table says YES" grep -q "^mean radius .* YES" <<<"$OUT"

# ---- JSON against SciPy -------------------------------------------------
check "json: exit 1" run_cli 1 $D --reference "$BC" --current shifted.csv --target diagnosis --json
check "json summary" [ "$(jq_py 'o["summary"]["features"], o["summary"]["drifted"], o["summary"]["dataset_drift"], o["current_rows"]')" = "(30, 2, False, 569)" ]
check "json share" [ "$(jq_py 'abs(o["summary"]["share"] - 2/30) < 1e-12')" = True ]
check "json drifted columns" [ "$(jq_py '",".join(f["name"] for f in o["features"] if f["drift"])')" = "mean radius,mean texture" ]
check "json default statistic" [ "$(jq_py 'set(f["statistic"] for f in o["features"])')" = "{'ks'}" ]
printf '%s' "$OUT" >ks.json
if "$PY" -c 'import scipy' 2>/dev/null; then
    # KS statistic from the sketch within its stated bound of scipy's exact one
    check "ks equals scipy within the bound" "$PY" - "$BC" shifted.csv ks.json <<'EOF'
import csv, json, sys
from scipy import stats
def cols(p):
    with open(p) as f:
        r = list(csv.reader(f))
    return {h: [float(row[i]) for row in r[1:]] for i, h in enumerate(r[0]) if h != "diagnosis"}
ref, cur, o = cols(sys.argv[1]), cols(sys.argv[2]), json.load(open(sys.argv[3]))
bad = 0
for f in o["features"]:
    d = stats.ks_2samp(ref[f["name"]], cur[f["name"]]).statistic
    if abs(d - f["statistic_value"]) > f["error_bound"] + 1e-9 or not f["approximate"]:
        print("ks mismatch", f["name"], d, f["statistic_value"], f["error_bound"]); bad += 1
sys.exit(1 if bad else 0)
EOF
    check "policy wasserstein: exit 1" run_cli 1 $D --reference "$BC" --current shifted.csv --target diagnosis --policy pol_w.yaml --json
    printf '%s' "$OUT" >w.json
    check "wasserstein equals scipy within the bound" "$PY" - "$BC" shifted.csv w.json <<'EOF'
import csv, json, sys
import numpy as np
from scipy import stats
def col(p, name):
    with open(p) as f:
        r = list(csv.reader(f))
    i = r[0].index(name)
    return np.array([float(row[i]) for row in r[1:]])
ref, cur = col(sys.argv[1], "mean radius"), col(sys.argv[2], "mean radius")
f = [f for f in json.load(open(sys.argv[3]))["features"] if f["name"] == "mean radius"][0]
w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
ok = f["statistic"] == "wasserstein" and f["drift"] and abs(w - f["score"]) <= f["error_bound"] + 1e-9
if not ok: print("wasserstein mismatch", w, f)
sys.exit(0 if ok else 1)
EOF
fi

# ---- a profile.json saved by `cairn train` gives the same result ----------
"$CAIRN" $D --reference "$BC" --current shifted.csv --target diagnosis --json >from_csv.json 2>/dev/null
check "train writes profile.json" run_cli 0 train --data "$BC" --valid "$BC" --target diagnosis --model logistic --out model
check "profile.json reference: exit 1" run_cli 1 $D --reference model/profile.json --current shifted.csv --target diagnosis --json
printf '%s' "$OUT" >from_profile.json
check "profile.json and CSV references agree" "$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in ("from_csv.json", "from_profile.json"))
strip = lambda o: [{k: v for k, v in f.items()} for f in o["features"]]
sys.exit(0 if strip(a) == strip(b) and a["summary"] == b["summary"] else 1)'

# ---- chunked streaming ----------------------------------------------------
check "big file (several chunks): exit 0" run_cli 0 $D --reference "$BC" --current big.csv --json
check "big file rows" [ "$(jq_py 'o["current_rows"]')" = "22760" ]
check "big file: every ks statistic 0" [ "$(jq_py 'max(f["statistic_value"] for f in o["features"] if f["type"]=="numeric") <= max(f["error_bound"] for f in o["features"]) + 1e-9')" = True ]

# ---- --ignore-missing -----------------------------------------------------
check "missing columns: exit 2" run_cli 2 $D --reference "$BC" --current fewer.csv
check "missing columns named" err_has "in the reference only: 'worst fractal dimension', 'diagnosis'"
check "missing columns: one line" one_line
check "ignore-missing: exit 0" run_cli 0 $D --reference "$BC" --current fewer.csv --ignore-missing --json
check "ignore-missing lists skipped" [ "$(jq_py 'len(o["skipped"]), o["summary"]["features"]')" = "(2, 29)" ]
check "current-only column: exit 2" run_cli 2 $D --reference fewer.csv --current "$BC"
check "current-only named" err_has "in the current file only: 'worst fractal dimension', 'diagnosis'"

# ---- HTML -------------------------------------------------------------------
check "html: exit 1" run_cli 1 $D --reference "$BC" --current shifted.csv --html report.html
check "html written" [ -s report.html ]
check "html self-contained" bash -c '! grep -Eq "https?://|<script|src=" report.html'
check "html: one svg per column + scores" [ "$(grep -o '<svg' report.html | wc -l)" -eq 32 ]
check "html svgs are well-formed XML" "$PY" - report.html <<'EOF'
import re, sys
import xml.etree.ElementTree as ET
html = open(sys.argv[1], encoding="utf-8").read()
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
for s in svgs:
    ET.fromstring(s)
sys.exit(0 if len(svgs) == 32 else 1)
EOF
# escaping: a column named with markup and a category with quotes/ampersands
printf '"a<b>&""x",c\n1,"q""&<i>"\n2,z\n3,z\n' >esc_ref.csv
printf '"a<b>&""x",c\n1,"q""&<i>"\n2,"<script>"\n' >esc_cur.csv
"$CAIRN" $D --reference esc_ref.csv --current esc_cur.csv --html esc.html >/dev/null 2>&1
check "html escaping" bash -c '! grep -q "<script>\|<b>&\|<i>" esc.html && grep -q "a&lt;b&gt;&amp;&quot;x" esc.html'
check "escaped html is well-formed" "$PY" -c 'import re,sys,xml.etree.ElementTree as E; [E.fromstring(s) for s in re.findall(r"<svg.*?</svg>", open("esc.html").read(), re.S)]'

# ---- bad input --------------------------------------------------------------
check "empty current: exit 2" run_cli 2 $D --reference "$BC" --current empty.csv
check "empty current: message" err_has "empty file"
check "header-only current: exit 2" run_cli 2 $D --reference "$BC" --current header_only.csv
check "header-only current: message" err_has "no data rows"
check "header-only reference: exit 2" run_cli 2 $D --reference header_only.csv --current "$BC"
check "malformed profile.json: exit 2" run_cli 2 $D --reference bad_profile.json --current "$BC"
check "malformed profile.json: one line" one_line
check "policy error: exit 2" run_cli 2 $D --reference "$BC" --current "$BC" --policy pol_bad.yaml
check "policy error: file and line" err_has "pol_bad.yaml:3"
check "missing policy: exit 2" run_cli 2 $D --reference "$BC" --current "$BC" --policy nope.yaml
check "non-number in a numeric column: exit 2" run_cli 2 $D --reference "$BC" --current bad_value.csv
check "non-number: real line number" err_has "bad_value.csv:20001:"
check "non-number: names the column" err_has "mean perimeter"
check "no such current: exit 2" run_cli 2 $D --reference "$BC" --current nope.csv
check "unknown option: exit 2" run_cli 2 $D --reference "$BC" --current "$BC" --bogus
check "missing --current: exit 2" run_cli 2 $D --reference "$BC"
check "help: exit 0" run_cli 0 monitor drift --help

echo "test_monitor_drift_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
