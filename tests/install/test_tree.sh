#!/bin/sh
# SPDX-License-Identifier: MIT
# What cmake --install puts where, and that the installed vmlab works from
# there, even after the tree is moved:
#   sh test_tree.sh BUILDDIR CMAKE PROGRAM...
set -u
build=$1 cmake=$2
shift 2
. "$(dirname "$0")/../support/failures.sh"

"$cmake" --install "$build" --prefix "$tmp/usr" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }
root=$tmp/usr

# One command on PATH, and nothing else there.
[ "$(ls "$root/bin")" = vmlab ] || fail "bin/ holds '$(ls "$root/bin" | tr '\n' ' ')', not just vmlab"
# The programs under libexec/vmlab/, and exactly the ones vmlab list names
# (its "watch" is the second terminal, the file vmlab-watch).
"$root/bin/vmlab" list >"$tmp/list" || fail "vmlab list exited $?"
cut -d' ' -f1 "$tmp/list" | sed 's/^watch$/vmlab-watch/' | sort >"$tmp/listed"
ls "$root/libexec/vmlab" | sort >"$tmp/installed"
printf '%s\n' "$@" vmlab-watch | sort >"$tmp/built"
cmp -s "$tmp/listed" "$tmp/installed" ||
  fail "vmlab list names '$(tr '\n' ' ' <"$tmp/listed")' but libexec/vmlab holds '$(tr '\n' ' ' <"$tmp/installed")'"
cmp -s "$tmp/built" "$tmp/installed" ||
  fail "the build makes '$(tr '\n' ' ' <"$tmp/built")' but libexec/vmlab holds '$(tr '\n' ' ' <"$tmp/installed")'"
for p in "$@"; do
  [ -x "$root/libexec/vmlab/$p" ] || fail "libexec/vmlab/$p is not an executable"
  [ -f "$root/share/doc/vmlab/$p.md" ] || fail "share/doc/vmlab/$p.md (its lab sheet) is missing"
  if [ -d "$build/docs/man" ]; then
    [ -s "$root/share/man/man1/vmlab-$p.1" ] || fail "share/man/man1/vmlab-$p.1 is missing"
  fi
done
if [ -d "$build/docs/man" ]; then
  [ -s "$root/share/man/man1/vmlab.1" ] || fail "share/man/man1/vmlab.1 is missing"
  [ -s "$root/share/man/man1/vmlab-watch.1" ] || fail "share/man/man1/vmlab-watch.1 is missing"
fi
for f in LICENSE README.md concepts.md safety.md; do
  [ -s "$root/share/doc/vmlab/$f" ] || fail "share/doc/vmlab/$f is missing"
done
[ -s "$root/share/bash-completion/completions/vmlab" ] || fail "bash completion is missing"

# The installed vmlab runs the installed programs: a demo and the tour's version.
PATH=$root/bin:$PATH vmlab mmap-anon --size 64K --json >"$tmp/run" 2>&1 ||
  fail "vmlab mmap-anon --size 64K --json exited $?: $(tail -1 "$tmp/run")"
tail -1 "$tmp/run" | grep -q '"result":"ok"' || fail "vmlab mmap-anon did not end ok: $(tail -1 "$tmp/run")"
PATH=$root/bin:$PATH vmlab tour --version | grep -q '^tour (vmlab) ' || fail "vmlab tour --version"
# And the second terminal, which the docs tell students to start as vmlab watch:
# its help, and one frame of a process that is surely there (this shell).
[ -x "$root/libexec/vmlab/vmlab-watch" ] || fail "libexec/vmlab/vmlab-watch is not an executable"
[ -f "$root/share/doc/vmlab/vmlab-watch.md" ] || fail "share/doc/vmlab/vmlab-watch.md is missing"
PATH=$root/bin:$PATH vmlab watch --help >"$tmp/watch" 2>&1 || fail "vmlab watch --help exited $?"
head -1 "$tmp/watch" | grep -q '^Usage: vmlab-watch ' || fail "vmlab watch --help says '$(head -1 "$tmp/watch")'"
PATH=$root/bin:$PATH vmlab help watch | cmp -s - "$tmp/watch" || fail "vmlab help watch is not vmlab watch --help"
PATH=$root/bin:$PATH vmlab watch --frames 1 $$ >"$tmp/watch" 2>&1 || fail "vmlab watch --frames 1 $$ exited $?"
grep -q "^vmlab-watch: PID $$\$" "$tmp/watch" || fail "vmlab watch $$ drew no frame of PID $$: $(head -1 "$tmp/watch")"

# Moved elsewhere as a whole, the tree still works: vmlab finds its programs
# relative to itself, and a missing one is reported with the path it tried.
mv "$root" "$tmp/moved"
"$tmp/moved/bin/vmlab" tour --version >/dev/null 2>&1 || fail "a moved tree's vmlab cannot run tour"
rm "$tmp/moved/libexec/vmlab/protnone-dirty"
"$tmp/moved/bin/vmlab" protnone-dirty >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 127 ] || fail "vmlab with protnone-dirty missing exited $rc, not 127"
grep -q "$tmp/moved/bin/../libexec/vmlab/protnone-dirty" "$tmp/err" ||
  fail "vmlab did not say which path it tried: $(cat "$tmp/err")"

# Only its own programs, by name: never a path, never an unknown name.
for bad in ../../bin/sh /bin/sh sh "" -x; do
  "$tmp/moved/bin/vmlab" "$bad" >/dev/null 2>&1
  rc=$?
  [ "$rc" -eq 2 ] || fail "vmlab '$bad' exited $rc, not 2"
done
"$tmp/moved/bin/vmlab" >/dev/null 2>&1
[ $? -eq 2 ] || fail "vmlab with no command did not exit 2"
"$tmp/moved/bin/vmlab" help no-such-demo >/dev/null 2>&1
[ $? -eq 2 ] || fail "vmlab help no-such-demo did not exit 2"
"$tmp/moved/bin/vmlab" list extra >/dev/null 2>&1
[ $? -eq 2 ] || fail "vmlab list extra did not exit 2"
"$tmp/moved/bin/vmlab" list >/dev/full 2>/dev/null
[ $? -eq 1 ] || fail "vmlab list >/dev/full did not exit 1"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "cmake --install: bin/vmlab, libexec/vmlab/ ($# and vmlab-watch), man1, completion, docs; works moved"
