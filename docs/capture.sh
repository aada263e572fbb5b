#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in the instructor's keys (docs/answers/*.md)
# from the programs as they are now. In a key, every block between
#     <!-- capture: COMMAND -->
# and
#     <!-- end capture -->
# is replaced by a fenced block holding "$ COMMAND" and what it printed on
# stdout (an elided or filtered run says so in the marker), and
# every "<!-- machine -->" line by a line naming the machine it ran on.
# COMMAND is a shell line run with the built programs first on PATH, e.g.
#     <!-- capture: mmap-anon --color=never -->
#     <!-- capture: ulimit -v 200000; map-noreserve --color=never 2>&1 -->
#     <!-- capture: oom-killer-try --limit 64M | elide_progress -->
#     <!-- capture: oom-killer-try --json | json_step 3 -->
#     <!-- capture: with_pool 2 hugetlb-reserve --color=never -->
#     <!-- capture: empty_pool hugetlb-reserve --setup 2 --color=never -->
#     <!-- capture: as_nobody mlock-pages --color=never -->
# (the five helpers are defined below; a filter after " | " is applied to
# the output, and the program's own exit status is what counts). A command that exits 77 - it cannot
# run here, say without root - leaves its block as it was. Nothing inside the
# blocks is written by hand.
#
#   sh docs/capture.sh [DEMO...] [--build DIR]   (default: every key; build/dev)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build/dev
names=
while [ $# -gt 0 ]; do
    case $1 in
    --build) [ $# -ge 2 ] || { echo "usage: sh docs/capture.sh [DEMO...] [--build DIR]" >&2; exit 2; }
             build=$2; shift 2 ;;
    -*) echo "capture: unknown option $1" >&2
        echo "usage: sh docs/capture.sh [DEMO...] [--build DIR]" >&2; exit 2 ;;
    *) names="$names $1"; shift ;;
    esac
