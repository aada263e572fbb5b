/* SPDX-License-Identifier: MIT */
/* residency: mincore() as a row of '#' and '.' (the idea of TLPI's memlock.c). */
#define _DEFAULT_SOURCE
#include "residency.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

long residency_picture_scaled(void *addr, size_t len, size_t per_char, char *picture,
                              size_t picture_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + page - 1) / page;
    /* mincore wants one byte per base page, even for huge-page mappings. A
     * fixed chunk keeps this free of malloc, so it cannot fault the heap. */
    unsigned char vec[512];
    long resident = 0;

    if (per_char == 0 || picture_len < (pages + per_char - 1) / per_char + 1) {
        errno = ERANGE;
        return -1;
    }
    size_t in_char = 0; /* resident pages in the character being drawn */
    for (size_t done = 0; done < pages;) {
        size_t chunk = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore((char *)addr + done * page, chunk * page, vec) != 0)
            return -1;
        for (size_t i = 0; i < chunk; i++) {
            size_t at = done + i;
            in_char += vec[i] & 1;
            resident += vec[i] & 1;
            if (at + 1 == pages || (at + 1) % per_char == 0) {
                size_t covered = at % per_char + 1; /* the pages this character stands for */
                char c = '.';
                if (in_char == covered)
                    c = '#';
                else if (in_char > 0)
                    c = '+';
                picture[at / per_char] = c;
                in_char = 0;
            }
        }
        done += chunk;
    }
    picture[(pages + per_char - 1) / per_char] = '\0';
    return resident;
}

long residency_picture(void *addr, size_t len, char *picture, size_t picture_len)
{
    return residency_picture_scaled(addr, len, 1, picture, picture_len);
}
