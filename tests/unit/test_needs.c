/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/safety/needs: a need applies only when its option was
 * given; each kind's check holds or names what is missing; demo_start ends a
 * run with 77 for a need that is missing and goes on for an optional one;
 * narrate_finish puts back what demo_start changed before it reports, and
 * reports a failure when it could not. vm.panic_on_oom is read from a file
 * bound over it in a private mount namespace (root only): the host's value is
 * never changed. */
#define _GNU_SOURCE
#include <check.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "child.h"
#include "needs.h"
#include "suite.h"

START_TEST(applies_follows_the_option)
{
    bool given = false;
    struct demo_need always = {.kind = NEED_THP}, asked = {.kind = NEED_THP, .when = &given};
    ck_assert(need_applies(&always));
    ck_assert(!need_applies(&asked));
    given = true;
    ck_assert(need_applies(&asked));
}
END_TEST

static bool check(struct demo_need need, char *why, size_t len)
{
    const struct demo_need table[] = {need, {0}};
    why[0] = '\0';
    return need_check(&table[0], table, why, len);
}

START_TEST(page_size_and_cpu)
{
    char why[512];
    long page = sysconf(_SC_PAGESIZE);
    ck_assert(check((struct demo_need){NEED_PAGE_SIZE, .bytes = (uint64_t)page}, why, sizeof why));
    ck_assert(!check((struct demo_need){NEED_PAGE_SIZE, .bytes = (uint64_t)page * 16}, why,
                     sizeof why));
    char here[64];
    snprintf(here, sizeof here, "here a page is %ld KiB", page / 1024);
    ck_assert_msg(strstr(why, here), "%s", why);
#if defined(__x86_64__)
    ck_assert(check((struct demo_need){NEED_ARCH, .name = "x86_64"}, why, sizeof why));
    ck_assert(!check((struct demo_need){NEED_ARCH, .name = "riscv64"}, why, sizeof why));
    ck_assert_msg(strstr(why, "riscv64") && strstr(why, "built for x86_64"), "%s", why);
#endif
}
END_TEST

START_TEST(write_names_the_file_and_the_option)
{
    char why[512], path[] = "/tmp/vmlab-needs-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(check((struct demo_need){NEED_WRITE, .name = path}, why, sizeof why));
    unlink(path);
    ck_assert(!check((struct demo_need){NEED_WRITE, .name = "/nonexistent/vmlab/knob",
                                        .option = "--knob"}, why, sizeof why));
    ck_assert_msg(strncmp(why, "--knob: ", 8) == 0, "%s", why);
    ck_assert_msg(strstr(why, "/nonexistent/vmlab/knob") && strstr(why, "No such file"), "%s", why);
}
END_TEST

/* NEED_MEMORY holds where this process may use that much and fills the budget it read;
 * under an RLIMIT_DATA a few MiB above VmData (this test's own process: Check forks
 * each test) it names the limit and the size. */
START_TEST(memory_names_the_binding_limit)
{
    char why[512];
    struct budget b = {0};
    ck_assert(check((struct demo_need){NEED_MEMORY, .bytes = 1 << 20, .budget = &b}, why,
                    sizeof why));
    ck_assert_uint_ge(b.bytes, 1 << 20);
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long long data_kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %lld kB", &data_kb) == 1)
            break;
    if (f)
        fclose(f);
    ck_assert_int_gt(data_kb, 0);
    struct rlimit rl = {.rlim_cur = (rlim_t)(data_kb + 8192) * 1024,
                        .rlim_max = (rlim_t)(data_kb + 8192) * 1024};
    ck_assert_int_eq(setrlimit(RLIMIT_DATA, &rl), 0);
    ck_assert(!check((struct demo_need){NEED_MEMORY, .bytes = 64 << 20, .option = "--size",
                                        .budget = &b}, why, sizeof why));
    ck_assert_int_eq(b.binding, BUDGET_RLIMIT_DATA); /* the least headroom: 8 MiB or less */
    ck_assert_msg(strncmp(why, "--size: this lesson needs 64 MiB of memory this process may use, "
                          "and RLIMIT_DATA", 80) == 0, "%s", why);
    ck_assert_msg(strstr(why, "; raise it: ulimit -d unlimited"), "%s", why);
}
END_TEST

/* panic_on_oom as `value`, seen by this process alone; false where that cannot be arranged
 * (not root, no mount namespaces): the caller says so and checks nothing. */
static bool fake_panic_on_oom(const char *value)
{
    char path[] = "/tmp/vmlab-panic-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    bool ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value) && close(fd) == 0 &&
              geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
              mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
              mount(path, "/proc/sys/vm/panic_on_oom", NULL, MS_BIND, NULL) == 0;
    unlink(path);
    return ok;
}

