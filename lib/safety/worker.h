/* SPDX-License-Identifier: MIT */
/* worker: run one experiment in a child process and get its result back.
 *
 * An experiment that may die (a bad access, a mode of overcommit that makes
 * mmap fail) runs in a child: whatever happens to it, the demo goes on and
 * reports. The child dies with its parent (PR_SET_PDEATHSIG). */
#ifndef VMLAB_WORKER_H
#define VMLAB_WORKER_H

#include <stddef.h>

/* Forks; the child zeroes *result, calls fn(arg, result) and sends *result
 * back through a pipe (size must be at most PIPE_BUF, so the write is
 * atomic). Returns 0 when a whole result arrived, -1 when the child died
 * first or fork/pipe failed (errno then set); *status gets the child's wait
 * status (0 if there was no child). */
int worker_run(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size,
               int *status);

#endif
