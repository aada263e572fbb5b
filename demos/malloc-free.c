/* SPDX-License-Identifier: MIT */
/* malloc-free: what malloc'd memory costs, and what free gives back. A big block is a mapping of
 * its own and only address space until written; calloc of it needs no memset; its free unmaps it
 * at once. Small blocks come from the heap, and their free keeps the memory in the process until
 * malloc_trim. Measured: sbrk(0), the [heap] entry and the block's own entry in /proc/self/smaps,
 * VmSize, VmRSS, minor faults, mallinfo2. Where malloc gets memory from: malloc-brk.
 * With --allocator, a child runs the same steps under LD_PRELOAD of another malloc
 * (lib/kernel/malloc-side), measures itself the same way and sends its numbers back (other_*).
 * This process is glibc's malloc: another C library, or a sanitizer that replaces malloc, cannot
 * show it (exit 77). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "malloc-child.h"
#include "malloc-report.h"
#include "malloc-side.h"
#include "narrate.h"
#include "needs.h"
#include "residency.h"
#include "thp.h"

#ifdef VMLAB_GLIBC_MALLOC
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

static struct narrator n;

#ifdef VMLAB_GLIBC_MALLOC
static const char *other_path;   /* --allocator: the library the child preloads (a real path) */
static char other_name[64];      /* "jemalloc", or that library's file name */

/* ---- The lesson ---- */

static char *big, *zeroed;  /* malloc and calloc of big_size */
static uint64_t big_size;   /* 1 GiB, or what this process may use */
static char *blocks[64], *pin;
static const size_t block = 64 << 10;
static int trimmed;

/* Steps 1-5: a big block is address space; calloc need not write it. */
LESSON_FN static void malloc_big(void) { LESSON(&n, big = malloc(big_size);); }
LESSON_FN static void write_first(void) { LESSON(&n, big[0] = 1;); }
LESSON_FN static void write_middle(void) { LESSON(&n, big[big_size / 2] = 1;); }
LESSON_FN static void calloc_big(void) { LESSON(&n, zeroed = calloc(1, big_size);); }
LESSON_FN static void free_big(void) { LESSON(&n, free(big); free(zeroed);); }

/* Steps 6-9: free keeps heap memory; malloc_trim gives it back. pin, above
 * the blocks, is larger than tcache's and the fast bins' chunks: its free
 * merges with the free space on both sides, as a small one's would not. */
LESSON_FN static void fill_heap(void)
{
    LESSON(&n, for (int i = 0; i < 64; i++) memset(blocks[i] = malloc(block), 1, block);
               pin = malloc(4096););
}

LESSON_FN static void free_blocks(void)
{
    LESSON(&n, for (int i = 0; i < 64; i++) free(blocks[i]););
}

LESSON_FN static void trim(void) { LESSON(&n, trimmed = malloc_trim(0);); }
LESSON_FN static void free_pin(void) { LESSON(&n, free(pin);); }

/* ---- What each step measured ---- */

/* The steps that other steps look at, by their index in steps[] (NSTEPS: checked there). */
enum { FILL_HEAP = 5, FREE_BLOCKS, TRIM, NSTEPS = 9 };

/* By step: the pointer whose block its numbers show (NULL: none), and whether its code
 * allocates that block (then its usable size is a fact). */
static const struct { char **at; bool allocates; } focus[NSTEPS] = {
    {&big, true}, {&big, false}, {&big, false}, {&zeroed, true}, {NULL, false},
    {&pin, false}, {&pin, false}, {&pin, false}, {NULL, false}};

static struct malloc_side mine, theirs[NSTEPS]; /* this step's, in this process; the child's */

static struct {
    int64_t page_kb, huge_kb, big_kb;
    char why[400];
    uintptr_t block_start, block_end; /* the step's block's own pages, after its code */
    int64_t block_kb[2];              /* how much of them is resident, before and after; -1 none */
} d;

/* The block's own pages, from its chunk header (16 bytes before the pointer)
 * to its end, and how many kB of them are resident (mincore): its smaps entry
 * may also hold an adjacent anonymous mapping, merged by the kernel. */
static int64_t block_resident_kb(const char *at)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    char picture[2]; /* one character for the whole range: only the count is wanted */
    if (!at)
        return -1;
    d.block_start = ((uintptr_t)at - 2 * sizeof(size_t)) & ~(page - 1);
    d.block_end = ((uintptr_t)at + malloc_usable_size((void *)at) + page - 1) & ~(page - 1);
    size_t len = d.block_end - d.block_start;
    long resident = residency_picture_scaled((void *)d.block_start, len, len / page, picture,
                                             sizeof picture);
    return resident < 0 ? -1 : resident * (int64_t)(page / 1024);
}

