/* SPDX-License-Identifier: MIT */
/* huge-fault-cost: what a first touch costs with huge pages, per 4 KiB, on this machine.
 *
 * The lesson is the functions just below, in the order they run: a base-page write
 * fault, the yardstick, then the same writes into transparent huge pages and into
 * hugetlb pages from the pool. Each times `reps` repetitions over `size` bytes into
 * ns[], for the median and the spread (now_ns and the figures: lib/kernel/fault-clock.h).
 * Base pages alone, and the floor under them: fault-cost. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "fault-timing.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "thp.h"

/* ---- The lesson ---- */

static size_t size, page, huge, hsize; /* bytes timed per repetition; page sizes; hugetlb bytes */
static int reps;
static char *p;
static int64_t ns[FAULT_MAX_REPS];    /* each repetition's time */
static struct narrator n;

/* The yardstick: one write per 4 KiB page, each a fault of its own. */
LESSON_FN static void write_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        int64_t start = now_ns();
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        ns[r] = now_ns() - start;
        munmap(p, size);
    });
}

/* One write per 4 KiB, as in write_fault: only the first write to each
 * 2 MiB faults when a huge page is mapped. p is q rounded up to a huge page. */
LESSON_FN static void thp_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        char *q = mmap(NULL, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if ((p = q) == MAP_FAILED) break;
        p = (char *)(((uintptr_t)q + huge - 1) & ~(uintptr_t)(huge - 1));
        madvise(p, size, MADV_HUGEPAGE);
        int64_t start = now_ns();
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        ns[r] = now_ns() - start;
        munmap(q, size + huge);
    });
}

LESSON_FN static void hugetlb_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, hsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p == MAP_FAILED) break;
        int64_t start = now_ns();
        for (size_t off = 0; off < hsize; off += page) p[off] = 1;
        ns[r] = now_ns() - start;
        munmap(p, hsize);
    });
}

/* ---- What each step measured, and what it shows ---- */

static struct fault_timing t;          /* sizes, repetitions, each step's faults */
static struct {
    struct fault_figures write;         /* the yardstick of the huge-page steps */
    struct thp thp;
    long long huge_free;                /* HugePages_Free when the demo started */
} d;

static void explain_write(void)
{
    fault_timing_size_facts(&n, &t);
    d.write = fault_timing_report(&n, &t, p, ns, t.pages);
    long long expected = (long long)reps * t.pages, extra = t.faults - expected;
    CONCLUDE(&n, "one_fault_per_page", extra >= 0 && extra <= 4,
             VALUES(VAL("minor_faults", t.faults), VAL("expected", expected)),
             "%lld minor faults: one for each of the %lld pages touched in each of %d "
             "repetitions%s.", (long long)t.faults, (long long)t.pages, reps,
             extra ? ", and a few for this program's own code, paged in on first use" : "");
}

static void explain_thp(void)
{
    long long med = fault_timing_report(&n, &t, p, ns, t.pages).median, faults = t.faults;
    long long huge_pages = (long long)reps * t.pages / (int64_t)(huge / page);
    if (!CONCLUDE(&n, "one_fault_per_huge_page", faults == huge_pages,
                  VALUES(VAL("minor_faults", faults), VAL("huge_pages", huge_pages)),
                  "%lld faults, one per %zu kB huge page: %lld ns per 4 KiB of it, against %lld "
                  "ns for a base-page write fault.", faults, huge / 1024, med, d.write.median))
        CONCLUDE(&n, "thp_not_used", faults >= reps * t.pages, VALUES(VAL("minor_faults", faults)),
                 "%lld faults, one per base page: no huge page was mapped (THP '%s').", faults,
                 d.thp.mode[0] ? d.thp.mode : "not built in");
}

static void explain_hugetlb(void)
{
    narrate_fact_int(&n, "huge_pages_free", d.huge_free);
    if (p == MAP_FAILED) { /* the pool refused */
        long long now = procfs_read_one("/proc/meminfo", "HugePages_Free");
        CONCLUDE(&n, "hugetlb_refused", true, VALUES(VAL("errno", n.lesson_errno),
                 VAL("huge_pages_free_at_start", d.huge_free), VAL("huge_pages_free_now", now)),
                 "mmap(MAP_HUGETLB) was refused (%s): HugePages_Free was %lld when the demo "
                 "started and is %lld now.", strerror(n.lesson_errno), d.huge_free, now);
        return;
    }
    long long med = fault_timing_report(&n, &t, p, ns, (int64_t)(hsize / page)).median;
    CONCLUDE(&n, "hugetlb_one_fault_per_page", t.faults == reps * (int64_t)(hsize / huge),
             VALUES(VAL("minor_faults", t.faults)),
             "One fault per huge page from the pool: %lld ns per 4 KiB of it, against %lld ns "
             "for a base-page write fault.", med, d.write.median);
}

