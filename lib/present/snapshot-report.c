/* SPDX-License-Identifier: MIT */
/* snapshot-report: see snapshot-report.h. */
#include "snapshot-report.h"

#include <errno.h>
#include <string.h>

/* Per-mapping counters and fault counts worth showing when they move. Pss, Referenced
 * and the like move with these and would only add noise. */
static const char *const watched[] = {
    "Size", "Rss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty",
    "Anonymous", "AnonHugePages", "Swap", "Locked", "Private_Hugetlb", "Shared_Hugetlb",
    "minor_faults", "major_faults", NULL,
};

void snapshot_take_or_fail(struct snapshot *s, uintptr_t addr, struct narrator *n)
{
    enum procfs_status st = snapshot_take(s, addr);
    if (st != PROCFS_OK)
        narrate_finish(n, RESULT_FAIL, "reading /proc/self/smaps or /proc/meminfo: %s%s%s",
                       procfs_strerror(st), st == PROCFS_IO ? ": " : "",
                       st == PROCFS_IO ? strerror(errno) : "");
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
    snapshot_pair(before, after, key, &hb, &b, &ha, &a);
    /* "Moved": changed, or appeared/vanished with a value other than 0. */
    bool moved = (hb && ha) ? b != a : (hb ? b != 0 : (ha && a != 0));
    if (only_if_moved && !moved)
        return;
    narrate_value(n, key, snapshot_unit(key), hb, b, ha, a);
}

void snapshot_report(struct narrator *n, const struct snapshot *before,
                     const struct snapshot *after, const char *const *always_show)
{
    for (const char *const *k = always_show; k && *k; k++)
        add_row(n, before, after, *k, false);
    for (const char *const *k = watched; *k; k++)
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
