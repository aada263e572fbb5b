#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in docs/answers/map-noreserve.md from the
# current program: each block between "<!-- capture:NAME -->" and
# "<!-- /capture:NAME -->" is replaced by a fresh run.
#
#   sh docs/capture-map-noreserve.sh [path/to/map-noreserve]
#
# As root it also captures --all-modes (which switches overcommit_memory for
# a moment and restores it); otherwise that block is left as it is.
set -eu
cd "$(dirname "$0")/.."
demo=${1:-build/default/demos/map-noreserve}
sheet=docs/answers/map-noreserve.md
[ -x "$demo" ] || { echo "no program at $demo: build it first (cmake --workflow --preset default)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # name, then the shell command whose output goes into the block
    name=$1
    shift
    { echo '```'; echo "\$ $*" | sed "s|$demo|map-noreserve|"; sh -c "$*" 2>&1 || true; echo '```'; } >"$tmp/$name"
}
run plain "$demo --color=never"
run ulimit "ulimit -v 200000; $demo --color=never"
if [ "$(id -u)" = 0 ]; then
    run all-modes "$demo --all-modes --color=never"
fi
{ uname -sr; uname -m; } | tr '\n' ' ' >"$tmp/machine"

awk -v dir="$tmp" '
    /^<!-- capture:[a-z-]+ -->$/ {
        print
        name = $0; sub(/^<!-- capture:/, "", name); sub(/ -->$/, "", name)
        file = dir "/" name
        if ((getline line < file) > 0) {
            print line
            while ((getline line < file) > 0) print line
            skipping = 1
        }
        next
    }
    /^<!-- \/capture:[a-z-]+ -->$/ { skipping = 0; print; next }
    !skipping { print }
' "$sheet" >"$tmp/sheet"
sed -i "s|^Captured on: .*|Captured on: $(cat "$tmp/machine")($(date -u +%Y-%m-%d)), by \`sh docs/capture-map-noreserve.sh\`.|" "$tmp/sheet"
cp "$tmp/sheet" "$sheet"
echo "updated $sheet"
