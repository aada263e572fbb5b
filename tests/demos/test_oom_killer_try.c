/* Demo tests for oom-killer-try, as root (exits 77 otherwise, except the
 * "nobody" role): the OOM killer kills the writing victim inside its cgroup,
 * the counters and the kernel log agree, nothing is left behind, the host's
 * memory never comes near exhaustion; untouched mmap memory is never killed.
 *
 *   test_oom_killer_try root     the lessons, interruption, four at once
 *   test_oom_killer_try nobody   without root: a clean 77, never unconfined
 *   test_oom_killer_try cli      bad input */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "demo_test.h"
#include "procfs.h"
#include "ptydrive.h"
#include "suite.h"

#define LIMIT_KB (64 * 1024)

static const char *program;
static enum run_as run_as = RUN_AS_SELF;

static int64_t mem_available(void)
{
    struct procfs_want w = {"MemAvailable", 0, false};
    if (procfs_read_keyed("/proc/meminfo", &w, 1) != PROCFS_OK || !w.present)
        return -1;
    return (int64_t)w.value;
}

static volatile sig_atomic_t stop_sampling;

/* A flag, not just an interrupted sleep: the signal may arrive while the
 * sampler is reading /proc, between two sleeps. */
static void on_stop(int sig)
{
    (void)sig;
    stop_sampling = 1;
}

/* A process of the test's own that samples MemAvailable every 5 ms until
 * told to stop, and reports the lowest value it saw. */
struct sampler {
    pid_t pid;
    int fd;
};

static void sampler_start(struct sampler *s)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        close(fds[0]);
        int64_t lowest = mem_available();
        /* Until SIGUSR1 (which sets stop_sampling), or 100 s at most. */
        for (int i = 0; i < 20000 && !stop_sampling && getppid() != 1; i++) {
            int64_t v = mem_available();
            if (v >= 0 && v < lowest)
                lowest = v;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        ssize_t n = write(fds[1], &lowest, sizeof lowest);
        _exit(n == (ssize_t)sizeof lowest ? 0 : 1);
    }
    close(fds[1]);
    s->fd = fds[0];
}

static int64_t sampler_stop(struct sampler *s)
{
    int64_t lowest = -1;
    kill(s->pid, SIGUSR1);
    ssize_t n = read(s->fd, &lowest, sizeof lowest);
    waitpid(s->pid, NULL, 0);
    close(s->fd);
    return n == (ssize_t)sizeof lowest ? lowest : -1;
}

/* Alive means running or sleeping: a zombie whose new parent has not yet
 * reaped it is dead for our purposes (kill(pid, 0) would still succeed). */
static bool alive(long pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    const char *paren = ok ? strrchr(buf, ')') : NULL;
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static bool kernel_line_names(const struct json *step, int64_t pid)
{
    char want1[48], want2[48];
    snprintf(want1, sizeof want1, "pid=%lld,", (long long)pid);
    snprintf(want2, sizeof want2, "process %lld ", (long long)pid);
    int64_t lines = jint(step, "facts.kernel_lines");
    for (int64_t i = 1; i <= lines; i++) {
        char key[48];
        snprintf(key, sizeof key, "facts.kernel_%lld", (long long)i);
        const char *line = jstr(step, key);
        if (strstr(line, want1) || strstr(line, want2))
            return true;
    }
    return false;
}

START_TEST(write_is_killed_in_its_cgroup)
{
    struct sampler s;
    int64_t before = mem_available();
    sampler_start(&s);
    struct demo_run d;
    time_t t0 = time(NULL);
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--touch", "write", "--timeout", "30", NULL});
    time_t took = time(NULL) - t0;
    int64_t lowest = sampler_stop(&s);
    ck_assert_msg(d.r.exit_code == 0, "exit %d: %s", d.r.exit_code, d.r.err);
    ck_assert_msg(took <= 10, "took %lld s", (long long)took);
    const struct json *conf = demo_step(&d, 1), *start = demo_step(&d, 2), *end = demo_step(&d, 4);
    ck_assert_int_eq(jint(conf, "facts.limit_bytes"), (int64_t)LIMIT_KB * 1024);
    const char *cgroup = jstr(conf, "facts.cgroup");
    int64_t victim = jint(start, "facts.victim_pid");
    ck_assert_int_eq(jint(start, "facts.oom_score_adj"), 1000);
    /* Killed by SIGKILL, counted once by the cgroup, named by the kernel. */
    ck_assert_int_eq(jint(end, "facts.signal"), SIGKILL);
    ck_assert_int_eq(jint(end, "delta.oom_kill"), 1);
    ck_assert_msg(kernel_line_names(end, victim), "no kernel line names PID %lld", (long long)victim);
    ck_assert_int_le(jint(end, "facts.peak_bytes"), (int64_t)LIMIT_KB * 1024);
    /* The supervisor survived (it exited 0 and said so), the cgroup is gone,
     * the victim is gone. */
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "ok");
    ck_assert_msg(access(cgroup, F_OK) != 0, "%s still exists", cgroup);
    ck_assert_int_ne(kill((pid_t)victim, 0), 0);
    /* The host never lost more than the limit and a margin. */
    ck_assert_msg(before - lowest <= LIMIT_KB + 64 * 1024, "MemAvailable fell by %lld kB",
                  (long long)(before - lowest));
    demo_run_free(&d);
}
END_TEST

