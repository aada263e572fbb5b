/* SPDX-License-Identifier: MIT */
/* lesson_checks: what the tests of malloc-brk, malloc-free, stack-growth, fork-cow
 * and vfork-spawn check in every step (tests/support/lesson.h: its code is the
 * source, its sentences rest on held findings), and a reader of
 * /proc/PID/maps by name, written apart from lib/kernel/procfs.
 * Header-only: each test includes it once. */
#ifndef VMLAB_TEST_LESSON_CHECKS_H
#define VMLAB_TEST_LESSON_CHECKS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "demo_test.h"
#include "json.h"
#include "lesson.h"

/* The code a step shows is in the demo's source, as written. */
static inline void assert_code_is_source(const struct json *step, const char *source_path)
{
    assert_code_in(step, source_path);
}

/* /proc/PID/maps, our own reading: the mapping that holds addr (or, with
 * addr 0, the one called name). False when there is none. */
struct vma {
    uintptr_t start, end;
    char perms[8], name[256];
};

static inline bool maps_find(pid_t pid, uintptr_t addr, const char *name, struct vma *out)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long long s, e;
        char perms[8] = "";
        int used = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &s, &e, perms, &used) < 3)
            continue;
        const char *rest = line + used;
        while (*rest == ' ')
            rest++;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)strcspn(rest, "\n"), rest);
        if (addr ? (addr >= s && addr < e) : name && strcmp(nm, name) == 0) {
            *out = (struct vma){(uintptr_t)s, (uintptr_t)e, "", ""};
            snprintf(out->perms, sizeof out->perms, "%s", perms);
            snprintf(out->name, sizeof out->name, "%s", nm);
            found = true;
        }
    }
    fclose(f);
    return found;
}

#endif
