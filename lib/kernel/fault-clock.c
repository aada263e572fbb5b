/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "fault-clock.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t minor_faults_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct fault_figures fault_figures_of(int64_t *rep_ns, int reps, int64_t pages)
{
    struct fault_figures f = {.first = rep_ns[0] / pages};
    qsort(rep_ns, (size_t)reps, sizeof rep_ns[0], cmp64);
    f.median = rep_ns[reps / 2] / pages;
    f.min = rep_ns[0] / pages;
    f.max = rep_ns[reps - 1] / pages;
    return f;
}
