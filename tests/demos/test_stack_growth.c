/* SPDX-License-Identifier: MIT */
/* Demo tests for stack-growth: the outside observer. At every pause of a
 * --step --json run we read the demo's [stack] from /proc/PID/maps and
 * smaps, and its fault count from /proc/PID/stat, and hold the step's rows
 * and findings against them: the stack starts at the page the deepest frame
 * wrote, it grew by about one page per new 4 KiB frame, and never shrank.
 * The overflows ran in children that are gone by the next pause: their
 * numbers are checked against what we expect from our own readings (the
 * limit the child set is our [stack] Size plus 512 KiB; the gap is
 * stack_guard_gap from /proc/cmdline or 256 pages). */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_checks.h"
#include "observe.h"
#include "suite.h"

static const char *program;
static int64_t gap_kb = 256 * 4;

struct seen {
    struct vma stack;
    int64_t size, rss, minflt;
};

static void read_seen(pid_t pid, struct seen *v)
{
    ck_assert(maps_find(pid, 0, "[stack]", &v->stack));
    v->size = observe_smaps(pid, v->stack.start, "Size");
    v->rss = observe_smaps(pid, v->stack.start, "Rss");
    v->minflt = observe_minflt(pid);
}

static void check_step(pid_t pid, const struct json *st, const struct seen *b, const struct seen *a)
{
    const char *id = jstr(st, "id");
    assert_lesson_step_in(st, VMLAB_DEMO_SOURCE);
    ck_assert_int_eq(jint(st, "after.Size_kB"), a->size);
    /* The demo measured [stack]'s Rss just after its lesson; by this pause it
     * has printed the step, and that code may reach a page or two of stack
     * no measured code had touched (it was seen once: 40 kB, then 44 kB).
     * Never less, never more than that. */
    int64_t reported = jint(st, "after.Rss_kB");
    ck_assert_msg(a->rss >= reported && a->rss - reported <= 8,
                  "after.Rss_kB %lld, [stack] Rss read at the pause %lld kB", (long long)reported,
                  (long long)a->rss);
    ck_assert_int_eq((int64_t)stepper_maps_start(st), (int64_t)a->stack.start);
    int64_t f0 = jint(st, "before.minor_faults"), f1 = jint(st, "after.minor_faults");
    ck_assert(f0 >= b->minflt && f1 <= a->minflt);
    if (strncmp(id, "recurse", 7) == 0) {
        int64_t depth = jint(st, "facts.depth");
        ck_assert_int_eq(jint(st, "facts.frame_bytes"), 4096); /* a frame really is a page */
        uintptr_t deepest = hex_fact(st, "facts.deepest_frame", false);
        /* The stack starts at the page of the deepest frame, and holds them all. */
        ck_assert_int_eq((int64_t)a->stack.start, (int64_t)(deepest & ~(uintptr_t)4095));
        ck_assert_int_ge((int64_t)(a->stack.end - deepest), depth * 4096);
        if (strcmp(id, "recurse_again") == 0) { /* nothing moved */
            ck_assert_int_eq(a->size, b->size);
            ck_assert_int_eq(a->rss, b->rss);
            ck_assert(held(st, "stack_stays"));
        } else {
            /* depth frames, half of them new in the deeper run: about a page each. */
            int64_t fresh = strcmp(id, "recurse") == 0 ? depth : depth / 2;
            int64_t pages = (a->rss - b->rss) / 4;
            /* Each frame wrote its own page: every page of [stack] is resident,
             * and it grew by at most one page a new frame (fewer by the pages
             * the program had already touched below where the stack stood). */
            for (uintptr_t at = deepest & ~(uintptr_t)4095; at < deepest + (uintptr_t)depth * 4096;
                 at += 4096) {
                bool present;
                uint64_t pfn;
                ck_assert(observe_pagemap(pid, at, &present, &pfn));
                ck_assert_msg(present, "%s: the frame page at %#lx is not present", id, (unsigned long)at);
            }
            ck_assert_int_eq(jint(st, "facts.frame_pages_resident"), jint(st, "facts.frame_pages"));
            ck_assert_msg(pages <= fresh && pages > fresh / 2, "%s: Rss +%lld pages for %lld new frames",
                          id, (long long)pages, (long long)fresh);
            ck_assert_int_ge(a->minflt - b->minflt, pages);
            ck_assert(held(st, "grew_to_deepest_frame"));
            ck_assert(held(st, "one_page_per_frame"));
        }
    }
    if (strcmp(id, "rlimit") == 0) {
        ck_assert_int_eq(jint(st, "facts.child_limit_kB"), b->size + 512);
        ck_assert_int_le(jint(st, "facts.child_stack_kB"), b->size + 512);
        ck_assert_str_eq(jstr(st, "facts.si_code"), "SEGV_MAPERR");
        ck_assert(held(st, "stopped_at_rlimit") && held(st, "caught_on_alternate_stack"));
        ck_assert_int_eq(a->size, b->size); /* ours did not move */
    }
    if (strcmp(id, "guard_gap") == 0) {
        int64_t dist = jint(st, "facts.distance_kB");
        ck_assert_msg(dist >= gap_kb && dist <= gap_kb + 8, "distance %lld kB, gap %lld kB",
                      (long long)dist, (long long)gap_kb);
        ck_assert_int_lt(jint(st, "facts.child_stack_kB"), 8192);
        ck_assert(held(st, "gap_kept"));
    }
}

