/* SPDX-License-Identifier: MIT */
/* malloc-side: one malloc step, measured in the process that took it, for
 * malloc-brk and malloc-free.
 *
 * That process is this one (glibc's malloc), or a child: this program again,
 * run under LD_PRELOAD of another malloc (jemalloc, mimalloc), which takes the
 * same steps, measures itself the same way and sends its side back whole.
 * Measured: sbrk(0), VmSize and VmRSS, the [heap] entry of smaps and the
 * entry that holds the step's block, minor faults, mallinfo2, and which
 * library serves malloc and its neighbours (dladdr).
 *
 * The child is spawned from /proc/self/exe with this environment plus
 * NAME=FD,ARG (where to answer, and the demo's own argument) and
 * LD_PRELOAD=LIBRARY (an LD_PRELOAD of ours left out; ours is unchanged).
 * They talk over a SOCK_SEQPACKET pair: the child sends its side once before
 * its first step, then after each step whose index the parent sends. It dies
 * with its parent (PR_SET_PDEATHSIG); the parent kills and reaps it on every
 * way out, Ctrl-C included (lib/safety/undo). One child per process. */
#ifndef VMLAB_MALLOC_SIDE_H
#define VMLAB_MALLOC_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "cli.h"
#include "narrate.h"
#include "procfs.h"

/* glibc's malloc is this build's, unless a sanitizer's allocator replaces it:
 * then VMLAB_GLIBC_MALLOC, and a demo may call mallopt and malloc_trim. */
#if defined(__SANITIZE_ADDRESS__)
#define VMLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMLAB_ASAN 1
#endif
#endif
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

/* Reading /proc uses stdio, and stdio uses malloc: so the break, the fault
 * count and mallinfo2 are read last before the step's code (after = false)
 * and first after it, with nothing in between. at: the step's block, 0 for
 * none. After: the differences and where. False when /proc could not be
 * read: why says which. */
bool malloc_side_look(struct malloc_side *s, bool after, uintptr_t at, char *why, size_t size);

/* Which library serves each call, into s->from. */
void malloc_side_who_serves(struct malloc_side *s);

/* The call is glibc's in that process, and malloc there is not. */
bool malloc_side_glibcs_there(const struct malloc_side *s, enum malloc_call call);

/* A field of the block's smaps entry in v, kB; 0 when there is none. */
int64_t malloc_view_kb(const struct malloc_view *v, const char *key);

/* What a side's where says in a sentence ("a new mapping (...)"). */
const char *malloc_where_said(enum malloc_where where);

/* A demo's observer: malloc_side_look into *mine (a failure ends the run); after
 * the step, a child takes the same step, its side into theirs[n->step - 1]. */
void malloc_side_observe(struct narrator *n, struct malloc_side *mine, bool after, uintptr_t at,
                         struct malloc_side *theirs);

/* The end of every step's explanation: our rows (mallinfo2's too with mallinfo;
 * malloc_from on step 1); with a child, what `there` concludes of its side
 * (theirs[n->step - 1]), its other_* rows and the findings every step shares:
 * other_allocator_serves_malloc on step 1; where a block went (other_from_heap_*,
 * other_new_mapping, other_inside_earlier_mapping); at a free (freeing),
 * other_free_unmapped, other_free_gave_memory or other_free_kept. */
void malloc_side_explain_both(struct narrator *n, const struct malloc_side *mine,
                              const struct malloc_side *theirs, bool mallinfo, bool freeing,
                              void (*there)(const struct malloc_side *o));

/* --allocator ARG: "jemalloc" or "mimalloc", looked up where the distribution
 * puts it (next to the C library, under /usr; VMLAB_ALLOCATOR_DIR overrides),
 * or a path to an ELF shared object. path gets its real path, name what to
 * call it (the name, or the path's file name). EXIT_OK; EXIT_CANNOT when a
 * known name is not installed (why has the apt line); EXIT_USAGE when the
 * file is missing or is not a shared library (why says which). */
int malloc_side_find_library(const char *arg, char *path, size_t path_size, char *name,
                             size_t name_size, char *why, size_t why_size);

/* Parent: starts the child. 0, or an errno with *failed naming the call. */
int malloc_side_child_start(const char *env_name, const char *arg, const char *library,
                            const char **failed);

/* Parent, for --allocator ALLOCATOR: malloc_side_find_library, then
 * malloc_side_child_start with arg and the child's first side into *first;
 * ends the run as the demo would (77 for a library not installed, 2 for a
 * bad one or one that does not replace malloc, 1 for a failed call). The
 * library's real path; name gets what to call it. */
const char *malloc_side_start_other(struct narrator *n, const struct demo_info *info,
                                    const char *env_name, const char *allocator, const char *arg,
                                    struct malloc_side *first, char *name, size_t name_size);
pid_t malloc_side_child_pid(void);

/* Parent: sends step (none when step < 0: the side from before the first
 * step) and receives the child's side. False when the child is gone. */
bool malloc_side_child_ask(int step, struct malloc_side *side);

/* Parent: tells the child to end (closes the socket) and reaps it: its wait
 * status, or -1 when waitpid failed. */
int malloc_side_child_end(void);

/* Child: the ARG after "FD," in NAME's value, or NULL when it is not one. */
const char *malloc_side_child_arg(const char *value);

/* Child: sends *side, then for each index the parent sends (0 <= i < nsteps)
 * calls step(i) and sends *side again; exits when the parent closes the
 * socket or dies. */
noreturn void malloc_side_child_serve(const char *value, const struct malloc_side *side,
                                      int nsteps, void (*step)(int i));

/* Child: the demo's steps under the other malloc. n prints nothing (JSON mode,
 * to stderr, and no step ends); observe measures *side as the parent's does,
 * once before the first step; then malloc_side_child_serve, each index i
 * running steps[i].lesson. */
noreturn void malloc_side_child_run(struct narrator *n, const char *demo, const char *value,
                                    narrate_observer observe, struct malloc_side *side,
                                    const struct narrate_lesson *steps, int nsteps);

#endif
