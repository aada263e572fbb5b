/* residency: which pages of a range are in memory, as mincore(2) reports them.
 *
 * mincore says a page is resident when a page-table entry maps *something*
 * there - including the shared zero page after a read fault on untouched
 * anonymous memory, which smaps does not count in Rss. The demos show both. */
#ifndef VMLAB_RESIDENCY_H
#define VMLAB_RESIDENCY_H

#include <stddef.h>

/* Fills picture (at least pages + 1 bytes) with '#' for a resident page and
 * '.' for one that is not, one character per base page of [addr, addr+len).
 * Returns the number of resident pages, or -1 with errno set by mincore. */
long residency_picture(void *addr, size_t len, char *picture, size_t picture_len);

#endif
