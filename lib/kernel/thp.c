/* SPDX-License-Identifier: MIT */
/* thp: transparent huge page settings and counters. */
#define _GNU_SOURCE
#include "thp.h"

#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "procfs.h"

void thp_read(struct thp *t)
{
    if (procfs_read_choice(THP_SYSFS "enabled", t->mode, sizeof t->mode) != PROCFS_OK)
        t->mode[0] = '\0';
    int64_t pmd, zero;
    bool got_pmd = procfs_read_number(THP_SYSFS "hpage_pmd_size", &pmd) == PROCFS_OK;
    t->huge_size = got_pmd && pmd >= sysconf(_SC_PAGESIZE) ? (size_t)pmd : (size_t)2 << 20;
    bool got_zero = procfs_read_number(THP_SYSFS "use_zero_page", &zero) == PROCFS_OK;
    t->use_zero_page = got_zero && (zero == 0 || zero == 1) ? (int)zero : -1;
    t->off_for_process = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1;
}

void thp_counters_read(struct thp_counters *c)
{
    struct procfs_want w[] = {
        {"thp_zero_page_alloc", 0, false},
        {"thp_fault_fallback", 0, false},
        {"thp_fault_fallback_charge", 0, false},
    };
    (void)procfs_read_pairs("/proc/vmstat", w, 3); /* what it could not read stays absent */
    c->zero_page_alloc = w[0].present ? (int64_t)w[0].value : -1;
    c->fault_fallback = w[1].present ? (int64_t)w[1].value : -1;
    c->fault_fallback_charge = w[2].present ? (int64_t)w[2].value : -1;
}
