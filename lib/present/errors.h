/* SPDX-License-Identifier: MIT */
/* errors: name the errno a call failed with, as a student can look it up,
 * and gather the reasons and reports that carry it. */
#ifndef VMLAB_ERRORS_H
#define VMLAB_ERRORS_H

#include <stddef.h>

/* "ENOMEM"; "errno 123" for one this table does not know. */
const char *errno_name(int err, char *buf, size_t len);

/* "mmap: ENOMEM (Cannot allocate memory)" */
void errno_describe(const char *call, int err, char *buf, size_t len);

/* Appends sep (unless buf is empty) and then the text to buf, cut to fit:
 * a report of several things done or refused, one after the other. */
void text_append(char *buf, size_t len, const char *sep, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
