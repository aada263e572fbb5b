/* SPDX-License-Identifier: MIT */
/* fault_checks: what the tests of segv-pgfault and kernel-address read for
 * themselves (a file, the CPU's flags, the maps of the case's child at its
 * pause) and how both compare a case's signal with the one expected.
 * Nothing here uses lib/kernel/probe. Header-only: each test includes it once. */
#ifndef VMLAB_TEST_FAULT_CHECKS_H
#define VMLAB_TEST_FAULT_CHECKS_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "demo_test.h"
#include "lesson.h"

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static inline bool has_cpu_flag(const char *flag)
{
    char *info = slurp("/proc/cpuinfo");
    ck_assert_ptr_nonnull(info);
    char *line = strstr(info, "\nflags");
    bool found = false;
    if (line) {
        char *end = strchr(line + 1, '\n');
        if (end)
            *end = '\0';
        char word[64];
        snprintf(word, sizeof word, " %s", flag);
        for (char *s = line; (s = strstr(s, word)) != NULL; s += strlen(word))
            if (s[strlen(word)] == ' ' || s[strlen(word)] == '\0')
                found = true;
    }
    free(info);
    return found;
}

/* One line of a saved maps text covering addr. */
struct vma {
    unsigned long long start, end, offset;
    char perms[8], path[256];
};

static inline bool find_vma(const char *maps, unsigned long long addr, struct vma *v)
{
    for (const char *line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        memset(v, 0, sizeof *v);
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %255[^\n]", &v->start, &v->end, v->perms,
                   &v->offset, v->path) >= 4 && v->start <= addr && addr < v->end)
            return true;
    }
    return false;
}

/* The case's child: the demo's only child at a pause. */
static inline pid_t only_child(pid_t parent)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
    char *text = slurp(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    pid_t child = (pid_t)atoi(text);
    free(text);
    ck_assert_msg(child > 0, "the demo has no child at its pause");
    return child;
}

static inline unsigned long long hex(const struct json *step, const char *key)
{
    return strtoull(jstr(step, key), NULL, 16);
}

static inline void expect(const struct json *step, const char *signal, const char *code,
                          const char *finding)
{
    const char *name = jstr(step, "facts.case");
    ck_assert_msg(strcmp(jstr(step, "facts.signal"), signal) == 0, "%s: signal %s, expected %s", name,
                  jstr(step, "facts.signal"), signal);
    if (code)
        ck_assert_msg(strcmp(jstr(step, "facts.si_code"), code) == 0, "%s: si_code %s, expected %s",
                      name, jstr(step, "facts.si_code"), code);
    ck_assert_msg(held(step, finding), "%s: finding %s should hold", name, finding);
}

#endif
