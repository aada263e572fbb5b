/* SPDX-License-Identifier: MIT */
/* confine: run a child in a memory-limited cgroup, so that an out-of-memory
 * experiment can only ever exhaust the limit, never the machine.
 *
 * In this order (the first that works):
 *   1. cgroup v2 as root: a new cgroup under the v2 root with memory.max,
 *      memory.swap.max = 0 and memory.oom.group = 1;
 *   2. cgroup v2 in a subtree delegated to this user (a unit with Delegate=,
 *      a container's own cgroup namespace): the same, below its own cgroup;
 *   3. cgroup v1 as root: a new cgroup under this process's memory cgroup,
 *      with memory.limit_in_bytes (and memory.memsw.limit_in_bytes where
 *      swap accounting exists), OOM killer enabled;
 *   4. cgroup v2 without root: a systemd user scope
 *      (systemd-run --user --scope -p MemoryMax=...), which the child enters
 *      by exec;
 *   5. this process's own cgroup, when it already has a limit of at most
 *      1 GiB (a container started with docker run -m, a systemd unit with
 *      MemoryMax): the child simply stays in it;
 *   else it says what would make it work.
 *
 * Whatever the method, the child itself reads its own cgroup's limit back
 * (confine_verify_self) and refuses to allocate if it is not in force. The
 * cgroup is removed on every exit path (lib/safety/undo: atexit and SIGINT/SIGTERM/
 * SIGHUP/SIGQUIT kill the child first, then rmdir); a cgroup left by a run
 * that was killed outright is swept by the next run (confine_sweep_leftovers). */
#ifndef VMLAB_CONFINE_H
#define VMLAB_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

enum confine_kind { CONFINE_NONE, CONFINE_V2, CONFINE_V1, CONFINE_SYSTEMD_SCOPE, CONFINE_INHERITED };

struct confine {
    enum confine_kind kind;
    char dir[512];      /* the cgroup's directory; learned later for a scope */
    bool created;       /* dir was made here, and is removed at the end */
    uint64_t limit;     /* bytes, as read back from the kernel */
    bool swap_limited;  /* swap cannot be used beyond the limit */
    /* What setup did, in order, as shell-like lines ("mkdir DIR",
     * "echo 67108864 > DIR/memory.max"): step 1 shows these, never a
     * command that did not run. */
    char actions[1024];
    /* The limit that really applies to the victim: the smallest of its own
     * cgroup's and every ancestor's (see cgroup_effective_limit). */
    struct cgroup_limit effective;
    /* cgroup v2 delegation (a subtree this user owns): the supervisor moved
     * itself from `delegated` into a leaf and enabled +memory in
     * `delegated`, because a cgroup with processes in it may not hand
     * controllers to its children. Undone at teardown. */
    char delegated[512];
};

/* The largest limit an inherited cgroup may have to count as confinement. */
#define CONFINE_INHERITED_MAX (UINT64_C(1) << 30)

/* How a user may make a memory cgroup in a cgroup v2 subtree delegated to
 * them (Documentation/admin-guide/cgroup-v2.rst, "Delegation", and
 * "No Internal Process Constraint"): `own` (mount + rel) must be theirs
 * (cgroup.procs, cgroup.subtree_control and the directory writable by uid),
 * memory must be in own's cgroup.controllers, and, unless +memory is
 * already in own's cgroup.subtree_control, the only process in own must be
 * this one (self), which then moves to a leaf before enabling +memory. */
#define CGROUP_MAX_MOVED 64

struct cgroup_delegation {
    char own[512];        /* mount + rel */
    bool move_to_leaf;    /* own holds processes: move them to a leaf first */
    bool enable_memory;   /* write +memory to own/cgroup.subtree_control */
    long pids[CGROUP_MAX_MOVED]; /* the processes in own (this one first) */
    size_t npids;
};
int cgroup_plan_delegation(const char *mount, const char *rel, uid_t uid, pid_t self,
                           struct cgroup_delegation *plan, char *why, size_t len);

/* What this machine offers for a memory cgroup, as read by confine_setup;
 * a separate struct so that the message for each case can be tested. */
struct confine_env {
    bool root;
    bool memory_enabled;   /* /proc/cgroups lists memory as enabled */
    bool memory_on_v1;     /* ... bound to a v1 hierarchy (hierarchy ID != 0) */
    bool v1_mounted;       /* a v1 memory hierarchy is mounted */
    bool v2_mounted;       /* a cgroup2 hierarchy is mounted */
    bool v2_memory;        /* its root lists memory in cgroup.controllers */
    bool systemd_user;     /* systemd-run and a user session (XDG_RUNTIME_DIR) */
    char failure[512];     /* the first method that was tried and failed, or "" */
};
/* The one thing missing on this machine, and the command that supplies it
 * (with this program's own command line: run_again_command). */
void confine_explain_missing(const struct confine_env *env, char *why, size_t len);

/* Creates and configures the cgroup (methods 1-3), or prepares method 4 or
 * 5. On failure returns -1 and says why in `why`, with what would enable it. */
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
 * (lib/safety/runid; a zombie counts as ended, a run in a PID namespace this one
 * cannot see into is left alone), or, by an older vmlab, vmlab-PID with that
 * PID free, a zombie or a kernel thread. Fills report with what it removed,
 * or "". */
void confine_sweep_leftovers(char *report, size_t len);

#endif
