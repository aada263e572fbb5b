/* SPDX-License-Identifier: MIT */
/* Demo tests for malloc-brk: the outside observer. The demo runs with
 * --step --json on a pseudo-terminal; at every pause we read its
 * /proc/PID/maps (which mapping holds the pointer: [heap] or its own),
 * smaps (the heap's Size and Rss), status (VmSize, VmRSS) and stat
 * (minflt) ourselves, and hold the step's rows and findings against that.
 * Its other half, what malloc'd memory costs: test_malloc_free.
 * The demo is glibc's malloc: a sanitizer build or another C library makes
 * it exit 77, and this test with it. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program;

struct seen {               /* our reading at the pause before step N */
    int64_t vm_size, vm_rss, heap_size, heap_rss, minflt;
    uintptr_t heap_end;
};

static void read_seen(pid_t pid, struct seen *v)
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

/* Which kind of memory the step's pointer is in, by our reading of maps. */
static void check_where(pid_t pid, const struct json *st)
{
    uintptr_t at = stepper_maps_start(st);
    ck_assert(at != 0);
    struct vma v;
    ck_assert(maps_find(pid, at, NULL, &v));
    bool heap = strcmp(v.name, "[heap]") == 0;
    int64_t moved = jint(st, "facts.brk_moved_kB");
    ck_assert_int_eq(held(st, "from_heap_break_moved"), heap && moved > 0);
    ck_assert_int_eq(held(st, "from_heap_no_brk"), heap && moved == 0);
    if (!heap) {
        ck_assert_str_eq(v.perms, "rw-p");
        ck_assert(held(st, "own_mapping"));
    }
}

static void check_step(pid_t pid, const struct json *st, const struct seen *b, const struct seen *a)
{
    const char *id = jstr(st, "id");
    int n = (int)jint(st, "step");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    /* The rows are what we read now, the demo sitting still at its pause. */
    ck_assert_int_eq(jint(st, "after.VmSize_kB"), a->vm_size);
    ck_assert_int_eq(jint(st, "after.heap_Size_kB"), a->heap_size);
    ck_assert_int_eq(jint(st, "after.heap_Rss_kB"), a->heap_rss);
    ck_assert_int_eq((int64_t)((hex_fact(st, "facts.brk", true) + 4095) & ~(uintptr_t)4095),
                     (int64_t)a->heap_end);
    int64_t f0 = jint(st, "before.minor_faults"), f1 = jint(st, "after.minor_faults");
    ck_assert_msg(f0 >= b->minflt && f1 <= a->minflt, "step %d: faults %lld..%lld outside %lld..%lld",
                  n, (long long)f0, (long long)f1, (long long)b->minflt, (long long)a->minflt);
    if (strncmp(id, "malloc_", 6) == 0)
        check_where(pid, st);
    if (strcmp(id, "malloc_1m") == 0 || strcmp(id, "fixed_threshold") == 0) {
        check_where(pid, st);
        ck_assert_msg(held(st, "own_mapping"), "%s: 1 MiB is not a mapping of its own", id);
        ck_assert_int_ge(a->vm_size - b->vm_size, 1024);
    }
    if (strcmp(id, "again_1m") == 0) {
        check_where(pid, st);
        ck_assert(held(st, "dynamic_threshold_rose"));
    }
    if (strcmp(id, "malloc_128k") == 0) /* one of the two, as we saw it */
        ck_assert(held(st, "fitted_in_top") != held(st, "own_mapping"));
    if (strcmp(id, "free_1m") == 0)
        ck_assert_int_le(a->vm_size - b->vm_size, -1024);
}

/* At the pause before step `next`: our reading now, and step next - 1 against it. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct seen *seen = ctx;
    ck_assert_int_lt(next, 40);
    read_seen(stepper_pid(s), &seen[next]);
    if (ended)
        check_step(stepper_pid(s), ended, &seen[next - 1], &seen[next]);
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct seen seen[40];
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, seen), 9);
    lesson_assert_ok_end(&s);
}
END_TEST

START_TEST(predict_answers_measured)
{
    /* --answers: each question's measured choice comes from a finding. */
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "a,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    int asked = 0;
    for (int i = 1; i <= 9; i++) {
        const struct json *st = demo_step(&d, i);
        const struct json *q = json_get(st, "prediction");
        if (!q || q->type == JSON_NULL)
            continue;
        asked++;
        const char *measured = json_get_string(q, "measured");
        ck_assert_ptr_nonnull(measured);
        bool heap = held(st, "from_heap_break_moved") || held(st, "from_heap_no_brk");
        ck_assert_str_eq(measured, heap ? "a" : "b");
    }
    ck_assert_int_eq(asked, 2);
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--size", "4K", NULL}, "--size"},
    {{"extra", NULL}, "extra"},
};

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "malloc-brk", VMLAB_DEMO_SOURCE), 9);
}
END_TEST

int main(void)
{
    program = demo_program("malloc-brk", RUN_AS_SELF);
    /* A build whose allocator is not glibc's cannot show this lesson. */
    struct run_result r;
    const char *argv[] = {program, "--json", NULL};
    if (run_program(argv, RUN_AS_SELF, &r) == 0 && r.exit_code == 77) {
        fprintf(stderr, "test_malloc_brk: the demo cannot run here: %s", r.out);
        run_result_free(&r);
        return 77;
    }
    run_result_free(&r);
    Suite *s = suite_create("malloc-brk");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, predict_answers_measured);
    ADD_BAD_INPUT_TESTS(tc, program, "malloc-brk", bad_cases);
    tcase_add_test(tc, answers_show_real_code);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
