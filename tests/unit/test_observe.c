/* SPDX-License-Identifier: MIT */
/* The tests' own /proc readers, checked against what this process knows it
 * did: a mapping it made, pages it wrote. */
#define _GNU_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "guarded.h"
#include "observe.h"
#include "run.h"
#include "suite.h"

START_TEST(smaps_and_pagemap_follow_writes)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = guarded_map((size_t)page * 4); /* a VMA of its own */
    ck_assert_ptr_nonnull(p);
    madvise(p, (size_t)page * 4, MADV_NOHUGEPAGE);
    pid_t self = getpid();
    ck_assert_int_eq(observe_smaps(self, (uintptr_t)p, "Size"), page * 4 / 1024);
    ck_assert_int_eq(observe_smaps(self, (uintptr_t)p, "Rss"), 0);
    bool present = true;
    uint64_t pfn = 1;
    ck_assert(observe_pagemap(self, (uintptr_t)p, &present, &pfn));
    ck_assert(!present);

    int64_t faults = observe_minflt(self);
    ck_assert_int_ge(faults, 0);
    p[0] = 1;
    p[page] = 1;
    ck_assert_int_eq(observe_smaps(self, (uintptr_t)p, "Rss"), 2 * page / 1024);
    ck_assert_int_ge(observe_minflt(self), faults + 2);
    ck_assert(observe_pagemap(self, (uintptr_t)p, &present, &pfn));
    ck_assert(present);
    if (geteuid() == 0) {
        uint64_t zero = observe_zero_pfn();
        ck_assert_uint_ne(zero, 0);
        ck_assert_uint_ne(pfn, 0);
        ck_assert_uint_ne(pfn, zero); /* a written page has a frame of its own */
        (void)*(volatile char *)(p + 2 * page);
        ck_assert(observe_pagemap(self, (uintptr_t)(p + 2 * page), &present, &pfn));
        ck_assert_uint_eq(pfn, zero);  /* a read maps the shared zero page */
    }
    char flags[256];
    ck_assert(observe_vmflags(self, (uintptr_t)p, flags, sizeof flags));
    ck_assert_ptr_nonnull(strstr(flags, "wr"));
    ck_assert_int_eq(observe_smaps(self, (uintptr_t)4096, "Rss"), -1);
    guarded_release(p, (size_t)page * 4);
}
END_TEST

START_TEST(status_meminfo_vmstat)
{
    ck_assert_int_gt(observe_status(getpid(), "VmRSS"), 0);
    ck_assert_int_eq(observe_status(getpid(), "NoSuchField"), -1);
    ck_assert_int_gt(observe_meminfo("MemTotal"), 0);
    ck_assert_int_ge(observe_vmstat("pgfault"), 0);
    ck_assert_int_eq(observe_vmstat("no_such_counter"), -1);
}
END_TEST

static const char *fixture(void)
{
    return LESSON_FIXTURE;
}

/* The stepper stops before each LESSON; between them the test reads the
 * process itself and finds what the step's JSON reports. */
