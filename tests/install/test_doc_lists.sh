#!/bin/sh
# SPDX-License-Identifier: MIT
# The lists the docs keep of the programs, held against the programs:
#   sh test_doc_lists.sh SOURCE_DIR PROGRAM...
# docs/tour.md's table names the tour's stops (demos/tour.c), each with its
# arguments, in the order the tour runs them; README.md's table has a row for
# every program and docs/ a lab sheet. (A split demo left out of one of them
# went unnoticed twice.)
set -u
src=$1
shift
. "$(dirname "$0")/../support/failures.sh"

# {"demo", "arg" or NULL, "arg2" or NULL, "lesson"} -> demo arg arg2
sed -n '/stops\[\] = {/,/^};/p' "$src/demos/tour.c" |
    sed -n 's/^ *{"\([^"]*\)", \(NULL\|"[^"]*"\), \(NULL\|"[^"]*"\),.*/\1 \2 \3/p' |
    sed 's/ NULL//g; s/"//g' >"$tmp/tour.c"
# | `demo arg arg2` | lesson | -> demo arg arg2
sed -n 's/^| `\([^`]*\)` |.*/\1/p' "$src/docs/tour.md" >"$tmp/tour.md"
[ -s "$tmp/tour.c" ] || fail "no stops found in demos/tour.c"
if ! diff -u "$tmp/tour.c" "$tmp/tour.md" >"$tmp/diff"; then
    fail "docs/tour.md's stops are not demos/tour.c's, in its order:"
    cat "$tmp/diff" >&2
fi

for p in "$@"; do
    grep -q "^| \`$p\` |" "$src/README.md" || fail "README.md's table has no row for $p"
    [ -f "$src/docs/$p.md" ] || fail "$p has no lab sheet docs/$p.md"
done
# A lab sheet's commands start where README's first command builds: a student
# who built that way must find every program the sheets name (they named
# build/default while README built build/, and not one command ran).
dir=$(sed -n 's/.*ensure-deps\.sh build && cmake -S \. -B \([^ ]*\) .*/\1/p' "$src/README.md")
[ -n "$dir" ] || fail "README.md's first command (ensure-deps.sh build && cmake -S . -B DIR) not found"
for doc in "$src/README.md" "$src/docs/install.md" "$src/docs/instructor.md" "$src/docs/tour.md"; do
    [ -f "$doc" ] && printf '%s\n' "$doc"
done >"$tmp/docs"
for p in "$@"; do
    [ -f "$src/docs/$p.md" ] && printf '%s\n' "$src/docs/$p.md"
done >>"$tmp/docs"
while read -r doc; do
    grep -no 'build/[A-Za-z0-9_.-]*/*demos/' "$doc" | grep -v ":$dir/demos/\$" |
        sed "s|^|${doc#"$src"/}:|" >>"$tmp/paths"
done <"$tmp/docs"
if [ -s "$tmp/paths" ]; then
    fail "docs name programs outside README's build folder $dir/demos/:"
    cat "$tmp/paths" >&2
fi
[ "$failures" -eq 0 ] || exit 1
echo "docs list the tour's $(wc -l <"$tmp/tour.c") stops in order, and all $# programs; sheets run from $dir/demos/"
