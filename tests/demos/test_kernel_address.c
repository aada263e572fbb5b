/* SPDX-License-Identifier: MIT */
/* Demo tests for kernel-address, judged from outside: at each pause (the
 * case's child is about to make its access) the test reads the child's
 * /proc/PID/maps itself: nothing covers the address. From its own reading of
 * the paging mode (a mmap hint above 2^47, the CPU's la57 and lass flags) it
 * decides which signal and si_code the kernel must send, and compares the
 * demo's report with that. Nothing here uses lib/kernel/probe.
 *
 *   test_kernel_address          all cases stepped, single cases, the command line
 *   test_kernel_address nobody   all cases as uid 65534 (no pauses: the
 *                                expectations that need no maps) */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "fault_checks.h"
#include "lesson.h"
#include "observe.h"
#include "suite.h"

static const char *program;
static enum run_as run_as = RUN_AS_SELF;
static long page;

/* 57 when the kernel maps a hint above 2^47 (and the CPU has la57), else 48. */
static int va_bits(void)
{
    void *p = mmap((void *)(1UL << 52), (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool high = p != MAP_FAILED && (unsigned long)p > (1UL << 47);
    if (p != MAP_FAILED)
        munmap(p, (size_t)page);
    return high && has_cpu_flag("la57") ? 57 : 48;
}

static bool is_canonical(unsigned long long a, int bits)
{
    unsigned long long top = a >> (bits - 1);
    return top == 0 || top == ~0ULL >> (bits - 1);
}

/* Kernel half or non-canonical: decided by the paging mode and LASS. */
static void judge_high(const struct json *step, unsigned long long a)
{
    int bits = va_bits();
    ck_assert_int_eq(jint(step, "facts.virtual_address_bits"), bits);
    ck_assert(held(step, bits == 57 ? "five_level_paging" : "four_level_paging"));
    if (!is_canonical(a, bits)) {
        expect(step, "SIGSEGV", "SI_KERNEL", "noncanonical_general_protection");
        ck_assert_uint_eq(hex(step, "facts.si_addr"), 0);
    } else if (has_cpu_flag("lass")) {
        expect(step, "SIGSEGV", "SI_KERNEL", "lass_general_protection");
    } else {
        expect(step, "SIGSEGV", "SEGV_MAPERR", "kernel_half_page_fault");
        ck_assert_uint_eq(hex(step, "facts.si_addr"), a);
    }
}

/* At each pause: the maps of the case's child, about to make its access. */
static void read_maps(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    char **maps = ctx, path[64];
    (void)ended;
    ck_assert(next < 32);
    snprintf(path, sizeof path, "/proc/%d/maps", (int)only_child(stepper_pid(s)));
    ck_assert_ptr_nonnull(maps[next] = slurp(path));
}

START_TEST(every_case_judged_at_its_pause)
{
    static char *maps[32];
    struct stepper s;
    const char *argv[] = {program, "--all", "--step", "--json", NULL};
    ck_assert_int_eq(lesson_step_through(&s, argv, read_maps, maps), 5);
    for (int i = 1; i <= 5; i++) {
        const struct json *st = stepper_step(&s, i);
        ck_assert_ptr_nonnull(st);
        ck_assert_int_eq(jint(st, "steps"), 5);
        unsigned long long a = hex(st, "facts.address");
        struct vma m;
        ck_assert_msg(!find_vma(maps[i], a, &m), "a mapping covers 0x%llx", a);
        judge_high(st, a);
        free(maps[i]);
    }
    lesson_assert_ok_end(&s);
}
END_TEST

/* Without pauses (as uid 65534): what needs no maps - the kernel half and
 * the non-canonical addresses, by the paging mode the test reads. */
START_TEST(kernel_addresses_by_paging_mode)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--all", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    for (int i = 1; i < d.n; i++) {
        const struct json *st = demo_step(&d, i);
        unsigned long long a = json_get_string(st, "facts.address") ? hex(st, "facts.address") : 0;
        if (a >> 47)
            judge_high(st, a);
    }
    demo_run_free(&d);
}
END_TEST

/* Issue 9 item 7 and 8: a case run alone compares with nothing that did
 * not run, and `k r` / `k w` touch the same address. */
START_TEST(exercise_form_same_address_no_absent_comparison)
{
    struct demo_run r, w;
    demo_run_json(&r, program, run_as, (const char *const[]){"k", "r", NULL});
    demo_run_json(&w, program, run_as, (const char *const[]){"k", "w", NULL});
    ck_assert_int_eq(r.r.exit_code, 0);
    ck_assert_int_eq(w.r.exit_code, 0);
    const struct json *rs = demo_step(&r, 1), *ws = demo_step(&w, 1);
    ck_assert_uint_eq(hex(rs, "facts.address"), 0xffff0a8700100000ULL);
    ck_assert_uint_eq(hex(ws, "facts.address"), hex(rs, "facts.address"));
    ck_assert_ptr_null(strstr(jstr(rs, "note"), "kernel-read"));
    ck_assert_ptr_null(strstr(jstr(ws, "note"), "exercise-read"));
    judge_high(rs, 0xffff0a8700100000ULL);
    judge_high(ws, 0xffff0a8700100000ULL);
    demo_run_free(&r);
    demo_run_free(&w);
}
END_TEST

static const struct bad_case bad[] = {
    {{"x", "r"}, "'x'"}, {{"k", "x"}, "'x'"}, {{"nosuchcase"}, "nosuchcase"},
    {{"k", "r", "extra"}, "too many"}, {{"--all", "kernel-read"}, "--all"},
    {{"--all", "--all"}, "--all"}, {{"u", "r"}, "segv-pgfault"},
};

int main(int argc, char **argv)
{
    page = sysconf(_SC_PAGESIZE);
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program("kernel-address", run_as);
    demo_test_skip_if_77(program, "test_kernel_address"); /* a CPU other than x86-64 */
    Suite *s = suite_create("kernel-address");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 60);
    if (run_as == RUN_AS_SELF)
        tcase_add_test(tc, every_case_judged_at_its_pause);
    tcase_add_test(tc, kernel_addresses_by_paging_mode);
    tcase_add_test(tc, exercise_form_same_address_no_absent_comparison);
    if (run_as == RUN_AS_SELF)
        ADD_BAD_INPUT_TESTS(tc, program, "kernel-address", bad);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}
