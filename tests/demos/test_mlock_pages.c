/* SPDX-License-Identifier: MIT */
/* Demo tests for mlock-pages, with the outside observer: the demo runs with
 * --step --json on a pseudo-terminal and, at every pause, this test reads the
 * process's smaps entry (Rss, Locked, VmFlags) and its /proc/PID/status VmLck
 * itself, and holds the step's findings against that. Expected values come
 * from these readings, this test's own RLIMIT_MEMLOCK and capabilities, and
 * the --size it passes.
 *
 *   test_mlock_pages           everything, as the current user (and, without
 *                              CAP_IPC_LOCK under a small limit, a refused mlock)
 *   test_mlock_pages nobody    as uid 65534: the refusal past RLIMIT_MEMLOCK */
#define _GNU_SOURCE
#include <check.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_test.h"
#include "lesson_asserts.h"
#include "observe.h"
#include "suite.h"

static enum run_as run_as = RUN_AS_SELF;
static const char *program;
static int64_t page_kb;

#define SIZE_KB 1024

/* The CapEff mask of /proc/PID/status. */
static unsigned long long observe_status_caps(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "re");
    unsigned long long caps = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            break;
    if (f)
        fclose(f);
    return caps;
}

static bool have_cap_ipc_lock(void)
{
    return observe_status_caps(getpid()) & (1ULL << CAP_IPC_LOCK);
}

struct watch {
    pid_t pid;
    uintptr_t p, q;         /* the lesson's mappings, from the maps facts */
    bool refused;           /* run without CAP_IPC_LOCK, past RLIMIT_MEMLOCK */
    int64_t mlocked, unevictable; /* /proc/meminfo, read here before step 2 */
};

static int64_t smaps(pid_t pid, uintptr_t at, const char *key)
{
    return observe_smaps(pid, at, key);
}

static void check_step(struct watch *w, const struct json *st)
{
    assert_lesson_step(st);
    const char *id = jstr(st, "id");
    if (strcmp(id, "map") == 0) {
        w->p = stepper_maps_start(st);
        ck_assert(w->p != 0);
        ck_assert_int_eq(smaps(w->pid, w->p, "Size"), SIZE_KB);
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), 0);
        ck_assert(held(st, "mapped_not_resident"));
    } else if (strcmp(id, "mlock") == 0 && w->refused) {
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), 0);
        ck_assert_int_eq(smaps(w->pid, w->p, "Locked"), 0);
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), 0);
        ck_assert(held(st, "mlock_refused"));
        ck_assert(!held(st, "mlock_made_resident"));
        ck_assert(!held(st, "meminfo_counts_mlocked"));
    } else if (strcmp(id, "mlock") == 0) {
        int64_t rss = smaps(w->pid, w->p, "Rss"), locked = smaps(w->pid, w->p, "Locked");
        ck_assert_int_eq(rss, SIZE_KB);
        ck_assert_int_eq(locked, SIZE_KB);
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), SIZE_KB);
        ck_assert(held(st, "mlock_made_resident"));
        /* System-wide and batched per CPU: the demo may say they rose only where this
         * test saw them rise too; a clear rise of both (half the size) it must say. */
        int64_t mlocked = observe_meminfo("Mlocked"), unevictable = observe_meminfo("Unevictable");
        ck_assert_ptr_nonnull(finding(st, "meminfo_counts_mlocked"));
        if (held(st, "meminfo_counts_mlocked"))
            ck_assert(mlocked > w->mlocked && unevictable > w->unevictable && w->mlocked >= 0);
        if (w->mlocked >= 0 && w->unevictable >= 0 && mlocked - w->mlocked >= SIZE_KB / 2 &&
            unevictable - w->unevictable >= SIZE_KB / 2)
            ck_assert(held(st, "meminfo_counts_mlocked"));
    } else if (strcmp(id, "munlock") == 0 && w->refused) {
        ck_assert_int_eq(smaps(w->pid, w->p, "Locked"), 0);
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), 0);
        ck_assert(held(st, "nothing_was_locked"));
        ck_assert(!held(st, "munlock_keeps_pages"));
    } else if (strcmp(id, "munlock") == 0) {
        ck_assert_int_eq(smaps(w->pid, w->p, "Locked"), 0);
        ck_assert_int_eq(smaps(w->pid, w->p, "Rss"), SIZE_KB);
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), 0);
        ck_assert(held(st, "munlock_keeps_pages"));
    } else if (strcmp(id, "past_limit") == 0) {
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
        ck_assert_int_eq(jint(st, "facts.memlock_limit_kB"), (int64_t)(rl.rlim_cur / 1024));
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), 0); /* r is gone again */
        bool exempt = have_cap_ipc_lock();
        /* The demo's own capability, read here, is what the finding follows. */
        ck_assert_int_eq(observe_status_caps(w->pid) >> CAP_IPC_LOCK & 1, exempt);
        ck_assert_int_eq(held(st, "cap_ipc_lock_exempt"), exempt);
        ck_assert_int_eq(held(st, "refused_past_limit"), !exempt);
        if (!exempt)
            ck_assert(held(st, "locked_up_to_limit"));
    } else if (strcmp(id, "lock_on_fault") == 0) {
        w->q = stepper_maps_start(st);
        ck_assert(w->q != 0);
        char flags[256];
        ck_assert(observe_vmflags(w->pid, w->q, flags, sizeof flags));
        ck_assert_ptr_nonnull(strstr(flags, "lo"));
        ck_assert_int_eq(smaps(w->pid, w->q, "Rss"), page_kb);
        ck_assert_int_eq(smaps(w->pid, w->q, "Locked"), page_kb);
        ck_assert_int_ge(observe_status(w->pid, "VmLck"), smaps(w->pid, w->q, "Size"));
        /* The demo's row: at least the new mapping, and no more than the test reads
         * now (MCL_FUTURE locks whatever the demo maps after its reading: stdio's
         * buffers, a sanitizer's own mappings). */
        ck_assert_int_ge(jint(st, "after.VmLck_kB"), smaps(w->pid, w->q, "Size"));
        ck_assert_int_le(jint(st, "after.VmLck_kB"), observe_status(w->pid, "VmLck"));
        ck_assert(held(st, "locked_on_fault"));
    } else if (strcmp(id, "munlockall") == 0) {
        ck_assert_int_eq(observe_status(w->pid, "VmLck"), 0);
        ck_assert_int_eq(smaps(w->pid, w->q, "Size"), -1);
        ck_assert(held(st, "nothing_locked"));
    } else {
        ck_abort_msg("unknown step id %s", id);
    }
}

