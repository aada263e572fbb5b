/* SPDX-License-Identifier: MIT */
/* child: a forked child whose standard output the test reads back, an orphan
 * that must end with the parent a test kills, and a run in a PID namespace of
 * its own. */
#ifndef VMLAB_TEST_CHILD_H
#define VMLAB_TEST_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runid.h"

/* fork() with the child's stdout writing into a pipe whose read end the parent
 * gets in *from_child; returns as fork() does (asserted). Stdio is flushed
 * first, so that the child cannot write the parent's buffered text again. */
pid_t fork_to_pipe(int *from_child);

/* What the child wrote until it closed the pipe (into text, at most len - 1
 * bytes and a NUL; the rest is read and dropped), then the child reaped
 * (asserted): its wait status. Closes from_child. */
int child_output(int from_child, pid_t pid, char *text, size_t len);

/* For a test that made itself a subreaper (PR_SET_CHILD_SUBREAPER): kills
 * `parent` outright (SIGKILL) and waits up to 5 s for `orphan`, its child,
 * to end with it; true (and its wait status) when it did. Where it did not,
 * sends it `otherwise` and reaps it: nothing is left running either way. */
bool orphan_ends_with_parent(pid_t parent, pid_t orphan, int otherwise, int *status);

/* Starts a process that is PID 1 of a new PID namespace (root only), alive
 * until its parent, whose PID this returns, is killed; *id is its run id as
 * it reads it itself (asserted). */
pid_t start_pid1_of_new_namespace(struct runid *id);

/* A child that ended at once and is not reaped yet: a zombie, asserted so in
 * /proc/PID/stat, which gives its start time (*start). Reap it when done. */
pid_t start_zombie(uint64_t *start);

#endif
