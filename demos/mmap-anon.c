/* SPDX-License-Identifier: MIT */
/* mmap-anon: an anonymous private mapping is only address space until it is touched. The lesson
 * is the seven LESSONs just below, in the order they run; then what they show, then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "commit.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "residency.h"
#include "snapshot-report.h"
#include "snapshot.h"
#include "thp.h"

/* ---- The lesson ---- */

static struct narrator n;
static char *guard;        /* the PROT_NONE reservation: guard pages around p */
static char *p;            /* the mapping the lesson is about */
static uint64_t size;      /* its length: whole pages (whole huge pages with --thp) */
static size_t span;        /* the reservation: size, alignment slack and guards */
static size_t page, align; /* the base page; where p starts: page, or the huge page with --thp */
static bool want_thp;      /* --thp */
static int advised;        /* madvise's result */
static char c;             /* the value read in step 5 */

static char *align_up(char *a, size_t to) { return (char *)(((uintptr_t)a + to - 1) & ~(to - 1)); }

/* 1. Address space only: PROT_NONE cannot be touched, so it is never charged.
 *    It keeps p a mapping of its own: a bare mmap can merge with a neighbour's. */
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

LESSON_FN static void advise(void)
{
    LESSON(&n, advised = madvise(p, size, want_thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE););
}

LESSON_FN static void write_one(void) { LESSON(&n, p[16] = 'a';); }
LESSON_FN static void read_other(void) { LESSON(&n, c = FORCE_READ(p[size / 2]);); }

LESSON_FN static void write_every_page(void)
{
    LESSON(&n, for (size_t off = 0; off < size; off += page) p[off] = 1;);
}

LESSON_FN static void unmap(void) { LESSON(&n, munmap(p, size); munmap(guard, span);); }

/* ---- What each step measured, and what it shows ---- */

#define KB(bytes) ((long long)(bytes) / 1024) /* as smaps counts; long long: printed as %lld */

static struct {
    struct snapshot before, after;           /* taken by observe() around each LESSON */
    struct thp_counters vm_before, vm_after; /* /proc/vmstat, around the same */
    struct thp thp;                          /* the THP mode, huge-page size, use_zero_page */
    const char *size_arg;                    /* --size as typed; NULL: the default */
    uint64_t requested;                      /* the size asked for, in bytes */
    struct budget budget;                    /* what this process may use, and which limit binds */
    enum budget_choice choice;               /* BUDGET_SHRUNK: the default did not fit */
    char why_size[400];                      /* the budget's reason, when it decided the size */
} d = {.requested = UINT64_C(16) << 20};

/* Snapshots of p (of the reservation until p exists); vmstat read outside their fault window. */
static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (!after)
        thp_counters_read(&d.vm_before);
    snapshot_take_or_fail(after ? &d.after : &d.before, (uintptr_t)(p ? p : guard), &n);
    if (after)
        thp_counters_read(&d.vm_after);
}

/* The step's rows (these keys always, and whatever else moved); a move; a value after it. */
#define ROWS(...) snapshot_report(&n, &d.before, &d.after, (const char *const[]){__VA_ARGS__, NULL})
#define DELTA(key) snapshot_delta0(&d.before, &d.after, key)
#define AFTER(key) snapshot_value(&d.after, key)

/* A /proc/vmstat counter's row and its move (0 when absent); VMSTAT_ROW: by its field. */
static long long vmstat_row(const char *key, int64_t before, int64_t after)
{
    narrate_value(&n, key, "", before >= 0, before, after >= 0, after);
    return before >= 0 && after >= 0 ? after - before : 0;
}
#define VMSTAT_ROW(key, field) vmstat_row(key, d.vm_before.field, d.vm_after.field)

/* Steps 1 and 2 (main fitted the size to the budget: a refusal here is the kernel's). */
static void explain_mapping(const char *call, bool failed, const char *id, const char *key,
                            long long kb, const char *what)
{
    if (failed)
        narrate_fail_errno(&n, call, n.lesson_errno);
    snapshot_maps_fact(&n, &d.after.entry);
    narrate_fact_int(&n, "size_kB", KB(size));
    ROWS("Size", "Rss", "Committed_AS");
    CONCLUDE(&n, id, AFTER("Size") == kb && AFTER("Rss") == 0,
             VALUES(VAL(key, AFTER("Size")), VAL("rss_kB", AFTER("Rss"))),
             "%lld kB of address space, %s, with no memory behind it: Rss is 0 kB.", kb, what);
}

