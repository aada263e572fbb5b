/* SPDX-License-Identifier: MIT */
/* malloc-brk: where malloc gets memory from. Small requests come from the
 * heap, which grows by moving the program break (brk); large ones get a
 * mapping of their own (mmap), above a threshold that free moves and mallopt
 * fixes. Measured: sbrk(0), the [heap] entry and the block's own entry in
 * /proc/self/smaps, VmSize, VmRSS, minor faults, mallinfo2. What malloc'd
 * memory costs and what free gives back: malloc-free.
 * With --allocator, a child runs the same steps under LD_PRELOAD of another
 * malloc (lib/kernel/malloc-side), measures itself the same way and sends
 * its numbers back (other_*).
 * This process is glibc's malloc: another C library, or a sanitizer that
 * replaces malloc, cannot show it (exit 77). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "malloc-child.h"
#include "malloc-report.h"
#include "malloc-side.h"
#include "narrate.h"
#include "needs.h"
#include "residency.h"

#ifdef VMLAB_GLIBC_MALLOC
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

static struct narrator n;

#ifdef VMLAB_GLIBC_MALLOC
static const char *other_path;   /* --allocator: the library the child preloads (a real path) */
static char other_name[64];      /* "jemalloc", or that library's file name */

/* ---- The lesson ---- */

static char *q;             /* the allocation a step makes */
static size_t want;         /* its size, as the step's LESSON says */
#define KiB ((size_t)1024) /* sizes are size_t, as malloc takes them */

/* Where does malloc(want) go? Each step asks its own size. */
LESSON_FN static void malloc_8(void) { LESSON(&n, want = 8; q = malloc(want);); }
LESSON_FN static void malloc_4k(void) { LESSON(&n, want = 4 * KiB; q = malloc(want);); }
LESSON_FN static void malloc_64k(void) { LESSON(&n, want = 64 * KiB; q = malloc(want);); }
LESSON_FN static void malloc_127k(void) { LESSON(&n, want = 127 * KiB; q = malloc(want);); }
LESSON_FN static void malloc_128k(void) { LESSON(&n, want = 128 * KiB; q = malloc(want);); }
LESSON_FN static void malloc_1m(void) { LESSON(&n, want = 1024 * KiB; q = malloc(want);); }
LESSON_FN static void free_mapped(void) { LESSON(&n, free(q);); }
LESSON_FN static void fix_threshold(void)
{
    LESSON(&n, mallopt(M_MMAP_THRESHOLD, 128 * 1024); want = 1024 * KiB; q = malloc(want););
}

/* ---- What each step measured ---- */

/* Every row of steps[], in its order: the index that where_was[] and theirs[] keep a step's
 * numbers under, and that later steps look back by. The table's end checks the count. */
enum { MALLOC_8, MALLOC_4K, MALLOC_64K, MALLOC_127K, MALLOC_128K, MALLOC_1M, FREE_1M, AGAIN_1M,
       FIXED_THRESHOLD, NSTEPS };

static struct malloc_side mine;              /* this step's, in this process */
static struct malloc_side theirs[NSTEPS];    /* the child's, by step */
static enum malloc_where where_was[NSTEPS];  /* ours, by step */
static uintptr_t block_start, block_end;     /* the step's block's own pages */
static int64_t block_kb;                     /* how much of them is resident; -1 none */

/* The block's own pages, from its chunk header (16 bytes before the pointer)
 * to its end, and how many kB of them are resident (mincore). Its smaps entry
 * may be larger: the kernel merges a new anonymous mapping with an adjacent
 * one of the same permissions, and that entry's Rss counts both. */
static int64_t block_resident_kb(const char *at)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    char picture[2]; /* one character for the whole range: only the count is wanted */
    block_start = ((uintptr_t)at - 2 * sizeof(size_t)) & ~(page - 1);
    block_end = ((uintptr_t)at + malloc_usable_size((void *)at) + page - 1) & ~(page - 1);
    size_t len = block_end - block_start;
    long resident = residency_picture_scaled((void *)block_start, len, len / page, picture,
                                             sizeof picture);
    return resident < 0 ? -1 : resident * (int64_t)(page / 1024);
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    int i = n.step - 1;
    malloc_side_observe(&n, &mine, after, (uintptr_t)q, theirs);
    if (!after)
        return;
    where_was[i] = mine.where;
    mine.usable = i != FREE_1M && q ? (int64_t)malloc_usable_size(q) : 0;
    /* After the counters: mincore's vector is on the stack, which may fault. */
    block_kb = i != FREE_1M && q ? block_resident_kb(q) : -1;
}

