/* SPDX-License-Identifier: MIT */
/* vfork-spawn: starting another program need not cost a copy. fork charges
 * its child for all of this process's private writable memory, as if every
 * page might yet be copied, and makes the written pages copy-on-write: this
 * process's next write to each faults (fork-cow shows what it shares and
 * copies). vfork and posix_spawn copy nothing: their child borrows this
 * memory until it has exec'd, the same rewrite takes no fault, and only the
 * new program's own mappings are charged. Measured from each process's smaps,
 * status and exe link, this process's fault count, and Committed_AS. The
 * lesson is the functions just below, in the order the table at their end
 * runs them; every child dies with the demo. */
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

#include "cli.h"
#include "commit.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "runid.h"
#include "snapshot-report.h"
#include "snapshot.h"
#include "undo.h"

extern char **environ;

/* ---- The lesson ---- */

static char *guard, *p; /* a guard page each side keeps p a mapping of its own */
static size_t size, page, written;
static pid_t child = -1, vforked = -1, spawned = -1, parent; /* parent: getpid() before fork */
static int spawn_error; /* posix_spawn returns its error: it does not set errno */
/* vfork's and posix_spawn's program: cat, reading a pipe no one writes to,
 * so it waits (and sees its end of file when this process ends). */
static char cat_input[32]; /* "/proc/self/fd/N": that pipe */
static char *const cat_argv[] = {"cat", cat_input, NULL};
static char exe[64], exe_seen[PATH_MAX]; /* the vfork child's /proc/PID/exe, and its target */
static ssize_t exe_len;

/* fork's child is here only to be charged: it stops until it is killed. A
 * parent killed before prctl took effect is not seen by it: then the child is
 * already someone else's, and ends at once. */
static void child_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    kill(getpid(), SIGSTOP);
    _exit(0);
}

static void wait_until_asleep(pid_t pid);
static struct narrator n;

LESSON_FN static void map(void)
{
    LESSON(&n, guard = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (guard == MAP_FAILED) narrate_fail_errno(&n, "mmap", errno);
           p = mmap(guard + page, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
           madvise(p, size, MADV_NOHUGEPAGE);
           for (size_t off = 0; off < written; off += page) p[off] = 1;);
    narrate_watch(&n, (uintptr_t)p);
}

/* After each start, this process writes its written pages again: a page that
 * start made copy-on-write faults on that write. */
LESSON_FN static void do_fork(void)
{
    parent = getpid();
    LESSON(&n, child = fork(); if (child == 0) child_main();
           for (size_t off = 0; off < written; off += page) p[off] = 2;);
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
           exe_len = readlink(exe, exe_seen, sizeof exe_seen - 1); wait_until_asleep(vforked);
           for (size_t off = 0; off < written; off += page) p[off] = 3;);
}

LESSON_FN static void spawn(void)
{
    LESSON(&n, spawn_error = posix_spawn(&spawned, "/bin/cat", NULL, NULL, cat_argv, environ);
           wait_until_asleep(spawned);
           for (size_t off = 0; off < written; off += page) p[off] = 4;);
}

LESSON_FN static void end_all(void)
{
    LESSON(&n, kill(child, SIGKILL); kill(vforked, SIGKILL); kill(spawned, SIGKILL);
           waitpid(child, NULL, 0); waitpid(vforked, NULL, 0); waitpid(spawned, NULL, 0););
    child = vforked = spawned = -1; /* reaped: their PIDs may be another process's soon */
}

/* ---- What each step measured ---- */

struct side {           /* one process */
    bool mapped;        /* it has a mapping at p */
    long long ac_kb;    /* its accounted ('ac') mappings, summed: what fork charges */
};

/* Major faults count as much as minor ones: a written page swapped out during a
 * long --step pause comes back by a major fault, which also makes its copy. */
struct faults {
    long long minor, major;
};

static long long total(struct faults f) { return f.minor + f.major; }

