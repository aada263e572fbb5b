#!/bin/sh
# SPDX-License-Identifier: MIT
# NEED_MEMORY (lib/safety/needs.h): a demo that declares the least memory its
# lesson uses must, where this process may use less, end with 77 before any
# step and say why, naming the limit: here RLIMIT_DATA, which this test sets
# (prlimit). Each program whose source declares NEED_MEMORY is run under ever
# larger limits, a page apart, from less than a program needs to start: the
# first run that starts has less than its need left, however small the need,
# and must end so (a run that finishes its lesson there did not check its
# need; one that fails otherwise is tried again a page higher, since the C
# library itself may want more to start).
#   sh test_need_memory.sh SOURCE_DIR DEMO_DIR
set -u
src=$1 dir=$2
. "$(dirname "$0")/../support/failures.sh"
programs=$(grep -l '{NEED_MEMORY,' "$src"/demos/*.c | sed 's|.*/||; s|\.c$||')
[ -n "$programs" ] || fail "no demo in $src/demos declares NEED_MEMORY"
for p in $programs; do
  seen=""
  kb=192
  while [ "$kb" -le 2048 ]; do
    prlimit --data=$((kb * 1024)) "$dir/$p" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 77 ]; then
      want="this lesson needs .* of memory this process may use, and RLIMIT_DATA (ulimit -d)"
      grep -q "$want leaves .*; raise it: ulimit -d unlimited" "$tmp/err" ||
        fail "$p under RLIMIT_DATA ${kb} KiB: 77, but not for its memory: $(head -c 300 "$tmp/err")"
      grep -q '^\[1/' "$tmp/out" && fail "$p under RLIMIT_DATA ${kb} KiB: a step ran before the 77"
      seen=$kb
      break
    fi
    [ "$rc" -eq 0 ] && { fail "$p ran its lesson with RLIMIT_DATA ${kb} KiB"; seen=0; break; }
    kb=$((kb + 4))
  done
  [ -n "$seen" ] ||
    fail "$p never ended with 77 under RLIMIT_DATA up to 2 MiB" \
         "(last: exit $rc, $(head -c 200 "$tmp/err"))"
  [ -n "$seen" ] && [ "$seen" -gt 0 ] && echo "$p: 77 under RLIMIT_DATA ${seen} KiB"
done
[ "$failures" -eq 0 ] || exit 1
