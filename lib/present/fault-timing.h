/* SPDX-License-Identifier: MIT */
/* fault-timing: what the demos that time first touches (fault-cost, huge-fault-cost)
 * share around their lessons: the options --size, --reps and --quick, the size this
 * process may time, each step's minor faults (its observer), and a step's figures as
 * facts. How the clock is read: lib/kernel/fault-clock.h. */
#ifndef VMLAB_FAULT_TIMING_H
#define VMLAB_FAULT_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "fault-clock.h"
#include "narrate.h"

struct fault_timing {
    const struct demo_info *info; /* whose options these are: their errors name it */
    uint64_t asked;               /* --size, or 0 */
    bool quick;                   /* --quick */
    int reps;                     /* --reps, or 7 (3 with --quick) */
    size_t size, page;            /* bytes timed per repetition; the base page */
    int64_t pages;                /* base pages per repetition */
    int64_t faults;               /* minor faults: so far, then the step's own */
    long long floor_ns;           /* zeroing a resident page, where a step timed it; else 0 */
    bool shrunk;                  /* less than the default: this process may not use more */
    char why_size[400];           /* which limit chose the size */
    char size_text[32];           /* "16 MiB" */
};

/* The options, for demo_info's DEMO_OPTIONS, and their cli_option_fn (ctx: the
 * struct fault_timing, its info set). */
extern const struct cli_option fault_timing_options[3];
void fault_timing_option(void *ctx, size_t index, const char *arg);

/* After demo_start: the repetitions, and the size, a multiple of `unit`: --size (exit 2
 * where this process may not use twice that), else 128 MiB (16 with --quick) or less
 * where it may not. Where not even 4 MiB fits, the run ends (RESULT_SKIP). */
void fault_timing_size(struct fault_timing *t, struct narrator *n, size_t unit);

/* The first step's facts: size_kB, and budget where the size was shrunk. */
void fault_timing_size_facts(struct narrator *n, const struct fault_timing *t);

/* narrate_observe's observer (ctx: the struct fault_timing): t->faults becomes the
 * minor faults the step's code took. */
void fault_timing_observe(void *ctx, bool after);

/* A step's figures (fault_figures_of) as facts, and no finding: reps, pages_per_rep,
 * ns_per_page_median, _min, _max, _first, minor_faults and, where a floor was timed,
 * ratio_to_zeroing_x100. What they show is the demo's to say. `mapped` is the step's
 * last mmap: a failed one ended its loop, and ends the run with the errno LESSON kept. */
struct fault_figures fault_timing_report(struct narrator *n, const struct fault_timing *t,
                                         const void *mapped, int64_t *rep_ns, int64_t pages);

#endif
