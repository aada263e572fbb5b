#!/bin/sh
# SPDX-License-Identifier: MIT
# The library's split by audience, held (lib/CMakeLists.txt):
#   sh test_lib_audience.sh SOURCE_DIR
# lib/kernel/ is what a student reads to learn how the kernel is asked. It
# includes no header of lib/present/ (text, JSON, findings) or lib/safety/
# (undo, confinement, sysctl records), as "x.h" or as <x.h> (the include
# directories are PUBLIC: both compile), and it does not narrate: no narrate_*
# call, no FINDING, CONCLUDE, VALUES or VAL. present/ and safety/ use kernel/,
# never the other way round.
set -u
cd "$1/lib" || exit 1
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Known, and still to go: budget.c words its limits with format_size
# (present/cli.h) and text_append (present/errors.h).
allowed=" budget.c:cli.h budget.c:errors.h "

files=0
for f in kernel/*.[ch]; do
    [ -f "$f" ] || continue
    files=$((files + 1))
    for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]\([^">]*\)[">].*/\1/p' "$f"); do
        case $allowed in *" ${f#kernel/}:$h "*) continue ;; esac
        for side in present safety; do
            [ -f "$side/$h" ] && fail "lib/$f includes $h, a header of lib/$side/"
        done
    done
done
[ "$files" -gt 0 ] || fail "no source files in lib/kernel/"

# Calls, not words in a comment: the name followed by "(".
calls=$(grep -nE '(^|[^A-Za-z0-9_])(narrate_[a-z_]+|FINDING|CONCLUDE|VALUES|VAL)[[:space:]]*\(' \
        kernel/*.[ch])
if [ -n "$calls" ]; then
    fail "lib/kernel/ narrates; that belongs in lib/present/:"
    printf '%s\n' "$calls" | sed 's/^/    lib\//' >&2
fi
[ "$failures" -eq 0 ] || exit 1
echo "lib/kernel/: $files files; none includes a header of present/ or safety/ (but budget.c's known two), none narrates"
