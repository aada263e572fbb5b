/* SPDX-License-Identifier: MIT */
/* worker: fork, run, send the result back through a pipe, wait. */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "undo.h"

int worker_run(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size,
               int *status)
{
    int fds[2];
    *status = 0;
    if (size > PIPE_BUF) {
        errno = EINVAL;
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = undo_fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        memset(result, 0, size);
        fn(arg, result);
        _exit(write(fds[1], result, size) == (ssize_t)size ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got;
    while ((got = read(fds[0], result, size)) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return got == (ssize_t)size ? 0 : -1;
}
