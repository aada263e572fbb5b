/* SPDX-License-Identifier: MIT */
/* Demo tests for huge-fault-cost, observed from outside as fault_timing_test.h
 * says (minflt and VmRSS at every --step pause): its base-page yardstick, the
 * transparent huge page and, where the pool has free pages, hugetlb.
 *
 *   test_huge_fault_cost            everything, as the current user
 *   test_huge_fault_cost nobody     the quick run again as uid 65534
 *   test_huge_fault_cost small_pool a pool of 4 MiB for --size 8M (root; 0 put back) */
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
        int64_t huge_pages = REPS * (int64_t)SIZE_MB * 1024 / observe_thp_kb();
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
    bool pool = observe_meminfo("HugePages_Free") > 0 &&
                observe_meminfo("Hugepagesize") == observe_thp_kb();
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

/* A pool smaller than --size (set by small_pool_test): hugetlb times what it had, and the
 * closing line says so; its sentence compares with the base-page yardstick, as THP's does. */
START_TEST(small_pool_named)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--size", "8M", "--reps", "3", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    const struct json *write = demo_step(&d, 1), *hugetlb = demo_step(&d, 3);
    ck_assert_str_eq(jstr(hugetlb, "id"), "hugetlb_fault");
    ck_assert_int_eq(jint(hugetlb, "facts.pages_per_rep"), 4 * 1024 * 1024 / sysconf(_SC_PAGESIZE));
    char against[96];
    snprintf(against, sizeof against, "against %lld ns for a base-page write fault",
             (long long)jint(write, "facts.ns_per_page_median"));
    if (held(hugetlb, "hugetlb_one_fault_per_page"))
        ck_assert_msg(strstr(jstr(hugetlb, "note"), against), "%s", jstr(hugetlb, "note"));
    const char *reason = jstr(demo_result(&d), "reason");
    ck_assert_msg(strstr(reason, "3 repetitions of 8 MiB each, hugetlb's of 4 MiB"), "%s", reason);
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real(VMLAB_ANSWERS, "huge-fault-cost"), 2);
}
END_TEST

/* Two free huge pages (4 MiB) for --size 8M: root, an empty pool, and 0 put back. */
static int small_pool_test(void)
{
    const char *pool = "/proc/sys/vm/nr_hugepages";
    if (geteuid() != 0 || observe_meminfo("HugePages_Total") != 0 ||
        observe_meminfo("Hugepagesize") != 2048) {
        fprintf(stderr, "test_huge_fault_cost small_pool: needs root, an empty pool of 2 MiB "
                        "pages\n");
        return 77;
    }
    FILE *f = fopen(pool, "we");
    bool set = f && fputs("2\n", f) >= 0;
    if (f && fclose(f) != 0)
        set = false;
    int rc = 77;
    if (set && observe_meminfo("HugePages_Free") == 2) {
        program = demo_program("huge-fault-cost", RUN_AS_SELF);
        Suite *s = suite_create("huge-fault-cost with a small pool");
        TCase *tc = tcase_create("small_pool");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, small_pool_named);
        suite_add_tcase(s, tc);
        rc = demo_test_exit(s, program, RUN_AS_SELF);
    } else {
        fprintf(stderr, "test_huge_fault_cost small_pool: the kernel gave no 2 huge pages\n");
    }
    f = fopen(pool, "we");
    bool back = f && fputs("0\n", f) >= 0;
    if (!f || fclose(f) != 0 || !back) {
        fprintf(stderr, "test_huge_fault_cost small_pool: could not put %s back to 0\n", pool);
        rc = EXIT_FAILURE;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "small_pool") == 0)
        return small_pool_test();
    return fault_timing_suite(argc, argv, "huge-fault-cost",
                              (const TTest *[]){quick_json, intro_command_on_one_line, NULL},
                              (const TTest *[]){observed_from_outside, answers_show_real_code,
                                                NULL});
}
