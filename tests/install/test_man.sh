#!/bin/sh
# SPDX-License-Identifier: MIT
# The generated manual pages, rendered by man and groff as a reader would
# see them and checked against the programs and lab sheets they come from:
#   sh test_man.sh MANDIR DOCSDIR BINDIR PROGRAM...   (vmlab first)
set -u
mandir=$1 docs=$2 bindir=$3
shift 3
for tool in man groff lexgrog; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "SKIP: $tool is not installed (Debian: apt-get install man-db groff-base)"; exit 77; }
done
. "$(dirname "$0")/../support/failures.sh"

render() { # render PAGEFILE: as man shows it on an 80-column terminal, no formatting
  MANWIDTH=80 MAN_KEEP_FORMATTING= LC_ALL=C.UTF-8 man -l "$1" 2>"$tmp/man.err" | col -b
}
widest() { LC_ALL=C.UTF-8 wc -L <"$1" | tr -d ' '; }

for p in "$@"; do
  if [ "$p" = vmlab ]; then page=vmlab; else page=vmlab-$p; fi
  file=$mandir/$page.1
  [ -s "$file" ] || { fail "$file is missing"; continue; }

  # groff itself has nothing to complain about (all warnings on).
  LC_ALL=C.UTF-8 groff -man -k -Tutf8 -ww -z "$file" >"$tmp/groff.err" 2>&1
  [ -s "$tmp/groff.err" ] && fail "$page: groff warns: $(head -3 "$tmp/groff.err")"
  # whatis/apropos can index it: the NAME line parses.
  lexgrog "$file" >"$tmp/lexgrog" 2>&1 || fail "$page: lexgrog cannot parse NAME: $(cat "$tmp/lexgrog")"
  grep -q "\"$page - [a-z]" "$tmp/lexgrog" || fail "$page: NAME reads '$(cat "$tmp/lexgrog")'"

  render "$file" >"$tmp/page"
  [ -s "$tmp/man.err" ] && fail "$page: man warns: $(head -3 "$tmp/man.err")"
  sections="NAME SYNOPSIS DESCRIPTION OPTIONS"
  [ "$p" != vmlab ] && sections="$sections EXAMPLES"
  for s in $sections "EXIT STATUS" "SEE ALSO"; do
    grep -q "^$s\$" "$tmp/page" || fail "$page has no $s section"
  done
  # The synopsis is the installed command.
  if [ "$p" = vmlab ]; then want="vmlab COMMAND"; else want="vmlab $p"; fi
  sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p' "$tmp/page" | grep -q "^ *$want" ||
    fail "$page: SYNOPSIS does not show '$want'"
  # Every option the program's help lists is in OPTIONS.
  sed -n '/^OPTIONS$/,/^[A-Z]/p' "$tmp/page" >"$tmp/options"
  "$bindir/$p" --help | sed -n 's/^  \(-[A-Za-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' >"$tmp/opts"
  [ -s "$tmp/opts" ] || fail "$p --help lists no options to look for"
  while read -r opt; do
    grep -q -- "$opt" "$tmp/options" || fail "$page: OPTIONS lacks $opt"
  done <"$tmp/opts"
  # Every section of the lab sheet is there, headed as man pages are.
  grep '^## ' "$docs/$p.md" | sed 's/^## *//; s/[`*]//g' | tr 'a-z' 'A-Z' >"$tmp/headings"
  while IFS= read -r h; do
    grep -qxF "$h" "$tmp/page" || fail "$page lacks the lab sheet's section '$h'"
  done <"$tmp/headings"
  # Nothing of the Markdown or of the build tree shows through.
  grep -n -e '```' -e '\*\*' -e '](' -e '`' "$tmp/page" | head -3 >"$tmp/md"
  [ -s "$tmp/md" ] && fail "$page shows Markdown: $(cat "$tmp/md")"
  grep -q 'build/[a-z/]*demos/' "$tmp/page" && fail "$page names a build-tree path"
  # Prose is filled to 80 columns; only verbatim blocks (captured runs) keep
  # their own width, as they were captured.
  sed '/^\.nf/,/^\.fi/d' "$file" >"$tmp/prose.1"
  render "$tmp/prose.1" >"$tmp/prose"
  w=$(widest "$tmp/prose")
  [ "$w" -le 80 ] || fail "$page: prose is $w columns wide: $(awk 'length > 80' "$tmp/prose" | head -1)"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "man pages for $*: groff quiet, NAME indexable, sections, options, lab sheets, 80 columns"
