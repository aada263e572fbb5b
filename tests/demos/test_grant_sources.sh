#!/bin/sh
# SPDX-License-Identifier: MIT
# Step 1 of map-noreserve and overcommit-modes shows `grant_read(&g);` and the
# figures it read: each row must name where it was read ("commit_limit_kB:
# 12341884 (/proc/meminfo CommitLimit)"), and where this test can read the same
# place, the number there must be the row's (figures that move by themselves,
# Committed_AS, VmSize, are only asked to be named).
#   sh test_grant_sources.sh DEMO_DIR PROGRAM...
set -u
dir=$1
shift
. "$(dirname "$0")/../support/failures.sh"
ran=0
for p in "$@"; do
  NO_COLOR=1 timeout 120 "$dir/$p" </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "note: $p cannot run here: $(tail -1 "$tmp/err")"
    continue
  fi
  [ "$rc" -eq 0 ] || { fail "$p: exit $rc: $(tail -3 "$tmp/err")"; continue; }
  ran=$((ran + 1))
  # step 1, its folded lines joined: one "key: value (source)" a line
  sed -n '/^\[1\//,/^$/p' "$tmp/out" | sed -e ':a' -e '$!N' -e 's/\n          / /' -e 'ta' \
    -e 'P' -e 'D' >"$tmp/step1"
  grep -q '^      grant_read(&g);$' "$tmp/step1" || fail "$p: step 1 does not show grant_read(&g);"
  for key in overcommit_memory overcommit_ratio overcommit_kbytes commit_limit_kB committed_as_kB \
             mem_total_kB vm_size_kB; do
    grep -q "^      $key: -\{0,1\}[0-9]* (.*)$" "$tmp/step1" ||
      fail "$p: step 1's $key does not say where it was read: $(grep "^      $key:" "$tmp/step1")"
  done
  sed -n 's/^      \([a-z_A-Z]*\): \([0-9]*\) (\(.*\))$/\1 \2 \3/p' "$tmp/step1" |
    while read -r key value source field rest; do
      case "$source" in
        /proc/sys/vm/*) now=$(cat "$source") ;;
        /proc/meminfo)
          case "$field" in
            Committed_AS) continue ;;   # moves with every process
          esac
          field=${field%;}
          now=$(awk -v f="$field:" '$1 == f { print $2 }' /proc/meminfo) ;;
        *) continue ;;
      esac
      [ "$now" = "$value" ] || echo "FAIL: $p: $key is $value, but $source $field is $now"
    done >"$tmp/differ"
  [ ! -s "$tmp/differ" ] || { cat "$tmp/differ"; failures=$((failures + 1)); }
done
[ "$failures" -eq 0 ] || exit 1
[ "$ran" -gt 0 ] || exit 77
echo "step 1's figures name where they were read, and read there they are the same ($ran demos)"
