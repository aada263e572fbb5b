#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes one manual page from a program's own --help and its lab sheet.
#   sh mkman.sh PROGRAM PAGE LABSHEET VERSION OUTPUT [SEE-ALSO...]
#   sh mkman.sh build/demos/mmap-anon vmlab-mmap-anon docs/mmap-anon.md 0.1.0 \
#               vmlab-mmap-anon.1 'vmlab(1)' 'proc(5)'
# The build runs it for every program (docs/CMakeLists.txt); the conversion
# itself is mkman.awk, next to this script.
set -eu
if [ $# -lt 5 ]; then
  echo "mkman.sh: needs PROGRAM PAGE LABSHEET VERSION OUTPUT [SEE-ALSO...]" >&2
  exit 2
fi
program=$1 page=$2 sheet=$3 version=$4 out=$5
shift 5
if [ ! -s "$sheet" ]; then
  echo "mkman.sh: the lab sheet $sheet is missing or empty" >&2
  exit 1
fi
help=$out.help
trap 'rm -f "$help" "$out.tmp"' EXIT
# The help is the program's own: a program whose --help fails has no page.
"$program" --help >"$help"
# Bytes, not characters, whatever the locale: the script matches UTF-8
# sequences byte by byte, the same in mawk and gawk.
LC_ALL=C awk -f "$(dirname "$0")/mkman.awk" -v page="$page" -v program="$(basename "$program")" \
  -v version="$version" -v see="$*" "$sheet" "$help" >"$out.tmp"
mv "$out.tmp" "$out"
