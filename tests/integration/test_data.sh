#!/usr/bin/env bash
# test_data.sh - `cairn data` in a temp git repository: add (a file and a
# directory with nested dirs, an empty file, an empty dir, symlinks, names
# with spaces and UTF-8), status, diff between two commits, checkout after
# deleting the data, push to a local remote (and a resumed push), pull into
# a fresh clone, gc dry run then real, a corrupted cache object, a
# hand-edited pointer, an unreachable remote.
set -u
. "$(dirname "$0")/lib/server.sh"

pass=0
fail=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "not ok: $name" >&2; fi
}
# run WANT ARGS...: runs cairn, keeps stdout/stderr in OUT/ERR
run() {
    local want=$1
    shift
    OUT=$("$CAIRN" "$@" 2>"$ERRF")
    CODE=$?
    ERR=$(cat "$ERRF")
    [ "$CODE" -eq "$want" ] || { echo "cairn $*: exit $CODE, wanted $want; out: $OUT; err: $ERR" >&2; return 1; }
}
has() { grep -qF -- "$2" <<<"$1" || { echo "expected '$2' in: $1" >&2; return 1; }; }
hasnt() { ! grep -qF -- "$2" <<<"$1" || { echo "did not expect '$2' in: $1" >&2; return 1; }; }

top=$(it_tmpdir)
ERRF="$top/stderr"
repo="$top/repo"
mkdir -p "$repo"
cd "$repo"
git init -q .
git config user.email test@example.com
git config user.name test

# ---- the data ----
mkdir -p data/nested/deeper "data/empty dir" "data/sp ace"
printf 'alpha\n' > data/a.txt
: > data/empty.txt
printf 'deep\n' > data/nested/deeper/d.bin
printf 'ü\n' > "data/sp ace/naïve café.txt"
ln -s a.txt data/link-in
ln -s /etc/hostname data/link-out
head -c 100000 /dev/urandom > model.bin

check "add" run 0 data add data model.bin
check "add summary" has "$OUT" "5 files"
check "pointer written" test -f data.cairn
check "file pointer" grep -q '^kind: file$' model.bin.cairn
check "dir pointer counts files" grep -q '^files: 4$' data.cairn
check "gitignore" grep -qx '/data' .gitignore
check "gitignore file" grep -qx '/model.bin' .gitignore
check "cache not tracked by git" grep -qx '/cache' .cairn/.gitignore
check "ls" run 0 data ls data
check "ls link recorded, not followed" has "$OUT" "link-out -> /etc/hostname"
check "ls utf-8 name" has "$OUT" "sp ace/naïve café.txt"
check "ls empty dir" has "$OUT" "empty dir/"
check "ls empty file" has "$OUT" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
git add -A
git commit -qm "data v1"

# ---- status ----
check "status clean" run 0 data status
check "status clean says so" has "$OUT" "up to date"
printf 'changed\n' >> data/a.txt
printf 'new\n' > "data/nested/new file.txt"
rm data/nested/deeper/d.bin
check "status dirty" run 0 data status
check "status modified" has "$OUT" "modified   data/a.txt"
check "status added" has "$OUT" "added      data/nested/new file.txt"
check "status deleted" has "$OUT" "deleted    data/nested/deeper/d.bin"
check "status leaves clean pointer alone" hasnt "$OUT" "model.bin"

# ---- a second version, diff between commits ----
check "re-add" run 0 data add data
git commit -qam "data v2"
check "diff revisions" run 0 data diff HEAD~1:data.cairn HEAD:data.cairn
check "diff modified" has "$OUT" "modified   a.txt"
check "diff added" has "$OUT" "added      nested/new file.txt"
check "diff removed" has "$OUT" "removed    nested/deeper/d.bin"
check "diff REV PATH form" run 0 data diff HEAD~1 data
check "diff REV PATH modified" has "$OUT" "modified   a.txt"
git show HEAD~1:data.cairn > "$top/old.cairn"
check "diff two pointer files" run 0 data diff "$top/old.cairn" data.cairn
check "diff files modified" has "$OUT" "modified   a.txt"
check "diff same" run 0 data diff data.cairn data.cairn
check "diff same says so" has "$OUT" "no differences"

# ---- checkout after deleting the data ----
rm -rf data model.bin
check "status all deleted" run 0 data status
check "status deleted file" has "$OUT" "deleted    model.bin"
check "checkout" run 0 data checkout
check "checkout restored file" test "$(cat data/a.txt)" = "$(printf 'alpha\nchanged')"
check "checkout utf-8 name" test -f "data/sp ace/naïve café.txt"
check "checkout empty dir" test -d "data/empty dir"
check "checkout empty file" test -f data/empty.txt -a ! -s data/empty.txt
check "checkout symlink" test "$(readlink data/link-out)" = /etc/hostname
check "checkout model" test -s model.bin
check "status clean after checkout" run 0 data status
check "status clean after checkout says so" has "$OUT" "up to date"

