/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/overcommit.c and lib/present/overcommit-report.c:
 * what mode 2 allows, the sizes of the lesson, and which check explains a
 * refusal, over made-up figures. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overcommit-report.h"
#include "overcommit.h"
#include "suite.h"

#define GiB (UINT64_C(1) << 30)

/* 8 GiB of RAM, 2 GiB of swap, CommitLimit 6 GiB, 1 GiB committed; no rlimit. */
static struct grant machine(int64_t mode)
{
    return (struct grant){
        .overcommit_memory = mode, .mem_total = 8 << 20, .swap_total = 2 << 20,
        .commit_limit = 6 << 20, .committed_as = 1 << 20, .admin_reserve_kbytes = 8192,
        .user_reserve_kbytes = 131072, .vm_size = 1 << 20, .rlimit_as = -1, .rlimit_data = -1,
        .kernel_major = 6, .kernel_minor = 1,
    };
}

static struct budget unlimited(void)
{
    struct budget b = {.bytes = BUDGET_UNLIMITED, .binding = BUDGET_NONE};
    for (int i = 0; i < BUDGET_LIMITS; i++)
        b.headroom[i] = BUDGET_UNLIMITED;
    return b;
}

START_TEST(mode2_allows_less_the_reserves)
{
    struct grant g = machine(2);
    /* VmSize / 32 = 32 MiB is less than user_reserve_kbytes (128 MiB) */
    ck_assert_int_eq(overcommit_mode2_allows(&g, 1 << 20), (6 << 20) - 8192 - 32768);
    /* a large process: user_reserve_kbytes is the smaller */
    ck_assert_int_eq(overcommit_mode2_allows(&g, 64 << 20), (6 << 20) - 8192 - 131072);
    g.swap_total = -1; /* no swap: RAM alone */
    ck_assert_int_eq(overcommit_ram_swap(&g), 8 << 20);
    ck_assert(overcommit_mode0_by_total(&g));
    g.kernel_major = 5;
    ck_assert(!overcommit_mode0_by_total(&g));
}
END_TEST

START_TEST(sizes_follow_ram_and_mode2)
{
    struct grant g = machine(0);
    struct budget room = unlimited();
    uint64_t huge, fit;
    char why[300];
    overcommit_request_sizes(&g, &room, false, (uint64_t[]){0, 0}, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(huge, UINT64_C(1) << 40); /* 1 TiB: over 4 x 10 GiB already */
    ck_assert_uint_eq(fit, GiB);
    ck_assert_str_eq(why, "at most 1 GiB");
    /* RAM + swap of 1 TiB: doubled until four times that */
    g.mem_total = INT64_C(1) << 30;
    g.swap_total = 0;
    overcommit_request_sizes(&g, &room, false, (uint64_t[]){0, 0}, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(huge, UINT64_C(4) << 40);
    /* mode 2 with 1 GiB left to grant: a sixteenth of it */
    g = machine(2);
    g.committed_as = g.commit_limit - 8192 - 32768 - (1 << 20);
    overcommit_request_sizes(&g, &room, false, (uint64_t[]){0, 0}, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(fit, GiB / 16);
    ck_assert_msg(strstr(why, "in mode 2"), "%s", why);
    /* in mode 0, only a demo that will enter mode 2 counts what mode 2 would grant */
    g.overcommit_memory = 0;
    overcommit_request_sizes(&g, &room, false, (uint64_t[]){0, 0}, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(fit, GiB);
    overcommit_request_sizes(&g, &room, true, (uint64_t[]){0, 0}, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(fit, GiB / 16);
    /* the options win; fit is never under a page */
    const uint64_t asked[] = {3 * GiB, 100};
    overcommit_request_sizes(&g, &room, true, asked, &huge, &fit, why, sizeof why);
    ck_assert_uint_eq(huge, 3 * GiB);
    ck_assert_uint_eq(fit, (uint64_t)sysconf(_SC_PAGESIZE));
    ck_assert_str_eq(why, "as asked with --fit-size");
}
END_TEST

static struct overcommit_ask ask(int64_t mode, int64_t size_kB, bool noreserve)
{
    return (struct overcommit_ask){size_kB, mode, mode, 1 << 20, 1 << 20, 1 << 19,
                                   true, true, noreserve};
}

/* The checks run, by name, joined with spaces; the last must hold, the others not. */
static const char *checks(const struct grant *g, const struct overcommit_ask *a)
{
    static char names[256];
    struct overcommit_test t[OVERCOMMIT_CHECKS];
    size_t k = overcommit_refusal(g, a, t);
    names[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        ck_assert(t[i].held == (i + 1 == k));
        ck_assert(t[i].values[0].key != NULL);
        strcat(names, i ? " " : "");
        strcat(names, t[i].name);
    }
    return names;
}

START_TEST(refusal_names_the_check_that_held)
{
    struct grant g = machine(0);
    struct overcommit_ask a = ask(0, 1 << 30, false);
    ck_assert_str_eq(checks(&g, &a), "refused_larger_than_ram_swap");
    a.noreserve = true; /* mode 0 does not check MAP_NORESERVE: nothing explains it */
    ck_assert_str_eq(checks(&g, &a), "refused_unexplained");
    g.kernel_major = 4; /* within RAM + swap, before 5.2: the estimate */
    a = ask(0, 1 << 20, false);
    ck_assert_str_eq(checks(&g, &a), "refused_larger_than_ram_swap refused_free_estimate");
    g = machine(2);
    g.rlimit_as = 4 << 20;
    g.rlimit_data = 4 << 20;
    a = ask(2, 1 << 30, true);
    ck_assert_str_eq(checks(&g, &a), "refused_rlimit_as");
    a.size = 2 << 20; /* within RLIMIT_AS, not with VmData 3 GiB within RLIMIT_DATA */
    a.vm_data = 3 << 20;
    ck_assert_str_eq(checks(&g, &a), "refused_rlimit_as refused_rlimit_data");
    a.vm_data = 0; /* within both: Committed_AS 4 GiB + 3 GiB reach what mode 2 allows */
    a.vm_size = 0;
    a.size = 3 << 20;
    a.committed = 4 << 20;
    ck_assert_str_eq(checks(&g, &a),
                     "refused_rlimit_as refused_rlimit_data refused_over_commit_limit");
    a.mode_after = 1; /* switched meanwhile: no rule of one mode tells */
    ck_assert_str_eq(checks(&g, &a), "refused_rlimit_as refused_rlimit_data mode_changed");
    a = ask(1, 1 << 20, false);
    a.new_space = false; /* mprotect: RLIMIT_AS does not apply */
    ck_assert_str_eq(checks(&g, &a), "refused_rlimit_data refused_unexplained");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("overcommit");
    TCase *tc = tcase_create("overcommit");
    tcase_add_test(tc, mode2_allows_less_the_reserves);
    tcase_add_test(tc, sizes_follow_ram_and_mode2);
    tcase_add_test(tc, refusal_names_the_check_that_held);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