START_TEST(untouched_mmap_is_never_killed)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"--via", "mmap", "--touch", "none", "--timeout", "30", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *alloc = demo_step(&d, 3), *end = demo_step(&d, 4);
    ck_assert_int_eq(jint(end, "facts.signal"), 0);
    ck_assert_int_eq(jint(end, "delta.oom_kill"), 0);
    ck_assert_ptr_nonnull(strstr(jstr(end, "facts.ended"), "finished"));
    /* 8 x 64 MiB of address space, next to nothing resident */
    ck_assert_int_ge(jint(alloc, "facts.VmSize_kB"), 8 * LIMIT_KB);
    ck_assert_int_le(jint(alloc, "facts.VmRSS_kB"), LIMIT_KB / 8);
    demo_run_free(&d);
}
END_TEST

START_TEST(untouched_malloc_is_killed_anyway)
{
    /* The original exercise: oom-killer-try COUNT 0 - malloc without touching. */
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF, (const char *const[]){"65536", "0", "0", "--timeout", "30", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *end = demo_step(&d, 4);
    ck_assert_int_eq(jint(end, "facts.signal"), SIGKILL);
    ck_assert_int_eq(jint(end, "delta.oom_kill"), 1);
    ck_assert_ptr_nonnull(strstr(jstr(end, "note"), "header"));
    demo_run_free(&d);
}
END_TEST

START_TEST(read_grows_page_tables_not_rss)
{
    struct demo_run d;
    demo_run_json(&d, program, RUN_AS_SELF,
                  (const char *const[]){"--via", "mmap", "--touch", "read", "--block", "2M", "--timeout", "30", NULL});
    ck_assert_msg(d.r.exit_code == 0, "%s", d.r.err);
    const struct json *alloc = demo_step(&d, 3), *end = demo_step(&d, 4);
    ck_assert_int_eq(jint(end, "facts.signal"), 0);
    /* 256 blocks of 2 MiB, every page read: each needs a page-table page
     * (4 KiB per 2 MiB), none needs a frame: the zero page is shared. */
    ck_assert_int_ge(jint(alloc, "facts.VmPTE_kB"), 256 * 4);
    ck_assert_int_le(jint(alloc, "facts.VmRSS_kB"), 8 * 1024);
    demo_run_free(&d);
}
END_TEST

static struct pty_child child;

/* Starts a long, harmless victim and stops the supervisor at a pause. */
static void pause_with_running_victim(struct pty_child *c)
{
    const char *argv[] = {program, "--via", "mmap", "--touch", "none", "--timeout", "600", "--step",
                          "100000000", NULL};
    ck_assert_int_eq(pty_start(c, argv), 0);
    for (int step = 1; step <= 2; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter for step %d/4", step);
        ck_assert_msg(pty_wait_for(c, prompt), "%s", c->screen);
        ck_assert(pty_send(c, "\n"));
    }
    ck_assert_msg(pty_wait_for(c, "victim_pid: "), "%s", c->screen);
    ck_assert_msg(pty_wait_for(c, "Press Enter for step 3/4"), "%s", c->screen);
}

static long screen_number(const struct pty_child *c, const char *key)
{
    const char *at = strstr(c->screen, key);
    ck_assert_ptr_nonnull(at);
    return strtol(at + strlen(key), NULL, 10);
}

static void screen_word(const struct pty_child *c, const char *key, char *out, size_t len)
{
    const char *at = strstr(c->screen, key);
    ck_assert_ptr_nonnull(at);
    at += strlen(key);
    size_t n = strcspn(at, " \r\n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), at);
}

/* Every signal at the pauses where something exists to clean up: before
 * step 2 (the cgroup, no victim yet), 3 (a victim running), 4 (the victim
 * dead, its cgroup still there). _i = signal index * 3 + pause - 2. */
START_TEST(signal_removes_cgroup_and_victim)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    int sig = sigs[_i / 3], at = _i % 3 + 2;
    long victim = -1;
    if (at == 3) {
        pause_with_running_victim(&child);
        victim = screen_number(&child, "victim_pid: ");
    } else {
        /* the default victim writes, and is killed within the limit */
        const char *argv[] = {program, "--step", NULL};
        ck_assert_int_eq(pty_start(&child, argv), 0);
        for (int step = 1; step <= at; step++) {
            char prompt[64];
            snprintf(prompt, sizeof prompt, "Press Enter for step %d/4", step);
            ck_assert_msg(pty_wait_for(&child, prompt), "%s", child.screen);
            if (step < at)
                ck_assert(pty_send(&child, "\n"));
        }
        if (at == 4)
            victim = screen_number(&child, "victim_pid: ");
    }
    char cgroup[512];
    screen_word(&child, "cgroup: ", cgroup, sizeof cgroup);
    ck_assert_int_eq(access(cgroup, F_OK), 0);
    kill(child.pid, sig);
    int status = pty_finish(&child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    ck_assert_msg(access(cgroup, F_OK) != 0, "%s left behind (signal %d before step %d)", cgroup, sig, at);
    if (victim > 0)
        ck_assert_msg(!alive(victim), "victim %ld still alive", victim);
}
END_TEST

/* With --step the victim allocates nothing until the allocation step
 * begins: at the pause before it, the victim exists with a small VmRSS. */
START_TEST(victim_waits_for_its_step)
{
    const char *argv[] = {program, "--step", "--timeout", "30", NULL};
    ck_assert_int_eq(pty_start(&child, argv), 0);
    for (int step = 1; step <= 3; step++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Press Enter for step %d/4", step);
        ck_assert_msg(pty_wait_for(&child, prompt), "%s", child.screen);
        if (step < 3)
            ck_assert(pty_send(&child, "\n"));
    }
    long victim = screen_number(&child, "victim_pid: ");
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", victim);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    long rss_kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            rss_kb = strtol(line + 6, NULL, 10);
    fclose(f);
    ck_assert_msg(rss_kb >= 0 && rss_kb < 16 * 1024, "VmRSS %ld kB before the step", rss_kb);
    ck_assert(pty_send(&child, "\n"));
    ck_assert_msg(pty_wait_for(&child, "Press Enter for step 4/4"), "%s", child.screen);
    ck_assert(pty_send(&child, "\n"));
    ck_assert_msg(pty_wait_for(&child, "killed by SIGKILL"), "%s", child.screen);
    ck_assert_msg(pty_wait_for(&child, "Done:"), "%s", child.screen);
    int status = pty_finish(&child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(sigkill_leftover_is_swept)
{
    pause_with_running_victim(&child);
    long victim = screen_number(&child, "victim_pid: ");
    char cgroup[512];
    screen_word(&child, "cgroup: ", cgroup, sizeof cgroup);
    kill(child.pid, SIGKILL);
    pty_finish(&child);
    /* The victim dies with its parent (PR_SET_PDEATHSIG); the cgroup stays. */
    for (int i = 0; i < 200 && alive(victim); i++)
        usleep(10000);
    ck_assert(!alive(victim));
    ck_assert_int_eq(access(cgroup, F_OK), 0);
    /* The next run of any vmlab program sweeps it, and says so. */
    struct demo_run d;
    demo_run_json(&d, demo_program("segv-pgfault", RUN_AS_SELF), RUN_AS_SELF,
                  (const char *const[]){"good-fault", NULL});
    ck_assert_msg(strstr(d.r.err, "removed") != NULL, "no word of the sweep: %s", d.r.err);
    ck_assert_msg(access(cgroup, F_OK) != 0, "%s left behind", cgroup);
    demo_run_free(&d);
}
END_TEST

START_TEST(four_at_once)
{
    enum { RUNS = 4 };
    struct sampler s;
    int64_t before = mem_available();
    sampler_start(&s);
    pid_t pids[RUNS];
    char outputs[RUNS][64];
    for (int i = 0; i < RUNS; i++) {
        snprintf(outputs[i], sizeof outputs[i], "/tmp/vmlab-oom-%ld-%d.json", (long)getpid(), i);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            if (!freopen(outputs[i], "w", stdout) || !freopen("/dev/null", "w", stderr))
                _exit(126);
            execl(program, "oom-killer-try", "--json", "--timeout", "30", (char *)NULL);
            _exit(127);
        }
    }
    int supervisors_ok = 0;
    for (int i = 0; i < RUNS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        supervisors_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    int64_t lowest = sampler_stop(&s);
    ck_assert_int_eq(supervisors_ok, RUNS); /* every supervisor finished normally */
    for (int i = 0; i < RUNS; i++) {
        /* each victim was killed in its own cgroup, and that cgroup is gone */
        FILE *f = fopen(outputs[i], "re");
        ck_assert_ptr_nonnull(f);
        static char text[1 << 16];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        unlink(outputs[i]);
        text[n] = '\0';
        struct json *lines[DEMO_MAX_LINES];
        char err[256];
        int count = parse_json_lines(text, lines, DEMO_MAX_LINES, err, sizeof err);
        ck_assert_msg(count >= 5, "run %d: %s", i, err);
        ck_assert_int_eq(jint(lines[3], "facts.signal"), SIGKILL);
        ck_assert_int_eq(jint(lines[3], "delta.oom_kill"), 1);
        ck_assert_msg(access(jstr(lines[0], "facts.cgroup"), F_OK) != 0, "run %d left its cgroup", i);
        free_json_lines(lines, count);
    }
    ck_assert_msg(before - lowest <= RUNS * LIMIT_KB + 64 * 1024, "MemAvailable fell by %lld kB",
                  (long long)(before - lowest));
}
END_TEST

/* A container started with "docker run -m 128m", as seen from inside: the
 * demo runs as an ordinary user in a cgroup that is already limited. It must
 * use that limit (and not give up, nor run unconfined), the OOM killer must
 * kill the victim there, and the cgroup it did not make must stay. */
START_TEST(inherited_limit_as_an_ordinary_user)
{
    struct confine outer;
    char why[1024];
    ck_assert_msg(confine_setup(&outer, "test", 128u << 20, why, sizeof why) == 0, "%s", why);
    const char *copy = demo_program("oom-killer-try", RUN_AS_NOBODY);
    char out[64];
    snprintf(out, sizeof out, "/tmp/vmlab-inherited-%ld.json", (long)getpid());
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (confine_enter(&outer) != 0 || !freopen(out, "w", stdout) ||
            !freopen("/dev/null", "w", stderr) || setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
            setuid(65534) != 0)
            _exit(126);
        execl(copy, "oom-killer-try", "--json", "--timeout", "30", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", outer.dir);
    bool still_there = access(dir, F_OK) == 0;
    confine_teardown(&outer);
    remove_copy(copy);
    FILE *f = fopen(out, "re");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(out);
    text[n] = '\0';
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, text);
    struct json *lines[DEMO_MAX_LINES];
    char err[256];
    int count = parse_json_lines(text, lines, DEMO_MAX_LINES, err, sizeof err);
    ck_assert_msg(count >= 5, "%s", err);
    ck_assert_ptr_nonnull(strstr(jstr(lines[0], "facts.method"), "inherited"));
    ck_assert_int_eq(jint(lines[0], "facts.limit_bytes"), 128 << 20);
    ck_assert_str_eq(jstr(lines[0], "facts.cgroup"), dir);
    ck_assert_int_eq(jint(lines[3], "facts.signal"), SIGKILL);
    ck_assert_int_eq(jint(lines[3], "delta.oom_kill"), 1);
    ck_assert_msg(still_there, "the demo removed a cgroup it had not made");
    free_json_lines(lines, count);
}
END_TEST

START_TEST(unprivileged_skips_cleanly)
{
    struct demo_run d;
    demo_run_json(&d, program, run_as, (const char *const[]){"--timeout", "30", NULL});
    if (d.r.exit_code == 0) {
        /* It found a limit it may use (a limited cgroup of its own, a
         * systemd scope): then it ran confined, never without. */
        const char *method = jstr(demo_step(&d, 1), "facts.method");
        ck_assert_msg(strcmp(method, "none (--unconfined)") != 0, "ran unconfined");
        demo_run_free(&d);
        return;
    }
    ck_assert_int_eq(d.r.exit_code, 77);
    ck_assert_str_eq(jstr(demo_result(&d), "result"), "skip");
    ck_assert_ptr_nonnull(strstr(jstr(demo_result(&d), "reason"), "root"));
    /* Never an unconfined run: no victim was started. */
    for (int i = 0; i < d.n; i++)
        ck_assert_ptr_null(json_path(d.lines[i], "facts.victim_pid"));
    demo_run_free(&d);
}
END_TEST

static const struct { const char *args[5]; const char *names; } bad[] = {
    {{"--limit", "1K"}, "--limit"},        {{"--limit", "2G"}, "--limit"},
    {{"--touch", "sometimes"}, "--touch"}, {{"--via", "brk"}, "--via"},
    {{"abc"}, "COUNT"},                    {{"10", "2"}, "FORCE-PAGE-FAULT"},
    {{"10", "1", "2"}, "VERBOSE"},         {{"1", "1", "1", "1"}, "too many"},
    {{"--unconfined"}, "--unconfined"},    {{"--block", "0"}, "--block"},
    {{"--oom-score-adj", "-5"}, "--oom-score-adj"}, {{"--timeout", "0"}, "--timeout"},
};

START_TEST(bad_input)
{
    check_bad_input(program, "oom-killer-try", bad[_i].args, bad[_i].names);
}
END_TEST

int main(int argc, char **argv)
{
    const char *role = argc > 1 ? argv[1] : "cli";
    bool root = geteuid() == 0;
    signal(SIGUSR1, on_stop);
    if (strcmp(role, "root") == 0 && !root) {
        fprintf(stderr, "creating a memory cgroup needs root here: skipped\n");
        return 77;
    }
    if (strcmp(role, "nobody") == 0 && root)
        run_as = RUN_AS_NOBODY;
    program = demo_program("oom-killer-try", run_as);
    Suite *s = suite_create("oom-killer-try");
    TCase *tc = tcase_create(role);
    tcase_set_timeout(tc, 90); /* above the victims' own --timeout 30 */
    if (strcmp(role, "root") == 0) {
        tcase_add_test(tc, write_is_killed_in_its_cgroup);
        tcase_add_test(tc, untouched_mmap_is_never_killed);
        tcase_add_test(tc, untouched_malloc_is_killed_anyway);
        tcase_add_test(tc, read_grows_page_tables_not_rss);
        tcase_add_loop_test(tc, signal_removes_cgroup_and_victim, 0, 9);
        tcase_add_test(tc, victim_waits_for_its_step);
        tcase_add_test(tc, sigkill_leftover_is_swept);
        tcase_add_test(tc, four_at_once);
        tcase_add_test(tc, inherited_limit_as_an_ordinary_user);
    } else if (strcmp(role, "nobody") == 0) {
        tcase_add_test(tc, unprivileged_skips_cleanly);
    } else {
        tcase_add_loop_test(tc, bad_input, 0, (int)(sizeof bad / sizeof bad[0]));
    }
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    if (run_as == RUN_AS_NOBODY)
        remove_copy(program);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
