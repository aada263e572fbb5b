/* SPDX-License-Identifier: MIT */
/* stack-growth: how the stack mapping grows and what stops it, measured in [stack]'s smaps entry,
 * the fault counter and the signal a child got when its stack could not grow. The lesson is
 * recurse() and the steps below it, in the order they run, steps 5-7's children included. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"

/* ---- The lesson ---- */

/* One frame: a 4 KiB array the call writes to, so that each call needs a new page of stack.
 * noinline and the write after the call keep the compiler from folding the recursion into a loop.
 * The count of calls to go is a global, so that no register needs saving in the frame: the array,
 * the return address (and the frame pointer, where one is kept) make exactly 4096 bytes. */
#define FRAME_ARRAY (4096 - 16)
static volatile long remaining;         /* calls still to make */
static volatile uintptr_t level_at[3];  /* the last two frames' arrays: [1] the deepest */

// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape)
__attribute__((noinline, no_sanitize_address)) static void recurse(void)
{
    volatile char frame[FRAME_ARRAY];
    frame[0] = 1;
    if (remaining < 3)
        level_at[remaining] = (uintptr_t)&frame[0];
    if (--remaining > 0)
        recurse();
    frame[1] = frame[0]; /* not a tail call */
}
// NOLINTEND(clang-analyzer-core.StackAddressEscape)

static struct narrator n;
static struct rlimit limit;      /* RLIMIT_STACK, as this process has it */
static long first_depth, depth;  /* the first two recursions' depth (main sets it); this step's */

static struct {
    struct snapshot before, after;  /* this process's [stack], around each LESSON */
    int64_t size[2], rss[2];        /* its Size and Rss in kB then: [0] before, [1] after */
    uintptr_t anchor;               /* an address on main's stack */
    int64_t page_kb, gap_pages;
} d;

LESSON_FN static void read_limit(void)
{
    LESSON(&n, getrlimit(RLIMIT_STACK, &limit););
    narrate_watch_named(&n, d.anchor, "[stack]");
}

LESSON_FN static void recurse_step(void)
{
    depth = strcmp(n.id, "recurse_deeper") == 0 ? 2 * first_depth : first_depth;
    LESSON(&n, remaining = depth; recurse(););
}

/* What a child saw when its stack could not grow. It lies in a MAP_SHARED page: the
 * child writes it, this process reads it once waitpid has returned. */
static struct crash {
    struct probe_result probe;
    int64_t stack_kb, limit_kb;    /* its [stack] (or thread's) Size at the crash; its limit */
    int64_t size_before_kb;        /* that Size before the overflow */
    uintptr_t stack_start;         /* where that mapping began at the crash */
    uintptr_t blocker_end;         /* the end of the mapping placed below the stack */
    char fault_perms[8];           /* the mapping at si_addr: "---p" is a guard */
} *crash;

static pid_t child;
static int status, rlimit_code; /* waitpid's (its exit code: an errno or 0); step 5's si_code */
static bool by_rlimit, by_gap;  /* what stopped the stack: stopped_at_rlimit, gap_kept held */
static int64_t gap_stop_kb;   /* where the gap will stop the stack: 2 MiB down, less the gap */

static void recurse_forever(void *unused)
{
    (void)unused;
    remaining = LONG_MAX;
    recurse();
}

/* The mapping that holds on_stack (Size, start); the one at si_addr (perms). */
static void stack_entry(uintptr_t on_stack)
{
    struct smaps_entry e;
    if (smaps_read_entry(on_stack, &e) == PROCFS_OK) {
        crash->stack_kb = (int64_t)(e.end - e.start) / 1024;
        crash->stack_start = e.start;
    }
    if (crash->probe.faulted && smaps_read_entry(crash->probe.addr, &e) == PROCFS_OK)
        snprintf(crash->fault_perms, sizeof crash->fault_perms, "%s", e.perms);
}

/* In the child (or its thread), after the lesson's calls: recurse until the stack may not
 * grow (the signal caught on an alternate stack), look at it before and after, end the child. */
