#!/bin/sh
# SPDX-License-Identifier: MIT
# Does the build really need no CMake newer than it claims? Only one CMake
# is installable here, so this checks what can be checked without the old
# one (docs/install.md says what that proves and what it does not):
#   1. cmake_minimum_required names exactly that version, not a range, so
#      every policy is pinned to its behaviour there;
#   2. every command, generator expression and CPack/CTest feature the
#      build uses is listed in docs/install.md with the version that
#      introduced it (taken from CMake's documentation), none newer;
#   3. no keyword known to be newer (find_program REQUIRED: 3.18, ...)
#      appears, and no policy newer than that version is named;
#   4. configuring with every option on treats CMake's developer and
#      deprecation warnings as errors.
#   sh test_cmake_minimum.sh SOURCEDIR CMAKE
set -u
src=$1 cmake=$2
here=$(cd "$(dirname "$0")" && pwd)
minimum=3.16
. "$(dirname "$0")/../support/failures.sh"

# ---- 1. the claim ----
grep -q "^cmake_minimum_required(VERSION $minimum)\$" "$src/CMakeLists.txt" ||
  fail "CMakeLists.txt does not say cmake_minimum_required(VERSION $minimum) (no range)"
grep -q "CMake $minimum" "$src/docs/install.md" || fail "docs/install.md does not claim CMake $minimum"

# ---- 2. and 3. what the build uses ----
find "$src" -path "$src/build" -prune -o \( -name CMakeLists.txt -o -name '*.cmake' \) -print |
  sort >"$tmp/files"
# shellcheck disable=SC2046 # one argument per file, none with spaces
awk -f "$here/cmake_invocations.awk" $(cat "$tmp/files") >"$tmp/calls"
[ -s "$tmp/calls" ] || fail "found no CMake commands in $src"
# The table: | `name` | kind | version | ...
sed -n 's/^| `\([^`]*\)` | \([a-z-]*\) | \([0-9][0-9.]*\) |.*/\1\t\2\t\3/p' "$src/docs/install.md" >"$tmp/table"
[ -s "$tmp/table" ] || fail "docs/install.md has no table of CMake features"

# Keywords that are newer than some releases of the command they belong to:
# command, keyword (a whole word outside quotes), version that added it.
cat >"$tmp/newer" <<'LIST'
find_program	REQUIRED	3.18
find_library	REQUIRED	3.18
find_path	REQUIRED	3.18
find_file	REQUIRED	3.18
find_package	GLOBAL	3.24
foreach	ZIP_LISTS	3.17
message	CHECK_START	3.17
message	CHECK_PASS	3.17
message	CHECK_FAIL	3.17
message	CONFIGURE_LOG	3.26
file	REAL_PATH	3.19
file	CHMOD	3.19
file	CHMOD_RECURSE	3.19
file	CONFIGURE	3.18
file	ARCHIVE_CREATE	3.18
file	ARCHIVE_EXTRACT	3.18
file	COPY_FILE	3.21
string	JSON	3.19
install	IMPORTED_RUNTIME_ARTIFACTS	3.21
install	RUNTIME_DEPENDENCY_SET	3.21
install	RUNTIME_DEPENDENCIES	3.21
install	FILE_SET	3.23
add_custom_command	DEPFILE	3.20
set_tests_properties	ENVIRONMENT_MODIFICATION	3.22
set_property	ENVIRONMENT_MODIFICATION	3.22
set_target_properties	COMPILE_WARNING_AS_ERROR	3.24
if	PATH_EQUAL	3.24
return	PROPAGATE	3.25
*	rm	3.17
*	cat	3.18
*	create_hardlink	3.19
*	copy_directory_if_different	3.26
LIST
# Known uses of something newer, each with why it is acceptable. Keep short.
cat >"$tmp/allowed" <<'LIST'
LIST