/* ---- What the other malloc did ---- */

static bool in_heap(enum malloc_where where) { return where == HEAP || where == HEAP_BRK; }

/* mallopt is glibc's in the child, and malloc there is not (dladdr): what
 * glibc's threshold would move, did it move there? */
static void glibc_threshold_there(const struct malloc_side *o)
{
    bool glibcs = malloc_side_glibcs_there(o, CALL_MALLOPT);
    enum malloc_where first = theirs[MALLOC_1M].where, again = theirs[AGAIN_1M].where;
    if (n.step - 1 == AGAIN_1M)
        CONCLUDE(&n, "other_no_dynamic_threshold", glibcs && in_heap(first) == in_heap(o->where),
                 VALUES(VAL("first_where", first), VAL("again_where", o->where)),
                 "The dynamic threshold is glibc's malloc's, not %s's: its first malloc(1 MiB) "
                 "was %s, this one is %s: the free moved nothing between [heap] and a mapping.",
                 other_name, malloc_where_said(first), malloc_where_said(o->where));
    if (n.step - 1 != FIXED_THRESHOLD)
        return;
    /* With the threshold at 128 KiB, glibc's malloc maps 1 MiB anew: anything
     * else shows that this malloc did not read it. */
    char unread[160] = "";
    if (o->where != NEW_MAPPING)
        snprintf(unread, sizeof unread, ". Not a mapping of its own, with the threshold at 128 "
                 "KiB: %s's malloc does not read it", other_name);
    CONCLUDE(&n, "other_mallopt_is_glibcs", glibcs,
             VALUES(VAL("again_where", again), VAL("where", o->where)),
             "mallopt is glibc's (dladdr: %s), malloc is %s's: the threshold it set is glibc's "
             "malloc's. malloc(1 MiB) is %s; at step 8 it was %s%s.", o->from[CALL_MALLOPT],
             other_name, malloc_where_said(o->where), malloc_where_said(again), unread);
}

/* ---- What glibc's steps show ---- */

/* Where did malloc(want) come from? */
static void explain_allocate(void)
{
    const struct malloc_side *s = &mine;
    bool heap = in_heap(s->where);
    enum malloc_where k127 = where_was[MALLOC_127K];
    narrate_fact_int(&n, "requested_bytes", (int64_t)want);
    int64_t grown = s->moved * 1024 - (int64_t)want; /* the break's move beyond the request */
    CONCLUDE(&n, "from_heap_break_moved", heap && s->moved > 0,
             VALUES(VAL("brk_moved_kB", s->moved), VAL("requested_bytes", want)),
             "The heap had no room: malloc moved the break by %lld kB (brk), %s the %zu bytes "
             "asked%s.", (long long)s->moved, grown > 0 ? "more than" : grown == 0 ? "exactly" :
             "less than", want, grown > 0 ? ", so that the next requests fit without a system "
             "call" : ": the rest of the block was free space at the heap's end already");
    CONCLUDE(&n, "from_heap_no_brk", heap && s->moved == 0,
             VALUES(VAL("brk_moved_kB", s->moved), VAL("requested_bytes", want)),
             "From the heap's free space: inside [heap], the break unmoved, no system call.");
    CONCLUDE(&n, "own_mapping", s->a.mapped && !heap && s->moved == 0 &&
             s->vm * 1024 >= (int64_t)want,
             VALUES(VAL("vm_size_delta_kB", s->vm), VAL("requested_bytes", want)),
             "A mapping of its own (outside [heap], the break unmoved): VmSize grew by %lld kB, "
             "glibc called mmap for it.", (long long)s->vm);
    int64_t entry_kb = malloc_view_kb(&s->a, "Size");
    int64_t span_kb = (int64_t)(block_end - block_start) / 1024;
    if (!heap && s->a.mapped)
        CONCLUDE(&n, "block_merged_in_entry", entry_kb > span_kb,
                 VALUES(VAL("entry_size_kB", entry_kb), VAL("block_span_kB", span_kb),
                        VAL("block_rss_kB", block_kb)),
                 "Its smaps entry is %lld kB, the block %lld kB: the kernel merged it with the "
                 "anonymous mapping beside it, and the entry's Rss counts both; block_Rss is the "
                 "block's own (mincore).", (long long)entry_kb, (long long)span_kb);
    if (strcmp(n.id, "malloc_128k") == 0) {
        int64_t top = (int64_t)s->b.mi.keepcost;
        narrate_fact_int(&n, "top_chunk_before_bytes", top);
        CONCLUDE(&n, "fitted_in_top", heap && s->moved == 0 && top >= (int64_t)want,
                 VALUES(VAL("top_chunk_bytes", top), VAL("requested_bytes", want)),
                 "128 KiB is glibc's default M_MMAP_THRESHOLD, yet the top chunk (the heap's free "
                 "end, mallinfo2's keepcost: %lld bytes) had room: glibc looks at the threshold "
                 "only when the heap must grow.", (long long)top);
        CONCLUDE(&n, "threshold_between_127k_and_128k", in_heap(k127) &&
                 narrate_held(&n, "own_mapping"),
                 VALUES(VAL("heap_below_bytes", 127 << 10), VAL("mapped_from_bytes", 128 << 10)),
                 "So the threshold lies between 127 KiB (heap) and 128 KiB (mapped): "
                 "M_MMAP_THRESHOLD, 128 KiB by default, counts malloc's 8-byte header.");
    }
    if (strcmp(n.id, "again_1m") == 0)
        CONCLUDE(&n, "dynamic_threshold_rose", where_was[MALLOC_1M] == NEW_MAPPING && heap,
                 VALUES(VAL("requested_bytes", want)),
                 "The malloc(1 MiB) that was a mapping two steps ago came from the heap: freeing "
                 "a mapped chunk raised glibc's threshold to its size (the dynamic threshold).");
    if (strcmp(n.id, "fixed_threshold") == 0)
        CONCLUDE(&n, "mallopt_fixed_threshold", narrate_held(&n, "own_mapping"),
                 VALUES(VAL("threshold_bytes", 128 << 10)),
                 "mallopt set the threshold to 128 KiB: 1 MiB is a mapping of its own%s.",
                 where_was[MALLOC_1M] == NEW_MAPPING ? " again" : "");
    malloc_side_explain_both(&n, &mine, theirs, false, false, glibc_threshold_there);
    if (!heap && s->a.mapped)
        narrate_value(&n, "block_Rss", "kB", false, 0, true, block_kb);
}

