/* SPDX-License-Identifier: MIT */
/* mlock-madvise: telling the kernel what to do with pages you already have.
 * mlock makes them resident and keeps them (within RLIMIT_MEMLOCK);
 * MADV_DONTNEED frees them now; MADV_FREE only marks them, for the kernel to
 * take when it needs memory (shown in a small memory cgroup); MADV_POPULATE_WRITE
 * fills them untouched; MADV_PAGEOUT pushes them to swap, where there is swap.
 * The lesson is the functions just below, in the order they run; then what
 * each step's numbers show; then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "confine-child.h"
#include "memlock.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "snapshot.h"

/* ---- The lesson ---- */

static char *guard, *p, *q, *r, *a, *b;
static size_t size, page, memlock, qsize;
static const size_t asize = (size_t)48 << 20, bsize = (size_t)64 << 20; /* in the cgroup */
static int rc, cold, over, over_errno, at_limit; /* results of the calls */
static int64_t vmlck_kb, zeros;
static struct narrator n;
static void observe(void *ctx, bool after);

LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (guard == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
           p = mmap(guard + page, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           madvise(p, size, MADV_NOHUGEPAGE););
}

LESSON_FN static void lock(void) { LESSON(&n, rc = mlock(p, size);); }
LESSON_FN static void unlock(void) { LESSON(&n, rc = munlock(p, size);); }

