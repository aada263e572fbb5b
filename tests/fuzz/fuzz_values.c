/* SPDX-License-Identifier: MIT */
/* Fuzz target: the one-value files (/proc/sys/vm values, sysfs choices) and the
 * command-line size parser, which all read text a user or kernel supplies. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_input.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t v;
    char choice[32];
    (void)procfs_parse_number((const char *)data, size, &v);
    FILE *f = fuzz_file(data, size);
    if (!f)
        return 0;
    (void)procfs_parse_choice(f, choice, sizeof choice);
    (void)fclose(f);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *why = NULL;
    uint64_t bytes;
    if (!cli_parse_size(text, &bytes, &why) && !why)
        __builtin_trap(); /* every refusal says why */
    char quoted[200];
    cli_quote(text, quoted, sizeof quoted);
    if (strlen(quoted) >= sizeof quoted)
        __builtin_trap();
    free(text);
    return 0;
}
