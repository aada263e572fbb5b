/* SPDX-License-Identifier: MIT */
/* mmap-anon: an anonymous private mapping is only address space until it is
 * touched.
 *
 * The lesson is the seven functions just below, in the order they run: each
 * LESSON(...) prints its code exactly as written here, runs it, and the
 * measurements are taken just before and just after. Then come the
 * explanations (what each step's numbers show), then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "commit.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "snapshot.h"
#include "thp.h"

/* ---- The lesson ---- */

static char *guard;        /* the PROT_NONE reservation: guard pages around p */
static char *p;            /* the mapping the lesson is about */
static size_t size;        /* its length: whole pages (whole huge pages with --thp) */
static size_t span;        /* the reservation: size, alignment slack and guards */
static size_t page;        /* the base page size, from sysconf */
static size_t align;       /* where p starts: page, or the huge-page size with --thp */
static bool want_thp;      /* --thp */
static int advised;        /* madvise's result */
static char c;             /* the value read in step 5 */

static char *align_up(char *a, size_t to)
{
    return (char *)(((uintptr_t)a + to - 1) & ~(uintptr_t)(to - 1));
}

static struct narrator n;

/* 1. Address space only: PROT_NONE cannot be touched, so it is never charged.
 *    It keeps p a mapping of its own: a bare mmap can merge with a
 *    neighbouring anonymous mapping, and smaps would show someone else's Rss. */
LESSON_FN static void reserve(void)
{
    LESSON(&n, guard = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0););
}

/* 2. The mapping, inside the reservation: MAP_FIXED replaces that part of it. */
LESSON_FN static void map(void)
{
    LESSON(&n, p = mmap(align_up(guard + page, align), size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0););
    narrate_watch(&n, (uintptr_t)p);
}

/* 3. Base pages for the lesson, or huge pages with --thp. */
LESSON_FN static void advise(void)
{
    LESSON(&n, advised = madvise(p, size, want_thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE););
}

/* 4. The first write to a page faults. */
LESSON_FN static void write_one(void)
{
    LESSON(&n, p[16] = 'a';);
}

/* 5. The first read of another page faults too. */
LESSON_FN static void read_other(void)
{
    LESSON(&n, c = FORCE_READ(p[size / 2]););
}

/* 6. Every page. */
LESSON_FN static void write_every_page(void)
{
    LESSON(&n, for (size_t off = 0; off < size; off += page) p[off] = 1;);
}

/* 7. Gone: the mapping, then the guards. */
LESSON_FN static void unmap(void)
{
    LESSON(&n, munmap(p, size); munmap(guard, span););
}

/* ---- What each step measured, and what it shows ---- */

struct demo {
    struct snapshot before, after;   /* taken by observe() around each LESSON */
    struct thp_counters vm_before, vm_after; /* /proc/vmstat, around the same */
    struct thp thp;                  /* the THP mode, huge-page size, use_zero_page */
    int64_t page_kb, huge_kb, size_kb;
    int lesson_errno;                /* errno just after the lesson's code */
    uint64_t requested;              /* --size as given (or the default) */
    struct budget budget;            /* what this process may use, and which limit binds */
    bool shrunk;                     /* the default size did not fit the budget */
    char why_size[400];              /* the budget's reason, when it decided the size */
};

static struct demo d;

/* The observer LESSON calls: the mapping at p (or the reservation, before
 * p exists), meminfo and the fault counters. vmstat is read outside the
 * snapshot's fault window, so reading it never counts as the step's fault. */
static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (after)
        d.lesson_errno = errno; /* before anything here can change it */
    uintptr_t at = 0;
    if (p && p != MAP_FAILED)
        at = (uintptr_t)p;
    else if (guard && guard != MAP_FAILED)
        at = (uintptr_t)align_up(guard + page, align); /* where p goes */
    if (!after) {
        thp_counters_read(&d.vm_before);
        snapshot_take_or_fail(&d.before, at, &n);
    } else {
        snapshot_take_or_fail(&d.after, at, &n);
        thp_counters_read(&d.vm_after);
    }
}

static int64_t delta(const char *key)
{
    return snapshot_delta0(&d.before, &d.after, key);
}

static int64_t after(const char *key)
{
    int64_t v = -1;
    return snapshot_get(&d.after, key, &v) ? v : -1;
}