static void explain_reserve(void)
{
    explain_mapping("mmap (the PROT_NONE reservation)", guard == MAP_FAILED,
                    "reservation_without_memory", "span_kB", KB(span),
                    "the region with alignment and a guard page on each side");
    narrate_fact_int(&n, "span_kB", KB(span));
    narrate_fact_int(&n, "size_requested", (int64_t)d.requested);
    if (d.budget.binding != BUDGET_NONE) {
        narrate_fact_int(&n, "budget_kB", (int64_t)(d.budget.bytes / 1024));
        narrate_fact(&n, "budget_limit", "%s", budget_limit_name(d.budget.binding));
    }
    CONCLUDE(&n, "default_size_shrunk", d.choice == BUDGET_SHRUNK,
             VALUES(VAL("size_kB", KB(size)), VAL("budget_kB", d.budget.bytes / 1024)),
             "The default 16 MiB is more than half of what this process may use (%s): the "
             "lesson maps %lld kB instead.", d.why_size, KB(size));
    commit_explain(&n, DELTA("Committed_AS"), 0, "reservation_not_charged",
                   "a PROT_NONE mapping can never be written, so nothing is charged for it.");
}

static void explain_map(void)
{
    explain_mapping("mmap", p == MAP_FAILED, "vma_without_memory", "size_kB", KB(size),
                    "readable and writable, a VMA of its own inside the reservation");
    CONCLUDE(&n, "size_rounded_up", d.choice != BUDGET_SHRUNK && size != d.requested,
             VALUES(VAL("size_requested", d.requested), VAL("size_kB", KB(size)),
                    VAL("unit_kB", KB(align))),
             "--size %s is rounded up to whole %s of %lld kB.", d.size_arg ? d.size_arg : "16M",
             want_thp ? "huge pages" : "pages", KB(align));
    commit_explain(&n, DELTA("Committed_AS"), KB(size), "commit_charged_size",
                   "a private writable mapping is charged its whole size against the commit "
                   "limit when it is made, before any page exists.");
}

static void explain_advise(void)
{
    narrate_fact(&n, "VmFlags", "%s", d.after.entry.vmflags);
    narrate_fact_int(&n, "madvise_result", advised);
    const char *flag = want_thp ? "hg" : "nh";
    CONCLUDE(&n, "advice_in_vmflags", advised == 0 && smaps_has_flag(&d.after.entry, flag),
             VALUES(VAL("madvise_result", advised)), "VmFlags now shows '%s': this mapping %s.",
             flag, want_thp ? "asks for transparent huge pages" : "opted out of transparent huge "
             "pages, so it should fault in base pages, whatever the THP mode");
    if (!CONCLUDE(&n, "no_thp_in_kernel", advised != 0 && d.thp.mode[0] == '\0',
                  VALUES(VAL("errno", n.lesson_errno)), "madvise failed (%s): this kernel has no "
                  "transparent huge pages.", strerror(n.lesson_errno)) && advised != 0)
        narrate_note(&n, "madvise failed: %s.", strerror(n.lesson_errno));
}

