/* SPDX-License-Identifier: MIT */
/* sysctl: change a /proc/sys/vm knob for the length of a demo, and put it
 * back on every way out.
 *
 * The life of a change (LTP's save_restore, in a few calls):
 *
 *   sysctl_may_change("nr_hugepages") may this process do it at all? If not,
 *                                     a sentence saying why (exit 77)
 *   sysctl_begin("hugetlb-reserve")   take the vmlab lock (a second run waits),
 *                                     repair what a killed earlier run left,
 *                                     register the restore with lib/safety/undo
 *                                     (atexit, SIGINT/SIGTERM/SIGHUP/SIGQUIT)
 *   sysctl_set("nr_hugepages", 1)     record the original value and the new
 *                                     one in the undo record, then change it
 *   ...                               (fork the experiment; the children die
 *                                     with this process: PR_SET_PDEATHSIG)
 *   sysctl_end()                      restore, forget the record, unlock
 *
 * A run killed with SIGKILL cannot restore anything; the undo record it left
 * lets the next vmlab run do it and say so, as lib/safety/sysctl_record.h
 * allows (the allow-list, safe values, overcommit_memory first), and only
 * from a regular file of root's, mode 0600, in a directory only root can
 * write. The restore path is async-signal-safe: open/read/write/close of
 * values formatted when they were saved. */
#ifndef VMLAB_SYSCTL_H
#define VMLAB_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMLAB_RUN_DIR "/run/vmlab"

/* The lock and the undo record live in the first usable one of /run/vmlab,
 * /dev/shm/vmlab, /tmp/vmlab (sysctl.c says which is usable); all three are
 * emptied at boot on most systems, and a record of another boot is discarded. */

/* 0 when this process can take the vmlab lock and write /proc/sys/vm/<name>;
 * else -1 and `why` receives one sentence naming what is missing on this
 * machine and the command that would enable it (without root: "sudo" and this
 * very command, " ..." for arguments that do not fit). Changes nothing but, at
 * most, creating the lock directory. demo_start (lib/safety/needs) turns -1
 * into exit 77 with that sentence. */
int sysctl_may_change(const char *name, char *why, size_t len);

/* The command that runs this program again, as a shell takes it: its
 * arguments from /proc/self/cmdline, each quoted where needed. A name without
 * a '/' is how vmlab and an installed tour start a program of libexec/vmlab/,
 * which is not on PATH: the installed umbrella runs it then ("vmlab
 * overcommit-modes --step"); a path is kept as given (the tour passes its own
 * form: "build/demos/overcommit-modes"). An argument that does not fit is left
 * out with all after it, and " ..." says so, outside any quote. Also the
 * command a 77 of lib/safety/confine names. */
void run_again_command(char *buf, size_t len);

/* Takes the lock (waiting, and saying so on stderr, while another run holds
 * it) and repairs leftovers. `repaired` receives sentences about what was
 * repaired or refused, or "". Returns 0, or -1 with errno, and
 * sysctl_failed_call() says what failed. */
int sysctl_begin(const char *demo, char *repaired, size_t len);

/* Changes /proc/sys/vm/<name> (one of the allow-list), recording what to put
 * back first. On failure (-1, errno set) nothing was changed, and
 * sysctl_failed_call() names the call that failed: reading the knob, writing
 * the record, writing the knob. */
int sysctl_set(const char *name, uint64_t value);
const char *sysctl_failed_call(void);

/* Restores, removes the record and releases the lock. -1 when a value could
 * not be put back (said on stderr; the record stays for the next run): the
 * demo must then end as failed, never say that it was restored. */
int sysctl_end(void);

/* Only repairs leftovers of a killed run, if any. For demos that change
 * nothing themselves. Waits at most 2 s for a lock another run holds. */
void sysctl_repair_leftovers(const char *demo, char *repaired, size_t len);

/* Writes /proc/sys/vm/<name> directly, no record, no lock: for tests that
 * put the machine back themselves. Demos use sysctl_set. */
int sysctl_write(const char *name, uint64_t value);

/* The vmlab lock alone, on a descriptor of its own (close() releases it),
 * waiting at most `seconds` (0: no limit) for a run that holds it: for a
 * test that puts values back with sysctl_write, so that it never writes
 * over a run's change. -1 with errno, EWOULDBLOCK when a run kept it. */
int sysctl_lock(int seconds);

/* For a forked worker: it must never restore the supervisor's values. */
void sysctl_child_after_fork(void);

#endif
