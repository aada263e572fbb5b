/* SPDX-License-Identifier: MIT */
/* malloc-brk: where malloc gets memory from. Small requests come from the
 * heap, which grows by moving the program break (brk); large ones get a
 * mapping of their own (mmap). Freed heap memory stays with the process
 * until malloc_trim. Measured: sbrk(0), the [heap] entry and the block's own
 * entry in /proc/self/smaps, VmSize, VmRSS, minor faults, mallinfo2.
 * With --allocator, a child runs the same steps under LD_PRELOAD of another
 * malloc, measures itself the same way and sends its numbers back (other_*).
 * This process is glibc's malloc: another C library, or a sanitizer that
 * replaces malloc, cannot show it (exit 77). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "narrate.h"
#include "needs.h"
#include "procfs.h"
#include "thp.h"
#include "undo.h"

#if defined(__SANITIZE_ADDRESS__)
#define VMLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMLAB_ASAN 1
#endif
#endif
#if defined(__GLIBC__) && !defined(VMLAB_ASAN)
#define VMLAB_GLIBC_MALLOC 1
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

static struct narrator n;

#ifdef VMLAB_GLIBC_MALLOC
static const char *other_path;   /* --allocator: the library the child preloads (a real path) */
static char other_name[64];      /* "jemalloc", or that library's file name */

/* ---- The lesson ---- */

static char *q;             /* the allocation a step makes */
static size_t want;         /* its size in steps 1-9: wants[step - 1] */
static char *big, *zeroed;  /* malloc and calloc of big_size */
static size_t big_size;     /* 1 GiB, or what this process may use */
static char *blocks[64], *pin;
static const size_t block = 64 << 10;
static int trimmed;
static char **focus;        /* the pointer whose mapping the step's numbers show */
static bool allocates;      /* the step's code allocates *focus */
static const size_t wants[] = {8, 4 << 10, 64 << 10, 127 << 10, 128 << 10,
                               1 << 20, 1 << 20, 1 << 20, 1 << 20};

static void aim(char **at, bool alloc)
{
    focus = at;
    allocates = alloc;
    if (at == &q && alloc)
        want = wants[n.step - 1];
}

/* Steps 1-9: where does malloc(want) go? */
LESSON_FN static void allocate(void) { aim(&q, true); LESSON(&n, q = malloc(want);); }
LESSON_FN static void free_mapped(void) { aim(&q, false); LESSON(&n, free(q);); }
LESSON_FN static void fix_threshold(void)
{
    aim(&q, true);
    LESSON(&n, mallopt(M_MMAP_THRESHOLD, 128 * 1024); q = malloc(want););
}

/* Steps 10-14: a big block is address space; calloc need not write it. */
LESSON_FN static void malloc_big(void) { aim(&big, true); LESSON(&n, big = malloc(big_size);); }
LESSON_FN static void write_first(void) { aim(&big, false); LESSON(&n, big[0] = 1;); }
LESSON_FN static void write_middle(void) { aim(&big, false); LESSON(&n, big[big_size / 2] = 1;); }
LESSON_FN static void calloc_big(void)
{
    aim(&zeroed, true);
    LESSON(&n, zeroed = calloc(1, big_size););
}
LESSON_FN static void free_big(void) { aim(NULL, false); LESSON(&n, free(big); free(zeroed);); }

/* Steps 15-18: free keeps heap memory; malloc_trim gives it back. */
LESSON_FN static void fill_heap(void)
{
    aim(&pin, false);
    LESSON(&n, for (int i = 0; i < 64; i++) memset(blocks[i] = malloc(block), 1, block);
               pin = malloc(16););
}

LESSON_FN static void free_blocks(void)
{
    aim(&pin, false);
    LESSON(&n, for (int i = 0; i < 64; i++) free(blocks[i]););
}

LESSON_FN static void trim(void) { aim(&pin, false); LESSON(&n, trimmed = malloc_trim(0);); }
LESSON_FN static void free_pin(void) { aim(NULL, false); LESSON(&n, free(pin);); }

/* ---- What each step measured ---- */

struct view {
    uintptr_t brk;                  /* sbrk(0) */
    int64_t vm_size, vm_rss;        /* /proc/self/status, kB */
    int64_t heap_size, heap_rss;    /* the [heap] entry of smaps, kB; 0 if none */
    struct rusage ru;               /* ru_minflt: minor faults */
    struct mallinfo2 mi;            /* what glibc says it holds */
    uintptr_t at;                   /* *focus */
    struct smaps_entry entry;       /* the entry that holds it */
    bool mapped;                    /* there is one */
};