static void explain_write_one(void)
{
    long long rss = DELTA("Rss"), huge = DELTA("AnonHugePages"), faults = DELTA("minor_faults");
    long long dirty = DELTA("Private_Dirty"), page_kb = KB(page), huge_kb = KB(d.thp.huge_size);
    ROWS("Rss", "Private_Dirty", "AnonHugePages", "minor_faults");
    CONCLUDE(&n, "first_write_one_page", rss == page_kb && dirty == rss && faults == 1 && huge == 0,
             VALUES(VAL("rss_delta_kB", rss), VAL("private_dirty_delta_kB", dirty),
                    VAL("minor_faults", faults), VAL("page_kB", page_kb)),
             "The first write faulted (1 minor fault: no disk involved). The kernel zeroed a free "
             "%lld KiB frame and mapped it: Rss and Private_Dirty grew by one page.", page_kb);
    CONCLUDE(&n, "first_write_one_huge_page", huge == huge_kb && rss == huge_kb && faults == 1,
             VALUES(VAL("rss_delta_kB", rss), VAL("anon_huge_delta_kB", huge),
                    VAL("minor_faults", faults), VAL("huge_page_kB", huge_kb)),
             "One write, one fault: the kernel zeroed and mapped a whole %lld kB transparent huge "
             "page; Rss and AnonHugePages grew by that much.", huge_kb);
    if (!want_thp) {
        CONCLUDE(&n, "nohugepage_ignored", huge > 0, VALUES(VAL("anon_huge_delta_kB", huge)),
                 "VmFlags says 'nh', yet AnonHugePages grew: this kernel used a huge page anyway.");
        return;
    }
    /* --thp and no huge page: the first reason this machine shows. */
    long long fallback = VMSTAT_ROW("thp_fault_fallback", fault_fallback);
    long long charge = d.vm_after.fault_fallback_charge - d.vm_before.fault_fallback_charge;
    if (!CONCLUDE(&n, "thp_disabled_for_process", huge == 0 && d.thp.off_for_process,
                  VALUES(VAL("anon_huge_delta_kB", huge)), "No huge page: THP is disabled for "
                  "this process (PR_SET_THP_DISABLE, inherited from its parent).") &&
        !CONCLUDE(&n, "thp_never", huge == 0 && strcmp(d.thp.mode, "never") == 0,
                  VALUES(VAL("anon_huge_delta_kB", huge)),
                  "No huge page: THP is 'never'. As root: echo madvise > " THP_SYSFS "enabled"))
        CONCLUDE(&n, "thp_fallback", huge == 0 && fallback > 0,
                 VALUES(VAL("thp_fault_fallback_delta", fallback),
                        VAL("thp_fault_fallback_charge_delta", charge)),
                 "No huge page although THP is '%s': the machine-wide thp_fault_fallback moved "
                 "by %lld; most likely %s, and the kernel fell back to base pages.", d.thp.mode,
                 fallback, charge > 0 ? "a memory cgroup refused the "
                 "huge page's charge" : "the kernel found no free huge-page-sized block");
}

static void explain_read_other(void)
{
    /* mincore over the page read, or with --thp its block: a huge zero page maps all of it. */
    long long pages = (long long)(align / page);
    char picture[4096 + 1];
    long long resident = residency_picture(p + size / 2 / align * align, align, picture,
                                           sizeof picture);
    if (resident < 0)
        narrate_fail_errno(&n, "mincore", errno);
    long long rss = DELTA("Rss"), huge = DELTA("AnonHugePages"), faults = DELTA("minor_faults");
    narrate_fact_int(&n, "value_read", c);
    narrate_fact_int(&n, "mincore_pages", pages);
    narrate_fact_int(&n, "mincore_resident", resident);
    ROWS("Rss", "minor_faults");
    if (want_thp)
        narrate_fact_int(&n, "use_zero_page", d.thp.use_zero_page);
    long long zero_alloc = want_thp ? VMSTAT_ROW("thp_zero_page_alloc", zero_page_alloc) : 0;
    bool zero_read = c == 0 && rss == 0 && huge == 0 && faults >= 1;
    CONCLUDE(&n, "read_maps_zero_page", zero_read && resident == 1,
             VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                    VAL("mincore_resident", resident)),
             "The read faulted and returned 0: the kernel mapped the shared zero page, read-only. "
             "mincore counts it as present; smaps does not count it in Rss.");
    if (CONCLUDE(&n, "read_maps_huge_zero_page",
                 zero_read && faults == 1 && pages > 1 && resident == pages,
                 VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", faults),
                        VAL("mincore_resident", resident),
                        VAL("use_zero_page", d.thp.use_zero_page)),
                 "One fault, Rss +0 kB, yet all %lld base pages of the block are present: the "
                 "kernel mapped the shared, read-only %lld kB huge zero page with one entry.",
                 pages, KB(d.thp.huge_size)) &&
        !CONCLUDE(&n, "huge_zero_page_allocated", zero_alloc > 0,
                  VALUES(VAL("thp_zero_page_alloc_delta", zero_alloc)), "thp_zero_page_alloc "
                  "moved by %lld: no process had it, so this read allocated it.", zero_alloc))
        CONCLUDE(&n, "huge_zero_page_existed", zero_alloc == 0,
                 VALUES(VAL("thp_zero_page_alloc_delta", 0)),
                 "thp_zero_page_alloc did not move: the huge zero page already existed.");
    CONCLUDE(&n, "read_allocated_memory", rss > 0,
             VALUES(VAL("rss_delta_kB", rss), VAL("anon_huge_delta_kB", huge),
                    VAL("use_zero_page", d.thp.use_zero_page)),
             "The read got memory of its own, not a zero page%s.",
             d.thp.use_zero_page == 0 ? " (use_zero_page is 0)" : "");
}