START_TEST(stepper_pauses_before_each_lesson)
{
    struct stepper s;
    const char *argv[] = {fixture(), "--step", "--json", NULL};
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    ck_assert_int_eq(stepper_wait(&s), 1);
    ck_assert_ptr_null(stepper_step(&s, 1)); /* not run yet */
    ck_assert(stepper_go(&s));
    ck_assert_int_eq(stepper_wait(&s), 2);
    const struct json *map = stepper_step(&s, 1);
    ck_assert_ptr_nonnull(map);
    ck_assert_str_eq(json_get_string(map, "id"), "map");
    /* The printed code is the source, as written in lesson_fixture.c. */
    ck_assert_ptr_nonnull(strstr(json_get_string(map, "code"),
                                 "p = mmap(NULL, len, PROT_READ | PROT_WRITE"));
    uintptr_t addr = stepper_maps_start(map);
    ck_assert_uint_ne(addr, 0);
    pid_t pid = stepper_pid(&s);
    ck_assert_int_eq(observe_smaps(pid, addr, "Rss"), 0); /* paused before the write */
    ck_assert(stepper_go(&s));
    ck_assert_int_eq(stepper_wait(&s), 0);
    const struct json *write = stepper_step(&s, 2);
    ck_assert_ptr_nonnull(write);
    const struct json *findings = json_get(write, "findings");
    ck_assert_ptr_nonnull(findings);
    ck_assert_int_eq(findings->type, JSON_ARRAY);
    ck_assert_uint_eq(findings->count, 2);
    ck_assert_str_eq(json_get_string(&findings->items[0], "id"), "one_page");
    ck_assert(json_get(&findings->items[0], "held")->boolean);
    ck_assert_int_eq(json_path(&findings->items[0], "values.rss_delta_kB")->integer,
                     sysconf(_SC_PAGESIZE) / 1024);
    ck_assert_ptr_nonnull(stepper_result(&s));
    ck_assert_str_eq(json_get_string(stepper_result(&s), "result"), "ok");
    int status = stepper_finish(&s);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* A sentence whose finding did not hold is a bug of the demo: exit 1. */
START_TEST(sentence_without_held_finding_fails_the_run)
{
    const char *argv[] = {fixture(), "--json", "bug", NULL};
    struct run_result r;
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "\"result\":\"fail\""));
    ck_assert_ptr_nonnull(strstr(r.out, "no_growth"));
    ck_assert_ptr_null(strstr(r.out, "Rss did not grow."));
    run_result_free(&r);
}
END_TEST

/* --answers: the prediction, the measured choice and the score in JSON. */
START_TEST(answers_are_scored_against_the_measurement)
{
    const char *argv[] = {fixture(), "--json", "--answers", "b", NULL};
    struct run_result r;
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"predicted\":\"b\",\"measured\":\"b\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"score\":{\"questions\":1,\"asked\":1,\"right\":1}"));
    run_result_free(&r);
    const char *wrong[] = {fixture(), "--answers", "a", NULL};
    ck_assert_int_eq(run_program(wrong, RUN_AS_SELF, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.out, "You predicted a) not at all; measured: b) one page"));
    ck_assert_ptr_nonnull(strstr(r.out, "0 of 1 right"));
    run_result_free(&r);
    /* --predict with no terminal and no answers is a usage error. */
    const char *none[] = {fixture(), "--predict", NULL};
    ck_assert_int_eq(run_program(none, RUN_AS_SELF, &r), 0);
    ck_assert_int_eq(r.exit_code, 2);
    run_result_free(&r);
}
END_TEST

/* At a terminal: the code and the question come first, nothing has run. */
START_TEST(predict_asks_before_the_step_runs)
{
    struct stepper s;
    const char *argv[] = {fixture(), "--predict", NULL};
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    struct pty_child *c = &s.pty;
    ck_assert_msg(pty_wait_for(c, "p[0] = 'a';"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "How much does Rss grow?"), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Your answer"), "%s", c->screen);
    ck_assert_ptr_null(strstr(c->screen, "Rss grew by one page."));
    ck_assert(pty_send(c, "z\n"));
    ck_assert_msg(pty_wait_for(c, "Type one letter"), "%s", c->screen);
    ck_assert(pty_send(c, "b\n"));
    ck_assert_msg(pty_wait_for(c, "measured: b) one page - right."), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "1 of 1 right"), "%s", c->screen);
    int status = pty_finish(c);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("observe");
    TCase *tc = tcase_create("proc");
    tcase_add_test(tc, smaps_and_pagemap_follow_writes);
    tcase_add_test(tc, status_meminfo_vmstat);
    tcase_add_test(tc, stepper_pauses_before_each_lesson);
    tcase_add_test(tc, sentence_without_held_finding_fails_the_run);
    tcase_add_test(tc, answers_are_scored_against_the_measurement);
    tcase_add_test(tc, predict_asks_before_the_step_runs);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
