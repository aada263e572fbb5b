#!/bin/sh
# SPDX-License-Identifier: MIT
# Judges the results of one cell (written by run-demos.sh) and prints one
# line per run: PASS, FAIL (with every problem), XFAIL (a known failure, with
# the table's reason), XPASS (marked as known but passing: remove the mark;
# except for a reason that starts with "sometimes:", a race that may not show).
#   sh judge.sh TABLE CELL RESULTS_DIR USER
# Exit 1 if any run is FAIL or XPASS, else 0.
set -u
here=$(cd "$(dirname "$0")" && pwd)
table=$1 cell=$2 results=$3 user=$4

# What run-demos.sh read of the machine ('name value' lines) as one JSON
# object, or null where it recorded nothing (rules.jq then says so).
machine=null
if [ -f "$results/runs/machine.facts" ]; then
  machine=$(jq -R -n -c '[inputs | capture("^(?<k>[a-z0-9_]+) (?<v>[0-9]+)$") |
                           {(.k): (.v | tonumber)}] | add // {}' "$results/runs/machine.facts")
fi

judge_jq() { # judge_jq MODE RC FILE
  jq -R -s -r -L "$here" --arg mode "$1" --arg rc "$2" --arg user "$user" --argjson machine "$machine" \
    -f "$here/judge.jq" "$3" 2>&1
}

# The table's reason when (cell, run) is a known failure; globs allowed.
known_failure() { # known_failure RUN
  awk '$1 == "xfail"' "$table" | while read -r _ c r reason; do
    # shellcheck disable=SC2254 # the table's fields are globs on purpose
    case "$cell" in $c) case "$1" in $r) echo "$reason"; return ;; esac ;; esac
  done
}

# Every key whose value differs between two snapshots ('absent' if missing).
# On a shared host (run-demos.sh's marker), a value that is back to the
# cell's baseline was another program's passing change, not the demo's.
state_changes() { # state_changes BEFORE AFTER
  base=/dev/null
  [ -f "$results/runs/shared-host" ] && base=$results/runs/baseline.state
  awk -F '\t' -v base="$base" '
    FILENAME == base { b[$1] = $2; inbase[$1] = 1; next }
    FILENAME == ARGV[2] { x[$1] = $2; keys[$1] = 1; next }
    { y[$1] = $2; keys[$1] = 1 }
    END {
      for (k in keys) {
        old = (k in x) ? x[k] : "absent"; new = (k in y) ? y[k] : "absent"
        if (old == new) continue
        if (base != "/dev/null" && new == ((k in inbase) ? b[k] : "absent")) continue
        print "left changed: " k ": " old " -> " new
      }
    }' "$base" "$1" "$2"
}

problems_of() { # problems_of RUN_DIR: one line per problem
  d=$1
  for mode in plain json; do
    if [ ! -f "$d/$mode.rc" ]; then echo "$mode: did not run"; continue; fi
    rc=$(cat "$d/$mode.rc")
    case "$rc" in
      0|77) ;;
      *) echo "$mode: exit status $rc: $(grep -v '^$' "$d/$mode.err" 2>/dev/null | tail -n 1 | cut -c1-300)" ;;
    esac
    if [ "$mode" = plain ]; then
      [ "$rc" != 0 ] || [ -s "$d/plain.out" ] || echo "plain: exit 0 but printed nothing"
      judge_jq plain "$rc" "$d/plain.err" | sed 's/^/plain: /'
    else
      judge_jq json "$rc" "$d/json.out" | sed 's/^/json: /'
      # A 'covers' line: every demo it names must have ended (0 or 77) inside
      # this run, with its own result line in the JSON.
      for demo in $(awk -v r="$(basename "$d")" '$1 == "covers" && $2 == r { for (i = 3; i <= NF; i++) print $i }' "$table"); do
        grep -q "\"demo\":\"$demo\",\"schema\":2,\"vmlab\"" "$d/json.out" ||
          echo "json: $demo has no result line: this run did not run it"
      done
      # A 'steps' line: every step it names must have a line of its own,
      # so that a rule keyed by that step cannot pass by finding no step.
      awk -v r="$(basename "$d")" '$1 == "steps" && $2 == r' "$table" |
      while read -r _ _ demo ids; do
        for id in $ids; do # the table's step ids are meant to split
          jq -R -n -e --arg demo "$demo" --arg id "$id" \
            'any(inputs | fromjson? | objects; .demo == $demo and .id == $id and has("step"))' \
            "$d/json.out" >/dev/null || echo "json: $demo has no step $id: this run did not show it"
        done
      done
    fi
    state_changes "$d/$mode.before" "$d/$mode.after" | sed "s/^/$mode: /"
  done
  p=$(cat "$d/plain.rc" 2>/dev/null) j=$(cat "$d/json.rc" 2>/dev/null)
  [ "$p" = "$j" ] || echo "plain exited $p but --json exited $j"
}

pass=0 fail=0 xfail=0 xpass=0
for d in "$results"/runs/*/; do
  [ -f "$d/plain.rc" ] || [ -f "$d/json.rc" ] || continue
  run=$(basename "$d")
  problems=$(problems_of "$d")
  known=$(known_failure "$run")
  if [ -z "$problems" ] && [ -z "$known" ]; then
    skipped=""
    [ "$(cat "$d/json.rc")" = 77 ] && skipped=" (77: $(jq -r 'select(.result) | .reason' "$d/json.out" 2>/dev/null | cut -c1-160))"
    echo "PASS  $run$skipped"; pass=$((pass + 1))
  elif [ -z "$problems" ] && [ "${known#sometimes:}" != "$known" ]; then
    echo "PASS  $run (this time; known to fail $known)"; pass=$((pass + 1))
  elif [ -z "$problems" ]; then
    echo "XPASS $run: marked as a known failure ($known) but passed: remove its xfail line"
    xpass=$((xpass + 1))
  elif [ -n "$known" ]; then
    echo "XFAIL $run: $known"; echo "$problems" | sed 's/^/        /'; xfail=$((xfail + 1))
  else
    echo "FAIL  $run"; echo "$problems" | sed 's/^/        /'; fail=$((fail + 1))
  fi
done
echo "cell $cell: $pass passed, $fail failed, $xfail known failures, $xpass passed but marked known"
[ "$fail" -eq 0 ] && [ "$xpass" -eq 0 ]
