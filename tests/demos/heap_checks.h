/* SPDX-License-Identifier: MIT */
/* heap_checks: what the tests of malloc-brk and malloc-free read of the
 * demo's heap at every pause, and the rows every step of both must agree
 * with. Header-only: each test includes it once (after lesson_checks.h). */
#ifndef VMLAB_TEST_HEAP_CHECKS_H
#define VMLAB_TEST_HEAP_CHECKS_H

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson.h"
#include "lesson_checks.h"
#include "observe.h"

struct seen {               /* our reading at the pause before step N */
    int64_t vm_size, vm_rss, heap_size, heap_rss, minflt;
    uintptr_t heap_end;
    bool at_exit;           /* read at the exit, after the last step and the demo's end */
};

static inline void read_seen(pid_t pid, struct seen *v)
{
    struct vma heap;
    v->vm_size = observe_status(pid, "VmSize");
    v->vm_rss = observe_status(pid, "VmRSS");
    v->minflt = observe_minflt(pid);
    v->heap_size = v->heap_rss = 0;
    v->heap_end = 0;
    if (maps_find(pid, 0, "[heap]", &heap)) {
        v->heap_size = observe_smaps(pid, heap.start, "Size");
        v->heap_rss = observe_smaps(pid, heap.start, "Rss");
        v->heap_end = heap.end;
    }
}

/* Every step: a lesson step of its source, and its rows are what we read
 * now (a), the demo sitting still at its pause; its faults lie between our
 * two readings (b before, a after). */
static inline void assert_heap_rows(const struct json *st, const struct seen *b,
                                    const struct seen *a)
{
    int n = (int)jint(st, "step");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    ck_assert_int_eq(jint(st, "after.VmSize_kB"), a->vm_size);
    ck_assert_int_eq(jint(st, "after.heap_Size_kB"), a->heap_size);
    if (a->at_exit) /* the demo's end writes on a page or two of the heap */
        ck_assert_int_ge(a->heap_rss, jint(st, "after.heap_Rss_kB"));
    else
        ck_assert_int_eq(jint(st, "after.heap_Rss_kB"), a->heap_rss);
    ck_assert_int_eq((int64_t)((hex_fact(st, "facts.brk", true) + 4095) & ~(uintptr_t)4095),
                     (int64_t)a->heap_end);
    int64_t f0 = jint(st, "before.minor_faults"), f1 = jint(st, "after.minor_faults");
    ck_assert_msg(f0 >= b->minflt && f1 <= a->minflt, "step %d: faults %lld..%lld outside %lld..%lld",
                  n, (long long)f0, (long long)f1, (long long)b->minflt, (long long)a->minflt);
}

/* How many kB of [start, end) are present in pid's pagemap (bit 63); -1 if unreadable. */
static inline int64_t present_kb(pid_t pid, uintptr_t start, uintptr_t end)
{
    char path[64];
    uint64_t entries[512];
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    int64_t present = 0;
    snprintf(path, sizeof path, "/proc/%ld/pagemap", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (uintptr_t at = start; at < end;) {
        size_t want = (end - at) / page < 512 ? (end - at) / page : 512;
        ssize_t got = pread(fd, entries, want * sizeof entries[0], (off_t)(at / page * 8));
        if (got != (ssize_t)(want * sizeof entries[0])) {
            close(fd);
            return -1;
        }
        for (size_t i = 0; i < want; i++)
            present += (int64_t)(entries[i] >> 63);
        at += want * page;
    }
    close(fd);
    return present * (int64_t)(page / 1024);
}

/* A mapped block's own rows: its pages run from its chunk header (glibc's 16
 * bytes before the pointer) to its end. block_Rss is how many of them we find
 * present in pagemap; block_merged_in_entry holds where its smaps entry is
 * larger than they are (merged with a neighbour: that entry's Rss is not the
 * block's). */
static inline void assert_block_rows(pid_t pid, const struct json *st, uintptr_t at,
                                     int64_t usable)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (at - 16) & ~(page - 1);
    uintptr_t end = (at + (uintptr_t)usable + page - 1) & ~(page - 1);
    int64_t present = present_kb(pid, start, end);
    ck_assert_int_ge(present, 0);
    ck_assert_int_eq(jint(st, "after.block_Rss_kB"), present);
    if (finding(st, "block_merged_in_entry"))
        ck_assert_int_eq(held(st, "block_merged_in_entry"),
                         observe_smaps(pid, at, "Size") > (int64_t)(end - start) / 1024);
}

