/* SPDX-License-Identifier: MIT */
/* mlock-pages: keeping pages resident. mlock faults a range in at once and keeps
 * it (smaps Locked, VmLck, Mlocked, Unevictable), within RLIMIT_MEMLOCK unless
 * the process has CAP_IPC_LOCK; mlockall(MCL_FUTURE | MCL_ONFAULT) locks every
 * later mapping, but only what is touched. (madvise-pages frees, marks and
 * fills pages instead.) The lesson is the functions just below, in the order
 * they run; then what each step's numbers show; then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "memlock.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "snapshot-report.h"
#include "snapshot.h"

/* ---- The lesson ---- */

static char *guard, *p, *q, *r;
static size_t size, page, memlock, qsize;
static int rc, over, over_errno, at_limit; /* results of the calls */
static int64_t vmlck_kb;
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
LESSON_FN static void unmap(void) { LESSON(&n, munmap(p, size); munmap(guard, size + 2 * page);); }

/* ---- What each step measured, and what it shows ---- */

static struct {
    struct snapshot before, after;
    int64_t vmlck[2], mlocked[2], unevictable[2];
    long long page_kb, size_kb, limit_kb; /* limit_kb: RLIMIT_MEMLOCK, -1 unlimited */
    bool cap_ipc_lock;
    bool locked; /* step 2's mlock_made_resident: what the run's last line says */
} d;

/* ctx: the mapping whose smaps the rows come from (&p; &q under mlockall: set
 * by the lesson that makes it). */
static void observe(void *ctx, bool after)
{
    d.vmlck[after] = procfs_read_one("/proc/self/status", "VmLck");
    d.mlocked[after] = procfs_read_one("/proc/meminfo", "Mlocked");
    d.unevictable[after] = procfs_read_one("/proc/meminfo", "Unevictable");
    snapshot_take_or_fail(after ? &d.after : &d.before, (uintptr_t)*(char **)ctx, &n);
}

static long long after(const char *key) { return snapshot_value(&d.after, key); }

/* The step's rows: these smaps keys always, then whatever else moved. */
#define ROWS(...) snapshot_report(&n, &d.before, &d.after, (const char *const[]){__VA_ARGS__, NULL})

static void lock_rows(void)
{
    static const char *const keys[] = {"VmLck", "Mlocked", "Unevictable"};
    const int64_t *v[] = {d.vmlck, d.mlocked, d.unevictable};
    for (int i = 0; i < 3; i++)
        narrate_value(&n, keys[i], "kB", v[i][0] >= 0, v[i][0], v[i][1] >= 0, v[i][1]);
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
    snapshot_explain_not_resident(&n, &d.after, d.size_kb);
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
    long long rss = after("Rss"), locked = after("Locked"), vmlck = d.vmlck[1] - d.vmlck[0];
    d.locked = CONCLUDE(&n, "mlock_made_resident",
                        rc == 0 && rss == d.size_kb && locked == d.size_kb && vmlck == d.size_kb,
                        VALUES(VAL("rss_kB", rss), VAL("locked_kB", locked),
                               VAL("vmlck_delta_kB", vmlck)),
                        "mlock faulted in every page, with no access from this program: Rss and "
                        "Locked are the whole %lld kB, and VmLck grew as much.", d.size_kb);
    if (!d.locked)
        explain_refused(rss);
    /* System-wide counters, absent in some containers: a rise of both is all they can show. */
    long long mlocked = d.mlocked[1] - d.mlocked[0];
    long long unevictable = d.unevictable[1] - d.unevictable[0];
    CONCLUDE(&n, "meminfo_counts_mlocked", d.locked && d.mlocked[0] >= 0 && d.mlocked[1] >= 0 &&
             d.unevictable[0] >= 0 && d.unevictable[1] >= 0 && mlocked > 0 && unevictable > 0,
             VALUES(VAL("mlocked_delta_kB", mlocked), VAL("unevictable_delta_kB", unevictable)),
             "Locked pages are never reclaimed: /proc/meminfo's Mlocked and Unevictable rose "
             "too (+%lld and +%lld kB; they count the whole machine, other processes too).",
             mlocked, unevictable);
}

static void explain_unlock(void)
{
    ROWS("Rss", "Locked");
    lock_rows();
    long long rss = after("Rss"), locked = after("Locked");
    long long was_locked = snapshot_value(&d.before, "Locked");
    if (!CONCLUDE(&n, "munlock_keeps_pages",
                  rc == 0 && was_locked > 0 && locked == 0 && rss == d.size_kb,
                  VALUES(VAL("locked_kB", locked), VAL("rss_kB", rss)), "Unlocked: Locked is 0 "
                  "kB, but the pages stay (Rss %lld kB); they may now be reclaimed like any "
                  "others.", rss))
        CONCLUDE(&n, "nothing_was_locked", rc == 0 && was_locked == 0 && locked == 0,
                 VALUES(VAL("locked_kB_before", was_locked), VAL("rss_kB", rss)),
                 "Nothing was locked here (Locked was already 0 kB), so munlock had nothing to "
                 "undo; Rss stays %lld kB.", rss);
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
             "CAP_IPC_LOCK, to which the limit does not apply. Run it without that capability "
             "(as an ordinary user) to see the refusal.", d.limit_kb);
}

