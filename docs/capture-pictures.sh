#!/bin/sh
# SPDX-License-Identifier: MIT
# Redraws the pictures the lab sheets show, with --svg, from the programs as
# they are now (as root, for the OOM lesson's cgroup):
#   sh docs/capture-pictures.sh [BUILD_DIR]     (default: build/dev)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/dev}
for run in "mincore-residency" "protnone-dirty" "oom-killer-try"; do
  "$build/demos/$run" --svg "$here/pictures/$run.svg" >/dev/null ||
    echo "capture-pictures: $run could not run here (exit $?); its picture is unchanged" >&2
done
