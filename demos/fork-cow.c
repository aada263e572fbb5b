/* SPDX-License-Identifier: MIT */
/* fork-cow: fork copies no memory. Parent and child share every page,
 * read-only, until one of them writes: then that page alone is copied
 * (copy-on-write). Measured from both processes' smaps (Rss, Pss,
 * Shared_Dirty, Private_Dirty), both fault counters, and Committed_AS.
 *
 * The lesson is the functions just below, in the order the table at their
 * end runs them. The child does only what the parent orders it to
 * (child_main), and dies with the parent on every way out. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "snapshot.h"
#include "undo.h"

extern char **environ;

/* ---- The lesson ---- */

static char *guard, *p, *d, *w; /* reservation; the lesson's memory; DONTFORK; WIPEONFORK */
static size_t size, span, page, written, small; /* small: the pages of d and w */
static pid_t child = -1, spawned = -1;
static int order_fd = -1, done_fd = -1, spawn_stdin = -1;
static volatile char sum;

/* The child: waits for an order, does it, says it is done. (LESSON_FN:
 * under ASan its writes must fault for themselves only.) */
LESSON_FN static void child_main(int orders, int done)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char cmd = 'r'; /* ready: what fork's return did in the child is done */
    if (write(done, &cmd, 1) != 1)
        _exit(1);
    while (read(orders, &cmd, 1) == 1) {
        if (cmd == 'w') /* the child writes half of the written pages */
            for (size_t off = 0; off < written / 2; off += page)
                p[off] = 2;
        if (write(done, &cmd, 1) != 1)
            break;
    }
    _exit(0);
}

static void order(char cmd)
{
    char ack;
    if (write(order_fd, &cmd, 1) != 1 || read(done_fd, &ack, 1) != 1)
        ack = 0;
}

static struct narrator n;

LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           p = mmap(guard + page, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           d = mmap(p + size + page, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           w = mmap(d + small + page, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           madvise(guard, span, MADV_NOHUGEPAGE););
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

static int pipes[2][2];

LESSON_FN static void do_fork(void)
{
    LESSON(&n, child = fork(); if (child == 0) child_main(pipes[0][0], pipes[1][1]););
}

LESSON_FN static void child_writes(void)
{
    LESSON(&n, order('w'););
}

static posix_spawn_file_actions_t actions;
static char *const cat_argv[] = {"cat", NULL};

/* A program that waits: cat, reading a pipe we never write to. */
static void wait_until_asleep(pid_t pid);

LESSON_FN static void spawn(void)
{
    LESSON(&n, posix_spawn(&spawned, "/bin/cat", &actions, NULL, cat_argv, environ);
           wait_until_asleep(spawned););
}

LESSON_FN static void kill_child(void)
{
    LESSON(&n, kill(child, SIGKILL); waitpid(child, NULL, 0););
}

/* ---- What each step measured ---- */

struct side {                    /* one process, as its smaps shows it */
    bool mapped;
    int64_t rss, pss, shared_dirty, private_dirty, minflt, ac_kb;
    bool d_mapped;
    int64_t w_rss;
};

static struct {
    struct snapshot before, after;    /* the parent's p, meminfo, faults */
    struct side pb, pa, cb, ca;       /* parent and child before/after */
    int64_t page_kb, written_kb, size_kb, fork_charge_kb;
    bool child_ready;
    struct budget budget;
    char why[400];
} s;

static void add_accounted(const struct smaps_entry *e, void *ctx)
{
    uint64_t kb = 0;
    if (smaps_has_flag(e, "ac") && smaps_get(e, "Size", &kb))
        *(int64_t *)ctx += (int64_t)kb;
}

static int64_t stat_minflt(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    int64_t v = -1;
    /* Field 10: the 8th after the ")" that ends the command name. */
    const char *at = f && fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
    for (int field = 0; at && field < 8; field++)
        at = strchr(at + 1, ' ');
    if (at)
        v = strtoll(at + 1, NULL, 10);
    if (f)
        (void)fclose(f);
    return v;
}

static void read_side(pid_t pid, struct side *v)
{
    memset(v, 0, sizeof *v);
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    struct smaps_entry e;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (smaps_parse_entry(f, (uintptr_t)p, &e) == PROCFS_OK) {
        uint64_t x;
        v->mapped = true;
        v->rss = smaps_get(&e, "Rss", &x) ? (int64_t)x : 0;
        v->pss = smaps_get(&e, "Pss", &x) ? (int64_t)x : 0;
        v->shared_dirty = smaps_get(&e, "Shared_Dirty", &x) ? (int64_t)x : 0;
        v->private_dirty = smaps_get(&e, "Private_Dirty", &x) ? (int64_t)x : 0;
    }
    rewind(f);
    v->d_mapped = smaps_parse_entry(f, (uintptr_t)d, &e) == PROCFS_OK;
    rewind(f);
    uint64_t x = 0;
    v->w_rss = smaps_parse_entry(f, (uintptr_t)w, &e) == PROCFS_OK && smaps_get(&e, "Rss", &x) ? (int64_t)x : -1;
    rewind(f);
    if (smaps_parse_each(f, add_accounted, &v->ac_kb) != PROCFS_OK)
        v->ac_kb = -1;
    (void)fclose(f);
    v->minflt = stat_minflt(pid);
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    (void)fflush(NULL); /* nothing buffered may be written twice, by a child */
    if (!after) {
        read_side(getpid(), &s.pb);
        if (child > 0)
            read_side(child, &s.cb);
        snapshot_take_or_fail(&s.before, (uintptr_t)p, &n);
    } else {
        char ready;
        if (child > 0 && !s.child_ready) /* the child's own start-up is not the lesson */
            s.child_ready = read(done_fd, &ready, 1) == 1;
        snapshot_take_or_fail(&s.after, (uintptr_t)p, &n);
        read_side(getpid(), &s.pa);
        if (child > 0)
            read_side(child, &s.ca);
    }
}

static void side_rows(const char *who, const struct side *b, const struct side *a)
{
    static const char *const keys[] = {"Rss", "Pss", "Shared_Dirty", "Private_Dirty", "minflt"};
    for (size_t i = 0; i < 5; i++) {
        char key[40];
        snprintf(key, sizeof key, "%s_%s", who, keys[i]);
        const int64_t *bv = &b->rss + i, *av = &a->rss + i;
        narrate_value(&n, key, i < 4 ? "kB" : "", b->mapped, *bv, a->mapped, *av);
    }
}

static void commit_row(void)
{
    int64_t b = 0, a = 0;
    bool hb = snapshot_get(&s.before, "Committed_AS", &b), ha = snapshot_get(&s.after, "Committed_AS", &a);
    narrate_value(&n, "Committed_AS", "kB", hb, b, ha, a);
}

static void explain_map(void)
{
    if (p == MAP_FAILED || d == MAP_FAILED || w == MAP_FAILED || guard == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", errno);
    char maps[512];
    smaps_format_header(&s.after.entry, maps, sizeof maps);
    narrate_fact(&n, "maps", "%s", maps);
    narrate_fact(&n, "d", "%#lx", (unsigned long)d);
    narrate_fact(&n, "w", "%#lx", (unsigned long)w);
    narrate_fact_int(&n, "size_kB", s.size_kb);
    snapshot_report(&n, &s.before, &s.after, (const char *const[]){"Size", "Rss", "Committed_AS", NULL});
    commit_explain(&n, snapshot_delta0(&s.before, &s.after, "Committed_AS"),
                   s.size_kb + 2 * (int64_t)(small / 1024), "commit_charged_mappings",
                   "each private writable mapping is charged its size when it is made.");
}

static void explain_touch(void)
{
    side_rows("parent", &s.pb, &s.pa);
    narrate_fact_int(&n, "written_kB", s.written_kb);
    narrate_fact_int(&n, "read_kB", s.written_kb);
    if (FINDING(&n, "parent_owns_written", s.pa.rss == s.written_kb && s.pa.private_dirty == s.written_kb,
                VAL("rss_kB", s.pa.rss), VAL("private_dirty_kB", s.pa.private_dirty)))
        narrate_because(&n, "parent_owns_written",
                        "Rss and Private_Dirty are the %lld kB written: the pages read map the "
                        "shared zero page, which Rss does not count.", (long long)s.written_kb);
}

static void explain_advise(void)
{
    char flags[160];
    struct smaps_entry e;
    snprintf(flags, sizeof flags, "%s", smaps_read_entry((uintptr_t)d, &e) == PROCFS_OK ? e.vmflags : "");
    narrate_fact(&n, "d_VmFlags", "%s", flags);
    snprintf(flags, sizeof flags, "%s", smaps_read_entry((uintptr_t)w, &e) == PROCFS_OK ? e.vmflags : "");
    narrate_fact(&n, "w_VmFlags", "%s", flags);
    narrate_note(&n, "VmFlags 'dc' marks d (do not copy on fork), 'wf' marks w (wipe on fork), "
                 "where the kernel prints them.");
}

static void explain_fork(void)
{
    if (child < 0)
        narrate_fail_errno(&n, "fork", errno);
    narrate_fact_int(&n, "child_pid", child);
    side_rows("parent", &s.pb, &s.pa);
    side_rows("child", &s.cb, &s.ca);
    commit_row();
    int64_t wk = s.written_kb;
    bool shared = s.pa.rss == wk && s.ca.rss == wk && s.pa.shared_dirty == wk &&
                  s.ca.shared_dirty == wk && s.pa.pss == wk / 2 && s.ca.pss == wk / 2;
    if (FINDING(&n, "all_shared", shared, VAL("parent_pss_kB", s.pa.pss), VAL("child_pss_kB", s.ca.pss),
                VAL("shared_dirty_kB", s.ca.shared_dirty)))
        narrate_because(&n, "all_shared",
                        "Nothing was copied: both processes have Rss %lld kB, all of it "
                        "Shared_Dirty, the same frames mapped twice (read-only now). Pss splits "
                        "each shared page between its two users: %lld kB each.",
                        (long long)wk, (long long)s.pa.pss);
    narrate_answer(&n, shared ? 1 : s.pa.pss == wk ? 0 : -1, "all_shared");
    if (FINDING(&n, "zero_and_untouched_not_copied", s.ca.rss == wk, VAL("child_rss_kB", s.ca.rss),
                VAL("size_kB", s.size_kb)))
        narrate_because(&n, "zero_and_untouched_not_copied",
                        "The child's Rss is the written pages only: the %lld kB read (the zero "
                        "page) and the untouched rest of %lld kB cost nothing in either process.",
                        (long long)wk, (long long)s.size_kb);
    if (FINDING(&n, "dontfork_wipeonfork", !s.ca.d_mapped && s.ca.w_rss == 0 && s.pa.w_rss > 0,
                VAL("child_w_rss_kB", s.ca.w_rss), VAL("parent_w_rss_kB", s.pa.w_rss)))
        narrate_because(&n, "dontfork_wipeonfork",
                        "The child has no mapping at d at all (MADV_DONTFORK), and at w a mapping "
                        "with nothing in it (MADV_WIPEONFORK: it would read zeroes), while the "
                        "parent keeps both.");
    s.fork_charge_kb = s.ca.ac_kb;
    narrate_fact_int(&n, "child_accounted_kB", s.ca.ac_kb);
    commit_explain(&n, snapshot_delta0(&s.before, &s.after, "Committed_AS"), s.ca.ac_kb,
                   "fork_charged_child",
                   "fork charges the child for every private writable mapping it got (VmFlags "
                   "'ac' in its smaps), as if it might write them all: memory may yet be copied.");
}

static void explain_child_writes(void)
{
    side_rows("parent", &s.pb, &s.pa);
    side_rows("child", &s.cb, &s.ca);
    int64_t wk = s.written_kb, half = wk / 2, pages = half / s.page_kb;
    /* The parent's faults in the snapshot's window: only order('w') itself. */
    int64_t cf = s.ca.minflt - s.cb.minflt, pf = snapshot_delta0(&s.before, &s.after, "minor_faults");
    narrate_value(&n, "minor_faults", "", true, s.before.minflt_end, true, s.after.minflt_start);
    bool cow = cf >= pages && cf <= pages + 4 && s.ca.private_dirty == half;
    if (FINDING(&n, "cow_in_child", cow, VAL("child_faults", cf), VAL("pages_written", pages),
                VAL("child_private_dirty_kB", s.ca.private_dirty)))
        narrate_because(&n, "cow_in_child",
                        "The child took %lld minor faults for %lld pages written: each write to "
                        "a shared page faulted, and the kernel copied that page for the child "
                        "(copy-on-write). They are the child's own now: Private_Dirty %lld kB.",
                        (long long)cf, (long long)pages, (long long)s.ca.private_dirty);
    narrate_answer(&n, cow ? 1 : cf == 0 ? 0 : -1, "cow_in_child");
    if (FINDING(&n, "parent_unchanged", s.pa.rss == wk && pf == 0, VAL("parent_rss_kB", s.pa.rss),
                VAL("parent_faults", pf)))
        narrate_because(&n, "parent_unchanged",
                        "The parent took no fault and its Rss stays %lld kB; the originals of the "
                        "copied pages are now its alone (Private_Dirty %lld kB).",
                        (long long)wk, (long long)s.pa.private_dirty);
    int64_t frames = wk + half, rss_sum = s.pa.rss + s.ca.rss, pss_sum = s.pa.pss + s.ca.pss;
    narrate_fact_int(&n, "ps_rss_sum_kB", rss_sum);
    narrate_fact_int(&n, "smem_pss_sum_kB", pss_sum);
    if (FINDING(&n, "pss_adds_up", pss_sum >= frames - 2 && pss_sum <= frames && rss_sum == 2 * wk,
                VAL("pss_sum_kB", pss_sum), VAL("rss_sum_kB", rss_sum), VAL("frames_kB", frames)))
        narrate_because(&n, "pss_adds_up",
                        "ps shows Rss: %lld kB + %lld kB = %lld kB for these pages, yet only %lld "
                        "kB of frames exist (the written pages and the child's copies). smem's "
                        "Pss divides each shared page among its users: %lld kB + %lld kB = %lld "
                        "kB, the frames there are. That is why Pss is the honest figure.",
                        (long long)s.pa.rss, (long long)s.ca.rss, (long long)rss_sum,
                        (long long)frames, (long long)s.pa.pss, (long long)s.ca.pss,
                        (long long)pss_sum);
}

static void wait_until_asleep(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 500; i++) { /* at most 5 s */
        FILE *f = fopen(path, "re");
        const char *r = f && fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        if (f)
            (void)fclose(f);
        if (r && r[2] == 'S')
            return;
        usleep(10000);
    }
}

static void explain_spawn(void)
{
    commit_row();
    struct side cat = {0};
    if (spawned > 0)
        read_side(spawned, &cat);
    else
        narrate_fail_errno(&n, "posix_spawn /bin/cat", errno);
    narrate_fact_int(&n, "spawned_pid", spawned);
    narrate_fact_int(&n, "spawned_accounted_kB", cat.ac_kb);
    narrate_fact_int(&n, "fork_charge_kB", s.fork_charge_kb);
    if (FINDING(&n, "spawn_is_not_a_copy", cat.ac_kb < s.fork_charge_kb,
                VAL("spawned_accounted_kB", cat.ac_kb), VAL("fork_charge_kB", s.fork_charge_kb)))
        narrate_because(&n, "spawn_is_not_a_copy",
                        "posix_spawn copied nothing of this process: glibc starts the child with "
                        "clone(CLONE_VM | CLONE_VFORK), sharing this memory until exec, and only "
                        "cat's own mappings are charged (%lld kB, against the %lld kB fork "
                        "charged).", (long long)cat.ac_kb, (long long)s.fork_charge_kb);
    commit_explain(&n, snapshot_delta0(&s.before, &s.after, "Committed_AS"), cat.ac_kb,
                   "spawn_charged_cat_only", "the charge is cat's, made by its exec.");
}

static void explain_kill(void)
{
    side_rows("parent", &s.pb, &s.pa);
    commit_row();
    if (FINDING(&n, "parent_owns_all_again", s.pa.pss == s.pa.rss && s.pa.shared_dirty == 0,
                VAL("pss_kB", s.pa.pss), VAL("rss_kB", s.pa.rss)))
        narrate_because(&n, "parent_owns_all_again",
                        "With the child gone, every page is the parent's alone: Pss equals Rss "
                        "(%lld kB), nothing is Shared_Dirty.", (long long)s.pa.rss);
    commit_explain(&n, snapshot_delta0(&s.before, &s.after, "Committed_AS"), -s.cb.ac_kb,
                   "child_charge_returned", "the child's charge goes with it.");
    child = -1;
}

static const struct step {
    const char *id, *title;
    void (*lesson)(void);
    void (*explain)(void);
} steps[] = {
    {"map", "Map the memory: p, d and w, with guard pages", map, explain_map},
    {"touch", "Write some pages, read others, leave the rest", touch, explain_touch},
    {"advise", "d: not for the child; w: wiped for the child", advise, explain_advise},
    {"fork", "fork", do_fork, explain_fork},
    {"child_writes", "The child writes half of the written pages", child_writes, explain_child_writes},
    {"spawn", "posix_spawn a program", spawn, explain_spawn},
    {"kill_child", "The child ends", kill_child, explain_kill},
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* ---- Cleanup, options, sizes ---- */

/* On every way out: no child and no cat outlive the demo. */
static void end_children(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (spawned > 0) {
        kill(spawned, SIGKILL);
        waitpid(spawned, NULL, 0);
        spawned = -1;
    }
}

static const struct demo_info info = {
    .name = "fork-cow",
    .summary =
        "Forks a process that has written memory and measures both sides: nothing\n"
        "is copied at fork (Pss halves, Shared_Dirty), each page the child writes is\n"
        "copied for it alone (copy-on-write), the commit charge of fork and of\n"
        "posix_spawn, MADV_DONTFORK and MADV_WIPEONFORK, and why Pss is honest.",
    .examples = "  fork-cow                   the seven steps\n"
                "  fork-cow --step            pause before each; watch both PIDs' smaps\n"
                "  fork-cow --predict         guess what fork shares, then see\n",
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, NULL, NULL);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);
    page = (size_t)sysconf(_SC_PAGESIZE);
    written = 256 * page;
    small = 16 * page;
    s.page_kb = (int64_t)(page / 1024);
    s.written_kb = (int64_t)(written / 1024);
    narrate_init(&n, info.name, &common, NSTEPS);
    /* 32 MiB mapped, less if this process may not; fork charges it twice. */
    budget_read(&s.budget);
    uint64_t bytes;
    if (budget_choose_size(&s.budget, 0, UINT64_C(32) << 20, page, 1024, 4, &bytes, s.why,
                           sizeof s.why) == BUDGET_NONE_FITS)
        narrate_finish(&n, RESULT_SKIP, "not even 4 MiB fit twice in what this process may use: "
                       "%s. Free some memory or raise that limit.", s.why);
    size = (size_t)bytes;
    s.size_kb = (int64_t)(size / 1024);
    span = size + 2 * small + 4 * page;
    if (pipe2(pipes[0], O_CLOEXEC) != 0 || pipe2(pipes[1], O_CLOEXEC) != 0 ||
        posix_spawn_file_actions_init(&actions) != 0 || undo_register(end_children) != 0)
        narrate_fail_errno(&n, "pipe2", errno);
    order_fd = pipes[0][1];
    done_fd = pipes[1][0];
    int never[2];
    if (pipe2(never, O_CLOEXEC) != 0 ||
        posix_spawn_file_actions_adddup2(&actions, never[0], STDIN_FILENO) != 0 ||
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0)
        narrate_fail_errno(&n, "pipe2", errno);
    spawn_stdin = never[1];
    narrate_observe(&n, observe, NULL);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n, "fork-cow (PID %ld): %s mapped; 1 MiB of it written, 1 MiB read, the rest "
                  "untouched; then fork.", (long)getpid(), size_text);
    for (int i = 0; i < NSTEPS; i++) {
        narrate_begin(&n, steps[i].id, steps[i].title);
        if (steps[i].lesson == do_fork)
            narrate_ask(&n, "After fork, the parent's Pss for the written pages?",
                        (const char *const[]){"all of them, as before", "half: each page has "
                                              "two users now", "none: the child has them", NULL});
        if (steps[i].lesson == child_writes)
            narrate_ask(&n, "How many page faults does the child take for its writes?",
                        (const char *const[]){"none: the pages are there", "one per page "
                                              "written", "one for the whole range", NULL});
        steps[i].lesson();
        steps[i].explain();
        narrate_end_step(&n);
        if (steps[i].lesson == map)
            narrate_watch(&n, (uintptr_t)p);
    }
    end_children();
    close(spawn_stdin);
    narrate_finish(&n, RESULT_OK, "fork shared, the child's writes copied, Pss told the truth; "
                   "every number above was measured in this run.");
}