static struct {
    struct snapshot before, after;    /* this process's p and meminfo */
    struct side pb, pa;               /* this process before/after */
    long long written_kb, size_kb, fork_charge_kb, cats_kb; /* cats_kb: both cats' charges */
    long long pages;                  /* the written pages */
    struct faults fork_faults;        /* this process's faults at fork */
    bool child_ready;
    char cat_exe[PATH_MAX];           /* /bin/cat, links resolved */
} s;

/* Until cat sleeps, reading its pipe: its start-up, and what exec charged, done. */
static void wait_until_asleep(pid_t pid)
{
    char path[64], buf[1024], state = 0;
    uint64_t start;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (int i = 0; pid > 0 && i < 500; i++) { /* at most 5 s */
        if (procfs_read_text(path, buf, sizeof buf) > 0 && runid_parse_stat(buf, &state, &start) &&
            (state == 'S' || state == 'Z'))
            return;
        usleep(10000);
    }
}

static void add_entry(const struct smaps_entry *e, void *ctx)
{
    struct side *v = ctx;
    uint64_t kb = 0;
    v->mapped |= e->start <= (uintptr_t)p && (uintptr_t)p < e->end;
    if (smaps_has_flag(e, "ac") && smaps_get(e, "Size", &kb))
        v->ac_kb += (long long)kb;
}

static struct side read_side(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    FILE *f = fopen(path, "re");
    struct side v = {0};
    if (!f || smaps_parse_each(f, add_entry, &v) != PROCFS_OK)
        v.ac_kb = -1;
    if (f)
        (void)fclose(f);
    return v;
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    (void)fflush(NULL); /* nothing buffered may be written twice, by a child */
    if (after && child > 0 && !s.child_ready) /* the child's own start-up is not the lesson */
        s.child_ready = waitpid(child, NULL, WUNTRACED) == child;
    if (after)
        snapshot_take_or_fail(&s.after, (uintptr_t)p, &n);
    *(after ? &s.pa : &s.pb) = read_side(getpid());
    if (!after)
        snapshot_take_or_fail(&s.before, (uintptr_t)p, &n);
}

static long long commit_row(void) { return snapshot_row(&n, &s.before, &s.after, "Committed_AS"); }

/* This process's faults in the step's code: its rewrite of the written pages,
 * and a few for the rest (the pages it touches first since fork). */
static struct faults faults_row(void)
{
    struct faults f;
    f.minor = snapshot_row(&n, &s.before, &s.after, "minor_faults");
    f.major = snapshot_row(&n, &s.before, &s.after, "major_faults");
    return f;
}

/* Far fewer faults than pages rewritten (a sixteenth), where fork's rewrite
 * faulted on each: the start made at most that many of them copy-on-write. */
static bool no_cow(struct faults f)
{
    return total(f) < s.pages / 16 && total(s.fork_faults) >= s.pages;
}

static void explain_map(void)
{
    snapshot_maps_fact(&n, &s.after.entry);
    narrate_fact_int(&n, "size_kB", s.size_kb);
    narrate_fact_int(&n, "written_kB", s.written_kb);
    s.pages = (long long)(written / page);
    snapshot_report(&n, &s.before, &s.after, (const char *const[]){"Size", "Rss", NULL});
    commit_explain(&n, commit_row(), s.size_kb, "commit_charged_mappings",
                   "a private writable mapping is charged its size when it is made.");
}

