/* SPDX-License-Identifier: MIT */
/* vmlab-watch follows the tour: the tour runs with --step on a terminal; at
 * every pause the test finds, from outside (/proc), which demo process the
 * tour is running, and waits until the watcher's latest frame names that
 * demo and that PID. Then Enter, and on to the next pause. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "demo_test.h"
#include "ptydrive.h"
#include "suite.h"

/* The child of parent that is running now (the tour's current stop), from
 * each /proc/PID/stat's ppid field; its command name in comm. 0 if none. */
static pid_t child_of(pid_t parent, char *comm, size_t len)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && !found) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        long ppid;
        char state;
        if (!open || !close || sscanf(close + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        if (ppid == parent && state != 'Z') {
            found = (pid_t)atol(buf);
            snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* In a child of this test: the child is killed when the test process ends,
 * so that a failed assert (which ends the test early) leaves nothing behind.
 * If the test has already ended before the prctl, end now. */
static void die_with_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
}

struct watcher {
    pid_t pid;
    int fd;
    char out[1 << 20];
    size_t len;
};

/* The watcher following whatever demo runs (pid NULL), or watching one PID. */
static void watcher_start(struct watcher *w, const char *pid)
{
    int pipefd[2];
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    w->len = 0;
    pid_t parent = getpid();
    w->pid = fork();
    ck_assert_int_ge(w->pid, 0);
    if (w->pid == 0) {
        die_with_parent(parent);
        dup2(pipefd[1], STDOUT_FILENO);
        const char *prog = demo_program("vmlab-watch", RUN_AS_SELF);
        execl(prog, "vmlab-watch", "--interval", "20", pid, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    w->fd = pipefd[0];
}

/* Reads what the watcher drew for up to ms milliseconds. */
static void watcher_read(struct watcher *w, int ms)
{
    struct pollfd p = {w->fd, POLLIN, 0};
    while (poll(&p, 1, ms) > 0 && w->len + 1 < sizeof w->out) {
        ssize_t n = read(w->fd, w->out + w->len, sizeof w->out - 1 - w->len);
        if (n <= 0)
            break;
        w->len += (size_t)n;
        w->out[w->len] = '\0';
        ms = 0;
    }
}

/* The watcher's latest frame names this demo and PID (within 20 s). comm
 * is the kernel's name of the process: at most 15 characters of it. */
static bool watcher_shows(struct watcher *w, const char *comm, pid_t pid, pid_t or_pid)
{
    char name[64], id[32], or_id[32];
    snprintf(name, sizeof name, "vmlab-watch: %s", comm);
    snprintf(id, sizeof id, ", PID %ld,", (long)pid);
    snprintf(or_id, sizeof or_id, ", PID %ld,", (long)or_pid);
    for (long long deadline = pty_now_ms() + 20000; pty_now_ms() < deadline;) {
        watcher_read(w, 20);
        const char *last = NULL;
        for (const char *s = w->out; (s = strstr(s, "vmlab-watch: ")) != NULL; s++)
            last = s;
        if (!last)
            continue;
        const char *eol = strchr(last, '\n');
        const char *hit = strstr(last, id);
        if ((!hit || (eol && hit > eol)) && or_pid > 0)
            hit = strstr(last, or_id);
        if (strncmp(last, name, strlen(name)) == 0 && hit && (!eol || hit < eol))
            return true;
    }
    return false;
}

START_TEST(watch_follows_every_stop_of_the_tour)
{
    static struct watcher w;
    static struct pty_child tour;
    /* A private announcement place: other vmlab runs on this machine (as
     * this user) must not be what the watcher follows. */
    char runtime[] = "/tmp/vmlab-watch-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(runtime));
    setenv("XDG_RUNTIME_DIR", runtime, 1);
    watcher_start(&w, NULL);
    const char *argv[] = {demo_program("tour", RUN_AS_SELF), "--step", NULL};
    ck_assert_int_eq(pty_start(&tour, argv), 0);
    char seen[16][64];
    int nseen = 0;
    while (pty_wait_for(&tour, "Press Enter")) {
        char comm[64] = "";
        pid_t demo = child_of(tour.pid, comm, sizeof comm);
        if (demo > 0 && strcmp(comm, "tour") != 0) {
            /* The stop's own process (not a worker it forked) is the tour's child;
             * or, while a demo runs steps in a child of its own (madvise-pages's
             * cgroup steps), that child, which announces itself. */
            char sub_comm[64];
            pid_t sub = child_of(demo, sub_comm, sizeof sub_comm);
            ck_assert_msg(watcher_shows(&w, comm, demo, sub),
                          "the watcher does not show %s (PID %ld); its output ends with: %s",
                          comm, (long)demo, w.out + (w.len > 2000 ? w.len - 2000 : 0));
            if (nseen == 0 || strcmp(seen[nseen - 1], comm) != 0)
                if (nseen < 16)
                    snprintf(seen[nseen++], sizeof seen[0], "%s", comm);
        }
        ck_assert(pty_send(&tour, "\n"));
    }
    int status = pty_finish(&tour);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tour status %#x: %s", status,
                  tour.screen + (tour.len > 2000 ? tour.len - 2000 : 0));
    kill(w.pid, SIGINT);
    int wstatus;
    ck_assert_int_eq(waitpid(w.pid, &wstatus, 0), w.pid);
    ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "watcher status %#x", wstatus);
    close(w.fd);
    /* Every frame's first line fits a projector's 80 columns, whatever the title. */
    for (const char *line = w.out; (line = strstr(line, "vmlab-watch: ")) != NULL; line++)
        ck_assert_msg(strcspn(line, "\n") <= 80, "a header over 80 columns: %.*s",
                      (int)strcspn(line, "\n"), line);
    /* Every stop that pauses was followed: at least mmap-anon and the
     * demos after it, in the tour's order. */
    ck_assert_int_ge(nseen, 5);
    ck_assert_str_eq(seen[0], "mmap-anon");
    /* Every demo took its announcement away when it ended. */
    char current[128];
    snprintf(current, sizeof current, "%s/vmlab-current", runtime);
    ck_assert_msg(access(current, F_OK) != 0, "%s is left behind", current);
    ck_assert_int_eq(rmdir(runtime), 0);
}
END_TEST

/* A child of this test, watched until the test kills it: the watcher drew it,
 * then says it has ended and exits 0. */
START_TEST(watch_a_pid_that_ends)
{
    static struct watcher w;
    pid_t parent = getpid();
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        die_with_parent(parent);
        pause();
        _exit(0);
    }
    char pid[32], drawn[64], ended[64];
    snprintf(pid, sizeof pid, "%ld", (long)child);
    snprintf(drawn, sizeof drawn, "vmlab-watch: PID %ld\n", (long)child);
    snprintf(ended, sizeof ended, "vmlab-watch: PID %ld has ended\n", (long)child);
    watcher_start(&w, pid);
    for (long long end = pty_now_ms() + 20000; pty_now_ms() < end && !strstr(w.out, drawn);)
        watcher_read(&w, 20);
    ck_assert_msg(strstr(w.out, drawn), "no frame of PID %s: %s", pid, w.out);
    ck_assert_ptr_null(strstr(w.out, ended));
    ck_assert_int_eq(kill(child, SIGKILL), 0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%s", pid);
    ck_assert_msg(access(proc, F_OK) != 0, "%s is still there", proc); /* gone, seen from here */
    /* The watcher has 20 s to notice; one that has not exited by then is
     * killed and reaped here, and the test fails. */
    int status = -1;
    pid_t reaped = 0;
    long long end = pty_now_ms() + 20000;
    while ((reaped = waitpid(w.pid, &status, WNOHANG)) == 0 && pty_now_ms() < end)
        watcher_read(&w, 20);
    watcher_read(&w, 20);
    close(w.fd);
    if (reaped == 0) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, NULL, 0);
    }
    ck_assert_msg(reaped == w.pid, "the watcher of PID %s did not exit within 20 s", pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watcher status %#x", status);
    ck_assert_msg(strstr(w.out, ended), "the watcher did not say PID %s ended: %s", pid,
                  w.out + (w.len > 500 ? w.len - 500 : 0));
}
END_TEST

/* A child of this test with more mappings than a 24-row screen has rows:
 * 64 pages mapped one by one, every other one read-only, so that no two merge. */
static pid_t many_mappings(void)
{
    pid_t parent = getpid();
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        die_with_parent(parent);
        long page = sysconf(_SC_PAGESIZE);
        char *area = mmap(NULL, 128 * (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        for (int i = 0; area != MAP_FAILED && i < 64; i++)
            mprotect(area + 2 * i * page, (size_t)page, i % 2 ? PROT_READ : PROT_WRITE);
        (void)!write(ready[1], "r", 1);
        pause();
        _exit(0);
    }
    char c;
    close(ready[1]);
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return child;
}

/* The number in "(N more mappings not shown)", or -1. */
static long more_not_shown(const char *out)
{
    const char *more = strstr(out, "  (");
    long n = -1;
    return more && sscanf(more, "  (%ld more mappings not shown)", &n) == 1 ? n : -1;
}

/* On a 24 x 80 terminal one frame fits: at most 23 lines (the cursor's is the
 * 24th), none over 80 columns, and what did not fit is counted: the rows drawn
 * and the count add up to what the same watcher draws on a pipe, no screen. */
START_TEST(watch_fits_a_projector_screen)
{
    pid_t child = many_mappings();
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)child);
    const char *argv[] = {demo_program("vmlab-watch", RUN_AS_SELF), "--frames", "1", pid, NULL};
    static struct pty_child tty;
    ck_assert_int_eq(pty_start_sized(&tty, argv, 24, 80), 0);
    ck_assert(pty_wait_for(&tty, "more mappings not shown)"));
    int status = pty_finish(&tty);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    const char *frame = strstr(tty.screen, "vmlab-watch: PID");
    ck_assert_msg(frame, "no frame: %s", tty.screen);
    int lines = 0, rows_drawn = 0;
    for (const char *line = frame; *line; lines++) {
        size_t len = strcspn(line, "\r\n");
        ck_assert_msg(len <= 80, "a line of %zu columns: %.*s", len, (int)len, line);
        rows_drawn += len > 14 && line[14] == ' ' && strspn(line + 2, "0123456789abcdef") == 12;
        line += len;
        line += strspn(line, "\r\n") > 2 ? 2 : strspn(line, "\r\n");
    }
    ck_assert_msg(lines <= 23, "%d lines on a 24-row screen: %s", lines, frame);
    long more = more_not_shown(frame);
    ck_assert_int_gt(more, 0);

    const char *piped[] = {argv[0], "--frames", "1", pid, NULL};
    struct run_result r;
    ck_assert_int_eq(run_program(piped, RUN_AS_SELF, &r), 0);
    int all = 0;
    for (const char *line = r.out; line && *line; line = strchr(line, '\n'), line += !!line)
        all += strlen(line) > 14 && line[14] == ' ' && strspn(line + 2, "0123456789abcdef") == 12;
    long more_piped = more_not_shown(r.out);
    long every = all + (more_piped > 0 ? more_piped : 0);
    ck_assert_int_ge(every, 64); /* the 64 pages alone */
    ck_assert_int_eq(rows_drawn + more, every);
    run_result_free(&r);
    kill(child, SIGKILL);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
}
END_TEST

