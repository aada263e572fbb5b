#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one cell of the matrix and judges it: boots the cell's kernel under
# QEMU with the demos in an initramfs (or, for a 'host' cell, runs them here),
# brings the results back and hands them to judge.sh.
#   sh run-cell.sh CELL DEMO_BINDIR WORKDIR
# Exit: 0 every run passed (or is a known failure), 1 a run failed, 77 the
# cell cannot run here (no QEMU, kernel not downloadable), with the reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
table=$here/matrix.table
cell=$1 bindir=$2 work=$3
# The guest may take this long in all (TCG emulates every instruction).
guest_timeout=${VMLAB_MATRIX_GUEST_TIMEOUT:-540}

line=$(awk -v c="$cell" '$1 == "cell" && $2 == c' "$table")
[ -n "$line" ] || { echo "run-cell.sh: no cell '$cell' in $table" >&2; exit 2; }
# shellcheck disable=SC2086 # split the table's fields
set -- $line
kernel=$3 cgroup=$4 ram=$5 swap=$6 thp=$7 overcommit=$8 user=$9

rm -rf "$work"
mkdir -p "$work"
results=$work/results
echo "cell $cell: kernel $kernel, cgroup $cgroup, RAM $ram, swap $swap, THP $thp, overcommit $overcommit, user $user"

if [ "$kernel" = host ]; then
  if [ "$(id -u)" -ne 0 ]; then
    # Switching to another user (or running the root-only variants as root) needs root.
    echo "SKIP cell $cell: runs the demos on this machine as $user, which needs root: sudo sh tests/matrix/run-cell.sh $cell $bindir $work"
    exit 77
  fi
  # Demos in a directory every user may read: the build tree may not be.
  bin=$(mktemp -d /tmp/vmlab-matrix-bin.XXXXXX)
  trap 'rm -rf "$bin"' EXIT
  cp "$bindir"/* "$bin"/ 2>/dev/null
  chmod -R a+rX "$bin"
  mkdir -p "$results"
  {
    echo "kernel $(uname -r)"
    echo "cgroup $(grep cgroup /proc/mounts | tr '\n' ';')"
    echo "ram $(grep MemTotal /proc/meminfo)"
    echo "swap $(grep SwapTotal /proc/meminfo)"
    echo "thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "overcommit $(cat /proc/sys/vm/overcommit_memory)"
    echo "user $user"
    echo "setup_errors "
  } > "$results/cell.env"
  sh "$here/run-demos.sh" "$table" "$bin" "$results/runs" "$user" 10
else
  if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    echo "SKIP cell $cell: qemu-system-x86_64 is not installed (run: sh tests/ensure-deps.sh matrix)"
    exit 77
  fi
  if [ ! -x /bin/busybox ] || ! ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; then
    echo "SKIP cell $cell: a static /bin/busybox is needed for the guest (run: sh tests/ensure-deps.sh matrix)"
    exit 77
  fi
  ktree=$(sh "$here/fetch-kernel.sh" "$kernel" 2>"$work/fetch.err")
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "SKIP cell $cell: $(cat "$work/fetch.err")"
    [ "$rc" -eq 77 ] && exit 77
    exit 1
  fi
  sh "$here/build-initramfs.sh" "$ktree" "$bindir" "$work/initramfs.gz" || exit 1
  cmdline="console=ttyS0 panic=-1 loglevel=4 transparent_hugepage=$thp vmlab.cgroup=$cgroup"
  cmdline="$cmdline vmlab.swap=$swap vmlab.overcommit=$overcommit vmlab.user=$user"
  start=$(date +%s)
  timeout "$guest_timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m "$ram" \
    -nodefaults -display none -no-reboot -monitor none \
    -serial "file:$work/console.log" -serial "file:$work/results.serial" \
    -kernel "$(ls "$ktree"/boot/vmlinuz-*)" -initrd "$work/initramfs.gz" \
    -append "$cmdline" < /dev/null
  qrc=$?
  echo "guest ran $(( $(date +%s) - start )) s (qemu exit $qrc); console: $work/console.log"
  mkdir -p "$results"
  tr -d '\r' < "$work/results.serial" | sed -n '/^VMLAB-RESULTS-BEGIN$/,/^VMLAB-RESULTS-END$/p' |
    sed '1d;$d' | base64 -d 2>/dev/null | tar -xzf - -C "$results" 2>/dev/null
  if [ ! -f "$results/cell.env" ] || ! grep -q '^VMLAB-RESULTS-END' "$work/results.serial"; then
    echo "FAIL cell $cell: the guest sent no complete results (qemu exit $qrc). Last console lines:"
    tail -n 25 "$work/console.log"
    exit 1
  fi
fi

sed 's/^/  /' "$results/cell.env"
# What the guest's /proc/cpuinfo showed, which rules.jq holds segv-pgfault and kernel-address to.
[ -f "$results/runs/machine.facts" ] &&
  echo "  cpuinfo $(tr '\n' ' ' < "$results/runs/machine.facts")"
errs=$(sed -n 's/^setup_errors //p' "$results/cell.env")
if [ -n "$errs" ]; then
  echo "FAIL cell $cell: the guest could not be set up as the cell asks: $errs"
  exit 1
fi
sh "$here/judge.sh" "$table" "$cell" "$results" "$user"
