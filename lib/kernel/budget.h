/* SPDX-License-Identifier: MIT */
/* budget: how much memory may this process really use, right now?
 *
 * Not just what the machine has free. Whichever of these leaves the least:
 *
 *   MemAvailable                /proc/meminfo: what the machine can give
 *   cgroup limit - usage        this process's memory cgroup and each of its
 *                               ancestors (a container's limit is inherited):
 *                               v2 memory.max - memory.current,
 *                               v1 memory.limit_in_bytes - memory.usage_in_bytes
 *   RLIMIT_AS - VmSize          ulimit -v: address space, PROT_NONE included
 *   RLIMIT_DATA - VmData        ulimit -d: private writable memory (Linux 4.7+)
 *   CommitLimit - Committed_AS  only in overcommit mode 2, where the kernel
 *                               refuses what does not fit
 *
 * and which one binds, so that a demo can pick a size that fits and, when
 * one does not, say which limit refused it. A limit that cannot be read is
 * left out (and says so in budget.unknown), never taken as 0. */
#ifndef VMLAB_BUDGET_H
#define VMLAB_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
};

/* Reads every limit for the calling process. */
void budget_read(struct budget *b);

/* The pieces budget_read is made of, for tests and for demos that know
 * more: an empty budget, then one limit at a time (the least one binds). */
void budget_init(struct budget *b);
void budget_consider(struct budget *b, enum budget_limit which, uint64_t headroom,
                     const char *detail);

/* A short name: "MemAvailable", "the memory cgroup's limit", "RLIMIT_AS",
 * "RLIMIT_DATA", "CommitLimit (overcommit mode 2)". */
const char *budget_limit_name(enum budget_limit which);

/* True when `bytes` fit in 1/fraction of the budget. Otherwise false, and
 * `why` says how much there is and which limit it comes from:
 * "the memory cgroup's limit leaves 97 MiB (memory.limit_in_bytes of
 * /sys/fs/cgroup/memory/lab: 100 MiB, 3 MiB in use); at most 48.5 MiB". */
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

/* The headroom of the memory cgroup this process is in (membership: the
 * text of /proc/self/cgroup), looked up under the v2 mount and the v1
 * memory mount given (NULL: not mounted), the tightest over the cgroup and
 * its ancestors. False when there is no limit to read; `where` names the
 * binding file. Tests pass a fake tree. */
bool budget_cgroup_headroom(FILE *membership, const char *v2_mount, const char *v1_memory_mount,
                            uint64_t *headroom, char *where, size_t len);

/* A cgroup limit or usage file's text: a number, or "max" (v2: no limit).
 * v1 writes "no limit" as a number near 2^63, which is also unlimited. */
bool budget_parse_cgroup_value(const char *text, uint64_t *bytes);

#endif
