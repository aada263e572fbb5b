/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "memlock.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "procfs.h"

size_t memlock_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > SIZE_MAX)
        return SIZE_MAX;
    return (size_t)rl.rlim_cur;
}

bool memlock_capable(void)
{
    char status[4096];
    (void)procfs_read_text("/proc/self/status", status, sizeof status); /* "" when unreadable */
    const char *caps = strstr(status, "\nCapEff:");
    return caps && (strtoull(caps + 8, NULL, 16) >> 14) & 1; /* CAP_IPC_LOCK */
}
