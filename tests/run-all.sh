#!/bin/sh
# Everything CI checks, in one command: install what is missing, then build
# and run the whole CTest suite with gcc (warnings are errors), with clang, and
# under AddressSanitizer + UBSan.
set -eu
cd "$(dirname "$0")/.."
sh tests/ensure-deps.sh test
cmake --workflow --preset ci
cmake --workflow --preset ci-clang
cmake --workflow --preset asan
