#!/bin/sh
# SPDX-License-Identifier: MIT
# By hand, not in CI: runs segv-pgfault, kernel-address and hugetlb-reserve under QEMU
# (-accel tcg -cpu max: protection keys and 5-level paging) with the Debian
# kernels the matrix harness caches, in an initramfs without /run, and prints
# each case's si_code and the findings that held. This is how the pkey path
# (SEGV_PKUERR, si_pkey) and the LA57 path (0xffff0a8700100000 canonical,
# SEGV_MAPERR) were checked; add "no5lvl" to see 4-level paging on the same CPU.
#   sh tests/manual/faults-under-qemu.sh [KERNEL_CACHE] [EXTRA_KERNEL_ARGS]
set -eu
cache=${1:-/var/cache/vmlab-matrix}
extra=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin"
sh "$src/lib/present/errno-names.sh" cc "$work/errno_names.h"
for demo in segv-pgfault kernel-address hugetlb-reserve; do
    cc -O2 -static -std=gnu11 -DVMLAB_VERSION='"manual"' -I"$work" -I"$src/lib/kernel" \
        -I"$src/lib/present" -I"$src/lib/safety" -o "$work/root/bin/$demo" \
        "$src/demos/$demo.c" "$src"/lib/*/*.c
done
cp "$(command -v busybox)" "$work/root/bin/"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc 2>/dev/null || { /bin/busybox mkdir -p /proc; /bin/busybox mount -t proc proc /proc; }
/bin/busybox mkdir -p /tmp && /bin/busybox mount -t tmpfs tmp /tmp
echo "cpu flags: $(/bin/busybox grep -o -w -E 'la57|pku|ospke|lass' /proc/cpuinfo | /bin/busybox sort -u | /bin/busybox tr '\n' ' ')"
/bin/segv-pgfault --json > /tmp/s.json; echo "segv-pgfault: status $?"
/bin/kernel-address --json >> /tmp/s.json; echo "kernel-address: status $?"
/bin/busybox grep -o '"case":"[a-z-]*"\|"si_code":"[A-Z_]*"\|"id":"[a-z_]*","held":true' /tmp/s.json | /bin/busybox tr '\n' ' '; echo
/bin/hugetlb-reserve --setup 2 --json > /tmp/h.json; echo "hugetlb-reserve --setup 2: status $? pool after: $(/bin/busybox cat /proc/sys/vm/nr_hugepages)"
/bin/busybox poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip >"$work/initrd.gz")
for kernel in "$cache"/linux-image-*/boot/vmlinuz-*; do
    echo "== $kernel"
    timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 384 -nographic -no-reboot \
        -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 quiet panic=-1 $extra" |
        grep -E "cpu flags|status|case" || true
done
