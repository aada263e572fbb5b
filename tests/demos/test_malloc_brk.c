/* SPDX-License-Identifier: MIT */
/* Demo tests for malloc-brk: the outside observer. The demo runs with
 * --step --json on a pseudo-terminal; at every pause we read its
 * /proc/PID/maps (which mapping holds the pointer: [heap] or its own),
 * smaps (the heap's Size and Rss), status (VmSize, VmRSS) and stat
 * (minflt) ourselves, and hold the step's rows and findings against that.
 * Its other half, what malloc'd memory costs: test_malloc_free.
 * The demo is glibc's malloc: a sanitizer build or another C library makes
 * it exit 77, and this test with it.
 * Variant threshold_4m: the demo runs with MALLOC_MMAP_THRESHOLD_=4194304,
 * glibc's threshold fixed at 4 MiB until its mallopt, so that each 1 MiB
 * before that comes from [heap] and its free moves the break down. */
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
static bool threshold_4m; /* the variant */
static bool heap_1m;      /* step malloc_1m's block is in [heap], by our reading */

/* Which kind of memory the step's pointer is in, by our reading of maps; how
 * far the break moved, by the end of [heap] before (b) and after (a). */
static bool check_where(pid_t pid, const struct json *st, const struct seen *b,
                        const struct seen *a)
{
    uintptr_t at = stepper_maps_start(st);
    ck_assert(at != 0);
    struct vma v;
    ck_assert(maps_find(pid, at, NULL, &v));
    bool heap = strcmp(v.name, "[heap]") == 0;
    int64_t moved = (int64_t)(a->heap_end - b->heap_end);
    ck_assert_int_eq(jint(st, "facts.brk_moved_kB") * 1024, moved);
    ck_assert_int_eq(held(st, "from_heap_break_moved"), heap && moved > 0);
    ck_assert_int_eq(held(st, "from_heap_no_brk"), heap && moved == 0);
    if (held(st, "from_heap_break_moved")) { /* than the request, as we read the break */
        int64_t beyond = moved - jint(st, "facts.requested_bytes");
        const char *said = beyond > 0 ? "more than the" : beyond == 0 ? "exactly the" :
                           "less than the";
        ck_assert_msg(strstr(jstr(st, "note"), said), "%s: the break moved %lld bytes beyond "
                      "the request, and the note does not say '%s'", jstr(st, "id"),
                      (long long)beyond, said);
    }
    if (!heap) {
        ck_assert_str_eq(v.perms, "rw-p");
        ck_assert(held(st, "own_mapping"));
        assert_block_rows(pid, st, hex_fact(st, "facts.pointer", false),
                          jint(st, "facts.usable_bytes"));
    }
    return heap;
}

/* free of step malloc_1m's block: munmap of a mapping (the break unmoved), or
 * a [heap] chunk whose free moved the break down, VmSize with it. */
static void check_free_1m(const struct json *st, const struct seen *b, const struct seen *a)
{
    int64_t vm = a->vm_size - b->vm_size, moved = (int64_t)(a->heap_end - b->heap_end) / 1024;
    ck_assert_int_eq(held(st, "free_unmapped"), !heap_1m && moved == 0 && vm <= -1024);
    ck_assert_int_eq(held(st, "heap_shrank_at_free"), heap_1m && moved < 0 && vm == moved);
    if (threshold_4m) {
        ck_assert_int_lt(a->heap_end, b->heap_end);
        ck_assert(held(st, "heap_shrank_at_free"));
    } else {
        ck_assert_int_le(vm, -1024);
        ck_assert(held(st, "free_unmapped"));
    }
}

/* The size a step's printed code asks for: "want = 127 * KiB;" gives 130048; -1 if the
 * code does not say (the student could not tell which size the step asks). */
static int64_t size_in_code(const char *code)
{
    const char *at = strstr(code, "want = ");
    long long a;
    int end = 0; /* set only where the whole pattern matched */
    if (!at)
        return -1;
    if (sscanf(at, "want = %lld * KiB;%n", &a, &end) == 1 && end > 0)
        return a * 1024;
    end = 0;
    return sscanf(at, "want = %lld;%n", &a, &end) == 1 && end > 0 ? a : -1;
}

static void check_step(pid_t pid, const struct json *st, const struct seen *b, const struct seen *a)
{
    const char *id = jstr(st, "id");
    assert_heap_rows(st, b, a);
    if (json_path(st, "facts.requested_bytes"))
        ck_assert_msg(size_in_code(jstr(st, "code")) == jint(st, "facts.requested_bytes"),
                      "%s asks for %lld bytes, and its code does not say so: %s", id,
                      (long long)jint(st, "facts.requested_bytes"), jstr(st, "code"));
    bool heap = strncmp(id, "malloc_", 6) == 0 || strcmp(id, "again_1m") == 0 ||
                strcmp(id, "fixed_threshold") == 0 ? check_where(pid, st, b, a) : false;
    if (strcmp(id, "malloc_1m") == 0)
        heap_1m = heap;
    /* 1 MiB: a mapping of its own, but from [heap] while the variant's 4 MiB
     * threshold holds (until mallopt). */
    if ((strcmp(id, "malloc_1m") == 0 && !threshold_4m) || strcmp(id, "fixed_threshold") == 0) {
        ck_assert_msg(held(st, "own_mapping"), "%s: 1 MiB is not a mapping of its own", id);
        ck_assert_int_ge(a->vm_size - b->vm_size, 1024);
    }
    if (strcmp(id, "malloc_1m") == 0 && threshold_4m)
        ck_assert_msg(heap, "1 MiB is not in [heap] with MALLOC_MMAP_THRESHOLD_=4194304");
    if (strcmp(id, "again_1m") == 0) {
        ck_assert_int_eq(held(st, "dynamic_threshold_rose"), !heap_1m && heap);
        ck_assert(held(st, "dynamic_threshold_rose") != threshold_4m);
    }
    if (strcmp(id, "malloc_128k") == 0) { /* below a 4 MiB threshold; else one of the two */
        if (threshold_4m)
            ck_assert(heap);
        else
            ck_assert(held(st, "fitted_in_top") != held(st, "own_mapping"));
    }
    if (strcmp(id, "fixed_threshold") == 0) /* "again" where step malloc_1m was a mapping too */
        ck_assert_int_eq(strstr(jstr(st, "note"), "its own again.") != NULL, !heap_1m);
    if (strcmp(id, "free_1m") == 0)
        check_free_1m(st, b, a);
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

int main(int argc, char **argv)
{
    threshold_4m = argc > 1 && strcmp(argv[1], "threshold_4m") == 0;
    if (threshold_4m)
        setenv("MALLOC_MMAP_THRESHOLD_", "4194304", 1);
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
