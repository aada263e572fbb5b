/* SPDX-License-Identifier: MIT */
/* fault_timing_test: what the tests of fault-cost and huge-fault-cost share.
 * Timings are never asserted (they belong to tests/bench/bench_fault_cost.c);
 * what is asserted is the structure and the findings, against what the test
 * reads of the process from outside:
 *   - at every --step pause, /proc/PID/stat's minflt: the faults a step
 *     took lie between the pauses around it, and equal the pages it
 *     touched - a number the test computes from the --size and --reps it
 *     passes, never from the demo's output;
 *   - /proc/PID/status VmRSS at every pause: each step unmapped what it
 *     timed, so the process never keeps the memory between steps;
 *   - every step's code is in the source, every sentence rests on a held
 *     finding, and each step's figures are ordered (min <= median <= max).
 * The test that includes this defines, before it, the faults a step must take
 * and the checks of its steps' own findings (the two prototypes below). */
#ifndef VMLAB_TEST_FAULT_TIMING_H
#define VMLAB_TEST_FAULT_TIMING_H

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_asserts.h"
#include "observe.h"
#include "suite.h"

#define SIZE_MB 8
#define REPS 3

static enum run_as run_as = RUN_AS_SELF;
static const char *program;

static int64_t pages(void)
{
    return (int64_t)SIZE_MB * 1024 * 1024 / sysconf(_SC_PAGESIZE);
}

static bool thp_mode_is(const char *mode)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    char want[32];
    snprintf(want, sizeof want, "[%s]", mode);
    return strstr(buf, want) != NULL;
}

/* The faults a step must take: the pages it touched, from this test's own
 * --size, --reps and the page size; -1 where the kernel decides (THP). */
static int64_t expected_faults(const struct json *st);
/* The step's own findings, against its faults (the demo's count) and those
 * counted from outside between the pauses around it. */
static void check_findings(const struct json *st, int64_t faults, int64_t outside_faults);

/* AddressSanitizer's memset reads the shadow of the whole range: one
 * fault per eight pages of its own in fault-cost's zeroing step. The ASan build of
 * the demo reserves terabytes of address space, which is how we tell. */
static bool asan;

static void check_step(const struct json *st, int64_t outside_faults, int64_t rss_kb,
                       int64_t baseline_rss_kb)
{
    assert_lesson_step(st);
    const char *id = jstr(st, "id");
    int64_t faults = jint(st, "facts.minor_faults");
    /* The demo's count lies inside what the kernel counted between pauses;
     * the rest is the narration's own (printing, reading /proc). */
    ck_assert_msg(faults <= outside_faults && outside_faults - faults < 2000,
                  "%s: demo says %lld faults, /proc/PID/stat %lld between the pauses", id,
                  (long long)faults, (long long)outside_faults);
    int64_t want = expected_faults(st);
    if (want >= 0) {
        /* Equal to the pages touched, give or take this program's own code
         * paged in on first use. */
        int64_t slack = asan && strcmp(id, "zeroing") == 0 ? pages() / 8 + 4 : 4;
        ck_assert_msg(faults >= want && faults <= want + slack,
                      "%s: %lld faults for %lld pages touched", id, (long long)faults,
                      (long long)want);
        if (want > 0 && strcmp(id, "zeroing") != 0)
            ck_assert(held(st, "one_fault_per_page"));
    }
    check_findings(st, faults, outside_faults);
    if (json_path(st, "facts.ns_per_page_median")) {
        ck_assert_int_eq(jint(st, "facts.reps"), REPS);
        ck_assert_int_le(jint(st, "facts.ns_per_page_min"), jint(st, "facts.ns_per_page_median"));
        ck_assert_int_le(jint(st, "facts.ns_per_page_median"), jint(st, "facts.ns_per_page_max"));
        ck_assert_int_gt(jint(st, "facts.ns_per_page_min"), 0);
    }
    /* Each step unmapped what it timed: the process holds none of it. */
    ck_assert_msg(rss_kb - baseline_rss_kb < SIZE_MB * 1024 / 2,
                  "%s: VmRSS %lld kB, %lld kB at the start", id, (long long)rss_kb,
                  (long long)baseline_rss_kb);
}

