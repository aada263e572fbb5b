/* SPDX-License-Identifier: MIT */
/* lesson_checks: what the tests of malloc-brk, malloc-free, stack-growth, fork-cow
 * and vfork-spawn check in every step (tests/support/lesson.h: its code is the
 * source, its sentences rest on held findings), a reader of /proc/PID/maps
 * by name, written apart from lib/kernel/procfs, and what fork-cow's and
 * vfork-spawn's tests read of the processes the demo starts.
 * Header-only: each test includes it once. */
#ifndef VMLAB_TEST_LESSON_CHECKS_H
#define VMLAB_TEST_LESSON_CHECKS_H

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/types.h>

#include "demo_test.h"
#include "json.h"
#include "lesson.h"

/* Step `step` of the run asked its question, and the answer it measured
 * (--answers: the choice a finding of the step picked) is `want`. */
static inline void assert_measured(const struct demo_run *d, int step, const char *want)
{
    const struct json *q = json_get(demo_step(d, step), "prediction");
    ck_assert_msg(q != NULL, "step %d asked no question", step);
    ck_assert_str_eq(json_get_string(q, "measured"), want);
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

/* The accounted (VmFlags "ac") mappings of a process, summed, as fork
 * charges them: our own reading of smaps. */
static inline int64_t accounted_kb(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    int64_t sum = 0, size = 0;
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "Size: %lld kB", &kb) == 1)
            size = kb;
        if (strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " ac"))
            sum += size;
    }
    fclose(f);
    return sum;
}

/* The process has ended and been reaped: no pid of that number. */
static inline bool gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* A process a step started: the step, and the fact that holds its pid. */
struct started {
    int step;
    const char *pid_fact, *what;
};

/* Killed at the pause before step `at`, with the processes `kids` name
 * alive: the demo ends by the signal, and none of them outlives it. */
static inline void assert_none_outlives_demo(const char *program, int at,
                                             const struct started *kids, int nkids)
{
    const char *argv[] = {program, "--step", "--json", NULL};
    struct stepper s;
    ck_assert_int_eq(stepper_start(&s, argv), 0);
    pid_t demo = stepper_pid(&s), pids[8];
    ck_assert_int_le(nkids, 8);
    int step;
    while ((step = stepper_wait(&s)) > 0 && step < at)
        ck_assert(stepper_go(&s));
    ck_assert_int_eq(step, at);
    for (int i = 0; i < nkids; i++) {
        pids[i] = (pid_t)jint(stepper_step(&s, kids[i].step), kids[i].pid_fact);
        ck_assert_msg(!gone(pids[i]), "%s %ld is not running", kids[i].what, (long)pids[i]);
    }
    ck_assert_int_eq(kill(demo, SIGTERM), 0);
    int status = stepper_finish(&s);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    for (int i = 0; i < nkids; i++)
        ck_assert_msg(gone(pids[i]), "%s %ld outlived the demo", kids[i].what, (long)pids[i]);
}

#endif
