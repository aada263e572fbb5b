/* SPDX-License-Identifier: MIT */
/* sysctl: change a /proc/sys/vm knob for the length of a demo, and put it
 * back on every way out (LTP's save_restore). lib/safety/needs calls
 * sysctl_may_change (exit 77 if not), then sysctl_begin; the demo calls
 * sysctl_set; narrate_finish calls sysctl_end.
 *
 * A run killed with SIGKILL cannot restore anything; the undo record it left
 * lets the next run do it, as lib/safety/sysctl_record.h allows, and only from a
 * regular file of root's, mode 0600, in a directory only root can write. */
#ifndef VMLAB_SYSCTL_H
#define VMLAB_SYSCTL_H

#include <stddef.h>
#include <stdint.h>

/* 0 when this process can take the vmlab lock and write /proc/sys/vm/<name>; else
 * -1, and why names what is missing and the command that would supply it. Changes
 * nothing but, at most, creating the lock directory. */
int sysctl_may_change(const char *name, char *why, size_t len);

/* The command that runs this program again, as a shell takes it (quoted where
 * needed): a name without a '/' is a program of libexec/vmlab/, not on PATH, so
 * "vmlab NAME ..."; an argument that does not fit is left out with all after it,
 * and " ..." says so. */
void run_again_command(char *buf, size_t len);

/* Takes the lock (waiting, and saying so, while another run holds it), repairs leftovers
 * (repaired says what, or "") and registers the restore with lib/safety/undo. 0, or -1
 * with errno and sysctl_failed_call(). */
int sysctl_begin(const char *demo, char *repaired, size_t len);

/* Changes /proc/sys/vm/<name> (one of the allow-list), recording what to put back
 * first. -1 (errno): nothing was changed, and sysctl_failed_call() names the call. */
int sysctl_set(const char *name, uint64_t value);
const char *sysctl_failed_call(void);

/* Restores, removes the record and unlocks; in any process but the one that took the
 * lock, nothing. -1 when a value could not be put back (said on stderr; the record
 * stays for the next run): the run then fails. */
int sysctl_end(void);

/* Only repairs a killed run's leftovers (waiting at most 2 s for another run's lock). */
void sysctl_repair_leftovers(const char *demo, char *repaired, size_t len);

/* Writes /proc/sys/vm/<name> directly, no record, no lock: for tests. */
int sysctl_write(const char *name, uint64_t value);

/* The vmlab lock alone, on a descriptor of its own (close() releases it), waiting at
 * most `seconds` (0: no limit): for a test writing with sysctl_write. -1 with errno. */
int sysctl_lock(int seconds);

/* For a worker (undo_fork: it dies with the supervisor): it must never restore the
 * supervisor's values, nor hold its lock. */
void sysctl_child_after_fork(void);

#endif
