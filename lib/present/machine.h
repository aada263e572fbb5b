/* SPDX-License-Identifier: MIT */
/* machine: the facts about this machine that decide what a demo can show -
 * kernel, page size, THP mode, overcommit policy, cgroup version, whether we
 * are root, memory and swap. Every --json run ends with them, so a grader
 * (or the lab-machine matrix) can read each result against the machine it
 * came from. */
#ifndef VMLAB_MACHINE_H
#define VMLAB_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct machine {
    char kernel[65];            /* uname -r */
    long page_size;
    char thp[16];               /* "always", "madvise", "never", or "" if absent */
    int64_t overcommit_memory;  /* -1: unreadable */
    int64_t overcommit_ratio;
    int64_t overcommit_kbytes;
    const char *cgroup;         /* the memory controller: "v2", "v1" or "none" */
    bool root;
    int64_t mem_total_kB, swap_total_kB, commit_limit_kB; /* -1: absent */
};

void machine_read(struct machine *m);

/* The facts as one JSON object (no trailing newline). */
void machine_write_json(FILE *out, const struct machine *m);

#endif
