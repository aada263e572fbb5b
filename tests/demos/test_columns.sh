#!/bin/sh
# SPDX-License-Identifier: MIT
# Readable on a projector: every line the tour prints (every demo's plain
# output) and every program's --help and usage error fits 80 columns, as a
# terminal counts them (wc -L: characters, not bytes). Messages on stderr
# are folded only at a terminal (a log keeps each on one line), so they are
# not measured here.
#   sh test_columns.sh DEMO_DIR PROGRAM...
set -u
dir=$1
shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
check() { # check LABEL FILE
  width=$(LC_ALL=C.UTF-8 wc -L <"$2")
  if [ "$width" -gt 80 ]; then
    echo "FAIL: $1: a line is $width columns wide:"
    LC_ALL=C.UTF-8 awk 'length($0) > 80 { printf "  %d: %s\n", length($0), $0 }' "$2" | head -5
    failures=$((failures + 1))
  fi
}
NO_COLOR=1 "$dir/tour" </dev/null >"$tmp/tour" 2>/dev/null
check "tour (its plain output)" "$tmp/tour"
for p in "$@"; do
  "$dir/$p" --help >"$tmp/help" 2>&1
  check "$p --help" "$tmp/help"
  "$dir/$p" --no-such-option >"$tmp/usage" 2>&1
  check "$p's usage error" "$tmp/usage"
done
[ "$failures" -eq 0 ] || exit 1
echo "the tour and every program's help fit 80 columns (widest tour line: $(LC_ALL=C.UTF-8 wc -L <"$tmp/tour"))"
