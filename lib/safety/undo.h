/* SPDX-License-Identifier: MIT */
/* undo: one list of what a run must put back, run on every way out.
 *
 * Whatever changes the machine (a /proc/sys/vm value, a cgroup, a child process,
 * the demo the tour runs) registers one action here before it makes the change.
 * The actions run, last registered first, at exit() and on every signal whose
 * default is to end the process, and only in the process that registered them.
 * Every action must be async-signal-safe (no stdio, no malloc) and idempotent: it
 * may run more than once (a signal during exit()). */
#ifndef VMLAB_UNDO_H
#define VMLAB_UNDO_H

#include <signal.h>
#include <sys/types.h>

typedef void (*undo_action)(void);

/* Adds an action (once). -1 when atexit() failed: the caller must then change nothing. */
int undo_register(undo_action action);

/* A critical section while what an action undoes changes: every signal blocked.
 * undo_unblock gives back the mask undo_block returned, errno untouched. */
sigset_t undo_block(void);
void undo_unblock(const sigset_t *old);

/* fork() for a child that must not outlive this process: stdio flushed first (nothing
 * buffered is written twice), and the child dies with its parent (PR_SET_PDEATHSIG; a
 * parent gone before that took effect: the child exits 1). Returns what fork() returns. */
pid_t undo_fork(void);

/* The one child this process has running (0: none any more): on every way out it is
 * killed and reaped first, before the actions run (a cgroup cannot be removed with it
 * inside). -1 when atexit() failed, as undo_register. */
int undo_track_child(pid_t pid);

/* Kills and reaps the tracked child now, if there is one (async-signal-safe). */
void undo_end_child(void);

/* The signal being handled while the actions run (to pass it on); 0 otherwise. */
int undo_signal(void);

#endif
