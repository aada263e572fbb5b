#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed bash completion, sourced into a bash that has nothing else
# loaded, asked what it would offer at each point of a command line:
#   sh test_completion.sh BUILDDIR CMAKE
set -u
build=$1 cmake=$2
command -v bash >/dev/null 2>&1 || { echo "SKIP: bash is not installed"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
"$cmake" --install "$build" --prefix "$tmp/usr" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }

# offers WORD... : what _vmlab completes for the last word, sorted, one line
cat >"$tmp/offers.bash" <<'BASH'
. "$COMPLETION"
offers() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _vmlab
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
complete -p vmlab >/dev/null || { echo "no completion registered for vmlab"; exit 1; }
BASH

failures=0
expect() { # expect 'WANTED' WORD...
  want=$1
  shift
  got=$(PATH="$tmp/usr/bin:$PATH" COMPLETION="$tmp/usr/share/bash-completion/completions/vmlab" \
        bash --norc --noprofile -c '. "$0"; offers "$@"' "$tmp/offers.bash" "$@")
  if [ "$got" != "$want" ]; then
    echo "FAIL: completing '$*': got '$got', wanted '$want'" >&2
    failures=$((failures + 1))
  fi
}

expect 'madvise-pages malloc-brk malloc-free map-noreserve mincore-residency mlock-pages mmap-anon ' vmlab m
expect 'tour ' vmlab to
expect 'huge-fault-cost hugetlb-reserve ' vmlab hu
expect 'page-cache page-walk page-writeback ' vmlab pa
expect 'watch ' vmlab wa                  # the second terminal, by the name vmlab runs it
expect '--frames ' vmlab watch --f
expect 'vfork-spawn ' vmlab vf
expect 'oom-killer-try overcommit-modes ' vmlab o
expect 'list ' vmlab li
expect 'segv-pgfault ' vmlab help se
expect '--size --step --svg ' vmlab mmap-anon --s
expect '--step ' vmlab tour --s          # the tour takes no --size
expect '--all ' vmlab segv-pgfault --a             # it asks no questions: no --answers
expect 'kernel-address ' vmlab help ke
expect '--all ' vmlab kernel-address --a           # nor does it
# Built without glibc's malloc (ASan's replaces it) the malloc demos have no steps,
# so no questions: they exit 77 at once, and their help offers no --answers.
for demo in malloc-brk malloc-free; do
  "$build/demos/$demo" --json </dev/null >/dev/null 2>&1
  if [ $? -eq 77 ]; then
    expect '--allocator ' vmlab "$demo" --a
  else
    expect '--allocator --answers ' vmlab "$demo" --a
  fi
done
expect 'always auto ' vmlab tour --color a
expect '--help ' vmlab oom-killer-try --he
mkdir -p "$tmp/dirs/alpha" && : >"$tmp/dirs/afile"
expect "$tmp/dirs/alpha " vmlab page-cache --dir "$tmp/dirs/a"   # directories only
expect '' vmlab list x
expect '' vmlab no-such-demo --s

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "bash completion: program names from vmlab list, options from each program's help"
