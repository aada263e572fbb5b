/* SPDX-License-Identifier: MIT */
/* Demo tests for segv-pgfault, judged from outside: at each pause (the
 * case's child is about to make its access) the test reads the child's
 * /proc/PID/maps and smaps itself, and decides from them - and from its own
 * reading of vm.mmap_min_addr, RLIMIT_STACK and the CPU's flags - which
 * signal and si_code the kernel must send. Then it compares the demo's
 * report with that. Nothing here uses lib/kernel/probe or the demo's own patterns.
 * (The kernel's half and non-canonical addresses: test_kernel_address.)
 *
 *   test_segv_pgfault          all cases stepped, single cases, the command line
 *   test_segv_pgfault nobody   single cases as uid 65534 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* ---- the test's own readings ---- */

/* The line whose path is name ("[stack]"). */
static bool find_named(const char *maps, const char *name, struct vma *v)
{
    for (const char *line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        memset(v, 0, sizeof *v);
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %255[^\n]", &v->start, &v->end, v->perms,
                   &v->offset, v->path) == 5 && strcmp(v->path, name) == 0)
            return true;
    }
    return false;
}

/* The highest mapping end below addr in a saved maps text. */
static unsigned long long end_below(const char *maps, unsigned long long addr)
{
    unsigned long long best = 0, s, e;
    for (const char *line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (sscanf(line, "%llx-%llx", &s, &e) == 2 && e <= addr && e > best)
            best = e;
    return best;
}

/* ProtectionKey of the smaps entry starting at start; -1 if not shown. */
static int smaps_pkey(const char *smaps, unsigned long long start)
{
    char head[32];
    snprintf(head, sizeof head, "%llx-", start);
    const char *line = strstr(smaps, head);
    while (line && (line = strchr(line, '\n')) != NULL && *++line) {
        if (strchr("0123456789abcdef", *line))
            break; /* the next entry's header */
        if (strncmp(line, "ProtectionKey:", 14) == 0)
            return atoi(line + 14);
    }
    return -1;
}

/* The size of the memfd the child holds open, found by its name. */
static long long memfd_size(pid_t pid)
{
    char dir[64], path[PATH_MAX], target[PATH_MAX];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    long long size = -1;
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        struct stat st;
        int fd;
        if (strstr(target, "/memfd:vmlab-short-file") && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            if (fstat(fd, &st) == 0)
                size = st.st_size;
            close(fd);
        }
    }
    if (d)
        closedir(d);
    return size;
}

/* ---- what the test saw at a case's pause ---- */

struct seen {
    bool paused;
    char *maps, *smaps;
    long long memfd_size;
    int64_t minflt;
};

static void judge_stack(const struct json *step, const struct seen *v)
{
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl); /* the demo inherited it; it caps it at 8 MiB */
    unsigned long long limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8u << 20) ? 8u << 20 : rl.rlim_cur;
    struct vma st;
    ck_assert(find_named(v->maps, "[stack]", &st));
    /* The deepest frame the demo reports is below where the stack was. */
    ck_assert(hex(step, "facts.address") < st.start + (unsigned long long)page);
    unsigned long long fault = hex(step, "facts.si_addr"), lowest = st.end - limit - (unsigned long long)page;
    expect(step, "SIGSEGV", "SEGV_MAPERR", "handler_on_alternate_stack");
    if (lowest - end_below(v->maps, st.start) < (256ULL * (unsigned long long)page))
        return; /* something is mapped close under the stack: the guard gap may stop it first */
    /* RLIMIT_STACK stops the stack at exactly `limit` bytes: the page under
     * that is the one that faults. Not the guard gap: nothing is near. */
    ck_assert_msg(fault >= lowest && fault < lowest + (unsigned long long)page,
                  "si_addr %llx, the stack ends at %llx, limit %llu", fault, st.end, limit);
    ck_assert(held(step, "stack_reached_rlimit"));
    ck_assert(!held(step, "stack_reached_guard_gap"));
    ck_assert_ptr_null(strstr(jstr(step, "note"), "guard gap"));
}

static void judge(const struct json *step, const struct seen *v)
{
    const char *name = jstr(step, "facts.case");
    if (strcmp(jstr(step, "facts.signal"), "not shown") == 0) {
        /* Only the protection-key case may be missing, and only without pkeys. */
        ck_assert_str_eq(name, "pkey-read");
        ck_assert(!has_cpu_flag("ospke"));
        ck_assert(held(step, "no_protection_keys"));
        return;
    }
    ck_assert_msg(v->paused, "%s ran its access without a pause", name);
    unsigned long long a = hex(step, "facts.address");
    bool write = strstr(name, "-write") != NULL || strcmp(name, "good-fault") == 0;
    struct vma m;
    if (strcmp(name, "stack-overflow") == 0) {
        judge_stack(step, v);
    } else if (find_vma(v->maps, a, &m)) {
        int key = smaps_pkey(v->smaps, m.start);
        unsigned long long offset = m.offset + (a - m.start);
        if (key > 0) {
            expect(step, "SIGSEGV", "SEGV_PKUERR", "protection_key_denied");
            ck_assert_int_eq(jint(step, "facts.si_pkey"), key);
        } else if (m.perms[write ? 1 : 0] == '-') {
            expect(step, "SIGSEGV", "SEGV_ACCERR", "mapping_forbids_access");
        } else if (strstr(m.path, "memfd:") && v->memfd_size >= 0 && offset >= (unsigned long long)v->memfd_size) {
            expect(step, "SIGBUS", "BUS_ADRERR", "past_end_of_file");
        } else {
            expect(step, "none", NULL, "good_fault");
            ck_assert_int_eq(jint(step, "delta.minor_faults"), 1);
            /* The demo's counter is the process's own: at most a few code
             * pages later than what /proc/PID/stat said at the pause. */
            int64_t before = jint(step, "before.minor_faults");
            ck_assert_msg(before >= v->minflt && before - v->minflt < 16, "minflt %lld at the pause, "
                          "%lld in the demo", (long long)v->minflt, (long long)before);
            return;
        }
        ck_assert_uint_eq(hex(step, "facts.si_addr"), a);
    } else {
        expect(step, "SIGSEGV", "SEGV_MAPERR", "no_mapping");
        ck_assert_uint_eq(hex(step, "facts.si_addr"), a);
    }
}