/* With --thp, steps 4 and 5 each touched one block before this loop. */
static void explain_write_every_page(void)
{
    long long pages = (long long)(size / page), huge_pages = (long long)(size / d.thp.huge_size);
    long long faults = DELTA("minor_faults"), size_kb = AFTER("Size"), rss_kb = AFTER("Rss");
    long long huge_kb = AFTER("AnonHugePages"), block_kb = KB(d.thp.huge_size);
    long long had_huge_kb = huge_kb - DELTA("AnonHugePages"), per_block = block_kb / KB(page);
    const struct finding_value *blocks = VALUES(
        VAL("minor_faults", faults), VAL("huge_pages", huge_pages), VAL("anon_huge_kB", huge_kb),
        VAL("anon_huge_before_kB", had_huge_kb), VAL("base_pages_per_huge_page", per_block),
        VAL("use_zero_page", d.thp.use_zero_page));
    ROWS("Size", "Rss", "Private_Dirty", "AnonHugePages", "minor_faults");
    CONCLUDE(&n, "every_page_has_a_frame", rss_kb == size_kb,
             VALUES(VAL("rss_kB", rss_kb), VAL("size_kB", size_kb)),
             "Every page now has a frame of its own: Rss equals Size.");
    (void)(CONCLUDE(&n, "one_fault_per_page_but_the_first", faults == pages - 1 && huge_kb <= 0,
                    VALUES(VAL("minor_faults", faults), VAL("pages", pages),
                           VAL("anon_huge_kB", huge_kb)),
                    "%lld minor faults for %lld pages: every page faulted once but the one "
                    "p[16] = 'a' wrote; the one c = p[size / 2] read faulted again, for a private "
                    "copy of the zero page (copy-on-write).%s", faults, pages,
                    want_thp ? " No huge pages." : "") ||
           CONCLUDE(&n, "one_fault_per_huge_page",
                    want_thp && faults == huge_pages - 1 && huge_kb == size_kb, blocks,
                    "%lld minor faults for %lld huge pages: one per huge page but the one "
                    "p[16] = 'a' wrote; the one under the huge zero page faulted again, for a "
                    "huge page of its own.", faults, huge_pages) ||
           CONCLUDE(&n, "huge_zero_page_split", want_thp && huge_kb == size_kb - block_kb &&
                    faults == huge_pages - 2 + per_block, blocks,
                    "%lld minor faults: one per untouched huge page, %lld in the block step 5 "
                    "read: a write split its huge zero page into base pages, each copied at its "
                    "own fault (AnonHugePages is a block short of Size).", faults, per_block) ||
           CONCLUDE(&n, "one_fault_per_huge_page_but_two", want_thp && huge_kb == size_kb &&
                    had_huge_kb == 2 * block_kb && faults == huge_pages - 2, blocks,
                    "%lld minor faults for %lld huge pages: the write and the read had one each "
                    "already (use_zero_page is %d).", faults, huge_pages, d.thp.use_zero_page));
}

static void explain_unmap(void)
{
    ROWS("Rss", "Committed_AS");
    snapshot_explain_gone(&n, &d.after);
    commit_explain(&n, DELTA("Committed_AS"), -KB(size), "commit_returned",
                   "munmap returns the whole charge, along with the frames.");
}

/* With --predict a step asks first; the finding beside a choice ('|': any) is the measured one. */
static const struct narrate_lesson steps[] = {
    {"reserve", "Reserve address space, with guard pages", reserve, explain_reserve,
     "By how much will Committed_AS move for this PROT_NONE reservation?",
     {"0 kB", "the reservation's size"}, {"reservation_not_charged"}},
    {"map", "Map private anonymous memory inside it", map, explain_map,
     "By how much will Committed_AS move for this read-write mapping?",
     {"0 kB: nothing is used yet", "the mapping's size"}, {NULL, "commit_charged_size"}},
    {"advise", "Say whether it may use huge pages", advise, explain_advise, NO_QUESTION},
    {"write_one", "Write one byte into the first page", write_one, explain_write_one,
     "How much will Rss grow for this one-byte write?", {"0 kB", "one page", "one huge page"},
     {NULL, "first_write_one_page", "first_write_one_huge_page"}},
    {"read_other", "Read one byte of another, untouched page", read_other, explain_read_other,
     "How much will Rss grow for this read?", {"0 kB: a shared zero page", "it gets memory"},
     {"read_maps_zero_page|read_maps_huge_zero_page", "read_allocated_memory"}},
    {"write_every_page", "Write every page", write_every_page, explain_write_every_page,
     "How many minor faults will this loop take?",
     {"one per page", "one per page but one", "one per huge page but one",
      "one per huge page but two", "hundreds more: a huge zero page splits"},
     {NULL, "one_fault_per_page_but_the_first", "one_fault_per_huge_page",
      "one_fault_per_huge_page_but_two", "huge_zero_page_split"}},
    {"unmap", "Unmap it", unmap, explain_unmap, "By how much will Committed_AS move at munmap?",
     {"0 kB", "minus the mapping's size"}, {NULL, "commit_returned"}},
};

