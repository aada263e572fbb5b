/* SPDX-License-Identifier: MIT */
/* touch: memory accesses made on purpose, exactly once each.
 *
 * volatile keeps the compiler from dropping or merging an access whose page
 * fault is the point of the step (the selftests' FORCE_READ). The functions
 * are also left out of AddressSanitizer's instrumentation: its check reads
 * shadow memory first, and that first read of a shadow page is a page fault
 * of its own, which would be counted as the step's. UBSan is kept out too:
 * segv-pgfault reads NULL on purpose. */
#ifndef VMLAB_TOUCH_H
#define VMLAB_TOUCH_H

#include <stddef.h>

char touch_read(const char *p);
void touch_write(char *p, char value);
/* Writes one byte every `stride` bytes of [p, p + len). */
void touch_write_every(char *p, size_t len, size_t stride, char value);

/* Runs each function once on a byte of its own, so that the page holding
 * this code is mapped before a measured access: otherwise the first
 * measured access could also fault in the code that makes it. */
void touch_prepare(void);

#endif
