#!/bin/sh
# SPDX-License-Identifier: MIT
# An option that takes a value, followed by another option ("--size --json"):
# the value was left out. Every value-taking option of every program (as its
# --help lists them: "  --NAME VALUE") must say so: exit status 2, one line
# that names the option and says it needs a value, then the usage line; nothing
# on stdout. It must not take the next option for its value ("--size: '--json'
# must not be negative", or --svg writing a file named --json).
#   sh test_option_values.sh DEMO_DIR PROGRAM...
set -u
dir=$1
shift
. "$(dirname "$0")/../support/failures.sh"
cd "$tmp" || exit 1   # where a value mistaken for a file name would land
checked=0
# refused PROGRAM OPTION NEXT: the run "PROGRAM OPTION NEXT" says OPTION needs a value
refused() {
  timeout 30 "$dir/$1" "$2" "$3" </dev/null >out 2>err
  rc=$?
  what="$1 $2 $3"
  [ "$rc" -eq 2 ] || { fail "$what: exit $rc, stderr: $(head -c 300 err)"; return 1; }
  [ ! -s out ] || { fail "$what: stdout: $(head -c 200 out)"; return 1; }
  [ "$(wc -l <err)" -eq 2 ] ||
    { fail "$what: want 2 lines on stderr: $(head -c 400 err)"; return 1; }
  sed -n 1p err | grep -qF "$1: option '$2' needs a value" ||
    { fail "$what: the error line does not say $2 needs a value: $(sed -n 1p err)"; return 1; }
  sed -n 2p err | grep -q "^Usage: $1" || { fail "$what: no usage line: $(cat err)"; return 1; }
  checked=$((checked + 1))
}
for p in "$@"; do
  options=$("$dir/$p" --help | sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}\(--[a-z0-9-]*\) [A-Z].*/\2/p')
  [ -n "$options" ] || fail "$p --help lists no option that takes a value (--color WHEN at least)"
  for o in $options; do
    # --version first: where the value were taken, it prints the version, runs nothing
    refused "$p" "$o" --version && refused "$p" "$o" --json
    refused "$p" "$o" -h
  done
done
rm -f out err
[ -z "$(ls -A)" ] || fail "a value was taken for a file name: $(ls -A | head -3)"
[ "$failures" -eq 0 ] || exit 1
echo "every value-taking option, followed by another option, asks for its value ($checked runs)"
