/* SPDX-License-Identifier: MIT */
/* fault-cost: what a first touch costs, per 4 KiB page, on this machine.
 *
 * The lesson is the functions just below, in the order they run: each times
 * `reps` repetitions over `size` bytes into ns[], for the median and the spread. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "narrate.h"
#include "needs.h"
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
static int ret;                       /* madvise's result */
static char c;                        /* what the reads saw */
static int64_t ns[MAX_REPS], pf1_ns[MAX_REPS]; /* each repetition's time; page_fault1's */
static struct narrator n;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The floor: the pages are resident before the clock starts. */
LESSON_FN static void zeroing(void)
{
    LESSON(&n, p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
           if (p != MAP_FAILED) {
               madvise(p, size, MADV_NOHUGEPAGE);
               for (size_t off = 0; off < size; off += page) p[off] = 1;
               for (int r = 0; r < reps; r++) {
                   int64_t start = now_ns();
                   memset(p, 0, size);
                   ns[r] = now_ns() - start;
               }
               munmap(p, size);
           });
}

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

LESSON_FN static void read_fault(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        int64_t start = now_ns();
        for (size_t off = 0; off < size; off += page) c |= FORCE_READ(p[off]);
        ns[r] = now_ns() - start;
        munmap(p, size);
    });
}

LESSON_FN static void map_populate(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        int64_t start = now_ns();
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        ns[r] = now_ns() - start;
        if (p == MAP_FAILED) break;
        munmap(p, size);
    });
}

