/* grant: the size a demo may map on this machine, and why. */
#define _GNU_SOURCE
#include "grant.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

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
