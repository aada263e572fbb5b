/* Unit tests for lib/confine.c: reading cgroup membership and counters from
 * fixtures of both cgroup versions, and - as root - a real cgroup made,
 * limited, entered and removed. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "procfs.h"
#include "suite.h"

static FILE *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VMLAB_FIXTURES, name);
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    return f;
}

START_TEST(membership_hybrid_v1)
{
    char v2[256], v1[256];
    FILE *f = fixture("proc-self-cgroup-hybrid-v1.txt");
    cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
    fclose(f);
    ck_assert_str_eq(v2, "/");
    ck_assert_str_eq(v1, "/process_api/b977f56c94a490cd63f6dfe3d1133230");
}
END_TEST

START_TEST(membership_pure_v2)
{
    char v2[256], v1[256];
    FILE *f = fixture("proc-self-cgroup-v2.txt");
    cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
    fclose(f);
    ck_assert_str_eq(v2, "/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1.scope");
    ck_assert_str_eq(v1, "");
}
END_TEST

START_TEST(membership_controller_is_a_whole_word)
{
    char v2[256], v1[256];
    FILE *f = fixture("proc-self-cgroup-combined.txt");
    cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
    fclose(f);
    ck_assert_str_eq(v1, "/docker/abc"); /* "memory,foo", not "memoryx" */
    ck_assert_str_eq(v2, "/");
}
END_TEST

START_TEST(counters_both_versions)
{
    struct procfs_want w[] = {{"oom_kill", 0, false}, {"oom", 0, false}, {"missing", 0, false}};
    FILE *f = fixture("memory-events-v2.txt");
    ck_assert_int_eq(procfs_parse_pairs(f, w, 3), PROCFS_OK);
    fclose(f);
    ck_assert(w[0].present && w[0].value == 1);
    ck_assert(w[1].present && w[1].value == 2);
    ck_assert(!w[2].present);
    struct procfs_want v1[] = {{"oom_kill_disable", 9, false}, {"oom_kill", 9, false}};
    f = fixture("memory-oom-control-v1.txt");
    ck_assert_int_eq(procfs_parse_pairs(f, v1, 2), PROCFS_OK);
    fclose(f);
    ck_assert(v1[0].present && v1[0].value == 0);
    ck_assert(v1[1].present);
    f = fmemopen((void *)"oom_kill x\n", 11, "r");
    ck_assert_int_eq(procfs_parse_pairs(f, v1, 2), PROCFS_MALFORMED);
    fclose(f);
}
END_TEST

START_TEST(real_cgroup_made_entered_removed)
{
    struct confine c;
    char why[1024];
    uint64_t limit = 32u << 20;
    ck_assert_msg(confine_setup(&c, "test", limit, why, sizeof why) == 0, "%s", why);
    ck_assert(c.kind == CONFINE_V1 || c.kind == CONFINE_V2);
    ck_assert_uint_eq(c.limit, limit);
    ck_assert_int_eq(access(c.dir, F_OK), 0);
    struct stat st;
    ck_assert_int_eq(stat(c.dir, &st), 0);
    ck_assert_msg((st.st_mode & 0022) == 0, "%s is writable by others (%o)", c.dir, st.st_mode);
    ck_assert_uint_eq(st.st_uid, 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", c.dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char got[512], reason[512];
        if (confine_enter(&c) != 0)
            _exit(2);
        /* Inside: the limit is confirmed; a smaller demand is refused. */
        if (confine_verify_self(limit, got, sizeof got, reason, sizeof reason) != 0)
            _exit(3);
        if (confine_verify_self(limit / 2, got, sizeof got, reason, sizeof reason) == 0)
            _exit(4);
        _exit(strcmp(got, dir) == 0 ? 0 : 5);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    uint64_t kills = 99;
    ck_assert(confine_oom_kills(dir, &kills));
    ck_assert_uint_eq(kills, 0);
    confine_teardown(&c);
    ck_assert_msg(access(dir, F_OK) != 0, "%s left behind", dir);
}
END_TEST

START_TEST(outside_a_limited_cgroup_verify_refuses)
{
    char got[512], reason[512];
    /* The test itself runs without a limit this small. */
    ck_assert_int_eq(confine_verify_self(4096, got, sizeof got, reason, sizeof reason), -1);
    ck_assert_ptr_nonnull(strstr(reason, "refusing"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("confine");
    TCase *tc = tcase_create("confine");
    tcase_add_test(tc, membership_hybrid_v1);
    tcase_add_test(tc, membership_pure_v2);
    tcase_add_test(tc, membership_controller_is_a_whole_word);
    tcase_add_test(tc, counters_both_versions);
    tcase_add_test(tc, outside_a_limited_cgroup_verify_refuses);
    if (geteuid() == 0) /* creating a cgroup needs root on most machines */
        tcase_add_test(tc, real_cgroup_made_entered_removed);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
