/* SPDX-License-Identifier: MIT */
/* snapshot: everything one step may change, captured in one call.
 *
 *   - the smaps entry of the demo's mapping (found by address),
 *   - a few /proc/meminfo counters (system-wide: other processes move them too),
 *   - this process's minor and major fault counts (getrusage).
 *
 * The fault counts are read at the start and at the end of the capture, and a
 * difference uses (after.start - before.end): faults taken while reading /proc
 * (stdio buffers, stack) never count as the step's own. */
#ifndef VMLAB_SNAPSHOT_H
#define VMLAB_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "narrate.h"
#include "procfs.h"

enum { SNAP_MEMINFO_KEYS = 8 };

struct snapshot {
    bool mapped;  /* an entry covers the address */
    struct smaps_entry entry;
    struct procfs_want meminfo[SNAP_MEMINFO_KEYS];
    int64_t minflt_start, minflt_end, majflt_start, majflt_end;
};

/* Returns PROCFS_OK, or the status of the file that could not be read
 * (an unmapped address is not an error: mapped is false). */
enum procfs_status snapshot_take(struct snapshot *s, uintptr_t addr);

/* snapshot_take, or end the demo (status 1) saying which read failed. */
void snapshot_take_or_fail(struct snapshot *s, uintptr_t addr, struct narrator *n);

/* Value of a counter by name: an smaps field ("Rss"), a meminfo field
 * ("Committed_AS"), or "minor_faults" / "major_faults". False when absent. */
bool snapshot_get(const struct snapshot *s, const char *key, int64_t *value);

/* A counter by name, as snapshot_get finds it; -1 when absent. */
long long snapshot_value(const struct snapshot *s, const char *key);

/* after - before for a counter, 0 when either side lacks it: for
 * explanations, not for rows. Fault counts use the capture windows described
 * above; a counter of a mapping the step replaced has no "before". */
int64_t snapshot_delta0(const struct snapshot *before, const struct snapshot *after, const char *key);

/* Adds the rows of a step to the narrator: every key in always_show (NULL
 * terminated), then every per-mapping counter and fault count that moved.
 * System-wide meminfo counters appear only when asked for. */
void snapshot_report(struct narrator *n, const struct snapshot *before,
                     const struct snapshot *after, const char *const *always_show);

/* One counter's row, shown even when it did not move; returns snapshot_delta0. */
int64_t snapshot_row(struct narrator *n, const struct snapshot *before,
                     const struct snapshot *after, const char *key);

/* The mapping's smaps header line ("7f..-7f.. rw-p 00000000 00:00 0") as the
 * step's "maps" fact. */
void snapshot_maps_fact(struct narrator *n, const struct smaps_entry *entry);

/* Findings on the demo's mapping after a step: mapped_not_resident (size_kB mapped
 * and Rss 0 kB) and mapping_gone (no entry covers it any more). */
void snapshot_explain_not_resident(struct narrator *n, const struct snapshot *after,
                                   long long size_kb);
void snapshot_explain_gone(struct narrator *n, const struct snapshot *after);

#endif