done
[ -d "$build/demos" ] || { echo "capture: no $build/demos (build first: cmake --workflow --preset dev)" >&2; exit 2; }
PATH=$(cd "$build/demos" && pwd):$PATH
export PATH
[ -n "$names" ] || names=$(grep -l '<!-- capture:' "$here"/answers/*.md | sed 's|.*/||; s|\.md$||')

thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
if grep -q '^memory[[:space:]]*0[[:space:]]' /proc/cgroups 2>/dev/null; then cg=v2; else cg=v1; fi
machine="Captured on Linux $(uname -r) ($(uname -m)), $(($(getconf PAGESIZE) / 1024)) KiB pages, THP \`${thp:-absent}\`, overcommit_memory $(cat /proc/sys/vm/overcommit_memory), memory cgroup $cg, $(ldd --version 2>/dev/null | head -1 | sed 's/.* //;s/^/glibc /'), $(id -un), $(date -u +%Y-%m-%d)."

# The first three progress reports of oom-killer-try (a report is a
# "blocks" line and, with malloc, its "[heap]" line), "...", and the last.
elide_progress() {
    awk '
        /^ +[0-9]+ blocks / { n++; if (n <= 3) { print; keep = 1 } else { last = $0; lastheap = ""; keep = 0; held = 1 } next }
        /^        \[heap\]/ { if (keep) print; else lastheap = $0; next }
        { if (held) { print "      ..."; print last; if (lastheap != "") print lastheap; held = 0 } print }
    '
}

# Only step N's JSON line.
json_step() { grep "\"step\":$1,"; }

# COMMAND with N huge pages in the pool, as an administrator would have
# filled it; the pool is emptied again on every way out (root only).
with_pool() {
    pool=/proc/sys/vm/nr_hugepages
    [ "$(id -u)" = 0 ] && [ "$(cat $pool)" = 0 ] || return 77
    trap 'echo 0 > /proc/sys/vm/nr_hugepages' EXIT INT TERM HUP
    echo "$1" >$pool
    shift
    status=0
    "$@" || status=$?
    echo 0 >$pool
    trap - EXIT INT TERM HUP
    return $status
}

# COMMAND only where the pool is empty: a run that grows it (--setup) from
# nothing (root only).
empty_pool() {
    [ "$(id -u)" = 0 ] && [ "$(cat /proc/sys/vm/nr_hugepages)" = 0 ] || return 77
    "$@"
}

# COMMAND as an ordinary user, nobody (65534), as a student runs it; only
# root may switch (setpriv), so elsewhere 77.
as_nobody() {
    [ "$(id -u)" = 0 ] || return 77
    setpriv --reuid 65534 --regid 65534 --clear-groups "$@"
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.run" "$tmp.err" "$tmp.out"' EXIT
for name in $names; do
    file=$here/answers/$name.md
    [ -f "$file" ] || { echo "capture: no $file" >&2; exit 2; }
    : >"$tmp"
    state=text ran=0 kept=0
    while IFS= read -r line || [ -n "$line" ]; do
        case $state:$line in
        text:'<!-- capture: '*' -->')
            printf '%s\n' "$line" >>"$tmp"
            cmd=${line#'<!-- capture: '}
            cmd=${cmd%' -->'}
            # The program's own status decides, not a filter's after " | ".
            run=${cmd%% | *}
            filter=${cmd#"$run"}
            filter=${filter#' | '}
            status=0
            (eval "$run") >"$tmp.run" 2>"$tmp.err" </dev/null || status=$?
            if [ "$status" = 77 ]; then
                echo "capture: $name: '$run' cannot run here ($(head -c 200 "$tmp.err")); its" \
                     "block is kept" >&2
                state=keep kept=$((kept + 1))
            elif [ "$status" != 0 ]; then
                echo "capture: $name: '$run' failed (exit $status): $(head -c 400 "$tmp.err")" >&2
                exit 1
            else
                if [ -n "$filter" ]; then
                    (eval "$filter") <"$tmp.run" >"$tmp.out" && mv "$tmp.out" "$tmp.run"
                fi
                # The command as a reader would type it, without this script's helpers.
                shown=$(printf '%s' "$run" | sed -e 's/ 2>&1//' -e 's/^empty_pool //' \
                    -e 's/^as_nobody /setpriv --reuid 65534 --regid 65534 --clear-groups /' \
                    -e 's|^with_pool \([0-9]*\) |echo \1 > /proc/sys/vm/nr_hugepages; |')
                { printf '```\n$ %s\n' "$shown"; cat "$tmp.run"; printf '```\n'; } >>"$tmp"
                state=skip ran=$((ran + 1))
            fi
            ;;
        keep:'<!-- end capture -->' | skip:'<!-- end capture -->')
            printf '%s\n' "$line" >>"$tmp"
            state=text
            ;;
        keep:*) printf '%s\n' "$line" >>"$tmp" ;;
        skip:*) ;;
        text:'<!-- machine -->'*) printf '%s\n' "$line" >>"$tmp" ;; # decided below
        *) printf '%s\n' "$line" >>"$tmp" ;;
        esac
    done <"$file"
    [ "$state" = text ] || { echo "capture: $file: a capture block has no end" >&2; exit 1; }
    if [ "$ran" = 0 ]; then
        echo "capture: $file unchanged: no block could run here"
        continue
    fi
    # The machine line names where the blocks ran; with some kept from
    # another machine, it stays as it was, and says nothing false.
    if [ "$kept" = 0 ]; then
        sed "s|^<!-- machine -->.*|<!-- machine --> $machine|" "$tmp" >"$tmp.out" && mv "$tmp.out" "$tmp"
    else
        echo "capture: $file: $kept block(s) kept from an earlier capture; its machine line is" \
             "left as it was" >&2
    fi
    cp "$tmp" "$file"
    echo "capture: $file regenerated"
done