LC_ALL=C awk -F '\t' -v minimum="$minimum" -v src="$src/" '
  function v(s,   p) { split(s, p, "."); return p[1] * 1000 + p[2] }
  FILENAME ~ /table$/ { kind[$1] = $2; since[$1] = $3; next }
  FILENAME ~ /newer$/ { nk++; ncmd[nk] = $1; nword[nk] = $2; nver[nk] = $3; next }
  FILENAME ~ /allowed$/ { allowed[$1 "\t" $2 "\t" $3] = $4; next }
  # the calls
  $2 == "function" || $2 == "macro" { split($3, w, " "); own[tolower(w[1])] = 1 }
  { n++; where[n] = $1; cmd[n] = $2; args[n] = $3 }
  END {
    for (i = 1; i <= n; i++) {
      c = cmd[i]
      if (!(c in own)) {
        if (!(c in since)) {
          printf "FAIL: %s: %s() is not in docs/install.md'"'"'s table (check its version, then add it)\n", where[i], c
          bad++
        } else if (v(since[c]) > v(minimum)) {
          printf "FAIL: %s: %s() needs CMake %s\n", where[i], c, since[c]
          bad++
        }
      }
      a = args[i]
      rest = a
      while (match(rest, /\$<[A-Z_]+/)) {
        g = "$<" substr(rest, RSTART + 2, RLENGTH - 2) ">"
        rest = substr(rest, RSTART + RLENGTH)
        if (!(g in since)) {
          printf "FAIL: %s: %s is not in docs/install.md'"'"'s table\n", where[i], g
          bad++
        } else if (v(since[g]) > v(minimum)) {
          printf "FAIL: %s: %s needs CMake %s\n", where[i], g, since[g]
          bad++
        }
      }
      rest = a
      while (match(rest, /CMP0[0-9][0-9][0-9]/)) {
        if (substr(rest, RSTART + 3, 4) + 0 > 97) {
          printf "FAIL: %s: %s is newer than CMake %s (its last policy is CMP0097)\n", where[i], substr(rest, RSTART, RLENGTH), minimum
          bad++
        }
        rest = substr(rest, RSTART + RLENGTH)
      }
      # keywords: whole words outside quoted strings
      plain = " " a " "
      gsub(/"([^"\\]|\\.)*"/, " ", plain)
      gsub(/[ \t]+/, " ", plain)
      for (k = 1; k <= nk; k++) {
        if (ncmd[k] == "*") {
          if (index(plain, " -E " nword[k] " ") == 0) continue
        } else if (ncmd[k] != c || index(plain, " " nword[k] " ") == 0) {
          continue
        }
        if (v(nver[k]) <= v(minimum)) continue
        file = where[i]; sub(/:[0-9]+$/, "", file); sub("^" src, "", file)
        key = file "\t" c "\t" nword[k]
        if (key in allowed) {
          printf "note: %s: %s(%s) needs CMake %s: allowed, %s\n", where[i], c, nword[k], nver[k], allowed[key]
        } else {
          printf "FAIL: %s: %s(... %s ...) needs CMake %s\n", where[i], c, nword[k], nver[k]
          bad++
        }
      }
    }
    exit (bad > 0)
  }' "$tmp/table" "$tmp/newer" "$tmp/allowed" "$tmp/calls" >"$tmp/report" 2>&1
rc=$?
cat "$tmp/report"
[ "$rc" -eq 0 ] || failures=$((failures + $(grep -c '^FAIL' "$tmp/report")))

# ---- 4. configure with warnings as errors, every part of the build read ----
for options in "-DVMLAB_TESTS=OFF" \
               "-DVMLAB_TESTS=AUTO -DVMLAB_VALGRIND=ON -DVMLAB_LINT=ON -DVMLAB_FUZZ=ON -DVMLAB_SANITIZE=ON"; do
  rm -rf "$tmp/build"
  # shellcheck disable=SC2086 # the options are meant to split
  if ! "$cmake" -S "$src" -B "$tmp/build" -Werror=dev -Werror=deprecated $options \
       >"$tmp/configure.log" 2>&1; then
    fail "configure with $options and warnings as errors:"
    sed -n '/CMake \(Error\|Warning\|Deprecation\)/,+6p' "$tmp/configure.log" | head -30 >&2
  elif grep -q 'CMake \(Warning\|Deprecation\)' "$tmp/configure.log"; then
    fail "configure with $options warns:"
    grep -A6 'CMake \(Warning\|Deprecation\)' "$tmp/configure.log" | head -30 >&2
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "CMake $minimum: policies pinned, $(cut -f2 "$tmp/calls" | sort -u | wc -l) commands and their keywords checked against docs/install.md, configure clean with warnings as errors"
