/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/cgroup.c and lib/safety/confine.c: reading cgroup
 * membership, limits and counters from fixtures and fake trees of both cgroup
 * versions, and - as root - a real cgroup made, limited, entered and removed. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "procfs.h"
#include "suite.h"
#include "undo.h"

/* Where this process sits (/proc/self/cgroup) on three kinds of host. */
static const struct {
    const char *fixture, *v2, *v1;
} memberships[] = {
    {"proc-self-cgroup-hybrid-v1.txt", "/", "/process_api/b977f56c94a490cd63f6dfe3d1133230"},
    {"proc-self-cgroup-v2.txt",
     "/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1.scope", ""},
    {"proc-self-cgroup-combined.txt", "/", "/docker/abc"}, /* "memory,foo", not "memoryx" */
};

START_TEST(membership_of_each_host)
{
    char v2[256], v1[256];
    FILE *f = open_fixture(memberships[_i].fixture);
    cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
    fclose(f);
    ck_assert_str_eq(v2, memberships[_i].v2);
    ck_assert_str_eq(v1, memberships[_i].v1);
}
END_TEST

START_TEST(counters_both_versions)
{
    struct procfs_want w[] = {{"oom_kill", 0, false}, {"oom", 0, false}, {"missing", 0, false}};
    FILE *f = open_fixture("memory-events-v2.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, w, 3, ' '), PROCFS_OK);
    fclose(f);
    ck_assert(w[0].present && w[0].value == 1);
    ck_assert(w[1].present && w[1].value == 2);
    ck_assert(!w[2].present);
    struct procfs_want v1[] = {{"oom_kill_disable", 9, false}, {"oom_kill", 9, false}};
    f = open_fixture("memory-oom-control-v1.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, v1, 2, ' '), PROCFS_OK);
    fclose(f);
    ck_assert(v1[0].present && v1[0].value == 0);
    ck_assert(v1[1].present);
    f = fmemopen((void *)"oom_kill x\n", 11, "r");
    ck_assert_int_eq(procfs_parse_wanted(f, v1, 2, ' '), PROCFS_MALFORMED);
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


/* ---- fake cgroup trees in a temporary directory ---- */

static void put(const char *root, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", root, rel);
    /* make the parent directories */
    for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        (void)mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "we");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static void fake_root(char *root, size_t len)
{
    snprintf(root, len, "/tmp/vmlab-fake-cgroup-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void remove_tree(const char *root)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Issue 8: inside an inherited 100 MiB cgroup, a 1 GiB limit set below it is
 * not what applies: the smallest ancestor's is, and it is named. */
START_TEST(effective_limit_v2_is_the_smallest_ancestor)
{
    char root[64];
    fake_root(root, sizeof root);
    put(root, "/docker/memory.max", "104857600\n");
    put(root, "/docker/ctr/memory.max", "max\n");
    put(root, "/docker/ctr/vmlab-1/memory.max", "1073741824\n");
    struct cgroup_limit l;
    ck_assert(cgroup_effective_limit(root, "/docker/ctr/vmlab-1", false, &l));
    ck_assert_uint_eq(l.bytes, 104857600);
    char want[128];
    snprintf(want, sizeof want, "%s/docker", root);
    ck_assert_str_eq(l.dir, want);
    ck_assert_str_eq(l.file, "memory.max");
    /* Nothing set anywhere: no limit. */
    put(root, "/free/memory.max", "max\n");
    ck_assert(!cgroup_effective_limit(root, "/free", false, &l));
    ck_assert_uint_eq(l.bytes, UINT64_MAX);
    remove_tree(root);
}
END_TEST

START_TEST(effective_limit_v1_sees_hidden_ancestors)
{
    char root[64];
    fake_root(root, sizeof root);
    /* A container's view: its own cgroup is the root, unlimited; the 100 MiB
     * limit is above it, visible only through hierarchical_memory_limit. */
    put(root, "/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "/vmlab-1/memory.limit_in_bytes", "1073741824\n");
    put(root, "/vmlab-1/memory.stat", "cache 0\nrss 0\nhierarchical_memory_limit 104857600\n");
    struct cgroup_limit l;
    ck_assert(cgroup_effective_limit(root, "/vmlab-1", true, &l));
    ck_assert_uint_eq(l.bytes, 104857600);
    ck_assert_str_eq(l.file, "hierarchical_memory_limit");
    /* Its own limit, when it is the smallest. */
    put(root, "/vmlab-1/memory.stat", "hierarchical_memory_limit 1073741824\n");
    ck_assert(cgroup_effective_limit(root, "/vmlab-1", true, &l));
    ck_assert_uint_eq(l.bytes, 1073741824);
    ck_assert_str_eq(l.file, "memory.limit_in_bytes");
    remove_tree(root);
}
END_TEST

/* The room a hidden ancestor leaves is at most its limit less this
 * cgroup's own usage: never the room under a larger limit that is seen. */
START_TEST(room_v1_within_hidden_ancestors)
{
    char root[64];
    fake_root(root, sizeof root);
    put(root, "/vmlab-1/memory.limit_in_bytes", "1073741824\n");
    put(root, "/vmlab-1/memory.usage_in_bytes", "10485760\n");
    put(root, "/vmlab-1/memory.stat", "hierarchical_memory_limit 104857600\n");
    struct cgroup_limit l;
    ck_assert(cgroup_effective_limit(root, "/vmlab-1", true, &l));
    ck_assert_uint_eq(l.bytes, 100 << 20);
    ck_assert_uint_eq(l.room, 90 << 20);
    ck_assert_uint_eq(l.room_limit, 100 << 20);
    ck_assert_uint_eq(l.room_usage, 10 << 20);
    ck_assert_str_eq(l.room_file, "hierarchical_memory_limit");
    /* Without a usage to read, the limit itself is the most room left. */
    put(root, "/vmlab-1/memory.usage_in_bytes", "not a number\n");
    ck_assert(cgroup_effective_limit(root, "/vmlab-1", true, &l));
    ck_assert_uint_eq(l.room, 100 << 20);
    ck_assert_uint_eq(l.room_usage, UINT64_MAX);
    remove_tree(root);
}
END_TEST

/* Which cgroup a mount shows at its top is mountinfo's root (field 4).
 * Inside a cgroup namespace /proc/self/cgroup says "/" while the hierarchy
 * mounted from outside is the host's, root "/../../..": its top is the
 * host's root cgroup, whose "no limit" must not be taken for this one's. */
static void fake_mountinfo(const char *root, const char *mount_root)
{
    char text[1024];
    /* a tmpfs stacked below, optional fields, a point with a space */
    snprintf(text, sizeof text,
             "25 1 0:23 / %s rw,relatime - tmpfs tmpfs rw\n"
             "35 25 0:32 %s %s rw,nosuid shared:9 master:2 - cgroup cgroup rw,memory\n"
             "36 25 0:33 / %s/with\\040space rw - cgroup2 cgroup2 rw,nsdelegate\n",
             root, mount_root, root, root);
    put(root, "/mountinfo", text);
}

START_TEST(limit_unknown_outside_the_mount)
{
    char root[64], mountinfo[96], below[256];
    fake_root(root, sizeof root);
    snprintf(mountinfo, sizeof mountinfo, "%s/mountinfo", root);
    put(root, "/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "/sub/memory.limit_in_bytes", "104857600\n");
    put(root, "/sub/memory.usage_in_bytes", "1048576\n");
    struct cgroup_limit l;
    /* The host's view: the whole hierarchy, and the path below it. */
    fake_mountinfo(root, "/");
    cgroup_limit_of(mountinfo, root, "/sub", true, below, sizeof below, &l);
    ck_assert_str_eq(below, "/sub");
    ck_assert_uint_eq(l.bytes, 100 << 20);
    ck_assert_str_eq(l.unknown, "");
    /* A container that sees its own cgroup only (root /docker/abc). */
    fake_mountinfo(root, "/docker/abc");
    cgroup_limit_of(mountinfo, root, "/docker/abc/sub", true, below, sizeof below, &l);
    ck_assert_str_eq(below, "/sub");
    ck_assert_uint_eq(l.bytes, 100 << 20);
    cgroup_limit_of(mountinfo, root, "/docker/abc", true, below, sizeof below, &l);
    ck_assert_str_eq(below, "/");
    ck_assert(l.bytes == UINT64_MAX && !l.unknown[0]); /* read, and none */
    /* Unknown, not none: the path is not below the mount's root. */
    const char *outside[][2] = {{"/../../..", "/"}, {"/docker/abc", "/docker/abcd/sub"},
                                {"/", "/../sibling"}, {"/docker/abc", "/docker/abc/../x"}};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        fake_mountinfo(root, outside[i][0]);
        cgroup_limit_of(mountinfo, root, outside[i][1], true, below, sizeof below, &l);
        ck_assert_msg(l.unknown[0] && strstr(l.unknown, "cgroup namespace"), "%s under %s: '%s'",
                      outside[i][1], outside[i][0], l.unknown);
        ck_assert_str_eq(below, "");
        ck_assert(l.bytes == UINT64_MAX && l.room == UINT64_MAX);
    }
    /* A mount point with a space, escaped in mountinfo; a mount not there. */
    char spaced[96];
    snprintf(spaced, sizeof spaced, "%s/with space", root);
    put(root, "/with space/memory.max", "104857600\n");
    cgroup_limit_of(mountinfo, spaced, "/", false, below, sizeof below, &l);
    ck_assert_uint_eq(l.bytes, 100 << 20);
    cgroup_limit_of(mountinfo, "/nowhere", "/", false, below, sizeof below, &l);
    ck_assert_ptr_nonnull(strstr(l.unknown, "not a cgroup mount"));
    remove_tree(root);
}
END_TEST

/* The room a process may still use: limit - usage, the least over the cgroup
 * and its ancestors. A leaf without a limit under a parent (a container's
 * cgroup) of 100 MiB with 90 MiB in use: 10 MiB, and the parent is named. */
START_TEST(room_v2_ancestor_binds)
{
    char root[64], want[128];
    fake_root(root, sizeof root);
    put(root, "/lab/memory.max", "104857600\n");
    put(root, "/lab/memory.current", "94371840\n");
    put(root, "/lab/leaf/memory.max", "max\n");
    put(root, "/lab/leaf/memory.current", "1048576\n");
    struct cgroup_limit l;
    ck_assert(cgroup_effective_limit(root, "/lab/leaf", false, &l));
    ck_assert_uint_eq(l.room, 10 << 20);
    ck_assert_uint_eq(l.room_limit, 100 << 20);
    snprintf(want, sizeof want, "%s/lab", root);
    ck_assert_str_eq(l.room_dir, want);
    remove_tree(root);
}
END_TEST

START_TEST(room_v1_limit_and_unlimited_root)
{
    char root[64];
    fake_root(root, sizeof root);
    put(root, "/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "/memory.usage_in_bytes", "4000000000\n");
    put(root, "/lab/memory.limit_in_bytes", "104857600\n");
    put(root, "/lab/memory.usage_in_bytes", "3145728\n");
    struct cgroup_limit l;
    ck_assert(cgroup_effective_limit(root, "/lab", true, &l));
    ck_assert_uint_eq(l.room, 97 << 20);
    ck_assert_uint_eq(l.room_usage, 3 << 20);
    /* usage over the limit (it happens, briefly): no room, not a wrap-around */
    put(root, "/lab/memory.usage_in_bytes", "204857600\n");
    ck_assert(cgroup_effective_limit(root, "/lab", true, &l));
    ck_assert_uint_eq(l.room, 0);
    remove_tree(root);
}
END_TEST

START_TEST(room_without_limit_or_files)
{
    char root[64];
    fake_root(root, sizeof root);
    put(root, "/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "/memory.usage_in_bytes", "1\n");
    put(root, "/odd/memory.limit_in_bytes", "-1\n"); /* not a number a limit can be */
    put(root, "/odd/memory.usage_in_bytes", "1\n");
    put(root, "/nousage/memory.limit_in_bytes", "104857600\n");
    struct cgroup_limit l;
    ck_assert(!cgroup_effective_limit(root, "/", true, &l));
    ck_assert(!cgroup_effective_limit(root, "/not/there", true, &l));
    ck_assert(!cgroup_effective_limit(root, "/odd", true, &l));
    ck_assert(!cgroup_effective_limit(root, "/", false, &l)); /* no v2 files at all */
    ck_assert_uint_eq(l.room, UINT64_MAX);
    /* A limit without a usage file is a limit, and leaves at most itself. */
    ck_assert(cgroup_effective_limit(root, "/nousage", true, &l));
    ck_assert_uint_eq(l.bytes, 100 << 20);
    ck_assert_uint_eq(l.room, 100 << 20);
    ck_assert_uint_eq(l.room_usage, UINT64_MAX);
    remove_tree(root);
}
END_TEST

/* An inherited cgroup counts as confinement only if swap cannot take it past
 * its limit. v1 without a limit of its own (the real one is an ancestor's)
 * reads "no limit" for memory and memory + swap alike: that caps nothing. */
START_TEST(swap_capped_only_by_a_real_limit)
{
    char root[64], dir[128];
    fake_root(root, sizeof root);
    const uint64_t unlimited = UINT64_C(9223372036854771712);
    snprintf(dir, sizeof dir, "%s/v1", root);
    put(root, "/v1/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    ck_assert(!cgroup_swap_capped(dir, unlimited));
    put(root, "/v1/memory.memsw.limit_in_bytes", "104857600\n");
    ck_assert(cgroup_swap_capped(dir, 100 << 20));
    ck_assert(!cgroup_swap_capped(dir, 50 << 20)); /* swap may add 50 MiB */
    snprintf(dir, sizeof dir, "%s/v2", root);
    put(root, "/v2/memory.swap.max", "max\n");
    ck_assert(!cgroup_swap_capped(dir, UINT64_MAX));
    put(root, "/v2/memory.swap.max", "0\n");
    ck_assert(cgroup_swap_capped(dir, UINT64_MAX));
    remove_tree(root);
}
END_TEST

/* Issue 8: a delegated cgroup v2 subtree (cgroup-v2.rst "Delegation"). */
static void delegated_tree(const char *root, const char *procs, uid_t owner)
{
    put(root, "/user/app/cgroup.controllers", "cpu io memory pids\n");
    put(root, "/user/app/cgroup.subtree_control", "\n");
    put(root, "/user/app/cgroup.procs", procs);
    char path[256];
    static const char *const files[] = {"/user/app", "/user/app/cgroup.procs",
                                        "/user/app/cgroup.subtree_control"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", root, files[i]);
        ck_assert_int_eq(chown(path, owner, owner), 0);
    }
}

START_TEST(delegation_moves_to_a_leaf_when_alone)
{
    if (geteuid() != 0)
        return; /* chown to another uid needs root */
    char root[64], why[512];
    fake_root(root, sizeof root);
    delegated_tree(root, "4242\n", 1234);
    struct cgroup_delegation plan;
    ck_assert_msg(cgroup_plan_delegation(root, "/user/app", 1234, 4242, &plan, why, sizeof why) == 0,
                  "%s", why);
    ck_assert(plan.move_to_leaf);
    ck_assert(plan.enable_memory);
    /* +memory already enabled below: nothing to move. */
    put(root, "/user/app/cgroup.subtree_control", "memory pids\n");
    ck_assert(cgroup_plan_delegation(root, "/user/app", 1234, 4242, &plan, why, sizeof why) == 0);
    ck_assert(!plan.move_to_leaf && !plan.enable_memory);
    remove_tree(root);
}
END_TEST

START_TEST(delegation_refusals_name_what_is_missing)
{
    if (geteuid() != 0)
        return;
    char root[64], why[512];
    struct cgroup_delegation plan;
    fake_root(root, sizeof root);
    /* Not this user's. */
    delegated_tree(root, "4242\n", 0);
    ck_assert_int_eq(cgroup_plan_delegation(root, "/user/app", 1234, 4242, &plan, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "not delegated to you") != NULL, "%s", why);
    /* Another process lives there: the no-internal-process rule says it
     * moves to the leaf too, this process first. */
    delegated_tree(root, "777\n4242\n", 1234);
    ck_assert_int_eq(cgroup_plan_delegation(root, "/user/app", 1234, 4242, &plan, why, sizeof why), 0);
    ck_assert(plan.move_to_leaf && plan.enable_memory);
    ck_assert_uint_eq(plan.npids, 2);
    ck_assert_int_eq(plan.pids[0], 4242);
    ck_assert_int_eq(plan.pids[1], 777);
    /* The parent did not hand it the memory controller. */
    delegated_tree(root, "4242\n", 1234);
    put(root, "/user/app/cgroup.controllers", "cpu pids\n");
    ck_assert_int_eq(cgroup_plan_delegation(root, "/user/app", 1234, 4242, &plan, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "memory controller is not delegated") != NULL, "%s", why);
    remove_tree(root);
}
END_TEST

/* Issue 8: the 77 names the one thing missing here, never "run as root" to
 * root; without v1 memcg and without cgroup2 mounted: mount cgroup2. */
START_TEST(missing_names_the_one_thing)
{
    char why[1024];
    struct confine_env e = {.root = true, .memory_enabled = true};
    confine_explain_missing(&e, why, sizeof why);
    ck_assert_msg(strstr(why, "mount -t cgroup2 none /sys/fs/cgroup") != NULL, "%s", why);
    ck_assert_msg(strstr(why, "sudo") == NULL && strstr(why, "as root,") == NULL, "%s", why);
    e.root = false;
    confine_explain_missing(&e, why, sizeof why);
    ck_assert_msg(strstr(why, "as root, mount -t cgroup2") != NULL, "%s", why);
    struct confine_env v1 = {.memory_enabled = true, .memory_on_v1 = true, .v1_mounted = true};
    confine_explain_missing(&v1, why, sizeof why);
    /* The command runs where the student is: this program as it was started
     * (here by its path), never a bare name that is not on PATH. (Started by a
     * bare name, as vmlab does, it goes through vmlab: unit.sysctl's
     * run_again_command cases.) */
    char command[4200];
    snprintf(command, sizeof command, "sudo %s,", program_invocation_name);
    ck_assert_msg(strstr(why, "cgroup v1") && strstr(why, command), "%s", why);
    v1.root = true;
    snprintf(v1.failure, sizeof v1.failure, "cannot create /sys/fs/cgroup/memory/vmlab-1 (EROFS)");
    confine_explain_missing(&v1, why, sizeof why);
    ck_assert_msg(strstr(why, "EROFS") && !strstr(why, "sudo"), "%s", why);
    struct confine_env v2 = {.memory_enabled = true, .v2_mounted = true, .v2_memory = true};
    snprintf(v2.failure, sizeof v2.failure, "your cgroup /sys/fs/cgroup/x is not delegated to you");
    confine_explain_missing(&v2, why, sizeof why);
    ck_assert_msg(strstr(why, "not delegated") && strstr(why, "Delegate=yes") && !strstr(why, "sudo"),
                  "%s", why);
    struct confine_env off = {.root = true};
    confine_explain_missing(&off, why, sizeof why);
    ck_assert_msg(strstr(why, "cgroup_enable=memory") != NULL, "%s", why);
}
END_TEST

/* lib/safety/undo's one child: undo_end_child kills and reaps the tracked child (what
 * every way out does first, before a cgroup is removed), and forgets it. */
START_TEST(tracked_child_is_killed_and_reaped)
{
    pid_t middle = undo_fork(); /* a process of its own: this one's undo stays untouched */
    ck_assert_int_ge(middle, 0);
    if (middle == 0) {
        pid_t child = undo_fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        if (child < 0 || undo_track_child(child) != 0)
            _exit(2);
        undo_end_child();
        bool reaped = waitpid(child, NULL, WNOHANG) == -1 && errno == ECHILD;
        _exit(reaped ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(middle, &status, 0), middle);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("confine");
    TCase *tc = tcase_create("confine");
    tcase_add_loop_test(tc, membership_of_each_host, 0, 3);
    tcase_add_test(tc, counters_both_versions);
    tcase_add_test(tc, outside_a_limited_cgroup_verify_refuses);
    tcase_add_test(tc, effective_limit_v2_is_the_smallest_ancestor);
    tcase_add_test(tc, effective_limit_v1_sees_hidden_ancestors);
    tcase_add_test(tc, room_v1_within_hidden_ancestors);
    tcase_add_test(tc, limit_unknown_outside_the_mount);
    tcase_add_test(tc, room_v2_ancestor_binds);
    tcase_add_test(tc, room_v1_limit_and_unlimited_root);
    tcase_add_test(tc, room_without_limit_or_files);
    tcase_add_test(tc, swap_capped_only_by_a_real_limit);
    tcase_add_test(tc, delegation_moves_to_a_leaf_when_alone);
    tcase_add_test(tc, delegation_refusals_name_what_is_missing);
    tcase_add_test(tc, missing_names_the_one_thing);
    tcase_add_test(tc, tracked_child_is_killed_and_reaped);
    if (geteuid() == 0) /* creating a cgroup needs root on most machines */
        tcase_add_test(tc, real_cgroup_made_entered_removed);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
