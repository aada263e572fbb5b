/* SPDX-License-Identifier: MIT */
/* malloc-brk: where malloc gets memory from. Small requests come from the
 * heap, which grows by moving the program break (brk); large ones get a
 * mapping of their own (mmap). Freed heap memory stays with the process
 * until malloc_trim. Every answer is measured: the break (sbrk(0)), the
 * [heap] entry and the allocation's own entry in /proc/self/smaps, VmSize
 * and VmRSS, the fault counter, and what glibc itself says (mallinfo2).
 *
 * The lesson is the functions just below, in the order the table at the
 * end of them runs them. This is glibc's malloc: another C library, or a
 * build whose sanitizer replaces malloc, cannot show it (exit 77). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "leftovers.h"
#include "narrate.h"
#include "procfs.h"
#include "thp.h"

#if defined(__SANITIZE_ADDRESS__)
#define VMLAB_OTHER_MALLOC "ASan, whose allocator replaces glibc's malloc"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMLAB_OTHER_MALLOC "ASan, whose allocator replaces glibc's malloc"
#endif
#endif
#if defined(__GLIBC__) && !defined(VMLAB_OTHER_MALLOC)
#define VMLAB_GLIBC_MALLOC 1
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

static struct narrator n;

#ifdef VMLAB_GLIBC_MALLOC
/* ---- The lesson ---- */

static char *q;             /* the allocation a step makes */
static size_t want;         /* its size: the step's row */
static char *big, *zeroed;  /* malloc and calloc of big_size */
static size_t big_size;     /* 1 GiB, or what this process may use */
static char *blocks[64], *pin;
static const size_t block = 64 << 10;
static int trimmed;

/* Steps 1-9: where does malloc(want) go? (want: the table's size column) */
LESSON_FN static void allocate(void) { LESSON(&n, q = malloc(want);); }
LESSON_FN static void free_mapped(void) { LESSON(&n, free(q);); }
LESSON_FN static void fix_threshold(void)
{
    LESSON(&n, mallopt(M_MMAP_THRESHOLD, 128 * 1024); q = malloc(want););
}

/* Steps 10-14: a big block is address space; calloc need not write it. */
LESSON_FN static void malloc_big(void) { LESSON(&n, big = malloc(big_size);); }
LESSON_FN static void write_first(void) { LESSON(&n, big[0] = 1;); }
LESSON_FN static void write_middle(void) { LESSON(&n, big[big_size / 2] = 1;); }
LESSON_FN static void calloc_big(void) { LESSON(&n, zeroed = calloc(1, big_size);); }
LESSON_FN static void free_big(void) { LESSON(&n, free(big); free(zeroed);); }

/* Steps 15-18: free keeps heap memory; malloc_trim gives it back. */
LESSON_FN static void fill_heap(void)
{
    LESSON(&n, for (int i = 0; i < 64; i++) memset(blocks[i] = malloc(block), 1, block);
               pin = malloc(16););
}

LESSON_FN static void free_blocks(void)
{
    LESSON(&n, for (int i = 0; i < 64; i++) free(blocks[i]););
}

LESSON_FN static void trim(void) { LESSON(&n, trimmed = malloc_trim(0);); }
LESSON_FN static void free_pin(void) { LESSON(&n, free(pin);); }

/* ---- What each step measured ---- */

struct view {
    uintptr_t brk;                  /* sbrk(0) */
    int64_t vm_size, vm_rss;        /* /proc/self/status, kB */
    int64_t heap_size, heap_rss;    /* the [heap] entry of smaps, kB; 0 if none */
    int64_t minflt;                 /* getrusage */
    struct mallinfo2 mi;            /* what glibc says it holds */
    bool mapped;                    /* an entry holds *focus */
    struct smaps_entry entry;       /* that entry */
};

static struct {
    struct view b, a;               /* before and after the step's code */
    char **focus;                   /* the pointer whose mapping the step shows */
    int64_t page_kb, huge_kb, big_kb;
    struct budget budget;
    bool shrunk;
    char why[400];
    int how[16];                    /* per step: 1 from the heap, 2 a mapping of its own */
} d;

