/* SPDX-License-Identifier: MIT */
/* Fuzz target: smaps_parse_entry on arbitrary text, looked up at an address
 * the input also chooses, and at the addresses the parser itself returned. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_input.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uintptr_t addr = 0x7f0000000000;
    if (size >= sizeof addr) {
        memcpy(&addr, data + size - sizeof addr, sizeof addr);
        size -= sizeof addr;
    }
    struct smaps_entry e;
    FILE *f = fuzz_file(data, size);
    if (!f)
        return 0;
    enum procfs_status st = smaps_parse_entry(f, addr, &e);
    (void)fclose(f);
    if (st == PROCFS_OK) {
        uint64_t v;
        char header[600];
        (void)smaps_get(&e, "Rss", &v);
        (void)smaps_has_flag(&e, "nh");
        smaps_format_header(&e, header, sizeof header);
        if (e.start >= e.end || addr < e.start || addr >= e.end)
            __builtin_trap(); /* the entry found must cover the address */
    }
    return 0;
}
