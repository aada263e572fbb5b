/* SPDX-License-Identifier: MIT */
/* Demo tests for malloc-free: the outside observer. The demo runs with
 * --step --json on a pseudo-terminal; at every pause we read its
 * /proc/PID/maps (where the heap ends), smaps (the heap's Size and Rss),
 * status (VmSize, VmRSS) and stat (minflt) ourselves, and hold the step's
 * rows and findings against that: a big block is address space, calloc
 * wrote nothing, free keeps heap memory and malloc_trim gives it back.
 * Its other half, where malloc gets memory: test_malloc_brk.
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
static int64_t page_kb, big_kb; /* big_kb: the big block, as step malloc_big says */
static bool first_page_present; /* the block's first page, at the pause before write_first */
static uintptr_t first;          /* that page's address */
static int64_t block_rss_kb;     /* the block's mapping's Rss (smaps), at that pause */

static int64_t usable;            /* the step's block's, as malloc_usable_size said at malloc */

static void check_step(pid_t pid, const struct json *st, const struct seen *b,
                       const struct seen *a)
{
    const char *id = jstr(st, "id");
    assert_heap_rows(st, b, a);
    if (jint(st, "step") <= 4) { /* the big blocks: their own pages, whatever smaps merged */
        if (strcmp(id, "malloc_big") == 0 || strcmp(id, "calloc_big") == 0)
            usable = jint(st, "facts.usable_bytes");
        assert_block_rows(pid, st, hex_fact(st, "facts.pointer", false), usable);
    }
    if (strcmp(id, "malloc_big") == 0) {
        int64_t big = jint(st, "facts.big_kB");
        ck_assert_int_ge(a->vm_size - b->vm_size, big);
        ck_assert_int_lt(a->vm_rss - b->vm_rss, big / 2); /* address space, not memory */
        ck_assert(held(st, "big_is_address_space"));
        big_kb = big;
        /* Now, at the pause before write_first: is the page it will write there? */
        first = (uintptr_t)strtoull(jstr(st, "facts.pointer"), NULL, 16);
        uint64_t pfn;
        ck_assert(observe_pagemap(pid, first, &first_page_present, &pfn));
        block_rss_kb = observe_smaps(pid, first, "Rss");
        ck_assert_int_ge(block_rss_kb, 0);
    }
    if (strcmp(id, "write_first") == 0) { /* at most the page (or huge page) it claims */
        int64_t faults = a->minflt - b->minflt;
        /* VmRSS may move between two pauses by a page the narration touched: the
         * claim is about the written page, which pagemap showed before the step,
         * and the block's own mapping, whose Rss (smaps) the narration does not move. */
        if (held(st, "page_already_there"))
            ck_assert_msg(first_page_present && faults <= 2, "no fault claimed: the page %s "
                          "present before, %lld faults", first_page_present ? "was" : "was not",
                          (long long)faults);
        else if (held(st, "write_one_page")) {
            bool present = false;
            uint64_t pfn;
            ck_assert(observe_pagemap(pid, first, &present, &pfn));
            int64_t rss = observe_smaps(pid, first, "Rss") - block_rss_kb;
            ck_assert_msg(!first_page_present && present && rss == page_kb && faults >= 1 &&
                              faults <= 3, "write_one_page: the page %s present before, %s "
                              "after; the block's Rss %+lld kB; %lld faults",
                          first_page_present ? "was" : "was not", present ? "is" : "is not",
                          (long long)rss, (long long)faults);
        }
        else
            ck_assert(held(st, "write_huge_page"));
    }
    if (strcmp(id, "free_big") == 0) { /* both mappings gone: VmSize fell by both blocks */
        ck_assert_int_le(a->vm_size - b->vm_size, -2 * big_kb);
        ck_assert(held(st, "free_big_unmapped"));
    }
    if (strcmp(id, "free_pin") == 0) { /* the break moved down: [heap] ends lower */
        ck_assert_int_lt(a->heap_end, b->heap_end);
        ck_assert(held(st, "heap_shrank_at_free"));
    }
    if (strcmp(id, "write_middle") == 0) {
        ck_assert_int_ge(a->vm_rss - b->vm_rss, page_kb);
        ck_assert(held(st, "write_one_page") || held(st, "write_huge_page"));
    }
    if (strcmp(id, "calloc_big") == 0) { /* no memset: VmRSS did not grow by the size */
        ck_assert_int_ge(a->vm_size - b->vm_size, jint(st, "facts.big_kB"));
        ck_assert_int_lt(a->vm_rss - b->vm_rss, jint(st, "facts.big_kB") / 2);
        ck_assert(held(st, "calloc_skipped_memset"));
    }
    if (strcmp(id, "fill_heap") == 0) {
        ck_assert_int_ge(a->heap_rss - b->heap_rss, 3 * 1024);
        ck_assert(held(st, "heap_holds_blocks"));
    }
    if (strcmp(id, "free_blocks") == 0) { /* free kept the memory */
        ck_assert_int_gt(a->heap_rss - b->heap_rss, -64);
        ck_assert(held(st, "free_kept_memory"));
    }
    if (strcmp(id, "trim") == 0) { /* malloc_trim gave it back */
        ck_assert_int_le(a->heap_rss - b->heap_rss, -2048);
        /* madvise, not a lower break: [heap] shrank by less than its Rss fell */
        ck_assert_int_gt(a->heap_size - b->heap_size, a->heap_rss - b->heap_rss);
        ck_assert(held(st, "trim_gave_back"));
    }
}

START_TEST(lesson_observed)
{
    heap_lesson_observed(program, check_step);
}
END_TEST

/* --predict asks at steps 2 and 4 (the sheet's questions 1 and 2): the faults of
 * big[0] = 1 and of calloc; each measured choice is the one its findings (held
 * against our own readings in lesson_observed) make so. */
START_TEST(predict_answers_measured)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--answers", "b,b", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    const struct json *write_first = demo_step(&d, 2), *zeroed = demo_step(&d, 4);
    bool one = held(write_first, "write_one_page") || held(write_first, "write_huge_page");
    ck_assert(held(write_first, "page_already_there") != one);
    assert_measured(&d, 2, one ? "b" : "a");
    ck_assert(held(zeroed, "calloc_skipped_memset"));
    assert_measured(&d, 4, "b");
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--size", "4K", NULL}, "--size"},
    {{"extra", NULL}, "extra"},
};

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real_in(VMLAB_ANSWERS, "malloc-free", VMLAB_DEMO_SOURCE), 9);
}
END_TEST

int main(void)
{
    program = demo_program("malloc-free", RUN_AS_SELF);
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    /* A build whose allocator is not glibc's cannot show this lesson. */
    demo_test_skip_if_77(program, "test_malloc_free");
    Suite *s = suite_create("malloc-free");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_observed);
    tcase_add_test(tc, predict_answers_measured);
    ADD_BAD_INPUT_TESTS(tc, program, "malloc-free", bad_cases);
    tcase_add_test(tc, answers_show_real_code);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
