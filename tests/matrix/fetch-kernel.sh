#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the directory of an unpacked Debian kernel package for one matrix
# kernel line (6.1 or 6.12), downloading and unpacking it the first time.
# The cache is /var/cache/vmlab-matrix as root, else $XDG_CACHE_HOME/vmlab-matrix.
# Exits 77 with the reason when the kernel can neither be found in the cache
# nor downloaded: a cell without its kernel is a skip, never a pass.
#   sh fetch-kernel.sh 6.1|6.12
set -eu
line=$1
case "$line" in
  6.1) meta=linux-image-amd64 ;;           # bookworm's own kernel
  6.12) meta=linux-image-6.12-amd64 ;;     # bookworm-security / backports
  *) echo "fetch-kernel.sh: unknown kernel line '$line' (6.1 or 6.12)" >&2; exit 2 ;;
esac
if [ "$(id -u)" -eq 0 ]; then cache=/var/cache/vmlab-matrix
else cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmlab-matrix; fi
skip() { echo "kernel $line: $1" >&2; exit 77; }
mkdir -p "$cache/dl" 2>/dev/null || skip "cannot create the kernel cache $cache (set XDG_CACHE_HOME to a directory you may write)"

# The image package the metapackage depends on today, e.g. linux-image-6.1.0-57-amd64.
resolve() { apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1; }

exec 9>"$cache/lock"
flock 9
pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  pkg=$(resolve)
fi
if [ -n "$pkg" ] && [ -d "$cache/$pkg/boot" ]; then echo "$cache/$pkg"; exit 0; fi
if [ -n "$pkg" ]; then
  if (cd "$cache/dl" && apt-get download "$pkg" >/dev/null 2>&1); then
    deb=$(ls "$cache/dl/${pkg}_"*.deb | head -n 1)
    rm -rf "$cache/$pkg.tmp"
    dpkg-deb -x "$deb" "$cache/$pkg.tmp" && mv "$cache/$pkg.tmp" "$cache/$pkg"
    rm -f "$deb"
    echo "$cache/$pkg"
    exit 0
  fi
fi
# Offline: an older download of the same line still boots.
old=$(ls -d "$cache"/linux-image-"$line".*-amd64 2>/dev/null | tail -n 1 || true)
if [ -n "$old" ] && [ -d "$old/boot" ]; then echo "$old"; exit 0; fi
if [ -z "$pkg" ]; then
  skip "apt-cache knows no package $meta (is the Debian archive configured? run: apt-get update)"
fi
skip "apt-get download $pkg failed (no network or archive?); run it by hand in $cache/dl to see why"