/* mincore before the step's counters are read and after (its stack may fault). */
static void observe(void *ctx, bool after)
{
    (void)ctx;
    char **at = n.step > 0 ? focus[n.step - 1].at : NULL;
    if (!after)
        d.block_kb[0] = block_resident_kb(at ? *at : NULL); /* NULL where the step allocates */
    malloc_side_observe(&n, &mine, after, at ? (uintptr_t)*at : 0, theirs);
    if (!after)
        return;
    d.block_kb[1] = block_resident_kb(at ? *at : NULL);
    mine.usable = focus[n.step - 1].allocates && *at ? (int64_t)malloc_usable_size(*at) : 0;
    mine.trimmed = trimmed;
}

/* ---- What the other malloc did ---- */

/* mallinfo2 and malloc_trim are glibc's whatever serves malloc: what they did in the child. */
static void glibc_calls_there(const struct malloc_side *o)
{
    int64_t used = ((int64_t)o->a.mi.uordblks - (int64_t)o->b.mi.uordblks) / 1024;
    if (n.step - 1 == FILL_HEAP)
        CONCLUDE(&n, "other_mallinfo2_is_glibcs",
                 malloc_side_glibcs_there(o, CALL_MALLINFO) && 2 * used < o->rss,
                 VALUES(VAL("in_use_delta_kB", used), VAL("vm_rss_delta_kB", o->rss)),
                 "mallinfo2 is glibc's (dladdr: %s) and knows only glibc's heap: in use %+lld "
                 "kB while VmRSS grew by %lld kB under %s.", o->from[CALL_MALLINFO],
                 (long long)used, (long long)o->rss, other_name);
    if (n.step - 1 == TRIM)
        CONCLUDE(&n, "other_malloc_trim_is_glibcs", malloc_side_glibcs_there(o, CALL_TRIM),
                 VALUES(VAL("malloc_trim_result", o->trimmed), VAL("vm_rss_delta_kB", o->rss)),
                 "malloc_trim is glibc's (dladdr: %s): in the child it returned %d and VmRSS "
                 "moved by %+lld kB. At the 64 frees (step 7) %s's VmRSS moved by %+lld kB.",
                 o->from[CALL_TRIM], o->trimmed, (long long)o->rss, other_name,
                 (long long)theirs[FREE_BLOCKS].rss);
}

/* Every explanation ends here: our rows, then the child's numbers and what they show. */
static void both_sides(void)
{
    const struct malloc_side *o = &theirs[n.step - 1];
    malloc_side_explain_both(&n, &mine, theirs, n.step - 1 >= FILL_HEAP && n.step - 1 <= TRIM,
                             strncmp(n.id, "free", 4) == 0, glibc_calls_there);
    if (other_path && strcmp(n.id, "calloc_big") == 0)
        CONCLUDE(&n, "other_calloc_wrote_zeroes", 2 * o->rss >= d.big_kb,
                 VALUES(VAL("minor_faults", o->faults), VAL("vm_rss_delta_kB", o->rss),
                        VAL("block_kB", d.big_kb)),
                 "%s's calloc wrote its zeroes: %lld faults, VmRSS +%lld kB of a %lld kB block: "
                 "%s memory now.", other_name, (long long)o->faults, (long long)o->rss,
                 (long long)d.big_kb, o->rss >= d.big_kb ? "all of it is" : "at least half is");
}

/* ---- What glibc's steps show ---- */

