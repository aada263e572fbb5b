/* SPDX-License-Identifier: MIT */
/* fault-cost: what a first touch costs, per 4 KiB page, on this machine.
 *
 * The lesson is the functions just below, in the order they run: each times
 * `reps` repetitions over `size` bytes into ns[], for the median and the spread
 * (now_ns and the figures: lib/kernel/fault-clock.h). Huge pages: huge-fault-cost. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "fault-timing.h"
#include "narrate.h"
#include "needs.h"
#include "thp.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* ---- The lesson ---- */

static size_t size, page;             /* bytes timed per repetition; the base page */
static int reps;
static char *p;
static int ret;                       /* madvise's result */
static char c;                        /* what the reads saw */
static int64_t ns[FAULT_MAX_REPS], pf1_ns[FAULT_MAX_REPS]; /* each repetition's; page_fault1's */
static struct narrator n;

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

static struct fault_timing t;          /* sizes, repetitions, each step's faults */
static struct {
    struct fault_figures write, floor;  /* kept for the ratios of later steps */
    struct thp thp;
} d;

/* The step's figures as facts (fault-timing.h); faults_each > 0: one fault per
 * page touched was expected, that many in each repetition. */
static struct fault_figures report(int64_t *rep_ns, int64_t faults_each)
{
    struct fault_figures f = fault_timing_report(&n, &t, p, rep_ns, t.pages);
    long long expected = (long long)reps * faults_each, extra = t.faults - expected;
    if (faults_each > 0)
        CONCLUDE(&n, "one_fault_per_page", extra >= 0 && extra <= 4,
                 VALUES(VAL("minor_faults", t.faults), VAL("expected", expected)),
                 "%lld minor faults: one for each of the %lld pages touched in each of %d "
                 "repetitions%s.", (long long)t.faults, (long long)faults_each, reps,
                 extra ? ", and a few for this program's own code, paged in on first use" : "");
    return f;
}

static void explain_zeroing(void)
{
    fault_timing_size_facts(&n, &t);
    d.floor = report(ns, 0);
    t.floor_ns = d.floor.median;
    long long extra = t.faults - t.pages;
    CONCLUDE(&n, "faults_only_before_timing", extra >= 0 && extra <= 4,
             VALUES(VAL("minor_faults", t.faults), VAL("pages", t.pages)),
             "%lld minor faults: one a page, from the loop that made them resident before the "
             "clock started%s; memset itself faulted nothing. Every new anonymous page must be "
             "zeroed like this: the floor under the faults below.", (long long)t.faults,
             extra ? ", and a few for this program's own code" : "");
}

