/* SPDX-License-Identifier: MIT */
/* Fuzz target: whatever bytes a demo puts in a JSON string (a path, an error
 * message), json_write_string must produce valid JSON; for valid UTF-8
 * without NULs the string must come back unchanged. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "json.h"
#include "narrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        free(text);
        return 0;
    }
    json_write_string(f, text);
    (void)fclose(f);
    char err[128];
    struct json *v = json_parse(out, len, err, sizeof err);
    if (!v)
        __builtin_trap(); /* not valid JSON */
    /* Without invalid UTF-8 (which becomes U+FFFD) the text comes back unchanged. */
    if (!strstr(v->string, "\xef\xbf\xbd") && strcmp(v->string, text) != 0)
        __builtin_trap();
    json_free(v);
    free(out);
    free(text);
    return 0;
}
