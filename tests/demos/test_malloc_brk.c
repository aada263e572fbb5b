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
#include "heap_checks.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program;

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
    assert_heap_rows(st, b, a);
    if (strncmp(id, "malloc_", 6) == 0)
        check_where(pid, st);
    if (strcmp(id, "malloc_1m") == 0 || strcmp(id, "fixed_threshold") == 0) {
        if (strcmp(id, "fixed_threshold") == 0) /* malloc_1m: checked above */
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

START_TEST(lesson_observed)
{
    heap_lesson_observed(program, check_step);
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
    demo_test_skip_if_77(program, "test_malloc_brk");
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