/* vmlab-watch PID, for a PID with nothing to watch: exit 2, one line that says
 * why and the usage line, and never "has ended" (it did not watch anything). */
static void assert_refused(long pid, const char *why)
{
    char arg[32], line[128], ended[64];
    snprintf(arg, sizeof arg, "%ld", pid);
    snprintf(line, sizeof line, "vmlab-watch: %s", why);
    snprintf(ended, sizeof ended, "PID %ld has ended", pid);
    const char *argv[] = {demo_program("vmlab-watch", RUN_AS_SELF), "--interval", "10", arg, NULL};
    struct run_result r;
    ck_assert_int_eq(run_program(argv, RUN_AS_SELF, &r), 0);
    ck_assert_msg(r.exit_code == 2, "vmlab-watch %ld exited %d: %s%s", pid, r.exit_code, r.out,
                  r.err);
    ck_assert_msg(strncmp(r.err, line, strlen(line)) == 0 && count_lines(r.err) == 2 &&
                      strstr(r.err, "\nUsage: vmlab-watch "),
                  "stderr: %s", r.err);
    ck_assert_ptr_null(strstr(r.out, ended));
    ck_assert_str_eq(r.out, "");
    run_result_free(&r);
}

/* A "Key:" line of /proc/PID/status, copied into out; false if there is none. */
static bool status_line(long pid, const char *key, char *out, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
            const char *value = line + strlen(key) + 1;
            found = true;
            snprintf(out, len, "%s", value + strspn(value, " \t"));
            out[strcspn(out, "\n")] = '\0';
        }
    if (f)
        fclose(f);
    return found;
}

