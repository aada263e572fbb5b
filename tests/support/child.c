/* SPDX-License-Identifier: MIT */
/* child: see child.h. */
#define _GNU_SOURCE
#include "child.h"

#include <check.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
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

pid_t start_pid1_of_new_namespace(struct runid *id)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t outer = fork();
    ck_assert_int_ge(outer, 0);
    if (outer == 0) {
        if (unshare(CLONE_NEWPID) != 0)
            _exit(3);
        pid_t inner = fork(); /* PID 1 of the new namespace */
        if (inner == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            struct runid self;
            if (runid_self(&self) != 0)
                _exit(4);
            ssize_t w = write(fds[1], &self, sizeof self);
            (void)w;
            pause();
            _exit(0);
        }
        close(fds[1]); /* where inner could not start or tell, the test reads the end */
        waitpid(inner, NULL, 0);
        _exit(0);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], id, sizeof *id), (ssize_t)sizeof *id);
    close(fds[0]);
    return outer;
}

pid_t start_zombie(uint64_t *start)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    char path[64], text[1024], state = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 500 && state != 'Z'; i++) {
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
        fclose(f);
        ck_assert(runid_parse_stat(text, &state, start));
        if (state != 'Z')
            usleep(2000);
    }
    ck_assert_int_eq(state, 'Z');
    return pid;
}
