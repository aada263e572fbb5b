#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates the captured runs in the instructor's keys
# docs/answers/mincore-residency.md and docs/answers/protnone-dirty.md from the
# programs as they are now. In those files, every block between
#     <!-- captured: DEMO ARGS -->   and   <!-- end captured -->
# is replaced by a fresh run of `DEMO ARGS --color=never` and a line naming
# the machine it ran on.
#
# Usage: sh docs/capture-residency.sh [BUILD_DIR]   (default: build/default)
set -eu
docs=$(cd "$(dirname "$0")" && pwd)
build=${1:-$docs/../build/default}
bin=$(cd "$build/demos" && pwd)
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo absent)
machine="Linux $(uname -r), $(uname -m), THP \`${thp:-absent}\`, overcommit_memory $(cat /proc/sys/vm/overcommit_memory)"

for key in "$docs/answers/mincore-residency.md" "$docs/answers/protnone-dirty.md"; do
    tmp=$(mktemp)
    awk -v bin="$bin" -v machine="$machine" '
        /^<!-- captured: .* -->$/ {
            print
            cmd = $0
            sub(/^<!-- captured: /, "", cmd)
            sub(/ -->$/, "", cmd)
            print ""
            print "Captured on " machine ", `" cmd "`:"
            print ""
            print "```"
            run = bin "/" cmd " --color=never"
            while ((run | getline line) > 0)
                print line
            if (close(run) != 0) {
                print "capture-residency: " cmd " failed" > "/dev/stderr"
                exit 1
            }
            print "```"
            skipping = 1
            next
        }
        /^<!-- end captured -->$/ { skipping = 0; print ""; print; next }
        !skipping { print }
    ' "$key" > "$tmp"
    mv "$tmp" "$key"
    echo "recaptured $key"
done