/* A mapped chunk's free is munmap, at once; a heap chunk's may move the break down. */
static void explain_unmap(void)
{
    enum malloc_where was = where_was[MALLOC_1M];
    if (!CONCLUDE(&n, "free_unmapped", was == NEW_MAPPING && mine.moved == 0 &&
                  mine.vm <= -(int64_t)want / 1024, VALUES(VAL("vm_size_delta_kB", mine.vm)),
                  "free gave a mapped chunk straight back to the kernel (munmap): VmSize fell by "
                  "%lld kB at once.", (long long)-mine.vm) &&
        !CONCLUDE(&n, "heap_shrank_at_free", in_heap(was) && mine.moved < 0 &&
                  mine.vm == mine.moved,
                  VALUES(VAL("brk_moved_kB", mine.moved), VAL("vm_size_delta_kB", mine.vm)),
                  "The chunk was in [heap]: free moved the break down by %lld kB (brk), and "
                  "VmSize fell by just that, no munmap: glibc gave the heap's free end back.",
                  (long long)-mine.moved))
        narrate_note(&n, "The break moved by %lld kB, VmSize by %lld kB.", (long long)mine.moved,
                     (long long)mine.vm);
    malloc_side_explain_both(&n, &mine, theirs, false, true, glibc_threshold_there);
}

/* The lesson as a table: malloc's six sizes, then the threshold's moves.
 * --predict asks twice. */
#define WHERE_ASK "Where does this memory come from?", {"from [heap]", "a mapping of its own"}, \
                  {"from_heap_break_moved|from_heap_no_brk", "own_mapping"}
