#!/bin/sh
# SPDX-License-Identifier: MIT
# The commands the docs give a student to watch with, run here:
#   sh test_doc_commands.sh SOURCE_DIR
# Each `grep -E '^(Key|Other)...' /proc/PID/FILE` in docs/*.md (the PID read
# as this grep's own) must print each key it names once, and no other key:
# '^(Rss|Pss)' without the ':' also prints Pss_Dirty, Pss_Anon... from
# smaps_rollup, which the sheet did not mean. And a line of the source an
# exercise names, "`demos/NAME.c:LINE` (`CODE`", holds that code.
set -u
src=$1
. "$(dirname "$0")/../support/failures.sh"
checked=0

for doc in "$src"/docs/*.md; do
    # A command may wrap at the end of a line: read the sheet as one line.
    tr '\n' ' ' <"$doc" |
        grep -oE "grep -E '\^\([A-Za-z_|]+\)[^']*' +/proc/[A-Za-z_/]+" >"$tmp/found"
    while IFS= read -r cmd; do
        pattern=$(printf '%s\n' "$cmd" | sed "s/^grep -E '\([^']*\)'.*/\1/")
        file=$(printf '%s\n' "$cmd" | sed 's|.* \(/proc/[^ ]*\)$|\1|; s|/PID/|/self/|')
        if [ ! -r "$file" ]; then
            echo "skipped in ${doc##*/}: $file cannot be read here"
            continue
        fi
        names=$(printf '%s\n' "$pattern" | sed 's/^\^(\([^)]*\)).*/\1/' | tr '|' '\n' | sort)
        grep -E "$pattern" "$file" | cut -d: -f1 | sort >"$tmp/printed"
        printf '%s\n' "$names" >"$tmp/named"
        if ! cmp -s "$tmp/named" "$tmp/printed"; then
            fail "${doc##*/}: grep -E '$pattern' $file prints keys $(tr '\n' ' ' <"$tmp/printed")" \
                 "where it names $(tr '\n' ' ' <"$tmp/named")"
        fi
        checked=$((checked + 1))
    done <"$tmp/found"
    # `demos/NAME.c:LINE` (`CODE`: the code quoted must be on that line.
    tr '\n' ' ' <"$doc" | sed 's/   */ /g' |
        grep -oE '`demos/[a-z-]+\.c:[0-9]+` \(`[^`]+`' >"$tmp/found"
    while IFS= read -r ref; do
        file=$(printf '%s\n' "$ref" | sed 's/^`\([^:]*\):.*/\1/')
        line=$(printf '%s\n' "$ref" | sed 's/^`[^:]*:\([0-9]*\)`.*/\1/')
        code=$(printf '%s\n' "$ref" | sed 's/^[^(]*(`\(.*\)`$/\1/')
        sed -n "${line}p" "$src/$file" | grep -qF -- "$code" ||
            fail "${doc##*/}: $file:$line is not '$code' but '$(sed -n "${line}p" "$src/$file")'"
        checked=$((checked + 1))
    done <"$tmp/found"
done
[ "$checked" -gt 0 ] || fail "no grep -E '^(...)' command or source line found in docs/*.md"
[ "$failures" -eq 0 ] || exit 1
echo "each of the docs' $checked grep -E '^(...)' commands and source lines is what it says"
