/* Demo tests for segv-pgfault: every case's signal, si_code and si_addr as
 * the kernel reports them, checked against what the architecture defines.
 *
 *   test_segv_pgfault          all cases and the command line
 *   test_segv_pgfault nobody   all cases as uid 65534 */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "demo_test.h"
#include "suite.h"

static const char *program;
static enum run_as run_as = RUN_AS_SELF;
static struct demo_run all;

static const struct json *find_case(const char *name)
{
    for (int i = 0; i < all.n; i++) {
        const char *c = json_get_string(all.lines[i], "facts.case");
        if (c && strcmp(c, name) == 0)
            return all.lines[i];
    }
    ck_abort_msg("no case %s in the output", name);
    return NULL;
}

static void expect(const char *name, const char *signal, const char *code, bool addr_is_target)
{
    const struct json *c = find_case(name);
    ck_assert_str_eq(jstr(c, "facts.signal"), signal);
    ck_assert_str_eq(jstr(c, "facts.si_code"), code);
    if (addr_is_target)
        ck_assert_str_eq(jstr(c, "facts.si_addr"), jstr(c, "facts.address"));
}

static void run_all(void)
{
    demo_run_json(&all, program, run_as, (const char *const[]){"--all", NULL});
    ck_assert_msg(all.r.exit_code == 0, "%s", all.r.err);
    ck_assert_str_eq(jstr(demo_result(&all), "result"), "ok");
}

START_TEST(user_space_cases)
{
    run_all();
    const struct json *good = find_case("good-fault");
    ck_assert_str_eq(jstr(good, "facts.signal"), "none");
    ck_assert_int_eq(jint(good, "facts.minor_faults"), 1);
    expect("null-read", "SIGSEGV", "SEGV_MAPERR", true);
    ck_assert_str_eq(jstr(find_case("null-read"), "facts.si_addr"), "0x0");
    expect("unmapped-read", "SIGSEGV", "SEGV_MAPERR", true);
    expect("unmapped-write", "SIGSEGV", "SEGV_MAPERR", true);
    expect("text-write", "SIGSEGV", "SEGV_ACCERR", true);
    expect("protnone-read", "SIGSEGV", "SEGV_ACCERR", true);
    expect("file-past-end", "SIGBUS", "BUS_ADRERR", true);
    const struct json *pkey = find_case("pkey-read");
    if (strcmp(jstr(pkey, "facts.signal"), "not shown") == 0)
        ck_assert_ptr_nonnull(strstr(jstr(pkey, "note"), "protection keys"));
    else
        expect("pkey-read", "SIGSEGV", "SEGV_PKUERR", true);
    demo_run_free(&all);
}
END_TEST

START_TEST(kernel_addresses_x86_64)
{
    run_all();
    /* Canonical kernel address: a page fault, address reported. */
    expect("kernel-read", "SIGSEGV", "SEGV_MAPERR", true);
    expect("kernel-write", "SIGSEGV", "SEGV_MAPERR", true);
    /* Non-canonical: a general protection fault, no address. */
    const struct json *gp = find_case("noncanonical-read");
    ck_assert_str_eq(jstr(gp, "facts.signal"), "SIGSEGV");
    ck_assert_str_eq(jstr(gp, "facts.si_code"), "SI_KERNEL");
    ck_assert_str_eq(jstr(gp, "facts.si_addr"), "0x0");
    ck_assert_str_eq(jstr(gp, "facts.address"), "0xffff0a8700100000");
    demo_run_free(&all);
}
END_TEST

START_TEST(stack_overflow_caught)
{
    run_all();
    const struct json *st = find_case("stack-overflow");
    ck_assert_str_eq(jstr(st, "facts.signal"), "SIGSEGV");
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    int64_t limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8u << 20) ? 8 << 20 : (int64_t)rl.rlim_cur;
    ck_assert_int_eq(jint(st, "facts.RLIMIT_STACK_bytes"), limit);
    int64_t used = jint(st, "facts.stack_used_bytes");
    ck_assert_msg(used > limit / 2 && used <= limit, "used %lld of %lld", (long long)used, (long long)limit);
    demo_run_free(&all);
}
END_TEST

START_TEST(one_case_and_seed_form)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"text-write", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_int_eq(d.n, 2);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.si_code"), "SEGV_ACCERR");
    demo_run_free(&d);
    demo_run_json(&d, program, run_as, (const char *const[]){"u", "w", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.case"), "unmapped-write");
    demo_run_free(&d);
    demo_run_json(&d, program, run_as, (const char *const[]){"k", "r", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.address"), "0xffff0a8700100000");
    demo_run_free(&d);
}
END_TEST

static const struct { const char *args[4]; const char *names; } bad[] = {
    {{"x", "r"}, "'x'"}, {{"u", "x"}, "'x'"}, {{"nosuchcase"}, "nosuchcase"},
    {{"u", "r", "extra"}, "too many"}, {{"--all", "text-write"}, "--all"},
    {{"--all", "--all"}, "--all"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "segv-pgfault", bad[_i].args, bad[_i].names);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "nobody") == 0 && geteuid() == 0)
        run_as = RUN_AS_NOBODY;
    program = demo_program("segv-pgfault", run_as);
    Suite *s = suite_create("segv-pgfault");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, user_space_cases);
#if defined(__x86_64__)
    tcase_add_test(tc, kernel_addresses_x86_64);
#endif
    tcase_add_test(tc, stack_overflow_caught);
    tcase_add_test(tc, one_case_and_seed_form);
    if (run_as == RUN_AS_SELF)
        tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
