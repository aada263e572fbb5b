/* grant: what this machine can grant a process, read in one call - the
 * figures a demo chooses its sizes from and names when one of them is the
 * reason a request was refused.
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
 * All in kB; -1 for "absent" or "no limit". */
#ifndef VMLAB_GRANT_H
#define VMLAB_GRANT_H

#include <stdint.h>

struct grant {
    int64_t overcommit_memory, overcommit_ratio, overcommit_kbytes;
    int64_t admin_reserve_kbytes, user_reserve_kbytes;
    int64_t mem_total, swap_total, commit_limit, committed_as, hugetlb;
    int64_t rlimit_as, rlimit_data, vm_size, vm_data, cgroup_limit;
    int kernel_major, kernel_minor;   /* uname -r; 0.0 if unreadable */
};

void grant_read(struct grant *g);

/* kB of every huge-page pool, all sizes (the kernel's hugetlb_total_pages):
 * meminfo's Hugetlb, or the sum over /sys/kernel/mm/hugepages before 4.16. */
int64_t grant_hugetlb_kB(void);

/* The memory cgroup limit of this process (its cgroup and every ancestor,
 * the smallest), in kB; -1 when none is set or none can be read. */
int64_t grant_cgroup_limit_kB(void);

#endif