/* A /proc/vmstat counter's row and its move (0 when absent). */
static int64_t vmstat_row(const char *key, int64_t before, int64_t after)
{
    narrate_value(&n, key, "", before >= 0, before, after >= 0, after);
    return before >= 0 && after >= 0 ? after - before : 0;
}

static void maps_fact(void)
{
    char maps[512];
    smaps_format_header(&d.after.entry, maps, sizeof maps);
    narrate_fact(&n, "maps", "%s", maps);
}

static void explain_reserve(void)
{
    if (guard == MAP_FAILED)
        narrate_fail_errno(&n, "mmap (the PROT_NONE reservation)", d.lesson_errno);
    maps_fact();
    narrate_fact_int(&n, "span_kB", (int64_t)(span / 1024));
    narrate_fact_int(&n, "size_requested", (int64_t)d.requested);
    narrate_fact_int(&n, "size_kB", d.size_kb);
    if (d.budget.binding != BUDGET_NONE) {
        narrate_fact_int(&n, "budget_kB", (int64_t)(d.budget.bytes / 1024));
        narrate_fact(&n, "budget_limit", "%s", budget_limit_name(d.budget.binding));
    }
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Size", "Rss", "Committed_AS", NULL});
    if (FINDING(&n, "default_size_shrunk", d.shrunk, VAL("size_kB", d.size_kb),
                VAL("budget_kB", d.budget.bytes / 1024)))
        narrate_because(&n, "default_size_shrunk",
                        "The default 16 MiB is more than half of what this process may use (%s): "
                        "the lesson maps %lld kB instead.", d.why_size, (long long)d.size_kb);
    if (FINDING(&n, "reservation_without_memory",
                after("Rss") == 0 && after("Size") == (int64_t)(span / 1024),
                VAL("size_kB", after("Size")), VAL("rss_kB", after("Rss"))))
        narrate_because(&n, "reservation_without_memory",
                        "%lld kB of address space: the region's %lld kB, alignment and a guard "
                        "page on each side, and no memory behind it (Rss 0 kB).",
                        (long long)after("Size"), (long long)d.size_kb);
    commit_explain(&n, delta("Committed_AS"), 0, "reservation_not_charged",
                   "a PROT_NONE mapping can never be written, so the kernel charges nothing for it.");
}

static void explain_map(void)
{
    if (p == MAP_FAILED) /* it fitted the budget (main): a refusal now is the kernel's */
        narrate_fail_errno(&n, "mmap", d.lesson_errno);
    maps_fact();
    narrate_fact_int(&n, "size_kB", d.size_kb);
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Size", "Rss", "Committed_AS", NULL});

    char asked[32];
    if (d.requested % 1024) /* "9.8 KiB" would not be what was typed */
        snprintf(asked, sizeof asked, "%llu", (unsigned long long)d.requested);
    else
        format_size(d.requested, asked, sizeof asked);
    if (FINDING(&n, "size_rounded_up", !d.shrunk && (uint64_t)size != d.requested,
                VAL("size_requested", d.requested), VAL("size_kB", d.size_kb),
                VAL("unit_kB", align / 1024)))
        narrate_because(&n, "size_rounded_up",
                        "--size %s is not a whole number of %zu kB %s: the mapping is %lld kB, "
                        "rounded up to whole %s.", asked, align / 1024,
                        want_thp ? "huge pages" : "pages", (long long)d.size_kb,
                        want_thp ? "huge pages" : "pages");
    if (FINDING(&n, "vma_without_memory", after("Size") == d.size_kb && after("Rss") == 0,
                VAL("size_kB", after("Size")), VAL("rss_kB", after("Rss"))))
        narrate_because(&n, "vma_without_memory",
                        "The kernel made this part of the reservation a VMA of its own, %lld kB "
                        "readable and writable, and put no memory behind it: Rss is 0 kB.",
                        (long long)d.size_kb);
    commit_explain(&n, delta("Committed_AS"), d.size_kb, "commit_charged_size",
                   "a private writable mapping is charged its whole size against the commit "
                   "limit when it is made, before any page exists.");
}

