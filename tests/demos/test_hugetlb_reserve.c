/* Demo tests for hugetlb-reserve: the pool counters move as the lesson says,
 * both failure modes happen, and the pool is back to its size afterwards.
 *
 *   test_hugetlb_reserve root     --setup 2 (exits 77 when not root)
 *   test_hugetlb_reserve nobody   without root: a lesson or a clean 77 */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_test.h"
#include "procfs.h"
#include "suite.h"

static const char *program;
static enum run_as run_as = RUN_AS_SELF;

START_TEST(setup_reserve_write_fail)
{
    struct knobs before, after;
    knobs_read(&before);
    uint64_t rsvd_before = meminfo("HugePages_Rsvd"), free_before = meminfo("HugePages_Free");
    int64_t huge_kb = (int64_t)meminfo("Hugepagesize");
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--setup", "2", NULL});
    knobs_read(&after);
    knobs_restore(&before);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_msg(knobs_equal(&before, &after), "nr_hugepages %llu, was %llu",
                  (unsigned long long)after.nr_hugepages, (unsigned long long)before.nr_hugepages);
    ck_assert_uint_eq(meminfo("HugePages_Rsvd"), rsvd_before);
    ck_assert_uint_eq(meminfo("HugePages_Free"), free_before);

    ck_assert_int_eq(jint(demo_step(&d, 1), "delta.HugePages_Total"), 2);
    ck_assert_int_eq(jint(demo_step(&d, 1), "delta.Hugetlb_kB"), 2 * huge_kb);
    const struct json *map = demo_step(&d, 2), *wr = demo_step(&d, 3);
    ck_assert_int_eq(jint(map, "delta.HugePages_Rsvd"), 1);
    ck_assert_int_eq(jint(map, "delta.HugePages_Free"), 0);
    ck_assert_str_eq(jstr(map, "facts.mincore"), "0 of 512 base pages resident");
    ck_assert_int_eq(jint(wr, "delta.HugePages_Free"), -1);
    ck_assert_int_eq(jint(wr, "delta.HugePages_Rsvd"), -1);
    ck_assert_int_eq(jint(wr, "after.Private_Hugetlb_kB"), huge_kb);
    ck_assert_int_eq(jint(wr, "after.Rss_kB"), 0);
    ck_assert_int_eq(jint(wr, "delta.status_HugetlbPages_kB"), huge_kb);
    if (free_before == 0) { /* the pool was empty: the demo owned it and showed both failures */
        ck_assert_str_eq(jstr(demo_step(&d, 4), "facts.mmap"), "ENOMEM");
        const struct json *bus = demo_step(&d, 5);
        ck_assert_str_eq(jstr(bus, "facts.mmap"), "granted");
        ck_assert_str_eq(jstr(bus, "facts.write"), "SIGBUS");
        ck_assert_str_eq(jstr(bus, "facts.si_code"), "BUS_ADRERR");
    }
    demo_run_free(&d);
}
END_TEST

START_TEST(unprivileged_lesson_or_clean_skip)
{
    struct knobs before, after;
    knobs_read(&before);
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    const char *result = jstr(demo_result(&d), "result");
    if (meminfo("HugePages_Free") == 0) {
        ck_assert_int_eq(d.r.exit_code, 77);
        ck_assert_str_eq(result, "skip");
        ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "nr_hugepages"));
    } else {
        ck_assert_int_eq(d.r.exit_code, 0);
        ck_assert_str_eq(result, "ok");
    }
    demo_run_free(&d);
    /* --setup without root: refused, nothing changed */
    demo_run_json(&d, program, run_as, (const char *const[]){"--setup", "2", NULL});
    ck_assert_int_eq(d.r.exit_code, 77);
    ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "root"));
    demo_run_free(&d);
    knobs_read(&after);
    ck_assert(knobs_equal(&before, &after));
}
END_TEST

static const struct { const char *args[4]; const char *names; } bad[] = {
    {{"--setup", "0"}, "--setup"}, {{"--setup", "65"}, "--setup"},
    {{"--setup", "x"}, "--setup"}, {{"--setup", ""}, "--setup"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "hugetlb-reserve", bad[_i].args, bad[_i].names);
}
END_TEST

int main(int argc, char **argv)
{
    const char *role = argc > 1 ? argv[1] : "";
    bool root = geteuid() == 0;
    if (strcmp(role, "root") == 0 && !root) {
        fprintf(stderr, "--setup changes /proc/sys/vm/nr_hugepages and needs root: skipped\n");
        return 77;
    }
    bool nobody = strcmp(role, "nobody") == 0;
    if (nobody && root)
        run_as = RUN_AS_NOBODY; /* anyone else is unprivileged already */
    program = demo_program("hugetlb-reserve", run_as);
    Suite *s = suite_create("hugetlb-reserve");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    if (nobody) {
        tcase_add_test(tc, unprivileged_lesson_or_clean_skip);
    } else {
        tcase_add_test(tc, setup_reserve_write_fail);
        tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    }
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
