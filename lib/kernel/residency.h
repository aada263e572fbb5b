/* SPDX-License-Identifier: MIT */
/* residency: which pages of a range are in memory, as mincore(2) reports them.
 *
 * For anonymous memory mincore says a page is resident when a page-table
 * entry maps *something* there - including the shared zero page after a read
 * fault on untouched memory, which smaps does not count in Rss. For a file
 * mapping it says whether the page is in the page cache, whoever read it and
 * whether or not this process mapped it. The demos show both. */
#ifndef VMLAB_RESIDENCY_H
#define VMLAB_RESIDENCY_H

#include <stddef.h>

/* Fills picture (at least pages + 1 bytes) with '#' for a resident page and
 * '.' for one that is not, one character per base page of [addr, addr+len).
 * Returns the number of resident pages, or -1 with errno set by mincore
 * (ERANGE: picture too short). */
long residency_picture(void *addr, size_t len, char *picture, size_t picture_len);

/* The same with one character per `per_char` pages: '#' all resident, '+' some,
 * '.' none. Returns the number of resident *pages*. */
long residency_picture_scaled(void *addr, size_t len, size_t per_char, char *picture,
                              size_t picture_len);

#endif
