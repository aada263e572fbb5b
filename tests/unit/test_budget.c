/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/budget.c: the limit that binds is named, sizes
 * fit, shrink or are refused; and the real rlimits of a child process bind.
 * (The cgroup walk is tested in test_confine, over fake trees.) */
#define _GNU_SOURCE
#include <check.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "memlock.h"
#include "procfs.h"
#include "suite.h"

#define MiB (UINT64_C(1) << 20)

/* A budget that one limit binds, as budget_read makes it. */
static struct budget bound_by(enum budget_limit which, uint64_t bytes, const char *detail)
{
    struct budget b = {.bytes = bytes, .binding = which};
    for (int i = 0; i < BUDGET_LIMITS; i++)
        b.headroom[i] = BUDGET_UNLIMITED;
    b.headroom[which] = bytes;
    snprintf(b.detail[which], sizeof b.detail[which], "%s", detail);
    return b;
}

START_TEST(allows_names_the_binding_limit)
{
    struct budget b = bound_by(BUDGET_CGROUP, 97 * MiB, "memory.max of /x: 100 MiB, 3 MiB in use");
    char why[512];
    ck_assert(budget_allows(&b, 48 * MiB, 2, why, sizeof why));
    ck_assert_str_eq(why, "");
    ck_assert(!budget_allows(&b, 512 * MiB, 2, why, sizeof why));
    ck_assert_msg(strstr(why, "memory cgroup") && strstr(why, "memory.max of /x") &&
                      strstr(why, "97 MiB") && strstr(why, "48.5 MiB"),
                  "%s", why);
}
END_TEST

/* Inside a cgroup namespace the cgroup's limit may be unreadable: what
 * MemAvailable leaves is then not all there is to say. */
START_TEST(an_unread_limit_is_named)
{
    struct budget b = bound_by(BUDGET_MEM_AVAILABLE, 23 * 1024 * MiB, "/proc/meminfo");
    char why[512];
    ck_assert(!budget_allows(&b, 24 * 1024 * MiB, 1, why, sizeof why));
    ck_assert_str_eq(why, "MemAvailable leaves 23 GiB (/proc/meminfo)"); /* as on any host */
    snprintf(b.unread, sizeof b.unread, "the memory cgroup's limit could not be read: outside");
    ck_assert(!budget_allows(&b, 24 * 1024 * MiB, 1, why, sizeof why));
    ck_assert_str_eq(why, "MemAvailable leaves 23 GiB (/proc/meminfo); the memory cgroup's limit "
                          "could not be read: outside");
}
END_TEST

START_TEST(nothing_known_allows_anything)
{
    struct budget b = {.bytes = BUDGET_UNLIMITED, .binding = BUDGET_NONE};
    char why[64];
    ck_assert(budget_allows(&b, UINT64_C(1) << 40, 2, why, sizeof why));
}
END_TEST

START_TEST(choose_size_fits_shrinks_refuses)
{
    struct budget b = bound_by(BUDGET_CGROUP, 97 * MiB, "memory.max of /x: 100 MiB, 3 MiB in use");
    char why[512];
    uint64_t size = 0;
    /* 5 MiB in 2 MiB units: 6 MiB, which fits in half of 97 MiB */
    ck_assert_int_eq(budget_choose_size(&b, 5 * MiB, 16 * MiB, 2 * MiB, 2, 2, &size, why, sizeof why),
                     BUDGET_FITS);
    ck_assert_uint_eq(size, 6 * MiB);
    /* too small: raised to min_units */
    ck_assert_int_eq(budget_choose_size(&b, 4096, 16 * MiB, 4096, 2, 2, &size, why, sizeof why),
                     BUDGET_FITS);
    ck_assert_uint_eq(size, 8192);
    /* asked for too much: refused, naming the limit */
    ck_assert_int_eq(budget_choose_size(&b, 512 * MiB, 16 * MiB, 4096, 2, 2, &size, why, sizeof why),
                     BUDGET_REFUSED);
    ck_assert_ptr_nonnull(strstr(why, "memory cgroup"));
    /* the default shrinks to whole units within half the budget */
    ck_assert_int_eq(budget_choose_size(&b, 0, 64 * MiB, 2 * MiB, 2, 2, &size, why, sizeof why),
                     BUDGET_SHRUNK);
    ck_assert_uint_eq(size, 48 * MiB);
    /* not even two units */
    ck_assert_int_eq(budget_choose_size(&b, 0, 64 * MiB, 64 * MiB, 2, 2, &size, why, sizeof why),
                     BUDGET_NONE_FITS);
}
END_TEST