static const struct narrate_lesson steps[] = {
    {"malloc_8", "malloc 8 bytes", malloc_8, explain_allocate, NO_QUESTION},
    {"malloc_4k", "malloc 4 KiB", malloc_4k, explain_allocate, NO_QUESTION},
    {"malloc_64k", "malloc 64 KiB", malloc_64k, explain_allocate, NO_QUESTION},
    {"malloc_127k", "malloc 127 KiB", malloc_127k, explain_allocate, NO_QUESTION},
    {"malloc_128k", "malloc 128 KiB", malloc_128k, explain_allocate, WHERE_ASK},
    {"malloc_1m", "malloc 1 MiB", malloc_1m, explain_allocate, NO_QUESTION},
    {"free_1m", "free the 1 MiB chunk", free_mapped, explain_unmap, NO_QUESTION},
    {"again_1m", "malloc 1 MiB again", malloc_1m, explain_allocate, WHERE_ASK},
    {"fixed_threshold", "Fix the threshold with mallopt, malloc 1 MiB", fix_threshold,
     explain_allocate, NO_QUESTION},
};
/* A row added or removed without its constant above would shift every index after it. */
_Static_assert(NARRATE_COUNT(steps) == NSTEPS, "one constant of the step enum per row of steps[]");
#endif /* VMLAB_GLIBC_MALLOC */

/* ---- Options and the machine ---- */

static const struct cli_option options[] = {
    {"allocator", "PATH",
     "also run the same steps in a child under LD_PRELOAD=PATH, another malloc, and show its "
     "numbers beside glibc's (other_*); PATH may be jemalloc or mimalloc (Debian's "
     "libjemalloc2 and libmimalloc2.0)"},
};

static const struct demo_info info = {
    .name = "malloc-brk",
    .summary =
        "Watches glibc's malloc get memory: small requests from the heap (the program\n"
        "break moves, [heap] grows), large ones as mappings of their own (mmap); the\n"
        "128 KiB threshold, how free moves it and mallopt fixes it. With --allocator,\n"
        "the same steps under another malloc, side by side. What malloc'd memory\n"
        "costs and what free gives back: malloc-free.",
    DEMO_OPTIONS(options),
    .examples = "  malloc-brk                 the nine steps\n"
                "  malloc-brk --step          pause before each step; watch smaps live\n"
                "  malloc-brk --predict       say where each allocation goes, then see\n"
                "  malloc-brk --allocator jemalloc   the same steps under jemalloc too\n",
#ifdef VMLAB_GLIBC_MALLOC /* else there are no steps: it says why and exits 77 */
    .lessons = LESSONS(TABLE(steps)),
#endif
};

#ifdef VMLAB_GLIBC_MALLOC
#define CHILD_ENV "VMLAB_MALLOC_BRK_CHILD"
#endif

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
        malloc_side_child_run(&n, info.name, child_of, observe, &mine, steps, NSTEPS);
#endif
    struct cli_common common;
    const char *allocator = NULL;
    int first = cli_parse(argc, argv, &info, &common, on_option, &allocator);
    cli_no_positionals(&info, argc, argv, first);
#ifndef VMLAB_GLIBC_MALLOC
    demo_start(&n, &info, &common, 1);
    narrate_finish(&n, RESULT_SKIP, "%s", malloc_side_unsupported());
#else
    demo_start(&n, &info, &common, NSTEPS);
    malloc_side_who_serves(&mine);
    if (strcmp(mine.from[CALL_MALLOC], mine.from[CALL_LIBC]) != 0)
        narrate_finish(&n, RESULT_SKIP, "malloc here is not glibc's: dladdr finds it in %s "
                       "(LD_PRELOAD='%s'); the lesson is glibc's malloc (for another one beside "
                       "it: --allocator)", mine.from[CALL_MALLOC],
                       getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    if (allocator)
        other_path = malloc_side_start_other(&n, &info, CHILD_ENV, allocator, "", &theirs[0],
                                             other_name, sizeof other_name);
    narrate_observe(&n, observe, NULL);
    /* One look before step 1: the memory our measuring writes to is then
     * resident, so that no step's VmRSS counts it. */
    observe(NULL, false);
    narrate_intro(&n, "malloc-brk (PID %ld): glibc %s's malloc. The break is at %p now.",
                  (long)getpid(), gnu_get_libc_version(), sbrk(0));
    if (other_path)
        narrate_intro(&n, "Beside it: the same steps under %s, in a child (PID %ld) run with "
                      "LD_PRELOAD=%s. Its numbers are the other_ rows.", other_name,
                      (long)malloc_side_child_pid(), other_path);
    narrate_run(&n, steps, NSTEPS);
    int status = other_path ? malloc_side_child_end() : 0;
    if (status != 0)
        narrate_finish(&n, RESULT_FAIL, "the child under %s ended with status %#x", other_name,
                       status);
    narrate_finish(&n, RESULT_OK, "the heap, the threshold and how free and mallopt move it%s; "
                   "every number above was measured in this run.", other_path ? ", beside "
                   "another malloc" : "");
#endif
}
