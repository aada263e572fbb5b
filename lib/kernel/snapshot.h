/* SPDX-License-Identifier: MIT */
/* snapshot: everything one step may change, captured in one call.
 *
 *   - the smaps entry of the demo's mapping (found by address),
 *   - a few /proc/meminfo counters (system-wide: other processes move them too),
 *   - this process's minor and major fault counts (getrusage).
 *
 * The fault counts are read at the start and at the end of the capture, and a
 * difference uses (after.start - before.end): faults taken while reading /proc
 * (stdio buffers, stack) never count as the step's own.
 *
 * A step's rows and findings from two snapshots: lib/present/snapshot-report.h. */
#ifndef VMLAB_SNAPSHOT_H
#define VMLAB_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

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

/* Value of a counter by name: an smaps field ("Rss"), a meminfo field
 * ("Committed_AS"), or "minor_faults" / "major_faults". False when absent. */
bool snapshot_get(const struct snapshot *s, const char *key, int64_t *value);

/* A counter by name, as snapshot_get finds it; -1 when absent. */
long long snapshot_value(const struct snapshot *s, const char *key);

/* after - before for a counter, 0 when either side lacks it: for explanations,
 * not for rows (a mapping the step replaced has no "before"). */
int64_t snapshot_delta0(const struct snapshot *before, const struct snapshot *after, const char *key);

/* Both sides of a comparison (has and value), as snapshot_delta0 takes them. */
void snapshot_pair(const struct snapshot *before, const struct snapshot *after, const char *key,
                   bool *hb, int64_t *b, bool *ha, int64_t *a);

/* A counter's unit: "kB", or "" for counts (faults, meminfo's HugePages_*). */
const char *snapshot_unit(const char *key);

#endif