/* At the pause before step `next`: step next - 1 against what we read now. */
static void at_pause(void *ctx, const struct stepper *s, int next, const struct json *ended)
{
    struct watch *w = ctx;
    w->pid = stepper_pid(s);
    if (ended)
        check_step(w, ended);
    if (next == 2) {
        w->mlocked = observe_meminfo("Mlocked");
        w->unevictable = observe_meminfo("Unevictable");
    }
}

START_TEST(observed_from_outside)
{
    char size[16];
    snprintf(size, sizeof size, "%dK", SIZE_KB);
    const char *argv[] = {program, "--step", "--json", "--size", size, NULL};
    struct stepper s;
    struct watch w = {0};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    const struct json *unmap = lesson_last_step(&s, last, "unmap");
    assert_lesson_step(unmap);
    ck_assert(held(unmap, "mapping_gone"));
    lesson_assert_ok_end(&s);
}
END_TEST

/* Root without CAP_IPC_LOCK (as in a container that drops it): this test's
 * process (Check's fork of it) gives the capability up for good, then lowers
 * RLIMIT_MEMLOCK below --size, so that step 2's mlock is refused; then step 3
 * has nothing to unlock and the last line does not say it locked anything. */
START_TEST(refused_without_cap_ipc_lock)
{
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0) {
        printf("CK_FORK=no: the capability would be gone for the other tests; not tested\n");
        return;
    }
    if (have_cap_ipc_lock()) {
        struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct caps[2];
        ck_assert_int_eq(syscall(SYS_capget, &head, caps), 0);
        caps[0].effective &= ~(1U << CAP_IPC_LOCK);
        caps[0].permitted &= ~(1U << CAP_IPC_LOCK);
        caps[0].inheritable &= ~(1U << CAP_IPC_LOCK);
        if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0 ||
            syscall(SYS_capset, &head, caps) != 0) {
            printf("cannot give CAP_IPC_LOCK up here: not tested\n");
            return;
        }
        ck_assert(!have_cap_ipc_lock());
    }
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
    /* Half the size, or the hard limit where that is lower (64 KiB on older kernels
     * and in Docker): any limit from a page to below the size refuses step 2. */
    rlim_t wanted = SIZE_KB / 2 * 1024;
    rl.rlim_cur = rl.rlim_max < wanted ? rl.rlim_max : wanted;
    if (rl.rlim_cur < (rlim_t)sysconf(_SC_PAGESIZE)) {
        printf("the hard RLIMIT_MEMLOCK, %llu bytes, leaves not a page to lock: not tested\n",
               (unsigned long long)rl.rlim_max);
        return;
    }
    ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
    char size[16];
    snprintf(size, sizeof size, "%dK", SIZE_KB);
    const char *argv[] = {program, "--step", "--json", "--size", size, NULL};
    struct stepper s;
    struct watch w = {.refused = true};
    int last = lesson_step_through(&s, argv, at_pause, &w);
    assert_lesson_step(lesson_last_step(&s, last, "unmap"));
    const struct json *result = stepper_result(&s);
    ck_assert_ptr_nonnull(result);
    ck_assert_ptr_null(strstr(jstr(result, "reason"), "locked and unlocked"));
    lesson_assert_ok_end(&s);
}
END_TEST

