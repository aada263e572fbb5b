# SPDX-License-Identifier: MIT
# Sourced by the shell tests after their arguments (`. "$(dirname "$0")/../support/failures.sh"`):
# a count of failures that `fail MESSAGE` says and adds to, and a scratch
# directory $tmp, removed at exit, also when the test is interrupted.
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
