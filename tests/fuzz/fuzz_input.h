/* SPDX-License-Identifier: MIT */
/* fuzz_input: the fuzzer's bytes as a FILE *, the way the parsers read /proc. */
#ifndef VMLAB_FUZZ_INPUT_H
#define VMLAB_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* fmemopen() of the bytes; /dev/null for none (fmemopen wants a size > 0). */
static inline FILE *fuzz_file(const uint8_t *data, size_t size)
{
    if (size == 0)
        return fopen("/dev/null", "re");
    return fmemopen((void *)data, size, "r");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
