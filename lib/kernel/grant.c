/* SPDX-License-Identifier: MIT */
/* grant: the size a demo may map on this machine, and why; and the figures
 * that bound what a process may be granted. */
#define _GNU_SOURCE
#include "grant.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "procfs.h"


static int64_t meminfo(const char *key)
{
    return procfs_read_one("/proc/meminfo", key);
}

/* Lowers *want to room / share when that is smaller, saying why. */
static void limit_to(int64_t *want, int64_t room, int share, char *why, size_t len,
                     const char *what)
{
    if (room / share >= *want)
        return;
    *want = room / share;
    static const char *const part[] = {"all", "all", "half", "a third", "a quarter"};
    if (share < 5)
        snprintf(why, len, "%s of %s = %lld kB", part[share], what, (long long)room);
    else
        snprintf(why, len, "1/%d of %s = %lld kB", share, what, (long long)room);
}

static int64_t rlimit_room(int resource, const char *status_key)
{
    struct rlimit rl;
    int64_t used = procfs_read_one("/proc/self/status", status_key);
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || used < 0)
        return INT64_MAX;
    return (int64_t)(rl.rlim_cur / 1024) - used;
}

int grant_charge_size(int64_t want_kb, int count, size_t *size, char *why, size_t len)
{
    int64_t want = want_kb;
    const char *fix = "";
    uint64_t mode = 0;
    snprintf(why, len, "the most this demo maps");
    (void)procfs_read_vm_sysctl("overcommit_memory", &mode);
    int64_t limit = meminfo("CommitLimit"), committed = meminfo("Committed_AS");
    int64_t ram = meminfo("MemTotal"), swap = meminfo("SwapTotal");
    if (mode == 2 && limit >= 0 && committed >= 0) {
        limit_to(&want, limit - committed, 2 * count, why, len,
                 "CommitLimit - Committed_AS (overcommit_memory 2)");
        if (want != want_kb)
            fix = "free some memory, or raise vm.overcommit_ratio";
    } else if (mode == 0 && ram > 0) {
        limit_to(&want, ram + (swap > 0 ? swap : 0), 2, why, len,
                 "MemTotal + SwapTotal (overcommit_memory 0 refuses one request larger)");
    }
    int64_t before = want;
    limit_to(&want, rlimit_room(RLIMIT_AS, "VmSize"), count + 1, why, len, "RLIMIT_AS - VmSize");
    if (want != before)
        fix = "ulimit -v unlimited";
    before = want;
    limit_to(&want, rlimit_room(RLIMIT_DATA, "VmData"), count, why, len, "RLIMIT_DATA - VmData");
    if (want != before)
        fix = "ulimit -d unlimited";
    want -= want % 2048;
    if (want < 8192) {
        size_t used = strlen(why);
        snprintf(why + used, len - used, ": under 8 MiB, too little to tell a charge from other "
                 "programs' noise%s%s", fix[0] ? "; to enable: " : "", fix);
        return -1;
    }
    *size = (size_t)want * 1024;
    return 0;
}

/* ---- the figures, for a demo that teaches them ---- */


/* A non-negative decimal number at the start of text, up to a newline; -1
 * if there is none (as in "max"). */
static int64_t parse_number(const char *text, const char *end_ok)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno || v < 0 || !strchr(end_ok, *end))
        return -1;
    return v;
}

/* The number a cgroup or sysfs file holds; -1 if none ("max"). */
static int64_t first_number(const char *path)
{
    char line[64];
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    bool got = fgets(line, sizeof line, f) != NULL;
    (void)fclose(f); /* read-only: nothing to lose */
    return got ? parse_number(line, "\n") : -1;
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

int64_t grant_hugetlb_kB(void)
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
        int64_t pages = first_number(file);
        kB += pages > 0 ? pages * size_kB : 0;
    }
    if (dir)
        closedir(dir);
    return kB;
}

int64_t grant_cgroup_limit_kB(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[512], file[800];
    int64_t best = -1;
    while (f && fgets(line, sizeof line, f)) {
        /* "0::/path" (v2) or "N:memory,...:/path" (v1) */
        char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        bool v2 = ctl[1] == '\0', v1 = strstr(ctl + 1, "memory") != NULL;
        while (v1 || v2) { /* the cgroup, then each ancestor */
            snprintf(file, sizeof file, "/sys/fs/cgroup%s%s/%s", v2 ? "" : "/memory", path,
                     v2 ? "memory.max" : "memory.limit_in_bytes");
            int64_t bytes = first_number(file);
            /* v1 writes "no limit" as a number near 2^63 */
            if (bytes >= 0 && bytes < (INT64_C(1) << 50) && (best < 0 || bytes / 1024 < best))
                best = bytes / 1024;
            char *slash = strrchr(path, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
    }
    if (f)
        (void)fclose(f); /* read-only: nothing to lose */
    return best;
}

void grant_read(struct grant *g)
{
    g->overcommit_memory = knob("overcommit_memory");
    g->overcommit_ratio = knob("overcommit_ratio");
    g->overcommit_kbytes = knob("overcommit_kbytes"); /* absent before Linux 3.14 */
    g->admin_reserve_kbytes = knob("admin_reserve_kbytes");
    g->user_reserve_kbytes = knob("user_reserve_kbytes");
    g->mem_total = procfs_read_one("/proc/meminfo", "MemTotal");
    g->swap_total = procfs_read_one("/proc/meminfo", "SwapTotal");
    g->commit_limit = procfs_read_one("/proc/meminfo", "CommitLimit");
    g->committed_as = procfs_read_one("/proc/meminfo", "Committed_AS");
    g->hugetlb = grant_hugetlb_kB();
    g->rlimit_as = rlimit_kB(RLIMIT_AS);
    g->rlimit_data = rlimit_kB(RLIMIT_DATA);
    g->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    g->vm_data = procfs_read_one("/proc/self/status", "VmData");
    g->cgroup_limit = grant_cgroup_limit_kB();
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