/* 2 panics on every OOM; 1 on one outside a memory cgroup; 0 never. */
START_TEST(oom_kills_one_reads_panic_on_oom)
{
    const char *values[] = {"0\n", "1\n", "2\n"};
    bool held[2][3];
    for (int v = 0; v < 3; v++) {
        pid_t pid = fork(); /* each value in a namespace of its own */
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (!fake_panic_on_oom(values[v]))
                _exit(77);
            const struct demo_need alone[] = {{.kind = NEED_OOM_KILLS_ONE}, {0}};
            const struct demo_need confined[] = {
                {.kind = NEED_OOM_KILLS_ONE}, {.kind = NEED_MEMORY_CGROUP}, {0}};
            char why[512];
            int bits = need_check(&alone[0], alone, why, sizeof why) |
                       need_check(&confined[0], confined, why, sizeof why) << 1;
            if (v == 2 && !strstr(why, "vm.panic_on_oom is 2"))
                _exit(9);
            _exit(bits);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_msg(WEXITSTATUS(status) != 77, "no private mount namespace here");
        ck_assert_int_lt(WEXITSTATUS(status), 4);
        held[0][v] = WEXITSTATUS(status) & 1;
        held[1][v] = WEXITSTATUS(status) & 2;
    }
    ck_assert(held[0][0] && !held[0][1] && !held[0][2]); /* no cgroup: only 0 is safe */
    ck_assert(held[1][0] && held[1][1] && !held[1][2]);  /* in a cgroup: 1 is safe too */
}
END_TEST

static struct cli_common json = {.json = true, .color = COLOR_NEVER};

START_TEST(start_skips_for_a_missing_need)
{
    static const struct demo_need needs[] = {{NEED_PAGE_SIZE, .bytes = 1}, {0}};
    const struct demo_info info = {.name = "d", .needs = needs};
    struct narrator n;
    demo_start(&n, &info, &json, 1);
    ck_abort_msg("a missing need did not end the run");
}
END_TEST

START_TEST(start_goes_on_without_an_optional_need)
{
    static bool asked = true, not_asked = false;
    static const struct demo_need needs[] = {
        {NEED_WRITE, .name = "/nonexistent/a", .when = &asked, .optional = true},
        {NEED_WRITE, .name = "/nonexistent/b", .when = &not_asked}, /* not this run's */
        {0}};
    const struct demo_info info = {.name = "d", .needs = needs};
    struct narrator n;
    demo_start(&n, &info, &json, 1);
    const char *why = need_lacking(NEED_WRITE, "/nonexistent/a");
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/a"));
    ck_assert_ptr_null(need_lacking(NEED_WRITE, "/nonexistent/b"));
}
END_TEST

static int put_back_fails(void) { return -1; }

/* A run whose change could not be put back must not end "ok" (exit 1), nor say what it
 * would have said (that the value is back); a skip keeps its reason, the failure added. */
static int finish_failing_put_back(enum narrate_result result, const char *reason, char *text,
                                   size_t len)
{
    int from_child;
    pid_t pid = fork_to_pipe(&from_child);
    if (pid == 0) {
        struct narrator n;
        narrate_init(&n, "d", &json, 1);
        n.undo_at_finish = put_back_fails;
        narrate_finish(&n, result, "%s", reason);
    }
    int status = child_output(from_child, pid, text, len);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(nothing_put_back_is_a_failure)
{
    char text[4096];
    ck_assert_int_eq(finish_failing_put_back(RESULT_OK, "the pool is back", text, sizeof text), 1);
    ck_assert_msg(strstr(text, "\"result\":\"fail\"") && !strstr(text, "the pool is back") &&
                  strstr(text, "could not be put back"), "%s", text);
    ck_assert_int_eq(finish_failing_put_back(RESULT_SKIP, "no pool here", text, sizeof text), 1);
    ck_assert_msg(strstr(text, "\"result\":\"fail\"") && strstr(text, "no pool here; and a "
                  "/proc/sys/vm value"), "%s", text);
}
END_TEST

/* `test_needs root`: what needs root and a mount namespace of its own (77 elsewhere). */
static Suite *needs_suite(bool root)
{
    Suite *s = suite_create("needs");
    TCase *tc = tcase_create("needs");
    if (root) {
        tcase_add_test(tc, oom_kills_one_reads_panic_on_oom);
    } else {
        tcase_add_test(tc, applies_follows_the_option);
        tcase_add_test(tc, page_size_and_cpu);
        tcase_add_test(tc, write_names_the_file_and_the_option);
        tcase_add_test(tc, memory_names_the_binding_limit);
        tcase_add_exit_test(tc, start_skips_for_a_missing_need, 77);
        tcase_add_test(tc, start_goes_on_without_an_optional_need);
        tcase_add_test(tc, nothing_put_back_is_a_failure);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    bool root = argc > 1 && strcmp(argv[1], "root") == 0;
    if (root && geteuid() != 0) {
        fprintf(stderr, "skipped: vm.panic_on_oom is faked in a private mount namespace, which "
                        "needs root\n");
        return 77;
    }
    return run_suite(needs_suite(root)) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
