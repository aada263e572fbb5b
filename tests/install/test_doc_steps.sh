#!/bin/sh
# SPDX-License-Identifier: MIT
# A lab sheet numbers a demo's steps as the demo prints them: "In step 6" must
# be the step the student sees as [6/N]. Two ways a sheet lists the steps are
# held against the step count of the runs its key captured ("steps":N in the
# JSON lines of docs/answers/DEMO.md, else N of its plain runs' [k/N]):
#   - a table whose first column is "step": its rows are 1 to N, in order;
#   - a numbered list right after a line that names the demo's steps and ends
#     with ':': its items are 1 to N.
#   sh test_doc_steps.sh SOURCE_DIR
# (map-noreserve's list had 6 items for 9 steps, while the sheet's other
# sections and the key used the demo's numbers; its list now says it is the
# demo's steps, so that this holds it.)
set -u
src=$1
failures=0 checked=0 names=
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for sheet in "$src"/docs/*.md; do
    demo=$(basename "$sheet" .md)
    key=$src/docs/answers/$demo.md
    [ -f "$key" ] || continue
    steps=$(grep -o "^{\"demo\":\"$demo\",\"schema\":[0-9]*,\"step\":[0-9]*,\"steps\":[0-9]*" "$key" |
            sed 's/.*"steps"://' | sort -u)
    [ -n "$steps" ] || # no JSON: the "[k/N]" headers of its plain runs
        steps=$(grep -o '^\[[0-9]*/[0-9]*\]' "$key" | sed 's|.*/||; s|\]||' | sort -u)
    [ -n "$steps" ] || continue
    if [ "$(printf '%s\n' "$steps" | wc -l)" -ne 1 ]; then
        continue # the key's runs differ in their step count: no single number to hold
    fi
    # The numbers of the step table's rows, and of the steps list's items, one a line.
    numbers=$(awk '
        /^\| step \|/ { table = 1; next }
        table && /^\|[-| ]*$/ { next }
        table && /^\| *[0-9]+ *\|/ { n = $0; sub(/^\| */, "", n); sub(/ *\|.*/, "", n); print n; next }
        table { table = 0 }
        /steps/ && /:$/ { list = 1; started = 0; next }
        list && /^[0-9]+\. / { n = $0; sub(/\..*/, "", n); print n; started = 1; next }
        list && started && /^ *$/ { list = 0 }
        list && !started && !/^ *$/ { list = 0 }
    ' "$sheet")
    [ -n "$numbers" ] || continue
    checked=$((checked + 1))
    names="$names $demo"
    expected=$(seq 1 "$steps")
    if [ "$numbers" != "$expected" ]; then
        fail "docs/$demo.md numbers its steps $(echo $numbers), the demo has $steps (its key's runs)"
    fi
done
[ "$checked" -gt 0 ] || fail "no lab sheet with a step table or list found"
[ "$failures" -eq 0 ] || exit 1
echo "$checked lab sheets number the steps as their demos do:$names"