/* Without a terminal, as the tour runs it; as nobody, the refusal. */
START_TEST(lesson_json)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--size", "256K", NULL});
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    bool refused = false, exempt = false;
    for (int i = 1; i < d.n; i++) {
        const struct json *st = demo_step(&d, i);
        assert_lesson_step(st);
        if (strcmp(jstr(st, "id"), "past_limit") == 0) {
            refused = held(st, "refused_past_limit") && held(st, "locked_up_to_limit");
            exempt = held(st, "cap_ipc_lock_exempt");
        }
    }
    if (run_as == RUN_AS_NOBODY) {
        ck_assert_msg(refused, "as nobody, mlock past RLIMIT_MEMLOCK was not shown refused");
    } else {
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
        if (rl.rlim_cur != RLIM_INFINITY)
            ck_assert(have_cap_ipc_lock() ? exempt : refused);
    }
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    demo_run_free(&d);
}
END_TEST

START_TEST(answers_show_real_code)
{
    ck_assert_int_ge(assert_answers_real(VMLAB_ANSWERS, "mlock-pages"), 6);
}
END_TEST

/* The sheet's exercise 1 (root vs an ordinary user) needs root to switch
 * users: a student without it compares with the key, which must hold a run
 * as nobody (docs/capture.sh's as_nobody) where step 4 is refused. */
START_TEST(answers_show_a_run_as_nobody)
{
    FILE *f = fopen(VMLAB_ANSWERS, "r");
    ck_assert_ptr_nonnull(f);
    static char key[1 << 17];
    size_t len = fread(key, 1, sizeof key - 1, f);
    key[len] = '\0';
    fclose(f);
    const char *run = strstr(key, "<!-- capture: as_nobody mlock-pages");
    ck_assert_msg(run != NULL, "the key has no capture as nobody");
    const char *end = strstr(run, "<!-- end capture -->");
    const char *refused = strstr(run, "mlock was refused with ENOMEM");
    ck_assert_msg(end && refused && refused < end, "the key's run as nobody is not captured, or "
                  "does not show step 4 refused");
}
END_TEST

static const struct bad_case bad_cases[] = {
    {{"--size", "1K", NULL}, "--size"},
    {{"--size", "1G", NULL}, "--size"},
    {{"--size", NULL}, "--size"},
    {{"--bogus", NULL}, "--bogus"},
};

int main(int argc, char **argv)
{
    run_as = demo_test_run_as_if_root(argc, argv);
    program = demo_program("mlock-pages", run_as);
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    Suite *s = suite_create(run_as == RUN_AS_NOBODY ? "mlock-pages as nobody" : "mlock-pages");
    TCase *tc = tcase_create("lesson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lesson_json);
    if (run_as == RUN_AS_SELF) {
        tcase_add_test(tc, observed_from_outside);
        tcase_add_test(tc, refused_without_cap_ipc_lock);
        tcase_add_test(tc, answers_show_real_code);
        tcase_add_test(tc, answers_show_a_run_as_nobody);
    }
    ADD_BAD_INPUT_TESTS(tc, program, "mlock-pages", bad_cases);
    suite_add_tcase(s, tc);
    return demo_test_exit(s, program, run_as);
}
