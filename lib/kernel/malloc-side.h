/* SPDX-License-Identifier: MIT */
/* malloc-side: one malloc step, measured in the process that took it, for
 * malloc-brk and malloc-free.
 *
 * That process is this one (glibc's malloc), or a child: this program again,
 * run under LD_PRELOAD of another malloc (jemalloc, mimalloc), which takes the
 * same steps, measures itself the same way and sends its side back whole
 * (lib/safety/malloc-child.h). Measured: sbrk(0), VmSize and VmRSS, the
 * [heap] entry of smaps and the entry that holds the step's block, minor
 * faults, mallinfo2, and which library serves malloc and its neighbours
 * (dladdr). Both sides as rows and findings: lib/present/malloc-report.h. */
#ifndef VMLAB_MALLOC_SIDE_H
#define VMLAB_MALLOC_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "memlock.h" /* VMLAB_ASAN */
#include "procfs.h"

/* glibc's malloc is this build's, unless a sanitizer's allocator replaces it:
 * then VMLAB_GLIBC_MALLOC, and a demo may call mallopt and malloc_trim. */
#if defined(__GLIBC__) && !defined(VMLAB_ASAN)
#define VMLAB_GLIBC_MALLOC 1
#endif

struct malloc_view {
    uintptr_t brk;                  /* sbrk(0) */
    int64_t vm_size, vm_rss;        /* /proc/self/status, kB */
    int64_t heap_size, heap_rss;    /* the [heap] entry of smaps, kB; 0 if none */
    int64_t minflt;                 /* getrusage's ru_minflt: minor faults */
    struct { size_t arena, uordblks, fordblks, hblkhd, keepcost; } mi; /* mallinfo2, bytes */
    uintptr_t at;                   /* the step's block */
    struct smaps_entry entry;       /* the entry that holds it */
    bool mapped;                    /* there is one */
};

/* The calls whose library dladdr names (gnu_get_libc_version: the C library). */
enum malloc_call { CALL_MALLOC, CALL_MALLOPT, CALL_TRIM, CALL_MALLINFO, CALL_LIBC, CALLS };

/* Where the step's block is: [heap] (did the break move?), or a mapping that
 * is new, or one that was there before the step (the allocator's own memory,
 * mapped earlier). */
enum malloc_where { NOWHERE, HEAP_BRK, HEAP, NEW_MAPPING, EARLIER_MAPPING };

struct malloc_side {
    struct malloc_view b, a;        /* just before and just after the step's code */
    int64_t vm, rss, heap_rss;      /* after - before: VmSize, VmRSS, [heap]'s Rss, kB */
    int64_t moved, faults;          /* the break's move in kB, minor faults */
    int64_t usable;                 /* malloc_usable_size of the block the step made, or 0 */
    char from[CALLS][256];          /* the library that serves each call */
    enum malloc_where where;        /* after the step */
    int trimmed;                    /* malloc_trim's result, where a step calls it */
};

/* Without VMLAB_GLIBC_MALLOC: why this build cannot show glibc's malloc. */
const char *malloc_side_unsupported(void);

/* Reading /proc uses stdio, and stdio uses malloc: so the break, the fault count
 * and mallinfo2 are read last before the step's code and first after it. at: the
 * step's block, or 0. False when /proc could not be read: why says which. */
bool malloc_side_look(struct malloc_side *s, bool after, uintptr_t at, char *why, size_t size);

/* Which library serves each call, into s->from. */
void malloc_side_who_serves(struct malloc_side *s);

/* The file of the library that serves call (dladdr); false when not found. */
bool malloc_call_library(enum malloc_call call, char *path, size_t len);

/* The call is glibc's in that process, and malloc there is not. */
bool malloc_side_glibcs_there(const struct malloc_side *s, enum malloc_call call);

/* A field of the block's smaps entry in v, kB; 0 when there is none. */
int64_t malloc_view_kb(const struct malloc_view *v, const char *key);

#endif
