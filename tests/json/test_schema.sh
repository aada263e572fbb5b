#!/bin/sh
# SPDX-License-Identifier: MIT
# Every program's --json against the schema in docs/schema, strictly (no key
# the schema does not name): sh test_schema.sh DEMO_DIR SCHEMA VALIDATE PROGRAM...
# Each program runs with its default steps and with --answers (a prediction
# for every question it asks), so both shapes of a step are checked; and each
# run's findings must be listed under their steps in docs/findings.md, and its result
# line name the arguments it was given (tests/json/args.py).
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
          /usr/bin/python3 "$findings" --listed <"$tmp/out" || failures=$((failures + 1))
          # The result line names the run's arguments (the tour's: each stop's).
          /usr/bin/python3 "$(dirname "$validate")/args.py" "$@" <"$tmp/out" ||
            failures=$((failures + 1)) ;;
    *) echo "FAIL: $* --json exited $rc: $(head -c 400 "$tmp/err")"; failures=$((failures + 1)) ;;
  esac
}
for p in "$@"; do
  check "$p"
  # With a prediction for every question the program asks ('a' is a choice of
  # every question; a list of the wrong length is refused, saying how many
  # questions there are). The tour asks at a terminal only; a demo that asks
  # nothing refuses --answers.
  [ "$p" = tour ] && continue
  n=$("$dir/$p" --answers a,a,a,a,a,a,a,a,a,a,a,a </dev/null 2>&1 >/dev/null |
      sed -n 's/.* letters for \([0-9]*\) questions .*/\1/p')
  [ -n "$n" ] && check "$p" --answers "$(yes a | head -n "$n" | paste -sd, -)"
done
# The grader of docs/grading.md, as printed there, on mmap-anon: a run whose
# predictions are the measured answers scores 10/10 when the first write
# measured one page (on this machine it does: MADV_NOHUGEPAGE, 4 KiB pages).
awk '/^```python$/ {f = 1; next} /^```$/ {f = 0} f' "$(dirname "$schema")/../grading.md" >"$tmp/grade.py"
"$dir/mmap-anon" --json --answers a,a,a,a,a,a </dev/null >"$tmp/first" 2>/dev/null
# One letter a question, '-' where nothing was measured (Committed_AS moved by
# others, say), so that the letters stay in step with the questions.
measured_in() { # measured_in FILE: its measured answers, as --answers takes them
  /usr/bin/python3 -c 'import json, sys
steps = [json.loads(l) for l in sys.stdin if l.strip()]
print(",".join(s["prediction"]["measured"] or "-" for s in steps if s.get("prediction")))' <"$1"
}
measured=$(measured_in "$tmp/first")
case $measured in *[a-f]*) ;; *) measured= ;; esac
if [ -z "$measured" ]; then
  echo "FAIL: mmap-anon --answers gave no measured answers"; failures=$((failures + 1))
else
  # Every prediction right means the run measured what was predicted, for every
  # question: where another process moved Committed_AS meanwhile, this run measured
  # otherwise or nothing ('-', which no prediction matches); predict again what it
  # measured (three runs at most).
  all_right=no
  for try in 1 2 3; do
    "$dir/mmap-anon" --json --answers "$measured" </dev/null >"$tmp/right" 2>/dev/null
    now=$(measured_in "$tmp/right")
    case $now in *-*) ;; "$measured") all_right=yes; break ;; esac
    measured=$(echo "$now" | tr -- - a)
  done
  grade=$(/usr/bin/python3 "$tmp/grade.py" <"$tmp/right" | head -n 1)
  case $grade in
    "10/10 on "*) ;;
    *) if [ "$all_right" = yes ]; then
         echo "FAIL: the grader of docs/grading.md gave '$grade' to a run with every" \
              "prediction right"
         failures=$((failures + 1))
       else
         echo "note: mmap-anon measured otherwise in each of 3 runs: the grader not judged on one"
       fi ;;
  esac
  # A file cut short (no result line, or its last line cut) did not finish; a score
  # edited by hand is not believed: the grader counts from the steps.
  grade_of() { /usr/bin/python3 "$tmp/grade.py" <"$1" 2>&1 | head -n 1; }
  head -n 3 "$tmp/right" >"$tmp/cut"
  head -c -40 "$tmp/right" >"$tmp/cut-line"
  for cut in cut cut-line; do
    grade=$(grade_of "$tmp/$cut")
    [ "$grade" = "0/10: the run did not finish (no result line)" ] || {
      echo "FAIL: the grader gave '$grade' to a file cut short ($cut)"; failures=$((failures + 1)); }
  done
  wrong=$(echo "$measured" | tr 'a-f' 'baaaaa') # every measured choice missed
  "$dir/mmap-anon" --json --answers "$wrong" </dev/null >"$tmp/wrong" 2>/dev/null
  sed 's/"right":[0-9]*/"right":6/' "$tmp/wrong" >"$tmp/edited"
  grade=$(grade_of "$tmp/edited")
  # (5/10 where every step measured as the first run did; a choice that others' use of
  # memory moved since may be right by chance, so only full marks are wrong here)
  case $grade in
    "10/10 on "*) echo "FAIL: the grader gave '$grade' to a run with its score edited"
       failures=$((failures + 1)) ;;
    *) /usr/bin/python3 "$tmp/grade.py" <"$tmp/edited" | grep -q 'does not match' ||
      { echo "FAIL: the grader did not say an edited score does not match"; failures=$((failures + 1)); } ;;
  esac
fi
[ "$failures" -eq 0 ] || { echo "$failures program runs broke the JSON contract"; exit 1; }
echo "every program's --json follows $(basename "$schema")"
