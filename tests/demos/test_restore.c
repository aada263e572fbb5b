/* SPDX-License-Identifier: MIT */
/* The demos that change /proc/sys/vm leave nothing changed: not when they
 * are interrupted at any pause (SIGINT, SIGTERM, SIGHUP), not when their
 * worker is killed, not when they are killed outright (the next run repairs
 * it and says so), not when several run at once. Root only: exits 77 else.
 * Driven through --step on a pseudo-terminal, so every signal arrives at a
 * known point, with the knob known to be changed. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "demo_test.h"
#include "lesson.h"
#include "observe.h"
#include "procfs.h"
#include "ptydrive.h"
#include "suite.h"
#include "sysctl.h"

#define STATE_FILE "/run/vmlab/saved-state"

static struct knobs original;
static struct pty_child child;

static void assert_all_restored(const char *when)
{
    struct knobs now;
    knobs_read(&now);
    bool same = knobs_equal(&original, &now);
    knobs_restore(&original); /* never leave the machine changed, even failing */
    ck_assert_msg(same, "%s: knobs changed: overcommit_memory %llu (was %llu), nr_hugepages %llu (was %llu)",
                  when, (unsigned long long)now.overcommit_memory,
                  (unsigned long long)original.overcommit_memory,
                  (unsigned long long)now.nr_hugepages, (unsigned long long)original.nr_hugepages);
    ck_assert_msg(access(STATE_FILE, F_OK) != 0, "%s: %s left behind", when, STATE_FILE);
    /* and nobody holds the lock any more */
    int fd = open("/run/vmlab/lock", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ck_assert_msg(flock(fd, LOCK_EX | LOCK_NB) == 0, "%s: the vmlab lock is still held", when);
        close(fd);
    }
}

/* Runs argv with --step on a terminal and leaves it waiting at the prompt for
 * step `at` of `total`, just before that step's lesson line runs. */
static void pause_before(struct pty_child *c, const char *const argv[], int at, int total)
{
    ck_assert_int_eq(pty_start(c, argv), 0);
    lesson_pause_before(c, at, total);
}

/* overcommit-modes: step 1 reads the budget, then one step per mode (the
 * knob changes from step 2 on), and the last reads it again. */
#define MODES_STEPS 5
#define MODE_STEP(mode) (2 + (mode)) /* the step that sets that mode */

/* Starts overcommit-modes --step and stops at the pause before the mode 2
 * step, when overcommit_memory has been switched to 1. */
static void pause_inside_overcommit_modes(struct pty_child *c)
{
    const char *argv[] = {demo_program("overcommit-modes", RUN_AS_SELF), "--step", NULL};
    pause_before(c, argv, MODE_STEP(2), MODES_STEPS);
    ck_assert_msg(vm("overcommit_memory") == 1, "the demo should be in mode 1 now");
}

static const int signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Every signal at every pause of overcommit-modes. _i = signal index *
 * MODES_STEPS + step - 1. */
START_TEST(signal_at_each_step_of_overcommit_modes)
{
    int sig = signals[_i / MODES_STEPS], at = _i % MODES_STEPS + 1;
    const char *argv[] = {demo_program("overcommit-modes", RUN_AS_SELF), "--step", NULL};
    pause_before(&child, argv, at, MODES_STEPS);
    if (at == MODE_STEP(2)) /* here the demo is in mode 1 (mode 2's step enters 2 or ends 1) */
        ck_assert_msg(vm("overcommit_memory") == 1, "the demo should be in mode 1 now");
    if (at == MODES_STEPS) /* after mode 2's step: put back already */
        ck_assert_msg(vm("overcommit_memory") == original.overcommit_memory,
                      "the demo should be in this machine's mode again");
    kill(child.pid, sig);
    int status = pty_finish(&child);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig,
                  "step %d: want death by signal %d, got status %#x", at, sig, status);
    char when[64];
    snprintf(when, sizeof when, "%s before step %d", strsignal(sig), at);
    assert_all_restored(when);
}
END_TEST

