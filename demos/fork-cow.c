/* SPDX-License-Identifier: MIT */
/* fork-cow: fork copies no memory. Parent and child share every page,
 * read-only, until one of them writes: then that page alone is copied
 * (copy-on-write). Yet fork charges the child for all of it at once
 * (vfork-spawn shows what starting a program without the copy costs).
 * Measured from both processes' smaps, fault counters and Committed_AS. The
 * lesson is the functions just below, in the order the table at their end
 * runs them; the child dies with the demo. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "commit.h"
#include "lesson-code.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "snapshot-report.h"
#include "snapshot.h"
#include "undo.h"

/* ---- The lesson ---- */

static char *guard, *p, *d, *w; /* reservation; the lesson's memory; DONTFORK; WIPEONFORK */
static size_t size, span, page, written, small; /* small: the pages of d and w */
static pid_t child = -1, parent; /* parent: getpid() before fork */
static volatile char sum;

/* What the child writes, shown by step 5, in which it runs. (LESSON_FN, as LESSON_CODE
 * makes it: under ASan its writes must fault for themselves only.) */
LESSON_CODE(void, child_writes_half,
    for (size_t off = 0; off < written / 2; off += page)
        p[off] = 2;
)

/* The child stops until the parent lets it go on (SIGCONT), writes, and stops again until it
 * is killed. A parent killed before prctl took effect is not seen by it: then the child was
 * already someone else's, and ends at once. */
static void child_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    kill(getpid(), SIGSTOP);
    child_writes_half();
    kill(getpid(), SIGSTOP);
    _exit(0);
}

static struct narrator n;

LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (guard == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
           p = mmap(guard + page, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           d = mmap(p + size + page, small, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           w = mmap(d + small + page, small, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           madvise(guard, span, MADV_NOHUGEPAGE););
    narrate_watch(&n, (uintptr_t)p);
}

LESSON_FN static void touch(void)
{
    LESSON(&n, for (size_t off = 0; off < written; off += page) p[off] = 1;
           for (size_t off = written; off < 2 * written; off += page) sum += FORCE_READ(p[off]);
           memset(d, 1, small); memset(w, 1, small););
}

LESSON_FN static void advise(void)
{
    LESSON(&n, madvise(d, small, MADV_DONTFORK); madvise(w, small, MADV_WIPEONFORK););
}

LESSON_FN static void do_fork(void)
{
    parent = getpid();
    LESSON(&n, child = fork(); if (child == 0) child_main(););
    if (child > 0 && undo_track_child(child) != 0) /* no child outlives the demo, Ctrl-C too */
        narrate_fail_errno(&n, "atexit", errno);
}

LESSON_FN static void child_writes(void)
{
    LESSON_AROUND(&n, kill(child, SIGCONT);, child_writes_half,
                  waitpid(child, NULL, WUNTRACED););
}

/* The undo stops tracking the child as this code starts (observe, after the --step pause), not
 * after the reap: a signal in between would have it kill a PID that may be another process's
 * by then. Until the kill, PR_SET_PDEATHSIG still ends the child should the demo die. */
LESSON_FN static void kill_child(void)
{
    LESSON(&n, kill(child, SIGKILL); waitpid(child, NULL, 0););
}

/* ---- What each step measured ---- */

struct side {                /* one process: its entry at p, faults, charge, d and w */
    bool mapped;
    long long rss, pss, shared_dirty, private_dirty, minflt, ac_kb;
    bool d_mapped;
    long long w_rss;         /* -1: no mapping at w */
};

static struct {
    struct snapshot before, after;    /* the parent's p, meminfo, faults */
    struct side pb, pa, cb, ca;       /* parent and child before/after */
    long long written_kb, size_kb;
    bool child_ready;
} s;

/* A process's minor faults: the 8th field of /proc/PID/stat after the ")" that ends the
 * command name (which may hold spaces), " S ppid pgrp session tty tpgid flags minflt". */
static long long minflt_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    const char *at = procfs_read_text(path, buf, sizeof buf) > 0 ? strrchr(buf, ')') : NULL;
    for (int field = 0; at && field < 8; field++)
        at = strchr(at + 1, ' ');
    return at ? strtoll(at + 1, NULL, 10) : -1;
}

static long long kb(const struct smaps_entry *e, const char *key)
{
    uint64_t v = 0;
    return smaps_get(e, key, &v) ? (long long)v : 0;
}

static bool covers(const struct smaps_entry *e, const void *addr)
{
    return e->start <= (uintptr_t)addr && (uintptr_t)addr < e->end;
}

static void add_entry(const struct smaps_entry *e, void *ctx)
{
    struct side *v = ctx;
    if (covers(e, p))
        *v = (struct side){true, kb(e, "Rss"), kb(e, "Pss"), kb(e, "Shared_Dirty"),
                           kb(e, "Private_Dirty"), 0, v->ac_kb, v->d_mapped, v->w_rss};
    v->d_mapped |= covers(e, d);
    v->w_rss = covers(e, w) ? kb(e, "Rss") : v->w_rss;
    v->ac_kb += smaps_has_flag(e, "ac") ? kb(e, "Size") : 0; /* what fork would charge */
}

static void read_side(pid_t pid, struct side *v)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    FILE *f = fopen(path, "re");
    *v = (struct side){.w_rss = -1};
    if (!f || smaps_parse_each(f, add_entry, v) != PROCFS_OK)
        v->ac_kb = -1;
    if (f)
        (void)fclose(f);
    v->minflt = minflt_of(pid);
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    (void)fflush(NULL); /* nothing buffered may be written twice, by a child */
    if (after && child > 0 && !s.child_ready) /* the child's own start-up is not the lesson */
        s.child_ready = waitpid(child, NULL, WUNTRACED) == child;
    if (!after && strcmp(n.id, "kill_child") == 0) /* the step reaps it: see kill_child */
        (void)undo_track_child(0);
    if (after)
        snapshot_take_or_fail(&s.after, (uintptr_t)p, &n);
    read_side(getpid(), after ? &s.pa : &s.pb);
    if (child > 0)
        read_side(child, after ? &s.ca : &s.cb);
    if (!after)
        snapshot_take_or_fail(&s.before, (uintptr_t)p, &n);
}