/* Which library serves each call: dladdr of the address the loader bound. */
enum { F_MALLOC, F_MALLOPT, F_TRIM, F_MALLINFO, F_LIBC, F_COUNT };
static const char *const symbols[F_COUNT] = {"malloc", "mallopt", "malloc_trim", "mallinfo2",
                                             "gnu_get_libc_version"};

enum where { NOWHERE, HEAP_BRK, HEAP, NEW_MAPPING, EARLIER_MAPPING };

/* One process's step, measured in that process: this one under glibc, or
 * the child under --allocator, which sends it here whole after each step. */
struct side {
    struct view b, a;               /* just before and just after the step's code */
    int64_t vm, rss, heap_rss;      /* after - before: VmSize, VmRSS, [heap]'s Rss, kB */
    int64_t moved, faults;          /* the break's move in kB, minor faults */
    int64_t usable;                 /* malloc_usable_size of the block the step made, or 0 */
    char from[F_COUNT][256];        /* the library that serves symbols[k] */
    enum where where;               /* where *focus is: see where() */
    int trimmed;                    /* malloc_trim's result */
};

/* The steps that other steps look at, by their index in steps[]. */
enum { MALLOC_127K = 3, MALLOC_1M = 5, AGAIN_1M = 7, FIXED_THRESHOLD, FILL_HEAP = 14, FREE_BLOCKS,
       TRIM, NSTEPS = 18 };

static struct side mine;                 /* this step's, in this process */
static struct side theirs[NSTEPS];       /* the child's, by step */
static enum where where_was[NSTEPS];     /* ours, by step */
static struct range { uintptr_t start, end; } before[1024];  /* mappings before the step */
static size_t nbefore;
static int sock = -1;                    /* to the child: a step's index out, its side back */
static pid_t child = -1;                 /* --allocator's child, until it is reaped */

static struct {
    int64_t page_kb, huge_kb, big_kb;
    bool shrunk;
    char why[400];
} d;

static void who_serves(struct side *s)
{
    for (int k = 0; k < F_COUNT; k++) {
        Dl_info at;
        void *sym = dlsym(RTLD_DEFAULT, symbols[k]);
        snprintf(s->from[k], sizeof s->from[k], "%s",
                 sym && dladdr(sym, &at) && at.dli_fname ? at.dli_fname : "(not found)");
    }
}

static void scan(const struct smaps_entry *e, void *ctx)
{
    struct view *v = ctx;
    uint64_t size = 0, rss = 0;
    if (v == &mine.b && nbefore < sizeof before / sizeof before[0])
        before[nbefore++] = (struct range){e->start, e->end};
    if (strcmp(e->name, "[heap]") == 0 && smaps_get(e, "Size", &size) &&
        smaps_get(e, "Rss", &rss)) {
        v->heap_size = (int64_t)size;
        v->heap_rss = (int64_t)rss;
    }
}

/* Reading /proc uses stdio, and stdio uses malloc: so the break, the
 * fault count and mallinfo2 are read last before the step's code and first
 * after it, with nothing of ours in between. */
static void look(struct view *v, bool after)
{
    if (after) {
        (void)getrusage(RUSAGE_SELF, &v->ru);
        v->brk = (uintptr_t)sbrk(0);
        v->mi = mallinfo2();
    }
    v->vm_size = procfs_read_one("/proc/self/status", "VmSize");
    v->vm_rss = procfs_read_one("/proc/self/status", "VmRSS");
    if (v->vm_size < 0 || v->vm_rss < 0)
        narrate_finish(&n, RESULT_FAIL, "reading VmSize and VmRSS in /proc/self/status failed");
    v->heap_size = v->heap_rss = 0;
    nbefore = after ? nbefore : 0;
    FILE *f = fopen("/proc/self/smaps", "re");
    enum procfs_status st = PROCFS_IO;
    if (f) {
        st = smaps_parse_each(f, scan, v);
        (void)fclose(f);
    }
    if (st != PROCFS_OK)
        narrate_finish(&n, RESULT_FAIL, "reading /proc/self/smaps: %s", procfs_strerror(st));
    v->at = focus ? (uintptr_t)*focus : 0;
    v->mapped = v->at && smaps_read_entry(v->at, &v->entry) == PROCFS_OK;
    if (!after) {
        v->mi = mallinfo2();
        v->brk = (uintptr_t)sbrk(0);
        (void)getrusage(RUSAGE_SELF, &v->ru);
    }
}

/* From [heap] (did the break move?), or a mapping: new, or one that was
 * there before the step (the allocator's own memory, mapped earlier). */