/* The other signals that end a process by default, in mode 1: a closed pipe (`| head`), a
 * timer, a user signal. Each restores as the three above do. */
static const int other_signals[] = {SIGPIPE, SIGALRM, SIGUSR1};

START_TEST(other_fatal_signals_restore)
{
    int sig = other_signals[_i];
    pause_inside_overcommit_modes(&child);
    kill(child.pid, sig);
    int status = pty_finish(&child);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig, "want death by signal %d, got "
                  "status %#x", sig, status);
    char when[64];
    snprintf(when, sizeof when, "%s in mode 1", strsignal(sig));
    assert_all_restored(when);
}
END_TEST

/* Every signal at every pause of hugetlb-reserve --setup 2 (6 steps, each
 * paused before its lesson line runs; the pool is grown in step 1, a page
 * reserved in step 2). */
START_TEST(signal_at_each_step_of_hugetlb_setup)
{
    int sig = signals[_i / 6], at = _i % 6 + 1;
    uint64_t total = meminfo("HugePages_Total"), rsvd = meminfo("HugePages_Rsvd");
    const char *argv[] = {demo_program("hugetlb-reserve", RUN_AS_SELF), "--setup", "2", "--step", NULL};
    pause_before(&child, argv, at, 6);
    if (at == 3) { /* the pool is grown and one page is reserved by the demo */
        ck_assert_uint_eq(meminfo("HugePages_Total"), total + 2);
        ck_assert_uint_eq(meminfo("HugePages_Rsvd"), rsvd + 1);
    }
    kill(child.pid, sig);
    int status = pty_finish(&child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    char when[64];
    snprintf(when, sizeof when, "%s before step %d", strsignal(sig), at);
    assert_all_restored(when);
    ck_assert_uint_eq(meminfo("HugePages_Total"), total);
    ck_assert_uint_eq(meminfo("HugePages_Rsvd"), rsvd);
}
END_TEST

START_TEST(sigkill_then_next_run_repairs)
{
    pause_inside_overcommit_modes(&child);
    kill(child.pid, SIGKILL);
    int status = pty_finish(&child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Nothing could restore it: the knob is still changed, the record is there. */
    uint64_t left = vm("overcommit_memory");
    ck_assert_int_eq(access(STATE_FILE, F_OK), 0);
    if (left == original.overcommit_memory) {
        knobs_restore(&original);
        ck_abort_msg("overcommit_memory was not changed when the demo was killed");
    }
    /* The next run of any demo - here one that changes nothing itself -
     * repairs it and says so. */
    struct demo_run d;
    demo_run_json(&d, demo_program("mmap-anon", RUN_AS_SELF), RUN_AS_SELF,
                  (const char *const[]){"--size", "8K", NULL});
    ck_assert_msg(strstr(d.r.err, "restored") != NULL, "no word of the repair: %s", d.r.err);
    ck_assert_msg(strstr(d.r.err, "overcommit_memory=") != NULL, "%s", d.r.err);
    demo_run_free(&d);
    assert_all_restored("the run after SIGKILL");
}
END_TEST

/* Waits for the demo (traced) to fork; returns the new child's PID, or 0
 * when the demo ended first. Other stops pass their signal on. */
static pid_t next_fork(pid_t demo)
{
    int status;
    while (waitpid(demo, &status, __WALL) == demo) {
        if (!WIFSTOPPED(status))
            return 0;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8))) {
            unsigned long pid = 0;
            ck_assert_int_eq(ptrace(PTRACE_GETEVENTMSG, demo, NULL, &pid), 0);
            return (pid_t)pid;
        }
        int sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
        ck_assert_int_eq(ptrace(PTRACE_CONT, demo, NULL, (void *)(long)sig), 0);
    }
    return 0;
}

/* overcommit-modes' worker killed by SIGKILL mid-experiment, from outside:
 * at the pause before the mode 0 step this test attaches to the demo
 * (ptrace, following forks) and presses Enter; the demo switches the mode
 * and forks its worker, which is held before it runs and killed. The demo
 * must say its worker ended without a result, fail, and put the knob back. */
