/* SPDX-License-Identifier: MIT */
/* Fuzz target: the undo record parser (lib/safety/sysctl_record), which reads a
 * file that root's next run trusts to write /proc/sys/vm. Every refusal
 * says why; whatever it accepts is on the allow-list, in range, and comes
 * back the same through record_format. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_input.h"
#include "sysctl_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sysctl_record r, again;
    char why[256], text[RECORD_MAX_BYTES];
    if (!record_parse((const char *)data, size, &r, why, sizeof why)) {
        if (!why[0])
            __builtin_trap(); /* a refusal that does not say why */
        return 0;
    }
    for (int i = 0; i < r.nknobs; i++) {
        const struct record_knob *k = &r.knobs[i];
        if (!record_knob_allowed(k->name) || k->nset < 1 || k->nset > 2)
            __builtin_trap();
        for (int j = 0; j < k->nset; j++)
            if (!record_set_allowed(k->name, k->original, k->set[j]))
                __builtin_trap();
    }
    size_t n = record_format(&r, text, sizeof text);
    if (n == 0 || !record_parse(text, n, &again, why, sizeof why) || memcmp(&r, &again, sizeof r) != 0)
        __builtin_trap(); /* what was accepted must be written back the same */
    return 0;
}
