/* SPDX-License-Identifier: MIT */
/* guarded: a mapping of its own between two guard pages. See guarded.h. */
#define _GNU_SOURCE
#include "guarded.h"

#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

char *guarded_reserve(size_t len)
{
    char *base = mmap(NULL, len + 2 * page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return base == MAP_FAILED ? NULL : base + page_size();
}

char *guarded_fill(char *p, size_t len)
{
    char *q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return q == MAP_FAILED ? NULL : q;
}

char *guarded_map(size_t len)
{
    char *p = guarded_reserve(len);
    return p ? guarded_fill(p, len) : NULL;
}

void guarded_release(char *p, size_t len)
{
    munmap(p - page_size(), len + 2 * page_size());
}