START_TEST(killed_worker)
{
    const char *argv[] = {demo_program("overcommit-modes", RUN_AS_SELF), "--step", "--json",
                          NULL};
    struct stepper s;
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    int next;
    /* The steps run modes 0, 1, 2 last. Kill the worker of a mode the machine
     * was not in, so that "restored" below can only hold if the demo put it back. */
    uint64_t mode = original.overcommit_memory == 1 ? 0 : 1;
    int at = MODE_STEP((int)mode);
    while ((next = stepper_wait(&s)) > 0 && next < at)
        stepper_go(&s);
    ck_assert_msg(next == at, "no pause before the mode %d step: %s", (int)mode, s.pty.screen);
    pid_t demo = stepper_pid(&s);
    ck_assert_msg(ptrace(PTRACE_SEIZE, demo, NULL, (void *)(long)(PTRACE_O_TRACEFORK | PTRACE_O_EXITKILL)) == 0,
                  "ptrace: %s", strerror(errno));
    stepper_go(&s);
    pid_t worker = next_fork(demo);
    ck_assert_msg(worker > 0, "the demo ended without starting its worker: %s", s.pty.screen);
    /* mid-experiment: the mode is switched and recorded */
    ck_assert_uint_eq(vm("overcommit_memory"), mode);
    ck_assert_int_eq(access(STATE_FILE, F_OK), 0);
    kill(worker, SIGKILL);
    int ws = 0;
    while (waitpid(worker, &ws, __WALL) == worker && !WIFSIGNALED(ws) && !WIFEXITED(ws))
        ;
    ck_assert_msg(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "worker status %#x", ws);
    ck_assert_int_eq(ptrace(PTRACE_DETACH, demo, NULL, NULL), 0);
    while (stepper_wait(&s) > 0)
        stepper_go(&s);
    const struct json *result = stepper_result(&s);
    ck_assert_msg(result != NULL, "no result line: %s", s.pty.screen);
    ck_assert_str_eq(jstr(result, "result"), "fail");
    ck_assert_ptr_nonnull(strstr(jstr(result, "reason"), "worker"));
    int status = stepper_finish(&s);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
    assert_all_restored("a killed worker");
}
END_TEST

/* How many of `pids` wait for a flock now: /proc/locks lists each waiter as
 * a "->" line with its PID. */
static int waiting_for_a_lock(const pid_t *pids, int n)
{
    FILE *f = fopen("/proc/locks", "re");
    char line[256];
    int waiting = 0;
    long pid;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%*d: -> FLOCK %*s %*s %ld", &pid) == 1)
            for (int i = 0; i < n; i++)
                waiting += pids[i] == (pid_t)pid;
    if (f)
        fclose(f);
    return waiting;
}

/* The eight are started while this test holds the vmlab lock, and it lets go
 * once they all wait for it (or after 10 s): they contend for it at once, and
 * none is still starting while another holds mode 2 - which refuses a program
 * built with AddressSanitizer its shadow memory at start, and overcommit-modes
 * reaches mode 2 within milliseconds. */
