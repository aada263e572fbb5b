/* SPDX-License-Identifier: MIT */
/* bench_fault_cost: does fault-cost agree with will-it-scale's page_fault1?
 *
 * Runs the demo (`fault-cost --json`) several times and reads, from its
 * last step, the two figures it measured side by side in the same run:
 * page_fault1's round (mmap 128 MiB, write every page, munmap) per page,
 * and the write-fault step's own round timed alternately with it. After each,
 * runs `huge-fault-cost --json` with the same arguments (its huge-page rows).
 * Prints every step's median, minimum and maximum per run (the table in
 * docs/performance.md), and exits 1 when the median over runs of the
 * difference between the two is more than 10 %.
 *
 *   bench_fault_cost [RUNS [DEMO ARGS...]]   default: 3 runs of the default demos
 *   bench_fault_cost --smoke                 one --quick run of each, no timing
 *                                            checked (what CTest runs: tests
 *                                            never assert timings) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "run.h"

#define MAX_RUNS 15
#define MAX_LINES 32

static long long number(const struct json *step, const char *path)
{
    const struct json *v = json_path(step, path);
    return v && v->type == JSON_NUMBER ? (long long)v->integer : -1;
}

/* One run of `args` (args[0] the program): every step's figures printed, its id
 * after `prefix`, and page_fault1's two medians where it has that step (else they
 * stay -1). false where it did not run, or wrote no JSON Lines. */
static bool run_demo(const char *const args[], const char *prefix, int run, long long *theirs,
                     long long *ours)
{
    struct run_result out;
    if (run_program(args, RUN_AS_SELF, &out) != 0 || out.exit_code != 0) {
        fprintf(stderr, "bench_fault_cost: %s exited %d: %s\n", args[0], out.exit_code,
                out.err ? out.err : "");
        return false;
    }
    struct json *lines[MAX_LINES];
    char err[256];
    int n = parse_json_lines(out.out, lines, MAX_LINES, err, sizeof err);
    if (n < 2) {
        fprintf(stderr, "bench_fault_cost: %s wrote no JSON Lines: %s\n", args[0], err);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const char *id = json_get_string(lines[i], "id");
        if (!id)
            continue;
        printf("%s%-*s %4d %12lld %10lld %10lld %8lld\n", prefix, 20 - (int)strlen(prefix), id, run,
               number(lines[i], "facts.ns_per_page_median"),
               number(lines[i], "facts.ns_per_page_min"),
               number(lines[i], "facts.ns_per_page_max"), number(lines[i], "facts.minor_faults"));
        if (strcmp(id, "page_fault1") == 0) {
            *theirs = number(lines[i], "facts.ns_per_page_median");
            *ours = number(lines[i], "facts.ours_ns_per_page_median");
        }
    }
    free_json_lines(lines, n);
    run_result_free(&out);
    return true;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    int runs = smoke ? 1 : argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "bench_fault_cost: RUNS must be 1 to %d\n", MAX_RUNS);
        return 2;
    }
    const char *args[16] = {FAULT_COST, "--json"};
    int nargs = 2;
    if (smoke)
        args[nargs++] = "--quick";
    for (int i = 2; !smoke && i < argc && nargs < 15; i++)
        args[nargs++] = argv[i];
    args[nargs] = NULL;

    const char *huge_args[16];
    memcpy(huge_args, args, sizeof huge_args);
    huge_args[0] = HUGE_FAULT_COST;
    long long diff[MAX_RUNS];
    printf("%-20s %4s %12s %10s %10s %8s\n", "step", "run", "median_ns", "min_ns", "max_ns",
           "faults");
    for (int r = 0; r < runs; r++) {
        long long theirs = -1, ours = -1, none;
        if (!run_demo(args, "", r + 1, &theirs, &ours) ||
            !run_demo(huge_args, "huge:", r + 1, &none, &none))
            return 1;
        if (theirs <= 0 || ours <= 0) {
            fprintf(stderr, "bench_fault_cost: run %d has no page_fault1 figures\n", r + 1);
            return 1;
        }
        diff[r] = (ours - theirs) * 1000 / theirs;
        printf("%-20s %4d %12lld %10s %10s %8s   (ours; difference %+lld per mille)\n",
               "write_round", r + 1, ours, "", "", "", diff[r]);
    }
    qsort(diff, (size_t)runs, sizeof diff[0], cmp_ll);
    long long median = diff[runs / 2];
    printf("median difference from page_fault1 over %d run%s: %+lld per mille (limit +-100)\n",
           runs, runs == 1 ? "" : "s", median);
    if (smoke)
        return 0; /* CTest: both figures were measured; their timing is not a test */
    return median >= -100 && median <= 100 ? 0 : 1;
}
