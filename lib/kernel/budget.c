/* SPDX-License-Identifier: MIT */
/* budget: the least headroom among the limits this process is under. */
#define _GNU_SOURCE
#include "budget.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "confine.h"
#include "procfs.h"

/* cgroup v1 writes "no limit" as PAGE_COUNTER_MAX pages, just under 2^63. */
#define V1_UNLIMITED_FROM (UINT64_C(1) << 62)

void budget_init(struct budget *b)
{
    memset(b, 0, sizeof *b);
    b->bytes = BUDGET_UNLIMITED;
    b->binding = BUDGET_NONE;
    for (int i = 0; i < BUDGET_LIMITS; i++)
        b->headroom[i] = BUDGET_UNLIMITED;
}

void budget_consider(struct budget *b, enum budget_limit which, uint64_t headroom,
                     const char *detail)
{
    if (which >= BUDGET_LIMITS)
        return;
    b->headroom[which] = headroom;
    snprintf(b->detail[which], sizeof b->detail[which], "%s", detail ? detail : "");
    if (headroom < b->bytes) {
        b->bytes = headroom;
        b->binding = which;
    }
}

const char *budget_limit_name(enum budget_limit which)
{
    static const char *const names[] = {
        [BUDGET_MEM_AVAILABLE] = "MemAvailable",
        [BUDGET_CGROUP] = "the memory cgroup's limit",
        [BUDGET_RLIMIT_AS] = "RLIMIT_AS (ulimit -v)",
        [BUDGET_RLIMIT_DATA] = "RLIMIT_DATA (ulimit -d)",
        [BUDGET_COMMIT_LIMIT] = "CommitLimit (overcommit mode 2)",
    };
    return which < BUDGET_LIMITS ? names[which] : "no known limit";
}

bool budget_parse_cgroup_value(const char *text, uint64_t *bytes)
{
    if (strncmp(text, "max", 3) == 0 && (text[3] == '\0' || text[3] == '\n')) {
        *bytes = BUDGET_UNLIMITED;
        return true;
    }
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || (*end != '\0' && *end != '\n'))
        return false;
    *bytes = v >= V1_UNLIMITED_FROM ? BUDGET_UNLIMITED : (uint64_t)v;
    return true;
}

static bool read_cgroup_file(const char *dir, const char *name, uint64_t *bytes)
{
    char path[768], text[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(text, sizeof text, f) != NULL;
    (void)fclose(f); /* read-only: nothing to lose */
    return ok && budget_parse_cgroup_value(text, bytes);
}

/* The tightest headroom over `path` and its ancestors under `mount`. */
static void walk_up(const char *mount, const char *path, const char *limit_file,
                    const char *usage_file, uint64_t *best, char *where, size_t len)
{
    char rel[512];
    snprintf(rel, sizeof rel, "%s", path);
    for (;;) {
        char dir[640];
        uint64_t limit, usage;
        snprintf(dir, sizeof dir, "%s%s", mount, strcmp(rel, "/") == 0 ? "" : rel);
        if (read_cgroup_file(dir, limit_file, &limit) && limit != BUDGET_UNLIMITED &&
            read_cgroup_file(dir, usage_file, &usage)) {
            uint64_t room = limit > usage ? limit - usage : 0;
            if (room < *best) {
                char l[32], u[32];
                format_size(limit, l, sizeof l);
                format_size(usage, u, sizeof u);
                *best = room;
                snprintf(where, len, "%s of %s: %s, %s in use", limit_file, dir, l, u);
            }
        }
        char *slash = strrchr(rel, '/');
        if (!slash || strcmp(rel, "/") == 0)
            return;
        if (slash == rel)
            rel[1] = '\0'; /* "/a" -> "/" */
        else
            *slash = '\0';
    }
}

bool budget_cgroup_headroom(FILE *membership, const char *v2_mount, const char *v1_memory_mount,
                            uint64_t *headroom, char *where, size_t len)
{
    char v2[256], v1[256];
    cgroup_parse_membership(membership, v2, sizeof v2, v1, sizeof v1);
    *headroom = BUDGET_UNLIMITED;
    where[0] = '\0';
    if (v2_mount && v2[0])
        walk_up(v2_mount, v2, "memory.max", "memory.current", headroom, where, len);
    if (v1_memory_mount && v1[0])
        walk_up(v1_memory_mount, v1, "memory.limit_in_bytes", "memory.usage_in_bytes", headroom,
                where, len);
    return *headroom != BUDGET_UNLIMITED;
}

static uint64_t kb(int64_t v)
{
    return (uint64_t)v * 1024;
}

/* RLIMIT_AS or RLIMIT_DATA, less what this process already uses of it. */
static void consider_rlimit(struct budget *b, enum budget_limit which, int resource,
                            const char *status_key)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    int64_t used_kb = procfs_read_one("/proc/self/status", status_key);
    if (used_kb < 0)
        return;
    uint64_t used = kb(used_kb), limit = (uint64_t)rl.rlim_cur;
    char l[32], u[32], detail[192];
    format_size(limit, l, sizeof l);
    format_size(used, u, sizeof u);
    snprintf(detail, sizeof detail, "limit %s, %s %s", l, status_key, u);
    budget_consider(b, which, limit > used ? limit - used : 0, detail);
}

