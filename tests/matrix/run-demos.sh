#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every 'run' line of the matrix table, plain and with --json, as one
# user, and records for each invocation its stdout, stderr, exit status and
# the machine state just before and just after it. The same script runs in
# a QEMU guest (busybox sh) and on the host; judge.sh reads what it writes.
#
#   sh run-demos.sh TABLE BINDIR OUTDIR USER [SETTLE_SECONDS]
#
# USER is root, nobody, delegated (uid 1000 'student', moved into
# /sys/fs/cgroup/student first) or container (root in a 256 MiB cgroup, under
# ulimit -v 8 GiB, with /proc/sys read-only and no /run: guest-init.sh). SETTLE_SECONDS is for the host only: other
# test runs on the same machine change sysctls and cgroups for a moment, so
# a difference is read again once a second for that long before it counts;
# a demo that left a change behind leaves it there for good.
set -u

table=$1 bin=$2 out=$3 user=$4 settle=${5:-0}
# Any one invocation may take this long (oom-killer-try's own limit is 60 s).
per_run_timeout=${VMLAB_MATRIX_RUN_TIMEOUT:-240}

# What no demo may leave changed: every readable /proc/sys/vm value, every
# huge-page pool, the THP settings, and the cgroup tree. One 'key<TAB>value'
# line each; a cgroup's value is 'present'.
snapshot() {
  for f in /proc/sys/vm/* /sys/kernel/mm/hugepages/*/*_hugepages \
           /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag; do
    [ -f "$f" ] && [ -r "$f" ] || continue
    # Write-only knobs (drop_caches) pass -r for root but cannot be read.
    v=$( { tr '\n\t' '  ' < "$f"; } 2>/dev/null | sed 's/ *$//')
    printf '%s\t%s\n' "$f" "$v"
  done
  cgroup_dirs | sort -u | sed 's/$/\tpresent/'
}

# The cgroup tree: all of it in a guest. On the shared host, other sessions'
# cgroups come and go under their own branches, so only the top two levels
# and the branch this process lives in (where a demo makes its own) count.
cgroup_dirs() {
  if [ "$settle" -eq 0 ]; then find /sys/fs/cgroup -type d 2>/dev/null; return; fi
  find /sys/fs/cgroup -maxdepth 2 -type d 2>/dev/null
  while IFS=: read -r _ ctrl path; do
    [ "$path" = / ] && continue   # the top two levels are already there
    case "$ctrl" in
      memory) find "/sys/fs/cgroup/memory$path" -type d 2>/dev/null ;;
      '') find "/sys/fs/cgroup$path" "/sys/fs/cgroup/unified$path" -type d 2>/dev/null ;;
    esac
  done < /proc/self/cgroup
}

# A script that execs "$@", quoted: busybox su would take the demo's own
# options (--json) for its own if they were passed on its command line.
command_file() {
  f=$(mktemp /tmp/vmlab-matrix-cmd.XXXXXX)
  printf 'exec' > "$f"
  for a in "$@"; do printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")" >> "$f"; done
  echo >> "$f"
  chmod 644 "$f"
  echo "$f"
}

# Runs "$@" as the cell's user.
as_user() {
  case "$user" in
    root) timeout "$per_run_timeout" "$@" ;;
    nobody|student)
      if setpriv --help 2>&1 | grep -q -- --reuid; then
        timeout "$per_run_timeout" setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"
      else
        timeout "$per_run_timeout" su -s /bin/sh "$user" -c "sh $(command_file "$@")"
      fi ;;
    delegated)
      # Like a container or a systemd Delegate= unit: the process starts
      # inside the subtree its user owns.
      sh -c 'echo $$ > /sys/fs/cgroup/student/cgroup.procs && exec "$@"' sh \
        timeout "$per_run_timeout" su -s /bin/sh student -c "sh $(command_file "$@")" ;;
    container)
      # Root, started inside the container's limited cgroup, under ulimit -v.
      sh -c 'echo $$ > /sys/fs/cgroup/box/cgroup.procs && ulimit -v 8388608 && exec "$@"' sh \
        timeout "$per_run_timeout" "$@" ;;
    *) echo "run-demos.sh: unknown user '$user'" >&2; return 2 ;;
  esac
}

run_one() { # run_one ID MODE PROGRAM ARGS...
  id=$1 mode=$2
  shift 2
  d=$out/$id
  mkdir -p "$d"
  snapshot > "$d/$mode.before"
  prog=$1
  shift
  if [ "$mode" = json ]; then set -- "$@" --json; fi
  (cd /tmp && as_user "$bin/$prog" "$@") > "$d/$mode.out" 2> "$d/$mode.err" < /dev/null
  echo $? > "$d/$mode.rc"
  rm -f /tmp/vmlab-matrix-cmd.*
  snapshot > "$d/$mode.after"
  waited=0
  while ! cmp -s "$d/$mode.before" "$d/$mode.after" && [ "$waited" -lt "$settle" ]; do
    sleep 1
    waited=$((waited + 1))
    snapshot > "$d/$mode.after"
  done
}

# What the machine offers, read here and not from any demo, so that the
# judge can hold a demo's findings against it (rules.jq, machine_rules).
# /proc/cpuinfo's flags: pku (the CPU has protection keys), ospke (the kernel
# turned them on), la57 (5-level paging: the kernel clears this flag at boot
# when it does not use it, so the flag is the kernel's own word on its
# paging mode; a process's mappings cannot tell, as they stay below 2^47
# unless a mmap hint asks for more), lass (the CPU refuses user access to
# the kernel's half before the page walk). One 'name value' line each.
machine_facts() {
  flags=$(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2)
  for f in pku ospke la57 lass; do
    case " $flags " in *" $f "*) echo "$f 1" ;; *) echo "$f 0" ;; esac
  done
  # "address sizes : 52 bits physical, 57 bits virtual": the CPU's, not the kernel's.
  sed -n 's/^address sizes.* \([0-9]*\) bits virtual.*/cpu_virtual_address_bits \1/p' /proc/cpuinfo |
    head -n 1
}

mkdir -p "$out"
machine_facts > "$out/machine.facts"
# The state as the cell began: on a shared host, judge.sh uses it to tell a
# demo's leftover from another program's change that was under way when a
# 'before' was taken.
snapshot > "$out/baseline.state"
[ "$settle" -gt 0 ] && : > "$out/shared-host"
grep '^run[[:space:]]' "$table" | while read -r _ id prog args; do
  echo "matrix: $id" >&2
  # shellcheck disable=SC2086 # the table's arguments are meant to split
  run_one "$id" plain "$prog" $args
  # shellcheck disable=SC2086
  run_one "$id" json "$prog" $args
done
