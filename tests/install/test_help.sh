#!/bin/sh
# SPDX-License-Identifier: MIT
# Every program's --help and --version, and vmlab's, judged from outside:
#   sh test_help.sh BINDIR PROGRAM...
# -h is --help and -V is --version; help fits 80 columns; it names an exit
# status; a program refuses an option its help does not list; help and
# version that cannot be written (stdout is /dev/full) exit 1, not 0;
# "vmlab help P" is P's own help.
set -u
bindir=$1
shift
. "$(dirname "$0")/../support/failures.sh"

widest() { LC_ALL=C.UTF-8 wc -L <"$1" | tr -d ' '; }

for p in vmlab "$@"; do
  exe=$bindir/$p
  [ -x "$exe" ] || { fail "$exe is not there"; continue; }
  "$exe" --help >"$tmp/help" 2>"$tmp/err" || fail "$p --help exited $?"
  [ -s "$tmp/err" ] && fail "$p --help wrote to stderr: $(head -1 "$tmp/err")"
  [ -s "$tmp/help" ] || fail "$p --help printed nothing"
  "$exe" -h >"$tmp/h" 2>&1 || fail "$p -h exited $?"
  cmp -s "$tmp/help" "$tmp/h" || fail "$p -h is not the same as --help"
  w=$(widest "$tmp/help")
  [ "$w" -le 80 ] || fail "$p --help is $w columns wide: $(awk 'length > 80' "$tmp/help" | head -1)"
  grep -q '^Exit status: [0-9]' "$tmp/help" || fail "$p --help does not say what its exit statuses mean"
  grep -q -- '-h, --help' "$tmp/help" || fail "$p --help does not list -h"
  grep -q -- '-V, --version' "$tmp/help" || fail "$p --help does not list -V"

  "$exe" --version >"$tmp/version" 2>&1 || fail "$p --version exited $?"
  "$exe" -V >"$tmp/v" 2>&1 || fail "$p -V exited $?"
  cmp -s "$tmp/version" "$tmp/v" || fail "$p -V is not the same as --version"
  if [ "$p" = vmlab ]; then want='^vmlab [0-9]'; else want="^$p (vmlab) [0-9]"; fi
  grep -q "$want" "$tmp/version" || fail "$p --version says '$(cat "$tmp/version")'"

  # Output that cannot be written is a failure, whatever the output is.
  for opt in --help -h --version -V; do
    "$exe" "$opt" >/dev/full 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 1 ] || fail "$p $opt >/dev/full exited $rc, not 1"
    grep -q ENOSPC "$tmp/err" || fail "$p $opt >/dev/full did not say why: $(head -1 "$tmp/err")"
  done

  [ "$p" = vmlab ] && continue
  # What the help does not offer, the program does not take.
  if ! grep -q -- '--size SIZE' "$tmp/help"; then
    "$exe" --size 4K >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "$p takes --size (exit $rc) but its help does not list it"
  fi
  # Size suffixes are explained exactly where a SIZE is taken.
  if grep -q ' SIZE ' "$tmp/help"; then
    grep -q '^Sizes take a suffix' "$tmp/help" || fail "$p takes a SIZE but does not say how to write one"
  else
    grep -q '^Sizes take a suffix' "$tmp/help" && fail "$p --help explains sizes, but takes none"
  fi
  # vmlab help P runs P --help.
  "$bindir/vmlab" help "$p" >"$tmp/via" 2>&1 || fail "vmlab help $p exited $?"
  cmp -s "$tmp/help" "$tmp/via" || fail "vmlab help $p is not $p --help"
done

# The tour's help states the tour's exit statuses, not a demo's: it never
# exits 77, and its 2 is real.
"$bindir/tour" --help | grep -A3 '^Exit status' | tr '\n' ' ' >"$tmp/tour-exit"
grep -q '77 this machine cannot' "$tmp/tour-exit" && fail "the tour's help lists a demo's exit statuses"
grep -q 'stop failed' "$tmp/tour-exit" || fail "the tour's help does not say when it fails"
"$bindir/tour" --no-such-option >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "tour --no-such-option exited $rc, not 2 as its help says"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "help and version of vmlab and $# programs: -h, -V, 80 columns, exit statuses, /dev/full"
