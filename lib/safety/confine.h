/* SPDX-License-Identifier: MIT */
/* confine: run a child in a memory-limited cgroup, so that an out-of-memory
 * experiment can only ever exhaust the limit, never the machine.
 *
 * The methods, the first that works: cgroup v2 as root; v2 in a subtree delegated
 * to this user; v1 as root; a systemd user scope the child enters by exec; this
 * process's own cgroup when it already has a limit of at most 1 GiB (docker run -m).
 * The child reads its own limit back (confine_verify_self) and refuses to allocate
 * without one. The cgroup is removed on every way out (lib/safety/undo kills the
 * child first); one left by a run killed outright is swept by the next run. */
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
    /* What setup did, as shell-like lines: step 1 shows these, never a command
     * that did not run. */
    char actions[1024];
    /* The limit that really applies: the smallest of its own and every ancestor's. */
    struct cgroup_limit effective;
    /* v2 delegation: the subtree this user owns, where the supervisor moved into
     * a leaf and enabled +memory (undone at teardown). */
    char delegated[512];
};

/* The largest limit an inherited cgroup may have to count as confinement. */
#define CONFINE_INHERITED_MAX (UINT64_C(1) << 30)

/* How a user may make a memory cgroup in a v2 subtree delegated to them
 * (cgroup-v2.rst, "Delegation" and "No Internal Process Constraint"): own must be
 * theirs to write and offer memory; its processes move to a leaf before +memory. */
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

/* What this machine offers for a memory cgroup (a struct: each message is tested). */
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
/* The one thing missing on this machine, and the command that supplies it. */
void confine_explain_missing(const struct confine_env *env, char *why, size_t len);

/* Sets up the first method that works; -1 with why, and what would enable one. */
int confine_setup(struct confine *c, const char *demo, uint64_t limit, char *why, size_t len);

/* In the child, before anything else: joins the cgroup (V1, V2). */
int confine_enter(const struct confine *c);

/* In the child: 0 when a limit <= max_bytes is in force on it (dir: its cgroup). */
int confine_verify_self(uint64_t max_bytes, char *dir, size_t dirlen, char *why, size_t len);

/* Counters of a cgroup directory (either version). False when unreadable. */
bool confine_oom_kills(const char *dir, uint64_t *count);
bool confine_peak(const char *dir, uint64_t *bytes);

/* Registers the child so that a signal or exit kills it before the rmdir. */
void confine_track_child(pid_t pid);

/* Kills a tracked child still running, then removes the cgroup this run made. */
void confine_teardown(struct confine *c);

/* Removes empty vmlab cgroups whose run has ended (vmlab-NS-PID-START, see
 * lib/safety/runid; an older vmlab's vmlab-PID); report says which, or "". */
void confine_sweep_leftovers(char *report, size_t len);

#endif