/* Steps 1-4: the big block, its first and middle byte, calloc. */
static void explain_big(void)
{
    const struct malloc_side *s = &mine;
    bool heap = s->where == HEAP || s->where == HEAP_BRK, first = strcmp(n.id, "write_first") == 0;
    /* VmRSS and the block's own pages, not its entry's Rss: that may hold a neighbour too. */
    int64_t huge = malloc_view_kb(&s->a, "AnonHugePages");
    int64_t rss = d.block_kb[1] - d.block_kb[0];
    int64_t huge_moved = huge - malloc_view_kb(&s->b, "AnonHugePages");
    int64_t entry_kb = malloc_view_kb(&s->a, "Size");
    int64_t span_kb = (int64_t)(d.block_end - d.block_start) / 1024;
    if (strncmp(n.id, "write_", 6) != 0)
        narrate_fact_int(&n, "big_kB", d.big_kb);
    if (strcmp(n.id, "malloc_big") == 0) {
        if (d.big_kb < 1 << 20) /* less than the 1 GiB asked for */
            CONCLUDE(&n, "big_shrunk", true, VALUES(VAL("big_kB", d.big_kb)),
                     "1 GiB is more than this process may use (%s): the lesson asks for %lld kB "
                     "instead.", d.why, (long long)d.big_kb);
        CONCLUDE(&n, "big_is_address_space", !heap && s->vm >= d.big_kb && s->rss <= d.huge_kb,
                 VALUES(VAL("vm_size_delta_kB", s->vm), VAL("rss_kB", s->rss)),
                 "A mapping of its own: VmSize grew by %lld kB (the size plus malloc's header, "
                 "in whole pages), VmRSS only by %lld kB, for what malloc wrote.",
                 (long long)s->vm, (long long)s->rss);
        CONCLUDE(&n, "header_touched_one_page", s->rss == d.page_kb && huge == 0,
                 VALUES(VAL("vm_rss_delta_kB", s->rss)),
                 "That page holds malloc's 16-byte chunk header, just before the pointer.");
        CONCLUDE(&n, "header_touched_huge_page", s->rss >= d.huge_kb && huge >= d.huge_kb,
                 VALUES(VAL("anon_huge_kB", huge)),
                 "Writing the header brought a whole %lld kB transparent huge page "
                 "(AnonHugePages): THP is at work here.", (long long)d.huge_kb);
    } else if (strncmp(n.id, "write_", 6) == 0) {
        CONCLUDE(&n, "page_already_there", rss == 0 && s->faults == 0,
                 VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", s->faults)),
                 "No fault and Rss +0 kB: %s", first ? "big[0] is in the page malloc already "
                 "wrote its header into. The article's +4 KiB happened at malloc, not here." :
                 "this page was already there.");
        CONCLUDE(&n, "write_one_page", rss == d.page_kb && huge_moved == 0 && s->faults == 1,
                 VALUES(VAL("rss_delta_kB", rss), VAL("minor_faults", s->faults)),
                 "One fault, Rss +%lld kB: one page; the rest of %lld kB is still address space.",
                 (long long)rss, (long long)d.big_kb);
        CONCLUDE(&n, "write_huge_page", rss == d.huge_kb && huge_moved == d.huge_kb,
                 VALUES(VAL("rss_delta_kB", rss), VAL("anon_huge_delta_kB", huge_moved)),
                 "Rss +%lld kB in AnonHugePages: one write, a whole transparent huge page.",
                 (long long)rss);
    } else {
        CONCLUDE(&n, "calloc_skipped_memset", !heap && s->faults <= 1 && s->rss <= d.huge_kb,
                 VALUES(VAL("minor_faults", s->faults), VAL("vm_rss_delta_kB", s->rss),
                        VAL("big_kB", d.big_kb)),
                 "calloc of %lld kB: %lld fault%s, VmRSS +%lld kB, no memset: memory fresh from "
                 "mmap is zero, and glibc knows a mapped chunk is fresh.", (long long)d.big_kb,
                 (long long)s->faults, s->faults == 1 ? "" : "s", (long long)s->rss);
    }
    if (strncmp(n.id, "write_", 6) != 0)
        CONCLUDE(&n, "block_merged_in_entry", s->a.mapped && entry_kb > span_kb,
                 VALUES(VAL("entry_size_kB", entry_kb), VAL("block_span_kB", span_kb),
                        VAL("block_rss_kB", d.block_kb[1])),
                 "Its smaps entry is %lld kB, the block %lld kB: the kernel merged it with the "
                 "anonymous mapping beside it, and the entry's Rss counts both; block_Rss is the "
                 "block's own (mincore).", (long long)entry_kb, (long long)span_kb);
    both_sides();
    narrate_value(&n, "block_Rss", "kB", d.block_kb[0] >= 0, d.block_kb[0], true, d.block_kb[1]);
}

/* Step 5, what free gives back of a mapped chunk: its free is munmap, at once. */
static void explain_free_big(void)
{
    CONCLUDE(&n, "free_big_unmapped", mine.vm <= -2 * d.big_kb,
             VALUES(VAL("vm_size_delta_kB", mine.vm)),
             "Both mappings are gone: VmSize fell by %lld kB at once.", (long long)-mine.vm);
    both_sides();
}

