/* Demo tests for map-noreserve: what each request got and what it was
 * charged, against the overcommit mode this test reads itself; --all-modes
 * as root, with every knob back to its value afterwards.
 *
 *   test_map_noreserve          the lesson in the current mode, bad input
 *   test_map_noreserve root     --all-modes (exits 77 when not root)
 *   test_map_noreserve nobody   the lesson as uid 65534, and --all-modes refused */
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
static long page_kb;

#define GiB_kB (1024 * 1024)

static void assert_near(int64_t got, int64_t want, const char *what)
{
    int64_t slack = 64 * 1024; /* other processes move Committed_AS too */
    ck_assert_msg(got >= want - slack && got <= want + slack, "%s: %lld kB, want %lld kB", what,
                  (long long)got, (long long)want);
}

START_TEST(lesson_in_current_mode)
{
    uint64_t mode = vm("overcommit_memory");
    struct demo_run d;
    demo_run_json(&d, program, run_as, NULL);
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);

    /* CommitLimit from the formula, computed here, not taken from the demo. */
    const struct json *policy = demo_step(&d, 1);
    uint64_t kbytes = vm("overcommit_kbytes"), ratio = vm("overcommit_ratio");
    uint64_t swap = meminfo("SwapTotal"), total = meminfo("MemTotal");
    uint64_t huge = meminfo("HugePages_Total") * meminfo("Hugepagesize");
    uint64_t limit = kbytes ? kbytes + swap
                            : (total - huge) / (uint64_t)page_kb * ratio / 100 * (uint64_t)page_kb + swap;
    ck_assert_int_eq(jint(policy, "facts.CommitLimit_computed_kB"), (int64_t)limit);
    ck_assert_int_le(llabs(jint(policy, "facts.CommitLimit_kB") - (int64_t)limit), page_kb);

    const struct json *plain = demo_step(&d, 2), *nores = demo_step(&d, 3), *touch = demo_step(&d, 4),
                      *fit = demo_step(&d, 5), *protnone = demo_step(&d, 6);
    if (mode == 0) {
        ck_assert_str_eq(jstr(plain, "facts.result"), "ENOMEM"); /* 1 TiB > RAM + swap */
        /* ...but the check is per call: two halves of RAM + swap pass */
        ck_assert_int_eq(strncmp(jstr(plain, "facts.two halves"), "granted and granted", 19), 0);
        ck_assert_str_eq(jstr(nores, "facts.result"), "granted");
        assert_near(jint(nores, "facts.Committed_AS_change_kB"), 0, "1 TiB MAP_NORESERVE charge");
    } else if (mode == 1) {
        ck_assert_str_eq(jstr(plain, "facts.result"), "granted");
        ck_assert_str_eq(jstr(nores, "facts.result"), "granted");
    } else {
        ck_assert_str_eq(jstr(plain, "facts.result"), "ENOMEM");
        ck_assert_str_eq(jstr(nores, "facts.result"), "ENOMEM");
    }
    if (mode != 2) {
        /* Three pages touched in a 1 TiB mapping: three pages of Rss. */
        ck_assert_int_eq(jint(touch, "after.Size_kB"), (int64_t)1 << 30);
        ck_assert_int_eq(jint(touch, "delta.Rss_kB"), 3 * page_kb);
        ck_assert_int_eq(jint(touch, "delta.minor_faults"), 3);
        assert_near(jint(fit, "facts.charge_with_kB"), 0, "1 GiB MAP_NORESERVE charge");
    } else {
        assert_near(jint(fit, "facts.charge_with_kB"), GiB_kB, "mode 2 ignores MAP_NORESERVE");
    }
    assert_near(jint(fit, "facts.charge_without_kB"), GiB_kB, "1 GiB charge");
    assert_near(jint(protnone, "facts.charge_at_reserve_kB"), 0, "PROT_NONE charge");
    assert_near(jint(protnone, "facts.charge_at_mprotect_kB"), GiB_kB, "mprotect charge");
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

START_TEST(all_modes_as_root)
{
    struct knobs before, after;
    knobs_read(&before);
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--all-modes", NULL});
    knobs_read(&after);
    knobs_restore(&before); /* the test's own safety net, whatever happened */
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    ck_assert_msg(knobs_equal(&before, &after), "overcommit knobs not restored");
    const struct json *m0 = demo_step(&d, 7), *m1 = demo_step(&d, 8), *m2 = demo_step(&d, 9);
    ck_assert_str_eq(jstr(m0, "facts.huge"), "ENOMEM");
    ck_assert_str_eq(jstr(m0, "facts.huge_noreserve"), "granted");
    ck_assert_str_eq(jstr(m1, "facts.huge"), "granted");
    assert_near(jint(m1, "facts.huge_charge_kB"), (int64_t)1 << 30, "mode 1 charge of 1 TiB");
    ck_assert_str_eq(jstr(m1, "facts.huge_noreserve"), "granted");
    ck_assert_str_eq(jstr(m2, "facts.huge"), "ENOMEM");
    ck_assert_str_eq(jstr(m2, "facts.huge_noreserve"), "ENOMEM");
    assert_near(jint(m2, "facts.fit_noreserve_charge_kB"), GiB_kB, "mode 2 ignores MAP_NORESERVE");
    demo_run_free(&d);
}
END_TEST

START_TEST(all_modes_refused_without_root)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--all-modes", NULL});
    ck_assert_int_eq(d.r.exit_code, 77);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "skip");
    ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "root"));
    demo_step(&d, 6); /* the lesson itself still ran */
    demo_run_free(&d);
}
END_TEST

static const struct { const char *args[4]; const char *names; } bad[] = {
    {{"--size", "0"}, "--size"},           {{"--size", "12Q"}, "--size"},
    {{"--size", "99999999T"}, "--size"},   {{"--fit-size", "8G"}, "--fit-size"},
    {{"--all-modes", "--all-modes"}, "--all-modes"}, {{"mode2"}, "mode2"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "map-noreserve", bad[_i].args, bad[_i].names);
}
END_TEST

int main(int argc, char **argv)
{
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    const char *role = argc > 1 ? argv[1] : "";
    if (strcmp(role, "root") == 0 && geteuid() != 0) {
        fprintf(stderr, "--all-modes changes /proc/sys/vm and needs root: skipped\n");
        return 77;
    }
    if (strcmp(role, "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("map-noreserve", run_as);

    Suite *s = suite_create("map-noreserve");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    if (strcmp(role, "root") == 0) {
        tcase_add_test(tc, all_modes_as_root);
    } else {
        tcase_add_test(tc, lesson_in_current_mode);
        if (run_as == RUN_AS_NOBODY || geteuid() != 0)
            tcase_add_test(tc, all_modes_refused_without_root);
        if (run_as == RUN_AS_SELF)
            tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    }
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
