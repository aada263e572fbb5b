#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in docs/answers/hugetlb-reserve.md from the
# current program: as root, on a machine whose huge-page pool is empty,
# `--setup 2` (the pool is grown for the run and put back), then the same
# with a pool an administrator filled (this script fills it with 2 pages and
# puts it back on every way out).
#   sudo sh docs/capture-hugetlb-reserve.sh [BUILD_DIR]   (default: build/default)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/default}/demos/hugetlb-reserve
key=docs/answers/hugetlb-reserve.md
pool=/proc/sys/vm/nr_hugepages
[ "$(id -u)" = 0 ] || { echo "needs root: it shows --setup, and fills the pool for the second run" >&2; exit 77; }
[ "$(cat $pool)" = 0 ] || { echo "the pool is not empty ($(cat $pool) pages): the first run must start from an empty pool" >&2; exit 77; }
run=$(mktemp)
trap 'echo 0 > $pool; rm -f "$run" "$run.md" "$run.setup" "$run.filled"' EXIT INT TERM HUP
{
    echo "\$ sudo hugetlb-reserve --setup 2 --color=never     # Linux $(uname -r), $(uname -m)"
    "$bin" --setup 2 --color=never
} >"$run.setup" 2>&1
echo 2 > $pool
{
    echo "\$ echo 2 > /proc/sys/vm/nr_hugepages    # an administrator fills the pool"
    echo "\$ hugetlb-reserve --color=never"
    "$bin" --color=never
} >"$run.filled" 2>&1
echo 0 > $pool
awk -v setup="$run.setup" -v filled="$run.filled" '
    function put(file, line) { print "```"; while ((getline line < file) > 0) print line; print "```" }
    /<!-- capture setup: begin -->/ { print; put(setup); skip = 1; next }
    /<!-- capture filled: begin -->/ { print; put(filled); skip = 1; next }
    /<!-- capture (setup|filled): end -->/ { skip = 0 }
    !skip' "$key" >"$run.md"
mv "$run.md" "$key"
rm -f "$run.setup" "$run.filled"
echo "captured into $key"
