/* SPDX-License-Identifier: MIT */
/* fault-clock: how a first touch is timed (fault-cost, huge-fault-cost): the clock
 * read around a loop, the minor faults this process has taken so far, and a step's
 * repetitions as figures per 4 KiB page: median, minimum, maximum and the first. */
#ifndef VMLAB_FAULT_CLOCK_H
#define VMLAB_FAULT_CLOCK_H

#include <stdint.h>

/* At most this many repetitions of one measurement (--reps). */
#define FAULT_MAX_REPS 51

/* CLOCK_MONOTONIC in nanoseconds: what the lessons read before and after a loop. */
int64_t now_ns(void);

/* getrusage(RUSAGE_SELF)'s ru_minflt: the minor faults of this process so far. */
int64_t minor_faults_now(void);

struct fault_figures {
    long long median, min, max, first; /* ns per 4 KiB page */
};

/* Of `reps` repetitions that took rep_ns[r] nanoseconds for `pages` pages each
 * (rep_ns is sorted for the median, after the first is read). */
struct fault_figures fault_figures_of(int64_t *rep_ns, int reps, int64_t pages);

#endif
