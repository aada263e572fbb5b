/* SPDX-License-Identifier: MIT */
/* region: a demo mapping that is a VMA of its own.
 *
 * A bare mmap() of a few pages can land next to another anonymous mapping and
 * merge with it; smaps then shows a larger Size and someone else's Rss. So we
 * first reserve a larger PROT_NONE range (not charged to Committed_AS, never
 * merged with a read-write neighbour) and map the demo region inside it with
 * MAP_FIXED, leaving a guard page of PROT_NONE on each side. */
#ifndef VMLAB_REGION_H
#define VMLAB_REGION_H

#include <stddef.h>
#include <sys/types.h>

struct region {
    void *reserved;       /* the whole PROT_NONE reservation */
    size_t reserved_len;
    void *addr;           /* where the demo region goes: page- or align-aligned */
    size_t len;
};

/* Reserves room for len bytes at an address aligned to align (0 or a power
 * of two >= the page size), plus guards. Returns 0 or -1 with errno. */
int region_reserve(struct region *r, size_t len, size_t align);

/* Maps the demo region inside the reservation: flags (MAP_PRIVATE |
 * MAP_ANONYMOUS, say) plus MAP_FIXED. Returns the mapping or MAP_FAILED. */
void *region_map(struct region *r, int prot, int flags, int fd, off_t offset);

/* Unmaps everything the region still holds. */
void region_release(struct region *r);

#endif