void budget_read(struct budget *b)
{
    budget_init(b);
    char detail[192];

    int64_t avail = procfs_read_one("/proc/meminfo", "MemAvailable");
    if (avail >= 0) {
        snprintf(detail, sizeof detail, "/proc/meminfo");
        budget_consider(b, BUDGET_MEM_AVAILABLE, kb(avail), detail);
    }

    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f) {
        uint64_t room;
        if (budget_cgroup_headroom(f, "/sys/fs/cgroup", "/sys/fs/cgroup/memory", &room, detail,
                                   sizeof detail) ||
            (rewind(f), budget_cgroup_headroom(f, "/sys/fs/cgroup/unified", NULL, &room, detail,
                                               sizeof detail)))
            budget_consider(b, BUDGET_CGROUP, room, detail);
        (void)fclose(f); /* read-only: nothing to lose */
    }

    consider_rlimit(b, BUDGET_RLIMIT_AS, RLIMIT_AS, "VmSize");
    consider_rlimit(b, BUDGET_RLIMIT_DATA, RLIMIT_DATA, "VmData");

    uint64_t mode = 0;
    int64_t limit = procfs_read_one("/proc/meminfo", "CommitLimit");
    int64_t committed = procfs_read_one("/proc/meminfo", "Committed_AS");
    if (procfs_read_vm_sysctl("overcommit_memory", &mode) == PROCFS_OK && mode == 2 && limit >= 0 &&
        committed >= 0) {
        char l[32], c[32];
        format_size(kb(limit), l, sizeof l);
        format_size(kb(committed), c, sizeof c);
        snprintf(detail, sizeof detail, "CommitLimit %s, Committed_AS %s", l, c);
        budget_consider(b, BUDGET_COMMIT_LIMIT, limit > committed ? kb(limit - committed) : 0,
                        detail);
    }
}

bool budget_allows(const struct budget *b, uint64_t bytes, unsigned fraction, char *why,
                   size_t len)
{
    if (fraction == 0)
        fraction = 1;
    if (b->binding == BUDGET_NONE || bytes <= b->bytes / fraction) {
        if (len)
            why[0] = '\0';
        return true;
    }
    char room[32], most[32];
    format_size(b->bytes, room, sizeof room);
    format_size(b->bytes / fraction, most, sizeof most);
    if (fraction == 1)
        snprintf(why, len, "%s leaves %s (%s)", budget_limit_name(b->binding), room,
                 b->detail[b->binding]);
    else
        snprintf(why, len, "%s leaves %s (%s); at most 1/%u of it, %s", budget_limit_name(b->binding),
                 room, b->detail[b->binding], fraction, most);
    return false;
}

enum budget_choice budget_choose_size(const struct budget *b, uint64_t asked, uint64_t fallback,
                                      uint64_t unit, uint64_t min_units, unsigned fraction,
                                      uint64_t *size, char *why, size_t len)
{
    uint64_t want = asked ? asked : fallback;
    if (want < min_units * unit)
        want = min_units * unit;
    *size = (want + unit - 1) / unit * unit;
    if (budget_allows(b, *size, fraction, why, len))
        return BUDGET_FITS;
    if (asked)
        return BUDGET_REFUSED;
    *size = b->bytes / (fraction ? fraction : 1) / unit * unit;
    return *size >= min_units * unit ? BUDGET_SHRUNK : BUDGET_NONE_FITS;
}
