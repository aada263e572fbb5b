/* Demo tests for protnone-dirty: resident and dirty while PROT_NONE, the
 * refused read's si_code, the data intact, and the four states. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_test.h"
#include "suite.h"

static const char *program;
static enum run_as run_as = RUN_AS_SELF;

START_TEST(resident_dirty_inaccessible)
{
    long pk = sysconf(_SC_PAGESIZE) / 1024;
    int pages = 256;
    int64_t size_kb = pages * pk;
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--pages", "256", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *w = demo_step(&d, 1), *none = demo_step(&d, 2), *back = demo_step(&d, 3),
                      *states = demo_step(&d, 4);
    ck_assert_int_eq(jint(w, "after.Rss_kB"), size_kb);
    ck_assert_int_eq(jint(w, "after.Private_Dirty_kB"), size_kb);
    ck_assert_ptr_nonnull(strstr(jstr(none, "facts.maps"), " ---p "));
    ck_assert_int_eq(jint(none, "after.Rss_kB"), size_kb);
    ck_assert_int_eq(jint(none, "after.Private_Dirty_kB"), size_kb);
    const char *pic = jstr(none, "facts.mincore");
    ck_assert_uint_eq(strspn(pic, "#"), (size_t)pages); /* all still resident */
    ck_assert_str_eq(jstr(none, "facts.read"), "SIGSEGV");
    ck_assert_str_eq(jstr(none, "facts.si_code"), "SEGV_ACCERR");
    ck_assert_str_eq(jstr(none, "facts.si_addr is p"), "yes");
    ck_assert_int_eq(jint(back, "facts.pages intact"), pages);
    /* The four states: charges within a margin (Committed_AS is system-wide). */
    int64_t slack = size_kb / 4;
    ck_assert_int_le(llabs(jint(states, "facts.reserved_charged_kB")), slack);
    ck_assert_int_le(llabs(jint(states, "facts.committed_charged_kB") - size_kb), slack);
    ck_assert_int_eq(jint(states, "facts.reserved_Rss_kB"), 0);
    ck_assert_int_eq(jint(states, "facts.committed_Rss_kB"), 0);
    ck_assert_int_eq(jint(states, "facts.dirty_Rss_kB"), size_kb);
    ck_assert_int_eq(jint(states, "facts.dirty_protnone_Rss_kB"), size_kb);
    ck_assert_int_le(llabs(jint(states, "facts.dirty_protnone_mprotect_change_kB")), slack);
    demo_run_free(&d);
}
END_TEST

static const struct { const char *args[4]; const char *names; } bad[] = {
    {{"--pages", "0"}, "--pages"}, {{"--pages", "1025"}, "--pages"},
    {{"--pages", "-1"}, "--pages"}, {{"x"}, "x"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "protnone-dirty", bad[_i].args, bad[_i].names);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("protnone-dirty", run_as);
    Suite *s = suite_create("protnone-dirty");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, resident_dirty_inaccessible);
    if (run_as == RUN_AS_SELF)
        tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