static void find_heap(const struct smaps_entry *e, void *ctx)
{
    struct view *v = ctx;
    uint64_t size = 0, rss = 0;
    if (strcmp(e->name, "[heap]") == 0 && smaps_get(e, "Size", &size) && smaps_get(e, "Rss", &rss)) {
        v->heap_size = (int64_t)size;
        v->heap_rss = (int64_t)rss;
    }
}

static int64_t minflt_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Reading /proc uses stdio, and stdio uses malloc: so the break, the
 * fault count and mallinfo2 are read last before the step's code and first
 * after it, with nothing of ours in between. */
static void look(struct view *v, bool after)
{
    if (after) {
        v->minflt = minflt_now();
        v->brk = (uintptr_t)sbrk(0);
        v->mi = mallinfo2();
    }
    struct procfs_want w[] = {{"VmSize", 0, false}, {"VmRSS", 0, false}};
    if (procfs_read_keyed("/proc/self/status", w, 2) != PROCFS_OK || !w[0].present || !w[1].present)
        narrate_finish(&n, RESULT_FAIL, "reading VmSize and VmRSS in /proc/self/status failed");
    v->vm_size = (int64_t)w[0].value;
    v->vm_rss = (int64_t)w[1].value;
    v->heap_size = v->heap_rss = 0;
    FILE *f = fopen("/proc/self/smaps", "re");
    enum procfs_status st = PROCFS_IO;
    if (f) {
        st = smaps_parse_each(f, find_heap, v);
        (void)fclose(f);
    }
    if (st != PROCFS_OK)
        narrate_finish(&n, RESULT_FAIL, "reading /proc/self/smaps: %s", procfs_strerror(st));
    v->mapped = d.focus && *d.focus &&
                smaps_read_entry((uintptr_t)*d.focus, &v->entry) == PROCFS_OK;
    if (!after) {
        v->mi = mallinfo2();
        v->brk = (uintptr_t)sbrk(0);
        v->minflt = minflt_now();
    }
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    look(after ? &d.a : &d.b, after);
}

static int64_t entry_kb(const struct view *v, const char *key)
{
    uint64_t x = 0;
    return v->mapped && smaps_get(&v->entry, key, &x) ? (int64_t)x : 0;
}

static bool in_heap(void)
{
    return d.a.mapped && strcmp(d.a.entry.name, "[heap]") == 0;
}

static int64_t brk_moved_kb(void)
{
    return ((int64_t)d.a.brk - (int64_t)d.b.brk) / 1024;
}

/* The rows every step shows: the break, the process, the heap, the faults. */
static void rows(void)
{
    narrate_fact(&n, "brk", "%#lx -> %#lx", (unsigned long)d.b.brk, (unsigned long)d.a.brk);
    narrate_fact_int(&n, "brk_moved_kB", brk_moved_kb());
    narrate_value(&n, "VmSize", "kB", true, d.b.vm_size, true, d.a.vm_size);
    narrate_value(&n, "VmRSS", "kB", true, d.b.vm_rss, true, d.a.vm_rss);
    narrate_value(&n, "heap_Size", "kB", true, d.b.heap_size, true, d.a.heap_size);
    narrate_value(&n, "heap_Rss", "kB", true, d.b.heap_rss, true, d.a.heap_rss);
    narrate_value(&n, "minor_faults", "", true, d.b.minflt, true, d.a.minflt);
    if (d.a.mapped) {
        char maps[512];
        smaps_format_header(&d.a.entry, maps, sizeof maps);
        narrate_fact(&n, "maps", "%s", maps);
        /* Before the step, *focus may have been another block elsewhere. */
        bool same = d.b.mapped && d.b.entry.start == d.a.entry.start;
        narrate_value(&n, "Rss", "kB", same, entry_kb(&d.b, "Rss"), true, entry_kb(&d.a, "Rss"));
        narrate_value(&n, "AnonHugePages", "kB", same, entry_kb(&d.b, "AnonHugePages"), true,
                      entry_kb(&d.a, "AnonHugePages"));
    }
}

