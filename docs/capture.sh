#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in docs/answers/DEMO.md from the program as it
# is now: every block between
#     <!-- capture: DEMO ARGS -->
# and
#     <!-- end capture -->
# is replaced by a fenced block holding what `DEMO ARGS` printed, and every
# "<!-- machine -->" line by a line naming the machine it ran on. Nothing in
# those blocks is written by hand.
#
#   sh docs/capture.sh DEMO [BUILD_DIR]     (default: build/dev)
set -eu
[ $# -ge 1 ] || { echo "usage: sh docs/capture.sh DEMO [BUILD_DIR]" >&2; exit 2; }
name=$1
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../build/dev}
demo=$build/demos/$name
file=$here/answers/$name.md
[ -x "$demo" ] || { echo "capture: no $demo (build first: cmake --workflow --preset dev)" >&2; exit 2; }
[ -f "$file" ] || { echo "capture: no $file" >&2; exit 2; }

thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
machine="Captured on Linux $(uname -r) ($(uname -m)), $(($(getconf PAGESIZE) / 1024)) KiB pages, THP \`${thp:-absent}\`, overcommit_memory $(cat /proc/sys/vm/overcommit_memory), $(date -u +%Y-%m-%d)."

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.run"' EXIT
skipping=0
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
    "<!-- capture: $name"*'-->')
        printf '%s\n' "$line" >>"$tmp"
        args=${line#"<!-- capture: $name"}
        args=${args%'-->'}
        # shellcheck disable=SC2086 # the arguments are words on purpose
        "$demo" $args >"$tmp.run" 2>/dev/null || { echo "capture: $name$args failed" >&2; exit 1; }
        printf '```\n' >>"$tmp"
        cat "$tmp.run" >>"$tmp"
        printf '```\n' >>"$tmp"
        skipping=1
        ;;
    '<!-- end capture -->')
        printf '%s\n' "$line" >>"$tmp"
        skipping=0
        ;;
    '<!-- machine -->'*)
        printf '<!-- machine --> %s\n' "$machine" >>"$tmp"
        ;;
    *)
        [ "$skipping" = 1 ] || printf '%s\n' "$line" >>"$tmp"
        ;;
    esac
done <"$file"
cp "$tmp" "$file"
echo "capture: $file regenerated"