static void explain_advise(void)
{
    narrate_fact(&n, "VmFlags", "%s", d.after.entry.vmflags);
    narrate_fact_int(&n, "madvise_result", advised);
    const char *flag = want_thp ? "hg" : "nh";
    if (FINDING(&n, "advice_in_vmflags", advised == 0 && smaps_has_flag(&d.after.entry, flag),
                VAL("madvise_result", advised)))
        narrate_because(&n, "advice_in_vmflags", "VmFlags now shows '%s': %s", flag,
                        want_thp ? "this mapping asks for transparent huge pages."
                                 : "this mapping opted out of transparent huge pages, so the "
                                   "kernel should fault it in one base page at a time, whatever "
                                   "the THP mode.");
    if (FINDING(&n, "no_thp_in_kernel", advised != 0 && d.thp.mode[0] == '\0',
                VAL("errno", d.lesson_errno)))
        narrate_because(&n, "no_thp_in_kernel",
                        "madvise failed (%s): this kernel has no transparent huge pages, so there "
                        "is nothing to turn on or off.", strerror(d.lesson_errno));
    else if (advised != 0)
        narrate_note(&n, "madvise failed: %s.", strerror(d.lesson_errno));
}

static void explain_write_one(void)
{
    int64_t rss = delta("Rss"), huge = delta("AnonHugePages"), faults = delta("minor_faults");
    int64_t dirty = delta("Private_Dirty");
    snapshot_report(&n, &d.before, &d.after,
                    (const char *const[]){"Rss", "Private_Dirty", "AnonHugePages", "minor_faults", NULL});
    if (FINDING(&n, "first_write_one_page",
                rss == d.page_kb && dirty == d.page_kb && faults == 1 && huge == 0,
                VAL("rss_delta_kB", rss), VAL("private_dirty_delta_kB", dirty),
                VAL("minor_faults", faults), VAL("page_kB", d.page_kb)))
        narrate_because(&n, "first_write_one_page",
                        "The first write faulted (1 minor fault: no disk involved). The kernel "
                        "took one free %lld KiB frame, filled it with zeroes and mapped it: Rss "
                        "and Private_Dirty grew by exactly one page.", (long long)d.page_kb);
    if (FINDING(&n, "first_write_one_huge_page", huge == d.huge_kb && rss == d.huge_kb && faults == 1,
                VAL("rss_delta_kB", rss), VAL("anon_huge_delta_kB", huge),
                VAL("minor_faults", faults), VAL("huge_page_kB", d.huge_kb)))
        narrate_because(&n, "first_write_one_huge_page",
                        "One write, one fault, and Rss grew by %lld kB: the kernel mapped one "
                        "whole %lld kB transparent huge page (AnonHugePages), zeroed in one go.",
                        (long long)rss, (long long)d.huge_kb);
    if (!want_thp &&
        FINDING(&n, "nohugepage_ignored", huge > 0, VAL("anon_huge_delta_kB", huge)))
        narrate_because(&n, "nohugepage_ignored",
                        "VmFlags says 'nh' (MADV_NOHUGEPAGE), yet AnonHugePages grew by %lld kB: "
                        "this kernel used a huge page anyway.", (long long)huge);
    if (!want_thp)
        return;
    int64_t fallback = vmstat_row("thp_fault_fallback", d.vm_before.fault_fallback,
                                  d.vm_after.fault_fallback);
    if (FINDING(&n, "thp_disabled_for_process", huge == 0 && d.thp.off_for_process,
                VAL("anon_huge_delta_kB", huge)))
        narrate_because(&n, "thp_disabled_for_process",
                        "No huge page: THP is disabled for this process (PR_SET_THP_DISABLE, "
                        "inherited from the program that started it), so MADV_HUGEPAGE has no "
                        "effect.");
    else if (FINDING(&n, "thp_never", huge == 0 && strcmp(d.thp.mode, "never") == 0,
                VAL("anon_huge_delta_kB", huge)))
        narrate_because(&n, "thp_never",
                        "No huge page: THP is 'never' in " THP_SYSFS "enabled, so MADV_HUGEPAGE "
                        "has no effect. As root: echo madvise > " THP_SYSFS "enabled");
    else if (FINDING(&n, "thp_fallback", huge == 0 && fallback > 0,
                     VAL("thp_fault_fallback_delta", fallback)))
        narrate_because(&n, "thp_fallback",
                        "No huge page although THP is '%s': thp_fault_fallback moved by %lld, the "
                        "kernel found no free %lld kB block and fell back to small pages.",
                        d.thp.mode, (long long)fallback, (long long)d.huge_kb);
}

