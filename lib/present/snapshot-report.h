/* SPDX-License-Identifier: MIT */
/* snapshot-report: a step's rows and findings from two snapshots
 * (lib/kernel/snapshot.h takes them). */
#ifndef VMLAB_SNAPSHOT_REPORT_H
#define VMLAB_SNAPSHOT_REPORT_H

#include <stdint.h>

#include "narrate.h"
#include "procfs.h"
#include "snapshot.h"

/* snapshot_take, or end the demo (status 1) saying which read failed. */
void snapshot_take_or_fail(struct snapshot *s, uintptr_t addr, struct narrator *n);

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
