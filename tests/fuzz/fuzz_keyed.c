/* SPDX-License-Identifier: MIT */
/* Fuzz target: "Key: value" parsing as for /proc/meminfo and /proc/self/status,
 * and "key value" parsing as for memory.events and /proc/vmstat. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct procfs_want want[] = {{"MemTotal", 0, false}, {"Committed_AS", 0, false},
                                 {"VmRSS", 0, false},    {"HugePages_Total", 0, false},
                                 {"oom_kill", 0, false}, {"", 0, false}};
    FILE *f = fuzz_file(data, size);
    if (!f)
        return 0;
    (void)procfs_parse_wanted(f, want, 6, ':');
    (void)fclose(f);
    f = fuzz_file(data, size);
    if (!f)
        return 0;
    (void)procfs_parse_wanted(f, want, 6, ' ');
    (void)fclose(f);
    return 0;
}