static void *overflow(void *unused)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0); /* the real stack, even under ASan */
    (void)unused;
    stack_entry(here);
    crash->size_before_kb = crash->stack_kb;
    int err = probe_call(recurse_forever, NULL, &crash->probe) != 0 ? errno : 0; /* sigaltstack */
    stack_entry(here);
    _exit(err);
}

/* Before each child: a clean report, and the RLIMIT_STACK it may set, want (0: none) but never
 * above the hard limit: ulimit -s sets both, and setrlimit refuses a soft limit above it. */
static struct rlimit new_report(rlim_t want)
{
    if (!crash && (crash = mmap(NULL, sizeof *crash, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", errno);
    memset(crash, 0, sizeof *crash);
    struct rlimit rl = {want < limit.rlim_max ? want : limit.rlim_max, limit.rlim_max};
    crash->limit_kb = (int64_t)(rl.rlim_cur / 1024);
    return rl;
}

LESSON_FN static void limit_step(void)
{
    struct rlimit rl = new_report((rlim_t)(d.size[1] + 512) * 1024); /* room to grow */
    LESSON(&n, child = fork();
               if (child == 0) {
                   if (setrlimit(RLIMIT_STACK, &rl) == 0)
                       overflow(NULL);
                   _exit(errno);
               }
               waitpid(child, &status, 0););
}

LESSON_FN static void gap_step(void)
{
    gap_stop_kb = d.size[1] + 2048 - d.gap_pages * d.page_kb + 64; /* 64: a margin */
    struct rlimit rl = new_report(8u << 20);
    if (crash->limit_kb <= gap_stop_kb) /* the limit, not the gap, would stop it */
        return;
    size_t page = (size_t)d.page_kb * 1024;
    char *below = (char *)(d.after.entry.start - (2u << 20) - page);
    crash->blocker_end = (uintptr_t)below + page;
    LESSON(&n, child = fork();
               if (child == 0) {
                   if (setrlimit(RLIMIT_STACK, &rl) == 0 &&
                       mmap(below, page, PROT_READ,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == below)
                       overflow(NULL);
                   _exit(errno);
               }
               waitpid(child, &status, 0););
}

LESSON_FN static void thread_step(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    new_report(0);
    LESSON(&n, child = fork();
               if (child == 0) {
                   pthread_attr_setstacksize(&attr, 256u << 10);
                   errno = pthread_create(&thread, &attr, overflow, NULL);
                   if (errno == 0)
                       pthread_join(thread, NULL);
                   _exit(errno);
               }
               waitpid(child, &status, 0););
}

/* ---- What each step measured ---- */

/* Around each LESSON: this process's [stack]; after it, the step's rows (not snapshot_report's:
 * [stack] grows at its start, which they take for a new mapping). */
static void observe(void *ctx, bool after)
{
    struct snapshot *s = after ? &d.after : &d.before;
    (void)ctx;
    snapshot_take_or_fail(s, d.anchor, &n);
    snapshot_get(s, "Size", &d.size[after]);
    snapshot_get(s, "Rss", &d.rss[after]);
    if (!after)
        return;
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_value(&n, "Size", "kB", true, d.size[0], true, d.size[1]);
    narrate_value(&n, "Rss", "kB", true, d.rss[0], true, d.rss[1]);
    narrate_value(&n, "minor_faults", "", true, d.before.minflt_end, true, d.after.minflt_start);
}

static void explain_limit(void)
{
    bool unlimited = limit.rlim_cur == RLIM_INFINITY, no_hard = limit.rlim_max == RLIM_INFINITY;
    narrate_fact_int(&n, "rlimit_stack_kB", unlimited ? -1 : (int64_t)(limit.rlim_cur / 1024));
    narrate_fact_int(&n, "rlimit_stack_max_kB", no_hard ? -1 : (int64_t)(limit.rlim_max / 1024));
    narrate_fact_int(&n, "stack_guard_gap_pages", d.gap_pages);
    char soft[32], hard[32];
    format_size(limit.rlim_cur, soft, sizeof soft);
    format_size(limit.rlim_max, hard, sizeof hard);
    narrate_note(&n, "RLIMIT_STACK (ulimit -s) is %s, its hard limit %s; stack_guard_gap keeps "
                 "%lld pages free below a stack (%s).", unlimited ? "unlimited" : soft,
                 no_hard ? "unlimited" : hard, (long long)d.gap_pages,
                 d.gap_pages == 256 ? "the kernel's default" : "from the kernel command line");
}

static void explain_recurse(void)
{
    static long reached;             /* the deepest recursion so far */
    int64_t frame = (int64_t)(level_at[2] - level_at[1]);
    int64_t rss = d.rss[1] - d.rss[0], size = d.size[1] - d.size[0];
    int64_t faults = snapshot_delta0(&d.before, &d.after, "minor_faults"); /* the windows */
    uintptr_t deepest = level_at[1], low_page = deepest & ~(uintptr_t)(d.page_kb * 1024 - 1);
    narrate_fact_int(&n, "depth", depth);
    narrate_fact_int(&n, "frame_bytes", frame);
    narrate_fact(&n, "deepest_frame", "%#lx", (unsigned long)deepest);
    narrate_fact(&n, "stack_start", "%#lx", (unsigned long)d.after.entry.start);
    CONCLUDE(&n, "grew_to_deepest_frame", size > 0 && d.after.entry.start == low_page,
             VALUES(VAL("size_delta_kB", size), VAL("frame_bytes", frame), VAL("depth", depth)),
             "%ld calls of %lld bytes each: [stack] grew down by %lld kB, and now starts at the "
             "very page the deepest frame wrote to. The kernel extends the stack mapping on a "
             "fault just below it.", depth, (long long)frame, (long long)size);
    int64_t pages = rss / d.page_kb, new_frames = depth > reached ? depth - reached : 0;
    reached = new_frames ? depth : reached;
    /* mincore over the pages the frames lie on: each one resident? */
    uintptr_t top = ((deepest + (uintptr_t)depth * 4096 - 1) | 4095) + 1;
    static char picture[1024];
    int64_t span = (int64_t)(top - low_page) / 4096;
    long resident = residency_picture((void *)low_page, top - low_page, picture, sizeof picture);
    if (resident < 0)
        narrate_fail_errno(&n, "mincore", errno);
    narrate_fact_int(&n, "frame_pages", span);
    narrate_fact_int(&n, "frame_pages_resident", resident);
    CONCLUDE(&n, "one_page_per_frame", frame == 4096 && new_frames > 8 && pages <= new_frames &&
                 pages > new_frames / 2 && faults >= pages && resident == span,
             VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                    VAL("new_frames", new_frames), VAL("frame_pages_resident", resident)),
             "Rss grew by %lld pages with %lld minor faults for %lld frames deeper than ever "
             "before, and mincore finds all %lld pages under the frames resident: each 4 KiB "
             "frame wrote to a page of its own, one fault for each page not touched before (those "
             "just below where the stack stood already were).", (long long)pages,
             (long long)faults, (long long)new_frames, (long long)span);
    CONCLUDE(&n, "stack_stays", size == 0 && rss == 0 && faults == 0,
             VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults)),
             "Nothing moved, no fault: the pages the same depth used before are still there. A "
             "stack grows but never shrinks back on return.");
}

/* What every overflow shows: the child's signal, and its stack then. */
static void crash_facts(void)
{
    const struct probe_result *r = &crash->probe;
    if (child < 0)
        narrate_finish(&n, RESULT_FAIL, "step %d could not fork its child", n.step);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        narrate_fail_errno(&n, "the child's setup (setrlimit, mmap, pthread_create or sigaltstack)",
                           WEXITSTATUS(status));
    narrate_fact(&n, "signal", "%s", r->faulted ? probe_signal_name(r->signo) : "none");
    narrate_fact(&n, "si_code", "%s", r->faulted ? probe_code_name(r->signo, r->code) : "none");
    narrate_fact(&n, "si_addr", "%#lx", (unsigned long)r->addr);
    narrate_fact_int(&n, "child_stack_kB", crash->stack_kb);
    if (crash->limit_kb)
        narrate_fact_int(&n, "child_limit_kB", crash->limit_kb);
    CONCLUDE(&n, "caught_on_alternate_stack", r->faulted && r->signo == SIGSEGV,
             VALUES(VAL("status", status)), "The child got SIGSEGV (%s) and its handler ran on an "
             "alternate signal stack (sigaltstack): the stack itself had no room left for it.",
             probe_code_name(r->signo, r->code));
}

static void explain_rlimit(void)
{
    crash_facts();
    rlimit_code = crash->probe.faulted && crash->probe.signo == SIGSEGV ? crash->probe.code : 0;
    int64_t left = crash->limit_kb - crash->stack_kb; /* how far below the limit it stopped */
    by_rlimit = CONCLUDE(&n, "stopped_at_rlimit",
             rlimit_code == SEGV_MAPERR && left >= 0 && left < 2 * d.page_kb,
             VALUES(VAL("stack_kB", crash->stack_kb), VAL("limit_kB", crash->limit_kb),
                    VAL("si_code", rlimit_code)),
             "With RLIMIT_STACK set to %lld kB (setrlimit%s), the child's [stack] stopped at %lld "
             "kB: the kernel refused to extend it past the limit, and the next frame's write "
             "faulted on no mapping at all (SEGV_MAPERR).", (long long)crash->limit_kb,
             (rlim_t)crash->limit_kb * 1024 == limit.rlim_max ? ": the hard limit" : "",
             (long long)crash->stack_kb);
    CONCLUDE(&n, "parent_untouched", d.size[1] == d.size[0] && d.rss[1] == d.rss[0],
             VALUES(VAL("size_delta_kB", d.size[1] - d.size[0])),
             "This process's own stack did not move: the child had a copy of it.");
}

static void explain_gap(void)
{
    int64_t want = d.gap_pages * d.page_kb;
    if (CONCLUDE(&n, "gap_no_room", crash->limit_kb <= gap_stop_kb,
                 VALUES(VAL("limit_kB", crash->limit_kb), VAL("gap_stop_kB", gap_stop_kb)),
                 "Not run: the gap would stop the stack near %lld kB ([stack] now, 2 MiB down to "
                 "the page, less the %lld kB gap), but the child's limit may be %lld kB at most "
                 "(8 MiB, or the hard limit, ulimit -Hs, where lower): the limit would stop it.",
                 (long long)gap_stop_kb, (long long)want, (long long)crash->limit_kb))
        return;
    crash_facts();
    int64_t gap = (int64_t)(crash->stack_start - crash->blocker_end) / 1024;
    narrate_fact(&n, "blocker_end", "%#lx", (unsigned long)crash->blocker_end);
    narrate_fact_int(&n, "distance_kB", gap);
    by_gap = CONCLUDE(&n, "gap_kept", gap >= want && gap <= want + 2 * d.page_kb &&
                 crash->stack_kb < crash->limit_kb,
             VALUES(VAL("distance_kB", gap), VAL("gap_kB", want), VAL("stack_kB", crash->stack_kb)),
             "A page mapped 2 MiB below the stack stopped it at %lld kB, before its %lld kB limit "
             "and %lld kB above that page: not RLIMIT_STACK but the guard gap (%lld kB), which the "
             "kernel keeps free below a stack so that an overflow faults instead of running into "
             "another mapping.", (long long)crash->stack_kb, (long long)crash->limit_kb,
             (long long)gap, (long long)want);
}

static void explain_thread(void)
{
    crash_facts();
    narrate_fact_int(&n, "thread_stack_before_kB", crash->size_before_kb);
    narrate_fact(&n, "fault_perms", "%s", crash->fault_perms);
    CONCLUDE(&n, "thread_stack_fixed", crash->size_before_kb > 0 &&
                 crash->stack_kb == crash->size_before_kb, VALUES(VAL("stack_kB", crash->stack_kb)),
             "The thread's stack is a plain mapping of %lld kB (256 KiB asked for, and glibc's "
             "own data at its top): it did not grow at all.", (long long)crash->stack_kb);
    CONCLUDE(&n, "guard_page_accerr", crash->probe.code == SEGV_ACCERR &&
                 strcmp(crash->fault_perms, "---p") == 0,
             VALUES(VAL("si_code", crash->probe.code), VAL("rlimit_si_code", rlimit_code)),
             "The overflow wrote into the guard page below it, a PROT_NONE mapping (---p): "
             "SEGV_ACCERR, a mapping that may not be touched%s.",
             rlimit_code == SEGV_MAPERR ? ", where step 5 got SEGV_MAPERR, no mapping at all" : "");
}

/* The recursions ask one question; the finding beside a choice makes it the measured one. */
#define HOW_MUCH_RSS "How much does [stack]'s Rss grow?",                                       \
    {"not at all", "one page per frame deeper than before", "the whole RLIMIT_STACK at once"}, \
    {"stack_stays", "one_page_per_frame"}

static const struct narrate_lesson steps[] = {
    {"limit", "Look at the stack and its limit", read_limit, explain_limit, NO_QUESTION},
    {"recurse", "Recurse: each call a 4 KiB frame", recurse_step, explain_recurse, HOW_MUCH_RSS},
    {"recurse_again", "Recurse as deep again", recurse_step, explain_recurse, HOW_MUCH_RSS},
    {"recurse_deeper", "Recurse twice as deep", recurse_step, explain_recurse, HOW_MUCH_RSS},
    {"rlimit", "In a child, set RLIMIT_STACK and overflow", limit_step, explain_rlimit,
     NO_QUESTION},
    {"guard_gap", "In a child, map a page below the stack and overflow", gap_step, explain_gap,
     NO_QUESTION},
    {"thread", "In a child, overflow a thread's stack", thread_step, explain_thread, NO_QUESTION},
};

/* ---- Options and the machine ---- */

static const struct demo_need needs[] = {
    {NEED_PAGE_SIZE, .bytes = 4096}, /* a frame is one page */
    {0},
};

static const struct demo_info info = {
    .name = "stack-growth",
    .summary = "Recurses with 4 KiB frames and shows the [stack] mapping grow down page by\n"
               "page; then, in children, the two things that stop it - RLIMIT_STACK and the\n"
               "guard gap below the stack - and a thread's fixed stack with its guard page.",
    .examples = "  stack-growth               the seven steps\n"
                "  stack-growth --step        pause before each; watch [stack] in smaps\n"
                "  stack-growth --predict     guess how the stack grows, then see\n",
    .needs = needs,
    .lessons = LESSONS(TABLE(steps)),
};

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, NULL, NULL));
    d.anchor = (uintptr_t)__builtin_frame_address(0); /* the real stack, even under ASan */
    d.page_kb = sysconf(_SC_PAGESIZE) / 1024;
    d.gap_pages = probe_stack_guard_gap() / (d.page_kb * 1024);
    getrlimit(RLIMIT_STACK, &limit);
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    /* 1 MiB deep, or half of a lower limit; 4 KiB pages only (a frame is one page). */
    first_depth = (long)(limit.rlim_cur / 4096 / 4 < 256 ? limit.rlim_cur / 4096 / 4 : 256);
    if (limit.rlim_cur < (rlim_t)256 << 10)
        narrate_finish(&n, RESULT_SKIP, "this lesson needs an RLIMIT_STACK of at least 256 KiB; "
                       "here it is %llu kB (ulimit -s 8192 raises it)",
                       (unsigned long long)(limit.rlim_cur / 1024));
    narrate_observe(&n, observe, NULL);
    narrate_intro(&n, "stack-growth (PID %ld): recursion %ld and %ld frames deep, each frame "
                  "4 KiB.", (long)getpid(), first_depth, 2 * first_depth);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK, "recursion %ld and %ld frames deep%s%s%s; every number above "
                   "was measured in this run.", first_depth, 2 * first_depth,
                   by_rlimit ? ", a stack stopped by RLIMIT_STACK" : "",
                   by_rlimit && by_gap ? " and" : by_gap ? ", a stack stopped" : "",
                   by_gap ? " by the guard gap" : "");
}
