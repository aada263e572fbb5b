#!/bin/sh
# SPDX-License-Identifier: MIT
# Everything CI checks, in one command: install what is missing, then build
# and run the whole CTest suite with gcc (warnings are errors, valgrind on the
# unit tests), with clang (plus cppcheck and clang-tidy), under AddressSanitizer
# + UBSan, the libFuzzer targets for a bounded time, and finally the kernel
# and environment matrix: every demo under other kernels and set-ups booted
# in QEMU (tests/matrix/README.md).
set -eu
cd "$(dirname "$0")/.."
sh tests/ensure-deps.sh matrix
cmake --workflow --preset ci
cmake --workflow --preset ci-clang
cmake --workflow --preset asan
cmake --workflow --preset fuzz
cmake --workflow --preset matrix