/* One ended step, st, held against our readings before (b) and after (a) it. */
typedef void (*heap_step_check)(pid_t pid, const struct json *st, const struct seen *b,
                                const struct seen *a);

struct heap_watch {
    heap_step_check check;
    struct seen seen[40];
};

/* At the pause before step `next`: our reading now, and step next - 1 against it. */
static inline void heap_at_pause(void *ctx, const struct stepper *s, int next,
                                 const struct json *ended)
{
    struct heap_watch *w = ctx;
    ck_assert_int_lt(next, 40);
    read_seen(stepper_pid(s), &w->seen[next]);
    if (ended)
        w->check(stepper_pid(s), ended, &w->seen[next - 1], &w->seen[next]);
}

/* Step 9's JSON line, from the terminal of a demo held at its exit: all it
 * printed is there (exit flushed it), but the terminal is still open. */
static inline struct json *last_step_line(struct stepper *s)
{
    ck_assert(pty_wait_for(&s->pty, "\"result\""));
    const char *at = strstr(s->pty.screen, "\"step\":9,");
    ck_assert_ptr_nonnull(at);
    while (at > s->pty.screen && at[-1] != '\n')
        at--;
    at = strchr(at, '{');
    char err[128];
    struct json *line = json_parse(at, strcspn(at, "\r\n"), err, sizeof err);
    ck_assert_msg(line != NULL, "step 9: %s", err);
    return line;
}

/* The last step has no pause after it: we hold the demo where it exits
 * (PTRACE_EVENT_EXIT: its memory is still whole), check the step against what
 * we read there, and let it go. */
static inline void check_at_exit(struct stepper *s, heap_step_check check, struct seen *b)
{
    int status;
    pid_t pid = stepper_pid(s);
    while (waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status)) {
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            struct seen a;
            read_seen(pid, &a);
            a.at_exit = true;
            struct json *st = last_step_line(s);
            check(pid, st, b, &a);
            json_free(st);
            ck_assert(ptrace(PTRACE_DETACH, pid, 0, 0) == 0);
            return;
        }
        /* Another stop: a signal on its way, passed on (a group stop, none). */
        int sig = status >> 16 == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
        ck_assert(ptrace(PTRACE_CONT, pid, 0, sig) == 0);
    }
    ck_abort_msg("the demo ended before we could read it at its exit (status %#x)", status);
}

/* The --step --json run both tests watch: its 9 steps, each held against
 * what we read at the pause after it (the last one, at its exit), and its
 * end, ok. Where ptrace is not allowed (Yama's ptrace_scope 2 or 3), the
 * last step is not read from outside, and we say so. */
static inline void heap_lesson_observed(const char *program, heap_step_check check)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct heap_watch w = {.check = check};
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    pid_t pid = stepper_pid(&s);
    int next, last = 0;
    bool at_exit = false;
    while (!at_exit && (next = stepper_wait(&s)) > 0) {
        ck_assert_int_eq(next, last + 1);
        const struct json *ended = next > 1 ? stepper_step(&s, next - 1) : NULL;
        ck_assert_msg(next == 1 || ended, "step %d ended without its JSON line", next - 1);
        heap_at_pause(&w, &s, next, ended);
        last = next;
        at_exit = next == 9 && ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT) == 0;
        ck_assert(stepper_go(&s));
    }
    ck_assert_int_eq(last, 9);
    if (at_exit)
        check_at_exit(&s, check, &w.seen[9]);
    else
        fprintf(stderr, "%s: ptrace is not allowed here: step 9 is not read from outside\n",
                program);
    ck_assert_int_eq(stepper_wait(&s), 0); /* to the end: the last lines read */
    ck_assert_ptr_nonnull(stepper_step(&s, 9));
    lesson_assert_ok_end(&s);
}

#endif
