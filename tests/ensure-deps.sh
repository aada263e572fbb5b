#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what vmlab needs on Debian or Ubuntu, or says exactly what to run.
#   sh tests/ensure-deps.sh build   the demos and the tour: cmake, make, a C compiler
#   sh tests/ensure-deps.sh test    the above, plus Check, pkg-config, clang with its
#                                   fuzzer runtime, valgrind, cppcheck, clang-tidy,
#                                   rsvg-convert, Python's jsonschema, jemalloc and
#                                   mimalloc
#   sh tests/ensure-deps.sh matrix  the above, plus what tests/matrix/ boots kernels
#                                   with: QEMU, a static busybox, cpio, jq, kmod, xz
# As root it installs with apt-get; otherwise it prints the sudo line and stops.
set -eu

want=${1:-}
case "$want" in
  build|test|matrix) ;;
  *) echo "usage: sh tests/ensure-deps.sh build|test|matrix" >&2; exit 2 ;;
esac

missing=""
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
needlib() { # needlib SONAME PACKAGE: a shared library the loader knows
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  "$ldconfig" -p 2>/dev/null | grep -q "[[:space:]]$1 " || missing="$missing $2"
}
need cmake cmake
need make make
need cc gcc
[ -e /usr/include/stdio.h ] || missing="$missing libc6-dev"
if [ "$want" = test ] || [ "$want" = matrix ]; then
  need clang clang
  need pkg-config pkg-config
  need valgrind valgrind
  need cppcheck cppcheck
  need clang-tidy clang-tidy
  need rsvg-convert librsvg2-bin          # pictures.svg renders the --svg pictures
  # malloc-brk --allocator and malloc-free --allocator run their steps under these mallocs too.
  needlib libjemalloc.so.2 libjemalloc2
  needlib libmimalloc.so.2 libmimalloc2.0
  # json.schema validates every program's --json with Debian's python3 and
  # its jsonschema module (the grader of docs/grading.md uses the same).
  /usr/bin/python3 -c 'import jsonschema' 2>/dev/null || missing="$missing python3-jsonschema"
  if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists check; then
    missing="$missing check"
  fi
  # libFuzzer's runtime comes in its own package, named after clang's version.
  if command -v clang >/dev/null 2>&1; then
    major=$(clang -dumpversion | cut -d. -f1)
    if [ ! -e "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] &&
       ! ls /usr/lib/llvm-"$major"/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
      if [ "$major" -ge 14 ]; then missing="$missing libclang-rt-$major-dev"
      else missing="$missing libclang-common-$major-dev"; fi
    fi
  else
    missing="$missing libclang-rt-14-dev"
  fi
fi

if [ "$want" = matrix ]; then
  need qemu-system-x86_64 qemu-system-x86
  need cpio cpio
  need jq jq
  need modinfo kmod
  need xz xz-utils
  need flock util-linux
  # The guest's /init is busybox itself, so it must not need a libc.
  if [ ! -x /bin/busybox ] || ! ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; then
    missing="$missing busybox-static"
  fi
fi

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "vmlab: missing:$missing. Install them with your package manager, then run this again." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "vmlab: missing packages:$missing" >&2
  echo "vmlab: install them (as an administrator), then run this again:" >&2
  echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "vmlab: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # the package list is meant to split
apt-get install -y -qq --no-install-recommends $missing </dev/null