static void explain_fork(void)
{
    if (child < 0)
        narrate_fail_errno(&n, "fork", n.lesson_errno);
    struct side forked = read_side(child);
    s.fork_charge_kb = forked.ac_kb;
    narrate_fact_int(&n, "child_pid", child);
    long long moved = commit_row();
    struct faults f = s.fork_faults = faults_row();
    commit_explain_fork(&n, moved, forked.ac_kb);
    CONCLUDE(&n, "fork_made_pages_cow", total(f) >= s.pages,
             VALUES(VAL("minor_faults", f.minor), VAL("major_faults", f.major),
                    VAL("pages_rewritten", s.pages)),
             "Rewriting the %lld written pages after fork took %lld faults (%lld of them "
             "major, pages read back from swap), one a page at least: fork had made them "
             "read-only in both processes, each to be copied at its first write "
             "(copy-on-write).", s.pages, total(f), f.major);
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
    struct side cat = read_side(vforked);
    char status[64];
    snprintf(status, sizeof status, "/proc/%d/status", vforked);
    long long moved = commit_row();
    struct faults f = faults_row();
    long long vm_rss = procfs_read_one(status, "VmRSS");
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
    CONCLUDE(&n, "vfork_is_not_a_copy", no_cow(f) && charge < s.fork_charge_kb / 2,
             VALUES(VAL("charge_kB", charge), VAL("parent_accounted_delta_kB", ours),
                    VAL("fork_charge_kB", s.fork_charge_kb), VAL("commit_delta_kB", moved),
                    VAL("minor_faults", f.minor), VAL("major_faults", f.major),
                    VAL("fork_minor_faults", s.fork_faults.minor)),
             "After cat's exec, rewriting the %lld written pages took %lld fault%s in all "
             "(%lld after fork): vfork made at most %lld of them copy-on-write, fork every "
             "one. It and the exec charged %lld kB (cat's mappings %lld kB, this "
             "process's %+lld kB), fork %lld kB.", s.pages, total(f), total(f) == 1 ? "" : "s",
             total(s.fork_faults), total(f), charge, cat.ac_kb, ours, s.fork_charge_kb);
    CONCLUDE(&n, "vfork_child_is_cat", exec_done && !cat.mapped && vm_rss > 0,
             VALUES(VAL("child_vm_rss_kB", vm_rss), VAL("child_maps_p", cat.mapped),
                    VAL("parent_written_kB", s.written_kb)),
             "The child's memory is cat's: it has no mapping at p, where the parent's %lld kB "
             "written are, and its VmRSS, %lld kB, is all in cat's mappings.", s.written_kb,
             vm_rss);
    s.cats_kb += cat.ac_kb;
    commit_explain(&n, moved, charge, "vfork_charged_cat_only", "vfork copies nothing; cat's "
                   "exec made the charge.");
}

static void explain_spawn(void)
{
    if (spawn_error != 0)
        narrate_fail_errno(&n, "posix_spawn /bin/cat", spawn_error);
    struct side cat = read_side(spawned);
    long long moved = commit_row();
    struct faults f = faults_row();
    narrate_fact_int(&n, "spawned_pid", spawned);
    narrate_fact_int(&n, "spawned_accounted_kB", cat.ac_kb);
    narrate_fact_int(&n, "fork_charge_kB", s.fork_charge_kb);
    if (!CONCLUDE(&n, "spawn_is_not_a_copy", no_cow(f) && cat.ac_kb < s.fork_charge_kb,
                  VALUES(VAL("spawned_accounted_kB", cat.ac_kb),
                         VAL("fork_charge_kB", s.fork_charge_kb), VAL("minor_faults", f.minor),
                         VAL("major_faults", f.major),
                         VAL("fork_minor_faults", s.fork_faults.minor)),
                  "posix_spawn, as vfork, made few pages copy-on-write: the rewrite took %lld "
                  "fault%s in all (%lld after fork), and only cat's own mappings are "
                  "charged (%lld kB, against the %lld kB fork charged).", total(f),
                  total(f) == 1 ? "" : "s", total(s.fork_faults), cat.ac_kb, s.fork_charge_kb))
        CONCLUDE(&n, "spawn_forked", total(f) >= s.pages && !cat.mapped,
                 VALUES(VAL("minor_faults", f.minor), VAL("major_faults", f.major),
                        VAL("pages_rewritten", s.pages)),
                 "This C library's posix_spawn forked: the rewrite took %lld faults, one "
                 "a page at least, as after fork. cat's exec then dropped the child's copy: "
                 "only cat's mappings are charged (%lld kB).", total(f), cat.ac_kb);
    s.cats_kb += cat.ac_kb;
    commit_explain(&n, moved, cat.ac_kb, "spawn_charged_cat_only",
                   "the charge is cat's, made by its exec.");
}