START_TEST(watch_a_pid_that_never_was)
{
    long pid = 4194303; /* the highest pid_max allows: free if any is */
    char path[64];
    for (;; pid--) {
        snprintf(path, sizeof path, "/proc/%ld", pid);
        if (access(path, F_OK) != 0)
            break;
    }
    char why[64];
    snprintf(why, sizeof why, "no process %ld", pid);
    assert_refused(pid, why);
}
END_TEST

/* The flags of /proc/PID/stat (field 9) and the command name; false if unreadable. */
static bool stat_flags(long pid, char *comm, size_t len, unsigned long *flags)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open)
        return false;
    /* After the comm: state ppid pgrp session tty_nr tpgid flags. */
    if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %lu", flags) != 1)
        return false;
    snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
    return true;
}

/* A kernel thread, found from the kernel's own flag PF_KTHREAD (not from a missing
 * VmSize, which a process in the middle of exiting also lacks). None is visible in
 * some containers. */
START_TEST(watch_a_kernel_thread)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    long found = 0;
    char name[64] = "";
    unsigned long flags = 0;
    while (!found && (e = readdir(d)))
        if (atol(e->d_name) > 0 && stat_flags(atol(e->d_name), name, sizeof name, &flags) &&
            (flags & 0x00200000UL)) /* PF_KTHREAD */
            found = atol(e->d_name);
    closedir(d);
    if (!found) {
        printf("no kernel thread is visible here: not tested\n");
        return;
    }
    char why[128];
    snprintf(why, sizeof why, "PID %ld (%s) is a kernel thread", found, name);
    assert_refused(found, why);
}
END_TEST

