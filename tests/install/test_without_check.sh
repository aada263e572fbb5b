#!/bin/sh
# SPDX-License-Identifier: MIT
# A machine without Check (hidden from pkg-config here): a plain configure
# says the tests are off and why, and the demos and the tour still build and
# run; asking for the tests (VMLAB_TESTS=ON) is an error that says what to do.
#   sh test_without_check.sh SOURCEDIR CMAKE
set -u
src=$1 cmake=$2
. "$(dirname "$0")/../support/failures.sh"
# pkg-config looks only here, so it finds no module 'check'.
PKG_CONFIG_LIBDIR=$tmp/no-pc-files
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH

"$cmake" -S "$src" -B "$tmp/build" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; echo "FAIL: configure without Check failed" >&2; exit 1; }
grep -q "vmlab: tests are off: they need Check, and pkg-config finds no module 'check'" "$tmp/configure.log" ||
  fail "configure did not say the tests are off and why: $(grep vmlab "$tmp/configure.log")"
grep -q '^VMLAB_TESTS:STRING=AUTO$' "$tmp/build/CMakeCache.txt" || fail "VMLAB_TESTS is not AUTO by default"
[ -e "$tmp/build/tests" ] && fail "the tests directory was configured without Check"
"$cmake" --build "$tmp/build" --target tour mmap-anon >"$tmp/build.log" 2>&1 ||
  { tail -20 "$tmp/build.log" >&2; fail "the demos did not build without Check"; }
"$tmp/build/demos/tour" --version >/dev/null 2>&1 || fail "the tour built without Check does not run"
"$tmp/build/demos/mmap-anon" --size 64K >/dev/null 2>&1 || fail "mmap-anon built without Check did not run cleanly"

"$cmake" -S "$src" -B "$tmp/wanted" -DVMLAB_TESTS=ON >"$tmp/wanted.log" 2>&1 &&
  fail "VMLAB_TESTS=ON without Check configured anyway"
grep -q 'VMLAB_TESTS is ON, but the tests need Check' "$tmp/wanted.log" ||
  fail "VMLAB_TESTS=ON without Check did not say why it stopped: $(grep -i error "$tmp/wanted.log" | head -2)"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "without Check: configure says tests are off and why; the tour and mmap-anon build and run; ON is an error"