static void explain_end(void)
{
    long long charges = s.fork_charge_kb + s.cats_kb;
    narrate_fact_int(&n, "charges_kB", charges);
    commit_explain(&n, commit_row(), -charges, "children_charges_returned",
                   "the three children's charges go with them.");
}

/* The lesson as a table. With --predict a step asks its question before its
 * code runs; the finding beside a choice is what makes it the measured one. */
static const struct narrate_lesson steps[] = {
    {"map", "Map the memory and write some of it", map, explain_map, NO_QUESTION},
    {"fork", "fork, for comparison: its child is charged", do_fork, explain_fork, NO_QUESTION},
    {"vfork", "vfork, and the child runs a program", do_vfork, explain_vfork,
     "When vfork returns in the parent, which program does its child run?",
     {"still this one: it was just created", "cat: it has already exec'd"},
     {"vfork_returned_before_exec", "vfork_waited_for_exec"}},
    {"spawn", "posix_spawn a program", spawn, explain_spawn, NO_QUESTION},
    {"end", "The children end", end_all, explain_end, NO_QUESTION},
};

/* ---- Cleanup, options, sizes ---- */

/* On every way out: no child and no cat outlive the demo. Not undo_track_child, which holds
 * one child: three are alive at once here (fork's and two cats), each killed and reaped. */
static void end_children(void)
{
    pid_t *const all[] = {&child, &vforked, &spawned};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i] > 0) {
            kill(*all[i], SIGKILL);
            waitpid(*all[i], NULL, 0);
            *all[i] = -1;
        }
}

static const struct demo_info info = {
    .name = "vfork-spawn",
    .summary =
        "Measures what starting a child charges (Committed_AS): fork charges it for\n"
        "a copy of all private writable memory; vfork, whose parent waits until the\n"
        "child has exec'd, and posix_spawn charge only the new program's mappings.",
    .examples = "  vfork-spawn                the five steps\n"
                "  vfork-spawn --step         pause before each; read each child's /proc/PID\n"
                "  vfork-spawn --predict      guess which program vfork's child runs, then see\n",
    .draws = DRAWS_COMMIT,
    .lessons = LESSONS(TABLE(steps)),
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, NULL, NULL);
    cli_no_positionals(&info, argc, argv, first);
    page = (size_t)sysconf(_SC_PAGESIZE);
    written = 1024 * page; /* commit_fork_size maps at least 1024 pages */
    s.written_kb = (long long)written / 1024;
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    size = commit_fork_size(&n, page);
    s.size_kb = (long long)size / 1024;
    /* cat's pipe: the read end stays open across exec, the write end does not. */
    int never[2];
    if (pipe2(never, O_CLOEXEC) != 0)
        narrate_fail_errno(&n, "pipe2", errno);
    if (fcntl(never[0], F_SETFD, 0) != 0)
        narrate_fail_errno(&n, "fcntl", errno);
    if (undo_register(end_children) != 0)
        narrate_fail_errno(&n, "atexit", errno);
    if (!realpath("/bin/cat", s.cat_exe))
        narrate_fail_errno(&n, "realpath /bin/cat", errno);
    snprintf(cat_input, sizeof cat_input, "/proc/self/fd/%d", never[0]);
    narrate_observe(&n, observe, NULL);
    char size_text[32], written_text[32];
    format_size(size, size_text, sizeof size_text);
    format_size(written, written_text, sizeof written_text);
    narrate_intro(&n, "vfork-spawn (PID %ld): %s mapped, %s of it written; then fork, vfork and "
                  "posix_spawn.", (long)getpid(), size_text, written_text);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    end_children();
    narrate_finish(&n, RESULT_OK, "fork, vfork and posix_spawn each started a child; what each "
                   "was charged is above, every number measured in this run.");
}
