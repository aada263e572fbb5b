#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the guest's initramfs: busybox, the built demos with the shared
# libraries they load, the matrix scripts, and the kernel modules for zram
# swap (decompressed, in the order insmod needs them).
#   sh build-initramfs.sh KERNEL_TREE DEMO_BINDIR OUTPUT.cpio.gz
set -eu
PATH=$PATH:/sbin:/usr/sbin   # modinfo, for an ordinary user too
here=$(cd "$(dirname "$0")" && pwd)
ktree=$1 bindir=$2 output=$3
root=$(mktemp -d)
chmod 755 "$root"   # the guest's /: every user must reach /bin/sh
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/bin" "$root/vmlab/bin" "$root/lib/modules" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for p in "$bindir"/*; do
  [ -f "$p" ] && [ -x "$p" ] || continue
  cp "$p" "$root/vmlab/bin/"
  # The loader and every library, at the paths the binary asks for.
  ldd "$p" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}' |
    while read -r lib; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
done
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
cp "$here/run-demos.sh" "$here/matrix.table" "$root/vmlab/"

# zram and what it depends on, deepest first (6.1: zsmalloc is a module).
moddir=$(ls -d "$ktree"/lib/modules/*)
: > "$root/lib/modules/load-order"
module_file() { find "$moddir" -name "$1.ko" -o -name "$1.ko.xz" | head -n 1; }
add_module() { # add_module NAME (sh has no local variables: recompute after recursing)
  [ -n "$(module_file "$1")" ] || return 0
  for dep in $(modinfo -F depends "$(module_file "$1")" | tr ',' ' '); do add_module "$dep"; done
  grep -qx "$1.ko" "$root/lib/modules/load-order" && return 0
  f=$(module_file "$1")
  case "$f" in
    *.xz) xz -dc "$f" > "$root/lib/modules/$1.ko" ;;
    *) cp "$f" "$root/lib/modules/$1.ko" ;;
  esac
  echo "$1.ko" >> "$root/lib/modules/load-order"
}
add_module zram

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$output"