LESSON_FN static void past_limit(void)
{
    LESSON(&n, r = mmap(NULL, memlock + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
           over = mlock(r, memlock + page);
           over_errno = errno;
           at_limit = mlock(r, memlock);
           vmlck_kb = procfs_read_one("/proc/self/status", "VmLck");
           munmap(r, memlock + page););
}

/* Its rows are the new mapping q's (p's again from the next step). */
LESSON_FN static void lock_on_fault(void)
{
    narrate_observe(&n, observe, &q);
    LESSON(&n, rc = mlockall(MCL_FUTURE | MCL_ONFAULT);
           q = mmap(NULL, qsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           q[0] = 1;);
}

LESSON_FN static void unlock_all(void) { LESSON(&n, munlockall(); munmap(q, qsize);); }
LESSON_FN static void dontneed(void) { LESSON(&n, rc = madvise(p, size, MADV_DONTNEED);); }

LESSON_FN static void lazy_free(void)
{
    LESSON(&n, for (size_t off = 0; off < size; off += page) p[off] = 1;
           rc = madvise(p, size, MADV_FREE););
}

/* In a child inside a small memory cgroup: its pages are charged there. */
LESSON_FN static void free_in_cgroup(void)
{
    LESSON(&n, a = mmap(NULL, asize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           madvise(a, asize, MADV_NOHUGEPAGE);
           for (size_t off = 0; off < asize; off += page) a[off] = 1;
           rc = madvise(a, asize, MADV_FREE););
}

LESSON_FN static void pressure(void)
{
    LESSON(&n, b = mmap(NULL, bsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           for (size_t off = 0; off < bsize; off += page) b[off] = 1;
           for (size_t off = 0; off < asize; off += page) zeros += FORCE_READ(a[off]) == 0;);
}

LESSON_FN static void populate(void)
{
    LESSON(&n, madvise(p, size, MADV_DONTNEED);
           rc = madvise(p, size, MADV_POPULATE_WRITE););
}

LESSON_FN static void pageout(void)
{
    LESSON(&n, cold = madvise(p, size, MADV_COLD);
           rc = madvise(p, size, MADV_PAGEOUT););
}

LESSON_FN static void unmap(void) { LESSON(&n, munmap(p, size); munmap(guard, size + 2 * page);); }

/* ---- What each step measured, and what it shows ---- */

static struct {
    struct snapshot before, after;
    int64_t vmlck[2], mlocked[2], unevictable[2];
    long long page_kb, size_kb, limit_kb; /* limit_kb: RLIMIT_MEMLOCK, -1 unlimited */
    bool cap_ipc_lock;
    struct confine c;
    char no_cgroup[600];               /* why the pressure steps do not run */
} d;

/* ctx: the mapping whose smaps the rows come from (&p; &a in the child, &q
 * under mlockall: set by the lesson that makes it). */
static void observe(void *ctx, bool after)
{
    d.vmlck[after] = procfs_read_one("/proc/self/status", "VmLck");
    d.mlocked[after] = procfs_read_one("/proc/meminfo", "Mlocked");
    d.unevictable[after] = procfs_read_one("/proc/meminfo", "Unevictable");
    snapshot_take_or_fail(after ? &d.after : &d.before, (uintptr_t)*(char **)ctx, &n);
}

static long long delta(const char *key) { return snapshot_delta0(&d.before, &d.after, key); }

static long long after(const char *key)
{
    int64_t v = -1;
    return snapshot_get(&d.after, key, &v) ? v : -1;
}

/* The step's rows: these smaps keys always, then whatever else moved. */
#define ROWS(...) snapshot_report(&n, &d.before, &d.after, (const char *const[]){__VA_ARGS__, NULL})

static void lock_rows(void)
{
    static const char *const keys[] = {"VmLck", "Mlocked", "Unevictable"};
    const int64_t *v[] = {d.vmlck, d.mlocked, d.unevictable};
    for (int i = 0; i < 3; i++)
        narrate_value(&n, keys[i], "kB", v[i][0] >= 0, v[i][0], v[i][1] >= 0, v[i][1]);
}

/* A kernel older than the flag: the call answers EINVAL. */
static void unsupported(const char *id, const char *call, const char *flag, const char *version)
{
    CONCLUDE(&n, id, rc != 0 && n.lesson_errno == EINVAL, VALUES(VAL("errno", n.lesson_errno)),
             "%s answered EINVAL: %s needs Linux %s or later.", call, flag, version);
}

static void explain_map(void)
{
    if (p == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", n.lesson_errno);
    narrate_watch(&n, (uintptr_t)p);
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_fact_int(&n, "size_kB", d.size_kb);
    narrate_fact_int(&n, "memlock_limit_kB", d.limit_kb);
    narrate_fact_int(&n, "cap_ipc_lock", d.cap_ipc_lock);
    ROWS("Size", "Rss");
    CONCLUDE(&n, "mapped_not_resident", after("Rss") == 0 && after("Size") == d.size_kb,
             VALUES(VAL("rss_kB", after("Rss")), VAL("size_kB", after("Size"))),
             "%lld kB mapped, none of it resident yet (Rss 0 kB).", d.size_kb);
}

/* A refused mlock: nothing resident, or some pages faulted in before it gave up
 * (nothing else touches the region). The limit is named only where there is one. */
static void explain_refused(long long rss)
{
    char limit[64] = "";
    if (d.limit_kb >= 0)
        snprintf(limit, sizeof limit, "; RLIMIT_MEMLOCK allows %lld kB", d.limit_kb);
    if (!CONCLUDE(&n, "mlock_refused", rc != 0 && rss == 0,
                  VALUES(VAL("errno", n.lesson_errno), VAL("rss_kB", rss)),
                  "mlock was refused (%s) and made nothing resident%s.",
                  strerror(n.lesson_errno), limit))
        CONCLUDE(&n, "mlock_refused_after_faulting", rc != 0 && rss > 0,
                 VALUES(VAL("errno", n.lesson_errno), VAL("rss_kB", rss)),
                 "mlock was refused (%s), yet Rss is %lld kB: it faulted pages in before it gave "
                 "up%s.", strerror(n.lesson_errno), rss, limit);
}

static void explain_lock(void)
{
    ROWS("Rss", "Locked");
    lock_rows();
    long long rss = after("Rss"), locked = after("Locked");
    if (!CONCLUDE(&n, "mlock_made_resident", rc == 0 && rss == d.size_kb && locked == d.size_kb,
                  VALUES(VAL("rss_kB", rss), VAL("locked_kB", locked),
                         VAL("vmlck_delta_kB", d.vmlck[1] - d.vmlck[0])),
                  "mlock faulted in every page, with no access from this program: Rss and Locked "
                  "are the whole %lld kB, and VmLck grew as much. Locked pages are never "
                  "reclaimed: meminfo counts them as Mlocked and Unevictable.", d.size_kb))
        explain_refused(rss);
}

static void explain_unlock(void)
{
    ROWS("Rss", "Locked");
    lock_rows();
    long long rss = after("Rss"), locked = after("Locked");
    CONCLUDE(&n, "munlock_keeps_pages", rc == 0 && locked == 0 && rss == d.size_kb,
             VALUES(VAL("locked_kB", locked), VAL("rss_kB", rss)), "Unlocked: Locked is 0 kB, but "
             "the pages stay (Rss %lld kB); they may now be reclaimed like any others.", rss);
}

static void explain_past_limit(void)
{
    narrate_fact_int(&n, "memlock_limit_kB", d.limit_kb);
    narrate_fact_int(&n, "over_result", over);
    narrate_fact_int(&n, "at_limit_result", at_limit);
    narrate_fact_int(&n, "vmlck_at_limit_kB", vmlck_kb);
    CONCLUDE(&n, "refused_past_limit", over != 0 && (over_errno == ENOMEM || over_errno == EPERM),
             VALUES(VAL("errno", over_errno), VAL("memlock_limit_kB", d.limit_kb)),
             "One page past RLIMIT_MEMLOCK (%lld kB), mlock was refused with %s: an unprivileged "
             "process may lock no more than its limit.", d.limit_kb,
             over_errno == ENOMEM ? "ENOMEM" : "EPERM");
    CONCLUDE(&n, "locked_up_to_limit", at_limit == 0 && vmlck_kb == d.limit_kb,
             VALUES(VAL("vmlck_kB", vmlck_kb)),
             "Exactly the limit was allowed: VmLck read %lld kB.", (long long)vmlck_kb);
    CONCLUDE(&n, "cap_ipc_lock_exempt", over == 0 && d.cap_ipc_lock,
             VALUES(VAL("over_result", over)),
             "Locking one page past RLIMIT_MEMLOCK (%lld kB) succeeded: this process has "
             "CAP_IPC_LOCK (root), to which the limit does not apply. Run it as an ordinary user "
             "to see the refusal.", d.limit_kb);
}

static void explain_lock_on_fault(void)
{
    if (q == MAP_FAILED)
        narrate_fail_errno(&n, "mmap under mlockall", n.lesson_errno);
    narrate_fact_int(&n, "mlockall_result", rc);
    snapshot_maps_fact(&n, &d.after.entry);
    unsupported("onfault_unsupported", "mlockall", "MCL_ONFAULT", "4.4");
    ROWS("Size", "Rss", "Locked");
    narrate_fact(&n, "VmFlags", "%s", d.after.entry.vmflags);
    long long rss = after("Rss"), locked = after("Locked");
    bool lo = smaps_has_flag(&d.after.entry, "lo"), lf = smaps_has_flag(&d.after.entry, "lf");
    CONCLUDE(&n, "locked_on_fault", rc == 0 && rss == d.page_kb && locked == d.page_kb && lo,
             VALUES(VAL("rss_kB", rss), VAL("locked_kB", locked), VAL("size_kB", after("Size"))),
             "A mapping made after mlockall(MCL_FUTURE | MCL_ONFAULT) is locked (VmFlags 'lo'%s), "
             "but only what is touched is resident: one write, one page in Rss and Locked, of "
             "%lld kB mapped.", lf ? ", and 'lf': lock on fault" : "", after("Size"));
    narrate_observe(&n, observe, &p);
}

static void explain_unlock_all(void)
{
    lock_rows();
    CONCLUDE(&n, "nothing_locked", d.vmlck[1] == 0, VALUES(VAL("vmlck_kB", d.vmlck[1])),
             "munlockall: VmLck is back to 0 kB.");
}

static void explain_dontneed(void)
{
    ROWS("Rss");
    CONCLUDE(&n, "dontneed_freed_now", rc == 0 && after("Rss") == 0 && delta("Rss") < 0,
             VALUES(VAL("rss_kB", after("Rss")), VAL("rss_delta_kB", delta("Rss"))),
             "MADV_DONTNEED gave the frames back at once: Rss fell by %lld kB to 0. The mapping "
             "stays; a read would now see zeroes.", -delta("Rss"));
}

static void explain_free(void)
{
    ROWS("Rss", "LazyFree");
    long long rss = after("Rss"), lazy = after("LazyFree");
    unsupported("free_unsupported", "madvise", "MADV_FREE", "4.5");
    CONCLUDE(&n, "free_only_marks", rc == 0 && rss == d.size_kb && lazy > 0,
             VALUES(VAL("rss_kB", rss), VAL("lazyfree_kB", lazy)),
             "MADV_FREE freed nothing yet: Rss is still %lld kB. It marked the pages (LazyFree "
             "%lld of %lld kB): the kernel may take them when it needs memory, and a write before "
             "then cancels the mark.", rss, lazy, d.size_kb);
}

static void explain_free_in_cgroup(void)
{
    long long limit_kb = (long long)(d.c.limit / 1024), lazy = after("LazyFree");
    narrate_fact_int(&n, "pid", (int64_t)getpid());
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_fact(&n, "cgroup", "%s", d.c.dir);
    narrate_fact_int(&n, "cgroup_limit_kB", limit_kb);
    ROWS("Size", "Rss", "LazyFree");
    CONCLUDE(&n, "marked_in_cgroup",
             rc == 0 && after("Rss") == (long long)(asize / 1024) && lazy > 0,
             VALUES(VAL("lazyfree_kB", lazy), VAL("limit_kB", limit_kb)),
             "This child (PID %ld) runs in a cgroup limited to %lld kB: it wrote %zu kB and marked "
             "them with MADV_FREE (LazyFree %lld kB). They are still resident, and still count "
             "against its limit.", (long)getpid(), limit_kb, asize / 1024, lazy);
}

static void explain_pressure(void)
{
    narrate_fact_int(&n, "pages_read_as_zero", zeros);
    ROWS("Rss", "LazyFree");
    long long gone_kb = -delta("Rss");
    CONCLUDE(&n, "lazyfree_taken_under_pressure", gone_kb > 0 && zeros * d.page_kb == gone_kb,
             VALUES(VAL("rss_delta_kB", -gone_kb), VAL("pages_read_as_zero", zeros)),
             "Writing %zu kB more pushed the cgroup to its limit, and the kernel took marked "
             "pages instead of failing: Rss of the marked region fell by %lld kB, and the %lld "
             "pages it took read back as zeroes, as MADV_FREE allows: no swap, no write-back.",
             bsize / 1024, gone_kb, (long long)zeros);
}

static void explain_populate(void)
{
    ROWS("Rss");
    unsupported("populate_unsupported", "madvise", "MADV_POPULATE_WRITE", "5.14");
    CONCLUDE(&n, "populated_without_touching", rc == 0 && after("Rss") == d.size_kb,
             VALUES(VAL("rss_kB", after("Rss")), VAL("minor_faults", delta("minor_faults"))),
             "Freed first with MADV_DONTNEED, then MADV_POPULATE_WRITE: every page is resident "
             "and writable again (Rss %lld kB), with no access by this program. The kernel "
             "faulted them in itself (%lld faults counted).", after("Rss"), delta("minor_faults"));
}

static void explain_pageout(void)
{
    long long swap_kb = procfs_read_one("/proc/meminfo", "SwapTotal");
    narrate_fact_int(&n, "swap_total_kB", swap_kb);
    narrate_fact_int(&n, "madv_cold_result", cold);
    ROWS("Rss", "Swap");
    unsupported("pageout_unsupported", "madvise", "MADV_PAGEOUT", "5.4");
    CONCLUDE(&n, "pageout_without_swap_kept", rc == 0 && swap_kb == 0 && delta("Rss") == 0,
             VALUES(VAL("swap_total_kB", swap_kb), VAL("rss_delta_kB", delta("Rss"))),
             "This machine has no swap (SwapTotal 0 kB): dirty anonymous pages have nowhere to "
             "go, so MADV_COLD and MADV_PAGEOUT left all of them (Rss unchanged).");
    CONCLUDE(&n, "pageout_to_swap", rc == 0 && delta("Swap") > 0,
             VALUES(VAL("swap_delta_kB", delta("Swap")), VAL("rss_delta_kB", delta("Rss"))),
             "MADV_PAGEOUT wrote %lld kB to swap now, not when memory runs short: Rss fell by "
             "%lld kB.", delta("Swap"), -delta("Rss"));
}

static void explain_unmap(void)
{
    CONCLUDE(&n, "mapping_gone", !d.after.mapped, VALUES(VAL("rss_kB_after", 0)),
             "The mapping is gone from smaps.");
}

/* The lesson as tables, in the order they run; the step count comes from
 * them. past_limit runs only where RLIMIT_MEMLOCK can be passed safely; the
 * cgroup's steps only in a cgroup of their own, in a child inside it. With
 * --predict a step asks before its code runs; the finding beside a choice
 * is what makes that choice the measured one. */
static const struct narrate_lesson locking[] = {
    {"map", "Map private anonymous memory, with guard pages", map, explain_map, NO_QUESTION},
    {"mlock", "Lock it", lock, explain_lock, "Nothing was touched. Rss after mlock?",
     {"still 0 kB", "the whole region", "something else"}, {"mlock_refused", "mlock_made_resident"}},
    {"munlock", "Unlock it", unlock, explain_unlock, NO_QUESTION},
};
static const struct narrate_lesson past_memlock[] = {
    {"past_limit", "Lock one page more than RLIMIT_MEMLOCK", past_limit, explain_past_limit,
     NO_QUESTION},
};
static const struct narrate_lesson freeing[] = {
    {"lock_on_fault", "Lock all future mappings, on fault", lock_on_fault, explain_lock_on_fault,
     NO_QUESTION},
    {"munlockall", "Unlock everything", unlock_all, explain_unlock_all, NO_QUESTION},
    {"dontneed", "MADV_DONTNEED", dontneed, explain_dontneed, "Rss just after MADV_DONTNEED?",
     {"unchanged", "0 kB", "somewhere between"}, {NULL, "dontneed_freed_now"}},
    {"free", "Write every page, then MADV_FREE", lazy_free, explain_free,
     "Every page written again, then MADV_FREE. Rss after?",
     {"the whole region", "0 kB", "somewhere between"}, {"free_only_marks"}},
};
static const struct narrate_lesson in_cgroup[] = {
    {"free_in_cgroup", "In a small cgroup: write, then MADV_FREE", free_in_cgroup,
     explain_free_in_cgroup, NO_QUESTION},
    {"pressure", "In the cgroup: need more memory", pressure, explain_pressure, NO_QUESTION},
};
static const struct narrate_lesson filling[] = {
    {"populate_write", "MADV_POPULATE_WRITE", populate, explain_populate, NO_QUESTION},
    {"pageout", "MADV_COLD, then MADV_PAGEOUT", pageout, explain_pageout, NO_QUESTION},
    {"unmap", "Unmap it", unmap, explain_unmap, NO_QUESTION},
};
#define RUN(table) narrate_run(&n, table, NARRATE_COUNT(table))

static int run_in_cgroup(void *ctx)
{
    narrate_observe(&n, observe, ctx);
    RUN(in_cgroup);
    return n.bug[0] ? EXIT_RUNTIME : EXIT_OK;
}

/* ---- Options, sizes and the machine ---- */

static const struct cli_option options[] = {
    {"size", "SIZE", "how much to map (default 4M; less if RLIMIT_MEMLOCK or this process's "
                     "memory allows less; 64K to 64M)"},
};

static const struct demo_info info = {
    .name = "mlock-madvise",
    .summary = "Locks, frees and fills anonymous memory with mlock, mlockall and madvise,\n"
               "showing after each call what smaps (Rss, Locked, LazyFree), /proc/self/status\n"
               "(VmLck) and /proc/meminfo (Mlocked, Unevictable) say. MADV_FREE's pages are\n"
               "shown going under pressure in a small memory cgroup (as root).",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  mlock-madvise              every step on 4 MiB\n"
                "  mlock-madvise --step       pause before each step\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_size_arg(&info, "--size", arg, UINT64_C(64) << 10, UINT64_C(64) << 20);
}

/* The child's pressure: in a 96 MiB cgroup of its own (root), made once the sizes are
 * known (an extra, not a need: without it those steps are left out, d.no_cgroup says why). */
static bool pressure_possible(const struct budget *budget)
{
    const uint64_t cgroup_limit = UINT64_C(96) << 20;
    char why[512];
    bool fits = budget_allows(budget, cgroup_limit, 2, why, sizeof why);
    if (fits && confine_setup(&d.c, info.name, cgroup_limit, why, sizeof why) == 0) {
        if (d.c.kind == CONFINE_V1 || d.c.kind == CONFINE_V2)
            return true;
        confine_teardown(&d.c);
        snprintf(why, sizeof why, "only a cgroup of its own will do (as root), so that the "
                                  "pressure falls on nothing else");
    }
    snprintf(d.no_cgroup, sizeof d.no_cgroup, "\nMADV_FREE under pressure is not shown: %s%s",
             fits ? "" : "a 96 MiB cgroup does not fit: ", why);
    return false;
}

int main(int argc, char **argv)
{
    uint64_t asked = 0, bytes = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &asked);
    cli_no_positionals(&info, argc, argv, first);
    demo_start(&n, &info, &common, 0); /* first: what a killed run left is repaired */
    page = (size_t)sysconf(_SC_PAGESIZE);
    qsize = 16 * page;
    memlock = memlock_limit();
    d.cap_ipc_lock = memlock_capable();
    struct budget budget;
    budget_read(&budget);
    /* Half of RLIMIT_MEMLOCK at most, so that mlockall's mapping fits beside it. */
    uint64_t fallback = UINT64_C(4) << 20;
    if (!d.cap_ipc_lock && memlock / 2 < fallback)
        fallback = memlock / 2 / page * page;
    char why[400];
    enum budget_choice got = fallback < 4 * page ? BUDGET_NONE_FITS
                             : budget_choose_size(&budget, asked, fallback, page, 4, 4, &bytes,
                                                  why, sizeof why);
    if (got == BUDGET_REFUSED)
        cli_usage_error(&info, "--size: more than this process may use: %s", why);
    size = (size_t)bytes;
    d.page_kb = (long long)(page / 1024);
    d.size_kb = (long long)(size / 1024);
    d.limit_kb = memlock == SIZE_MAX ? -1 : (long long)(memlock / 1024);
    bool show_limit = memlock != SIZE_MAX && memlock > 0 &&
                      budget_allows(&budget, memlock + page, 4, why, sizeof why);
    n.nsteps = NARRATE_COUNT(locking) + NARRATE_COUNT(freeing) + NARRATE_COUNT(filling) +
               (show_limit ? NARRATE_COUNT(past_memlock) : 0);
    if (got == BUDGET_NONE_FITS)
        narrate_finish(&n, RESULT_SKIP, "RLIMIT_MEMLOCK (%lld kB) or this process's memory allows "
                       "fewer than 4 pages; raise it: ulimit -l 8192", d.limit_kb);
    bool show_pressure = pressure_possible(&budget);
    if (show_pressure)
        n.nsteps += NARRATE_COUNT(in_cgroup);
    narrate_observe(&n, observe, &p);
    char size_text[32], limit_text[64] = "unlimited";
    format_size(size, size_text, sizeof size_text);
    if (d.limit_kb >= 0)
        snprintf(limit_text, sizeof limit_text, "%lld kB", d.limit_kb);
    narrate_intro(&n, "mlock-madvise (PID %ld): %s of private anonymous memory.\n"
                      "RLIMIT_MEMLOCK: %s%s.%s%s", (long)getpid(), size_text, limit_text,
                  d.cap_ipc_lock ? " (this process has CAP_IPC_LOCK: the limit does not apply)" : "",
                  show_limit ? "" : " No step locks past it: it is unlimited or too large here.",
                  show_pressure ? "" : d.no_cgroup);
    RUN(locking);
    if (show_limit)
        RUN(past_memlock);
    RUN(freeing);
    if (show_pressure) {
        int status = confine_run_child(&d.c, run_in_cgroup, &a);
        if (status < 0)
            narrate_fail_errno(&n, "fork", errno);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            narrate_finish(&n, RESULT_FAIL, "the child in the cgroup %s (status %#x)",
                           WIFSIGNALED(status) ? "was killed by a signal" : "failed", status);
        n.step += NARRATE_COUNT(in_cgroup);
        confine_teardown(&d.c);
    }
    RUN(filling);
    narrate_finish(&n, RESULT_OK, "%s locked, unlocked, freed and filled; every number above was "
                                  "measured in this run.", size_text);
}
