/* SPDX-License-Identifier: MIT */
/* page-walk: how the CPU finds a byte - an address split into page-table
 * indices - and what the page tables themselves cost.
 *
 * The lesson is the functions just below, in the order they run: a large
 * MAP_NORESERVE range, one write whose address is split into its table
 * indices and looked up in /proc/self/pagemap, then one byte per 4 KiB, per
 * 2 MiB and per 1 GiB, with VmPTE (the process's page tables, every level)
 * measured around each, and transparent huge pages, which end the walk one
 * level early. Then the explanations, then the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "thp.h"

#define KiB 1024UL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* ---- The lesson ---- */

static char *range;   /* the MAP_NORESERVE reservation, 1 GiB more than len */
static char *a;       /* its first 1 GiB boundary: each GiB has a PMD table of its own */
static size_t len;    /* GiB from a: 4 KiB and 2 MiB touches in GiB 0 and 1, 1 GiB touches after */
static size_t n4, n2, n1, nhuge; /* how many bytes each row touches */
static int pagemap = -1;
static uint64_t entry;  /* the pagemap entry of the byte written */
static ssize_t got;
static int advised;
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
    int64_t vm_pte, rss, anon_huge, minflt;
    int64_t range_rss;             /* smaps Rss of the VMA at a */
    struct thp_counters thp;
};

static struct {
    struct reading before, after, start;
    struct thp thp;
    bool la57_cpu, la57_space, thp_off;
    int lesson_errno;
    int64_t page_kb;
    char why_size[300];
} d;

/* VmPTE and VmRSS of the whole process; AnonHugePages of the mapping the
 * huge-page step uses (madvise made it a VMA of its own). */
static void read_now(struct reading *r)
{
    struct procfs_want st[] = {{.key = "VmPTE"}, {.key = "VmRSS"}};
    bool ok = procfs_read_keyed("/proc/self/status", st, 2) == PROCFS_OK;
    r->vm_pte = ok && st[0].present ? (int64_t)st[0].value : -1;
    r->rss = ok && st[1].present ? (int64_t)st[1].value : -1;
    /* Read even before a exists: the first reading's own page faults (its
     * buffers) then fall before the first step. */
    static struct smaps_entry e; /* large: not on the stack */
    uintptr_t h = (uintptr_t)a + 2 * GiB - nhuge * 2 * MiB;
    bool valid = a && a != MAP_FAILED;
    uint64_t v = 0;
    r->anon_huge = smaps_read_entry(h, &e) == PROCFS_OK && valid &&
                           smaps_get(&e, "AnonHugePages", &v) ? (int64_t)v : -1;
    r->range_rss = smaps_read_entry((uintptr_t)a, &e) == PROCFS_OK && valid &&
                           smaps_get(&e, "Rss", &v) ? (int64_t)v : -1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->minflt = ru.ru_minflt;
    thp_counters_read(&r->thp);
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    if (after)
        d.lesson_errno = errno;
    read_now(after ? &d.after : &d.before);
}

static void rows(void)
{
    narrate_value(&n, "VmPTE", "kB", d.before.vm_pte >= 0, d.before.vm_pte, d.after.vm_pte >= 0,
                  d.after.vm_pte);
    narrate_value(&n, "VmRSS", "kB", d.before.rss >= 0, d.before.rss, d.after.rss >= 0, d.after.rss);
    narrate_value(&n, "minor_faults", "", true, d.before.minflt, true, d.after.minflt);
}

/* Page tables a set of touched addresses needs at one level: one per
 * distinct (address >> shift), 4 KiB each, that did not exist before. */
static int64_t new_tables(uintptr_t first, size_t count, size_t stride, unsigned shift)
{
    if (count == 0)
        return 0;
    uintptr_t last = first + (count - 1) * stride;
    return (int64_t)((last >> shift) - (first >> shift) + 1);
}

static void explain_reserve(void)
{
    if (range == MAP_FAILED)
        narrate_fail_errno(&n, "mmap", d.lesson_errno);
    narrate_fact(&n, "address", "%p", (void *)a);
    narrate_fact_int(&n, "len_GiB", (int64_t)(len / GiB));
    rows();
    if (d.why_size[0] && FINDING(&n, "size_shrunk", true, VAL("len_GiB", len / GiB)))
        narrate_because(&n, "size_shrunk", "%s", d.why_size);
    int64_t rss = d.after.range_rss;
    narrate_fact_int(&n, "range_rss_kB", rss);
    if (FINDING(&n, "reservation_without_tables", d.after.vm_pte == d.before.vm_pte && rss == 0,
                VAL("vm_pte_delta_kB", d.after.vm_pte - d.before.vm_pte), VAL("rss_kB", rss)))
        narrate_because(&n, "reservation_without_tables",
                        "%zu GiB of address space and not one page table more (VmPTE %+lld kB), "
                        "no memory (its Rss is 0 kB): tables are built only when a page is touched.",
                        len / GiB + 1, (long long)(d.after.vm_pte - d.before.vm_pte));
}