static void mallinfo_facts(void)
{
    narrate_fact_int(&n, "mallinfo2_arena_kB", (int64_t)(d.a.mi.arena / 1024));
    narrate_fact_int(&n, "mallinfo2_uordblks_kB", (int64_t)(d.a.mi.uordblks / 1024));
    narrate_fact_int(&n, "mallinfo2_fordblks_kB", (int64_t)(d.a.mi.fordblks / 1024));
    narrate_fact_int(&n, "mallinfo2_hblkhd_kB", (int64_t)(d.a.mi.hblkhd / 1024));
}

/* Where did malloc(want) come from? */
static void explain_allocate(int i)
{
    rows();
    narrate_fact_int(&n, "requested_bytes", (int64_t)want);
    int64_t moved = brk_moved_kb(), vm = d.a.vm_size - d.b.vm_size;
    if (FINDING(&n, "from_heap_break_moved", in_heap() && moved > 0, VAL("brk_moved_kB", moved),
                VAL("requested_bytes", want)))
        narrate_because(&n, "from_heap_break_moved",
                        "It came from the heap, and the heap had no room: malloc moved the break "
                        "by %lld kB (brk), and [heap] grew by as much. For %zu bytes it asked for "
                        "more, so that the next requests fit without a system call.",
                        (long long)moved, want);
    if (FINDING(&n, "from_heap_no_brk", in_heap() && moved == 0, VAL("brk_moved_kB", moved),
                VAL("requested_bytes", want)))
        narrate_because(&n, "from_heap_no_brk",
                        "It came from the heap's free space: the pointer is inside [heap] and the "
                        "break did not move: no system call.");
    if (FINDING(&n, "own_mapping", d.a.mapped && !in_heap() && moved == 0 && vm * 1024 >= (int64_t)want,
                VAL("vm_size_delta_kB", vm), VAL("requested_bytes", want)))
        narrate_because(&n, "own_mapping",
                        "It became a mapping of its own: the pointer lies outside [heap] (the maps "
                        "line above), the break did not move, and VmSize grew by %lld kB: glibc "
                        "called mmap for it.", (long long)vm);
    d.how[i] = in_heap() ? 1 : narrate_held(&n, "own_mapping") ? 2 : 0;
}

static void answer_where(void)
{
    bool heap = narrate_held(&n, "from_heap_break_moved") || narrate_held(&n, "from_heap_no_brk");
    narrate_answer(&n, heap ? 0 : narrate_held(&n, "own_mapping") ? 1 : -1,
                   heap ? "from_heap" : "own_mapping");
}

static int step_of(const char *id);

static void explain_k128(int i)
{
    explain_allocate(i);
    answer_where();
    int64_t top = (int64_t)d.b.mi.keepcost;
    narrate_fact_int(&n, "top_chunk_before_bytes", top);
    if (FINDING(&n, "fitted_in_top", in_heap() && brk_moved_kb() == 0 && top >= (int64_t)want,
                VAL("top_chunk_bytes", top), VAL("requested_bytes", want)))
        narrate_because(&n, "fitted_in_top",
                        "128 KiB is glibc's M_MMAP_THRESHOLD, yet this came from the heap: the "
                        "free space at the heap's end (the top chunk, mallinfo2's keepcost: %lld "
                        "bytes) had room for it. glibc looks at the threshold only when the heap "
                        "would have to grow.", (long long)top);
    int k127 = step_of("malloc_127k");
    if (FINDING(&n, "threshold_between_127k_and_128k", d.how[k127] == 1 && d.how[i] == 2,
                VAL("heap_below_bytes", 127 << 10), VAL("mapped_from_bytes", 128 << 10)))
        narrate_because(&n, "threshold_between_127k_and_128k",
                        "So in this run the threshold lies between 127 KiB (heap) and 128 KiB (a "
                        "mapping): glibc's M_MMAP_THRESHOLD is 128 KiB by default, and a request "
                        "that needs at least that much, its 8-byte header included, is mapped.");
}

static void explain_free_mapped(int i)
{
    (void)i;
    rows();
    int64_t vm = d.a.vm_size - d.b.vm_size;
    if (FINDING(&n, "free_unmapped", vm * 1024 <= -(int64_t)want, VAL("vm_size_delta_kB", vm)))
        narrate_because(&n, "free_unmapped",
                        "free gave a mapped chunk straight back to the kernel (munmap): VmSize "
                        "fell by %lld kB at once.", (long long)-vm);
}

