/* SPDX-License-Identifier: MIT */
/* page-walk: how the CPU finds a byte, and what page tables cost (demo_info's summary says how). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "fault-clock.h"
#include "narrate.h"
#include "needs.h"
#include "probe.h"
#include "procfs.h"
#include "thp.h"

#define KiB 1024UL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PAGE_KB INT64_C(4) /* main makes sure */

/* ---- The lesson ---- */

static char *range;   /* the MAP_NORESERVE reservation, 1 GiB more than len */
static char *a;       /* its first 1 GiB boundary: each GiB has a PMD table of its own */
static size_t len;    /* GiB from a: 4 KiB and 2 MiB touches in GiB 0 and 1, 1 GiB touches after */
static size_t n4, n2, n1, nhuge; /* how many bytes each row touches */
static int pagemap = -1, advised;
static uint64_t entry;  /* the pagemap entry of the byte written */
static ssize_t got;
#define WALK_OFFSET 0x12345678UL /* the byte written in step 2: every index differs */

static struct narrator n;

LESSON_FN static void reserve(void)
{
    LESSON(&n, range = mmap(NULL, len + GiB, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
               a = (char *)(((uintptr_t)range + GiB - 1) & ~(uintptr_t)(GiB - 1));
               madvise(a, len, MADV_NOHUGEPAGE););
}

LESSON_FN static void walk(void)
{
    LESSON(&n, a[WALK_OFFSET] = 1;
               pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
               got = pread(pagemap, &entry, sizeof entry,
                           (off_t)((uintptr_t)&a[WALK_OFFSET] / 4096 * sizeof entry)););
}

LESSON_FN static void every_4k(void)
{
    LESSON(&n, for (size_t i = 0; i < n4; i++) a[i * 4 * KiB] = 1;);
}

LESSON_FN static void every_2m(void)
{
    LESSON(&n, for (size_t i = 0; i < n2; i++) a[GiB + i * 2 * MiB] = 1;);
}

LESSON_FN static void every_1g(void)
{
    LESSON(&n, for (size_t i = 0; i < n1; i++) a[(2 + i) * GiB] = 1;);
}

LESSON_FN static void huge(void)
{
    LESSON(&n, char *h = a + 2 * GiB - nhuge * 2 * MiB;
               advised = madvise(h, nhuge * 2 * MiB, MADV_HUGEPAGE);
               for (size_t i = 0; i < nhuge; i++) h[i * 2 * MiB] = 1;);
}

LESSON_FN static void unmap(void)
{
    LESSON(&n, munmap(range, len + GiB); close(pagemap););
}

/* ---- What each step measured, and what it shows ---- */

struct reading {
    int64_t vm_pte, rss, anon_huge, minflt, range_rss; /* range_rss: smaps Rss of the VMA at a */
    struct thp_counters thp;
};

static struct {
    struct reading before, after, start;
    struct thp thp;
    struct probe_paging paging;    /* la57: the CPU could; va_bits 57: the kernel does */
    const char *shrunk_by; /* why len is less than the 64 GiB asked for, or NULL */
} d;
#define DELTA(field) (d.after.field - d.before.field) /* what the step moved */

/* A field of the smaps entry at addr in kB, -1 while a is unmapped: read even then, so
 * that the first reading's own page faults (its buffers) fall before step 1. */
static int64_t smaps_kb(uintptr_t addr, const char *key)
{
    static struct smaps_entry e; /* large: not on the stack */
    uint64_t v = 0;
    return smaps_read_entry(addr, &e) == PROCFS_OK && a && a != MAP_FAILED && smaps_get(&e, key, &v)
               ? (int64_t)v : -1;
}

/* A before -> after row; a side below 0 was not measured. */
static void row(const char *key, const char *unit, int64_t before, int64_t after)
{
    narrate_value(&n, key, unit, before >= 0, before, after >= 0, after);
}

/* Around each LESSON (and once into ctx, before step 1): VmPTE and VmRSS, which every step
 * shows, and AnonHugePages of the huge-page step's mapping (madvise made it a VMA of its own). */
static void observe(void *ctx, bool after)
{
    struct reading *r = ctx ? ctx : after ? &d.after : &d.before;
    r->vm_pte = procfs_read_one("/proc/self/status", "VmPTE");
    r->rss = procfs_read_one("/proc/self/status", "VmRSS");
    r->anon_huge = smaps_kb((uintptr_t)a + 2 * GiB - nhuge * 2 * MiB, "AnonHugePages");
    r->range_rss = smaps_kb((uintptr_t)a, "Rss");
    r->minflt = minor_faults_now();
    thp_counters_read(&r->thp);
    if (!after)
        return;
    row("VmPTE", "kB", d.before.vm_pte, d.after.vm_pte);
    row("VmRSS", "kB", d.before.rss, d.after.rss);
    row("minor_faults", "", d.before.minflt, d.after.minflt);
}

static void explain_reserve(void)
{
    if (range == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", n.lesson_errno);
    narrate_watch(&n, (uintptr_t)a);
    narrate_fact(&n, "address", "%p", (void *)a);
    narrate_fact_int(&n, "len_GiB", (int64_t)(len / GiB));
    if (d.shrunk_by && FINDING(&n, "size_shrunk", true, VAL("len_GiB", len / GiB)))
        narrate_because(&n, "size_shrunk", "%zu GiB, not 64: %s", len / GiB, d.shrunk_by);
    narrate_fact_int(&n, "range_rss_kB", d.after.range_rss);
    CONCLUDE(&n, "reservation_without_tables", DELTA(vm_pte) == 0 && d.after.range_rss == 0,
             VALUES(VAL("vm_pte_delta_kB", DELTA(vm_pte)), VAL("rss_kB", d.after.range_rss)),
             "%zu GiB of address space and not one page table more (VmPTE %+lld kB), no memory "
             "(its Rss is 0 kB): tables are built only when a page is touched.", len / GiB + 1,
             (long long)DELTA(vm_pte));
}

static void explain_walk(void)
{
    uintptr_t va = (uintptr_t)&a[WALK_OFFSET];
    int levels = d.paging.va_bits == 57 ? 5 : 4;
    bool la57_cpu = d.paging.la57, five = levels == 5;
    narrate_fact(&n, "address", "%#lx", (unsigned long)va);
    narrate_fact_int(&n, "paging_levels", levels);
    narrate_fact_int(&n, "la57_cpu", la57_cpu);
    static const char *const index[] = {"pml5_index", "pml4_index", "pdpt_index", "pd_index",
                                        "pt_index"};
    for (int l = 5 - levels; l < 5; l++)
        narrate_fact_int(&n, index[l], (int64_t)((va >> (12 + 9 * (4 - l))) & 511));
    narrate_fact_int(&n, "page_offset", (int64_t)(va & 4095));
    const struct finding_value *la57 =
        VALUES(VAL("la57_cpu", la57_cpu), VAL("la57_space", five)); /* the two findings' */
    CONCLUDE(&n, "four_level_paging", !five, la57, "Four levels here: %s, so a user address has "
             "48 bits. The CPU takes 9 bits per level - PML4, PDPT, PD, PT index - and the last "
             "12 are the offset in the 4 KiB page.",
             la57_cpu ? "the CPU has la57 but a hint above 2^47 was not honoured"
                      : "/proc/cpuinfo lists no la57 flag");
    CONCLUDE(&n, "five_level_paging", five, la57, "Five levels here: the CPU has la57 and a "
             "mapping above 2^47 was granted, so addresses have 57 bits and the walk starts one "
             "level higher, at PML5.");
    if (got != (ssize_t)sizeof entry)
        narrate_fail_errno(&n, "pread /proc/self/pagemap", got < 0 ? n.lesson_errno : EIO);
    uint64_t pfn = entry & ((UINT64_C(1) << 55) - 1);
    int present = (int)(entry >> 63 & 1), exclusive = (int)(entry >> 56 & 1);
    narrate_fact(&n, "pagemap_entry", "%#llx", (unsigned long long)entry);
    narrate_fact_int(&n, "present", present);
    narrate_fact_int(&n, "exclusive", exclusive);
    narrate_fact_int(&n, "soft_dirty", (int64_t)(entry >> 55 & 1));
    narrate_fact_int(&n, "pfn", (int64_t)pfn);
    CONCLUDE(&n, "pfn_read", present && pfn != 0, VALUES(VAL("pfn", pfn)),
             "pagemap: present, frame number %#llx - the byte lives at physical address %#llx.",
             (unsigned long long)pfn, (unsigned long long)pfn * 4096 + (va & 4095));
    CONCLUDE(&n, "pfn_hidden", present && pfn == 0, VALUES(VAL("pfn", 0), VAL("euid", geteuid())),
             "pagemap says present, but the frame number reads as 0: since Linux 4.2 it is shown "
             "only to a reader with CAP_SYS_ADMIN, which this process (euid %ld) %s",
             (long)geteuid(),
             geteuid() == 0 ? "lacks even as root (a container, or capabilities dropped)."
                            : "does not have. Run as root to see it.");
    /* The byte's own page: the range's Rss (its VMA alone), exact whatever else moves. */
    int64_t grew = DELTA(vm_pte), page = DELTA(range_rss);
    CONCLUDE(&n, "one_byte_builds_tables", page == PAGE_KB && grew >= 2 * PAGE_KB &&
                 grew <= (levels - 1) * PAGE_KB,
             VALUES(VAL("vm_pte_delta_kB", grew), VAL("rss_delta_kB", DELTA(rss)),
                    VAL("range_rss_delta_kB", page)),
             "One byte cost a %lld kB page (the range's Rss) and %lld kB of page tables: a PT "
             "table for its 2 MiB, a PD table for its 1 GiB%s.", (long long)page, (long long)grew,
             grew > 2 * PAGE_KB ? ", and the higher tables no other mapping had made yet"
                                : "; the higher tables were already there");
}

/* The rows 4 KiB, 2 MiB and 1 GiB: VmPTE against the tables their touches need, at least
 * `tables`, and up to `higher` more where they reach address space no mapping reached yet. */
static void explain_row(const char *id, size_t count, size_t stride, size_t at_least, size_t higher)
{
    int64_t grew = DELTA(vm_pte), faults = DELTA(minflt), tables = (int64_t)at_least;
    int64_t memory = DELTA(range_rss); /* the range's Rss: the touched pages alone */
    narrate_fact_int(&n, "touches", (int64_t)count);
    narrate_fact_int(&n, "stride_kB", (int64_t)(stride / KiB));
    narrate_fact_int(&n, "expected_tables", tables);
    narrate_fact_int(&n, "range_rss_delta_kB", memory);
    CONCLUDE(&n, id, grew >= tables * PAGE_KB && grew <= (tables + (int64_t)higher) * PAGE_KB &&
                 memory == (int64_t)count * PAGE_KB,
             VALUES(VAL("vm_pte_delta_kB", grew), VAL("touches", count), VAL("tables", tables),
                    VAL("minor_faults", faults), VAL("range_rss_delta_kB", memory)),
             "Bytes touched: %zu; minor faults: %lld; memory: %lld kB (the range's Rss); VmPTE "
             "grew by %lld kB: %lld page tables of 4 KiB, %s.", count, (long long)faults,
             (long long)memory, (long long)grew, (long long)(grew / PAGE_KB),
             stride == 4 * KiB ? "one per 512 pages: tables cost 1/512 of the memory"
             : stride == 2 * MiB ? "one PT table per byte: as much table as memory"
                                 : "a PT and a PD table per byte: twice the memory");
}

/* A PT table per 2 MiB touched (GiB 0's PD table is there since step 2) */
static void explain_4k(void) { explain_row("every_4k_tables", n4, 4 * KiB, (n4 + 511) / 512, 0); }

/* A PT table per byte, and GiB 1's PD table: as much table as memory (step 4's answer) */
static void explain_2m(void) { explain_row("every_2m_tables", n2, 2 * MiB, n2 + 1, 0); }

/* A PT and a PD table per byte; a PDPT (P4D) table per new 512 GiB (256 TiB, 5 levels) */
static void explain_1g(void)
{
    uintptr_t first = (uintptr_t)a + 2 * GiB, last = first + (n1 - 1) * GiB;
    size_t pdpt = (last >> 39) - (first >> 39) + 1;
    size_t p4d = d.paging.va_bits == 57 ? (last >> 48) - (first >> 48) + 1 : 0;
    explain_row("every_1g_tables", n1, GiB, 2 * n1, pdpt + p4d);
}

static void explain_huge(void)
{
    int64_t grew = DELTA(vm_pte), faults = DELTA(minflt), anon_huge = DELTA(anon_huge);
    int64_t fallback = DELTA(thp.fault_fallback), charge = DELTA(thp.fault_fallback_charge);
    /* Machine-wide counters: a cause, not a proof that these bytes were the ones. */
    const char *cause = charge > 0 ? "a memory cgroup refused a 2 MiB charge"
                                   : "the kernel found no free 2 MiB block";
    narrate_fact_int(&n, "touches", (int64_t)nhuge);
    narrate_fact_int(&n, "madvise_result", advised);
    narrate_fact(&n, "thp_mode", "%s", d.thp.mode[0] ? d.thp.mode : "none");
    n.row_page_kb = 0; /* "+4096 pages" is not what eight huge pages are */
    row("AnonHugePages", "kB", d.before.anon_huge, d.after.anon_huge);
    row("thp_fault_fallback", "", d.before.thp.fault_fallback, d.after.thp.fault_fallback);
    bool all_huge = anon_huge == (int64_t)(nhuge * d.thp.huge_size / KiB);
    CONCLUDE(&n, "huge_pages_mapped", all_huge,
             VALUES(VAL("anon_huge_delta_kB", anon_huge), VAL("minor_faults", faults)),
             "%zu bytes, %lld faults, and %lld kB of AnonHugePages: each fault mapped a whole "
             "2 MiB page with one PD entry. The walk stops at the PD: no PT entry, no last level.",
             nhuge, (long long)faults, (long long)anon_huge);
    if (all_huge && FINDING(&n, "pt_table_deposited", grew == (int64_t)nhuge * PAGE_KB,
                            VAL("vm_pte_delta_kB", grew), VAL("huge_pages", nhuge)))
        narrate_because(&n, "pt_table_deposited", "Yet VmPTE grew by %lld kB: the kernel sets a "
                        "4 KiB PT table aside with each huge page (unused by the walk), so that "
                        "splitting it later never needs to allocate.", (long long)grew);
    if (all_huge && FINDING(&n, "no_pt_tables", grew == 0, VAL("vm_pte_delta_kB", 0)))
        narrate_because(&n, "no_pt_tables", "VmPTE did not grow: no PT tables at all.");
    int64_t got_huge = anon_huge / (int64_t)(d.thp.huge_size / KiB);
    CONCLUDE(&n, "some_huge_pages", anon_huge > 0 && !all_huge,
             VALUES(VAL("anon_huge_delta_kB", anon_huge), VAL("huge_pages", got_huge),
                    VAL("touches", nhuge), VAL("thp_fault_fallback_delta", fallback),
                    VAL("thp_fault_fallback_charge_delta", charge)),
             "Only %lld of the %zu bytes got a huge page (AnonHugePages %+lld kB); the rest got "
             "4 KiB pages and a PT table. The machine-wide thp_fault_fallback moved by %lld%s%s.",
             (long long)got_huge, nhuge, (long long)anon_huge, (long long)fallback,
             fallback > 0 ? ": most likely " : "", fallback > 0 ? cause : "");
    if (!all_huge && FINDING(&n, "thp_not_used", anon_huge == 0, VAL("anon_huge_delta_kB", 0),
                             VAL("vm_pte_delta_kB", grew),
                             VAL("thp_fault_fallback_delta", fallback),
                             VAL("thp_fault_fallback_charge_delta", charge)))
        narrate_because(&n, "thp_not_used", "No huge page (AnonHugePages +0 kB): %s, so each byte "
                        "got a 4 KiB page and the walk kept its last level.",
                        !d.thp.mode[0] ? "this kernel has no transparent huge pages"
                        : d.thp.off_for_process
                            ? "THP is disabled for this process (PR_SET_THP_DISABLE)"
                        : strcmp(d.thp.mode, "never") == 0 ? "THP is 'never' here"
                        : fallback > 0 ? cause /* the machine-wide count moved */
                                       : "the kernel chose not to");
}

static void explain_unmap(void)
{
    n.row_page_kb = PAGE_KB; /* pages again, after the huge-page step */
    int64_t left = d.after.vm_pte - d.start.vm_pte;
    CONCLUDE(&n, "tables_freed", left <= 2 * PAGE_KB, VALUES(VAL("vm_pte_vs_start_kB", left)),
             "munmap freed the pages and the tables under them: VmPTE is %lld kB, %lld kB before "
             "the first step.", (long long)d.after.vm_pte, (long long)d.start.vm_pte);
}

/* The lesson as a table: the step count is derived from it. */
static const struct narrate_lesson steps[] = {
    {"reserve", "Reserve a large range with MAP_NORESERVE", reserve, explain_reserve, NO_QUESTION},
    {"walk", "Write one byte; split its address; read its pagemap entry", walk, explain_walk,
     NO_QUESTION},
    {"every_4k", "Touch one byte per 4 KiB", every_4k, explain_4k, NO_QUESTION},
    {"every_2m", "Touch one byte per 2 MiB", every_2m, explain_2m,
     "VmPTE after one byte per 2 MiB?",
     {"grows by much less than the memory touched", "grows about as much as the memory touched",
      "does not grow"}, {NULL, "every_2m_tables"}},
    {"every_1g", "Touch one byte per 1 GiB", every_1g, explain_1g, NO_QUESTION},
    {"huge", "The same per 2 MiB with transparent huge pages", huge, explain_huge, NO_QUESTION},
    {"unmap", "Unmap it", unmap, explain_unmap, NO_QUESTION},
};

/* ---- Options, sizes and the machine ---- */

static const struct cli_option options[] = {
    {"gib", "N", "how many GiB to reserve (default 64; 4 to 1024): one byte is touched in each "
                 "GiB after the second"},
};

/* The split shown is x86-64's, in 4 KiB pages. */
static const struct demo_need needs[] = {
    {NEED_ARCH, .name = "x86_64"},
    {NEED_PAGE_SIZE, .bytes = 4096},
    {0},
};

static const struct demo_info info = {
    .name = "page-walk",
    .summary = "Splits an address of its own into page-table indices, reads its frame\n"
               "from /proc/self/pagemap, and measures what page tables cost: one byte\n"
               "per 4 KiB, per 2 MiB and per 1 GiB of a large MAP_NORESERVE range, and\n"
               "VmPTE after each; with transparent huge pages the walk is one level shorter.",
    DEMO_OPTIONS(options),
    .examples = "  page-walk              the seven steps over 64 GiB of address space\n"
                "  sudo page-walk         the same, with the frame number of the byte\n"
                "  page-walk --gib 8 --json\n",
    .needs = needs,
    .lessons = LESSONS(TABLE(steps)),
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--gib", arg, 4, 1024);
}

/* Address space: MAP_NORESERVE charges nothing, except in overcommit mode 2, which ignores it
 * (3/4 of CommitLimit - Committed_AS, to leave some for others); RLIMIT_AS counts it always
 * (half of its headroom). Memory: each row's touches, from a quarter of what this may use. */
static void choose_sizes(uint64_t gib)
{
    struct budget b;
    budget_read(&b);
    uint64_t commit = b.headroom[BUDGET_COMMIT_LIMIT], as = b.headroom[BUDGET_RLIMIT_AS];
    bool by_commit =
        commit != BUDGET_UNLIMITED && (as == BUDGET_UNLIMITED || as / 2 >= commit / 4 * 3);
    uint64_t want = (gib ? gib : 64) * GiB;
    uint64_t room = by_commit ? commit / 4 * 3 : as == BUDGET_UNLIMITED ? UINT64_MAX : as / 2;
    len = (size_t)want;
    if (room < want + GiB) {
        if (gib || room < 4 * GiB)
            narrate_finish(&n, RESULT_SKIP, "%llu GiB of address space do not fit in %s leaves "
                           "(%llu MiB)%s", (unsigned long long)(gib ? want / GiB + 1 : 4),
                           by_commit ? "3/4 of what CommitLimit - Committed_AS (overcommit mode 2 "
                                       "ignores MAP_NORESERVE)" : "half of what RLIMIT_AS - VmSize",
                           (unsigned long long)((by_commit ? room / 3 * 4 : room * 2) / MiB),
                           by_commit ? ". As root: echo 0 > /proc/sys/vm/overcommit_memory"
                                     : ". Raise it: ulimit -v unlimited");
        len = (size_t)(room / GiB - 1) * GiB;
        d.shrunk_by = by_commit ? "overcommit mode 2 ignores MAP_NORESERVE and charges the whole "
                                  "range, so it must fit in 3/4 of CommitLimit - Committed_AS"
                                : "RLIMIT_AS (ulimit -v) leaves less than twice 65 GiB";
    }
    uint64_t mem = b.headroom[BUDGET_MEM_AVAILABLE];
    if (b.headroom[BUDGET_CGROUP] < mem)
        mem = b.headroom[BUDGET_CGROUP];
    uint64_t third = (mem == BUDGET_UNLIMITED ? 64 * MiB : mem / 4) / 3; /* a third each row */
    n4 = (size_t)(third / (4 * KiB) < 2048 ? third / (4 * KiB) : 2048);
    n2 = (size_t)(third / (8 * KiB) < 256 ? third / (8 * KiB) : 256);
    nhuge = (size_t)(third / (2 * MiB) < 8 ? third / (2 * MiB) : 8);
    n1 = len / GiB - 2;
    if (n4 < 512 || n2 < 2 || nhuge < 1)
        narrate_finish(&n, RESULT_SKIP, "this process may use too little memory (%llu KiB) "
                       "for the touches: free some", (unsigned long long)(mem / KiB));
}

int main(int argc, char **argv)
{
    uint64_t gib = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &gib);
    cli_no_positionals(&info, argc, argv, first);
    demo_start(&n, &info, &common, NARRATE_COUNT(steps));
    thp_read(&d.thp);
    probe_paging(&d.paging);
    choose_sizes(gib);
    narrate_observe(&n, observe, NULL);
    observe(&d.start, false);
    narrate_intro(&n, "page-walk (PID %ld): %zu GiB of address space, %d-level paging.",
                  (long)getpid(), len / GiB + 1, d.paging.va_bits == 57 ? 5 : 4);
    narrate_run(&n, steps, NARRATE_COUNT(steps));
    narrate_finish(&n, RESULT_OK, "every number above was measured in this run.");
}
