/* SPDX-License-Identifier: MIT */
/* needs: check what a demo declared it needs, then act on it (see needs.h). */
#include "needs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "confine.h"
#include "procfs.h"
#include "sysctl.h"
#include "thp.h"

/* The CPU this program runs as (not the kernel's: a 32-bit program on a 64-bit kernel). */
#if defined(__x86_64__)
#define BUILT_FOR "x86_64"
#elif defined(__i386__)
#define BUILT_FOR "i386"
#elif defined(__aarch64__)
#define BUILT_FOR "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define BUILT_FOR "riscv64"
#else
#define BUILT_FOR "another CPU"
#endif

/* The optional needs this run lacks, and why (need_lacking). */
static struct {
    enum need_kind kind;
    const char *name;
    char why[512];
} lacking[8];
static size_t nlacking;

bool need_applies(const struct demo_need *need)
{
    return !need->when || *need->when;
}

static bool confines(const struct demo_need *needs)
{
    for (const struct demo_need *d = needs; d->kind; d++)
        if (d->kind == NEED_MEMORY_CGROUP && need_applies(d))
            return true;
    return false;
}

bool need_check(const struct demo_need *need, const struct demo_need *needs, char *why,
                size_t len)
{
    char pre[48], detail[400] = ""; /* "--drop-caches: " for a need an option asked for */
    snprintf(pre, sizeof pre, "%s%s", need->option ? need->option : "", need->option ? ": " : "");
    switch (need->kind) {
    case NEED_SYSCTL:
        if (sysctl_may_change(need->name, detail, sizeof detail) == 0)
            return true;
        snprintf(why, len, "%s%s", pre, detail); /* it names the knob and the way out */
        return false;
    case NEED_WRITE:
        if (access(need->name, W_OK) == 0)
            return true;
        int err = errno;
        snprintf(why, len, "%sthis process may not write %s (%s)%s", pre, need->name,
                 strerror(err), err == EROFS ? ": it is read-only here (a container?); on the "
                 "host it can be" : (err == EACCES || err == EPERM) && geteuid() != 0
                 ? "; run it as root (sudo)" : "");
        return false;
    case NEED_HUGETLB:
        if (procfs_read_one("/proc/meminfo", "Hugepagesize") > 0)
            return true;
        snprintf(why, len, "%sthis kernel has no huge pages (no Hugepagesize in /proc/meminfo: "
                 "CONFIG_HUGETLBFS is off)", pre);
        return false;
    case NEED_THP: {
        struct thp t;
        thp_read(&t);
        if (t.mode[0])
            return true;
        snprintf(why, len, "%sthis kernel has no transparent huge pages (%senabled is "
                 "missing)%s%s", pre, THP_SYSFS, need->option ? "; run without " : "",
                 need->option ? need->option : "");
        return false;
    }
    case NEED_PAGE_SIZE: {
        long page = sysconf(_SC_PAGESIZE);
        if (page > 0 && (uint64_t)page == need->bytes)
            return true;
        char want[32], here[32];
        format_size(need->bytes, want, sizeof want);
        format_size(page > 0 ? (uint64_t)page : 0, here, sizeof here);
        snprintf(why, len, "%sthis lesson is written for pages of %s; here a page is %s", pre,
                 want, here);
        return false;
    }
    case NEED_ARCH:
        if (strcmp(BUILT_FOR, need->name) == 0)
            return true;
        snprintf(why, len, "%sthis lesson shows the page tables of %s; this program is built "
                 "for %s", pre, need->name, BUILT_FOR);
        return false;
    case NEED_OOM_KILLS_ONE: {
        uint64_t panic = 0;
        if (procfs_read_vm_sysctl("panic_on_oom", &panic) != PROCFS_OK || panic == 0 ||
            (panic == 1 && confines(needs)))
            return true; /* 1 panics only for an OOM outside a memory cgroup */
        snprintf(why, len, "%svm.panic_on_oom is %llu: an OOM here would panic the whole machine "
                 "instead of killing one process", pre, (unsigned long long)panic);
        return false;
    }
    case NEED_MEMORY: {
        struct budget here = {0}, *b = need->budget ? need->budget : &here;
        uint64_t bytes = need->limit ? *need->limit : need->bytes;
        budget_read(b);
        if (budget_allows(b, bytes, 1, detail, sizeof detail))
            return true;
        char want[32];
        format_size(bytes, want, sizeof want);
        static const char *const way_out[BUDGET_LIMITS] = {
            [BUDGET_MEM_AVAILABLE] = "free some memory",
            [BUDGET_CGROUP] = "run it outside that cgroup, or raise its limit",
            [BUDGET_RLIMIT_AS] = "raise it: ulimit -v unlimited",
            [BUDGET_RLIMIT_DATA] = "raise it: ulimit -d unlimited",
            [BUDGET_COMMIT_LIMIT] = "as root: echo 0 > /proc/sys/vm/overcommit_memory",
        };
        snprintf(why, len, "%sthis lesson needs %s of memory this process may use, and %s; %s",
                 pre, want, detail, b->binding < BUDGET_LIMITS ? way_out[b->binding] : "");
        return false;
    }
    case NEED_MEMORY_CGROUP: /* known only by making one: demo_start does */
    case NEED_END:
        return true;
    }
    return true;
}

