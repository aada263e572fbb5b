/* SPDX-License-Identifier: MIT */
/* tour: the guided tour - runs every demo in teaching order, one after the
 * other, passing on --step, --json and --color. Each demo is a program of its
 * own next to this one; the tour only starts them and counts how they ended. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "narrate.h"
#include "needs.h"
#include "undo.h"

struct stop {
    const char *demo;
    const char *arg, *arg2;  /* extra arguments, or NULL */
    const char *lesson;
};

/* Teaching order: from "mmap reserves address space" towards what happens
 * when the memory runs out. A stop that needs what this machine lacks (root,
 * huge pages) exits 77 and the tour counts it as "could not run here". */
static const struct stop stops[] = {
    {"mmap-anon", NULL, NULL, "mmap gives address space; the first touch of each page gives memory"},
    {"mmap-anon", "--thp", NULL, "the same with a transparent huge page: one write, 2 MiB"},
    {"malloc-brk", NULL, NULL, "malloc: the heap's break, mappings of their own, the threshold"},
    {"malloc-free", NULL, NULL, "malloc'd memory costs nothing until written; free, malloc_trim"},
    {"stack-growth", NULL, NULL, "the stack grows page by page; RLIMIT_STACK and the guard gap"},
    {"page-walk", NULL, NULL, "an address walked down four tables; what the tables cost"},
    {"fault-cost", "--quick", NULL, "what a first touch costs, per page, on this machine"},
    {"huge-fault-cost", "--quick", NULL,
     "huge pages, per 4 KiB: THP, and hugetlb if the pool has pages"},
    {"mincore-residency", NULL, NULL, "page by page: resident or not, and the zero page"},
    {"page-cache", NULL, NULL, "a file's pages come in when it is read, and read ahead"},
    {"page-writeback", NULL, NULL, "a file's pages written: dirty, written back, dropped"},
    {"protnone-dirty", NULL, NULL, "resident and dirty, yet inaccessible"},
    {"fork-cow", NULL, NULL, "fork shares every page; a write copies one (copy-on-write)"},
    {"vfork-spawn", NULL, NULL, "vfork and posix_spawn start a program without fork's charge"},
    {"mlock-pages", NULL, NULL, "mlock keeps pages resident, within RLIMIT_MEMLOCK"},
    {"madvise-pages", NULL, NULL, "madvise frees, marks or fills pages a process has"},
    {"segv-pgfault", "--all", NULL, "good and bad page faults, and what the signal says"},
    {"kernel-address", "--all", NULL, "the kernel's half and the non-canonical hole: no access"},
    {"map-noreserve", NULL, NULL, "overcommit: 1 TiB on a machine with far less, and what it costs"},
    {"overcommit-modes", NULL, NULL, "the same requests in overcommit modes 0, 1 and 2 (root)"},
    {"hugetlb-reserve", "--setup", "2", "huge pages are reserved at mmap, or fail with SIGBUS"},
    {"oom-killer-try", NULL, NULL, "when memory runs out: the OOM killer, confined to a cgroup"},
};
#define NSTOPS (sizeof stops / sizeof stops[0])

static const struct demo_info info = {
    .name = "tour",
    .runs_demos = true,
    .summary = "Runs every vmlab demo in teaching order and says how each one ended.\n"
               "With --step every demo pauses before each of its steps.",
    .examples = "  tour             the whole tour, without pauses\n"
                "  tour --step      one step at a time (at a terminal)\n"
                "  tour --json      JSON Lines from every demo, then a summary line\n",
    .exit_status = "0 no stop failed: each one ran, or exited 77 because this machine "
                   "cannot show it (the tour counts it as could not run here and goes on); "
                   "1 a stop failed, or could not be started (the tour names it); "
                   "2 bad usage.",
};

static void no_options(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    (void)index;
    (void)arg;
}

/* The directory this program lives in: the demos are built next to it. */
static int own_dir(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    if (n < 0)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) {
        errno = ENOENT;
        return -1;
    }
    *slash = '\0';
    return 0;
}

/* What a stop is called (its argv[0]), from which it names the command that
 * runs it again in a 77 ("sudo build/demos/overcommit-modes"): a tour started
 * by a path names its stops by the same path, runnable where the student is;
 * one started by its bare name (vmlab tour, installed) passes the bare name,
 * which a stop turns into "vmlab NAME". A path that is not the stop's file
 * (the tour reached through a link elsewhere) gives way to the file's own. */
static void stop_name(const char *tour, const char *demo, const char *path, char *name, size_t len)
{
    const char *slash = strrchr(tour, '/');
    struct stat named, real;
    snprintf(name, len, "%.*s%s%s", slash ? (int)(slash - tour) : 0, tour, slash ? "/" : "", demo);
    if (slash && (stat(name, &named) != 0 || stat(path, &real) != 0 ||
                  named.st_dev != real.st_dev || named.st_ino != real.st_ino))
        snprintf(name, len, "%s", path);
}

/* The demo running now. A SIGINT, SIGTERM or SIGHUP sent to the tour alone
 * (kill PID, a closed terminal) is passed on to it, and the tour waits for
 * it to put back what it changed before it dies of the same signal itself
 * (lib/safety/undo runs this). */