static void explain_again(int i)
{
    explain_allocate(i);
    answer_where();
    if (FINDING(&n, "dynamic_threshold_rose", d.how[step_of("malloc_1m")] == 2 && d.how[i] == 1,
                VAL("requested_bytes", want)))
        narrate_because(&n, "dynamic_threshold_rose",
                        "The same malloc(1 MiB) that was a mapping two steps ago now came from the "
                        "heap: freeing a mapped chunk raised glibc's threshold to that chunk's "
                        "size (its dynamic mmap threshold), so it now uses the heap up to there.");
}

static void explain_fixed(int i)
{
    explain_allocate(i);
    if (FINDING(&n, "mallopt_fixed_threshold", d.how[i] == 2, VAL("threshold_bytes", 128 << 10)))
        narrate_because(&n, "mallopt_fixed_threshold",
                        "With M_MMAP_THRESHOLD set by mallopt the threshold is fixed (frees no "
                        "longer move it): 1 MiB is a mapping of its own again.");
}

static void explain_big(int i)
{
    (void)i;
    rows();
    /* VmRSS, not the entry's Rss: a new mapping may merge with a neighbour. */
    int64_t vm = d.a.vm_size - d.b.vm_size, rss = d.a.vm_rss - d.b.vm_rss;
    int64_t huge = entry_kb(&d.a, "AnonHugePages");
    narrate_fact_int(&n, "big_kB", d.big_kb);
    if (d.shrunk && FINDING(&n, "big_shrunk", true, VAL("big_kB", d.big_kb)))
        narrate_because(&n, "big_shrunk", "1 GiB is more than this process may use (%s): the "
                        "lesson asks for %lld kB instead.", d.why, (long long)d.big_kb);
    if (FINDING(&n, "big_is_address_space", !in_heap() && vm >= d.big_kb && rss <= d.huge_kb,
                VAL("vm_size_delta_kB", vm), VAL("rss_kB", rss)))
        narrate_because(&n, "big_is_address_space",
                        "VmSize grew by %lld kB: a mapping of its own, the size plus malloc's "
                        "header, in whole pages. Memory came only for what malloc wrote: VmRSS "
                        "grew by %lld kB.", (long long)vm, (long long)rss);
    if (FINDING(&n, "header_touched_one_page", rss == d.page_kb && huge == 0,
                VAL("vm_rss_delta_kB", rss)))
        narrate_because(&n, "header_touched_one_page",
                        "That one page holds malloc's chunk header, 16 bytes just before the "
                        "pointer it returned.");
    if (FINDING(&n, "header_touched_huge_page", rss >= d.huge_kb && huge >= d.huge_kb,
                VAL("anon_huge_kB", huge)))
        narrate_because(&n, "header_touched_huge_page",
                        "Writing malloc's chunk header brought a whole %lld kB transparent huge "
                        "page (AnonHugePages): THP is at work for this mapping.",
                        (long long)d.huge_kb);
}

static void explain_write(int i)
{
    rows();
    int64_t rss = entry_kb(&d.a, "Rss") - entry_kb(&d.b, "Rss"), faults = d.a.minflt - d.b.minflt;
    int64_t huge = entry_kb(&d.a, "AnonHugePages") - entry_kb(&d.b, "AnonHugePages");
    bool first = i == step_of("write_first");
    if (FINDING(&n, "page_already_there", rss == 0 && faults == 0, VAL("rss_delta_kB", rss),
                VAL("minor_faults", faults)))
        narrate_because(&n, "page_already_there",
                        "No fault and Rss +0 kB: %s", first ?
                        "big[0] is in the page malloc already wrote its header into. The "
                        "article's +4 KiB happened at malloc, not here." :
                        "this page was already there.");
    if (FINDING(&n, "write_one_page", rss == d.page_kb && huge == 0 && faults == 1,
                VAL("rss_delta_kB", rss), VAL("minor_faults", faults)))
        narrate_because(&n, "write_one_page",
                        "One fault, Rss +%lld kB: one page of %lld kB came, the rest is still "
                        "only address space.", (long long)rss, (long long)d.big_kb);
    if (FINDING(&n, "write_huge_page", rss == d.huge_kb && huge == d.huge_kb,
                VAL("rss_delta_kB", rss), VAL("anon_huge_delta_kB", huge)))
        narrate_because(&n, "write_huge_page",
                        "Rss +%lld kB in AnonHugePages: the kernel mapped a whole transparent huge "
                        "page for this write.", (long long)rss);
}

