#!/bin/sh
# SPDX-License-Identifier: MIT
# --svg: the pictures are drawn from the run's own numbers, and they render.
# Each SVG is rendered to PNG by rsvg-convert (librsvg2-bin) and its pixels
# counted (png_colors.py): one green 8x8 square for every resident page of
# every residency picture the run's JSON reports, and, where the OOM lesson
# can run, the growth line and the red limit line.
#   sh test_svg.sh DEMO_DIR HERE
set -u
dir=$1 here=$2
command -v rsvg-convert >/dev/null 2>&1 || {
  echo "rsvg-convert is not installed: apt-get install librsvg2-bin"; exit 77; }
. "$(dirname "$0")/../support/failures.sh"
colors() { /usr/bin/python3 "$here/png_colors.py" "$@"; }

# Residency: the squares are the run's pages.
"$dir/mincore-residency" --json --svg "$tmp/r.svg" >"$tmp/r.json" || fail "mincore-residency exited $?"
rsvg-convert "$tmp/r.svg" -o "$tmp/r.png" || fail "rsvg-convert could not render r.svg"
resident=$(grep -o '"[#.+]*"' "$tmp/r.json" | tr -cd '#' | wc -c)
set -- $(colors "$tmp/r.png" 2e7d32 e0e0e0)
[ "$1" = 800 ] || fail "r.png is $1 pixels wide, not 800"
[ "$resident" -gt 0 ] || fail "the run reported no resident page"
[ "$3" = $((resident * 64)) ] ||
  fail "r.png has $3 green pixels: $(($3 / 64)) squares for $resident resident pages"
[ "$4" -gt 0 ] || fail "r.png has no grey (not resident) square"

# The commit charge: bars against the CommitLimit line.
"$dir/protnone-dirty" --svg "$tmp/p.svg" >/dev/null || fail "protnone-dirty exited $?"
rsvg-convert "$tmp/p.svg" -o "$tmp/p.png" || fail "rsvg-convert could not render p.svg"
set -- $(colors "$tmp/p.png" 1565c0 9e9e9e c62828)
[ "$3" -gt 0 ] && [ "$4" -gt 0 ] || fail "p.png has no after/before bars ($3, $4 pixels)"
[ "$5" -gt 0 ] || fail "p.png has no CommitLimit line"

# The OOM victim's growth against its limit, where a cgroup can be had.
"$dir/oom-killer-try" --svg "$tmp/o.svg" >/dev/null 2>"$tmp/o.err"
rc=$?
if [ $rc -eq 0 ]; then
  rsvg-convert "$tmp/o.svg" -o "$tmp/o.png" || fail "rsvg-convert could not render o.svg"
  grep -q 'class="limit"' "$tmp/o.svg" || fail "o.svg has no limit line"
  [ "$(grep -c 'class="series"' "$tmp/o.svg")" -ge 2 ] || fail "o.svg has fewer than two series"
  set -- $(colors "$tmp/o.png" c62828 1565c0 2e7d32)
  [ "$3" -gt 0 ] && [ "$4" -gt 0 ] && [ "$5" -gt 0 ] ||
    fail "o.png lacks the limit ($3), VmRSS ($4) or VmPTE ($5) pixels"
elif [ $rc -ne 77 ]; then
  fail "oom-killer-try exited $rc: $(cat "$tmp/o.err")"
fi

# A file that cannot be written is a failure of the run, said as such.
"$dir/mmap-anon" --svg /nonexistent/dir/x.svg >/dev/null 2>"$tmp/e.err"
[ $? -eq 1 ] || fail "an unwritable --svg FILE did not end the run with status 1"
grep -q "svg" "$tmp/e.err" || fail "the failure does not name --svg: $(cat "$tmp/e.err")"

# What --help says --svg draws is what a run draws: each kind it names has its
# heading in the picture; a demo whose help offers no --svg refuses it (exit 2).
for p in $("$dir/vmlab" list | awk '$1 != "tour" && $1 != "watch" {print $1}'); do
  "$dir/$p" --help >"$tmp/help" 2>&1
  if ! grep -q -- '--svg FILE' "$tmp/help"; then
    "$dir/$p" --svg "$tmp/x.svg" >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "$p takes --svg (exit $rc), but its help does not offer it"
    continue
  fi
  args=; [ "$p" = hugetlb-reserve ] && args="--setup 2"
  [ "$p" = fault-cost ] && args=--quick
  "$dir/$p" $args --svg "$tmp/d.svg" >/dev/null 2>&1
  rc=$?
  [ $rc -eq 77 ] && continue
  [ $rc -eq 0 ] || { fail "$p --svg exited $rc"; continue; }
  help=$(tr '\n' ' ' <"$tmp/help" | tr -s ' ')
  for kind in "commit charge:Commit charge \(Committed_AS\)" "residency maps: pages?[;)]" \
              "memory over time:Over time \(kB\)"; do
    said=${kind%%:*} drawn=${kind#*:}
    case $help in *"$said"*) grep -qE "$drawn" "$tmp/d.svg" || fail "$p --svg drew no $said" ;; esac
  done
  grep -q 'Nothing to draw' "$tmp/d.svg" && fail "$p offers --svg, and drew nothing"
done

[ "$failures" -eq 0 ] || exit 1
echo "pictures drawn from the runs' numbers: $resident resident pages, commit bars, growth"
