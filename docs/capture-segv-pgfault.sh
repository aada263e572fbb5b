#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured run in docs/answers/segv-pgfault.md from the
# current program, so that the instructor key shows what it prints today.
#   sh docs/capture-segv-pgfault.sh [BUILD_DIR]     (default: build/default)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/default}/demos/segv-pgfault
key=docs/answers/segv-pgfault.md
run=$(mktemp)
trap 'rm -f "$run" "$run.md"' EXIT
{
    echo "\$ segv-pgfault --color=never      # Linux $(uname -r), $(uname -m)"
    "$bin" --color=never
} >"$run" 2>&1
# Everything between the two markers is replaced; the rest of the key stays.
awk -v run="$run" '
    /<!-- capture: begin -->/ { print; print "```"; while ((getline line < run) > 0) print line; print "```"; skip = 1; next }
    /<!-- capture: end -->/ { skip = 0 }
    !skip' "$key" >"$run.md"
mv "$run.md" "$key"
echo "captured into $key"