static void explain_calloc(int i)
{
    (void)i;
    rows();
    int64_t faults = d.a.minflt - d.b.minflt, rss = d.a.vm_rss - d.b.vm_rss;
    narrate_fact_int(&n, "big_kB", d.big_kb);
    if (FINDING(&n, "calloc_skipped_memset", !in_heap() && faults <= 1 && rss <= d.huge_kb,
                VAL("minor_faults", faults), VAL("vm_rss_delta_kB", rss), VAL("big_kB", d.big_kb)))
        narrate_because(&n, "calloc_skipped_memset",
                        "calloc of %lld kB took %lld fault%s and VmRSS grew by %lld kB: it "
                        "did not write zeroes over it. Memory fresh from mmap is zero already, and "
                        "glibc knows a mapped chunk is fresh, so it skips the memset.",
                        (long long)d.big_kb, (long long)faults, faults == 1 ? "" : "s",
                        (long long)rss);
}

static void explain_free_big(int i)
{
    (void)i;
    rows();
    int64_t vm = d.a.vm_size - d.b.vm_size;
    if (FINDING(&n, "free_big_unmapped", vm <= -2 * d.big_kb, VAL("vm_size_delta_kB", vm)))
        narrate_because(&n, "free_big_unmapped", "Both mappings are gone: VmSize fell by %lld kB.",
                        (long long)-vm);
}

static void explain_fill(int i)
{
    (void)i;
    rows();
    mallinfo_facts();
    int64_t rss = d.a.heap_rss - d.b.heap_rss;
    int64_t used = (int64_t)(d.a.mi.uordblks - d.b.mi.uordblks) / 1024;
    if (FINDING(&n, "heap_holds_blocks", rss >= (int64_t)3 * 64 * 64 / 4 && used >= (int64_t)64 * 64,
                VAL("heap_rss_delta_kB", rss), VAL("in_use_delta_kB", used)))
        narrate_because(&n, "heap_holds_blocks",
                        "64 blocks of 64 KiB, below the threshold, all written: [heap]'s Rss grew "
                        "by %lld kB and mallinfo2 counts %lld kB more in use (uordblks).",
                        (long long)rss, (long long)used);
}

static void explain_free_blocks(int i)
{
    (void)i;
    rows();
    mallinfo_facts();
    int64_t rss = d.a.heap_rss - d.b.heap_rss;
    int64_t freed = ((int64_t)d.a.mi.fordblks - (int64_t)d.b.mi.fordblks) / 1024;
    if (FINDING(&n, "free_kept_memory", brk_moved_kb() == 0 && rss > -64 && freed >= (int64_t)64 * 64,
                VAL("heap_rss_delta_kB", rss), VAL("free_delta_kB", freed)))
        narrate_because(&n, "free_kept_memory",
                        "free gave %lld kB back to malloc, not to the kernel: mallinfo2's free "
                        "bytes (fordblks) grew by that much, while [heap]'s Rss moved by %+lld kB "
                        "and the break did not move (pin, above them, holds the heap's end).",
                        (long long)freed, (long long)rss);
}