/* ---- Options, sizes and the machine ---- */

enum { OPT_SIZE, OPT_THP };

static const struct cli_option options[] = {
    [OPT_SIZE] = {"size", "SIZE", "how much to map, 8K to 1G: at most half of what this process "
                  "may use, since step 6 writes every page (default 16M, or less to fit)"},
    [OPT_THP] = {"thp", NULL, "ask for transparent huge pages (MADV_HUGEPAGE): one write adds a "
                 "huge page; the size is rounded up to whole huge pages, at least two"},
};

static uint64_t least; /* two pages (or huge pages) in half of what this process may use */
static const struct demo_need needs[] = {
    {NEED_THP, .when = &want_thp, .option = "--thp"},
    {NEED_MEMORY, .limit = &least, .budget = &d.budget},
    {0},
};

static const struct demo_info info = {
    .name = "mmap-anon",
    .summary = "Maps private anonymous memory and touches it one step at a time, showing\n"
               "after each step what /proc/self/smaps, /proc/meminfo and the fault counters\n"
               "say: mmap only reserves address space (and commit charge); the first write\n"
               "to a page faults in a zeroed frame; a first read maps the shared zero page.",
    DEMO_OPTIONS(options),
    .examples = "  mmap-anon                  the seven steps on 16 MiB\n"
                "  mmap-anon --step           pause before each step; watch smaps live\n"
                "  mmap-anon --size 64M --json | jq .delta\n"
                "  mmap-anon --thp            the same with 2 MiB transparent huge pages\n",
    .needs = needs,
    .draws = DRAWS_COMMIT,
    .lessons = LESSONS(TABLE(steps)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)ctx;
    if (index == OPT_SIZE)
        d.size_arg = arg; /* read in main, once --thp is known */
    else
        want_thp = true;
}

int main(int argc, char **argv)
{
    struct cli_common common;
    cli_no_positionals(&info, argc, argv, cli_parse(argc, argv, &info, &common, on_option, NULL));
    page = (size_t)sysconf(_SC_PAGESIZE);
    thp_read(&d.thp);
    align = want_thp ? d.thp.huge_size : page;
    least = UINT64_C(4) * align;
    /* At least two pages (or huge pages): one to write, one to read. */
    if (d.size_arg)
        d.requested = cli_size_arg(&info, "--size", d.size_arg,
                                   want_thp ? 2 * align : UINT64_C(8192), UINT64_C(1) << 30);
    demo_start(&n, &info, &common, NARRATE_COUNT(steps)); /* it reads the budget */
    d.choice = budget_choose_size(&d.budget, d.size_arg ? d.requested : 0, d.requested, align,
                                  2, 2, &size, d.why_size, sizeof d.why_size);
    if (d.choice == BUDGET_REFUSED)
        cli_usage_error(&info, "--size: %s is more than this process may use: %s", d.size_arg,
                        d.why_size);
    span = size + align + page; /* guard page, slack up to `align`, size, guard page */
    if (want_thp)
        n.row_page_kb = 0; /* "+512 pages" is not what one huge page is */
    narrate_observe(&n, observe, NULL);
    char size_text[32], may_use[32];
    format_size(size, size_text, sizeof size_text);
    format_size(d.budget.bytes, may_use, sizeof may_use);
    narrate_intro(&n,
                  "mmap-anon (PID %ld): %s of private anonymous memory, %zu pages of %lld KiB.\n"
                  "This process may use %s now (%s); the lesson maps at most half.\n"
                  "Transparent huge pages here: %s.",
                  (long)getpid(), size_text, (size_t)(size / page), KB(page),
                  d.budget.binding == BUDGET_NONE ? "what it finds" : may_use,
                  budget_limit_name(d.budget.binding), d.thp.mode[0] ? d.thp.mode : "not built in");
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK, "%s mapped, touched one page at a time, unmapped; every number "
                                  "above was measured in this run.", size_text);
}
