/* SPDX-License-Identifier: MIT */
/* fork-cow: fork copies no memory. Parent and child share every page,
 * read-only, until one of them writes: then that page alone is copied
 * (copy-on-write). vfork and posix_spawn copy nothing: their child runs
 * another program. Measured from both processes' smaps, fault counters and
 * Committed_AS. The lesson is the functions just below, in the order the
 * table at their end runs them; every child dies with the demo. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "commit.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "snapshot.h"
#include "undo.h"

extern char **environ;

/* ---- The lesson ---- */

static char *guard, *p, *d, *w; /* reservation; the lesson's memory; DONTFORK; WIPEONFORK */
static size_t size, span, page, written, small; /* small: the pages of d and w */
static pid_t child = -1, vforked = -1, spawned = -1;
static int spawn_error; /* posix_spawn returns its error: it does not set errno */
static volatile char sum;
/* vfork's and posix_spawn's program: cat, reading a pipe no one writes to,
 * so it waits (and sees its end of file when this process ends). */
static char cat_input[32]; /* "/proc/self/fd/N": that pipe */
static char *const cat_argv[] = {"cat", cat_input, NULL};
static char exe[64], exe_seen[PATH_MAX]; /* the vfork child's /proc/PID/exe, and its target */
static ssize_t exe_len;

/* The child stops until the parent lets it go on (SIGCONT), writes half of
 * the written pages, and stops again until it is killed. (LESSON_FN: under
 * ASan its writes must fault for themselves only.) */
LESSON_FN static void child_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    kill(getpid(), SIGSTOP);
    for (size_t off = 0; off < written / 2; off += page)
        p[off] = 2;
    kill(getpid(), SIGSTOP);
    _exit(0);
}

static void wait_until_asleep(pid_t pid);
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
    LESSON(&n, child = fork(); if (child == 0) child_main(););
}

LESSON_FN static void child_writes(void)
{
    LESSON(&n, kill(child, SIGCONT); waitpid(child, NULL, WUNTRACED););
}

/* vfork's child borrows this memory, and the parent waits until the child
 * calls execve or _exit: the only two things it may do. The parent's first
 * act is to read which program the child runs. (NOLINT: clang-tidy would
 * have posix_spawn, the next step.) */
LESSON_FN static void do_vfork(void)
{
    // NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.vfork)
    LESSON(&n, vforked = vfork();
           if (vforked == 0) { execve("/bin/cat", cat_argv, environ); _exit(127); }
           if (vforked < 0) narrate_fail_errno(&n, "vfork", errno);
           snprintf(exe, sizeof exe, "/proc/%d/exe", vforked);
           exe_len = readlink(exe, exe_seen, sizeof exe_seen - 1); wait_until_asleep(vforked););
}

LESSON_FN static void spawn(void)
{
    LESSON(&n, spawn_error = posix_spawn(&spawned, "/bin/cat", NULL, NULL, cat_argv, environ);
           wait_until_asleep(spawned););
}

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
    long long written_kb, size_kb, fork_charge_kb;
    bool child_ready;
    char cat_exe[PATH_MAX];           /* /bin/cat, links resolved */
} s;

/* /proc/PID/stat after the ")" that ends the command name: " S 1 ..." */
static const char *stat_fields(pid_t pid, char *buf, int len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    const char *at = f && fgets(buf, len, f) ? strrchr(buf, ')') : NULL;
    if (f)
        (void)fclose(f);
    return at ? at + 1 : " ?";
}

/* Until cat sleeps, reading its pipe: its start-up, and what exec charged, done. */
static void wait_until_asleep(pid_t pid)
{
    char buf[512];
    for (int i = 0; pid > 0 && i < 500 && !strchr("SZ", stat_fields(pid, buf, sizeof buf)[1]); i++)
        usleep(10000); /* at most 5 s */
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
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    FILE *f = fopen(path, "re");
    *v = (struct side){.w_rss = -1};
    if (!f || smaps_parse_each(f, add_entry, v) != PROCFS_OK)
        v->ac_kb = -1;
    if (f)
        (void)fclose(f);
    const char *at = stat_fields(pid, buf, sizeof buf);
    for (int field = 0; at && field < 7; field++) /* minflt: the 8th field after ")" */
        at = strchr(at + 1, ' ');
    v->minflt = at ? strtoll(at + 1, NULL, 10) : -1;
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    (void)fflush(NULL); /* nothing buffered may be written twice, by a child */
    if (after && child > 0 && !s.child_ready) /* the child's own start-up is not the lesson */
        s.child_ready = waitpid(child, NULL, WUNTRACED) == child;
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

/* The Committed_AS row; returns how much it moved. */
static long long commit_row(void)
{
    int64_t b = 0, a = 0;
    bool hb = snapshot_get(&s.before, "Committed_AS", &b);
    bool ha = snapshot_get(&s.after, "Committed_AS", &a);
    narrate_value(&n, "Committed_AS", "kB", hb, b, ha, a);
    return hb && ha ? a - b : 0;
}

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
    s.fork_charge_kb = s.ca.ac_kb;
    narrate_fact_int(&n, "child_accounted_kB", s.ca.ac_kb);
    commit_explain(&n, moved, s.ca.ac_kb, "fork_charged_child",
                   "fork charges the child for every private writable mapping it got (VmFlags "
                   "'ac' in its smaps), as if it might write them all: memory may yet be copied.");
}