static void explain_write(void)
{
    d.write = report(ns, t.pages);
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
    long long read = report(ns, t.pages).median, w = d.write.median;
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
    long long med = report(ns, t.pages).median, w = d.write.median;
    CONCLUDE(&n, "populate_cheaper_than_faults", med < w,
             VALUES(VAL("populate_ns", med), VAL("write_ns", w)),
             "Filled in one call, without a trap per page: %lld ns a page against %lld for a "
             "write fault each.", med, w);
    /* populate_write's memory is MADV_NOHUGEPAGE: THP 'always' cannot give it huge pages.
     * map_populate's it can, and the count tells: one fault maps a whole huge page. */
    bool always = strcmp(d.thp.mode, "always") == 0;
    long long touched = (long long)reps * t.pages, faults = t.faults;
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

static void explain_page_fault1(void)
{
    struct fault_figures ours = fault_figures_of(ns, reps, t.pages);
    long long theirs = report(pf1_ns, 2 * t.pages).median;
    long long diff = theirs ? (ours.median - theirs) * 1000 / theirs : 0;
    narrate_fact_int(&n, "ours_ns_per_page_median", ours.median);
    narrate_fact_int(&n, "ours_ns_per_page_min", ours.min);
    narrate_fact_int(&n, "ours_ns_per_page_max", ours.max);
    narrate_fact_int(&n, "difference_per_mille", diff);
    /* Our round is MADV_NOHUGEPAGE, one fault a page: fewer faults than pages are
     * page_fault1's, whose mmap THP 'always' may give huge pages, one fault each. */
    long long faults = t.faults, touched = 2LL * reps * t.pages;
    bool always = strcmp(d.thp.mode, "always") == 0;
    if (CONCLUDE(&n, "page_fault1_got_huge_pages", faults < touched,
                 VALUES(VAL("thp_always", always), VAL("minor_faults", faults),
                        VAL("pages", touched)),
                 "The two rounds took %lld faults for %lld pages: page_fault1's mmap (no "
                 "MADV_NOHUGEPAGE) got huge pages, THP being '%s', so its %lld ns a page and "
                 "the write-fault round's %lld are not comparable.", faults, touched,
                 d.thp.mode[0] ? d.thp.mode : "not built in", theirs, ours.median))
        return;
    bool near = diff >= -100 && diff <= 100;
    CONCLUDE(&n, near ? "agrees_with_page_fault1" : "differs_from_page_fault1", theirs > 0,
             VALUES(VAL("ours_ns", ours.median), VAL("page_fault1_ns", theirs)),
             "page_fault1's round (mmap, a write to every page, munmap) cost %lld ns a page, and "
             "the write-fault step's round, timed alternately with it, %lld: %s", theirs,
             ours.median, near ? "within 10 %." : "more than 10 % apart in this run. The spread "
             "of each (above) says how much the machine's other work moved them; run again.");
}

/* The lesson as a table, from which the step count comes. A ratio answers the
 * --predict questions, not a finding: explain_write and explain_read answer them. */
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
    {"page_fault1", "will-it-scale's page_fault1, side by side", page_fault1, explain_page_fault1,
     NO_QUESTION},
};

/* ---- Options, sizes and the machine ---- */

static const struct demo_info info = {
    .name = "fault-cost",
    .summary =
        "Times the first touch of anonymous memory, per 4 KiB page: a write fault,\n"
        "a read fault (the zero page), MAP_POPULATE, MADV_POPULATE_WRITE, and the\n"
        "floor under them all, zeroing a page already resident; then will-it-scale's\n"
        "page_fault1 method side by side. Median and spread of several repetitions.\n"
        "Huge pages (THP, hugetlb): huge-fault-cost.",
    DEMO_OPTIONS(fault_timing_options),
    .examples = "  fault-cost                 128 MiB (as page_fault1), 7 repetitions of each\n"
                "  fault-cost --quick         16 MiB, 3 repetitions\n"
                "  fault-cost --json | jq '.facts.ns_per_page_median? // empty'\n",
    .lessons = LESSONS(TABLE(steps)),
};

int main(int argc, char **argv)
{
    struct cli_common common;
    t.info = &info;
    cli_no_positionals(&info, argc, argv,
                       cli_parse(argc, argv, &info, &common, fault_timing_option, &t));
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    t.page = page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    memset(ns, 0, sizeof ns); /* fault the result arrays in now, not in a timed step */
    memset(pf1_ns, 0, sizeof pf1_ns);
    fault_timing_size(&t, &n, d.thp.huge_size);
    size = t.size;
    reps = t.reps;
    narrate_observe(&n, fault_timing_observe, &t);
    narrate_intro(&n,
                  "fault-cost (PID %ld): %s per repetition (%lld pages of %zu KiB), %d "
                  "repetitions of each.%s\nTHP here: %s.",
                  (long)getpid(), t.size_text, (long long)t.pages, page / 1024, reps,
                  t.shrunk ? " Less than the default: this process may not use more." : "",
                  d.thp.mode[0] ? d.thp.mode : "not built in");
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_summary(&n, "write_fault_ns", d.write.median);
    narrate_summary(&n, "zeroing_ns", d.floor.median);
    narrate_finish(&n, RESULT_OK, "every figure above was measured in this run, %d repetitions "
                                  "of %s each.", reps, t.size_text);
}
