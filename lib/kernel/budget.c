/* SPDX-License-Identifier: MIT */
/* budget: the figures that bound what this process may use, read once; the
 * least headroom among them, and a size to map that the policy lets pass. */
#define _GNU_SOURCE
#include "budget.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "cgroup.h"
#include "cli.h"
#include "errors.h"
#include "procfs.h"

void budget_consider(struct budget *b, enum budget_limit which, uint64_t headroom,
                     const char *detail)
{
    b->headroom[which] = headroom;
    int room = (int)sizeof b->detail[which] - 1; /* a long cgroup path is cut, not overrun */
    snprintf(b->detail[which], sizeof b->detail[which], "%.*s", room, detail);
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

/* This process's memory cgroup and its ancestors (lib/kernel/cgroup). */
static void read_own_cgroup(struct grant *g)
{
    struct cgroup_self s;
    const struct cgroup_limit *l = &s.limit;
    cgroup_self(&s);
    g->cgroup_limit = l->bytes == UINT64_MAX ? -1 : (int64_t)(l->bytes / 1024);
    g->cgroup_headroom = l->room == UINT64_MAX ? -1 : (int64_t)(l->room / 1024);
    snprintf(g->cgroup_detail, sizeof g->cgroup_detail, "%s", l->unknown);
    if (l->room != UINT64_MAX) {
        char l_text[32], usage[48] = "usage unknown";
        format_size(l->room_limit, l_text, sizeof l_text);
        if (l->room_usage != UINT64_MAX) {
            char u_text[32];
            format_size(l->room_usage, u_text, sizeof u_text);
            snprintf(usage, sizeof usage, "%s in use", u_text);
        }
        snprintf(g->cgroup_detail, sizeof g->cgroup_detail, "%s of %s: %s, %s", l->room_file,
                 l->room_dir, l_text, usage);
    }
}

/* A non-negative decimal number at the start of text, ended by one of
 * end_ok; -1 if there is none. */
static int64_t parse_number(const char *text, const char *end_ok)
{
    uint64_t v;
    if (procfs_parse_decimal(&text, &v) != PROCFS_OK || v > INT64_MAX || !strchr(end_ok, *text))
        return -1;
    return (int64_t)v;
}

/* kB of every huge-page pool, all sizes (the kernel's hugetlb_total_pages):
 * meminfo's Hugetlb, or the sum over /sys/kernel/mm/hugepages before 4.16. */
static int64_t hugetlb_kB(void)
{
    int64_t kB = procfs_read_one("/proc/meminfo", "Hugetlb");
    if (kB >= 0)
        return kB;
    DIR *dir = opendir("/sys/kernel/mm/hugepages");
    struct dirent *e;
    char file[300];
    kB = 0;
    while (dir && (e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "hugepages-", 10) != 0)
            continue;
        int64_t size_kB = parse_number(e->d_name + 10, "k");
        if (size_kB <= 0)
            continue;
        snprintf(file, sizeof file, "/sys/kernel/mm/hugepages/%s/nr_hugepages", e->d_name);
        int64_t pages;
        if (procfs_read_number(file, &pages) == PROCFS_OK && pages > 0)
            kB += pages * size_kB;
    }
    if (dir)
        closedir(dir);
    return kB;
}

static int64_t knob(const char *name)
{
    uint64_t v;
    return procfs_read_vm_sysctl(name, &v) == PROCFS_OK ? (int64_t)v : -1;
}

static int64_t rlimit_kB(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return -1;
    return (int64_t)(rl.rlim_cur / 1024);
}

void grant_read(struct grant *g)
{
    g->overcommit_memory = knob("overcommit_memory");
    g->overcommit_ratio = knob("overcommit_ratio");
    g->overcommit_kbytes = knob("overcommit_kbytes"); /* absent before Linux 3.14 */
    g->admin_reserve_kbytes = knob("admin_reserve_kbytes");
    g->user_reserve_kbytes = knob("user_reserve_kbytes");
    g->mem_total = procfs_read_one("/proc/meminfo", "MemTotal");
    g->mem_available = procfs_read_one("/proc/meminfo", "MemAvailable");
    g->swap_total = procfs_read_one("/proc/meminfo", "SwapTotal");
    g->commit_limit = procfs_read_one("/proc/meminfo", "CommitLimit");
    g->committed_as = procfs_read_one("/proc/meminfo", "Committed_AS");
    g->hugetlb = hugetlb_kB();
    g->rlimit_as = rlimit_kB(RLIMIT_AS);
    g->rlimit_data = rlimit_kB(RLIMIT_DATA);
    g->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    g->vm_data = procfs_read_one("/proc/self/status", "VmData");
    read_own_cgroup(g);
    struct utsname u;
    int64_t major = -1, minor = -1;
    if (uname(&u) == 0) {
        major = parse_number(u.release, ".");
        const char *dot = strchr(u.release, '.');
        minor = dot ? parse_number(dot + 1, ".-+") : -1;
    }
    g->kernel_major = major > 0 && minor >= 0 ? (int)major : 0;
    g->kernel_minor = major > 0 && minor >= 0 ? (int)minor : 0;
}