static enum where where(const struct side *s)
{
    bool held_before = false;
    for (size_t k = 0; k < nbefore; k++)
        held_before |= s->a.at >= before[k].start && s->a.at < before[k].end;
    if (!s->a.mapped)
        return NOWHERE;
    if (strcmp(s->a.entry.name, "[heap]") == 0)
        return s->a.brk != s->b.brk ? HEAP_BRK : HEAP;
    return held_before ? EARLIER_MAPPING : NEW_MAPPING;
}

/* The child's report: before its first step (i < 0) or after step i. */
static bool child_report(int i)
{
    return (i < 0 || send(sock, &i, sizeof i, MSG_NOSIGNAL) == (ssize_t)sizeof i) &&
           recv(sock, &theirs[i < 0 ? 0 : i], sizeof mine, 0) == (ssize_t)sizeof mine;
}

static void observe(void *ctx, bool after)
{
    (void)ctx;
    int i = n.step - 1;
    struct side *s = &mine;
    look(after ? &s->a : &s->b, after);
    if (!after)
        return;
    s->vm = s->a.vm_size - s->b.vm_size;
    s->rss = s->a.vm_rss - s->b.vm_rss;
    s->heap_rss = s->a.heap_rss - s->b.heap_rss;
    s->moved = ((int64_t)s->a.brk - (int64_t)s->b.brk) / 1024;
    s->faults = s->a.ru.ru_minflt - s->b.ru.ru_minflt;
    s->where = where_was[i] = where(s);
    s->usable = allocates && *focus ? (int64_t)malloc_usable_size(*focus) : 0;
    s->trimmed = trimmed;
    /* --allocator: the child takes the same step now, between our numbers and our words. */
    if (other_path && !child_report(i))
        narrate_finish(&n, RESULT_FAIL, "the child under %s stopped answering at step %d",
                       other_name, n.step);
}

static int64_t entry_kb(const struct view *v, const char *key)
{
    uint64_t x = 0;
    return v->mapped && smaps_get(&v->entry, key, &x) ? (int64_t)x : 0;
}

static const char *named(const char *prefix, const char *key)
{
    static char name[40];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    return name;
}

/* A side's rows (prefix "other_": the child's): the break, the process,
 * the heap, the faults, the allocation's own mapping, what mallinfo2 says. */
static void rows(const struct side *s, const char *prefix)
{
    narrate_fact(&n, named(prefix, "brk"), "%#lx -> %#lx", (unsigned long)s->b.brk,
                 (unsigned long)s->a.brk);
    narrate_fact_int(&n, named(prefix, "brk_moved_kB"), s->moved);
    narrate_value(&n, named(prefix, "VmSize"), "kB", true, s->b.vm_size, true, s->a.vm_size);
    narrate_value(&n, named(prefix, "VmRSS"), "kB", true, s->b.vm_rss, true, s->a.vm_rss);
    narrate_value(&n, named(prefix, "heap_Size"), "kB", true, s->b.heap_size, true, s->a.heap_size);
    narrate_value(&n, named(prefix, "heap_Rss"), "kB", true, s->b.heap_rss, true, s->a.heap_rss);
    narrate_value(&n, named(prefix, "minor_faults"), "", true, s->b.ru.ru_minflt, true,
                  s->a.ru.ru_minflt);
    if (s->usable)
        narrate_fact_int(&n, named(prefix, "usable_bytes"), s->usable);
    const struct mallinfo2 *mi = &s->a.mi;
    if (n.step - 1 >= FILL_HEAP && n.step - 1 <= TRIM) {
        narrate_fact_int(&n, named(prefix, "mallinfo2_arena_kB"), (int64_t)mi->arena / 1024);
        narrate_fact_int(&n, named(prefix, "mallinfo2_uordblks_kB"), (int64_t)mi->uordblks / 1024);
        narrate_fact_int(&n, named(prefix, "mallinfo2_fordblks_kB"), (int64_t)mi->fordblks / 1024);
        narrate_fact_int(&n, named(prefix, "mallinfo2_hblkhd_kB"), (int64_t)mi->hblkhd / 1024);
    }
    if (!s->a.mapped)
        return;
    char maps[512];
    smaps_format_header(&s->a.entry, maps, sizeof maps);
    narrate_fact(&n, named(prefix, "maps"), "%s", maps);
    narrate_fact(&n, named(prefix, "pointer"), "%#lx", (unsigned long)s->a.at);
    /* Before the step, *focus may have been another block elsewhere. */
    bool same = s->b.mapped && s->b.entry.start == s->a.entry.start;
    narrate_value(&n, named(prefix, "Rss"), "kB", same, entry_kb(&s->b, "Rss"), true,
                  entry_kb(&s->a, "Rss"));
    narrate_value(&n, named(prefix, "AnonHugePages"), "kB", same, entry_kb(&s->b, "AnonHugePages"),
                  true, entry_kb(&s->a, "AnonHugePages"));
}