LESSON_FN static void populate_write(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        int64_t start = now_ns();
        ret = madvise(p, size, MADV_POPULATE_WRITE);
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

/* will-it-scale's page_fault1, one process: what it counts is the whole
 * round - mmap, a write to every page, munmap - per page. Each repetition
 * runs it and then the write-fault step's round, one after the other, so
 * that whatever else the machine does meanwhile weighs on both alike. */
LESSON_FN static void page_fault1(void)
{
    LESSON(&n, for (int r = 0; r < reps; r++) {
        int64_t start = now_ns();
        char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if ((p = m) == MAP_FAILED) break;
        for (size_t i = 0; i < size; i += page) m[i] = 0;
        munmap(m, size);
        int64_t mid = now_ns();
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        madvise(p, size, MADV_NOHUGEPAGE);
        for (size_t off = 0; off < size; off += page) p[off] = 1;
        munmap(p, size);
        ns[r] = now_ns() - mid;
        pf1_ns[r] = mid - start;
    });
}

/* ---- What each step measured, and what it shows ---- */

struct figures {
    long long median, min, max, first;  /* ns per 4 KiB page */
};

static struct {
    int64_t faults;                     /* minor faults: so far, then the lesson's own */
    int64_t pages;                      /* 4 KiB pages touched per repetition */
    struct figures write, floor;        /* kept for the ratios of later steps */
    struct thp thp;
    bool shrunk, quick;
    char why_size[400];
    long long huge_free;                /* HugePages_Free when the demo started */
} d;

static void observe(void *ctx, bool after)
{
    (void)ctx;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    d.faults = ru.ru_minflt - (after ? d.faults : 0);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Per 4 KiB page, of a step's repetitions: their times (rep_ns, which this sorts) / pages. */
static struct figures figures_of(int64_t *rep_ns, int64_t pages)
{
    struct figures f = {.first = rep_ns[0] / pages};
    qsort(rep_ns, (size_t)reps, sizeof rep_ns[0], cmp64);
    f.median = rep_ns[reps / 2] / pages, f.min = rep_ns[0] / pages;
    f.max = rep_ns[reps - 1] / pages;
    return f;
}

/* The step's figures as facts; faults_each > 0: one fault per page touched
 * was expected, that many in each repetition. Every step but hugetlb's must have
 * got its memory: a failed mmap ends its loop, and LESSON kept its errno. */
static struct figures report(int64_t *rep_ns, int64_t pages, int64_t faults_each)
{
    if (p == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", n.lesson_errno);
    struct figures f = figures_of(rep_ns, pages);
    narrate_fact_int(&n, "reps", reps);
    narrate_fact_int(&n, "pages_per_rep", pages);
    narrate_fact_int(&n, "ns_per_page_median", f.median);
    narrate_fact_int(&n, "ns_per_page_min", f.min);
    narrate_fact_int(&n, "ns_per_page_max", f.max);
    narrate_fact_int(&n, "ns_per_page_first", f.first);
    narrate_fact_int(&n, "minor_faults", d.faults);
    if (d.floor.median > 0)
        narrate_fact_int(&n, "ratio_to_zeroing_x100", f.median * 100 / d.floor.median);
    long long expected = (long long)reps * faults_each, extra = d.faults - expected;
    if (faults_each > 0)
        CONCLUDE(&n, "one_fault_per_page", extra >= 0 && extra <= 4,
                 VALUES(VAL("minor_faults", d.faults), VAL("expected", expected)),
                 "%lld minor faults: one for each of the %lld pages touched in each of %d "
                 "repetitions%s.", (long long)d.faults, (long long)faults_each, reps,
                 extra ? ", and a few for this program's own code, paged in on first use" : "");
    return f;
}

static void explain_zeroing(void)
{
    narrate_fact_int(&n, "size_kB", (int64_t)(size / 1024));
    if (d.shrunk)
        narrate_fact(&n, "budget", "%s", d.why_size);
    d.floor = report(ns, d.pages, 0);
    long long extra = d.faults - d.pages;
    CONCLUDE(&n, "faults_only_before_timing", extra >= 0 && extra <= 4,
             VALUES(VAL("minor_faults", d.faults), VAL("pages", d.pages)),
             "%lld minor faults: one a page, from the loop that made them resident before the "
             "clock started%s; memset itself faulted nothing. Every new anonymous page must be "
             "zeroed like this: the floor under the faults below.", (long long)d.faults,
             extra ? ", and a few for this program's own code" : "");
}

static void explain_write(void)
{
    d.write = report(ns, d.pages, d.pages);
    long long first = d.write.first, med = d.write.median, z = d.floor.median;
    long long x100 = z > 0 ? med * 100 / z : 0; /* the arguments are computed even if z is 0 */
    CONCLUDE(&n, "fault_dearer_than_zeroing", z > 0 && med > z,
             VALUES(VAL("write_ns", med), VAL("zeroing_ns", z)),
             "A write fault cost %lld ns, %lld.%02lld times the %lld ns of zeroing a resident "
             "page: the rest is the trap, the page allocator, the page table and the accounting.",
             med, x100 / 100, x100 % 100, z);
    narrate_answer(&n, z > 0 ? (med < 2 * z ? 0 : med <= 10 * z ? 1 : 2) : -1,
                   "fault_dearer_than_zeroing");
    bool cold = first * 4 > med * 5; /* more than a quarter above the median */
    if (!CONCLUDE(&n, "first_rep_cold", cold,
                  VALUES(VAL("ns_per_page_first", first), VAL("ns_per_page_median", med)),
                  "The first repetition cost %lld ns a page, more than a quarter above the "
                  "median of %lld: later ones reuse the frames munmap has just given back, "
                  "still warm. In a virtual machine a cold first touch can cost far more, when "
                  "the host took freed memory back.", first, med))
        CONCLUDE(&n, "first_rep_warm", !cold,
                 VALUES(VAL("ns_per_page_first", first), VAL("ns_per_page_median", med)),
                 "The first repetition cost %lld ns a page, within a quarter of the median: "
                 "nothing here was cold enough to stand out.", first);
}

static void explain_read(void)
{
    long long read = report(ns, d.pages, d.pages).median, w = d.write.median;
    int choice = read * 10 < w * 9 ? 0 : read * 10 <= w * 11 ? 1 : 2;
    CONCLUDE(&n, "read_vs_write", w > 0,
             VALUES(VAL("read_ns", read), VAL("write_ns", w), VAL("choice", choice)),
             "A read fault maps the shared zero page: nothing to allocate or zero. Here it cost "
             "%lld ns against %lld ns for a write fault.", read, w);
    narrate_answer(&n, w > 0 ? choice : -1, "read_vs_write");
}

/* map_populate's, and populate_write's when madvise knew the advice. */
static void explain_populate(void)
{
    long long med = report(ns, d.pages, d.pages).median, w = d.write.median;
    CONCLUDE(&n, "populate_cheaper_than_faults", med < w,
             VALUES(VAL("populate_ns", med), VAL("write_ns", w)),
             "Filled in one call, without a trap per page: %lld ns a page against %lld for a "
             "write fault each.", med, w);
    /* populate_write's memory is MADV_NOHUGEPAGE: THP 'always' cannot give it huge pages.
     * map_populate's it can, and the count tells: one fault maps a whole huge page. */
    bool always = strcmp(d.thp.mode, "always") == 0;
    long long touched = (long long)reps * d.pages, faults = d.faults;
    bool huge_mapped = faults < touched;
    CONCLUDE(&n, "thp_always_may_apply", always && strcmp(n.id, "map_populate") == 0,
             VALUES(VAL("thp_always", always), VAL("huge_pages_mapped", huge_mapped),
                    VAL("minor_faults", faults), VAL("pages", touched)),
             "THP is 'always' here: MAP_POPULATE took %lld faults for %lld pages, so %s.", faults,
             touched, huge_mapped ? "it mapped huge pages and this row is not a base-page figure"
                                  : "no huge page was mapped and this row is a base-page figure");
}

static void explain_populate_write(void)
{
    narrate_fact_int(&n, "madvise_result", ret);
    bool failed = ret != 0 && p != MAP_FAILED;
    if (CONCLUDE(&n, "populate_write_unsupported", failed && n.lesson_errno == EINVAL,
                 VALUES(VAL("errno", n.lesson_errno)),
                 "madvise answered EINVAL: MADV_POPULATE_WRITE needs Linux 5.14 or later."))
        return;
    if (failed)
        narrate_fail_errno(&n, "madvise(MADV_POPULATE_WRITE)", n.lesson_errno);
    explain_populate();
}

static void explain_thp(void)
{
    long long med = report(ns, d.pages, 0).median, faults = d.faults;
    long long huge_pages = (long long)reps * d.pages / (int64_t)(huge / page);
    if (!CONCLUDE(&n, "one_fault_per_huge_page", faults == huge_pages,
                  VALUES(VAL("minor_faults", faults), VAL("huge_pages", huge_pages)),
                  "%lld faults, one per %zu kB huge page: %lld ns per 4 KiB of it, against %lld "
                  "ns for a base-page write fault.", faults, huge / 1024, med, d.write.median))
        CONCLUDE(&n, "thp_not_used", faults >= reps * d.pages, VALUES(VAL("minor_faults", faults)),
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
    long long med = report(ns, (int64_t)(hsize / page), 0).median;
    CONCLUDE(&n, "hugetlb_one_fault_per_page", d.faults == reps * (int64_t)(hsize / huge),
             VALUES(VAL("minor_faults", d.faults)),
             "One fault per huge page from the pool: %lld ns per 4 KiB of it.", med);
}

static void explain_page_fault1(void)
{
    struct figures ours = figures_of(ns, d.pages);
    long long theirs = report(pf1_ns, d.pages, 2 * d.pages).median;
    long long diff = theirs ? (ours.median - theirs) * 1000 / theirs : 0;
    narrate_fact_int(&n, "ours_ns_per_page_median", ours.median);
    narrate_fact_int(&n, "ours_ns_per_page_min", ours.min);
    narrate_fact_int(&n, "ours_ns_per_page_max", ours.max);
    narrate_fact_int(&n, "difference_per_mille", diff);
    bool near = diff >= -100 && diff <= 100;
    CONCLUDE(&n, near ? "agrees_with_page_fault1" : "differs_from_page_fault1", theirs > 0,
             VALUES(VAL("ours_ns", ours.median), VAL("page_fault1_ns", theirs)),
             "page_fault1's round (mmap, a write to every page, munmap) cost %lld ns a page, and "
             "the write-fault step's round, timed alternately with it, %lld: %s", theirs,
             ours.median, near ? "within 10 %." : "more than 10 % apart in this run. The spread "
             "of each (above) says how much the machine's other work moved them; run again.");
}

/* The lesson as a table, from which the step count comes (the hugetlb row
 * runs only when the pool has free pages). A ratio answers the --predict
 * questions, not a finding: explain_write and explain_read answer them. */
static const struct narrate_lesson steps[] = {
    {"zeroing", "The floor: zeroing pages already resident", zeroing, explain_zeroing, NO_QUESTION},
    {"write_fault", "Write fault: the first write to each page", write_fault, explain_write,
     "A write fault must zero its page too. It costs, in zeroing floors:",
     {"under 2", "2 to 10", "more than 10"}, {NULL}},
    {"read_fault", "Read fault: the first read maps the zero page", read_fault, explain_read,
     "Compared with a write fault, a read fault is:", {"cheaper", "within 10 % of it", "dearer"},
     {NULL}},
    {"map_populate", "MAP_POPULATE: every page filled at mmap", map_populate, explain_populate,
     NO_QUESTION},
    {"populate_write", "MADV_POPULATE_WRITE: filled by one madvise", populate_write,
     explain_populate_write, NO_QUESTION},
    {"thp_fault", "Transparent huge pages: one fault per huge page", thp_fault, explain_thp,
     NO_QUESTION},
    {"hugetlb_fault", "hugetlb: a page from the pool", hugetlb_fault, explain_hugetlb, NO_QUESTION},
    {"page_fault1", "will-it-scale's page_fault1, side by side", page_fault1, explain_page_fault1,
     NO_QUESTION},
};

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
    DEMO_OPTIONS(options),
    .examples = "  fault-cost                 128 MiB, 7 repetitions of each\n"
                "  fault-cost --quick         16 MiB, 3 repetitions\n"
                "  fault-cost --json | jq '.facts.ns_per_page_median? // empty'\n",
    .lessons = LESSONS(TABLE(steps)),
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
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, &asked));
    demo_start(&n, &info, &common, 0); /* first: a killed run's pool is repaired before sizing */
    page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    huge = d.thp.huge_size;
    reps = reps ? reps : d.quick ? 3 : 7;
    memset(ns, 0, sizeof ns); /* fault the result arrays in now, not in a timed step */
    memset(pf1_ns, 0, sizeof pf1_ns);
    struct budget budget;
    budget_read(&budget);
    enum budget_choice got = budget_choose_size(&budget, asked, (d.quick ? 16u : 128u) << 20,
                                                huge, 2, 2, &bytes, d.why_size, sizeof d.why_size);
    if (got == BUDGET_REFUSED)
        cli_usage_error(&info, "--size: more than this process may use: %s", d.why_size);
    size = (size_t)bytes;
    d.pages = (int64_t)(size / page);
    d.shrunk = got == BUDGET_SHRUNK;
    /* hugetlb: at most what the pool has free now, of the size THP uses. */
    d.huge_free = procfs_read_one("/proc/meminfo", "HugePages_Free");
    if (d.huge_free > 0 && procfs_read_one("/proc/meminfo", "Hugepagesize") * 1024 == (int64_t)huge)
        hsize = (uint64_t)d.huge_free * huge < size ? (size_t)d.huge_free * huge : size;
    struct narrate_lesson run[NARRATE_COUNT(steps)];
    for (int i = 0; i < NARRATE_COUNT(steps); i++)
        if (steps[i].lesson != hugetlb_fault || hsize > 0)
            run[n.nsteps++] = steps[i];
    if (got == BUDGET_NONE_FITS)
        narrate_finish(&n, RESULT_SKIP, "not even 4 MiB fit in half of what this process may use: "
                                        "%s. Free some memory or raise that limit.", d.why_size);
    narrate_observe(&n, observe, NULL);
    char size_text[32];
    format_size(size, size_text, sizeof size_text);
    narrate_intro(&n,
                  "fault-cost (PID %ld): %s per repetition (%lld pages of %zu KiB), %d "
                  "repetitions of each.%s\nTHP here: %s. hugetlb: %lld free huge pages%s",
                  (long)getpid(), size_text, (long long)d.pages, page / 1024, reps,
                  d.shrunk ? " Less than the default: this process may not use more." : "",
                  d.thp.mode[0] ? d.thp.mode : "not built in", (long long)d.huge_free,
                  /* the command on a line of its own: a student copies it whole */
                  hsize ? "." : ", so no hugetlb row. To reserve N, as root (and 0 after):\n"
                                "    echo N > /proc/sys/vm/nr_hugepages");
    narrate_run(&n, run, n.nsteps);
    narrate_summary(&n, "write_fault_ns", d.write.median);
    narrate_summary(&n, "zeroing_ns", d.floor.median);
    narrate_finish(&n, RESULT_OK, "every figure above was measured in this run, %d repetitions "
                                  "of %s each.", reps, size_text);
}