static volatile pid_t running;

/* Async-signal-safe: kill, waitpid, nanosleep. */
static void stop_running_demo(void)
{
    pid_t pid = running;
    if (pid <= 0)
        return;
    int sig = undo_signal();
    kill(pid, sig ? sig : SIGTERM);
    /* Its own undo is bounded (a cgroup removal retries for 2 s); after
     * 10 s it is stuck, and SIGKILL leaves its record to the next run. */
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) != 0)
            break;
        struct timespec ts = {0, 10000000L}; /* 10 ms */
        nanosleep(&ts, NULL);
        if (i == 999) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    running = 0;
}

/* Whether a demo asks --predict questions: its own --help offers --predict only then
 * (a demo that asks none refuses it, and says that its lab sheet asks them). */
static bool asks_questions(const char *path, const char *demo)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        execl(path, demo, "--help", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char help[16384], chunk[4096];
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], chunk, sizeof chunk)) > 0) { /* all of it: the demo may end */
        size_t take = (size_t)got < sizeof help - 1 - len ? (size_t)got : sizeof help - 1 - len;
        memcpy(help + len, chunk, take);
        len += take;
    }
    help[len] = '\0';
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return strstr(help, "\n  --predict ") != NULL;
}

/* Runs one stop; returns its exit status, or 128 + signal. */
static int run_stop(const char *path, const char *name, const struct stop *s,
                    const struct cli_common *common)
{
    const char *argv[8];
    int argc = 0;
    argv[argc++] = name;
    if (s->arg)
        argv[argc++] = s->arg;
    if (s->arg2)
        argv[argc++] = s->arg2;
    if (common->step)
        argv[argc++] = "--step";
    if (common->predict && asks_questions(path, s->demo))
        argv[argc++] = "--predict";
    if (common->json)
        argv[argc++] = "--json";
    if (common->color == COLOR_ALWAYS)
        argv[argc++] = "--color=always";
    else if (common->color == COLOR_NEVER)
        argv[argc++] = "--color=never";
    argv[argc] = NULL;

    (void)fflush(stdout); /* nothing buffered twice across fork */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* `running` is set before any signal */
    pid_t tour = getpid();
    pid_t pid = fork();
    if (pid > 0)
        running = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* A tour killed outright (SIGKILL) cannot pass a signal on: the
         * kernel sends the demo SIGTERM then, and the demo puts back what it
         * changed, instead of going on alone (from a tour gone before prctl
         * took effect, it does not start). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != tour)
            _exit(127);
        execv(path, (char *const *)argv);
        char msg[PATH_MAX + 64];
        errno_describe("execv", errno, msg, sizeof msg);
        cli_notice("tour", "%s: %s", path, msg);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            running = 0;
            return -1;
        }
    running = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, no_options, NULL);
    cli_no_positionals(&info, argc, argv, first);
    if (common.predict && !isatty(STDIN_FILENO))
        cli_usage_error(&info, "--predict asks at a terminal, and stdin is not one (give "
                               "--answers to one demo at a time instead)");
    struct narrator n;
    demo_start(&n, &info, &common, 0);
    if (undo_register(stop_running_demo) != 0) {
        fprintf(stderr, "tour: cannot register what to do on exit (atexit)\n");
        return EXIT_RUNTIME;
    }
    char dir[PATH_MAX];
    if (own_dir(dir, sizeof dir) != 0)
        narrate_fail_errno(&n, "readlink /proc/self/exe", errno);

    int ran = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < NSTOPS; i++) {
        const struct stop *s = &stops[i];
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, s->demo);
        if (!n.json)
            printf("%s==== Stop %zu of %zu: %s%s%s%s%s ====%s\n     %s\n\n", n.color ? "\033[1m" : "",
                   i + 1, NSTOPS, s->demo, s->arg ? " " : "", s->arg ? s->arg : "",
                   s->arg2 ? " " : "", s->arg2 ? s->arg2 : "", n.color ? "\033[0m" : "", s->lesson);
        char name[PATH_MAX + 64];
        stop_name(argv[0], s->demo, path, name, sizeof name);
        int rc = run_stop(path, name, s, &common);
        if (rc == EXIT_OK) {
            ran++;
        } else if (rc == EXIT_CANNOT) {
            skipped++;
        } else {
            failed++;
            cli_notice("tour", "%s ended with status %d", s->demo, rc);
        }
        if (!n.json)
            putchar('\n');
    }
    narrate_summary(&n, "stops", (int64_t)NSTOPS);
    narrate_summary(&n, "ran", ran);
    narrate_summary(&n, "skipped", skipped);
    narrate_summary(&n, "failed", failed);
    if (failed)
        narrate_finish(&n, RESULT_FAIL, "%d stop%s ran, %d could not run here, %d failed", ran,
                       ran == 1 ? "" : "s", skipped, failed);
    narrate_finish(&n, RESULT_OK, "%d stop%s ran, %d could not run here (see above why)", ran,
                   ran == 1 ? "" : "s", skipped);
}
