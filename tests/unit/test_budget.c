/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/budget.c: the least of several limits binds and is
 * named; cgroup files read over a fake tree of both versions, ancestors
 * included; and the real rlimits of a child process. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "procfs.h"
#include "suite.h"

#define MiB (UINT64_C(1) << 20)

START_TEST(least_limit_binds_and_is_named)
{
    struct budget b;
    budget_init(&b);
    ck_assert_uint_eq(b.bytes, BUDGET_UNLIMITED);
    ck_assert_int_eq(b.binding, BUDGET_NONE);
    budget_consider(&b, BUDGET_MEM_AVAILABLE, 900 * MiB, "900 MiB");
    budget_consider(&b, BUDGET_CGROUP, 97 * MiB, "memory.max of /x: 100 MiB, 3 MiB in use");
    budget_consider(&b, BUDGET_RLIMIT_AS, 200 * MiB, "");
    ck_assert_uint_eq(b.bytes, 97 * MiB);
    ck_assert_int_eq(b.binding, BUDGET_CGROUP);
    ck_assert_uint_eq(b.headroom[BUDGET_RLIMIT_AS], 200 * MiB);
    ck_assert_uint_eq(b.headroom[BUDGET_RLIMIT_DATA], BUDGET_UNLIMITED);

    char why[512];
    ck_assert(budget_allows(&b, 48 * MiB, 2, why, sizeof why));
    ck_assert_str_eq(why, "");
    ck_assert(!budget_allows(&b, 512 * MiB, 2, why, sizeof why));
    ck_assert_msg(strstr(why, "memory cgroup") && strstr(why, "memory.max of /x") &&
                      strstr(why, "97 MiB") && strstr(why, "48.5 MiB"),
                  "%s", why);
}
END_TEST

START_TEST(nothing_known_allows_anything)
{
    struct budget b;
    char why[64];
    budget_init(&b);
    ck_assert(budget_allows(&b, UINT64_C(1) << 40, 2, why, sizeof why));
}
END_TEST

START_TEST(choose_size_fits_shrinks_refuses)
{
    struct budget b;
    char why[512];
    uint64_t size = 0;
    budget_init(&b);
    budget_consider(&b, BUDGET_CGROUP, 97 * MiB, "memory.max of /x: 100 MiB, 3 MiB in use");
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

static char tree[64];

static void put(const char *rel, const char *file, const char *text)
{
    char dir[512], path[sizeof dir + 64];
    snprintf(dir, sizeof dir, "%s%s", tree, rel);
    /* mkdir -p */
    for (char *s = dir + strlen(tree) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(dir, 0700);
        *s = '/';
    }
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void make_tree(void)
{
    snprintf(tree, sizeof tree, "/tmp/vmlab-budget-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tree));
}

static void remove_tree(void)
{
    char cmd[sizeof tree + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tree);
    ck_assert_int_eq(system(cmd), 0);
}

static bool headroom_of(const char *membership, bool v2, uint64_t *room, char *where, size_t len)
{
    char v2_mount[sizeof tree + 8], v1_mount[sizeof tree + 8];
    snprintf(v2_mount, sizeof v2_mount, "%s/v2", tree);
    snprintf(v1_mount, sizeof v1_mount, "%s/v1", tree);
    FILE *f = fmemopen((void *)membership, strlen(membership), "r");
    ck_assert_ptr_nonnull(f);
    bool ok = budget_cgroup_headroom(f, v2 ? v2_mount : NULL, v2 ? NULL : v1_mount, room, where, len);
    fclose(f);
    return ok;
}

START_TEST(cgroup_v2_ancestor_binds)
{
    /* The leaf has no limit; its parent (a container's cgroup) has 100 MiB
     * with 90 MiB in use: 10 MiB is what this process may still use. */
    make_tree();
    put("/v2/lab", "memory.max", "104857600\n");
    put("/v2/lab", "memory.current", "94371840\n");
    put("/v2/lab/leaf", "memory.max", "max\n");
    put("/v2/lab/leaf", "memory.current", "1048576\n");
    uint64_t room = 0;
    char where[256];
    ck_assert(headroom_of("0::/lab/leaf\n", true, &room, where, sizeof where));
    ck_assert_uint_eq(room, 10 * MiB);
    ck_assert_msg(strstr(where, "memory.max") && strstr(where, "/v2/lab:") &&
                      strstr(where, "100 MiB"),
                  "%s", where);
    remove_tree();
}
END_TEST

START_TEST(cgroup_v1_limit_and_unlimited_root)
{
    make_tree();
    put("/v1", "memory.limit_in_bytes", "9223372036854771712\n");
    put("/v1", "memory.usage_in_bytes", "4000000000\n");
    put("/v1/lab", "memory.limit_in_bytes", "104857600\n");
    put("/v1/lab", "memory.usage_in_bytes", "3145728\n");
    uint64_t room = 0;
    char where[256];
    const char *membership = "9:name=systemd:/\n4:memory:/lab\n0::/\n";
    ck_assert(headroom_of(membership, false, &room, where, sizeof where));
    ck_assert_uint_eq(room, 97 * MiB);
    ck_assert_msg(strstr(where, "memory.limit_in_bytes") && strstr(where, "3 MiB in use"), "%s",
                  where);
    /* usage over the limit (it happens, briefly): no room, not a wrap-around */
    put("/v1/lab", "memory.usage_in_bytes", "204857600\n");
    ck_assert(headroom_of(membership, false, &room, where, sizeof where));
    ck_assert_uint_eq(room, 0);
    remove_tree();
}
END_TEST

START_TEST(cgroup_without_limit_or_files)
{
    make_tree();
    put("/v1", "memory.limit_in_bytes", "9223372036854771712\n");
    put("/v1", "memory.usage_in_bytes", "1\n");
    uint64_t room = 0;
    char where[256];
    ck_assert(!headroom_of("4:memory:/\n", false, &room, where, sizeof where));
    ck_assert(!headroom_of("4:memory:/not/there\n", false, &room, where, sizeof where));
    ck_assert(!headroom_of("0::/\n", true, &room, where, sizeof where)); /* no files at all */
    put("/v1/odd", "memory.limit_in_bytes", "-1\n"); /* not a number a limit can be */
    put("/v1/odd", "memory.usage_in_bytes", "1\n");
    ck_assert(!headroom_of("4:memory:/odd\n", false, &room, where, sizeof where));
    ck_assert_uint_eq(room, BUDGET_UNLIMITED);
    remove_tree();
}
END_TEST

/* In a child: a real RLIMIT set 64 MiB above what the process already
 * uses must bind, and be named. */
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

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, least_limit_binds_and_is_named);
    tcase_add_test(tc, nothing_known_allows_anything);
    tcase_add_test(tc, choose_size_fits_shrinks_refuses);
    tcase_add_test(tc, cgroup_v2_ancestor_binds);
    tcase_add_test(tc, cgroup_v1_limit_and_unlimited_root);
    tcase_add_test(tc, cgroup_without_limit_or_files);
    tcase_add_test(tc, rlimit_as_binds);
    tcase_add_test(tc, rlimit_data_binds);
    tcase_add_test(tc, live_reading_has_mem_available);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