static void explain_walk(void)
{
    uintptr_t va = (uintptr_t)&a[WALK_OFFSET];
    int levels = d.la57_space ? 5 : 4;
    narrate_fact(&n, "address", "%#lx", (unsigned long)va);
    narrate_fact_int(&n, "paging_levels", levels);
    narrate_fact_int(&n, "la57_cpu", d.la57_cpu);
    static const char *const names[] = {"pml5", "pml4", "pdpt", "pd", "pt"};
    for (int l = 5 - levels; l < 5; l++) {
        char key[32];
        snprintf(key, sizeof key, "%s_index", names[l]);
        narrate_fact_int(&n, key, (int64_t)((va >> (12 + 9 * (4 - l))) & 511));
    }
    narrate_fact_int(&n, "page_offset", (int64_t)(va & 4095));
    rows();
    if (FINDING(&n, "four_level_paging", levels == 4, VAL("la57_cpu", d.la57_cpu),
                VAL("la57_space", d.la57_space)))
        narrate_because(&n, "four_level_paging",
                        "Four levels here: %s, so a user address has 48 bits. The CPU takes "
                        "9 bits per level - PML4, PDPT, PD, PT index - and the last 12 are the "
                        "offset in the 4 KiB page.",
                        d.la57_cpu ? "the CPU has la57 but a hint above 2^47 was not honoured"
                                   : "/proc/cpuinfo lists no la57 flag");
    if (FINDING(&n, "five_level_paging", levels == 5, VAL("la57_cpu", d.la57_cpu),
                VAL("la57_space", d.la57_space)))
        narrate_because(&n, "five_level_paging",
                        "Five levels here: the CPU has la57 and a mapping above 2^47 was "
                        "granted, so addresses have 57 bits and the walk starts one level "
                        "higher, at PML5.");
    if (got != (ssize_t)sizeof entry)
        narrate_fail_errno(&n, "pread /proc/self/pagemap", got < 0 ? d.lesson_errno : EIO);
    uint64_t pfn = entry & ((UINT64_C(1) << 55) - 1);
    int present = (int)(entry >> 63 & 1), exclusive = (int)(entry >> 56 & 1);
    narrate_fact(&n, "pagemap_entry", "%#llx", (unsigned long long)entry);
    narrate_fact_int(&n, "present", present);
    narrate_fact_int(&n, "exclusive", exclusive);
    narrate_fact_int(&n, "soft_dirty", (int64_t)(entry >> 55 & 1));
    narrate_fact_int(&n, "pfn", (int64_t)pfn);
    if (FINDING(&n, "pfn_read", present && pfn != 0, VAL("pfn", pfn)))
        narrate_because(&n, "pfn_read",
                        "pagemap: present, frame number %#llx - the byte lives at physical "
                        "address %#llx.", (unsigned long long)pfn,
                        (unsigned long long)pfn * 4096 + (va & 4095));
    if (FINDING(&n, "pfn_hidden", present && pfn == 0, VAL("pfn", 0), VAL("euid", geteuid())))
        narrate_because(&n, "pfn_hidden",
                        "pagemap says present, but the frame number reads as 0: since Linux "
                        "4.2 it is shown only to a reader with CAP_SYS_ADMIN, which this "
                        "process (euid %ld) does not have. Run as root to see it.",
                        (long)geteuid());
    int64_t grew = d.after.vm_pte - d.before.vm_pte, pk = d.page_kb;
    if (FINDING(&n, "one_byte_builds_tables", grew >= 2 * pk && grew <= (levels - 1) * pk,
                VAL("vm_pte_delta_kB", grew), VAL("rss_delta_kB", d.after.rss - d.before.rss)))
        narrate_because(&n, "one_byte_builds_tables",
                        "One byte cost one 4 KiB page and %lld kB of page tables: a PT table "
                        "for its 2 MiB, a PD table for its 1 GiB%s.", (long long)grew,
                        grew > 2 * pk ? ", and the higher tables no other mapping had made yet"
                                      : "; the higher tables were already there");
}

