#!/bin/sh
# SPDX-License-Identifier: MIT
# Readable on a projector: every line the tour prints (every demo's plain
# output), every program's --help and usage error, and a predict-first run
# with --answers (each question, each outcome) fits 80 columns, as a
# terminal counts them (wc -L: characters, not bytes). Messages on stderr
# are folded only at a terminal (a log keeps each on one line): they are
# measured on a pseudo-terminal of 80 columns (script(1)), the reasons a
# program gives without root read as nobody, and a command to copy in them
# must stay on one line. At a terminal too: --predict's refusal, a question on
# stderr (stdout JSON), the --step notice.
#   sh test_columns.sh DEMO_DIR PROGRAM...
set -u
dir=$1
shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
check() { # check LABEL FILE
  width=$(LC_ALL=C.UTF-8 wc -L <"$2")
  if [ "$width" -gt 80 ]; then
    echo "FAIL: $1: a line is $width columns wide:"
    LC_ALL=C.UTF-8 awk 'length($0) > 80 { printf "  %d: %s\n", length($0), $0 }' "$2" | head -5
    failures=$((failures + 1))
  fi
}
NO_COLOR=1 "$dir/tour" </dev/null >"$tmp/tour" 2>/dev/null
check "tour (its plain output)" "$tmp/tour"
for p in "$@"; do
  "$dir/$p" --help >"$tmp/help" 2>&1
  check "$p --help" "$tmp/help"
  # A predict-first lab: every question and what became of its prediction. The
  # refusal of a list of the wrong length says how many questions there are.
  if grep -q -- '--answers LIST' "$tmp/help"; then
    n=$("$dir/$p" --answers a,a,a,a,a,a,a,a,a,a,a,a </dev/null 2>&1 >/dev/null |
        sed -n 's/.* letters for \([0-9]*\) questions .*/\1/p')
    NO_COLOR=1 "$dir/$p" --predict --answers "$(yes a | head -n "${n:-12}" | paste -sd, -)" \
      </dev/null >"$tmp/predict" 2>/dev/null
    rc=$? # 77: this machine cannot show it (no huge pages, say)
    asked=$(grep -c '^      Predict: ' "$tmp/predict")
    [ "$rc" -eq 77 ] || [ "$asked" -gt 0 ] || {
      echo "FAIL: $p --predict --answers showed no question (exit $rc)"
      failures=$((failures + 1)); }
    check "$p --predict --answers" "$tmp/predict"
  fi
  "$dir/$p" --no-such-option >"$tmp/usage" 2>&1
  check "$p's usage error" "$tmp/usage"
done

# at_terminal FILE [setpriv ARGS --] PROGRAM ARGS: what a student sees on an
# 80-column terminal, stdin not one (so --predict is refused).
at_terminal() {
  out=$1
  shift
  "$@" </dev/null >"$out.raw" 2>&1
  tr -d '\r' <"$out.raw" >"$out"
}
on_pty() { # on_pty COMMAND-LINE: runs it on a pseudo-terminal of 80 columns
  script -qec "stty cols 80 rows 24; $1" /dev/null
}
commands_whole() { # commands_whole LABEL FILE: no line ends inside a command to copy
  split=$(grep -nE '(^|[ (])(sudo|echo|mount|sysctl|systemd-run|docker|echo [0-9N]+ >)$' "$2")
  if [ -n "$split" ]; then
    echo "FAIL: $1: a command to copy is split across lines:"
    echo "$split" | head -3 | sed 's/^/  /'
    failures=$((failures + 1))
  fi
}
if ! command -v script >/dev/null; then
  echo "note: no script(1) (util-linux): stderr at a terminal not measured"
else
  at_terminal "$tmp/predict" on_pty "'$dir/tour' --predict </dev/null"
  check "tour --predict's refusal at a terminal" "$tmp/predict"
  grep -q "asks at a terminal" "$tmp/predict" || {
    echo "FAIL: tour --predict said no refusal: $(cat "$tmp/predict")"
    failures=$((failures + 1))
  }
  # --predict and --step at a terminal: the refusal without one (stdin not a terminal), the
  # --step notice (mincore-residency: the longest name), and a question asked on stderr
  # while stdout is JSON (the terminal's end of input skips the rest).
  for p in "$@"; do
    at_terminal "$tmp/refusal" on_pty "'$dir/$p' --predict </dev/null"
    check "$p --predict's refusal at a terminal" "$tmp/refusal"
    "$dir/$p" --help | grep -q -- '--answers LIST' || continue
    at_terminal "$tmp/asked" on_pty "'$dir/$p' --predict --json >/dev/null"
    # a question, or the reason this machine cannot show the lesson (exit 77)
    grep -q 'Predict: ' "$tmp/asked" || grep -q "^$p: " "$tmp/asked" || {
      echo "FAIL: $p --predict --json at a terminal asked nothing: $(head -c 300 "$tmp/asked")"
      failures=$((failures + 1)); }
    check "$p --predict's question on stderr at a terminal" "$tmp/asked"
  done
  case " $* " in
    *" mincore-residency "*)
      at_terminal "$tmp/step" on_pty "'$dir/mincore-residency' --step </dev/null >/dev/null"
      grep -q "not pausing" "$tmp/step" || {
        echo "FAIL: mincore-residency --step said nothing of not pausing: $(cat "$tmp/step")"
        failures=$((failures + 1)); }
      check "mincore-residency --step's notice at a terminal" "$tmp/step" ;;
  esac
  # The reasons without root, as nobody where this runs as root.
  as=""
  if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null &&
       setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$dir/overcommit-modes"; then
      as="setpriv --reuid=65534 --regid=65534 --clear-groups"
    else
      echo "note: nobody cannot run $dir's programs: reasons without root not measured"
      as=skip
    fi
  fi
  if [ "$as" != skip ]; then
    for run in "overcommit-modes" "hugetlb-reserve" "hugetlb-reserve --setup 2" "oom-killer-try"; do
      at_terminal "$tmp/reason" on_pty "$as $dir/$run"
      check "$run's message at a terminal, without root" "$tmp/reason"
      commands_whole "$run's message at a terminal, without root" "$tmp/reason"
    done
  fi
fi
[ "$failures" -eq 0 ] || exit 1
echo "the tour and every program's help fit 80 columns (widest tour line: $(LC_ALL=C.UTF-8 wc -L <"$tmp/tour"))"