/* The lesson as a table, from which the step count comes (the hugetlb row
 * runs only when the pool has free pages). */
static const struct narrate_lesson steps[] = {
    {"write_fault", "Write fault: the yardstick, one fault per 4 KiB page", write_fault,
     explain_write, NO_QUESTION},
    {"thp_fault", "Transparent huge pages: one fault per huge page", thp_fault, explain_thp,
     NO_QUESTION},
    {"hugetlb_fault", "hugetlb: a page from the pool", hugetlb_fault, explain_hugetlb, NO_QUESTION},
};

/* ---- Options, sizes and the machine ---- */

static const struct demo_info info = {
    .name = "huge-fault-cost",
    .summary =
        "Times the first touch of anonymous memory with huge pages, per 4 KiB: a\n"
        "transparent huge page, and hugetlb when the pool has free pages, against a\n"
        "base-page write fault timed the same way. Median and spread of several\n"
        "repetitions. Base pages alone, and the floor under them: fault-cost.",
    DEMO_OPTIONS(fault_timing_options),
    .examples = "  huge-fault-cost            128 MiB, 7 repetitions of each\n"
                "  huge-fault-cost --quick    16 MiB, 3 repetitions\n"
                "  huge-fault-cost --json | jq '.facts.ns_per_page_median? // empty'\n",
    .lessons = LESSONS(TABLE(steps)),
};

int main(int argc, char **argv)
{
    struct cli_common common;
    t.info = &info;
    cli_no_positionals(&info, argc, argv,
                       cli_parse(argc, argv, &info, &common, fault_timing_option, &t));
    demo_start(&n, &info, &common, 0); /* first: a killed run's pool is repaired before sizing */
    t.page = page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    huge = d.thp.huge_size;
    memset(ns, 0, sizeof ns); /* fault the result array in now, not in a timed step */
    fault_timing_size(&t, &n, huge);
    size = t.size;
    reps = t.reps;
    /* hugetlb: at most what the pool has free now, of the size THP uses. */
    d.huge_free = procfs_read_one("/proc/meminfo", "HugePages_Free");
    if (d.huge_free > 0 && procfs_read_one("/proc/meminfo", "Hugepagesize") * 1024 == (int64_t)huge)
        hsize = (uint64_t)d.huge_free * huge < size ? (size_t)d.huge_free * huge : size;
    struct narrate_lesson run[NARRATE_COUNT(steps)];
    for (int i = 0; i < NARRATE_COUNT(steps); i++)
        if (steps[i].lesson != hugetlb_fault || hsize > 0)
            run[n.nsteps++] = steps[i];
    narrate_observe(&n, fault_timing_observe, &t);
    narrate_intro(&n,
                  "huge-fault-cost (PID %ld): %s per repetition (%lld pages of %zu KiB), %d "
                  "repetitions of each.%s\nTHP here: %s. hugetlb: %lld free huge pages%s",
                  (long)getpid(), t.size_text, (long long)t.pages, page / 1024, reps,
                  t.shrunk ? " Less than the default: this process may not use more." : "",
                  d.thp.mode[0] ? d.thp.mode : "not built in", d.huge_free,
                  /* the command on a line of its own: a student copies it whole */
                  hsize ? "." : ", so no hugetlb row. To reserve N, as root (and 0 after):\n"
                                "    echo N > /proc/sys/vm/nr_hugepages");
    narrate_run(&n, run, n.nsteps);
    char hugetlb_size[96] = ""; /* where the pool had less free than the others timed */
    if (hsize && hsize < size) {
        char text[32];
        format_size(hsize, text, sizeof text);
        snprintf(hugetlb_size, sizeof hugetlb_size, ", hugetlb's of %s, all the pool had free",
                 text);
    }
    narrate_finish(&n, RESULT_OK, "every figure above was measured in this run, %d repetitions "
                                  "of %s each%s.", reps, t.size_text, hugetlb_size);
}