# ---- push, resume, pull into a fresh clone ----
check "remote add" run 0 data remote add origin "$top/remote"
check "remote list" run 0 data remote list
check "remote listed" has "$OUT" "origin"
git add -A && git commit -qm "remote"
check "push" run 0 data push
check "push counted" has "$OUT" "pushed 6 objects"
check "push again sends nothing" run 0 data push
check "push again counted" has "$OUT" "pushed 0 objects"
# an interrupted push: some objects never arrived, a temp file was left
find "$top/remote" -type f | head -3 | xargs rm -f
mkdir -p "$top/remote/00"
: > "$top/remote/00/.tmp-12345-1"
check "resumed push" run 0 data push
check "resumed push sends only the missing" has "$OUT" "pushed 3 objects"
git clone -q "$repo" "$top/clone"
cd "$top/clone"
check "clone has pointers, not data" test -f data.cairn -a ! -e data
check "pull" run 0 data pull
check "pull fetched" has "$OUT" "fetched 6 objects"
check "pulled file" test "$(cat data/a.txt)" = "$(printf 'alpha\nchanged')"
check "pulled model identical" cmp -s model.bin "$repo/model.bin"
check "pulled status clean" run 0 data status
check "pulled status says clean" has "$OUT" "up to date"
cd "$repo"

# ---- gc ----
check "gc dry run" run 0 data gc --dry-run
check "gc dry run finds v1 objects" has "$OUT" "would remove 3 objects"
nobj=$(find .cairn/cache -type f | wc -l)
check "gc dry run removes nothing" test "$(find .cairn/cache -type f | wc -l)" -eq "$nobj"
check "gc --all-revs keeps history" run 0 data gc --dry-run --all-revs
check "gc --all-revs count" has "$OUT" "would remove 0 objects"
check "gc" run 0 data gc
check "gc removed" has "$OUT" "removed 3 objects"
check "gc left the rest" test "$(find .cairn/cache -type f | wc -l)" -eq $((nobj - 3))
check "status clean after gc" run 0 data status

# ---- a corrupted cache object ----
h=$(sed -n 's/^hash: //p' model.bin.cairn)
obj=".cairn/cache/${h:0:2}/${h:2}"
corrupt() { chmod u+w "$obj" && printf 'garbage' > "$obj"; }
corrupt
rm -f "$top/remote/${h:0:2}/${h:2}"
check "corrupt object push refused" run 1 data push model.bin
check "corrupt object push reported" has "$ERR" "corrupt object"
check "corrupt object not at the remote" test ! -e "$top/remote/${h:0:2}/${h:2}"
check "corrupt object moved aside" test -f "$obj.corrupt" -a ! -e "$obj"
check "re-add repairs the cache" run 0 data add model.bin
check "push after repair" run 0 data push model.bin
check "push after repair sent it" has "$OUT" "pushed 1 objects"
corrupt
rm model.bin
check "corrupt object refused" run 1 data checkout model.bin
check "corrupt object reported" has "$ERR" "corrupt object"
check "nothing half-restored" test ! -e model.bin
check "fetch repairs the cache" run 0 data fetch model.bin
check "fetch brought it back" has "$OUT" "fetched 1 objects"
check "checkout after repair" run 0 data checkout model.bin
check "repaired model identical" cmp -s model.bin "$top/clone/model.bin"

# ---- a hand-edited pointer ----
cp data.cairn "$top/good.cairn"
sed -i 's/^size: .*/size: lots/' data.cairn
check "edited pointer refused" run 1 data status data
check "edited pointer line" has "$ERR" "data.cairn:5: size must be a non-negative integer"
cp "$top/good.cairn" data.cairn
printf 'colour: blue\n' >> data.cairn
check "unknown key refused" run 1 data checkout data
check "unknown key line" has "$ERR" "data.cairn:7: unknown key 'colour'"
cp "$top/good.cairn" data.cairn

# ---- an unreachable remote ----
check "remote add unreachable" run 0 data remote add gone "$top/no/such/parent/remote"
check "push unreachable" run 1 data push --remote gone
check "push unreachable message" has "$ERR" "unreachable"
check "pull unreachable" run 1 data pull --remote gone
check "nothing lost" run 0 data status
check "nothing lost says so" has "$OUT" "up to date"
check "unknown remote" run 1 data push --remote nope
check "unknown remote message" has "$ERR" "no remote named 'nope'"

# ---- bad usage and edges ----
check "add symlink refused" run 1 data add data/link-in
check "add symlink message" has "$ERR" "symlink"
check "add outside refused" run 1 data add /etc/hostname
check "add outside message" has "$ERR" "outside the repository"
check "unknown subcommand" run 2 data frobnicate
check "bad option" run 2 data status --frob
(cd "$top" && mkdir -p norepo && cd norepo && "$CAIRN" data status >/dev/null 2>"$ERRF")
check "no repository" grep -q "not in a repository" "$ERRF"

echo "test_data.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