/* ---- What the other malloc did ---- */

/* The call is glibc's in the child, and malloc there is not. */
static bool glibcs_there(const struct side *o, int call)
{
    return strcmp(o->from[call], o->from[F_LIBC]) == 0 &&
           strcmp(o->from[F_MALLOC], o->from[F_LIBC]) != 0;
}

/* Where the child's block went (by enum where), and what its free gave back. */
static const struct { const char *id, *said; } went[] = {
    {NULL, "nowhere in its maps"},
    {"other_from_heap_break_moved", "from [heap], and the break moved"},
    {"other_from_heap_no_brk", "from [heap], the break unmoved"},
    {"other_new_mapping", "a new mapping (no mapping held its address before)"},
    {"other_inside_earlier_mapping", "inside a mapping it had before"},
}, gave[] = {
    {"other_free_unmapped", "gave address space back to the kernel"},
    {"other_free_gave_memory", "kept the address space but gave memory back"},
    {"other_free_kept", "gave nothing back to the kernel"},
};

/* The steps whose calls are glibc's whatever serves malloc: what they did in the child. */
static void glibc_calls_there(const struct side *o)
{
    int64_t used = ((int64_t)o->a.mi.uordblks - (int64_t)o->b.mi.uordblks) / 1024;
    enum where first = theirs[MALLOC_1M].where, again = theirs[AGAIN_1M].where;
    if (n.step - 1 == AGAIN_1M)
        CONCLUDE(&n, "other_no_dynamic_threshold", glibcs_there(o, F_MALLOPT),
                 VALUES(VAL("first_where", first), VAL("again_where", o->where)),
                 "The dynamic threshold is glibc's malloc's, not %s's: its first malloc(1 MiB) "
                 "was %s, this one is %s.", other_name, went[first].said, went[o->where].said);
    if (n.step - 1 == FIXED_THRESHOLD)
        CONCLUDE(&n, "other_mallopt_is_glibcs", glibcs_there(o, F_MALLOPT),
                 VALUES(VAL("again_where", again), VAL("where", o->where)),
                 "mallopt is glibc's (dladdr: %s), not %s's, whose malloc does not read it: "
                 "malloc(1 MiB) is %s; at step 8 it was %s.",
                 o->from[F_MALLOPT], other_name, went[o->where].said, went[again].said);
    if (n.step - 1 == FILL_HEAP)
        CONCLUDE(&n, "other_mallinfo2_is_glibcs", glibcs_there(o, F_MALLINFO) && 2 * used < o->rss,
                 VALUES(VAL("in_use_delta_kB", used), VAL("vm_rss_delta_kB", o->rss)),
                 "mallinfo2 is glibc's (dladdr: %s) and knows only glibc's heap: in use %+lld "
                 "kB while VmRSS grew by %lld kB under %s.", o->from[F_MALLINFO],
                 (long long)used, (long long)o->rss, other_name);
    if (n.step - 1 == TRIM)
        CONCLUDE(&n, "other_malloc_trim_is_glibcs", glibcs_there(o, F_TRIM),
                 VALUES(VAL("malloc_trim_result", o->trimmed), VAL("vm_rss_delta_kB", o->rss)),
                 "malloc_trim is glibc's (dladdr: %s): in the child it returned %d and VmRSS "
                 "moved by %+lld kB. At the 64 frees (step 16) %s's VmRSS moved by %+lld kB.",
                 o->from[F_TRIM], o->trimmed, (long long)o->rss, other_name,
                 (long long)theirs[FREE_BLOCKS].rss);
}

