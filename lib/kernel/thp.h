/* SPDX-License-Identifier: MIT */
/* thp: what transparent huge pages will do for this process - the mode in
 * force, the huge-page size, whether a read may map the huge zero page, and
 * whether THP is off for this process alone - and the /proc/vmstat counters
 * that show what the kernel did (a huge page, a fallback, the huge zero
 * page allocated). */
#ifndef VMLAB_THP_H
#define VMLAB_THP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage/"

struct thp {
    char mode[16];          /* "always", "madvise", "never"; "" when the kernel has no THP */
    size_t huge_size;       /* bytes of a PMD-sized huge page (2 MiB if unknown) */
    int use_zero_page;      /* THP_SYSFS use_zero_page: 1, 0, or -1 unknown */
    bool off_for_process;   /* prctl(PR_SET_THP_DISABLE), inherited from a parent */
};

void thp_read(struct thp *t);

/* /proc/vmstat: each -1 when absent (a kernel without THP; fault_fallback_charge,
 * the fallbacks where a memory cgroup refused the huge page's charge, before 5.8).
 * Machine-wide: other processes' faults count too. */
struct thp_counters {
    int64_t zero_page_alloc, fault_fallback, fault_fallback_charge;
};

void thp_counters_read(struct thp_counters *c);

#endif