static void explain_read_other(void)
{
    /* mincore over the huge page (--thp) or the one page read: a huge zero
     * page makes every base page of its block present. */
    size_t unit = want_thp ? d.thp.huge_size : page, pages = unit / page;
    unsigned char vec[4096];
    if (pages > sizeof vec || mincore(p + size / 2 / unit * unit, unit, vec) != 0)
        narrate_fail_errno(&n, "mincore", pages > sizeof vec ? E2BIG : errno);
    int64_t resident = 0, zero_alloc = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    int64_t rss = delta("Rss"), huge = delta("AnonHugePages"), faults = delta("minor_faults");
    narrate_fact_int(&n, "value_read", c);
    narrate_fact_int(&n, "mincore_pages", (int64_t)pages);
    narrate_fact_int(&n, "mincore_resident", resident);
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Rss", "minor_faults", NULL});
    if (want_thp) {
        narrate_fact_int(&n, "use_zero_page", d.thp.use_zero_page);
        zero_alloc = vmstat_row("thp_zero_page_alloc", d.vm_before.zero_page_alloc,
                                d.vm_after.zero_page_alloc);
    }
    bool zero_read = c == 0 && rss == 0 && huge == 0 && faults >= 1;
    if (FINDING(&n, "read_maps_zero_page", zero_read && resident == 1, VAL("rss_delta_kB", rss),
                VAL("minor_faults", faults), VAL("mincore_resident", resident)))
        narrate_because(&n, "read_maps_zero_page",
                        "The read faulted (%lld minor fault%s) and returned 0, yet Rss did not "
                        "grow: the kernel mapped the shared zero page, one read-only page of "
                        "zeroes that all processes share. mincore counts the page as present "
                        "(%lld of %zu); smaps does not count the zero page in Rss.",
                        (long long)faults, faults == 1 ? "" : "s", (long long)resident, pages);
    if (FINDING(&n, "read_maps_huge_zero_page",
                zero_read && faults == 1 && pages > 1 && resident == (int64_t)pages,
                VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                VAL("mincore_resident", resident), VAL("use_zero_page", d.thp.use_zero_page)))
        narrate_because(&n, "read_maps_huge_zero_page",
                        "One read, one fault, Rss +0 kB, and mincore now counts all %zu base "
                        "pages of this %lld kB block as present: the kernel mapped the huge zero "
                        "page, a shared read-only %lld kB page of zeroes, with one entry.",
                        pages, (long long)d.huge_kb, (long long)d.huge_kb);
    bool huge_zero = narrate_held(&n, "read_maps_huge_zero_page");
    if (huge_zero && FINDING(&n, "huge_zero_page_allocated", zero_alloc > 0,
                             VAL("thp_zero_page_alloc_delta", zero_alloc)))
        narrate_because(&n, "huge_zero_page_allocated",
                        "thp_zero_page_alloc moved by %lld: no process had it, so this read made "
                        "the kernel allocate the huge zero page.", (long long)zero_alloc);
    else if (huge_zero && FINDING(&n, "huge_zero_page_existed", zero_alloc == 0,
                                  VAL("thp_zero_page_alloc_delta", 0)))
        narrate_because(&n, "huge_zero_page_existed",
                        "thp_zero_page_alloc did not move: the huge zero page already existed, "
                        "and this process now maps it too.");
    if (FINDING(&n, "read_allocated_memory", rss > 0, VAL("rss_delta_kB", rss),
                VAL("anon_huge_delta_kB", huge), VAL("use_zero_page", d.thp.use_zero_page)))
        narrate_because(&n, "read_allocated_memory",
                        "The read faulted and Rss grew by %lld kB (AnonHugePages %+lld kB): it "
                        "got memory of its own, not a zero page%s.", (long long)rss,
                        (long long)huge, d.thp.use_zero_page == 0 ? " (use_zero_page is 0)" : "");
}

