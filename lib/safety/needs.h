/* SPDX-License-Identifier: MIT */
/* needs: what a demo needs from the machine, declared once and checked in one
 * place (LTP's struct tst_test is the model). A demo lists its needs in its
 * struct demo_info; one that only an option asks for names that option:
 *
 *   static const struct demo_need needs[] = {
 *       {NEED_SYSCTL, "overcommit_memory"},
 *       {NEED_WRITE, "/proc/sys/vm/drop_caches", .when = &drop, .option = "--drop-caches"},
 *       {0},
 *   };
 *
 * and calls demo_start() once its command line is checked. demo_start() repairs
 * what a killed earlier run left (as root); checks every need this run has, changing
 * nothing yet, and ends the run with 77 and one sentence naming what is missing
 * and what would supply it (an `optional` need: the demo asks need_lacking());
 * then takes the vmlab lock for a sysctl (put back by narrate_finish, and on every
 * way out) and makes a memory cgroup (removed on every way out). */
#ifndef VMLAB_NEEDS_H
#define VMLAB_NEEDS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "narrate.h"

struct budget;
struct confine;

enum need_kind {
    NEED_END = 0,
    NEED_SYSCTL,         /* name: a /proc/sys/vm knob this run changes and puts back */
    NEED_WRITE,          /* name: a file this run writes (nothing to put back) */
    NEED_HUGETLB,        /* huge pages in the kernel (Hugepagesize in /proc/meminfo) */
    NEED_THP,            /* transparent huge pages in the kernel */
    NEED_PAGE_SIZE,      /* bytes: the base page size the lesson is written for */
    NEED_ARCH,           /* name: the CPU the lesson is written for ("x86_64") */
    NEED_MEMORY_CGROUP,  /* *limit bytes; name: who will run in it; filled into *cgroup
                            (removed on every way out; confine_teardown ends it early) */
    NEED_OOM_KILLS_ONE,  /* an out-of-memory kill takes one process, not the machine
                            (vm.panic_on_oom 0, or 1 with a NEED_MEMORY_CGROUP) */
    NEED_MEMORY,         /* bytes (or *limit): the least memory the lesson uses (LTP's
                            min_mem_avail); what this process may use (lib/kernel/budget.h:
                            MemAvailable, the cgroup, the rlimits, CommitLimit) is read into
                            *budget, to size the lesson from: it has at least that much */
};

struct demo_need {
    enum need_kind kind;
    const char *name;        /* see the kind */
    const bool *when;        /* the option that asks for it; NULL: every run */
    const char *option;      /* that option as typed ("--drop-caches"), for the messages */
    bool optional;           /* lacking it, the demo goes on: need_lacking() says why
                                (not NEED_MEMORY_CGROUP: an extra cgroup is the demo's own) */
    uint64_t bytes;          /* NEED_PAGE_SIZE, NEED_MEMORY */
    const uint64_t *limit;   /* NEED_MEMORY_CGROUP: its memory limit in bytes; NEED_MEMORY:
                                `bytes` known only at run time */
    struct confine *cgroup;  /* NEED_MEMORY_CGROUP: set up by demo_start */
    struct budget *budget;   /* NEED_MEMORY: read by demo_start (may be NULL) */
};

/* narrate_init(), then the needs of info->needs as above. */
void demo_start(struct narrator *n, const struct demo_info *info, const struct cli_common *common,
                int nsteps);

/* Why this machine lacks an optional need of this run (name NULL for a kind
 * without one), or NULL when it holds or was not asked for. */
const char *need_lacking(enum need_kind kind, const char *name);

/* Whether this run has the need: its `when` is NULL or true. */
bool need_applies(const struct demo_need *need);

/* Checks one need without acting on it (false: why). NEED_MEMORY_CGROUP is only
 * known by trying, and holds here; NEED_OOM_KILLS_ONE looks for one in `needs`. */
bool need_check(const struct demo_need *need, const struct demo_need *needs, char *why,
                size_t len);

#endif
