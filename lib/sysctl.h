/* sysctl: change a /proc/sys/vm knob for the length of a demo, and put it
 * back on every way out.
 *
 * The life of a change (LTP's save_restore, in a few calls):
 *
 *   sysctl_begin("hugetlb-reserve")   take the vmlab lock (a second run waits),
 *                                     repair what a killed earlier run left,
 *                                     arm atexit and SIGINT/SIGTERM/SIGHUP/SIGQUIT
 *   sysctl_set("nr_hugepages", 1)     record the original value in
 *                                     /run/vmlab/saved-state, then change it
 *   ...                               (fork the experiment; the children die
 *                                     with this process: PR_SET_PDEATHSIG)
 *   sysctl_end()                      restore, forget the state file, unlock
 *
 * A run killed with SIGKILL cannot restore anything; the state file it left
 * lets the next vmlab run that takes the lock do it and say so.
 *
 * Restoring follows the kernel's rules: overcommit_memory first; then only one
 * of overcommit_ratio / overcommit_kbytes, since writing either zeroes the
 * other - the one that was in force. The restore path is async-signal-safe:
 * open/write/close of values formatted when they were saved. */
#ifndef VMLAB_SYSCTL_H
#define VMLAB_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMLAB_RUN_DIR "/run/vmlab"

/* Where the lock and the undo record live, first usable one wins (the next
 * one is tried when a directory cannot be created or written there - no
 * /run, a read-only /run - but a directory that exists and is not vmlab's
 * own (another owner, open to others, a symlink) stops the search: it is
 * refused, never worked around):
 *   /run/vmlab, /dev/shm/vmlab, /tmp/vmlab
 * All three are emptied at boot on most systems; the record also names the
 * boot it was written in. */

/* 0 when this process can take the vmlab lock and write /proc/sys/vm/<name>;
 * else -1 and `why` receives one sentence naming what is missing on this
 * machine and the command that would enable it (e.g. "/proc/sys is
 * read-only here (a container)..."). Changes nothing but, at most, creating
 * the lock directory. Demos call it before announcing a change and turn -1
 * into exit 77 with that sentence. */
int sysctl_may_change(const char *name, char *why, size_t len);

/* The directory chosen for the lock and the record ("" before any run). */
const char *sysctl_state_dir(void);

/* Takes the lock (waiting, and saying so on stderr, while another run holds
 * it) and repairs leftovers. `repaired` receives a sentence about what was
 * repaired, or "". Returns 0, or -1 with errno (e.g. EACCES when not root). */
int sysctl_begin(const char *demo, char *repaired, size_t len);

/* Changes /proc/sys/vm/<name>, saving its original value first. On failure
 * (-1, errno set) nothing was changed, and sysctl_failed_call() names the
 * call that failed: reading the knob, writing the state file, writing the knob. */
int sysctl_set(const char *name, uint64_t value);
const char *sysctl_failed_call(void);

/* Puts every saved value back (idempotent; safe in a signal handler). */
void sysctl_restore(void);

/* Restores, removes the state file and releases the lock. */
void sysctl_end(void);

/* Only repairs leftovers of a killed run, if any (takes and drops the lock).
 * For demos that change nothing themselves. */
int sysctl_repair_leftovers(const char *demo, char *repaired, size_t len);

/* Writes /proc/sys/vm/<name> directly; prefer sysctl_set. */
int sysctl_write(const char *name, uint64_t value);

/* For a forked worker: it must never restore the supervisor's values. */
void sysctl_child_after_fork(void);

#endif