static void explain_write_every_page(void)
{
    int64_t pages = d.size_kb / d.page_kb, huge_pages = d.size_kb / d.huge_kb;
    int64_t faults = delta("minor_faults"), size_kb = after("Size"), rss_kb = after("Rss");
    int64_t huge_kb = after("AnonHugePages");
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Size", "Rss", "Private_Dirty",
                                                                  "AnonHugePages", "minor_faults", NULL});
    if (FINDING(&n, "every_page_has_a_frame", rss_kb == size_kb, VAL("rss_kB", rss_kb),
                VAL("size_kB", size_kb)))
        narrate_because(&n, "every_page_has_a_frame",
                        "Every page now has a frame of its own: Rss equals Size (%lld kB).",
                        (long long)rss_kb);
    else
        narrate_note(&n, "Rss is %lld kB of a Size of %lld kB.", (long long)rss_kb,
                     (long long)size_kb);
    if (FINDING(&n, "one_fault_per_page_but_the_first", faults == pages - 1 && huge_kb <= 0,
                VAL("minor_faults", faults), VAL("pages", pages), VAL("anon_huge_kB", huge_kb)))
        narrate_because(&n, "one_fault_per_page_but_the_first",
                        "%lld minor faults for %lld pages of %lld kB: every page faulted once "
                        "except the one p[16] = 'a' wrote, and the one c = p[size / 2] read "
                        "faulted again to get a private copy of the zero page "
                        "(copy-on-write).%s",
                        (long long)faults, (long long)pages, (long long)d.page_kb,
                        want_thp ? " No huge pages: AnonHugePages is 0 kB." : "");
    else if (FINDING(&n, "one_fault_per_huge_page",
                     want_thp && faults == huge_pages - 1 && huge_kb == size_kb,
                     VAL("minor_faults", faults), VAL("huge_pages", huge_pages),
                     VAL("anon_huge_kB", huge_kb)))
        narrate_because(&n, "one_fault_per_huge_page",
                        "%lld minor faults for %lld huge pages of %lld kB: one fault mapped each "
                        "whole huge page, except the one p[16] = 'a' wrote; the block under the "
                        "huge zero page took one fault to get a huge page of its own.",
                        (long long)faults, (long long)huge_pages, (long long)d.huge_kb);
    else
        narrate_note(&n, "%lld minor faults for %lld pages of %lld kB; AnonHugePages %lld kB.",
                     (long long)faults, (long long)pages, (long long)d.page_kb,
                     (long long)(huge_kb < 0 ? 0 : huge_kb));
}

static void explain_unmap(void)
{
    snapshot_report(&n, &d.before, &d.after, (const char *const[]){"Rss", "Committed_AS", NULL});
    if (FINDING(&n, "mapping_gone", !d.after.mapped, VAL("rss_kB_after", 0)))
        narrate_because(&n, "mapping_gone", "The mapping is gone from smaps.");
    commit_explain(&n, delta("Committed_AS"), -d.size_kb, "commit_returned",
                   "munmap returns the whole charge, along with the frames.");
}

/* The lesson as a table: the step count is derived from it. With --predict
 * a step asks its question before its code runs; the finding named beside a
 * choice ('|': any of them) is what makes that choice the measured one. */
static const struct narrate_lesson steps[] = {
    {"reserve", "Reserve address space, with guard pages", reserve, explain_reserve,
     "By how much will Committed_AS move for this PROT_NONE reservation?",
     {"0 kB", "the reservation's size"}, {"reservation_not_charged"}},
    {"map", "Map private anonymous memory inside it", map, explain_map,
     "By how much will Committed_AS move for this read-write mapping?",
     {"0 kB: nothing is used yet", "the mapping's size"}, {NULL, "commit_charged_size"}},
    {"advise", "Say whether it may use huge pages", advise, explain_advise, NULL, {NULL}, {NULL}},
    {"write_one", "Write one byte into the first page", write_one, explain_write_one,
     "How much will Rss grow for this one-byte write?", {"0 kB", "one page", "one huge page"},
     {NULL, "first_write_one_page", "first_write_one_huge_page"}},
    {"read_other", "Read one byte of another, untouched page", read_other, explain_read_other,
     "How much will Rss grow for this read?", {"0 kB: a shared zero page", "it gets memory"},
     {"read_maps_zero_page|read_maps_huge_zero_page", "read_allocated_memory"}},
    {"write_every_page", "Write every page", write_every_page, explain_write_every_page,
     "How many minor faults will this loop take?",
     {"one per page", "one per page but one", "one per huge page but one"},
     {NULL, "one_fault_per_page_but_the_first", "one_fault_per_huge_page"}},
    {"unmap", "Unmap it", unmap, explain_unmap, "By how much will Committed_AS move at munmap?",
     {"0 kB", "minus the mapping's size"}, {NULL, "commit_returned"}},
};

/* ---- Options, sizes and the machine ---- */

enum { OPT_SIZE, OPT_THP };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE",
                  "how much to map (default 16M, less if this process may not use 32M; 8K to "
                  "1G, at most half of what it may use, since step 6 writes every page)"},
    [OPT_THP] = {"thp", NULL,
                 "ask for transparent huge pages (MADV_HUGEPAGE): one write adds a huge page; "
                 "the size is rounded up to whole huge pages, at least two"},
};