/* Steps 6-9, what free gives back of the heap's memory, as mallinfo2 and as smaps see it. */
static void explain_free(void)
{
    const struct malloc_side *s = &mine;
    int64_t used = ((int64_t)s->a.mi.uordblks - (int64_t)s->b.mi.uordblks) / 1024;
    int64_t freed = ((int64_t)s->a.mi.fordblks - (int64_t)s->b.mi.fordblks) / 1024;
    if (n.step - 1 == FILL_HEAP) {
        CONCLUDE(&n, "heap_holds_blocks", s->heap_rss >= 3072 && used >= 4096,
                 VALUES(VAL("heap_rss_delta_kB", s->heap_rss), VAL("in_use_delta_kB", used)),
                 "64 written blocks of 64 KiB, below the threshold: [heap]'s Rss +%lld kB, "
                 "mallinfo2's in use (uordblks) +%lld kB.", (long long)s->heap_rss,
                 (long long)used);
    } else if (n.step - 1 == FREE_BLOCKS) {
        CONCLUDE(&n, "free_kept_memory", s->moved == 0 && s->heap_rss > -64 && freed >= 4096,
                 VALUES(VAL("heap_rss_delta_kB", s->heap_rss), VAL("free_delta_kB", freed)),
                 "free gave %lld kB back to malloc (mallinfo2's fordblks), not to the kernel: "
                 "[heap]'s Rss %+lld kB, the break unmoved (pin, above them, holds the heap's "
                 "end).", (long long)freed, (long long)s->heap_rss);
    } else if (n.step - 1 == TRIM) {
        narrate_fact_int(&n, "malloc_trim_result", trimmed);
        CONCLUDE(&n, "trim_gave_back",
                 trimmed == 1 && s->heap_rss <= -2048 && s->moved > s->heap_rss,
                 VALUES(VAL("heap_rss_delta_kB", s->heap_rss), VAL("brk_moved_kB", s->moved)),
                 "malloc_trim(0) returned 1: [heap]'s Rss fell by %lld kB, the break by only "
                 "%lld kB: glibc madvised the free pages below pin away and kept their address "
                 "space.", (long long)-s->heap_rss, (long long)-s->moved);
    } else if (!CONCLUDE(&n, "heap_shrank_at_free", s->moved < 0,
                         VALUES(VAL("brk_moved_kB", s->moved)),
                         "Freeing the heap's last block left more than M_TRIM_THRESHOLD free "
                         "at its end: free moved the break down by %lld kB.",
                         (long long)-s->moved)) {
        narrate_note(&n, "The break moved by %lld kB; [heap] is %lld kB, %lld kB of it resident.",
                     (long long)s->moved, (long long)s->a.heap_size, (long long)s->a.heap_rss);
    }
    both_sides();
}

/* The lesson as a table: the big allocation, then the heap's free memory. */
static const struct narrate_lesson steps[] = {
    {"malloc_big", "malloc a big block", malloc_big, explain_big, NO_QUESTION},
    {"write_first", "Write its first byte", write_first, explain_big,
     "How many page faults will big[0] = 1 take?", {"none: its page is there", "one"},
     {"page_already_there", "write_one_page|write_huge_page"}},
    {"write_middle", "Write a byte in its middle", write_middle, explain_big, NO_QUESTION},
    {"calloc_big", "calloc a block as big", calloc_big, explain_big,
     "calloc must return zeroes: how many page faults will it take?",
     {"one a page: it writes them", "one or none: no memset"},
     {NULL, "calloc_skipped_memset"}},
    {"free_big", "free both", free_big, explain_free_big, NO_QUESTION},
    {"fill_heap", "Fill the heap with 64 blocks of 64 KiB", fill_heap, explain_free, NO_QUESTION},
    {"free_blocks", "free the 64 blocks", free_blocks, explain_free, NO_QUESTION},
    {"trim", "Give free heap memory back: malloc_trim", trim, explain_free, NO_QUESTION},
    {"free_pin", "free the last block", free_pin, explain_free, NO_QUESTION},
};
_Static_assert(NARRATE_COUNT(steps) == NSTEPS, "NSTEPS counts the rows of steps[]");

#define CHILD_ENV "VMLAB_MALLOC_FREE_CHILD"

/* The child under --allocator (demo: this program's name), told big_size. */
static noreturn void be_the_child(const char *how, const char *demo)
{
    const char *arg = malloc_side_child_arg(how);
    char *end = NULL;
    big_size = arg ? strtoull(arg, &end, 10) : 0;
    if (!big_size || *end)
        _exit(EXIT_USAGE);
    malloc_side_child_run(&n, demo, how, observe, &mine, steps, NSTEPS);
}
#endif /* VMLAB_GLIBC_MALLOC */

/* ---- Options, sizes and the machine ---- */

