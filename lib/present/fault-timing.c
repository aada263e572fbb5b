/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "fault-timing.h"

#include <sys/mman.h>

#include "budget.h"

enum { OPT_SIZE, OPT_REPS, OPT_QUICK };

const struct cli_option fault_timing_options[3] = {
    [OPT_SIZE] = {"size", "SIZE",
                  "bytes timed in each repetition (default 128M; less if this process may "
                  "not use twice that; 4M to 1G)"},
    [OPT_REPS] = {"reps", "N", "repetitions of each measurement (default 7, 3 to 51)"},
    [OPT_QUICK] = {"quick", NULL, "16M and 3 repetitions (the tour's stop)"},
};

void fault_timing_option(void *ctx, size_t index, const char *arg)
{
    struct fault_timing *t = ctx;
    if (index == OPT_SIZE)
        t->asked = cli_size_arg(t->info, "--size", arg, UINT64_C(4) << 20, UINT64_C(1) << 30);
    else if (index == OPT_REPS)
        t->reps = (int)cli_count_arg(t->info, "--reps", arg, 3, FAULT_MAX_REPS);
    else
        t->quick = true;
}

void fault_timing_size(struct fault_timing *t, struct narrator *n, size_t unit)
{
    t->reps = t->reps ? t->reps : t->quick ? 3 : 7;
    struct budget budget;
    budget_read(&budget);
    uint64_t bytes = 0;
    enum budget_choice got = budget_choose_size(&budget, t->asked, (t->quick ? 16u : 128u) << 20,
                                                unit, 2, 2, &bytes, t->why_size,
                                                sizeof t->why_size);
    if (got == BUDGET_REFUSED)
        cli_usage_error(t->info, "--size: more than this process may use: %s", t->why_size);
    if (got == BUDGET_NONE_FITS)
        narrate_finish(n, RESULT_SKIP, "not even 4 MiB fit in half of what this process may use: "
                                       "%s. Free some memory or raise that limit.", t->why_size);
    t->size = (size_t)bytes;
    t->pages = (int64_t)(t->size / t->page);
    t->shrunk = got == BUDGET_SHRUNK;
    format_size(t->size, t->size_text, sizeof t->size_text);
}

void fault_timing_size_facts(struct narrator *n, const struct fault_timing *t)
{
    narrate_fact_int(n, "size_kB", (int64_t)(t->size / 1024));
    if (t->shrunk)
        narrate_fact(n, "budget", "%s", t->why_size);
}

void fault_timing_observe(void *ctx, bool after)
{
    struct fault_timing *t = ctx;
    t->faults = minor_faults_now() - (after ? t->faults : 0);
}

struct fault_figures fault_timing_report(struct narrator *n, const struct fault_timing *t,
                                         const void *mapped, int64_t *rep_ns, int64_t pages)
{
    if (mapped == MAP_FAILED)
        narrate_fail_errno(n, "mmap", n->lesson_errno);
    struct fault_figures f = fault_figures_of(rep_ns, t->reps, pages);
    narrate_fact_int(n, "reps", t->reps);
    narrate_fact_int(n, "pages_per_rep", pages);
    narrate_fact_int(n, "ns_per_page_median", f.median);
    narrate_fact_int(n, "ns_per_page_min", f.min);
    narrate_fact_int(n, "ns_per_page_max", f.max);
    narrate_fact_int(n, "ns_per_page_first", f.first);
    narrate_fact_int(n, "minor_faults", t->faults);
    if (t->floor_ns > 0)
        narrate_fact_int(n, "ratio_to_zeroing_x100", f.median * 100 / t->floor_ns);
    return f;
}
