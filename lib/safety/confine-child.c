/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "confine-child.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int confine_run_child(const struct confine *c, int (*run)(void *ctx), void *ctx)
{
    (void)fflush(NULL); /* nothing buffered twice across fork */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* A parent killed outright (SIGKILL: no undo runs) takes the child
         * with it: alone, it would go on with the lesson at the terminal and
         * fill its cgroup, which the next run could then not remove. A parent
         * gone before prctl took effect is not seen by it: check. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (confine_enter(c) != 0) {
            fprintf(stderr, "cannot join %s: %s\n", c->dir, strerror(errno));
            _exit(1);
        }
        int code = run(ctx);
        (void)fflush(NULL);
        _exit(code);
    }
    confine_track_child(pid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    confine_track_child(0);
    return status;
}