/* The rows of the parent (1), or of the parent and the child (2). */
static void side_rows(int processes)
{
    static const char *const keys[] = {"Rss", "Pss", "Shared_Dirty", "Private_Dirty", "minflt"};
    const struct side *sides[2][2] = {{&s.pb, &s.pa}, {&s.cb, &s.ca}};
    for (int who = 0; who < processes; who++)
        for (size_t i = 0; i < 5; i++) {
            const struct side *b = sides[who][0], *a = sides[who][1];
            char key[40];
            snprintf(key, sizeof key, "%s_%s", who ? "child" : "parent", keys[i]);
            narrate_value(&n, key, i < 4 ? "kB" : "", b->mapped, (&b->rss)[i], a->mapped,
                          (&a->rss)[i]);
        }
}

static long long commit_row(void) { return snapshot_row(&n, &s.before, &s.after, "Committed_AS"); }

static void explain_map(void)
{
    if (p == MAP_FAILED || d == MAP_FAILED || w == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", n.lesson_errno);
    snapshot_maps_fact(&n, &s.after.entry);
    narrate_fact(&n, "d", "%#lx", (unsigned long)d);
    narrate_fact(&n, "w", "%#lx", (unsigned long)w);
    narrate_fact_int(&n, "size_kB", s.size_kb);
    snapshot_report(&n, &s.before, &s.after, (const char *const[]){"Size", "Rss", NULL});
    commit_explain(&n, commit_row(), s.size_kb + 2 * (long long)small / 1024,
                   "commit_charged_mappings",
                   "each private writable mapping is charged its size when it is made.");
}

static void explain_touch(void)
{
    side_rows(1);
    narrate_fact_int(&n, "written_kB", s.written_kb);
    narrate_fact_int(&n, "read_kB", s.written_kb);
    CONCLUDE(&n, "parent_owns_written", s.pa.rss == s.written_kb &&
                 s.pa.private_dirty == s.written_kb,
             VALUES(VAL("rss_kB", s.pa.rss), VAL("private_dirty_kB", s.pa.private_dirty)),
             "Rss and Private_Dirty are the %lld kB written: the pages read map the shared zero "
             "page, which Rss does not count.", s.written_kb);
}

static void explain_advise(void)
{
    struct smaps_entry e;
    narrate_fact(&n, "d_VmFlags", "%s",
                 smaps_read_entry((uintptr_t)d, &e) == PROCFS_OK ? e.vmflags : "");
    narrate_fact(&n, "w_VmFlags", "%s",
                 smaps_read_entry((uintptr_t)w, &e) == PROCFS_OK ? e.vmflags : "");
    narrate_note(&n, "VmFlags 'dc' marks d (do not copy on fork), 'wf' marks w (wipe on fork), "
                 "where the kernel prints them.");
}

static void explain_fork(void)
{
    if (child < 0)
        narrate_fail_errno(&n, "fork", errno);
    narrate_fact_int(&n, "child_pid", child);
    side_rows(2);
    long long moved = commit_row(), wk = s.written_kb;
    CONCLUDE(&n, "all_shared", s.pa.rss == wk && s.ca.rss == wk && s.pa.shared_dirty == wk &&
                 s.ca.shared_dirty == wk && s.pa.pss == wk / 2 && s.ca.pss == wk / 2,
             VALUES(VAL("parent_pss_kB", s.pa.pss), VAL("child_pss_kB", s.ca.pss),
                    VAL("shared_dirty_kB", s.ca.shared_dirty)),
             "Nothing was copied: both have Rss %lld kB, all Shared_Dirty, the same frames mapped "
             "twice (read-only now); Pss gives each of the two users half: %lld kB.", wk, s.pa.pss);
    CONCLUDE(&n, "zero_and_untouched_not_copied", s.ca.rss == wk,
             VALUES(VAL("child_rss_kB", s.ca.rss), VAL("size_kB", s.size_kb)),
             "The child's Rss is the written pages only: the %lld kB read (the zero page) and the "
             "untouched rest of %lld kB cost neither process anything.", wk, s.size_kb);
    CONCLUDE(&n, "dontfork_wipeonfork", !s.ca.d_mapped && s.ca.w_rss == 0 && s.pa.w_rss > 0,
             VALUES(VAL("child_w_rss_kB", s.ca.w_rss), VAL("parent_w_rss_kB", s.pa.w_rss)),
             "The child has no mapping at d (MADV_DONTFORK), and at w an empty one "
             "(MADV_WIPEONFORK: it would read zeroes); the parent keeps both.");
    commit_explain_fork(&n, moved, s.ca.ac_kb);
}

static void explain_child_writes(void)
{
    side_rows(2);
    long long wk = s.written_kb, half = wk / 2, pages = half * 1024 / (long long)page;
    /* The parent's faults in the snapshot's window: only the lesson's two calls. */
    long long cf = s.ca.minflt - s.cb.minflt;
    long long pf = snapshot_row(&n, &s.before, &s.after, "minor_faults");
    CONCLUDE(&n, "cow_in_child", cf >= pages && cf <= pages + 4 && s.ca.private_dirty == half,
             VALUES(VAL("child_faults", cf), VAL("pages_written", pages),
                    VAL("child_private_dirty_kB", s.ca.private_dirty)),
             "The child took %lld minor faults for %lld pages written: each write to a shared page "
             "faulted, and the kernel copied that page for the child (copy-on-write): "
             "Private_Dirty %lld kB, its own.", cf, pages, s.ca.private_dirty);
    CONCLUDE(&n, "parent_unchanged", s.pa.rss == wk && pf == 0 && s.pa.private_dirty == half,
             VALUES(VAL("parent_rss_kB", s.pa.rss), VAL("parent_faults", pf),
                    VAL("parent_private_dirty_kB", s.pa.private_dirty)),
             "The parent took no fault and its Rss stays %lld kB; the originals of the copied "
             "pages are its alone now (Private_Dirty %lld kB).", wk, s.pa.private_dirty);
    long long frames = wk + half, rss_sum = s.pa.rss + s.ca.rss, pss_sum = s.pa.pss + s.ca.pss;
    narrate_fact_int(&n, "ps_rss_sum_kB", rss_sum);
    narrate_fact_int(&n, "smem_pss_sum_kB", pss_sum);
    CONCLUDE(&n, "pss_adds_up", pss_sum >= frames - 2 && pss_sum <= frames && rss_sum == 2 * wk,
             VALUES(VAL("pss_sum_kB", pss_sum), VAL("rss_sum_kB", rss_sum),
                    VAL("frames_kB", frames)),
             "ps adds up Rss: %lld kB, yet only %lld kB of frames exist (the written pages and the "
             "child's copies). smem adds up Pss, which shares each page among its users: %lld kB, "
             "the frames there are. Pss is the honest figure.", rss_sum, frames, pss_sum);
}

static void explain_kill(void)
{
    side_rows(1);
    long long moved = commit_row();
    CONCLUDE(&n, "parent_owns_all_again", s.pa.pss == s.pa.rss && s.pa.shared_dirty == 0,
             VALUES(VAL("pss_kB", s.pa.pss), VAL("rss_kB", s.pa.rss)),
             "With the child gone, every page is the parent's alone: Pss equals Rss (%lld kB), "
             "nothing is Shared_Dirty.", s.pa.rss);
    commit_explain(&n, moved, -s.cb.ac_kb, "child_charge_returned",
                   "the child's charge goes with it.");
    child = -1;
}

/* The lesson as a table. With --predict a step asks its question before its
 * code runs; the finding beside a choice is what makes it the measured one. */
static const struct narrate_lesson steps[] = {
    {"map", "Map the memory: p, d and w, with guard pages", map, explain_map, NO_QUESTION},
    {"touch", "Write some pages, read others, leave the rest", touch, explain_touch, NO_QUESTION},
    {"advise", "d: not for the child; w: wiped for the child", advise, explain_advise, NO_QUESTION},
    {"fork", "fork", do_fork, explain_fork, "After fork, the parent's Pss for the written pages?",
     {"all of them, as before", "half: each page has two users now", "none: the child has them"},
     {NULL, "all_shared"}},
    {"child_writes", "The child writes half of the written pages", child_writes,
     explain_child_writes, "How many page faults does the child take for its writes?",
     {"none: the pages are there", "one per page written", "one for the whole range"},
     {NULL, "cow_in_child"}},
    {"kill_child", "The child ends", kill_child, explain_kill, NO_QUESTION},
};

/* ---- Options, sizes ---- */

static const struct demo_info info = {
    .name = "fork-cow",
    .summary =
        "Forks a process that has written memory and measures both sides: nothing\n"
        "is copied at fork (Pss halves, Shared_Dirty), each page the child writes is\n"
        "copied for it alone (copy-on-write), fork's commit charge, MADV_DONTFORK\n"
        "and MADV_WIPEONFORK, and why Pss is honest.",
    .examples = "  fork-cow                   the six steps\n"
                "  fork-cow --step            pause before each; watch both PIDs' smaps\n"
                "  fork-cow --predict         guess what fork and the child's writes do\n",
    .draws = DRAWS_COMMIT,
    .lessons = LESSONS(TABLE(steps)),
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, NULL, NULL);
    cli_no_positionals(&info, argc, argv, first);
    page = (size_t)sysconf(_SC_PAGESIZE);
    written = 256 * page;
    small = 16 * page;
    s.written_kb = (long long)written / 1024;
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    size = commit_fork_size(&n, page);
    s.size_kb = (long long)size / 1024;
    span = size + 2 * small + 4 * page;
    narrate_observe(&n, observe, NULL);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n, "fork-cow (PID %ld): %s mapped; 1 MiB of it written, 1 MiB read, the rest "
                  "untouched; then fork.", (long)getpid(), size_text);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK, "fork shared, the child's writes copied; every number above "
                   "was measured in this run.");
}