/* At the pause before step `next`: our reading now, and step next - 1 against it. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct seen *seen = ctx;
    ck_assert_int_lt(next, 16);
    read_seen(stepper_pid(s), &seen[next]);
    if (ended)
        check_step(stepper_pid(s), ended, &seen[next - 1], &seen[next]);
}

START_TEST(lesson_observed)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    struct seen seen[16];
    ck_assert_int_eq(lesson_step_through(&s, argv, at_pause, seen), 7);
    /* The thread's overflow, from its JSON: a fixed stack, a guard page. */
    const struct json *thread = stepper_step(&s, 7);
    ck_assert_ptr_nonnull(thread);
    assert_sentences_rest_on_findings(thread);
    ck_assert_str_eq(jstr(thread, "facts.si_code"), "SEGV_ACCERR");
    ck_assert_str_eq(jstr(thread, "facts.fault_perms"), "---p");
    ck_assert_int_eq(jint(thread, "facts.child_stack_kB"), jint(thread, "facts.thread_stack_before_kB"));
    ck_assert(held(thread, "thread_stack_fixed") && held(thread, "guard_page_accerr"));
    lesson_assert_ok_end(&s);
}
END_TEST

START_TEST(predict_answers_measured)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b,a,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    assert_measured(&d, 2, "b");
    assert_measured(&d, 3, "a");
    assert_measured(&d, 4, "b");
    demo_run_free(&d);
}
END_TEST

START_TEST(small_limit_is_77)
{
    /* ulimit -s 128: the lesson cannot recurse; it says so, exit 77. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {128 << 10, 128 << 10};
        if (setrlimit(RLIMIT_STACK, &rl) != 0 || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execl(program, "stack-growth", (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 77, "status %#x", status);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "stack-growth", VMLAB_DEMO_SOURCE), 7);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--depth", "4", NULL}, "--depth"},
    {{"extra", NULL}, "extra"},
};

int main(void)
{
    program = demo_program("stack-growth", RUN_AS_SELF);
    if (sysconf(_SC_PAGESIZE) != 4096) {
        fprintf(stderr, "test_stack_growth: the lesson needs 4 KiB pages\n");
        return 77;
    }
    FILE *f = fopen("/proc/cmdline", "re");
    char line[4096];
    const char *at;
    long long pages;
    if (f && fgets(line, sizeof line, f) && (at = strstr(line, "stack_guard_gap=")) &&
        sscanf(at + 16, "%lld", &pages) == 1)
        gap_kb = pages * 4;
    if (f)
        fclose(f);
    Suite *s = suite_create("stack-growth");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, predict_answers_measured);
    tcase_add_test(tc, small_limit_is_77);
    tcase_add_test(tc, answers_show_real_code);
    ADD_BAD_INPUT_TESTS(tc, program, "stack-growth", bad_cases);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
