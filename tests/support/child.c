/* SPDX-License-Identifier: MIT */
/* child: see child.h. */
#define _GNU_SOURCE
#include "child.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe.h"

pid_t fork_to_pipe(int *from_child)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    close(fds[1]);
    *from_child = fds[0];
    return pid;
}

int child_output(int from_child, pid_t pid, char *text, size_t len)
{
    size_t got = 0;
    char chunk[4096];
    ssize_t n;
    while ((n = read(from_child, chunk, sizeof chunk)) > 0) {
        size_t keep = len - 1 - got < (size_t)n ? len - 1 - got : (size_t)n;
        memcpy(text + got, chunk, keep);
        got += keep;
    }
    text[got] = '\0';
    close(from_child);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

bool orphan_ends_with_parent(pid_t parent, pid_t orphan, int otherwise, int *status)
{
    kill(parent, SIGKILL);
    *status = 0;
    if (observe_reaped(orphan, 5000, status))
        return true;
    kill(orphan, otherwise); /* what it would do next is not left to chance */
    (void)observe_reaped(orphan, 10000, NULL);
    return false;
}