/* The rows 4 KiB, 2 MiB and 1 GiB: VmPTE against the tables they need. */
static void explain_row(const char *id, size_t count, size_t stride, int64_t expected_tables,
                        int64_t upper_tables)
{
    int64_t grew = d.after.vm_pte - d.before.vm_pte, faults = d.after.minflt - d.before.minflt;
    narrate_fact_int(&n, "touches", (int64_t)count);
    narrate_fact_int(&n, "stride_kB", (int64_t)(stride / KiB));
    narrate_fact_int(&n, "expected_tables", expected_tables);
    rows();
    if (FINDING(&n, id, grew >= expected_tables * d.page_kb && grew <= upper_tables * d.page_kb,
                VAL("vm_pte_delta_kB", grew), VAL("touches", count), VAL("tables", expected_tables),
                VAL("minor_faults", faults)))
        narrate_because(&n, id,
                        "Bytes touched: %zu; minor faults: %lld; memory: %zu KiB; VmPTE grew "
                        "by %lld kB: %lld page tables of 4 KiB, %s.",
                        count, (long long)faults, count * 4, (long long)grew,
                        (long long)(grew / d.page_kb),
                        stride == 4 * KiB ? "one per 512 pages: tables cost 1/512 of the memory"
                        : stride == 2 * MiB ? "one PT table per byte: as much table as memory"
                                            : "a PT and a PD table per byte: twice the memory");
}

static void explain_4k(void)
{
    explain_row("every_4k_tables", n4, 4 * KiB, new_tables((uintptr_t)a, n4, 4 * KiB, 21), new_tables((uintptr_t)a, n4, 4 * KiB, 21));
}

static void explain_2m(void)
{
    int64_t t = (int64_t)n2 + 1; /* a PT table each, and GiB 1's PD table */
    explain_row("every_2m_tables", n2, 2 * MiB, t, t);
}

static void explain_1g(void)
{
    uintptr_t first = (uintptr_t)a + 2 * GiB;
    int64_t t = 2 * (int64_t)n1; /* a PT and a PD table each; PDPT tables if new */
    explain_row("every_1g_tables", n1, GiB, t,
                t + new_tables(first, n1, GiB, 39) + (d.la57_space ? new_tables(first, n1, GiB, 48) : 0));
}

static void explain_huge(void)
{
    int64_t grew = d.after.vm_pte - d.before.vm_pte, faults = d.after.minflt - d.before.minflt;
    int64_t anon_huge = d.after.anon_huge - d.before.anon_huge, huge_kb = (int64_t)(d.thp.huge_size / KiB);
    narrate_fact_int(&n, "touches", (int64_t)nhuge);
    narrate_fact_int(&n, "madvise_result", advised);
    narrate_fact(&n, "thp_mode", "%s", d.thp.mode[0] ? d.thp.mode : "none");
    rows();
    n.row_page_kb = 0; /* "+4096 pages" is not what eight huge pages are */
    narrate_value(&n, "AnonHugePages", "kB", d.before.anon_huge >= 0, d.before.anon_huge,
                  d.after.anon_huge >= 0, d.after.anon_huge);
    int64_t fallback = d.after.thp.fault_fallback - d.before.thp.fault_fallback;
    narrate_value(&n, "thp_fault_fallback", "", d.before.thp.fault_fallback >= 0,
                  d.before.thp.fault_fallback, d.after.thp.fault_fallback >= 0,
                  d.after.thp.fault_fallback);
    bool all_huge = anon_huge == (int64_t)nhuge * huge_kb;
    if (FINDING(&n, "huge_pages_mapped", all_huge, VAL("anon_huge_delta_kB", anon_huge),
                VAL("minor_faults", faults)))
        narrate_because(&n, "huge_pages_mapped",
                        "%zu bytes, %lld faults, and %lld kB of AnonHugePages: each fault mapped "
                        "a whole 2 MiB page with one PD entry. The walk stops at the PD: no PT "
                        "entry, no last level.", nhuge, (long long)faults, (long long)anon_huge);
    if (all_huge && FINDING(&n, "pt_table_deposited", grew == (int64_t)nhuge * d.page_kb,
                            VAL("vm_pte_delta_kB", grew), VAL("huge_pages", nhuge)))
        narrate_because(&n, "pt_table_deposited",
                        "Yet VmPTE grew by %lld kB, one 4 KiB table per huge page: the kernel "
                        "sets a PT table aside with each huge page (unused by the walk), so "
                        "that splitting it later never needs to allocate.", (long long)grew);
    if (all_huge && FINDING(&n, "no_pt_tables", grew == 0, VAL("vm_pte_delta_kB", 0)))
        narrate_because(&n, "no_pt_tables", "VmPTE did not grow: no PT tables at all.");
    if (!all_huge && FINDING(&n, "thp_not_used", anon_huge == 0, VAL("anon_huge_delta_kB", 0),
                             VAL("vm_pte_delta_kB", grew), VAL("thp_fault_fallback_delta", fallback)))
        narrate_because(&n, "thp_not_used",
                        "No huge page (AnonHugePages +0 kB): %s, so each byte got a 4 KiB page "
                        "and the walk kept its last level.",
                        !d.thp.mode[0] ? "this kernel has no transparent huge pages"
                        : d.thp_off ? "THP is disabled for this process (PR_SET_THP_DISABLE)"
                        : strcmp(d.thp.mode, "never") == 0 ? "THP is 'never' here"
                        : fallback > 0 ? "thp_fault_fallback moved: the kernel found no free 2 MiB block"
                       : "the kernel chose not to");
}

