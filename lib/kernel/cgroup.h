/* SPDX-License-Identifier: MIT */
/* cgroup: which memory cgroup this process is in, and which limit applies
 * to it, as the kernel says in /proc/self/cgroup and the cgroup's files:
 *
 *   v2  memory.max, memory.current
 *   v1  memory.limit_in_bytes, memory.usage_in_bytes, and memory.stat's
 *       hierarchical_memory_limit (ancestors a container cannot see)
 *
 * A cgroup's memory counts against every ancestor's limit too, so the limit
 * that applies is the smallest over the cgroup and its ancestors. */
#ifndef VMLAB_CGROUP_H
#define VMLAB_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CGROUP_V1_MEMORY "/sys/fs/cgroup/memory"

/* A memory limit and the cgroup that sets it. */
struct cgroup_limit {
    uint64_t bytes;     /* UINT64_MAX: none found */
    char dir[512];      /* the cgroup that sets it, or "" */
    char file[40];      /* "memory.max", "memory.limit_in_bytes", or
                           "hierarchical_memory_limit" (v1 memory.stat) */
    /* The least room left over the same limits, limit - usage (v2
     * memory.current, v1 memory.usage_in_bytes; for v1's
     * hierarchical_memory_limit, the cgroup's own usage): what a process
     * there may still use. A usage that cannot be read leaves the limit
     * itself (room_usage UINT64_MAX). room: UINT64_MAX when no limit. */
    uint64_t room, room_limit, room_usage;
    char room_dir[512];
    const char *room_file; /* the limit's file, as `file` */
    /* Why the limit is unknown, not "none": the cgroup's files could not be
     * found (bytes and room are UINT64_MAX then too); "" when they were. */
    char unknown[640];
};

/* Where this process sits, from /proc/self/cgroup text: the v2 path ("0::")
 * and the v1 memory controller's path; "" when absent. */
void cgroup_parse_membership(FILE *in, char *v2, size_t v2len, char *v1_memory, size_t v1len);

/* The effective memory limit of the cgroup `rel` below `mount`: the smallest of
 * rel's and each ancestor's (v1: also memory.stat's hierarchical_memory_limit), and
 * the least room any leaves. False when no limit is set anywhere. */
bool cgroup_effective_limit(const char *mount, const char *rel, bool v1, struct cgroup_limit *out);

/* The same for `rel` as /proc/self/cgroup names it: mountinfo gives the mount's
 * root, and below receives rel less that root. Inside a cgroup namespace a
 * hierarchy mounted from outside has a root such as "/../../..": when rel is not
 * below it, the limit is unknown, not none (out->unknown says why; below ""). */
void cgroup_limit_of(const char *mountinfo, const char *mount, const char *rel, bool v1,
                     char *below, size_t len, struct cgroup_limit *out);

/* This process's memory cgroup. The kernel gives the memory controller to
 * one hierarchy only: v1 where this process has a v1 memory cgroup and it is
 * mounted, else v2. */
struct cgroup_self {
    const char *v2_mount;   /* /sys/fs/cgroup, or /sys/fs/cgroup/unified on a
                               hybrid host; NULL when cgroup2 is not mounted */
    bool v1_mounted;        /* in a v1 memory cgroup, and CGROUP_V1_MEMORY is mounted */
    char rel[256];          /* the memory cgroup below its mount (cgroup_limit_of), or "" */
    char dir[512];          /* its directory, or "" */
    struct cgroup_limit limit; /* the limit that applies to it */
};
void cgroup_self(struct cgroup_self *s);

/* Whether swap cannot take the cgroup dir past `limit`, its own memory
 * limit: v2 memory.swap.max is 0, or v1 memory.memsw.limit_in_bytes
 * (memory + swap) is a real limit no larger than `limit`. */
bool cgroup_swap_capped(const char *dir, uint64_t limit);

/* mount + rel, where rel "/" is the mount itself. */
void cgroup_dir(char *out, size_t len, const char *mount, const char *rel);

/* dir/file holding one number, or "max" (*value = UINT64_MAX). */
bool cgroup_read(const char *dir, const char *file, uint64_t *value);
/* The value of `key` in dir/file of "key value" lines (memory.events). */
bool cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *value);

#endif
