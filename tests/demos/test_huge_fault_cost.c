/* SPDX-License-Identifier: MIT */
/* Demo tests for huge-fault-cost, observed from outside as fault_timing_test.h
 * says (minflt and VmRSS at every --step pause): its base-page yardstick, the
 * transparent huge page and, where the pool has free pages, hugetlb.
 *
 *   test_huge_fault_cost            everything, as the current user
 *   test_huge_fault_cost nobody     the quick run again as uid 65534 */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fault_timing_test.h"

static int64_t expected_faults(const struct json *st)
{
    const char *id = jstr(st, "id");
    if (strcmp(id, "write_fault") == 0)
        return REPS * pages();
    if (strcmp(id, "hugetlb_fault") == 0)
        return -1;
    if (strcmp(id, "thp_fault") == 0)
        return -1;
    ck_abort_msg("unknown step id %s", id);
    return -1;
}

static void check_findings(const struct json *st, int64_t faults, int64_t outside_faults)
{
    (void)outside_faults;
    if (strcmp(jstr(st, "id"), "thp_fault") == 0) {
        int64_t huge_pages = REPS * (int64_t)SIZE_MB / 2;
        bool huge = faults == huge_pages;
        ck_assert_int_eq(held(st, "one_fault_per_huge_page"), huge);
        ck_assert_int_eq(held(st, "thp_not_used"), !huge && faults >= REPS * pages());
        if (thp_mode_is("never"))
            ck_assert(!huge);
    }
}

/* The last step: hugetlb's where the pool has free pages of THP's size. */
START_TEST(observed_from_outside)
{
    bool pool = observe_meminfo("HugePages_Free") > 0 && observe_meminfo("Hugepagesize") == 2048;
    step_through_checked(pool ? "hugetlb_fault" : "thp_fault");
}
END_TEST

START_TEST(quick_json)
{
    quick_run(2);
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
    ck_assert_int_ge(assert_answers_real(VMLAB_ANSWERS, "huge-fault-cost"), 2);
}
END_TEST

int main(int argc, char **argv)
{
    return fault_timing_suite(argc, argv, "huge-fault-cost",
                              (const TTest *[]){quick_json, intro_command_on_one_line, NULL},
                              (const TTest *[]){observed_from_outside, answers_show_real_code,
                                                NULL});
}