/* ---- a size to map and never touch ---- */

/* Lowers *want to room / share when that is smaller, saying why; true if it did. */
static bool limit_to(int64_t *want, int64_t room, int share, char *why, size_t len,
                     const char *what)
{
    if (room / share >= *want)
        return false;
    *want = room / share;
    static const char *const part[] = {"all", "all", "half", "a third", "a quarter"};
    if (share < 5)
        snprintf(why, len, "%s of %s = %lld kB", part[share], what, (long long)room);
    else
        snprintf(why, len, "1/%d of %s = %lld kB", share, what, (long long)room);
    return true;
}

/* What a limit leaves, in kB: the limit less what is used of it, never
 * below 0; INT64_MAX (no limit) when either is unknown. */
static int64_t room_kB(int64_t limit, int64_t used)
{
    if (limit < 0 || used < 0)
        return INT64_MAX;
    return limit > used ? limit - used : 0;
}

int grant_charge_size(int64_t want_kb, int count, size_t *size, char *why, size_t len)
{
    struct grant g;
    grant_read(&g);
    int64_t want = want_kb;
    const char *fix = "";
    int64_t mode = g.overcommit_memory < 0 ? 0 : g.overcommit_memory;
    snprintf(why, len, "the most this demo maps");
    if (mode == 2) { /* room_kB leaves out a figure not read */
        if (limit_to(&want, room_kB(g.commit_limit, g.committed_as), 2 * count, why, len,
                     "CommitLimit - Committed_AS (overcommit_memory 2)"))
            fix = "free some memory, or raise vm.overcommit_ratio";
    } else if (mode == 0 && g.mem_total > 0) {
        limit_to(&want, g.mem_total + (g.swap_total > 0 ? g.swap_total : 0), 2, why, len,
                 "MemTotal + SwapTotal (overcommit_memory 0 refuses one request larger)");
    }
    if (limit_to(&want, room_kB(g.rlimit_as, g.vm_size), count + 1, why, len, "RLIMIT_AS - VmSize"))
        fix = "ulimit -v unlimited";
    if (limit_to(&want, room_kB(g.rlimit_data, g.vm_data), count, why, len, "RLIMIT_DATA - VmData"))
        fix = "ulimit -d unlimited";
    want -= want % 2048;
    if (want < 8192) {
        text_append(why, len, ": ", "under 8 MiB, too little to tell a charge from other "
                    "programs' noise%s%s", fix[0] ? "; to enable: " : "", fix);
        return -1;
    }
    *size = (size_t)want * 1024;
    return 0;
}

/* ---- the least headroom ---- */

static uint64_t kb(int64_t v)
{
    return (uint64_t)v * 1024;
}

/* A limit less what is used of it (RLIMIT_AS less VmSize, CommitLimit less
 * Committed_AS); left out when either is unknown. */
static void consider_room(struct budget *b, enum budget_limit which, const char *limit_name,
                          int64_t limit_kB, const char *used_name, int64_t used_kB)
{
    int64_t room = room_kB(limit_kB, used_kB);
    if (room == INT64_MAX)
        return;
    char l[32], u[32], detail[192];
    format_size(kb(limit_kB), l, sizeof l);
    format_size(kb(used_kB), u, sizeof u);
    snprintf(detail, sizeof detail, "%s %s, %s %s", limit_name, l, used_name, u);
    budget_consider(b, which, kb(room), detail);
}

void budget_read(struct budget *b)
{
    struct grant g;
    grant_read(&g);
    memset(b, 0, sizeof *b);
    b->bytes = BUDGET_UNLIMITED;
    b->binding = BUDGET_NONE;
    for (int i = 0; i < BUDGET_LIMITS; i++)
        b->headroom[i] = BUDGET_UNLIMITED;
    if (g.mem_available >= 0)
        budget_consider(b, BUDGET_MEM_AVAILABLE, kb(g.mem_available), "/proc/meminfo");
    if (g.cgroup_headroom >= 0)
        budget_consider(b, BUDGET_CGROUP, kb(g.cgroup_headroom), g.cgroup_detail);
    else if (g.cgroup_detail[0])
        snprintf(b->unread, sizeof b->unread, "%s could not be read: %.440s",
                 budget_limit_name(BUDGET_CGROUP), g.cgroup_detail);
    consider_room(b, BUDGET_RLIMIT_AS, "limit", g.rlimit_as, "VmSize", g.vm_size);
    consider_room(b, BUDGET_RLIMIT_DATA, "limit", g.rlimit_data, "VmData", g.vm_data);
    if (g.overcommit_memory == 2)
        consider_room(b, BUDGET_COMMIT_LIMIT, "CommitLimit", g.commit_limit, "Committed_AS",
                      g.committed_as);
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
    snprintf(why, len, "%s leaves %s (%s)", budget_limit_name(b->binding), room,
             b->detail[b->binding]);
    if (fraction > 1)
        text_append(why, len, "; ", "at most 1/%u of it, %s", fraction, most);
    if (b->unread[0]) /* a smaller limit may be the one not read */
        text_append(why, len, "; ", "%s", b->unread);
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
