#!/bin/sh
# SPDX-License-Identifier: MIT
# The commands the docs tell a reader to run name programs that a build
# makes: sh test_doc_programs.sh SOURCE_DIR
#   - build/PRESET/tests/NAME: NAME is a test program (tests/CMakeLists.txt)
#     and PRESET builds the tests (build/default does not: VMLAB_TESTS OFF);
#   - a source path run with arguments (`tests/x/y 5`): that file exists.
# (A lab sheet once said `tests/bench/bench_fault_cost 5`, a path that is
# the benchmark's source without its .c, not the program the build makes.)
set -u
src=$1
. "$(dirname "$0")/../support/failures.sh"

# The configure presets that leave the tests out.
awk -F'"' '/"name":/ {name = $4} /"VMLAB_TESTS": *"OFF"/ {print name}' \
    "$src/CMakePresets.json" >"$tmp/no-tests"
[ -s "$tmp/no-tests" ] || fail "no preset without tests found in CMakePresets.json"

cd "$src" || exit 1
docs=$(ls README.md docs/*.md docs/answers/*.md)
checked=0
grep -noE 'build/[a-z0-9-]+/tests/[A-Za-z0-9_-]+' $docs >"$tmp/built" || true
while IFS=: read -r file line path; do
    checked=$((checked + 1))
    preset=${path#build/}
    preset=${preset%%/*}
    name=${path##*/}
    grep -qx "$preset" "$tmp/no-tests" &&
        fail "$file:$line: $path: the $preset preset builds no tests"
    grep -qE "^(add_executable|vmlab_check_test)\\($name " tests/CMakeLists.txt ||
        fail "$file:$line: $path: no test program $name in tests/CMakeLists.txt"
done <"$tmp/built"

# `demos/x ARGS` or `tests/x/y ARGS` in a code span: a source path run as a program.
grep -noE '`(demos|tests)/[^` ]+ [^`]*`' $docs >"$tmp/run" || true
while IFS=: read -r file line span; do
    checked=$((checked + 1))
    path=${span#?}
    path=${path%% *}
    [ -f "$path" ] || fail "$file:$line: $span runs $path, which is not a file of the source tree"
done <"$tmp/run"

[ "$failures" -eq 0 ] || exit 1
echo "the docs' $checked commands that run a build's or the source tree's programs name real ones"
