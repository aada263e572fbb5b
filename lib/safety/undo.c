/* SPDX-License-Identifier: MIT */
/* undo: the one atexit and the one signal handler that put things back.
 * See undo.h. */
#define _GNU_SOURCE
#include "undo.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ACTIONS 8

static undo_action actions[MAX_ACTIONS];
static volatile sig_atomic_t nactions;
static volatile sig_atomic_t handling; /* the signal in the handler, or 0 */
static volatile pid_t tracked_child;
static pid_t owner;
static bool armed;

/* Async-signal-safe: plain loads, getpid and the actions themselves. */
static void run_all(void)
{
    if (getpid() != owner)
        return; /* a forked child: the parent owns the undo */
    undo_end_child();
    for (int i = nactions - 1; i >= 0; i--)
        actions[i]();
}

sigset_t undo_block(void)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    return old;
}

void undo_unblock(const sigset_t *old)
{
    int saved_errno = errno;
    sigprocmask(SIG_SETMASK, old, NULL);
    errno = saved_errno;
}

static void at_exit(void)
{
    sigset_t old = undo_block(); /* no signal runs the actions half-way too */
    run_all();
    undo_unblock(&old);
}

int undo_signal(void)
{
    return handling;
}

static void on_signal(int signo)
{
    int saved_errno = errno;
    handling = signo;
    run_all();
    handling = 0;
    /* Die of the same signal, so that the shell sees what happened. */
    (void)signal(signo, SIG_DFL);
    raise(signo);
    /* raise() returns: every signal is blocked in this handler, so the
     * signal stays pending and kills us as soon as the handler returns. */
    // cppcheck-suppress unreachableCode
    errno = saved_errno;
}

/* Arms the handlers once, for this process: the process that makes a change undoes it. */
static int arm_here(void)
{
    if (!armed) {
        if (atexit(at_exit) != 0)
            return -1; /* no undo at exit: then no change at all */
        armed = true;
        /* Every signal whose default is to end the process (a closed pipe under `| head`
         * included), but only where it has that default: one the program ignores (nohup)
         * or handles itself stays so. */
        static const int signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,   SIGPIPE, SIGALRM,
                                      SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF, SIGXFSZ};
        struct sigaction sa, was;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigfillset(&sa.sa_mask); /* no second signal inside the undo */
        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
            if (sigaction(signals[i], NULL, &was) == 0 && was.sa_handler == SIG_DFL)
                sigaction(signals[i], &sa, NULL);
    }
    owner = getpid();
    return 0;
}

int undo_register(undo_action action)
{
    if (arm_here() != 0)
        return -1;
    for (int i = 0; i < nactions; i++)
        if (actions[i] == action)
            return 0;
    if (nactions == MAX_ACTIONS) {
        errno = ENOSPC;
        return -1;
    }
    sigset_t old = undo_block();
    actions[nactions] = action;
    nactions = nactions + 1;
    undo_unblock(&old);
    return 0;
}

pid_t undo_fork(void)
{
    (void)fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A parent killed outright (SIGKILL: no undo runs) takes the child with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
    }
    return pid;
}

int undo_track_child(pid_t pid)
{
    tracked_child = pid;
    return pid > 0 ? arm_here() : 0;
}

void undo_end_child(void)
{
    pid_t child = tracked_child;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        tracked_child = 0;
    }
}