START_TEST(many_at_once)
{
    enum { RUNS = 8 };
    pid_t pids[RUNS];
    int held = sysctl_lock(0);
    ck_assert_msg(held >= 0, "%s: %s", sysctl_failed_call(), strerror(errno));
    for (int i = 0; i < RUNS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            const char *demo = i % 2 ? "hugetlb-reserve" : "overcommit-modes";
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", demo_dir(), demo);
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            if (i % 2)
                execl(path, demo, "--setup", "1", "--json", (char *)NULL);
            else
                execl(path, demo, "--json", (char *)NULL);
            _exit(127);
        }
    }
    for (int i = 0; i < 1000 && waiting_for_a_lock(pids, RUNS) < RUNS; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    close(held);
    int failures = 0;
    for (int i = 0; i < RUNS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_msg(failures == 0, "%d of %d runs failed", failures, RUNS);
    assert_all_restored("8 runs at once");
}
END_TEST

/* The files vmlab keeps in /run/vmlab are never followed through a symlink,
 * and a directory that others could write is not trusted. A symlink where
 * the new record is written is removed, never followed (the run goes on);
 * a symlink as the lock, or a directory open to others, makes the demo stop
 * (exit 1, or 77 with the reason) before it changes anything. _i picks the
 * trap. */
START_TEST(state_files_are_not_trusted_blindly)
{
    char target[] = "/tmp/vmlab-target-XXXXXX";
    int fd = mkstemp(target);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "untouched\n", 10), 10);
    close(fd);
    (void)mkdir("/run/vmlab", 0700);
    const char *trap = NULL;
    if (_i == 0) {
        trap = "/run/vmlab/saved-state.new";
        ck_assert_int_eq(symlink(target, trap), 0);
    } else if (_i == 1) {
        trap = "/run/vmlab/lock";
        (void)unlink(trap);
        ck_assert_int_eq(symlink(target, trap), 0);
    } else {
        ck_assert_int_eq(chmod("/run/vmlab", 0777), 0);
    }
    struct demo_run d;
    demo_run_json(&d, demo_program("overcommit-modes", RUN_AS_SELF), RUN_AS_SELF, NULL);
    if (trap)
        unlink(trap);
    else
        chmod("/run/vmlab", 0700);
    char content[32] = "";
    FILE *f = fopen(target, "re");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(content, sizeof content, f));
    fclose(f);
    unlink(target);
    if (_i == 0)
        ck_assert_msg(d.r.exit_code == 0, "trap %d: exit %d: %s", _i, d.r.exit_code, d.r.err);
    else
        ck_assert_msg(d.r.exit_code == 1 || d.r.exit_code == 77, "trap %d: exit %d: %s", _i,
                      d.r.exit_code, d.r.err);
    ck_assert_str_eq(content, "untouched\n");
    demo_run_free(&d);
    assert_all_restored("a trapped state directory");
}
END_TEST

/* A signal sent to the tour alone (kill PID, not Ctrl-C at the terminal,
 * which reaches the whole process group) is passed on to the demo it runs,
 * and the tour waits for the demo's undo before it dies of the same signal:
 * the pool that hugetlb-reserve --setup 2 grew is back when the tour is
 * gone. _i picks the signal. */
START_TEST(tour_passes_the_signal_on)
{
    int sig = signals[_i];
    uint64_t total = meminfo("HugePages_Total");
    const char *argv[] = {demo_program("tour", RUN_AS_SELF), "--step", NULL};
    ck_assert_int_eq(pty_start(&child, argv), 0);
    /* Enter at every pause, up to the first of hugetlb-reserve's stop. */
    for (int i = 0;; i++) {
        ck_assert_msg(i < 400 && pty_wait_for(&child, "Press Enter"), "no prompt: %s",
                      child.screen + (child.len > 2000 ? child.len - 2000 : 0));
        if (memmem(child.screen, child.len, ": hugetlb-reserve --setup", 25))
            break;
        ck_assert(pty_send(&child, "\n"));
    }
    ck_assert(pty_send(&child, "\n")); /* step 1 grows the pool */
    ck_assert_msg(pty_wait_for(&child, "Press Enter to run step 2/6"), "%s", child.screen);
    ck_assert_uint_eq(meminfo("HugePages_Total"), total + 2);
    kill(child.pid, sig);
    int status = pty_finish(&child);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sig, "want death by signal %d, got %#x", sig,
                  status);
    /* The tour is gone: the demo has put the pool back already. */
    uint64_t now = meminfo("HugePages_Total");
    char when[64];
    snprintf(when, sizeof when, "%s to the tour", strsignal(sig));
    assert_all_restored(when);
    ck_assert_uint_eq(now, total);
}
END_TEST

/* The tour killed outright (kill -9 from another terminal: it cannot pass a
 * signal on) at the pause before overcommit-modes' mode 2 step, mode 1 in
 * force: the demo it runs is not left going on alone (on Enter it would set
 * mode 2 by itself); it gets SIGTERM and puts the mode back. Started from a
 * shell, as a student would, so that the tour's death does not hang the
 * terminal up (which would end the demo for it). */
