/* SPDX-License-Identifier: MIT */
/* fault-cost: what a first touch costs, per 4 KiB page, on this machine.
 *
 * The lesson is the functions just below, in the order they run: each
 * times `reps` repetitions over `size` bytes and keeps every repetition's
 * time, so that the step can report the median and the spread. First the
 * floor under every fault - zeroing pages already resident, since the
 * kernel must zero each new page - then one function per way of getting
 * memory behind a page, and last will-it-scale's page_fault1 method (mmap,
 * write every page, munmap, repeat), written again here and measured side
 * by side, to check the figures against a known method. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "thp.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* ---- The lesson ---- */

#define MAX_REPS 51
static size_t size, page, huge, hsize; /* bytes timed per repetition; page sizes; hugetlb bytes */
static int reps;
static char *p;
static int ret, err;                  /* madvise's result and errno */
static char c;                        /* what the reads saw */
static int64_t t[3];                  /* clock readings of one repetition */
static int64_t touch_ns[MAX_REPS], pf1_ns[MAX_REPS], ours_ns[MAX_REPS];
static struct narrator n;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* t[0] .. t[1] is what a repetition times. */
static void record(int r)
{
    touch_ns[r] = t[1] - t[0];
}

static char *huge_aligned(char *q)
{
    return (char *)(((uintptr_t)q + huge - 1) & ~(uintptr_t)(huge - 1));
}

/* The floor: the pages are resident before the clock starts. */
LESSON_FN static void zeroing(void)
{
    LESSON(&n, p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (p == MAP_FAILED) return;
           madvise(p, size, MADV_NOHUGEPAGE);
           for (size_t off = 0; off < size; off += page) p[off] = 1;
           for (int r = 0; r < reps; r++) {
               t[0] = now_ns();
               memset(p, 0, size);
               t[1] = now_ns();
               record(r);
           }
           munmap(p, size););
}

LESSON_FN static void write_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        t[0] = now_ns();
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        t[1] = now_ns();
        munmap(p, size);
        record(r);
    });
}

LESSON_FN static void read_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        t[0] = now_ns();
        for (size_t off = 0; off < size; off += page) c |= FORCE_READ(p[off]);
        t[1] = now_ns();
        munmap(p, size);
        record(r);
    });
}

LESSON_FN static void map_populate(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        t[0] = now_ns();
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        t[1] = now_ns();
        if (p == MAP_FAILED) break;
        munmap(p, size);
        record(r);
    });
}

LESSON_FN static void populate_write(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        t[0] = now_ns();
        ret = madvise(p, size, MADV_POPULATE_WRITE);
        t[1] = now_ns();
        err = errno;
        munmap(p, size);
        record(r);
    });
}

/* One write per 4 KiB, as in write_fault: only the first write to each
 * 2 MiB faults when a huge page is mapped. */
LESSON_FN static void thp_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        char *q = mmap(NULL, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if ((p = q) == MAP_FAILED) break;
        p = huge_aligned(q);
        madvise(p, size, MADV_HUGEPAGE);
        t[0] = now_ns();
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        t[1] = now_ns();
        munmap(q, size + huge);
        record(r);
    });
}

LESSON_FN static void hugetlb_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, hsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p == MAP_FAILED) break;
        t[0] = now_ns();
        for (size_t off = 0; off < hsize; off += page) p[off] = 1;
        t[1] = now_ns();
        munmap(p, hsize);
        record(r);
    });
}

/* will-it-scale's page_fault1, one process: what it counts is the whole
 * round - mmap, a write to every page, munmap - per page. Each repetition
 * runs it and then the write-fault step's round, one after the other, so
 * that whatever else the machine does meanwhile weighs on both alike. */
LESSON_FN static void page_fault1(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        t[0] = now_ns();
        char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if ((p = m) == MAP_FAILED) break;
        for (size_t i = 0; i < size; i += page) m[i] = 0;
        munmap(m, size);
        t[1] = now_ns();
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        munmap(p, size);
        t[2] = now_ns();
        pf1_ns[r] = t[1] - t[0];
        ours_ns[r] = t[2] - t[1];
    });
}

/* ---- What each step measured, and what it shows ---- */

struct figures {
    int64_t median, min, max, first;   /* ns per 4 KiB page */
};

static struct {
    int64_t faults_before, faults_after, faults;
    int64_t pages;                      /* 4 KiB pages touched per repetition */
    struct figures write, floor;        /* kept for the ratios of later steps */
    struct thp thp;
    struct budget budget;
    bool shrunk, quick;
    char why_size[400];
    int64_t huge_free;
} d;

