# select.sh: copies the model with the higher test AUC (from compare.json,
# written by `cairn compare models/gbdt models/logistic --json`) to best/,
# with its evaluation as best/eval.json, and says why it won.
set -eu
num() { sed -n "s/^ *\"$1\": *\([-0-9.eE+]*\).*/\1/p" compare.json | head -n 1; }
a=$(num metric_a)
b=$(num metric_b)
[ -n "$a" ] && [ -n "$b" ] || { echo "select: no metric_a/metric_b in compare.json" >&2; exit 1; }
if awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= b) }'; then win=gbdt; else win=logistic; fi
rm -rf best
cp -R "models/$win" best
cp "eval_$win.json" best/eval.json
echo "select: $win (test auc gbdt $a, logistic $b)"
