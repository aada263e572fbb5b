/* SPDX-License-Identifier: MIT */
/* budget: how much memory may this process really use, right now, and why?
 *
 * grant_read reads, once, every figure that bounds what a process may be given
 * (the overcommit policy, /proc/meminfo, the rlimits against VmSize and VmData, the
 * memory cgroup and its ancestors); the rest answers two questions from them.
 * "How much may a demo that really uses memory take?" (budget_*): whichever limit
 * leaves the least (CommitLimit only in overcommit mode 2), and which one binds,
 * so that a refusal can name it. "How much may a demo map to show a charge, never
 * touching it?" (grant_charge_size): what the policy and the rlimits let pass.
 * A limit that cannot be read is left out, never taken as 0, and said. */
#ifndef VMLAB_BUDGET_H
#define VMLAB_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the figures, in kB; -1 for "absent" or "no limit" ---- */

struct grant {
    int64_t overcommit_memory, overcommit_ratio, overcommit_kbytes;
    int64_t admin_reserve_kbytes, user_reserve_kbytes;
    int64_t mem_total, mem_available, swap_total, commit_limit, committed_as, hugetlb;
    int64_t rlimit_as, rlimit_data, vm_size, vm_data;
    int64_t cgroup_limit;      /* the smallest limit over the cgroup and its ancestors */
    int64_t cgroup_headroom;   /* the least limit - usage among them */
    char cgroup_detail[640];   /* whose: "memory.max of /sys/fs/cgroup/lab: 100 MiB, 3 MiB in use",
                                  or, with no headroom (-1), why the limit is unknown */
    int kernel_major, kernel_minor;   /* uname -r; 0.0 if unreadable */
};

/* Every figure above, read now. */
void grant_read(struct grant *g);

/* The size in bytes (whole 2 MiB) of each of `count` private writable anonymous
 * mappings, never touched beyond a page: want_kB, or a share of what the policy
 * and the rlimits leave; why names what chose it. -1 when under 8 MiB is left
 * (why then also says how to enable more). */
int grant_charge_size(int64_t want_kb, int count, size_t *size, char *why, size_t len);

/* ---- the least headroom, for memory a demo really uses ---- */

enum budget_limit {
    BUDGET_MEM_AVAILABLE,
    BUDGET_CGROUP,
    BUDGET_RLIMIT_AS,
    BUDGET_RLIMIT_DATA,
    BUDGET_COMMIT_LIMIT,
    BUDGET_LIMITS,      /* how many there are */
    BUDGET_NONE = BUDGET_LIMITS,
};

#define BUDGET_UNLIMITED UINT64_MAX

struct budget {
    uint64_t bytes;              /* the least headroom; BUDGET_UNLIMITED if none known */
    enum budget_limit binding;   /* whose it is; BUDGET_NONE if none known */
    uint64_t headroom[BUDGET_LIMITS]; /* bytes each one leaves; BUDGET_UNLIMITED: no limit */
    char detail[BUDGET_LIMITS][192];  /* e.g. "memory.max of /sys/fs/cgroup/lab: 100 MiB, 3 MiB in use" */
    /* A limit that could not be read, and why ("the memory cgroup's limit
     * could not be read: ..."), or "": budget_allows says so with the one
     * that binds, since the unread one may be smaller. */
    char unread[512];
};

/* Reads every limit for the calling process. */
void budget_read(struct budget *b);

/* One limit more, leaving headroom bytes (detail: whose, cut to fit): the
 * least one binds. */
void budget_consider(struct budget *b, enum budget_limit which, uint64_t headroom,
                     const char *detail);

/* The limit's name, for a sentence: "MemAvailable", "RLIMIT_AS (ulimit -v)"... */
const char *budget_limit_name(enum budget_limit which);

/* True when `bytes` fit in 1/fraction of the budget; else why says how much there
 * is and which limit it comes from. */
bool budget_allows(const struct budget *b, uint64_t bytes, unsigned fraction, char *why,
                   size_t len);

/* A size for a demo that really uses the memory: `asked` (0: the default
 * `fallback`), rounded up to whole `unit`s and at least `min_units` of them,
 * must fit in 1/fraction of the budget. What came of it: */
enum budget_choice {
    BUDGET_FITS,        /* *size is the (rounded) size asked for, or the default */
    BUDGET_SHRUNK,      /* the default did not fit: *size is the most that does */
    BUDGET_REFUSED,     /* the size asked for does not fit: `why` names the limit */
    BUDGET_NONE_FITS,   /* not even min_units fit: `why` names the limit */
};
enum budget_choice budget_choose_size(const struct budget *b, uint64_t asked, uint64_t fallback,
                                      uint64_t unit, uint64_t min_units, unsigned fraction,
                                      uint64_t *size, char *why, size_t len);

#endif
