/* SPDX-License-Identifier: MIT */
/* guarded: a mapping that stays a VMA of its own, as the demos make one: a
 * PROT_NONE reservation (never merged with a read-write neighbour) with a
 * guard page on each side, and the mapping placed inside it with MAP_FIXED.
 * No Check assertions, so that the benchmarks can use it: NULL on failure. */
#ifndef VMLAB_TEST_GUARDED_H
#define VMLAB_TEST_GUARDED_H

#include <stddef.h>

/* len bytes of PROT_NONE between two guard pages. */
char *guarded_reserve(size_t len);
/* Private read-write anonymous memory over p, len bytes of a reservation. */
char *guarded_fill(char *p, size_t len);
/* Both: len bytes of read-write memory between two guard pages. */
char *guarded_map(size_t len);
/* Unmaps p and its guard pages. */
void guarded_release(char *p, size_t len);

#endif