static void explain_child_writes(void)
{
    side_rows(2);
    long long wk = s.written_kb, half = wk / 2, pages = half * 1024 / (long long)page;
    /* The parent's faults in the snapshot's window: only the lesson's two calls. */
    long long cf = s.ca.minflt - s.cb.minflt;
    long long pf = snapshot_delta0(&s.before, &s.after, "minor_faults");
    narrate_value(&n, "minor_faults", "", true, s.before.minflt_end, true, s.after.minflt_start);
    CONCLUDE(&n, "cow_in_child", cf >= pages && cf <= pages + 4 && s.ca.private_dirty == half,
             VALUES(VAL("child_faults", cf), VAL("pages_written", pages),
                    VAL("child_private_dirty_kB", s.ca.private_dirty)),
             "The child took %lld minor faults for %lld pages written: each write to a shared page "
             "faulted, and the kernel copied that page for the child (copy-on-write): "
             "Private_Dirty %lld kB, its own.", cf, pages, s.ca.private_dirty);
    CONCLUDE(&n, "parent_unchanged", s.pa.rss == wk && pf == 0,
             VALUES(VAL("parent_rss_kB", s.pa.rss), VAL("parent_faults", pf)),
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

static void explain_vfork(void)
{
    int st;
    if (waitpid(vforked, &st, WNOHANG) == vforked) { /* the child's execve failed: _exit(127) */
        vforked = -1;
        narrate_finish(&n, RESULT_FAIL, "the vfork child could not exec /bin/cat (exit status "
                       "%d), so there is no child to measure",
                       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    struct side cat;
    read_side(vforked, &cat);
    char status[64];
    snprintf(status, sizeof status, "/proc/%d/status", vforked);
    long long moved = commit_row(), vm_rss = procfs_read_one(status, "VmRSS");
    narrate_fact_int(&n, "vforked_pid", vforked);
    narrate_fact(&n, "exe_as_vfork_returned", "%s", exe_len > 0 ? exe_seen : "(none)");
    bool exec_done = strcmp(exe_seen, s.cat_exe) == 0;
    if (!CONCLUDE(&n, "vfork_waited_for_exec", exec_done, VALUES(VAL("exe_is_cat", exec_done)),
                  "The parent's first act after vfork returned, reading %s, found %s: the "
                  "child had exec'd already. vfork holds the parent until then, so the two "
                  "never ran on the memory they shared at once.", exe, exe_seen))
        CONCLUDE(&n, "vfork_returned_before_exec", !exec_done && exe_len > 0,
                 VALUES(VAL("exe_is_cat", exec_done)),
                 "Right after vfork returned, %s named '%s', not %s: the parent read it before "
                 "the child's exec showed there.", exe, exe_seen, s.cat_exe);
    /* What this step charged: the new child's 'ac' mappings, and any change in
     * ours (our own stdio, under ASan its allocator: a few kB; a copy: fork's). */
    long long ours = s.pa.ac_kb - s.pb.ac_kb, charge = cat.ac_kb + ours;
    CONCLUDE(&n, "vfork_is_not_a_copy", charge < s.fork_charge_kb / 2,
             VALUES(VAL("charge_kB", charge), VAL("parent_accounted_delta_kB", ours),
                    VAL("fork_charge_kB", s.fork_charge_kb), VAL("commit_delta_kB", moved)),
             "vfork and cat's exec charged %lld kB (cat's own mappings %lld kB, this process's "
             "%+lld kB), where fork charged %lld kB in step 4: no mapping of this process was "
             "copied.", charge, cat.ac_kb, ours, s.fork_charge_kb);
    CONCLUDE(&n, "vfork_child_is_cat", exec_done && !cat.mapped && vm_rss > 0,
             VALUES(VAL("child_vm_rss_kB", vm_rss), VAL("child_maps_p", cat.mapped),
                    VAL("parent_written_kB", s.written_kb)),
             "The child's memory is cat's: it has no mapping at p, where the parent's %lld kB "
             "written are, and its VmRSS, %lld kB, is all in cat's mappings.", s.written_kb,
             vm_rss);
    commit_explain(&n, moved, charge, "vfork_charged_cat_only", "vfork copies nothing; cat's "
                   "exec made the charge.");
}

static void explain_spawn(void)
{
    if (spawn_error != 0)
        narrate_fail_errno(&n, "posix_spawn /bin/cat", spawn_error);
    struct side cat;
    read_side(spawned, &cat);
    long long moved = commit_row();
    narrate_fact_int(&n, "spawned_pid", spawned);
    narrate_fact_int(&n, "spawned_accounted_kB", cat.ac_kb);
    narrate_fact_int(&n, "fork_charge_kB", s.fork_charge_kb);
    CONCLUDE(&n, "spawn_is_not_a_copy", cat.ac_kb < s.fork_charge_kb,
             VALUES(VAL("spawned_accounted_kB", cat.ac_kb),
                    VAL("fork_charge_kB", s.fork_charge_kb)),
             "posix_spawn copied nothing of this process: glibc starts the child with "
             "clone(CLONE_VM | CLONE_VFORK), as vfork does, and only cat's own mappings are "
             "charged (%lld kB, against the %lld kB fork charged).", cat.ac_kb, s.fork_charge_kb);
    commit_explain(&n, moved, cat.ac_kb, "spawn_charged_cat_only",
                   "the charge is cat's, made by its exec.");
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
    {"vfork", "vfork, and the child runs a program", do_vfork, explain_vfork,
     "When vfork returns in the parent, which program does its child run?",
     {"still this one: it was just created", "cat: it has already exec'd"},
     {"vfork_returned_before_exec", "vfork_waited_for_exec"}},
    {"spawn", "posix_spawn a program", spawn, explain_spawn, NO_QUESTION},
    {"kill_child", "The child ends", kill_child, explain_kill, NO_QUESTION},
};

/* ---- Cleanup, options, sizes ---- */

/* On every way out: no child and no cat outlive the demo. */
static void end_children(void)
{
    pid_t *const all[] = {&child, &vforked, &spawned};
    for (size_t i = 0; i < 3; i++)
        if (*all[i] > 0) {
            kill(*all[i], SIGKILL);
            waitpid(*all[i], NULL, 0);
            *all[i] = -1;
        }
}

static const struct demo_info info = {
    .name = "fork-cow",
    .summary =
        "Forks a process that has written memory and measures both sides: nothing\n"
        "is copied at fork (Pss halves, Shared_Dirty), each page the child writes is\n"
        "copied for it alone (copy-on-write), the commit charge of fork, of vfork and\n"
        "of posix_spawn, MADV_DONTFORK and MADV_WIPEONFORK, and why Pss is honest.",
    .examples = "  fork-cow                   the eight steps\n"
                "  fork-cow --step            pause before each; watch both PIDs' smaps\n"
                "  fork-cow --predict         guess what fork and vfork do, then see\n",
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
    /* 32 MiB mapped, less if this process may not; fork charges it twice. */
    struct budget budget;
    char why[400];
    uint64_t bytes;
    budget_read(&budget);
    if (budget_choose_size(&budget, 0, UINT64_C(32) << 20, page, 1024, 4, &bytes, why,
                           sizeof why) == BUDGET_NONE_FITS)
        narrate_finish(&n, RESULT_SKIP, "not even 4 MiB fit twice in what this process may use: "
                       "%s. Free some memory or raise that limit.", why);
    size = (size_t)bytes;
    s.size_kb = (long long)size / 1024;
    span = size + 2 * small + 4 * page;
    /* cat's pipe: the read end stays open across exec, the write end does not. */
    int never[2];
    if (pipe2(never, O_CLOEXEC) != 0 || fcntl(never[0], F_SETFD, 0) != 0 ||
        undo_register(end_children) != 0)
        narrate_fail_errno(&n, "pipe2", errno);
    if (!realpath("/bin/cat", s.cat_exe))
        narrate_fail_errno(&n, "realpath /bin/cat", errno);
    snprintf(cat_input, sizeof cat_input, "/proc/self/fd/%d", never[0]);
    narrate_observe(&n, observe, NULL);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n, "fork-cow (PID %ld): %s mapped; 1 MiB of it written, 1 MiB read, the rest "
                  "untouched; then fork.", (long)getpid(), size_text);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    end_children();
    narrate_finish(&n, RESULT_OK, "fork shared, the child's writes copied, vfork and posix_spawn "
                   "copied nothing; every number above was measured in this run.");
}