static void explain_trim(int i)
{
    (void)i;
    rows();
    mallinfo_facts();
    narrate_fact_int(&n, "malloc_trim_result", trimmed);
    int64_t rss = d.a.heap_rss - d.b.heap_rss;
    if (FINDING(&n, "trim_gave_back", trimmed == 1 && rss <= -(int64_t)(64 * 64 / 2),
                VAL("heap_rss_delta_kB", rss), VAL("brk_moved_kB", brk_moved_kb())))
        narrate_because(&n, "trim_gave_back",
                        "malloc_trim(0) returned 1 and [heap]'s Rss fell by %lld kB, while the "
                        "break moved by %lld kB: the free pages inside the heap went back to the "
                        "kernel (glibc madvises them away), their address space stayed.",
                        (long long)-rss, (long long)brk_moved_kb());
    narrate_note(&n, "mallinfo2: arena %lld kB, in use %lld kB, free %lld kB. smaps: [heap] Size "
                 "%lld kB, Rss %lld kB.", (long long)(d.a.mi.arena / 1024),
                 (long long)(d.a.mi.uordblks / 1024), (long long)(d.a.mi.fordblks / 1024),
                 (long long)d.a.heap_size, (long long)d.a.heap_rss);
}

static void explain_free_pin(int i)
{
    (void)i;
    rows();
    int64_t moved = brk_moved_kb();
    if (FINDING(&n, "heap_shrank_at_free", moved < 0, VAL("brk_moved_kB", moved)))
        narrate_because(&n, "heap_shrank_at_free",
                        "With the last block at the heap's end freed, the free space there passed "
                        "M_TRIM_THRESHOLD and free itself moved the break down by %lld kB.",
                        (long long)-moved);
    else
        narrate_note(&n, "The break moved by %lld kB; [heap] is %lld kB, %lld kB of it resident.",
                     (long long)moved, (long long)d.a.heap_size, (long long)d.a.heap_rss);
}

/* The lesson as a table: malloc's six sizes, then the threshold's moves,
 * the big allocation, and the heap's free memory. */
