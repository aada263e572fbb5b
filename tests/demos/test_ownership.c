/* SPDX-License-Identifier: MIT */
/* Ownership that survives PID namespaces (issue 15, item 5): every vmlab
 * program sweeps the cgroups that killed runs left (lib/safety/confine), and it
 * must take for a leftover exactly the cgroups whose run has ended - not
 * the cgroup of a live run in another PID namespace, not one whose PID is
 * invisible from where the sweep runs; and a zombie counts as dead.
 *
 * The test names empty cgroups as vmlab names them (vmlab-NS-PID-START, and
 * the older vmlab-PID), after processes it controls, runs a program (as the
 * host sees it, and inside a new PID namespace without its own /proc, the
 * case of the issue), and reads the cgroup tree afterwards. Root and a
 * memory cgroup hierarchy needed; exits 77 otherwise. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "confine.h"
#include "run.h"
#include "runid.h"
#include "suite.h"

#define CGROUP2_MAGIC_ 0x63677270L
#define CGROUP1_MAGIC_ 0x27e0ebL

static char parent[512]; /* where confine makes and sweeps its cgroups */

static bool is_fs(const char *path, long magic)
{
    struct statfs s;
    return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

/* The v1 memory controller's cgroup of this process, else the v2 root. */
static bool find_parent(void)
{
    char v2[256], v1[256];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return false;
    cgroup_parse_membership(f, v2, sizeof v2, v1, sizeof v1);
    fclose(f);
    if (v1[0] && is_fs("/sys/fs/cgroup/memory", CGROUP1_MAGIC_)) {
        snprintf(parent, sizeof parent, "/sys/fs/cgroup/memory%s", strcmp(v1, "/") == 0 ? "" : v1);
        return true;
    }
    if (is_fs("/sys/fs/cgroup", CGROUP2_MAGIC_)) {
        snprintf(parent, sizeof parent, "/sys/fs/cgroup");
        return true;
    }
    return false;
}

static void make_cgroup(const char *name, char *path, size_t len)
{
    ck_assert_int_lt(snprintf(path, len, "%s/%s", parent, name), (int)len);
    ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs mmap-anon (it only repairs leftovers as root and shows a lesson),
 * here or as PID 1 of a new PID namespace that keeps the host's /proc. */
static void run_sweeper(bool in_new_pid_ns)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mmap-anon", demo_dir());
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (in_new_pid_ns && unshare(CLONE_NEWPID) != 0)
            _exit(90);
        pid_t inner = fork();
        if (inner == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 1);
            execl(path, "mmap-anon", "--size", "8K", "--json", (char *)NULL);
            _exit(127);
        }
        int status;
        waitpid(inner, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 91);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the sweeping run: status %#x", status);
}

/* Makes the cgroup `name` (at path), runs a sweep (from a new PID namespace
 * where asked); whether the cgroup was kept. It is removed either way. */
static bool kept_by_a_sweep(const char *name, bool in_new_pid_ns, char *path, size_t len)
{
    make_cgroup(name, path, len);
    run_sweeper(in_new_pid_ns);
    bool kept = exists(path);
    rmdir(path);
    return kept;
}

static char live_ns[80];
static pid_t live_outer;

/* A process that is PID 1 of a new PID namespace, alive until killed; its
 * name as vmlab would write it goes to live_ns. */
static void start_live_in_namespace(void)
{
    struct runid id;
    live_outer = start_pid1_of_new_namespace(&id);
    ck_assert(runid_format(&id, live_ns, sizeof live_ns));
}

static void stop_live(void)
{
    kill(live_outer, SIGKILL);
    waitpid(live_outer, NULL, 0);
}

/* The cgroup of a live run in another PID namespace (its PID there is 1,
 * a PID that means init here) survives a sweep from here and from a third
 * namespace; once that run is gone, the next sweep removes it. */
START_TEST(live_run_in_another_namespace_is_kept)
{
    char name[128], path[700];
    start_live_in_namespace();
    snprintf(name, sizeof name, "vmlab-%s", live_ns);
    make_cgroup(name, path, sizeof path);
    run_sweeper(false);
    bool kept_host = exists(path);
    run_sweeper(true);
    bool kept_ns = exists(path);
    stop_live();
    for (int i = 0; i < 200 && exists(path); i++) {
        run_sweeper(false);
        if (exists(path))
            usleep(10000);
    }
    bool removed = !exists(path);
    if (!removed)
        rmdir(path);
    ck_assert_msg(kept_host, "a sweep from the host removed %s of a live run", path);
    ck_assert_msg(kept_ns, "a sweep from a new PID namespace removed %s of a live run", path);
    ck_assert_msg(removed, "%s stayed after its run ended", path);
}
END_TEST

/* The case: a run inside `unshare --pid` (its /proc still the
 * host's) must not take a live host run - this test - for a dead one. */
START_TEST(live_host_run_seen_from_a_namespace_is_kept)
{
    struct runid me;
    char name[128], id[80], path[700];
    ck_assert_int_eq(runid_self(&me), 0);
    ck_assert(runid_format(&me, id, sizeof id));
    snprintf(name, sizeof name, "vmlab-%s", id);
    ck_assert_msg(kept_by_a_sweep(name, true, path, sizeof path),
                  "a sweep from a new PID namespace removed %s of a live host run", path);
}
END_TEST

/* Ended: a PID no process has, a PID reused by another process (other start
 * time), a zombie; and, in the older naming, a kernel thread's PID. */
START_TEST(ended_runs_are_swept)
{
    struct runid me;
    ck_assert_int_eq(runid_self(&me), 0);
    uint64_t start;
    pid_t zombie = start_zombie(&start);

    char names[4][128], paths[4][700];
    snprintf(names[0], sizeof names[0], "vmlab-%llu-4194304000-1", (unsigned long long)me.pidns);
    snprintf(names[1], sizeof names[1], "vmlab-%llu-%llu-%llu", (unsigned long long)me.pidns,
             (unsigned long long)me.pid, (unsigned long long)me.start + 1);
    snprintf(names[2], sizeof names[2], "vmlab-%llu-%ld-%llu", (unsigned long long)me.pidns, (long)zombie,
             (unsigned long long)start);
    snprintf(names[3], sizeof names[3], "vmlab-2"); /* kthreadd */
    for (int i = 0; i < 4; i++)
        make_cgroup(names[i], paths[i], sizeof paths[i]);
    run_sweeper(false);
    bool left[4];
    for (int i = 0; i < 4; i++) {
        left[i] = exists(paths[i]);
        if (left[i])
            rmdir(paths[i]);
    }
    waitpid(zombie, NULL, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(!left[i], "%s was not swept", paths[i]);
}
END_TEST

/* And in the older naming, a live process's PID is never swept. */
START_TEST(legacy_name_of_a_live_process_is_kept)
{
    char name[64], path[700];
    snprintf(name, sizeof name, "vmlab-%ld", (long)getpid());
    ck_assert_msg(kept_by_a_sweep(name, false, path, sizeof path), "%s (a live process) was swept",
                  path);
}
END_TEST

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "sweeping cgroups needs root: skipped\n");
        return 77;
    }
    if (!find_parent()) {
        fprintf(stderr, "no memory cgroup hierarchy here: skipped\n");
        return 77;
    }
    Suite *s = suite_create("ownership");
    TCase *tc = tcase_create("ownership");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, live_run_in_another_namespace_is_kept);
    tcase_add_test(tc, live_host_run_seen_from_a_namespace_is_kept);
    tcase_add_test(tc, ended_runs_are_swept);
    tcase_add_test(tc, legacy_name_of_a_live_process_is_kept);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