static void observe(void *ctx, bool after)
{
    (void)ctx;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *(after ? &d.faults_after : &d.faults_before) = ru.ru_minflt;
    d.faults = d.faults_after - d.faults_before;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median_of(const int64_t *v)
{
    int64_t s[MAX_REPS];
    memcpy(s, v, sizeof s[0] * (size_t)reps);
    qsort(s, (size_t)reps, sizeof s[0], cmp64);
    return s[reps / 2];
}

/* Per-page figures of a step's repetitions over `pages` 4 KiB pages. */
static struct figures figures(int64_t pages)
{
    int64_t per[MAX_REPS] = {0};
    for (int r = 0; r < reps; r++)
        per[r] = touch_ns[r] / pages;
    struct figures f = {median_of(per), per[0], per[0], per[0]};
    for (int r = 1; r < reps; r++) {
        f.min = per[r] < f.min ? per[r] : f.min;
        f.max = per[r] > f.max ? per[r] : f.max;
    }
    return f;
}

/* The step's figures; expected_faults > 0: one fault per page was expected. */
static struct figures report(int64_t pages, int64_t faults_each)
{
    struct figures f = figures(pages);
    narrate_fact_int(&n, "reps", reps);
    narrate_fact_int(&n, "pages_per_rep", pages);
    narrate_fact_int(&n, "ns_per_page_median", f.median);
    narrate_fact_int(&n, "ns_per_page_min", f.min);
    narrate_fact_int(&n, "ns_per_page_max", f.max);
    narrate_fact_int(&n, "ns_per_page_first", f.first);
    narrate_fact_int(&n, "minor_faults", d.faults);
    if (d.floor.median > 0)
        narrate_fact_int(&n, "ratio_to_zeroing_x100", f.median * 100 / d.floor.median);
    int64_t expected = (int64_t)reps * faults_each, extra = d.faults - expected;
    if (faults_each > 0 &&
        FINDING(&n, "one_fault_per_page", extra >= 0 && extra <= 4, VAL("minor_faults", d.faults),
                VAL("expected", expected)))
        narrate_because(&n, "one_fault_per_page",
                        "%lld minor faults: one for each of the %lld pages touched in each of %d "
                        "repetitions%s.", (long long)d.faults, (long long)faults_each, reps,
                        extra ? ", and a few for this program's own code, paged in on first use"
                              : "");
    narrate_note(&n, "Per page: median %lld ns, from %lld to %lld ns over %d repetitions.",
                 (long long)f.median, (long long)f.min, (long long)f.max, reps);
    return f;
}

static void ask_write(void)
{
    narrate_ask(&n, "A write fault must zero its page too. It costs, in zeroing floors:",
                (const char *const[]){"under 2", "2 to 10", "more than 10", NULL});
}

static void explain_write(void)
{
    d.write = report(d.pages, d.pages);
    int64_t first = d.write.first, med = d.write.median, z = d.floor.median;
    if (FINDING(&n, "fault_dearer_than_zeroing", z > 0 && med > z, VAL("write_ns", med),
                VAL("zeroing_ns", z)))
        narrate_because(&n, "fault_dearer_than_zeroing",
                        "A write fault cost %lld ns, %lld.%02lld times the %lld ns of zeroing a "
                        "resident page: the rest is the trap, the page allocator, the page table "
                        "and the accounting.", (long long)med, (long long)(med / z),
                        (long long)(med * 100 / z % 100), (long long)z);
    narrate_answer(&n, z > 0 ? (med < 2 * z ? 0 : med <= 10 * z ? 1 : 2) : -1,
                   "fault_dearer_than_zeroing");
    if (FINDING(&n, "first_rep_cold", reps > 1 && first * 4 > med * 5, VAL("ns_per_page_first", first),
                VAL("ns_per_page_median", med)))
        narrate_because(&n, "first_rep_cold",
                        "The first repetition was the dearest, %lld ns a page against a median of "
                        "%lld: later repetitions can reuse the frames munmap has just given back, "
                        "still warm. In a virtual machine a cold first touch can cost far more, "
                        "when the host has taken freed memory back and must supply it again.",
                        (long long)first, (long long)med);
    else if (FINDING(&n, "first_rep_warm", reps > 1 && first * 4 <= med * 5,
                     VAL("ns_per_page_first", first), VAL("ns_per_page_median", med)))
        narrate_because(&n, "first_rep_warm",
                        "The first repetition cost %lld ns a page, within a quarter of the median: "
                        "nothing here was cold enough to stand out.", (long long)first);
}

static void ask_read(void)
{
    narrate_ask(&n, "Compared with a write fault, a read fault is:",
                (const char *const[]){"cheaper", "within 10 % of it", "dearer", NULL});
}

static void explain_read(void)
{
    struct figures f = report(d.pages, d.pages);
    int64_t w = d.write.median;
    int choice = f.median * 10 < w * 9 ? 0 : f.median * 10 <= w * 11 ? 1 : 2;
    if (FINDING(&n, "read_vs_write", w > 0, VAL("read_ns", f.median), VAL("write_ns", w),
                VAL("choice", choice)))
        narrate_because(&n, "read_vs_write",
                        "A read fault maps the shared zero page: nothing to allocate or zero. "
                        "Here it cost %lld ns against %lld ns for a write fault.",
                        (long long)f.median, (long long)w);
    narrate_answer(&n, w > 0 ? choice : -1, "read_vs_write");
}

static void explain_populate(void)
{
    struct figures f = report(d.pages, d.pages);
    if (FINDING(&n, "populate_cheaper_than_faults", f.median < d.write.median,
                VAL("populate_ns", f.median), VAL("write_ns", d.write.median)))
        narrate_because(&n, "populate_cheaper_than_faults",
                        "Filled in one call, without a trap per page: %lld ns a page against "
                        "%lld for a write fault each.", (long long)f.median,
                        (long long)d.write.median);
    if (FINDING(&n, "thp_always_may_apply", strcmp(d.thp.mode, "always") == 0,
                VAL("thp_always", 1)))
        narrate_because(&n, "thp_always_may_apply",
                        "THP is 'always' here, so MAP_POPULATE may have mapped huge pages: this "
                        "row is not a base-page figure.");
}

static void explain_populate_write(void)
{
    narrate_fact_int(&n, "madvise_result", ret);
    if (FINDING(&n, "populate_write_unsupported", ret != 0 && err == EINVAL, VAL("errno", err)))
        narrate_because(&n, "populate_write_unsupported",
                        "madvise answered EINVAL: MADV_POPULATE_WRITE needs Linux 5.14 or later.");
    else if (ret != 0)
        narrate_fail_errno(&n, "madvise(MADV_POPULATE_WRITE)", err);
    else
        explain_populate();
}

static void explain_thp(void)
{
    int64_t per_huge = (int64_t)(huge / page);
    struct figures f = report(d.pages, 0);
    if (FINDING(&n, "one_fault_per_huge_page", d.faults == (int64_t)reps * d.pages / per_huge,
                VAL("minor_faults", d.faults), VAL("huge_pages", (int64_t)reps * d.pages / per_huge)))
        narrate_because(&n, "one_fault_per_huge_page",
                        "%lld faults, one per %zu kB huge page: %lld ns per 4 KiB of it, against "
                        "%lld ns for a base-page write fault.", (long long)d.faults,
                        huge / 1024, (long long)f.median, (long long)d.write.median);
    else if (FINDING(&n, "thp_not_used", d.faults >= (int64_t)reps * d.pages,
                     VAL("minor_faults", d.faults)))
        narrate_because(&n, "thp_not_used",
                        "%lld faults, one per base page: no huge page was mapped (THP '%s').",
                        (long long)d.faults, d.thp.mode[0] ? d.thp.mode : "not built in");
}

static void explain_hugetlb(void)
{
    int64_t pages = (int64_t)(hsize / page);
    narrate_fact_int(&n, "huge_pages_free", d.huge_free);
    if (p == MAP_FAILED) {
        int64_t now = procfs_read_one("/proc/meminfo", "HugePages_Free");
        if (FINDING(&n, "hugetlb_refused", true, VAL("errno", err),
                    VAL("huge_pages_free_at_start", d.huge_free), VAL("huge_pages_free_now", now)))
            narrate_because(&n, "hugetlb_refused",
                            "mmap(MAP_HUGETLB) was refused (%s): HugePages_Free was %lld when the "
                            "demo started and is %lld now.", strerror(err),
                            (long long)d.huge_free, (long long)now);
        return;
    }
    struct figures f = report(pages, 0);
    if (FINDING(&n, "hugetlb_one_fault_per_page",
                d.faults == (int64_t)reps * (int64_t)(hsize / huge), VAL("minor_faults", d.faults)))
        narrate_because(&n, "hugetlb_one_fault_per_page",
                        "One fault per huge page from the pool: %lld ns per 4 KiB of it.",
                        (long long)f.median);
}

static void explain_zeroing(void)
{
    d.floor = report(d.pages, 0);
    int64_t extra = d.faults - d.pages;
    if (FINDING(&n, "faults_only_before_timing", extra >= 0 && extra <= 4,
                VAL("minor_faults", d.faults), VAL("pages", d.pages)))
        narrate_because(&n, "faults_only_before_timing",
                        "%lld minor faults: one per page from the loop that made every page "
                        "resident before the clock started%s; memset itself faulted nothing. "
                        "Every new anonymous page must be zeroed like this: the floor under the "
                        "faults below.", (long long)d.faults,
                        extra ? ", and a few for this program's own code" : "");
}

static void explain_page_fault1(void)
{
    memcpy(touch_ns, pf1_ns, sizeof touch_ns);
    struct figures f = report(d.pages, 2 * d.pages);
    memcpy(touch_ns, ours_ns, sizeof touch_ns);
    struct figures o = figures(d.pages);
    int64_t ours = o.median, theirs = f.median;
    int64_t diff = theirs ? (ours - theirs) * 1000 / theirs : 0;
    narrate_fact_int(&n, "ours_ns_per_page_median", ours);
    narrate_fact_int(&n, "ours_ns_per_page_min", o.min);
    narrate_fact_int(&n, "ours_ns_per_page_max", o.max);
    narrate_fact_int(&n, "difference_per_mille", diff);
    if (FINDING(&n, "agrees_with_page_fault1", theirs > 0 && diff >= -100 && diff <= 100,
                VAL("ours_ns", ours), VAL("page_fault1_ns", theirs)))
        narrate_because(&n, "agrees_with_page_fault1",
                        "page_fault1's round (mmap, a write to every page, munmap) cost %lld ns a "
                        "page, and the write-fault step's round, timed alternately with it, %lld: "
                        "within 10 %%.", (long long)theirs, (long long)ours);
    else if (FINDING(&n, "differs_from_page_fault1", theirs > 0, VAL("ours_ns", ours),
                     VAL("page_fault1_ns", theirs)))
        narrate_because(&n, "differs_from_page_fault1",
                        "page_fault1's round cost %lld ns a page and the write-fault step's round, "
                        "timed alternately with it, %lld: more than 10 %% apart in this run. The "
                        "spread of each (above) says how much the machine's other work moved "
                        "them; run again.", (long long)theirs, (long long)ours);
}

/* The lesson as a table: the step count is derived from it (the hugetlb
 * row only when the pool has free pages). A step may ask before it runs. */
static const struct step {
    const char *id, *title;
    void (*ask)(void);
    void (*lesson)(void);
    void (*explain)(void);
} all_steps[] = {
    {"zeroing", "The floor: zeroing pages already resident", NULL, zeroing, explain_zeroing},
    {"write_fault", "Write fault: the first write to each page", ask_write, write_fault, explain_write},
    {"read_fault", "Read fault: the first read maps the zero page", ask_read, read_fault, explain_read},
    {"map_populate", "MAP_POPULATE: every page filled at mmap", NULL, map_populate, explain_populate},
    {"populate_write", "MADV_POPULATE_WRITE: filled by one madvise", NULL, populate_write,
     explain_populate_write},
    {"thp_fault", "Transparent huge pages: one fault per huge page", NULL, thp_fault, explain_thp},
    {"hugetlb_fault", "hugetlb: a page from the pool", NULL, hugetlb_fault, explain_hugetlb},
    {"page_fault1", "will-it-scale's page_fault1, side by side", NULL, page_fault1,
     explain_page_fault1},
};
#define ALL_STEPS (sizeof all_steps / sizeof all_steps[0])

/* ---- Options, sizes and the machine ---- */

enum { OPT_SIZE, OPT_REPS, OPT_QUICK };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE",
                  "bytes timed in each repetition (default 128M, as page_fault1; less if "
                  "this process may not use twice that; 4M to 1G)"},
    [OPT_REPS] = {"reps", "N", "repetitions of each measurement (default 7, 3 to 51)"},
    [OPT_QUICK] = {"quick", NULL, "16M and 3 repetitions (the tour's stop)"},
};

