/* SPDX-License-Identifier: MIT */
/* grant: how much memory this machine can give a demo, and why that much.
 *
 * A demo that maps memory to show a charge must ask for an amount the
 * machine can grant on every lab machine: a 640 MiB VM in overcommit mode 2,
 * a shell under `ulimit -v`, a container. grant_charge_size picks a size and
 * names the limit that chose it; grant_read gives every figure that bounds
 * what a process may be granted, for a demo that teaches them:
 *
 *   the overcommit policy     /proc/sys/vm/overcommit_{memory,ratio,kbytes},
 *                             admin_reserve_kbytes, user_reserve_kbytes
 *   memory                    MemTotal, SwapTotal, CommitLimit, Committed_AS,
 *                             Hugetlb (every huge-page pool, all sizes)
 *   this process's limits     RLIMIT_AS, RLIMIT_DATA (getrlimit), VmSize,
 *                             VmData, and its memory cgroup's limit (v2
 *                             memory.max or v1 memory.limit_in_bytes, the
 *                             smallest along the path to the root)
 *
 * Figures in kB; -1 for "absent" or "no limit". */
#ifndef VMLAB_GRANT_H
#define VMLAB_GRANT_H

#include <stddef.h>
#include <stdint.h>

/* The size in bytes (whole 2 MiB) of each of `count` private writable
 * anonymous mappings, never touched beyond a page: want_kB, or less - half
 * of CommitLimit - Committed_AS in overcommit mode 2, half of MemTotal +
 * SwapTotal in mode 0 (its heuristic refuses one request above that), a
 * share of RLIMIT_AS - VmSize (count + 1 mappings' worth) and of
 * RLIMIT_DATA - VmData (count). why gets one sentence naming what chose the
 * size. Returns -1 when under 8 MiB is left (why then also says how to
 * enable more), 0 otherwise. */
int grant_charge_size(int64_t want_kb, int count, size_t *size, char *why, size_t len);

struct grant {
    int64_t overcommit_memory, overcommit_ratio, overcommit_kbytes;
    int64_t admin_reserve_kbytes, user_reserve_kbytes;
    int64_t mem_total, swap_total, commit_limit, committed_as, hugetlb;
    int64_t rlimit_as, rlimit_data, vm_size, vm_data, cgroup_limit;
    int kernel_major, kernel_minor;   /* uname -r; 0.0 if unreadable */
};

/* Every figure above, read now. */
void grant_read(struct grant *g);

/* kB of every huge-page pool, all sizes (the kernel's hugetlb_total_pages):
 * meminfo's Hugetlb, or the sum over /sys/kernel/mm/hugepages before 4.16. */
int64_t grant_hugetlb_kB(void);

/* The memory cgroup limit of this process (its cgroup and every ancestor,
 * the smallest), in kB; -1 when none is set or none can be read. */
int64_t grant_cgroup_limit_kB(void);

#endif