/* Every explanation ends here: our rows, then the child's numbers and what they show. */
static void both_sides(void)
{
    const struct side *o = &theirs[n.step - 1];
    rows(&mine, "");
    if (n.step == 1)
        narrate_fact(&n, "malloc_from", "%s", mine.from[F_MALLOC]);
    if (!other_path)
        return;
    glibc_calls_there(o);
    rows(o, "other_");
    if (n.step == 1) {
        narrate_fact_int(&n, "other_pid", child);
        narrate_fact(&n, "other_malloc_from", "%s", o->from[F_MALLOC]);
        CONCLUDE(&n, "other_allocator_serves_malloc", strcmp(o->from[F_MALLOC], other_path) == 0,
                 VALUES(VAL("other_pid", child)),
                 "In the child dladdr finds malloc in the preloaded library: %s serves it. The "
                 "other_ numbers are that process's own, measured as ours.", other_name);
    }
    for (enum where k = HEAP_BRK; o->usable && k <= EARLIER_MAPPING; k++)
        CONCLUDE(&n, went[k].id, o->where == k,
                 VALUES(VAL("usable_bytes", o->usable), VAL("vm_size_delta_kB", o->vm),
                        VAL("vm_rss_delta_kB", o->rss), VAL("brk_moved_kB", o->moved)),
                 "Under %s the block is %s: VmSize %+lld kB, VmRSS %+lld kB, %lld bytes set "
                 "aside (malloc_usable_size).", other_name, went[k].said, (long long)o->vm,
                 (long long)o->rss, (long long)o->usable);
    if (strcmp(n.id, "calloc_big") == 0)
        CONCLUDE(&n, "other_calloc_wrote_zeroes", 2 * o->rss >= d.big_kb,
                 VALUES(VAL("minor_faults", o->faults), VAL("vm_rss_delta_kB", o->rss),
                        VAL("block_kB", d.big_kb)),
                 "%s's calloc wrote its zeroes: %lld faults, VmRSS +%lld kB of a %lld kB block: "
                 "%s memory now.", other_name, (long long)o->faults, (long long)o->rss,
                 (long long)d.big_kb, o->rss >= d.big_kb ? "all of it is" : "at least half is");
    int g = o->vm < 0 ? 0 : o->rss < 0 ? 1 : 2;
    for (int k = 0; strncmp(n.id, "free", 4) == 0 && k < 3; k++)
        CONCLUDE(&n, gave[k].id, g == k,
                 VALUES(VAL("vm_size_delta_kB", o->vm), VAL("vm_rss_delta_kB", o->rss)),
                 "Under %s this free %s: VmSize %+lld kB, VmRSS %+lld kB.", other_name,
                 gave[k].said, (long long)o->vm, (long long)o->rss);
}

/* ---- What glibc's steps show ---- */

