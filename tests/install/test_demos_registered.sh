#!/bin/sh
# SPDX-License-Identifier: MIT
# Every demo the build makes is registered where students, the matrix and the tests find it:
#   sh test_demos_registered.sh SOURCE_DIR DEMO...   (DEMO...: CMake's VMLAB_DEMOS)
# a stop in demos/tour.c; a `covers` line in tests/matrix/matrix.table (the judge fails a
# run that did not end a demo it covers; a demo named in none is never judged); a line of
# `vmlab list` (demos/vmlab.c); a README row; and both lists of tests/demos/test_unprivileged.c
# (programs[], copied beside the tour it runs, and runs[]). None of these may name a demo
# the build does not make (a rename left behind). A toy demo that had none of them built,
# and demo.tour and the matrix passed: neither knows which demos exist.
set -u
src=$1
shift
. "$(dirname "$0")/../support/failures.sh"

# Left out on purpose, one "DEMO why" a line; none now: every demo is a stop.
not_in_tour=''

# {"demo", ...} rows of a C table, from its opening line to "};".
c_table() { sed -n "/$1/,/^};/p" "$src/demos/$2" | sed -n 's/^ *{"\([^"]*\)",.*/\1/p' | sort -u; }
c_table 'stops\[\] = {' tour.c >"$tmp/tour"
c_table '^} programs\[\] = {' vmlab.c | grep -vx 'tour\|watch' >"$tmp/list"
unprivileged=$src/tests/demos/test_unprivileged.c
sed -n '/programs\[\] = {/,/};/p' "$unprivileged" | grep -o '"[^"]*"' | tr -d '"' |
    grep -vx tour | sort -u >"$tmp/unprivileged"
sed -n '/runs\[\] = {/,/^};/p' "$unprivileged" | sed -n 's/^ *{"\([^"]*\)",.*/\1/p' |
    grep -vx tour | sort -u >"$tmp/runs"
# covers RUN DEMO...: the demos, one a line, and the RUNs, each a `run` id of the table.
table=$src/tests/matrix/matrix.table
awk '$1 == "covers" { for (i = 3; i <= NF; i++) print $i }' "$table" | sort -u >"$tmp/covers"
for run in $(awk '$1 == "covers" { print $2 }' "$table" | sort -u); do
    awk -v r="$run" '$1 == "run" && $2 == r { found = 1 } END { exit !found }' "$table" ||
        fail "matrix.table: 'covers $run ...' names no run of the table"
done
for f in tour list covers unprivileged runs; do
    [ -s "$tmp/$f" ] || fail "no demos read for '$f': has its table's shape changed?"
done
printf '%s\n' "$@" | sort -u >"$tmp/demos"
printf '%s\n' "$not_in_tour" | sed -n 's/^\([^ ]\{1,\}\) .*/\1/p' >"$tmp/exceptions"

for demo in "$@"; do
    why=$(printf '%s\n' "$not_in_tour" | sed -n "s/^$demo //p")
    if [ -n "$why" ]; then
        echo "not in the tour or the matrix, on purpose: $demo ($why)"
    else
        grep -qx "$demo" "$tmp/tour" || fail "$demo has no stop in demos/tour.c (stops[])"
        grep -qx "$demo" "$tmp/covers" ||
            fail "$demo is in no 'covers' line of tests/matrix/matrix.table"
    fi
    grep -qx "$demo" "$tmp/list" || fail "$demo is not in vmlab list (demos/vmlab.c, programs[])"
    grep -q "^| \`$demo\` |" "$src/README.md" || fail "README.md's table has no row for $demo"
    grep -qx "$demo" "$tmp/unprivileged" || fail "$demo is not in test_unprivileged.c's programs[]"
    grep -qx "$demo" "$tmp/runs" || fail "$demo is not in test_unprivileged.c's runs[]"
done
for f in tour list covers unprivileged runs exceptions; do
    for name in $(comm -23 "$tmp/$f" "$tmp/demos"); do
        fail "$name ($f) is not a demo the build makes (VMLAB_DEMOS)"
    done
done
for demo in $(comm -12 "$tmp/exceptions" "$tmp/tour"); do
    fail "$demo is a tour stop: take it out of not_in_tour"
done
[ "$failures" -eq 0 ] || exit 1
echo "all $# demos: a tour stop, a 'covers' line, vmlab list, README, test_unprivileged.c"
