#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the matrix's QEMU guest: sets the machine up as the cell asks
# (vmlab.* words on the kernel command line), runs run-demos.sh, and sends
# the results to the host over the second serial port, ttyS1, as a base64
# tar between two marker lines. The kernel's console stays on ttyS0, so
# its messages (an OOM report, say) cannot mix into the results.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp /run /out
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

arg() { # arg NAME: the value of vmlab.NAME= on the kernel command line
  tr ' ' '\n' < /proc/cmdline | sed -n "s/^vmlab\.$1=//p" | tail -n 1
}
setup_errors=""
fail_setup() { setup_errors="$setup_errors$1; "; echo "matrix setup: $1" >&2; }

case "$(arg cgroup)" in
  v1)
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    mkdir -p /sys/fs/cgroup/memory
    mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory || fail_setup "cannot mount the cgroup-v1 memory controller"
    ;;
  v2)
    mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail_setup "cannot mount cgroup2"
    echo +memory > /sys/fs/cgroup/cgroup.subtree_control || fail_setup "cannot enable +memory at the cgroup2 root"
    ;;
esac

if [ "$(arg swap)" = zram ]; then
  while read -r m; do insmod "/lib/modules/$m" || fail_setup "insmod $m failed"; done < /lib/modules/load-order
  # lzo-rle is built into both kernels (6.12's default, lz4, is a module).
  echo lzo-rle > /sys/block/zram0/comp_algorithm 2>/dev/null || echo lzo > /sys/block/zram0/comp_algorithm
  kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
  echo "$((kb / 2))K" > /sys/block/zram0/disksize
  { mkswap /dev/zram0 && swapon /dev/zram0; } >/dev/null || fail_setup "zram swap did not come up"
fi

thp=$(arg thp)
if [ -n "$thp" ]; then
  grep -q "\[$thp\]" /sys/kernel/mm/transparent_hugepage/enabled || fail_setup "THP is not $thp"
fi
oc=$(arg overcommit)
if [ -n "$oc" ]; then
  echo "$oc" > /proc/sys/vm/overcommit_memory || fail_setup "cannot set overcommit_memory $oc"
fi

user=$(arg user)
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >> /etc/passwd
echo 'student:x:1000:1000:student:/home/student:/bin/sh' >> /etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\nstudent:x:1000:\n' > /etc/group
mkdir -p /root /home/student && chown 1000:1000 /home/student
if [ "$user" = delegated ]; then
  # A delegated subtree as systemd's Delegate= or a container hands it out:
  # the directory and its procs/subtree_control/threads files belong to the user.
  if mkdir /sys/fs/cgroup/student; then
    chown 1000:1000 /sys/fs/cgroup/student /sys/fs/cgroup/student/cgroup.procs \
      /sys/fs/cgroup/student/cgroup.subtree_control /sys/fs/cgroup/student/cgroup.threads
  else
    fail_setup "cannot create the delegated cgroup /sys/fs/cgroup/student"
  fi
fi

if [ "$user" = container ]; then
  # Root inside a container: a memory limit set from outside (docker run -m),
  # no /run, /proc/sys read-only, and an address-space limit (ulimit -v, in
  # run-demos.sh). The overcommit mode above is set before /proc/sys closes.
  if mkdir /sys/fs/cgroup/box && echo 268435456 > /sys/fs/cgroup/box/memory.max; then
    [ -f /sys/fs/cgroup/box/memory.swap.max ] && echo 0 > /sys/fs/cgroup/box/memory.swap.max
  else
    fail_setup "cannot create the container's 256 MiB cgroup /sys/fs/cgroup/box"
  fi
  umount /run && rmdir /run || fail_setup "cannot take /run away"
  { mount -o bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys; } ||
    fail_setup "cannot make /proc/sys read-only"
fi

{
  echo "kernel $(uname -r)"
  echo "cgroup $(arg cgroup) $(grep cgroup /proc/mounts | tr '\n' ';')"
  echo "ram $(grep MemTotal /proc/meminfo)"
  echo "swap $(grep SwapTotal /proc/meminfo)"
  echo "thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
  echo "overcommit $(cat /proc/sys/vm/overcommit_memory)"
  echo "user $user"
  echo "setup_errors $setup_errors"
} > /out/cell.env

if [ -z "$setup_errors" ]; then
  sh /vmlab/run-demos.sh /vmlab/matrix.table /vmlab/bin /out/runs "$user"
fi
sync

stty -F /dev/ttyS1 raw -echo 2>/dev/null
{
  echo VMLAB-RESULTS-BEGIN
  tar -C /out -cf - . | gzip -1 | base64
  echo VMLAB-RESULTS-END
} > /dev/ttyS1
# -no-reboot turns this into QEMU exiting.
reboot -f