static const struct cli_option options[] = {
    {"allocator", "PATH",
     "also run the same steps in a child under LD_PRELOAD=PATH, another malloc, and show its "
     "numbers beside glibc's (other_*); PATH may be jemalloc or mimalloc (Debian's "
     "libjemalloc2 and libmimalloc2.0)"},
};

static struct budget budget; /* two blocks at once (four with the child), each charged in mode 2 */
static const struct demo_need needs[] = {
    {NEED_MEMORY, .bytes = UINT64_C(32) << 20, .budget = &budget}, /* 16 MiB in half */
    {0},
};

static const struct demo_info info = {
    .name = "malloc-free",
    .needs = needs,
    .summary =
        "Watches what glibc's malloc costs and what free gives back: malloc of a big\n"
        "block is address space, written page by page; calloc skips the memset; free\n"
        "unmaps a big block at once, but keeps heap memory until malloc_trim. With\n"
        "--allocator, the same steps under another malloc, side by side. Where malloc\n"
        "gets memory from: malloc-brk.",
    DEMO_OPTIONS(options),
    .examples = "  malloc-free                the nine steps\n"
                "  malloc-free --step         pause before each step; watch smaps live\n"
                "  malloc-free --predict      guess the faults of steps 2 and 4, then see\n"
                "  malloc-free --allocator jemalloc  the same steps under jemalloc too\n",
#ifdef VMLAB_GLIBC_MALLOC /* else there are no steps: it says why and exits 77 */
    .lessons = LESSONS(TABLE(steps)),
#endif
};

static void on_option(void *ctx, size_t index, const char *arg)
{
    (void)index;
    *(const char **)ctx = arg;
}

int main(int argc, char **argv)
{
#ifdef VMLAB_GLIBC_MALLOC
    const char *child_of = getenv(CHILD_ENV);
    if (child_of)
        be_the_child(child_of, info.name);
#endif
    struct cli_common common;
    const char *allocator = NULL;
    int first = cli_parse(argc, argv, &info, &common, on_option, &allocator);
    cli_no_positionals(&info, argc, argv, first);
#ifndef VMLAB_GLIBC_MALLOC
    demo_start(&n, &info, &common, 1);
    narrate_finish(&n, RESULT_SKIP, "%s", malloc_side_unsupported());
#else
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    d.page_kb = (int64_t)(page / 1024);
    struct thp thp;
    thp_read(&thp);
    d.huge_kb = (int64_t)(thp.huge_size / 1024);
    demo_start(&n, &info, &common, NSTEPS);
    malloc_side_who_serves(&mine);
    if (strcmp(mine.from[CALL_MALLOC], mine.from[CALL_LIBC]) != 0)
        narrate_finish(&n, RESULT_SKIP, "malloc here is not glibc's: dladdr finds it in %s "
                       "(LD_PRELOAD='%s'); the lesson is glibc's malloc (for another one beside "
                       "it: --allocator)", mine.from[CALL_MALLOC],
                       getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    budget_choose_size(&budget, 0, UINT64_C(1) << 30, page, 2, allocator ? 8 : 4, &big_size, d.why,
                       sizeof d.why);
    d.big_kb = (int64_t)(big_size / 1024);
    if (allocator) {
        char size[32]; /* the child's big_size */
        snprintf(size, sizeof size, "%zu", (size_t)big_size);
        other_path = malloc_side_start_other(&n, &info, CHILD_ENV, allocator, size, &theirs[0],
                                             other_name, sizeof other_name);
    }
    narrate_observe(&n, observe, NULL);
    /* A look before step 1: what our measuring writes is then resident, in no step's VmRSS. */
    observe(NULL, false);
    char big_text[32];
    format_size(big_size, big_text, sizeof big_text);
    narrate_intro(&n, "malloc-free (PID %ld): glibc %s's malloc. The break is at %p now.\n"
                  "The big block of steps 1-4 is %s.", (long)getpid(), gnu_get_libc_version(),
                  sbrk(0), big_text);
    if (other_path)
        narrate_intro(&n, "Beside it: the same steps under %s, in a child (PID %ld) run with "
                      "LD_PRELOAD=%s. Its numbers are the other_ rows.", other_name,
                      (long)malloc_side_child_pid(), other_path);
    narrate_run(&n, steps, NSTEPS);
    int status = other_path ? malloc_side_child_end() : 0;
    if (status != 0)
        narrate_finish(&n, RESULT_FAIL, "the child under %s ended with status %#x", other_name,
                       status);
    narrate_finish(&n, RESULT_OK, "a big block, calloc, free and malloc_trim%s; every number "
                   "above was measured in this run.", other_path ? ", beside another malloc" : "");
#endif
}
