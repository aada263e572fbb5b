/* SPDX-License-Identifier: MIT */
/* commit: see commit.h. */
#include "commit.h"

void commit_explain(struct narrator *n, int64_t moved_kB, int64_t charge_kB, const char *exact_id,
                    const char *why)
{
    if (!CONCLUDE(n, exact_id, moved_kB == charge_kB,
                  VALUES(VAL("commit_delta_kB", moved_kB), VAL("charge_kB", charge_kB)),
                  "Committed_AS moved by exactly %+lld kB: %s", (long long)moved_kB, why))
        CONCLUDE(n, "commit_moved_by_others", moved_kB != charge_kB,
                 VALUES(VAL("commit_delta_kB", moved_kB), VAL("charge_kB", charge_kB),
                        VAL("others_kB", moved_kB - charge_kB)),
                 "Committed_AS moved by %+lld kB between the readings just before and just "
                 "after this call, not by the %+lld kB charged for it: %s The other %+lld kB "
                 "came from other processes in the same instant (it counts the whole machine).",
                 (long long)moved_kB, (long long)charge_kB, why, (long long)(moved_kB - charge_kB));
}

void commit_grant_facts(struct narrator *n, const struct grant *g)
{
    /* where lib/kernel/budget.c's grant_read reads each one */
    const struct { const char *key; int64_t v; const char *from; } f[] = {
        {"overcommit_memory", g->overcommit_memory, "/proc/sys/vm/overcommit_memory"},
        {"overcommit_ratio", g->overcommit_ratio, "/proc/sys/vm/overcommit_ratio"},
        {"overcommit_kbytes", g->overcommit_kbytes, "/proc/sys/vm/overcommit_kbytes"},
        {"mem_total_kB", g->mem_total, "/proc/meminfo MemTotal"},
        {"swap_total_kB", g->swap_total, "/proc/meminfo SwapTotal"},
        {"hugetlb_kB", g->hugetlb, "/proc/meminfo Hugetlb; before Linux 4.16, the pools in "
                                   "/sys/kernel/mm/hugepages"},
        {"commit_limit_kB", g->commit_limit, "/proc/meminfo CommitLimit"},
        {"committed_as_kB", g->committed_as, "/proc/meminfo Committed_AS"},
        {"admin_reserve_kbytes", g->admin_reserve_kbytes, "/proc/sys/vm/admin_reserve_kbytes"},
        {"user_reserve_kbytes", g->user_reserve_kbytes, "/proc/sys/vm/user_reserve_kbytes"},
        {"vm_size_kB", g->vm_size, "/proc/self/status VmSize"},
        {"vm_data_kB", g->vm_data, "/proc/self/status VmData"},
        {"rlimit_as_kB", g->rlimit_as, "getrlimit(RLIMIT_AS)"},
        {"rlimit_data_kB", g->rlimit_data, "getrlimit(RLIMIT_DATA)"},
        {"cgroup_limit_kB", g->cgroup_limit, "the least memory.max (v1: memory.limit_in_bytes) "
                                             "of this process's cgroup and its ancestors"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v >= 0) /* a limit that is not set is left out */
            narrate_fact_from(n, f[i].key, f[i].v, f[i].from);
}

void commit_explain_fork(struct narrator *n, int64_t moved_kB, int64_t child_accounted_kB)
{
    narrate_fact_int(n, "child_accounted_kB", child_accounted_kB);
    commit_explain(n, moved_kB, child_accounted_kB, "fork_charged_child",
                   "fork charges the child for every private writable mapping it got (VmFlags "
                   "'ac' in its smaps), as if it might write them all: memory may yet be copied.");
}

size_t commit_fork_size(struct narrator *n, size_t page)
{
    struct budget budget;
    char why[400];
    uint64_t bytes;
    budget_read(&budget);
    if (budget_choose_size(&budget, 0, UINT64_C(32) << 20, page, 1024, 4, &bytes, why,
                           sizeof why) == BUDGET_NONE_FITS)
        narrate_finish(n, RESULT_SKIP, "not even 4 MiB fit twice in what this process may use: "
                       "%s. Free some memory or raise that limit.", why);
    return (size_t)bytes;
}
