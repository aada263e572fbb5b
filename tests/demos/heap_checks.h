/* SPDX-License-Identifier: MIT */
/* heap_checks: what the tests of malloc-brk and malloc-free read of the
 * demo's heap at every pause, and the rows every step of both must agree
 * with. Header-only: each test includes it once (after lesson_checks.h). */
#ifndef VMLAB_TEST_HEAP_CHECKS_H
#define VMLAB_TEST_HEAP_CHECKS_H

#include <check.h>
#include <stdint.h>
#include <sys/types.h>

#include "demo_test.h"
#include "lesson.h"
#include "lesson_checks.h"
#include "observe.h"

struct seen {               /* our reading at the pause before step N */
    int64_t vm_size, vm_rss, heap_size, heap_rss, minflt;
    uintptr_t heap_end;
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
    ck_assert_int_eq(jint(st, "after.heap_Rss_kB"), a->heap_rss);
    ck_assert_int_eq((int64_t)((hex_fact(st, "facts.brk", true) + 4095) & ~(uintptr_t)4095),
                     (int64_t)a->heap_end);
    int64_t f0 = jint(st, "before.minor_faults"), f1 = jint(st, "after.minor_faults");
    ck_assert_msg(f0 >= b->minflt && f1 <= a->minflt, "step %d: faults %lld..%lld outside %lld..%lld",
                  n, (long long)f0, (long long)f1, (long long)b->minflt, (long long)a->minflt);
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

/* The --step --json run both tests watch: its 9 steps, each held against
 * what we read at the pause after it, and its end, ok. */
static inline void heap_lesson_observed(const char *program, heap_step_check check)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct heap_watch w = {.check = check};
    ck_assert_int_eq(lesson_step_through(&s, argv, heap_at_pause, &w), 9);
    lesson_assert_ok_end(&s);
}

#endif
