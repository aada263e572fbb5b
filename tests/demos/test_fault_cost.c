/* SPDX-License-Identifier: MIT */
/* Demo tests for fault-cost. Timings are never asserted (they belong to
 * tests/bench/bench_fault_cost.c); what is asserted is the structure and
 * the findings, against what this test reads of the process from outside:
 *   - at every --step pause, /proc/PID/stat's minflt: the faults a step
 *     took lie between the pauses around it, and equal the pages it
 *     touched - a number this test computes from the --size and --reps it
 *     passes, never from the demo's output;
 *   - /proc/PID/status VmRSS at every pause: each step unmapped what it
 *     timed, so the process never keeps the memory between steps;
 *   - every step's code is in the source, every sentence rests on a held
 *     finding, and each step's figures are ordered (min <= median <= max).
 *
 *   test_fault_cost            everything, as the current user
 *   test_fault_cost nobody     the quick run again as uid 65534 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_asserts.h"
#include "observe.h"
#include "suite.h"

static enum run_as run_as = RUN_AS_SELF;
static const char *program;
static int64_t page_size;

#define SIZE_MB 8
#define REPS 3

static int64_t pages(void)
{
    return (int64_t)SIZE_MB * 1024 * 1024 / page_size;
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
static int64_t expected_faults(const struct json *st)
{
    const char *id = jstr(st, "id");
    int64_t pg = pages();
    if (strcmp(id, "write_fault") == 0 || strcmp(id, "read_fault") == 0)
        return REPS * pg;
    if (strcmp(id, "map_populate") == 0) /* no MADV_NOHUGEPAGE before MAP_POPULATE */
        return thp_mode_is("always") ? -1 : REPS * pg;
    if (strcmp(id, "populate_write") == 0)
        return jint(st, "facts.madvise_result") == 0 ? REPS * pg : 0;
    if (strcmp(id, "zeroing") == 0)
        return pg; /* the untimed pre-touch; memset faults nothing */
    if (strcmp(id, "page_fault1") == 0)
        return 2 * REPS * pg; /* page_fault1's round and ours, alternately */
    if (strcmp(id, "hugetlb_fault") == 0)
        return -1;
    if (strcmp(id, "thp_fault") == 0)
        return -1;
    ck_abort_msg("unknown step id %s", id);
    return -1;
}

/* AddressSanitizer's memset reads the shadow of the whole range: one
 * fault per eight pages of its own in the zeroing step. The ASan build of
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
    if (strcmp(id, "thp_fault") == 0) {
        int64_t huge_pages = REPS * (int64_t)SIZE_MB / 2;
        bool huge = faults == huge_pages;
        ck_assert_int_eq(held(st, "one_fault_per_huge_page"), huge);
        ck_assert_int_eq(held(st, "thp_not_used"), !huge && faults >= REPS * pages());
        if (thp_mode_is("never"))
            ck_assert(!huge);
    }
    if (strcmp(id, "map_populate") == 0 || strcmp(id, "populate_write") == 0) {
        /* THP 'always' reaches MAP_POPULATE's memory, never populate_write's
         * (MADV_NOHUGEPAGE); fewer faults than pages touched is a huge page
         * mapped, by our count alone: about 12 against at least 6144 with 4 KiB pages (the
         * narration's own faults, below 2000, cannot bridge that). */
        bool always = thp_mode_is("always"), mp = strcmp(id, "map_populate") == 0;
        const char *f = "thp_always_may_apply";
        ck_assert_int_eq(held(st, f), mp && always);
        ck_assert_int_eq(finding_value(st, f, "thp_always"), always);
        ck_assert_int_eq(finding_value(st, f, "minor_faults"), faults);
        ck_assert_int_eq(finding_value(st, f, "pages"), REPS * pages());
        ck_assert_int_eq(finding_value(st, f, "huge_pages_mapped"),
                         outside_faults < REPS * pages());
    }
    if (strcmp(id, "zeroing") == 0 && !asan)
        ck_assert(held(st, "faults_only_before_timing"));
    if (strcmp(id, "read_fault") == 0) /* the answer is the measurement's */
        ck_assert(held(st, "read_vs_write"));
    if (strcmp(id, "page_fault1") == 0)
        ck_assert(held(st, "agrees_with_page_fault1") != held(st, "differs_from_page_fault1"));
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

START_TEST(observed_from_outside)
{
    char size[16], reps[16];
    snprintf(size, sizeof size, "%dM", SIZE_MB);
    snprintf(reps, sizeof reps, "%d", REPS);
    const char *argv[] = {program, "--step", "--json", "--size", size, "--reps", reps, NULL};
    struct stepper s;
    struct watch w = {.baseline = -1};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    assert_lesson_step(lesson_last_step(&s, last, "page_fault1"));
    ck_assert_int_eq(jint(stepper_step(&s, 1), "facts.size_kB"), SIZE_MB * 1024);
    ck_assert_int_eq(jint(stepper_step(&s, 1), "facts.pages_per_rep"), pages());
    lesson_assert_ok_end(&s);
}
END_TEST

/* The tour's stop: --quick, without a terminal. */
START_TEST(quick_json)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--quick", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_int_ge(d.n, 8);
    for (int i = 1; i < d.n; i++)
        assert_lesson_step(demo_step(&d, i));
    ck_assert_int_eq(jint(demo_step(&d, 1), "facts.size_kB"), 16 * 1024);
    ck_assert_int_eq(jint(demo_step(&d, 1), "facts.reps"), 3);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

/* A command the intro gives (where the pool has no huge page) is copied by a
 * student: it stays whole on one line at 80 columns, never wrapped inside. */
START_TEST(intro_command_on_one_line)
{
    struct run_result r;
    const char *argv[] = {program, "--quick", NULL};
    ck_assert_int_eq(run_program(argv, run_as, &r), 0);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    char *save = NULL;
    for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strstr(line, "nr_hugepages") || strstr(line, "echo "))
            ck_assert_msg(strcmp(line, "    echo N > /proc/sys/vm/nr_hugepages") == 0,
                          "the command is cut, or not alone on its line: '%s'", line);
    run_result_free(&r);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real(VMLAB_ANSWERS, "fault-cost"), 7);
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--reps", "2", NULL}, "--reps"},
    {{"--reps", "x", NULL}, "--reps"},
    {{"--size", "1K", NULL}, "--size"},
    {{"--size", "2G", NULL}, "--size"},
    {{"--quick", "extra", NULL}, "extra"},
};

int main(int argc, char **argv)
{
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program("fault-cost", run_as);
    page_size = sysconf(_SC_PAGESIZE);
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "fault-cost as nobody" : "fault-cost");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quick_json);
    tcase_add_test(tc, intro_command_on_one_line);
    if (run_as == RUN_AS_SELF) {
        tcase_add_test(tc, observed_from_outside);
        tcase_add_test(tc, answers_show_real_code);
    }
    ADD_BAD_INPUT_TESTS(tc, program, "fault-cost", bad_cases);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}
