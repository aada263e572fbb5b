/* SPDX-License-Identifier: MIT */
/* touch: see touch.h for why these are functions of their own. */
#include "touch.h"

#define UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))

UNINSTRUMENTED char touch_read(const char *p)
{
    return *(volatile const char *)p;
}

UNINSTRUMENTED void touch_write(char *p, char value)
{
    *(volatile char *)p = value;
}

UNINSTRUMENTED void touch_write_every(char *p, size_t len, size_t stride, char value)
{
    for (size_t off = 0; off < len; off += stride)
        *(volatile char *)(p + off) = value;
}

void touch_prepare(void)
{
    static char scratch[2];
    touch_write(scratch, touch_read(scratch + 1));
    touch_write_every(scratch, sizeof scratch, 1, 0);
}
