/* residency: mincore() as a row of '#' and '.' (the idea of TLPI's memlock.c). */
#define _DEFAULT_SOURCE
#include "residency.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

long residency_picture(void *addr, size_t len, char *picture, size_t picture_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + page - 1) / page;
    /* mincore wants one byte per base page, even for huge-page mappings. A
     * fixed chunk keeps this free of malloc, so it cannot fault the heap. */
    unsigned char vec[512];
    long resident = 0;

    if (picture_len < pages + 1) {
        errno = ERANGE;
        return -1;
    }
    for (size_t done = 0; done < pages;) {
        size_t chunk = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore((char *)addr + done * page, chunk * page, vec) != 0)
            return -1;
        for (size_t i = 0; i < chunk; i++) {
            int in = vec[i] & 1;
            picture[done + i] = in ? '#' : '.';
            resident += in;
        }
        done += chunk;
    }
    picture[pages] = '\0';
    return resident;
}