static void explain_unmap(void)
{
    rows();
    int64_t left = d.after.vm_pte - d.start.vm_pte;
    if (FINDING(&n, "tables_freed", left <= 2 * d.page_kb,
                VAL("vm_pte_vs_start_kB", left)))
        narrate_because(&n, "tables_freed",
                        "munmap freed the pages and the tables under them: VmPTE is %lld kB, "
                        "%lld kB before the first step.", (long long)d.after.vm_pte,
                        (long long)d.start.vm_pte);
}

static const struct step {
    const char *id, *title;
    void (*lesson)(void);
    void (*explain)(void);
} steps[] = {
    {"reserve", "Reserve a large range with MAP_NORESERVE", reserve, explain_reserve},
    {"walk", "Write one byte; split its address; read its pagemap entry", walk, explain_walk},
    {"every_4k", "Touch one byte per 4 KiB", every_4k, explain_4k},
    {"every_2m", "Touch one byte per 2 MiB", every_2m, explain_2m},
    {"every_1g", "Touch one byte per 1 GiB", every_1g, explain_1g},
    {"huge", "The same per 2 MiB with transparent huge pages", huge, explain_huge},
    {"unmap", "Unmap it", unmap, explain_unmap},
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* ---- Options, sizes and the machine ---- */

enum { OPT_GIB };
static const struct cli_option options[] = {
    [OPT_GIB] = {"gib", "N", "how many GiB to reserve (default 64; 4 to 1024): one byte is "
                             "touched in each GiB after the second"},
};

static const struct demo_info info = {
    .name = "page-walk",
    .summary = "Splits an address of its own into page-table indices, reads its frame\n"
               "from /proc/self/pagemap, and measures what page tables cost: one byte\n"
               "per 4 KiB, per 2 MiB and per 1 GiB of a large MAP_NORESERVE range, and\n"
               "VmPTE after each; with transparent huge pages the walk is one level shorter.",
    .options = options,
    .noptions = 1,
    .examples = "  page-walk              the seven steps over 64 GiB of address space\n"
                "  sudo page-walk         the same, with the frame number of the byte\n"
                "  page-walk --gib 8 --json\n",
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(uint64_t *)ctx = cli_count_arg(&info, "--gib", arg, 4, 1024);
}

static bool cpu_has_la57(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strncmp(line, "flags", 5) == 0 && strstr(line, " la57") != NULL;
    if (f)
        (void)fclose(f);
    return found;
}

/* 57-bit addresses only when the kernel grants a hint above 2^47. */
static bool space_is_57_bit(void)
{
#ifdef MAP_FIXED_NOREPLACE
    void *hint = (void *)(UINT64_C(1) << 48);
    void *q = mmap(hint, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (q != MAP_FAILED)
        munmap(q, 4096);
    return q == hint;
#else
    return false;
#endif
}

int main(int argc, char **argv)
{
    uint64_t gib = 0;
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, on_option, &gib);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);
    narrate_init(&n, info.name, &common, NSTEPS);
#if !defined(__x86_64__)
    narrate_finish(&n, RESULT_SKIP, "the page-table split shown is x86-64's; this is another CPU");
#endif
    if (sysconf(_SC_PAGESIZE) != 4096)
        narrate_finish(&n, RESULT_SKIP, "the page size here is not 4 KiB");
    d.page_kb = 4;
    thp_read(&d.thp);
    d.thp_off = d.thp.off_for_process;
    d.la57_cpu = cpu_has_la57();
    d.la57_space = d.la57_cpu && space_is_57_bit();

    /* Address space: MAP_NORESERVE charges nothing, except in overcommit
     * mode 2, which ignores it; RLIMIT_AS counts it always. */
    struct budget b;
    budget_read(&b);
    uint64_t want = (gib ? gib : 64) * GiB, room = UINT64_MAX;
    if (b.headroom[BUDGET_COMMIT_LIMIT] != BUDGET_UNLIMITED)
        room = b.headroom[BUDGET_COMMIT_LIMIT] / 4 * 3;
    bool by_commit = room != UINT64_MAX;
    if (b.headroom[BUDGET_RLIMIT_AS] != BUDGET_UNLIMITED && b.headroom[BUDGET_RLIMIT_AS] / 2 < room) {
        room = b.headroom[BUDGET_RLIMIT_AS] / 2;
        by_commit = false;
    }
    len = (size_t)want;
    if (room < want + GiB) {
        if (gib || room < 4 * GiB)
            narrate_finish(&n, RESULT_SKIP, "%llu GiB of address space do not fit in %s of what "
                           "%s leaves (%llu MiB)%s", (unsigned long long)(gib ? want / GiB + 1 : 4),
                           by_commit ? "3/4" : "half",
                           by_commit ? "CommitLimit - Committed_AS (overcommit mode 2 ignores "
                                       "MAP_NORESERVE)" : "RLIMIT_AS - VmSize",
                           (unsigned long long)((by_commit ? room / 3 * 4 : room * 2) / MiB),
                           by_commit ? ". As root: echo 0 > /proc/sys/vm/overcommit_memory"
                                     : ". Raise it: ulimit -v unlimited");
        len = (size_t)(room / GiB - 1) * GiB;
        snprintf(d.why_size, sizeof d.why_size, "%zu GiB, not 64: %s", len / GiB,
                 by_commit ? "overcommit mode 2 ignores MAP_NORESERVE and charges the whole "
                             "range, so it must fit in 3/4 of CommitLimit - Committed_AS"
                           : "RLIMIT_AS (ulimit -v) leaves less than twice 65 GiB");
    }
    /* Memory: each row's touches, from what this process may use. */
    uint64_t mem = b.headroom[BUDGET_MEM_AVAILABLE];
    if (b.headroom[BUDGET_CGROUP] < mem)
        mem = b.headroom[BUDGET_CGROUP];
    uint64_t quarter = mem == BUDGET_UNLIMITED ? 64 * MiB : mem / 4;
    n4 = (size_t)(quarter / 3 / (4 * KiB) < 2048 ? quarter / 3 / (4 * KiB) : 2048);
    n2 = (size_t)(quarter / 3 / (8 * KiB) < 256 ? quarter / 3 / (8 * KiB) : 256);
    nhuge = (size_t)(quarter / 3 / (2 * MiB) < 8 ? quarter / 3 / (2 * MiB) : 8);
    n1 = len / GiB - 2;
    if (n4 < 512 || n2 < 2 || nhuge < 1)
        narrate_finish(&n, RESULT_SKIP, "this process may use too little memory (%llu KiB) "
                       "for the touches: free some", (unsigned long long)(mem / KiB));

    narrate_observe(&n, observe, NULL);
    read_now(&d.start);
    narrate_intro(&n, "page-walk (PID %ld): %zu GiB of address space, %d-level paging.",
                  (long)getpid(), len / GiB + 1, d.la57_space ? 5 : 4);
    for (int i = 0; i < NSTEPS; i++) {
        narrate_begin(&n, steps[i].id, steps[i].title);
        if (steps[i].lesson == every_2m)
            narrate_ask(&n, "VmPTE after one byte per 2 MiB?",
                        (const char *const[]){"grows by much less than the memory touched",
                                              "grows about as much as the memory touched",
                                              "does not grow", NULL});
        steps[i].lesson();
        steps[i].explain();
        if (steps[i].lesson == every_2m) {
            int64_t grew = d.after.vm_pte - d.before.vm_pte, mem_kb = (int64_t)n2 * 4;
            narrate_answer(&n, !narrate_held(&n, "every_2m_tables") ? -1
                               : grew == 0 ? 2 : grew >= mem_kb ? 1 : 0,
                           "every_2m_tables");
        }
        narrate_end_step(&n);
        n.row_page_kb = 4;
        if (steps[i].lesson == reserve)
            narrate_watch(&n, (uintptr_t)a);
    }
    narrate_finish(&n, RESULT_OK, "every number above was measured in this run.");
}