START_TEST(every_case_judged_at_its_pause)
{
    static struct seen seen[32];
    struct stepper s;
    const char *argv[] = {program, "--all", "--step", "--json", NULL};
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    int step;
    while ((step = stepper_wait(&s)) > 0) {
        ck_assert(step < 32);
        pid_t child = only_child(stepper_pid(&s));
        char path[64];
        seen[step].paused = true;
        snprintf(path, sizeof path, "/proc/%d/maps", (int)child);
        seen[step].maps = slurp(path);
        snprintf(path, sizeof path, "/proc/%d/smaps", (int)child);
        seen[step].smaps = slurp(path);
        ck_assert(seen[step].maps && seen[step].smaps);
        seen[step].memfd_size = memfd_size(child);
        seen[step].minflt = observe_minflt(child);
        ck_assert(stepper_go(&s));
    }
    const struct json *result = stepper_result(&s);
    ck_assert_ptr_nonnull(result);
    ck_assert_str_eq(jstr(result, "result"), "ok");
    int64_t steps = jint(stepper_step(&s, 1), "steps");
    ck_assert_int_eq(steps, 9);
    for (int i = 1; i <= steps; i++) {
        const struct json *st = stepper_step(&s, i);
        ck_assert_ptr_nonnull(st);
        judge(st, &seen[i]);
        free(seen[i].maps);
        free(seen[i].smaps);
    }
    /* The null read: 0 is below vm.mmap_min_addr, as the test reads it. */
    const struct json *null = stepper_step(&s, 2);
    ck_assert_str_eq(jstr(null, "facts.case"), "null-read");
    int64_t min_addr = (int64_t)vm("mmap_min_addr");
    ck_assert_int_eq(jint(null, "facts.mmap_min_addr"), min_addr);
    ck_assert(held(null, "mmap_min_addr_keeps_zero_free") == (min_addr > 0));
    int status = stepper_finish(&s);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* --step at a terminal: before the pause, the step names the case's child (with
 * the command that reads its maps) and the address the access will go to, as
 * the lab sheet's exercise needs them; the test reads that child's maps there. */
START_TEST(pause_names_child_and_address)
{
    static struct pty_child c;
    const char *argv[] = {program, "--step", "text-write", NULL};
    ck_assert_int_eq(pty_start(&c, argv), 0);
    ck_assert(pty_wait_for(&c, "Press Enter to run step 1/1"));
    pid_t child = only_child(c.pid);
    char want[96], path[64];
    snprintf(want, sizeof want, "runs in PID %d, a child: cat /proc/%d/maps", (int)child,
             (int)child);
    ck_assert_msg(strstr(c.screen, want), "no '%s' before the pause:\n%s", want, c.screen);
    const char *aim = strstr(c.screen, "The access will go to 0x");
    ck_assert_msg(aim, "no address before the pause:\n%s", c.screen);
    unsigned long long a = strtoull(aim + strlen("The access will go to "), NULL, 16);
    snprintf(path, sizeof path, "/proc/%d/maps", (int)child);
    char *maps = slurp(path);
    struct vma m;
    ck_assert_msg(maps && find_vma(maps, a, &m), "no mapping of PID %d covers 0x%llx", (int)child, a);
    ck_assert_msg(strncmp(m.perms, "r-x", 3) == 0, "0x%llx is in %s, not code", a, m.perms);
    free(maps);
    ck_assert(pty_send(&c, "\n"));
    snprintf(want, sizeof want, "address: 0x%llx\r\n", a);
    ck_assert_msg(pty_wait_for(&c, want), "the step names another address:\n%s", c.screen);
    int status = pty_finish(&c);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(one_case_and_user_form)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"text-write", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_int_eq(d.n, 2);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.si_code"), "SEGV_ACCERR");
    ck_assert_str_eq(jstr(demo_step(&d, 1), "code"), "p[0] = 1;");
    demo_run_free(&d);
    demo_run_json(&d, program, run_as, (const char *const[]){"u", "w", NULL});
    ck_assert_int_eq(d.r.exit_code, 0);
    ck_assert_str_eq(jstr(demo_step(&d, 1), "facts.case"), "unmapped-write");
    demo_run_free(&d);
}
END_TEST

static const struct bad_case bad[] = {
    {{"x", "r"}, "'x'"}, {{"u", "x"}, "'x'"}, {{"nosuchcase"}, "nosuchcase"},
    {{"u", "r", "extra"}, "too many"}, {{"--all", "text-write"}, "--all"},
    {{"--all", "--all"}, "--all"},
};

int main(int argc, char **argv)
{
    page = sysconf(_SC_PAGESIZE);
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program("segv-pgfault", run_as);
    Suite *s = suite_create("segv-pgfault");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 60);
    if (run_as == RUN_AS_SELF)
        tcase_add_test(tc, every_case_judged_at_its_pause);
    tcase_add_test(tc, one_case_and_user_form);
    if (run_as == RUN_AS_SELF)
        tcase_add_test(tc, pause_names_child_and_address);
    if (run_as == RUN_AS_SELF)
        ADD_BAD_INPUT_TESTS(tc, program, "segv-pgfault", bad);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}
