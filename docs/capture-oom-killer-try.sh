#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in docs/answers/oom-killer-try.md from the
# program as it is now: every block between
#     <!-- capture: oom-killer-try ARGS -->            (or ... ARGS | FILTER -->)
# and
#     <!-- end capture -->
# is replaced by a fenced block holding what `oom-killer-try ARGS` printed,
# and every "<!-- machine -->" line by a line naming the machine it ran on.
# FILTER is "progress" (keep the first three progress reports and the last,
# elide the rest) or "json-step N" (only step N's JSON line). Nothing in
# those blocks is written by hand. Needs what the demo needs: root where
# only root may make a memory cgroup.
#
#   sh docs/capture-oom-killer-try.sh [BUILD_DIR]     (default: build/dev)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/dev}
demo=$build/demos/oom-killer-try
file=$here/answers/oom-killer-try.md
[ -x "$demo" ] || { echo "capture: no $demo (build first: cmake --workflow --preset dev)" >&2; exit 2; }

thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
if grep -q '^memory[[:space:]]*0[[:space:]]' /proc/cgroups 2>/dev/null; then cg=v2; else cg=v1; fi
machine="Captured on Linux $(uname -r) ($(uname -m)), memory cgroup $cg, THP \`${thp:-absent}\`, $(id -un), $(date -u +%Y-%m-%d)."

# The first three progress reports (a report is an "iteration" line and, with
# malloc, its "[heap]" line), an ellipsis, and the last one.
elide_progress() {
    awk '
        /^ +[0-9]+ blocks / { n++; if (n <= 3) { print; keep = 1 } else { last = $0; lastheap = ""; keep = 0; held = 1 } next }
        /^        \[heap\]/ { if (keep) print; else lastheap = $0; next }
        { if (held) { print "      ..."; print last; if (lastheap != "") print lastheap; held = 0 } print }
    '
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.run"' EXIT
skipping=0
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
    '<!-- capture: oom-killer-try'*'-->')
        printf '%s\n' "$line" >>"$tmp"
        spec=${line#'<!-- capture: oom-killer-try'}
        spec=${spec%'-->'}
        args=${spec%%|*}
        filter=
        case $spec in *'|'*) filter=${spec#*|} ;; esac
        # shellcheck disable=SC2086 # the arguments are words on purpose
        "$demo" $args >"$tmp.run" 2>/dev/null || { echo "capture: oom-killer-try$args failed" >&2; exit 1; }
        printf '```\n' >>"$tmp"
        case $filter in
        *progress*) elide_progress <"$tmp.run" >>"$tmp" ;;
        *json-step*) n=$(echo "$filter" | tr -dc '0-9'); grep "\"step\":$n," "$tmp.run" >>"$tmp" ;;
        *) cat "$tmp.run" >>"$tmp" ;;
        esac
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
