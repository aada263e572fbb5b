/* SPDX-License-Identifier: MIT */
/* errors: name the errno a call failed with, as a student can look it up. */
#ifndef VMLAB_ERRORS_H
#define VMLAB_ERRORS_H

#include <stddef.h>

/* "ENOMEM"; "errno 123" for one this table does not know. */
const char *errno_name(int err, char *buf, size_t len);

/* "mmap: ENOMEM (Cannot allocate memory)" */
void errno_describe(const char *call, int err, char *buf, size_t len);

#endif
