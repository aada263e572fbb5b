/* SPDX-License-Identifier: MIT */
/* snapshot: capture and compare what a step changes. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <string.h>
#include <sys/resource.h>

static const char *const meminfo_keys[SNAP_MEMINFO_KEYS] = {
    "Committed_AS", "MemAvailable", "CommitLimit",   "HugePages_Total",
    "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "Hugetlb",
};

static void read_faults(int64_t *minflt, int64_t *majflt)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *minflt = ru.ru_minflt;
    *majflt = ru.ru_majflt;
}

enum procfs_status snapshot_take(struct snapshot *s, uintptr_t addr)
{
    /* Everything this capture writes, even into *s, comes after the first
     * reading: a fresh stack page under *s would otherwise count as the
     * step's fault. */
    read_faults(&s->minflt_start, &s->majflt_start);
    for (int i = 0; i < SNAP_MEMINFO_KEYS; i++)
        s->meminfo[i] = (struct procfs_want){meminfo_keys[i], 0, false};
    enum procfs_status st = smaps_read_entry(addr, &s->entry);
    s->mapped = (st == PROCFS_OK);
    if (st == PROCFS_NOT_FOUND)
        st = PROCFS_OK;
    if (st == PROCFS_OK)
        st = procfs_read_keyed("/proc/meminfo", s->meminfo, SNAP_MEMINFO_KEYS);
    read_faults(&s->minflt_end, &s->majflt_end);
    return st;
}

static bool is_fault_key(const char *key)
{
    return strcmp(key, "minor_faults") == 0 || strcmp(key, "major_faults") == 0;
}

bool snapshot_get(const struct snapshot *s, const char *key, int64_t *value)
{
    if (is_fault_key(key)) {
        *value = strcmp(key, "minor_faults") == 0 ? s->minflt_start : s->majflt_start;
        return true;
    }
    for (int i = 0; i < SNAP_MEMINFO_KEYS; i++) {
        if (strcmp(s->meminfo[i].key, key) == 0) {
            *value = (int64_t)s->meminfo[i].value;
            return s->meminfo[i].present;
        }
    }
    uint64_t v;
    if (!s->mapped || !smaps_get(&s->entry, key, &v))
        return false;
    *value = (int64_t)v;
    return true;
}

long long snapshot_value(const struct snapshot *s, const char *key)
{
    int64_t v = -1;
    return snapshot_get(s, key, &v) ? v : -1;
}

/* Fault counts on the "before" side are the ones read at the end of its
 * capture. When the step replaced the mapping (before: a PROT_NONE
 * reservation, after: the new VMA inside it), the old entry's counters
 * describe another mapping and count as absent. */
void snapshot_pair(const struct snapshot *before, const struct snapshot *after, const char *key,
                   bool *hb, int64_t *b, bool *ha, int64_t *a)
{
    *ha = snapshot_get(after, key, a);
    if (is_fault_key(key)) {
        *b = strcmp(key, "minor_faults") == 0 ? before->minflt_end : before->majflt_end;
        *hb = true;
        return;
    }
    *hb = snapshot_get(before, key, b);
    bool replaced = before->mapped && after->mapped &&
                    (before->entry.start != after->entry.start || before->entry.end != after->entry.end);
    bool from_smaps = before->mapped && smaps_get(&before->entry, key, &(uint64_t){0});
    if (replaced && from_smaps)
        *hb = false;
}

int64_t snapshot_delta0(const struct snapshot *before, const struct snapshot *after, const char *key)
{
    int64_t b, a;
    bool hb, ha;
    snapshot_pair(before, after, key, &hb, &b, &ha, &a);
    return hb && ha ? a - b : 0;
}

const char *snapshot_unit(const char *key)
{
    if (is_fault_key(key) || strncmp(key, "HugePages_", 10) == 0)
        return ""; /* counts: faults, and meminfo's huge pages */
    return "kB";
}
