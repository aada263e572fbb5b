/* SPDX-License-Identifier: MIT */
/* snapshot: capture and compare what a step changes. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

static const char *const meminfo_keys[SNAP_MEMINFO_KEYS] = {
    "Committed_AS", "MemAvailable", "CommitLimit",   "HugePages_Total",
    "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "Hugetlb",
};

/* Per-mapping counters worth showing when they move. Pss, Referenced and the
 * like move with these and would only add noise. */
static const char *const smaps_watched[] = {
    "Size", "Rss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty",
    "Anonymous", "AnonHugePages", "Swap", "Locked", "Private_Hugetlb", "Shared_Hugetlb", NULL,
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

void snapshot_take_or_fail(struct snapshot *s, uintptr_t addr, struct narrator *n)
{
    enum procfs_status st = snapshot_take(s, addr);
    if (st != PROCFS_OK)
        narrate_finish(n, RESULT_FAIL, "reading /proc/self/smaps or /proc/meminfo: %s%s%s",
                       procfs_strerror(st), st == PROCFS_IO ? ": " : "",
                       st == PROCFS_IO ? strerror(errno) : "");
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

/* Reads both sides of a comparison. Fault counts on the "before" side are
 * the ones read at the end of its capture. When the step replaced the mapping
 * (before: a PROT_NONE reservation, after: the new VMA inside it), the old
 * entry's counters describe another mapping and count as absent. */
static void get_pair(const struct snapshot *before, const struct snapshot *after, const char *key,
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
    get_pair(before, after, key, &hb, &b, &ha, &a);
    return hb && ha ? a - b : 0;
}

static bool listed(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

static void add_row(struct narrator *n, const struct snapshot *before, const struct snapshot *after,
                    const char *key, bool only_if_moved)
{
    int64_t b = 0, a = 0;
    bool hb, ha;
    get_pair(before, after, key, &hb, &b, &ha, &a);
    /* "Moved": changed, or appeared/vanished with a value other than 0. */
    bool moved = (hb && ha) ? b != a : (hb ? b != 0 : (ha && a != 0));
    if (only_if_moved && !moved)
        return;
    const char *unit = is_fault_key(key) ? "" : "kB";
    if (strncmp(key, "HugePages_", 10) == 0)
        unit = ""; /* meminfo counts huge pages, not kB */
    narrate_value(n, key, unit, hb, b, ha, a);
}

void snapshot_report(struct narrator *n, const struct snapshot *before,
                     const struct snapshot *after, const char *const *always_show)
{
    for (const char *const *k = always_show; k && *k; k++)
        add_row(n, before, after, *k, false);
    for (const char *const *k = smaps_watched; *k; k++)
        if (!listed(always_show, *k))
            add_row(n, before, after, *k, true);
    static const char *const faults[] = {"minor_faults", "major_faults", NULL};
    for (const char *const *k = faults; *k; k++)
        if (!listed(always_show, *k))
            add_row(n, before, after, *k, true);
}

int64_t snapshot_row(struct narrator *n, const struct snapshot *before,
                     const struct snapshot *after, const char *key)
{
    add_row(n, before, after, key, false);
    return snapshot_delta0(before, after, key);
}

void snapshot_maps_fact(struct narrator *n, const struct smaps_entry *entry)
{
    char maps[512];
    smaps_format_header(entry, maps, sizeof maps);
    narrate_fact(n, "maps", "%s", maps);
}

void snapshot_explain_not_resident(struct narrator *n, const struct snapshot *after,
                                   long long size_kb)
{
    long long rss = snapshot_value(after, "Rss"), size = snapshot_value(after, "Size");
    CONCLUDE(n, "mapped_not_resident", rss == 0 && size == size_kb,
             VALUES(VAL("rss_kB", rss), VAL("size_kB", size)),
             "%lld kB mapped, none of it resident yet (Rss 0 kB).", size_kb);
}

void snapshot_explain_gone(struct narrator *n, const struct snapshot *after)
{
    CONCLUDE(n, "mapping_gone", !after->mapped, VALUES(VAL("rss_kB_after", 0)),
             "The mapping is gone from smaps.");
}
