/* SPDX-License-Identifier: MIT */
/* region: guard-page reservations, so a demo mapping stays one VMA. */
#define _DEFAULT_SOURCE
#include "region.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int region_reserve(struct region *r, size_t len, size_t align)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (align < page)
        align = page;
    if (len == 0 || (align & (align - 1)) != 0 || len > SIZE_MAX - 2 * align - 2 * page) {
        errno = EINVAL;
        return -1;
    }
    len = (len + page - 1) / page * page;
    /* Guard page before, slack to align, the region, guard page after. */
    size_t total = page + (align - page) + len + page;
    void *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -1;
    uintptr_t start = ((uintptr_t)base + page + align - 1) & ~(uintptr_t)(align - 1);
    r->reserved = base;
    r->reserved_len = total;
    r->addr = (void *)start;
    r->len = len;
    return 0;
}

void *region_map(struct region *r, int prot, int flags, int fd, off_t offset)
{
    return mmap(r->addr, r->len, prot, MAP_FIXED | flags, fd, offset);
}

void region_release(struct region *r)
{
    if (r->reserved) {
        int saved = errno;
        munmap(r->reserved, r->reserved_len);
        errno = saved;
        r->reserved = NULL;
    }
}