/* What we read at each pause: the demo's minor faults and VmRSS so far. */
struct watch {
    int64_t minflt[16], rss[16], baseline;
};

/* At the pause before step `next`: our reading now, and step next - 1 against it. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct watch *w = ctx;
    pid_t pid = stepper_pid(s);
    ck_assert_int_lt(next, 15);
    w->minflt[next] = observe_minflt(pid);
    asan = observe_status(pid, "VmSize") > (INT64_C(1) << 30); /* kB: over 1 TiB */
    w->rss[next] = observe_status(pid, "VmRSS");
    if (w->baseline < 0)
        w->baseline = w->rss[next];
    if (ended)
        check_step(ended, w->minflt[next] - w->minflt[next - 1], w->rss[next], w->baseline);
}

/* The demo stepped through at --size SIZE_MB --reps REPS, every step checked at
 * the pause after it (the last one once the demo ended); it ended with step `last_id`,
 * and its first step says the size. */
static void step_through_checked(const char *last_id)
{
    char size[16], reps[16];
    snprintf(size, sizeof size, "%dM", SIZE_MB);
    snprintf(reps, sizeof reps, "%d", REPS);
    const char *argv[] = {program, "--step", "--json", "--size", size, "--reps", reps, NULL};
    struct stepper s;
    struct watch w = {.baseline = -1};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    const struct json *end = lesson_last_step(&s, last, last_id);
    /* No pause follows the last step: its result line is out, the demo ended, and until
     * it is reaped its stat still counts the faults it took. It holds no memory now. */
    int64_t minflt = observe_minflt(stepper_pid(&s));
    ck_assert_int_ge(minflt, w.minflt[last]);
    check_step(end, minflt - w.minflt[last], w.baseline, w.baseline);
    ck_assert_int_eq(jint(stepper_step(&s, 1), "facts.size_kB"), SIZE_MB * 1024);
    ck_assert_int_eq(jint(stepper_step(&s, 1), "facts.pages_per_rep"), pages());
    lesson_assert_ok_end(&s);
}

/* The tour's stop: --quick, without a terminal; at least `steps` steps. */
static void quick_run(int steps)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--quick", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_int_ge(d.n, steps + 1);
    for (int i = 1; i < d.n; i++)
        assert_lesson_step(demo_step(&d, i));
    ck_assert_int_eq(jint(demo_step(&d, 1), "facts.size_kB"), 16 * 1024);
    ck_assert_int_eq(jint(demo_step(&d, 1), "facts.reps"), 3);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}

/* Both demos take the same options, and refuse the same bad ones. */
static const struct bad_case bad_cases[] = {
    {{"--reps", "2", NULL}, "--reps"},
    {{"--reps", "x", NULL}, "--reps"},
    {{"--size", "1K", NULL}, "--size"},
    {{"--size", "2G", NULL}, "--size"},
    {{"--quick", "extra", NULL}, "extra"},
};

/* main() of both tests: `everyone` (NULL-ended) as the current user and as nobody,
 * `self_only` as the current user alone, and the bad input. */
static int fault_timing_suite(int argc, char **argv, const char *demo,
                              const TTest *const everyone[], const TTest *const self_only[])
{
    static char name[64];
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program(demo, run_as);
    snprintf(name, sizeof name, "%s%s", demo, run_as == RUN_AS_NOBODY ? " as nobody" : "");
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 120);
    for (int i = 0; everyone[i]; i++)
        tcase_add_test(tc, everyone[i]);
    for (int i = 0; run_as == RUN_AS_SELF && self_only[i]; i++)
        tcase_add_test(tc, self_only[i]);
    ADD_BAD_INPUT_TESTS(tc, program, demo, bad_cases);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}

#endif
