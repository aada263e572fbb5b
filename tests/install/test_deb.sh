#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian package, end to end, on this machine: build it with CPack,
# install it with dpkg -i, run vmlab from PATH (list, help, the whole tour),
# remove it with dpkg -r, and prove that nothing it brought is left.
#   sh test_deb.sh BUILDDIR          (root only: it installs system-wide)
# Whatever happens, the package is removed again before the test ends.
set -u
build=$1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a .deb needs root (run as root, as CI does)"; exit 77; }
for tool in dpkg dpkg-deb dpkg-query cpack flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done

# One run of this test at a time on the machine (another clone's CI may be
# at the same step).
exec 9>/run/lock/vmlab-deb-test.lock || exit 1
flock -w 900 9 || { echo "FAIL: another vmlab .deb test held the lock for 15 minutes" >&2; exit 1; }

if [ "$(dpkg-query -W -f='${db:Status-Status}' vmlab 2>/dev/null)" = installed ]; then
  echo "SKIP: a vmlab package is already installed here; this test will not replace or remove it"
  exit 77
fi

tmp=$(mktemp -d) || exit 1
installed=0
cleanup() {
  if [ "$installed" -eq 1 ]; then
    dpkg_retry -r vmlab >/dev/null 2>&1 || echo "WARNING: dpkg -r vmlab failed during cleanup" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# dpkg refuses while apt or another dpkg holds its lock; wait for it a while.
dpkg_retry() {
  i=0
  while :; do
    dpkg "$@" >"$tmp/dpkg.log" 2>&1 && return 0
    grep -q 'lock' "$tmp/dpkg.log" || { cat "$tmp/dpkg.log" >&2; return 1; }
    i=$((i + 1))
    [ "$i" -lt 120 ] || { cat "$tmp/dpkg.log" >&2; return 1; }
    sleep 1
  done
}

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; echo "FAIL: cpack -G DEB" >&2; exit 1; }
deb=$(ls "$tmp"/pkg/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$tmp/cpack.log" >&2; echo "FAIL: cpack made no .deb" >&2; exit 1; }
dpkg-deb --info "$deb" >"$tmp/info" || { echo "FAIL: dpkg-deb cannot read $deb" >&2; exit 1; }
grep -q '^ Package: vmlab$' "$tmp/info" || fail "the package is not named vmlab"
grep -q '^ Depends: .*libc6' "$tmp/info" || fail "the package does not depend on libc6"

# What the package holds, and what of it exists before it is installed.
dpkg-deb --contents "$deb" | awk '{ print substr($NF, 2) }' | sed 's|/$||' | grep -v '^$' >"$tmp/paths"
grep -qx /usr/bin/vmlab "$tmp/paths" || fail "the package has no /usr/bin/vmlab"
grep -qx /usr/libexec/vmlab/tour "$tmp/paths" || fail "the package has no /usr/libexec/vmlab/tour"
grep -qx /usr/share/man/man1/vmlab-mmap-anon.1 "$tmp/paths" || fail "the package has no vmlab-mmap-anon(1)"
while read -r p; do
  [ -e "$p" ] && echo "$p"
done <"$tmp/paths" >"$tmp/before"

# From here on the package may be (half) installed: cleanup removes it.
installed=1
dpkg_retry -i "$deb" || { echo "FAIL: dpkg -i $deb" >&2; exit 1; }

# Run it as an installed tool would be run: from PATH, with no build tree.
cd /
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
[ "$(command -v vmlab)" = /usr/bin/vmlab ] || fail "vmlab on PATH is '$(command -v vmlab)'"
vmlab list >"$tmp/list" 2>&1 || fail "vmlab list exited $?"
grep -q '^mmap-anon ' "$tmp/list" || fail "vmlab list does not name mmap-anon"
vmlab help mmap-anon >"$tmp/help" 2>&1 || fail "vmlab help mmap-anon exited $?"
grep -q '^Usage: mmap-anon ' "$tmp/help" || fail "vmlab help mmap-anon printed '$(head -1 "$tmp/help")'"
man -w vmlab-mmap-anon >/dev/null 2>&1 || fail "man does not find vmlab-mmap-anon"
vmlab tour --color=never </dev/null >"$tmp/tour" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "vmlab tour exited $rc: $(tail -3 "$tmp/tour")"
stops=$(grep -c '^==== Stop [0-9]* of [0-9]*:' "$tmp/tour")
total=$(sed -n 's/^==== Stop [0-9]* of \([0-9]*\):.*/\1/p' "$tmp/tour" | head -1)
[ -n "$total" ] && [ "$stops" -eq "$total" ] || fail "the tour showed $stops stops of '$total'"
tail -1 "$tmp/tour" | grep -q '^Done: .* ran' || fail "the tour did not end with its summary: $(tail -1 "$tmp/tour")"

# Remove it; then nothing it brought may be left, and dpkg must have
# forgotten it (no conffiles, no "config-files" state).
dpkg_retry -r vmlab || fail "dpkg -r vmlab"
installed=0
state=$(dpkg-query -W -f='${db:Status-Status}' vmlab 2>/dev/null)
[ -z "$state" ] || [ "$state" = not-installed ] || fail "after dpkg -r, dpkg says vmlab is '$state'"
while read -r p; do
  if [ -e "$p" ] && ! grep -qxF "$p" "$tmp/before"; then
    echo "$p"
  fi
done <"$tmp/paths" >"$tmp/left"
[ -s "$tmp/left" ] && fail "left after dpkg -r: $(tr '\n' ' ' <"$tmp/left")"
ls /var/lib/dpkg/info/vmlab.* >/dev/null 2>&1 && fail "dpkg still keeps /var/lib/dpkg/info/vmlab.*"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "vmlab .deb: $(wc -l <"$tmp/paths") paths; installed, vmlab list/help/tour ($stops stops) ran, removed, nothing left"