static const struct step {
    const char *id, *title;
    size_t size;               /* want, for the malloc steps */
    void (*lesson)(void);
    void (*explain)(int);
    char **focus;
    bool ask;                  /* --predict: heap or mapping? */
} steps[] = {
    {"malloc_8", "malloc 8 bytes", 8, allocate, explain_allocate, &q, false},
    {"malloc_4k", "malloc 4 KiB", 4 << 10, allocate, explain_allocate, &q, false},
    {"malloc_64k", "malloc 64 KiB", 64 << 10, allocate, explain_allocate, &q, false},
    {"malloc_127k", "malloc 127 KiB", 127 << 10, allocate, explain_allocate, &q, false},
    {"malloc_128k", "malloc 128 KiB", 128 << 10, allocate, explain_k128, &q, true},
    {"malloc_1m", "malloc 1 MiB", 1 << 20, allocate, explain_allocate, &q, false},
    {"free_1m", "free the 1 MiB chunk", 1 << 20, free_mapped, explain_free_mapped, &q, false},
    {"again_1m", "malloc 1 MiB again", 1 << 20, allocate, explain_again, &q, true},
    {"fixed_threshold", "Fix the threshold with mallopt, malloc 1 MiB", 1 << 20, fix_threshold,
     explain_fixed, &q, false},
    {"malloc_big", "malloc a big block", 0, malloc_big, explain_big, &big, false},
    {"write_first", "Write its first byte", 0, write_first, explain_write, &big, false},
    {"write_middle", "Write a byte in its middle", 0, write_middle, explain_write, &big, false},
    {"calloc_big", "calloc a block as big", 0, calloc_big, explain_calloc, &zeroed, false},
    {"free_big", "free both", 0, free_big, explain_free_big, NULL, false},
    {"fill_heap", "Fill the heap with 64 blocks of 64 KiB", 0, fill_heap, explain_fill, &pin, false},
    {"free_blocks", "free the 64 blocks", 0, free_blocks, explain_free_blocks, &pin, false},
    {"trim", "Give free heap memory back: malloc_trim", 0, trim, explain_trim, &pin, false},
    {"free_pin", "free the last block", 0, free_pin, explain_free_pin, NULL, false},
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

static int step_of(const char *id)
{
    for (int i = 0; i < NSTEPS; i++)
        if (strcmp(steps[i].id, id) == 0)
            return i;
    return 0;
}
#endif /* VMLAB_GLIBC_MALLOC */

/* ---- Options, sizes and the machine ---- */

static const struct demo_info info = {
    .name = "malloc-brk",
    .summary =
        "Watches glibc's malloc get memory: small requests from the heap (the program\n"
        "break moves, [heap] grows), large ones as mappings of their own (mmap); the\n"
        "128 KiB threshold and how it moves; malloc of a big block is address space;\n"
        "calloc skips the memset; free keeps heap memory until malloc_trim.",
    .examples = "  malloc-brk                 the eighteen steps\n"
                "  malloc-brk --step          pause before each step; watch smaps live\n"
                "  malloc-brk --predict       say where each allocation goes, then see\n",
};

int main(int argc, char **argv)
{
    struct cli_common common;
    int first = cli_parse(argc, argv, &info, &common, NULL, NULL);
    cli_no_positionals(&info, argc, argv, first);
    leftovers_repair(info.name);
#ifndef VMLAB_GLIBC_MALLOC
    narrate_init(&n, info.name, &common, 1);
#ifdef VMLAB_OTHER_MALLOC
    narrate_finish(&n, RESULT_SKIP, "this program was built with " VMLAB_OTHER_MALLOC "; the "
                   "lesson is glibc's malloc: build without VMLAB_SANITIZE (cmake --preset dev)");
#else
    narrate_finish(&n, RESULT_SKIP, "this C library is not glibc, and the lesson is glibc's malloc "
                   "(its heap, thresholds, mallopt, mallinfo2 and malloc_trim)");
#endif
#else
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    d.page_kb = (int64_t)(page / 1024);
    struct thp thp;
    thp_read(&thp);
    d.huge_kb = (int64_t)(thp.huge_size / 1024);
    /* LD_PRELOAD may put another allocator before glibc's: then glibc's
     * mallinfo2 knows nothing of what malloc handed out. */
    // cppcheck-suppress unusedAllocatedMemory ; only mallinfo2's count of it matters
    void *mine = malloc(1000);
    struct mallinfo2 seen = mallinfo2();
    free(mine);
    narrate_init(&n, info.name, &common, NSTEPS);
    if (seen.uordblks == 0)
        narrate_finish(&n, RESULT_SKIP, "malloc here is not glibc's: glibc's mallinfo2 counts "
                       "nothing in use after a malloc (another allocator, LD_PRELOAD='%s'); the "
                       "lesson is glibc's malloc", getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    budget_read(&d.budget);
    uint64_t bytes = 0;
    /* Two blocks of big_size exist at once; only a page or two of each is
     * written, but in overcommit mode 2 each is charged in full. */
    enum budget_choice got = budget_choose_size(&d.budget, 0, UINT64_C(1) << 30, page, 2, 4, &bytes,
                                                d.why, sizeof d.why);
    char why_fill[400] = "";
    if (got == BUDGET_NONE_FITS || !budget_allows(&d.budget, 16u << 20, 2, why_fill, sizeof why_fill))
        narrate_finish(&n, RESULT_SKIP, "this process may not use enough memory for the lesson "
                       "(it writes 4 MiB): %s. Free some memory or raise that limit.",
                       got == BUDGET_NONE_FITS ? d.why : why_fill);
    big_size = (size_t)bytes;
    d.big_kb = (int64_t)(bytes / 1024);
    d.shrunk = got == BUDGET_SHRUNK;
    narrate_observe(&n, observe, NULL);
    char big_text[32];
    format_size(bytes, big_text, sizeof big_text);
    narrate_intro(&n, "malloc-brk (PID %ld): glibc %s's malloc. The break is at %p now.\n"
                  "The big block of steps 10-13 is %s.", (long)getpid(), gnu_get_libc_version(),
                  sbrk(0), big_text);
    for (int i = 0; i < NSTEPS; i++) {
        narrate_begin(&n, steps[i].id, steps[i].title);
        want = steps[i].size;
        d.focus = steps[i].focus;
        if (steps[i].ask)
            narrate_ask(&n, "Where does this memory come from?",
                        (const char *const[]){"from [heap]", "a mapping of its own", NULL});
        steps[i].lesson();
        steps[i].explain(i);
        narrate_end_step(&n);
        if (i == 0)
            narrate_watch(&n, (uintptr_t)q);
    }
    narrate_finish(&n, RESULT_OK, "the heap, the threshold, a big block and malloc_trim; every "
                   "number above was measured in this run.");
#endif
}
