/* SPDX-License-Identifier: MIT */
/* pty: forkpty-driven demo runs. */
#define _GNU_SOURCE
#include "ptydrive.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int pty_start(struct pty_child *c, const char *const argv[])
{
    return pty_start_sized(c, argv, 0, 0);
}

int pty_start_sized(struct pty_child *c, const char *const argv[], unsigned short rows,
                    unsigned short cols)
{
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    c->len = c->mark = 0;
    c->screen[0] = '\0';
    c->pid = forkpty(&c->fd, NULL, NULL, rows ? &size : NULL);
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        setenv("NO_COLOR", "1", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return 0;
}

int pty_start_in_shell(struct pty_child *c, const char *const argv[])
{
    const char *shell[32] = {"/bin/sh", "-c", "\"$0\" \"$@\"; exec sleep 600"};
    size_t k = 3;
    for (size_t i = 0; argv[i] && k < sizeof shell / sizeof shell[0] - 1; i++)
        shell[k++] = argv[i];
    shell[k] = NULL;
    return pty_start(c, shell);
}

long long pty_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The waits are real time, not a count of reads: a demo's output comes in more,
 * smaller pieces on a loaded machine (ctest -j2 beside the matrix), and 100 reads
 * of it once ran out in well under the 10 s meant, failing a test that was fine. */
bool pty_wait_for(struct pty_child *c, const char *text)
{
    for (long long deadline = pty_now_ms() + PTY_WAIT_MS; pty_now_ms() < deadline;) {
        char *hit = memmem(c->screen + c->mark, c->len - c->mark, text, strlen(text));
        if (hit) {
            c->mark = (size_t)(hit - c->screen) + strlen(text);
            return true;
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (c->len + 1 >= sizeof c->screen)
            return false;
        ssize_t n = read(c->fd, c->screen + c->len, sizeof c->screen - 1 - c->len);
        if (n <= 0)
            return false; /* EIO: the child closed the terminal */
        c->len += (size_t)n;
        c->screen[c->len] = '\0';
    }
    return false;
}

bool pty_send(struct pty_child *c, const char *text)
{
    size_t len = strlen(text);
    return write(c->fd, text, len) == (ssize_t)len;
}

int pty_finish(struct pty_child *c)
{
    int status = 0;
    /* Drain while the child runs, so that it is never blocked on a full terminal.
     * One that still runs after PTY_FINISH_MS waits for input no test will give
     * (it paused where the test expected its end): killed, so the test fails
     * with its status instead of hanging until ctest's timeout. */
    pid_t done = 0;
    for (long long deadline = pty_now_ms() + PTY_FINISH_MS; done == 0 && pty_now_ms() < deadline;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        char buf[4096];
        if (poll(&p, 1, 100) > 0 && read(c->fd, buf, sizeof buf) <= 0)
            poll(NULL, 0, 10); /* EIO: it closed the terminal, and is ending */
        done = waitpid(c->pid, &status, WNOHANG);
        if (done < 0 && errno == EINTR)
            done = 0;
    }
    if (done == 0) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    close(c->fd);
    return status;
}
