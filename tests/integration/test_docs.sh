#!/usr/bin/env bash
# test_docs.sh - the user documentation matches the binary: docs/cli.md is
# what scripts/gen-cli-docs writes from the commands' help today, every
# `cairn COMMAND` shown in README.md and docs/guide/*.md is a command that
# `cairn --help` lists, and every relative link in them leads to a file.
set -u
: "${CAIRN:?CAIRN must name the cairn binary}"
: "${CAIRN_SOURCE_DIR:?CAIRN_SOURCE_DIR must name the source tree}"
cd "$CAIRN_SOURCE_DIR" || exit 1

fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. the CLI reference is current
if ! bash scripts/gen-cli-docs "$CAIRN" "$tmp/cli.md"; then
    echo "not ok: scripts/gen-cli-docs failed" >&2
    fail=1
elif ! diff -u docs/cli.md "$tmp/cli.md" >"$tmp/cli.diff"; then
    head -40 "$tmp/cli.diff" >&2
    echo "not ok: docs/cli.md is out of date: run \`bash scripts/gen-cli-docs build/cairn\` and commit docs/cli.md" >&2
    fail=1
fi

# 2. every command the docs show exists
commands=$("$CAIRN" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || { echo "not ok: '$CAIRN --help' lists no commands" >&2; exit 1; }
docs=(README.md docs/guide/*.md)
[ -f docs/guide/tracking.md ] || { echo "not ok: docs/guide/ has no guides" >&2; fail=1; }

# Code in markdown: fenced blocks, lines indented by four spaces, and
# `inline spans`. A mention is "cairn WORD" in code, not part of a longer
# name (cairn.yaml, .cairn, cairn_x), optionally after a path (build/cairn).
code_of() {
    awk '
        /^```/ { fence = !fence; next }
        fence || /^    / { print; next }
        { line = $0
          while (match(line, /`[^`]+`/)) { print substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, RSTART + RLENGTH) } }
    ' "$1"
}
for f in "${docs[@]}"; do
    [ -f "$f" ] || continue
    while read -r word; do
        [ -n "$word" ] || continue
        if ! grep -qx -- "$word" <<<"$commands"; then
            echo "not ok: $f shows 'cairn $word', which is not a command of '$CAIRN --help'" >&2
            fail=1
        fi
    done < <(code_of "$f" | grep -oE '(^|[^A-Za-z0-9_.-])cairn +[a-z][a-z0-9_-]*' |
        sed -E 's/.*cairn +//' | sort -u)
done

# 3. relative links resolve
for f in "${docs[@]}" docs/cli.md; do
    [ -f "$f" ] || continue
    dir=$(dirname "$f")
    while read -r target; do
        target=${target%%#*}
        [ -n "$target" ] || continue
        case $target in http://* | https://* | mailto:*) continue ;; esac
        if [ ! -e "$dir/$target" ]; then
            echo "not ok: $f links to '$target', which does not exist" >&2
            fail=1
        fi
    done < <(grep -oE '\]\([^) ]+\)' "$f" | sed -E 's/^\]\((.*)\)$/\1/' | sort -u)
done

if [ "$fail" -ne 0 ]; then
    echo "test_docs: FAILED" >&2
    exit 1
fi
echo "test_docs: ok"
