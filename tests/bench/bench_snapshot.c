/* SPDX-License-Identifier: MIT */
/* bench_snapshot: what one step's snapshot costs (smaps lookup for one
 * mapping + meminfo + getrusage), with few mappings and with ~2,000.
 *
 *   bench_snapshot [ITERATIONS]      default 2000
 *
 * Prints the median and the 10th/90th percentiles in microseconds, and the
 * minor faults the snapshots themselves took after warm-up (must be 0: the
 * narration may not add faults to the ones it reports). Exits 1 if they are
 * not 0. Not a timed test: the numbers are for docs/performance.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "guarded.h"
#include "snapshot.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    long n = 0;
    int c;
    while (f && (c = getc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

/* The kernel's own share: read all of smaps with read(2), parse nothing. */
static void measure_raw(const char *label, int iterations, double *samples)
{
    static char buf[1 << 16];
    for (int i = 0; i < iterations; i++) {
        double t0 = now_us();
        FILE *f = fopen("/proc/self/smaps", "re");
        if (!f)
            exit(1);
        while (fread(buf, 1, sizeof buf, f) > 0)
            ;
        fclose(f);
        samples[i] = now_us() - t0;
    }
    qsort(samples, (size_t)iterations, sizeof *samples, cmp_double);
    printf("%-38s %8ld %10.1f %10.1f %10.1f %8s\n", label, count_mappings(),
           samples[iterations / 2], samples[iterations / 10], samples[iterations * 9 / 10], "-");
}

/* Returns the faults taken during the timed snapshots. */
static long measure(const char *label, uintptr_t addr, int iterations, double *samples)
{
    struct snapshot s;
    for (int i = 0; i < 10; i++) { /* warm up stdio, the stack, the vDSO clock */
        snapshot_take(&s, addr);
        samples[i % iterations] = now_us();
    }
    long faults = minflt();
    for (int i = 0; i < iterations; i++) {
        double t0 = now_us();
        if (snapshot_take(&s, addr) != PROCFS_OK || !s.mapped) {
            fprintf(stderr, "snapshot failed\n");
            exit(1);
        }
        samples[i] = now_us() - t0;
    }
    faults = minflt() - faults;
    qsort(samples, (size_t)iterations, sizeof *samples, cmp_double);
    printf("%-38s %8ld %10.1f %10.1f %10.1f %8ld\n", label, count_mappings(),
           samples[iterations / 2], samples[iterations / 10], samples[iterations * 9 / 10], faults);
    return faults;
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 2000;
    if (iterations < 10 || iterations > 1000000) {
        fprintf(stderr, "usage: bench_snapshot [ITERATIONS >= 10]\n");
        return 2;
    }
    double *samples = calloc((size_t)iterations, sizeof *samples);
    if (!samples)
        return 1;
    memset(samples, 0, sizeof *samples * (size_t)iterations); /* fault it in now */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    /* The region the snapshots look up, first mapped: with top-down mmap
     * it lies above what comes later, so it is near the end of smaps. */
    char *late = guarded_map(16 * page);
    if (!late)
        return 1;
    *(volatile char *)late = 1;

    printf("%-38s %8s %10s %10s %10s %8s\n", "case", "mappings", "median_us", "p10_us", "p90_us",
           "faults");
    long faults = measure("few mappings", (uintptr_t)late, iterations, samples);

    measure_raw("few mappings, whole smaps, no parsing", iterations, samples);

    /* ~2,000 more VMAs: one reservation with every other page made
     * read-only, so that no two neighbours can merge. */
    size_t n = 2000;
    char *many = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (many == MAP_FAILED)
        return 1;
    for (size_t i = 0; i < n; i += 2)
        if (mprotect(many + i * page, page, PROT_READ) != 0)
            return 1;
    faults += measure("~2000 mappings, entry near the end", (uintptr_t)late, iterations, samples);
    measure_raw("~2000 mappings, whole smaps, no parsing", iterations, samples);

    char *early = guarded_map(16 * page);
    if (!early)
        return 1;
    faults += measure("~2000 mappings, entry near the start", (uintptr_t)early, iterations,
                      samples);
    free(samples);
    if (faults != 0) {
        fprintf(stderr, "bench_snapshot: the snapshots took %ld page faults of their own\n", faults);
        return 1;
    }
    return 0;
}
