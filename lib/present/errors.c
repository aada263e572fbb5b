/* SPDX-License-Identifier: MIT */
/* errors: symbolic errno names. A table of our own rather than glibc's
 * strerrorname_np(): that one is missing before glibc 2.32 and on musl, and
 * students run older distributions. The table is generated at build time
 * from the C library's own <errno.h> (lib/errno-names.sh). */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAME(e) { e, #e }
static const struct { int err; const char *name; } errno_names[] = {
#include "errno_names.h"
};
#undef NAME

const char *errno_name(int err, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    snprintf(buf, len, "errno %d", err);
    return buf;
}

void errno_describe(const char *call, int err, char *buf, size_t len)
{
    char tmp[24];
    snprintf(buf, len, "%s: %s (%s)", call, errno_name(err, tmp, sizeof tmp), strerror(err));
}

void text_append(char *buf, size_t len, const char *sep, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used)
        snprintf(buf + used, len - used, "%s", sep);
    used = strlen(buf);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a clang 14 false positive
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}