static void explain_lock_on_fault(void)
{
    if (q == MAP_FAILED)
        narrate_fail_errno(&n, "mmap under mlockall", n.lesson_errno);
    narrate_fact_int(&n, "mlockall_result", rc);
    snapshot_maps_fact(&n, &d.after.entry);
    /* A kernel older than the flag: the call answers EINVAL. */
    CONCLUDE(&n, "onfault_unsupported", rc != 0 && n.lesson_errno == EINVAL,
             VALUES(VAL("errno", n.lesson_errno)),
             "mlockall answered EINVAL: MCL_ONFAULT needs Linux 4.4 or later.");
    ROWS("Size", "Rss", "Locked");
    lock_rows();
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

static void explain_unmap(void) { snapshot_explain_gone(&n, &d.after); }

/* The lesson as tables, in the order they run; the step count comes from
 * them. past_limit runs only where RLIMIT_MEMLOCK can be passed safely. With
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
static const struct narrate_lesson locking_all[] = {
    {"lock_on_fault", "Lock all future mappings, on fault", lock_on_fault, explain_lock_on_fault,
     NO_QUESTION},
    {"munlockall", "Unlock everything", unlock_all, explain_unlock_all, NO_QUESTION},
    {"unmap", "Unmap it", unmap, explain_unmap, NO_QUESTION},
};
#define RUN(table) narrate_run(&n, table, NARRATE_COUNT(table))

/* ---- Options, sizes and the machine ---- */

static const struct cli_option options[] = {
    {"size", "SIZE", "how much to map (default 4M; less if RLIMIT_MEMLOCK or this process's "
                     "memory allows less; 64K to 64M)"},
};

static uint64_t least_memory; /* four pages in a quarter of the budget: see main */
static struct budget budget;
static const struct demo_need needs[] = {
    {NEED_MEMORY, .limit = &least_memory, .budget = &budget},
    {0},
};

static const struct demo_info info = {
    .name = "mlock-pages",
    .needs = needs,
    .summary = "Locks anonymous memory with mlock and mlockall, showing after each call what\n"
               "smaps (Rss, Locked), /proc/self/status (VmLck) and /proc/meminfo (Mlocked,\n"
               "Unevictable) say, and what RLIMIT_MEMLOCK allows.",
    DEMO_OPTIONS(options),
    .examples = "  mlock-pages                every step on 4 MiB\n"
                "  mlock-pages --step         pause before each step\n",
    .lessons = LESSONS(TABLE(locking), TABLE(past_memlock), TABLE(locking_all)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_size_arg(&info, "--size", arg, UINT64_C(64) << 10, UINT64_C(64) << 20);
}

int main(int argc, char **argv)
{
    uint64_t asked = 0, bytes = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &asked);
    cli_no_positionals(&info, argc, argv, first);
    page = (size_t)sysconf(_SC_PAGESIZE);
    least_memory = UINT64_C(16) * page; /* four pages in a quarter */
    demo_start(&n, &info, &common, 0); /* first: what a killed run left is repaired */
    qsize = 16 * page;
    memlock = memlock_limit();
    d.cap_ipc_lock = memlock_capable();
    /* Half of RLIMIT_MEMLOCK at most, so that mlockall's mapping fits beside it. */
    uint64_t fallback = UINT64_C(4) << 20;
    if (!d.cap_ipc_lock && memlock / 2 < fallback)
        fallback = memlock / 2 / page * page;
    char why[400];
    if (fallback < 4 * page)
        narrate_finish(&n, RESULT_SKIP, "RLIMIT_MEMLOCK (%llu kB) allows fewer than 4 pages; "
                       "raise it: ulimit -l 8192", (unsigned long long)(memlock / 1024));
    if (budget_choose_size(&budget, asked, fallback, page, 4, 4, &bytes, why, sizeof why) ==
        BUDGET_REFUSED)
        cli_usage_error(&info, "--size: more than this process may use: %s", why);
    size = (size_t)bytes;
    d.page_kb = (long long)(page / 1024);
    d.size_kb = (long long)(size / 1024);
    d.limit_kb = memlock == SIZE_MAX ? -1 : (long long)(memlock / 1024);
    bool show_limit = memlock != SIZE_MAX && memlock > 0 &&
                      budget_allows(&budget, memlock + page, 4, why, sizeof why);
    n.nsteps = NARRATE_COUNT(locking) + NARRATE_COUNT(locking_all) +
               (show_limit ? NARRATE_COUNT(past_memlock) : 0);
    narrate_observe(&n, observe, &p);
    char size_text[32], limit_text[64] = "unlimited";
    format_size(size, size_text, sizeof size_text);
    if (d.limit_kb >= 0)
        snprintf(limit_text, sizeof limit_text, "%lld kB", d.limit_kb);
    narrate_intro(&n, "mlock-pages (PID %ld): %s of private anonymous memory.\n"
                      "RLIMIT_MEMLOCK: %s%s.%s", (long)getpid(), size_text, limit_text,
                  d.cap_ipc_lock ? " (this process has CAP_IPC_LOCK: the limit does not apply)" : "",
                  show_limit ? "" : " No step locks past it: it is unlimited or too large here.");
    RUN(locking);
    if (show_limit)
        RUN(past_memlock);
    RUN(locking_all);
    narrate_finish(&n, RESULT_OK, "%s %s; every number above was measured in this run.",
                   size_text, d.locked ? "locked and unlocked" : "mapped; mlock did not lock it "
                                                                 "(step 2 says why)");
}