const char *need_lacking(enum need_kind kind, const char *name)
{
    for (size_t i = 0; i < nlacking; i++)
        if (lacking[i].kind == kind && (!name || strcmp(lacking[i].name, name) == 0))
            return lacking[i].why;
    return NULL;
}

/* What a run killed with SIGKILL could not undo: the /proc/sys/vm values its undo
 * record allows putting back, and empty cgroups of runs that have ended; said on
 * stderr. Without root there is nothing to repair, nor a record to read (root's, 0700). */
static void repair_leftovers(const char *demo)
{
    char report[1024];
    if (geteuid() != 0)
        return;
    sysctl_repair_leftovers(demo, report, sizeof report);
    if (report[0])
        cli_notice(demo, "%s", report);
    confine_sweep_leftovers(report, sizeof report);
    if (report[0])
        cli_notice(demo, "%s", report);
}

static void begin_changes(struct narrator *n, const struct demo_info *info)
{
    char repaired[512];
    int rc = sysctl_begin(info->name, repaired, sizeof repaired), err = errno;
    if (repaired[0])
        cli_notice(info->name, "%s", repaired);
    if (rc != 0 && err == EBUSY) /* a record of a run still alive: its change is in force */
        narrate_finish(n, RESULT_SKIP, "another vmlab run has a /proc/sys/vm value changed "
                       "(see above); run this again when it has ended");
    if (rc != 0)
        narrate_fail_errno(n, sysctl_failed_call(), err);
    n->undo_at_finish = sysctl_end; /* narrate_finish's last act before it reports */
    for (const struct demo_need *d = info->needs; d->kind; d++) {
        uint64_t now; /* an optional change may not happen: the demo says so when it does */
        if (d->kind == NEED_SYSCTL && need_applies(d) && !d->optional &&
            procfs_read_vm_sysctl(d->name, &now) == PROCFS_OK)
            cli_notice(info->name, "may change /proc/sys/vm/%s (now %llu) for a moment; it is "
                       "put back on every way out, Ctrl-C included", d->name,
                       (unsigned long long)now);
    }
}

void demo_start(struct narrator *n, const struct demo_info *info, const struct cli_common *common,
                int nsteps)
{
    narrate_init(n, info->name, common, nsteps);
    repair_leftovers(info->name);
    if (!info->needs)
        return;
    bool changes = false;
    for (const struct demo_need *d = info->needs; d->kind; d++) {
        char why[512];
        if (!need_applies(d) || need_check(d, info->needs, why, sizeof why)) {
            changes |= d->kind == NEED_SYSCTL && need_applies(d);
            continue;
        }
        if (!d->optional || nlacking == sizeof lacking / sizeof lacking[0])
            narrate_finish(n, RESULT_SKIP, "%s", why);
        lacking[nlacking].kind = d->kind;
        lacking[nlacking].name = d->name ? d->name : "";
        snprintf(lacking[nlacking++].why, sizeof lacking[0].why, "%s", why);
    }
    if (changes)
        begin_changes(n, info);
    for (const struct demo_need *d = info->needs; d->kind; d++) {
        char why[1024];
        if (d->kind == NEED_MEMORY_CGROUP && need_applies(d) &&
            confine_setup(d->cgroup, info->name, *d->limit, why, sizeof why) != 0)
            narrate_finish(n, RESULT_SKIP, "cannot confine %s: %s", d->name, why);
    }
}
