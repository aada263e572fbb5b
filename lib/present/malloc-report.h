/* SPDX-License-Identifier: MIT */
/* malloc-report: both sides of a malloc step (lib/kernel/malloc-side.h) as
 * rows and findings, and the narrator's ends of the other allocator's child
 * (lib/safety/malloc-child.h): starting it for --allocator, observing each
 * step on both sides, and its silent run. For malloc-brk and malloc-free. */
#ifndef VMLAB_MALLOC_REPORT_H
#define VMLAB_MALLOC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "cli.h"
#include "malloc-side.h"
#include "narrate.h"

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

/* Parent, for --allocator: finds the library and starts the child, its first side
 * into *first, or ends the run (77 not installed, 2 a bad library, 1 a failed
 * call). The library's real path; name gets what to call it. */
const char *malloc_side_start_other(struct narrator *n, const struct demo_info *info,
                                    const char *env_name, const char *allocator, const char *arg,
                                    struct malloc_side *first, char *name, size_t name_size);

/* Child: the demo's steps under the other malloc, measured by observe as in the
 * parent, served by malloc_side_child_serve; n prints nothing. */
noreturn void malloc_side_child_run(struct narrator *n, const char *demo, const char *value,
                                    narrate_observer observe, struct malloc_side *side,
                                    const struct narrate_lesson *steps, int nsteps);

#endif
