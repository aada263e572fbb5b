#!/bin/sh
# Installs what vmlab needs on Debian or Ubuntu, or says exactly what to run.
#   sh tests/ensure-deps.sh build   the demos and the tour: cmake, make, a C compiler
#   sh tests/ensure-deps.sh test    the above, plus Check, pkg-config and clang
# As root it installs with apt-get; otherwise it prints the sudo line and stops.
set -eu

want=${1:-}
case "$want" in
  build|test) ;;
  *) echo "usage: sh tests/ensure-deps.sh build|test" >&2; exit 2 ;;
esac

missing=""
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need cmake cmake
need make make
need cc gcc
[ -e /usr/include/stdio.h ] || missing="$missing libc6-dev"
if [ "$want" = test ]; then
  need clang clang
  need pkg-config pkg-config
  if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists check; then
    missing="$missing check"
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