/* In a child: a real RLIMIT set 64 MiB above what the process already
 * uses must bind (the least of every limit), and be named. */
static void child_with_rlimit(int resource, const char *status_key, enum budget_limit want)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int64_t used_kb = procfs_read_one("/proc/self/status", status_key);
        if (used_kb < 0)
            _exit(10);
        uint64_t limit = (uint64_t)used_kb * 1024 + 64 * MiB;
        struct rlimit rl = {limit, limit};
        if (setrlimit(resource, &rl) != 0)
            _exit(11);
        struct budget b;
        budget_read(&b);
        if (b.binding != want)
            _exit(12);
        /* Within a few MiB: budget_read itself may allocate a little. */
        if (b.bytes > 64 * MiB || b.bytes < 56 * MiB)
            _exit(13);
        char why[512];
        if (budget_allows(&b, 64 * MiB, 2, why, sizeof why) ||
            !strstr(why, budget_limit_name(want)))
            _exit(14);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

START_TEST(rlimit_as_binds)
{
    child_with_rlimit(RLIMIT_AS, "VmSize", BUDGET_RLIMIT_AS);
}
END_TEST

START_TEST(rlimit_data_binds)
{
    child_with_rlimit(RLIMIT_DATA, "VmData", BUDGET_RLIMIT_DATA);
}
END_TEST

START_TEST(live_reading_has_mem_available)
{
    struct budget b;
    budget_read(&b);
    int64_t avail = procfs_read_one("/proc/meminfo", "MemAvailable");
    ck_assert_int_gt(avail, 0);
    ck_assert(b.headroom[BUDGET_MEM_AVAILABLE] != BUDGET_UNLIMITED);
    ck_assert_uint_le(b.bytes, b.headroom[BUDGET_MEM_AVAILABLE]);
}
END_TEST

/* memlock_capable says what CapEff in /proc/self/status says (read here line by line), also
 * for a process in 800 groups (as root), whose Groups line puts CapEff past 4 KiB. */
START_TEST(memlock_capable_is_capeff)
{
    static gid_t groups[800];
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        groups[i] = (gid_t)(100000 + i);
    if (geteuid() == 0)
        ck_assert_int_eq(setgroups(sizeof groups / sizeof groups[0], groups), 0);
    FILE *f = fopen("/proc/self/status", "re");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    unsigned long long capeff = 0;
    bool seen = false;
    while (!seen && fgets(line, sizeof line, f))
        seen = sscanf(line, "CapEff: %llx", &capeff) == 1;
    fclose(f);
    ck_assert(seen);
    ck_assert_int_eq(memlock_capable(), (capeff >> 14) & 1); /* CAP_IPC_LOCK is bit 14 */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, allows_names_the_binding_limit);
    tcase_add_test(tc, an_unread_limit_is_named);
    tcase_add_test(tc, nothing_known_allows_anything);
    tcase_add_test(tc, choose_size_fits_shrinks_refuses);
    tcase_add_test(tc, rlimit_as_binds);
    tcase_add_test(tc, rlimit_data_binds);
    tcase_add_test(tc, live_reading_has_mem_available);
    tcase_add_test(tc, memlock_capable_is_capeff);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