START_TEST(sigkill_to_the_tour_ends_its_demo)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); /* the orphan comes to us */
    const char *argv[] = {demo_program("tour", RUN_AS_SELF), "--step", NULL};
    ck_assert_int_eq(pty_start_in_shell(&child, argv), 0);
    for (int i = 0;; i++) {
        ck_assert_msg(i < 400 && pty_wait_for(&child, "Press Enter"), "no prompt: %s",
                      child.screen + (child.len > 2000 ? child.len - 2000 : 0));
        if (memmem(child.screen, child.len, ": overcommit-modes ====", 23))
            break; /* at its step 1 */
        ck_assert(pty_send(&child, "\n"));
    }
    for (int step = 2; step <= MODE_STEP(2); step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter to run step %d/%d", step, MODES_STEPS);
        ck_assert(pty_send(&child, "\n"));
        ck_assert_msg(pty_wait_for(&child, prompt), "no prompt %d: %s", step, child.screen);
    }
    uint64_t mode = vm("overcommit_memory");
    pid_t tour = observe_child_of(child.pid), demo = tour > 0 ? observe_child_of(tour) : 0;
    ck_assert_msg(demo > 0, "no demo under the tour (PID %ld)", (long)tour);
    int status;
    bool ended = orphan_ends_with_parent(tour, demo, SIGTERM, &status);
    kill(child.pid, SIGKILL); /* the shell */
    (void)pty_finish(&child);
    ck_assert_msg(ended, "overcommit-modes (PID %ld) outlived the tour's SIGKILL", (long)demo);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "demo status %#x", status);
    ck_assert_msg(mode == 1, "mode 1 was not in force at the pause: %llu", (unsigned long long)mode);
    assert_all_restored("SIGKILL to the tour");
}
END_TEST

/* Compare before restoring: an administrator grows the pool while the demo
 * holds it grown; the demo, interrupted, leaves the administrator's value
 * and says so, instead of shrinking the pool under them. */
START_TEST(changed_meanwhile_is_left_alone)
{
    uint64_t total = meminfo("HugePages_Total");
    const char *argv[] = {demo_program("hugetlb-reserve", RUN_AS_SELF), "--setup", "2", "--step", NULL};
    pause_before(&child, argv, 2, 6);
    ck_assert_uint_eq(vm("nr_hugepages"), total + 2);
    ck_assert_int_eq(sysctl_write("nr_hugepages", total + 5), 0); /* the administrator */
    kill(child.pid, SIGTERM);
    bool said = pty_wait_for(&child, "left /proc/sys/vm/nr_hugepages at");
    int status = pty_finish(&child);
    uint64_t left = vm("nr_hugepages");
    knobs_restore(&original);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    ck_assert_msg(left == total + 5, "the demo wrote over the administrator's %llu: %llu",
                  (unsigned long long)total + 5, (unsigned long long)left);
    ck_assert_msg(said, "not said: %s", child.screen);
    assert_all_restored("a pool changed meanwhile");
}
END_TEST

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "changing /proc/sys/vm needs root: skipped\n");
        return 77;
    }
    knobs_read(&original);
    Suite *s = suite_create("restore");
    TCase *tc = tcase_create("restore");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, signal_at_each_step_of_overcommit_modes, 0, 3 * MODES_STEPS);
    tcase_add_loop_test(tc, signal_at_each_step_of_hugetlb_setup, 0, 3 * 6);
    tcase_add_loop_test(tc, other_fatal_signals_restore, 0, 3);
    tcase_add_test(tc, sigkill_then_next_run_repairs);
    tcase_add_test(tc, killed_worker);
    tcase_add_test(tc, many_at_once);
    tcase_add_loop_test(tc, state_files_are_not_trusted_blindly, 0, 3);
    tcase_add_loop_test(tc, tour_passes_the_signal_on, 0, 3);
    tcase_add_test(tc, sigkill_to_the_tour_ends_its_demo);
    tcase_add_test(tc, changed_meanwhile_is_left_alone);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    knobs_restore(&original);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