/* /proc mounted hidepid=1 (in a mount namespace of a child, so the host's /proc
 * is untouched; proc options are per mount since Linux 5.8): uid 65534 sees that
 * this root-owned test process exists but may not read its /proc/PID/stat (EPERM).
 * The watcher must say it belongs to another user (exit 77), not "no process". */
START_TEST(watch_a_pid_hidden_by_hidepid)
{
    struct utsname u;
    int major = 0, minor = 0;
    if (geteuid() != 0 || uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
        major * 100 + minor < 508) {
        printf("hidepid: needs root and Linux 5.8 (per-mount proc options): not tested\n");
        return;
    }
    const char *copy = demo_program("vmlab-watch", RUN_AS_NOBODY);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int from_child;
    pid_t child = fork_to_pipe(&from_child);
    if (child == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=1") != 0) {
            dprintf(STDOUT_FILENO, "cannot mount /proc hidepid=1 here: %s", strerror(errno));
            _exit(77);
        }
        const char *argv[] = {copy, "--interval", "10", pid, NULL};
        struct run_result r;
        if (run_program(argv, RUN_AS_NOBODY, &r) != 0)
            _exit(3);
        dprintf(STDOUT_FILENO, "%s", r.err);
        _exit(r.exit_code == 77 ? 0 : 1);
    }
    char err[1024];
    int status = child_output(from_child, child, err, sizeof err);
    remove_copy(copy);
    ck_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        printf("%s: not tested\n", err);
        return;
    }
    ck_assert_msg(WEXITSTATUS(status) == 0, "vmlab-watch %s under hidepid=1, as uid 65534: %s",
                  pid, err);
    ck_assert_msg(strstr(err, "belongs to another user") && !strstr(err, "no process"),
                  "stderr: %s", err);
}
END_TEST

/* A child that has exited and that this test has not waited for. */
START_TEST(watch_a_zombie)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    char state[64] = "";
    for (int i = 0; i < 500 && state[0] != 'Z'; i++) {
        ck_assert(status_line(child, "State", state, sizeof state));
        usleep(10000);
    }
    ck_assert_msg(state[0] == 'Z', "the child is not a zombie: %s", state);
    char why[128];
    snprintf(why, sizeof why, "PID %ld (test_watch) has already ended", (long)child);
    assert_refused(child, why);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vmlab-watch");
    TCase *tc = tcase_create("follow");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, watch_follows_every_stop_of_the_tour);
    tcase_add_test(tc, watch_a_pid_that_ends);
    tcase_add_test(tc, watch_fits_a_projector_screen);
    tcase_add_test(tc, watch_a_pid_that_never_was);
    tcase_add_test(tc, watch_a_kernel_thread);
    tcase_add_test(tc, watch_a_zombie);
    tcase_add_test(tc, watch_a_pid_hidden_by_hidepid);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