/* Steps 1-9: where did malloc(want) come from? */
static void explain_allocate(void)
{
    const struct side *s = &mine;
    bool heap = s->where == HEAP || s->where == HEAP_BRK;
    enum where k127 = where_was[MALLOC_127K];
    narrate_fact_int(&n, "requested_bytes", (int64_t)want);
    CONCLUDE(&n, "from_heap_break_moved", heap && s->moved > 0,
             VALUES(VAL("brk_moved_kB", s->moved), VAL("requested_bytes", want)),
             "The heap had no room: malloc moved the break by %lld kB (brk), more than the %zu "
             "bytes asked, so that the next requests fit without a system call.",
             (long long)s->moved, want);
    CONCLUDE(&n, "from_heap_no_brk", heap && s->moved == 0,
             VALUES(VAL("brk_moved_kB", s->moved), VAL("requested_bytes", want)),
             "From the heap's free space: inside [heap], the break unmoved, no system call.");
    CONCLUDE(&n, "own_mapping", s->a.mapped && !heap && s->moved == 0 &&
             s->vm * 1024 >= (int64_t)want,
             VALUES(VAL("vm_size_delta_kB", s->vm), VAL("requested_bytes", want)),
             "A mapping of its own (outside [heap], the break unmoved): VmSize grew by %lld kB, "
             "glibc called mmap for it.", (long long)s->vm);
    if (strcmp(n.id, "malloc_128k") == 0) {
        int64_t top = (int64_t)s->b.mi.keepcost;
        narrate_fact_int(&n, "top_chunk_before_bytes", top);
        CONCLUDE(&n, "fitted_in_top", heap && s->moved == 0 && top >= (int64_t)want,
                 VALUES(VAL("top_chunk_bytes", top), VAL("requested_bytes", want)),
                 "128 KiB is glibc's M_MMAP_THRESHOLD, yet the top chunk (the heap's free end, "
                 "mallinfo2's keepcost: %lld bytes) had room: glibc looks at the threshold only "
                 "when the heap must grow.", (long long)top);
        CONCLUDE(&n, "threshold_between_127k_and_128k", (k127 == HEAP || k127 == HEAP_BRK) &&
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
                 "mallopt fixed the threshold (frees no longer move it): 1 MiB is a mapping of "
                 "its own again.");
    both_sides();
}

/* Steps 7 and 14: a mapped chunk's free is munmap, at once. */
static void explain_unmap(void)
{
    bool both = strcmp(n.id, "free_big") == 0;
    CONCLUDE(&n, both ? "free_big_unmapped" : "free_unmapped",
             mine.vm <= (both ? -2 * d.big_kb : -(int64_t)want / 1024),
             VALUES(VAL("vm_size_delta_kB", mine.vm)), "%s: VmSize fell by %lld kB at once.",
             both ? "Both mappings are gone" : "free gave a mapped chunk straight back to the "
             "kernel (munmap)", (long long)-mine.vm);
    both_sides();
}

/* Steps 10-13: the big block, its first and middle byte, calloc. */
static void explain_big(void)
{
    const struct side *s = &mine;
    bool heap = s->where == HEAP || s->where == HEAP_BRK, first = strcmp(n.id, "write_first") == 0;
    /* VmRSS, not the entry's Rss: a new mapping may merge with a neighbour. */
    int64_t huge = entry_kb(&s->a, "AnonHugePages");
    int64_t rss = entry_kb(&s->a, "Rss") - entry_kb(&s->b, "Rss");
    int64_t huge_moved = huge - entry_kb(&s->b, "AnonHugePages");
    if (strncmp(n.id, "write_", 6) != 0)
        narrate_fact_int(&n, "big_kB", d.big_kb);
    if (strcmp(n.id, "malloc_big") == 0) {
        if (d.shrunk)
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
    both_sides();
}

/* Steps 15-18: the heap's free memory, as mallinfo2 and as smaps see it. */
static void explain_heap(void)
{
    const struct side *s = &mine;
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
        CONCLUDE(&n, "trim_gave_back", trimmed == 1 && s->heap_rss <= -2048,
                 VALUES(VAL("heap_rss_delta_kB", s->heap_rss), VAL("brk_moved_kB", s->moved)),
                 "malloc_trim(0) returned 1, [heap]'s Rss fell by %lld kB, the break moved by "
                 "%lld kB: glibc madvised the heap's free pages away, their address space stayed.",
                 (long long)-s->heap_rss, (long long)s->moved);
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

/* The lesson as a table: malloc's six sizes, then the threshold's moves,
 * the big allocation, and the heap's free memory. --predict asks twice. */
#define WHERE_ASK "Where does this memory come from?", {"from [heap]", "a mapping of its own"}, \
                  {"from_heap_break_moved|from_heap_no_brk", "own_mapping"}
static const struct narrate_lesson steps[NSTEPS] = {
    {"malloc_8", "malloc 8 bytes", allocate, explain_allocate, NO_QUESTION},
    {"malloc_4k", "malloc 4 KiB", allocate, explain_allocate, NO_QUESTION},
    {"malloc_64k", "malloc 64 KiB", allocate, explain_allocate, NO_QUESTION},
    {"malloc_127k", "malloc 127 KiB", allocate, explain_allocate, NO_QUESTION},
    {"malloc_128k", "malloc 128 KiB", allocate, explain_allocate, WHERE_ASK},
    {"malloc_1m", "malloc 1 MiB", allocate, explain_allocate, NO_QUESTION},
    {"free_1m", "free the 1 MiB chunk", free_mapped, explain_unmap, NO_QUESTION},
    {"again_1m", "malloc 1 MiB again", allocate, explain_allocate, WHERE_ASK},
    {"fixed_threshold", "Fix the threshold with mallopt, malloc 1 MiB", fix_threshold,
     explain_allocate, NO_QUESTION},
    {"malloc_big", "malloc a big block", malloc_big, explain_big, NO_QUESTION},
    {"write_first", "Write its first byte", write_first, explain_big, NO_QUESTION},
    {"write_middle", "Write a byte in its middle", write_middle, explain_big, NO_QUESTION},
    {"calloc_big", "calloc a block as big", calloc_big, explain_big, NO_QUESTION},
    {"free_big", "free both", free_big, explain_unmap, NO_QUESTION},
    {"fill_heap", "Fill the heap with 64 blocks of 64 KiB", fill_heap, explain_heap, NO_QUESTION},
    {"free_blocks", "free the 64 blocks", free_blocks, explain_heap, NO_QUESTION},
    {"trim", "Give free heap memory back: malloc_trim", trim, explain_heap, NO_QUESTION},
    {"free_pin", "free the last block", free_pin, explain_heap, NO_QUESTION},
};
#endif /* VMLAB_GLIBC_MALLOC */

/* ---- Options, sizes and the machine ---- */

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
        "128 KiB threshold and how it moves; malloc of a big block is address space;\n"
        "calloc skips the memset; free keeps heap memory until malloc_trim. With\n"
        "--allocator, the same steps under another malloc, side by side.",
    .options = options,
    .noptions = 1,
    .examples = "  malloc-brk                 the eighteen steps\n"
                "  malloc-brk --step          pause before each step; watch smaps live\n"
                "  malloc-brk --predict       say where each allocation goes, then see\n"
                "  malloc-brk --allocator jemalloc   the same steps under jemalloc too\n",
};

#ifdef VMLAB_GLIBC_MALLOC
#define CHILD_ENV "VMLAB_MALLOC_BRK_CHILD"

/* The child under --allocator: it reports (its whole side) before its first
 * step and after each step whose index the parent sends. It prints nothing:
 * its narrator is in JSON mode and never ends a step. */
static noreturn void be_the_child(const char *how)
{
    char *end;
    int i = -1;
    sock = (int)strtol(how, &end, 10);
    big_size = *end == ',' ? (size_t)strtoull(end + 1, &end, 10) : 0;
    if (!big_size || *end)
        _exit(EXIT_USAGE);
    narrate_init(&n, info.name, &(struct cli_common){.json = true, .color = COLOR_NEVER}, NSTEPS);
    n.out = stderr; /* should it fail, never into the parent's --json */
    narrate_observe(&n, observe, NULL);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed parent cannot end it otherwise */
    if (getppid() == 1)
        _exit(EXIT_OK);
    look(&mine.b, false); /* as in main */
    who_serves(&mine);
    while (send(sock, &mine, sizeof mine, MSG_NOSIGNAL) == (ssize_t)sizeof mine &&
           recv(sock, &i, sizeof i, 0) == (ssize_t)sizeof i && i >= 0 && i < NSTEPS) {
        n.step = i + 1;
        n.code[0] = '\0';
        steps[i].lesson();
    }
    _exit(EXIT_OK);
}

static const struct { const char *name, *file, *package; } known[] = {
    {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
    {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
};

/* --allocator: a known name, looked up where the distribution puts it (next
 * to libc, under /usr; VMLAB_ALLOCATOR_DIR overrides), or a shared library. */
static void choose_allocator(const char *arg)
{
    static char path[PATH_MAX];
    char dir[PATH_MAX], file[PATH_MAX + 64], quoted[128];
    const char *slash = strrchr(arg, '/');
    snprintf(other_name, sizeof other_name, "%s", slash ? slash + 1 : arg);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strcmp(arg, known[k].name) != 0)
            continue;
        snprintf(dir, sizeof dir, "%s%s", strncmp(mine.from[F_LIBC], "/usr/", 5) ? "/usr" : "",
                 mine.from[F_LIBC]);
        *strrchr(dir, '/') = '\0';
        if (getenv("VMLAB_ALLOCATOR_DIR"))
            snprintf(dir, sizeof dir, "%s", getenv("VMLAB_ALLOCATOR_DIR"));
        snprintf(file, sizeof file, "%s/%s", dir, known[k].file);
        if (access(file, R_OK) != 0)
            narrate_finish(&n, RESULT_SKIP, "%s is not installed (no %s). As root: apt-get "
                           "install %s", arg, file, known[k].package);
        arg = file;
    }
    cli_quote(arg, quoted, sizeof quoted);
    Elf64_Ehdr h;
    FILE *f = realpath(arg, path) ? fopen(path, "rbe") : NULL;
    int err = errno;
    bool elf = f && fread(&h, sizeof h, 1, f) == 1 && memcmp(h.e_ident, ELFMAG, SELFMAG) == 0;
    if (f)
        (void)fclose(f);
    else
        cli_usage_error(&info, "--allocator: '%s': %s", quoted, strerror(err));
    if (!elf || h.e_type != ET_DYN)
        cli_usage_error(&info, "--allocator: '%s' is not a shared library", quoted);
    other_path = path;
}

/* On every way out, Ctrl-C included: no child outlives the demo. */
static void end_child(void)
{
    if (child > 0) {
        (void)kill(child, SIGKILL);
        (void)waitpid(child, NULL, 0);
        child = -1;
    }
}

/* The child: this program again, under LD_PRELOAD, told where to answer. Its
 * environment is this one's plus those two; this process's own is unchanged. */
static void start_child(void)
{
    int sv[2];
    char how[64], preload[PATH_MAX + 16], *env[256];
    char *argv[] = {(char *)info.name, NULL};
    extern char **environ;
    size_t k = 0;
    for (char **e = environ; *e && k < sizeof env / sizeof env[0] - 3; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0) /* CHILD_ENV is not set: we are the parent */
            env[k++] = *e;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        narrate_fail_errno(&n, "socketpair", errno);
    (void)fcntl(sv[1], F_SETFD, 0); /* the child's end stays open across exec */
    snprintf(how, sizeof how, CHILD_ENV "=%d,%zu", sv[1], big_size);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", other_path);
    env[k++] = how;
    env[k++] = preload;
    env[k] = NULL;
    if (undo_register(end_child) != 0)
        narrate_fail_errno(&n, "atexit", errno);
    int err = posix_spawn(&child, "/proc/self/exe", NULL, NULL, argv, env);
    (void)close(sv[1]);
    if (err)
        narrate_fail_errno(&n, "posix_spawn", err);
    sock = sv[0];
    if (!child_report(-1))
        cli_usage_error(&info, "--allocator: the child under LD_PRELOAD=%s ended before it "
                        "started", other_path);
    if (strcmp(theirs[0].from[F_MALLOC], other_path) != 0)
        cli_usage_error(&info, "--allocator: %s does not replace malloc: under LD_PRELOAD, malloc "
                        "is still %s's", other_path, theirs[0].from[F_MALLOC]);
}
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
        be_the_child(child_of);
#endif
    struct cli_common common;
    const char *allocator = NULL;
    int first = cli_parse(argc, argv, &info, &common, on_option, &allocator);
    cli_no_positionals(&info, argc, argv, first);
#ifndef VMLAB_GLIBC_MALLOC
    demo_start(&n, &info, &common, 1);
#ifdef VMLAB_ASAN
    narrate_finish(&n, RESULT_SKIP, "this program was built with ASan, whose allocator replaces "
                   "glibc's malloc; the lesson is glibc's malloc: build without VMLAB_SANITIZE "
                   "(cmake --preset dev)");
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
    demo_start(&n, &info, &common, NSTEPS);
    who_serves(&mine);
    if (strcmp(mine.from[F_MALLOC], mine.from[F_LIBC]) != 0)
        narrate_finish(&n, RESULT_SKIP, "malloc here is not glibc's: dladdr finds it in %s "
                       "(LD_PRELOAD='%s'); the lesson is glibc's malloc (for another one beside "
                       "it: --allocator)", mine.from[F_MALLOC],
                       getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    if (allocator)
        choose_allocator(allocator);
    struct budget budget;
    budget_read(&budget);
    uint64_t bytes = 0;
    /* Two blocks of big_size exist at once (four with the child); only a page
     * or two of each is written, but in overcommit mode 2 each is charged. */
    enum budget_choice got = budget_choose_size(&budget, 0, UINT64_C(1) << 30, page, 2,
                                                other_path ? 8 : 4, &bytes, d.why, sizeof d.why);
    char why_fill[400] = "";
    if (got == BUDGET_NONE_FITS ||
        !budget_allows(&budget, 16u << 20, 2, why_fill, sizeof why_fill))
        narrate_finish(&n, RESULT_SKIP, "this process may not use enough memory for the lesson "
                       "(it writes 4 MiB): %s. Free some memory or raise that limit.",
                       got == BUDGET_NONE_FITS ? d.why : why_fill);
    big_size = (size_t)bytes;
    d.big_kb = (int64_t)(bytes / 1024);
    d.shrunk = got == BUDGET_SHRUNK;
    if (other_path)
        start_child();
    narrate_observe(&n, observe, NULL);
    /* One look before step 1: the memory our measuring writes to is then
     * resident, so that no step's VmRSS counts it. */
    look(&mine.b, false);
    char big_text[32];
    format_size(bytes, big_text, sizeof big_text);
    narrate_intro(&n, "malloc-brk (PID %ld): glibc %s's malloc. The break is at %p now.\n"
                  "The big block of steps 10-13 is %s.", (long)getpid(), gnu_get_libc_version(),
                  sbrk(0), big_text);
    if (other_path)
        narrate_intro(&n, "Beside it: the same steps under %s, in a child (PID %ld) run with "
                      "LD_PRELOAD=%s. Its numbers are the other_ rows.", other_name,
                      (long)child, other_path);
    narrate_run(&n, steps, NSTEPS);
    int status = 0;
    if (other_path && (close(sock) != 0 || waitpid(child, &status, 0) != child || status != 0))
        narrate_finish(&n, RESULT_FAIL, "the child under %s ended with status %#x", other_name,
                       status);
    child = -1; /* reaped */
    narrate_finish(&n, RESULT_OK, "the heap, the threshold, a big block and malloc_trim%s; every "
                   "number above was measured in this run.", other_path ? ", beside another "
                   "malloc" : "");
#endif
}
