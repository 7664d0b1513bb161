#!/usr/bin/env bash
# test_model_import.sh - `cairn model import` of XGBoost / LightGBM models,
# then `cairn predict` on XGBoost's own test rows: Cairn's probabilities must
# equal the ones XGBoost wrote beside them (tests/fixtures/gen_import.py).
set -u
. "$(dirname "$0")/lib/server.sh"
fx="${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fixtures/import"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "not ok: $*" >&2; }

dir=$(it_tmpdir)
for kind in bin multi; do
    "$CAIRN" model import --xgboost "$fx/xgb_$kind.json" --out "$dir/xgb_$kind" >/dev/null && ok || bad "import xgb_$kind"
    [ -s "$dir/xgb_$kind/model.cairn" ] && [ -s "$dir/xgb_$kind/MLmodel" ] && ok || bad "model dir xgb_$kind"
    "$CAIRN" predict --model "$dir/xgb_$kind" --data "$fx/xgb_$kind.csv" --out "$dir/pred_$kind.csv" && ok || bad "predict xgb_$kind"
    # Compare proba_* columns with XGBoost's p* columns, relative 1e-5.
    if node -e '
        const fs = require("fs");
        const rd = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => l.split(","));
        const want = rd(process.argv[1]), got = rd(process.argv[2]);
        const wi = want[0].map((h, i) => [h, i]).filter(([h]) => /^p\d+$/.test(h)).map(([, i]) => i);
        const gi = got[0].map((h, i) => [h, i]).filter(([h]) => h.startsWith("proba_")).map(([, i]) => i);
        const cols = wi.length === 1 && gi.length === 2 ? [gi[1]] : gi;
        if (want.length !== got.length || cols.length !== wi.length) { console.error("shape", want.length, got.length, wi, gi); process.exit(1); }
        let worst = 0;
        for (let r = 1; r < want.length; r++)
            wi.forEach((w, k) => { const a = +want[r][w], b = +got[r][cols[k]]; worst = Math.max(worst, Math.abs(a - b) / Math.max(1e-12, Math.abs(a))); });
        if (worst > 1e-5) { console.error("max relative difference", worst); process.exit(1); }
    ' "$fx/xgb_$kind.csv" "$dir/pred_$kind.csv"; then ok; else bad "predictions equal xgboost's ($kind)"; fi
done
"$CAIRN" model import --lightgbm "$fx/lgbm_multi.txt" --out "$dir/lgbm" >/dev/null && ok || bad "import lightgbm"
"$CAIRN" model inspect "$dir/lgbm" | grep -q "task        multiclass" && ok || bad "inspect lightgbm"
# --data: the training rows give the imported model a reference profile
"$CAIRN" model import --xgboost "$fx/xgb_bin.json" --data "$fx/xgb_bin.csv" --out "$dir/xgb_prof" >/dev/null &&
    ok || bad "import with --data"
node -e '
    const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const names = p.features.map((f) => f.name);
    if (names.join(",") !== "f0,f1,f2,f3") { console.error("features", names); process.exit(1); }
    if (!p.predictions || p.predictions.length !== 1) { console.error("predictions", p.predictions); process.exit(1); }
' "$dir/xgb_prof/profile.json" && ok || bad "profile.json of the model's features and predictions"
printf 'a,b\n1,2\n' >"$dir/nofeat.csv"
"$CAIRN" model import --xgboost "$fx/xgb_bin.json" --data "$dir/nofeat.csv" --out "$dir/xgb_bad" 2>"$dir/err"
[ $? -eq 1 ] && grep -q "no column 'f0'" "$dir/err" && ok || bad "--data without the model's columns: clear error"
echo '{"learner": 5}' >"$dir/broken.json"
"$CAIRN" model import --xgboost "$dir/broken.json" --out "$dir/broken" 2>"$dir/err"
[ $? -eq 1 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] && ok || bad "malformed model: exit 1 with one line"
"$CAIRN" model import --out "$dir/x" 2>/dev/null
[ $? -eq 2 ] && ok || bad "usage error exits 2"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