static const struct demo_info info = {
    .name = "mmap-anon",
    .summary =
        "Maps private anonymous memory and touches it one step at a time, showing\n"
        "after each step what /proc/self/smaps, /proc/meminfo and the fault counters\n"
        "say: mmap only reserves address space (and commit charge); the first write\n"
        "to a page faults in a zeroed frame; a first read maps the shared zero page.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .examples = "  mmap-anon                  the seven steps on 16 MiB\n"
                "  mmap-anon --step           pause before each step; watch smaps live\n"
                "  mmap-anon --size 64M --json | jq .delta\n"
                "  mmap-anon --thp            the same with 2 MiB transparent huge pages\n",
};

#define DEFAULT_SIZE (UINT64_C(16) << 20)
#define MAX_SIZE (UINT64_C(1) << 30)

struct settings {
    uint64_t size;
    bool size_given;
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    struct settings *s = ctx;
    if (index == OPT_SIZE) {
        s->size = cli_size_arg(&info, "--size", arg, UINT64_C(2) * 4096, MAX_SIZE);
        s->size_given = true;
    } else if (index == OPT_THP) {
        want_thp = true;
    }
}

/* The size: the one asked for (whole pages, or whole huge pages), which
 * must fit, or the default, which shrinks to fit; either in half of what
 * this process may use, since step 6 writes every page. */
static bool choose_size(const struct settings *set, size_t unit)
{
    if (set->size_given && want_thp && set->size < 2 * unit)
        cli_usage_error(&info, "--size: with --thp it must be at least %zu kB (two huge pages: one "
                               "to write, one to read)", 2 * unit / 1024);
    budget_read(&d.budget);
    d.requested = set->size_given ? set->size : DEFAULT_SIZE;
    uint64_t bytes;
    enum budget_choice got = budget_choose_size(&d.budget, set->size_given ? set->size : 0,
                                                DEFAULT_SIZE, unit, 2, 2, &bytes, d.why_size,
                                                sizeof d.why_size);
    char asked[32];
    format_size(set->size, asked, sizeof asked);
    if (got == BUDGET_REFUSED)
        cli_usage_error(&info, "--size: %s is more than this process may use: %s", asked,
                        d.why_size);
    size = (size_t)bytes;
    d.shrunk = got == BUDGET_SHRUNK;
    return got != BUDGET_NONE_FITS;
}

int main(int argc, char **argv)
{
    struct settings set = {0};
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &set);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);

    page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    align = want_thp ? d.thp.huge_size : page;
    bool fits = choose_size(&set, align);
    span = size + align + page; /* guard page, slack up to `align`, size, guard page */
    d.page_kb = (int64_t)(page / 1024);
    d.huge_kb = (int64_t)(d.thp.huge_size / 1024);
    d.size_kb = (int64_t)(size / 1024);

    narrate_init(&n, info.name, &common, NARRATE_COUNT(steps));
    if (!fits)
        narrate_finish(&n, RESULT_SKIP, "not even two %s fit in half of what this process may "
                                        "use: %s. Free some memory or raise that limit.",
                       want_thp ? "huge pages" : "pages", d.why_size);
    if (want_thp && d.thp.mode[0] == '\0')
        narrate_finish(&n, RESULT_SKIP, "this kernel has no transparent huge pages (%s is "
                                        "missing); run without --thp", THP_SYSFS "enabled");
    if (want_thp)
        n.row_page_kb = 0; /* "+512 pages" is not what one huge page is */
    narrate_observe(&n, observe, NULL);

    char size_text[32], may_use[32];
    format_size(size, size_text, sizeof size_text);
    format_size(d.budget.bytes, may_use, sizeof may_use);
    narrate_intro(&n,
                  "mmap-anon (PID %ld): %s of private anonymous memory, %zu pages of %lld KiB.\n"
                  "This process may use %s now (%s); the lesson maps at most half.\n"
                  "Transparent huge pages here: %s; this run %s.",
                  (long)getpid(), size_text, size / page, (long long)d.page_kb,
                  d.budget.binding == BUDGET_NONE ? "what it finds" : may_use,
                  budget_limit_name(d.budget.binding), d.thp.mode[0] ? d.thp.mode : "not built in",
                  want_thp ? "asks for them with MADV_HUGEPAGE" : "opts out with MADV_NOHUGEPAGE");

    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK,
                   "%s mapped, touched one page at a time, unmapped; every number above was "
                   "measured in this run.", size_text);
}
