/* confine: run a child in a memory-limited cgroup, so that an out-of-memory
 * experiment can only ever exhaust the limit, never the machine.
 *
 * In this order (the first that works):
 *   1. cgroup v2 as root: a new cgroup under the v2 root with memory.max,
 *      memory.swap.max = 0 and memory.oom.group = 1;
 *   2. cgroup v1 as root: a new cgroup under this process's memory cgroup,
 *      with memory.limit_in_bytes (and memory.memsw.limit_in_bytes where
 *      swap accounting exists), OOM killer enabled;
 *   3. cgroup v2 without root: a systemd user scope
 *      (systemd-run --user --scope -p MemoryMax=...), which the child enters
 *      by exec;
 *   4. this process's own cgroup, when it already has a limit of at most
 *      1 GiB (a container started with docker run -m, a systemd unit with
 *      MemoryMax): the child simply stays in it;
 *   else it says what would make it work.
 *
 * Whatever the method, the child itself reads its own cgroup's limit back
 * (confine_verify_self) and refuses to allocate if it is not in force. The
 * cgroup is removed on every exit path (lib/undo: atexit and SIGINT/SIGTERM/
 * SIGHUP/SIGQUIT kill the child first, then rmdir); a cgroup left by a run
 * that was killed outright is swept by the next run (confine_sweep_leftovers). */
#ifndef VMLAB_CONFINE_H
#define VMLAB_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum confine_kind { CONFINE_NONE, CONFINE_V2, CONFINE_V1, CONFINE_SYSTEMD_SCOPE, CONFINE_INHERITED };

struct confine {
    enum confine_kind kind;
    char dir[512];      /* the cgroup's directory; learned later for a scope */
    bool created;       /* dir was made here, and is removed at the end */
    uint64_t limit;     /* bytes, as read back from the kernel */
    bool swap_limited;  /* swap cannot be used beyond the limit */
};

/* The largest limit an inherited cgroup may have to count as confinement. */
#define CONFINE_INHERITED_MAX (UINT64_C(1) << 30)

/* Where this process sits, from /proc/self/cgroup text: the v2 path ("0::")
 * and the v1 memory controller's path; "" when absent. */
void cgroup_parse_membership(FILE *in, char *v2, size_t v2len, char *v1_memory, size_t v1len);

/* Creates and configures the cgroup (methods 1-2), or prepares method 3.
 * On failure returns -1 and says why in `why`, with what would enable it. */
int confine_setup(struct confine *c, const char *demo, uint64_t limit, char *why, size_t len);

/* In the child, before anything else: joins the cgroup (V1, V2). */
int confine_enter(const struct confine *c);

/* For CONFINE_SYSTEMD_SCOPE: the argv prefix that runs a command in a new
 * scope; the caller appends "--" and its own command. */
int confine_scope_argv(const struct confine *c, const char **argv, size_t max, char *buf, size_t len);

/* In the child: finds its own memory cgroup and reads its limit. 0 when a
 * limit <= max_bytes is in force (dir receives the cgroup's directory);
 * -1 with the reason otherwise. */
int confine_verify_self(uint64_t max_bytes, char *dir, size_t dirlen, char *why, size_t len);

/* Counters of a cgroup directory (either version). False when unreadable. */
bool confine_oom_kills(const char *dir, uint64_t *count);
bool confine_peak(const char *dir, uint64_t *bytes);

/* Registers the child so that a signal or exit kills it before the rmdir. */
void confine_track_child(pid_t pid);

/* Kills a tracked child still running, then removes the cgroup directory
 * (retrying briefly while the kernel finishes with the dead task). */
void confine_teardown(struct confine *c);

/* Removes empty vmlab cgroups whose run has ended: named vmlab-NS-PID-START
 * (lib/runid; a zombie counts as ended, a run in a PID namespace this one
 * cannot see into is left alone), or, by an older vmlab, vmlab-PID with that
 * PID free, a zombie or a kernel thread. Fills report with what it removed,
 * or "". */
void confine_sweep_leftovers(char *report, size_t len);

#endif
