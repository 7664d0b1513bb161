# split.sh DATA.csv N: every Nth data row goes to test.csv, the others to
# train.csv; both keep the header. Deterministic, so the stage caches.
set -eu
awk -F, -v n="$2" 'NR == 1 { print > "train.csv"; print > "test.csv"; next }
                   (NR - 1) % n == 0 { print > "test.csv"; next }
                   { print > "train.csv" }' "$1"