static const struct demo_info info = {
    .name = "fault-cost",
    .summary =
        "Times the first touch of anonymous memory, per 4 KiB page: a write fault,\n"
        "a read fault (the zero page), MAP_POPULATE, MADV_POPULATE_WRITE, a\n"
        "transparent huge page, hugetlb when the pool has free pages, and the floor\n"
        "under them all, zeroing a page already resident; then will-it-scale's\n"
        "page_fault1 method side by side. Median and spread of several repetitions.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  fault-cost                 128 MiB, 7 repetitions of each\n"
                "  fault-cost --quick         16 MiB, 3 repetitions\n"
                "  fault-cost --json | jq '.facts.ns_per_page_median? // empty'\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    uint64_t *asked = ctx;
    if (index == OPT_SIZE)
        *asked = cli_size_arg(&info, "--size", arg, UINT64_C(4) << 20, UINT64_C(1) << 30);
    else if (index == OPT_REPS)
        reps = (int)cli_count_arg(&info, "--reps", arg, 3, MAX_REPS);
    else
        d.quick = true;
}

int main(int argc, char **argv)
{
    uint64_t asked = 0, bytes = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &asked);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);
    page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    huge = d.thp.huge_size;
    reps = reps ? reps : d.quick ? 3 : 7;
    /* Fault in the result arrays now, not inside a timed step. */
    memset(touch_ns, 0, sizeof touch_ns);
    memset(pf1_ns, 0, sizeof pf1_ns);
    memset(ours_ns, 0, sizeof ours_ns);
    uint64_t fallback = d.quick ? UINT64_C(16) << 20 : UINT64_C(128) << 20;
    budget_read(&d.budget);
    enum budget_choice got = budget_choose_size(&d.budget, asked, fallback, huge, 2, 2, &bytes,
                                                d.why_size, sizeof d.why_size);
    if (got == BUDGET_REFUSED)
        cli_usage_error(&info, "--size: more than this process may use: %s", d.why_size);
    size = (size_t)bytes;
    d.pages = (int64_t)(size / page);
    d.shrunk = got == BUDGET_SHRUNK;

    int64_t free_pages = procfs_read_one("/proc/meminfo", "HugePages_Free");
    int64_t hugepagesize_kb = procfs_read_one("/proc/meminfo", "Hugepagesize");
    d.huge_free = free_pages;
    if (free_pages > 0 && hugepagesize_kb * 1024 == (int64_t)huge) {
        uint64_t pool = (uint64_t)free_pages * huge;
        hsize = pool < size ? (size_t)pool : size;
    }
    struct step steps[ALL_STEPS];
    int nsteps = 0;
    for (size_t i = 0; i < ALL_STEPS; i++)
        if (all_steps[i].lesson != hugetlb_fault || hsize > 0)
            steps[nsteps++] = all_steps[i];

    narrate_init(&n, info.name, &common, nsteps);
    if (got == BUDGET_NONE_FITS)
        narrate_finish(&n, RESULT_SKIP, "not even 4 MiB fit in half of what this process may use: "
                                        "%s. Free some memory or raise that limit.", d.why_size);
    narrate_observe(&n, observe, NULL);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n,
                  "fault-cost (PID %ld): %s per repetition (%lld pages of %zu KiB), %d "
                  "repetitions of each.%s\nTHP here: %s. hugetlb: %lld free huge pages%s.",
                  (long)getpid(), size_text, (long long)d.pages, page / 1024, reps,
                  d.shrunk ? " Less than the default: this process may not use more." : "",
                  d.thp.mode[0] ? d.thp.mode : "not built in", (long long)free_pages,
                  hsize ? "" : ", so no hugetlb row (as root: echo N > /proc/sys/vm/nr_hugepages)");
    for (int i = 0; i < nsteps; i++) {
        narrate_begin(&n, steps[i].id, steps[i].title);
        err = 0;
        if (steps[i].ask)
            steps[i].ask();
        steps[i].lesson();
        if (p == MAP_FAILED) {
            err = errno;
            if (steps[i].lesson != hugetlb_fault)
                narrate_fail_errno(&n, "mmap", err);
        }
        if (i == 0) {
            narrate_fact_int(&n, "size_kB", (int64_t)(size / 1024));
            if (d.shrunk)
                narrate_fact(&n, "budget", "%s", d.why_size);
        }
        steps[i].explain();
        narrate_end_step(&n);
    }
    narrate_summary(&n, "write_fault_ns", d.write.median);
    narrate_summary(&n, "zeroing_ns", d.floor.median);
    narrate_finish(&n, RESULT_OK, "every figure above was measured in this run, %d repetitions "
                                  "of %s each.", reps, size_text);
}
