/* SPDX-License-Identifier: MIT */
/* observe: read a running demo from outside, as a second terminal would.
 *
 * The parsers here are the tests' own, written apart from lib/kernel/procfs, so
 * that a demo is never judged by the code that produced its numbers. And a
 * stepper runs a demo with --step --json on a pseudo-terminal, stopping at
 * each "Press Enter to run step N/M" prompt, so that a test can read the
 * process's smaps, status, stat and pagemap between its steps. */
#ifndef VMLAB_TEST_OBSERVE_H
#define VMLAB_TEST_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "ptydrive.h"

/* A field ("Rss", "Size", "AnonHugePages") of the /proc/PID/smaps entry
 * whose range covers addr, in kB; -1 when no mapping covers addr or the
 * field is absent. */
int64_t observe_smaps(pid_t pid, uintptr_t addr, const char *key);
/* The VmFlags of that entry ("rd wr mr mw me ac"); false if none. */
bool observe_vmflags(pid_t pid, uintptr_t addr, char *flags, size_t len);
/* A "Key: N kB" field of /proc/PID/status; -1 when absent. */
int64_t observe_status(pid_t pid, const char *key);
/* minflt and majflt from /proc/PID/stat (fields 10 and 12); -1 on error. */
int64_t observe_minflt(pid_t pid);
int64_t observe_majflt(pid_t pid);
/* A /proc/meminfo field in kB (or pages, for HugePages_*); -1 when absent. */
int64_t observe_meminfo(const char *key);
/* A /proc/vmstat counter; -1 when absent. */
int64_t observe_vmstat(const char *key);
/* A transparent huge page's size in kB (hpage_pmd_size), 2048 where the kernel does not say. */
int64_t observe_thp_kb(void);
/* The pagemap entry of the page holding addr: present bit and PFN (the PFN
 * reads as 0 without CAP_SYS_ADMIN). False when pagemap cannot be read. */
bool observe_pagemap(pid_t pid, uintptr_t addr, bool *present, uint64_t *pfn);
/* The PFN of the shared zero page, found by reading one untouched page of a
 * private anonymous mapping of our own; 0 when unknown (not root). */
uint64_t observe_zero_pfn(void);

/* A child of `parent` (the PPid of /proc/PID/stat), or 0 when it has none. */
pid_t observe_child_of(pid_t parent);
/* For a test that made itself a subreaper (PR_SET_CHILD_SUBREAPER), so that
 * an orphan of its own runs becomes its child: waits up to ms milliseconds
 * for pid to end and reaps it; true (and its wait status) when it did. */
bool observe_reaped(pid_t pid, int ms, int *status);

/* A demo run with --step --json on a pseudo-terminal. */
#define STEPPER_MAX_LINES 64
struct stepper {
    struct pty_child pty;
    struct json *lines[STEPPER_MAX_LINES];  /* the JSON lines printed so far */
    int nlines;
    size_t parsed;                          /* bytes of the screen already split */
    int next;                               /* the step the demo waits to run */
};

/* Starts argv (argv[0] a path; the caller includes --step and --json). */
int stepper_start(struct stepper *s, const char *const argv[]);
/* Waits for the next pause; returns the step N about to run, or 0 when the
 * demo ended (or stopped printing for 10 s) without another pause. */
int stepper_wait(struct stepper *s);
/* Presses Enter. */
bool stepper_go(struct stepper *s);
/* The JSON object of step N, once printed; NULL before. */
const struct json *stepper_step(const struct stepper *s, int n);
/* The result line, once printed; NULL before. */
const struct json *stepper_result(const struct stepper *s);
pid_t stepper_pid(const struct stepper *s);
/* Presses Enter at every remaining pause, waits for the demo, frees the
 * lines; returns the wait status. */
int stepper_finish(struct stepper *s);

/* The start address of the "maps" fact of a step ("7f12...-7f13... rw-p"),
 * or 0. */
uintptr_t stepper_maps_start(const struct json *step);

#endif
