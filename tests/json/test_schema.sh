#!/bin/sh
# SPDX-License-Identifier: MIT
# Every program's --json against the schema in docs/schema, strictly (no key
# the schema does not name): sh test_schema.sh DEMO_DIR SCHEMA VALIDATE PROGRAM...
# Each program runs with its default steps and with --answers (a prediction
# for every question it asks), so both shapes of a step are checked; and each
# run's findings must be listed under their steps in docs/findings.md.
set -u
dir=$1 schema=$2 validate=$3
findings=$(dirname "$schema")/../findings.py
shift 3
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || {
  echo "python3-jsonschema is not installed: apt-get install python3-jsonschema"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
check() { # check PROGRAM [ARG...]: one run, validated
  p=$1
  "$dir/$@" --json </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
  case $rc in
    0|77) /usr/bin/python3 "$validate" --strict "$schema" "$p" <"$tmp/out" ||
            failures=$((failures + 1))
          # Every finding the run recorded is listed under its step in docs/findings.md.
          /usr/bin/python3 "$findings" --listed <"$tmp/out" || failures=$((failures + 1)) ;;
    *) echo "FAIL: $* --json exited $rc: $(head -c 400 "$tmp/err")"; failures=$((failures + 1)) ;;
  esac
}
for p in "$@"; do
  check "$p"
  # With a prediction for every question the program asks (the tour asks at
  # a terminal only).
  [ "$p" = tour ] || check "$p" --answers a,b,c,d,a,b,c,d,a,b,c,d
done
# The grader of docs/grading.md, as printed there, on mmap-anon: a run whose
# predictions are the measured answers scores 10/10 when the first write
# measured one page (on this machine it does: MADV_NOHUGEPAGE, 4 KiB pages).
awk '/^```python$/ {f = 1; next} /^```$/ {f = 0} f' "$(dirname "$schema")/../grading.md" >"$tmp/grade.py"
"$dir/mmap-anon" --json --answers a,a,a,a,a,a </dev/null >"$tmp/first" 2>/dev/null
# One letter a question, '-' where nothing was measured (Committed_AS moved by
# others, say), so that the letters stay in step with the questions.
measured=$(/usr/bin/python3 -c 'import json, sys
steps = [json.loads(l) for l in sys.stdin if l.strip()]
print(",".join(s["prediction"]["measured"] or "-" for s in steps if s.get("prediction")))' \
  <"$tmp/first")
case $measured in *[a-f]*) ;; *) measured= ;; esac
if [ -z "$measured" ]; then
  echo "FAIL: mmap-anon --answers gave no measured answers"; failures=$((failures + 1))
else
  "$dir/mmap-anon" --json --answers "$measured" </dev/null >"$tmp/right" 2>/dev/null
  grade=$(/usr/bin/python3 "$tmp/grade.py" <"$tmp/right" | head -n 1)
  case $grade in
    "10/10 on "*) ;;
    *) echo "FAIL: the grader of docs/grading.md gave '$grade' to a run with every prediction right"
       failures=$((failures + 1)) ;;
  esac
fi
[ "$failures" -eq 0 ] || { echo "$failures program runs broke the JSON contract"; exit 1; }
echo "every program's --json follows $(basename "$schema")"
